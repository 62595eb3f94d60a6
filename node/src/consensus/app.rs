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

use crate::consensus::error::{ConsensusError, ConsensusResult};
use std::sync::Arc;
use std::time::Instant;

use arc_malachitebft_app_channel::app::consensus::ProposedValue;
use arc_malachitebft_app_channel::app::engine::host::{HeightParams, Next, SyncedValueOutcome};
use arc_malachitebft_app_channel::app::streaming::StreamId;
use arc_malachitebft_app_channel::app::types::core::{
    CommitCertificate, ExtendedCommitCertificate, Round, Validity, VoteExtensions,
};
use arc_malachitebft_app_channel::app::types::sync::RawDecidedValue;
use arc_malachitebft_app_channel::{AppMsg, NetworkMsg};
use bytes::Bytes;
use kyoto_proto::v1 as pb;
use prost::Message;
use tokio::sync::mpsc;

use super::certificate::{certificate_from_pb, certificate_to_pb};
use super::context::{Address, BlockId, Height, KyotoContext, ValidatorSet, timeouts};
use super::proposal::{ProposalRules, Proposer, Record, judge, publish, record_bytes, record_from};
use super::signing::KyotoSigner;
use super::streams::{Assembled, Streams, stream_messages};
use crate::chain::{block_hash, transactions_match};
use crate::ledger::Hash;
use crate::node::Node;
use crate::tx::MAX_TX_BYTES;

/// Most complete proposals kept for heights this node has not reached yet.
const MAX_FUTURE_PROPOSALS: usize = 16;
/// Most blocks in one sync response.
const MAX_SYNC_BLOCKS: u64 = 20;
/// Most bytes of blocks in one sync response (the engine's limit is 10 MiB).
const MAX_SYNC_BYTES: usize = 8 * 1024 * 1024;

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
fn params(node: &Node) -> ConsensusResult<HeightParams<KyotoContext>> {
    let chain = node.chain()?;
    let set = ValidatorSet::from_state(chain.state());
    if set.validators.is_empty() {
        return Err(ConsensusError::NoValidators);
    }
    Ok(HeightParams::new(set, timeouts(), None))
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
    pub async fn handle(&mut self, msg: AppMsg<KyotoContext>) -> ConsensusResult<()> {
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
                    // The validators of the ledger's set whose double votes or proposals
                    // Malachite kept: logged by key, and named in `kyoto status` as the
                    // last fault seen.
                    let (named, keys): (Vec<String>, Vec<String>) = self
                        .node
                        .chain()?
                        .state()
                        .governance()
                        .validators
                        .iter()
                        .filter(|v| {
                            let a = Address(v.key);
                            evidence.votes.get(&a).is_some() || evidence.proposals.get(&a).is_some()
                        })
                        .map(|v| (format!("{} ({})", v.name, v.party), hex::encode(v.key)))
                        .unzip();
                    tracing::warn!(height = %certificate.height, equivocators = %keys.join(","), ?evidence, "validators equivocated");
                    self.node.note_fault(&format!(
                        "equivocation at height {}: {} signed two different votes or proposals",
                        certificate.height,
                        if named.is_empty() {
                            "a validator".to_owned()
                        } else {
                            named.join(", ")
                        }
                    ));
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
    async fn judge(&self, a: Assembled) -> ConsensusResult<Option<ProposedValue<KyotoContext>>> {
        let node = Arc::clone(&self.node);
        let genesis = self.genesis;
        let drift = self.rules.max_clock_drift;
        tokio::task::spawn_blocking(move || judge(&node, &genesis, drift, a)).await?
    }

    async fn commit(&self, certificate: &CommitCertificate<KyotoContext>) -> ConsensusResult<()> {
        let node = Arc::clone(&self.node);
        let cert = certificate.clone();
        let catching_up = Arc::clone(&self.catching_up);
        tokio::task::spawn_blocking(move || -> ConsensusResult<()> {
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
                return Err(ConsensusError::DecidedUnknownValue {
                    height: h,
                    block: cert.value_id.to_string(),
                });
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
    ) -> ConsensusResult<Vec<RawDecidedValue<KyotoContext>>> {
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
            #[cfg(feature = "byzantine")]
            let block = {
                let mut block = block;
                self.rules.lies.forge_synced(&mut block);
                block
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
        // The certificate names the header only: transactions that do not match it
        // are a forgery, whatever the height (a block further ahead is checked in
        // full only when it is applied, and must not fail then).
        if header.height != height.0 {
            return SyncedValueOutcome::PeerFault;
        }
        if !transactions_match(&block) {
            tracing::warn!(%height, "a peer served a committed block whose transactions are not the ones its header names");
            self.node.note_fault(&format!(
                "height {height}: a peer served a forged committed block (its transactions are not the ones its header names)"
            ));
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
        let kept = (|| -> ConsensusResult<bool> {
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
