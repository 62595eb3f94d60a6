//! Transaction gossip among validators: a libp2p swarm of our own (gossipsub over
//! TCP + noise + yamux, the libp2p Malachite uses), beside Malachite's, on its own
//! port.
//!
//! Why a second swarm: Malachite's network carries consensus, proposal parts and
//! sync only, and plugging our traffic into it means replacing its whole network
//! actor. A separate gossipsub topic costs one more port and keeps each protocol
//! simple. A transaction a client submits to any validator is published on the
//! topic `/kyoto-ledger/<genesis hash>/txs/v2`, in a `TransactionBatch` with whatever
//! else was waiting to be published; every validator verifies the batch's signatures
//! in one batch (the same checks as a submission) before gossipsub forwards it
//! further, admits the transactions to its mempool, and so can propose them in its
//! turn. Verification runs beside the swarm, never blocking it. A batch with an
//! invalid transaction is rejected and not forwarded (its publisher should have
//! checked it); the queue to the swarm is bounded (when full, a transaction still
//! reaches the network through the validator it was submitted to, in its turn).

use std::sync::Arc;
use std::time::Duration;

use libp2p::futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity, ValidationMode};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, identity, noise, tcp, yamux};
use tokio::sync::{mpsc, watch};

use kyoto_proto::v1 as pb;
use libp2p::gossipsub::MessageId;
use prost::Message as _;

use crate::crypto::sha256;
use crate::node::{Node, SubmitError};
use crate::tx::MAX_TX_BYTES;

/// How often a validator short of gossip peers says so.
const PEERS_TOLD_EVERY: Duration = Duration::from_secs(60);

/// Most submitted transactions waiting to be published.
pub const OUTBOX: usize = 4_096;

/// Most bytes of transactions in one gossip message (a batch holds at least one).
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Most transactions in one gossip message.
const MAX_BATCH_TXS: usize = 1_024;
/// How long a submitted transaction may wait for others to share its gossip
/// message. Each message costs every peer a round of encryption, framing and
/// validation, and its transactions are verified there in one signature batch, so
/// fuller messages save CPU on every node; a transaction waits for the next block
/// anyway, which takes longer than this.
const GOSSIP_LINGER: Duration = Duration::from_millis(5);
/// Most received batches waiting for verification (past this they are dropped).
const INBOX: usize = 256;

/// A received batch waiting for verification.
struct Inbound {
    id: MessageId,
    source: PeerId,
    transactions: Vec<Vec<u8>>,
}

/// Where the gossip swarm listens and whom it dials.
#[derive(Clone, Debug)]
pub struct GossipSettings {
    pub listen: Multiaddr,
    pub peers: Vec<Multiaddr>,
}

/// The gossip topic of a chain.
pub fn topic(genesis: &[u8; 32]) -> IdentTopic {
    IdentTopic::new(format!("/kyoto-ledger/{}/txs/v2", hex::encode(genesis)))
}

/// Why the gossip swarm could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    #[error("the validator key as a libp2p key: {0}")]
    Key(String),
    #[error("{0}")]
    Setup(String),
    #[error("gossip cannot listen on {listen}: {why}")]
    Listen { listen: String, why: String },
    #[error(transparent)]
    Node(#[from] SubmitError),
}

/// Runs the gossip swarm until `shutdown` fires: publishes what `outbox` yields and
/// admits what peers publish.
pub async fn run(
    node: Arc<Node>,
    key: identity::Keypair,
    settings: GossipSettings,
    mut outbox: mpsc::Receiver<Vec<u8>>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), GossipError> {
    let genesis = node.chain()?.genesis_hash();
    let topic = topic(&genesis);
    let config = gossipsub::ConfigBuilder::default()
        // Transactions authenticate themselves (their own signature, checked before
        // they are passed on); gossip messages need no author or signature of their
        // own, which would cost a second signature per transaction and hop.
        .validation_mode(ValidationMode::None)
        .validate_messages()
        .max_transmit_size(MAX_BATCH_BYTES + MAX_TX_BYTES + 64 * 1024)
        .heartbeat_interval(Duration::from_millis(500))
        .duplicate_cache_time(Duration::from_secs(120))
        .message_id_fn(|m| gossipsub::MessageId::from(sha256(&m.data).to_vec()))
        .build()
        .map_err(|e| GossipError::Setup(format!("gossip configuration: {e}")))?;
    let mut swarm: Swarm<gossipsub::Behaviour> = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| GossipError::Setup(format!("gossip transport: {e}")))?
        // Peers named by host (`/dns4/registry.example/tcp/26657`), as consensus takes them.
        .with_dns()
        .map_err(|e| GossipError::Setup(format!("gossip DNS resolver: {e}")))?
        .with_behaviour(|_| {
            gossipsub::Behaviour::new(MessageAuthenticity::Anonymous, config)
                .map_err(Box::<dyn std::error::Error + Send + Sync>::from)
        })
        .map_err(|e| GossipError::Setup(format!("gossip behaviour: {e}")))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(3600)))
        .build();
    swarm
        .behaviour_mut()
        .subscribe(&topic)
        .map_err(|e| GossipError::Setup(format!("gossip topic: {e}")))?;
    swarm
        .listen_on(settings.listen.clone())
        .map_err(|e| GossipError::Listen {
            listen: settings.listen.to_string(),
            why: e.to_string(),
        })?;
    tracing::info!(listen = %settings.listen, peers = settings.peers.len(), "transaction gossip started");

    let (inbox, inbound) = mpsc::channel::<Inbound>(INBOX);
    let (verdict_tx, mut verdicts) = mpsc::channel(INBOX);
    let verifier = tokio::spawn(verify_batches(Arc::clone(&node), inbound, verdict_tx));
    let _stop_verifier = AbortOnDrop(verifier);
    let mut redial = tokio::time::interval(Duration::from_secs(2));
    // A validator that cannot reach its peers says so in one line per interval (the
    // first after an interval, so that start-up dialing is not reported).
    let mut last_told = tokio::time::Instant::now();
    // Transactions waiting to be published, their bytes, and when they must go.
    let mut waiting: Vec<Vec<u8>> = Vec::new();
    let mut waiting_bytes = 0;
    let mut publish_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.changed() => return Ok(()),
            _ = redial.tick() => {
                let connected = swarm.connected_peers().count();
                node.metrics().peers("gossip", connected, settings.peers.len());
                if connected < settings.peers.len()
                    && last_told.elapsed() >= PEERS_TOLD_EVERY
                {
                    let dialing: Vec<String> = settings.peers.iter().map(ToString::to_string).collect();
                    tracing::warn!(
                        "transaction gossip: connected to {connected} of {} peers; dialing {}",
                        settings.peers.len(),
                        dialing.join(", ")
                    );
                    last_told = tokio::time::Instant::now();
                }
                // Static peers: keep dialing whoever is not connected (the swarm
                // refuses duplicate connections itself).
                if connected < settings.peers.len() {
                    for addr in &settings.peers {
                        let _ = swarm.dial(addr.clone());
                    }
                }
            }
            raw = outbox.recv() => {
                let Some(raw) = raw else { return Ok(()) };
                if waiting.is_empty() {
                    publish_at = tokio::time::Instant::now() + GOSSIP_LINGER;
                }
                waiting_bytes += raw.len();
                waiting.push(raw);
                // Everything else already waiting goes in the same message.
                while waiting.len() < MAX_BATCH_TXS && waiting_bytes < MAX_BATCH_BYTES {
                    let Ok(raw) = outbox.try_recv() else { break };
                    waiting_bytes += raw.len();
                    waiting.push(raw);
                }
                if waiting.len() >= MAX_BATCH_TXS || waiting_bytes >= MAX_BATCH_BYTES {
                    waiting_bytes = 0;
                    publish(&mut swarm, &topic, std::mem::take(&mut waiting));
                }
            }
            _ = tokio::time::sleep_until(publish_at), if !waiting.is_empty() => {
                waiting_bytes = 0;
                publish(&mut swarm, &topic, std::mem::take(&mut waiting));
            }
            Some((id, source, acceptance)) = verdicts.recv() => {
                swarm.behaviour_mut().report_message_validation_result(&id, &source, acceptance);
            }
            event = swarm.select_next_some() => match event {
                SwarmEvent::Behaviour(gossipsub::Event::Message { propagation_source, message_id, message }) => {
                    let acceptance = match decode_batch(&message.data) {
                        Some(transactions) => {
                            let inbound = Inbound { id: message_id.clone(), source: propagation_source, transactions };
                            match inbox.try_send(inbound) {
                                Ok(()) => None,
                                // Verification is behind: drop it (it still reaches
                                // this node in a proposal).
                                Err(_) => Some(MessageAcceptance::Ignore),
                            }
                        }
                        None => Some(MessageAcceptance::Reject),
                    };
                    if let Some(a) = acceptance {
                        swarm.behaviour_mut().report_message_validation_result(&message_id, &propagation_source, a);
                    }
                }
                SwarmEvent::NewListenAddr { address, .. } => {
                    tracing::info!(%address, "transaction gossip listening");
                }
                SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                    tracing::debug!(%peer_id, "gossip peer connected");
                    node.metrics().peers("gossip", swarm.connected_peers().count(), settings.peers.len());
                }
                SwarmEvent::ConnectionClosed { peer_id, .. } => {
                    tracing::debug!(%peer_id, "gossip peer disconnected");
                    node.metrics().peers("gossip", swarm.connected_peers().count(), settings.peers.len());
                }
                _ => {}
            }
        }
    }
}

/// Publishes transactions as one gossip message.
fn publish(
    swarm: &mut Swarm<gossipsub::Behaviour>,
    topic: &IdentTopic,
    transactions: Vec<Vec<u8>>,
) {
    let batch = pb::TransactionBatch { transactions }.encode_to_vec();
    if let Err(e) = swarm.behaviour_mut().publish(topic.clone(), batch) {
        tracing::debug!("transactions not gossiped: {e}");
    }
}

/// Aborts a task when dropped (the verifier stops with the swarm).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The transactions of a gossip message, or `None` if it is not a well-formed
/// batch (not a `TransactionBatch`, empty, or with more transactions than a batch
/// may hold).
pub fn decode_batch(data: &[u8]) -> Option<Vec<Vec<u8>>> {
    let batch = pb::TransactionBatch::decode(data).ok()?;
    let n = batch.transactions.len();
    (n > 0 && n <= MAX_BATCH_TXS).then_some(batch.transactions)
}

/// Verifies received batches, as many together as are waiting (their signatures in
/// one batch), admits their transactions and tells the swarm whether to pass each
/// message on.
async fn verify_batches(
    node: Arc<Node>,
    mut inbound: mpsc::Receiver<Inbound>,
    verdicts: mpsc::Sender<(MessageId, PeerId, MessageAcceptance)>,
) {
    while let Some(first) = inbound.recv().await {
        let mut messages = vec![first];
        let mut count = messages[0].transactions.len();
        while count < MAX_BATCH_TXS {
            let Ok(m) = inbound.try_recv() else { break };
            count += m.transactions.len();
            messages.push(m);
        }
        let mut sizes = Vec::with_capacity(messages.len());
        let mut all = Vec::with_capacity(count);
        let mut heads = Vec::with_capacity(messages.len());
        for m in messages {
            sizes.push(m.transactions.len());
            all.extend(m.transactions);
            heads.push((m.id, m.source));
        }
        let n = Arc::clone(&node);
        let Ok(results) = tokio::task::spawn_blocking(move || n.admit_gossiped_batch(all)).await
        else {
            return;
        };
        let mut results = results.into_iter();
        for ((id, source), size) in heads.into_iter().zip(sizes) {
            let acceptance = acceptance(results.by_ref().take(size));
            if verdicts.send((id, source, acceptance)).await.is_err() {
                return;
            }
        }
    }
}

/// Whether to pass a message on, from what became of its transactions: rejected if
/// any is malformed or badly signed (its publisher is at fault), accepted if any was
/// new here, otherwise (all known, out of date or no room) dropped quietly.
fn acceptance(
    results: impl Iterator<Item = Result<crate::ledger::Hash, SubmitError>>,
) -> MessageAcceptance {
    let mut any_new = false;
    for r in results {
        match r {
            Ok(_) => any_new = true,
            Err(SubmitError::Tx(_)) => return MessageAcceptance::Reject,
            Err(_) => {}
        }
    }
    if any_new {
        MessageAcceptance::Accept
    } else {
        MessageAcceptance::Ignore
    }
}

/// A libp2p identity for the gossip swarm from the validator's key.
pub fn keypair(key: &ed25519_dalek::SigningKey) -> Result<identity::Keypair, GossipError> {
    identity::Keypair::ed25519_from_bytes(key.to_bytes())
        .map_err(|e| GossipError::Key(e.to_string()))
}

/// The gossip peer id of a validator key (for logs and operators).
pub fn peer_id(key: &ed25519_dalek::SigningKey) -> Result<PeerId, GossipError> {
    Ok(keypair(key)?.public().to_peer_id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mempool::AdmitError;
    use crate::tx::TxError;

    #[test]
    fn a_batch_round_trips_and_empty_or_oversized_batches_are_refused() {
        let txs = vec![vec![1u8, 2, 3], vec![4u8; 100]];
        let data = pb::TransactionBatch {
            transactions: txs.clone(),
        }
        .encode_to_vec();
        assert_eq!(decode_batch(&data), Some(txs));
        assert_eq!(decode_batch(&[]), None);
        let too_many = pb::TransactionBatch {
            transactions: vec![vec![0u8]; MAX_BATCH_TXS + 1],
        }
        .encode_to_vec();
        assert_eq!(decode_batch(&too_many), None);
        assert_eq!(decode_batch(&[0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn a_batch_with_a_bad_transaction_is_rejected_and_one_with_nothing_new_ignored() {
        let ok = || Ok([0u8; 32]);
        let bad = || Err(SubmitError::Tx(TxError::Malformed("x".into())));
        let known = || Err(SubmitError::Admit(AdmitError::AlreadyPending));
        assert!(matches!(
            acceptance([ok(), known()].into_iter()),
            MessageAcceptance::Accept
        ));
        assert!(matches!(
            acceptance([known(), known()].into_iter()),
            MessageAcceptance::Ignore
        ));
        assert!(matches!(
            acceptance([ok(), bad()].into_iter()),
            MessageAcceptance::Reject
        ));
    }

    proptest::proptest! {
        /// Whatever bytes a peer sends, decoding answers without panicking.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(data in proptest::collection::vec(0u8..=255, 0..512)) {
            if let Some(txs) = decode_batch(&data) {
                proptest::prop_assert!(!txs.is_empty() && txs.len() <= MAX_BATCH_TXS);
            }
        }
    }
}
