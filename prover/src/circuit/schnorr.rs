//! The signature chip: computes `W = [s]G − [e]P` for a slot's key `P`, response `s` and
//! challenge `e`, in 130 rows of degree-5 gates (ADR 0112). The slot rules then require
//! `W = R` for signed slots.
//!
//! One joint double-and-add of 256 steps, two per row, most significant bit first, from a fixed
//! offset point `H` (hashed to the curve, so nobody knows its discrete log):
//! `acc' = (acc + T) + acc` with `T = (2b − 1)·G − c·P`, where `c` are the bits of `e` (the top
//! one tied to zero) and `b` the bits of `(σ + 2^256 − 1)/2` for the odd representative
//! `σ ≡ s (mod q)`. After 256 steps `acc = [2^256]H + [σ]G − [e]P`, and one addition of
//! `−[2^256]H` gives `W`.
//!
//! Additions use the incomplete affine formulas. They fail only when a sum meets its own
//! operand or its negation, which here needs a discrete-log relation between `H`, `G` and
//! `P`; the key `±G` (whose discrete log is public) is refused natively before it gets here.
//!
//! | row | columns 0..=5 | 6..=11 | 12..=15 |
//! |---|---|---|---|
//! | setup | `P.x, P.y, λa, λb` | | `D1 = G − P`, `D2 = −G − P` |
//! | 128 loop rows | first step: `acc.x, acc.y, λ1, λ2, b, z` | second step: `acc.x, acc.y, λ1, λ2, b`; the first step's `c` | `D1, D2` copied |
//! | final | `acc.x, acc.y, λ, W.x, W.y, z = e` | | |
//!
//! `z` is the running sum of `e`'s bits, two per row; the second step's bit is
//! `z_next − 4z − 2c`.

use std::sync::OnceLock;

use ff::{Field, PrimeField};
use group::{Curve, Group};
use halo2_proofs::circuit::{AssignedCell, Region, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Constraints, Error, Expression, Selector,
};
use halo2_proofs::poly::Rotation;
use kaimeng_rollup::{Fp, Fq};
use pasta_curves::arithmetic::{CurveAffine, CurveExt};
use pasta_curves::pallas;

type Cell = AssignedCell<Fp, Fp>;

/// Steps of the double-and-add: bits of `e` and digits of the response.
pub const BITS: usize = 256;
/// The row after the last loop row (the setup row, 128 loop rows, then this one).
const LAST: usize = BITS / 2 + 1;

/// Affine coordinates, `(0, 0)` for the identity.
pub fn xy(p: &pallas::Affine) -> [Fp; 2] {
    Option::from(p.coordinates())
        .map(|c: pasta_curves::arithmetic::Coordinates<pallas::Affine>| [*c.x(), *c.y()])
        .unwrap_or([Fp::ZERO; 2])
}

/// The offset `H` and `C = [2^255]H`.
pub fn offsets() -> &'static (pallas::Affine, pallas::Affine) {
    static OFFSETS: OnceLock<(pallas::Affine, pallas::Affine)> = OnceLock::new();
    OFFSETS.get_or_init(|| {
        let h = pallas::Point::hash_to_curve("kaimeng:schnorr-chip")(b"offset");
        let mut c = h;
        for _ in 0..BITS {
            c = c.double();
        }
        (h.to_affine(), c.to_affine())
    })
}

fn generator() -> [Fp; 2] {
    xy(&pallas::Point::generator().to_affine())
}

/// Columns and selectors of the chip.
#[derive(Clone, Copy, Debug)]
pub struct SchnorrConfig {
    advice: [Column<Advice>; 16],
    q_setup: Selector,
    q_loop: Selector,
    q_final: Selector,
}

/// `λ·(x1 − x2) = y1 − y2`, `x3 = λ² − x1 − x2`, `y3 = λ·(x1 − x3) − y1` as three constraints
/// (for `x3`, `y3` given as expressions).
fn addition(
    p1: [Expression<Fp>; 2],
    p2: [Expression<Fp>; 2],
    lambda: Expression<Fp>,
    p3: [Expression<Fp>; 2],
) -> [Expression<Fp>; 3] {
    let [x1, y1] = p1;
    let [x2, y2] = p2;
    let [x3, y3] = p3;
    [
        lambda.clone() * (x1.clone() - x2.clone()) - (y1.clone() - y2.clone()),
        x3.clone() - (lambda.clone() * lambda.clone() - x1.clone() - x2),
        y3 - (lambda * (x1 - x3) - y1),
    ]
}

impl SchnorrConfig {
    /// Configures the chip on the circuit's sixteen advice columns (equality must be enabled).
    pub fn configure(meta: &mut ConstraintSystem<Fp>, advice: [Column<Advice>; 16]) -> Self {
        let config = Self {
            advice,
            q_setup: meta.complex_selector(),
            q_loop: meta.complex_selector(),
            q_final: meta.complex_selector(),
        };
        let [gx, gy] = generator().map(Expression::Constant);
        let [cx, cy] = xy(&offsets().1).map(Expression::Constant);
        let five = Expression::Constant(Fp::from(5));
        let one = Expression::Constant(Fp::ONE);
        let two = Fp::from(2);

        meta.create_gate(
            "signature setup: P on the curve, D1 = G − P, D2 = −G − P",
            |meta| {
                let q = meta.query_selector(config.q_setup);
                let mut a = |i: usize, r: Rotation| meta.query_advice(advice[i], r);
                let (px, py) = (a(0, Rotation::cur()), a(1, Rotation::cur()));
                let (la, lb) = (a(2, Rotation::cur()), a(3, Rotation::cur()));
                let d = [12, 13, 14, 15].map(|i| a(i, Rotation::cur()));
                let neg_p = [px.clone(), -py.clone()];
                let mut out = vec![py.clone() * py - px.clone() * px.clone() * px - five.clone()];
                out.extend(addition(
                    neg_p.clone(),
                    [gx.clone(), gy.clone()],
                    la,
                    [d[0].clone(), d[1].clone()],
                ));
                out.extend(addition(
                    neg_p,
                    [gx.clone(), -gy.clone()],
                    lb,
                    [d[2].clone(), d[3].clone()],
                ));
                Constraints::with_selector(q, out)
            },
        );

        meta.create_gate("signature double-and-add, two steps", |meta| {
            let q = meta.query_selector(config.q_loop);
            let mut a = |i: usize, r: Rotation| meta.query_advice(advice[i], r);
            let d = [12, 13, 14, 15].map(|i| a(i, Rotation::cur()));
            let (z, zn) = (a(5, Rotation::cur()), a(5, Rotation::next()));
            let c1 = a(11, Rotation::cur());
            let c2 = zn - z * Fp::from(4) - c1.clone() * two;
            // One step from `acc` with digit `b` and bit `c` to `out`.
            let step = |acc: [Expression<Fp>; 2],
                        l: [Expression<Fp>; 2],
                        b: Expression<Fp>,
                        c: Expression<Fp>,
                        out: [Expression<Fp>; 2]| {
                let [xa, ya] = acc;
                let [l1, l2] = l;
                let [xn, yn] = out;
                let not_c = one.clone() - c.clone();
                let not_b = one.clone() - b.clone();
                let xt = not_c.clone() * gx.clone()
                    + c.clone() * (b.clone() * d[0].clone() + not_b.clone() * d[2].clone());
                let yt = not_c * (b.clone() * two - one.clone()) * gy.clone()
                    + c.clone() * (b.clone() * d[1].clone() + not_b.clone() * d[3].clone());
                let xr = l1.clone() * l1.clone() - xa.clone() - xt.clone();
                vec![
                    b * not_b,
                    c.clone() * (one.clone() - c),
                    l1.clone() * (xa.clone() - xt) - (ya.clone() - yt),
                    (l1 + l2.clone()) * (xa.clone() - xr.clone()) - ya.clone() * two,
                    xn.clone() - (l2.clone() * l2.clone() - xa.clone() - xr),
                    yn - (l2 * (xa - xn) - ya),
                ]
            };
            let acc = [a(0, Rotation::cur()), a(1, Rotation::cur())];
            let mid = [a(6, Rotation::cur()), a(7, Rotation::cur())];
            let next = [a(0, Rotation::next()), a(1, Rotation::next())];
            let mut out = step(
                acc,
                [a(2, Rotation::cur()), a(3, Rotation::cur())],
                a(4, Rotation::cur()),
                c1,
                mid.clone(),
            );
            out.extend(step(
                mid,
                [a(8, Rotation::cur()), a(9, Rotation::cur())],
                a(10, Rotation::cur()),
                c2,
                next,
            ));
            Constraints::with_selector(q, out)
        });

        meta.create_gate("signature W = acc − [2^256]H", |meta| {
            let q = meta.query_selector(config.q_final);
            let mut a = |i: usize| meta.query_advice(advice[i], Rotation::cur());
            Constraints::with_selector(
                q,
                addition([a(0), a(1)], [cx.clone(), -cy.clone()], a(2), [a(3), a(4)]),
            )
        });
        config
    }

    /// Lays out one signature from row 0 of `region`. Returns the cells of `P` (x, y), `e` and
    /// `W` (x, y).
    pub fn assign(
        &self,
        region: &mut Region<'_, Fp>,
        trace: Value<&SignatureTrace>,
    ) -> Result<SignatureCells, Error> {
        let adv = self.advice;
        let put = |region: &mut Region<'_, Fp>, row: usize, col: usize, v: Value<Fp>| {
            region.assign_advice(|| "signature", adv[col], row, || v)
        };
        self.q_setup.enable(region, 0)?;
        let p = [
            put(region, 0, 0, trace.map(|t| t.p[0]))?,
            put(region, 0, 1, trace.map(|t| t.p[1]))?,
        ];
        put(region, 0, 2, trace.map(|t| t.lambda_d[0]))?;
        put(region, 0, 3, trace.map(|t| t.lambda_d[1]))?;
        // `D1`, `D2` are carried down by copy constraints, which cost the prover nothing per
        // row (a gate would cost its expression over the whole extended domain).
        for (i, col) in (12..16).enumerate() {
            let first = put(region, 0, col, trace.map(|t| t.d[i]))?;
            for row in 1..LAST {
                let cell = put(region, row, col, trace.map(|t| t.d[i]))?;
                region.constrain_equal(first.cell(), cell.cell())?;
            }
        }
        let (h, _) = offsets();
        let [hx, hy] = xy(h);
        region.assign_advice_from_constant(|| "H.x", adv[0], 1, hx)?;
        region.assign_advice_from_constant(|| "H.y", adv[1], 1, hy)?;
        region.assign_advice_from_constant(|| "z_0", adv[5], 1, Fp::ZERO)?;
        // The top bit of `e` is zero (e < p < 2^255), so the running sum stays below 2^255.
        region.assign_advice_from_constant(|| "e's bit 255", adv[11], 1, Fp::ZERO)?;
        for row in 1..LAST {
            let j = 2 * (row - 1);
            self.q_loop.enable(region, row)?;
            if j > 0 {
                put(region, row, 0, trace.map(|t| t.acc[j][0]))?;
                put(region, row, 1, trace.map(|t| t.acc[j][1]))?;
                put(region, row, 5, trace.map(|t| t.z[j]))?;
                put(region, row, 11, trace.map(|t| t.c[j]))?;
            }
            put(region, row, 2, trace.map(|t| t.lambda[j][0]))?;
            put(region, row, 3, trace.map(|t| t.lambda[j][1]))?;
            put(region, row, 4, trace.map(|t| t.b[j]))?;
            put(region, row, 6, trace.map(|t| t.acc[j + 1][0]))?;
            put(region, row, 7, trace.map(|t| t.acc[j + 1][1]))?;
            put(region, row, 8, trace.map(|t| t.lambda[j + 1][0]))?;
            put(region, row, 9, trace.map(|t| t.lambda[j + 1][1]))?;
            put(region, row, 10, trace.map(|t| t.b[j + 1]))?;
        }
        self.q_final.enable(region, LAST)?;
        put(region, LAST, 0, trace.map(|t| t.acc[BITS][0]))?;
        put(region, LAST, 1, trace.map(|t| t.acc[BITS][1]))?;
        let e = put(region, LAST, 5, trace.map(|t| t.z[BITS]))?;
        put(region, LAST, 2, trace.map(|t| t.lambda_w))?;
        let w = [
            put(region, LAST, 3, trace.map(|t| t.w[0]))?,
            put(region, LAST, 4, trace.map(|t| t.w[1]))?,
        ];
        Ok(SignatureCells { p, e, w })
    }
}

/// Cells other regions connect to.
pub struct SignatureCells {
    /// The key's coordinates.
    pub p: [Cell; 2],
    /// The challenge (the running sum's last value).
    pub e: Cell,
    /// `W = [s]G − [e]P`.
    pub w: [Cell; 2],
}

/// Every witness value of one signature's rows.
#[derive(Clone, Debug)]
pub struct SignatureTrace {
    p: [Fp; 2],
    lambda_d: [Fp; 2],
    d: [Fp; 4],
    /// Accumulator before each step, then after the last.
    acc: Vec<[Fp; 2]>,
    /// Running sum of `e`'s bits before each step, then `e`.
    z: Vec<Fp>,
    lambda: Vec<[Fp; 2]>,
    b: Vec<Fp>,
    /// `e`'s bit at each step.
    c: Vec<Fp>,
    lambda_w: Fp,
    /// The result `W`.
    pub w: [Fp; 2],
}

fn slope(p1: [Fp; 2], p2: [Fp; 2]) -> Fp {
    (p1[1] - p2[1]) * Option::<Fp>::from((p1[0] - p2[0]).invert()).unwrap_or(Fp::ZERO)
}

/// `p1 + p2` by the incomplete formulas, with the slope. Exceptional inputs give a value that
/// fails the gate instead of a panic.
fn add(p1: [Fp; 2], p2: [Fp; 2]) -> ([Fp; 2], Fp) {
    let l = slope(p1, p2);
    let x3 = l.square() - p1[0] - p2[0];
    ([x3, l * (p1[0] - x3) - p1[1]], l)
}

/// Bit `i` of the integer whose little-endian representation is `repr`.
fn bit(repr: &[u8; 32], i: usize) -> bool {
    (repr[i / 8] >> (i % 8)) & 1 == 1
}

/// Bits (least significant first) of `m = (σ + 2^256 − 1)/2`, where `σ` is the odd one of
/// `s` and `s − q`; then `Σ (2·m_i − 1)·2^i = σ ≡ s (mod q)`.
///
/// For odd `s`, `m = 2^255 + (s − 1)/2`; for even `s`, `m = 2^254 + (2^254 − (q + 1 − s)/2)`.
/// Both halves are below `2^254`, so they are exact in `Fq` and the top bit is simply set.
pub fn response_digits(s: Fq) -> [bool; BITS] {
    let half = Fq::from(2).invert().expect("2 is invertible");
    let (low, top) = if bool::from(s.is_odd()) {
        ((s - Fq::ONE) * half, 255)
    } else {
        (Fq::from(2).pow_vartime([254]) - (Fq::ONE - s) * half, 254)
    };
    let repr = low.to_repr();
    std::array::from_fn(|i| i == top || bit(&repr, i))
}

impl SignatureTrace {
    /// The trace for key `p`, response `s` and challenge `e`. For a valid signature `W = R`.
    pub fn new(p: &pallas::Affine, s: Fq, e: Fp) -> Self {
        let g = generator();
        let neg_g = [g[0], -g[1]];
        let pxy = xy(p);
        let neg_p = [pxy[0], -pxy[1]];
        let (d1, la) = add(neg_p, g);
        let (d2, lb) = add(neg_p, neg_g);
        let digits = response_digits(s);
        let e_repr = e.to_repr();
        let (h, c) = offsets();
        let mut acc = vec![xy(h)];
        let mut z = vec![Fp::ZERO];
        let mut lambda = Vec::with_capacity(BITS);
        let mut b = Vec::with_capacity(BITS);
        let mut c_bits = Vec::with_capacity(BITS);
        for j in 0..BITS {
            let i = BITS - 1 - j;
            let (bj, cj) = (digits[i], bit(&e_repr, i));
            let t = match (bj, cj) {
                (true, false) => g,
                (false, false) => neg_g,
                (true, true) => d1,
                (false, true) => d2,
            };
            let a = acc[j];
            let (r, l1) = add(a, t);
            let (next, l2) = add(r, a);
            acc.push(next);
            lambda.push([l1, l2]);
            b.push(Fp::from(u64::from(bj)));
            c_bits.push(Fp::from(u64::from(cj)));
            z.push(z[j].double() + Fp::from(u64::from(cj)));
        }
        let cxy = xy(c);
        let (w, lambda_w) = add(acc[BITS], [cxy[0], -cxy[1]]);
        Self {
            p: pxy,
            lambda_d: [la, lb],
            d: [d1[0], d1[1], d2[0], d2[1]],
            acc,
            z,
            lambda,
            b,
            c: c_bits,
            lambda_w,
            w,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner};
    use halo2_proofs::dev::MockProver;
    use halo2_proofs::plonk::{Circuit, Instance};
    use kaimeng_rollup::SigningKey;
    use kaimeng_rollup::schnorr::{PublicKey, challenge, verify};

    /// The chip alone; its outputs `(W.x, W.y, e, P.x, P.y)` go to the instance column.
    #[derive(Clone)]
    struct ChipCircuit(Option<SignatureTrace>);

    impl Circuit<Fp> for ChipCircuit {
        type Config = (SchnorrConfig, Column<Instance>);
        type FloorPlanner = SimpleFloorPlanner;

        fn without_witnesses(&self) -> Self {
            Self(None)
        }

        fn configure(meta: &mut ConstraintSystem<Fp>) -> Self::Config {
            let advice = [(); 16].map(|_| meta.advice_column());
            for column in advice {
                meta.enable_equality(column);
            }
            let constants = meta.fixed_column();
            meta.enable_constant(constants);
            let instance = meta.instance_column();
            meta.enable_equality(instance);
            (SchnorrConfig::configure(meta, advice), instance)
        }

        fn synthesize(
            &self,
            (chip, instance): Self::Config,
            mut layouter: impl Layouter<Fp>,
        ) -> Result<(), Error> {
            let trace = match &self.0 {
                Some(t) => Value::known(t),
                None => Value::unknown(),
            };
            let cells =
                layouter.assign_region(|| "signature", |mut r| chip.assign(&mut r, trace))?;
            let outputs = [&cells.w[0], &cells.w[1], &cells.e, &cells.p[0], &cells.p[1]];
            for (row, cell) in outputs.into_iter().enumerate() {
                layouter.constrain_instance(cell.cell(), instance, row)?;
            }
            Ok(())
        }
    }

    fn key(i: u8) -> SigningKey {
        let mut bytes = [i; 64];
        bytes[0] = 0x77;
        SigningKey::from_uniform_bytes(&bytes)
    }

    /// A signed message: the key, `R`, the trace, and the public outputs a valid proof has.
    fn signed(i: u8) -> (PublicKey, pallas::Affine, SignatureTrace, Vec<Fp>) {
        let sk = key(i);
        let pk = sk.public_key();
        let message = Fp::from(1_000 + u64::from(i));
        let sig = sk.sign(message);
        assert!(verify(&pk, message, &sig));
        let e = challenge(&pk, sig.r_x(), message);
        let trace = SignatureTrace::new(&pk.point(), sig.s, e);
        let [rx, ry] = xy(&sig.r);
        let [px, py] = xy(&pk.point());
        (pk, sig.r, trace, vec![rx, ry, e, px, py])
    }

    fn satisfied(trace: SignatureTrace, public: Vec<Fp>) -> bool {
        MockProver::run(9, &ChipCircuit(Some(trace)), vec![public])
            .expect("the chip fits in 2^9 rows")
            .verify()
            .is_ok()
    }

    #[test]
    fn digits_represent_the_response_modulo_q() {
        for i in 0..40u64 {
            let s = Fq::from(i) + Fq::from(u64::MAX).pow_vartime([i + 3]);
            let digits = response_digits(s);
            let sigma = digits.iter().rev().fold(Fq::ZERO, |acc, &d| {
                acc.double() + if d { Fq::ONE } else { -Fq::ONE }
            });
            assert_eq!(sigma, s, "response {i}");
        }
        for s in [Fq::ZERO, Fq::ONE, -Fq::ONE, -Fq::from(2)] {
            let sigma = response_digits(s).iter().rev().fold(Fq::ZERO, |acc, &d| {
                acc.double() + if d { Fq::ONE } else { -Fq::ONE }
            });
            assert_eq!(sigma, s);
        }
    }

    #[test]
    fn a_valid_signature_gives_w_equal_to_r_and_satisfies_the_gates() {
        for i in 0..6 {
            let (_, r, trace, public) = signed(i);
            assert_eq!(trace.w, xy(&r), "signature {i}: W = R");
            assert!(satisfied(trace, public), "signature {i}");
        }
    }

    #[test]
    fn a_wrong_response_challenge_or_key_does_not_reach_r() {
        let (pk, _, trace, public) = signed(1);
        // Another response: the gates hold, but W is not R.
        let e = public[2];
        let other = SignatureTrace::new(&pk.point(), Fq::from(12_345), e);
        assert_ne!(other.w, trace.w);
        assert!(!satisfied(other, public.clone()));
        // Another challenge than the one the slot hashed.
        let mut wrong_e = public.clone();
        wrong_e[2] += Fp::ONE;
        assert!(!satisfied(trace.clone(), wrong_e));
        // Another key than the one the slot hashed.
        let mut wrong_key = public.clone();
        wrong_key[3] = xy(&key(9).public_key().point())[0];
        assert!(!satisfied(trace, wrong_key));
    }

    #[test]
    fn every_tampered_cell_breaks_a_gate() {
        let (_, _, trace, public) = signed(2);
        let mut tampered: Vec<(&str, SignatureTrace)> = Vec::new();
        let mut t = trace.clone();
        t.p[1] += Fp::ONE;
        tampered.push(("key off the curve", t));
        let mut t = trace.clone();
        t.d[0] += Fp::ONE;
        tampered.push(("G − P", t));
        let mut t = trace.clone();
        t.lambda[100][0] += Fp::ONE;
        tampered.push(("λ1", t));
        let mut t = trace.clone();
        t.lambda[7][1] += Fp::ONE;
        tampered.push(("λ2", t));
        let mut t = trace.clone();
        t.acc[50][1] = -t.acc[50][1];
        tampered.push(("accumulator", t));
        let mut t = trace.clone();
        t.b[3] = Fp::from(2);
        tampered.push(("digit not a bit", t));
        let mut t = trace.clone();
        // A running sum that steps by 2: its "bit" is not boolean.
        for z in t.z.iter_mut().skip(200) {
            *z += Fp::from(2);
        }
        tampered.push(("challenge bit", t));
        let mut t = trace.clone();
        t.lambda_w += Fp::ONE;
        tampered.push(("final slope", t));
        for (what, t) in tampered {
            assert!(!satisfied(t, public.clone()), "{what} went unnoticed");
        }
    }

    #[test]
    fn the_generator_as_a_key_is_refused_natively_and_cannot_be_proven() {
        let g = pallas::Point::generator().to_affine();
        for p in [g, (-pallas::Point::generator()).to_affine()] {
            let trace = SignatureTrace::new(&p, Fq::ONE, Fp::from(3));
            let [px, py] = xy(&p);
            let public = vec![trace.w[0], trace.w[1], Fp::from(3), px, py];
            assert!(!satisfied(trace, public));
        }
    }
}
