//! Why the consensus glue stopped or refused a message from the engine.

use crate::chain::ChainError;
use crate::consensus::codec::CodecError;
use crate::node::SubmitError;
use crate::store::StoreError;

/// An error the consensus glue returns. Every one stops this validator's consensus
/// (the daemon exits with it): the engine's own faults, a block this node cannot
/// commit, or a store it cannot read.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    #[error("consensus needs a validator key")]
    NoValidatorKey,
    #[error("the ledger records no validator: consensus cannot run")]
    NoValidators,
    #[error("the validator key as a libp2p key: {0}")]
    Key(String),
    #[error("signing the validator proof: {0}")]
    Signing(String),
    #[error("starting the consensus engine: {0}")]
    EngineStart(String),
    #[error("the consensus engine stopped before it was ready")]
    StoppedBeforeReady,
    #[error(
        "the consensus network did not start within 30 s (can it listen on {listen}? see the log above)"
    )]
    NetworkDidNotStart { listen: String },
    #[error("the consensus engine stopped (see the log above); this node cannot go on")]
    EngineStopped,
    #[error("the consensus network stopped")]
    NetworkStopped,
    #[error("consensus decided block {block} at height {height}, which this node does not have")]
    DecidedUnknownValue { height: u64, block: String },
    #[error("a consensus message or kept proposal: {0}")]
    Codec(#[from] CodecError),
    #[error("a stored block or proposal does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("a stored commit certificate is malformed: {0}")]
    BadCertificate(&'static str),
    #[error("a kept proposal is unreadable: {0}")]
    KeptProposal(String),
    #[error("a blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Node(#[from] SubmitError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The result of a step of the consensus glue.
pub type ConsensusResult<T> = Result<T, ConsensusError>;
