//! The client side of the Kyoto Ledger: everything a program needs to build, sign and
//! read transactions without linking the node. The `kyoto` CLI, the benches and the
//! node itself share it, so the signing contract exists once.
//!
//! - [`backup`]: the backup file `kyoto backup` writes and `kyotod restore` reads.
//! - [`crypto`]: the domain-separated Ed25519 signing contract, strict verification
//!   (single and batched), SHA-256, and PKCS#8 key files.
//! - [`sign_transaction`]: a `TransactionBody` encoded and signed, ready to submit.
//! - The ledger's ids and unit types ([`AccountId`], [`PartyCode`], [`UnitType`], ...),
//!   re-exported from the pure `kyoto-ledger` crate, with its [`calendar`] (how the
//!   ledger reads and writes dates).

pub mod backup;
pub mod crypto;
pub mod json;

use kyoto_proto::v1 as pb;
use prost::Message;

pub use kyoto_ledger::calendar;
pub use kyoto_ledger::{AccountId, AccountKind, Activity, Hash, PartyCode, PublicKey, UnitType};

/// Encodes and signs a transaction body: the bytes to submit.
pub fn sign_transaction(key: &ed25519_dalek::SigningKey, body: &pb::TransactionBody) -> Vec<u8> {
    let body = body.encode_to_vec();
    let signature = crypto::sign_tx(key, &body);
    pb::SignedTransaction {
        body,
        public_key: key.verifying_key().to_bytes().to_vec(),
        signature: signature.to_vec(),
    }
    .encode_to_vec()
}
