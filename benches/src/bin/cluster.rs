//! `kyoto-cluster-bench`: starts an N-validator Kyoto Ledger network on loopback (real
//! `kyotod` processes in BFT consensus), offers pre-signed transfers open-loop at a set
//! rate through gRPC, and reports committed transfers/s, submit→commit latency, blocks/s
//! and peak memory per node, next to the machine's ceiling measured in the same run.
//!
//! ```sh
//! cargo build --release --workspace --bins
//! target/release/kyoto-cluster-bench --validators 4 --rate 6000 --duration 60 --json bench.json
//! target/release/kyoto-cluster-bench --validators 4 --rate 200 --duration 30      # latency
//! target/release/kyoto-cluster-bench --validators 40 --rate 100 --duration 30     # liveness
//! target/release/kyoto-cluster-bench --validators 4 --rate 3000 --catch-up        # replay speed
//! ```
//!
//! The ceiling: with t_v the batched signature-verify time per transaction and t_a the
//! ledger-apply time per transaction on sled (one flush per 1,000-transfer block), both
//! measured here first, n validators sharing `cores` cores can commit at most
//! cores / (n × (t_v + t_a)) transfers/s (every validator verifies and applies every one).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use ed25519_dalek::SigningKey;
use kyoto_bench::{open_account_body, submit_with_retry, trader_key, transfer_between};
use kyoto_node::chain::{Chain, PendingTx};
use kyoto_node::crypto::{PendingSignature, read_key_file};
use kyoto_node::store::SledStore;
use kyoto_proto::v1::{self as pb, ledger_client::LedgerClient};
use serde_json::json;

/// How many gossip peers each validator dials (a ring: it is also dialled by as many).
const GOSSIP_DIAL: usize = 4;

/// Submissions in flight per validator connection.
const MAX_IN_FLIGHT: usize = 192;

#[derive(Debug, Parser)]
#[command(
    about = "Throughput and latency of an N-validator loopback network, against the machine's ceiling"
)]
struct Args {
    /// Validators in the network.
    #[arg(long, default_value_t = 4)]
    validators: u16,
    /// Offered load, transfers per second (open loop).
    #[arg(long, default_value_t = 6_000)]
    rate: u64,
    /// Seconds of offered load.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Seconds at the start not counted in the sustained rate and latency.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// The kyotod binary (default: next to this one).
    #[arg(long)]
    kyotod: Option<PathBuf>,
    /// Where the network lives (default: a temporary directory, removed at the end).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// After the load, stop one validator, wipe its data, restart it, and measure how
    /// fast it replays the whole history from its peers (certificates verified,
    /// transaction signatures covered by them).
    #[arg(long)]
    catch_up: bool,
    /// Passed to every validator.
    #[arg(long, default_value_t = 2_000)]
    max_block_txs: u32,
    /// Trader accounts opened per Party before the load, each signing its own
    /// transfers (0: the Parties' registry keys sign them all). A signer may queue at
    /// most 64 transactions ahead of its committed nonce, so the offered rate per
    /// signer must stay below 64 per commit latency.
    #[arg(long, default_value_t = 8)]
    traders: usize,
}

/// Who signs a share of the load, and between which accounts it moves units.
struct BenchSigner {
    key: SigningKey,
    from: String,
    to: String,
}

/// Each Party's registry opens `traders` entity holding accounts for benchmark
/// traders and funds each with `units` AAUs; returns the traders once every account
/// is committed with its key and units (checked through gRPC).
async fn open_trader_accounts(
    client: &mut LedgerClient<tonic::transport::Channel>,
    chain_id: &str,
    parties: &[(String, SigningKey)],
    traders: usize,
    units: u64,
) -> anyhow::Result<Vec<BenchSigner>> {
    let mut signers = Vec::new();
    let mut hashes = Vec::new();
    for (i, (code, key)) in parties.iter().enumerate() {
        let next = &parties[(i + 1) % parties.len()].0;
        let first = client
            .get_nonce(pb::GetNonceRequest {
                public_key: key.verifying_key().to_bytes().to_vec(),
            })
            .await?
            .into_inner()
            .next_nonce;
        let mut nonce = first;
        for k in 1..=traders {
            let trader = trader_key(code, k);
            let open = kyoto_node::tx::sign_transaction(
                key,
                &open_account_body(chain_id, nonce, code, &format!("Bench trader {k}"), &trader),
            );
            nonce += 1;
            hashes.push(submit_with_retry(client, &open).await?);
            signers.push(BenchSigner {
                key: trader,
                from: format!("{code}-120-{k}"),
                to: format!("{next}-100-1"),
            });
        }
        for k in 1..=traders {
            let fund = kyoto_node::tx::sign_transaction(
                key,
                &transfer_between(
                    chain_id,
                    nonce,
                    &format!("{code}-100-1"),
                    &format!("{code}-120-{k}"),
                    units,
                ),
            );
            nonce += 1;
            hashes.push(submit_with_retry(client, &fund).await?);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for hash in hashes {
        loop {
            let t = client
                .get_transaction(pb::GetTransactionRequest {
                    tx_hash: hash.clone(),
                })
                .await?
                .into_inner();
            if t.status == pb::TransactionStatus::Committed as i32 {
                let applied = t
                    .receipt
                    .and_then(|r| r.outcome)
                    .is_some_and(|o| matches!(o, pb::receipt::Outcome::Applied(_)));
                if !applied {
                    bail!(
                        "setting up a trader account was refused: {}",
                        hex::encode(&hash)
                    );
                }
                break;
            }
            if Instant::now() > deadline {
                bail!("the trader accounts were not committed within 120 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for s in &signers {
        let a = client
            .get_account(pb::GetAccountRequest {
                account_id: s.from.clone(),
            })
            .await?
            .into_inner();
        if a.holder_key != s.key.verifying_key().to_bytes() || a.total < units {
            bail!(
                "{} is not the bench trader's account with {units} units (was the network used before?)",
                s.from
            );
        }
    }
    Ok(signers)
}

/// A free port below the kernel's ephemeral range (32768 and up by default), so that
/// a restarted node gets its port back: an outgoing connection can take a released
/// ephemeral port.
fn free_port() -> anyhow::Result<u16> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let start = u64::from(std::process::id()) * 7919;
    for _ in 0..20_000 {
        let port = 10_000 + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % 20_000;
        let port = u16::try_from(port)?;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port between 10000 and 30000")
}

/// The machine's ceiling, measured in this process.
struct Ceiling {
    cores: usize,
    verify_single_per_s: f64,
    verify_batched_per_s: f64,
    apply_sled_per_s: f64,
}

impl Ceiling {
    fn per_tx_s(&self) -> f64 {
        1.0 / self.verify_batched_per_s + 1.0 / self.apply_sled_per_s
    }
    fn for_validators(&self, n: usize) -> f64 {
        self.cores as f64 / (n as f64 * self.per_tx_s())
    }
}

fn measure_ceiling() -> anyhow::Result<Ceiling> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The node's own verification paths: one by one (submissions, gossip) and
    // batched (a block's signatures).
    let keys: Vec<SigningKey> = (0..37u8)
        .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
        .collect();
    let pending: Vec<PendingSignature> = (0..4096u32)
        .map(|i| {
            let key = &keys[i as usize % keys.len()];
            let body = i.to_be_bytes().repeat(40);
            let sig = kyoto_node::crypto::sign_tx(key, &body);
            PendingSignature::new(&key.verifying_key().to_bytes(), &body, &sig)
        })
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    for p in &pending {
        p.verify()?;
    }
    let verify_single_per_s = pending.len() as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    for chunk in pending.chunks(512) {
        kyoto_node::crypto::verify_batch(chunk)?;
    }
    let verify_batched_per_s = pending.len() as f64 / start.elapsed().as_secs_f64();

    // Ledger apply on sled, one flush per 1,000-transfer block.
    let (genesis, keys, validator) = kyoto_bench::fixture();
    let dir = tempfile::tempdir()?;
    let mut chain = Chain::open(
        Box::new(SledStore::open(dir.path())?) as Box<dyn kyoto_node::store::Store>,
        &genesis,
    )?;
    let mut nonces = vec![1u64; keys.len()];
    let blocks = 6;
    let per_block = 1000;
    let mut all = Vec::new();
    for _ in 0..blocks {
        let raws = kyoto_bench::signed_transfers(&genesis.chain_id, &keys, per_block, &mut nonces);
        let txs: Vec<PendingTx> = raws
            .into_iter()
            .map(|raw| {
                let tx = kyoto_node::tx::decode_checked(&raw, &genesis.chain_id, |_| true)?;
                anyhow::Ok(PendingTx { raw, tx })
            })
            .collect::<Result<_, _>>()?;
        all.push(txs);
    }
    let start = Instant::now();
    for (i, txs) in all.into_iter().enumerate() {
        chain.commit_next(txs, 1_300_000_000_000 + i as i64, &validator)?;
    }
    let apply_sled_per_s = (blocks * per_block) as f64 / start.elapsed().as_secs_f64();
    Ok(Ceiling {
        cores,
        verify_single_per_s,
        verify_batched_per_s,
        apply_sled_per_s,
    })
}

struct Node {
    child: Child,
    url: String,
    peak_rss_kib: Arc<AtomicU64>,
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

struct Network {
    dir: PathBuf,
    kyotod: PathBuf,
    nodes: Vec<Option<Node>>,
    args: Vec<Vec<String>>,
}

impl Network {
    fn start(kyotod: &Path, dir: &Path, n: usize, max_block_txs: u32) -> anyhow::Result<Self> {
        let out = Command::new(kyotod)
            .args(["init", "--validators", &n.to_string(), "--dir"])
            .arg(dir)
            .output()
            .with_context(|| format!("running {}", kyotod.display()))?;
        if !out.status.success() {
            bail!("kyotod init: {}", String::from_utf8_lossy(&out.stderr));
        }
        let p2p: Vec<u16> = (0..n).map(|_| free_port()).collect::<Result<_, _>>()?;
        let gossip: Vec<u16> = (0..n).map(|_| free_port()).collect::<Result<_, _>>()?;
        let mut args = Vec::new();
        for i in 0..n {
            let others = |ports: &[u16]| {
                (0..n)
                    .filter(|&j| j != i)
                    .map(|j| format!("/ip4/127.0.0.1/tcp/{}", ports[j]))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            // Transaction gossip relays, so a node needs only a few gossip peers:
            // each dials the next GOSSIP_DIAL nodes of a ring (and is dialled by
            // the previous ones), which keeps every node within a few hops without
            // 40 × 39 connections.
            let gossip_peers = |i: usize, ports: &[u16]| {
                (1..n.min(GOSSIP_DIAL + 1))
                    .map(|k| format!("/ip4/127.0.0.1/tcp/{}", ports[(i + k) % n]))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let data = dir.join(format!("validator-{}", i + 1));
            let mut a = vec![
                "--genesis".to_owned(),
                dir.join("genesis.json").display().to_string(),
                "--validator-key".to_owned(),
                data.join("validator.key").display().to_string(),
                "--data-dir".to_owned(),
                data.display().to_string(),
                "--grpc-addr".to_owned(),
                "127.0.0.1:0".to_owned(),
                "--p2p-addr".to_owned(),
                format!("/ip4/127.0.0.1/tcp/{}", p2p[i]),
                "--gossip-addr".to_owned(),
                format!("/ip4/127.0.0.1/tcp/{}", gossip[i]),
                "--max-block-txs".to_owned(),
                max_block_txs.to_string(),
                "--mempool-max-txs".to_owned(),
                "100000".to_owned(),
            ];
            if n > 1 {
                a.extend([
                    "--peer".to_owned(),
                    others(&p2p),
                    "--gossip-peer".to_owned(),
                    gossip_peers(i, &gossip),
                ]);
            }
            args.push(a);
        }
        let mut net = Network {
            dir: dir.to_owned(),
            kyotod: kyotod.to_owned(),
            nodes: (0..n).map(|_| None).collect(),
            args,
        };
        for i in 0..n {
            net.start_node(i)?;
        }
        Ok(net)
    }

    fn start_node(&mut self, i: usize) -> anyhow::Result<()> {
        use std::io::BufRead;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("validator-{}.log", i + 1)))?;
        let mut child = Command::new(&self.kyotod)
            .args(&self.args[i])
            .env(
                "RUST_LOG",
                std::env::var("KYOTO_BENCH_NODE_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()?;
        let stdout = child.stdout.take().context("kyotod stdout")?;
        let mut url = None;
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line?;
            if let Some(u) = line.strip_prefix("kyotod: gRPC listening on ") {
                url = Some(u.to_owned());
                break;
            }
        }
        let url = url.context("kyotod did not start")?;
        let peak = Arc::new(AtomicU64::new(0));
        let (pid, p) = (child.id(), Arc::clone(&peak));
        std::thread::spawn(move || {
            while let Some(kib) = rss_kib(pid) {
                p.fetch_max(kib, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        self.nodes[i] = Some(Node {
            child,
            url,
            peak_rss_kib: peak,
        });
        Ok(())
    }

    fn stop_node(&mut self, i: usize) {
        if let Some(mut n) = self.nodes[i].take() {
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
    }

    fn urls(&self) -> Vec<String> {
        self.nodes.iter().flatten().map(|n| n.url.clone()).collect()
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop_node(i);
        }
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let n = usize::from(args.validators.max(1));
    println!("measuring the machine's ceiling ...");
    let ceiling = tokio::task::spawn_blocking(measure_ceiling).await??;
    let ceiling_n = ceiling.for_validators(n);
    println!(
        "  {} cores; ed25519 verify {:.0}/s single, {:.0}/s batched (512); ledger apply on sled {:.0} transfers/s",
        ceiling.cores,
        ceiling.verify_single_per_s,
        ceiling.verify_batched_per_s,
        ceiling.apply_sled_per_s
    );
    println!(
        "  ceiling: {:.0} transfers/s for one node, {:.0} for {n} validators",
        ceiling.for_validators(1),
        ceiling_n
    );

    let kyotod = match &args.kyotod {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("binary directory")?
            .join("kyotod"),
    };
    if !kyotod.exists() {
        bail!(
            "{} not found: build it with `cargo build --release --workspace --bins`, or give --kyotod",
            kyotod.display()
        );
    }
    let tmp = tempfile::tempdir()?;
    let dir = args.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    println!("starting {n} validators in {} ...", dir.display());
    let mut net = Network::start(&kyotod, &dir, n, args.max_block_txs)?;
    let laggard = (args.catch_up && n > 3).then_some(n - 1);
    let urls = net.urls();
    let mut clients = Vec::new();
    for u in &urls {
        clients.push(LedgerClient::connect(u.clone()).await?);
    }
    // Wait for the first blocks.
    loop {
        let s = clients[0]
            .get_status(pb::GetStatusRequest {})
            .await?
            .into_inner();
        if s.height >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = clients[0]
        .get_status(pb::GetStatusRequest {})
        .await?
        .into_inner();
    let genesis: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("genesis.json"))?)?;
    let mut parties = Vec::new();
    for code in genesis["issuances"]
        .as_array()
        .context("genesis issuances")?
        .iter()
        .filter_map(|i| i["party"].as_str())
    {
        let key = read_key_file(&dir.join("dev-keys").join(format!("{code}.key")))?;
        parties.push((code.to_owned(), key));
    }
    let signers = if args.traders == 0 {
        (0..parties.len())
            .map(|i| BenchSigner {
                key: parties[i].1.clone(),
                from: format!("{}-100-1", parties[i].0),
                to: format!("{}-100-1", parties[(i + 1) % parties.len()].0),
            })
            .collect::<Vec<_>>()
    } else {
        println!(
            "opening {} trader accounts ({} per Party) ...",
            parties.len() * args.traders,
            args.traders
        );
        let units = (args.rate * args.duration).div_ceil((parties.len() * args.traders) as u64);
        open_trader_accounts(
            &mut clients[0],
            &status.chain_id,
            &parties,
            args.traders,
            units,
        )
        .await?
    };
    let start_height = clients[0]
        .get_status(pb::GetStatusRequest {})
        .await?
        .into_inner()
        .height;
    let total = (args.rate * args.duration) as usize;
    let per_signer = total.div_ceil(signers.len());
    println!(
        "pre-signing {} transfers from {} signers ...",
        per_signer * signers.len(),
        signers.len()
    );
    let mut work = Vec::new();
    for s in &signers {
        let (key, from, to) = (s.key.clone(), s.from.clone(), s.to.clone());
        let chain_id = status.chain_id.clone();
        work.push(tokio::task::spawn_blocking(move || {
            (0..per_signer as u64)
                .map(|k| {
                    kyoto_node::tx::sign_transaction(
                        &key,
                        &transfer_between(&chain_id, 1 + k, &from, &to, 1),
                    )
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut presigned = Vec::new();
    for w in work {
        presigned.push(w.await?);
    }

    // Commit times and block times from validator 1's block stream.
    let committed: Arc<Mutex<HashMap<Vec<u8>, Instant>>> = Arc::default();
    let block_times: Arc<Mutex<Vec<(Instant, usize)>>> = Arc::default();
    let mut stream = clients[0]
        .stream_blocks(pb::StreamBlocksRequest {
            from_height: start_height + 1,
        })
        .await?
        .into_inner();
    let (seen, bt) = (Arc::clone(&committed), Arc::clone(&block_times));
    let watcher = tokio::spawn(async move {
        while let Ok(Some(b)) = stream.message().await {
            let now = Instant::now();
            if let Ok(mut t) = bt.lock() {
                t.push((now, b.transaction_hashes.len()));
            }
            if let Ok(mut m) = seen.lock() {
                for h in b.transaction_hashes {
                    m.insert(h, now);
                }
            }
        }
    });

    println!(
        "offering {} transfers/s for {} s to {} validators ...",
        args.rate,
        args.duration,
        urls.len()
    );
    let start = Instant::now();
    let interval = Duration::from_secs_f64(signers.len() as f64 / args.rate.max(1) as f64);
    let spread = signers.len() as f64;
    let offered = Arc::new(AtomicU64::new(0));
    // At most this many submissions in flight per validator connection (HTTP/2
    // closes a connection flooded with thousands of concurrent streams).
    let in_flight: Vec<Arc<tokio::sync::Semaphore>> = (0..clients.len())
        .map(|_| Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)))
        .collect();
    let mut tasks = Vec::new();
    for (i, txs) in presigned.into_iter().enumerate() {
        let client = clients[i % clients.len()].clone();
        let in_flight = Arc::clone(&in_flight[i % clients.len()]);
        let offered = Arc::clone(&offered);
        tasks.push(tokio::spawn(async move {
            // Open loop: each transfer is sent at its time whether or not the ones
            // before it were answered (the mempool holds a signer's later nonces).
            let mut sending = Vec::with_capacity(txs.len());
            // Stagger the signers across one interval.
            let mut next = start + interval.mul_f64(i as f64 / spread);
            for tx in txs {
                tokio::time::sleep_until(next.into()).await;
                next += interval;
                let at = Instant::now();
                let mut client = client.clone();
                let offered = Arc::clone(&offered);
                let in_flight = Arc::clone(&in_flight);
                sending.push(tokio::spawn(async move {
                    // Latency counts from the scheduled time, waiting here included.
                    let _permit = in_flight.acquire_owned().await?;
                    let hash = submit_with_retry(&mut client, &tx).await?;
                    offered.fetch_add(1, Ordering::Relaxed);
                    anyhow::Ok((hash, at))
                }));
            }
            let mut submitted = Vec::with_capacity(sending.len());
            for s in sending {
                submitted.push(s.await??);
            }
            anyhow::Ok(submitted)
        }));
    }
    // Progress, once a second.
    let progress = {
        let (offered, committed) = (Arc::clone(&offered), Arc::clone(&committed));
        let mut client = clients[0].clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let c = committed.lock().map(|m| m.len()).unwrap_or(0);
                let h = client
                    .get_status(pb::GetStatusRequest {})
                    .await
                    .map(|s| s.into_inner())
                    .ok();
                println!(
                    "  {:>4.0} s  submitted {:>8}  committed {:>8}  height {:>6}  mempool {:>6}",
                    start.elapsed().as_secs_f64(),
                    offered.load(Ordering::Relaxed),
                    c,
                    h.as_ref().map_or(0, |s| s.height),
                    h.as_ref().map_or(0, |s| s.mempool_size)
                );
            }
        })
    };
    let mut submitted_at = Vec::new();
    for t in tasks {
        submitted_at.extend(t.await??);
    }
    let submit_done = start.elapsed();
    // Wait for the last commits (at most 60 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let c = committed.lock().map(|m| m.len()).unwrap_or(0);
        if c >= submitted_at.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    progress.abort();
    let _ = clients[0]
        .get_status(pb::GetStatusRequest {})
        .await?
        .into_inner();

    // Sustained rate: transfers committed between warm-up and the end of the offer.
    let warm = start + Duration::from_secs(args.warmup);
    let offer_end = start + submit_done;
    let (in_window, mut latencies, last_commit) = {
        let m = committed.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let in_window = m
            .values()
            .filter(|t| **t >= warm && **t <= offer_end)
            .count();
        let lat: Vec<f64> = submitted_at
            .iter()
            .filter(|(_, at)| *at >= warm)
            .filter_map(|(h, at)| m.get(h).map(|c| c.duration_since(*at).as_secs_f64() * 1e3))
            .collect();
        let last = m.values().max().copied().unwrap_or(start);
        (in_window, lat, last)
    };
    let lost = submitted_at
        .len()
        .saturating_sub(committed.lock().map(|m| m.len()).unwrap_or(0));
    latencies.sort_by(f64::total_cmp);
    let window_s = offer_end
        .saturating_duration_since(warm)
        .as_secs_f64()
        .max(1e-3);
    let sustained = in_window as f64 / window_s;
    let overall = submitted_at.len() as f64 / last_commit.duration_since(start).as_secs_f64();
    let (blocks, blocks_per_s) = {
        let t = block_times
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        let in_w: Vec<_> = t
            .iter()
            .filter(|(at, _)| *at >= warm && *at <= offer_end)
            .collect();
        (t.len(), in_w.len() as f64 / window_s)
    };
    watcher.abort();

    // Catch-up: restart the validator kept down and time its replay.
    let mut catch_up = None;
    if let Some(l) = laggard {
        net.stop_node(l);
        let data = dir.join(format!("validator-{}", l + 1));
        for sub in ["db", "wal"] {
            let _ = std::fs::remove_dir_all(data.join(sub));
        }
        let head = clients[0]
            .get_status(pb::GetStatusRequest {})
            .await?
            .into_inner()
            .height;
        println!(
            "validator-{} wiped and restarted: replaying {head} blocks ...",
            l + 1
        );
        let t0 = Instant::now();
        net.start_node(l)?;
        let url = net.nodes[l]
            .as_ref()
            .map(|n| n.url.clone())
            .context("laggard")?;
        let mut c = LedgerClient::connect(url).await?;
        loop {
            let s = c.get_status(pb::GetStatusRequest {}).await?.into_inner();
            if s.height >= head {
                break;
            }
            if t0.elapsed() > Duration::from_secs(600) {
                bail!("the restarted validator did not catch up within 600 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let secs = t0.elapsed().as_secs_f64();
        // Every transfer of the run, plus the empty blocks around it.
        let replayed_txs = submitted_at.len() as f64;
        catch_up = Some((head, secs, replayed_txs / secs));
    }

    let rss: Vec<u64> = net
        .nodes
        .iter()
        .flatten()
        .map(|n| n.peak_rss_kib.load(Ordering::Relaxed) / 1024)
        .collect();
    println!();
    println!("{:<44} {:>14}", "figure", "value");
    let row = |k: &str, v: String| println!("{k:<44} {v:>14}");
    row("validators", n.to_string());
    row("offered load (transfers/s)", args.rate.to_string());
    row(
        "committed transfers/s (sustained)",
        format!("{sustained:.0}"),
    );
    row("committed transfers/s (whole run)", format!("{overall:.0}"));
    row(
        "transfers submitted / not committed",
        format!("{} / {lost}", submitted_at.len()),
    );
    row("latency p50 (ms)", format!("{:.1}", pct(&latencies, 0.5)));
    row("latency p90 (ms)", format!("{:.1}", pct(&latencies, 0.9)));
    row("latency p99 (ms)", format!("{:.1}", pct(&latencies, 0.99)));
    row("latency max (ms)", format!("{:.1}", pct(&latencies, 1.0)));
    row("blocks/s", format!("{blocks_per_s:.2}"));
    row("blocks in the run", blocks.to_string());
    row("peak RSS per node (MiB)", format!("{rss:?}"));
    row(
        "verify, 1 core, single (sig/s)",
        format!("{:.0}", ceiling.verify_single_per_s),
    );
    row(
        "verify, 1 core, batched 512 (sig/s)",
        format!("{:.0}", ceiling.verify_batched_per_s),
    );
    row(
        "ledger apply on sled (transfers/s)",
        format!("{:.0}", ceiling.apply_sled_per_s),
    );
    row(
        &format!("ceiling, {n} validators (transfers/s)"),
        format!("{ceiling_n:.0}"),
    );
    row(
        "sustained / ceiling",
        format!("{:.0} %", 100.0 * sustained / ceiling_n),
    );
    if let Some((head, secs, rate)) = catch_up {
        row("catch-up: blocks replayed", head.to_string());
        row("catch-up: seconds", format!("{secs:.1}"));
        row("catch-up: transfers/s replayed", format!("{rate:.0}"));
        row(
            "catch-up / live rate",
            format!("{:.1} x", rate / overall.max(1e-9)),
        );
    }
    if let Some(path) = &args.json {
        let out = json!({
            "validators": n,
            "offered_per_s": args.rate,
            "duration_s": args.duration,
            "committed_per_s_sustained": sustained,
            "committed_per_s_overall": overall,
            "submitted": submitted_at.len(),
            "not_committed": lost,
            "latency_ms": {
                "p50": pct(&latencies, 0.5), "p90": pct(&latencies, 0.9),
                "p99": pct(&latencies, 0.99), "max": pct(&latencies, 1.0),
            },
            "blocks_per_s": blocks_per_s,
            "peak_rss_mib": rss,
            "ceiling": {
                "cores": ceiling.cores,
                "verify_single_per_s": ceiling.verify_single_per_s,
                "verify_batched_per_s": ceiling.verify_batched_per_s,
                "apply_sled_per_s": ceiling.apply_sled_per_s,
                "ceiling_per_s": ceiling_n,
                "fraction": sustained / ceiling_n,
            },
            "catch_up": catch_up.map(|(h, s, r)| json!({"blocks": h, "seconds": s, "per_s": r, "vs_live": r / overall.max(1e-9)})),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&out)?)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
