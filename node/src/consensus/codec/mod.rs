//! The prost codec of Malachite's consensus, WAL and sync messages
//! (`proto/kyoto/v1/consensus.proto`). Every decoder takes bytes from peers or from
//! the disk: it never panics, and refuses anything malformed with an error.

use std::ops::RangeInclusive;

use arc_malachitebft_app_channel::app::consensus::{
    LivenessMsg, ProposedValue, SignedConsensusMsg,
};
use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::PeerId;
use arc_malachitebft_app_channel::app::types::codec::{Codec, HasEncodedLen};
use arc_malachitebft_app_channel::app::types::core::{
    PolkaCertificate, SignedMessage, ValidatorProof, Validity,
};
use arc_malachitebft_app_channel::app::types::sync::{RawDecidedValue, Request, Response, Status};
use arc_malachitebft_sync::{ValueRequest, ValueResponse};
use bytes::Bytes;
use kyoto_proto::consensus as cpb;
use prost::Message;

mod certificates;
mod fields;

use super::context::{Height, KyotoContext, Proposal, ProposalPart, Vote};
pub use certificates::{commit_certificate_from, commit_certificate_to};
use certificates::{
    extended_cert_from, extended_cert_to, polka_from, polka_to, round_cert_from, round_cert_to,
};
pub use fields::CodecError;
use fields::{
    address_from, bad, block_id_from, ext_from, ext_to, nil_or_val_from, nil_or_val_to, round_from,
    round_to, signature_from, vote_type_from, vote_type_to,
};

/// The one codec for the WAL, the network and sync.
#[derive(Clone, Copy, Debug, Default)]
pub struct KyotoCodec;

/// Decodes `bytes` as every kind of message this codec reads from peers and from the
/// write-ahead log, and says how many kinds accepted them. The entry point of the
/// codec's property test and fuzz target: whatever the bytes, each decode answers.
pub fn decode_every_kind(bytes: &[u8]) -> usize {
    let b = || Bytes::copy_from_slice(bytes);
    let c = KyotoCodec;
    [
        Codec::<ProposalPart>::decode(&c, b()).is_ok(),
        Codec::<SignedConsensusMsg<KyotoContext>>::decode(&c, b()).is_ok(),
        Codec::<ProposedValue<KyotoContext>>::decode(&c, b()).is_ok(),
        Codec::<PolkaCertificate<KyotoContext>>::decode(&c, b()).is_ok(),
        Codec::<LivenessMsg<KyotoContext>>::decode(&c, b()).is_ok(),
        Codec::<StreamMessage<ProposalPart>>::decode(&c, b()).is_ok(),
        Codec::<ValidatorProof<KyotoContext>>::decode(&c, b()).is_ok(),
        Codec::<Status<KyotoContext>>::decode(&c, b()).is_ok(),
        Codec::<Request<KyotoContext>>::decode(&c, b()).is_ok(),
        Codec::<Response<KyotoContext>>::decode(&c, b()).is_ok(),
    ]
    .into_iter()
    .filter(|ok| *ok)
    .count()
}

fn vote_to(v: &Vote) -> cpb::Vote {
    cpb::Vote {
        vote_type: vote_type_to(v.vote_type),
        height: v.height.0,
        round: round_to(v.round),
        value: nil_or_val_to(&v.value),
        validator: v.validator.0.to_vec(),
        extension: v.extension.as_ref().map(ext_to),
    }
}

fn vote_from(v: cpb::Vote) -> Result<Vote, CodecError> {
    Ok(Vote {
        vote_type: vote_type_from(v.vote_type)?,
        height: Height(v.height),
        round: round_from(v.round)?,
        value: nil_or_val_from(&v.value)?,
        validator: address_from(&v.validator)?,
        extension: v.extension.map(ext_from).transpose()?,
    })
}

fn proposal_to(p: &Proposal) -> cpb::Proposal {
    cpb::Proposal {
        height: p.height.0,
        round: round_to(p.round),
        value: p.value.0.to_vec(),
        pol_round: round_to(p.pol_round),
        proposer: p.proposer.0.to_vec(),
    }
}

fn proposal_from(p: cpb::Proposal) -> Result<Proposal, CodecError> {
    Ok(Proposal {
        height: Height(p.height),
        round: round_from(p.round)?,
        value: block_id_from(&p.value)?,
        pol_round: round_from(p.pol_round)?,
        proposer: address_from(&p.proposer)?,
    })
}

fn signed_msg_to(m: &SignedConsensusMsg<KyotoContext>) -> cpb::SignedConsensusMessage {
    match m {
        SignedConsensusMsg::Vote(v) => cpb::SignedConsensusMessage {
            message: Some(cpb::signed_consensus_message::Message::Vote(vote_to(
                &v.message,
            ))),
            signature: v.signature.0.to_vec(),
        },
        SignedConsensusMsg::Proposal(p) => cpb::SignedConsensusMessage {
            message: Some(cpb::signed_consensus_message::Message::Proposal(
                proposal_to(&p.message),
            )),
            signature: p.signature.0.to_vec(),
        },
    }
}

fn signed_msg_from(
    m: cpb::SignedConsensusMessage,
) -> Result<SignedConsensusMsg<KyotoContext>, CodecError> {
    let signature = signature_from(&m.signature)?;
    match m.message {
        Some(cpb::signed_consensus_message::Message::Vote(v)) => Ok(SignedConsensusMsg::Vote(
            SignedMessage::new(vote_from(v)?, signature),
        )),
        Some(cpb::signed_consensus_message::Message::Proposal(p)) => Ok(
            SignedConsensusMsg::Proposal(SignedMessage::new(proposal_from(p)?, signature)),
        ),
        None => Err(bad("empty consensus message")),
    }
}

fn part_to(p: &ProposalPart) -> cpb::ProposalPart {
    use cpb::proposal_part::Part;
    let part = match p {
        ProposalPart::Init {
            height,
            round,
            pol_round,
            proposer,
        } => Part::Init(cpb::PartInit {
            height: height.0,
            round: round_to(*round),
            pol_round: round_to(*pol_round),
            proposer: proposer.0.to_vec(),
        }),
        ProposalPart::Data(d) => Part::Data(d.to_vec()),
        ProposalPart::Fin { signature } => Part::Fin(cpb::PartFin {
            signature: signature.0.to_vec(),
        }),
    };
    cpb::ProposalPart { part: Some(part) }
}

fn part_from(p: cpb::ProposalPart) -> Result<ProposalPart, CodecError> {
    use cpb::proposal_part::Part;
    match p.part {
        Some(Part::Init(i)) => Ok(ProposalPart::Init {
            height: Height(i.height),
            round: round_from(i.round)?,
            pol_round: round_from(i.pol_round)?,
            proposer: address_from(&i.proposer)?,
        }),
        Some(Part::Data(d)) => Ok(ProposalPart::Data(Bytes::from(d))),
        Some(Part::Fin(f)) => Ok(ProposalPart::Fin {
            signature: signature_from(&f.signature)?,
        }),
        None => Err(bad("empty proposal part")),
    }
}

/// A proposed value in the consensus encoding.
pub fn proposed_value_to(v: &ProposedValue<KyotoContext>) -> cpb::ProposedValue {
    cpb::ProposedValue {
        height: v.height.0,
        round: round_to(v.round),
        valid_round: round_to(v.valid_round),
        proposer: v.proposer.0.to_vec(),
        value: v.value.0.to_vec(),
        valid: v.validity.is_valid(),
    }
}

/// A proposed value from the consensus encoding.
pub fn proposed_value_from(
    v: cpb::ProposedValue,
) -> Result<ProposedValue<KyotoContext>, CodecError> {
    Ok(ProposedValue {
        height: Height(v.height),
        round: round_from(v.round)?,
        valid_round: round_from(v.valid_round)?,
        proposer: address_from(&v.proposer)?,
        value: block_id_from(&v.value)?,
        validity: Validity::from_bool(v.valid),
    })
}

// ---- Codec impls ---------------------------------------------------------------

macro_rules! codec {
    ($t:ty, $pb:ty, $to:expr, $from:expr) => {
        impl Codec<$t> for KyotoCodec {
            type Error = CodecError;
            fn decode(&self, bytes: Bytes) -> Result<$t, CodecError> {
                let m = <$pb>::decode(bytes)?;
                $from(m)
            }
            fn encode(&self, msg: &$t) -> Result<Bytes, CodecError> {
                let m: $pb = $to(msg);
                Ok(Bytes::from(m.encode_to_vec()))
            }
        }
    };
}

codec!(ProposalPart, cpb::ProposalPart, part_to, part_from);
codec!(
    SignedConsensusMsg<KyotoContext>,
    cpb::SignedConsensusMessage,
    signed_msg_to,
    signed_msg_from
);
codec!(
    ProposedValue<KyotoContext>,
    cpb::ProposedValue,
    proposed_value_to,
    proposed_value_from
);
codec!(
    PolkaCertificate<KyotoContext>,
    cpb::Certificate,
    polka_to,
    polka_from
);

fn liveness_to(m: &LivenessMsg<KyotoContext>) -> cpb::LivenessMessage {
    use cpb::liveness_message::Message as M;
    let message = match m {
        LivenessMsg::Vote(v) => M::Vote(signed_msg_to(&SignedConsensusMsg::Vote(v.clone()))),
        LivenessMsg::PolkaCertificate(c) => M::Polka(polka_to(c)),
        LivenessMsg::SkipRoundCertificate(c) => M::SkipRound(round_cert_to(c)),
    };
    cpb::LivenessMessage {
        message: Some(message),
    }
}

fn liveness_from(m: cpb::LivenessMessage) -> Result<LivenessMsg<KyotoContext>, CodecError> {
    use cpb::liveness_message::Message as M;
    match m.message {
        Some(M::Vote(v)) => match signed_msg_from(v)? {
            SignedConsensusMsg::Vote(v) => Ok(LivenessMsg::Vote(v)),
            SignedConsensusMsg::Proposal(_) => Err(bad("a liveness vote is a proposal")),
        },
        Some(M::Polka(c)) => Ok(LivenessMsg::PolkaCertificate(polka_from(c)?)),
        Some(M::SkipRound(c)) => Ok(LivenessMsg::SkipRoundCertificate(round_cert_from(c)?)),
        None => Err(bad("empty liveness message")),
    }
}
codec!(
    LivenessMsg<KyotoContext>,
    cpb::LivenessMessage,
    liveness_to,
    liveness_from
);

fn stream_to(m: &StreamMessage<ProposalPart>) -> cpb::StreamMessage {
    use cpb::stream_message::Content;
    cpb::StreamMessage {
        stream_id: m.stream_id.to_bytes().to_vec(),
        sequence: m.sequence,
        content: Some(match &m.content {
            StreamContent::Data(p) => Content::Data(part_to(p)),
            StreamContent::Fin => Content::Fin(true),
        }),
    }
}

fn stream_from(m: cpb::StreamMessage) -> Result<StreamMessage<ProposalPart>, CodecError> {
    use cpb::stream_message::Content;
    let content = match m.content {
        Some(Content::Data(p)) => StreamContent::Data(part_from(p)?),
        Some(Content::Fin(true)) => StreamContent::Fin,
        _ => return Err(bad("a stream message has no content")),
    };
    Ok(StreamMessage::new(
        StreamId::new(Bytes::from(m.stream_id)),
        m.sequence,
        content,
    ))
}
codec!(
    StreamMessage<ProposalPart>,
    cpb::StreamMessage,
    stream_to,
    stream_from
);

fn proof_to(p: &ValidatorProof<KyotoContext>) -> cpb::ValidatorProof {
    cpb::ValidatorProof {
        public_key: p.public_key.clone(),
        peer_id: p.peer_id.clone(),
        signature: p.signature.0.to_vec(),
    }
}

fn proof_from(p: cpb::ValidatorProof) -> Result<ValidatorProof<KyotoContext>, CodecError> {
    Ok(ValidatorProof::new(
        p.public_key,
        p.peer_id,
        signature_from(&p.signature)?,
    ))
}
codec!(
    ValidatorProof<KyotoContext>,
    cpb::ValidatorProof,
    proof_to,
    proof_from
);

fn status_to(s: &Status<KyotoContext>) -> cpb::SyncStatus {
    cpb::SyncStatus {
        peer_id: s.peer_id.to_bytes().to_vec(),
        tip_height: s.tip_height.0,
        history_min_height: s.history_min_height.0,
    }
}

fn status_from(s: cpb::SyncStatus) -> Result<Status<KyotoContext>, CodecError> {
    Ok(Status {
        peer_id: PeerId::from_bytes(&s.peer_id).map_err(|_| bad("not a peer id"))?,
        tip_height: Height(s.tip_height),
        history_min_height: Height(s.history_min_height),
    })
}
codec!(
    Status<KyotoContext>,
    cpb::SyncStatus,
    status_to,
    status_from
);

fn request_to(r: &Request<KyotoContext>) -> cpb::SyncRequest {
    let Request::ValueRequest(v) = r;
    cpb::SyncRequest {
        from_height: v.range.start().0,
        to_height: v.range.end().0,
    }
}

fn request_from(r: cpb::SyncRequest) -> Result<Request<KyotoContext>, CodecError> {
    let range: RangeInclusive<Height> = Height(r.from_height)..=Height(r.to_height);
    Ok(Request::ValueRequest(ValueRequest::new(range)))
}
codec!(
    Request<KyotoContext>,
    cpb::SyncRequest,
    request_to,
    request_from
);

fn response_to(r: &Response<KyotoContext>) -> cpb::SyncResponse {
    let Response::ValueResponse(v) = r;
    cpb::SyncResponse {
        start_height: v.start_height.0,
        values: v
            .values
            .iter()
            .map(|d| cpb::SyncedValue {
                value_bytes: d.value_bytes.to_vec(),
                certificate: Some(extended_cert_to(&d.certificate)),
            })
            .collect(),
    }
}

fn response_from(r: cpb::SyncResponse) -> Result<Response<KyotoContext>, CodecError> {
    let mut values = Vec::with_capacity(r.values.len());
    for v in r.values {
        let cert = v
            .certificate
            .ok_or(bad("a synced value has no certificate"))?;
        values.push(RawDecidedValue::new(
            Bytes::from(v.value_bytes),
            extended_cert_from(cert)?,
        ));
    }
    Ok(Response::ValueResponse(ValueResponse::new(
        Height(r.start_height),
        values,
    )))
}
codec!(
    Response<KyotoContext>,
    cpb::SyncResponse,
    response_to,
    response_from
);

impl HasEncodedLen<Response<KyotoContext>> for KyotoCodec {
    fn encoded_len(&self, msg: &Response<KyotoContext>) -> Result<usize, CodecError> {
        Ok(response_to(msg).encoded_len())
    }
}
