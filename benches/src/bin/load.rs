//! `kyoto-load`: a small closed-loop load generator for a running `kyotod --dev`.
//!
//! Pre-signs external transfers between the Party holding accounts with the dev keys
//! in `<data-dir>/dev-keys`, submits them over gRPC from one task per signer, and
//! reports committed transfers per second (first submission to last commit).
//!
//! ```sh
//! cargo run --release -p kyoto-bench --bin kyoto-load -- --data-dir .kyoto-dev --txs 20000
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use kyoto_bench::transfer_body;
use kyoto_node::crypto::read_key_file;
use kyoto_proto::v1::{self as pb, ledger_client::LedgerClient};

#[derive(Debug, Parser)]
struct Args {
    /// The node's gRPC URL.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    node: String,
    /// The dev node's data directory (for its dev keys).
    #[arg(long, default_value = "./.kyoto-dev")]
    data_dir: PathBuf,
    /// Transfers to submit in all.
    #[arg(long, default_value_t = 20_000)]
    txs: usize,
    /// Offered load in transfers per second (open loop); 0 submits as fast as possible.
    #[arg(long, default_value_t = 0)]
    rate: u64,
}

/// Parties of the dev genesis that hold units and sign transfers.
const SIGNERS: [&str; 24] = [
    "SVK", "AUT", "BEL", "BGR", "CAN", "CZE", "DNK", "FIN", "FRA", "DEU", "GRC", "HUN", "ISL",
    "IRL", "ITA", "JPN", "NLD", "NZL", "NOR", "POL", "ESP", "SWE", "CHE", "GBR",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut client = LedgerClient::connect(args.node.clone())
        .await
        .with_context(|| format!("cannot reach {}", args.node))?;
    let status = client
        .get_status(pb::GetStatusRequest {})
        .await?
        .into_inner();
    let per_signer = args.txs.div_ceil(SIGNERS.len());
    let mut work = Vec::new();
    for (i, code) in SIGNERS.iter().enumerate() {
        let key = read_key_file(&args.data_dir.join("dev-keys").join(format!("{code}.key")))?;
        let pk = key.verifying_key().to_bytes().to_vec();
        let first = client
            .get_nonce(pb::GetNonceRequest {
                public_key: pk.clone(),
            })
            .await?
            .into_inner()
            .next_nonce;
        let to = SIGNERS[(i + 1) % SIGNERS.len()];
        let txs: Vec<Vec<u8>> = (0..per_signer as u64)
            .map(|n| {
                kyoto_node::tx::sign_transaction(
                    &key,
                    &transfer_body(&status.chain_id, first + n, code, to, 1),
                )
            })
            .collect();
        work.push((pk, first + per_signer as u64 - 1, txs));
    }
    println!(
        "submitting {} transfers from {} signers to {}",
        per_signer * SIGNERS.len(),
        SIGNERS.len(),
        args.node
    );
    // Commit times, from the node's block stream.
    let committed: Arc<Mutex<HashMap<Vec<u8>, Instant>>> = Arc::default();
    let mut blocks = client
        .stream_blocks(pb::StreamBlocksRequest {
            from_height: status.height + 1,
        })
        .await?
        .into_inner();
    let seen = Arc::clone(&committed);
    let watcher = tokio::spawn(async move {
        while let Ok(Some(b)) = blocks.message().await {
            let now = Instant::now();
            if let Ok(mut m) = seen.lock() {
                for h in b.transaction_hashes {
                    m.insert(h, now);
                }
            }
        }
    });
    let signers = work.len() as u64;
    // Each signer's task offers rate / signers transfers per second.
    let interval =
        (args.rate > 0).then(|| Duration::from_secs_f64(signers as f64 / args.rate as f64));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (_, _, txs) in &work {
        let mut client = client.clone();
        let txs = txs.clone();
        tasks.push(tokio::spawn(async move {
            let mut submitted = Vec::with_capacity(txs.len());
            let mut next = Instant::now();
            for tx in txs {
                if let Some(i) = interval {
                    tokio::time::sleep_until(next.into()).await;
                    next += i;
                }
                let at = Instant::now();
                submitted.push((kyoto_bench::submit_with_retry(&mut client, &tx).await?, at));
            }
            anyhow::Ok(submitted)
        }));
    }
    let mut submitted_at = Vec::new();
    for t in tasks {
        submitted_at.extend(t.await??);
    }
    let submitted = start.elapsed();
    for (pk, last, _) in &work {
        loop {
            let n = client
                .get_nonce(pb::GetNonceRequest {
                    public_key: pk.clone(),
                })
                .await?
                .into_inner();
            if n.committed_nonce >= *last {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let elapsed = start.elapsed();
    let total = per_signer * SIGNERS.len();
    let end = client
        .get_status(pb::GetStatusRequest {})
        .await?
        .into_inner();
    tokio::time::sleep(Duration::from_millis(200)).await;
    watcher.abort();
    let mut latencies: Vec<f64> = {
        let m = committed
            .lock()
            .map_err(|_| anyhow::anyhow!("lock poisoned"))?;
        submitted_at
            .iter()
            .filter_map(|(h, at)| {
                m.get(h)
                    .map(|c| c.duration_since(*at).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "all submitted after {:.2} s; all committed after {:.2} s",
        submitted.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "submit->commit latency over {} transfers: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
    println!(
        "{total} transfers in {} blocks: {:.0} committed transfers/s",
        end.height - status.height,
        total as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
