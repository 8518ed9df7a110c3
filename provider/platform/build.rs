//! Links `terraform-provider-platform` as a position-dependent executable (`-no-pie`) on Linux.
//!
//! A position-independent executable carries one relative relocation for every pointer in its
//! static data (vtables, string tables, the SDK's operation tables): about 240,000 in the
//! `release` binary, 5.7 MB of `.rela.dyn` that the dynamic loader applies on every start, and
//! Terraform starts the provider three times per `terraform plan`. Linked at a fixed address the
//! linker resolves them once, at link time: the section and that start-up work are gone. The
//! peers (hashicorp/null, hashicorp/aws: Go's default `exe` build mode) are position-dependent too;
//! the price is that the executable's own image is not randomised (heap, stack and shared
//! libraries still are).
//!
//! Only the binary: the library and the test executables link as before.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
