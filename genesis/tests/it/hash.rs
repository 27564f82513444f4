//! The genesis hash: independent of JSON spelling, sensitive to every field.

use kaimeng_genesis::{DevOptions, GenesisSpec, canonical_bytes};
use serde_json::json;

use crate::support::{parse, parse_with, valid_json};

#[test]
fn hash_ignores_json_formatting_and_number_spelling() {
    let compact = parse(&valid_json()).unwrap();
    let pretty = GenesisSpec::from_json_str(&compact.to_json_pretty()).unwrap();
    assert_eq!(compact.hash(), pretty.hash());
    let hex_spelled = parse_with("/chain_id_base", json!("0x1b58")).unwrap();
    assert_eq!(hex_spelled.chain_id_base, 7000);
    assert_eq!(compact.hash(), hex_spelled.hash());
    let lowercase = parse_with(
        "/alloc/0/address",
        json!("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"),
    )
    .unwrap();
    assert_eq!(compact.hash(), lowercase.hash());
}

#[test]
fn hash_changes_with_any_field() {
    let base = parse(&valid_json()).unwrap().hash();
    let changes = [
        ("/chain_id_base", json!(7001)),
        ("/shard_count", json!(3)),
        ("/block_gas_limit", json!(30_000_001)),
        ("/min_base_fee", json!(2)),
        ("/initial_base_fee", json!("1000000001")),
        ("/block_time_ms", json!(999)),
        ("/epoch_length", json!(33)),
        ("/timestamp", json!(1)),
        (
            "/treasury",
            json!("0x1111111111111111111111111111111111111112"),
        ),
        ("/fee_split", json!("by-weight")),
        ("/members/1/organisation", json!("Org C")),
        ("/members/1/weight", json!(2)),
        (
            "/members/1/fee_recipient",
            json!("0x3333333333333333333333333333333333333334"),
        ),
        ("/alloc/1/balance", json!(6)),
        ("/alloc/1/shards", json!([0])),
        ("/alloc/2/nonce", json!(2)),
        ("/alloc/2/code", json!("0x6001")),
        ("/alloc/2/storage", json!({ "0x0": "0x02" })),
    ];
    for (pointer, value) in changes {
        let changed = parse_with(pointer, value).unwrap_or_else(|e| panic!("{pointer}: {e}"));
        assert_ne!(changed.hash(), base, "hash ignores {pointer}");
    }
}

#[test]
fn member_order_is_significant() {
    let mut value = valid_json();
    value["members"].as_array_mut().unwrap().reverse();
    assert_ne!(
        parse(&value).unwrap().hash(),
        parse(&valid_json()).unwrap().hash()
    );
}

#[test]
fn canonical_encoding_starts_with_its_version_tag() {
    let bytes = canonical_bytes(&GenesisSpec::dev(&DevOptions::default()));
    assert_eq!(&bytes[..8], &18u64.to_be_bytes());
    assert_eq!(&bytes[8..26], b"kaimeng-genesis/v1");
}
