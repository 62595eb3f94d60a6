//! The records the store writes, in the store's own encoding.
//!
//! A committed block is kept as a [`StoredBlock`]: the block exactly as consensus
//! decided it (its header and transaction bytes are what the chain hashes and the
//! validators sign, so their encoding is fixed by the consensus wire format, not by
//! the API), with the receipts, hashes and commit certificate that the node computed
//! for it. The receipts and the certificate are the store's own messages: the gRPC
//! API maps them to its own (`wire::block`), so changing the API does not change the
//! disk format.
//!
//! The field numbers are those of the block record that earlier versions wrote (then
//! the API's `GetBlockResponse`), so a data directory written by them reads unchanged;
//! `testdata/block-record-c551799.hex` is such a record, and the tests below read it.

use kyoto_proto::v1 as pb;

use crate::ledger::{Applied, Receipt, SerialBlock};

/// A committed block with its receipts and commit certificate (key `b/<height>`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredBlock {
    /// The block as consensus decided it: header and encoded signed transactions.
    #[prost(message, optional, tag = "1")]
    pub block: Option<pb::Block>,
    /// SHA-256 of the encoded header.
    #[prost(bytes = "vec", tag = "2")]
    pub block_hash: Vec<u8>,
    /// The state root after this block.
    #[prost(bytes = "vec", tag = "3")]
    pub state_root: Vec<u8>,
    /// SHA-256 of each transaction's bytes, in block order.
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub transaction_hashes: Vec<Vec<u8>>,
    /// One receipt per transaction, in block order.
    #[prost(message, repeated, tag = "5")]
    pub receipts: Vec<StoredReceipt>,
    /// The precommits that committed the block.
    #[prost(message, optional, tag = "6")]
    pub certificate: Option<StoredCertificate>,
}

impl StoredBlock {
    /// The height in the block's header (0 if it has none).
    pub fn height(&self) -> u64 {
        self.header().map_or(0, |h| h.height)
    }

    /// The block time in the header, ms since the Unix epoch (0 if it has none).
    pub fn timestamp_ms(&self) -> i64 {
        self.header().map_or(0, |h| h.timestamp_ms)
    }

    fn header(&self) -> Option<&pb::BlockHeader> {
        self.block.as_ref().and_then(|b| b.header.as_ref())
    }
}

/// What one transaction of a block did.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredReceipt {
    #[prost(bytes = "vec", tag = "1")]
    pub tx_hash: Vec<u8>,
    #[prost(uint64, tag = "2")]
    pub height: u64,
    #[prost(uint32, tag = "3")]
    pub index: u32,
    #[prost(bytes = "vec", tag = "4")]
    pub signer: Vec<u8>,
    #[prost(uint64, tag = "5")]
    pub nonce: u64,
    #[prost(oneof = "StoredOutcome", tags = "10, 11")]
    pub outcome: Option<StoredOutcome>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum StoredOutcome {
    #[prost(message, tag = "10")]
    Applied(StoredApplied),
    #[prost(message, tag = "11")]
    Refused(StoredRefusal),
}

/// An applied transaction: its kind's name, amount, serial ranges and accounts.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredApplied {
    #[prost(string, tag = "1")]
    pub kind: String,
    #[prost(uint64, tag = "2")]
    pub amount: u64,
    #[prost(message, repeated, tag = "3")]
    pub serials: Vec<StoredSerials>,
    #[prost(string, tag = "4")]
    pub from_account: String,
    #[prost(string, tag = "5")]
    pub to_account: String,
    /// Every account whose holdings changed (the audit trail's index, `h/`).
    #[prost(string, repeated, tag = "6")]
    pub accounts: Vec<String>,
    /// The units each account received.
    #[prost(message, repeated, tag = "7")]
    pub credited: Vec<StoredCredit>,
    /// Governance acts: the proposal concerned (0: none).
    #[prost(uint64, tag = "8")]
    pub proposal: u64,
    /// A vote: its Art. 22 weight.
    #[prost(uint64, tag = "9")]
    pub weight: u64,
}

/// Units an account received in one transaction.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredCredit {
    #[prost(string, tag = "1")]
    pub account: String,
    #[prost(uint64, tag = "2")]
    pub amount: u64,
}

/// A refused transaction: its stable code and message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredRefusal {
    #[prost(string, tag = "1")]
    pub code: String,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// A range of serial numbers a transaction issued or moved. `unit_type` and
/// `activity` hold the ledger's discriminants (`UnitType`, `Activity`; 0 = none).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredSerials {
    #[prost(string, tag = "1")]
    pub origin: String,
    #[prost(uint64, tag = "2")]
    pub start: u64,
    #[prost(uint64, tag = "3")]
    pub end: u64,
    #[prost(int32, tag = "4")]
    pub unit_type: i32,
    #[prost(uint32, tag = "5")]
    pub original_period: u32,
    #[prost(uint32, tag = "6")]
    pub applicable_period: u32,
    #[prost(string, tag = "7")]
    pub project: String,
    #[prost(int32, tag = "8")]
    pub activity: i32,
    /// tCER/lCER expiry, ms since the Unix epoch; 0 if none.
    #[prost(int64, tag = "9")]
    pub expiry_ms: i64,
    #[prost(bool, tag = "10")]
    pub replaced: bool,
}

/// The commit certificate of a block: precommits of more than two thirds of the
/// validators, in the round consensus decided it.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredCertificate {
    #[prost(uint64, tag = "1")]
    pub height: u64,
    #[prost(bytes = "vec", tag = "2")]
    pub block_hash: Vec<u8>,
    #[prost(message, repeated, tag = "3")]
    pub signatures: Vec<StoredSignature>,
    #[prost(int64, tag = "4")]
    pub round: i64,
}

/// One validator's precommit: its public key and signature.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StoredSignature {
    #[prost(bytes = "vec", tag = "1")]
    pub public_key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub signature: Vec<u8>,
}

impl From<&pb::CommitCertificate> for StoredCertificate {
    fn from(c: &pb::CommitCertificate) -> Self {
        StoredCertificate {
            height: c.height,
            block_hash: c.block_hash.clone(),
            signatures: c
                .signatures
                .iter()
                .map(|s| StoredSignature {
                    public_key: s.public_key.clone(),
                    signature: s.signature.clone(),
                })
                .collect(),
            round: c.round,
        }
    }
}

fn serials(b: &SerialBlock) -> StoredSerials {
    StoredSerials {
        origin: b.origin.to_string(),
        start: b.start,
        end: b.end,
        unit_type: b.unit_type as i32,
        original_period: b.original_period,
        applicable_period: b.applicable_period,
        project: b.project.clone().unwrap_or_default(),
        activity: b.activity.map_or(0, |a| a as i32),
        expiry_ms: b.expiry_ms.unwrap_or(0),
        replaced: b.replaced,
    }
}

fn applied(a: &Applied) -> StoredApplied {
    StoredApplied {
        kind: a.kind.name().to_owned(),
        amount: a.amount,
        serials: a.serials.iter().map(serials).collect(),
        from_account: a.from.as_ref().map(ToString::to_string).unwrap_or_default(),
        to_account: a.to.as_ref().map(ToString::to_string).unwrap_or_default(),
        accounts: a.accounts.iter().map(ToString::to_string).collect(),
        credited: a
            .credited
            .iter()
            .map(|(account, amount)| StoredCredit {
                account: account.to_string(),
                amount: *amount,
            })
            .collect(),
        proposal: a.proposal.unwrap_or(0),
        weight: a.weight,
    }
}

impl StoredReceipt {
    /// The record of a ledger receipt for a transaction of the block at `height`.
    pub fn new(r: &Receipt, height: u64) -> Self {
        StoredReceipt {
            tx_hash: r.tx_hash.to_vec(),
            height,
            index: r.index,
            signer: r.signer.to_vec(),
            nonce: r.nonce,
            outcome: Some(match &r.outcome {
                Ok(a) => StoredOutcome::Applied(applied(a)),
                Err(refusal) => StoredOutcome::Refused(StoredRefusal {
                    code: refusal.code().to_owned(),
                    message: refusal.to_string(),
                }),
            }),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use prost::Message;

    use super::*;

    /// A block record as the previous layout wrote it (the API's `GetBlockResponse`,
    /// encoded by the version of commit c551799): two transactions, one applied with a
    /// serial range of every field, one refused, and a certificate.
    const PREVIOUS_LAYOUT: &str = include_str!("testdata/block-record-c551799.hex");

    pub(in crate::store) fn previous_layout_bytes() -> Vec<u8> {
        let hex = PREVIOUS_LAYOUT.trim();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    pub(in crate::store) fn previous_layout_block() -> StoredBlock {
        StoredBlock {
            block: Some(pb::Block {
                header: Some(pb::BlockHeader {
                    chain_id: "kyoto-dev".into(),
                    height: 7,
                    parent_hash: vec![1; 32],
                    timestamp_ms: 1_199_145_600_000,
                    parent_state_root: vec![2; 32],
                    transactions_root: vec![3; 32],
                    transaction_count: 2,
                }),
                transactions: vec![vec![0x0a, 0x01, 0x05], vec![0x0a, 0x01, 0x06]],
            }),
            block_hash: vec![4; 32],
            state_root: vec![5; 32],
            transaction_hashes: vec![vec![6; 32], vec![7; 32]],
            receipts: vec![
                StoredReceipt {
                    tx_hash: vec![6; 32],
                    height: 7,
                    index: 0,
                    signer: vec![8; 32],
                    nonce: 3,
                    outcome: Some(StoredOutcome::Applied(StoredApplied {
                        kind: "external_transfer".into(),
                        amount: 1000,
                        serials: vec![StoredSerials {
                            origin: "JP".into(),
                            start: 1,
                            end: 1000,
                            unit_type: 6,
                            original_period: 1,
                            applicable_period: 1,
                            project: "CDM-500".into(),
                            activity: 1,
                            expiry_ms: 1_420_070_400_000,
                            replaced: true,
                        }],
                        from_account: "JP-100-1".into(),
                        to_account: "EC-100-1".into(),
                        accounts: vec!["JP-100-1".into(), "EC-100-1".into()],
                        // Fields added after this layout: absent in its records.
                        credited: Vec::new(),
                        proposal: 0,
                        weight: 0,
                    })),
                },
                StoredReceipt {
                    tx_hash: vec![7; 32],
                    height: 7,
                    index: 1,
                    signer: vec![9; 32],
                    nonce: 1,
                    outcome: Some(StoredOutcome::Refused(StoredRefusal {
                        code: "INSUFFICIENT_UNITS".into(),
                        message: "JP-100-1 holds 0".into(),
                    })),
                },
            ],
            certificate: Some(StoredCertificate {
                height: 7,
                block_hash: vec![4; 32],
                signatures: vec![StoredSignature {
                    public_key: vec![10; 32],
                    signature: vec![11; 64],
                }],
                round: 2,
            }),
        }
    }

    #[test]
    fn a_record_of_the_previous_layout_decodes_field_for_field() {
        let bytes = previous_layout_bytes();
        let decoded = StoredBlock::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded, previous_layout_block());
        // And the store writes it back byte for byte: the layouts are one.
        assert_eq!(decoded.encode_to_vec(), bytes);
        assert_eq!(decoded.height(), 7);
        assert_eq!(decoded.timestamp_ms(), 1_199_145_600_000);
    }
}
