//! Validator CPU per L2 transfer against an L1 ERC-20 transfer, in one run (issue 12).
//!
//! Each round times, on one thread and in turn (so load from elsewhere hits all alike):
//! - **L1:** a block of 500 ERC-20 transfers as a validator handles it: each decoded (sender
//!   recovered), executed in revm, and the state commit prepared (trie nodes hashed);
//! - **L2 commit:** the same for a block holding the bridge's commit of one batch of
//!   `proofs × pack` chunks of `slots` transfers each (the published data parsed and hashed);
//! - **L2 verify:** the batch's verification call as the 0x…0b01 precompile runs it
//!   (`verify_call`: the chunks' public inputs from their published data, then the proofs
//!   checked with their IPA claims taken as given);
//! - **L2 decide:** the claims of `batches` such batches decided in `steps` steps
//!   (`DecideStepCall::run`, exactly what the 0x…0b04 precompile runs), shared by all their
//!   transfers.
//!
//! Executing a batch of transfers is a constant ~43,000 gas (no withdrawals to pay), so it is
//! left out. The batch is a real one, proven: `KAIMENG_BATCH_FILE` is the batch file `l2_calls`
//! writes (64 chunks of 57 transfers in 8 packs of 8 by default; about 20 minutes to prove).
//!
//! ```text
//! KAIMENG_BATCH_FILE=/tmp/kaimeng-l2-calls/batch-k16-s57-c64-p8.json RAYON_NUM_THREADS=1 \
//!   cargo bench --profile dev -p kaimeng-benches --features shard,prover --bench l2_validator_cpu
//! ```
//! Settings (environment): `KAIMENG_K` (16), `KAIMENG_SLOTS` (57), `KAIMENG_BATCHES` per
//! decision (32, the sequencer's default), `KAIMENG_STEPS` per decision (16), `KAIMENG_ROUNDS`
//! (5).

use std::time::Instant;

use kaimeng_benches::calibration::median;
use kaimeng_benches::shard_fixture::{
    bridge_commit_of_transfers, erc20_transfers, next_block, run_block, token_chain,
};
use kaimeng_prover::batch_call::{BatchCall, DecideStepCall, verify_call};
use kaimeng_prover::{ChunkKeys, ChunkShape, ParamsCache};
use kaimeng_shards::StateAt;
use kaimeng_shards::commit::prepare_commit;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

/// Seconds `work` takes once.
fn seconds<R>(work: impl FnOnce() -> R) -> f64 {
    let started = Instant::now();
    std::hint::black_box(work());
    started.elapsed().as_secs_f64()
}

fn main() {
    let Ok(batch_file) = std::env::var("KAIMENG_BATCH_FILE") else {
        println!("l2_validator_cpu: set KAIMENG_BATCH_FILE to a proven batch (see the module doc)");
        return;
    };
    let k = setting("KAIMENG_K", 16) as u32;
    let slots = setting("KAIMENG_SLOTS", 57);
    let batches = setting("KAIMENG_BATCHES", 32);
    let steps = setting("KAIMENG_STEPS", 16) as u64;
    let rounds = setting("KAIMENG_ROUNDS", 5);

    let text = std::fs::read_to_string(&batch_file).unwrap_or_else(|e| panic!("{batch_file}: {e}"));
    let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    let input = alloy_primitives::hex::decode(saved["call"].as_str().unwrap()).unwrap();
    let batch = BatchCall::decode(&input).unwrap_or_else(|e| panic!("{batch_file}: {e}"));
    let chunks = batch.chunks.len();
    let proofs = batch.proof_count();
    let transfers = chunks * slots;
    let params = ParamsCache::new(std::env::temp_dir().join("kaimeng-params"))
        .load_or_generate(k)
        .unwrap();
    let keys = ChunkKeys::generate(&params, ChunkShape { slots, k }).unwrap();
    let decision_claims = batch.claims.repeat(batches);

    let (_dir, chain, token) = token_chain();
    let ctx = next_block(&chain);
    let state = StateAt::latest(chain.store().clone());
    let erc20 = erc20_transfers(token, 500);
    let commit = [bridge_commit_of_transfers(chunks, slots)];
    let validate = |raws: &[alloy_primitives::Bytes]| {
        let out = run_block(&state, &ctx, raws);
        prepare_commit(&state, &out.pending, ctx.number).unwrap();
        out.gas_used
    };
    println!(
        "k = {k}, {slots} slots, {chunks} chunks in {proofs} proofs per batch ({transfers} \
         transfers), {batches} batches per decision in {steps} steps; commit {} gas and {} \
         bytes, 500 ERC-20 transfers {} gas",
        validate(&commit),
        commit[0].len(),
        validate(&erc20)
    );

    let mut l1 = Vec::new();
    let mut parts = [Vec::new(), Vec::new(), Vec::new()];
    let mut ratios = Vec::new();
    for round in 0..rounds {
        let erc20_each = seconds(|| validate(&erc20)) / 500.0;
        let commit_each = seconds(|| validate(&commit)) / transfers as f64;
        let verify_each =
            seconds(|| verify_call(&params, keys.vk(), slots, &batch).unwrap()) / transfers as f64;
        let decide_each = seconds(|| {
            let mut call = DecideStepCall::first(steps, decision_claims.clone());
            while !call.is_last() {
                call = call.next(call.run(&params).unwrap());
            }
            assert_eq!(call.run(&params).unwrap()[31], 1, "the claims hold");
        }) / (transfers * batches) as f64;
        let l2_each = commit_each + verify_each + decide_each;
        println!(
            "round {round}: L1 ERC-20 {:.1} µs; L2 commit {:.2} + verify {:.1} + decide {:.1} = \
             {:.1} µs ({:.2} of L1)",
            erc20_each * 1e6,
            commit_each * 1e6,
            verify_each * 1e6,
            decide_each * 1e6,
            l2_each * 1e6,
            l2_each / erc20_each
        );
        l1.push(erc20_each * 1e6);
        for (part, value) in parts
            .iter_mut()
            .zip([commit_each, verify_each, decide_each])
        {
            part.push(value * 1e6);
        }
        ratios.push(l2_each / erc20_each);
    }
    let [commit_us, verify_us, decide_us] = parts.map(median);
    println!(
        "median of {rounds}: L1 ERC-20 {:.1} µs per transfer; L2 {:.2} + {:.1} + {:.1} µs per \
         transfer; L2 / L1 = {:.2}",
        median(l1),
        commit_us,
        verify_us,
        decide_us,
        median(ratios)
    );
}
