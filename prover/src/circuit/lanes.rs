//! The twin-lane Poseidon chip: two P128Pow5T3 permutations side by side in ten advice
//! columns, 27 rows per permutation.
//!
//! Each lane owns five columns: the state `s0, s1, s2` and two S-box witnesses `x1, x2` (in
//! full-round rows the `x` cells are free and carry gate inputs: absorbed words, Merkle
//! siblings, direction bits). Both lanes share the round constants, so they run in lockstep;
//! what differs per lane is only how a permutation starts:
//!
//! - `fresh`: the input is `(x1, x2, capacity)` (capacity from a fixed column);
//! - `absorb`: the input is `(s0 + x1, s1 + x2, s2)`, continuing the lane's own sponge;
//! - `absorb_cross` (lane 0 only): the same, on lane 1's state;
//! - `merkle`: both lanes `fresh`, with `(x1, x2)` the ordered pair of the lane's previous
//!   output and a shared sibling, swapped by a shared direction bit; the bit also advances a
//!   running index `z_h = 2 z_{h+1} + bit_h` so the path is bound to an account index.
//!
//! The old and new roots of a leaf update are computed in the two lanes, sharing siblings and
//! direction bits, which halves the rows of the update.

use ff::Field;
use halo2_proofs::circuit::{AssignedCell, Region, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Selector,
};
use halo2_proofs::poly::Rotation;
use kaimeng_rollup::Fp;
use kaimeng_rollup::poseidon::{State, capacity_for_length, constants};

use super::poseidon_rows::{
    Affine, BLOCK_ROWS, RowGate, block_rows, p2_forms, p3_forms, row_constants, row_gate,
};

/// The columns of one lane.
#[derive(Clone, Copy, Debug)]
pub struct LaneColumns {
    /// State words.
    pub s: [Column<Advice>; 3],
    /// S-box witnesses / gate inputs.
    pub x: [Column<Advice>; 2],
}

/// Configuration of the twin-lane chip.
#[derive(Clone, Copy, Debug)]
pub struct LanesConfig {
    /// Lane 0 and lane 1.
    pub lanes: [LaneColumns; 2],
    /// Per-row constants.
    pub k: [Column<Fixed>; 5],
    q_full: Selector,
    q_p3: Selector,
    q_p2: Selector,
    q_fresh: [Selector; 2],
    q_absorb: [Selector; 2],
    q_cross: Selector,
    q_swap: Selector,
}

/// `e^5` as `(e^2)^2 · e`: three products (the prover's quotient evaluator has no common
/// subexpressions, so every product and every scaling is a pass over the extended domain).
fn pow5(e: Expression<Fp>) -> Expression<Fp> {
    let e2 = e.clone() * e.clone();
    e2.clone() * e2 * e
}

/// `sum_j v[j] * coefficients[j]`, as scalings (cheaper than products with constants);
/// zero coefficients are skipped.
fn lin(v: &[Expression<Fp>], coefficients: &[Fp]) -> Expression<Fp> {
    v.iter()
        .zip(coefficients)
        .filter(|(_, c)| !bool::from(c.is_zero()))
        .map(|(e, c)| e.clone() * *c)
        .reduce(|a, b| a + b)
        .unwrap_or(Expression::Constant(Fp::ZERO))
}

fn neg(row: &[Fp; 3]) -> [Fp; 3] {
    row.map(|v| -v)
}

impl LanesConfig {
    /// Creates the gates over `advice` (lane 0 = columns 0..5, lane 1 = 5..10) and `k`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fp>,
        advice: [Column<Advice>; 10],
        k: [Column<Fixed>; 5],
    ) -> Self {
        let lanes = [
            LaneColumns {
                s: [advice[0], advice[1], advice[2]],
                x: [advice[3], advice[4]],
            },
            LaneColumns {
                s: [advice[5], advice[6], advice[7]],
                x: [advice[8], advice[9]],
            },
        ];
        let config = Self {
            lanes,
            k,
            // Complex selectors keep their own fixed columns: compressed selectors would be
            // re-evaluated as polynomials in every constraint of these large gates.
            q_full: meta.complex_selector(),
            q_p3: meta.complex_selector(),
            q_p2: meta.complex_selector(),
            q_fresh: [meta.complex_selector(), meta.complex_selector()],
            q_absorb: [meta.complex_selector(), meta.complex_selector()],
            q_cross: meta.complex_selector(),
            q_swap: meta.complex_selector(),
        };
        let m = constants().mds;
        let minv = constants().mds_inv;

        // One full round from an input expression: `M^-1 · next = (input + k)^5`, one S-box
        // per constraint.
        let full_round = |input: [Expression<Fp>; 3],
                          k: &[Expression<Fp>; 3],
                          next: &[Expression<Fp>; 3]|
         -> Vec<Expression<Fp>> {
            (0..3)
                .map(|j| pow5(input[j].clone() + k[j].clone()) + lin(next, &neg(&minv[j])))
                .collect()
        };

        meta.create_gate("poseidon full round", |meta| {
            let q = meta.query_selector(config.q_full);
            let k = [0, 1, 2].map(|i| meta.query_fixed(config.k[i]));
            let mut out = Vec::new();
            for lane in &config.lanes {
                let cur = lane.s.map(|col| meta.query_advice(col, Rotation::cur()));
                let next = lane.s.map(|col| meta.query_advice(col, Rotation::next()));
                out.extend(full_round(cur, &k, &next));
            }
            Constraints::with_selector(q, out)
        });

        for l in 0..2 {
            meta.create_gate("poseidon first round, fresh input", |meta| {
                let q = meta.query_selector(config.q_fresh[l]);
                let k = [0, 1, 2].map(|i| meta.query_fixed(config.k[i]));
                // Lane 0 reads its capacity from k3, lane 1 from k4.
                let capacity = meta.query_fixed(config.k[3 + l]);
                let lane = &config.lanes[l];
                let x = lane.x.map(|col| meta.query_advice(col, Rotation::cur()));
                let next = lane.s.map(|col| meta.query_advice(col, Rotation::next()));
                let input = [x[0].clone(), x[1].clone(), capacity];
                Constraints::with_selector(q, full_round(input, &k, &next))
            });
            meta.create_gate("poseidon first round, absorb", |meta| {
                let q = meta.query_selector(config.q_absorb[l]);
                let k = [0, 1, 2].map(|i| meta.query_fixed(config.k[i]));
                let lane = &config.lanes[l];
                let s = lane.s.map(|col| meta.query_advice(col, Rotation::cur()));
                let x = lane.x.map(|col| meta.query_advice(col, Rotation::cur()));
                let next = lane.s.map(|col| meta.query_advice(col, Rotation::next()));
                let input = [
                    s[0].clone() + x[0].clone(),
                    s[1].clone() + x[1].clone(),
                    s[2].clone(),
                ];
                Constraints::with_selector(q, full_round(input, &k, &next))
            });
        }

        meta.create_gate("poseidon first round, lane 0 absorbs onto lane 1", |meta| {
            let q = meta.query_selector(config.q_cross);
            let k = [0, 1, 2].map(|i| meta.query_fixed(config.k[i]));
            let s1 = config.lanes[1]
                .s
                .map(|col| meta.query_advice(col, Rotation::cur()));
            let x0 = config.lanes[0]
                .x
                .map(|col| meta.query_advice(col, Rotation::cur()));
            let next = config.lanes[0]
                .s
                .map(|col| meta.query_advice(col, Rotation::next()));
            let input = [
                s1[0].clone() + x0[0].clone(),
                s1[1].clone() + x0[1].clone(),
                s1[2].clone(),
            ];
            Constraints::with_selector(q, full_round(input, &k, &next))
        });

        // Partial rounds: the x-cells hold the S-box *inputs* u2, u3 of the row's second and
        // third rounds; the first S-box input is `s0 + k0`. Given the first relation, every
        // later intermediate value is an affine form in (u2, u3, s1, s2) with row-independent
        // coefficients (per-row constants live in k2..k4), so only three S-boxes are computed.
        let zero = [Fp::ZERO; 3];
        let p3 = p3_forms(zero, zero, zero);
        let p2 = p2_forms(zero, zero);
        let form =
            |f: &Affine, u2: &Expression<Fp>, u3: &Expression<Fp>, s: &[Expression<Fp>; 3]| {
                let c = f.coefficients;
                lin(
                    &[u2.clone(), u3.clone(), s[1].clone(), s[2].clone()],
                    &[c[0], c[1], c[2], c[3]],
                )
            };
        meta.create_gate("poseidon three partial rounds", |meta| {
            let q = meta.query_selector(config.q_p3);
            let k = [0, 1, 2, 3, 4].map(|i| meta.query_fixed(config.k[i]));
            let mut out = Vec::new();
            for lane in &config.lanes {
                let s = lane.s.map(|col| meta.query_advice(col, Rotation::cur()));
                let [u2, u3] = lane.x.map(|col| meta.query_advice(col, Rotation::cur()));
                let next = lane.s.map(|col| meta.query_advice(col, Rotation::next()));
                // u2 = M00 (s0 + k0)^5 + M01 s1 + M02 s2 + k1.
                out.push(
                    u2.clone()
                        + pow5(s[0].clone() + k[0].clone()) * -m[0][0]
                        + lin(&[s[1].clone(), s[2].clone()], &[-m[0][1], -m[0][2]])
                        + k[1].clone() * -Fp::ONE,
                );
                // M00 u2^5 = F2.
                out.push(form(&p3[0], &u2, &u3, &s) + k[2].clone() + pow5(u2.clone()) * -m[0][0]);
                // M^-1 next = (u3^5, F4, F5).
                out.push(pow5(u3.clone()) + lin(&next, &neg(&minv[0])));
                out.push(form(&p3[1], &u2, &u3, &s) + k[3].clone() + lin(&next, &neg(&minv[1])));
                out.push(form(&p3[2], &u2, &u3, &s) + k[4].clone() + lin(&next, &neg(&minv[2])));
            }
            Constraints::with_selector(q, out)
        });

        meta.create_gate("poseidon two partial rounds", |meta| {
            let q = meta.query_selector(config.q_p2);
            let k = [0, 1, 2, 3].map(|i| meta.query_fixed(config.k[i]));
            let mut out = Vec::new();
            for lane in &config.lanes {
                let s = lane.s.map(|col| meta.query_advice(col, Rotation::cur()));
                let u2 = meta.query_advice(lane.x[0], Rotation::cur());
                let next = lane.s.map(|col| meta.query_advice(col, Rotation::next()));
                let none = Expression::Constant(Fp::ZERO);
                out.push(
                    u2.clone()
                        + pow5(s[0].clone() + k[0].clone()) * -m[0][0]
                        + lin(&[s[1].clone(), s[2].clone()], &[-m[0][1], -m[0][2]])
                        + k[1].clone() * -Fp::ONE,
                );
                out.push(pow5(u2.clone()) + lin(&next, &neg(&minv[0])));
                out.push(form(&p2[0], &u2, &none, &s) + k[2].clone() + lin(&next, &neg(&minv[1])));
                out.push(form(&p2[1], &u2, &none, &s) + k[3].clone() + lin(&next, &neg(&minv[2])));
            }
            Constraints::with_selector(q, out)
        });

        meta.create_gate("merkle swap and index step", |meta| {
            let q = meta.query_selector(config.q_swap);
            let sibling = meta.query_advice(config.lanes[0].x[0], Rotation::prev());
            let bit = meta.query_advice(config.lanes[0].x[1], Rotation::prev());
            let z_in = meta.query_advice(config.lanes[1].x[0], Rotation::prev());
            let z_out = meta.query_advice(config.lanes[1].x[1], Rotation::prev());
            let mut out = vec![
                bit.clone() * bit.clone() + bit.clone() * -Fp::ONE,
                z_in + z_out * -Fp::from(2) + bit.clone() * -Fp::ONE,
            ];
            for lane in &config.lanes {
                let cur = meta.query_advice(lane.s[0], Rotation::cur());
                let left = meta.query_advice(lane.x[0], Rotation::cur());
                let right = meta.query_advice(lane.x[1], Rotation::cur());
                // left = cur + bit (sibling - cur); right = cur + sibling - left.
                out.push(
                    left.clone()
                        + cur.clone() * -Fp::ONE
                        + bit.clone() * (cur.clone() + sibling.clone() * -Fp::ONE),
                );
                out.push(right + left + (sibling.clone() + cur) * -Fp::ONE);
            }
            Constraints::with_selector(q, out)
        });

        config
    }
}

/// How a lane's permutation starts in a block.
#[derive(Clone, Copy, Debug)]
pub enum Start {
    /// Input `(a, b, capacity)`.
    Fresh {
        /// Absorbed words.
        inputs: [Value<Fp>; 2],
        /// Capacity element (a constant of the hash domain).
        capacity: Fp,
    },
    /// Input `(s0 + a, s1 + b, s2)` over this lane's row-0 state.
    Absorb([Value<Fp>; 2]),
    /// Lane 0 only: input `(s0' + a, s1' + b, s2')` over lane 1's row-0 state.
    AbsorbCross([Value<Fp>; 2]),
}

impl Start {
    /// A fresh start for a constant-length hash of `len` words.
    pub fn fresh(inputs: [Value<Fp>; 2], len: usize) -> Self {
        Start::Fresh {
            inputs,
            capacity: capacity_for_length(len),
        }
    }

    /// A permutation of `(0, 0, 0)` for a lane with nothing to do.
    pub fn idle() -> Self {
        Start::Fresh {
            inputs: [Value::known(Fp::ZERO); 2],
            capacity: Fp::ZERO,
        }
    }
}

/// The cells of one lane's row: its state and its two `x` cells (if assigned).
#[derive(Clone, Debug)]
pub struct LaneRow {
    /// State cells.
    pub s: [AssignedCell<Fp, Fp>; 3],
}

impl LaneRow {
    /// The state values.
    pub fn values(&self) -> Value<State> {
        self.s[0]
            .value()
            .zip(self.s[1].value())
            .zip(self.s[2].value())
            .map(|((a, b), c)| [*a, *b, *c])
    }
}

/// A sibling/direction pair for one Merkle level.
#[derive(Clone, Copy, Debug)]
pub struct MerkleStep {
    /// The sibling at this height.
    pub sibling: Value<Fp>,
    /// Whether the current node is the right child.
    pub bit: Value<bool>,
}

/// The x-cells assigned at row 0 of a block, per lane.
pub type StartCells = [Option<[AssignedCell<Fp, Fp>; 2]>; 2];

/// A Merkle level's output rows and its `(z_in, z_out)` index cells.
pub type LevelOut = ([LaneRow; 2], [AssignedCell<Fp, Fp>; 2]);

/// A Merkle path's root rows and its first and last index cells.
pub type PathOut = ([LaneRow; 2], AssignedCell<Fp, Fp>, AssignedCell<Fp, Fp>);

impl LanesConfig {
    /// Assigns state cells for an explicit row-0 (not produced by a previous block).
    pub fn assign_state(
        &self,
        region: &mut Region<'_, Fp>,
        row: usize,
        lane: usize,
        state: Value<State>,
    ) -> Result<LaneRow, Error> {
        let cols = self.lanes[lane].s;
        let cells = [0, 1, 2]
            .map(|i| region.assign_advice(|| "state", cols[i], row, || state.map(|s| s[i])));
        let [a, b, c] = cells;
        Ok(LaneRow { s: [a?, b?, c?] })
    }

    /// Assigns one block starting at `row`: both lanes permute from their starts, reading the
    /// row-0 states `current` (needed for absorbing starts). Returns the row-27 states and the
    /// input cells assigned at row 0.
    pub fn block(
        &self,
        region: &mut Region<'_, Fp>,
        row: usize,
        current: [Value<State>; 2],
        starts: [Start; 2],
    ) -> Result<([LaneRow; 2], StartCells), Error> {
        let mut inputs = [Value::unknown(); 2];
        let mut start_cells: StartCells = [None, None];
        let mut k34 = [Fp::ZERO; 2];
        for lane in 0..2 {
            let cols = self.lanes[lane];
            let (words, input) = match starts[lane] {
                Start::Fresh {
                    inputs: w,
                    capacity,
                } => {
                    self.q_fresh[lane].enable(region, row)?;
                    k34[lane] = capacity;
                    let input = w[0].zip(w[1]).map(|(a, b)| [a, b, capacity]);
                    (w, input)
                }
                Start::Absorb(w) => {
                    self.q_absorb[lane].enable(region, row)?;
                    let input = current[lane]
                        .zip(w[0])
                        .zip(w[1])
                        .map(|((s, a), b)| [s[0] + a, s[1] + b, s[2]]);
                    (w, input)
                }
                Start::AbsorbCross(w) => {
                    assert_eq!(lane, 0, "only lane 0 absorbs onto the other lane");
                    self.q_cross.enable(region, row)?;
                    let input = current[1]
                        .zip(w[0])
                        .zip(w[1])
                        .map(|((s, a), b)| [s[0] + a, s[1] + b, s[2]]);
                    (w, input)
                }
            };
            let a = region.assign_advice(|| "in a", cols.x[0], row, || words[0])?;
            let b = region.assign_advice(|| "in b", cols.x[1], row, || words[1])?;
            start_cells[lane] = Some([a, b]);
            inputs[lane] = input;
        }
        let first = row_constants(RowGate::Full(0));
        let fixed_row0 = [first[0], first[1], first[2], k34[0], k34[1]];
        for (i, v) in fixed_row0.iter().enumerate() {
            region.assign_fixed(|| "k", self.k[i], row, || Value::known(*v))?;
        }
        let outs = self.rows_after(region, row, inputs)?;
        Ok((outs, start_cells))
    }

    /// Assigns rows `row+1..=row+27` for the given permutation inputs, with their gates.
    fn rows_after(
        &self,
        region: &mut Region<'_, Fp>,
        row: usize,
        inputs: [Value<State>; 2],
    ) -> Result<[LaneRow; 2], Error> {
        let witness = inputs.map(|v| v.map(block_rows));
        for offset in 1..BLOCK_ROWS {
            let gate = row_gate(offset);
            match gate {
                RowGate::Full(_) => self.q_full.enable(region, row + offset)?,
                RowGate::Partial3(_) => self.q_p3.enable(region, row + offset)?,
                RowGate::Partial2(_) => self.q_p2.enable(region, row + offset)?,
            }
            for (i, v) in row_constants(gate).iter().enumerate() {
                region.assign_fixed(|| "k", self.k[i], row + offset, || Value::known(*v))?;
            }
            for (cols, lane_witness) in self.lanes.iter().zip(&witness) {
                let vals = lane_witness.as_ref().map(|w| w[offset - 1]);
                for i in 0..3 {
                    region.assign_advice(
                        || "state",
                        cols.s[i],
                        row + offset,
                        || vals.map(|v| v.state[i]),
                    )?;
                }
                let used = match gate {
                    RowGate::Full(_) => 0,
                    RowGate::Partial3(_) => 2,
                    RowGate::Partial2(_) => 1,
                };
                for i in 0..used {
                    region.assign_advice(
                        || "sbox",
                        cols.x[i],
                        row + offset,
                        || vals.map(|v| v.x[i]),
                    )?;
                }
            }
        }
        let last = row + BLOCK_ROWS;
        let out = |lane: usize| witness[lane].as_ref().map(|w| w[BLOCK_ROWS - 1].state);
        Ok([
            self.assign_state(region, last, 0, out(0))?,
            self.assign_state(region, last, 1, out(1))?,
        ])
    }

    /// One Merkle level at `row`: both lanes hash their row-0 node (`current[lane].s0`) with
    /// the shared sibling. The step's inputs go into the x-cells of `row - 1` (a full-round
    /// row of the previous block). Returns the outputs and the `(z_in, z_out)` index cells.
    pub fn merkle_level(
        &self,
        region: &mut Region<'_, Fp>,
        row: usize,
        current: [Value<State>; 2],
        step: MerkleStep,
        z_in: Value<Fp>,
    ) -> Result<LevelOut, Error> {
        let bit = step.bit.map(|b| if b { Fp::ONE } else { Fp::ZERO });
        let z_out = z_in
            .zip(bit)
            .map(|(z, b)| (z - b) * Fp::from(2).invert().unwrap());
        region.assign_advice(|| "sibling", self.lanes[0].x[0], row - 1, || step.sibling)?;
        region.assign_advice(|| "bit", self.lanes[0].x[1], row - 1, || bit)?;
        let z_in_cell = region.assign_advice(|| "z_in", self.lanes[1].x[0], row - 1, || z_in)?;
        let z_out_cell = region.assign_advice(|| "z_out", self.lanes[1].x[1], row - 1, || z_out)?;
        self.q_swap.enable(region, row)?;
        let starts = current.map(|cur| {
            let pair = cur
                .zip(step.sibling)
                .zip(step.bit)
                .map(|((s, sib), right)| if right { [sib, s[0]] } else { [s[0], sib] });
            Start::fresh([pair.map(|p| p[0]), pair.map(|p| p[1])], 2)
        });
        let (outs, _) = self.block(region, row, current, starts)?;
        Ok((outs, [z_in_cell, z_out_cell]))
    }
}

impl LanesConfig {
    /// A 32-level Merkle path at `row` (whose `row - 1` must be a full-round row): both lanes
    /// climb from their row-0 leaves with shared siblings and direction bits. Returns the root
    /// rows and the first and last running-index cells (`z_0 = index`, `z_32 = 0`).
    pub fn merkle_path(
        &self,
        region: &mut Region<'_, Fp>,
        row: usize,
        leaves: [Value<State>; 2],
        siblings: Value<[Fp; kaimeng_rollup::TREE_DEPTH]>,
        index: Value<u32>,
    ) -> Result<PathOut, Error> {
        let mut current = leaves;
        let mut last_out: Option<[LaneRow; 2]> = None;
        let mut first_z: Option<AssignedCell<Fp, Fp>> = None;
        let mut prev_z: Option<AssignedCell<Fp, Fp>> = None;
        for h in 0..kaimeng_rollup::TREE_DEPTH {
            let step = MerkleStep {
                sibling: siblings.map(|s| s[h]),
                bit: index.map(|i| (i >> h) & 1 == 1),
            };
            let z_in = index.map(|i| Fp::from(u64::from(i >> h)));
            let (outs, [z_in_cell, z_out_cell]) =
                self.merkle_level(region, row + h * BLOCK_ROWS, current, step, z_in)?;
            match &prev_z {
                Some(prev) => region.constrain_equal(prev.cell(), z_in_cell.cell())?,
                None => first_z = Some(z_in_cell),
            }
            prev_z = Some(z_out_cell);
            current = [outs[0].values(), outs[1].values()];
            last_out = Some(outs);
        }
        let (Some(out), Some(first), Some(last)) = (last_out, first_z, prev_z) else {
            unreachable!("the tree has at least one level")
        };
        Ok((out, first, last))
    }
}
