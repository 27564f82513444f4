//! Sharing an epoch's base fees among members.

use alloy_primitives::U256;
use kaimeng_genesis::{FeeSplit, GenesisSpec};
use serde_json::json;

use crate::support::{parse_with, valid_json};

fn spec_with(split: serde_json::Value, weights: [u64; 2]) -> GenesisSpec {
    let mut value = valid_json();
    value["fee_split"] = split;
    value["members"][0]["weight"] = json!(weights[0]);
    value["members"][1]["weight"] = json!(weights[1]);
    crate::support::parse(&value).unwrap()
}

#[test]
fn equal_split_ignores_weights_and_keeps_the_remainder() {
    let spec = spec_with(json!("equal"), [1, 9]);
    let payout = spec.fee_split.payouts(&spec.members, U256::from(101));
    assert_eq!(payout.per_member, [U256::from(50), U256::from(50)]);
    assert_eq!(payout.remainder, U256::from(1));
}

#[test]
fn by_weight_split_is_proportional() {
    let spec = spec_with(json!("by-weight"), [1, 3]);
    let payout = spec.fee_split.payouts(&spec.members, U256::from(1000));
    assert_eq!(payout.per_member, [U256::from(250), U256::from(750)]);
    assert_eq!(payout.remainder, U256::ZERO);
}

#[test]
fn fixed_split_uses_basis_points() {
    let spec = spec_with(json!({ "fixed": { "Org A": 2500, "Org B": 7500 } }), [1, 1]);
    let payout = spec.fee_split.payouts(&spec.members, U256::from(10_003));
    assert_eq!(payout.per_member, [U256::from(2500), U256::from(7502)]);
    assert_eq!(payout.remainder, U256::from(1));
}

#[test]
fn payouts_never_exceed_the_amount_even_near_the_top_of_u256() {
    let spec = spec_with(json!("by-weight"), [u64::MAX, u64::MAX - 1]);
    let amount = U256::MAX;
    let payout = spec.fee_split.payouts(&spec.members, amount);
    let paid = payout.per_member.iter().fold(U256::ZERO, |sum, p| sum + *p);
    assert_eq!(paid + payout.remainder, amount);
    assert!(payout.per_member[0] > payout.per_member[1]);
}

#[test]
fn fixed_split_round_trips_through_json() {
    let spec = parse_with(
        "/fee_split",
        json!({ "fixed": { "Org B": 1, "Org A": 9999 } }),
    )
    .unwrap();
    let FeeSplit::Fixed(points) = &spec.fee_split else {
        panic!("not fixed: {:?}", spec.fee_split)
    };
    assert_eq!(points.get("Org A"), Some(&9999));
    assert_eq!(
        GenesisSpec::from_json_str(&spec.to_json_pretty()).unwrap(),
        spec
    );
}
