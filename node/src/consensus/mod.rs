//! BFT consensus among the validators: Malachite (Tendermint) drives the rounds;
//! this module gives it Kyoto Ledger's types, signatures and codec, and runs the
//! application side of the engine (building, checking, storing and committing
//! blocks). The ledger itself still sees only committed blocks.

pub mod app;
#[cfg(feature = "byzantine")]
pub mod byzantine;
pub mod certificate;
pub mod codec;
pub mod context;
pub mod error;
pub mod proposal;
pub mod quorum;
pub mod signing;
pub mod streams;

use crate::consensus::error::{ConsensusError, ConsensusResult};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_malachitebft_app_channel::app::config::{
    ConsensusConfig, NodeConfig as EngineConfig, PubSubProtocol, ValueSyncConfig,
};
use arc_malachitebft_app_channel::app::net::Multiaddr;
use arc_malachitebft_app_channel::app::types::Keypair;
use arc_malachitebft_app_channel::app::types::codec::Codec;
use arc_malachitebft_app_channel::{
    ConsensusContext, EngineBuilder, NetworkContext, NetworkIdentity, RequestContext, Signer,
    SyncContext, WalContext,
};
use tokio::sync::watch;
use tracing::Instrument;

use self::app::App;
use self::codec::KyotoCodec;
use self::context::KyotoContext;
use self::proposal::ProposalRules;
use self::signing::{KyotoSigner, KyotoVerifier};
use crate::node::Node;

/// Where a validator listens and whom it connects to.
#[derive(Clone, Debug)]
pub struct NetworkSettings {
    /// This node's name in logs and metrics.
    pub moniker: String,
    /// libp2p listen address of the consensus network, e.g. `/ip4/0.0.0.0/tcp/26656`.
    pub listen: Multiaddr,
    /// The other validators' consensus addresses (static bootstrap peers).
    pub peers: Vec<Multiaddr>,
    /// The engine's write-ahead log (votes and proposals of the current height).
    pub wal_path: PathBuf,
    pub rules: ProposalRules,
    /// How votes and proposal parts travel between validators.
    pub pubsub: Pubsub,
}

/// How votes and proposal parts travel between validators. Every validator of a network
/// must use the same.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pubsub {
    /// Straight to every peer (Malachite's Broadcast): the least CPU, but each message
    /// opens a libp2p stream of its own, whose protocol is agreed in one round trip
    /// before the message goes: two one-way delays more per consensus step.
    #[default]
    Broadcast,
    /// GossipSub over long-lived streams: a message costs its one-way delay only, but is
    /// signed again with the libp2p key and every copy verified (most of the CPU of a
    /// 40-validator network on one machine); for validators far apart.
    GossipSub,
}

#[derive(Clone, Debug)]
struct EngineSettings {
    moniker: String,
    consensus: ConsensusConfig,
    value_sync: ValueSyncConfig,
}

impl EngineConfig for EngineSettings {
    fn moniker(&self) -> &str {
        &self.moniker
    }
    fn consensus(&self) -> &ConsensusConfig {
        &self.consensus
    }
    fn consensus_mut(&mut self) -> &mut ConsensusConfig {
        &mut self.consensus
    }
    fn value_sync(&self) -> &ValueSyncConfig {
        &self.value_sync
    }
    fn value_sync_mut(&mut self) -> &mut ValueSyncConfig {
        &mut self.value_sync
    }
}

/// Runs this validator in BFT consensus until `shutdown` fires or the engine stops.
/// Returns an error if the engine stops on its own (the node must exit: a safety
/// failure needs an operator, a liveness failure a restart).
pub async fn run_validator(
    node: Arc<Node>,
    settings: NetworkSettings,
    mut shutdown: watch::Receiver<bool>,
) -> ConsensusResult<()> {
    let key = node
        .validator_key()
        .cloned()
        .ok_or(ConsensusError::NoValidatorKey)?;
    let genesis = node.chain()?.genesis_hash();
    let signer = Arc::new(KyotoSigner::new(key.clone(), genesis));
    let address = signer.address();
    let keypair = Keypair::ed25519_from_bytes(key.to_bytes())
        .map_err(|e| ConsensusError::Key(e.to_string()))?;
    let proof = signer
        .sign_validator_proof(address.0.to_vec(), keypair.public().to_peer_id().to_bytes())
        .await
        .map_err(|e| ConsensusError::Signing(e.to_string()))?;
    let proof_bytes = KyotoCodec.encode(&proof)?;
    let identity = NetworkIdentity::new_validator(
        settings.moniker.clone(),
        keypair,
        address.to_string(),
        proof_bytes,
    );

    let mut consensus = ConsensusConfig::default();
    consensus.p2p.listen_addr = settings.listen.clone();
    consensus.p2p.persistent_peers = settings.peers.clone();
    // Malachite caps connections per IP address (5 by default) against connection
    // floods; validators behind one address (a registry's NAT, or a test network on
    // loopback) must still all connect: two connections per configured peer.
    consensus.p2p.discovery.max_connections_per_ip = (settings.peers.len() * 2 + 2).max(5);
    // Validators list one another as persistent peers, so the consensus network is a
    // full mesh: each vote and proposal part goes straight to every peer. GossipSub
    // (Malachite's default) would sign every message a second time with the libp2p
    // key and verify every relayed copy at every hop: with 40 validators that was
    // most of the machine. Our votes and parts carry their own signatures.
    consensus.p2p.protocol = match settings.pubsub {
        Pubsub::Broadcast => PubSubProtocol::Broadcast,
        Pubsub::GossipSub => PubSubProtocol::default(),
    };
    let value_sync = ValueSyncConfig {
        // A node asks a peer for a block as soon as that peer's status shows a
        // higher height, so with frequent statuses every node keeps requesting the
        // block it is about to decide anyway, and verifies its certificate: at 40
        // validators that was a third of the vote-verification work. Consensus
        // itself does not need statuses; a node that fell behind learns of it
        // within this interval.
        status_update_interval: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
        // Up to 20 blocks per request (a response stays under 8 MiB: the application
        // answers with fewer blocks when they are large, and sync asks for the rest).
        batch_size: 20,
        ..ValueSyncConfig::default()
    };
    let config = EngineSettings {
        moniker: settings.moniker.clone(),
        consensus,
        value_sync,
    };

    let span = tracing::info_span!("consensus", moniker = %settings.moniker);
    let builder = || EngineBuilder::new(KyotoContext, config.clone());
    let wal = || WalContext::new(settings.wal_path.clone(), KyotoCodec);
    let consensus = || {
        ConsensusContext::new_validator(
            address,
            Box::new(KyotoVerifier::new(genesis)),
            Box::new(SignerRef(Arc::clone(&signer))),
        )
    };
    // Test-only (feature `byzantine`): a validator that lies, see `byzantine.rs`.
    #[cfg(feature = "byzantine")]
    let byzantine = {
        let lies = &settings.rules.lies;
        if !lies.is_empty() {
            tracing::warn!(lies = ?lies.names(), "BYZANTINE: this validator lies (test-only build)");
        }
        if lies.tells(byzantine::Lie::GossipJunk) {
            byzantine::flood_gossip(Arc::clone(&node));
        }
        lies.network(
            identity.clone(),
            Box::new(SignerRef(Arc::clone(&signer))),
            address,
        )
    };
    #[cfg(not(feature = "byzantine"))]
    let byzantine: Option<std::convert::Infallible> = None;
    let built = match byzantine {
        #[cfg(feature = "byzantine")]
        Some(proxy) => {
            builder()
                .with_default_wal(wal())
                .with_byzantine_network(proxy)
                .await
                .map_err(|e| ConsensusError::EngineStart(format!("{e:#}")))?
                .with_default_sync(SyncContext::new(KyotoCodec))
                .with_default_consensus(consensus())
                .with_default_request(RequestContext::new(64))
                .build()
                .instrument(span)
                .await
        }
        #[cfg(not(feature = "byzantine"))]
        Some(never) => match never {},
        None => {
            builder()
                .with_default_wal(wal())
                .with_default_network(NetworkContext::new(identity, KyotoCodec))
                .with_default_sync(SyncContext::new(KyotoCodec))
                .with_default_consensus(consensus())
                .with_default_request(RequestContext::new(64))
                .build()
                .instrument(span)
                .await
        }
    };
    let (mut channels, handle) =
        built.map_err(|e| ConsensusError::EngineStart(format!("{e:#}")))?;
    tracing::info!(address = %address, listen = %settings.listen, peers = settings.peers.len(), "consensus engine started");
    // Malachite counts the connected ones (malachitebft_core_consensus_connected_peers).
    node.metrics()
        .peers_configured
        .get_or_create(&crate::metrics::SwarmLabel {
            swarm: "consensus".into(),
        })
        .set(i64::try_from(settings.peers.len()).unwrap_or(i64::MAX));

    let mut app = App::new(
        Arc::clone(&node),
        signer,
        genesis,
        settings.rules.clone(),
        channels.network.clone(),
    );
    // The engine says it is ready only once its network listens: if that never
    // happens (the port is taken, say), stop with a reason rather than serve a chain
    // that never moves.
    let first = tokio::select! {
        m = tokio::time::timeout(Duration::from_secs(30), channels.consensus.recv()) => m,
        _ = shutdown.changed() => {
            handle.actor.stop(None);
            return Ok(());
        }
    };
    let first = match first {
        Ok(Some(m)) => m,
        Ok(None) => return Err(ConsensusError::StoppedBeforeReady),
        Err(_) => {
            handle.actor.stop(None);
            return Err(ConsensusError::NetworkDidNotStart {
                listen: settings.listen.to_string(),
            });
        }
    };
    if let Err(e) = app.handle(first).await {
        handle.actor.stop(None);
        return Err(e);
    }
    let result = loop {
        tokio::select! {
            msg = channels.consensus.recv() => match msg {
                Some(m) => {
                    if let Err(e) = app.handle(m).await {
                        break Err(e);
                    }
                }
                None => break Err(ConsensusError::EngineStopped),
            },
            _ = shutdown.changed() => break Ok(()),
        }
    };
    handle.actor.stop(None);
    let _ = tokio::time::timeout(Duration::from_secs(5), handle.handle).await;
    result
}

/// The signer shared between the engine and the proposer.
struct SignerRef(Arc<KyotoSigner>);

#[async_trait::async_trait]
impl Signer<KyotoContext> for SignerRef {
    async fn sign_vote(
        &self,
        vote: context::Vote,
    ) -> Result<
        arc_malachitebft_app_channel::app::types::core::SignedMessage<KyotoContext, context::Vote>,
        arc_malachitebft_signing::Error,
    > {
        self.0.sign_vote(vote).await
    }
    async fn sign_proposal(
        &self,
        proposal: context::Proposal,
    ) -> Result<
        arc_malachitebft_app_channel::app::types::core::SignedMessage<
            KyotoContext,
            context::Proposal,
        >,
        arc_malachitebft_signing::Error,
    > {
        self.0.sign_proposal(proposal).await
    }
    async fn sign_vote_extension(
        &self,
        scope: arc_malachitebft_app_channel::app::types::core::VoteExtensionScope<KyotoContext>,
        extension: bytes::Bytes,
    ) -> Result<
        arc_malachitebft_app_channel::app::types::core::SignedMessage<KyotoContext, bytes::Bytes>,
        arc_malachitebft_signing::Error,
    > {
        self.0.sign_vote_extension(scope, extension).await
    }
    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<
        arc_malachitebft_app_channel::app::types::core::ValidatorProof<KyotoContext>,
        arc_malachitebft_signing::Error,
    > {
        self.0.sign_validator_proof(public_key, peer_id).await
    }
}
