//! The chain: the ledger state plus its store. Builds the next block from verified
//! transactions, applies it through the pure ledger, and persists block, receipts
//! and state changes in one atomic, flushed batch before reporting it committed.

use kyoto_proto::v1 as pb;
use prost::Message;

use crate::crypto::sha256;
use crate::ledger::{BlockContext, BlockError, Genesis, GenesisError, Hash, State, Tx};
use crate::store::{ChainStore, Store, StoreError};
use crate::wire;

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    #[error("the block cannot be applied: {0}")]
    Block(#[from] BlockError),
    #[error(
        "an earlier commit failed to reach the disk; restart the node to reload the last committed state"
    )]
    Poisoned,
}

/// A transaction with the exact bytes it was submitted as.
#[derive(Clone, Debug)]
pub struct PendingTx {
    pub raw: Vec<u8>,
    pub tx: Tx,
}

pub struct Chain<S: Store> {
    store: ChainStore<S>,
    state: State,
    state_root: Hash,
    genesis_hash: Hash,
    poisoned: bool,
}

/// SHA-256 over the concatenated transaction hashes.
pub fn transactions_root<'a>(hashes: impl IntoIterator<Item = &'a Hash>) -> Hash {
    let mut all = Vec::new();
    for h in hashes {
        all.extend_from_slice(h);
    }
    sha256(&all)
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
        let state_root = state.state_root();
        let genesis_hash = genesis.hash()?;
        Ok((
            Chain {
                store,
                state,
                state_root,
                genesis_hash,
                poisoned: false,
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
    pub fn store(&self) -> &ChainStore<S> {
        &self.store
    }

    /// Builds, applies and persists the next block. `now_ms` is the proposer's clock;
    /// the block's timestamp is strictly after the previous block's.
    pub fn commit_next(
        &mut self,
        txs: Vec<PendingTx>,
        now_ms: i64,
    ) -> Result<pb::GetBlockResponse, ChainError> {
        if self.poisoned {
            return Err(ChainError::Poisoned);
        }
        let meta = self.state.meta().clone();
        let hashes: Vec<Hash> = txs.iter().map(|p| p.tx.hash).collect();
        let header = pb::BlockHeader {
            chain_id: meta.chain_id.clone(),
            height: meta.height + 1,
            parent_hash: meta.last_block_hash.to_vec(),
            timestamp_ms: now_ms.max(meta.time_ms.saturating_add(1)),
            parent_state_root: self.state_root.to_vec(),
            transactions_root: transactions_root(&hashes).to_vec(),
            transaction_count: u32::try_from(txs.len()).unwrap_or(u32::MAX),
        };
        let hash = block_hash(&header);
        let ctx = BlockContext {
            height: header.height,
            timestamp_ms: header.timestamp_ms,
            hash,
        };
        let (raws, ledger_txs): (Vec<Vec<u8>>, Vec<Tx>) =
            txs.into_iter().map(|p| (p.raw, p.tx)).unzip();
        // The ledger checks height and time before it changes anything.
        let outcome = self.state.apply_block(ctx, &ledger_txs)?;
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
        let response = pb::GetBlockResponse {
            block: Some(pb::Block {
                header: Some(header.clone()),
                transactions: raws,
            }),
            block_hash: hash.to_vec(),
            state_root: outcome.state_root.to_vec(),
            transaction_hashes: hashes.iter().map(|h| h.to_vec()).collect(),
            receipts: outcome
                .receipts
                .iter()
                .map(|r| wire::receipt(r, header.height))
                .collect(),
        };
        if let Err(e) = self.store.commit_block(&response, outcome.writes) {
            // Memory is ahead of the disk now: refuse to go on.
            self.poisoned = true;
            return Err(e.into());
        }
        self.state_root = outcome.state_root;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::dev_genesis_with_keys;
    use crate::store::{MemoryStore, SledStore};

    #[test]
    fn reopening_a_chain_gives_the_same_state_root_and_refuses_another_genesis() {
        let dir = tempfile::tempdir().unwrap();
        let (genesis, _keys) =
            dev_genesis_with_keys(&mut |_| ed25519_dalek::SigningKey::from_bytes(&[3; 32]));
        let root = {
            let mut chain = Chain::open(SledStore::open(dir.path()).unwrap(), &genesis).unwrap();
            chain.commit_next(Vec::new(), 1).unwrap();
            chain.commit_next(Vec::new(), 1).unwrap();
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
        // Memory and sled agree on the genesis state root.
        let mem = Chain::open(MemoryStore::default(), &genesis).unwrap();
        let sled_dir = tempfile::tempdir().unwrap();
        let disk = Chain::open(SledStore::open(sled_dir.path()).unwrap(), &genesis).unwrap();
        assert_eq!(mem.state_root(), disk.state_root());
    }
}
