//! A network of validators (and observers) on loopback, made with `kyotod init`.
//!
//! Validators reach each other through [`Link`]s: a TCP relay per ordered pair
//! (i dials j through its own relay). Cutting every link of a validator isolates it
//! from the others (a network partition) without touching the process; healing the
//! links lets it reconnect. Nothing of this is in the node: it only sees TCP
//! connections that fail and come back.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::{CliResult, NodeProcess, bin, json_u64, kyoto};

/// A free loopback port for a node to listen on, below the kernel's ephemeral range:
/// a port from that range, once released, can be taken by any outgoing connection
/// (a restarted node could then not listen on its own port again).
pub fn free_port() -> u16 {
    use std::sync::atomic::AtomicU32;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32768)
        .clamp(12_000, 65_535);
    // Steps of 50, so that a caller may also use the few ports after the one returned.
    let span = (low - 10_000) / 50;
    let start = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let k = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 10_000 + ((start + k) % span) * 50;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port below the ephemeral range");
}

/// A TCP relay from a local port to `target`, which can be cut and healed.
pub struct Link {
    pub port: u16,
    cut: Arc<AtomicBool>,
    epoch: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Link {
    pub fn new(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a relay");
        let port = listener.local_addr().expect("relay address").port();
        listener.set_nonblocking(true).expect("non-blocking relay");
        let cut = Arc::new(AtomicBool::new(false));
        let epoch = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, e, s) = (cut.clone(), epoch.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((inbound, _)) => {
                        if c.load(Ordering::Relaxed) {
                            drop(inbound);
                            continue;
                        }
                        let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)) else {
                            continue;
                        };
                        let born = e.load(Ordering::Relaxed);
                        pump(inbound, outbound, e.clone(), born, s.clone());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Link {
            port,
            cut,
            epoch,
            stop,
        }
    }

    /// Drops the relayed connections and refuses new ones.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }

    pub fn heal(&self) {
        self.cut.store(false, Ordering::Relaxed);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.epoch.fetch_add(1, Ordering::Relaxed);
    }
}

/// Copies both ways until either side closes or the link's epoch moves on.
fn pump(a: TcpStream, b: TcpStream, epoch: Arc<AtomicU64>, born: u64, stop: Arc<AtomicBool>) {
    let _ = a.set_nodelay(true);
    let _ = b.set_nodelay(true);
    for (mut from, mut to) in [
        (a.try_clone(), b.try_clone()),
        (b.try_clone(), a.try_clone()),
    ]
    .into_iter()
    .filter_map(|(x, y)| Some((x.ok()?, y.ok()?)))
    {
        let (epoch, stop) = (epoch.clone(), stop.clone());
        std::thread::spawn(move || {
            let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                if epoch.load(Ordering::Relaxed) != born || stop.load(Ordering::Relaxed) {
                    break;
                }
                match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => break,
                }
            }
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
        });
    }
}

impl Drop for Cluster {
    /// A failed test keeps the nodes' logs: copied to a directory it names.
    fn drop(&mut self) {
        for v in self.validators.iter_mut().flatten() {
            v.kill9();
        }
        if std::thread::panicking() {
            let keep = std::env::temp_dir().join(format!(
                "kyoto-cluster-failure-{}-{}",
                std::process::id(),
                self.p2p.first().copied().unwrap_or(0)
            ));
            let _ = std::fs::create_dir_all(&keep);
            if let Ok(entries) = std::fs::read_dir(&self.dir) {
                for e in entries.flatten() {
                    let name = e.file_name();
                    if name.to_string_lossy().ends_with(".log") {
                        let _ = std::fs::copy(e.path(), keep.join(name));
                    }
                }
            }
            eprintln!("cluster logs kept in {}", keep.display());
        }
    }
}

/// `kyotod init --validators N --dir DIR` with `init` arguments.
fn init_network(dir: &Path, validators: usize, init: &[&str]) {
    let out = Command::new(bin("kyotod"))
        .args(["init", "--validators", &validators.to_string(), "--dir"])
        .arg(dir)
        .args(init)
        .output()
        .expect("run kyotod init");
    assert!(
        out.status.success(),
        "kyotod init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// N validators and their observers, in one directory made by `kyotod init`.
pub struct Cluster {
    pub dir: PathBuf,
    pub genesis: PathBuf,
    n: usize,
    p2p: Vec<u16>,
    gossip: Vec<u16>,
    /// links[i][j]: the relays validator i dials to reach validator j (consensus,
    /// transaction gossip).
    links: Vec<Vec<Option<(Link, Link)>>>,
    pub validators: Vec<Option<NodeProcess>>,
    pub observers: Vec<NodeProcess>,
    extra: Vec<String>,
    /// Arguments of one validator only (a lying one's `--byzantine`), by index.
    own: Vec<Vec<String>>,
    in_genesis: usize,
}

impl Cluster {
    /// Writes the network with `kyotod init` under `dir` and starts its `n`
    /// validators (each with `extra` arguments too).
    pub fn start(dir: &Path, n: usize, extra: &[&str]) -> Self {
        Self::start_with(dir, n, n, &[], extra)
    }

    /// Like [`Cluster::start`], with `init` arguments for `kyotod init`, and `total`
    /// nodes of which only the first `in_genesis` are validators in the genesis; the
    /// others get fresh keys and run with `--join` (they vote once governance adds
    /// them).
    pub fn start_with(
        dir: &Path,
        in_genesis: usize,
        total: usize,
        init: &[&str],
        extra: &[&str],
    ) -> Self {
        init_network(dir, in_genesis, init);
        for i in in_genesis..total {
            let data = dir.join(format!("validator-{}", i + 1));
            std::fs::create_dir_all(&data).expect("create the joining node's directory");
            let key = data.join("validator.key");
            kyoto(
                "http://127.0.0.1:1",
                dir,
                &[
                    "keys",
                    "generate",
                    "--out",
                    key.to_str().expect("utf-8 path"),
                ],
            )
            .ok();
        }
        Self::run(dir, in_genesis, total, extra)
    }

    /// Starts `n` validators from `DIR/genesis.json` and `DIR/validator-<i>/validator.key`
    /// made some other way than `kyotod init` (a genesis ceremony).
    pub fn start_prepared(dir: &Path, n: usize, extra: &[&str]) -> Self {
        Self::run(dir, n, n, extra)
    }

    /// Like [`Cluster::start`], with validator `liar` telling `lies` (a kyotod built
    /// with the test-only feature `byzantine`: `kyotod --byzantine LIES`).
    pub fn start_lying(dir: &Path, n: usize, liar: usize, lies: &str) -> Self {
        init_network(dir, n, &[]);
        let mut own = vec![Vec::new(); n];
        own[liar] = vec!["--byzantine".to_owned(), lies.to_owned()];
        Self::run_with(dir, n, n, &[], own)
    }

    fn run(dir: &Path, in_genesis: usize, n: usize, extra: &[&str]) -> Self {
        Self::run_with(dir, in_genesis, n, extra, vec![Vec::new(); n])
    }

    fn run_with(
        dir: &Path,
        in_genesis: usize,
        n: usize,
        extra: &[&str],
        own: Vec<Vec<String>>,
    ) -> Self {
        let p2p: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let gossip: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let links = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| (i != j).then(|| (Link::new(p2p[j]), Link::new(gossip[j]))))
                    .collect()
            })
            .collect();
        let mut c = Cluster {
            dir: dir.to_owned(),
            genesis: dir.join("genesis.json"),
            n,
            p2p,
            gossip,
            links,
            validators: (0..n).map(|_| None).collect(),
            observers: Vec::new(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            own,
            in_genesis,
        };
        for i in 0..n {
            c.start_validator(i);
        }
        c
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The log file of validator `i` (0-based).
    pub fn log(&self, i: usize) -> PathBuf {
        self.dir.join(format!("validator-{}.log", i + 1))
    }

    /// Starts (or restarts) validator `i` with its data in `DIR/validator-<i+1>`.
    pub fn start_validator(&mut self, i: usize) {
        assert!(self.validators[i].is_none(), "validator {i} is running");
        let data = self.dir.join(format!("validator-{}", i + 1));
        let key = data.join("validator.key");
        let links = || (0..self.n).filter_map(|j| self.links[i][j].as_ref());
        let peers: Vec<String> = links()
            .map(|(l, _)| format!("/ip4/127.0.0.1/tcp/{}", l.port))
            .collect();
        let gossip_peers: Vec<String> = links()
            .map(|(_, l)| format!("/ip4/127.0.0.1/tcp/{}", l.port))
            .collect();
        let listen = format!("/ip4/127.0.0.1/tcp/{}", self.p2p[i]);
        let gossip_listen = format!("/ip4/127.0.0.1/tcp/{}", self.gossip[i]);
        let mut args: Vec<String> = vec![
            "--genesis".into(),
            self.genesis.display().to_string(),
            "--validator-key".into(),
            key.display().to_string(),
            "--p2p-addr".into(),
            listen,
            "--peer".into(),
            peers.join(","),
            "--gossip-addr".into(),
            gossip_listen,
            "--gossip-peer".into(),
            gossip_peers.join(","),
        ];
        args.extend(self.extra.iter().cloned());
        args.extend(self.own[i].iter().cloned());
        if i >= self.in_genesis {
            args.push("--join".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let log = self.log(i);
        self.validators[i] = Some(NodeProcess::spawn(&data, &args, Some(&log)));
    }

    /// Validator `i`'s public key, hex.
    pub fn public_key(&self, i: usize) -> String {
        let key = self.dir.join(format!("validator-{}/validator.key", i + 1));
        let out = kyoto(
            "http://127.0.0.1:1",
            &self.dir,
            &[
                "--output",
                "json",
                "keys",
                "show",
                key.to_str().expect("utf-8 path"),
            ],
        )
        .json();
        out["publicKey"].as_str().unwrap_or_default().to_owned()
    }

    /// SIGKILL validator `i`.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut v) = self.validators[i].take() {
            v.kill9();
        }
    }

    /// SIGSTOP (`pause: true`) or SIGCONT validator `i`.
    pub fn pause(&self, i: usize, pause: bool) {
        if let Some(v) = &self.validators[i] {
            v.signal_stop(pause);
        }
    }

    /// SIGKILL validator `i` and delete its data (database and consensus log), keeping
    /// its key: restarted, it must replay the whole chain from its peers.
    pub fn wipe(&mut self, i: usize) {
        self.kill9(i);
        let data = self.dir.join(format!("validator-{}", i + 1));
        for sub in ["db", "wal"] {
            let _ = std::fs::remove_dir_all(data.join(sub));
        }
    }

    /// Whether validator `i` is running (not killed or wiped).
    pub fn is_running(&self, i: usize) -> bool {
        self.validators[i].is_some()
    }

    /// Starts an observer following validator `i`.
    pub fn start_observer(&mut self, i: usize) -> usize {
        let k = self.observers.len() + 1;
        let data = self.dir.join(format!("observer-{k}"));
        let url = self.node(i).url.clone();
        let genesis = self.genesis.display().to_string();
        let args = ["--observer", "--genesis", &genesis, "--sync-from", &url];
        let log = self.dir.join(format!("observer-{k}.log"));
        self.observers
            .push(NodeProcess::spawn(&data, &args, Some(&log)));
        k - 1
    }

    /// Cuts validator `i` off from every other validator.
    pub fn isolate(&self, i: usize) {
        for j in 0..self.n {
            for (a, b) in [(i, j), (j, i)] {
                if let Some((l, g)) = &self.links[a][b] {
                    l.cut();
                    g.cut();
                }
            }
        }
    }

    /// Sets the arguments of validator `i` alone, from its next start.
    pub fn set_own(&mut self, i: usize, args: &[&str]) {
        self.own[i] = args.iter().map(|a| (*a).to_owned()).collect();
    }

    /// Cuts the links between validators `i` and `j` (both ways), or heals them.
    pub fn link(&self, i: usize, j: usize, up: bool) {
        for (a, b) in [(i, j), (j, i)] {
            if let Some((l, g)) = &self.links[a][b] {
                if up {
                    l.heal();
                    g.heal();
                } else {
                    l.cut();
                    g.cut();
                }
            }
        }
    }

    /// Undoes [`Cluster::isolate`].
    pub fn heal(&self, i: usize) {
        for j in 0..self.n {
            for (a, b) in [(i, j), (j, i)] {
                if let Some((l, g)) = &self.links[a][b] {
                    l.heal();
                    g.heal();
                }
            }
        }
    }

    pub fn node(&self, i: usize) -> &NodeProcess {
        self.validators[i].as_ref().expect("validator is running")
    }

    /// Runs the CLI against validator `i` from the network directory (Party keys
    /// are `dev-keys/<CODE>.key`).
    pub fn kyoto(&self, i: usize, args: &[&str]) -> CliResult {
        kyoto(&self.node(i).url, &self.dir, args)
    }

    /// `kyoto status` of a node, as JSON.
    pub fn status(url: &str, cwd: &Path) -> serde_json::Value {
        kyoto(url, cwd, &["--output", "json", "status"]).json()
    }

    /// The height validator `i` reports.
    pub fn height(&self, i: usize) -> u64 {
        json_u64(&Self::status(&self.node(i).url, &self.dir)["height"])
    }

    /// Block `h` as node `url` has it: (block hash, state root after it).
    pub fn block_at(&self, url: &str, h: u64) -> (String, String) {
        let b = kyoto(
            url,
            &self.dir,
            &["--output", "json", "block", &h.to_string()],
        )
        .json();
        (
            b["blockHash"].as_str().unwrap_or_default().to_owned(),
            b["stateRoot"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Every running node's URL (validators, then observers).
    pub fn urls(&self) -> Vec<String> {
        self.validators
            .iter()
            .flatten()
            .chain(self.observers.iter())
            .map(|n| n.url.clone())
            .collect()
    }

    /// Waits until every node in `urls` has reached `height`; panics after `limit`.
    pub fn wait_all_at(&self, urls: &[String], height: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        for url in urls {
            loop {
                let h = json_u64(&Self::status(url, &self.dir)["height"]);
                if h >= height {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{url} is at height {h}, not {height}, after {limit:?} (logs in {})",
                    self.dir.display()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Asserts that every node in `urls` has the same block and state root at each
    /// height up to `height`.
    pub fn assert_same_chain(&self, urls: &[String], height: u64) {
        for h in 1..=height {
            let first = self.block_at(&urls[0], h);
            assert!(!first.0.is_empty(), "{} has no block {h}", urls[0]);
            for url in &urls[1..] {
                assert_eq!(
                    self.block_at(url, h),
                    first,
                    "{url} and {} differ at height {h}",
                    urls[0]
                );
            }
        }
    }

    /// The keys (hex) of the validators any log of this network names as having
    /// equivocated (`validators equivocated` lines, field `equivocators`).
    pub fn equivocators(&self) -> std::collections::BTreeSet<String> {
        let mut keys = std::collections::BTreeSet::new();
        for i in 0..self.n {
            let log = std::fs::read_to_string(self.log(i)).unwrap_or_default();
            for line in log.lines().filter(|l| l.contains("validators equivocated")) {
                let Some(rest) = line.split("\"equivocators\":\"").nth(1) else {
                    continue;
                };
                let list = rest.split('"').next().unwrap_or_default();
                keys.extend(list.split(',').filter(|k| !k.is_empty()).map(str::to_owned));
            }
        }
        keys
    }

    /// Whether any log of this network reports equivocation (double signing).
    pub fn equivocation_reported(&self) -> bool {
        (0..self.n).any(|i| {
            std::fs::read_to_string(self.log(i))
                .map(|l| l.contains("validators equivocated"))
                .unwrap_or(false)
        })
    }
}
