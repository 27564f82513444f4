//! Times the parts of the batch-verification precompile's work on a saved batch call (from
//! `l2_calls`, `DIR/batch-….json`): decoding, the chunks' public inputs (published data parsed
//! and committed to), the claims' parsing and the proofs' verification with the claims given.
//!
//! `RAYON_NUM_THREADS=1 cargo run --profile dev -p kaimeng-prover --example measure_batch_call --
//! <batch.json> <slots> <k> [rounds]`

use std::time::Instant;

use kaimeng_prover::batch_call::{BatchCall, verify_call};
use kaimeng_prover::deferred::{Claim, verify_with_claims};
use kaimeng_prover::{ChunkKeys, ChunkShape, ParamsCache};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = &args[1];
    let slots: usize = args[2].parse().unwrap();
    let k: u32 = args[3].parse().unwrap();
    let rounds: usize = args.get(4).map_or(3, |r| r.parse().unwrap());
    let text = std::fs::read_to_string(path).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let input = hex::decode(value["call"].as_str().unwrap()).unwrap();
    let params = ParamsCache::new(std::env::temp_dir().join("kaimeng-params"))
        .load_or_generate(k)
        .unwrap();
    let keys = ChunkKeys::generate(&params, ChunkShape { slots, k }).unwrap();
    for round in 0..rounds {
        let t = Instant::now();
        let call = BatchCall::decode(&input).unwrap();
        let decode = t.elapsed();
        let t = Instant::now();
        let proofs = call.chunk_proofs(slots).unwrap();
        let publics = t.elapsed();
        let t = Instant::now();
        let size = 32 * (1 + k as usize);
        let claims: Vec<Claim> = call
            .claims
            .chunks(size)
            .map(|c| Claim::from_bytes(k, c).unwrap())
            .collect();
        let parse = t.elapsed();
        let t = Instant::now();
        verify_with_claims(&params, keys.vk(), &proofs, &claims).unwrap();
        let verify = t.elapsed();
        let t = Instant::now();
        verify_call(&params, keys.vk(), slots, &call).unwrap();
        let whole = t.elapsed();
        println!(
            "round {round}: {} chunks, {} proofs: decode {:?}, public inputs {:?}, claims {:?}, \
             verify {:?}; the precompile's whole call {:?}",
            call.chunks.len(),
            proofs.len(),
            decode,
            publics,
            parse,
            verify,
            whole
        );
    }
}
