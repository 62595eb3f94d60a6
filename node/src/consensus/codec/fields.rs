//! Field-level conversions shared by every consensus message: rounds, addresses,
//! signatures, block ids, vote types, and the codec's error.

use arc_malachitebft_app_channel::app::types::core::{NilOrVal, Round, SignedMessage, VoteType};
use bytes::Bytes;
use kyoto_proto::consensus as cpb;

use crate::consensus::context::{Address, BlockId, KyotoContext, Signature};

/// Why bytes are not a valid consensus message.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("undecodable protobuf: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error("malformed message: {0}")]
    Invalid(&'static str),
}

pub(super) fn bad(what: &'static str) -> CodecError {
    CodecError::Invalid(what)
}

pub(super) fn round_to(r: Round) -> i64 {
    r.as_i64()
}

pub(super) fn round_from(r: i64) -> Result<Round, CodecError> {
    if r == -1 {
        Ok(Round::Nil)
    } else {
        u32::try_from(r)
            .map(Round::new)
            .map_err(|_| bad("round out of range"))
    }
}

pub(super) fn address_from(b: &[u8]) -> Result<Address, CodecError> {
    <[u8; 32]>::try_from(b)
        .map(Address)
        .map_err(|_| bad("an address is 32 bytes"))
}

pub(super) fn signature_from(b: &[u8]) -> Result<Signature, CodecError> {
    <[u8; 64]>::try_from(b)
        .map(Signature)
        .map_err(|_| bad("a signature is 64 bytes"))
}

pub(super) fn block_id_from(b: &[u8]) -> Result<BlockId, CodecError> {
    <[u8; 32]>::try_from(b)
        .map(BlockId)
        .map_err(|_| bad("a block hash is 32 bytes"))
}

pub(super) fn nil_or_val_to(v: &NilOrVal<BlockId>) -> Vec<u8> {
    match v {
        NilOrVal::Nil => Vec::new(),
        NilOrVal::Val(id) => id.0.to_vec(),
    }
}

pub(super) fn nil_or_val_from(b: &[u8]) -> Result<NilOrVal<BlockId>, CodecError> {
    if b.is_empty() {
        Ok(NilOrVal::Nil)
    } else {
        block_id_from(b).map(NilOrVal::Val)
    }
}

pub(super) fn vote_type_to(t: VoteType) -> i32 {
    match t {
        VoteType::Prevote => cpb::VoteType::Prevote as i32,
        VoteType::Precommit => cpb::VoteType::Precommit as i32,
    }
}

pub(super) fn vote_type_from(t: i32) -> Result<VoteType, CodecError> {
    match cpb::VoteType::try_from(t) {
        Ok(cpb::VoteType::Prevote) => Ok(VoteType::Prevote),
        Ok(cpb::VoteType::Precommit) => Ok(VoteType::Precommit),
        _ => Err(bad("unknown vote type")),
    }
}

pub(super) fn ext_to(e: &SignedMessage<KyotoContext, Bytes>) -> cpb::SignedExtension {
    cpb::SignedExtension {
        extension: e.message.to_vec(),
        signature: e.signature.0.to_vec(),
    }
}

pub(super) fn ext_from(
    e: cpb::SignedExtension,
) -> Result<SignedMessage<KyotoContext, Bytes>, CodecError> {
    Ok(SignedMessage::new(
        Bytes::from(e.extension),
        signature_from(&e.signature)?,
    ))
}
