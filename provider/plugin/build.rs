//! Compiles the go-plugin service definitions (controller, stdio) in `../../proto` with a pure-Rust protobuf parser
//! (`protox`), so a fresh machine needs no system `protoc` to build the host.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        proto_dir.join("grpc_controller.proto"),
        proto_dir.join("grpc_stdio.proto"),
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&proto_dir])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
