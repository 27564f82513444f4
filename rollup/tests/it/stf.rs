//! The state-transition function: semantics of each slot kind, fees, rollback and roots.

use ff::Field;
use kaimeng_rollup::stf::{ChunkConfig, L2State, StfError};
use kaimeng_rollup::tx::{
    DepositOp, ForcedExitOp, L2Op, PriorityOp, SlotKind, Transfer, Withdraw, queue_hash,
};
use kaimeng_rollup::{Account, Fp, L1Address, SigningKey};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

const CHAIN: u64 = 424242;

fn key(seed: u64) -> SigningKey {
    SigningKey::random(&mut ChaCha20Rng::seed_from_u64(seed))
}

fn deposit(to: u32, seed: u64, amount: u64) -> L2Op {
    L2Op::Priority(PriorityOp::Deposit(DepositOp {
        to,
        l1_address: L1Address([seed as u8; 20]),
        public_key: key(seed).public_key(),
        amount,
    }))
}

fn config(slots: usize) -> ChunkConfig {
    ChunkConfig {
        chain_id: CHAIN,
        fee_account: 0,
        slots,
    }
}

/// A state with the fee account (0) and accounts 1 and 2 funded by deposits.
fn funded() -> L2State {
    let mut s = L2State::new();
    s.apply_chunk(
        config(3),
        &[deposit(0, 100, 0), deposit(1, 1, 1_000), deposit(2, 2, 500)],
    )
    .expect("deposits apply");
    s
}

fn transfer(from: u32, to: u32, amount: u64, fee: u16, nonce: u32, seed: u64) -> L2Op {
    L2Op::Transfer(
        Transfer {
            from,
            to,
            amount,
            fee,
            nonce,
        }
        .sign(&key(seed), CHAIN),
    )
}

fn withdraw(from: u32, amount: u64, fee: u16, nonce: u32, seed: u64) -> L2Op {
    L2Op::Withdraw(
        Withdraw {
            from,
            amount,
            fee,
            nonce,
        }
        .sign(&key(seed), CHAIN),
    )
}

fn forced_exit(account: u32, l1: u8) -> L2Op {
    L2Op::Priority(PriorityOp::ForcedExit(ForcedExitOp {
        account,
        l1_address: L1Address([l1; 20]),
    }))
}

#[test]
fn deposits_bind_keys_and_roll_the_queue_hash() {
    let s = funded();
    assert_eq!(s.account(1).balance, 1_000);
    assert_eq!(s.account(1).public_key, Some(key(1).public_key()));
    let ops: Vec<PriorityOp> = [deposit(0, 100, 0), deposit(1, 1, 1_000), deposit(2, 2, 500)]
        .iter()
        .map(|op| match op {
            L2Op::Priority(p) => *p,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(s.queue_hash(), queue_hash(Fp::ZERO, &ops));
}

#[test]
fn transfer_moves_value_bumps_nonce_and_pays_fee_at_chunk_end() {
    let mut s = funded();
    let out = s
        .apply_chunk(config(2), &[transfer(1, 2, 300, 7, 0, 1)])
        .unwrap();
    assert_eq!(s.account(1).balance, 693);
    assert_eq!(s.account(1).nonce, 1);
    assert_eq!(s.account(2).balance, 800);
    assert_eq!(s.account(0).balance, 7);
    assert_eq!(out.total_fee, 7);
    assert_eq!(out.slot_roots.len(), 2);
    assert_eq!(out.new_root, s.root());
    assert_eq!(out.slots[1].data.kind, SlotKind::Padding);
    assert_eq!(out.pubdata.len(), 16);
    // Paths recorded in the trace recompute the recorded roots.
    let t = &out.slots[0];
    assert_eq!(t.a.path.root_for(t.a.before.leaf_hash()), t.a.root_before);
    assert_eq!(t.a.path.root_for(t.a.after.leaf_hash()), t.a.root_after);
    assert_eq!(t.b.root_before, t.a.root_after);
    assert_eq!(t.b.path.root_for(t.b.after.leaf_hash()), t.b.root_after);
}

#[test]
fn rejected_operations_leave_the_state_unchanged() {
    let mut s = funded();
    let root = s.root();
    type Expect = fn(&StfError) -> bool;
    let cases: Vec<(L2Op, Expect)> = vec![
        (transfer(1, 2, 10, 0, 0, 9), |e| {
            matches!(e, StfError::BadSignature { .. })
        }),
        (transfer(1, 2, 10, 0, 5, 1), |e| {
            matches!(
                e,
                StfError::WrongNonce {
                    expected: 0,
                    got: 5,
                    ..
                }
            )
        }),
        (transfer(1, 2, 2_000, 0, 0, 1), |e| {
            matches!(e, StfError::InsufficientBalance { .. })
        }),
        (transfer(1, 2, 1 << 40, 0, 0, 1), |e| {
            matches!(e, StfError::AmountOutOfRange { .. })
        }),
        (transfer(1, 77, 1, 0, 0, 1), |e| {
            matches!(e, StfError::NotRegistered { account: 77, .. })
        }),
        (deposit(1, 5, 1), |e| {
            matches!(e, StfError::DepositOwnerMismatch { account: 1, .. })
        }),
    ];
    for (op, expected) in cases {
        // A valid transfer first, so rollback has something to undo.
        let err = s
            .apply_chunk(config(2), &[transfer(2, 1, 1, 0, 0, 2), op])
            .unwrap_err();
        assert!(expected(&err), "unexpected error {err:?}");
        assert_eq!(s.root(), root);
        assert_eq!(s.account(2).nonce, 0);
    }
}

#[test]
fn withdraw_and_forced_exit_emit_records() {
    let mut s = funded();
    let w = withdraw(1, 100, 1, 0, 1);
    let exit_ok = forced_exit(2, 2);
    let exit_wrong_owner = forced_exit(1, 9);
    let out = s
        .apply_chunk(config(3), &[w, exit_ok, exit_wrong_owner])
        .unwrap();
    assert_eq!(
        out.withdrawals,
        vec![
            (L1Address([1; 20]), 100),
            (L1Address([2; 20]), 500),
            (L1Address([9; 20]), 0)
        ]
    );
    assert_eq!(s.account(1).balance, 899);
    assert_eq!(s.account(2).balance, 0);
    assert_eq!(s.account(0).balance, 1);
}

#[test]
fn batch_splits_into_padded_chunks_and_lists_every_root() {
    let mut s = funded();
    let ops: Vec<L2Op> = (0..5).map(|n| transfer(1, 2, 1, 1, n, 1)).collect();
    let outs = s.apply_batch(config(2), &ops).unwrap();
    assert_eq!(outs.len(), 3);
    assert_eq!(outs[2].slots[1].data.kind, SlotKind::Padding);
    let roots = L2State::batch_roots(&outs);
    assert_eq!(roots.len(), 3 * 3);
    assert_eq!(*roots.last().unwrap(), s.root());
    for pair in outs.windows(2) {
        assert_eq!(pair[0].new_root, pair[1].old_root);
    }
    assert_eq!(s.account(0).balance, 5);
}

#[test]
fn failed_batch_reverts_earlier_chunks() {
    let mut s = funded();
    let root = s.root();
    let ops = vec![
        transfer(1, 2, 1, 1, 0, 1),
        transfer(1, 2, 1, 1, 1, 1),
        transfer(1, 2, 1, 1, 7, 1),
    ];
    assert!(s.apply_batch(config(2), &ops).is_err());
    assert_eq!(s.root(), root);
    assert_eq!(s.account(1), {
        let mut fresh = funded();
        fresh.set_account(99, Account::default());
        fresh.account(1)
    });
}

#[test]
fn unregistered_fee_account_is_rejected() {
    let mut s = L2State::new();
    let err = s
        .apply_chunk(
            ChunkConfig {
                chain_id: CHAIN,
                fee_account: 5,
                slots: 1,
            },
            &[],
        )
        .unwrap_err();
    assert!(matches!(err, StfError::NotRegistered { account: 5, .. }));
}

/// Every side of every slot carries the path and roots of its own moment: its path proves the
/// old leaf under the root before it and the new leaf under the root after it, and the roots
/// chain from the chunk's old root through each side to the fee credit and the new root. Every
/// kind of slot, an account touched twice, and padding are mixed.
#[test]
fn every_side_carries_the_path_and_roots_of_its_moment() {
    let mut s = funded();
    let ops = [
        withdraw(2, 7, 1, 0, 2),
        transfer(1, 2, 5, 1, 0, 1),
        deposit(3, 3, 40),
        transfer(2, 1, 2, 1, 1, 2),
        transfer(1, 3, 9, 0, 1, 1),
        forced_exit(3, 3),
    ];
    let outcomes = s.apply_batch(config(4), &ops).unwrap();
    assert_eq!(outcomes.len(), 2, "the second chunk is padded");
    let mut root = outcomes[0].old_root;
    for outcome in &outcomes {
        assert_eq!(outcome.old_root, root);
        let sides = outcome
            .slots
            .iter()
            .flat_map(|slot| [&slot.a, &slot.b])
            .chain([&outcome.fee_credit]);
        for side in sides {
            assert_eq!(side.root_before, root, "side of account {}", side.index);
            assert_eq!(side.path.index, side.index);
            assert!(side.path.verify(side.root_before, side.before.leaf_hash()));
            assert!(side.path.verify(side.root_after, side.after.leaf_hash()));
            if side.before == side.after {
                assert_eq!(side.root_after, side.root_before);
            }
            root = side.root_after;
        }
        for (slot, slot_root) in outcome.slots.iter().zip(&outcome.slot_roots) {
            assert_eq!(slot.b.root_after, *slot_root);
        }
        assert_eq!(outcome.new_root, root);
    }
    assert_eq!(s.root(), root);
    // The tree agrees with one built from the accounts alone.
    let rebuilt =
        L2State::from_accounts(s.accounts().map(|(i, a)| (i, *a)).collect(), s.queue_hash());
    assert_eq!(rebuilt.root(), s.root());
}

/// Checking signatures after the other rules reports what checking in order would: the first
/// bad signature, even when a later slot breaks another rule.
#[test]
fn the_first_bad_signature_is_reported_before_later_faults() {
    let mut s = funded();
    let root = s.root();
    let bad = transfer(1, 2, 1, 0, 0, 9);
    let wrong_nonce = transfer(2, 1, 1, 0, 5, 2);
    let err = s.apply_chunk(config(2), &[bad, wrong_nonce]).unwrap_err();
    assert!(
        matches!(
            err,
            StfError::BadSignature {
                slot: 0,
                account: 1
            }
        ),
        "{err:?}"
    );
    let good = transfer(2, 1, 1, 0, 0, 2);
    let err = s.apply_chunk(config(3), &[good, bad, good]).unwrap_err();
    assert!(
        matches!(
            err,
            StfError::BadSignature {
                slot: 1,
                account: 1
            }
        ),
        "{err:?}"
    );
    assert_eq!(s.root(), root);
    assert_eq!(s.account(2).nonce, 0);
}
