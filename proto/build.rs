//! Compiles `kyoto/v1/*.proto` with protox (pure Rust, no system `protoc`), then
//! generates prost messages, tonic client/server code, and serde impls following
//! the protobuf JSON mapping (pbjson).
use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "kyoto/v1/types.proto",
        "kyoto/v1/ledger.proto",
        "kyoto/v1/consensus.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let descriptor_bytes = fds.encode_to_vec();
    fs::write(out_dir.join("kyoto_descriptor.bin"), &descriptor_bytes)?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;

    pbjson_build::Builder::new()
        .register_descriptors(&descriptor_bytes)?
        .build(&[".kyoto.v1"])?;
    Ok(())
}
