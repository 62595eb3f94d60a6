//! Proposal-part streams from peers: frames of (peer, encoded stream message), in any
//! order, reassembled into proposed blocks under the stream bounds.
#![no_main]

use std::sync::OnceLock;

use arc_malachitebft_app_channel::app::streaming::StreamMessage;
use arc_malachitebft_app_channel::app::types::PeerId;
use arc_malachitebft_app_channel::app::types::codec::Codec;
use bytes::Bytes;
use kyoto_node::consensus::codec::KyotoCodec;
use kyoto_node::consensus::context::ProposalPart;
use libfuzzer_sys::fuzz_target;

/// Most bytes of one stream.
const BOUND: usize = 2048;

fn peers() -> &'static [PeerId] {
    static PEERS: OnceLock<Vec<PeerId>> = OnceLock::new();
    PEERS.get_or_init(|| {
        (1u8..=4)
            .filter_map(|i| {
                let key = ed25519_dalek::SigningKey::from_bytes(&[i; 32]);
                let id = kyoto_node::gossip::peer_id(&key).ok()?;
                PeerId::from_bytes(&id.to_bytes()).ok()
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let peers = peers();
    if peers.is_empty() {
        return;
    }
    let messages = kyoto_fuzz::frames(data, 256).into_iter().filter_map(|f| {
        let (&who, rest) = f.split_first()?;
        let msg: StreamMessage<ProposalPart> =
            KyotoCodec.decode(Bytes::copy_from_slice(rest)).ok()?;
        Some((peers[usize::from(who) % peers.len()], msg))
    });
    // A small bound, so that inputs of a few KiB reach it.
    for size in kyoto_node::consensus::streams::reassemble_streams(messages, BOUND) {
        assert!(size <= BOUND, "a stream outgrew its bound: {size}");
    }
});
