//! How sled's resident memory grows with writes, apart from the node: 2,000 batches of
//! 1,000 inserts, each batch applied and flushed as the node writes a block, with the
//! node's sled settings; prints RSS every 250 batches.
//!
//! ```sh
//! cargo run --release -p kyoto-bench --example sled_memory -- random 128   # new random keys (a tx index)
//! cargo run --release -p kyoto-bench --example sled_memory -- sequential 128
//! cargo run --release -p kyoto-bench --example sled_memory -- overwrite 128  # 65,536 keys rewritten (state)
//! ```
//!
//! The last argument is sled's cache capacity in MiB.

use sha2::{Digest, Sha256};

fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024)
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
    let key = |n: u64| -> Vec<u8> {
        match pattern.as_str() {
            "sequential" => n.to_be_bytes().to_vec(),
            "overwrite" => (n as u16).to_be_bytes().to_vec(),
            _ => Sha256::digest(n.to_be_bytes()).to_vec(),
        }
    };
    println!("{pattern} keys, cache {cache_mib} MiB");
    for batch in 0..=2000u64 {
        let mut b = sled::Batch::default();
        for i in 0..1000u64 {
            let n = batch * 1000 + i;
            b.insert(key(n), n.to_be_bytes().to_vec());
        }
        db.apply_batch(b).unwrap();
        db.flush().unwrap();
        if batch % 250 == 0 {
            println!(
                "  {:>9} writes  {:>6} keys  RSS {:>5} MiB",
                (batch + 1) * 1000,
                db.len(),
                rss_mib()
            );
        }
    }
}
