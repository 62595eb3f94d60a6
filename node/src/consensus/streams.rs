//! Proposal streams: a block travels to the other validators as signed parts (Init,
//! data chunks, Fin); each receiver puts the parts back together, bounded in the
//! number of streams and in the bytes of each.

use std::collections::BTreeMap;

use hashlink::LinkedHashMap;

use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::PeerId;
use arc_malachitebft_app_channel::app::types::core::Round;
use bytes::Bytes;

use super::context::{Address, Height, ProposalPart, Signature};

/// Size of one streamed chunk of a block.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;
/// Most proposal streams being reassembled at once.
pub(crate) const MAX_STREAMS: usize = 64;

/// A proposal stream put back together.
#[derive(Clone, Debug)]
pub(crate) struct Assembled {
    pub(crate) height: Height,
    pub(crate) round: Round,
    pub(crate) pol_round: Round,
    pub(crate) proposer: Address,
    pub(crate) block: Vec<u8>,
    pub(crate) signature: Signature,
}

/// One stream being reassembled.
#[derive(Default)]
struct Stream {
    parts: BTreeMap<u64, ProposalPart>,
    end: Option<u64>,
    bytes: usize,
}

/// Proposal streams in reassembly, keyed by (publishing peer, stream id), oldest
/// first; bounded in number and in bytes per stream.
pub(crate) struct Streams {
    streams: LinkedHashMap<(PeerId, Bytes), Stream>,
    max_stream_bytes: usize,
}

impl Streams {
    pub(crate) fn new(max_stream_bytes: usize) -> Self {
        Streams {
            streams: LinkedHashMap::new(),
            max_stream_bytes,
        }
    }

    /// Adds a message; returns the proposal when its stream is complete. Malformed
    /// or oversized streams are dropped.
    pub(crate) fn add(
        &mut self,
        peer: PeerId,
        msg: StreamMessage<ProposalPart>,
    ) -> Option<Assembled> {
        let key = (peer, msg.stream_id.to_bytes());
        if !self.streams.contains_key(&key) && self.streams.len() >= MAX_STREAMS {
            // Drop the oldest stream: an incomplete proposal is no worse than a missed one.
            self.streams.pop_front();
        }
        let stream = self
            .streams
            .entry(key.clone())
            .or_insert_with(Stream::default);
        match msg.content {
            StreamContent::Fin => stream.end = Some(msg.sequence),
            StreamContent::Data(part) => {
                stream.bytes += match &part {
                    ProposalPart::Data(d) => d.len(),
                    _ => 128,
                };
                if stream.bytes > self.max_stream_bytes || stream.parts.len() > 1 << 16 {
                    self.streams.remove(&key);
                    return None;
                }
                stream.parts.insert(msg.sequence, part);
            }
        }
        let stream = self.streams.get(&key)?;
        let end = stream.end?;
        if u64::try_from(stream.parts.len()).ok() != Some(end) {
            return None;
        }
        let stream = self.streams.remove(&key)?;
        assemble(stream.parts.into_values())
    }
}

/// Feeds proposal-stream messages, as peers (`peers[i]` sent `messages[i]`) deliver
/// them, to a fresh reassembly buffer of `max_stream_bytes` a stream, as the consensus
/// loop does; returns the sizes of the proposed blocks that completed. The entry point
/// of the proposal-stream fuzz target (`tests/fuzz`).
pub fn reassemble_streams(
    messages: impl IntoIterator<Item = (PeerId, StreamMessage<ProposalPart>)>,
    max_stream_bytes: usize,
) -> Vec<usize> {
    let mut streams = Streams::new(max_stream_bytes);
    messages
        .into_iter()
        .filter_map(|(peer, m)| streams.add(peer, m))
        .map(|a| a.block.len())
        .collect()
}

/// Init, data chunks, Fin — in this order, nothing else.
pub(crate) fn assemble(parts: impl Iterator<Item = ProposalPart>) -> Option<Assembled> {
    let mut parts = parts.peekable();
    let Some(ProposalPart::Init {
        height,
        round,
        pol_round,
        proposer,
    }) = parts.next()
    else {
        return None;
    };
    let mut block = Vec::new();
    let mut signature = None;
    for part in parts {
        match part {
            ProposalPart::Data(d) if signature.is_none() => block.extend_from_slice(&d),
            ProposalPart::Fin { signature: s } if signature.is_none() => signature = Some(s),
            _ => return None,
        }
    }
    Some(Assembled {
        height,
        round,
        pol_round,
        proposer,
        block,
        signature: signature?,
    })
}

/// The parts of a proposal stream, in order.
pub(crate) fn stream_messages(
    a: &Assembled,
    stream_id: StreamId,
) -> Vec<StreamMessage<ProposalPart>> {
    let mut parts = vec![ProposalPart::Init {
        height: a.height,
        round: a.round,
        pol_round: a.pol_round,
        proposer: a.proposer,
    }];
    for chunk in a.block.chunks(CHUNK_BYTES) {
        parts.push(ProposalPart::Data(Bytes::copy_from_slice(chunk)));
    }
    parts.push(ProposalPart::Fin {
        signature: a.signature,
    });
    let mut msgs: Vec<StreamMessage<ProposalPart>> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| StreamMessage::new(stream_id.clone(), i as u64, StreamContent::Data(p)))
        .collect();
    let n = msgs.len() as u64;
    msgs.push(StreamMessage::new(stream_id, n, StreamContent::Fin));
    msgs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn test_peer() -> PeerId {
        let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
        let id = crate::gossip::peer_id(&key).unwrap();
        PeerId::from_bytes(&id.to_bytes()).unwrap()
    }

    fn proposal(len: usize) -> Assembled {
        Assembled {
            height: Height(3),
            round: Round::new(1),
            pol_round: Round::Nil,
            proposer: Address([9; 32]),
            block: (0..len).map(|i| i as u8).collect(),
            signature: Signature([7; 64]),
        }
    }

    fn same(a: &Assembled, b: &Assembled) -> bool {
        a.height == b.height
            && a.round == b.round
            && a.pol_round == b.pol_round
            && a.proposer == b.proposer
            && a.block == b.block
            && a.signature == b.signature
    }

    #[test]
    fn a_stream_reassembles_in_any_order_with_duplicates() {
        let a = proposal(CHUNK_BYTES * 2 + 17);
        let mut msgs = stream_messages(&a, StreamId::new(Bytes::from_static(b"s1")));
        assert_eq!(msgs.len(), 6, "init, three chunks, fin part, end");
        msgs.reverse();
        let dup = msgs[2].clone();
        msgs.insert(3, dup);
        let mut streams = Streams::new(1 << 30);
        let peer = test_peer();
        let mut done = None;
        for m in msgs {
            if let Some(x) = streams.add(peer, m) {
                assert!(done.is_none(), "completed twice");
                done = Some(x);
            }
        }
        assert!(same(&done.unwrap(), &a));
        assert!(
            streams.streams.is_empty(),
            "a completed stream is forgotten"
        );
    }

    #[test]
    fn oversized_malformed_and_excess_streams_are_dropped() {
        let a = proposal(CHUNK_BYTES * 3);
        let peer = test_peer();
        // Over the per-stream byte limit: dropped, never completes.
        let mut small = Streams::new(CHUNK_BYTES);
        let done: Vec<_> = stream_messages(&a, StreamId::new(Bytes::from_static(b"big")))
            .into_iter()
            .filter_map(|m| small.add(peer, m))
            .collect();
        assert!(done.is_empty());
        // Parts out of place (data after the signature): not a proposal.
        let parts = vec![
            ProposalPart::Init {
                height: Height(1),
                round: Round::new(0),
                pol_round: Round::Nil,
                proposer: Address([1; 32]),
            },
            ProposalPart::Fin {
                signature: Signature([0; 64]),
            },
            ProposalPart::Data(Bytes::from_static(b"late")),
        ];
        assert!(assemble(parts.into_iter()).is_none());
        // No more than MAX_STREAMS incomplete streams are kept.
        let mut many = Streams::new(1 << 20);
        for i in 0..(MAX_STREAMS as u64 + 10) {
            let id = StreamId::new(Bytes::from(i.to_be_bytes().to_vec()));
            let first = stream_messages(&proposal(10), id).remove(0);
            assert!(many.add(peer, first).is_none());
        }
        assert!(many.streams.len() <= MAX_STREAMS);
        // The oldest were dropped, the newest kept.
        let kept = |i: u64| {
            many.streams
                .contains_key(&(peer, Bytes::from(i.to_be_bytes().to_vec())))
        };
        assert!(!kept(0) && !kept(9));
        assert!(kept(10) && kept(MAX_STREAMS as u64 + 9));
    }
}
