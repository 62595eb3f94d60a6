//! The machine's ceiling, measured in this process: with t_v the batched
//! signature-verify time per transaction and t_a the ledger-apply time per
//! transaction on sled (one flush per 1,000-transfer block), n nodes sharing `cores`
//! cores can commit at most cores / (n × (t_v + t_a)) transfers/s (every validator
//! verifies and applies every one).

use std::time::Instant;

use ed25519_dalek::SigningKey;
use kyoto_node::chain::Chain;
use kyoto_node::crypto::PendingSignature;
use kyoto_node::mempool::PendingTx;
use kyoto_node::store::SledStore;
use serde_json::json;

/// The machine's ceiling, measured in this process.
pub struct Ceiling {
    pub cores: usize,
    pub verify_single_per_s: f64,
    pub verify_batched_per_s: f64,
    pub apply_sled_per_s: f64,
}

impl Ceiling {
    fn per_tx_s(&self) -> f64 {
        1.0 / self.verify_batched_per_s + 1.0 / self.apply_sled_per_s
    }
    /// Transfers/s that n nodes sharing this machine can verify and apply at most.
    pub fn for_validators(&self, n: usize) -> f64 {
        self.cores as f64 / (n as f64 * self.per_tx_s())
    }
}

pub fn measure() -> anyhow::Result<Ceiling> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The node's own verification paths: one by one (submissions, gossip) and
    // batched (a block's signatures).
    let keys: Vec<SigningKey> = (0..37u8)
        .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
        .collect();
    let pending: Vec<PendingSignature> = (0..4096u32)
        .map(|i| {
            let key = &keys[i as usize % keys.len()];
            let body = i.to_be_bytes().repeat(40);
            let sig = kyoto_node::crypto::sign_tx(key, &body);
            PendingSignature::new(&key.verifying_key().to_bytes(), &body, &sig)
        })
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    for p in &pending {
        p.verify()?;
    }
    let verify_single_per_s = pending.len() as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    for chunk in pending.chunks(512) {
        kyoto_node::crypto::verify_batch(chunk)?;
    }
    let verify_batched_per_s = pending.len() as f64 / start.elapsed().as_secs_f64();

    // Ledger apply on sled, one flush per 1,000-transfer block.
    let (genesis, keys, validator) = kyoto_bench::fixture();
    let dir = tempfile::tempdir()?;
    let mut chain = Chain::open(
        Box::new(SledStore::open(dir.path())?) as Box<dyn kyoto_node::store::Store>,
        &genesis,
    )?;
    let mut nonces = vec![1u64; keys.len()];
    let blocks = 6;
    let per_block = 1000;
    let mut all = Vec::new();
    for _ in 0..blocks {
        let raws = kyoto_bench::signed_transfers(&genesis.chain_id, &keys, per_block, &mut nonces);
        let txs: Vec<PendingTx> = raws
            .into_iter()
            .map(|raw| {
                let tx = kyoto_node::tx::decode_checked(&raw, &genesis.chain_id, |_| true)?;
                anyhow::Ok(PendingTx { raw, tx })
            })
            .collect::<Result<_, _>>()?;
        all.push(txs);
    }
    let start = Instant::now();
    for (i, txs) in all.into_iter().enumerate() {
        chain.commit_next(txs, 1_300_000_000_000 + i as i64, &validator)?;
    }
    let apply_sled_per_s = (blocks * per_block) as f64 / start.elapsed().as_secs_f64();
    Ok(Ceiling {
        cores,
        verify_single_per_s,
        verify_batched_per_s,
        apply_sled_per_s,
    })
}

impl Ceiling {
    pub fn json(&self) -> serde_json::Value {
        json!({
            "cores": self.cores,
            "verify_single_per_s": self.verify_single_per_s,
            "verify_batched_per_s": self.verify_batched_per_s,
            "apply_sled_per_s": self.apply_sled_per_s,
        })
    }
}
