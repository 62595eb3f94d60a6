//! `kyotod restore`: a node's data directory from a backup file (`kyoto backup`),
//! every block verified as an observer verifies a served one — its commit certificate
//! against the validator set the ledger records, every transaction's signature, its
//! parent's state root — before anything is moved into place (README, "Backups and
//! restore").

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use anyhow::{Context, bail};

use kyoto_node::backup::BackupReader;
use kyoto_node::chain::Chain;
use kyoto_node::store::{SledStore, Store};

use super::setup::read_genesis;

/// Restores `backup` into `data_dir` (which must hold no chain) for the network of
/// `genesis_path`. The chain is built in `DIR/db.restoring` and renamed to `DIR/db`
/// only once every block verified and the state root is the backup's: a refused or
/// interrupted restore leaves no database behind.
pub fn restore(backup: &Path, genesis_path: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let genesis = read_genesis(genesis_path)?;
    let db = data_dir.join("db");
    if db.exists() {
        bail!(
            "{} holds a chain already: restore into a new data directory",
            db.display()
        );
    }
    let file = File::open(backup).with_context(|| format!("cannot read {}", backup.display()))?;
    let mut reader = BackupReader::open(BufReader::new(file))
        .with_context(|| format!("in {}", backup.display()))?;
    let header = reader.header().clone();
    let genesis_hash = genesis.hash()?;
    if header.genesis_hash != genesis_hash || header.chain_id != genesis.chain_id {
        bail!(
            "{} is a backup of chain {} (genesis {}), not of {} (genesis {})",
            backup.display(),
            header.chain_id,
            hex::encode(&header.genesis_hash),
            genesis.chain_id,
            hex::encode(genesis_hash)
        );
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let staging = data_dir.join("db.restoring");
    if staging.exists() {
        // What an interrupted restore left.
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("cannot remove {}", staging.display()))?;
    }
    let result = (|| {
        let store: Box<dyn Store> = Box::new(SledStore::open(&staging)?);
        let mut chain = Chain::open(store, &genesis)?;
        while let Some(block) = reader
            .next_block()
            .with_context(|| format!("in {}", backup.display()))?
        {
            let height = chain.height() + 1;
            chain.commit_external(&block).with_context(|| {
                format!("block {height} of {} does not verify", backup.display())
            })?;
            if height % 1000 == 0 {
                eprintln!("kyotod: restored {height} of {} blocks", header.height);
            }
        }
        if chain.state_root().as_slice() != header.state_root.as_slice() {
            bail!(
                "after block {} the state root is {}, not {} as the backup's node reported",
                chain.height(),
                hex::encode(chain.state_root()),
                hex::encode(&header.state_root)
            );
        }
        anyhow::Ok((chain.height(), chain.state_root()))
    })();
    let (height, root) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if let Err(e) = std::fs::rename(&staging, &db) {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e)
            .with_context(|| format!("cannot move {} to {}", staging.display(), db.display()));
    }
    // The rename itself must survive a crash.
    File::open(data_dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync {}", data_dir.display()))?;
    println!(
        "restored {} to height {height}, state root {}: every block's commit certificate and transactions verified",
        db.display(),
        hex::encode(root)
    );
    Ok(())
}
