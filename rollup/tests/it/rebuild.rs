//! Rebuilding the L2 state from published data and deposit requests alone reaches, chunk by
//! chunk, the roots and queue hashes the state-transition function proved; wrong data or a
//! missing deposit is an error naming the chunk.

use kaimeng_rollup::rebuild::{RebuildError, Rebuilder};
use kaimeng_rollup::stf::{ChunkConfig, ChunkOutcome, L2State};
use kaimeng_rollup::tx::{DepositOp, ForcedExitOp, L2Op, PriorityOp, Transfer, Withdraw};
use kaimeng_rollup::{L1Address, SigningKey};

const CHAIN: u64 = 5;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_uniform_bytes(&[seed; 64])
}

fn deposit(to: u32, seed: u8, amount: u64) -> DepositOp {
    DepositOp {
        to,
        l1_address: L1Address([seed; 20]),
        public_key: key(seed).public_key(),
        amount,
    }
}

/// Three chunks of every kind of slot, with the deposits in request order.
fn history() -> (Vec<ChunkOutcome>, Vec<DepositOp>) {
    let deposits = vec![deposit(0, 9, 0), deposit(1, 1, 1_000), deposit(2, 2, 300)];
    let mut state = L2State::new();
    let config = ChunkConfig {
        chain_id: CHAIN,
        fee_account: 0,
        slots: 3,
    };
    let mut outcomes = Vec::new();
    let priority = |d: DepositOp| L2Op::Priority(PriorityOp::Deposit(d));
    outcomes.push(
        state
            .apply_chunk(
                config,
                &deposits.iter().copied().map(priority).collect::<Vec<_>>(),
            )
            .unwrap(),
    );
    let transfer = Transfer {
        from: 1,
        to: 2,
        amount: 250,
        fee: 4,
        nonce: 0,
    }
    .sign(&key(1), CHAIN);
    let withdraw = Withdraw {
        from: 2,
        amount: 100,
        fee: 2,
        nonce: 0,
    }
    .sign(&key(2), CHAIN);
    outcomes.push(
        state
            .apply_chunk(
                config,
                &[L2Op::Transfer(transfer), L2Op::Withdraw(withdraw)],
            )
            .unwrap(),
    );
    // A forced exit by the owner empties the account; one by someone else does nothing.
    let exit = |account, seed| {
        L2Op::Priority(PriorityOp::ForcedExit(ForcedExitOp {
            account,
            l1_address: L1Address([seed; 20]),
        }))
    };
    outcomes.push(
        state
            .apply_chunk(config, &[exit(1, 1), exit(2, 7)])
            .unwrap(),
    );
    (outcomes, deposits)
}

#[test]
fn published_data_alone_reaches_every_proven_root() {
    let (outcomes, deposits) = history();
    let mut rebuilder = Rebuilder::new(deposits, 0);
    for outcome in &outcomes {
        rebuilder
            .apply_chunk(&outcome.pubdata, outcome.new_root, outcome.queue_after)
            .unwrap();
    }
    let state = rebuilder.state();
    assert_eq!(state.account(1).balance, 0);
    assert_eq!(state.account(2).balance, 300 + 250 - 100 - 2);
    assert_eq!(state.account(0).balance, 6);
    assert_eq!(state.account(2).nonce, 1);
}

#[test]
fn wrong_data_or_a_missing_deposit_is_named() {
    let (outcomes, deposits) = history();
    // Another amount in the transfer: the root differs at chunk 1.
    let mut rebuilder = Rebuilder::new(deposits.clone(), 0);
    rebuilder
        .apply_chunk(
            &outcomes[0].pubdata,
            outcomes[0].new_root,
            outcomes[0].queue_after,
        )
        .unwrap();
    let mut data = outcomes[1].pubdata.clone();
    data[13] ^= 1;
    assert_eq!(
        rebuilder.apply_chunk(&data, outcomes[1].new_root, outcomes[1].queue_after),
        Err(RebuildError::Mismatch {
            chunk: 1,
            what: "state root"
        })
    );
    // A deposit that no request matches.
    let mut rebuilder = Rebuilder::new(deposits[..2].to_vec(), 0);
    assert_eq!(
        rebuilder.apply_chunk(
            &outcomes[0].pubdata,
            outcomes[0].new_root,
            outcomes[0].queue_after
        ),
        Err(RebuildError::UnknownDeposit {
            chunk: 0,
            account: 2
        })
    );
    // Garbage.
    let mut rebuilder = Rebuilder::new(deposits, 0);
    assert!(matches!(
        rebuilder.apply_chunk(&[0xee, 1, 2], outcomes[0].new_root, outcomes[0].queue_after),
        Err(RebuildError::Data { chunk: 0, .. })
    ));
}
