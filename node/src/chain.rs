//! The chain: the ledger state plus its store. Builds the next block from verified
//! transactions, applies it through the pure ledger, and persists block, receipts
//! and state changes in one atomic, flushed batch before reporting it committed.

use kyoto_proto::v1 as pb;
use prost::Message;

use ed25519_dalek::SigningKey;

use crate::consensus::context::ValidatorSet;
use crate::consensus::quorum;
use crate::crypto::sha256;
use crate::ledger::{BlockContext, BlockError, Genesis, GenesisError, Hash, State, Tx};
use crate::mempool::PendingTx;
use crate::rejection::BlockRejection;
use crate::store::{
    BlockBatch, ChainStore, Store, StoreError, StoredBlock, StoredCertificate, StoredReceipt,
};

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    #[error("the block cannot be applied: {0}")]
    Block(#[from] BlockError),
    #[error(
        "an earlier commit failed to reach the disk, or this node diverged; restart the node to reload the last committed state"
    )]
    Poisoned,
    #[error("invalid block: {0}")]
    InvalidBlock(#[from] BlockRejection),
    #[error("an observer does not produce blocks")]
    ObserverCannotProduce,
    #[error(
        "governance changed the validator set: a dev chain's single validator cannot certify blocks any more; run the validators with kyotod --genesis (BFT consensus)"
    )]
    ValidatorSetChanged,
    #[error(
        "after block {height} this node's state root differs from the validators': it diverged and stops"
    )]
    Diverged { height: u64 },
}

pub struct Chain<S: Store> {
    store: ChainStore<S>,
    state: State,
    state_root: Hash,
    genesis_hash: Hash,
    /// Memory is ahead of the disk (a write failed): nothing more may be committed.
    poisoned: std::sync::atomic::AtomicBool,
    /// How long the last block took to apply and to write.
    last_timings: crate::metrics::BlockTimings,
}

/// SHA-256 over the concatenated transaction hashes.
pub fn transactions_root<'a>(hashes: impl IntoIterator<Item = &'a Hash>) -> Hash {
    let mut all = Vec::new();
    for h in hashes {
        all.extend_from_slice(h);
    }
    sha256(&all)
}

/// A block's timestamp must be after its parent's and no later than the end of year
/// 9999 (the same bound for blocks built here and blocks received).
fn check_timestamp(height: u64, parent_ms: i64, timestamp_ms: i64) -> Result<(), ChainError> {
    if timestamp_ms <= parent_ms {
        return Err(BlockRejection::TimestampNotAfterParent { height }.into());
    }
    if timestamp_ms > crate::clock::MAX_LEDGER_TIME_MS {
        return Err(BlockRejection::TimestampPastLimit { height }.into());
    }
    Ok(())
}

/// Whether a block carries the transactions its header names (their number and
/// root), which a certificate vouches for only through the header.
pub fn transactions_match(block: &pb::Block) -> bool {
    let Some(header) = block.header.as_ref() else {
        return false;
    };
    let hashes: Vec<Hash> = block.transactions.iter().map(|t| sha256(t)).collect();
    usize::try_from(header.transaction_count).ok() == Some(block.transactions.len())
        && header.transactions_root == transactions_root(&hashes).as_slice()
}

/// The hash of a block: SHA-256 of its encoded header.
pub fn block_hash(header: &pb::BlockHeader) -> Hash {
    sha256(&header.encode_to_vec())
}

impl<S: Store> Chain<S> {
    /// Opens the chain in `store`, writing the genesis state on first use. A store
    /// initialised with another genesis is refused.
    pub fn open(store: S, genesis: &Genesis) -> Result<Self, ChainError> {
        let given = genesis.clone();
        let (chain, stored) = Self::open_or_init(store, move || Ok(given))?;
        let (stored_hash, given_hash) = (stored.hash()?, genesis.hash()?);
        if stored_hash != given_hash {
            return Err(StoreError::GenesisMismatch {
                stored: stored.chain_id,
                stored_hash: hex::encode(stored_hash),
                given: genesis.chain_id.clone(),
                given_hash: hex::encode(given_hash),
            }
            .into());
        }
        Ok(chain)
    }

    /// Opens the chain with the genesis stored in `store`; on first use, calls `init`
    /// for the genesis and writes its state. Returns the genesis in use.
    pub fn open_or_init(
        store: S,
        init: impl FnOnce() -> Result<Genesis, ChainError>,
    ) -> Result<(Self, Genesis), ChainError> {
        let store = ChainStore::new(store);
        let genesis = match store.genesis_json()? {
            Some(stored) => Genesis::from_json(&stored)?,
            None => {
                let genesis = init()?;
                let state = genesis.build_state()?;
                let json =
                    serde_json::to_vec(&genesis).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                store.init_genesis(&json, &state)?;
                genesis
            }
        };
        let state = store.load_state()?;
        // A data directory from before the explorer's indexes gets them once.
        let indexed = store.build_indexes()?;
        if indexed > 0 {
            tracing::info!(
                blocks = indexed,
                "indexed the committed blocks for the explorer"
            );
        }
        let state_root = state.state_root();
        let genesis_hash = genesis.hash()?;
        Ok((
            Chain {
                store,
                state,
                state_root,
                genesis_hash,
                poisoned: std::sync::atomic::AtomicBool::new(false),
                last_timings: Default::default(),
            },
            genesis,
        ))
    }

    pub fn state(&self) -> &State {
        &self.state
    }
    pub fn height(&self) -> u64 {
        self.state.height()
    }
    pub fn state_root(&self) -> Hash {
        self.state_root
    }
    pub fn genesis_hash(&self) -> Hash {
        self.genesis_hash
    }
    /// How long the last committed block took to apply and to write.
    pub fn last_timings(&self) -> crate::metrics::BlockTimings {
        self.last_timings
    }
    pub fn store(&self) -> &ChainStore<S> {
        &self.store
    }

    /// The next block with `txs`, proposed at `now_ms` (its timestamp is strictly
    /// after the previous block's). Nothing is applied. Refused, like a block from
    /// elsewhere, when that timestamp would be past the end of year 9999.
    pub fn build_block(
        &self,
        txs: &[PendingTx],
        now_ms: i64,
    ) -> Result<(pb::Block, Hash), ChainError> {
        let meta = self.state.meta();
        let height = meta.height + 1;
        let timestamp_ms = now_ms.max(meta.time_ms.saturating_add(1));
        check_timestamp(height, meta.time_ms, timestamp_ms)?;
        let hashes: Vec<Hash> = txs.iter().map(|p| p.tx.hash).collect();
        let header = pb::BlockHeader {
            chain_id: meta.chain_id.clone(),
            height,
            parent_hash: meta.last_block_hash.to_vec(),
            timestamp_ms,
            parent_state_root: self.state_root.to_vec(),
            transactions_root: transactions_root(&hashes).to_vec(),
            transaction_count: u32::try_from(txs.len()).unwrap_or(u32::MAX),
        };
        let hash = block_hash(&header);
        let block = pb::Block {
            header: Some(header),
            transactions: txs.iter().map(|p| p.raw.clone()).collect(),
        };
        Ok((block, hash))
    }

    /// Builds, applies and persists the next block, committed by `validator` alone
    /// (a single-validator dev chain: its precommit at round 0 is the certificate).
    pub fn commit_next(
        &mut self,
        txs: Vec<PendingTx>,
        now_ms: i64,
        validator: &SigningKey,
    ) -> Result<StoredBlock, ChainError> {
        let block = self.stage_next(txs, now_ms, validator)?;
        self.sync_or_poison()?;
        Ok(block)
    }

    /// Like [`Chain::commit_next`], but the block is only staged: readers of this chain
    /// see it, and it is durable once [`Chain::sync`] returns. Report it committed
    /// only then.
    pub fn stage_next(
        &mut self,
        txs: Vec<PendingTx>,
        now_ms: i64,
        validator: &SigningKey,
    ) -> Result<StoredBlock, ChainError> {
        let (block, batch) = self.prepare_next(txs, now_ms, validator)?;
        self.write_prepared(batch)?;
        Ok(block)
    }

    /// Like [`Chain::stage_next`], but the block's writes are only prepared: this
    /// chain's state is the new block's, its store still the parent's until
    /// [`Chain::write_prepared`] stages them (which needs only a read lock, so that
    /// admission goes on meanwhile). The caller stages every prepared batch, in
    /// order, before it prepares the next block (a batch reads the store as its
    /// parent left it), and reports nothing before [`Chain::sync`].
    pub fn prepare_next(
        &mut self,
        txs: Vec<PendingTx>,
        now_ms: i64,
        validator: &SigningKey,
    ) -> Result<(StoredBlock, BlockBatch), ChainError> {
        if self.is_poisoned() {
            return Err(ChainError::Poisoned);
        }
        let (block, hash) = self.build_block(&txs, now_ms)?;
        let header = block.header.ok_or(BlockRejection::NoHeader)?;
        let certificate = quorum::sign_alone(validator, &self.genesis_hash, header.height, &hash);
        let (raws, ledger_txs): (Vec<Vec<u8>>, Vec<Tx>) =
            txs.into_iter().map(|p| (p.raw, p.tx)).unzip();
        self.apply_and_prepare(
            CheckedBlock {
                header,
                hash,
                raws,
                txs: ledger_txs,
            },
            certificate,
            None,
        )
    }

    /// Checks a block against this chain's head without applying it: chain id,
    /// height, parent hash, parent state root, a timestamp after the parent's, the
    /// transactions root and count, and every transaction's encoding and signature
    /// (skipped for transactions `verified` says were verified before, by hash).
    pub fn check_block(
        &self,
        block: &pb::Block,
        verified: impl Fn(&Hash) -> bool,
    ) -> Result<CheckedBlock, ChainError> {
        let header = block.header.clone().ok_or(BlockRejection::NoHeader)?;
        let height = header.height;
        let meta = self.state.meta();
        if header.chain_id != meta.chain_id {
            return Err(BlockRejection::OtherChain {
                block: header.chain_id,
                ours: meta.chain_id.clone(),
            }
            .into());
        }
        if header.height != meta.height + 1 {
            return Err(BlockRejection::NotNext {
                height: header.height,
                head: meta.height,
            }
            .into());
        }
        if header.parent_hash != meta.last_block_hash.as_slice() {
            return Err(BlockRejection::OtherParent {
                height: header.height,
            }
            .into());
        }
        if header.parent_state_root != self.state_root.as_slice() {
            return Err(BlockRejection::OtherParentStateRoot {
                height: header.height,
            }
            .into());
        }
        check_timestamp(header.height, meta.time_ms, header.timestamp_ms)?;
        if usize::try_from(header.transaction_count).ok() != Some(block.transactions.len()) {
            return Err(BlockRejection::TransactionsMismatch { height }.into());
        }
        let tx_error = |index: usize, e: crate::tx::TxError| {
            ChainError::from(BlockRejection::BadTransaction {
                height,
                index,
                code: e.code(),
                reason: e.to_string(),
            })
        };
        let mut txs = Vec::with_capacity(block.transactions.len());
        let (mut unverified, mut pending) = (Vec::new(), Vec::new());
        for (i, raw) in block.transactions.iter().enumerate() {
            let (tx, signature) = crate::tx::decode_deferred(raw, &meta.chain_id, &verified)
                .map_err(|e| tx_error(i, e))?;
            txs.push(tx);
            if let Some(p) = signature {
                unverified.push(i);
                pending.push(p);
            }
        }
        // The signatures not verified before, in one batch (the same answer as one by
        // one, which names the first that does not verify).
        for (i, verdict) in unverified
            .into_iter()
            .zip(crate::crypto::verify_each(&pending))
        {
            verdict.map_err(|e| tx_error(i, crate::tx::TxError::BadSignature(e)))?;
        }
        let hashes: Vec<Hash> = txs.iter().map(|t| t.hash).collect();
        if header.transactions_root != transactions_root(&hashes).as_slice() {
            return Err(BlockRejection::TransactionsMismatch { height }.into());
        }
        let hash = block_hash(&header);
        Ok(CheckedBlock {
            header,
            hash,
            raws: block.transactions.clone(),
            txs,
        })
    }

    /// Applies and persists a checked block that consensus decided, with its commit
    /// certificate.
    pub fn commit_decided(
        &mut self,
        block: CheckedBlock,
        certificate: pb::CommitCertificate,
    ) -> Result<StoredBlock, ChainError> {
        let block = self.stage_decided(block, certificate)?;
        self.sync_or_poison()?;
        Ok(block)
    }

    /// Like [`Chain::commit_decided`], but only staged (see [`Chain::stage_next`]).
    pub fn stage_decided(
        &mut self,
        block: CheckedBlock,
        certificate: pb::CommitCertificate,
    ) -> Result<StoredBlock, ChainError> {
        let (block, batch) = self.prepare_decided(block, certificate)?;
        self.write_prepared(batch)?;
        Ok(block)
    }

    /// Like [`Chain::stage_decided`], but the writes are only prepared (see
    /// [`Chain::prepare_next`]).
    fn prepare_decided(
        &mut self,
        block: CheckedBlock,
        certificate: pb::CommitCertificate,
    ) -> Result<(StoredBlock, BlockBatch), ChainError> {
        if self.is_poisoned() {
            return Err(ChainError::Poisoned);
        }
        self.apply_and_prepare(block, certificate, None)
    }

    /// Makes every staged block durable. A failure leaves memory ahead of the disk:
    /// the node must stop (a restart reloads what is on disk).
    pub fn sync(&self) -> Result<(), ChainError> {
        self.store.sync().map_err(ChainError::from)
    }

    /// Stages a batch that [`Chain::prepare_next`] prepared. A failure leaves memory
    /// ahead of the disk: the chain refuses to go on.
    pub fn write_prepared(&self, batch: BlockBatch) -> Result<(), ChainError> {
        if self.is_poisoned() {
            return Err(ChainError::Poisoned);
        }
        self.store
            .stage_batch(batch)
            .inspect_err(|_| self.poison())?;
        Ok(())
    }

    fn is_poisoned(&self) -> bool {
        self.poisoned.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn poison(&self) {
        self.poisoned
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn sync_or_poison(&mut self) -> Result<(), ChainError> {
        let synced = self.sync();
        if synced.is_err() {
            self.poison();
        }
        synced
    }

    /// Verifies a block committed elsewhere (an observer following a validator) and
    /// commits it: the block's checks (see [`Chain::check_block`]), its commit
    /// certificate against the validator set the ledger records (precommits of more
    /// than two thirds of it), and after applying it, the state root the serving
    /// node reports. A block that fails a check before it is applied changes
    /// nothing; a state root that differs after applying it means this node or the
    /// serving node diverged, and the chain refuses to go on.
    pub fn commit_external(
        &mut self,
        block: &pb::GetBlockResponse,
    ) -> Result<StoredBlock, ChainError> {
        if self.is_poisoned() {
            return Err(ChainError::Poisoned);
        }
        let b = block.block.as_ref().ok_or(BlockRejection::NoBlock)?;
        let checked = self.check_block(b, |_| false)?;
        let height = checked.header.height;
        let certificate = block
            .certificate
            .clone()
            .ok_or(BlockRejection::NoCertificate { height })?;
        let claimed_root: Hash = block
            .state_root
            .as_slice()
            .try_into()
            .map_err(|_| BlockRejection::NoStateRoot { height })?;
        self.verify_certificate(&certificate, height, &checked.hash)?;
        let block = self.apply_and_persist(checked, certificate, Some(claimed_root))?;
        self.sync_or_poison()?;
        Ok(block)
    }

    /// The certificate holds valid precommits for this block from more than two
    /// thirds of the validators the ledger records (one vote each).
    pub fn verify_certificate(
        &self,
        cert: &pb::CommitCertificate,
        height: u64,
        hash: &Hash,
    ) -> Result<(), ChainError> {
        let set = ValidatorSet::from_state(&self.state);
        quorum::verify(cert, &set, &self.genesis_hash, height, hash).map_err(ChainError::from)
    }

    fn apply_and_persist(
        &mut self,
        block: CheckedBlock,
        certificate: pb::CommitCertificate,
        claimed_root: Option<Hash>,
    ) -> Result<StoredBlock, ChainError> {
        let (block, batch) = self.apply_and_prepare(block, certificate, claimed_root)?;
        let started = std::time::Instant::now();
        self.write_prepared(batch)?;
        self.last_timings.write += started.elapsed();
        Ok(block)
    }

    /// Applies a checked block to the state and prepares its writes (see
    /// [`Chain::prepare_next`]).
    fn apply_and_prepare(
        &mut self,
        block: CheckedBlock,
        certificate: pb::CommitCertificate,
        claimed_root: Option<Hash>,
    ) -> Result<(StoredBlock, BlockBatch), ChainError> {
        let CheckedBlock {
            header,
            hash,
            raws,
            txs: ledger_txs,
        } = block;
        let ledger_txs = &ledger_txs;
        let started = std::time::Instant::now();
        let ctx = BlockContext {
            height: header.height,
            timestamp_ms: header.timestamp_ms,
            hash,
        };
        // The ledger checks height and time before it changes anything; past them, a
        // failure leaves memory ahead of the disk.
        let outcome = match self.state.apply_block(ctx, ledger_txs) {
            Ok(o) => o,
            Err(e) => {
                if matches!(e, BlockError::State(_)) {
                    self.poison();
                }
                return Err(e.into());
            }
        };
        if let Some(claimed) = claimed_root
            && claimed != outcome.state_root
        {
            // Not what the serving node reached: nothing is written, and this
            // node stops (a restart reloads the last state on disk).
            self.poison();
            return Err(ChainError::Diverged {
                height: header.height,
            });
        }
        // Debug builds (and so every test) check all invariants after every block.
        #[cfg(debug_assertions)]
        {
            let checked = self.state.check_invariants();
            debug_assert!(
                checked.is_ok(),
                "ledger invariant broken at height {}: {checked:?}",
                ctx.height
            );
        }
        let response = StoredBlock {
            block: Some(pb::Block {
                header: Some(header.clone()),
                transactions: raws,
            }),
            block_hash: hash.to_vec(),
            state_root: outcome.state_root.to_vec(),
            transaction_hashes: ledger_txs.iter().map(|t| t.hash.to_vec()).collect(),
            receipts: outcome
                .receipts
                .iter()
                .map(|r| StoredReceipt::new(r, header.height))
                .collect(),
            certificate: Some(StoredCertificate::from(&certificate)),
        };
        let applied = started.elapsed();
        let leaves = outcome.writes.len();
        let batch = match self.store.block_batch(&response, outcome.writes) {
            Ok(batch) => batch,
            Err(e) => {
                // Memory is ahead of the disk now: refuse to go on.
                self.poison();
                return Err(e.into());
            }
        };
        tracing::debug!(
            height = header.height,
            txs = ledger_txs.len(),
            leaves,
            apply_us = applied.as_micros() as u64,
            prepare_us = (started.elapsed() - applied).as_micros() as u64,
            "block applied, its writes prepared"
        );
        self.state_root = outcome.state_root;
        self.last_timings = crate::metrics::BlockTimings {
            check: None,
            apply: applied,
            write: started.elapsed().saturating_sub(applied),
        };
        Ok((response, batch))
    }
}

/// A block checked against the chain's head (see [`Chain::check_block`]).
#[derive(Clone, Debug)]
pub struct CheckedBlock {
    pub header: pb::BlockHeader,
    pub hash: Hash,
    raws: Vec<Vec<u8>>,
    txs: Vec<Tx>,
}

impl CheckedBlock {
    /// Its transactions' hashes and signers, in order.
    pub fn tx_signers(&self) -> Vec<(Hash, crate::ledger::PublicKey)> {
        self.txs.iter().map(|t| (t.hash, t.signer)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::context::{Address, BlockId, Height};
    use crate::consensus::signing::{KyotoSigner, precommit_like_bytes};
    use crate::dev::dev_genesis_with_keys;
    use crate::store::{MemoryStore, SledStore};
    use crate::wire;
    use arc_malachitebft_app_channel::app::types::core::{NilOrVal, Round, VoteType};

    fn fixture() -> (Genesis, SigningKey, SigningKey) {
        let mut keys = std::collections::BTreeMap::new();
        let mut n = 0u8;
        let (genesis, list) = dev_genesis_with_keys(&mut |_| {
            n = n.wrapping_add(1);
            SigningKey::from_bytes(&[n; 32])
        });
        keys.extend(list);
        (genesis, keys["validator"].clone(), keys["JPN"].clone())
    }

    fn transfer(chain: &Chain<MemoryStore>, key: &SigningKey, nonce: u64) -> PendingTx {
        let raw = crate::tx::test_transfer(chain.state().chain_id(), key, nonce);
        let tx = crate::tx::decode_and_verify(&raw, chain.state().chain_id()).unwrap();
        PendingTx { raw, tx }
    }

    #[test]
    fn reopening_a_chain_gives_the_same_state_root_and_refuses_another_genesis() {
        let dir = tempfile::tempdir().unwrap();
        let (genesis, validator, _) = fixture();
        let root = {
            let mut chain = Chain::open(SledStore::open(dir.path()).unwrap(), &genesis).unwrap();
            chain.commit_next(Vec::new(), 1, &validator).unwrap();
            chain.commit_next(Vec::new(), 1, &validator).unwrap();
            assert_eq!(chain.height(), 2);
            chain.state_root()
        };
        let chain = Chain::open(SledStore::open(dir.path()).unwrap(), &genesis).unwrap();
        assert_eq!(chain.height(), 2);
        assert_eq!(chain.state_root(), root);
        assert_eq!(
            chain.store().block(2).unwrap().unwrap().state_root,
            root.to_vec()
        );
        drop(chain);
        let mut other = genesis.clone();
        other.chain_id = "other".into();
        assert!(matches!(
            Chain::open(SledStore::open(dir.path()).unwrap(), &other),
            Err(ChainError::Store(StoreError::GenesisMismatch { .. }))
        ));
        let mem = Chain::open(MemoryStore::default(), &genesis).unwrap();
        let sled_dir = tempfile::tempdir().unwrap();
        let disk = Chain::open(SledStore::open(sled_dir.path()).unwrap(), &genesis).unwrap();
        assert_eq!(mem.state_root(), disk.state_root());
    }

    #[test]
    fn a_block_s_signatures_are_verified_in_one_batch_and_a_bad_one_is_named() {
        let (genesis, validator, jpn) = fixture();
        let mut a = Chain::open(MemoryStore::default(), &genesis).unwrap();
        let txs = (1..=4).map(|n| transfer(&a, &jpn, n)).collect();
        let block = a.commit_next(txs, 10, &validator).unwrap().block.unwrap();
        let b = Chain::open(MemoryStore::default(), &genesis).unwrap();
        assert_eq!(b.check_block(&block, |_| false).unwrap().txs.len(), 4);
        let mut bad = block.clone();
        let raw = &mut bad.transactions[2];
        let n = raw.len();
        raw[n - 1] ^= 1;
        assert!(matches!(
            b.check_block(&bad, |_| false),
            Err(ChainError::InvalidBlock(BlockRejection::BadTransaction {
                index: 2,
                code: "BAD_SIGNATURE",
                ..
            }))
        ));
    }

    #[test]
    fn a_replica_applies_certified_blocks_and_rejects_forged_ones() {
        let (genesis, validator, jpn) = fixture();
        let mut a = Chain::open(MemoryStore::default(), &genesis).unwrap();
        let t1 = transfer(&a, &jpn, 1);
        let b1 = wire::block(a.commit_next(vec![t1], 10, &validator).unwrap());
        let t2 = transfer(&a, &jpn, 2);
        let b2 = wire::block(a.commit_next(vec![t2], 20, &validator).unwrap());

        let mut b = Chain::open(MemoryStore::default(), &genesis).unwrap();
        // Out of order: refused, nothing changes.
        assert!(matches!(
            b.commit_external(&b2),
            Err(ChainError::InvalidBlock(BlockRejection::NotNext {
                height: 2,
                head: 0
            }))
        ));
        // A certificate signed by someone who is not a validator.
        let mut forged = b1.clone();
        let hash: Hash = forged.block_hash.as_slice().try_into().unwrap();
        let precommit = |key: &SigningKey, height: u64, hash: Hash| {
            let address = Address(key.verifying_key().to_bytes());
            KyotoSigner::new(key.clone(), genesis.hash().unwrap())
                .sign(&precommit_like_bytes(
                    &genesis.hash().unwrap(),
                    VoteType::Precommit,
                    Height(height),
                    Round::new(0),
                    &NilOrVal::Val(BlockId(hash)),
                    &address,
                ))
                .0
                .to_vec()
        };
        forged.certificate = Some(pb::CommitCertificate {
            height: 1,
            block_hash: hash.to_vec(),
            round: 0,
            signatures: vec![pb::CommitSignature {
                public_key: jpn.verifying_key().to_bytes().to_vec(),
                signature: precommit(&jpn, 1, hash),
            }],
        });
        assert!(matches!(
            b.commit_external(&forged),
            Err(ChainError::InvalidBlock(
                BlockRejection::NotAValidator { .. }
            ))
        ));
        // The validator's signature over another height does not certify this block.
        let mut replayed = b1.clone();
        replayed.certificate.as_mut().unwrap().signatures[0].signature =
            precommit(&validator, 2, hash);
        assert!(matches!(
            b.commit_external(&replayed),
            Err(ChainError::InvalidBlock(
                BlockRejection::PrecommitDoesNotVerify { .. }
            ))
        ));
        // No signature at all.
        let mut unsigned = b1.clone();
        unsigned.certificate.as_mut().unwrap().signatures.clear();
        assert!(matches!(
            b.commit_external(&unsigned),
            Err(ChainError::InvalidBlock(BlockRejection::NoQuorum {
                signed: 0,
                validators: 1,
                ..
            }))
        ));
        // A transaction whose signature does not verify.
        let mut bad_tx = b1.clone();
        let raw = &mut bad_tx.block.as_mut().unwrap().transactions[0];
        let n = raw.len();
        raw[n - 1] ^= 1;
        assert!(matches!(
            b.commit_external(&bad_tx),
            Err(ChainError::InvalidBlock(BlockRejection::BadTransaction {
                index: 0,
                code: "BAD_SIGNATURE",
                ..
            }))
        ));
        assert_eq!(b.height(), 0, "refused blocks change nothing");
        // The real blocks: the same state root as the validator's.
        b.commit_external(&b1).unwrap();
        b.commit_external(&b2).unwrap();
        assert_eq!((b.height(), b.state_root()), (a.height(), a.state_root()));
        // A serving node that reports a state root this node does not reach: it
        // stops without writing the block.
        let t3 = transfer(&a, &jpn, 3);
        let b3 = wire::block(a.commit_next(vec![t3], 30, &validator).unwrap());
        let mut diverging = b3.clone();
        diverging.state_root = vec![7; 32];
        assert!(matches!(
            b.commit_external(&diverging),
            Err(ChainError::Diverged { height: 3 })
        ));
        assert!(matches!(b.commit_external(&b3), Err(ChainError::Poisoned)));
        assert_eq!(
            b.store().head().unwrap(),
            2,
            "the diverging block was not written"
        );
    }
}
