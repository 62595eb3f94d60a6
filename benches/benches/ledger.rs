//! Criterion micro-benchmarks: signature verification, the transaction boundary,
//! ledger apply of a 1,000-transfer block (in memory, and committed on sled with one
//! flush), state-root computation, and block encode/decode.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kyoto_bench::{fixture, signed_transfers};
use kyoto_node::chain::Chain;
use kyoto_node::ledger::BlockContext;
use kyoto_node::mempool::PendingTx;
use kyoto_node::store::{SledStore, StoredBlock};
use kyoto_node::tx::decode_and_verify;
use kyoto_proto::v1 as pb;
use prost::Message;

const BLOCK_TXS: usize = 1_000;

/// The next transfer of the first key, after the block of [`BLOCK_TXS`].
fn raw_next(
    chain_id: &str,
    keys: &[(String, ed25519_dalek::SigningKey)],
    nonces: &mut [u64],
) -> kyoto_node::ledger::Tx {
    let raw = signed_transfers(chain_id, keys, 1, nonces);
    decode_and_verify(&raw[0], chain_id).unwrap()
}

fn benches(c: &mut Criterion) {
    let (genesis, keys, validator) = fixture();
    let chain_id = genesis.chain_id.clone();
    let mut nonces = vec![1u64; keys.len()];
    let raw = signed_transfers(&chain_id, &keys, BLOCK_TXS, &mut nonces);

    let mut g = c.benchmark_group("boundary");
    g.throughput(Throughput::Elements(1));
    let signed = pb::SignedTransaction::decode(raw[0].as_slice()).unwrap();
    g.bench_function("ed25519_verify_single", |b| {
        b.iter(|| {
            kyoto_node::crypto::verify_tx(&signed.public_key, &signed.body, &signed.signature)
                .unwrap()
        })
    });
    // Batched verification of 512 signatures, as a block's signatures are verified
    // (ZIP-215: the same answer as one by one).
    let batch: Vec<kyoto_node::crypto::PendingSignature> = raw
        .iter()
        .take(512)
        .map(|r| {
            let t = pb::SignedTransaction::decode(r.as_slice()).unwrap();
            kyoto_node::crypto::PendingSignature::new(&t.public_key, &t.body, &t.signature).unwrap()
        })
        .collect();
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.bench_function("ed25519_verify_batch_512", |b| {
        b.iter(|| kyoto_node::crypto::verify_batch(black_box(&batch)).unwrap())
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("decode_and_verify_tx", |b| {
        b.iter(|| decode_and_verify(black_box(&raw[0]), &chain_id).unwrap())
    });
    g.finish();

    let txs: Vec<_> = raw
        .iter()
        .map(|r| decode_and_verify(r, &chain_id).unwrap())
        .collect();
    let state = genesis.build_state().unwrap();
    let mut g = c.benchmark_group("ledger");
    g.throughput(Throughput::Elements(BLOCK_TXS as u64));
    g.bench_function("apply_block_1000_transfers_memory", |b| {
        b.iter_batched(
            || state.clone(),
            |mut s| {
                s.apply_block(
                    BlockContext {
                        height: 1,
                        timestamp_ms: genesis.genesis_time_ms + 1,
                        hash: [1; 32],
                    },
                    &txs,
                )
                .unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("state_root_dev_genesis", |b| {
        b.iter(|| black_box(&state).state_root())
    });
    // A dry run (`SimulateTransaction`) copies the state: its cost against the state's
    // size, on the dev genesis and after the 1,000-transfer block (its serials split).
    g.bench_function("simulate_transfer_dev_genesis", |b| {
        b.iter(|| {
            black_box(&state)
                .simulate(genesis.genesis_time_ms + 1, &txs[0])
                .unwrap()
        })
    });
    let mut after = state.clone();
    after
        .apply_block(
            BlockContext {
                height: 1,
                timestamp_ms: genesis.genesis_time_ms + 1,
                hash: [1; 32],
            },
            &txs,
        )
        .unwrap();
    let next = raw_next(&chain_id, &keys, &mut nonces);
    g.bench_function("simulate_transfer_after_1000_transfers", |b| {
        b.iter(|| {
            black_box(&after)
                .simulate(genesis.genesis_time_ms + 2, &next)
                .unwrap()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sled");
    g.throughput(Throughput::Elements(BLOCK_TXS as u64));
    g.sample_size(10);
    let dir = tempfile::tempdir().unwrap();
    let mut chain = Chain::open(SledStore::open(dir.path()).unwrap(), &genesis).unwrap();
    let mut now = genesis.genesis_time_ms;
    g.bench_function("commit_block_1000_transfers_sled", |b| {
        b.iter_batched(
            || {
                signed_transfers(&chain_id, &keys, BLOCK_TXS, &mut nonces)
                    .into_iter()
                    .map(|raw| {
                        let tx = decode_and_verify(&raw, &chain_id).unwrap();
                        PendingTx { raw, tx }
                    })
                    .collect::<Vec<_>>()
            },
            |block| {
                now += 1;
                chain.commit_next(block, now, &validator).unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let block = chain.store().block(1).unwrap().unwrap();
    let bytes = block.encode_to_vec();
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode_block_1000_txs", |b| {
        b.iter(|| black_box(&block).encode_to_vec())
    });
    g.bench_function("decode_block_1000_txs", |b| {
        b.iter(|| StoredBlock::decode(black_box(bytes.as_slice())).unwrap())
    });
    g.finish();
}

criterion_group!(ledger, benches);
criterion_main!(ledger);
