//! `terraform-provider-platform`: started by Terraform, never by hand.

fn main() -> std::process::ExitCode {
    tfplugin_host::main(|| {
        tfplugin_framework::protocol::routes(platform_provider::provider::PlatformProvider)
    })
}
