//! The boundary for client transactions: decode with size limits, check the
//! signature over the received bytes, check the chain id, and hand the ledger a
//! verified [`Tx`]. Nothing a client sends can reach the ledger unchecked.

use kyoto_proto::v1 as pb;
use prost::Message;

use crate::crypto::{self, SignatureError};
use std::collections::BTreeMap;

use crate::ledger::governance::{Choice, GovTx, ProposalKind};
use crate::ledger::{
    AccountId, AccountKind, Activity, Eligibility, PartyCode, SerialRange, Tx, TxKind, UnitFilter,
    UnitType,
};

/// Largest encoded `SignedTransaction` accepted.
pub const MAX_TX_BYTES: usize = 16 * 1024;

/// Why a transaction's bytes are refused before they reach the ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("the transaction is {0} bytes; at most {MAX_TX_BYTES} are accepted")]
    TooLarge(usize),
    #[error("{0}")]
    Malformed(String),
    #[error("bad signature: {0}")]
    BadSignature(SignatureError),
    #[error("the transaction is for chain `{got}`, this is chain `{expected}`")]
    WrongChain { expected: String, got: String },
}

impl TxError {
    pub fn code(&self) -> &'static str {
        match self {
            TxError::TooLarge(_) => "TX_TOO_LARGE",
            TxError::Malformed(_) => "MALFORMED",
            TxError::BadSignature(_) => "BAD_SIGNATURE",
            TxError::WrongChain { .. } => "WRONG_CHAIN",
        }
    }
}

fn malformed(msg: impl Into<String>) -> TxError {
    TxError::Malformed(msg.into())
}

/// Decodes and verifies the bytes of a `SignedTransaction`.
pub fn decode_and_verify(bytes: &[u8], chain_id: &str) -> Result<Tx, TxError> {
    decode_checked(bytes, chain_id, |_| false)
}

/// Decodes the bytes of a `SignedTransaction`, verifying its signature unless
/// `verified` says these exact bytes (by their SHA-256) were verified before.
pub fn decode_checked(
    bytes: &[u8],
    chain_id: &str,
    verified: impl Fn(&crate::ledger::Hash) -> bool,
) -> Result<Tx, TxError> {
    let (signed, hash) = decode_signed(bytes)?;
    let signer = if verified(&hash) {
        signer_key(&signed)?
    } else {
        crypto::verify_tx(&signed.public_key, &signed.body, &signed.signature)
            .map_err(TxError::BadSignature)?
    };
    decode_body(&signed.body, chain_id, hash, signer)
}

/// Like [`decode_checked`], but leaves the signature (unless `verified` knows these
/// bytes) for the caller to verify, so that a block's signatures can be verified in
/// one batch: the transaction is valid only once its `PendingSignature` verifies.
pub fn decode_deferred(
    bytes: &[u8],
    chain_id: &str,
    verified: impl Fn(&crate::ledger::Hash) -> bool,
) -> Result<(Tx, Option<crypto::PendingSignature>), TxError> {
    let (signed, hash) = decode_signed(bytes)?;
    if verified(&hash) {
        let signer = signer_key(&signed)?;
        return Ok((decode_body(&signed.body, chain_id, hash, signer)?, None));
    }
    let pending =
        crypto::PendingSignature::new(&signed.public_key, &signed.body, &signed.signature)
            .map_err(TxError::BadSignature)?;
    let tx = decode_body(&signed.body, chain_id, hash, pending.public_key())?;
    Ok((tx, Some(pending)))
}

/// A transaction sent for a dry run (`SimulateTransaction`): checked as a submission
/// is, except that an empty signature marks an unsigned body (not verified; the
/// second value says whether the signature was verified) and that nonce 0 is taken,
/// standing for the signer's next nonce.
pub fn decode_for_simulation(bytes: &[u8], chain_id: &str) -> Result<(Tx, bool), TxError> {
    let (signed, hash) = decode_signed(bytes)?;
    let (signer, verified) = if signed.signature.is_empty() {
        (signer_key(&signed)?, false)
    } else {
        let key = crypto::verify_tx(&signed.public_key, &signed.body, &signed.signature)
            .map_err(TxError::BadSignature)?;
        (key, true)
    };
    let tx = decode_body_with(&signed.body, chain_id, hash, signer, true)?;
    Ok((tx, verified))
}

/// The envelope, in canonical encoding, and its hash.
fn decode_signed(bytes: &[u8]) -> Result<(pb::SignedTransaction, crate::ledger::Hash), TxError> {
    if bytes.len() > MAX_TX_BYTES {
        return Err(TxError::TooLarge(bytes.len()));
    }
    let signed = pb::SignedTransaction::decode(bytes)
        .map_err(|e| malformed(format!("not a SignedTransaction: {e}")))?;
    // One transaction has one encoding, so it has one hash.
    if signed.encoded_len() != bytes.len() || signed.encode_to_vec() != bytes {
        return Err(malformed(
            "the SignedTransaction is not in canonical protobuf encoding",
        ));
    }
    Ok((signed, crypto::sha256(bytes)))
}

fn signer_key(signed: &pb::SignedTransaction) -> Result<crate::ledger::PublicKey, TxError> {
    signed
        .public_key
        .as_slice()
        .try_into()
        .map_err(|_| TxError::BadSignature(crypto::SignatureError::KeyLength))
}

/// The body of a transaction whose envelope was checked.
fn decode_body(
    body: &[u8],
    chain_id: &str,
    hash: crate::ledger::Hash,
    signer: crate::ledger::PublicKey,
) -> Result<Tx, TxError> {
    decode_body_with(body, chain_id, hash, signer, false)
}

/// [`decode_body`], taking nonce 0 when `zero_nonce` (a dry run's "next nonce").
fn decode_body_with(
    body: &[u8],
    chain_id: &str,
    hash: crate::ledger::Hash,
    signer: crate::ledger::PublicKey,
    zero_nonce: bool,
) -> Result<Tx, TxError> {
    let body = pb::TransactionBody::decode(body)
        .map_err(|e| malformed(format!("the body is not a TransactionBody: {e}")))?;
    if body.chain_id != chain_id {
        return Err(TxError::WrongChain {
            expected: chain_id.to_owned(),
            got: body.chain_id,
        });
    }
    if body.nonce == 0 && !zero_nonce {
        return Err(malformed("nonces start at 1"));
    }
    let kind = body
        .kind
        .ok_or_else(|| malformed("the transaction has no kind"))?;
    Ok(Tx {
        hash,
        signer,
        nonce: body.nonce,
        kind: convert_kind(kind)?,
    })
}

fn party(s: &str) -> Result<PartyCode, TxError> {
    PartyCode::parse(s).map_err(malformed)
}

fn account(s: &str) -> Result<AccountId, TxError> {
    AccountId::parse(s).map_err(malformed)
}

fn unit_type(v: i32) -> Result<UnitType, TxError> {
    UnitType::from_i32(v)
        .ok_or_else(|| malformed(format!("unit type {v} is not a known unit type")))
}

fn filter(units: Option<pb::UnitFilter>, what: &str) -> Result<UnitFilter, TxError> {
    let u =
        units.ok_or_else(|| malformed(format!("{what} must name the units (type and period)")))?;
    Ok(UnitFilter {
        unit_type: unit_type(u.unit_type)?,
        period: u.period,
        origin: opt(&u.origin, party)?,
        project: if u.project.is_empty() {
            None
        } else {
            Some(u.project)
        },
    })
}

fn opt<T>(s: &str, parse: impl Fn(&str) -> Result<T, TxError>) -> Result<Option<T>, TxError> {
    if s.is_empty() {
        Ok(None)
    } else {
        parse(s).map(Some)
    }
}

fn activity(v: i32) -> Result<Activity, TxError> {
    Activity::from_i32(v)
        .ok_or_else(|| malformed(format!("activity {v} is not a known LULUCF activity")))
}

fn range(r: Option<pb::SerialRange>) -> Result<SerialRange, TxError> {
    let r = r.ok_or_else(|| malformed("a serial range is required"))?;
    Ok(SerialRange {
        origin: party(&r.origin)?,
        start: r.start,
        end: r.end,
    })
}

/// Most removal entries in one inventory report.
const MAX_REMOVAL_ENTRIES: usize = 16;

fn convert_kind(kind: pb::transaction_body::Kind) -> Result<TxKind, TxError> {
    use pb::transaction_body::Kind;
    Ok(match kind {
        Kind::IssueUnits(i) => TxKind::IssueUnits {
            party: party(&i.party)?,
            unit_type: unit_type(i.unit_type)?,
            period: i.period,
            amount: i.amount,
            to: opt(&i.to_account, account)?,
            activity: if i.activity == 0 {
                None
            } else {
                Some(activity(i.activity)?)
            },
        },
        Kind::TransferUnits(t) => TxKind::TransferUnits {
            from: account(&t.from_account)?,
            to: account(&t.to_account)?,
            amount: t.amount,
            units: filter(t.units, "a transfer")?,
        },
        Kind::OpenAccount(o) => {
            if !crypto::is_valid_public_key(&o.holder_key) {
                return Err(malformed(
                    "the holder key is not a valid 32-byte Ed25519 public key",
                ));
            }
            let mut holder_key = [0u8; 32];
            holder_key.copy_from_slice(&o.holder_key);
            TxKind::OpenAccount {
                party: party(&o.party)?,
                holder_name: o.holder_name,
                holder_key,
            }
        }
        Kind::ReportInventory(r) => {
            if r.removals.len() > MAX_REMOVAL_ENTRIES {
                return Err(malformed("too many removal entries"));
            }
            let mut removals = BTreeMap::new();
            for a in r.removals {
                if removals.insert(activity(a.activity)?, a.amount).is_some() {
                    return Err(malformed("an activity is listed twice"));
                }
            }
            TxKind::ReportInventory {
                party: party(&r.party)?,
                year: r.year,
                emissions: r.emissions,
                removals,
            }
        }
        Kind::ApproveJiProject(a) => TxKind::ApproveJiProject {
            project: a.project,
            host: party(&a.host)?,
            acquirer: party(&a.acquirer)?,
        },
        Kind::ConvertToEru(c) => TxKind::ConvertToEru {
            project: c.project,
            from: account(&c.from_account)?,
            amount: c.amount,
            units: filter(c.units, "a conversion")?,
        },
        Kind::RegisterCdmProject(r) => {
            if r.participants.len() > crate::ledger::limits::MAX_PARTICIPANTS {
                return Err(malformed("too many participants"));
            }
            TxKind::RegisterCdmProject {
                project: r.project,
                host: party(&r.host)?,
                participants: r
                    .participants
                    .iter()
                    .map(|a| account(a))
                    .collect::<Result<_, _>>()?,
            }
        }
        Kind::IssueCers(i) => TxKind::IssueCers {
            project: i.project,
            unit_type: unit_type(i.unit_type)?,
            period: i.period,
            amount: i.amount,
            expiry_ms: if i.expiry_ms == 0 {
                None
            } else {
                Some(i.expiry_ms)
            },
        },
        Kind::CancelUnits(c) => {
            let kind = match pb::CancellationKind::try_from(c.kind) {
                Ok(pb::CancellationKind::Voluntary) => AccountKind::VoluntaryCancellation,
                Ok(pb::CancellationKind::NetSource) => AccountKind::NetSourceCancellation,
                Ok(pb::CancellationKind::NonCompliance) => AccountKind::NonComplianceCancellation,
                Ok(pb::CancellationKind::ExcessIssuance) => AccountKind::ExcessIssuanceCancellation,
                _ => {
                    return Err(malformed(format!(
                        "cancellation kind {} is not known",
                        c.kind
                    )));
                }
            };
            TxKind::CancelUnits {
                from: account(&c.from_account)?,
                kind,
                amount: c.amount,
                units: filter(c.units, "a cancellation")?,
            }
        }
        Kind::RetireUnits(r) => TxKind::RetireUnits {
            from: account(&r.from_account)?,
            amount: r.amount,
            units: filter(r.units, "a retirement")?,
        },
        Kind::CarryOver(c) => TxKind::CarryOver {
            from: account(&c.from_account)?,
            amount: c.amount,
            units: filter(c.units, "a carry-over")?,
        },
        Kind::ReplaceUnits(r) => TxKind::ReplaceUnits {
            party: party(&r.party)?,
            expiring: range(r.expiring)?,
            from: account(&r.from_account)?,
            units: filter(r.units, "a replacement")?,
        },
        Kind::ChangeExpiry(c) => TxKind::ChangeExpiry {
            range: range(c.range)?,
            expiry_ms: c.expiry_ms,
        },
        Kind::Propose(p) => TxKind::Gov(GovTx::Propose {
            proposer: party(&p.proposer)?,
            title: p.title,
            kind: proposal_kind(p.change)?,
        }),
        Kind::Consent(c) => TxKind::Gov(GovTx::Consent {
            proposal: c.proposal,
        }),
        Kind::Vote(v) => {
            let choice = match pb::VoteChoice::try_from(v.choice) {
                Ok(pb::VoteChoice::Yes) => Choice::Yes,
                Ok(pb::VoteChoice::No) => Choice::No,
                Ok(pb::VoteChoice::Abstain) => Choice::Abstain,
                _ => return Err(malformed("a vote is yes, no or abstain")),
            };
            TxKind::Gov(GovTx::Vote {
                proposal: v.proposal,
                voter: party(&v.voter)?,
                choice,
            })
        }
        Kind::Accept(a) => TxKind::Gov(GovTx::Accept {
            proposal: a.proposal,
            party: party(&a.party)?,
        }),
        Kind::NotifyNonAcceptance(n) => TxKind::Gov(GovTx::NotifyNonAcceptance {
            proposal: n.proposal,
            party: party(&n.party)?,
        }),
        Kind::DepositInstrument(d) => TxKind::Gov(GovTx::DepositInstrument {
            party: party(&d.party)?,
            name: d.name,
            annex_i: d.annex_i,
            authority: if d.authority_key.is_empty() {
                None
            } else {
                Some(public_key(&d.authority_key, "the authority key")?)
            },
        }),
        Kind::Withdraw(w) => TxKind::Gov(GovTx::Withdraw {
            party: party(&w.party)?,
            effective_ms: if w.effective_ms == 0 {
                None
            } else {
                Some(w.effective_ms)
            },
        }),
    })
}

fn public_key(bytes: &[u8], what: &str) -> Result<[u8; 32], TxError> {
    if !crypto::is_valid_public_key(bytes) {
        return Err(malformed(format!(
            "{what} is not a valid 32-byte Ed25519 public key"
        )));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(bytes);
    Ok(key)
}

fn proposal_kind(change: Option<pb::propose::Change>) -> Result<ProposalKind, TxError> {
    use pb::propose::Change;
    let hash = |b: &[u8]| -> Result<[u8; 32], TxError> {
        b.try_into()
            .map_err(|_| malformed("a text hash is 32 bytes (SHA-256)"))
    };
    Ok(
        match change.ok_or_else(|| malformed("a proposal must say what it changes"))? {
            Change::ProtocolAmendmentTextHash(h) => ProposalKind::ProtocolAmendment {
                text_hash: hash(&h)?,
            },
            Change::AnnexB(a) => ProposalKind::AnnexBAmendment {
                party: party(&a.party)?,
                period: a.period,
                assigned_amount: a.assigned_amount,
            },
            Change::Annex(a) => ProposalKind::AnnexAmendment {
                annex: a.annex,
                text_hash: hash(&a.text_hash)?,
            },
            Change::AddValidator(v) => ProposalKind::AddValidator {
                name: v.name,
                party: party(&v.party)?,
                key: public_key(&v.public_key, "the validator key")?,
            },
            Change::RemoveValidator(k) => ProposalKind::RemoveValidator {
                key: k
                    .as_slice()
                    .try_into()
                    .map_err(|_| malformed("a validator key is 32 bytes"))?,
            },
            Change::Eligibility(e) => ProposalKind::SetEligibility {
                party: party(&e.party)?,
                eligibility: Eligibility {
                    art6: e.art6,
                    art12: e.art12,
                    art17: e.art17,
                },
            },
            Change::Parameter(p) => ProposalKind::SetParameter {
                name: p.name,
                value: p.value,
            },
        },
    )
}

pub use kyoto_client::sign_transaction;

/// Test-only: a signed transfer of 10 AAUs (period 1) from Japan's holding account to
/// Canada's, the transaction the unit tests commit.
#[cfg(test)]
pub(crate) fn test_transfer(
    chain_id: &str,
    key: &ed25519_dalek::SigningKey,
    nonce: u64,
) -> Vec<u8> {
    let body = pb::TransactionBody {
        chain_id: chain_id.to_owned(),
        nonce,
        kind: Some(pb::transaction_body::Kind::TransferUnits(
            pb::TransferUnits {
                from_account: "JPN-100-1".into(),
                to_account: "CAN-100-1".into(),
                amount: 10,
                units: Some(pb::UnitFilter {
                    unit_type: 1,
                    period: 1,
                    ..Default::default()
                }),
            },
        )),
    };
    sign_transaction(key, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn body(chain: &str, nonce: u64) -> pb::TransactionBody {
        pb::TransactionBody {
            chain_id: chain.into(),
            nonce,
            kind: Some(pb::transaction_body::Kind::TransferUnits(
                pb::TransferUnits {
                    from_account: "JPN-100-1".into(),
                    to_account: "CAN-100-1".into(),
                    amount: 5,
                    units: Some(pb::UnitFilter {
                        unit_type: 1,
                        period: 1,
                        origin: String::new(),
                        project: String::new(),
                    }),
                },
            )),
        }
    }

    #[test]
    fn a_signed_transaction_decodes_to_the_ledger_tx() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let bytes = sign_transaction(&key, &body("c", 1));
        let tx = decode_and_verify(&bytes, "c").unwrap();
        assert_eq!(tx.nonce, 1);
        assert_eq!(tx.signer, key.verifying_key().to_bytes());
        assert_eq!(tx.hash, crypto::sha256(&bytes));
        assert!(matches!(tx.kind, TxKind::TransferUnits { amount: 5, .. }));
    }

    #[test]
    fn bad_bytes_are_refused_with_their_code() {
        let key = SigningKey::from_bytes(&[1; 32]);
        assert_eq!(
            decode_and_verify(&sign_transaction(&key, &body("other", 1)), "c")
                .unwrap_err()
                .code(),
            "WRONG_CHAIN"
        );
        assert_eq!(
            decode_and_verify(&sign_transaction(&key, &body("c", 0)), "c")
                .unwrap_err()
                .code(),
            "MALFORMED"
        );
        assert_eq!(
            decode_and_verify(&[0xff, 0xff, 0xff], "c")
                .unwrap_err()
                .code(),
            "MALFORMED"
        );
        assert_eq!(
            decode_and_verify(&vec![0; MAX_TX_BYTES + 1], "c")
                .unwrap_err()
                .code(),
            "TX_TOO_LARGE"
        );
        let mut signed =
            pb::SignedTransaction::decode(sign_transaction(&key, &body("c", 1)).as_slice())
                .unwrap();
        signed.body.push(0);
        assert_eq!(
            decode_and_verify(&signed.encode_to_vec(), "c")
                .unwrap_err()
                .code(),
            "BAD_SIGNATURE"
        );
        // A second, non-canonical encoding of the same transaction is refused.
        let mut bytes = sign_transaction(&key, &body("c", 1));
        bytes.extend_from_slice(&[0x78, 0x00]); // unknown field 15, which prost skips
        assert_eq!(
            decode_and_verify(&bytes, "c").unwrap_err().code(),
            "MALFORMED"
        );
    }

    mod fuzz {
        //! Property-based fuzzing of the decoder: whatever bytes arrive, it never
        //! panics, and any change to a valid signed transaction is refused.
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
                if let Err(e) = decode_and_verify(&bytes, "c") {
                    prop_assert!(!e.code().is_empty());
                }
            }

            #[test]
            fn any_change_to_a_signed_transaction_is_refused(
                nonce in 1..u64::MAX,
                amount in any::<u64>(),
                flips in prop::collection::vec((any::<prop::sample::Index>(), 1..=255u8), 1..4),
                cut in prop::option::of(any::<prop::sample::Index>()),
            ) {
                let key = SigningKey::from_bytes(&[5; 32]);
                let mut b = body("c", nonce);
                if let Some(pb::transaction_body::Kind::TransferUnits(t)) = &mut b.kind {
                    t.amount = amount;
                }
                let original = sign_transaction(&key, &b);
                prop_assert!(decode_and_verify(&original, "c").is_ok());
                let mut bytes = original.clone();
                for (i, x) in flips {
                    let i = i.index(bytes.len());
                    bytes[i] ^= x;
                }
                if let Some(c) = cut {
                    bytes.truncate(c.index(bytes.len()));
                }
                if bytes != original {
                    prop_assert!(decode_and_verify(&bytes, "c").is_err());
                }
            }
        }
    }
}
