//! Measures the deferred verification of ADR 0114 (`kaimeng_prover::deferred`, not yet used
//! by the bridge): a proof's claim computed on the prover's side, `n` copies of the proof
//! verified with their claims taken as given, and a decider over their `n` claims.
//!
//! `RAYON_NUM_THREADS=1 target/debug/examples/measure_deferred <k> <slots> <proof.json> <n>`,
//! with a proof file from `measure_chunk` (`KAIMENG_PROOF_FILE`).

use std::time::Instant;

use kaimeng_prover::deferred::{claim_of, decide, verify_with_claims};
use kaimeng_prover::{ChunkKeys, ChunkProof, ChunkShape, ParamsCache};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: measure_deferred <k> <slots> <proof.json> <n>");
        std::process::exit(2);
    }
    let k: u32 = args[1].parse().expect("k");
    let slots: usize = args[2].parse().expect("slots");
    let text = std::fs::read_to_string(&args[3]).expect("the proof file");
    let proof = ChunkProof::from_json(&text).expect("a proof");
    let n: usize = args[4].parse().expect("n");
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
    }
}
