//! A block's commit certificate, signed and checked: the precommits of more than two
//! thirds of the validator set for exactly this block (height, round, hash), each
//! verified strictly against the validator's key under the vote domain tag.

use std::collections::BTreeSet;

use arc_malachitebft_app_channel::app::types::core::{NilOrVal, Round, VoteType};
use ed25519_dalek::SigningKey;
use kyoto_proto::v1 as pb;

use super::context::{Address, BlockId, Height, Signature, ValidatorSet};
use super::signing::{self, KyotoSigner, precommit_like_bytes};
use crate::ledger::Hash;
use crate::rejection::BlockRejection;

/// The certificate of a block committed by one validator alone (a dev chain): its
/// precommit at round 0.
pub fn sign_alone(
    validator: &SigningKey,
    genesis: &Hash,
    height: u64,
    hash: &Hash,
) -> pb::CommitCertificate {
    let address = Address(validator.verifying_key().to_bytes());
    let signer = KyotoSigner::new(validator.clone(), *genesis);
    let signature = signer.sign(&precommit_like_bytes(
        genesis,
        VoteType::Precommit,
        Height(height),
        Round::new(0),
        &NilOrVal::Val(BlockId(*hash)),
        &address,
    ));
    pb::CommitCertificate {
        height,
        block_hash: hash.to_vec(),
        round: 0,
        signatures: vec![pb::CommitSignature {
            public_key: address.0.to_vec(),
            signature: signature.0.to_vec(),
        }],
    }
}

/// The certificate holds valid precommits for the block `hash` at `height` from more
/// than two thirds of `set` (one vote each).
pub fn verify(
    cert: &pb::CommitCertificate,
    set: &ValidatorSet,
    genesis: &Hash,
    height: u64,
    hash: &Hash,
) -> Result<(), BlockRejection> {
    if cert.height != height || cert.block_hash != hash.as_slice() {
        return Err(BlockRejection::CertificateForAnotherBlock { height });
    }
    let round = u32::try_from(cert.round)
        .map(Round::new)
        .map_err(|_| BlockRejection::CertificateRound { height })?;
    let mut signed = BTreeSet::new();
    for s in &cert.signatures {
        let address = <[u8; 32]>::try_from(s.public_key.as_slice())
            .map(Address)
            .map_err(|_| BlockRejection::MalformedSigner { height })?;
        let signature = <[u8; 64]>::try_from(s.signature.as_slice())
            .map(Signature)
            .map_err(|_| BlockRejection::MalformedSignature { height })?;
        let Some(validator) = set.validators.iter().find(|v| v.address == address) else {
            return Err(BlockRejection::NotAValidator {
                height,
                signer: address.to_string(),
            });
        };
        let msg = precommit_like_bytes(
            genesis,
            VoteType::Precommit,
            Height(height),
            round,
            &NilOrVal::Val(BlockId(*hash)),
            &address,
        );
        if !signing::verify(&validator.public_key, &msg, &signature) {
            return Err(BlockRejection::PrecommitDoesNotVerify {
                height,
                signer: address.to_string(),
            });
        }
        if !signed.insert(address) {
            return Err(BlockRejection::SignedTwice {
                height,
                signer: address.to_string(),
            });
        }
    }
    let n = set.validators.len();
    if signed.len() * 3 <= n * 2 {
        return Err(BlockRejection::NoQuorum {
            height,
            signed: signed.len(),
            validators: n,
        });
    }
    Ok(())
}
