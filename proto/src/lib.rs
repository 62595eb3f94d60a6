//! Wire types and the gRPC service of Kyoto Ledger (`kyoto.v1`).
//!
//! Generated at build time from `proto/kyoto/v1/*.proto` by protox + tonic-prost-build;
//! every message also implements serde following the protobuf JSON mapping (pbjson),
//! which the CLI's `--output json` uses.

/// Package `kyoto.v1`.
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
pub mod v1 {
    tonic::include_proto!("kyoto.v1");
    include!(concat!(env!("OUT_DIR"), "/kyoto.v1.serde.rs"));
}

/// Package `kyoto.consensus.v1`: Malachite's consensus, WAL and sync messages as
/// Kyoto Ledger encodes them.
#[allow(
    clippy::all,
    clippy::pedantic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
pub mod consensus {
    tonic::include_proto!("kyoto.consensus.v1");
}

/// Encoded `FileDescriptorSet` of the API, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/kyoto_descriptor.bin"));
