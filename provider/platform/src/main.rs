//! `terraform-provider-platform`: started by Terraform, never by hand.

fn main() -> std::process::ExitCode {
    tfplugin_host::main(|life| {
        tfplugin_framework::protocol::routes_with(
            platform_provider::provider::PlatformProvider,
            life.terraform_gone,
            life.work,
        )
    })
}
