//! `terraform-provider-platform`: started by Terraform, never by hand.

fn main() -> std::process::ExitCode {
    platform_provider::plugin::main(platform_provider::protocol::routes)
}
