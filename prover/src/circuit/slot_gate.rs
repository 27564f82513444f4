//! The slot gates: the rules of [`super::slot_rules`] as halo2 custom gates over 3x10 cell
//! blocks (rotations -1, 0, +1 around the block's middle row), and their assignment.

use ff::Field;
use halo2_proofs::circuit::{AssignedCell, Region, Value};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Constraints, Error, Expression, Selector,
};
use halo2_proofs::poly::Rotation;
use kaimeng_rollup::Fp;

use super::slot_rules::{
    AccountCells, FeeCells, Flags, WordCells, account_rules, fee_rules, word_rules,
};

/// Selectors of the slot gates.
#[derive(Clone, Copy, Debug)]
pub struct SlotGateConfig {
    advice: [Column<Advice>; 10],
    q_accounts: Selector,
    q_words: Selector,
    q_fee: Selector,
}

/// Position of cell `i` of a block: (row offset from the block start, column).
fn position(i: usize) -> (usize, usize) {
    (i / 10, i % 10)
}

/// Flattening order of the account block.
fn account_list<T: Clone>(v: &AccountCells<T>) -> Vec<T> {
    let f = &v.flags;
    vec![
        f.transfer.clone(),
        f.withdraw.clone(),
        f.deposit.clone(),
        f.forced_exit.clone(),
        v.amount.clone(),
        v.fee.clone(),
        v.a_index.clone(),
        v.b_index.clone(),
        v.amount_signed.clone(),
        v.op_l1.clone(),
        v.a_kc.clone(),
        v.a_l1.clone(),
        v.a_balance[0].clone(),
        v.a_nonce[0].clone(),
        v.a_balance[1].clone(),
        v.a_nonce[1].clone(),
        v.b_kc[0].clone(),
        v.b_l1[0].clone(),
        v.b_balance[0].clone(),
        v.b_nonce[0].clone(),
        v.b_kc[1].clone(),
        v.b_l1[1].clone(),
        v.b_balance[1].clone(),
        v.b_nonce[1].clone(),
        v.op_kc.clone(),
        v.empty.clone(),
        v.b_kc_inv.clone(),
        v.l1_match.clone(),
        v.l1_diff_inv.clone(),
        v.signer_kc.clone(),
    ]
}

fn account_from<T: Clone>(c: &[T]) -> AccountCells<T> {
    AccountCells {
        flags: Flags {
            transfer: c[0].clone(),
            withdraw: c[1].clone(),
            deposit: c[2].clone(),
            forced_exit: c[3].clone(),
        },
        amount: c[4].clone(),
        fee: c[5].clone(),
        a_index: c[6].clone(),
        b_index: c[7].clone(),
        amount_signed: c[8].clone(),
        op_l1: c[9].clone(),
        a_kc: c[10].clone(),
        a_l1: c[11].clone(),
        a_balance: [c[12].clone(), c[14].clone()],
        a_nonce: [c[13].clone(), c[15].clone()],
        b_kc: [c[16].clone(), c[20].clone()],
        b_l1: [c[17].clone(), c[21].clone()],
        b_balance: [c[18].clone(), c[22].clone()],
        b_nonce: [c[19].clone(), c[23].clone()],
        op_kc: c[24].clone(),
        empty: c[25].clone(),
        b_kc_inv: c[26].clone(),
        l1_match: c[27].clone(),
        l1_diff_inv: c[28].clone(),
        signer_kc: c[29].clone(),
    }
}

/// Flattening order of the word block (26 cells used).
fn word_list<T: Clone>(v: &WordCells<T>) -> Vec<T> {
    let f = &v.flags;
    vec![
        f.transfer.clone(),
        f.withdraw.clone(),
        f.deposit.clone(),
        f.forced_exit.clone(),
        v.amount.clone(),
        v.fee.clone(),
        v.a_index.clone(),
        v.b_index.clone(),
        v.chain_id.clone(),
        v.a_nonce.clone(),
        v.a_l1.clone(),
        v.op_l1.clone(),
        v.d0.clone(),
        v.d1.clone(),
        v.message.clone(),
        v.w0.clone(),
        v.queue[0].clone(),
        v.queue[1].clone(),
        v.queue[2].clone(),
        v.fee_total[0].clone(),
        v.fee_total[1].clone(),
        v.sig_w[0].clone(),
        v.sig_w[1].clone(),
        v.sig_r[0].clone(),
        v.sig_r[1].clone(),
    ]
}

fn word_from<T: Clone>(c: &[T]) -> WordCells<T> {
    WordCells {
        flags: Flags {
            transfer: c[0].clone(),
            withdraw: c[1].clone(),
            deposit: c[2].clone(),
            forced_exit: c[3].clone(),
        },
        amount: c[4].clone(),
        fee: c[5].clone(),
        a_index: c[6].clone(),
        b_index: c[7].clone(),
        chain_id: c[8].clone(),
        a_nonce: c[9].clone(),
        a_l1: c[10].clone(),
        op_l1: c[11].clone(),
        d0: c[12].clone(),
        d1: c[13].clone(),
        message: c[14].clone(),
        w0: c[15].clone(),
        queue: [c[16].clone(), c[17].clone(), c[18].clone()],
        fee_total: [c[19].clone(), c[20].clone()],
        sig_w: [c[21].clone(), c[22].clone()],
        sig_r: [c[23].clone(), c[24].clone()],
    }
}

fn fee_list<T: Clone>(v: &FeeCells<T>) -> Vec<T> {
    vec![
        v.balance[0].clone(),
        v.balance[1].clone(),
        v.total.clone(),
        v.kc.clone(),
        v.kc_inv.clone(),
    ]
}

fn fee_from<T: Clone>(c: &[T]) -> FeeCells<T> {
    FeeCells {
        balance: [c[0].clone(), c[1].clone()],
        total: c[2].clone(),
        kc: c[3].clone(),
        kc_inv: c[4].clone(),
    }
}

/// Number of cells of each block kind.
pub const ACCOUNT_CELLS: usize = 30;
/// Number of cells of the word block.
pub const WORD_CELLS: usize = 25;
/// Number of cells of the fee block.
pub const FEE_CELLS: usize = 5;

impl SlotGateConfig {
    /// Creates the three gates over `advice`.
    pub fn configure(meta: &mut ConstraintSystem<Fp>, advice: [Column<Advice>; 10]) -> Self {
        let config = Self {
            advice,
            // Complex selectors: not compressed, so not re-evaluated as polynomials in every
            // constraint of these many-constraint gates.
            q_accounts: meta.complex_selector(),
            q_words: meta.complex_selector(),
            q_fee: meta.selector(),
        };
        // Cells are queried relative to the block's middle row.
        let query = |meta: &mut halo2_proofs::plonk::VirtualCells<'_, Fp>, n: usize| {
            (0..n)
                .map(|i| {
                    let (row, col) = position(i);
                    meta.query_advice(advice[col], Rotation(row as i32 - 1))
                })
                .collect::<Vec<Expression<Fp>>>()
        };
        meta.create_gate("slot accounts", |meta| {
            let q = meta.query_selector(config.q_accounts);
            let cells = account_from(&query(meta, ACCOUNT_CELLS));
            Constraints::with_selector(q, account_rules(&cells, Expression::Constant))
        });
        meta.create_gate("slot words", |meta| {
            let q = meta.query_selector(config.q_words);
            let cells = word_from(&query(meta, WORD_CELLS));
            Constraints::with_selector(q, word_rules(&cells))
        });
        meta.create_gate("fee credit", |meta| {
            let q = meta.query_selector(config.q_fee);
            let cells = fee_from(&query(meta, FEE_CELLS));
            Constraints::with_selector(q, fee_rules(&cells, Expression::Constant))
        });
        config
    }

    fn assign_block(
        &self,
        region: &mut Region<'_, Fp>,
        row: usize,
        selector: Selector,
        values: Vec<Value<Fp>>,
    ) -> Result<Vec<AssignedCell<Fp, Fp>>, Error> {
        selector.enable(region, row + 1)?;
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let (r, col) = position(i);
                region.assign_advice(|| "slot cell", self.advice[col], row + r, || v)
            })
            .collect()
    }

    /// Assigns the account block at rows `row..row+3`.
    pub fn assign_accounts(
        &self,
        region: &mut Region<'_, Fp>,
        row: usize,
        v: Value<&AccountCells<Fp>>,
    ) -> Result<AccountCells<AssignedCell<Fp, Fp>>, Error> {
        let values = transpose(v.map(account_list), ACCOUNT_CELLS);
        let cells = self.assign_block(region, row, self.q_accounts, values)?;
        Ok(account_from(&cells))
    }

    /// Assigns the word block at rows `row..row+3`.
    pub fn assign_words(
        &self,
        region: &mut Region<'_, Fp>,
        row: usize,
        v: Value<&WordCells<Fp>>,
    ) -> Result<WordCells<AssignedCell<Fp, Fp>>, Error> {
        let values = transpose(v.map(word_list), WORD_CELLS);
        let cells = self.assign_block(region, row, self.q_words, values)?;
        Ok(word_from(&cells))
    }

    /// Assigns the fee block at rows `row..row+3`.
    pub fn assign_fee(
        &self,
        region: &mut Region<'_, Fp>,
        row: usize,
        v: Value<&FeeCells<Fp>>,
    ) -> Result<FeeCells<AssignedCell<Fp, Fp>>, Error> {
        let values = transpose(v.map(fee_list), FEE_CELLS);
        let cells = self.assign_block(region, row, self.q_fee, values)?;
        Ok(fee_from(&cells))
    }
}

fn transpose(v: Value<Vec<Fp>>, n: usize) -> Vec<Value<Fp>> {
    (0..n)
        .map(|i| {
            v.as_ref()
                .map(|list| list.get(i).copied().unwrap_or(Fp::ZERO))
        })
        .collect()
}
