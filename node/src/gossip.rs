//! Transaction gossip among validators: a libp2p swarm of our own (gossipsub over
//! TCP + noise + yamux, the libp2p Malachite uses), beside Malachite's, on its own
//! port.
//!
//! Why a second swarm: Malachite's network carries consensus, proposal parts and
//! sync only, and plugging our traffic into it means replacing its whole network
//! actor. A separate gossipsub topic costs one more port and keeps each protocol
//! simple. A transaction a client submits to any validator is published on the
//! topic `/kyoto-ledger/<genesis hash>/txs/v1`; every validator verifies it once (the
//! same checks as a submission) before gossipsub forwards it further, admits it to its
//! mempool, and so can propose it in its turn. Invalid transactions are rejected and
//! not forwarded; the queue to the swarm is bounded (when full, a transaction still
//! reaches the network through the validator it was submitted to, in its turn).

use std::sync::Arc;
use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity, ValidationMode};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, identity, noise, tcp, yamux};
use tokio::sync::{mpsc, watch};

use crate::crypto::sha256;
use crate::node::{Node, SubmitError};
use crate::tx::MAX_TX_BYTES;

/// Most submitted transactions waiting to be published.
pub const OUTBOX: usize = 4_096;

/// Where the gossip swarm listens and whom it dials.
#[derive(Clone, Debug)]
pub struct GossipSettings {
    pub listen: Multiaddr,
    pub peers: Vec<Multiaddr>,
}

/// The gossip topic of a chain.
pub fn topic(genesis: &[u8; 32]) -> IdentTopic {
    IdentTopic::new(format!("/kyoto-ledger/{}/txs/v1", hex::encode(genesis)))
}

/// Runs the gossip swarm until `shutdown` fires: publishes what `outbox` yields and
/// admits what peers publish.
pub async fn run(
    node: Arc<Node>,
    key: identity::Keypair,
    settings: GossipSettings,
    mut outbox: mpsc::Receiver<Vec<u8>>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let genesis = node.chain()?.genesis_hash();
    let topic = topic(&genesis);
    let config = gossipsub::ConfigBuilder::default()
        // Transactions authenticate themselves (their own signature, checked before
        // they are passed on); gossip messages need no author or signature of their
        // own, which would cost a second signature per transaction and hop.
        .validation_mode(ValidationMode::None)
        .validate_messages()
        .max_transmit_size(MAX_TX_BYTES + 1024)
        .heartbeat_interval(Duration::from_millis(500))
        .duplicate_cache_time(Duration::from_secs(120))
        .message_id_fn(|m| gossipsub::MessageId::from(sha256(&m.data).to_vec()))
        .build()
        .map_err(|e| anyhow::anyhow!("gossip configuration: {e}"))?;
    let mut swarm: Swarm<gossipsub::Behaviour> = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_behaviour(|_| {
            gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config)
                .map_err(Box::<dyn std::error::Error + Send + Sync>::from)
        })
        .map_err(|e| anyhow::anyhow!("gossip behaviour: {e}"))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    swarm
        .behaviour_mut()
        .subscribe(&topic)
        .map_err(|e| anyhow::anyhow!("gossip topic: {e}"))?;
    swarm
        .listen_on(settings.listen.clone())
        .map_err(|e| anyhow::anyhow!("gossip cannot listen on {}: {e}", settings.listen))?;
    tracing::info!(listen = %settings.listen, peers = settings.peers.len(), "transaction gossip started");

    let mut redial = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            _ = redial.tick() => {
                // Static peers: keep dialing whoever is not connected (the swarm
                // refuses duplicate connections itself).
                if swarm.connected_peers().count() < settings.peers.len() {
                    for addr in &settings.peers {
                        let _ = swarm.dial(addr.clone());
                    }
                }
            }
            raw = outbox.recv() => {
                let Some(raw) = raw else { return Ok(()) };
                if let Err(e) = swarm.behaviour_mut().publish(topic.clone(), raw) {
                    tracing::debug!("transaction not gossiped: {e}");
                }
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(gossipsub::Event::Message { propagation_source, message_id, message }) => {
                    let acceptance = admit(&node, message.data).await;
                    swarm.behaviour_mut().report_message_validation_result(&message_id, &propagation_source, acceptance);
                }
                SwarmEvent::NewListenAddr { address, .. } => {
                    tracing::info!(%address, "transaction gossip listening");
                }
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    tracing::debug!(%peer_id, "gossip peer connected");
                }
                _ => {}
            }
        }
    }
}

/// Verifies and admits a gossiped transaction; tells gossipsub whether to pass it on.
async fn admit(node: &Arc<Node>, raw: Vec<u8>) -> MessageAcceptance {
    let n = Arc::clone(node);
    let admitted = tokio::task::spawn_blocking(move || n.admit_gossiped(raw)).await;
    match admitted {
        Ok(Ok(_)) => MessageAcceptance::Accept,
        // Bad bytes or a bad signature: the sender is at fault.
        Ok(Err(SubmitError::Tx(_))) => MessageAcceptance::Reject,
        // Already known, out of date or no room: drop it quietly.
        _ => MessageAcceptance::Ignore,
    }
}

/// A libp2p identity for the gossip swarm from the validator's key.
pub fn keypair(key: &ed25519_dalek::SigningKey) -> anyhow::Result<identity::Keypair> {
    identity::Keypair::ed25519_from_bytes(key.to_bytes())
        .map_err(|e| anyhow::anyhow!("the validator key as a libp2p key: {e}"))
}

/// The gossip peer id of a validator key (for logs and operators).
pub fn peer_id(key: &ed25519_dalek::SigningKey) -> anyhow::Result<PeerId> {
    Ok(keypair(key)?.public().to_peer_id())
}
