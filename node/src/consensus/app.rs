//! The application side of Malachite: answers the engine's `AppMsg`s.
//!
//! - `GetValue`: the proposer builds a block from its mempool (the same one again if
//!   asked twice for a height and round), keeps it durably, answers with its hash and
//!   streams it to the other validators as signed proposal parts.
//! - `ReceivedProposalPart`: reassembles streams (bounded), checks who proposed and
//!   their signature, and judges the block: chain id, height, parent hash, parent
//!   state root, a timestamp after the parent's and not further ahead of this node's
//!   clock than the allowed drift, every transaction's signature (each verified once:
//!   those already verified on their way into the mempool are not verified again).
//! - `Decided`: applies the block through the ledger and writes block, certificate
//!   and state in one flushed batch, then acknowledges.
//! - `GetDecidedValues` / `ProcessSyncedValue`: serve and take committed blocks for
//!   catch-up (the engine checks their certificates).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_malachitebft_app_channel::app::consensus::ProposedValue;
use arc_malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::LocallyProposedValue;
use arc_malachitebft_app_channel::app::types::PeerId;
use arc_malachitebft_app_channel::app::types::core::{
    CommitCertificate, CommitSignature, ExtendedCommitCertificate, Round, Validity, VoteExtensions,
};
use arc_malachitebft_app_channel::app::types::sync::RawDecidedValue;
use arc_malachitebft_app_channel::{AppMsg, NetworkMsg};
use bytes::Bytes;
use kyoto_proto::consensus as cpb;
use kyoto_proto::v1 as pb;
use prost::Message;
use tokio::sync::mpsc;

use super::codec::{proposed_value_from, proposed_value_to};
use super::context::{
    Address, BlockId, Height, KyotoContext, ProposalPart, Signature, ValidatorSet, select_proposer,
    timeouts,
};
use super::signing::{self, KyotoSigner, part_bytes};
use crate::chain::block_hash;
use crate::clock::now_ms;
use crate::crypto::sha256;
use crate::ledger::Hash;
use crate::node::Node;
use crate::tx::MAX_TX_BYTES;

/// Size of one streamed chunk of a block.
const CHUNK_BYTES: usize = 256 * 1024;
/// Most proposal streams being reassembled at once.
const MAX_STREAMS: usize = 64;
/// Most complete proposals kept for heights this node has not reached yet.
const MAX_FUTURE_PROPOSALS: usize = 16;
/// Most blocks in one sync response.
const MAX_SYNC_BLOCKS: u64 = 20;
/// Most bytes of blocks in one sync response (the engine's limit is 10 MiB).
const MAX_SYNC_BYTES: usize = 8 * 1024 * 1024;

/// How a validator proposes and judges blocks.
#[derive(Clone, Debug)]
pub struct ProposalRules {
    /// How far ahead of this node's clock a live proposal's timestamp may be.
    pub max_clock_drift: Duration,
    /// How long a proposer waits for transactions before proposing an empty block
    /// (bounded by half the propose timeout).
    pub empty_block_interval: Duration,
}

impl Default for ProposalRules {
    fn default() -> Self {
        ProposalRules {
            max_clock_drift: Duration::from_secs(5),
            empty_block_interval: Duration::from_millis(1000),
        }
    }
}

/// A proposal stream put back together.
#[derive(Clone, Debug)]
struct Assembled {
    height: Height,
    round: Round,
    pol_round: Round,
    proposer: Address,
    block: Vec<u8>,
    signature: Signature,
}

/// One stream being reassembled.
#[derive(Default)]
struct Stream {
    parts: BTreeMap<u64, ProposalPart>,
    end: Option<u64>,
    bytes: usize,
    born: u64,
}

/// Proposal streams in reassembly, keyed by (publishing peer, stream id); bounded in
/// number and in bytes per stream.
struct Streams {
    streams: HashMap<(PeerId, Bytes), Stream>,
    counter: u64,
    max_stream_bytes: usize,
}

impl Streams {
    fn new(max_stream_bytes: usize) -> Self {
        Streams {
            streams: HashMap::new(),
            counter: 0,
            max_stream_bytes,
        }
    }

    /// Adds a message; returns the proposal when its stream is complete. Malformed
    /// or oversized streams are dropped.
    fn add(&mut self, peer: PeerId, msg: StreamMessage<ProposalPart>) -> Option<Assembled> {
        let key = (peer, msg.stream_id.to_bytes());
        if !self.streams.contains_key(&key) && self.streams.len() >= MAX_STREAMS {
            // Drop the oldest stream: an incomplete proposal is no worse than a missed one.
            let oldest = self
                .streams
                .iter()
                .min_by_key(|(_, s)| s.born)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.streams.remove(&k);
            }
        }
        self.counter += 1;
        let born = self.counter;
        let stream = self.streams.entry(key.clone()).or_insert_with(|| Stream {
            born,
            ..Stream::default()
        });
        match msg.content {
            StreamContent::Fin => stream.end = Some(msg.sequence),
            StreamContent::Data(part) => {
                stream.bytes += match &part {
                    ProposalPart::Data(d) => d.len(),
                    _ => 128,
                };
                if stream.bytes > self.max_stream_bytes || stream.parts.len() > 1 << 16 {
                    self.streams.remove(&key);
                    return None;
                }
                stream.parts.insert(msg.sequence, part);
            }
        }
        let stream = self.streams.get(&key)?;
        let end = stream.end?;
        if u64::try_from(stream.parts.len()).ok() != Some(end) {
            return None;
        }
        let stream = self.streams.remove(&key)?;
        assemble(stream.parts.into_values())
    }
}

/// Feeds proposal-stream messages, as peers (`peers[i]` sent `messages[i]`) deliver
/// them, to a fresh reassembly buffer of `max_stream_bytes` a stream, as the consensus
/// loop does; returns the sizes of the proposed blocks that completed. The entry point
/// of the proposal-stream fuzz target (`tests/fuzz`).
pub fn reassemble_streams(
    messages: impl IntoIterator<Item = (PeerId, StreamMessage<ProposalPart>)>,
    max_stream_bytes: usize,
) -> Vec<usize> {
    let mut streams = Streams::new(max_stream_bytes);
    messages
        .into_iter()
        .filter_map(|(peer, m)| streams.add(peer, m))
        .map(|a| a.block.len())
        .collect()
}

/// Whether bytes read back as a kept proposal (the record written before a proposal is
/// sent or voted on) decode to one; the entry point of the store fuzz target.
pub fn decodes_as_kept_proposal(bytes: &[u8]) -> bool {
    record_from(bytes).is_ok()
}

/// Init, data chunks, Fin — in this order, nothing else.
fn assemble(parts: impl Iterator<Item = ProposalPart>) -> Option<Assembled> {
    let mut parts = parts.peekable();
    let Some(ProposalPart::Init {
        height,
        round,
        pol_round,
        proposer,
    }) = parts.next()
    else {
        return None;
    };
    let mut block = Vec::new();
    let mut signature = None;
    for part in parts {
        match part {
            ProposalPart::Data(d) if signature.is_none() => block.extend_from_slice(&d),
            ProposalPart::Fin { signature: s } if signature.is_none() => signature = Some(s),
            _ => return None,
        }
    }
    Some(Assembled {
        height,
        round,
        pol_round,
        proposer,
        block,
        signature: signature?,
    })
}

/// The parts of a proposal stream, in order.
fn stream_messages(a: &Assembled, stream_id: StreamId) -> Vec<StreamMessage<ProposalPart>> {
    let mut parts = vec![ProposalPart::Init {
        height: a.height,
        round: a.round,
        pol_round: a.pol_round,
        proposer: a.proposer,
    }];
    for chunk in a.block.chunks(CHUNK_BYTES) {
        parts.push(ProposalPart::Data(Bytes::copy_from_slice(chunk)));
    }
    parts.push(ProposalPart::Fin {
        signature: a.signature,
    });
    let mut msgs: Vec<StreamMessage<ProposalPart>> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| StreamMessage::new(stream_id.clone(), i as u64, StreamContent::Data(p)))
        .collect();
    let n = msgs.len() as u64;
    msgs.push(StreamMessage::new(stream_id, n, StreamContent::Fin));
    msgs
}

/// A kept proposal: its proposed value, its block and the proposer's part signature.
struct Record {
    value: ProposedValue<KyotoContext>,
    block: Vec<u8>,
    signature: Option<Signature>,
}

fn record_bytes(r: &Record) -> Vec<u8> {
    cpb::StoredProposal {
        value: Some(proposed_value_to(&r.value)),
        block: r.block.clone(),
        part_signature: r.signature.map(|s| s.0.to_vec()).unwrap_or_default(),
    }
    .encode_to_vec()
}

fn record_from(bytes: &[u8]) -> anyhow::Result<Record> {
    let stored = cpb::StoredProposal::decode(bytes)?;
    let value = proposed_value_from(
        stored
            .value
            .ok_or_else(|| anyhow::anyhow!("a kept proposal has no value"))?,
    )?;
    let signature = <[u8; 64]>::try_from(stored.part_signature.as_slice())
        .ok()
        .map(Signature);
    Ok(Record {
        value,
        block: stored.block,
        signature,
    })
}

/// The application state of the consensus loop.
pub struct App {
    node: Arc<Node>,
    signer: Arc<KyotoSigner>,
    address: Address,
    genesis: Hash,
    rules: ProposalRules,
    network: mpsc::Sender<NetworkMsg<KyotoContext>>,
    height: Height,
    round: Round,
    streams: Streams,
    future: Vec<Assembled>,
    stream_nonce: u64,
    /// Whether the last block committed came by sync (this node is catching up).
    catching_up: Arc<std::sync::atomic::AtomicBool>,
}

/// The consensus parameters of the next height, from the ledger's validator set.
fn params(node: &Node) -> anyhow::Result<HeightParams<KyotoContext>> {
    let chain = node.chain()?;
    let set = ValidatorSet::from_state(chain.state());
    if set.validators.is_empty() {
        anyhow::bail!("the ledger records no validator: consensus cannot run");
    }
    Ok(HeightParams::new(set, timeouts(), None))
}

/// A commit certificate as the block store keeps it.
pub fn certificate_to_pb(c: &CommitCertificate<KyotoContext>) -> pb::CommitCertificate {
    pb::CommitCertificate {
        height: c.height.0,
        block_hash: c.value_id.0.to_vec(),
        round: c.round.as_i64(),
        signatures: c
            .commit_signatures
            .iter()
            .map(|s| pb::CommitSignature {
                public_key: s.address.0.to_vec(),
                signature: s.signature.0.to_vec(),
            })
            .collect(),
    }
}

/// A stored commit certificate in Malachite's form.
pub fn certificate_from_pb(
    c: &pb::CommitCertificate,
) -> anyhow::Result<CommitCertificate<KyotoContext>> {
    let mut commit_signatures = Vec::with_capacity(c.signatures.len());
    for s in &c.signatures {
        commit_signatures.push(CommitSignature::new(
            Address(<[u8; 32]>::try_from(s.public_key.as_slice())?),
            Signature(<[u8; 64]>::try_from(s.signature.as_slice())?),
        ));
    }
    Ok(CommitCertificate {
        height: Height(c.height),
        round: Round::new(u32::try_from(c.round)?),
        value_id: BlockId(<[u8; 32]>::try_from(c.block_hash.as_slice())?),
        commit_signatures,
    })
}

impl App {
    pub fn new(
        node: Arc<Node>,
        signer: Arc<KyotoSigner>,
        genesis: Hash,
        rules: ProposalRules,
        network: mpsc::Sender<NetworkMsg<KyotoContext>>,
    ) -> Self {
        let max_stream_bytes = node
            .config()
            .max_block_txs
            .saturating_mul(MAX_TX_BYTES + 64)
            .saturating_add(1 << 20);
        App {
            address: signer.address(),
            node,
            signer,
            genesis,
            rules,
            network,
            height: Height(0),
            round: Round::Nil,
            streams: Streams::new(max_stream_bytes),
            future: Vec::new(),
            stream_nonce: 0,
            catching_up: Arc::default(),
        }
    }

    fn next_stream_id(&mut self, height: Height, round: Round) -> StreamId {
        self.stream_nonce += 1;
        let mut id = height.0.to_be_bytes().to_vec();
        id.extend_from_slice(&round.as_i64().to_be_bytes());
        id.extend_from_slice(&self.stream_nonce.to_be_bytes());
        StreamId::new(Bytes::from(id))
    }

    /// Handles one message from the engine. An error is fatal: the node stops.
    pub async fn handle(&mut self, msg: AppMsg<KyotoContext>) -> anyhow::Result<()> {
        match msg {
            AppMsg::ConsensusReady { reply } => {
                let next = Height(self.node.chain()?.height() + 1);
                tracing::info!(height = %next, "consensus ready");
                let _ = reply.send((next, params(&self.node)?));
            }
            AppMsg::StartedRound {
                height,
                round,
                reply_value,
                ..
            } => {
                self.height = height;
                self.round = round;
                self.future.retain(|a| a.height >= height);
                let (now, later): (Vec<_>, Vec<_>) =
                    self.future.drain(..).partition(|a| a.height == height);
                self.future = later;
                for a in now {
                    self.judge(a).await?;
                }
                let mut values = Vec::new();
                if let Some(r) = round.as_u32() {
                    for (rr, _, bytes) in self.node.chain()?.store().proposals_at(height.0)? {
                        if rr == r {
                            values.push(record_from(&bytes)?.value);
                        }
                    }
                }
                let _ = reply_value.send(values);
            }
            AppMsg::GetValue {
                height,
                round,
                timeout,
                reply,
            } => {
                let stream_id = self.next_stream_id(height, round);
                let proposer = Proposer {
                    node: Arc::clone(&self.node),
                    signer: Arc::clone(&self.signer),
                    address: self.address,
                    genesis: self.genesis,
                    rules: self.rules.clone(),
                    network: self.network.clone(),
                    catching_up: self.catching_up.load(std::sync::atomic::Ordering::Relaxed),
                };
                tokio::spawn(async move {
                    match proposer.propose(height, round, timeout, stream_id).await {
                        Ok(Some(value)) => {
                            let _ = reply.send(value);
                        }
                        Ok(None) => {}
                        Err(e) => tracing::error!(%height, %round, "could not propose: {e:#}"),
                    }
                });
            }
            AppMsg::ExtendVote { reply, .. } => {
                let _ = reply.send(None);
            }
            AppMsg::VerifyVoteExtensions {
                extensions, reply, ..
            } => {
                let _ = reply.send(extensions.into_iter().map(|(a, _)| (a, Ok(()))).collect());
            }
            AppMsg::RestreamProposal {
                height, value_id, ..
            } => {
                let found = self
                    .node
                    .chain()?
                    .store()
                    .proposals_at(height.0)?
                    .into_iter()
                    .find(|(_, h, _)| *h == value_id.0);
                if let Some((_, _, bytes)) = found {
                    let r = record_from(&bytes)?;
                    if let Some(signature) = r.signature {
                        let a = Assembled {
                            height,
                            round: r.value.round,
                            pol_round: r.value.valid_round,
                            proposer: r.value.proposer,
                            block: r.block,
                            signature,
                        };
                        let id = self.next_stream_id(height, r.value.round);
                        publish(&self.network, stream_messages(&a, id)).await?;
                    }
                }
            }
            AppMsg::GetHistoryMinHeight { reply } => {
                let _ = reply.send(Height(1));
            }
            AppMsg::ReceivedProposalPart {
                from,
                published_by,
                part,
                reply,
            } => {
                let peer = published_by.unwrap_or(from);
                let value = match self.streams.add(peer, part) {
                    Some(a) if a.height == self.height => self.judge(a).await?,
                    Some(a) if a.height > self.height => {
                        if self.future.len() >= MAX_FUTURE_PROPOSALS {
                            self.future.remove(0);
                        }
                        self.future.push(a);
                        None
                    }
                    _ => None,
                };
                let _ = reply.send(value);
            }
            AppMsg::Decided {
                certificate, reply, ..
            } => {
                self.commit(&certificate).await?;
                let _ = reply.send(());
            }
            AppMsg::Finalized {
                certificate,
                evidence,
                reply,
                ..
            } => {
                if !evidence.is_empty() {
                    tracing::warn!(height = %certificate.height, ?evidence, "validators equivocated");
                }
                let next = Height(self.node.chain()?.height() + 1);
                let _ = reply.send(Next::Start(next, params(&self.node)?));
            }
            AppMsg::GetDecidedValues { range, reply } => {
                let _ = reply.send(self.decided_values(*range.start(), *range.end())?);
            }
            AppMsg::ProcessSyncedValue {
                height,
                round,
                proposer,
                value_bytes,
                reply,
            } => {
                let _ = reply.send(self.synced(height, round, proposer, &value_bytes));
            }
        }
        Ok(())
    }

    /// Judges a complete proposal for the current height; keeps it and returns its
    /// proposed value, or `None` if it is not a proposal at all (wrong proposer, bad
    /// part signature, no decodable block).
    async fn judge(&self, a: Assembled) -> anyhow::Result<Option<ProposedValue<KyotoContext>>> {
        let node = Arc::clone(&self.node);
        let genesis = self.genesis;
        let drift = self.rules.max_clock_drift;
        tokio::task::spawn_blocking(move || judge(&node, &genesis, drift, a)).await?
    }

    async fn commit(&self, certificate: &CommitCertificate<KyotoContext>) -> anyhow::Result<()> {
        let node = Arc::clone(&self.node);
        let cert = certificate.clone();
        let catching_up = Arc::clone(&self.catching_up);
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let started = Instant::now();
            let h = cert.height.0;
            if node.chain()?.height() >= h {
                return Ok(());
            }
            let found = node
                .chain()?
                .store()
                .proposals_at(h)?
                .into_iter()
                .find(|(_, hash, _)| *hash == cert.value_id.0);
            let Some((_, _, bytes)) = found else {
                anyhow::bail!(
                    "consensus decided block {} at height {h}, which this node does not have",
                    cert.value_id
                );
            };
            let record = record_from(&bytes)?;
            let block = pb::Block::decode(record.block.as_slice())?;
            // A block kept by sync has no proposer's part signature: its certificate
            // (checked by the engine, for exactly this block hash) vouches for it.
            let from_sync = record.signature.is_none();
            catching_up.store(from_sync, std::sync::atomic::Ordering::Relaxed);
            let committed = node.commit_decided(&block, certificate_to_pb(&cert), from_sync)?;
            if let Some(b) = committed {
                tracing::info!(
                    height = h,
                    round = %cert.round,
                    txs = b.transaction_hashes.len(),
                    signatures = cert.commit_signatures.len(),
                    state_root = %hex::encode(&b.state_root),
                    "committed block"
                );
            }
            tracing::debug!(
                height = h,
                commit_us = started.elapsed().as_micros() as u64,
                "decided block committed"
            );
            Ok(())
        })
        .await?
    }

    fn decided_values(
        &self,
        from: Height,
        to: Height,
    ) -> anyhow::Result<Vec<RawDecidedValue<KyotoContext>>> {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let to = to.0.min(from.0.saturating_add(MAX_SYNC_BLOCKS - 1));
        for h in from.0.max(1)..=to {
            let Some(resp) = self.node.block(h)? else {
                break;
            };
            let (Some(block), Some(cert)) = (resp.block, resp.certificate) else {
                break;
            };
            let value_bytes = block.encode_to_vec();
            bytes += value_bytes.len();
            if bytes > MAX_SYNC_BYTES && !out.is_empty() {
                break;
            }
            let cert = certificate_from_pb(&cert)?;
            out.push(RawDecidedValue::new(
                Bytes::from(value_bytes),
                ExtendedCommitCertificate::from_commit_certificate_and_extensions(
                    cert,
                    VoteExtensions::default(),
                ),
            ));
        }
        Ok(out)
    }

    fn synced(
        &self,
        height: Height,
        round: Round,
        proposer: Address,
        value_bytes: &[u8],
    ) -> SyncedValueOutcome<KyotoContext> {
        let Ok(block) = pb::Block::decode(value_bytes) else {
            return SyncedValueOutcome::PeerFault;
        };
        let Some(header) = block.header.as_ref() else {
            return SyncedValueOutcome::PeerFault;
        };
        if header.height != height.0 {
            return SyncedValueOutcome::PeerFault;
        }
        let hash = block_hash(header);
        let value = ProposedValue {
            height,
            round,
            valid_round: Round::Nil,
            proposer,
            value: BlockId(hash),
            validity: Validity::Valid,
        };
        let kept = (|| -> anyhow::Result<bool> {
            let chain = self.node.chain()?;
            if chain.height() + 1 == height.0 && chain.check_block(&block, |_| true).is_err() {
                return Ok(false);
            }
            let record = Record {
                value: value.clone(),
                block: value_bytes.to_vec(),
                signature: None,
            };
            chain.store().put_proposal(
                height.0,
                round.as_u32().unwrap_or(0),
                &hash,
                record_bytes(&record),
            )?;
            Ok(true)
        })();
        match kept {
            Ok(true) => SyncedValueOutcome::Verdict(value),
            Ok(false) => SyncedValueOutcome::PeerFault,
            Err(e) => {
                tracing::warn!(%height, "could not keep a synced block: {e:#}");
                SyncedValueOutcome::LocalTransientError
            }
        }
    }
}

fn judge(
    node: &Node,
    genesis: &Hash,
    drift: Duration,
    a: Assembled,
) -> anyhow::Result<Option<ProposedValue<KyotoContext>>> {
    let chain = node.chain()?;
    let set = ValidatorSet::from_state(chain.state());
    if set.validators.is_empty() {
        return Ok(None);
    }
    let expected = select_proposer(&set, a.height, a.round);
    if expected.address != a.proposer {
        tracing::debug!(height = %a.height, round = %a.round, "a proposal from a validator whose turn it is not");
        return Ok(None);
    }
    let msg = part_bytes(
        genesis,
        a.height,
        a.round,
        a.pol_round,
        &a.proposer,
        &sha256(&a.block),
    );
    if !signing::verify(&expected.public_key, &msg, &a.signature) {
        tracing::warn!(height = %a.height, round = %a.round, "a proposal whose signature does not verify");
        return Ok(None);
    }
    let Ok(block) = pb::Block::decode(a.block.as_slice()) else {
        tracing::warn!(height = %a.height, round = %a.round, "a proposal that is not a block");
        return Ok(None);
    };
    let Some(header) = block.header.as_ref() else {
        return Ok(None);
    };
    let hash = block_hash(header);
    let mut validity = Validity::Valid;
    if header.height != a.height.0 {
        validity = Validity::Invalid;
    } else {
        match chain.check_block(&block, |h| node.is_verified(h)) {
            Err(e) => {
                tracing::warn!(height = %a.height, round = %a.round, "refusing a proposed block: {e}");
                validity = Validity::Invalid;
            }
            Ok(checked) => {
                node.remember_verified(checked.tx_signers().into_iter().map(|(h, _)| h));
            }
        }
    }
    if validity == Validity::Valid {
        let limit = now_ms().saturating_add(i64::try_from(drift.as_millis()).unwrap_or(i64::MAX));
        if header.timestamp_ms > limit {
            tracing::warn!(
                height = %a.height,
                round = %a.round,
                ahead_ms = header.timestamp_ms - now_ms(),
                "refusing a proposed block timestamped too far ahead of this node's clock"
            );
            validity = Validity::Invalid;
        }
    }
    let value = ProposedValue {
        height: a.height,
        round: a.round,
        valid_round: a.pol_round,
        proposer: a.proposer,
        value: BlockId(hash),
        validity,
    };
    let record = Record {
        value: value.clone(),
        block: a.block,
        signature: Some(a.signature),
    };
    chain.store().put_proposal(
        a.height.0,
        a.round.as_u32().unwrap_or(0),
        &hash,
        record_bytes(&record),
    )?;
    Ok(Some(value))
}

async fn publish(
    network: &mpsc::Sender<NetworkMsg<KyotoContext>>,
    msgs: Vec<StreamMessage<ProposalPart>>,
) -> anyhow::Result<()> {
    for m in msgs {
        network
            .send(NetworkMsg::PublishProposalPart(m))
            .await
            .map_err(|_| anyhow::anyhow!("the consensus network stopped"))?;
    }
    Ok(())
}

/// Builds and streams this validator's proposal. It runs in a task of its own, but
/// Malachite's host connector still waits for its answer before it delivers anything
/// else, so the wait for transactions is bounded (and skipped while catching up).
struct Proposer {
    node: Arc<Node>,
    signer: Arc<KyotoSigner>,
    address: Address,
    genesis: Hash,
    rules: ProposalRules,
    network: mpsc::Sender<NetworkMsg<KyotoContext>>,
    /// The engine delivers nothing else while it waits for a proposal: a node that is
    /// catching up proposes at once instead of waiting for transactions, so that the
    /// synced block for this height is not held up.
    catching_up: bool,
}

impl Proposer {
    async fn propose(
        &self,
        height: Height,
        round: Round,
        timeout: Duration,
        stream_id: StreamId,
    ) -> anyhow::Result<Option<LocallyProposedValue<KyotoContext>>> {
        let r = round.as_u32().unwrap_or(0);
        // Asked again for the same height and round (after a restart): the same block.
        let kept = self.node.chain()?.store().proposals_at(height.0)?;
        for (rr, _, bytes) in kept {
            let rec = record_from(&bytes)?;
            if rr == r
                && rec.value.proposer == self.address
                && let Some(signature) = rec.signature
            {
                let a = Assembled {
                    height,
                    round,
                    pol_round: rec.value.valid_round,
                    proposer: self.address,
                    block: rec.block,
                    signature,
                };
                publish(&self.network, stream_messages(&a, stream_id)).await?;
                return Ok(Some(LocallyProposedValue::new(
                    height,
                    round,
                    rec.value.value,
                )));
            }
        }
        // Wait for transactions, but not past half the propose timeout.
        let started = Instant::now();
        let wait = if self.catching_up {
            Duration::ZERO
        } else {
            self.rules.empty_block_interval.min(timeout / 2)
        };
        // Only transactions a block can take count: one parked behind a nonce gap
        // must not turn a quiet network into a stream of empty blocks.
        while self.node.mempool_ready() == 0 && started.elapsed() < wait {
            self.node
                .wait_for_tx(wait.saturating_sub(started.elapsed()))
                .await;
        }
        let ready = self.node.mempool_ready();
        if ready > 0 {
            let window = self.node.config().block_window;
            if ready < self.node.config().max_block_txs && !window.is_zero() {
                tokio::time::sleep(window).await;
            }
        }
        let node = Arc::clone(&self.node);
        let signer = Arc::clone(&self.signer);
        let (address, genesis) = (self.address, self.genesis);
        let built =
            tokio::task::spawn_blocking(move || -> anyhow::Result<Option<(Assembled, Hash)>> {
                let txs = node.select_txs()?;
                let chain = node.chain()?;
                if chain.height() + 1 != height.0 {
                    return Ok(None);
                }
                let (block, hash) = chain.build_block(&txs, now_ms())?;
                let block = block.encode_to_vec();
                let signature = signer.sign(&part_bytes(
                    &genesis,
                    height,
                    round,
                    Round::Nil,
                    &address,
                    &sha256(&block),
                ));
                let value = ProposedValue {
                    height,
                    round,
                    valid_round: Round::Nil,
                    proposer: address,
                    value: BlockId(hash),
                    validity: Validity::Valid,
                };
                let record = Record {
                    value,
                    block: block.clone(),
                    signature: Some(signature),
                };
                chain
                    .store()
                    .put_proposal(height.0, r, &hash, record_bytes(&record))?;
                Ok(Some((
                    Assembled {
                        height,
                        round,
                        pol_round: Round::Nil,
                        proposer: address,
                        block,
                        signature,
                    },
                    hash,
                )))
            })
            .await??;
        let Some((a, hash)) = built else {
            return Ok(None);
        };
        tracing::debug!(%height, %round, bytes = a.block.len(), "proposing");
        let value = LocallyProposedValue::new(height, round, BlockId(hash));
        publish(&self.network, stream_messages(&a, stream_id)).await?;
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_peer() -> PeerId {
        let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let id = crate::gossip::peer_id(&key).unwrap();
        PeerId::from_bytes(&id.to_bytes()).unwrap()
    }

    fn proposal(len: usize) -> Assembled {
        Assembled {
            height: Height(3),
            round: Round::new(1),
            pol_round: Round::Nil,
            proposer: Address([9; 32]),
            block: (0..len).map(|i| i as u8).collect(),
            signature: Signature([7; 64]),
        }
    }

    fn same(a: &Assembled, b: &Assembled) -> bool {
        a.height == b.height
            && a.round == b.round
            && a.pol_round == b.pol_round
            && a.proposer == b.proposer
            && a.block == b.block
            && a.signature == b.signature
    }

    #[test]
    fn a_stream_reassembles_in_any_order_with_duplicates() {
        let a = proposal(CHUNK_BYTES * 2 + 17);
        let mut msgs = stream_messages(&a, StreamId::new(Bytes::from_static(b"s1")));
        assert_eq!(msgs.len(), 6, "init, three chunks, fin part, end");
        msgs.reverse();
        let dup = msgs[2].clone();
        msgs.insert(3, dup);
        let mut streams = Streams::new(1 << 30);
        let peer = test_peer();
        let mut done = None;
        for m in msgs {
            if let Some(x) = streams.add(peer, m) {
                assert!(done.is_none(), "completed twice");
                done = Some(x);
            }
        }
        assert!(same(&done.unwrap(), &a));
        assert!(
            streams.streams.is_empty(),
            "a completed stream is forgotten"
        );
    }

    #[test]
    fn oversized_malformed_and_excess_streams_are_dropped() {
        let a = proposal(CHUNK_BYTES * 3);
        let peer = test_peer();
        // Over the per-stream byte limit: dropped, never completes.
        let mut small = Streams::new(CHUNK_BYTES);
        let done: Vec<_> = stream_messages(&a, StreamId::new(Bytes::from_static(b"big")))
            .into_iter()
            .filter_map(|m| small.add(peer, m))
            .collect();
        assert!(done.is_empty());
        // Parts out of place (data after the signature): not a proposal.
        let parts = vec![
            ProposalPart::Init {
                height: Height(1),
                round: Round::new(0),
                pol_round: Round::Nil,
                proposer: Address([1; 32]),
            },
            ProposalPart::Fin {
                signature: Signature([0; 64]),
            },
            ProposalPart::Data(Bytes::from_static(b"late")),
        ];
        assert!(assemble(parts.into_iter()).is_none());
        // No more than MAX_STREAMS incomplete streams are kept.
        let mut many = Streams::new(1 << 20);
        for i in 0..(MAX_STREAMS as u64 + 10) {
            let id = StreamId::new(Bytes::from(i.to_be_bytes().to_vec()));
            let first = stream_messages(&proposal(10), id).remove(0);
            assert!(many.add(peer, first).is_none());
        }
        assert!(many.streams.len() <= MAX_STREAMS);
    }
}
