//! Test-only: a validator that lies. Compiled only with the cargo feature
//! `byzantine` (which only the cluster tests in `tests/` turn on) and started only by
//! the hidden `kyotod --byzantine LIES` flag of such a build, so that the cluster
//! tests can show what one lying validator among four can and cannot do.
//!
//! The lies, any of them together (`--byzantine equivocate,bad-parent,…`):
//! - `equivocate`: two different votes and two different proposals in every round
//!   (Malachite's Byzantine network proxy signs the conflicting copies);
//! - block lies, taken in turn, one per proposal this validator makes (signed by it
//!   as proposer, so that only the block's own checks can catch them): `bad-parent`,
//!   `wrong-state-root`, `bad-signature` (a transaction whose signature does not
//!   verify), `tx-mismatch` (a header that counts other transactions than the block
//!   carries), `future-timestamp` (an hour ahead of every clock), `stale-timestamp`
//!   (not after the parent's), `past-year-9999`;
//! - `gossip-junk`: floods transaction gossip with bytes that are no transaction;
//! - `forge-sync`: answers a catching-up validator's requests for committed blocks
//!   with other transactions under the committed headers and certificates.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arc_malachitebft_app_channel::ByzantineContext;
use arc_malachitebft_app_channel::NetworkIdentity;
use arc_malachitebft_engine_byzantine::{ByzantineConfig, Trigger};
use kyoto_proto::v1 as pb;
use kyoto_proto::v1::transaction_body::Kind;
use prost::Message;

use super::codec::KyotoCodec;
use super::context::{Address, BlockId, KyotoContext};
use crate::chain::transactions_root;
use crate::clock::MAX_LEDGER_TIME_MS;
use crate::crypto::sha256;
use crate::node::Node;

/// One way of lying.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lie {
    Equivocate,
    BadParent,
    WrongStateRoot,
    BadSignature,
    TxMismatch,
    FutureTimestamp,
    StaleTimestamp,
    PastYear9999,
    GossipJunk,
    ForgeSync,
}

const NAMES: [(&str, Lie); 10] = [
    ("equivocate", Lie::Equivocate),
    ("bad-parent", Lie::BadParent),
    ("wrong-state-root", Lie::WrongStateRoot),
    ("bad-signature", Lie::BadSignature),
    ("tx-mismatch", Lie::TxMismatch),
    ("future-timestamp", Lie::FutureTimestamp),
    ("stale-timestamp", Lie::StaleTimestamp),
    ("past-year-9999", Lie::PastYear9999),
    ("gossip-junk", Lie::GossipJunk),
    ("forge-sync", Lie::ForgeSync),
];

impl Lie {
    fn is_block_lie(self) -> bool {
        !matches!(self, Lie::Equivocate | Lie::GossipJunk | Lie::ForgeSync)
    }
}

/// The lies a validator tells (none for an honest one), and how many proposals it
/// has made (the block lies go in turn).
#[derive(Clone, Debug, Default)]
pub struct Lies {
    set: BTreeSet<Lie>,
    proposals: Arc<AtomicUsize>,
}

impl FromStr for Lies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut set = BTreeSet::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let Some((_, lie)) = NAMES.iter().find(|(n, _)| *n == name) else {
                let known: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unknown lie `{name}` (the lies: {})",
                    known.join(", ")
                ));
            };
            set.insert(*lie);
        }
        Ok(Lies {
            set,
            proposals: Arc::default(),
        })
    }
}

impl Lies {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    pub fn tells(&self, lie: Lie) -> bool {
        self.set.contains(&lie)
    }

    /// The names of the lies, for the start-up warning.
    pub fn names(&self) -> Vec<&'static str> {
        NAMES
            .iter()
            .filter(|(_, l)| self.set.contains(l))
            .map(|(n, _)| *n)
            .collect()
    }

    /// The block lie of this validator's next proposal, if it tells any.
    fn next_block_lie(&self) -> Option<Lie> {
        let lies: Vec<Lie> = self
            .set
            .iter()
            .copied()
            .filter(|l| l.is_block_lie())
            .collect();
        if lies.is_empty() {
            return None;
        }
        let n = self.proposals.fetch_add(1, Ordering::Relaxed);
        lies.get(n % lies.len()).copied()
    }

    /// Tampers with a block this validator built and is about to sign as proposer;
    /// returns the lie told.
    pub(crate) fn tamper(
        &self,
        block: &mut pb::Block,
        now_ms: i64,
        key: &ed25519_dalek::SigningKey,
    ) -> Option<Lie> {
        let lie = self.next_block_lie()?;
        let header = block.header.as_mut()?;
        match lie {
            Lie::BadParent => header.parent_hash = sha256(&header.parent_hash).to_vec(),
            Lie::WrongStateRoot => {
                header.parent_state_root = sha256(&header.parent_state_root).to_vec();
            }
            Lie::TxMismatch => header.transaction_count = header.transaction_count.wrapping_add(1),
            Lie::FutureTimestamp => header.timestamp_ms = now_ms.saturating_add(3_600_000),
            Lie::StaleTimestamp => header.timestamp_ms = 0,
            Lie::PastYear9999 => header.timestamp_ms = MAX_LEDGER_TIME_MS.saturating_add(1),
            Lie::BadSignature => {
                let body = pb::TransactionBody {
                    chain_id: header.chain_id.clone(),
                    nonce: 1,
                    kind: Some(Kind::Withdraw(pb::Withdraw {
                        party: "JP".into(),
                        effective_ms: 0,
                    })),
                };
                let mut signed = pb::SignedTransaction::decode(
                    kyoto_client::sign_transaction(key, &body).as_slice(),
                )
                .ok()?;
                if let Some(b) = signed.signature.first_mut() {
                    *b ^= 1;
                }
                block.transactions.push(signed.encode_to_vec());
                let hashes: Vec<_> = block.transactions.iter().map(|t| sha256(t)).collect();
                header.transactions_root = transactions_root(&hashes).to_vec();
                header.transaction_count = u32::try_from(block.transactions.len()).ok()?;
            }
            Lie::Equivocate | Lie::GossipJunk | Lie::ForgeSync => return None,
        }
        tracing::warn!(lie = ?lie, height = header.height, "BYZANTINE: proposing a block that lies");
        Some(lie)
    }

    /// Forges a committed block served to a catching-up validator: the same header
    /// (so that its certificate still names it), other transactions.
    pub(crate) fn forge_synced(&self, block: &mut pb::Block) {
        if !self.tells(Lie::ForgeSync) {
            return;
        }
        block.transactions.push(b"forged".to_vec());
        tracing::warn!("BYZANTINE: serving a forged committed block");
    }

    /// Malachite's Byzantine network proxy, when this validator equivocates.
    pub(crate) fn network(
        &self,
        identity: NetworkIdentity,
        signer: Box<dyn arc_malachitebft_app_channel::Signer<KyotoContext>>,
        address: Address,
    ) -> Option<ByzantineContext<KyotoContext, KyotoCodec>> {
        if !self.tells(Lie::Equivocate) {
            return None;
        }
        let config = ByzantineConfig::new(Some(7))
            .with_equivocate_votes(Trigger::Always)
            .with_equivocate_proposals(Trigger::Always);
        Some(ByzantineContext {
            identity,
            codec: KyotoCodec,
            config,
            signer,
            address,
            conflicting_value_fn: Some(Box::new(|v: &BlockId| BlockId(sha256(&v.0)))),
            conflicting_vote_value_fn: Some(Box::new(|v: Option<&BlockId>| {
                BlockId(sha256(v.map(|b| b.0.as_slice()).unwrap_or(b"nil")))
            })),
        })
    }
}

/// Floods transaction gossip with junk until the node stops: batches of bytes that
/// decode as no transaction, as fast as the outbox takes them.
pub(crate) fn flood_gossip(node: Arc<Node>) {
    let Some(outbox) = node.gossip_outbox() else {
        return;
    };
    tokio::spawn(async move {
        let mut n: u64 = 0;
        loop {
            for _ in 0..256 {
                n = n.wrapping_add(1);
                let junk = sha256(&n.to_be_bytes()).repeat(4);
                if outbox.send(junk).await.is_err() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
}
