//! Proposals: how this validator builds, keeps and streams its own, and how it
//! judges and keeps another's (who proposed, their signature, the block's checks, a
//! timestamp not too far ahead of this node's clock).

use crate::consensus::error::{ConsensusError, ConsensusResult};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_malachitebft_app_channel::NetworkMsg;
use arc_malachitebft_app_channel::app::consensus::ProposedValue;
use arc_malachitebft_app_channel::app::streaming::{StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::LocallyProposedValue;
use arc_malachitebft_app_channel::app::types::core::{Round, Validity};
use kyoto_proto::consensus as cpb;
use kyoto_proto::v1 as pb;
use prost::Message;
use tokio::sync::mpsc;

use super::codec::{proposed_value_from, proposed_value_to};
use super::context::{
    Address, BlockId, Height, KyotoContext, ProposalPart, Signature, ValidatorSet, select_proposer,
};
use super::signing::{self, KyotoSigner, part_bytes};
use super::streams::{Assembled, stream_messages};
use crate::chain::{ChainError, block_hash};
use crate::clock::now_ms;
use crate::crypto::sha256;
use crate::ledger::Hash;
use crate::node::Node;

/// How a validator proposes and judges blocks.
#[derive(Clone, Debug)]
pub struct ProposalRules {
    /// How far ahead of this node's clock a live proposal's timestamp may be.
    pub max_clock_drift: Duration,
    /// How long a proposer waits for transactions before proposing an empty block
    /// (bounded by half the propose timeout).
    pub empty_block_interval: Duration,
    /// Test-only (feature `byzantine`): the lies this validator tells.
    #[cfg(feature = "byzantine")]
    pub lies: super::byzantine::Lies,
}

impl Default for ProposalRules {
    fn default() -> Self {
        ProposalRules {
            max_clock_drift: Duration::from_secs(5),
            empty_block_interval: Duration::from_millis(1000),
            #[cfg(feature = "byzantine")]
            lies: Default::default(),
        }
    }
}

/// A kept proposal: its proposed value, its block and the proposer's part signature.
pub(crate) struct Record {
    pub(crate) value: ProposedValue<KyotoContext>,
    pub(crate) block: Vec<u8>,
    pub(crate) signature: Option<Signature>,
}

pub(crate) fn record_bytes(r: &Record) -> Vec<u8> {
    cpb::StoredProposal {
        value: Some(proposed_value_to(&r.value)),
        block: r.block.clone(),
        part_signature: r.signature.map(|s| s.0.to_vec()).unwrap_or_default(),
    }
    .encode_to_vec()
}

pub(crate) fn record_from(bytes: &[u8]) -> ConsensusResult<Record> {
    let stored = cpb::StoredProposal::decode(bytes)?;
    let value = proposed_value_from(
        stored
            .value
            .ok_or_else(|| ConsensusError::KeptProposal("it has no value".into()))?,
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

/// Whether bytes read back as a kept proposal (the record written before a proposal is
/// sent or voted on) decode to one; the entry point of the store fuzz target.
pub fn decodes_as_kept_proposal(bytes: &[u8]) -> bool {
    record_from(bytes).is_ok()
}

pub(crate) fn judge(
    node: &Node,
    genesis: &Hash,
    drift: Duration,
    a: Assembled,
) -> ConsensusResult<Option<ProposedValue<KyotoContext>>> {
    let chain = node.chain()?;
    let set = ValidatorSet::from_state(chain.state());
    if set.validators.is_empty() {
        return Ok(None);
    }
    let expected = select_proposer(&set, a.height, a.round);
    if expected.address != a.proposer {
        tracing::debug!(height = %a.height, round = %a.round, proposer = %a.proposer, "a proposal from a validator whose turn it is not");
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
        tracing::warn!(height = %a.height, round = %a.round, proposer = %a.proposer, "a proposal whose signature does not verify");
        return Ok(None);
    }
    let Ok(block) = pb::Block::decode(a.block.as_slice()) else {
        tracing::warn!(height = %a.height, round = %a.round, proposer = %a.proposer, "a proposal that is not a block");
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
                let code = match &e {
                    ChainError::InvalidBlock(r) => r.code(),
                    _ => "INTERNAL",
                };
                tracing::warn!(height = %a.height, round = %a.round, proposer = %a.proposer, code, "refusing a proposed block: {e}");
                // A block that breaks a rule is the proposer's fault; this node's own
                // failure to check it is not.
                if matches!(e, ChainError::InvalidBlock(_)) {
                    node.note_fault(&format!(
                        "height {} round {}: refused the block proposed by validator {}: {code}",
                        a.height, a.round, a.proposer
                    ));
                }
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
                proposer = %a.proposer,
                ahead_ms = header.timestamp_ms.saturating_sub(now_ms()),
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

pub(crate) async fn publish(
    network: &mpsc::Sender<NetworkMsg<KyotoContext>>,
    msgs: Vec<StreamMessage<ProposalPart>>,
) -> ConsensusResult<()> {
    for m in msgs {
        network
            .send(NetworkMsg::PublishProposalPart(m))
            .await
            .map_err(|_| ConsensusError::NetworkStopped)?;
    }
    Ok(())
}

/// Builds and streams this validator's proposal. It runs in a task of its own, but
/// Malachite's host connector still waits for its answer before it delivers anything
/// else, so the wait for transactions is bounded (and skipped while catching up).
pub(crate) struct Proposer {
    pub(crate) node: Arc<Node>,
    pub(crate) signer: Arc<KyotoSigner>,
    pub(crate) address: Address,
    pub(crate) genesis: Hash,
    pub(crate) rules: ProposalRules,
    pub(crate) network: mpsc::Sender<NetworkMsg<KyotoContext>>,
    /// The engine delivers nothing else while it waits for a proposal: a node that is
    /// catching up proposes at once instead of waiting for transactions, so that the
    /// synced block for this height is not held up.
    pub(crate) catching_up: bool,
}

impl Proposer {
    pub(crate) async fn propose(
        &self,
        height: Height,
        round: Round,
        timeout: Duration,
        stream_id: StreamId,
    ) -> ConsensusResult<Option<LocallyProposedValue<KyotoContext>>> {
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
        #[cfg(feature = "byzantine")]
        let lies = self.rules.lies.clone();
        let built =
            tokio::task::spawn_blocking(move || -> ConsensusResult<Option<(Assembled, Hash)>> {
                let txs = node.select_txs()?;
                let chain = node.chain()?;
                if chain.height() + 1 != height.0 {
                    return Ok(None);
                }
                #[allow(unused_mut)]
                let (mut block, mut hash) = chain.build_block(&txs, now_ms())?;
                #[cfg(feature = "byzantine")]
                if let Some(key) = node.validator_key()
                    && lies.tamper(&mut block, now_ms(), key).is_some()
                    && let Some(header) = block.header.as_ref()
                {
                    hash = block_hash(header);
                }
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
