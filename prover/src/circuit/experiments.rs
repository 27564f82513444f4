//! Throwaway measurements (ignored tests): rows and prove time of the twin-lane Merkle path.

use std::time::Instant;

use ff::Field;
use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::dev::MockProver;
use halo2_proofs::plonk::{
    create_proof, keygen_pk, keygen_vk, verify_proof, Circuit, Column, ConstraintSystem, Error,
    Instance, SingleVerifier,
};
use halo2_proofs::poly::commitment::Params;
use halo2_proofs::transcript::{Blake2bRead, Blake2bWrite, Challenge255};
use kaimeng_rollup::smt::SparseMerkleTree;
use kaimeng_rollup::Fp;
use pasta_curves::{pallas, vesta};

use super::lanes::{LanesConfig, MerkleStep, Start};

#[derive(Clone)]
struct PathCircuit {
    paths: usize,
    leaf_old: Value<Fp>,
    leaf_new: Value<Fp>,
    index: u32,
    siblings: Vec<Value<Fp>>,
}

#[derive(Clone)]
struct Cfg {
    lanes: LanesConfig,
    instance: Column<Instance>,
}

impl Circuit<Fp> for PathCircuit {
    type Config = Cfg;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self {
            paths: self.paths,
            leaf_old: Value::unknown(),
            leaf_new: Value::unknown(),
            index: 0,
            siblings: vec![Value::unknown(); 32],
        }
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> Cfg {
        let advice = [(); 10].map(|_| meta.advice_column());
        for a in advice {
            meta.enable_equality(a);
        }
        let k = [(); 5].map(|_| meta.fixed_column());
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        meta.enable_constant(k[0]);
        Cfg {
            lanes: LanesConfig::configure(meta, advice, k),
            instance,
        }
    }

    fn synthesize(&self, cfg: Cfg, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        let mut roots = Vec::new();
        for _ in 0..self.paths {
            let out = layouter.assign_region(
                || "path",
                |mut region| {
                    // Row 0: a fresh hash of (leaf, 0) per lane just to have a row-26 before level 0.
                    let (mut cur, _) = cfg.lanes.block(
                        &mut region,
                        0,
                        [Value::unknown(); 2],
                        [
                            Start::fresh([self.leaf_old, Value::known(Fp::ZERO)], 2),
                            Start::fresh([self.leaf_new, Value::known(Fp::ZERO)], 2),
                        ],
                    )?;
                    let mut row = 27;
                    let mut z = Value::known(Fp::from(u64::from(self.index)));
                    for h in 0..32 {
                        let step = MerkleStep {
                            sibling: self.siblings[h],
                            bit: Value::known((self.index >> h) & 1 == 1),
                        };
                        let (outs, zs) = cfg.lanes.merkle_level(
                            &mut region,
                            row,
                            [cur[0].values(), cur[1].values()],
                            step,
                            z,
                        )?;
                        z = zs[1].value().copied();
                        cur = outs;
                        row += 27;
                    }
                    Ok(cur[1].s[0].clone())
                },
            )?;
            roots.push(out);
        }
        layouter.constrain_instance(roots[0].cell(), cfg.instance, 0)?;
        Ok(())
    }
}

/// CPU seconds used by this process so far (all threads), from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields[11].parse().unwrap();
    let stime: f64 = fields[12].parse().unwrap();
    (utime + stime) / 100.0
}

fn cached_params(k: u32) -> Params<vesta::Affine> {
    let path = format!("/tmp/kaimeng-prover-params-{k}.bin");
    if let Ok(bytes) = std::fs::read(&path) {
        return Params::read(&mut &bytes[..]).unwrap();
    }
    let p = Params::new(k);
    let mut out = vec![];
    p.write(&mut out).unwrap();
    std::fs::write(&path, out).unwrap();
    p
}

fn circuit(paths: usize) -> (PathCircuit, Fp) {
    let mut tree = SparseMerkleTree::new();
    for i in 0..50u32 {
        tree.set_leaf(i * 7919, Fp::from(u64::from(i) + 1));
    }
    let index = 5 * 7919;
    let proof = tree.proof(index);
    let leaf_new = kaimeng_rollup::poseidon::hash2(Fp::from(42), Fp::ZERO);
    let root = proof.root_for(leaf_new);
    (
        PathCircuit {
            paths,
            leaf_old: Value::known(Fp::from(6)),
            leaf_new: Value::known(Fp::from(42)),
            index,
            siblings: proof.siblings.iter().map(|s| Value::known(*s)).collect(),
        },
        root,
    )
}

#[test]
fn twin_lane_path_matches_native_root() {
    let (c, root) = circuit(1);
    let prover = MockProver::run(11, &c, vec![vec![root]]).unwrap();
    prover.assert_satisfied();
    let bad = MockProver::run(11, &c, vec![vec![root + Fp::ONE]]).unwrap();
    assert!(bad.verify().is_err());
}

#[test]
#[ignore]
fn measure_prove_time() {
    let runs: Vec<(u32, usize)> = std::env::var("KM_RUNS")
        .unwrap_or("14:16".into())
        .split(',')
        .map(|r| {
            let (k, p) = r.split_once(':').unwrap();
            (k.parse().unwrap(), p.parse().unwrap())
        })
        .collect();
    for (k, paths) in runs {
        let (c, root) = circuit(paths);
        let t = Instant::now();
        let c0 = cpu_seconds();
        let params: Params<vesta::Affine> = cached_params(k);
        let t_params = t.elapsed();
        let t = Instant::now();
        let vk = keygen_vk(&params, &c.without_witnesses()).unwrap();
        let pk = keygen_pk(&params, vk, &c.without_witnesses()).unwrap();
        let t_keygen = t.elapsed();
        let c1 = cpu_seconds();
        let t = Instant::now();
        let mut transcript = Blake2bWrite::<_, vesta::Affine, Challenge255<_>>::init(vec![]);
        create_proof(
            &params,
            &pk,
            &[c],
            &[&[&[root]]],
            rand_core::UnwrapErr(rand::rngs::SysRng),
            &mut transcript,
        )
        .unwrap();
        let proof = transcript.finalize();
        let t_prove = t.elapsed();
        let c2 = cpu_seconds();
        let t = Instant::now();
        let strategy = SingleVerifier::new(&params);
        let mut tr = Blake2bRead::<_, vesta::Affine, Challenge255<_>>::init(&proof[..]);
        verify_proof(&params, pk.get_vk(), strategy, &[&[&[root]]], &mut tr).unwrap();
        let t_verify = t.elapsed();
        println!(
            "k={k} paths={paths} rows/path={} params={t_params:?} keygen={t_keygen:?} prove={t_prove:?} prove_cpu={:.1}s setup_cpu={:.1}s verify={t_verify:?} proof={}B",
            27 * 33,
            c2 - c1,
            c1 - c0,
            proof.len()
        );
        let _ = pallas::Base::ZERO;
    }
}

#[test]
#[ignore]
fn measure_chunk_rows() {
    use halo2_proofs::dev::CircuitCost;
    for slots in [1usize, 2, 3] {
        let c = super::ChunkCircuit::shape(slots);
        let cost = CircuitCost::<vesta::Point, _>::measure(14, &c);
        println!("slots={slots} {cost:?}");
    }
}
