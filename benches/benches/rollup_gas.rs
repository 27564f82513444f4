//! Gas calibration for shard 0's rollup precompiles (ADR 0103): each precompile's work timed
//! against ecrecover (3,000 gas) in interleaved rounds, so that load from other processes hits
//! both alike, as the SM2 calibration in `crypto.rs` does. Batch verification is timed with 1, 2
//! and 4 chunks at two shapes (1 slot at k = 12, 2 slots at k = 13, the dev shape), which gives
//! its fixed and per-proof parts and how they grow with k. The same four chunks proven as one
//! pack (ADR 0114), and two of them as a pack of two, give the cost of each further chunk of a
//! pack. Verification takes each proof's IPA claim as given (ADR 0114); the claim decider is
//! timed with 1, 4 and 16 claims, which gives its fixed and per-claim parts, whole and as the
//! first and last of the most steps k allows. Everything runs on one thread (halo2
//! would spread a verification's multi-scalar multiplication over every core), because gas
//! prices CPU time, and a block's transactions already run side by side with others.
//!
//! `cargo bench --profile dev -p kaimeng-benches --features prover,crypto --bench rollup_gas`

use kaimeng_benches::calibration::{median, time_per_call};
use kaimeng_prover::batch_call::{
    BatchCall, ChunkCall, DecideStepCall, decide_claims, verify_batch_call,
};
use kaimeng_prover::deferred::max_decision_steps;
use kaimeng_prover::{
    ChunkKeys, ChunkParams, ChunkShape, ChunkWitness, ParamsCache, prove_chunk, prove_pack,
};
use kaimeng_rollup::bridge_calls::{AccountClaim, check_account, encode_priority, fold_priority};
use kaimeng_rollup::stf::{ChunkConfig, L2State};
use kaimeng_rollup::tx::{DepositOp, L2Op, PriorityOp, Transfer};
use kaimeng_rollup::{Account, L1Address, SigningKey};

const ROUNDS: usize = 15;
const CHAIN: u64 = 7;

fn key(i: u32) -> SigningKey {
    let mut bytes = [9u8; 64];
    bytes[..4].copy_from_slice(&i.to_le_bytes());
    SigningKey::from_uniform_bytes(&bytes)
}

fn funded() -> L2State {
    let mut state = L2State::new();
    // Account 0 takes the fees; 1 to 4 send.
    for i in 0..=4u32 {
        state.set_account(
            i,
            Account {
                public_key: Some(key(i).public_key()),
                l1_address: L1Address([i as u8; 20]),
                balance: if i == 0 { 0 } else { 1 << 40 },
                nonce: 0,
            },
        );
    }
    state
}

/// Four chained chunks of `shape` full of transfers, each proven alone, as one batch call; and
/// the same four chunks as one pack.
fn batch(shape: ChunkShape) -> (ChunkParams, ChunkKeys, BatchCall, BatchCall) {
    let dir = std::env::temp_dir().join("kaimeng-bench-params");
    let params = ParamsCache::new(dir).load_or_generate(shape.k).unwrap();
    let keys = ChunkKeys::generate(&params, shape).unwrap();
    let mut state = funded();
    let mut call = BatchCall {
        chain_id: CHAIN,
        fee_account: 0,
        old_root: state.root(),
        queue_before: state.queue_hash(),
        chunks: Vec::new(),
        claims: Vec::new(),
    };
    let mut witnesses = Vec::new();
    for chunk in 0..4 {
        let ops: Vec<L2Op> = (0..shape.slots as u32)
            .map(|slot| {
                let from = 1 + (chunk + slot) % 4;
                let to = 1 + (chunk + slot + 1) % 4;
                L2Op::Transfer(
                    Transfer {
                        from,
                        to,
                        amount: 1_000,
                        fee: 1,
                        nonce: state.account(from).nonce,
                    }
                    .sign(&key(from), CHAIN),
                )
            })
            .collect();
        let config = ChunkConfig {
            chain_id: CHAIN,
            fee_account: 0,
            slots: shape.slots,
        };
        let outcome = state.apply_chunk(config, &ops).unwrap();
        let witness = ChunkWitness::from_outcome(&outcome);
        let proof = prove_chunk(&params, &keys, &witness).unwrap();
        witnesses.push(witness);
        call.chunks.push(ChunkCall {
            new_root: outcome.new_root,
            queue_after: outcome.queue_after,
            data: outcome.pubdata.clone(),
            proof: proof.bytes,
        });
    }
    let mut packed = call.clone();
    let pack = prove_pack(&params, &keys, &witnesses).unwrap();
    for (i, chunk) in packed.chunks.iter_mut().enumerate() {
        chunk.proof = if i == 0 {
            pack.bytes.clone()
        } else {
            Vec::new()
        };
    }
    (params, keys, call, packed)
}

fn main() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(calibrate);
}

fn calibrate() {
    // ecrecover as revm runs it: libsecp256k1 recovery and keccak of the key.
    let secret = secp256k1::SecretKey::from_byte_array([1; 32]).unwrap();
    let digest: [u8; 32] = <sha3::Keccak256 as sha3::Digest>::digest(b"calibrate").into();
    let message = secp256k1::Message::from_digest(digest);
    let signature = secp256k1::SECP256K1.sign_ecdsa_recoverable(message, &secret);
    let ecrecover = || {
        let public = secp256k1::SECP256K1
            .recover_ecdsa(message, &signature)
            .unwrap();
        <sha3::Keccak256 as sha3::Digest>::digest(&public.serialize_uncompressed()[1..])
    };

    let fold_input = encode_priority(
        L2State::new().queue_hash(),
        &PriorityOp::Deposit(DepositOp {
            to: 3,
            l1_address: L1Address([3; 20]),
            public_key: key(3).public_key(),
            amount: 5,
        }),
    );
    let state = funded();
    let claim = AccountClaim {
        root: state.root(),
        index: 2,
        key_commitment: state.account(2).key_commitment(),
        l1_address: state.account(2).l1_address,
        balance: state.account(2).balance,
        nonce: 0,
        siblings: state.proof(2).siblings,
    }
    .encode();
    assert_eq!(check_account(&claim), Ok(true));

    let (mut fold, mut account) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let recover = time_per_call(200, ecrecover);
        fold.push(time_per_call(200, || fold_priority(&fold_input)) / recover);
        account.push(time_per_call(50, || check_account(&claim)) / recover);
    }
    println!("rollup precompile gas calibration (median of {ROUNDS} interleaved rounds):");
    let ecrecover_us = median((0..ROUNDS).map(|_| time_per_call(200, ecrecover)).collect()) * 1e6;
    println!("  ecrecover (libsecp256k1)                = {ecrecover_us:.1} µs = 3000 gas");
    for (name, ratios) in [("priority fold", fold), ("account claim", account)] {
        let ratio = median(ratios);
        println!(
            "  {name:<39} = {ratio:.2} x ecrecover -> {:.0} gas",
            ratio * 3000.0
        );
    }

    for shape in [
        ChunkShape { slots: 1, k: 12 },
        ChunkShape { slots: 2, k: 13 },
    ] {
        let (params, keys, call, packed) = batch(shape);
        for (chunks, pack) in [(1usize, 1usize), (2, 1), (4, 1), (4, 4)] {
            let from = if pack == 1 { &call } else { &packed };
            let mut part = BatchCall {
                chunks: from.chunks[..chunks].to_vec(),
                ..call.clone()
            };
            part.claims = part
                .compute_claims(&params, keys.vk(), shape.slots)
                .unwrap();
            let input = part.encode();
            verify_batch_call(&params, keys.vk(), shape.slots, &input).unwrap();
            let (ms, ratio) = against_ecrecover(&ecrecover, || {
                verify_batch_call(&params, keys.vk(), shape.slots, &input)
            });
            println!(
                "  batch verify k={} slots={} chunks={chunks} proofs={}  = {:.1} ms = {ratio:.0} x ecrecover -> {:.0} gas",
                shape.k,
                shape.slots,
                part.proof_count(),
                ms,
                ratio * 3000.0
            );
        }
        let claims = call
            .compute_claims(&params, keys.vk(), shape.slots)
            .unwrap();
        let claim = &claims[..claims.len() / 4];
        for count in [1usize, 4, 16] {
            let input = claim.repeat(count);
            assert_eq!(decide_claims(&params, &input), Ok(true));
            let (ms, ratio) = against_ecrecover(&ecrecover, || decide_claims(&params, &input));
            println!(
                "  decide k={} claims={count}  = {ms:.1} ms = {ratio:.0} x ecrecover -> {:.0} gas",
                shape.k,
                ratio * 3000.0
            );
            // Split in the most steps k allows: the first step (which also sums the claimed
            // points) and the last.
            let steps = max_decision_steps(shape.k) as u64;
            let first = DecideStepCall::first(steps, input.clone());
            let mut last = first.clone();
            while !last.is_last() {
                last = last.next(last.run(&params).unwrap());
            }
            assert_eq!(last.run(&params).unwrap()[31], 1);
            for (name, call) in [("first", &first), ("last", &last)] {
                let (ms, ratio) = against_ecrecover(&ecrecover, || call.run(&params));
                println!(
                    "  decide k={} claims={count} {name} of {steps} steps = {ms:.1} ms = {ratio:.0} x ecrecover -> {:.0} gas",
                    shape.k,
                    ratio * 3000.0
                );
            }
        }
    }
}

/// `work`'s median time in ms and its median ratio to `ecrecover`, timed in turn with it.
fn against_ecrecover<R, E>(ecrecover: &impl Fn() -> E, work: impl Fn() -> R) -> (f64, f64) {
    let mut ratios = Vec::new();
    let mut millis = Vec::new();
    for _ in 0..ROUNDS.min(7) {
        let recover = time_per_call(200, ecrecover);
        let spent = time_per_call(3, &work);
        ratios.push(spent / recover);
        millis.push(spent * 1e3);
    }
    (median(millis), median(ratios))
}
