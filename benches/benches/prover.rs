//! Rollup prover benchmarks: the native tree update and state transition per transfer, a
//! batch's data commitments and a decision step's s(u) sum (one by one and in SIMD lanes), a
//! decision step's MSM (halo2's and `kaimeng_prover::msm`'s), and proving / verifying /
//! batch-verifying the smallest chunk shape (one slot at k = 12).
//!
//! `cargo bench -p kaimeng-benches --features prover --bench prover`
//!
//! The production shape (29 slots at k = 16) takes minutes per proof, so it is measured once
//! by `cargo run --release -p kaimeng-prover --example measure_chunk -- 16 29 2`.

use criterion::{Criterion, criterion_group, criterion_main};
use kaimeng_prover::msm;
use kaimeng_prover::{
    ChunkKeys, ChunkShape, ChunkWitness, ParamsCache, batch_verify, prove_chunk, verify_chunk,
};
use kaimeng_rollup::stf::{ChunkConfig, L2State};
use kaimeng_rollup::tx::{L2Op, Transfer};
use kaimeng_rollup::{Account, Fp, L1Address, SigningKey, field_lanes, poseidon, poseidon_lanes};

const CHAIN: u64 = 1;
const ACCOUNTS: u32 = 1_000;

fn key(i: u32) -> SigningKey {
    let mut bytes = [7u8; 64];
    bytes[..4].copy_from_slice(&i.to_le_bytes());
    SigningKey::from_uniform_bytes(&bytes)
}

/// Account `i` lives at a scattered index, so paths share few nodes.
fn index(i: u32) -> u32 {
    i.wrapping_mul(2_654_435_761)
}

fn state() -> (L2State, Vec<SigningKey>) {
    let mut s = L2State::new();
    let keys: Vec<SigningKey> = (0..ACCOUNTS).map(key).collect();
    for (i, k) in keys.iter().enumerate() {
        s.set_account(
            index(i as u32),
            Account {
                public_key: Some(k.public_key()),
                l1_address: L1Address([i as u8; 20]),
                balance: 1 << 40,
                nonce: 0,
            },
        );
    }
    (s, keys)
}

fn transfer(s: &L2State, keys: &[SigningKey], from: u32, to: u32) -> L2Op {
    L2Op::Transfer(
        Transfer {
            from: index(from),
            to: index(to),
            amount: 1_000,
            fee: 1,
            nonce: s.account(index(from)).nonce,
        }
        .sign(&keys[from as usize], CHAIN),
    )
}

fn native(c: &mut Criterion) {
    let (mut s, keys) = state();
    let mut g = c.benchmark_group("rollup native");
    let mut n = 0u32;
    g.bench_function("tree update per transfer (2 leaves)", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let (from, to) = (1 + n % (ACCOUNTS - 1), 1 + (n * 7) % (ACCOUNTS - 1));
            let mut a = s.account(index(from));
            a.balance -= 1;
            s.set_account(index(from), a);
            let mut b2 = s.account(index(to));
            b2.balance += 1;
            s.set_account(index(to), b2)
        })
    });
    let config = ChunkConfig {
        chain_id: CHAIN,
        fee_account: index(0),
        slots: 1,
    };
    g.bench_function(
        "state transition per transfer (signature, 2 leaves, fee credit)",
        |b| {
            b.iter_custom(|iters| {
                // Sign outside the timed part, then apply in order.
                let mut probe = s.clone();
                let ops: Vec<L2Op> = (0..iters)
                    .map(|_| {
                        n = n.wrapping_add(1);
                        let op = transfer(
                            &probe,
                            &keys,
                            1 + n % (ACCOUNTS - 1),
                            1 + (n * 7) % (ACCOUNTS - 1),
                        );
                        probe.apply_chunk(config, &[op]).unwrap();
                        op
                    })
                    .collect();
                let start = std::time::Instant::now();
                for op in &ops {
                    s.apply_chunk(config, std::slice::from_ref(op)).unwrap();
                }
                start.elapsed()
            })
        },
    );
    // A validator re-hashes each chunk's published data when it checks a batch: 64 chunks of
    // 57 slots, two words a slot, as `poseidon::hash` one by one and eight at a time.
    let data: Vec<Vec<Fp>> = (0..64u64)
        .map(|chunk| (0..114u64).map(|w| Fp::from(chunk * 1_000 + w)).collect())
        .collect();
    let views: Vec<&[Fp]> = data.iter().map(Vec::as_slice).collect();
    g.bench_function(
        "data commitments of a batch (64 chunks of 57 slots), one by one",
        |b| b.iter(|| views.iter().map(|d| poseidon::hash(d)).collect::<Vec<_>>()),
    );
    g.bench_function(
        "data commitments of a batch (64 chunks of 57 slots), in lanes",
        |b| b.iter(|| poseidon_lanes::hash_many(&views)),
    );
    // A decision step at the production shape sums 256 claims' s(u) over its 2^12
    // generators: one by one (as before) and in lanes.
    let challenges: Vec<Vec<Fp>> = (0..256u64)
        .map(|j| (0..12u64).map(|i| Fp::from(j * 100 + i + 2)).collect())
        .collect();
    let terms: Vec<(Fp, &[Fp])> = challenges
        .iter()
        .map(|u| (u[0] + u[0], u.as_slice()))
        .collect();
    g.bench_function(
        "s(u) sum of a decision step (256 claims, 2^12), one by one",
        |b| {
            b.iter(|| {
                let mut total = vec![Fp::from(0u64); 1 << 12];
                for (init, u) in &terms {
                    let mut s = vec![Fp::from(0u64); 1 << 12];
                    s[0] = *init;
                    for (i, u_i) in u.iter().rev().enumerate() {
                        let (low, high) = s.split_at_mut(1 << i);
                        for (h, l) in high[..1 << i].iter_mut().zip(low.iter()) {
                            *h = *l * u_i;
                        }
                    }
                    for (t, x) in total.iter_mut().zip(s) {
                        *t += x;
                    }
                }
                total
            })
        },
    );
    g.bench_function(
        "s(u) sum of a decision step (256 claims, 2^12), in lanes",
        |b| b.iter(|| field_lanes::expansion_sum(&terms, 12)),
    );
    g.finish();
}

/// A decision step's MSM at the production shape, on one thread as `decide_step` runs it: the
/// 2^12 generators plus 256 claim points, with full-width scalars.
fn decision_msm(c: &mut Criterion) {
    let params = ParamsCache::new(std::env::temp_dir().join("kaimeng-params"))
        .load_or_generate(12)
        .unwrap();
    let mut bases = params.get_g();
    let scalar = |i: u64| poseidon::hash(&[Fp::from(i)]);
    for j in 0..256 {
        let claim = (bases[j] * scalar(1_000_000 + j as u64)).into();
        bases.push(claim);
    }
    let scalars: Vec<Fp> = (0..bases.len() as u64).map(scalar).collect();
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("decision MSM");
    g.bench_function("halo2 best_multiexp (4096 generators + 256 points)", |b| {
        b.iter(|| one_thread.install(|| msm::best_multiexp(&scalars, &bases)))
    });
    g.bench_function("batch-affine msm (4096 generators + 256 points)", |b| {
        b.iter(|| one_thread.install(|| msm::msm(&scalars, &bases)))
    });
    g.finish();
}

fn small_chunk(c: &mut Criterion) {
    let shape = ChunkShape { slots: 1, k: 12 };
    let params = ParamsCache::new(std::env::temp_dir().join("kaimeng-params"))
        .load_or_generate(shape.k)
        .unwrap();
    let keys_ = ChunkKeys::generate(&params, shape).unwrap();
    let (mut s, keys) = state();
    let config = ChunkConfig {
        chain_id: CHAIN,
        fee_account: index(0),
        slots: shape.slots,
    };
    let witness = |s: &mut L2State, n: u32| {
        let op = transfer(s, &keys, 1 + n, 2 + n);
        ChunkWitness::from_outcome(&s.apply_chunk(config, &[op]).unwrap())
    };
    let w0 = witness(&mut s, 0);
    let proofs: Vec<_> = (1..3)
        .map(|n| prove_chunk(&params, &keys_, &witness(&mut s, n)).unwrap())
        .collect();
    let mut g = c.benchmark_group("chunk proof, 1 slot, k=12");
    g.sample_size(10);
    g.bench_function("prove", |b| {
        b.iter(|| prove_chunk(&params, &keys_, &w0).unwrap())
    });
    g.bench_function("verify one", |b| {
        b.iter(|| verify_chunk(&params, keys_.vk(), &proofs[0]).unwrap())
    });
    let batch: Vec<_> = proofs.iter().cycle().take(32).cloned().collect();
    g.bench_function("batch-verify 32", |b| {
        b.iter(|| batch_verify(&params, keys_.vk(), &batch).unwrap())
    });
    g.finish();
}

criterion_group!(benches, native, decision_msm, small_chunk);
criterion_main!(benches);
