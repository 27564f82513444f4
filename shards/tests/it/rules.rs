//! Consortium rules a block follows: governed gas limit and base fee floor, fee shares paid
//! from the treasury before the first transaction, and the beacon block the header names.

use alloy_primitives::{Address, B256, U256};
use kaimeng_l1::beacon::BeaconRef;
use kaimeng_shards::BlockRules;

use crate::common::*;

fn funded_treasury() -> (TestChain, Address) {
    let t = new_chain();
    let treasury = t.chain.config().treasury;
    // One block of transfers puts base fees into the treasury.
    t.chain
        .submit_raw(&transfer(&t.chain, 1, 0, addr(2), 1))
        .unwrap();
    seal(&t.chain);
    (t, treasury)
}

#[test]
fn a_block_pays_fee_shares_follows_the_governed_limits_and_names_its_beacon_block() {
    let (t, treasury) = funded_treasury();
    let in_treasury = balance(&t.chain, treasury);
    assert!(in_treasury > U256::ZERO);
    let member = Address::repeat_byte(0x77);
    let rules = BlockRules {
        gas_limit: 45_000_000,
        min_base_fee: 2_000_000_000,
        payouts: vec![
            (member, in_treasury - U256::from(1)),
            (addr(5), U256::from(1)),
        ],
        beacon: BeaconRef {
            root: B256::repeat_byte(0xbe),
            height: 12,
            epoch: 3,
        },
    };
    let block = t
        .chain
        .propose_on(&t.chain.head().hash, 10, addr(9), 10, &rules, Vec::new())
        .unwrap();
    let header = &block.header.header;
    assert_eq!(header.gas_limit, 45_000_000);
    assert_eq!(header.parent_beacon_block_root, Some(rules.beacon.root));
    assert_eq!(BeaconRef::of_header(header).unwrap(), rules.beacon);
    assert!(header.base_fee_per_gas.unwrap() >= 2_000_000_000);
    let before_5 = balance(&t.chain, addr(5));
    t.chain.finalize_pending(&block.hash()).unwrap();
    assert_eq!(balance(&t.chain, member), in_treasury - U256::from(1));
    assert_eq!(balance(&t.chain, addr(5)), before_5 + U256::from(1));
    assert_eq!(balance(&t.chain, treasury), U256::ZERO);
    let stored = t.chain.block(block.number()).unwrap().unwrap();
    assert_eq!(
        BeaconRef::of_header(&stored.header.header).unwrap(),
        rules.beacon
    );

    // Another validator with other rules (a different payout) computes another header.
    let (other, _) = funded_treasury();
    let mut wrong = rules.clone();
    wrong.payouts[1].1 = U256::from(2);
    wrong.payouts[0].1 -= U256::from(1);
    let err = other
        .chain
        .verify_on(header, block.txs.clone(), Vec::new(), &wrong)
        .unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
}

#[test]
fn fee_shares_above_the_treasury_are_refused() {
    let (t, treasury) = funded_treasury();
    let rules = BlockRules {
        payouts: vec![(
            Address::repeat_byte(1),
            balance(&t.chain, treasury) + U256::from(1),
        )],
        ..dev_rules()
    };
    let err = t
        .chain
        .propose_on(&t.chain.head().hash, 10, addr(9), 10, &rules, Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("treasury"), "{err}");
}
