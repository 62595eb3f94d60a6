//! Kyoto Ledger's types for Malachite's `Context`: who votes (validators named by
//! their ed25519 key), what is voted on (a block, named by its hash) and how each
//! message is signed.
//!
//! The value Malachite orders is only the block hash; the block itself travels as
//! proposal parts and is kept by the application (see `app.rs`), so the engine's
//! write-ahead log stays small.

use std::fmt;

use arc_malachitebft_app_channel::app::types::core::{
    self as mcore, LinearTimeouts, NilOrVal, Round, SignedMessage, VoteType, VotingPower,
};
use bytes::Bytes;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::ledger::{Hash, State};

/// A validator's address: its ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(pub [u8; 32]);

/// Display: the whole key in hex; Debug: its first six bytes.
macro_rules! hex_formats {
    ($t:ident) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), hex::encode(&self.0[..6]))
            }
        }
    };
}
hex_formats!(Address);
impl mcore::Address for Address {}

/// A block height (the genesis state is height 0, the first block height 1).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Height(pub u64);

impl fmt::Display for Height {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl mcore::Height for Height {
    const ZERO: Self = Height(0);
    const INITIAL: Self = Height(1);
    fn increment_by(&self, n: u64) -> Self {
        Height(self.0.saturating_add(n))
    }
    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(Height)
    }
    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// What consensus decides: a block, named by the hash of its header.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockId(pub Hash);

hex_formats!(BlockId);
impl mcore::Value for BlockId {
    type Id = BlockId;
    fn id(&self) -> BlockId {
        *self
    }
}

/// A signed proposal for (height, round): the proposer's block hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposal {
    pub height: Height,
    pub round: Round,
    pub value: BlockId,
    pub pol_round: Round,
    pub proposer: Address,
}

impl mcore::Proposal<KyotoContext> for Proposal {
    fn height(&self) -> Height {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &BlockId {
        &self.value
    }
    fn take_value(self) -> BlockId {
        self.value
    }
    fn pol_round(&self) -> Round {
        self.pol_round
    }
    fn validator_address(&self) -> &Address {
        &self.proposer
    }
}

/// One part of a streamed block proposal: who proposes what for (height, round),
/// then the encoded block in chunks, then the proposer's signature over all of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalPart {
    Init {
        height: Height,
        round: Round,
        pol_round: Round,
        proposer: Address,
    },
    Data(Bytes),
    Fin {
        signature: Signature,
    },
}

impl mcore::ProposalPart<KyotoContext> for ProposalPart {
    fn is_first(&self) -> bool {
        matches!(self, ProposalPart::Init { .. })
    }
    fn is_last(&self) -> bool {
        matches!(self, ProposalPart::Fin { .. })
    }
}

/// A prevote or precommit. Equality ignores the vote extension (Malachite compares
/// votes replayed from its log with the recorded ones), and so does the signature.
#[derive(Clone, Debug)]
pub struct Vote {
    pub vote_type: VoteType,
    pub height: Height,
    pub round: Round,
    pub value: NilOrVal<BlockId>,
    pub validator: Address,
    pub extension: Option<SignedMessage<KyotoContext, Bytes>>,
}

impl PartialEq for Vote {
    fn eq(&self, other: &Self) -> bool {
        self.vote_type == other.vote_type
            && self.height == other.height
            && self.round == other.round
            && self.value == other.value
            && self.validator == other.validator
    }
}
impl Eq for Vote {}

impl mcore::Vote<KyotoContext> for Vote {
    fn height(&self) -> Height {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &NilOrVal<BlockId> {
        &self.value
    }
    fn take_value(self) -> NilOrVal<BlockId> {
        self.value
    }
    fn vote_type(&self) -> VoteType {
        self.vote_type
    }
    fn validator_address(&self) -> &Address {
        &self.validator
    }
    fn extension(&self) -> Option<&SignedMessage<KyotoContext, Bytes>> {
        self.extension.as_ref()
    }
    fn take_extension(&mut self) -> Option<SignedMessage<KyotoContext, Bytes>> {
        self.extension.take()
    }
    fn extend(self, extension: SignedMessage<KyotoContext, Bytes>) -> Self {
        Vote {
            extension: Some(extension),
            ..self
        }
    }
}

/// A validator: one vote each (Kyoto validators are Parties' registries, equal in
/// consensus).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    pub address: Address,
    pub public_key: VerifyingKey,
    pub voting_power: VotingPower,
}

impl mcore::Validator<KyotoContext> for Validator {
    fn address(&self) -> &Address {
        &self.address
    }
    fn public_key(&self) -> &VerifyingKey {
        &self.public_key
    }
    fn voting_power(&self) -> VotingPower {
        self.voting_power
    }
}

/// The validators of a height, sorted by address (so every node indexes them alike).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorSet {
    pub validators: Vec<Validator>,
}

impl ValidatorSet {
    /// The validator set the ledger records (governance may change it; a change
    /// adopted in block h applies from height h + 1). Keys that are not valid ed25519
    /// points cannot be in a ledger state (genesis and governance check them), and
    /// are skipped rather than trusted.
    pub fn from_state(state: &State) -> Self {
        let mut validators: Vec<Validator> = state
            .governance()
            .validators
            .iter()
            .filter_map(|v| {
                VerifyingKey::from_bytes(&v.key)
                    .ok()
                    .map(|public_key| Validator {
                        address: Address(v.key),
                        public_key,
                        voting_power: 1,
                    })
            })
            .collect();
        validators.sort_by_key(|v| v.address);
        validators.dedup_by_key(|v| v.address);
        ValidatorSet { validators }
    }
}

impl mcore::ValidatorSet<KyotoContext> for ValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }
    fn total_voting_power(&self) -> VotingPower {
        self.validators.iter().map(|v| v.voting_power).sum()
    }
    fn get_by_address(&self, address: &Address) -> Option<&Validator> {
        self.validators
            .binary_search_by_key(address, |v| v.address)
            .ok()
            .and_then(|i| self.validators.get(i))
    }
    fn get_by_index(&self, index: usize) -> Option<&Validator> {
        self.validators.get(index)
    }
}

/// An ed25519 signature, ordered by its bytes (Malachite keeps signatures in sorted
/// sets).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", &hex::encode(self.0)[..12])
    }
}

/// Ed25519 (ed25519-dalek, strict verification).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519;

#[derive(Debug, thiserror::Error)]
pub enum DecodingError {
    #[error("an ed25519 signature is 64 bytes, got {0}")]
    SignatureLength(usize),
    #[error("not an ed25519 public key")]
    PublicKey,
}

impl mcore::SigningScheme for Ed25519 {
    type DecodingError = DecodingError;
    type Signature = Signature;
    type PublicKey = VerifyingKey;
    type PrivateKey = SigningKey;

    fn decode_signature(bytes: &[u8]) -> Result<Signature, DecodingError> {
        <[u8; 64]>::try_from(bytes)
            .map(Signature)
            .map_err(|_| DecodingError::SignatureLength(bytes.len()))
    }
    fn encode_signature(signature: &Signature) -> Vec<u8> {
        signature.0.to_vec()
    }
    fn decode_public_key(bytes: &[u8]) -> Result<VerifyingKey, DecodingError> {
        let b: [u8; 32] = bytes.try_into().map_err(|_| DecodingError::PublicKey)?;
        VerifyingKey::from_bytes(&b).map_err(|_| DecodingError::PublicKey)
    }
    fn encode_public_key(public_key: &VerifyingKey) -> Vec<u8> {
        public_key.to_bytes().to_vec()
    }
}

/// The Kyoto Ledger context.
#[derive(Clone, Copy, Debug, Default)]
pub struct KyotoContext;

impl mcore::Context for KyotoContext {
    type Address = Address;
    type Height = Height;
    type ProposalPart = ProposalPart;
    type Proposal = Proposal;
    type Validator = Validator;
    type ValidatorSet = ValidatorSet;
    type Timeouts = LinearTimeouts;
    type Value = BlockId;
    type Vote = Vote;
    type Extension = Bytes;
    type SigningScheme = Ed25519;

    /// Round-robin over the validators sorted by address, moving one place per
    /// height and per round.
    fn select_proposer<'a>(
        &self,
        validator_set: &'a ValidatorSet,
        height: Height,
        round: Round,
    ) -> &'a Validator {
        select_proposer(validator_set, height, round)
    }

    fn new_proposal(
        &self,
        height: Height,
        round: Round,
        value: BlockId,
        pol_round: Round,
        address: Address,
    ) -> Proposal {
        Proposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Prevote,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }

    fn new_precommit(
        &self,
        height: Height,
        round: Round,
        value_id: NilOrVal<BlockId>,
        address: Address,
    ) -> Vote {
        Vote {
            vote_type: VoteType::Precommit,
            height,
            round,
            value: value_id,
            validator: address,
            extension: None,
        }
    }
}

/// The proposer of (height, round). Malachite never asks with an empty set (a
/// ledger state always has a validator), so the first validator is the fallback
/// only in name.
#[allow(clippy::indexing_slicing)]
pub fn select_proposer(set: &ValidatorSet, height: Height, round: Round) -> &Validator {
    let n = set.validators.len().max(1) as u64;
    let r = u64::from(round.as_u32().unwrap_or(0));
    let i = (height.0.saturating_sub(1).wrapping_add(r) % n) as usize;
    // `i < n` and n >= 1; an empty set is refused before consensus starts.
    &set.validators[i.min(set.validators.len().saturating_sub(1))]
}

/// Default timeouts for a loopback or LAN network of registries.
pub fn timeouts() -> LinearTimeouts {
    use std::time::Duration;
    LinearTimeouts {
        propose: Duration::from_millis(3000),
        propose_delta: Duration::from_millis(500),
        prevote: Duration::from_millis(1000),
        prevote_delta: Duration::from_millis(500),
        precommit: Duration::from_millis(1000),
        precommit_delta: Duration::from_millis(500),
        rebroadcast: Duration::from_millis(5000),
        max_timeout: Duration::from_secs(60),
    }
}
