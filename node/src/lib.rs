//! Kyoto Ledger node library: the pure ledger (`ledger`) and the thin adapters around
//! it: signing (`crypto`), the transaction boundary (`tx`), storage (`store`), the
//! chain (`chain`), the mempool and block producer (`mempool`, `node`) and the gRPC
//! API (`rpc`), and the public explorer over it (`explorer`).

pub mod chain;
pub mod clock;
pub mod consensus;
pub mod explorer;
pub mod gossip;
pub mod mempool;
pub mod metrics;
pub mod node;
pub mod rejection;
pub mod rpc;
pub mod store;
pub mod tx;
pub mod wire;

/// The backup file format (written by `kyoto backup`, `cli/client`).
pub use kyoto_client::backup;
/// The signing contract and key files (shared with clients, `cli/client`).
pub use kyoto_client::crypto;
/// The Kyoto rules (their own crate, `node/ledger`, which cannot do IO).
pub use kyoto_ledger as ledger;
/// The built-in dev genesis (pure data: it lives with the rules, `node/ledger/src/dev.rs`).
pub use kyoto_ledger::dev;
