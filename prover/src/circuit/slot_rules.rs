//! The rules of one slot, written once over any ring-like type: the circuit instantiates them
//! with halo2 expressions (its custom gates), the witness checker with field elements (to name
//! the rule a bad witness breaks before any proving starts).
//!
//! A slot's cells are split over two 3x10 blocks so every gate reads rotations -1, 0, +1 only:
//! [`AccountCells`] (what the slot does to the debited side A and credited side B) and
//! [`WordCells`] (the words hashed into the data commitment, the signed message and the
//! priority queue, the fee total, and the signature check). Cells present in both blocks are
//! tied together by copy constraints.

use std::ops::{Add, Mul, Sub};

use ff::Field;
use kaimeng_rollup::Fp;
use kaimeng_rollup::tx::{layout, pow2};

/// What a rule expression must support.
/// (`Mul<Fp>` is scaling by a constant, which the prover evaluates more cheaply than a product.)
pub trait Ring:
    Clone + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Mul<Fp, Output = Self>
{
}
impl<T> Ring for T where
    T: Clone + Add<Output = T> + Sub<Output = T> + Mul<Output = T> + Mul<Fp, Output = T>
{
}

/// The slot-kind flags (one-hot, or all zero for padding).
#[derive(Clone, Debug)]
pub struct Flags<T> {
    /// Transfer.
    pub transfer: T,
    /// Withdraw.
    pub withdraw: T,
    /// Deposit.
    pub deposit: T,
    /// Forced exit.
    pub forced_exit: T,
}

impl<T: Ring> Flags<T> {
    fn signed(&self) -> T {
        self.transfer.clone() + self.withdraw.clone()
    }
    fn any(&self) -> T {
        self.signed() + self.deposit.clone() + self.forced_exit.clone()
    }
    fn kind(&self) -> T {
        self.transfer.clone()
            + self.withdraw.clone() * Fp::from(2)
            + self.deposit.clone() * Fp::from(3)
            + self.forced_exit.clone() * Fp::from(4)
    }
}

/// Cells of the account block.
#[derive(Clone, Debug)]
pub struct AccountCells<T> {
    /// Slot kind.
    pub flags: Flags<T>,
    /// Amount moved.
    pub amount: T,
    /// Fee.
    pub fee: T,
    /// Debited index.
    pub a_index: T,
    /// Credited index.
    pub b_index: T,
    /// `amount` if signed, else 0 (range-checked to 40 bits).
    pub amount_signed: T,
    /// Side A key commitment (unchanged).
    pub a_kc: T,
    /// Side A L1 address (unchanged).
    pub a_l1: T,
    /// Side A balance before / after.
    pub a_balance: [T; 2],
    /// Side A nonce before / after.
    pub a_nonce: [T; 2],
    /// Side B key commitment before / after.
    pub b_kc: [T; 2],
    /// Side B L1 address before / after.
    pub b_l1: [T; 2],
    /// Side B balance before / after.
    pub b_balance: [T; 2],
    /// Side B nonce before / after.
    pub b_nonce: [T; 2],
    /// Priority op: L1 address.
    pub op_l1: T,
    /// Priority op: key commitment.
    pub op_kc: T,
    /// Deposit into an empty leaf.
    pub empty: T,
    /// Inverse of B's key commitment (transfers: the receiver is registered).
    pub b_kc_inv: T,
    /// A's L1 address equals the op's.
    pub l1_match: T,
    /// Inverse of `a_l1 - op_l1` (or zero).
    pub l1_diff_inv: T,
    /// `H(pk.x, pk.y)` of the signing key.
    pub signer_kc: T,
}

/// Cells of the word block.
#[derive(Clone, Debug)]
pub struct WordCells<T> {
    /// Slot kind.
    pub flags: Flags<T>,
    /// Amount moved.
    pub amount: T,
    /// Fee.
    pub fee: T,
    /// Debited index.
    pub a_index: T,
    /// Credited index.
    pub b_index: T,
    /// Chain id (public input).
    pub chain_id: T,
    /// Side A nonce before.
    pub a_nonce: T,
    /// Side A L1 address.
    pub a_l1: T,
    /// Priority op: L1 address.
    pub op_l1: T,
    /// Data words.
    pub d0: T,
    /// Second data word.
    pub d1: T,
    /// Signed message word.
    pub message: T,
    /// Priority op word.
    pub w0: T,
    /// Queue hash before, candidate after folding, after.
    pub queue: [T; 3],
    /// Fee total before / after this slot.
    pub fee_total: [T; 2],
    /// `W = [s]G − [e]P`, from the signature chip.
    pub sig_w: [T; 2],
    /// The signature's `R`.
    pub sig_r: [T; 2],
}

/// A named rule: the expression must be zero.
pub type Rule<T> = (&'static str, T);

/// The account-block rules.
pub fn account_rules<T: Ring>(v: &AccountCells<T>, c: impl Fn(Fp) -> T) -> Vec<Rule<T>> {
    let one = || c(Fp::ONE);
    let f = &v.flags;
    let bool_rule = |x: &T| x.clone() * (one() - x.clone());
    let signed = f.signed();
    let any = f.any();
    let a_diff = v.a_l1.clone() - v.op_l1.clone();
    vec![
        ("transfer flag is boolean", bool_rule(&f.transfer)),
        ("withdraw flag is boolean", bool_rule(&f.withdraw)),
        ("deposit flag is boolean", bool_rule(&f.deposit)),
        ("forced-exit flag is boolean", bool_rule(&f.forced_exit)),
        ("at most one kind", bool_rule(&any)),
        ("empty flag is boolean", bool_rule(&v.empty)),
        (
            "sender nonce",
            v.a_nonce[1].clone() - v.a_nonce[0].clone() - signed.clone(),
        ),
        (
            "sender balance",
            v.a_balance[1].clone() - v.a_balance[0].clone()
                + (signed.clone() + f.forced_exit.clone()) * v.amount.clone()
                + v.fee.clone(),
        ),
        (
            "signer owns sender",
            signed.clone() * (v.a_kc.clone() - v.signer_kc.clone()),
        ),
        (
            "l1 match is a zero test",
            v.l1_match.clone() - (one() - a_diff.clone() * v.l1_diff_inv.clone()),
        ),
        ("l1 match only on equality", a_diff * v.l1_match.clone()),
        (
            "forced exit withdraws the whole balance",
            f.forced_exit.clone()
                * (v.amount.clone() - v.l1_match.clone() * v.a_balance[0].clone()),
        ),
        (
            "forced exit carries no key",
            f.forced_exit.clone() * v.op_kc.clone(),
        ),
        (
            "unsigned slots pay no fee",
            (one() - signed.clone()) * v.fee.clone(),
        ),
        (
            "signed amount",
            v.amount_signed.clone() - signed * v.amount.clone(),
        ),
        (
            "receiver nonce",
            v.b_nonce[1].clone() - v.b_nonce[0].clone(),
        ),
        (
            "receiver balance",
            v.b_balance[1].clone()
                - v.b_balance[0].clone()
                - (f.transfer.clone() + f.deposit.clone()) * v.amount.clone(),
        ),
        (
            "receiver key",
            v.b_kc[1].clone()
                - v.b_kc[0].clone()
                - f.deposit.clone() * (v.op_kc.clone() - v.b_kc[0].clone()),
        ),
        (
            "receiver l1 address",
            v.b_l1[1].clone()
                - v.b_l1[0].clone()
                - f.deposit.clone() * (v.op_l1.clone() - v.b_l1[0].clone()),
        ),
        (
            "deposit into empty leaf: key",
            f.deposit.clone() * v.empty.clone() * v.b_kc[0].clone(),
        ),
        (
            "deposit into empty leaf: l1 address",
            f.deposit.clone() * v.empty.clone() * v.b_l1[0].clone(),
        ),
        (
            "deposit into empty leaf: balance",
            f.deposit.clone() * v.empty.clone() * v.b_balance[0].clone(),
        ),
        (
            "deposit into empty leaf: nonce",
            f.deposit.clone() * v.empty.clone() * v.b_nonce[0].clone(),
        ),
        (
            "deposit owner: key",
            f.deposit.clone() * (one() - v.empty.clone()) * (v.b_kc[0].clone() - v.op_kc.clone()),
        ),
        (
            "deposit owner: l1 address",
            f.deposit.clone() * (one() - v.empty.clone()) * (v.b_l1[0].clone() - v.op_l1.clone()),
        ),
        (
            "receiver registered",
            f.transfer.clone() * (v.b_kc[0].clone() * v.b_kc_inv.clone() - one()),
        ),
        (
            "one-sided slot uses one index",
            (f.withdraw.clone() + f.deposit.clone() + f.forced_exit.clone())
                * (v.a_index.clone() - v.b_index.clone()),
        ),
        (
            "padding: index a",
            (one() - any.clone()) * v.a_index.clone(),
        ),
        (
            "padding: index b",
            (one() - any.clone()) * v.b_index.clone(),
        ),
        ("padding: amount", (one() - any) * v.amount.clone()),
    ]
}

/// `kind + a·2^8 + b·2^40 + amount·2^72 + fee·2^136`.
fn d0_expr<T: Ring>(f: &Flags<T>, a: &T, b: &T, amount: &T, fee: &T) -> T {
    f.kind()
        + a.clone() * pow2(layout::A)
        + b.clone() * pow2(layout::B)
        + amount.clone() * pow2(layout::AMOUNT)
        + fee.clone() * pow2(layout::FEE)
}

/// The word-block rules.
pub fn word_rules<T: Ring>(v: &WordCells<T>) -> Vec<Rule<T>> {
    let f = &v.flags;
    let signed = f.signed();
    let queued = f.deposit.clone() + f.forced_exit.clone();
    let d0 = d0_expr(f, &v.a_index, &v.b_index, &v.amount, &v.fee);
    vec![
        ("data word d0", v.d0.clone() - d0),
        (
            "data word d1",
            v.d1.clone()
                - f.withdraw.clone() * v.a_l1.clone()
                - f.forced_exit.clone() * v.op_l1.clone(),
        ),
        (
            "signed message",
            v.message.clone() - v.d0.clone()
                + v.chain_id.clone() * -pow2(layout::CHAIN_ID)
                + v.a_nonce.clone() * -pow2(layout::NONCE),
        ),
        (
            "queue word",
            v.w0.clone() - f.kind()
                + v.a_index.clone() * -pow2(layout::OP_INDEX)
                + f.deposit.clone() * v.amount.clone() * -pow2(layout::OP_AMOUNT),
        ),
        (
            "queue hash",
            v.queue[2].clone()
                - v.queue[0].clone()
                - queued * (v.queue[1].clone() - v.queue[0].clone()),
        ),
        (
            "fee total",
            v.fee_total[1].clone() - v.fee_total[0].clone() - v.fee.clone(),
        ),
        (
            "signature: x",
            signed.clone() * (v.sig_w[0].clone() - v.sig_r[0].clone()),
        ),
        (
            "signature: y",
            signed * (v.sig_w[1].clone() - v.sig_r[1].clone()),
        ),
    ]
}

/// Cells of the fee block (the chunk's final credit to the fee account).
#[derive(Clone, Debug)]
pub struct FeeCells<T> {
    /// Fee account balance before / after.
    pub balance: [T; 2],
    /// Fees collected by the chunk.
    pub total: T,
    /// Fee account key commitment.
    pub kc: T,
    /// Its inverse (the fee account is registered).
    pub kc_inv: T,
}

/// The fee-block rules.
pub fn fee_rules<T: Ring>(v: &FeeCells<T>, c: impl Fn(Fp) -> T) -> Vec<Rule<T>> {
    vec![
        (
            "fee credit",
            v.balance[1].clone() - v.balance[0].clone() - v.total.clone(),
        ),
        (
            "fee account registered",
            v.kc.clone() * v.kc_inv.clone() - c(Fp::ONE),
        ),
    ]
}
