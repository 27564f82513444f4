//! The twin-lane Poseidon chip: two P128Pow5T3 permutations side by side in sixteen advice
//! columns, 14 rows per permutation (ADR 0113).
//!
//! Each lane owns eight columns: the state `s0, s1, s2` and five witnesses `x0..x4` (the
//! state between a full row's two rounds in `x2..x4`, or a partial row's S-box inputs; `x0, x1`
//! of a full row are free and carry gate inputs: absorbed words, Merkle siblings, direction
//! bits). Both lanes share the round constants, so they run in lockstep; what differs per lane
//! is only how a permutation starts:
//!
//! - `fresh`: the input is `(x0, x1, capacity)` (capacity from a fixed column);
//! - `absorb`: the input is `(s0 + x0, s1 + x1, s2)`, continuing the lane's own sponge;
//! - `absorb_cross` (lane 0 only): the same, on lane 1's state;
//! - `merkle`: both lanes `fresh`, with `(x0, x1)` the ordered pair of the lane's previous
//!   output and a shared sibling, swapped by a shared direction bit; the bit also advances a
//!   running index `z_h = 2 z_{h+1} + bit_h` so the path is bound to an account index.
//!
//! The old and new roots of a leaf update are computed in the two lanes, sharing siblings and
//! direction bits, which halves the rows of the update.

use ff::Field;
use halo2_proofs::circuit::{AssignedCell, Region, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Constraints, Error, Expression, Fixed, Selector, VirtualCells,
};
use halo2_proofs::poly::Rotation;
use kaimeng_rollup::Fp;
use kaimeng_rollup::poseidon::{State, capacity_for_length, constants};

use super::poseidon_rows::{
    BLOCK_ROWS, LONG, RowGate, S1, S2, SHORT, VARS, block_rows, partial_forms, row_constants,
    row_gate, u,
};

/// The columns of one lane.
#[derive(Clone, Copy, Debug)]
pub struct LaneColumns {
    /// State words.
    pub s: [Column<Advice>; 3],
    /// Witnesses / gate inputs.
    pub x: [Column<Advice>; 5],
}

/// Configuration of the twin-lane chip.
#[derive(Clone, Copy, Debug)]
pub struct LanesConfig {
    /// Lane 0 and lane 1.
    pub lanes: [LaneColumns; 2],
    /// Per-row constants.
    pub k: [Column<Fixed>; 8],
    q_first: Selector,
    q_second: Selector,
    q_long: Selector,
    q_short: Selector,
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

/// One full round from an input expression to `out`: `M^-1 · out = (input + k)^5`, one S-box
/// per constraint.
fn full_round(
    input: &[Expression<Fp>; 3],
    k: &[Expression<Fp>; 3],
    out: &[Expression<Fp>; 3],
) -> Vec<Expression<Fp>> {
    let minv = constants().mds_inv;
    (0..3)
        .map(|j| pow5(input[j].clone() + k[j].clone()) + lin(out, &neg(&minv[j])))
        .collect()
}

impl LanesConfig {
    fn state(
        &self,
        meta: &mut VirtualCells<'_, Fp>,
        lane: usize,
        at: Rotation,
    ) -> [Expression<Fp>; 3] {
        self.lanes[lane].s.map(|c| meta.query_advice(c, at))
    }

    /// The first `n` x-cells of the current row (only those a gate uses are queried, so an
    /// unassigned cell is never read).
    fn xs(&self, meta: &mut VirtualCells<'_, Fp>, lane: usize, n: usize) -> Vec<Expression<Fp>> {
        (0..n)
            .map(|i| meta.query_advice(self.lanes[lane].x[i], Rotation::cur()))
            .collect()
    }

    /// The state between a full row's two rounds.
    fn mid_of(&self, meta: &mut VirtualCells<'_, Fp>, lane: usize) -> [Expression<Fp>; 3] {
        [2, 3, 4].map(|i| meta.query_advice(self.lanes[lane].x[i], Rotation::cur()))
    }

    /// Creates the gates over `advice` (lane 0 = columns 0..8, lane 1 = 8..16) and `k`.
    pub fn configure(
        meta: &mut ConstraintSystem<Fp>,
        advice: [Column<Advice>; 16],
        k: [Column<Fixed>; 8],
    ) -> Self {
        let lane = |o: usize| LaneColumns {
            s: [advice[o], advice[o + 1], advice[o + 2]],
            x: [
                advice[o + 3],
                advice[o + 4],
                advice[o + 5],
                advice[o + 6],
                advice[o + 7],
            ],
        };
        let config = Self {
            lanes: [lane(0), lane(8)],
            k,
            // Complex selectors keep their own fixed columns: compressed selectors would be
            // re-evaluated as polynomials in every constraint of these large gates.
            q_first: meta.complex_selector(),
            q_second: meta.complex_selector(),
            q_long: meta.complex_selector(),
            q_short: meta.complex_selector(),
            q_fresh: [meta.complex_selector(), meta.complex_selector()],
            q_absorb: [meta.complex_selector(), meta.complex_selector()],
            q_cross: meta.complex_selector(),
            q_swap: meta.complex_selector(),
        };
        let m = constants().mds;
        let minv = constants().mds_inv;
        let k_of = |meta: &mut VirtualCells<'_, Fp>, range: std::ops::Range<usize>| {
            range
                .map(|i| meta.query_fixed(config.k[i]))
                .collect::<Vec<_>>()
        };
        let three = |v: Vec<Expression<Fp>>| -> [Expression<Fp>; 3] {
            [v[0].clone(), v[1].clone(), v[2].clone()]
        };

        // A full row's first round, from its own state (rows 1, 12, 13).
        meta.create_gate("poseidon first full round", |meta| {
            let q = meta.query_selector(config.q_first);
            let k = three(k_of(meta, 0..3));
            let mut out = Vec::new();
            for l in 0..2 {
                let s = config.state(meta, l, Rotation::cur());
                let mid = config.mid_of(meta, l);
                out.extend(full_round(&s, &k, &mid));
            }
            Constraints::with_selector(q, out)
        });
        // Every full row's second round, from `mid` to the next row.
        meta.create_gate("poseidon second full round", |meta| {
            let q = meta.query_selector(config.q_second);
            let k = three(k_of(meta, 3..6));
            let mut out = Vec::new();
            for l in 0..2 {
                let mid = config.mid_of(meta, l);
                let next = config.state(meta, l, Rotation::next());
                out.extend(full_round(&mid, &k, &next));
            }
            Constraints::with_selector(q, out)
        });

        // Row 0's first round, from the block's input.
        for l in 0..2 {
            meta.create_gate("poseidon first round, fresh input", |meta| {
                let q = meta.query_selector(config.q_fresh[l]);
                let k = three(k_of(meta, 0..3));
                // Lane 0 reads its capacity from k6, lane 1 from k7.
                let capacity = meta.query_fixed(config.k[6 + l]);
                let x = config.xs(meta, l, 2);
                let mid = config.mid_of(meta, l);
                let input = [x[0].clone(), x[1].clone(), capacity];
                Constraints::with_selector(q, full_round(&input, &k, &mid))
            });
            meta.create_gate("poseidon first round, absorb", |meta| {
                let q = meta.query_selector(config.q_absorb[l]);
                let k = three(k_of(meta, 0..3));
                let s = config.state(meta, l, Rotation::cur());
                let x = config.xs(meta, l, 2);
                let mid = config.mid_of(meta, l);
                let input = [
                    s[0].clone() + x[0].clone(),
                    s[1].clone() + x[1].clone(),
                    s[2].clone(),
                ];
                Constraints::with_selector(q, full_round(&input, &k, &mid))
            });
        }
        meta.create_gate("poseidon first round, lane 0 absorbs onto lane 1", |meta| {
            let q = meta.query_selector(config.q_cross);
            let k = three(k_of(meta, 0..3));
            let s1 = config.state(meta, 1, Rotation::cur());
            let x0 = config.xs(meta, 0, 2);
            let mid = config.mid_of(meta, 0);
            let input = [
                s1[0].clone() + x0[0].clone(),
                s1[1].clone() + x0[1].clone(),
                s1[2].clone(),
            ];
            Constraints::with_selector(q, full_round(&input, &k, &mid))
        });

        // Partial rows: the x-cells hold the S-box inputs u_2..u_n of the row's later rounds;
        // the first S-box input is `s0 + k0`. Every intermediate value is an affine form in
        // (u_2..u_n, s1, s2) with row-independent coefficients (per-row constants live in
        // k1..k7), so only one S-box per round is computed.
        let partial = |meta: &mut VirtualCells<'_, Fp>, n: usize| {
            let forms = partial_forms(0, n, true);
            let k = k_of(meta, 0..n + 2);
            let mut out = Vec::new();
            for l in 0..2 {
                let s = config.state(meta, l, Rotation::cur());
                let x = config.xs(meta, l, n - 1);
                let next = config.state(meta, l, Rotation::next());
                let mut vars: Vec<Expression<Fp>> = vec![Expression::Constant(Fp::ZERO); VARS];
                for step in 2..=n {
                    vars[u(step)] = x[step - 2].clone();
                }
                vars[S1] = s[1].clone();
                vars[S2] = s[2].clone();
                let form = |i: usize| lin(&vars, &forms[i].coefficients) + k[2 + i].clone();
                // u2 = M00 (s0 + k0)^5 + M01 s1 + M02 s2 + k1.
                out.push(
                    x[0].clone()
                        + pow5(s[0].clone() + k[0].clone()) * -m[0][0]
                        + lin(&[s[1].clone(), s[2].clone()], &[-m[0][1], -m[0][2]])
                        + k[1].clone() * -Fp::ONE,
                );
                // M00 u_step^5 = F_step.
                for step in 2..n {
                    out.push(form(step - 2) + pow5(x[step - 2].clone()) * -m[0][0]);
                }
                // M^-1 next = (u_n^5, P0, P1).
                out.push(pow5(x[n - 2].clone()) + lin(&next, &neg(&minv[0])));
                out.push(form(n - 2) + lin(&next, &neg(&minv[1])));
                out.push(form(n - 1) + lin(&next, &neg(&minv[2])));
            }
            out
        };
        meta.create_gate("poseidon six partial rounds", |meta| {
            let q = meta.query_selector(config.q_long);
            Constraints::with_selector(q, partial(meta, LONG))
        });
        meta.create_gate("poseidon two partial rounds", |meta| {
            let q = meta.query_selector(config.q_short);
            Constraints::with_selector(q, partial(meta, SHORT))
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
    /// row-0 states `current` (needed for absorbing starts). Returns the row-14 states and the
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
        let mut capacities = [Fp::ZERO; 2];
        for lane in 0..2 {
            let cols = self.lanes[lane];
            let (words, input) = match starts[lane] {
                Start::Fresh {
                    inputs: w,
                    capacity,
                } => {
                    self.q_fresh[lane].enable(region, row)?;
                    capacities[lane] = capacity;
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
        self.q_second.enable(region, row)?;
        let mut fixed_row0 = row_constants(RowGate::Full2(0));
        fixed_row0[6] = capacities[0];
        fixed_row0[7] = capacities[1];
        for (i, v) in fixed_row0.iter().enumerate() {
            region.assign_fixed(|| "k", self.k[i], row, || Value::known(*v))?;
        }
        let outs = self.rows_after(region, row, inputs)?;
        Ok((outs, start_cells))
    }

    /// Assigns row 0's `mid` cells and rows `row+1..=row+14` for the given permutation inputs,
    /// with their gates.
    fn rows_after(
        &self,
        region: &mut Region<'_, Fp>,
        row: usize,
        inputs: [Value<State>; 2],
    ) -> Result<[LaneRow; 2], Error> {
        let witness = inputs.map(|v| v.map(block_rows));
        for (cols, lane_witness) in self.lanes.iter().zip(&witness) {
            for i in 0..3 {
                let mid = lane_witness.as_ref().map(|(mid, _)| mid[i]);
                region.assign_advice(|| "mid", cols.x[2 + i], row, || mid)?;
            }
        }
        for offset in 1..BLOCK_ROWS {
            let gate = row_gate(offset);
            let x_cells = match gate {
                RowGate::Full2(_) => {
                    self.q_first.enable(region, row + offset)?;
                    self.q_second.enable(region, row + offset)?;
                    2..5
                }
                RowGate::Partial { n, .. } => {
                    if n == LONG {
                        self.q_long.enable(region, row + offset)?;
                    } else {
                        self.q_short.enable(region, row + offset)?;
                    }
                    0..n - 1
                }
            };
            for (i, v) in row_constants(gate).iter().enumerate() {
                region.assign_fixed(|| "k", self.k[i], row + offset, || Value::known(*v))?;
            }
            for (cols, lane_witness) in self.lanes.iter().zip(&witness) {
                let vals = lane_witness.as_ref().map(|(_, rows)| rows[offset - 1]);
                for i in 0..3 {
                    region.assign_advice(
                        || "state",
                        cols.s[i],
                        row + offset,
                        || vals.map(|v| v.state[i]),
                    )?;
                }
                for i in x_cells.clone() {
                    region.assign_advice(
                        || "x",
                        cols.x[i],
                        row + offset,
                        || vals.map(|v| v.x[i]),
                    )?;
                }
            }
        }
        let last = row + BLOCK_ROWS;
        let out = |lane: usize| {
            witness[lane]
                .as_ref()
                .map(|(_, rows)| rows[BLOCK_ROWS - 1].state)
        };
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
