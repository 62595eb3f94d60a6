//! Writes the seed corpus of the fuzz targets (`tests/fuzz/corpus/<target>/`): real
//! signed transactions of each kind, a gossip batch, consensus messages, a proposal
//! stream, a dev chain's database after two blocks, and genesis files. Run it after a
//! format changes: `cargo run -p kyoto-tests --example fuzz_seeds`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_malachitebft_app_channel::app::consensus::{ProposedValue, SignedConsensusMsg};
use arc_malachitebft_app_channel::app::streaming::{StreamContent, StreamId, StreamMessage};
use arc_malachitebft_app_channel::app::types::codec::Codec;
use arc_malachitebft_app_channel::app::types::core::{
    NilOrVal, Round, SignedMessage, Validity, VoteType,
};
use bytes::Bytes;
use ed25519_dalek::SigningKey;
use kyoto_node::chain::Chain;
use kyoto_node::consensus::codec::KyotoCodec;
use kyoto_node::consensus::context::{
    Address, BlockId, Height, Proposal, ProposalPart, Signature, Vote,
};
use kyoto_node::dev::DEV_CHAIN_ID;
use kyoto_node::mempool::PendingTx;
use kyoto_node::store::{Entry, MemoryStore, Store, StoreError, Write};
use kyoto_node::tx::sign_transaction;
use kyoto_proto::v1 as pb;
use prost::Message;

/// A store whose contents stay readable after the chain took it.
struct Shared(Arc<MemoryStore>);

impl Store for Shared {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(key)
    }
    fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<Entry>, StoreError> {
        self.0.scan_prefix(prefix)
    }
    fn scan_keys(&self, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        self.0.scan_keys(prefix)
    }
    fn scan_prefix_rev(
        &self,
        prefix: &[u8],
        below: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.0.scan_prefix_rev(prefix, below, limit)
    }
    fn stage(&self, batch: Vec<Write>) -> Result<(), StoreError> {
        self.0.stage(batch)
    }
    fn sync(&self) -> Result<(), StoreError> {
        self.0.sync()
    }
}

/// One frame of the fuzz targets' framing: a 16-bit length, then the bytes.
fn frame(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = u16::try_from(bytes.len()).unwrap();
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(bytes);
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(name), bytes).unwrap();
}

/// Transaction bodies of every family, in the protobuf JSON mapping.
const BODIES: &[&str] = &[
    r#"{"transferUnits":{"fromAccount":"JPN-100-1","toAccount":"CAN-100-1","amount":"7","units":{"unitType":"UNIT_TYPE_AAU","period":1}}}"#,
    r#"{"issueUnits":{"party":"JPN","unitType":"UNIT_TYPE_AAU","period":1,"amount":"10"}}"#,
    r#"{"openAccount":{"party":"JPN","holderName":"Tokyo Carbon KK","holderKey":"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="}}"#,
    r#"{"reportInventory":{"party":"JPN","year":2008,"emissions":"1280000000"}}"#,
    r#"{"retireUnits":{"fromAccount":"JPN-100-1","amount":"5","units":{"unitType":"UNIT_TYPE_AAU","period":1}}}"#,
    r#"{"carryOver":{"fromAccount":"JPN-100-1","amount":"5","units":{"unitType":"UNIT_TYPE_AAU","period":1}}}"#,
    r#"{"vote":{"proposal":"1","voter":"JPN","choice":"VOTE_CHOICE_YES"}}"#,
    r#"{"depositInstrument":{"party":"USA"}}"#,
    r#"{"withdraw":{"party":"CAN"}}"#,
];

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus")));
    let mut n = 0u8;
    let (genesis, keys) = kyoto_node::dev::dev_genesis_with_keys(&mut |_| {
        n = n.wrapping_add(1);
        SigningKey::from_bytes(&[n; 32])
    });
    let jpn = keys
        .iter()
        .find(|(c, _)| c == "JPN")
        .map(|(_, k)| k.clone())
        .unwrap();

    // Signed transactions, a gossip batch, ledger inputs.
    let mut signed = Vec::new();
    for (i, json) in BODIES.iter().enumerate() {
        let mut body: pb::TransactionBody = serde_json::from_str(json).unwrap();
        body.chain_id = DEV_CHAIN_ID.into();
        body.nonce = 1;
        let raw = sign_transaction(&jpn, &body);
        write(&dir, "signed_tx", &format!("tx-{i}"), &raw);
        let mut ledger = vec![];
        let who = keys.iter().position(|(c, _)| c == "JPN").unwrap() as u8;
        let mut f = vec![who];
        f.extend_from_slice(&raw);
        frame(&mut ledger, &f);
        write(&dir, "ledger_tx", &format!("tx-{i}"), &ledger);
        signed.push(raw);
    }
    let batch = pb::TransactionBatch {
        transactions: signed.clone(),
    };
    write(&dir, "gossip_batch", "batch", &batch.encode_to_vec());

    // Consensus messages.
    let c = KyotoCodec;
    let sig = Signature([3; 64]);
    let addr = Address(jpn.verifying_key().to_bytes());
    let vote = SignedConsensusMsg::Vote(SignedMessage::new(
        Vote {
            vote_type: VoteType::Precommit,
            height: Height(5),
            round: Round::new(1),
            value: NilOrVal::Val(BlockId([9; 32])),
            validator: addr,
            extension: None,
        },
        sig,
    ));
    write(&dir, "consensus_msg", "vote", &c.encode(&vote).unwrap());
    let proposal = SignedConsensusMsg::Proposal(SignedMessage::new(
        Proposal {
            height: Height(5),
            round: Round::new(0),
            value: BlockId([9; 32]),
            pol_round: Round::Nil,
            proposer: addr,
        },
        sig,
    ));
    write(
        &dir,
        "consensus_msg",
        "proposal",
        &c.encode(&proposal).unwrap(),
    );
    let value = ProposedValue {
        height: Height(5),
        round: Round::new(0),
        valid_round: Round::Nil,
        proposer: addr,
        value: BlockId([9; 32]),
        validity: Validity::Valid,
    };
    write(
        &dir,
        "consensus_msg",
        "proposed-value",
        &c.encode(&value).unwrap(),
    );

    // A proposal stream: init, two data chunks, the signature, the end.
    let id = StreamId::new(Bytes::from_static(b"stream-1"));
    let parts = [
        ProposalPart::Init {
            height: Height(5),
            round: Round::new(0),
            pol_round: Round::Nil,
            proposer: addr,
        },
        ProposalPart::Data(Bytes::from(signed[0].clone())),
        ProposalPart::Data(Bytes::from(signed[1].clone())),
        ProposalPart::Fin { signature: sig },
    ];
    let mut stream = Vec::new();
    for (seq, part) in parts.into_iter().enumerate() {
        let m = StreamMessage::new(id.clone(), seq as u64, StreamContent::Data(part));
        let bytes = c.encode(&m).unwrap();
        if seq == 0 {
            write(&dir, "consensus_msg", "stream-init", &bytes);
        }
        let mut f = vec![0u8];
        f.extend_from_slice(&bytes);
        frame(&mut stream, &f);
    }
    let end = StreamMessage::<ProposalPart>::new(id, 4, StreamContent::Fin);
    let mut f = vec![0u8];
    f.extend_from_slice(&c.encode(&end).unwrap());
    frame(&mut stream, &f);
    write(&dir, "proposal_stream", "stream", &stream);

    // A dev chain's database after two blocks.
    let store = Arc::new(MemoryStore::default());
    let mut chain = Chain::open(Shared(Arc::clone(&store)), &genesis).unwrap();
    let validator = keys
        .iter()
        .find(|(name, _)| name == "validator")
        .map(|(_, k)| k.clone())
        .unwrap();
    for (h, raw) in signed.iter().take(2).enumerate() {
        let tx = kyoto_node::tx::decode_and_verify(raw, DEV_CHAIN_ID).unwrap();
        chain
            .commit_next(
                vec![PendingTx {
                    raw: raw.clone(),
                    tx,
                }],
                genesis.genesis_time_ms + 1_000 * (h as i64 + 1),
                &validator,
            )
            .unwrap();
    }
    let mut db = Vec::new();
    for (k, v) in store.scan_prefix(b"").unwrap() {
        assert!(v.len() <= 60_000, "a stored value of {} bytes", v.len());
        frame(&mut db, &k);
        frame(&mut db, &v);
    }
    write(&dir, "stored_records", "dev-chain", &db);

    // Genesis files.
    write(
        &dir,
        "genesis",
        "dev",
        &serde_json::to_vec(&genesis).unwrap(),
    );
    let example = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/genesis.example.json"
    ))
    .unwrap();
    write(&dir, "genesis", "example", &example);
    println!("seeds written to {}", dir.display());
}
