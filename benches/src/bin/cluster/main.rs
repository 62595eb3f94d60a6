//! `kyoto-cluster-bench`: starts a Kyoto Ledger network on loopback (real `kyotod`
//! processes: N validators in BFT consensus, or one dev node), offers pre-signed
//! transfers open-loop at a set rate through gRPC, and reports committed
//! transfers/s, submit→commit latency, blocks/s and memory per node, next to the
//! machine's ceiling measured in the same run. `--suite` runs every scenario of the
//! benchmark issue in one run and prints one table.
//!
//! ```sh
//! cargo build --release --workspace --bins
//! target/release/kyoto-cluster-bench --validators 4 --rate 6000 --duration 60 --json bench.json
//! target/release/kyoto-cluster-bench --validators 4 --rate 200 --duration 30      # latency
//! target/release/kyoto-cluster-bench --validators 40 --rate 100 --duration 30     # liveness
//! target/release/kyoto-cluster-bench --validators 4 --rate 3000 --catch-up        # replay speed
//! target/release/kyoto-cluster-bench --dev --rate 20000 --duration 20             # one dev node
//! target/release/kyoto-cluster-bench --dev --rate 20000 --duration 20 --batch 256 # SubmitTransactions
//! target/release/kyoto-cluster-bench --suite --rate 5000 --duration 600 --json suite.json
//! ```

mod ceiling;
mod network;
mod scenario;
mod wan;

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::json;

use crate::ceiling::Ceiling;
use crate::scenario::{Report, Scenario};

/// jemalloc, as in kyotod: the load generator shares the machine with the nodes.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Debug, Parser)]
#[command(
    about = "Throughput and latency of a loopback Kyoto Ledger network, against the machine's ceiling"
)]
struct Args {
    /// Validators in the network.
    #[arg(long, default_value_t = 4)]
    validators: u16,
    /// Run one dev node (`kyotod --dev`) instead of a BFT network.
    #[arg(long, conflicts_with = "suite")]
    dev: bool,
    /// Every scenario in one run: --validators at --rate for --duration with
    /// catch-up (the soak, with --duration 600), light load (200/s, 30 s), 40
    /// validators (100/s, 30 s), and one dev node at --dev-rate (30 s), its
    /// transfers submitted one by one and then 256 to a request.
    #[arg(long)]
    suite: bool,
    /// Offered load, transfers per second (open loop).
    #[arg(long, default_value_t = 6_000)]
    rate: u64,
    /// With --suite: the dev node's offered load.
    #[arg(long, default_value_t = 20_000)]
    dev_rate: u64,
    /// With --suite: the dev node's `--max-block-txs` (no consensus round per block,
    /// so larger blocks only amortise the per-block work).
    #[arg(long, default_value_t = 4_000)]
    dev_max_block_txs: u32,
    /// Seconds of offered load.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Seconds at the start not counted in the sustained rate and latency.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// The kyotod binary (default: next to this one).
    #[arg(long)]
    kyotod: Option<PathBuf>,
    /// Where the networks live (default: a temporary directory, removed at the end).
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
    /// Passed to every node.
    #[arg(long, default_value_t = 2_000)]
    max_block_txs: u32,
    /// Passed to every node: push clients back (`OVERLOADED`) past this much waiting
    /// work (0: never; the bench then only queues).
    #[arg(long, default_value_t = 1_000)]
    max_queue_delay_ms: u64,
    /// Validators across continents: every connection between two validators
    /// (consensus and gossip) delayed this many ms one way, through relays on loopback
    /// (0: plain loopback). Not with --dev.
    #[arg(long, default_value_t = 0)]
    wan_delay_ms: u64,
    /// Passed to every node: `--consensus-pubsub gossipsub` (votes and proposal parts
    /// over long-lived GossipSub streams) rather than `broadcast`.
    #[arg(long)]
    gossipsub: bool,
    /// With --wan-delay-ms: each chunk's delay varies by up to this many ms either way.
    #[arg(long, default_value_t = 10)]
    wan_jitter_ms: u64,
    /// With --wan-delay-ms: the share of chunks held a retransmission time (200 ms)
    /// longer, as a lost packet stalls a TCP stream.
    #[arg(long, default_value_t = 0.5)]
    wan_loss_percent: f64,
    /// Trader accounts opened per Party before the load, each signing its own
    /// transfers (0: the Parties' registry keys sign them all). A signer may queue at
    /// most 64 transactions ahead of its committed nonce, so the offered rate per
    /// signer must stay below 64 per commit latency.
    #[arg(long, default_value_t = 8)]
    traders: usize,
    /// Transfers per gRPC request: 1 submits each alone (`SubmitTransaction`), more
    /// submits what is due together (`SubmitTransactions`, up to this many; the
    /// node verifies their signatures in one batch).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    batch: u16,
    /// Passed to every node after the bench's own flags (repeat for each word), e.g.
    /// `--node-arg=--block-window-ms --node-arg=0`.
    #[arg(long = "node-arg", value_name = "ARG", allow_hyphen_values = true)]
    node_args: Vec<String>,
}

impl Args {
    fn scenarios(&self) -> Vec<Scenario> {
        let base = Scenario {
            name: String::new(),
            validators: usize::from(self.validators.max(1)),
            rate: self.rate,
            duration: self.duration,
            warmup: self.warmup,
            traders: self.traders,
            catch_up: self.catch_up,
            max_block_txs: self.max_block_txs,
            max_queue_delay_ms: self.max_queue_delay_ms,
            wan: (self.wan_delay_ms > 0).then(|| wan::Wan {
                delay: std::time::Duration::from_millis(self.wan_delay_ms),
                jitter: std::time::Duration::from_millis(self.wan_jitter_ms),
                loss_percent: self.wan_loss_percent,
            }),
            batch: usize::from(self.batch),
            gossipsub: self.gossipsub,
            node_args: self.node_args.clone(),
        };
        if !self.suite {
            let name = if self.dev {
                "dev node".to_owned()
            } else {
                let apart = if self.wan_delay_ms > 0 {
                    format!(", {} ms apart", self.wan_delay_ms)
                } else {
                    String::new()
                };
                let pubsub = if self.gossipsub { ", gossipsub" } else { "" };
                format!("{} validators{apart}{pubsub}", base.validators)
            };
            let validators = if self.dev { 0 } else { base.validators };
            return vec![Scenario {
                name,
                validators,
                ..base
            }];
        }
        vec![
            Scenario {
                name: "throughput".into(),
                catch_up: true,
                ..base.clone()
            },
            Scenario {
                name: "light load".into(),
                rate: 200,
                duration: 30,
                catch_up: false,
                ..base.clone()
            },
            Scenario {
                name: "40 validators".into(),
                validators: 40,
                rate: 100,
                duration: 30,
                catch_up: false,
                ..base.clone()
            },
            Scenario {
                name: "dev node".into(),
                validators: 0,
                rate: self.dev_rate,
                duration: 30,
                catch_up: false,
                batch: 1,
                max_block_txs: self.dev_max_block_txs,
                ..base.clone()
            },
            Scenario {
                name: "dev node, batched".into(),
                validators: 0,
                rate: self.dev_rate,
                duration: 30,
                catch_up: false,
                batch: 256,
                max_block_txs: self.dev_max_block_txs,
                ..base
            },
        ]
    }
}

/// A row of the table: its name and how a report shows it.
type Row<'a> = (&'static str, Box<dyn Fn(&Report) -> String + 'a>);

fn print_table(reports: &[Report], ceiling: &Ceiling) {
    let rows: Vec<Row> = vec![
        (
            "validators",
            Box::new(|r| match r.scenario.validators {
                0 => "1 (dev)".to_owned(),
                n => n.to_string(),
            }),
        ),
        (
            "offered (transfers/s) x seconds",
            Box::new(|r| format!("{} x {}", r.scenario.rate, r.scenario.duration)),
        ),
        (
            "most transactions per block",
            Box::new(|r| r.scenario.max_block_txs.to_string()),
        ),
        (
            "transfers per submission",
            Box::new(|r| r.scenario.batch.to_string()),
        ),
        (
            "committed transfers/s (sustained)",
            Box::new(|r| format!("{:.0}", r.sustained)),
        ),
        (
            "committed transfers/s (whole run)",
            Box::new(|r| format!("{:.0}", r.overall)),
        ),
        (
            "submitted / not committed",
            Box::new(|r| format!("{} / {}", r.submitted, r.not_committed)),
        ),
        (
            "latency p50 (ms)",
            Box::new(|r| format!("{:.1}", r.latency[0])),
        ),
        (
            "latency p90 (ms)",
            Box::new(|r| format!("{:.1}", r.latency[1])),
        ),
        (
            "latency p99 (ms)",
            Box::new(|r| format!("{:.1}", r.latency[2])),
        ),
        (
            "latency max (ms)",
            Box::new(|r| format!("{:.1}", r.latency[3])),
        ),
        (
            "admitted→commit p50 / p99 (ms)",
            Box::new(|r| {
                format!(
                    "{:.1} / {:.1}",
                    r.admitted_latency[0], r.admitted_latency[2]
                )
            }),
        ),
        (
            "pushed back (OVERLOADED, sent again)",
            Box::new(|r| r.pushed_back.to_string()),
        ),
        ("blocks/s", Box::new(|r| format!("{:.2}", r.blocks_per_s))),
        ("blocks in the run", Box::new(|r| r.blocks.to_string())),
        (
            "peak RSS, largest node (MiB)",
            Box::new(|r| {
                r.memory
                    .peak
                    .iter()
                    .max()
                    .map_or("-".into(), |m| m.to_string())
            }),
        ),
        (
            "RSS after warm-up / half-way / end (MiB)",
            Box::new(|r| {
                format!(
                    "{} / {} / {}",
                    r.memory.after_warmup, r.memory.half_way, r.memory.at_end
                )
            }),
        ),
        (
            "node CPU per committed transfer, all nodes (us)",
            Box::new(|r| format!("{:.0}", r.cpu.nodes_us_per_transfer)),
        ),
        (
            "machine CPU used by nodes / load generator",
            Box::new(|r| {
                format!(
                    "{:.0} % / {:.0} %",
                    100.0 * r.cpu.nodes_share,
                    100.0 * r.cpu.load_share
                )
            }),
        ),
        (
            "ceiling for these nodes (transfers/s)",
            Box::new(|r| format!("{:.0}", ceiling.for_validators(r.scenario.nodes()))),
        ),
        (
            "sustained / ceiling",
            Box::new(|r| {
                format!(
                    "{:.0} %",
                    100.0 * r.sustained / ceiling.for_validators(r.scenario.nodes())
                )
            }),
        ),
        (
            "catch-up: blocks, seconds",
            Box::new(|r| {
                r.catch_up
                    .as_ref()
                    .map_or("-".into(), |c| format!("{}, {:.1}", c.blocks, c.seconds))
            }),
        ),
        (
            "catch-up: transfers/s (x live)",
            Box::new(|r| {
                r.catch_up.as_ref().map_or("-".into(), |c| {
                    format!("{:.0} ({:.1} x)", c.per_s, c.per_s / r.overall.max(1e-9))
                })
            }),
        ),
    ];
    let width = 22;
    println!();
    print!("{:<42}", "figure");
    for r in reports {
        print!(" {:>width$}", r.scenario.name);
    }
    println!();
    for (name, f) in &rows {
        print!("{name:<42}");
        for r in reports {
            print!(" {:>width$}", f(r));
        }
        println!();
    }
    println!();
    println!(
        "machine: {} cores; ed25519 verify on 1 core {:.0}/s single, {:.0}/s batched (512); ledger apply on sled {:.0} transfers/s",
        ceiling.cores,
        ceiling.verify_single_per_s,
        ceiling.verify_batched_per_s,
        ceiling.apply_sled_per_s
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
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
    println!("measuring the machine's ceiling ...");
    let ceiling = tokio::task::spawn_blocking(ceiling::measure).await??;
    println!(
        "  {} cores; ed25519 verify {:.0}/s single, {:.0}/s batched (512); ledger apply on sled {:.0} transfers/s",
        ceiling.cores,
        ceiling.verify_single_per_s,
        ceiling.verify_batched_per_s,
        ceiling.apply_sled_per_s
    );
    println!(
        "  ceiling: {:.0} transfers/s for one node, {:.0} for 4 validators",
        ceiling.for_validators(1),
        ceiling.for_validators(4)
    );
    let tmp = tempfile::tempdir()?;
    let root = args.dir.clone().unwrap_or_else(|| tmp.path().to_owned());
    let mut reports = Vec::new();
    for (i, s) in args.scenarios().into_iter().enumerate() {
        println!("== {} ==", s.name);
        let dir = root.join(format!("{}-{}", i + 1, s.name.replace(' ', "-")));
        reports.push(scenario::run(&s, &kyotod, &dir).await?);
    }
    print_table(&reports, &ceiling);
    if let Some(path) = &args.json {
        let mut ceiling_json = ceiling.json();
        ceiling_json["per_s_one_node"] = json!(ceiling.for_validators(1));
        let out = json!({
            "ceiling": ceiling_json,
            "scenarios": reports.iter().map(|r| {
                let mut j = r.json();
                let c = ceiling.for_validators(r.scenario.nodes());
                j["ceiling_per_s"] = json!(c);
                j["fraction_of_ceiling"] = json!(r.sustained / c);
                j
            }).collect::<Vec<_>>(),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&out)?)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
