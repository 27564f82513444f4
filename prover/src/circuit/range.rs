//! Range checks on cells by bit decomposition, without a lookup argument (ADR 0112): a value
//! below `2^bits` is laid out nine bits per row (columns 0..=8) beside its running sum
//! (column 9). A lookup would cost the prover three more commitments per proof.
//!
//! Row `r` holds bits `9r..9r+8` and `z_r`, with `z_0` the value and
//! `z_r = Σ_i b_i·2^i + 2^9·z_{r+1}`; the last row has no `z_{r+1}`, so the value has at most
//! `9·rows` bits, and the bits above `bits` are tied to zero. Each check has its own named
//! region, so a failure says which value was out of range.

use ff::{Field, PrimeField};
use halo2_proofs::circuit::{AssignedCell, Layouter, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Constraints, Error, Expression, Selector,
};
use halo2_proofs::poly::Rotation;
use kaimeng_rollup::Fp;

/// Bits per row.
const ROW_BITS: usize = 9;

/// Columns and selectors of the range check.
#[derive(Clone, Copy, Debug)]
pub struct RangeConfig {
    advice: [Column<Advice>; 10],
    q_bits: Selector,
    q_step: Selector,
    q_last: Selector,
}

fn shift_inverse() -> Fp {
    Fp::from(1u64 << ROW_BITS)
        .invert()
        .expect("2^9 is not zero")
}

/// Rows a check of `bits` bits takes.
pub const fn rows(bits: usize) -> usize {
    bits.div_ceil(ROW_BITS)
}

impl RangeConfig {
    /// Configures the gates on the circuit's ten advice columns (equality enabled).
    pub fn configure(meta: &mut ConstraintSystem<Fp>, advice: [Column<Advice>; 10]) -> Self {
        let config = Self {
            advice,
            q_bits: meta.complex_selector(),
            q_step: meta.complex_selector(),
            q_last: meta.complex_selector(),
        };
        let word = |meta: &mut halo2_proofs::plonk::VirtualCells<'_, Fp>| {
            (0..ROW_BITS).fold(Expression::Constant(Fp::ZERO), |acc, i| {
                let b = meta.query_advice(advice[i], Rotation::cur());
                if i == 0 {
                    b
                } else {
                    acc + b * Fp::from(1u64 << i)
                }
            })
        };
        meta.create_gate("range: bits", |meta| {
            let q = meta.query_selector(config.q_bits);
            let out: Vec<_> = (0..ROW_BITS)
                .map(|i| {
                    let b = meta.query_advice(advice[i], Rotation::cur());
                    b.clone() * b.clone() - b
                })
                .collect();
            Constraints::with_selector(q, out)
        });
        meta.create_gate("range: running sum", |meta| {
            let q = meta.query_selector(config.q_step);
            let z = meta.query_advice(advice[9], Rotation::cur());
            let z_next = meta.query_advice(advice[9], Rotation::next());
            let w = word(meta);
            Constraints::with_selector(q, [z - w - z_next * Fp::from(1u64 << ROW_BITS)])
        });
        meta.create_gate("range: last word", |meta| {
            let q = meta.query_selector(config.q_last);
            let z = meta.query_advice(advice[9], Rotation::cur());
            let w = word(meta);
            Constraints::with_selector(q, [z - w])
        });
        config
    }

    /// Constrains `cell < 2^bits` (`bits` at most 252).
    pub fn check_bits(
        &self,
        layouter: &mut impl Layouter<Fp>,
        cell: &AssignedCell<Fp, Fp>,
        bits: usize,
        what: &str,
    ) -> Result<(), Error> {
        let n = rows(bits);
        layouter.assign_region(
            || format!("range: {what} < 2^{bits}"),
            |mut region| {
                let repr = cell.value().map(|v| v.to_repr());
                let bit = |i: usize| repr.map(|r| Fp::from(u64::from((r[i / 8] >> (i % 8)) & 1)));
                let mut z = cell.value().copied();
                for row in 0..n {
                    self.q_bits.enable(&mut region, row)?;
                    if row + 1 < n {
                        self.q_step.enable(&mut region, row)?;
                    } else {
                        self.q_last.enable(&mut region, row)?;
                    }
                    if row == 0 {
                        cell.copy_advice(|| "z_0", &mut region, self.advice[9], 0)?;
                    } else {
                        region.assign_advice(|| "z", self.advice[9], row, || z)?;
                    }
                    let mut w = Value::known(Fp::ZERO);
                    for i in 0..ROW_BITS {
                        let index = row * ROW_BITS + i;
                        let b = if index < bits {
                            bit(index)
                        } else {
                            Value::known(Fp::ZERO)
                        };
                        if index < bits {
                            region.assign_advice(|| "bit", self.advice[i], row, || b)?;
                        } else {
                            // Above the bound: zero, so a larger value cannot be decomposed.
                            region.assign_advice_from_constant(
                                || "zero bit",
                                self.advice[i],
                                row,
                                Fp::ZERO,
                            )?;
                        }
                        w = w + b.map(|b| b * Fp::from(1u64 << i));
                    }
                    z = (z - w).map(|d| d * shift_inverse());
                }
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::circuit::SimpleFloorPlanner;
    use halo2_proofs::dev::MockProver;
    use halo2_proofs::plonk::Circuit;

    /// One value, checked against `BITS`.
    #[derive(Clone)]
    struct Check<const BITS: usize>(Fp);

    impl<const BITS: usize> Circuit<Fp> for Check<BITS> {
        type Config = RangeConfig;
        type FloorPlanner = SimpleFloorPlanner;

        fn without_witnesses(&self) -> Self {
            Self(Fp::ZERO)
        }

        fn configure(meta: &mut ConstraintSystem<Fp>) -> RangeConfig {
            let advice = [(); 10].map(|_| meta.advice_column());
            for column in advice {
                meta.enable_equality(column);
            }
            let constants = meta.fixed_column();
            meta.enable_constant(constants);
            RangeConfig::configure(meta, advice)
        }

        fn synthesize(
            &self,
            config: RangeConfig,
            mut layouter: impl Layouter<Fp>,
        ) -> Result<(), Error> {
            let cell = layouter.assign_region(
                || "value",
                |mut region| {
                    region.assign_advice(|| "v", config.advice[0], 0, || Value::known(self.0))
                },
            )?;
            config.check_bits(&mut layouter, &cell, BITS, "v")
        }
    }

    fn holds<const BITS: usize>(v: Fp) -> bool {
        MockProver::run(8, &Check::<BITS>(v), vec![])
            .expect("fits")
            .verify()
            .is_ok()
    }

    fn pow2(n: usize) -> Fp {
        Fp::from(2).pow_vartime([n as u64])
    }

    #[test]
    fn values_below_the_bound_pass_and_the_bound_itself_fails() {
        assert!(holds::<16>(Fp::ZERO));
        assert!(holds::<16>(pow2(16) - Fp::ONE));
        assert!(!holds::<16>(pow2(16)));
        assert!(holds::<40>(pow2(40) - Fp::ONE));
        assert!(!holds::<40>(pow2(40)));
        assert!(holds::<64>(pow2(64) - Fp::ONE));
        assert!(holds::<64>(pow2(63) + Fp::from(12_345)));
        assert!(!holds::<64>(pow2(64)));
        // A field element that wraps around (p − 1) is far out of range.
        assert!(!holds::<64>(-Fp::ONE));
        assert!(!holds::<16>(-Fp::ONE));
    }
}
