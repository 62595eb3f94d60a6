//! What a validator signs for consensus, and how it is checked.
//!
//! Every message kind is signed under its own domain tag and the chain's genesis
//! hash, so that a signature can never be replayed as another kind of message or on
//! another chain:
//!
//! ```text
//! vote:          "kyoto-ledger/vote/v1"          0x00 genesis_hash type height round value validator
//! proposal:      "kyoto-ledger/proposal/v1"      0x00 genesis_hash height round value pol_round proposer
//! proposal part: "kyoto-ledger/proposal-part/v1" 0x00 genesis_hash height round pol_round proposer sha256(block)
//! extension:     "kyoto-ledger/extension/v1"     0x00 genesis_hash height round value validator sha256(extension)
//! ```
//!
//! Heights are 8 bytes and rounds 8 bytes (two's complement, nil = -1), big-endian;
//! a value is 0x00 for nil or 0x01 followed by the 32-byte block hash; the vote type
//! is 0x01 (prevote) or 0x02 (precommit). A vote's signature never covers its
//! extension. Validator proofs use Malachite's own `PoV` preimage.
//!
//! Verification is strict (`verify_strict`: no weak keys, canonical signatures only),
//! so every node gives the same answer for the same bytes.

use arc_malachitebft_app_channel::app::types::core::{
    NilOrVal, Round, SignedMessage, ValidatorProof, VoteExtensionScope, VoteType,
};
use arc_malachitebft_app_channel::{Signer, Verifier};
use arc_malachitebft_signing::{Error, VerificationResult};
use async_trait::async_trait;
use bytes::Bytes;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use super::context::{Address, BlockId, Height, KyotoContext, Proposal, Signature, Vote};
use crate::crypto::sha256;
use crate::ledger::Hash;

pub const VOTE_DOMAIN: &[u8] = b"kyoto-ledger/vote/v1";
pub const PROPOSAL_DOMAIN: &[u8] = b"kyoto-ledger/proposal/v1";
pub const PART_DOMAIN: &[u8] = b"kyoto-ledger/proposal-part/v1";
pub const EXTENSION_DOMAIN: &[u8] = b"kyoto-ledger/extension/v1";

fn preimage(domain: &[u8], genesis: &Hash) -> Vec<u8> {
    let mut b = Vec::with_capacity(domain.len() + 1 + 32 + 128);
    b.extend_from_slice(domain);
    b.push(0);
    b.extend_from_slice(genesis);
    b
}

fn push_round(b: &mut Vec<u8>, round: Round) {
    b.extend_from_slice(&round.as_i64().to_be_bytes());
}

fn push_value(b: &mut Vec<u8>, value: &NilOrVal<BlockId>) {
    match value {
        NilOrVal::Nil => b.push(0),
        NilOrVal::Val(id) => {
            b.push(1);
            b.extend_from_slice(&id.0);
        }
    }
}

/// The bytes a vote's signature covers.
pub fn vote_bytes(genesis: &Hash, vote: &Vote) -> Vec<u8> {
    precommit_like_bytes(
        genesis,
        vote.vote_type,
        vote.height,
        vote.round,
        &vote.value,
        &vote.validator,
    )
}

/// The bytes a vote of `vote_type` signs (observers rebuild precommits from commit
/// certificates with this).
pub fn precommit_like_bytes(
    genesis: &Hash,
    vote_type: VoteType,
    height: Height,
    round: Round,
    value: &NilOrVal<BlockId>,
    validator: &Address,
) -> Vec<u8> {
    let mut b = preimage(VOTE_DOMAIN, genesis);
    b.push(match vote_type {
        VoteType::Prevote => 1,
        VoteType::Precommit => 2,
    });
    b.extend_from_slice(&height.0.to_be_bytes());
    push_round(&mut b, round);
    push_value(&mut b, value);
    b.extend_from_slice(&validator.0);
    b
}

/// The bytes a proposal's signature covers.
pub fn proposal_bytes(genesis: &Hash, p: &Proposal) -> Vec<u8> {
    let mut b = preimage(PROPOSAL_DOMAIN, genesis);
    b.extend_from_slice(&p.height.0.to_be_bytes());
    push_round(&mut b, p.round);
    b.extend_from_slice(&p.value.0);
    push_round(&mut b, p.pol_round);
    b.extend_from_slice(&p.proposer.0);
    b
}

/// The bytes the `Fin` part of a streamed proposal signs: the stream's header and
/// the hash of the encoded block it carries.
pub fn part_bytes(
    genesis: &Hash,
    height: Height,
    round: Round,
    pol_round: Round,
    proposer: &Address,
    block_bytes_hash: &Hash,
) -> Vec<u8> {
    let mut b = preimage(PART_DOMAIN, genesis);
    b.extend_from_slice(&height.0.to_be_bytes());
    push_round(&mut b, round);
    push_round(&mut b, pol_round);
    b.extend_from_slice(&proposer.0);
    b.extend_from_slice(block_bytes_hash);
    b
}

fn extension_bytes(
    genesis: &Hash,
    scope: &VoteExtensionScope<KyotoContext>,
    ext: &Bytes,
) -> Vec<u8> {
    let mut b = preimage(EXTENSION_DOMAIN, genesis);
    b.extend_from_slice(&scope.height.0.to_be_bytes());
    push_round(&mut b, scope.round);
    b.extend_from_slice(&scope.value_id.0);
    b.extend_from_slice(&scope.validator_address.0);
    b.extend_from_slice(&sha256(ext));
    b
}

/// Strict ed25519 verification of `sig` over `msg` by `key`.
pub fn verify(key: &VerifyingKey, msg: &[u8], sig: &Signature) -> bool {
    let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
    key.verify_strict(msg, &sig).is_ok()
}

/// Signs consensus messages with a validator's key.
pub struct KyotoSigner {
    key: SigningKey,
    genesis: Hash,
}

impl KyotoSigner {
    pub fn new(key: SigningKey, genesis: Hash) -> Self {
        KyotoSigner { key, genesis }
    }
    pub fn address(&self) -> Address {
        Address(self.key.verifying_key().to_bytes())
    }
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.key.sign(msg).to_bytes())
    }
}

#[async_trait]
impl Signer<KyotoContext> for KyotoSigner {
    async fn sign_vote(&self, vote: Vote) -> Result<SignedMessage<KyotoContext, Vote>, Error> {
        let signature = self.sign(&vote_bytes(&self.genesis, &vote));
        Ok(SignedMessage::new(vote, signature))
    }

    async fn sign_proposal(
        &self,
        proposal: Proposal,
    ) -> Result<SignedMessage<KyotoContext, Proposal>, Error> {
        let signature = self.sign(&proposal_bytes(&self.genesis, &proposal));
        Ok(SignedMessage::new(proposal, signature))
    }

    async fn sign_vote_extension(
        &self,
        scope: VoteExtensionScope<KyotoContext>,
        extension: Bytes,
    ) -> Result<SignedMessage<KyotoContext, Bytes>, Error> {
        let signature = self.sign(&extension_bytes(&self.genesis, &scope, &extension));
        Ok(SignedMessage::new(extension, signature))
    }

    async fn sign_validator_proof(
        &self,
        public_key: Vec<u8>,
        peer_id: Vec<u8>,
    ) -> Result<ValidatorProof<KyotoContext>, Error> {
        let signature = self.sign(&ValidatorProof::<KyotoContext>::signing_bytes(
            &public_key,
            &peer_id,
        ));
        Ok(ValidatorProof::new(public_key, peer_id, signature))
    }
}

/// Checks consensus signatures (every node, validators and observers alike).
pub struct KyotoVerifier {
    genesis: Hash,
}

impl KyotoVerifier {
    pub fn new(genesis: Hash) -> Self {
        KyotoVerifier { genesis }
    }
}

#[async_trait]
impl Verifier<KyotoContext> for KyotoVerifier {
    async fn verify_signed_vote(
        &self,
        vote: &Vote,
        signature: &Signature,
        public_key: &VerifyingKey,
    ) -> Result<VerificationResult, Error> {
        Ok(VerificationResult::from_bool(verify(
            public_key,
            &vote_bytes(&self.genesis, vote),
            signature,
        )))
    }

    async fn verify_signed_proposal(
        &self,
        proposal: &Proposal,
        signature: &Signature,
        public_key: &VerifyingKey,
    ) -> Result<VerificationResult, Error> {
        Ok(VerificationResult::from_bool(verify(
            public_key,
            &proposal_bytes(&self.genesis, proposal),
            signature,
        )))
    }

    async fn verify_signed_vote_extension(
        &self,
        scope: &VoteExtensionScope<KyotoContext>,
        extension: &Bytes,
        signature: &Signature,
        public_key: &VerifyingKey,
    ) -> Result<VerificationResult, Error> {
        Ok(VerificationResult::from_bool(verify(
            public_key,
            &extension_bytes(&self.genesis, scope, extension),
            signature,
        )))
    }

    async fn verify_validator_proof(
        &self,
        proof: &ValidatorProof<KyotoContext>,
    ) -> Result<VerificationResult, Error> {
        let Ok(pk) = <[u8; 32]>::try_from(proof.public_key.as_slice()) else {
            return Ok(VerificationResult::Invalid);
        };
        let Ok(key) = VerifyingKey::from_bytes(&pk) else {
            return Ok(VerificationResult::Invalid);
        };
        Ok(VerificationResult::from_bool(verify(
            &key,
            &proof.preimage(),
            &proof.signature,
        )))
    }
}
