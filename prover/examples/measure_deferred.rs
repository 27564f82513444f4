//! Measures the deferred verification ADR 0114 proposes (not built into the bridge): each
//! proof verified with its IPA claim `(G, u)` taken as given (`Guard::use_g`), the final MSM of
//! such a batch, and a decider that checks many claims with one MSM over the generators.
//! Nothing else uses this code; it is here so the ADR's numbers can be measured again.
//!
//! `RAYON_NUM_THREADS=1 target/debug/examples/measure_deferred <k> <slots> <proof.json> <n>`,
//! with a proof file from `measure_chunk` (`KAIMENG_PROOF_FILE`), verified `n` times.
use std::time::Instant;

use ff::Field;
use group::Group;
use halo2_proofs::arithmetic::best_multiexp;
use halo2_proofs::plonk::{Error, VerificationStrategy, verify_proof};
use halo2_proofs::poly::commitment::{Guard, MSM};
use halo2_proofs::transcript::{Blake2bRead, Challenge255, EncodedChallenge};
use kaimeng_prover::{ChunkKeys, ChunkProof, ChunkShape, ParamsCache};
use pasta_curves::{Fp, vesta};

/// A strategy that keeps the IPA claim: it computes `G` (the prover's side) or takes it.
struct Claim<'p> {
    msm: MSM<'p, vesta::Affine>,
    g: Option<vesta::Affine>,
    compute: bool,
}
impl<'p> VerificationStrategy<'p, vesta::Affine> for Claim<'p> {
    type Output = (MSM<'p, vesta::Affine>, vesta::Affine, Vec<Fp>);
    fn process<E: EncodedChallenge<vesta::Affine>>(
        self,
        f: impl FnOnce(MSM<'p, vesta::Affine>) -> Result<Guard<'p, vesta::Affine, E>, Error>,
    ) -> Result<Self::Output, Error> {
        let guard = f(self.msm)?;
        let g = if self.compute {
            guard.compute_g()
        } else {
            self.g.unwrap()
        };
        let (msm, acc) = guard.use_g(g);
        let u = acc.u_packed.iter().map(|c| c.get_scalar()).collect();
        Ok((msm, g, u))
    }
}

/// The coefficients of `init · Π (1 + u_{k−1−i} X^{2^i})`, the IPA's `s` vector.
fn s_vec(u: &[Fp], init: Fp) -> Vec<Fp> {
    let mut v = vec![Fp::ZERO; 1 << u.len()];
    v[0] = init;
    for (i, u_j) in u.iter().rev().enumerate() {
        let len = 1 << i;
        let (l, r) = v.split_at_mut(len);
        for (a, b) in r[..len].iter_mut().zip(l.iter()) {
            *a = *b * u_j;
        }
    }
    v
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let k: u32 = args[1].parse().unwrap();
    let slots: usize = args[2].parse().unwrap();
    let proof = ChunkProof::from_json(&std::fs::read_to_string(&args[3]).unwrap()).unwrap();
    let n: usize = args[4].parse().unwrap();
    let params = ParamsCache::new(std::env::temp_dir().join("kaimeng-params"))
        .load_or_generate(k)
        .unwrap();
    let keys = ChunkKeys::generate(&params, ChunkShape { slots, k }).unwrap();
    let cols: Vec<Vec<Fp>> = proof.publics.iter().map(|p| p.to_vec()).collect();
    let cols: Vec<[&[Fp]; 1]> = cols.iter().map(|c| [&c[..]]).collect();
    let inst: Vec<&[&[Fp]]> = cols.iter().map(|c| &c[..]).collect();
    let run = |g: Option<vesta::Affine>, compute: bool| {
        let mut t = Blake2bRead::<_, vesta::Affine, Challenge255<_>>::init(&proof.bytes[..]);
        verify_proof(
            &params,
            keys.vk(),
            Claim {
                msm: MSM::new(&params),
                g,
                compute,
            },
            &inst,
            &mut t,
        )
        .unwrap()
    };
    let t = Instant::now();
    let (_, g, u) = run(None, true);
    println!(
        "prover side: claim G computed in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut rng = rand_core::UnwrapErr(rand::rngs::SysRng);
    for _ in 0..2 {
        let t = Instant::now();
        let mut acc = params.empty_msm();
        for _ in 0..n {
            let (mut m, _, _) = run(Some(g), false);
            m.scale(Fp::random(&mut rng));
            acc.add_msm(&m);
        }
        let t1 = t.elapsed().as_secs_f64();
        assert!(acc.eval());
        let t2 = t.elapsed().as_secs_f64();
        println!(
            "verify {n} proofs, claims deferred: {:.1} ms per proof, final eval {:.1} ms, total {:.1} ms",
            t1 * 1e3 / n as f64,
            (t2 - t1) * 1e3,
            t2 * 1e3
        );
        // decider over n claims
        let t = Instant::now();
        let mut total = vec![Fp::ZERO; 1 << k];
        let mut gs = Vec::new();
        let mut ws = Vec::new();
        for _ in 0..n {
            let rho = Fp::random(&mut rng);
            let s = s_vec(&u, rho);
            for (a, b) in total.iter_mut().zip(s.iter()) {
                *a += b;
            }
            gs.push(g);
            ws.push(-rho);
        }
        let t1 = t.elapsed().as_secs_f64();
        let mut bases = params.get_g();
        bases.extend(gs);
        total.extend(ws);
        let ok = bool::from(best_multiexp(&total, &bases).is_identity());
        assert!(ok);
        println!(
            "decide {n} claims: {:.2} ms per claim, MSM {:.1} ms",
            t1 * 1e3 / n as f64,
            (t.elapsed().as_secs_f64() - t1) * 1e3
        );
    }
}
