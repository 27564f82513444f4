//! Measures one chunk shape end to end: parameter load, key generation, proving (wall and CPU
//! time), proof size, single and batched verification, and where the prover's time goes.
//!
//! `cargo run --release -p kaimeng-prover --example measure_chunk -- <k> <slots> [batch] [pack]`
//!
//! `pack` chunks go into each proof (ADR 0114; default 1). `KAIMENG_ONE_PROOF=1` proves one
//! proof and verifies batches of copies of it; `RAYON_NUM_THREADS=1` measures one core.
//! `KAIMENG_PROOF_FILE=path` keeps that one proof: it is proven and saved if the file is
//! missing, else read back (so verification can be timed alone). `KAIMENG_BATCHES=8,32`
//! sets the batch sizes verified, in proofs (default 8, 32, 128); each is timed three times and
//! the fastest kept.

use std::time::Instant;

use kaimeng_prover::{
    ChunkKeys, ChunkShape, ChunkWitness, ParamsCache, batch_verify, prove_pack, verify_chunk,
};
use kaimeng_rollup::stf::{ChunkConfig, L2State};
use kaimeng_rollup::tx::{L2Op, Transfer};
use kaimeng_rollup::{Account, L1Address, SigningKey};

/// CPU seconds used by this process (all threads).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let Some(close) = stat.rfind(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn key(i: u32) -> SigningKey {
    let mut bytes = [0u8; 64];
    bytes[..4].copy_from_slice(&i.to_le_bytes());
    bytes[10] = 0x5a;
    SigningKey::from_uniform_bytes(&bytes)
}

fn index(i: u32) -> u32 {
    i.wrapping_mul(2_654_435_761)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let k: u32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(16);
    let max = ChunkShape::max_for_k(k);
    let slots: usize = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(max.slots);
    let batch: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(4);
    let pack: usize = args.get(4).and_then(|a| a.parse().ok()).unwrap_or(1);
    let shape = ChunkShape { slots, k };
    let chain_id = 1;
    let accounts = 64u32;

    let mut state = L2State::new();
    for i in 0..accounts {
        state.set_account(
            index(i),
            Account {
                public_key: Some(key(i).public_key()),
                l1_address: L1Address([i as u8; 20]),
                balance: 1_000_000_000,
                nonce: 0,
            },
        );
    }
    let config = ChunkConfig {
        chain_id,
        fee_account: index(0),
        slots,
    };
    let chunk = |state: &mut L2State, round: u32| {
        let ops: Vec<L2Op> = (0..slots as u32)
            .map(|s| {
                let from = 1 + (s + round * 7) % (accounts - 1);
                let to = 1 + (s * 13 + round + 5) % (accounts - 1);
                let nonce = state.account(index(from)).nonce;
                L2Op::Transfer(
                    Transfer {
                        from: index(from),
                        to: index(to),
                        amount: 1_000 + u64::from(s),
                        fee: 10,
                        nonce,
                    }
                    .sign(&key(from), chain_id),
                )
            })
            .collect();
        // Nonces must follow within a chunk: apply one op at a time on a probe to sign right.
        let mut probe = state.clone();
        let mut signed = Vec::new();
        for op in ops {
            let L2Op::Transfer(t) = op else {
                unreachable!()
            };
            let mut tx = t.tx;
            tx.nonce = probe.account(tx.from).nonce;
            let from_i = (0..accounts).find(|i| index(*i) == tx.from).unwrap();
            let op = L2Op::Transfer(tx.sign(&key(from_i), chain_id));
            probe
                .apply_chunk(ChunkConfig { slots: 1, ..config }, &[op])
                .unwrap();
            signed.push(op);
        }
        let out = state.apply_chunk(config, &signed).unwrap();
        ChunkWitness::from_outcome(&out)
    };

    let dir = std::env::var("KAIMENG_PARAMS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("kaimeng-params"));
    let (c0, t0) = (cpu_seconds(), Instant::now());
    let params = ParamsCache::new(dir).load_or_generate(k).unwrap();
    let (c1, t1) = (cpu_seconds(), Instant::now());
    let keys = ChunkKeys::generate(&params, shape).unwrap();
    let (c2, t2) = (cpu_seconds(), Instant::now());
    println!(
        "shape k={k} slots={slots} rows={} (of {}), params: {:.1}s wall {:.1}s cpu, keygen: {:.1}s wall {:.1}s cpu",
        shape.rows(),
        1usize << k,
        (t1 - t0).as_secs_f64(),
        c1 - c0,
        (t2 - t1).as_secs_f64(),
        c2 - c1
    );

    let mut proofs = Vec::new();
    let saved = std::env::var("KAIMENG_PROOF_FILE").ok();
    if let Some(text) = saved.as_ref().and_then(|p| std::fs::read_to_string(p).ok()) {
        proofs.push(kaimeng_prover::ChunkProof::from_json(&text).unwrap());
        println!(
            "read the proof from {}",
            saved.as_deref().unwrap_or_default()
        );
    }
    for round in 0..batch as u32 {
        if !proofs.is_empty() && saved.is_some() {
            break;
        }
        let witnesses: Vec<_> = (0..pack as u32)
            .map(|i| chunk(&mut state, round * pack as u32 + i))
            .collect();
        let (c, t) = (cpu_seconds(), Instant::now());
        let proof = prove_pack(&params, &keys, &witnesses).unwrap();
        let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
        println!(
            "prove #{round} ({pack} chunks): {wall:.1}s wall, {cpu:.1}s cpu = {:.2} core-s per slot, proof {} bytes",
            cpu / (pack * slots) as f64,
            proof.bytes.len()
        );
        if let Some(path) = &saved {
            std::fs::write(path, proof.to_json()).unwrap();
        }
        proofs.push(proof);
        if round == 0 && std::env::var("KAIMENG_ONE_PROOF").is_ok() {
            break;
        }
    }

    let t = Instant::now();
    let reps = 3;
    for _ in 0..reps {
        verify_chunk(&params, keys.vk(), &proofs[0]).unwrap();
    }
    let single = t.elapsed().as_secs_f64() / reps as f64;
    let per_proof = proofs[0].publics.len() * slots;
    println!(
        "verify single: {:.1} ms = {:.3} ms per slot",
        single * 1e3,
        single * 1e3 / per_proof as f64
    );
    let sizes: Vec<usize> = std::env::var("KAIMENG_BATCHES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![8, 32, 128]);
    for size in sizes {
        // Distinct proofs repeated: the batch draws a fresh random weight for each entry, so
        // the work is that of `size` distinct proofs.
        let batch: Vec<_> = proofs.iter().cycle().take(size).cloned().collect();
        let batched = (0..reps)
            .map(|_| {
                let t = Instant::now();
                batch_verify(&params, keys.vk(), &batch).unwrap();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        println!(
            "batch-verify {size}: {:.1} ms = {:.2} ms per proof = {:.4} ms per slot",
            batched * 1e3,
            batched * 1e3 / size as f64,
            batched * 1e3 / (size * per_proof) as f64
        );
    }
}
