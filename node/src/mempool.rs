//! The mempool: verified transactions waiting for a block.
//!
//! Every transaction here can execute soon, or is bounded and expires:
//! - a key the ledger does not know (no Party authority, account holder, CDM board or
//!   Depositary key) is refused at the door (`UNKNOWN_SIGNER`), so a stranger cannot
//!   queue anything;
//! - a signer may queue at most `max_nonce_ahead` nonces beyond its committed one
//!   (`NONCE_TOO_HIGH`);
//! - a transaction is *ready* when every nonce between its signer's committed nonce and
//!   its own waits here too (the proposer can take it now); otherwise it is *parked*
//!   behind a gap. Parked transactions are bounded per signer (`NONCE_GAP_LIMIT`) and
//!   in total (`MEMPOOL_FULL`), and a parked transaction whose gap is not filled within
//!   `parked_ttl` is dropped;
//! - the pool holds at most `max_txs` transactions and `max_bytes` bytes. When it is
//!   full, room is made by dropping the oldest parked transaction, then the last queued
//!   transaction of the signer with the most waiting (if that signer has more waiting
//!   than the newcomer's signer would); a signer's next executable transaction is never
//!   dropped. Otherwise the newcomer is refused with `MEMPOOL_FULL`.
//!
//! The node's proposer looks at [`Mempool::ready_len`], not the pool's size: parked
//! transactions never make it propose a block.
//!
//! A transaction refused here never enters a block from this node. Time is passed in
//! (`now`), so the rules are tested without a clock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::ledger::{Hash, PublicKey, Refusal, State, Tx};

/// A transaction with the exact bytes it was submitted as.
#[derive(Clone, Debug)]
pub struct PendingTx {
    pub raw: Vec<u8>,
    pub tx: Tx,
}

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
    #[error(
        "the ledger knows no Party authority, account holder, CDM board or Depositary with this key; a registry must open an account for it first"
    )]
    UnknownSigner,
    #[error(
        "this signer already has {limit} transactions waiting behind a gap in its nonces (the next one it must send is {next}); send that first"
    )]
    GapLimit { limit: usize, next: u64 },
    #[error("the mempool is full ({0} transactions); try again shortly")]
    Full(usize),
    #[error(
        "the mempool holds its most transactions waiting behind nonce gaps ({0}); send the missing nonces first, or try again shortly"
    )]
    ParkedFull(usize),
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
            AdmitError::UnknownSigner => "UNKNOWN_SIGNER",
            AdmitError::GapLimit { .. } => "NONCE_GAP_LIMIT",
            AdmitError::Full(_) | AdmitError::ParkedFull(_) => "MEMPOOL_FULL",
            AdmitError::Refused(r) => r.code(),
        }
    }
}

/// The mempool's bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MempoolLimits {
    /// Most transactions waiting.
    pub max_txs: usize,
    /// Most bytes of transactions waiting.
    pub max_bytes: usize,
    /// How far ahead of its committed nonce a signer may queue.
    pub max_nonce_ahead: u64,
    /// Most parked transactions (waiting behind a nonce gap) in all.
    pub max_parked: usize,
    /// Most parked transactions of one signer.
    pub max_parked_per_signer: usize,
    /// How long a parked transaction waits for its gap to be filled.
    pub parked_ttl: Duration,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            max_txs: 20_000,
            max_bytes: 64 * 1024 * 1024,
            max_nonce_ahead: 64,
            max_parked: 1_000,
            max_parked_per_signer: 64,
            parked_ttl: Duration::from_secs(60),
        }
    }
}

struct Entry {
    seq: u64,
    p: PendingTx,
    /// When it was admitted (for the submit-to-commit latency).
    admitted: Instant,
    /// Since when it waits behind a gap, if it does.
    parked_since: Option<Instant>,
}

pub struct Mempool {
    limits: MempoolLimits,
    next_seq: u64,
    entries: HashMap<Hash, Entry>,
    bytes: usize,
    by_signer: HashMap<PublicKey, BTreeMap<u64, Hash>>,
    /// Signers by how many transactions they have waiting (to find the largest).
    by_count: BTreeSet<(usize, PublicKey)>,
    /// Arrival order.
    order: BTreeMap<u64, Hash>,
    /// Parked transactions by (since when, arrival): the first to expire first.
    parked: BTreeMap<(Instant, u64), Hash>,
}

impl Mempool {
    pub fn new(limits: MempoolLimits) -> Self {
        Mempool {
            limits,
            next_seq: 0,
            entries: HashMap::new(),
            bytes: 0,
            by_signer: HashMap::new(),
            by_count: BTreeSet::new(),
            order: BTreeMap::new(),
            parked: BTreeMap::new(),
        }
    }

    pub fn limits(&self) -> &MempoolLimits {
        &self.limits
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of the transactions waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Transactions waiting behind a nonce gap.
    pub fn parked_len(&self) -> usize {
        self.parked.len()
    }

    /// Transactions a proposer can take now.
    pub fn ready_len(&self) -> usize {
        self.entries.len().saturating_sub(self.parked.len())
    }

    pub fn contains(&self, hash: &Hash) -> bool {
        self.entries.contains_key(hash)
    }

    /// The nonce a signer should use next, counting its pending transactions.
    pub fn next_nonce(&self, state: &State, signer: &PublicKey) -> u64 {
        let mut n = state.nonce(signer).saturating_add(1);
        if let Some(pending) = self.by_signer.get(signer) {
            while pending.contains_key(&n) {
                let Some(next) = n.checked_add(1) else { break };
                n = next;
            }
        }
        n
    }

    /// Admits a verified transaction at `now`. When it is its signer's next
    /// transaction, the ledger rules are dry-run against the committed state first.
    pub fn admit(&mut self, p: PendingTx, state: &State, now: Instant) -> Result<(), AdmitError> {
        self.expire(now);
        let tx = &p.tx;
        if self.entries.contains_key(&tx.hash) {
            return Err(AdmitError::AlreadyPending);
        }
        if !state.knows_signer(&tx.signer) {
            return Err(AdmitError::UnknownSigner);
        }
        let committed = state.nonce(&tx.signer);
        if tx.nonce <= committed {
            return Err(AdmitError::Refused(Refusal::NonceReused {
                nonce: tx.nonce,
                last_used: committed,
            }));
        }
        let queued = self.by_signer.get(&tx.signer);
        if queued.is_some_and(|m| m.contains_key(&tx.nonce)) {
            return Err(AdmitError::NoncePending { nonce: tx.nonce });
        }
        if tx.nonce > committed.saturating_add(self.limits.max_nonce_ahead) {
            return Err(AdmitError::NonceTooHigh {
                nonce: tx.nonce,
                committed,
                max_ahead: self.limits.max_nonce_ahead,
            });
        }
        // Ready when every nonce from the committed one up to it waits here.
        let next = self.next_nonce(state, &tx.signer);
        let ready = tx.nonce == next;
        if !ready {
            let parked_of_signer = queued.map_or(0, |m| m.range(next..).count());
            if parked_of_signer >= self.limits.max_parked_per_signer {
                return Err(AdmitError::GapLimit {
                    limit: self.limits.max_parked_per_signer,
                    next,
                });
            }
            if self.parked.len() >= self.limits.max_parked {
                return Err(AdmitError::ParkedFull(self.limits.max_parked));
            }
        }
        if tx.nonce == committed + 1 {
            state.check(tx).map_err(AdmitError::Refused)?;
        }
        let size = p.raw.len();
        while self.entries.len() >= self.limits.max_txs
            || self.bytes.saturating_add(size) > self.limits.max_bytes
        {
            if !self.make_room(&tx.signer, ready) {
                return Err(AdmitError::Full(self.limits.max_txs));
            }
        }
        let (signer, nonce, hash) = (tx.signer, tx.nonce, tx.hash);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.order.insert(seq, hash);
        self.bytes += size;
        self.entries.insert(
            hash,
            Entry {
                seq,
                p,
                admitted: now,
                parked_since: None,
            },
        );
        self.insert_for_signer(signer, nonce, hash);
        // It is ready or parked; if ready, it may fill the gap in front of parked
        // transactions of its signer.
        self.reclassify(&signer, state, now);
        Ok(())
    }

    /// Drops one transaction to make room for one of `newcomer`: the oldest parked
    /// one, else (for a `ready` newcomer only) the last queued transaction of the
    /// signer with the most waiting, if that is another signer with more waiting than
    /// `newcomer` would have. False if nothing may be dropped.
    fn make_room(&mut self, newcomer: &PublicKey, ready: bool) -> bool {
        if let Some((_, &hash)) = self.parked.first_key_value() {
            self.remove(&hash);
            return true;
        }
        if !ready {
            return false;
        }
        let own = self.by_signer.get(newcomer).map_or(0, BTreeMap::len) + 1;
        let Some(&(count, largest)) = self.by_count.last() else {
            return false;
        };
        if largest == *newcomer || count <= own || count < 2 {
            return false;
        }
        let Some(hash) = self
            .by_signer
            .get(&largest)
            .and_then(|m| m.last_key_value())
            .map(|(_, h)| *h)
        else {
            return false;
        };
        self.remove(&hash);
        true
    }

    fn insert_for_signer(&mut self, signer: PublicKey, nonce: u64, hash: Hash) {
        let m = self.by_signer.entry(signer).or_default();
        let before = m.len();
        m.insert(nonce, hash);
        let after = m.len();
        if before > 0 {
            self.by_count.remove(&(before, signer));
        }
        self.by_count.insert((after, signer));
    }

    /// Removes one transaction from every index.
    fn remove(&mut self, hash: &Hash) -> Option<PendingTx> {
        let e = self.entries.remove(hash)?;
        self.order.remove(&e.seq);
        if let Some(since) = e.parked_since {
            self.parked.remove(&(since, e.seq));
        }
        self.bytes = self.bytes.saturating_sub(e.p.raw.len());
        let signer = e.p.tx.signer;
        if let Some(m) = self.by_signer.get_mut(&signer) {
            let before = m.len();
            if m.remove(&e.p.tx.nonce).is_some() {
                self.by_count.remove(&(before, signer));
                if m.is_empty() {
                    self.by_signer.remove(&signer);
                } else {
                    self.by_count.insert((before - 1, signer));
                }
            }
        }
        Some(e.p)
    }

    /// Sorts `signer`'s transactions into ready (no gap between them and its committed
    /// nonce) and parked (behind a gap), after anything that changed either: a new
    /// transaction, or a block (which may also have refused one, leaving a gap).
    fn reclassify(&mut self, signer: &PublicKey, state: &State, now: Instant) {
        let Some(m) = self.by_signer.get(signer) else {
            return;
        };
        let mut next = state.nonce(signer).checked_add(1);
        let mut changes = Vec::with_capacity(m.len());
        for (&nonce, &hash) in m {
            let ready = next == Some(nonce);
            if ready {
                next = nonce.checked_add(1);
            }
            changes.push((hash, ready));
        }
        for (hash, ready) in changes {
            let Some(e) = self.entries.get_mut(&hash) else {
                continue;
            };
            match (ready, e.parked_since) {
                (true, Some(since)) => {
                    self.parked.remove(&(since, e.seq));
                    e.parked_since = None;
                }
                (false, None) => {
                    self.parked.insert((now, e.seq), hash);
                    e.parked_since = Some(now);
                }
                _ => {}
            }
        }
    }

    /// Drops parked transactions that waited longer than the limit.
    pub fn expire(&mut self, now: Instant) {
        while let Some((&(since, seq), &hash)) = self.parked.first_key_value() {
            if now.saturating_duration_since(since) < self.limits.parked_ttl {
                break;
            }
            if self.remove(&hash).is_none() {
                self.parked.remove(&(since, seq));
            }
        }
    }

    /// Up to `max` ready transactions in arrival order, each signer's in nonce order
    /// with no gaps from its committed nonce.
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
                let Some(e) = self.entries.get(hash).filter(|e| e.parked_since.is_none()) else {
                    continue;
                };
                let next = expected
                    .entry(e.p.tx.signer)
                    .or_insert_with(|| state.nonce(&e.p.tx.signer).saturating_add(1));
                if e.p.tx.nonce == *next {
                    *next += 1;
                    taken_hashes.insert(*hash);
                    taken.push((*seq, e.p.clone()));
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
    /// also claims); parked transactions whose gap the block filled become ready.
    /// Returns how long each committed transaction that waited here had waited.
    pub fn remove_committed(
        &mut self,
        committed: &[(Hash, PublicKey)],
        state: &State,
        now: Instant,
    ) -> Vec<Duration> {
        let mut signers: Vec<PublicKey> = committed.iter().map(|(_, s)| *s).collect();
        signers.sort_unstable();
        signers.dedup();
        let mut waited = Vec::with_capacity(committed.len());
        for (hash, _) in committed {
            if let Some(e) = self.entries.get(hash) {
                waited.push(now.saturating_duration_since(e.admitted));
            }
            self.remove(hash);
        }
        for signer in signers {
            let used = state.nonce(&signer);
            let stale: Vec<Hash> = self
                .by_signer
                .get(&signer)
                .map(|m| m.range(..=used).map(|(_, h)| *h).collect())
                .unwrap_or_default();
            for h in stale {
                self.remove(&h);
            }
            self.reclassify(&signer, state, now);
        }
        waited
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AccountId, Tx, TxKind, UnitFilter, UnitType};

    /// The Parties whose registry keys sign in these tests, by seed.
    const PARTIES: [&str; 5] = ["JPN", "CAN", "NZL", "NOR", "ISL"];

    /// A transfer of one AAU to another Party by the registry of `PARTIES[signer - 1]`
    /// (seed 250 is a key the ledger does not know), told apart by `tag`.
    fn tx(signer: u8, tag: u8, nonce: u64) -> PendingTx {
        let party = PARTIES
            .get(usize::from(signer).wrapping_sub(1))
            .unwrap_or(&"JPN");
        let kind = TxKind::TransferUnits {
            from: AccountId::parse(&format!("{party}-100-1")).unwrap(),
            to: AccountId::parse(if *party == "JPN" {
                "CAN-100-1"
            } else {
                "JPN-100-1"
            })
            .unwrap(),
            amount: 1,
            units: UnitFilter::new(UnitType::Aau, 1),
        };
        let mut hash = [tag; 32];
        hash[0] = nonce as u8;
        hash[1] = signer;
        PendingTx {
            raw: vec![0; 100],
            tx: Tx {
                hash,
                signer: key(signer),
                nonce,
                kind,
            },
        }
    }

    fn key(seed: u8) -> PublicKey {
        ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
            .verifying_key()
            .to_bytes()
    }

    /// A dev genesis whose Parties in `PARTIES` have the keys of seeds 1 to 5 (the
    /// others share seed 200).
    fn state() -> State {
        let (genesis, _) = crate::dev::dev_genesis_with_keys(&mut |code| {
            let seed = PARTIES
                .iter()
                .position(|p| *p == code)
                .map_or(200, |i| i as u8 + 1);
            ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
        });
        genesis.build_state().unwrap()
    }

    fn limits(max_txs: usize) -> MempoolLimits {
        MempoolLimits {
            max_txs,
            max_bytes: usize::MAX,
            max_nonce_ahead: 64,
            max_parked: 5,
            max_parked_per_signer: 3,
            parked_ttl: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_key_the_ledger_does_not_know_is_refused() {
        let state = state();
        let mut pool = Mempool::new(limits(100));
        let now = Instant::now();
        assert_eq!(
            pool.admit(tx(250, 0, 2), &state, now),
            Err(AdmitError::UnknownSigner)
        );
        assert_eq!(AdmitError::UnknownSigner.code(), "UNKNOWN_SIGNER");
        assert!(pool.is_empty());
    }

    #[test]
    fn parked_transactions_are_bounded_per_signer_and_in_total_and_never_ready() {
        let state = state();
        let mut pool = Mempool::new(limits(100));
        let now = Instant::now();
        // Signer 1 parks nonces 3, 4, 5 behind the missing 1 and 2: the fourth is one
        // too many, however contiguous it is with the others.
        for n in 3..=5 {
            pool.admit(tx(1, 0, n), &state, now).unwrap();
        }
        assert_eq!(
            pool.admit(tx(1, 0, 6), &state, now),
            Err(AdmitError::GapLimit { limit: 3, next: 1 })
        );
        // Two more signers park two; the total bound then refuses a sixth.
        pool.admit(tx(2, 0, 5), &state, now).unwrap();
        pool.admit(tx(3, 0, 5), &state, now).unwrap();
        assert_eq!(
            pool.admit(tx(4, 0, 5), &state, now),
            Err(AdmitError::ParkedFull(5))
        );
        assert_eq!((pool.len(), pool.parked_len(), pool.ready_len()), (5, 5, 0));
        assert!(
            pool.select(&state, 10).is_empty(),
            "nothing is next in line"
        );
    }

    #[test]
    fn filling_the_gap_makes_parked_transactions_ready() {
        let state = state();
        let mut pool = Mempool::new(limits(100));
        let now = Instant::now();
        pool.admit(tx(1, 0, 3), &state, now).unwrap();
        pool.admit(tx(1, 0, 2), &state, now).unwrap();
        assert_eq!(pool.ready_len(), 0);
        // Nonce 1 is dry-run against the state: a transfer the dev genesis allows.
        pool.admit(tx(1, 0, 1), &state, now).unwrap();
        assert_eq!((pool.ready_len(), pool.parked_len()), (3, 0));
        let nonces: Vec<u64> = pool.select(&state, 10).iter().map(|p| p.tx.nonce).collect();
        assert_eq!(nonces, vec![1, 2, 3]);
    }

    #[test]
    fn parked_transactions_expire_and_ready_ones_do_not() {
        let state = state();
        let mut pool = Mempool::new(limits(100));
        let start = Instant::now();
        pool.admit(tx(1, 0, 1), &state, start).unwrap();
        pool.admit(tx(2, 0, 4), &state, start).unwrap();
        pool.expire(start + Duration::from_secs(59));
        assert_eq!(pool.len(), 2);
        pool.expire(start + Duration::from_secs(60));
        assert_eq!((pool.len(), pool.ready_len()), (1, 1));
        assert!(pool.contains(&tx(1, 0, 1).tx.hash));
    }

    #[test]
    fn a_full_pool_drops_parked_then_the_longest_queue_never_a_next_transaction() {
        let state = state();
        let mut pool = Mempool::new(limits(4));
        let now = Instant::now();
        // Signer 1 queues 1, 2, 3 (ready); signer 2 parks 5.
        for n in 1..=3 {
            pool.admit(tx(1, 0, n), &state, now).unwrap();
        }
        pool.admit(tx(2, 0, 5), &state, now).unwrap();
        // Signer 3's next transaction takes the parked one's place.
        pool.admit(tx(3, 0, 1), &state, now).unwrap();
        assert!(!pool.contains(&tx(2, 0, 5).tx.hash));
        // Signer 4's next transaction takes the place of signer 1's last.
        pool.admit(tx(4, 0, 1), &state, now).unwrap();
        assert!(!pool.contains(&tx(1, 0, 3).tx.hash));
        assert!(pool.contains(&tx(1, 0, 1).tx.hash));
        // Signer 1 cannot outrank itself, and a parked newcomer never drops a ready
        // transaction.
        assert_eq!(
            pool.admit(tx(1, 0, 3), &state, now),
            Err(AdmitError::Full(4))
        );
        assert_eq!(
            pool.admit(tx(5, 0, 2), &state, now),
            Err(AdmitError::Full(4))
        );
        // Signer 5's next transaction takes the place of signer 1's second; then each
        // signer has one waiting and nobody's next transaction is dropped.
        pool.admit(tx(5, 0, 1), &state, now).unwrap();
        assert!(!pool.contains(&tx(1, 0, 2).tx.hash));
        assert_eq!(
            pool.admit(tx(2, 0, 1), &state, now),
            Err(AdmitError::Full(4))
        );
        assert_eq!(pool.len(), 4);
        assert_eq!(pool.ready_len(), 4);
    }

    #[test]
    fn a_block_that_leaves_a_gap_parks_what_is_behind_it() {
        let state = state();
        let mut pool = Mempool::new(limits(100));
        let now = Instant::now();
        for n in 1..=4 {
            pool.admit(tx(1, 0, n), &state, now).unwrap();
        }
        assert_eq!(pool.ready_len(), 4);
        // A block (a lying proposer's) took only nonce 3, which was refused there: the
        // committed nonce is still 0, and nonce 4 now waits behind a gap.
        let third = tx(1, 0, 3).tx;
        pool.remove_committed(&[(third.hash, third.signer)], &state, now);
        assert_eq!((pool.ready_len(), pool.parked_len()), (2, 1));
        let nonces: Vec<u64> = pool.select(&state, 10).iter().map(|p| p.tx.nonce).collect();
        assert_eq!(nonces, vec![1, 2]);
        // It expires like any parked transaction.
        pool.expire(now + Duration::from_secs(60));
        assert!(!pool.contains(&tx(1, 0, 4).tx.hash));
        assert_eq!(pool.len(), 2);
    }

    #[test]
    fn the_byte_bound_counts_like_the_count_bound() {
        let state = state();
        let mut pool = Mempool::new(MempoolLimits {
            max_bytes: 250,
            ..limits(100)
        });
        let now = Instant::now();
        pool.admit(tx(1, 0, 1), &state, now).unwrap();
        pool.admit(tx(1, 0, 2), &state, now).unwrap();
        assert_eq!(pool.bytes(), 200);
        assert_eq!(
            pool.admit(tx(1, 0, 3), &state, now),
            Err(AdmitError::Full(100))
        );
    }
}
