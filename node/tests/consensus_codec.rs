//! The consensus codec takes bytes from peers and from the write-ahead log: any bytes
//! decode to a message or an error, never a panic, and every message survives an
//! encode/decode round trip (its encoding is the WAL's on-disk format).

use arc_malachitebft_app_channel::app::consensus::{ProposedValue, SignedConsensusMsg};
use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::codec::Codec;
use arc_malachitebft_app_channel::app::types::core::{
    NilOrVal, PolkaCertificate, PolkaSignature, Round, SignedMessage, Validity, VoteType,
};
use bytes::Bytes;
use kyoto_node::consensus::codec::KyotoCodec;
use kyoto_node::consensus::context::{
    Address, BlockId, Height, KyotoContext, Proposal, ProposalPart, Signature, Vote,
};
use proptest::prelude::*;

fn decode_all(bytes: &[u8]) {
    let _ = kyoto_node::consensus::codec::decode_every_kind(bytes);
}

fn round(r: i64) -> Round {
    if r < 0 {
        Round::Nil
    } else {
        Round::new(r as u32)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_all(&bytes);
    }

    #[test]
    fn votes_proposals_and_parts_round_trip(
        h in 1u64..u64::MAX / 2,
        r in -1i64..1000,
        pol in -1i64..1000,
        value in any::<[u8; 32]>(),
        nil in any::<bool>(),
        addr in any::<[u8; 32]>(),
        sig in proptest::collection::vec(any::<u8>(), 64),
        data in proptest::collection::vec(any::<u8>(), 0..2048),
        precommit in any::<bool>(),
    ) {
        let c = KyotoCodec;
        let sig = Signature(sig.try_into().unwrap());
        let vote = Vote {
            vote_type: if precommit { VoteType::Precommit } else { VoteType::Prevote },
            height: Height(h),
            round: round(r),
            value: if nil { NilOrVal::Nil } else { NilOrVal::Val(BlockId(value)) },
            validator: Address(addr),
            extension: None,
        };
        let msg = SignedConsensusMsg::Vote(SignedMessage::new(vote, sig));
        let back: SignedConsensusMsg<KyotoContext> = c.decode(c.encode(&msg).unwrap()).unwrap();
        prop_assert_eq!(back, msg);
        let proposal = Proposal {
            height: Height(h),
            round: round(r),
            value: BlockId(value),
            pol_round: round(pol),
            proposer: Address(addr),
        };
        let msg = SignedConsensusMsg::Proposal(SignedMessage::new(proposal, sig));
        let back: SignedConsensusMsg<KyotoContext> = c.decode(c.encode(&msg).unwrap()).unwrap();
        prop_assert_eq!(back, msg);
        for part in [
            ProposalPart::Init { height: Height(h), round: round(r), pol_round: round(pol), proposer: Address(addr) },
            ProposalPart::Data(Bytes::from(data.clone())),
            ProposalPart::Fin { signature: sig },
        ] {
            let m = StreamMessage::new(StreamId::new(Bytes::from(data.clone())), h, StreamContent::Data(part));
            let back: StreamMessage<ProposalPart> = c.decode(c.encode(&m).unwrap()).unwrap();
            prop_assert_eq!(back, m);
        }
        let pv = ProposedValue {
            height: Height(h),
            round: round(r),
            valid_round: round(pol),
            proposer: Address(addr),
            value: BlockId(value),
            validity: if nil { Validity::Invalid } else { Validity::Valid },
        };
        let back: ProposedValue<KyotoContext> = c.decode(c.encode(&pv).unwrap()).unwrap();
        prop_assert_eq!(back, pv);
        let polka = PolkaCertificate {
            height: Height(h),
            round: round(r.max(0)),
            value_id: BlockId(value),
            polka_signatures: vec![PolkaSignature::new(Address(addr), sig)],
        };
        let back: PolkaCertificate<KyotoContext> = c.decode(c.encode(&polka).unwrap()).unwrap();
        prop_assert_eq!(back, polka);
    }
}
