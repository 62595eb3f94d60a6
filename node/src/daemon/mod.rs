//! `kyotod` start-up: arguments, data directory, genesis, logging, and the tasks
//! (gRPC server, block producer) until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use arc_malachitebft_app_channel::app::net::Multiaddr;
use clap::{Parser, ValueEnum};
use tokio::sync::watch;

use kyoto_node::chain::ChainError;
use kyoto_node::consensus;
use kyoto_node::gossip;
use kyoto_node::node::{Node, Role};
use kyoto_node::rpc;

mod ceremony;
pub mod config;
mod metrics;
mod restore;
mod setup;
mod tls;
mod web;

use setup::{init_home, init_network, open_chain};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

/// How votes and proposal parts travel between validators (`consensus::Pubsub`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConsensusPubsub {
    /// Straight to each peer, a stream per message: least CPU, one round trip more per
    /// message (LAN, one continent).
    Broadcast,
    /// GossipSub over long-lived streams: one-way delay only, more CPU (validators far
    /// apart).
    Gossipsub,
}

/// The Kyoto Ledger node.
#[derive(Debug, Parser)]
#[command(name = "kyotod", version, about = "Kyoto Ledger node: holds and moves Kyoto Protocol units", long_about = None)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A TOML file of settings: each key a flag's long name (`grpc-addr = "…"`).
    /// Flags and environment variables win over it; `kyotod config-template` prints
    /// every key.
    #[arg(long, value_name = "FILE", env = "KYOTOD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Run a single-validator dev chain with the built-in genesis (all Annex B Parties;
    /// Party keys are written to <data-dir>/dev-keys/<CODE>.key). With --genesis and
    /// --validator-key: that genesis (one validator, whose key is given) with the dev
    /// clock, so that any Party set's treaty history can be replayed.
    #[arg(long)]
    pub dev: bool,
    /// A genesis file (JSON) for a real network; needs --validator-key.
    #[arg(long, value_name = "FILE", env = "KYOTOD_GENESIS")]
    pub genesis: Option<PathBuf>,
    /// This node's validator key (PKCS#8 PEM), with --genesis.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "observer",
        env = "KYOTOD_VALIDATOR_KEY"
    )]
    pub validator_key: Option<PathBuf>,
    /// With --validator-key: the key is not (yet) a validator of this network. The node
    /// follows consensus without voting and starts voting once governance adds its key
    /// (`kyoto gov propose ... add-validator`).
    #[arg(long)]
    pub join: bool,
    /// Run a read-only replica that follows a validator and verifies every block's
    /// commit certificate and transactions (needs --genesis and --sync-from).
    #[arg(long, conflicts_with = "dev")]
    pub observer: bool,
    /// The validators' gRPC URLs an observer follows (repeat, or separate with
    /// commas); it follows the first that answers and moves to the next when that
    /// one fails. Every block is verified whoever serves it.
    #[arg(
        long,
        value_name = "URL",
        value_delimiter = ',',
        num_args = 1..
    )]
    pub sync_from: Vec<String>,
    /// Where blocks, state and (in dev mode) keys are kept.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./.kyoto-dev",
        env = "KYOTO_DATA_DIR"
    )]
    pub data_dir: PathBuf,
    /// gRPC listen address (port 0 picks a free port; the address is printed).
    #[arg(
        long,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:50051",
        env = "KYOTOD_GRPC_ADDR"
    )]
    pub grpc_addr: SocketAddr,
    /// TLS on the gRPC API: this node's certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", env = "KYOTOD_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "FILE", env = "KYOTOD_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// With --tls-cert: serve only clients that present a certificate signed by this CA
    /// (PEM), e.g. a registry's back office.
    #[arg(long, value_name = "FILE", env = "KYOTOD_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// Observers: the CA certificate (PEM) that https:// --sync-from URLs are checked
    /// against (default: the system's roots).
    #[arg(long, value_name = "FILE", env = "KYOTOD_SYNC_CA_CERT")]
    pub sync_ca_cert: Option<PathBuf>,
    /// Most gRPC connections served at once; one more is closed at once (and logged).
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub grpc_max_connections: u32,
    /// Most gRPC connections served at once from one IP address.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub grpc_max_connections_per_ip: u32,
    /// Most gRPC requests per second on one connection (0: no limit); past it a
    /// request is refused with RESOURCE_EXHAUSTED, reason RATE_LIMITED.
    #[arg(long, default_value_t = 50_000)]
    pub grpc_requests_per_sec: u32,
    /// Serve Prometheus metrics (the node's and Malachite's) on http://HOST:PORT/metrics
    /// (off unless given; port 0 picks a free port, printed).
    #[arg(long, value_name = "HOST:PORT", env = "KYOTOD_METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,
    /// Serve the read-only web explorer and its JSON API (/api/v1/) on http://HOST:PORT/
    /// (`off` for none). Default: off, but on a dev node 127.0.0.1:8080 (left off if
    /// that port is taken).
    #[arg(long, value_name = "HOST:PORT|off", env = "KYOTOD_HTTP_ADDR", value_parser = web::parse_addr)]
    pub http_addr: Option<web::HttpAddr>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Most transactions in one block.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..=4_000))]
    pub max_block_txs: u32,
    /// How long to wait for more transactions before cutting a block that is not full.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub block_window_ms: u64,
    /// Push a client's transactions back (`OVERLOADED`, gRPC RESOURCE_EXHAUSTED: retry
    /// shortly) while more wait than the network commits in this many milliseconds (and
    /// at least two blocks' worth); 0: never.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(0..=600_000))]
    pub max_queue_delay_ms: u64,
    /// Most transactions waiting in the mempool.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub mempool_max_txs: u32,
    /// Most bytes of transactions waiting in the mempool, MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub mempool_max_mib: u32,
    /// How far ahead of its committed nonce a signer may queue transactions
    /// (`NONCE_TOO_HIGH` past it).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub max_nonce_ahead: u64,
    /// Most transactions waiting behind a gap in their signer's nonces, in all
    /// (`MEMPOOL_FULL` past it).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub mempool_max_parked: u32,
    /// Most transactions of one signer waiting behind a gap in its nonces
    /// (`NONCE_GAP_LIMIT` past it).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub mempool_max_parked_per_signer: u32,
    /// Seconds a transaction waits behind a gap in its signer's nonces before it is
    /// dropped.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub mempool_parked_ttl_secs: u64,
    /// Validators: libp2p listen address of the consensus network.
    #[arg(
        long,
        value_name = "MULTIADDR",
        default_value = "/ip4/0.0.0.0/tcp/26656",
        env = "KYOTOD_P2P_ADDR"
    )]
    pub p2p_addr: Multiaddr,
    /// Validators: another validator's consensus address (repeat, or separate with
    /// commas), e.g. /ip4/10.0.0.2/tcp/26656.
    #[arg(
        long = "peer",
        value_name = "MULTIADDR",
        value_delimiter = ',',
        env = "KYOTOD_PEERS"
    )]
    pub peers: Vec<Multiaddr>,
    /// Validators: libp2p listen address of transaction gossip.
    #[arg(
        long,
        value_name = "MULTIADDR",
        default_value = "/ip4/0.0.0.0/tcp/26657",
        env = "KYOTOD_GOSSIP_ADDR"
    )]
    pub gossip_addr: Multiaddr,
    /// Validators: another validator's transaction-gossip address (repeat, or
    /// separate with commas), e.g. /ip4/10.0.0.2/tcp/26657.
    #[arg(
        long = "gossip-peer",
        value_name = "MULTIADDR",
        value_delimiter = ',',
        env = "KYOTOD_GOSSIP_PEERS"
    )]
    pub gossip_peers: Vec<Multiaddr>,
    /// Validators: how votes and proposal parts travel (every validator of a network
    /// the same): `broadcast` opens a stream per message (one round trip more each),
    /// `gossipsub` keeps streams open (more CPU); see the README's WAN figures.
    #[arg(long, value_enum, default_value_t = ConsensusPubsub::Broadcast, env = "KYOTOD_CONSENSUS_PUBSUB")]
    pub consensus_pubsub: ConsensusPubsub,
    /// Validators: refuse a proposed block timestamped more than this far ahead of
    /// this node's clock.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub max_clock_drift_ms: u64,
    /// Validators: how long a proposer waits for transactions before proposing an
    /// empty block (at most half the propose timeout, 3 s).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub empty_block_interval_ms: u64,
    /// Test-only build (feature `byzantine`): the lies this validator tells, e.g.
    /// `equivocate,bad-parent` (node/src/consensus/byzantine.rs lists them).
    #[cfg(feature = "byzantine")]
    #[arg(long, hide = true, value_name = "LIES", default_value = "")]
    pub byzantine: consensus::byzantine::Lies,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print every setting as a commented config file for `kyotod --config FILE`, each
    /// with its help and default.
    ConfigTemplate,
    /// A genesis ceremony between registries: `draft`, then `statement` at each
    /// registry, `collect`, and `validate` at each registry.
    Genesis {
        #[command(subcommand)]
        step: ceremony::Step,
    },
    /// Restore a node's data directory from a backup file (`kyoto backup`), verifying
    /// every block's commit certificate and transactions first; then start the node on
    /// it as before (validator, observer, or `--dev --genesis … --validator-key …`).
    Restore {
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        backup: PathBuf,
        /// The network's genesis.
        #[arg(long, value_name = "FILE")]
        genesis: PathBuf,
        /// The new data directory (it must hold no chain).
        #[arg(long, value_name = "DIR")]
        data_dir: PathBuf,
    },
    /// Writes a genesis with N validators and every key a test network needs:
    /// DIR/genesis.json, DIR/validator-<i>/validator.key and the Party, CDM board and
    /// Depositary keys in DIR/dev-keys/<CODE>.key. Refuses to overwrite a genesis.
    Init {
        /// How many validators.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=200))]
        validators: u16,
        /// Where to write the files.
        #[arg(long, value_name = "DIR", default_value = "./.kyoto-testnet")]
        dir: PathBuf,
        /// The chain id.
        #[arg(long, default_value = "kyoto-testnet")]
        chain_id: String,
        /// Notice before voting opens on a proposal, months (the treaty: 6).
        #[arg(long, default_value_t = 6)]
        notice_months: u32,
        /// Test networks: a voting session lasts this many seconds instead of 14 days
        /// (0 = the treaty durations).
        #[arg(long, default_value_t = 0)]
        session_seconds: u32,
        /// The Parties, as a CSV table in the layout of node/ledger/data/parties.csv
        /// (default: the built-in table of every Party and signatory).
        #[arg(long, value_name = "FILE")]
        parties: Option<PathBuf>,
        /// Instead of a test network: one node's home directory for a network whose
        /// genesis is agreed — DIR/config.toml (every setting, commented, with the
        /// node's files set), DIR/validator.key (kept if there, as `kyotod genesis
        /// statement` made it) and DIR/genesis.json. Start it with `kyotod --config
        /// DIR/config.toml`.
        #[arg(long, value_name = "DIR", requires = "genesis", conflicts_with_all = ["validators", "dir", "chain_id", "parties"])]
        home: Option<PathBuf>,
        /// With --home: the network's genesis (checked, its ceremony validated).
        #[arg(long, value_name = "FILE", requires = "home")]
        genesis: Option<PathBuf>,
        /// With --home: an observer's home, following these validators' gRPC URLs (no
        /// validator key).
        #[arg(long, value_name = "URL", requires = "home", value_delimiter = ',')]
        observe: Vec<String>,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // Consensus chatter (each vote received, the validator set restated at every
        // height) is for debugging; the node logs each commit itself.
        tracing_subscriber::EnvFilter::new(
            "info,sled=warn,h2=warn,tower=warn,arc_malachitebft_core_consensus::handle::vote=warn,arc_malachitebft_engine::network=warn",
        )
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Observers: follow a validator's committed blocks, verify each and commit it; on a
/// lost connection, reconnect. An invalid block or a diverging state stops the node.
async fn run_sync(
    node: Arc<Node>,
    urls: Vec<String>,
    tls: Option<tonic::transport::ClientTlsConfig>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    use kyoto_proto::v1::{GetStatusRequest, StreamBlocksRequest, ledger_client::LedgerClient};
    if urls.is_empty() {
        bail!("an observer needs --sync-from URL");
    }
    let mut turn = 0usize;
    loop {
        let url = urls[turn % urls.len()].clone();
        turn = turn.wrapping_add(1);
        let from_height = node.chain().map_err(|e| anyhow::anyhow!("{e}"))?.height() + 1;
        let stream = async {
            let channel = tls::endpoint(&url, tls.as_ref())?.connect().await?;
            let mut client = LedgerClient::new(channel).max_decoding_message_size(64 * 1024 * 1024);
            // How far ahead the validator is: this node is behind until it has caught
            // up. A server that does not say still serves blocks, each verified.
            let head = client
                .get_status(GetStatusRequest {})
                .await
                .ok()
                .map(|s| s.into_inner().height);
            node.note_following(true, head);
            let stream = client
                .stream_blocks(StreamBlocksRequest { from_height })
                .await?
                .into_inner();
            anyhow::Ok(stream)
        };
        let mut stream = match stream.await {
            Ok(s) => s,
            Err(e) => {
                node.note_following(false, None);
                tracing::warn!(%url, error = %e, "cannot reach the validator; trying the next");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => continue,
                    _ = shutdown.changed() => return Ok(()),
                }
            }
        };
        tracing::info!(%url, from_height, "following the validator");
        loop {
            let next = tokio::select! {
                m = stream.message() => m,
                _ = shutdown.changed() => return Ok(()),
            };
            match next {
                Ok(Some(block)) => {
                    let shown = block
                        .block
                        .as_ref()
                        .and_then(|b| b.header.as_ref())
                        .map(|h| h.height);
                    node.note_following(true, shown);
                    let n = Arc::clone(&node);
                    let applied = tokio::task::spawn_blocking(move || n.apply_synced(&block))
                        .await
                        .map_err(|e| anyhow::anyhow!("sync task failed: {e}"))?;
                    match applied {
                        Ok(height) => tracing::info!(height, "verified and committed block"),
                        // A forged or malformed block changes nothing here: refuse it
                        // and follow another validator.
                        Err(ChainError::InvalidBlock(reason)) => {
                            tracing::error!(%url, code = reason.code(), %reason, "refused a block that does not verify; following another validator");
                            tokio::select! {
                                () = tokio::time::sleep(Duration::from_secs(1)) => break,
                                _ = shutdown.changed() => return Ok(()),
                            }
                        }
                        Err(e) => {
                            return Err(anyhow::Error::new(e)
                                .context(format!("applying the block {url} served")));
                        }
                    }
                }
                Ok(None) => {
                    node.note_following(false, None);
                    break;
                }
                Err(e) => {
                    node.note_following(false, None);
                    tracing::warn!(%url, error = %e, "block stream interrupted; reconnecting");
                    break;
                }
            }
        }
    }
}

/// Runs the node until Ctrl-C or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(Command::ConfigTemplate) = &args.command {
        print!("{}", config::template());
        return Ok(());
    }
    if let Some(Command::Genesis { step }) = &args.command {
        return ceremony::run(step);
    }
    if let Some(Command::Restore {
        backup,
        genesis,
        data_dir,
    }) = &args.command
    {
        return restore::restore(backup, genesis, data_dir);
    }
    if let Some(Command::Init {
        validators,
        dir,
        chain_id,
        notice_months,
        session_seconds,
        parties,
        home,
        genesis,
        observe,
    }) = &args.command
    {
        if let (Some(home), Some(genesis)) = (home, genesis) {
            return init_home(home, genesis, observe);
        }
        return init_network(
            *validators,
            dir,
            chain_id,
            *notice_months,
            *session_seconds,
            parties.as_deref(),
        );
    }
    init_logging(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(run_async(args))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn run_async(args: Args) -> anyhow::Result<()> {
    setup::check_combinations(&args)?;
    let server_tls = tls::server_config(&args)?;
    let sync_tls = tls::sync_config(&args)?;
    let (chain, role) = open_chain(&args)?;
    tracing::info!(
        chain_id = chain.state().chain_id(),
        height = chain.height(),
        state_root = %hex::encode(chain.state_root()),
        data_dir = %args.data_dir.display(),
        "chain opened"
    );
    let config = setup::node_config(&args);
    let observer = matches!(role, Role::Observer);
    let node = Node::new(chain, config, role);
    let listener = rpc::bind(args.grpc_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.grpc_addr))?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    node.metrics()
        .height
        .set(i64::try_from(node.chain()?.height()).unwrap_or(i64::MAX));
    if let Some(metrics_addr) = args.metrics_addr {
        metrics::serve(&node, metrics_addr, stop_rx.clone()).await?;
    }
    web::start(&node, args.http_addr.as_ref(), args.dev, stop_rx.clone()).await?;
    let producer = if observer {
        let urls = args.sync_from.clone();
        tokio::spawn(run_sync(Arc::clone(&node), urls, sync_tls, stop_rx.clone()))
    } else if !args.dev {
        let wal_dir = args.data_dir.join("wal");
        std::fs::create_dir_all(&wal_dir)
            .with_context(|| format!("cannot create {}", wal_dir.display()))?;
        let settings = consensus::NetworkSettings {
            moniker: format!("kyotod-{}", addr.port()),
            listen: args.p2p_addr.clone(),
            peers: args.peers.clone(),
            wal_path: wal_dir.join("consensus.wal"),
            pubsub: match args.consensus_pubsub {
                ConsensusPubsub::Broadcast => consensus::Pubsub::Broadcast,
                ConsensusPubsub::Gossipsub => consensus::Pubsub::GossipSub,
            },
            rules: consensus::proposal::ProposalRules {
                max_clock_drift: Duration::from_millis(args.max_clock_drift_ms),
                empty_block_interval: Duration::from_millis(args.empty_block_interval_ms),
                #[cfg(feature = "byzantine")]
                lies: args.byzantine.clone(),
            },
        };
        if let Some(key) = node.validator_key() {
            let (outbox_tx, outbox_rx) = tokio::sync::mpsc::channel(gossip::OUTBOX);
            node.set_gossip(outbox_tx);
            let gossip_settings = gossip::GossipSettings {
                listen: args.gossip_addr.clone(),
                peers: args.gossip_peers.clone(),
            };
            let keypair = gossip::keypair(key)?;
            let (n, stop) = (Arc::clone(&node), stop_rx.clone());
            tokio::spawn(async move {
                if let Err(e) = gossip::run(n, keypair, gossip_settings, outbox_rx, stop).await {
                    tracing::error!("transaction gossip stopped: {e:#}");
                }
            });
        }
        let validator = consensus::run_validator(Arc::clone(&node), settings, stop_rx.clone());
        tokio::spawn(async move { validator.await.map_err(anyhow::Error::new) })
    } else {
        let producer = Arc::clone(&node).run_producer(stop_rx.clone());
        tokio::spawn(async move { producer.await.map_err(anyhow::Error::new) })
    };
    let mut server_stop = stop_rx.clone();
    let grpc_limits = rpc::GrpcLimits {
        max_connections: args.grpc_max_connections as usize,
        max_connections_per_ip: args.grpc_max_connections_per_ip as usize,
        requests_per_sec: args.grpc_requests_per_sec,
    };
    let scheme = if server_tls.is_some() {
        "https"
    } else {
        "http"
    };
    tls::warn_if_plaintext(addr, server_tls.is_some());
    let server = tokio::spawn(rpc::serve(
        Arc::clone(&node),
        listener,
        grpc_limits,
        server_tls,
        async move {
            let _ = server_stop.wait_for(|s| *s).await;
        },
    ));
    println!("kyotod: gRPC listening on {scheme}://{addr}");
    tracing::info!(%addr, "serving gRPC (kyoto.v1.Ledger, health, reflection)");

    let mut producer = producer;
    let mut server = server;
    let result = tokio::select! {
        () = shutdown_signal() => {
            tracing::info!("shutting down");
            Ok(())
        }
        r = &mut producer => match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.context(if observer { "block sync stopped" } else if args.dev { "block producer stopped" } else { "consensus stopped" })),
            Err(e) => Err(anyhow::anyhow!("block producer panicked: {e}")),
        },
        r = &mut server => match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("gRPC server stopped")),
            Err(e) => Err(anyhow::anyhow!("gRPC server panicked: {e}")),
        },
    };
    let _ = stop_tx.send(true);
    // Let a block being committed finish; the store is consistent either way.
    let _ = tokio::time::timeout(Duration::from_secs(5), producer).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    result
}
