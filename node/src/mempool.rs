//! The mempool: verified transactions waiting for a block. Bounded in size and in
//! how far ahead of its committed nonce a signer may queue. A transaction refused
//! here never enters a block.

use std::collections::{BTreeMap, HashMap};

use crate::chain::PendingTx;
use crate::ledger::{Hash, PublicKey, Refusal, State};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdmitError {
    #[error("the transaction is already pending")]
    AlreadyPending,
    #[error("nonce {nonce} is already used by a pending transaction of this signer")]
    NoncePending { nonce: u64 },
    #[error(
        "nonce {nonce} is more than {max_ahead} ahead of the signer's committed nonce {committed}"
    )]
    NonceTooHigh {
        nonce: u64,
        committed: u64,
        max_ahead: u64,
    },
    #[error("the mempool is full ({0} transactions); try again shortly")]
    Full(usize),
    /// The ledger's dry run against the committed state refused it.
    #[error("{0}")]
    Refused(Refusal),
}

impl AdmitError {
    pub fn code(&self) -> &'static str {
        match self {
            AdmitError::AlreadyPending => "ALREADY_PENDING",
            AdmitError::NoncePending { .. } => "NONCE_REUSED",
            AdmitError::NonceTooHigh { .. } => "NONCE_TOO_HIGH",
            AdmitError::Full(_) => "MEMPOOL_FULL",
            AdmitError::Refused(r) => r.code(),
        }
    }
}

pub struct Mempool {
    max_txs: usize,
    max_ahead: u64,
    next_seq: u64,
    /// By hash: arrival sequence, the transaction, and whether it arrived ahead of a gap
    /// in its signer's nonces (so it could not be dry-run).
    entries: HashMap<Hash, (u64, PendingTx, bool)>,
    /// How many entries arrived ahead of a gap: bounded, so throwaway keys cannot fill
    /// the pool with transactions nobody checked.
    gapped: usize,
    by_signer: HashMap<PublicKey, BTreeMap<u64, Hash>>,
    /// Arrival order.
    order: BTreeMap<u64, Hash>,
}

impl Mempool {
    pub fn new(max_txs: usize, max_ahead: u64) -> Self {
        Mempool {
            max_txs,
            max_ahead,
            next_seq: 0,
            entries: HashMap::new(),
            gapped: 0,
            by_signer: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn contains(&self, hash: &Hash) -> bool {
        self.entries.contains_key(hash)
    }

    /// The nonce a signer should use next, counting its pending transactions.
    pub fn next_nonce(&self, state: &State, signer: &PublicKey) -> u64 {
        let mut n = state.nonce(signer).saturating_add(1);
        if let Some(pending) = self.by_signer.get(signer) {
            while pending.contains_key(&n) {
                n = n.saturating_add(1);
            }
        }
        n
    }

    /// Admits a verified transaction. When it is its signer's next transaction, the
    /// ledger rules are dry-run against the committed state first.
    pub fn admit(&mut self, p: PendingTx, state: &State) -> Result<(), AdmitError> {
        let tx = &p.tx;
        if self.entries.contains_key(&tx.hash) {
            return Err(AdmitError::AlreadyPending);
        }
        let committed = state.nonce(&tx.signer);
        if tx.nonce <= committed {
            return Err(AdmitError::Refused(Refusal::NonceReused {
                nonce: tx.nonce,
                last_used: committed,
            }));
        }
        if self
            .by_signer
            .get(&tx.signer)
            .is_some_and(|m| m.contains_key(&tx.nonce))
        {
            return Err(AdmitError::NoncePending { nonce: tx.nonce });
        }
        if tx.nonce > committed.saturating_add(self.max_ahead) {
            return Err(AdmitError::NonceTooHigh {
                nonce: tx.nonce,
                committed,
                max_ahead: self.max_ahead,
            });
        }
        if self.entries.len() >= self.max_txs {
            return Err(AdmitError::Full(self.max_txs));
        }
        let predecessor_pending = self
            .by_signer
            .get(&tx.signer)
            .is_some_and(|m| m.contains_key(&(tx.nonce - 1)));
        let gapped = tx.nonce != committed + 1 && !predecessor_pending;
        if gapped && self.gapped >= self.max_txs / 20 {
            return Err(AdmitError::Full(self.max_txs));
        }
        if tx.nonce == committed + 1 {
            state.check(tx).map_err(AdmitError::Refused)?;
        }
        if gapped {
            self.gapped += 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_signer
            .entry(tx.signer)
            .or_default()
            .insert(tx.nonce, tx.hash);
        self.order.insert(seq, tx.hash);
        self.entries.insert(tx.hash, (seq, p, gapped));
        Ok(())
    }

    /// Up to `max` transactions in arrival order, each signer's in nonce order with
    /// no gaps from its committed nonce.
    pub fn select(&self, state: &State, max: usize) -> Vec<PendingTx> {
        let mut expected: HashMap<PublicKey, u64> = HashMap::new();
        let mut taken: Vec<(u64, PendingTx)> = Vec::new();
        let mut taken_hashes = std::collections::HashSet::new();
        loop {
            let before = taken.len();
            for (seq, hash) in &self.order {
                if taken.len() >= max {
                    break;
                }
                if taken_hashes.contains(hash) {
                    continue;
                }
                let Some((_, p, _)) = self.entries.get(hash) else {
                    continue;
                };
                let next = expected
                    .entry(p.tx.signer)
                    .or_insert_with(|| state.nonce(&p.tx.signer).saturating_add(1));
                if p.tx.nonce == *next {
                    *next += 1;
                    taken_hashes.insert(*hash);
                    taken.push((*seq, p.clone()));
                }
            }
            if taken.len() == before || taken.len() >= max {
                break;
            }
        }
        taken.into_iter().map(|(_, p)| p).collect()
    }

    /// Drops transactions that were committed, and any whose nonce is now used
    /// (`committed` is the block's transactions with their signers: a block another
    /// validator proposed may use a nonce that a different transaction waiting here
    /// also claims).
    pub fn remove_committed(&mut self, committed: &[(Hash, PublicKey)], state: &State) {
        let mut signers: Vec<PublicKey> = committed.iter().map(|(_, s)| *s).collect();
        signers.sort_unstable();
        signers.dedup();
        for (hash, _) in committed {
            if let Some((seq, p, gapped)) = self.entries.remove(hash) {
                self.order.remove(&seq);
                self.gapped = self.gapped.saturating_sub(usize::from(gapped));
                if let Some(m) = self.by_signer.get_mut(&p.tx.signer) {
                    m.remove(&p.tx.nonce);
                }
            }
        }
        for signer in signers {
            let used = state.nonce(&signer);
            if let Some(m) = self.by_signer.get_mut(&signer) {
                let stale: Vec<u64> = m.range(..=used).map(|(n, _)| *n).collect();
                for n in stale {
                    if let Some(h) = m.remove(&n)
                        && let Some((seq, _, gapped)) = self.entries.remove(&h)
                    {
                        self.order.remove(&seq);
                        self.gapped = self.gapped.saturating_sub(usize::from(gapped));
                    }
                }
                if m.is_empty() {
                    self.by_signer.remove(&signer);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AccountId, Tx, TxKind, UnitFilter, UnitType};

    fn tx(seed: u8, nonce: u64) -> PendingTx {
        let kind = TxKind::TransferUnits {
            from: AccountId::parse("JPN-100-1").unwrap(),
            to: AccountId::parse("CAN-100-1").unwrap(),
            amount: 1,
            units: UnitFilter::new(UnitType::Aau, 1),
        };
        let mut hash = [seed; 32];
        hash[0] = nonce as u8;
        PendingTx {
            raw: vec![],
            tx: Tx {
                hash,
                signer: [seed; 32],
                nonce,
                kind,
            },
        }
    }

    #[test]
    fn transactions_ahead_of_a_gap_are_bounded_and_contiguous_ones_are_not() {
        let (genesis, _) = crate::dev::dev_genesis_with_keys(&mut |_| {
            ed25519_dalek::SigningKey::from_bytes(&[1; 32])
        });
        let state = genesis.build_state().unwrap();
        let mut pool = Mempool::new(100, 64);
        // Five throwaway keys, each queuing a transaction nobody can check yet.
        for seed in 10..15 {
            pool.admit(tx(seed, 7), &state).unwrap();
        }
        assert_eq!(pool.admit(tx(20, 7), &state), Err(AdmitError::Full(100)));
        // A signer pipelining contiguous nonces behind a gapped one is not limited by it.
        pool.admit(tx(10, 8), &state).unwrap();
        pool.admit(tx(10, 9), &state).unwrap();
        assert_eq!(pool.len(), 7);
        assert!(
            pool.select(&state, 10).is_empty(),
            "nothing is next in line"
        );
    }
}
