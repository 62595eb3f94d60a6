//! How sled's resident memory grows with writes, apart from the node: batches applied
//! and flushed one after the other as the node writes blocks, with the node's sled
//! settings and allocator; prints RSS every 250 batches (and the lowest and highest in
//! between).
//!
//! ```sh
//! cargo run --release -p kyoto-bench --example sled_memory -- PATTERN CACHE_MIB BATCHES
//! cargo run --release -p kyoto-bench --example sled_memory -- blob+overwrite 128 4000
//! cargo run --release -p kyoto-bench --example sled_memory -- chunked+overwrite 128 4000
//! ```
//!
//! PATTERN joins with `+` what each batch writes: `blob` a 300 KB value (a block of 1,000
//! transfers in one piece), `chunked` the same in 4 KiB chunks (as the node stores
//! blocks), `chunked60k` in 60 KB chunks, and 1,000 small values under `random` new keys
//! (a transaction index), `sequential` new keys, or `overwrite` 65,536 keys rewritten
//! (state). CACHE_MIB is sled's cache capacity (default 128, the node's), BATCHES how
//! many batches (default 2,000).

use sha2::{Digest, Sha256};

// The node's allocator, so that the figures are the node's.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn rss_mib() -> u64 {
    kyoto_bench::rss_kib(std::process::id()).map_or(0, |kib| kib / 1024)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let pattern = args.next().unwrap_or_else(|| "random".into());
    let cache_mib: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(128);
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new()
        .path(dir.path())
        .mode(sled::Mode::HighThroughput)
        .cache_capacity(cache_mib << 20)
        .flush_every_ms(None)
        .open()
        .unwrap();
    // Each batch holds the writes of every part of the pattern, e.g. `blob+overwrite`.
    let parts: Vec<&str> = pattern.split('+').collect();
    println!("{pattern}, cache {cache_mib} MiB");
    let batches: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let (mut low, mut high) = (u64::MAX, 0);
    for batch in 0..=batches {
        let mut b = sled::Batch::default();
        for part in &parts {
            match *part {
                // A 300 KB block in one value: over sled's inline limit (a quarter of
                // its 512 KiB segment), so it becomes a blob.
                "blob" => b.insert(
                    [b"b", batch.to_be_bytes().as_slice()].concat(),
                    vec![7u8; 300_000],
                ),
                // The same block in 4 KiB chunks, as the node stores it.
                "chunked" => {
                    for c in 0..74u16 {
                        let k = [b"c", batch.to_be_bytes().as_slice(), &c.to_be_bytes()].concat();
                        b.insert(k, vec![7u8; 4096]);
                    }
                }
                // In 60 KB chunks: a leaf of 16 of them is again over the inline limit.
                "chunked60k" => {
                    for c in 0..5u16 {
                        let k = [b"d", batch.to_be_bytes().as_slice(), &c.to_be_bytes()].concat();
                        b.insert(k, vec![7u8; 60_000]);
                    }
                }
                _ => {
                    for i in 0..1000u64 {
                        let n = batch * 1000 + i;
                        let k = match *part {
                            "sequential" => [b"q", n.to_be_bytes().as_slice()].concat(),
                            "overwrite" => [b"o", (n as u16).to_be_bytes().as_slice()].concat(),
                            // New random keys behind the number of their group of 2^18
                            // (as the node's transaction index): inserts stay in one
                            // subtree, and older groups go cold.
                            "grouped" => [
                                b"g",
                                ((n >> 18) as u32).to_be_bytes().as_slice(),
                                &Sha256::digest(n.to_be_bytes()),
                            ]
                            .concat(),
                            _ => [b"r".as_slice(), &Sha256::digest(n.to_be_bytes())].concat(),
                        };
                        b.insert(k, n.to_be_bytes().to_vec());
                    }
                }
            }
        }
        db.apply_batch(b).unwrap();
        db.flush().unwrap();
        let rss = rss_mib();
        (low, high) = (low.min(rss), high.max(rss));
        if batch % 250 == 0 {
            println!(
                "  {:>5} batches  {:>8} keys  RSS {:>5} MiB (lowest {low}, highest {high} since the last line)",
                batch + 1,
                db.len(),
                rss
            );
            (low, high) = (u64::MAX, 0);
        }
    }
}
