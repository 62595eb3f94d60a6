//! [`Store`] on sled: one tree, one atomic `Batch` per write, flushed to disk before
//! `write` returns.

use std::path::Path;

use super::{Entry, Store, StoreError, Write, rev_range};

pub struct SledStore {
    db: sled::Db,
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// sled reports a held file lock as an `Other` IO error with this text.
fn is_lock_error(e: &std::io::Error) -> bool {
    e.to_string().contains("could not acquire lock")
}

/// sled's page cache.
const CACHE_BYTES: u64 = 128 * 1024 * 1024;

impl SledStore {
    /// Opens (or creates) the database. If another handle is still closing it (sled
    /// releases its file lock from a background thread), waits up to two seconds.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let config = sled::Config::new()
            .path(path)
            .mode(sled::Mode::HighThroughput)
            // sled caches up to 1 GiB by default; the node's memory should not grow
            // with the chain. Hot state fits in far less.
            .cache_capacity(CACHE_BYTES)
            // Every block is flushed explicitly before it is acknowledged.
            .flush_every_ms(None);
        let mut attempts = 0;
        loop {
            match config.open() {
                Ok(db) => return Ok(SledStore { db }),
                Err(sled::Error::Io(e)) if is_lock_error(&e) && attempts < 100 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => {
                    let hint = match &e {
                        sled::Error::Io(io) if is_lock_error(io) => {
                            " (is another kyotod running on this data directory?)"
                        }
                        _ => "",
                    };
                    return Err(StoreError::Backend(format!(
                        "cannot open sled database at {}: {e}{hint}",
                        path.display()
                    )));
                }
            }
        }
    }
}

impl Store for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get(key).map_err(backend)?.map(|v| v.to_vec()))
    }

    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        self.db
            .scan_prefix(prefix)
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(backend))
            .collect()
    }

    fn scan_keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        self.db
            .scan_prefix(prefix)
            .keys()
            .map(|r| r.map(|k| k.to_vec()).map_err(backend))
            .collect()
    }

    fn scan_prefix_rev(
        &self,
        prefix: &[u8],
        below: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let mut out = Vec::new();
        for entry in self.db.range::<Vec<u8>, _>(rev_range(prefix, below)).rev() {
            if out.len() >= limit {
                break;
            }
            let (k, v) = entry.map_err(backend)?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn stage(&self, batch: Vec<Write>) -> Result<(), StoreError> {
        let mut b = sled::Batch::default();
        for (k, v) in batch {
            match v {
                Some(v) => b.insert(k, v),
                None => b.remove(k),
            }
        }
        self.db.apply_batch(b).map_err(backend)
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(backend)?;
        Ok(())
    }
}
