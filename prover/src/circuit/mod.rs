//! The chunk circuit: a fixed number of slots, each proving one L2 operation moved the state
//! root as the native model says, then the chunk's fee credit.
//!
//! Public input (the instance column's one row): the digest of the chunk's claims, old root,
//! new root, data commitment, queue hash before, queue hash after, chain id and fee account
//! ([`crate::witness::PublicInputs::digest`]), computed in a region of its own after the fee
//! credit. One value instead of seven makes each proof's instance commitment, which a verifier
//! recomputes for every proof, a single scalar multiplication.
//!
//! Per slot the twin-lane Poseidon chip ([`lanes`]) lays out, in one region of 1,891 rows:
//!
//! | block | lane 0 | lane 1 |
//! |---|---|---|
//! | M1 | data sponge absorbs `(d0, d1)` | queue fold, first half `(q, w0)` |
//! | M2 | key commitment `H(pk.x, pk.y)` | queue fold, second half `(l1, kc)` |
//! | M3 | signature challenge absorbs `(R.x, m)` | side A leaf, first half `(kc, l1)` |
//! | A2 | side A old leaf `(balance, nonce)` | side A new leaf |
//! | A path | 32 levels, old root | 32 levels, new root |
//! | B1, B2 | side B old leaf | side B new leaf |
//! | B path | 32 levels, old root | 32 levels, new root |
//!
//! The signature chip ([`schnorr`]) computes `W = [s]G − [e]P`, the slot gates
//! ([`slot_rules`]) tie everything together, and the range checks ([`range`]) bound balances,
//! amounts and fees.

pub(crate) mod lanes;
pub(crate) mod poseidon_rows;
mod range;
pub mod schnorr;
pub(crate) mod slot_gate;
pub mod slot_rules;

#[cfg(test)]
mod layout_tests;

use ff::Field;
use halo2_proofs::circuit::{AssignedCell, Layouter, Region, SimpleFloorPlanner, Value};
use halo2_proofs::plonk::{Advice, Circuit, Column, ConstraintSystem, Error, Instance};
use kaimeng_rollup::Fp;
use kaimeng_rollup::poseidon::{State, capacity_for_length};

use crate::witness::{ChunkValues, SideWitness, SlotValues};
use lanes::{LaneRow, LanesConfig, Start};
use schnorr::SchnorrConfig;
use slot_gate::SlotGateConfig;
use slot_rules::{AccountCells, WordCells};

type Cell = AssignedCell<Fp, Fp>;

/// Rows of one slot's Poseidon region.
pub const SLOT_LANE_ROWS: usize = 1 + 70 * lanes_block_rows();

const fn lanes_block_rows() -> usize {
    poseidon_rows::BLOCK_ROWS
}

/// The instance row of the claims' digest.
const DIGEST_ROW: usize = 0;

/// The cells the digest hashes, in [`crate::witness::PublicInputs::digest`]'s order.
struct Claims {
    old_root: Cell,
    new_root: Cell,
    data: Cell,
    queue_before: Cell,
    queue_after: Cell,
    chain_id: Cell,
    fee_account: Cell,
}

/// Column layout and chips of the chunk circuit.
#[derive(Clone, Debug)]
pub struct ChunkCircuitConfig {
    instance: Column<Instance>,
    lanes: LanesConfig,
    slot: SlotGateConfig,
    schnorr: SchnorrConfig,
    range: range::RangeConfig,
}

/// The chunk circuit for a fixed number of slots.
#[derive(Clone, Debug)]
pub struct ChunkCircuit {
    slots: usize,
    values: Option<ChunkValues>,
}

impl ChunkCircuit {
    /// The circuit shape without a witness (for key generation).
    pub fn shape(slots: usize) -> Self {
        Self {
            slots,
            values: None,
        }
    }

    /// A circuit over already-evaluated values. No checks are made here: values that break
    /// the rules give a circuit that does not verify (see [`crate::witness::ChunkWitness::evaluate`]).
    pub fn from_values(slots: usize, values: ChunkValues) -> Self {
        Self {
            slots,
            values: Some(values),
        }
    }

    /// Slots per chunk.
    pub fn slots(&self) -> usize {
        self.slots
    }
}

fn known<T: Copy>(v: Option<T>) -> Value<T> {
    match v {
        Some(v) => Value::known(v),
        None => Value::unknown(),
    }
}

/// Cells of a slot's Poseidon region that other regions connect to.
struct SlotLaneCells {
    data_out: [Cell; 3],
    d: [Cell; 2],
    queue_in_w0: [Cell; 2],
    op: [Cell; 2],
    pk: [Cell; 2],
    q_cand: Cell,
    signer_kc: Cell,
    r_x_message: [Cell; 2],
    a_kc_l1: [Cell; 2],
    e: Cell,
    a_words: [[Cell; 2]; 2],
    a_roots: [Cell; 2],
    a_index: Cell,
    b_kc_l1: [[Cell; 2]; 2],
    b_words: [[Cell; 2]; 2],
    b_roots: [Cell; 2],
    b_index: Cell,
}

struct FeeLaneCells {
    kc: Cell,
    words: [[Cell; 2]; 2],
    roots: [Cell; 2],
    index: Cell,
}

fn x_cells(cells: &lanes::StartCells, lane: usize) -> [Cell; 2] {
    cells[lane]
        .clone()
        .expect("every block assigns both lanes' inputs")
}

fn state_values(rows: &[LaneRow; 2]) -> [Value<State>; 2] {
    [rows[0].values(), rows[1].values()]
}

impl ChunkCircuitConfig {
    /// Lays out one side (leaf halves already in lanes) — the path and its cells.
    fn side_path(
        &self,
        region: &mut Region<'_, Fp>,
        row: usize,
        leaves: &[LaneRow; 2],
        side: Value<&SideWitness>,
    ) -> Result<([Cell; 2], Cell), Error> {
        let (roots, z_first, z_last) = self.lanes.merkle_path(
            region,
            row,
            state_values(leaves),
            side.map(|s| s.siblings),
            side.map(|s| s.index),
        )?;
        region.constrain_constant(z_last.cell(), Fp::ZERO)?;
        Ok(([roots[0].s[0].clone(), roots[1].s[0].clone()], z_first))
    }

    fn slot_lanes(
        &self,
        region: &mut Region<'_, Fp>,
        v: Value<&SlotValues>,
        data_in: Option<&[Cell; 3]>,
        data_capacity: Fp,
    ) -> Result<SlotLaneCells, Error> {
        let b = lanes_block_rows();
        // Explicit first row: the data sponge state carried from the previous slot.
        let data_state = v.map(|v| v.data_state);
        let data_row = self.lanes.assign_state(region, 0, 0, data_state)?;
        match data_in {
            Some(prev) => {
                for (p, c) in prev.iter().zip(data_row.s.iter()) {
                    region.constrain_equal(p.cell(), c.cell())?;
                }
            }
            None => {
                let init = [Fp::ZERO, Fp::ZERO, data_capacity];
                for (c, k) in data_row.s.iter().zip(init) {
                    region.constrain_constant(c.cell(), k)?;
                }
            }
        }
        let w = v.map(|v| &v.words);
        let acc = v.map(|v| &v.accounts);

        let (m1, c1) = self.lanes.block(
            region,
            0,
            [data_state, Value::unknown()],
            [
                Start::Absorb([w.map(|w| w.d0), w.map(|w| w.d1)]),
                Start::fresh([w.map(|w| w.queue[0]), w.map(|w| w.w0)], 4),
            ],
        )?;
        // Evaluated witnesses never hold the identity here; unchecked values that do get zero
        // coordinates, and the proof fails instead of the prover panicking.
        let pk_xy = v.map(|v| coordinates(&v.public_key));
        let (m2, c2) = self.lanes.block(
            region,
            b,
            state_values(&m1),
            [
                Start::fresh([pk_xy.map(|p| p[0]), pk_xy.map(|p| p[1])], 2),
                Start::Absorb([acc.map(|a| a.op_l1), acc.map(|a| a.op_kc)]),
            ],
        )?;
        let r_x = v.map(|v| coordinates(&v.r)[0]);
        let (m3, c3) = self.lanes.block(
            region,
            2 * b,
            state_values(&m2),
            [
                Start::Absorb([r_x, w.map(|w| w.message)]),
                Start::fresh([acc.map(|a| a.a_kc), acc.map(|a| a.a_l1)], 4),
            ],
        )?;
        let (a_leaves, c4) = self.lanes.block(
            region,
            3 * b,
            state_values(&m3),
            [
                Start::AbsorbCross([acc.map(|a| a.a_balance[0]), acc.map(|a| a.a_nonce[0])]),
                Start::Absorb([acc.map(|a| a.a_balance[1]), acc.map(|a| a.a_nonce[1])]),
            ],
        )?;
        let (a_roots, a_index) = self.side_path(region, 4 * b, &a_leaves, v.map(|v| &v.a))?;

        let b1_row = 4 * b + 32 * b;
        let (b_half, c5) = self.lanes.block(
            region,
            b1_row,
            [Value::unknown(), Value::unknown()],
            [
                Start::fresh([acc.map(|a| a.b_kc[0]), acc.map(|a| a.b_l1[0])], 4),
                Start::fresh([acc.map(|a| a.b_kc[1]), acc.map(|a| a.b_l1[1])], 4),
            ],
        )?;
        let (b_leaves, c6) = self.lanes.block(
            region,
            b1_row + b,
            state_values(&b_half),
            [
                Start::Absorb([acc.map(|a| a.b_balance[0]), acc.map(|a| a.b_nonce[0])]),
                Start::Absorb([acc.map(|a| a.b_balance[1]), acc.map(|a| a.b_nonce[1])]),
            ],
        )?;
        let (b_roots, b_index) =
            self.side_path(region, b1_row + 2 * b, &b_leaves, v.map(|v| &v.b))?;

        Ok(SlotLaneCells {
            data_out: m1[0].s.clone(),
            d: x_cells(&c1, 0),
            queue_in_w0: x_cells(&c1, 1),
            pk: x_cells(&c2, 0),
            op: x_cells(&c2, 1),
            q_cand: m2[1].s[0].clone(),
            signer_kc: m2[0].s[0].clone(),
            r_x_message: x_cells(&c3, 0),
            a_kc_l1: x_cells(&c3, 1),
            e: m3[0].s[0].clone(),
            a_words: [x_cells(&c4, 0), x_cells(&c4, 1)],
            a_roots,
            a_index,
            b_kc_l1: [x_cells(&c5, 0), x_cells(&c5, 1)],
            b_words: [x_cells(&c6, 0), x_cells(&c6, 1)],
            b_roots,
            b_index,
        })
    }

    fn fee_lanes(
        &self,
        region: &mut Region<'_, Fp>,
        side: Value<&SideWitness>,
    ) -> Result<FeeLaneCells, Error> {
        let b = lanes_block_rows();
        let (half, c1) = self.lanes.block(
            region,
            0,
            [Value::unknown(), Value::unknown()],
            [
                Start::idle(),
                Start::fresh(
                    [
                        side.map(|s| s.before.key_commitment),
                        side.map(|s| s.before.l1_address),
                    ],
                    4,
                ),
            ],
        )?;
        let (leaves, c2) = self.lanes.block(
            region,
            b,
            state_values(&half),
            [
                Start::AbsorbCross([side.map(|s| s.before.balance), side.map(|s| s.before.nonce)]),
                Start::Absorb([side.map(|s| s.after.balance), side.map(|s| s.after.nonce)]),
            ],
        )?;
        let (roots, index) = self.side_path(region, 2 * b, &leaves, side)?;
        Ok(FeeLaneCells {
            kc: x_cells(&c1, 1)[0].clone(),
            words: [x_cells(&c2, 0), x_cells(&c2, 1)],
            roots,
            index,
        })
    }
}

impl ChunkCircuitConfig {
    /// Hashes the claims into the digest: lane 0 `H4(old root, new root, data, queue before)`
    /// beside lane 1 `H4(queue after, chain id, fee account, 0)`, then `H(lane 0, lane 1)`.
    fn digest(&self, region: &mut Region<'_, Fp>, claims: &Claims) -> Result<Cell, Error> {
        let b = lanes_block_rows();
        let value = |cell: &Cell| cell.value().copied();
        let (first, c1) = self.lanes.block(
            region,
            0,
            [Value::unknown(), Value::unknown()],
            [
                Start::fresh([value(&claims.old_root), value(&claims.new_root)], 4),
                Start::fresh([value(&claims.queue_after), value(&claims.chain_id)], 4),
            ],
        )?;
        let (second, c2) = self.lanes.block(
            region,
            b,
            state_values(&first),
            [
                Start::Absorb([value(&claims.data), value(&claims.queue_before)]),
                Start::Absorb([value(&claims.fee_account), Value::known(Fp::ZERO)]),
            ],
        )?;
        let halves = [second[0].s[0].clone(), second[1].s[0].clone()];
        let (last, c3) = self.lanes.block(
            region,
            2 * b,
            [Value::unknown(), Value::unknown()],
            [
                Start::fresh([value(&halves[0]), value(&halves[1])], 2),
                Start::idle(),
            ],
        )?;
        let [c1_0, c1_1] = [x_cells(&c1, 0), x_cells(&c1, 1)];
        let [c2_0, c2_1] = [x_cells(&c2, 0), x_cells(&c2, 1)];
        let c3_0 = x_cells(&c3, 0);
        let links = [
            (&claims.old_root, &c1_0[0]),
            (&claims.new_root, &c1_0[1]),
            (&claims.queue_after, &c1_1[0]),
            (&claims.chain_id, &c1_1[1]),
            (&claims.data, &c2_0[0]),
            (&claims.queue_before, &c2_0[1]),
            (&claims.fee_account, &c2_1[0]),
            (&halves[0], &c3_0[0]),
            (&halves[1], &c3_0[1]),
        ];
        for (a, b) in links {
            eq(region, a, b)?;
        }
        region.constrain_constant(c2_1[1].cell(), Fp::ZERO)?;
        Ok(last[0].s[0].clone())
    }
}

/// Affine coordinates, `(0, 0)` for the identity.
fn coordinates(p: &pasta_curves::pallas::Affine) -> [Fp; 2] {
    Option::from(pasta_curves::arithmetic::CurveAffine::coordinates(p))
        .map(
            |c: pasta_curves::arithmetic::Coordinates<pasta_curves::pallas::Affine>| {
                [*c.x(), *c.y()]
            },
        )
        .unwrap_or([Fp::ZERO; 2])
}

fn eq(region: &mut Region<'_, Fp>, a: &Cell, b: &Cell) -> Result<(), Error> {
    region.constrain_equal(a.cell(), b.cell())
}

impl Circuit<Fp> for ChunkCircuit {
    type Config = ChunkCircuitConfig;
    type FloorPlanner = SimpleFloorPlanner;

    fn without_witnesses(&self) -> Self {
        Self::shape(self.slots)
    }

    fn configure(meta: &mut ConstraintSystem<Fp>) -> Self::Config {
        let wide: [Column<Advice>; 16] = [(); 16].map(|_| meta.advice_column());
        let advice: [Column<Advice>; 10] = std::array::from_fn(|i| wide[i]);
        for column in wide {
            meta.enable_equality(column);
        }
        let fixed = [(); 9].map(|_| meta.fixed_column());
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        meta.enable_constant(fixed[8]);
        let range = range::RangeConfig::configure(meta, advice);
        let schnorr = SchnorrConfig::configure(meta, wide);
        let lanes = LanesConfig::configure(meta, wide, std::array::from_fn(|i| fixed[i]));
        let slot = SlotGateConfig::configure(meta, advice);
        ChunkCircuitConfig {
            instance,
            lanes,
            slot,
            schnorr,
            range,
        }
    }

    fn synthesize(
        &self,
        config: Self::Config,
        mut layouter: impl Layouter<Fp>,
    ) -> Result<(), Error> {
        let values = self.values.as_ref();
        let data_capacity = capacity_for_length(2 * self.slots);

        let mut data_prev: Option<[Cell; 3]> = None;
        let mut root_prev: Option<Cell> = None;
        let mut queue_prev: Option<Cell> = None;
        let mut fee_prev: Option<Cell> = None;
        // Slot 0's cells among the claims: the old root, the queue hash before, the chain id
        // (every slot's is tied to it).
        let mut first: Option<(Cell, Cell, Cell)> = None;
        for i in 0..self.slots {
            let v: Value<&SlotValues> = match values {
                Some(all) => Value::known(&all.slots[i]),
                None => Value::unknown(),
            };
            let lanes = layouter.assign_region(
                || format!("slot {i} poseidon"),
                |mut region| config.slot_lanes(&mut region, v, data_prev.as_ref(), data_capacity),
            )?;

            let signature = layouter.assign_region(
                || format!("slot {i} signature"),
                |mut region| config.schnorr.assign(&mut region, v.map(|v| &v.signature)),
            )?;

            let (acc, words) = layouter.assign_region(
                || format!("slot {i} rules"),
                |mut region| {
                    let acc =
                        config
                            .slot
                            .assign_accounts(&mut region, 0, v.map(|v| &v.accounts))?;
                    let w = config
                        .slot
                        .assign_words(&mut region, 3, v.map(|v| &v.words))?;
                    Self::connect_slot(&mut region, &acc, &w, &lanes)?;
                    eq(&mut region, &lanes.pk[0], &signature.p[0])?;
                    eq(&mut region, &lanes.pk[1], &signature.p[1])?;
                    eq(&mut region, &lanes.e, &signature.e)?;
                    eq(&mut region, &lanes.r_x_message[0], &w.sig_r[0])?;
                    eq(&mut region, &w.sig_w[0], &signature.w[0])?;
                    eq(&mut region, &w.sig_w[1], &signature.w[1])?;
                    // Links to the previous slot (or the public inputs for the first).
                    if let Some(prev) = &root_prev {
                        eq(&mut region, prev, &lanes.a_roots[0])?;
                    }
                    if let Some(prev) = &queue_prev {
                        eq(&mut region, prev, &w.queue[0])?;
                    }
                    match &fee_prev {
                        Some(prev) => eq(&mut region, prev, &w.fee_total[0])?,
                        None => region.constrain_constant(w.fee_total[0].cell(), Fp::ZERO)?,
                    }
                    if let Some((_, _, chain_id)) = &first {
                        eq(&mut region, chain_id, &w.chain_id)?;
                    }
                    Ok((acc, w))
                },
            )?;
            if first.is_none() {
                first = Some((
                    lanes.a_roots[0].clone(),
                    words.queue[0].clone(),
                    words.chain_id.clone(),
                ));
            }

            let checks = [
                (&acc.a_balance[1], 64, "sender balance"),
                (&acc.b_balance[1], 64, "receiver balance"),
                (
                    &acc.amount_signed,
                    kaimeng_rollup::tx::AMOUNT_BITS,
                    "amount",
                ),
                (&acc.fee, kaimeng_rollup::tx::FEE_BITS, "fee"),
            ];
            for (cell, bits, what) in checks {
                config
                    .range
                    .check_bits(&mut layouter, cell, bits, &format!("slot {i} {what}"))?;
            }

            data_prev = Some(lanes.data_out.clone());
            root_prev = Some(lanes.b_roots[1].clone());
            queue_prev = Some(words.queue[2].clone());
            fee_prev = Some(words.fee_total[1].clone());
        }

        let (
            Some(data_last),
            Some(root_last),
            Some(queue_last),
            Some(fee_last),
            Some((old_root, queue_before, chain_id)),
        ) = (data_prev, root_prev, queue_prev, fee_prev, first)
        else {
            return Err(Error::Synthesis);
        };

        let fee_side = values.map(|v| &v.fee_side);
        let fee_lanes = layouter.assign_region(
            || "fee credit poseidon",
            |mut region| config.fee_lanes(&mut region, known(fee_side).map(|s| s)),
        )?;
        let fee_cells = layouter.assign_region(
            || "fee credit rules",
            |mut region| {
                let f = config
                    .slot
                    .assign_fee(&mut region, 0, known(values.map(|v| &v.fee)))?;
                eq(&mut region, &f.balance[0], &fee_lanes.words[0][0])?;
                eq(&mut region, &f.balance[1], &fee_lanes.words[1][0])?;
                eq(&mut region, &fee_lanes.words[0][1], &fee_lanes.words[1][1])?;
                eq(&mut region, &f.kc, &fee_lanes.kc)?;
                eq(&mut region, &f.total, &fee_last)?;
                eq(&mut region, &fee_lanes.roots[0], &root_last)?;
                Ok(f)
            },
        )?;
        config.range.check_bits(
            &mut layouter,
            &fee_cells.balance[1],
            64,
            "fee account balance",
        )?;
        let claims = Claims {
            old_root,
            new_root: fee_lanes.roots[1].clone(),
            data: data_last[0].clone(),
            queue_before,
            queue_after: queue_last,
            chain_id,
            fee_account: fee_lanes.index.clone(),
        };
        let digest = layouter.assign_region(
            || "claims digest",
            |mut region| config.digest(&mut region, &claims),
        )?;
        layouter.constrain_instance(digest.cell(), config.instance, DIGEST_ROW)?;
        Ok(())
    }
}

impl ChunkCircuit {
    fn connect_slot(
        region: &mut Region<'_, Fp>,
        acc: &AccountCells<Cell>,
        w: &WordCells<Cell>,
        l: &SlotLaneCells,
    ) -> Result<(), Error> {
        // Shared between the two rule blocks.
        let pairs = [
            (&acc.flags.transfer, &w.flags.transfer),
            (&acc.flags.withdraw, &w.flags.withdraw),
            (&acc.flags.deposit, &w.flags.deposit),
            (&acc.flags.forced_exit, &w.flags.forced_exit),
            (&acc.amount, &w.amount),
            (&acc.fee, &w.fee),
            (&acc.a_index, &w.a_index),
            (&acc.b_index, &w.b_index),
            (&acc.a_nonce[0], &w.a_nonce),
            (&acc.a_l1, &w.a_l1),
            (&acc.op_l1, &w.op_l1),
            // Account block to the Poseidon region.
            (&acc.a_kc, &l.a_kc_l1[0]),
            (&acc.a_l1, &l.a_kc_l1[1]),
            (&acc.a_balance[0], &l.a_words[0][0]),
            (&acc.a_nonce[0], &l.a_words[0][1]),
            (&acc.a_balance[1], &l.a_words[1][0]),
            (&acc.a_nonce[1], &l.a_words[1][1]),
            (&acc.b_kc[0], &l.b_kc_l1[0][0]),
            (&acc.b_l1[0], &l.b_kc_l1[0][1]),
            (&acc.b_kc[1], &l.b_kc_l1[1][0]),
            (&acc.b_l1[1], &l.b_kc_l1[1][1]),
            (&acc.b_balance[0], &l.b_words[0][0]),
            (&acc.b_nonce[0], &l.b_words[0][1]),
            (&acc.b_balance[1], &l.b_words[1][0]),
            (&acc.b_nonce[1], &l.b_words[1][1]),
            (&acc.op_l1, &l.op[0]),
            (&acc.op_kc, &l.op[1]),
            (&acc.signer_kc, &l.signer_kc),
            (&acc.a_index, &l.a_index),
            (&acc.b_index, &l.b_index),
            // Word block to the Poseidon region.
            (&w.d0, &l.d[0]),
            (&w.d1, &l.d[1]),
            (&w.queue[0], &l.queue_in_w0[0]),
            (&w.w0, &l.queue_in_w0[1]),
            (&w.queue[1], &l.q_cand),
            (&w.message, &l.r_x_message[1]),
            // Side B starts from side A's new root.
            (&l.a_roots[1], &l.b_roots[0]),
        ];
        for (a, b) in pairs {
            eq(region, a, b)?;
        }
        Ok(())
    }
}
