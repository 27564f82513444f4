//! Measures the deferred verification of ADR 0114 (`kaimeng_prover::deferred`): a proof's
//! claim computed on the prover's side, `n` copies of the proof verified with their claims
//! taken as given, and a decider over their `n` claims, in one step and split into `steps`
//! steps (each timed, as the bridge runs them in separate transactions).
//!
//! `RAYON_NUM_THREADS=1 target/debug/examples/measure_deferred <k> <slots> <proof.json> <n>
//! [steps]`, with a proof file from `measure_chunk` (`KAIMENG_PROOF_FILE`).

use std::time::Instant;

use kaimeng_prover::batch_call::DecideStepCall;
use kaimeng_prover::deferred::{claim_of, decide, max_decision_steps, verify_with_claims};
use kaimeng_prover::{ChunkKeys, ChunkProof, ChunkShape, ParamsCache};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !(5..=6).contains(&args.len()) {
        eprintln!("usage: measure_deferred <k> <slots> <proof.json> <n> [steps]");
        std::process::exit(2);
    }
    let k: u32 = args[1].parse().expect("k");
    let slots: usize = args[2].parse().expect("slots");
    let text = std::fs::read_to_string(&args[3]).expect("the proof file");
    let proof = ChunkProof::from_json(&text).expect("a proof");
    let n: usize = args[4].parse().expect("n");
    let steps: u64 = args
        .get(5)
        .map_or(max_decision_steps(k) as u64, |s| s.parse().expect("steps"));
    let params = ParamsCache::new(std::env::temp_dir().join("kaimeng-params"))
        .load_or_generate(k)
        .expect("parameters");
    let keys = ChunkKeys::generate(&params, ChunkShape { slots, k }).expect("keys");
    let chunks = proof.publics.len();

    let t = Instant::now();
    let claim = claim_of(&params, keys.vk(), &proof).expect("a valid proof");
    println!(
        "claim (prover side, verifies the proof in full): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let proofs = vec![proof; n];
    let bytes = claim.to_bytes().repeat(n);
    let claims = vec![claim; n];
    for _ in 0..2 {
        let t = Instant::now();
        verify_with_claims(&params, keys.vk(), &proofs, &claims).expect("verifies");
        let verify = t.elapsed().as_secs_f64();
        let t = Instant::now();
        assert!(decide(&params, &claims));
        let decided = t.elapsed().as_secs_f64();
        println!(
            "{n} proofs of {chunks} chunk(s): verify with claims {:.1} ms ({:.2} ms per proof \
             with the final MSM shared), decide {:.1} ms",
            verify * 1e3,
            verify * 1e3 / n as f64,
            decided * 1e3
        );
        let mut call = DecideStepCall::first(steps, bytes.clone());
        let mut times = Vec::new();
        loop {
            let t = Instant::now();
            let answer = call.run(&params).expect("a step");
            times.push(t.elapsed().as_secs_f64() * 1e3);
            if call.is_last() {
                assert_eq!(answer[31], 1, "the claims hold");
                break;
            }
            call = call.next(answer);
        }
        let total: f64 = times.iter().sum();
        let most = times.iter().cloned().fold(0.0, f64::max);
        println!(
            "  decide in {steps} steps: {total:.1} ms in all, {:.1} ms per step on average, \
             {most:.1} ms the longest (first {:.1} ms)",
            total / steps as f64,
            times[0]
        );
    }
}
