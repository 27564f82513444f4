//! Property: on random chunks of valid operations, the circuit accepts exactly the public
//! inputs the native model computes.

use halo2_proofs::dev::MockProver;
use kaimeng_rollup::stf::L2State;
use kaimeng_rollup::tx::L2Op;
use proptest::prelude::*;

use crate::support::*;
use kaimeng_prover::witness::PublicInputs;

const SLOTS: usize = 3;

/// An operation intent, turned into a valid operation against the current state.
#[derive(Clone, Debug)]
enum Intent {
    Transfer {
        from: u32,
        to: u32,
        amount: u64,
        fee: u16,
    },
    Withdraw {
        from: u32,
        amount: u64,
        fee: u16,
    },
    Deposit {
        to: u32,
        amount: u64,
    },
    Exit {
        account: u32,
        owner: bool,
    },
    Pad,
}

fn intent() -> impl Strategy<Value = Intent> {
    prop_oneof![
        3 => (0u32..4, 0u32..4, 0u64..2_000_000, 0u16..1000)
            .prop_map(|(from, to, amount, fee)| Intent::Transfer { from, to, amount, fee }),
        1 => (1u32..4, 0u64..2_000_000, 0u16..1000)
            .prop_map(|(from, amount, fee)| Intent::Withdraw { from, amount, fee }),
        1 => (1u32..6, 0u64..u64::from(u32::MAX)).prop_map(|(to, amount)| Intent::Deposit { to, amount }),
        1 => (1u32..4, any::<bool>()).prop_map(|(account, owner)| Intent::Exit { account, owner }),
        1 => Just(Intent::Pad),
    ]
}

fn realize(state: &L2State, intent: &Intent) -> L2Op {
    match *intent {
        Intent::Transfer {
            from,
            to,
            amount,
            fee,
        } => {
            let from = from.max(1);
            let balance = state.account(acct(from)).balance;
            let fee = u64::from(fee).min(balance) as u16;
            let amount = amount.min(balance - u64::from(fee));
            transfer(state, from, to, amount, fee)
        }
        Intent::Withdraw { from, amount, fee } => {
            let balance = state.account(acct(from)).balance;
            let fee = u64::from(fee).min(balance) as u16;
            let amount = amount.min(balance - u64::from(fee));
            withdraw(state, from, amount, fee)
        }
        // Deposits to fresh indices 1..6 * 1000 + 1 always bind the same owner per index.
        Intent::Deposit { to, amount } => deposit_new(acct(to) + 1, 100 + u64::from(to), amount),
        Intent::Exit { account, owner } => {
            forced_exit(acct(account), if owner { u64::from(account) } else { 200 })
        }
        Intent::Pad => L2Op::Padding,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    #[test]
    fn circuit_agrees_with_the_native_model(intents in prop::collection::vec(intent(), SLOTS)) {
        let mut state = funded_state(3);
        let mut ops = Vec::new();
        let mut probe = state.clone();
        for i in &intents {
            let op = realize(&probe, i);
            probe.apply_chunk(config(1), &[op]).expect("realized ops are valid");
            ops.push(op);
        }
        let out = apply(&mut state, SLOTS, &ops);
        let (_, values, public) = evaluated(&out);
        prop_assert_eq!(public.new_root, out.new_root);
        prop_assert_eq!(public.data_commitment, out.data_commitment);
        prop_assert_eq!(public.queue_after, out.queue_after);
        let prover = MockProver::run(13, &circuit(SLOTS, values.clone()), vec![public.to_vec()]).unwrap();
        prop_assert!(prover.verify().is_ok());
        // A different claimed new root is rejected.
        let wrong = PublicInputs { new_root: public.new_root + kaimeng_rollup::Fp::from(1), ..public };
        let prover = MockProver::run(13, &circuit(SLOTS, values), vec![wrong.to_vec()]).unwrap();
        prop_assert!(prover.verify().is_err());
    }
}
