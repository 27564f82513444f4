//! Reading genesis JSON: number forms, addresses, hex, unknown / missing / duplicate fields and
//! malformed documents, each with an error naming the field.

use alloy_primitives::{Address, B256, U256};
use kaimeng_genesis::{FeeSplit, GenesisError, GenesisSpec};
use serde_json::json;

use crate::support::{assert_field_error, parse, parse_with, valid_json};

#[test]
fn the_fixture_parses_with_every_number_form() {
    let spec = parse(&valid_json()).expect("fixture is valid");
    assert_eq!(spec.chain_id_base, 7000);
    assert_eq!(spec.min_base_fee, 1_000_000_000);
    // "0x3b9aca00" is hex for 1 gwei.
    assert_eq!(spec.initial_base_fee, 1_000_000_000);
    assert_eq!(
        spec.alloc[0].balance,
        U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18))
    );
    assert_eq!(spec.alloc[1].balance, U256::from(5));
    assert_eq!(spec.alloc[2].nonce, 1);
    assert_eq!(
        spec.alloc[2].storage.get(&B256::ZERO),
        Some(&B256::with_last_byte(1))
    );
    assert_eq!(spec.members[0].weight, 1);
    assert_eq!(spec.fee_split, FeeSplit::Equal);
}

#[test]
fn u64_fields_accept_decimal_and_hex_strings() {
    assert_eq!(
        parse_with("/block_gas_limit", json!("0x1c9c380"))
            .unwrap()
            .block_gas_limit,
        30_000_000
    );
    assert_eq!(
        parse_with("/timestamp", json!("1750000000"))
            .unwrap()
            .timestamp,
        1_750_000_000
    );
}

#[test]
fn amounts_beyond_u64_are_exact_as_strings() {
    let big = "340282366920938463463374607431768211455"; // u128::MAX
    let spec = parse_with("/initial_base_fee", json!(big)).unwrap();
    assert_eq!(spec.initial_base_fee, u128::MAX);
}

#[test]
fn huge_json_numbers_are_rejected_with_advice_to_use_strings() {
    let text = valid_json()
        .to_string()
        .replace("\"10000000000000000000000\"", "10000000000000000000000");
    let error = GenesisSpec::from_json_str(&text);
    assert_field_error(error, "alloc[0].balance", "as decimal or 0x-hex strings");
}

#[test]
fn negative_and_fractional_numbers_are_rejected() {
    assert_field_error(
        parse_with("/epoch_length", json!(-1)),
        "epoch_length",
        "negative number -1",
    );
    assert_field_error(
        parse_with("/block_time_ms", json!(1.5)),
        "block_time_ms",
        "fractional",
    );
}

#[test]
fn malformed_integer_text_is_rejected() {
    assert_field_error(
        parse_with("/min_base_fee", json!("1 gwei")),
        "min_base_fee",
        "got \"1 gwei\"",
    );
    assert_field_error(
        parse_with("/min_base_fee", json!("0x")),
        "min_base_fee",
        "non-negative integer",
    );
    assert_field_error(
        parse_with("/chain_id_base", json!(true)),
        "chain_id_base",
        "non-negative integer",
    );
}

#[test]
fn values_too_wide_for_their_field_are_rejected() {
    let above_u64 = "18446744073709551616";
    assert_field_error(
        parse_with("/chain_id_base", json!(above_u64)),
        "chain_id_base",
        "does not fit in 64 bits",
    );
    let above_u128 = "0x100000000000000000000000000000000";
    assert_field_error(
        parse_with("/min_base_fee", json!(above_u128)),
        "min_base_fee",
        "does not fit in 128 bits",
    );
    let above_u256 = format!("0x1{}", "0".repeat(64));
    assert_field_error(
        parse_with("/alloc/0/balance", json!(above_u256)),
        "alloc[0].balance",
        "does not fit in 256 bits",
    );
}

#[test]
fn short_address_names_the_field_and_echoes_the_value() {
    let message = assert_field_error(
        parse_with("/members/1/fee_recipient", json!("0x12")),
        "members[1].fee_recipient",
        "expected a 20-byte hex address, got \"0x12\"",
    );
    assert!(message.contains("(at line 1, column"), "{message}");
}

#[test]
fn address_without_prefix_or_with_bad_hex_is_rejected() {
    assert_field_error(
        parse_with(
            "/treasury",
            json!("1111111111111111111111111111111111111111"),
        ),
        "treasury",
        "20-byte hex address",
    );
    assert_field_error(
        parse_with(
            "/treasury",
            json!("0x111111111111111111111111111111111111111g"),
        ),
        "treasury",
        "20-byte hex address",
    );
}

#[test]
fn mixed_case_addresses_must_have_a_valid_checksum() {
    // The correct checksum of anvil's account 0, with one letter's case flipped.
    let wrong = "0xF39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    assert_field_error(
        parse_with("/alloc/0/address", json!(wrong)),
        "alloc[0].address",
        "EIP-55 checksum",
    );
    let right = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
    let spec = parse_with("/alloc/0/address", json!(right)).unwrap();
    assert_eq!(spec.alloc[0].address, right.parse::<Address>().unwrap());
}

#[test]
fn keys_must_be_hex_bytes() {
    assert_field_error(
        parse_with("/members/0/admin_key", json!("0x123")),
        "members[0].admin_key",
        "even number of hex digits",
    );
    assert_field_error(
        parse_with("/members/0/vrf_key", json!(12)),
        "members[0].vrf_key",
        "hex bytes",
    );
}

#[test]
fn code_and_storage_must_be_hex() {
    assert_field_error(
        parse_with("/alloc/2/code", json!("6000")),
        "alloc[2].code",
        "0x-prefixed hex bytes",
    );
    assert_field_error(
        parse_with("/alloc/2/storage", json!({ "0xzz": "0x1" })),
        "alloc[2].storage",
        "storage slot: expected a 32-byte hex word",
    );
    assert_field_error(
        parse_with(
            "/alloc/2/storage",
            json!({ "0x1": format!("0x{}", "1".repeat(65)) }),
        ),
        "alloc[2].storage",
        "value of slot \"0x1\"",
    );
}

#[test]
fn unknown_fields_are_rejected_by_name_at_every_level() {
    let mut value = valid_json();
    value["chain_id"] = json!(1);
    assert_field_error(parse(&value), "chain_id", "is not a known field");

    let mut value = valid_json();
    value["members"][1]["email"] = json!("x@example.org");
    assert_field_error(parse(&value), "members[1].email", "is not a known field");

    let mut value = valid_json();
    value["alloc"][2]["balanc"] = json!(1);
    assert_field_error(parse(&value), "alloc[2].balanc", "expected one of");
}

#[test]
fn missing_required_fields_are_named() {
    let mut value = valid_json();
    value.as_object_mut().unwrap().remove("treasury");
    assert_field_error(parse(&value), "treasury", "is required but missing");

    let mut value = valid_json();
    value["members"][1]
        .as_object_mut()
        .unwrap()
        .remove("peer_id");
    assert_field_error(
        parse(&value),
        "members[1].peer_id",
        "is required but missing",
    );
}

#[test]
fn duplicate_keys_are_rejected() {
    let text = valid_json().to_string().replacen(
        "\"epoch_length\":32",
        "\"epoch_length\":32,\"epoch_length\":64",
        1,
    );
    assert!(
        text.contains("\"epoch_length\":64"),
        "fixture text changed shape: {text}"
    );
    assert_field_error(
        GenesisSpec::from_json_str(&text),
        "epoch_length",
        "appears more than once",
    );
}

#[test]
fn unknown_crypto_suite_and_fee_split_are_named() {
    assert_field_error(
        parse_with("/crypto_suite", json!("ed25519")),
        "crypto_suite",
        "sm2-sm3",
    );
    assert_field_error(
        parse_with("/fee_split", json!("by-stake")),
        "fee_split",
        "by-weight",
    );
}

#[test]
fn malformed_json_reports_a_position() {
    let error = GenesisSpec::from_json_str("{\"chain_id_base\": 1,").unwrap_err();
    assert!(matches!(error, GenesisError::Syntax { .. }), "{error:?}");
    assert!(error.to_string().contains("line 1"), "{error}");

    let error = GenesisSpec::from_json_str("[1, 2]").unwrap_err();
    assert!(matches!(error, GenesisError::Syntax { .. }), "{error:?}");

    let error = GenesisSpec::from_json_str(&format!("{} trailing", valid_json())).unwrap_err();
    assert!(matches!(error, GenesisError::Syntax { .. }), "{error:?}");
}

#[test]
fn json_round_trip_preserves_the_spec() {
    let spec = parse(&valid_json()).unwrap();
    let again = GenesisSpec::from_json_str(&spec.to_json_pretty()).unwrap();
    assert_eq!(spec, again);
}

#[test]
fn defaults_apply_to_optional_fields() {
    let mut value = valid_json();
    let root = value.as_object_mut().unwrap();
    root.remove("fee_split");
    root.remove("alloc");
    value["members"][0]
        .as_object_mut()
        .unwrap()
        .remove("weight");
    let spec = parse(&value).unwrap();
    assert_eq!(spec.fee_split, FeeSplit::Equal);
    assert!(spec.alloc.is_empty());
    assert_eq!(spec.members[0].weight, 1);
    assert!(!spec.allow_zero_base_fee);
}
