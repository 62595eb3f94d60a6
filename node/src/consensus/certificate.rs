//! Commit certificates: between Malachite's form and the form the block store keeps.

use crate::consensus::error::{ConsensusError, ConsensusResult};
use arc_malachitebft_app_channel::app::types::core::{CommitCertificate, CommitSignature, Round};
use kyoto_proto::v1 as pb;

use super::context::{Address, BlockId, Height, KyotoContext, Signature};

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
) -> ConsensusResult<CommitCertificate<KyotoContext>> {
    let mut commit_signatures = Vec::with_capacity(c.signatures.len());
    for s in &c.signatures {
        commit_signatures.push(CommitSignature::new(
            Address(
                <[u8; 32]>::try_from(s.public_key.as_slice())
                    .map_err(|_| ConsensusError::BadCertificate("a signer is not 32 bytes"))?,
            ),
            Signature(
                <[u8; 64]>::try_from(s.signature.as_slice())
                    .map_err(|_| ConsensusError::BadCertificate("a signature is not 64 bytes"))?,
            ),
        ));
    }
    Ok(CommitCertificate {
        height: Height(c.height),
        round: Round::new(
            u32::try_from(c.round)
                .map_err(|_| ConsensusError::BadCertificate("the round is out of range"))?,
        ),
        value_id: BlockId(
            <[u8; 32]>::try_from(c.block_hash.as_slice())
                .map_err(|_| ConsensusError::BadCertificate("the block hash is not 32 bytes"))?,
        ),
        commit_signatures,
    })
}
