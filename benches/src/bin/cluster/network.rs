//! A loopback network of real `kyotod` processes: N BFT validators written by
//! `kyotod init`, or one dev node (`kyotod --dev`), each followed for its memory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

/// How many gossip peers each validator dials (a ring: it is also dialled by as many).
const GOSSIP_DIAL: usize = 4;

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

struct Node {
    child: Child,
    url: String,
    /// Resident memory, KiB: the highest seen and the latest (sampled every 250 ms).
    peak_rss_kib: Arc<AtomicU64>,
    rss_kib: Arc<AtomicU64>,
}

pub struct Network {
    dir: PathBuf,
    kyotod: PathBuf,
    nodes: Vec<Option<Node>>,
    args: Vec<Vec<String>>,
}

impl Network {
    /// `n` validators in BFT consensus, written into `dir` by `kyotod init`; with
    /// `wan`, every link between two of them goes through a delaying relay.
    pub fn validators(
        kyotod: &Path,
        dir: &Path,
        n: usize,
        flags: &NodeFlags,
        wan: Option<crate::wan::Wan>,
    ) -> anyhow::Result<Self> {
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
        // The port validator `from` dials to reach `port`: the port itself on loopback,
        // or a relay of its own that holds the bytes for the link's delay.
        let link = |from: usize, port: u16| -> anyhow::Result<String> {
            let port = match wan {
                None => port,
                Some(w) => crate::wan::relay(port, w, (from as u64) << 32 | u64::from(port))?,
            };
            Ok(format!("/ip4/127.0.0.1/tcp/{port}"))
        };
        let mut args = Vec::new();
        for i in 0..n {
            let others = (0..n)
                .filter(|&j| j != i)
                .map(|j| link(i, p2p[j]))
                .collect::<anyhow::Result<Vec<_>>>()?
                .join(",");
            // Transaction gossip relays, so a node needs only a few gossip peers:
            // each dials the next GOSSIP_DIAL nodes of a ring (and is dialled by
            // the previous ones), which keeps every node within a few hops without
            // 40 × 39 connections.
            let gossip_peers = (1..n.min(GOSSIP_DIAL + 1))
                .map(|k| link(i, gossip[(i + k) % n]))
                .collect::<anyhow::Result<Vec<_>>>()?
                .join(",");
            let data = dir.join(format!("validator-{}", i + 1));
            let mut a = vec![
                "--genesis".to_owned(),
                dir.join("genesis.json").display().to_string(),
                "--validator-key".to_owned(),
                data.join("validator.key").display().to_string(),
                "--data-dir".to_owned(),
                data.display().to_string(),
                "--p2p-addr".to_owned(),
                format!("/ip4/127.0.0.1/tcp/{}", p2p[i]),
                "--gossip-addr".to_owned(),
                format!("/ip4/127.0.0.1/tcp/{}", gossip[i]),
            ];
            if n > 1 {
                a.extend([
                    "--peer".to_owned(),
                    others,
                    "--gossip-peer".to_owned(),
                    gossip_peers,
                ]);
            }
            a.extend(common_args(flags));
            args.push(a);
        }
        Self::start(kyotod, dir, args)
    }

    /// One dev node (`kyotod --dev`: a single validator cutting blocks on demand,
    /// without the consensus network), its data, genesis and keys in `dir`.
    pub fn dev(kyotod: &Path, dir: &Path, flags: &NodeFlags) -> anyhow::Result<Self> {
        let mut a = vec![
            "--dev".to_owned(),
            "--data-dir".to_owned(),
            dir.display().to_string(),
        ];
        a.extend(common_args(flags));
        Self::start(kyotod, dir, vec![a])
    }

    fn start(kyotod: &Path, dir: &Path, args: Vec<Vec<String>>) -> anyhow::Result<Self> {
        let mut net = Network {
            dir: dir.to_owned(),
            kyotod: kyotod.to_owned(),
            nodes: args.iter().map(|_| None).collect(),
            args,
        };
        for i in 0..net.nodes.len() {
            net.start_node(i)?;
        }
        Ok(net)
    }

    pub fn start_node(&mut self, i: usize) -> anyhow::Result<()> {
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
        let now = Arc::new(AtomicU64::new(0));
        let (pid, p, c) = (child.id(), Arc::clone(&peak), Arc::clone(&now));
        std::thread::spawn(move || {
            while let Some(kib) = kyoto_bench::rss_kib(pid) {
                p.fetch_max(kib, Ordering::Relaxed);
                c.store(kib, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        self.nodes[i] = Some(Node {
            child,
            url,
            peak_rss_kib: peak,
            rss_kib: now,
        });
        Ok(())
    }

    pub fn stop_node(&mut self, i: usize) {
        if let Some(mut n) = self.nodes[i].take() {
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The gRPC URLs of the running nodes.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().flatten().map(|n| n.url.clone()).collect()
    }

    pub fn url(&self, i: usize) -> Option<String> {
        self.nodes.get(i)?.as_ref().map(|n| n.url.clone())
    }

    /// Peak resident memory of each running node, MiB.
    pub fn peak_rss_mib(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .flatten()
            .map(|n| n.peak_rss_kib.load(Ordering::Relaxed) / 1024)
            .collect()
    }

    /// The process ids of the running nodes.
    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().flatten().map(|n| n.child.id()).collect()
    }

    /// Each running node's latest resident memory, KiB (kept up to date).
    pub fn rss_gauges(&self) -> Vec<Arc<AtomicU64>> {
        self.nodes
            .iter()
            .flatten()
            .map(|n| Arc::clone(&n.rss_kib))
            .collect()
    }
}

/// Flags every bench node gets.
fn common_args(flags: &NodeFlags) -> Vec<String> {
    let mut args: Vec<String> = [
        "--grpc-addr",
        "127.0.0.1:0",
        "--max-block-txs",
        &flags.max_block_txs.to_string(),
        "--max-queue-delay-ms",
        &flags.max_queue_delay_ms.to_string(),
        "--consensus-pubsub",
        if flags.gossipsub {
            "gossipsub"
        } else {
            "broadcast"
        },
        "--mempool-max-txs",
        "100000",
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(flags.extra.iter().cloned());
    args
}

/// The tunables the bench passes to every node.
#[derive(Clone, Debug)]
pub struct NodeFlags {
    pub max_block_txs: u32,
    pub max_queue_delay_ms: u64,
    /// `--consensus-pubsub gossipsub` rather than `broadcast`.
    pub gossipsub: bool,
    /// More flags, as given (`--node-arg`), after the bench's own.
    pub extra: Vec<String>,
}

impl Drop for Network {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.stop_node(i);
        }
    }
}
