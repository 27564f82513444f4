//! MockProver: chunks the native model produces are accepted, every slot kind included, and
//! the circuit's public inputs are the native model's.

use halo2_proofs::dev::MockProver;
use kaimeng_rollup::stf::ChunkOutcome;
use kaimeng_rollup::tx::{L2Op, PriorityOp, queue_hash};

use crate::support::*;
use kaimeng_prover::witness::PublicInputs;

const K: u32 = 13;
const SLOTS: usize = 3;

/// Builds the circuit for a native chunk, checks the public inputs against the native model
/// and returns MockProver's verdict.
fn prove_mock(out: &ChunkOutcome) -> Result<(), Vec<String>> {
    let (_, values, public) = evaluated(out);
    assert_eq!(public.old_root, out.old_root);
    assert_eq!(public.new_root, out.new_root);
    assert_eq!(public.data_commitment, out.data_commitment);
    assert_eq!(public.queue_before, out.queue_before);
    assert_eq!(public.queue_after, out.queue_after);
    let slots = out.config.slots;
    let prover = MockProver::run(K, &circuit(slots, values), vec![public.to_vec()]).unwrap();
    prover
        .verify()
        .map_err(|e| e.iter().map(|f| f.to_string()).collect())
}

#[test]
fn one_transfer_chunk_is_accepted() {
    let mut state = funded_state(2);
    let op = transfer(&state, 1, 2, 500, 3);
    let out = apply(&mut state, 1, &[op]);
    prove_mock(&out).unwrap();
}

#[test]
fn transfer_withdraw_and_padding() {
    let mut state = funded_state(2);
    let t = transfer(&state, 1, 2, 12_345, 9);
    let w = withdraw(&state, 2, 777, 1);
    let out = apply(&mut state, SLOTS, &[t, w]);
    assert_eq!(out.withdrawals.len(), 1);
    prove_mock(&out).unwrap();
}

#[test]
fn deposits_new_and_existing_and_a_matching_forced_exit() {
    let mut state = funded_state(2);
    let out = apply(
        &mut state,
        SLOTS,
        &[
            deposit_new(4242, 42, 1_000),
            deposit_new(4242, 42, 5),
            forced_exit(acct(1), 1),
        ],
    );
    assert_eq!(state.account(4242).balance, 1_005);
    assert_eq!(state.account(acct(1)).balance, 0);
    prove_mock(&out).unwrap();
}

#[test]
fn mismatched_forced_exit_self_transfer_and_fee_account_receiver() {
    let mut state = funded_state(2);
    let exit = forced_exit(acct(2), 9);
    let to_self = transfer(&state, 1, 1, 100, 2);
    let out = {
        // The second transfer from account 1 needs the nonce after the first.
        let mut probe = state.clone();
        probe.apply_chunk(config(2), &[exit, to_self]).unwrap();
        let to_fee = transfer(&probe, 1, 0, 50, 4);
        apply(&mut state, SLOTS, &[exit, to_self, to_fee])
    };
    assert_eq!(
        out.withdrawals[0].1, 0,
        "a mismatched exit withdraws nothing"
    );
    assert_eq!(state.account(acct(0)).balance, 50 + 6);
    prove_mock(&out).unwrap();
}

#[test]
fn queue_hash_that_skips_a_deposit_is_caught_by_the_public_digest() {
    let queued = [
        deposit_new(7001, 71, 10),
        deposit_new(7002, 72, 20),
        deposit_new(7003, 73, 30),
    ];
    let ops: Vec<PriorityOp> = queued
        .iter()
        .map(|op| match op {
            L2Op::Priority(p) => *p,
            _ => unreachable!(),
        })
        .collect();
    let mut state = funded_state(1);
    let l1_queue_after = queue_hash(state.queue_hash(), &ops);
    // The sequencer skips the second deposit.
    let out = apply(&mut state, SLOTS, &[queued[0], queued[2]]);
    let (_, values, public) = evaluated(&out);
    let claimed = PublicInputs {
        queue_after: l1_queue_after,
        ..public
    };
    let prover = MockProver::run(K, &circuit(SLOTS, values), vec![claimed.to_vec()]).unwrap();
    let failures: Vec<String> = prover
        .verify()
        .unwrap_err()
        .iter()
        .map(|f| f.to_string())
        .collect();
    assert!(
        failures
            .iter()
            .any(|f| f.contains("column_type: Instance, index: 0 }, outside any region, on row 0)")),
        "{failures:#?}"
    );
}
