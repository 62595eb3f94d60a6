//! One measured run: start a network, open trader accounts, offer pre-signed
//! transfers open-loop through gRPC, and time every commit from a node's block
//! stream; optionally wipe a validator afterwards and time its replay.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use kyoto_bench::{
    PUSHED_BACK_RETRY, open_account_body, submit_until_admitted, submit_with_retry, trader_key,
    transfer_between,
};
use kyoto_node::crypto::read_key_file;
use kyoto_node::ledger::calendar::parse_date_ms;
use kyoto_proto::v1::{self as pb, ledger_client::LedgerClient};
use serde_json::json;
use tonic::transport::Channel;

use crate::network::{Network, NodeFlags};

/// Submissions in flight per node connection.
const MAX_IN_FLIGHT: usize = 192;

/// What to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    /// Validators in BFT consensus; 0 runs one dev node (`kyotod --dev`).
    pub validators: usize,
    /// Offered transfers per second (open loop).
    pub rate: u64,
    /// Seconds of offered load.
    pub duration: u64,
    /// Seconds at the start not counted in the sustained rate and latency.
    pub warmup: u64,
    /// Trader accounts per Party (0: the Parties' registry keys sign).
    pub traders: usize,
    /// Afterwards, wipe a validator and time its replay of the whole history.
    pub catch_up: bool,
    pub max_block_txs: u32,
    /// Passed to every node: `--max-queue-delay-ms` (0: never push back).
    pub max_queue_delay_ms: u64,
    /// Validators far apart: every link between two of them delayed (`wan.rs`).
    pub wan: Option<crate::wan::Wan>,
    /// Passed to every node: `--consensus-pubsub gossipsub` (else `broadcast`).
    pub gossipsub: bool,
    /// Passed to every node after the bench's own flags (`--node-arg`).
    pub node_args: Vec<String>,
    /// Transfers per gRPC request: 1 sends each alone (`SubmitTransaction`), more
    /// sends what is due together (`SubmitTransactions`, up to this many).
    pub batch: usize,
}

impl Scenario {
    /// Nodes that verify and apply every transaction.
    pub fn nodes(&self) -> usize {
        self.validators.max(1)
    }
}

/// A replay of the whole history by a wiped validator.
#[derive(Clone, Debug)]
pub struct CatchUp {
    pub blocks: u64,
    pub seconds: f64,
    pub per_s: f64,
}

/// Resident memory of the largest node over the offer (MiB).
#[derive(Clone, Debug, Default)]
pub struct Memory {
    /// Peak per node over the whole run.
    pub peak: Vec<u64>,
    /// Largest node when the warm-up ends, half-way and when the offer ends.
    pub after_warmup: u64,
    pub half_way: u64,
    pub at_end: u64,
}

/// CPU time between the end of the warm-up and the end of the offer.
#[derive(Clone, Debug, Default)]
pub struct Cpu {
    /// All nodes together, per transfer committed in that window (µs).
    pub nodes_us_per_transfer: f64,
    /// Share of the machine (all its cores) used by the nodes, and by this load
    /// generator (signing aside: transfers are signed before the offer starts).
    pub nodes_share: f64,
    pub load_share: f64,
}

#[derive(Clone, Debug)]
pub struct Report {
    pub scenario: Scenario,
    pub sustained: f64,
    pub overall: f64,
    pub submitted: usize,
    pub not_committed: usize,
    /// p50, p90, p99, max, in ms, from the time each transfer was due.
    pub latency: [f64; 4],
    /// The same from the answer that admitted it (after any push back) to its commit.
    pub admitted_latency: [f64; 4],
    /// `OVERLOADED` answers (each sent again after a short wait).
    pub pushed_back: u64,
    pub blocks_per_s: f64,
    pub blocks: usize,
    pub memory: Memory,
    pub cpu: Cpu,
    pub catch_up: Option<CatchUp>,
}

impl Report {
    pub fn json(&self) -> serde_json::Value {
        let s = &self.scenario;
        json!({
            "name": s.name,
            "consensus_pubsub": if s.gossipsub { "gossipsub" } else { "broadcast" },
            "node_args": s.node_args,
            "wan": s.wan.map(|w| json!({
                "one_way_delay_ms": w.delay.as_millis() as u64,
                "jitter_ms": w.jitter.as_millis() as u64,
                "loss_percent": w.loss_percent,
            })),
            "validators": s.validators,
            "dev_node": s.validators == 0,
            "offered_per_s": s.rate,
            "duration_s": s.duration,
            "signers_per_party": s.traders,
            "submit_batch": s.batch,
            "max_block_txs": s.max_block_txs,
            "committed_per_s_sustained": self.sustained,
            "committed_per_s_overall": self.overall,
            "submitted": self.submitted,
            "not_committed": self.not_committed,
            "latency_ms": {
                "p50": self.latency[0], "p90": self.latency[1],
                "p99": self.latency[2], "max": self.latency[3],
            },
            "admitted_to_commit_ms": {
                "p50": self.admitted_latency[0], "p90": self.admitted_latency[1],
                "p99": self.admitted_latency[2], "max": self.admitted_latency[3],
            },
            "pushed_back": self.pushed_back,
            "blocks_per_s": self.blocks_per_s,
            "blocks": self.blocks,
            "rss_mib": {
                "peak_per_node": self.memory.peak,
                "after_warmup": self.memory.after_warmup,
                "half_way": self.memory.half_way,
                "at_end": self.memory.at_end,
            },
            "cpu": {
                "nodes_us_per_transfer": self.cpu.nodes_us_per_transfer,
                "nodes_share_of_machine": self.cpu.nodes_share,
                "load_generator_share_of_machine": self.cpu.load_share,
            },
            "catch_up": self.catch_up.as_ref().map(|c| json!({
                "blocks": c.blocks, "seconds": c.seconds, "per_s": c.per_s,
                "vs_live": c.per_s / self.overall.max(1e-9),
            })),
        })
    }
}

impl Scenario {
    fn node_flags(&self) -> NodeFlags {
        NodeFlags {
            max_block_txs: self.max_block_txs,
            max_queue_delay_ms: self.max_queue_delay_ms,
            gossipsub: self.gossipsub,
            extra: self.node_args.clone(),
        }
    }
}

/// Who signs a share of the load, and between which accounts it moves units.
struct BenchSigner {
    key: SigningKey,
    from: String,
    to: String,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len() as f64 - 1.0) * p).round() as usize)
        .copied()
        .unwrap_or(0.0)
}

async fn status(client: &mut LedgerClient<Channel>) -> anyhow::Result<pb::GetStatusResponse> {
    Ok(client
        .get_status(pb::GetStatusRequest {})
        .await?
        .into_inner())
}

/// Runs a scenario on a network of its own in `dir`.
pub async fn run(s: &Scenario, kyotod: &Path, dir: &Path) -> anyhow::Result<Report> {
    std::fs::create_dir_all(dir)?;
    let mut net = if s.validators == 0 {
        println!("starting a dev node in {} ...", dir.display());
        Network::dev(kyotod, dir, &s.node_flags())?
    } else {
        println!(
            "starting {} validators in {} ...",
            s.validators,
            dir.display()
        );
        Network::validators(kyotod, dir, s.validators, &s.node_flags(), s.wan)?
    };
    let laggard = (s.catch_up && net.len() > 3).then_some(net.len() - 1);
    let mut clients = Vec::new();
    for u in net.urls() {
        clients.push(LedgerClient::connect(u).await?);
    }
    // A BFT network: wait for its first blocks (a dev node cuts blocks on demand).
    let first = if s.validators == 0 { 0 } else { 2 };
    while status(&mut clients[0]).await?.height < first {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let chain_id = status(&mut clients[0]).await?.chain_id;
    let genesis: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("genesis.json"))?)?;
    // Parties holding units whose Protocol is in force at the genesis time (a dev
    // genesis has some that enter into force later).
    let genesis_ms = genesis["genesis_time_ms"].as_i64().unwrap_or(0);
    let in_force = |code: &str| {
        genesis["parties"].as_array().is_some_and(|ps| {
            ps.iter().any(|p| {
                p["code"] == code
                    && p["status"] == "in_force"
                    && p["in_force_since"]
                        .as_str()
                        .and_then(parse_date_ms)
                        .is_none_or(|since| since <= genesis_ms)
            })
        })
    };
    let mut parties = Vec::new();
    for code in genesis["issuances"]
        .as_array()
        .context("genesis issuances")?
        .iter()
        .filter_map(|i| i["party"].as_str())
        .filter(|code| in_force(code))
    {
        let key = read_key_file(&dir.join("dev-keys").join(format!("{code}.key")))?;
        parties.push((code.to_owned(), key));
    }
    if parties.is_empty() {
        bail!("the genesis issues units to no Party");
    }
    let total = s.rate * s.duration;
    let signers = if s.traders == 0 {
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
            parties.len() * s.traders,
            s.traders
        );
        let units = total.div_ceil((parties.len() * s.traders) as u64);
        open_trader_accounts(&mut clients[0], &chain_id, &parties, s.traders, units).await?
    };
    let start_height = status(&mut clients[0]).await?.height;
    let per_signer = total.div_ceil(signers.len() as u64);
    println!(
        "pre-signing {} transfers from {} signers ...",
        per_signer * signers.len() as u64,
        signers.len()
    );
    let mut work = Vec::new();
    for signer in &signers {
        let (key, from, to) = (signer.key.clone(), signer.from.clone(), signer.to.clone());
        let chain_id = chain_id.clone();
        work.push(tokio::task::spawn_blocking(move || {
            (0..per_signer)
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

    // Commit times and block times from the first node's block stream.
    let committed: Arc<Mutex<HashMap<Vec<u8>, Instant>>> = Arc::default();
    let block_times: Arc<Mutex<Vec<Instant>>> = Arc::default();
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
                t.push(now);
            }
            if let Ok(mut m) = seen.lock() {
                for h in b.transaction_hashes {
                    m.insert(h, now);
                }
            }
        }
    });

    println!(
        "offering {} transfers/s for {} s to {} node(s) ...",
        s.rate,
        s.duration,
        clients.len()
    );
    let start = Instant::now();
    let interval = Duration::from_secs_f64(signers.len() as f64 / s.rate.max(1) as f64);
    let spread = signers.len() as f64;
    let offered = Arc::new(AtomicU64::new(0));
    // At most this many submissions in flight per node connection (HTTP/2 closes a
    // connection flooded with thousands of concurrent streams).
    let in_flight: Vec<Arc<tokio::sync::Semaphore>> = (0..clients.len())
        .map(|_| Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)))
        .collect();
    let pushed_back = Arc::new(AtomicU64::new(0));
    // Batched submissions: one batcher per node connection.
    let mut batchers = Vec::new();
    let mut queues = Vec::new();
    if s.batch > 1 {
        // Queue q serves node q % nodes: each node gets BATCHERS_PER_NODE requests in
        // flight at once, and a signer's transfers all go through one queue, in order.
        for c in clients
            .iter()
            .cycle()
            .take(clients.len() * BATCHERS_PER_NODE)
        {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            queues.push(tx);
            batchers.push(tokio::spawn(batcher(
                c.clone(),
                rx,
                s.batch,
                Arc::clone(&pushed_back),
            )));
        }
    }
    let mut tasks = Vec::new();
    for (i, txs) in presigned.into_iter().enumerate() {
        let client = clients[i % clients.len()].clone();
        let in_flight = Arc::clone(&in_flight[i % clients.len()]);
        let offered = Arc::clone(&offered);
        // Signer i's queue serves node i % nodes, as its single submissions do.
        let queue = (!queues.is_empty()).then(|| queues[i % queues.len()].clone());
        let pushed_back = Arc::clone(&pushed_back);
        tasks.push(tokio::spawn(async move {
            // Open loop: each transfer is sent at its time whether or not the ones
            // before it were answered (the mempool holds a signer's later nonces).
            let mut sending = Vec::with_capacity(txs.len());
            // Stagger the signers across one interval.
            let mut next = start + interval.mul_f64(i as f64 / spread);
            for tx in txs {
                tokio::time::sleep_until(next.into()).await;
                let at = next;
                next += interval;
                let offered = Arc::clone(&offered);
                let pushed_back = Arc::clone(&pushed_back);
                let hash = match &queue {
                    Some(q) => {
                        let (reply, answer) = tokio::sync::oneshot::channel();
                        q.send(Queued { tx, reply })
                            .map_err(|_| anyhow::anyhow!("the batch submitter stopped"))?;
                        Submission::Queued(answer)
                    }
                    None => Submission::Alone(client.clone(), Arc::clone(&in_flight), tx),
                };
                sending.push(tokio::spawn(async move {
                    // Latency counts from the scheduled time, waiting here included.
                    let (hash, admitted) = match hash {
                        Submission::Alone(mut client, in_flight, tx) => {
                            let _permit = in_flight.acquire_owned().await?;
                            let hash =
                                submit_until_admitted(&mut client, &tx, &pushed_back).await?;
                            (hash, Instant::now())
                        }
                        Submission::Queued(answer) => answer
                            .await
                            .map_err(|_| anyhow::anyhow!("the batch submitter stopped"))?,
                    };
                    offered.fetch_add(1, Ordering::Relaxed);
                    anyhow::Ok((hash, at, admitted))
                }));
            }
            let mut submitted = Vec::with_capacity(sending.len());
            for s in sending {
                submitted.push(s.await??);
            }
            anyhow::Ok(submitted)
        }));
    }
    // Progress once a second; the largest node's memory and the CPU time used by
    // the nodes and by this process, over time.
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let progress = {
        let (offered, committed) = (Arc::clone(&offered), Arc::clone(&committed));
        let (gauges, samples) = (net.rss_gauges(), Arc::clone(&samples));
        let pids = net.pids();
        let mut client = clients[0].clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let c = committed.lock().map(|m| m.len()).unwrap_or(0);
                let rss = gauges
                    .iter()
                    .map(|g| g.load(Ordering::Relaxed) / 1024)
                    .max()
                    .unwrap_or(0);
                let nodes_cpu = pids.iter().filter_map(|p| kyoto_bench::cpu_ms(*p)).sum();
                let own_cpu = kyoto_bench::cpu_ms(std::process::id()).unwrap_or(0);
                if let Ok(mut v) = samples.lock() {
                    v.push(Sample {
                        at: Instant::now(),
                        rss_mib: rss,
                        nodes_cpu_ms: nodes_cpu,
                        own_cpu_ms: own_cpu,
                    });
                }
                let h = status(&mut client).await.ok();
                println!(
                    "  {:>4.0} s  submitted {:>9}  committed {:>9}  height {:>6}  mempool {:>6}  RSS {:>5} MiB",
                    start.elapsed().as_secs_f64(),
                    offered.load(Ordering::Relaxed),
                    c,
                    h.as_ref().map_or(0, |s| s.height),
                    h.as_ref().map_or(0, |s| s.mempool_size),
                    rss
                );
            }
        })
    };
    drop(queues);
    let mut submitted_at = Vec::new();
    for t in tasks {
        submitted_at.extend(t.await??);
    }
    for b in batchers {
        b.await??;
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
    watcher.abort();

    // Sustained rate: transfers committed between warm-up and the end of the offer.
    let warm = start + Duration::from_secs(s.warmup);
    let offer_end = start + submit_done;
    let (in_window, latencies, last_commit, committed_count) = {
        let m = committed.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let in_window = m
            .values()
            .filter(|t| **t >= warm && **t <= offer_end)
            .count();
        let since = |from: fn(&(Vec<u8>, Instant, Instant)) -> Instant| -> Vec<f64> {
            submitted_at
                .iter()
                .filter(|(_, at, _)| *at >= warm)
                .filter_map(|t| {
                    m.get(&t.0)
                        .map(|c| c.saturating_duration_since(from(t)).as_secs_f64() * 1e3)
                })
                .collect()
        };
        let lat = (since(|t| t.1), since(|t| t.2));
        let last = m.values().max().copied().unwrap_or(start);
        (in_window, lat, last, m.len())
    };
    let (mut latencies, mut admitted_latencies) = latencies;
    latencies.sort_by(f64::total_cmp);
    admitted_latencies.sort_by(f64::total_cmp);
    let window_s = offer_end
        .saturating_duration_since(warm)
        .as_secs_f64()
        .max(1e-3);
    let sustained = in_window as f64 / window_s;
    let overall =
        submitted_at.len() as f64 / last_commit.duration_since(start).as_secs_f64().max(1e-3);
    let (blocks, blocks_per_s) = {
        let t = block_times
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        let in_w = t.iter().filter(|at| **at >= warm && **at <= offer_end);
        (t.len(), in_w.count() as f64 / window_s)
    };
    let (memory, cpu) = {
        let v = samples.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let at = |t: Instant| v.iter().find(|x| x.at >= t).or(v.last()).cloned();
        let rss = |t: Instant| at(t).map_or(0, |x| x.rss_mib);
        let memory = Memory {
            peak: net.peak_rss_mib(),
            after_warmup: rss(warm),
            half_way: rss(warm + offer_end.saturating_duration_since(warm) / 2),
            at_end: rss(offer_end),
        };
        let cpu = match (at(warm), at(offer_end)) {
            (Some(a), Some(b)) if b.at > a.at => {
                let wall_ms = b.at.duration_since(a.at).as_secs_f64() * 1e3;
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
                let nodes_ms = b.nodes_cpu_ms.saturating_sub(a.nodes_cpu_ms) as f64;
                let own_ms = b.own_cpu_ms.saturating_sub(a.own_cpu_ms) as f64;
                Cpu {
                    nodes_us_per_transfer: nodes_ms * 1e3 / (in_window.max(1) as f64),
                    nodes_share: nodes_ms / (wall_ms * cores),
                    load_share: own_ms / (wall_ms * cores),
                }
            }
            _ => Cpu::default(),
        };
        (memory, cpu)
    };

    // Catch-up: wipe one validator, restart it, and time its replay.
    let mut catch_up = None;
    if let Some(l) = laggard {
        net.stop_node(l);
        let data = net.dir().join(format!("validator-{}", l + 1));
        for sub in ["db", "wal"] {
            let _ = std::fs::remove_dir_all(data.join(sub));
        }
        let head = status(&mut clients[0]).await?.height;
        println!(
            "validator-{} wiped and restarted: replaying {head} blocks ...",
            l + 1
        );
        let t0 = Instant::now();
        net.start_node(l)?;
        let mut c = LedgerClient::connect(net.url(l).context("the wiped validator")?).await?;
        while status(&mut c).await?.height < head {
            if t0.elapsed() > Duration::from_secs(600) {
                bail!("the restarted validator did not catch up within 600 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seconds = t0.elapsed().as_secs_f64();
        // Every transfer of the run (the trader set-up and empty blocks aside).
        catch_up = Some(CatchUp {
            blocks: head,
            seconds,
            per_s: submitted_at.len() as f64 / seconds,
        });
    }
    Ok(Report {
        scenario: s.clone(),
        sustained,
        overall,
        submitted: submitted_at.len(),
        not_committed: submitted_at.len().saturating_sub(committed_count),
        latency: [
            pct(&latencies, 0.5),
            pct(&latencies, 0.9),
            pct(&latencies, 0.99),
            pct(&latencies, 1.0),
        ],
        admitted_latency: [
            pct(&admitted_latencies, 0.5),
            pct(&admitted_latencies, 0.9),
            pct(&admitted_latencies, 0.99),
            pct(&admitted_latencies, 1.0),
        ],
        pushed_back: pushed_back.load(Ordering::Relaxed),
        blocks_per_s,
        blocks,
        memory,
        cpu,
        catch_up,
    })
}

/// What the progress task records once a second.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at: Instant,
    /// The largest node's resident memory.
    rss_mib: u64,
    /// CPU time used so far by all nodes, and by this process.
    nodes_cpu_ms: u64,
    own_cpu_ms: u64,
}

/// `SubmitTransactions` requests in flight at once per node with `--batch`.
const BATCHERS_PER_NODE: usize = 8;

/// How one transfer is submitted: alone (with a place among the connection's
/// requests in flight), or through its node's batcher.
enum Submission {
    Alone(LedgerClient<Channel>, Arc<tokio::sync::Semaphore>, Vec<u8>),
    Queued(tokio::sync::oneshot::Receiver<(Vec<u8>, Instant)>),
}

/// A transfer waiting for its batch, and where its hash (and when it was admitted)
/// goes once admitted.
struct Queued {
    tx: Vec<u8>,
    reply: tokio::sync::oneshot::Sender<(Vec<u8>, Instant)>,
}

/// Submits what is queued for one node with `SubmitTransactions`: one request at a
/// time, each carrying everything due when it leaves (up to `max`), so batches grow
/// with the load. Transfers the node asks to send again later (`NONCE_TOO_HIGH`,
/// `MEMPOOL_FULL`) go back in line after 2 ms; those pushed back (`OVERLOADED`, counted
/// in `pushed_back`) after [`PUSHED_BACK_RETRY`]. Ends when the queue is closed and
/// everything was admitted.
async fn batcher(
    mut client: LedgerClient<Channel>,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<Queued>,
    max: usize,
    pushed_back: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    use tokio::sync::mpsc::error::TryRecvError;
    let mut retry: std::collections::VecDeque<(Instant, Queued)> = Default::default();
    let mut open = true;
    loop {
        let now = Instant::now();
        let mut batch = Vec::new();
        while batch.len() < max && retry.front().is_some_and(|(due, _)| *due <= now) {
            batch.extend(retry.pop_front().map(|(_, q)| q));
        }
        while open && batch.len() < max {
            match queue.try_recv() {
                Ok(q) => batch.push(q),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        if batch.is_empty() {
            let Some(due) = retry.front().map(|(due, _)| *due) else {
                if !open {
                    return Ok(());
                }
                match queue.recv().await {
                    Some(q) => retry.push_front((now, q)),
                    None => open = false,
                }
                continue;
            };
            tokio::select! {
                q = queue.recv(), if open => match q {
                    Some(q) => retry.push_front((now, q)),
                    None => open = false,
                },
                _ = tokio::time::sleep_until(due.into()) => {}
            }
            continue;
        }
        let results = client
            .submit_transactions(pb::SubmitTransactionsRequest {
                transactions: batch.iter().map(|q| q.tx.clone()).collect(),
            })
            .await?
            .into_inner()
            .results;
        if results.len() != batch.len() {
            bail!(
                "{} results for a batch of {} transactions",
                results.len(),
                batch.len()
            );
        }
        let now = Instant::now();
        let later = now + Duration::from_millis(2);
        let mut backed_off = Vec::new();
        for (q, r) in batch.into_iter().zip(results) {
            match r.code.as_str() {
                "" => {
                    let _ = q.reply.send((r.tx_hash, now));
                }
                "NONCE_TOO_HIGH" | "MEMPOOL_FULL" => retry.push_back((later, q)),
                "OVERLOADED" => {
                    pushed_back.fetch_add(1, Ordering::Relaxed);
                    backed_off.push((now + PUSHED_BACK_RETRY, q));
                }
                code => bail!("submission refused: {code}: {}", r.message),
            }
        }
        // After those due sooner, keeping the queue in order of when each is due.
        retry.extend(backed_off);
    }
}

/// Each Party's registry opens `traders` entity holding accounts for benchmark
/// traders and funds each with `units` AAUs; returns the traders once every account
/// is committed with its key and units (checked through gRPC).
async fn open_trader_accounts(
    client: &mut LedgerClient<Channel>,
    chain_id: &str,
    parties: &[(String, SigningKey)],
    traders: usize,
    units: u64,
) -> anyhow::Result<Vec<BenchSigner>> {
    let mut signers = Vec::new();
    let mut hashes = Vec::new();
    for (i, (code, key)) in parties.iter().enumerate() {
        let next = &parties[(i + 1) % parties.len()].0;
        let mut nonce = client
            .get_nonce(pb::GetNonceRequest {
                public_key: key.verifying_key().to_bytes().to_vec(),
            })
            .await?
            .into_inner()
            .next_nonce;
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
