//! Shared fixtures: keys, a funded L2 state, chunks built by the native model.

use kaimeng_prover::circuit::ChunkCircuit;
use kaimeng_prover::witness::{ChunkValues, ChunkWitness, PublicInputs};
use kaimeng_rollup::stf::{ChunkConfig, ChunkOutcome, L2State};
use kaimeng_rollup::tx::{DepositOp, ForcedExitOp, L2Op, PriorityOp, Transfer, Withdraw};
use kaimeng_rollup::{Account, L1Address, SigningKey};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub const CHAIN: u64 = 77;
pub const FEE_ACCOUNT: u32 = 0;

pub fn key(seed: u64) -> SigningKey {
    SigningKey::random(&mut ChaCha20Rng::seed_from_u64(seed))
}

pub fn l1(seed: u64) -> L1Address {
    L1Address([seed as u8; 20])
}

/// The fee account (index 0) and accounts `1..=n` registered with 1,000,000 units each.
pub fn funded_state(n: u32) -> L2State {
    let mut s = L2State::new();
    for i in 0..=n {
        s.set_account(
            i * 1000,
            Account {
                public_key: Some(key(u64::from(i)).public_key()),
                l1_address: l1(u64::from(i)),
                balance: if i == 0 { 0 } else { 1_000_000 },
                nonce: 0,
            },
        );
    }
    s
}

/// Index of funded account `i`.
pub fn acct(i: u32) -> u32 {
    i * 1000
}

pub fn config(slots: usize) -> ChunkConfig {
    ChunkConfig {
        chain_id: CHAIN,
        fee_account: FEE_ACCOUNT,
        slots,
    }
}

pub fn transfer(state: &L2State, from: u32, to: u32, amount: u64, fee: u16) -> L2Op {
    let nonce = state.account(acct(from)).nonce;
    L2Op::Transfer(
        Transfer {
            from: acct(from),
            to: acct(to),
            amount,
            fee,
            nonce,
        }
        .sign(&key(u64::from(from)), CHAIN),
    )
}

pub fn withdraw(state: &L2State, from: u32, amount: u64, fee: u16) -> L2Op {
    let nonce = state.account(acct(from)).nonce;
    L2Op::Withdraw(
        Withdraw {
            from: acct(from),
            amount,
            fee,
            nonce,
        }
        .sign(&key(u64::from(from)), CHAIN),
    )
}

pub fn deposit_new(index: u32, seed: u64, amount: u64) -> L2Op {
    L2Op::Priority(PriorityOp::Deposit(DepositOp {
        to: index,
        l1_address: l1(seed),
        public_key: key(seed).public_key(),
        amount,
    }))
}

pub fn forced_exit(index: u32, seed: u64) -> L2Op {
    L2Op::Priority(PriorityOp::ForcedExit(ForcedExitOp {
        account: index,
        l1_address: l1(seed),
    }))
}

pub fn apply(state: &mut L2State, slots: usize, ops: &[L2Op]) -> ChunkOutcome {
    state
        .apply_chunk(config(slots), ops)
        .expect("native model accepts")
}

/// Witness, evaluated values and public inputs of a chunk.
pub fn evaluated(outcome: &ChunkOutcome) -> (ChunkWitness, ChunkValues, PublicInputs) {
    let w = ChunkWitness::from_outcome(outcome);
    let v = w.evaluate(outcome.config.slots).expect("witness evaluates");
    let p = v.public;
    (w, v, p)
}

pub fn circuit(slots: usize, values: ChunkValues) -> ChunkCircuit {
    ChunkCircuit::from_values(slots, values)
}
