//! Layout tests: the twin-lane Merkle path against the native tree, and the row counts the
//! chunk shapes are computed from.

use ff::Field;
use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::dev::{CircuitCost, MockProver};
use halo2_proofs::plonk::{Circuit, Column, ConstraintSystem, Error, Instance};
use kaimeng_rollup::Fp;
use kaimeng_rollup::smt::SparseMerkleTree;
use pasta_curves::vesta;

use super::lanes::{LanesConfig, Start};
use crate::keys::{ROWS_PER_CHUNK, ROWS_PER_SLOT};

/// One leaf update: hash `(leaf, 0)` in each lane, then climb 32 levels side by side.
#[derive(Clone)]
struct PathCircuit {
    leaves: [Value<Fp>; 2],
    index: Value<u32>,
    siblings: Value<[Fp; 32]>,
}

#[derive(Clone)]
struct PathConfig {
    lanes: LanesConfig,
    instance: Column<Instance>,
}

impl Circuit<Fp> for PathCircuit {
    type Config = PathConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self {
            leaves: [Value::unknown(); 2],
            index: Value::unknown(),
            siblings: Value::unknown(),
        }
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> PathConfig {
        let advice = [(); 16].map(|_| meta.advice_column());
        for a in advice {
            meta.enable_equality(a);
        }
        let k = [(); 8].map(|_| meta.fixed_column());
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        meta.enable_constant(k[0]);
        PathConfig {
            lanes: LanesConfig::configure(meta, advice, k),
            instance,
        }
    }

    fn synthesize(&self, cfg: PathConfig, mut layouter: impl Layouter<Fp>) -> Result<(), Error> {
        let roots = layouter.assign_region(
            || "path",
            |mut region| {
                let zero = Value::known(Fp::ZERO);
                let (leaves, _) = cfg.lanes.block(
                    &mut region,
                    0,
                    [Value::unknown(); 2],
                    [
                        Start::fresh([self.leaves[0], zero], 2),
                        Start::fresh([self.leaves[1], zero], 2),
                    ],
                )?;
                let (roots, _, last) = cfg.lanes.merkle_path(
                    &mut region,
                    super::poseidon_rows::BLOCK_ROWS,
                    [leaves[0].values(), leaves[1].values()],
                    self.siblings,
                    self.index,
                )?;
                region.constrain_constant(last.cell(), Fp::ZERO)?;
                Ok([roots[0].s[0].clone(), roots[1].s[0].clone()])
            },
        )?;
        layouter.constrain_instance(roots[0].cell(), cfg.instance, 0)?;
        layouter.constrain_instance(roots[1].cell(), cfg.instance, 1)
    }
}

#[test]
fn twin_lane_path_computes_old_and_new_roots_of_the_native_tree() {
    let mut tree = SparseMerkleTree::new();
    for i in 0..50u32 {
        tree.set_leaf(i * 7919, Fp::from(u64::from(i) + 1));
    }
    let index = 5 * 7919;
    let proof = tree.proof(index);
    let h = |x: u64| kaimeng_rollup::poseidon::hash2(Fp::from(x), Fp::ZERO);
    let circuit = PathCircuit {
        leaves: [Value::known(Fp::from(6)), Value::known(Fp::from(42))],
        index: Value::known(index),
        siblings: Value::known(proof.siblings),
    };
    let roots = vec![proof.root_for(h(6)), proof.root_for(h(42))];
    MockProver::run(11, &circuit, vec![roots.clone()])
        .unwrap()
        .assert_satisfied();
    let wrong = vec![roots[0], roots[1] + Fp::ONE];
    assert!(
        MockProver::run(11, &circuit, vec![wrong])
            .unwrap()
            .verify()
            .is_err()
    );
    // A path for another index does not reach the same roots.
    let other = PathCircuit {
        index: Value::known(index + 1),
        ..circuit
    };
    assert!(
        MockProver::run(11, &other, vec![roots])
            .unwrap()
            .verify()
            .is_err()
    );
}

fn advice_rows(slots: usize) -> usize {
    let cost = CircuitCost::<vesta::Point, _>::measure(15, &super::ChunkCircuit::shape(slots));
    let debug = format!("{cost:?}");
    let field = debug
        .split("max_advice_rows: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.trim().parse().ok());
    field.expect("CircuitCost reports max_advice_rows")
}

#[test]
fn row_constants_match_the_layout() {
    let one = advice_rows(1);
    let two = advice_rows(2);
    assert_eq!(two - one, ROWS_PER_SLOT);
    assert_eq!(one - ROWS_PER_SLOT, ROWS_PER_CHUNK);
}

/// Expression-size census of the gates (the prover evaluates every node at every point of the
/// extended domain, so this is where the quotient's time goes).
#[test]
#[ignore]
fn gate_census() {
    use halo2_proofs::plonk::ConstraintSystem;
    fn count(meta: &ConstraintSystem<Fp>, what: &str) {
        let s = format!("{:?}", meta.pinned());
        let gates = s
            .split("gates:")
            .nth(1)
            .unwrap_or("")
            .split("advice_queries")
            .next()
            .unwrap_or("");
        let n = |pat: &str| gates.matches(pat).count();
        println!(
            "{what}: products {} scaled {} sums {} negated {} constants {} advice {} fixed {} selectors {}",
            n("Product("),
            n("Scaled("),
            n("Sum("),
            n("Negated("),
            n("Constant("),
            n("Advice("),
            n("Fixed("),
            n("Selector(")
        );
    }
    let mut meta = ConstraintSystem::<Fp>::default();
    let wide = [(); 16].map(|_| meta.advice_column());
    let advice: [_; 10] = std::array::from_fn(|i| wide[i]);
    let fixed = [(); 8].map(|_| meta.fixed_column());
    let _ = super::range::RangeConfig::configure(&mut meta, advice);
    count(&meta, "range");
    let mut m2 = meta.clone();
    let _ = super::schnorr::SchnorrConfig::configure(&mut m2, wide);
    count(&m2, "range+signature");
    let mut m3 = meta.clone();
    let _ = LanesConfig::configure(&mut m3, wide, fixed);
    count(&m3, "range+lanes");
    let mut m4 = meta.clone();
    let _ = super::slot_gate::SlotGateConfig::configure(&mut m4, advice);
    count(&m4, "range+slot");
}

/// The same census after keygen (selectors compressed into fixed-column polynomials).
#[test]
#[ignore]
fn gate_census_after_keygen() {
    use halo2_proofs::plonk::keygen_vk;
    use halo2_proofs::poly::commitment::Params;
    let params: Params<vesta::Affine> = Params::new(12);
    let vk = keygen_vk(&params, &super::ChunkCircuit::shape(1)).unwrap();
    let s = format!("{:?}", vk.pinned());
    let gates = s
        .split("gates:")
        .nth(1)
        .unwrap_or("")
        .split("advice_queries")
        .next()
        .unwrap_or("");
    let n = |pat: &str| gates.matches(pat).count();
    println!(
        "after keygen: products {} scaled {} sums {} negated {} constants {} fixed {} advice {}",
        n("Product("),
        n("Scaled("),
        n("Sum("),
        n("Negated("),
        n("Constant("),
        n("Fixed"),
        n("Advice")
    );
    let fixed_queries = s
        .split("fixed_queries:")
        .nth(1)
        .unwrap_or("")
        .split("permutation")
        .next()
        .unwrap_or("");
    println!("fixed queries: {}", fixed_queries.matches("Column").count());
}
