//! Prometheus metrics of a node (`kyotod --metrics-addr`): what commits, how fast, what
//! waits, who is connected, what the API serves. They live in the registry Malachite
//! registers its own consensus metrics in (round, step, votes, sync), so that one
//! endpoint serves both; the binary registers them and serves the text format.
//!
//! Every label set is bounded: refusal codes are the ledger's and the node's own, gRPC
//! methods are those the service has (an unknown path counts as `unknown`), swarms are
//! `consensus` and `gossip`.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// A committed transaction's outcome: `applied`, or its refusal code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

/// A gRPC method (its path) and the status code it answered.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrpcLabels {
    pub method: String,
    pub code: String,
}

/// One of the node's two libp2p swarms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SwarmLabel {
    pub swarm: String,
}

/// The node's metrics. Cheap to update (atomics); a node that serves no metrics
/// updates them all the same.
#[derive(Debug)]
pub struct NodeMetrics {
    pub height: Gauge,
    pub block_timestamp_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    pub blocks_committed: Counter,
    pub transactions_committed: Family<OutcomeLabel, Counter>,
    pub submit_to_commit_seconds: Histogram,
    pub block_check_seconds: Histogram,
    pub block_apply_seconds: Histogram,
    pub block_write_seconds: Histogram,
    pub mempool_transactions: Gauge,
    pub mempool_bytes: Gauge,
    pub pushed_back: Counter,
    pub peers_connected: Family<SwarmLabel, Gauge>,
    pub peers_configured: Family<SwarmLabel, Gauge>,
    pub observer_verification_failures: Counter,
    pub grpc_requests: Family<GrpcLabels, Counter>,
    pub resident_memory_bytes: Gauge,
    pub open_fds: Gauge,
}

/// Buckets from 1 ms to about 33 s, doubling.
fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 16)
}

/// Buckets from 50 µs to about 1.6 s, doubling.
fn duration_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.000_05, 2.0, 16)
}

impl Default for NodeMetrics {
    fn default() -> Self {
        NodeMetrics {
            height: Gauge::default(),
            block_timestamp_seconds: Gauge::default(),
            blocks_committed: Counter::default(),
            transactions_committed: Family::default(),
            submit_to_commit_seconds: Histogram::new(latency_buckets()),
            block_check_seconds: Histogram::new(duration_buckets()),
            block_apply_seconds: Histogram::new(duration_buckets()),
            block_write_seconds: Histogram::new(duration_buckets()),
            mempool_transactions: Gauge::default(),
            mempool_bytes: Gauge::default(),
            pushed_back: Counter::default(),
            peers_connected: Family::default(),
            peers_configured: Family::default(),
            observer_verification_failures: Counter::default(),
            grpc_requests: Family::default(),
            resident_memory_bytes: Gauge::default(),
            open_fds: Gauge::default(),
        }
    }
}

fn gauge_value(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

impl NodeMetrics {
    /// Registers every metric in `registry` (the caller gives it the `kyoto` prefix).
    pub fn register(&self, r: &mut Registry) {
        r.register("height", "Committed height", self.height.clone());
        r.register_with_unit(
            "block_timestamp",
            "Timestamp of the last committed block (ledger time)",
            Unit::Seconds,
            self.block_timestamp_seconds.clone(),
        );
        r.register(
            "blocks_committed",
            "Blocks committed since start (rate(): blocks per second)",
            self.blocks_committed.clone(),
        );
        r.register(
            "transactions_committed",
            "Transactions committed in blocks, by outcome: applied or the refusal code",
            self.transactions_committed.clone(),
        );
        r.register_with_unit(
            "submit_to_commit",
            "From admission to this node's mempool to commit, for the transactions it admitted",
            Unit::Seconds,
            self.submit_to_commit_seconds.clone(),
        );
        r.register_with_unit(
            "block_check",
            "Checking a decided or received block (encoding, signatures, roots)",
            Unit::Seconds,
            self.block_check_seconds.clone(),
        );
        r.register_with_unit(
            "block_apply",
            "Applying a block through the ledger rules",
            Unit::Seconds,
            self.block_apply_seconds.clone(),
        );
        r.register_with_unit(
            "block_write",
            "Writing a block and its state changes to disk, fsync included",
            Unit::Seconds,
            self.block_write_seconds.clone(),
        );
        r.register(
            "mempool_transactions",
            "Transactions waiting in the mempool",
            self.mempool_transactions.clone(),
        );
        r.register_with_unit(
            "mempool",
            "Bytes of the transactions waiting in the mempool",
            Unit::Bytes,
            self.mempool_bytes.clone(),
        );
        r.register(
            "transactions_pushed_back",
            "Client transactions refused with OVERLOADED: more work waited than the network commits in --max-queue-delay-ms",
            self.pushed_back.clone(),
        );
        r.register(
            "peers_connected",
            "Peers connected, by swarm",
            self.peers_connected.clone(),
        );
        r.register(
            "peers_configured",
            "Peers configured (--peer, --gossip-peer), by swarm",
            self.peers_configured.clone(),
        );
        r.register(
            "observer_verification_failures",
            "Blocks an observer received that failed verification",
            self.observer_verification_failures.clone(),
        );
        r.register(
            "grpc_requests",
            "gRPC requests answered, by method and status code",
            self.grpc_requests.clone(),
        );
        r.register_with_unit(
            "process_resident_memory",
            "Resident memory of the process",
            Unit::Bytes,
            self.resident_memory_bytes.clone(),
        );
        r.register(
            "process_open_fds",
            "Open file descriptors of the process",
            self.open_fds.clone(),
        );
    }

    /// Counts a committed block: its height and time, its transactions' outcomes, and
    /// how long it took to check, apply and write.
    pub fn committed(&self, block: &crate::store::StoredBlock, timings: BlockTimings) {
        self.height.set(gauge_value(block.height()));
        self.block_timestamp_seconds
            .set(block.timestamp_ms() as f64 / 1000.0);
        self.blocks_committed.inc();
        // Counted per block, not per transaction: one label lookup for the applied
        // ones, one per refusal (rare).
        let mut applied = 0u64;
        for r in &block.receipts {
            match &r.outcome {
                Some(crate::store::StoredOutcome::Refused(f)) => {
                    self.transactions_committed
                        .get_or_create(&OutcomeLabel {
                            outcome: f.code.clone(),
                        })
                        .inc();
                }
                _ => applied += 1,
            }
        }
        if applied > 0 {
            self.transactions_committed
                .get_or_create(&OutcomeLabel {
                    outcome: "applied".to_owned(),
                })
                .inc_by(applied);
        }
        if let Some(check) = timings.check {
            self.block_check_seconds.observe(check.as_secs_f64());
        }
        self.block_apply_seconds
            .observe(timings.apply.as_secs_f64());
        self.block_write_seconds
            .observe(timings.write.as_secs_f64());
    }

    /// The time from admission to commit of transactions this node had admitted.
    pub fn waited(&self, waits: &[Duration]) {
        for w in waits {
            self.submit_to_commit_seconds.observe(w.as_secs_f64());
        }
    }

    /// Sets a swarm's connected and configured peers.
    pub fn peers(&self, swarm: &str, connected: usize, configured: usize) {
        let label = SwarmLabel {
            swarm: swarm.to_owned(),
        };
        self.peers_connected
            .get_or_create(&label)
            .set(gauge_value(connected));
        self.peers_configured
            .get_or_create(&label)
            .set(gauge_value(configured));
    }

    /// Counts a gRPC request by method (`unknown` for a path the service does not
    /// have, which it answered `UNIMPLEMENTED`) and status code.
    pub fn grpc_request(&self, path: &str, code: i32) {
        let method = if code == tonic::Code::Unimplemented as i32 {
            "unknown".to_owned()
        } else {
            path.to_owned()
        };
        let code = format!("{:?}", tonic::Code::from_i32(code));
        self.grpc_requests
            .get_or_create(&GrpcLabels { method, code })
            .inc();
    }

    /// Reads the process's resident memory and open files (Linux `/proc`; elsewhere
    /// they stay 0).
    pub fn sample_process(&self) {
        if let Ok(statm) = std::fs::read_to_string("/proc/self/statm") {
            let pages: u64 = statm
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            // 4 KiB pages on every Linux this node targets.
            self.resident_memory_bytes
                .set(gauge_value(pages.saturating_mul(4096)));
        }
        if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
            self.open_fds.set(gauge_value(dir.count()));
        }
    }
}

/// How long a block took: checking (`None` for a block built here), applying, writing.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockTimings {
    pub check: Option<Duration>,
    pub apply: Duration,
    pub write: Duration,
}
