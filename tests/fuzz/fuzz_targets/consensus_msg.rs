//! Consensus, liveness, sync and write-ahead-log messages through our Malachite codec.
#![no_main]

use arc_malachitebft_app_channel::app::consensus::{
    LivenessMsg, ProposedValue, SignedConsensusMsg,
};
use arc_malachitebft_app_channel::app::streaming::StreamMessage;
use arc_malachitebft_app_channel::app::types::codec::Codec;
use arc_malachitebft_app_channel::app::types::core::{PolkaCertificate, ValidatorProof};
use arc_malachitebft_app_channel::app::types::sync::{Request, Response, Status};
use bytes::Bytes;
use kyoto_node::consensus::codec::KyotoCodec;
use kyoto_node::consensus::context::{KyotoContext, ProposalPart};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let b = || Bytes::copy_from_slice(data);
    let c = KyotoCodec;
    let _ = Codec::<ProposalPart>::decode(&c, b());
    let _ = Codec::<SignedConsensusMsg<KyotoContext>>::decode(&c, b());
    let _ = Codec::<ProposedValue<KyotoContext>>::decode(&c, b());
    let _ = Codec::<PolkaCertificate<KyotoContext>>::decode(&c, b());
    let _ = Codec::<LivenessMsg<KyotoContext>>::decode(&c, b());
    let _ = Codec::<StreamMessage<ProposalPart>>::decode(&c, b());
    let _ = Codec::<ValidatorProof<KyotoContext>>::decode(&c, b());
    let _ = Codec::<Status<KyotoContext>>::decode(&c, b());
    let _ = Codec::<Request<KyotoContext>>::decode(&c, b());
    let _ = Codec::<Response<KyotoContext>>::decode(&c, b());
});
