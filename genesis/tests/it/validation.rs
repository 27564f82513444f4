//! One test per validation rule, each checking that the error names the offending field.

use kaimeng_genesis::{
    CryptoSuite, DevKeyRole, GenesisSpec, MAX_BLOCK_GAS_LIMIT, MAX_CHAIN_ID, MIN_BLOCK_GAS_LIMIT,
    dev_member_public_key,
};
use serde_json::{Value, json};

use crate::support::{assert_field_error, parse, parse_with, valid_json};

fn hex_key(bytes: &[u8]) -> Value {
    json!(format!("0x{}", hex::encode(bytes)))
}

#[test]
fn chain_id_base_must_be_positive() {
    assert_field_error(
        parse_with("/chain_id_base", json!(0)),
        "chain_id_base",
        "at least 1",
    );
}

#[test]
fn every_shard_chain_id_must_fit_wallets() {
    // Two shards: the base itself fits, base + 1 does not.
    assert_field_error(
        parse_with("/chain_id_base", json!(MAX_CHAIN_ID)),
        "chain_id_base",
        "shard 1 would get a chain id above",
    );
    let spec = parse_with("/chain_id_base", json!(MAX_CHAIN_ID - 1)).unwrap();
    assert_eq!(spec.chain_id(1), MAX_CHAIN_ID);
}

#[test]
fn shard_count_is_1_to_64() {
    assert_field_error(
        parse_with("/shard_count", json!(0)),
        "shard_count",
        "must be 1 to 64",
    );
    assert_field_error(
        parse_with("/shard_count", json!(65)),
        "shard_count",
        "65 is out of range",
    );
    assert!(parse_with("/shard_count", json!(64)).is_ok());
}

#[test]
fn block_gas_limit_has_sane_bounds() {
    assert_field_error(
        parse_with("/block_gas_limit", json!(MIN_BLOCK_GAS_LIMIT - 1)),
        "block_gas_limit",
        "out of range",
    );
    assert_field_error(
        parse_with("/block_gas_limit", json!(MAX_BLOCK_GAS_LIMIT + 1)),
        "block_gas_limit",
        "out of range",
    );
    assert!(parse_with("/block_gas_limit", json!(MIN_BLOCK_GAS_LIMIT)).is_ok());
    assert!(parse_with("/block_gas_limit", json!(MAX_BLOCK_GAS_LIMIT)).is_ok());
}

#[test]
fn zero_min_base_fee_needs_explicit_permission() {
    let mut value = valid_json();
    value["min_base_fee"] = json!(0);
    value["initial_base_fee"] = json!(0);
    assert_field_error(parse(&value), "min_base_fee", "allow_zero_base_fee");
    value["allow_zero_base_fee"] = json!(true);
    let spec = parse(&value).expect("zero base fee is allowed when asked for");
    assert_eq!(spec.min_base_fee, 0);
    assert!(
        spec.to_json_pretty()
            .contains("\"allow_zero_base_fee\": true")
    );
}

#[test]
fn initial_base_fee_is_at_least_the_minimum() {
    let mut value = valid_json();
    value["min_base_fee"] = json!(7);
    value["initial_base_fee"] = json!(5);
    assert_eq!(
        parse(&value).unwrap_err().to_string(),
        "genesis field \"initial_base_fee\": 5 is below min_base_fee 7"
    );
}

#[test]
fn block_time_is_positive_and_bounded() {
    assert_field_error(
        parse_with("/block_time_ms", json!(0)),
        "block_time_ms",
        "must be 1 to",
    );
    assert_field_error(
        parse_with("/block_time_ms", json!(3_600_001)),
        "block_time_ms",
        "out of range",
    );
}

#[test]
fn epoch_length_is_positive() {
    assert_field_error(
        parse_with("/epoch_length", json!(0)),
        "epoch_length",
        "at least 1",
    );
}

#[test]
fn treasury_is_not_the_zero_address() {
    assert_field_error(
        parse_with("/treasury", json!(format!("0x{}", "0".repeat(40)))),
        "treasury",
        "zero address",
    );
}

#[test]
fn at_least_one_member() {
    assert_field_error(
        parse_with("/members", json!([])),
        "members",
        "at least one founding member",
    );
}

#[test]
fn organisation_names_are_unique_ignoring_case() {
    assert_field_error(
        parse_with("/members/1/organisation", json!("org a")),
        "members[1].organisation",
        "members[0]",
    );
}

#[test]
fn organisation_names_are_non_empty_and_tidy() {
    assert_field_error(
        parse_with("/members/1/organisation", json!("  ")),
        "members[1].organisation",
        "must not be empty",
    );
    assert_field_error(
        parse_with("/members/1/organisation", json!("Org B ")),
        "members[1].organisation",
        "whitespace",
    );
    assert_field_error(
        parse_with("/members/1/organisation", json!("x".repeat(65))),
        "members[1].organisation",
        "longer than 64",
    );
    assert_field_error(
        parse_with("/members/1/organisation", json!("Org\nB")),
        "members[1].organisation",
        "control characters",
    );
}

#[test]
fn keys_must_have_a_valid_length_for_the_suite() {
    assert_field_error(
        parse_with("/members/0/admin_key", hex_key(&[2u8; 32])),
        "members[0].admin_key",
        "got 32 bytes",
    );
    // A 65-byte key with a compressed prefix.
    let mut bad = vec![0x02u8];
    bad.extend([1u8; 64]);
    assert_field_error(
        parse_with("/members/1/consensus_key", hex_key(&bad)),
        "members[1].consensus_key",
        "starting with 0x02",
    );
}

#[test]
fn keys_must_be_points_on_the_suite_curve() {
    // x = 5 has no point on secp256k1 (5^3 + 7 = 132 is not a square mod p).
    let mut off_curve = vec![0x02u8];
    off_curve.extend([0u8; 31]);
    off_curve.push(5);
    assert_field_error(
        parse_with("/members/0/consensus_key", hex_key(&off_curve)),
        "members[0].consensus_key",
        "not a point on the secp256k1 curve",
    );
    // A VRF key is an RFC 9381 Edwards25519 key whatever the suite.
    assert_field_error(
        parse_with("/members/0/vrf_key", hex_key(&off_curve)),
        "members[0].vrf_key",
        "a VRF public key is 32 bytes, got 33",
    );
    let mut identity = vec![1u8];
    identity.extend([0u8; 31]);
    assert_field_error(
        parse_with("/members/0/vrf_key", hex_key(&identity)),
        "members[0].vrf_key",
        "small order",
    );
}

fn uncompressed_secp256k1(index: u32, role: DevKeyRole) -> Vec<u8> {
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    let compressed = dev_member_public_key(index, role, CryptoSuite::Secp256k1Keccak);
    k256::PublicKey::from_sec1_bytes(&compressed)
        .unwrap()
        .to_encoded_point(false)
        .as_bytes()
        .to_vec()
}

#[test]
fn keys_of_one_suite_are_rejected_by_the_other() {
    // Uncompressed keys carry both coordinates, so a point of one curve is not on the other.
    let mut value = valid_json();
    value["crypto_suite"] = json!("sm2-sm3");
    value["members"][0]["admin_key"] = hex_key(&uncompressed_secp256k1(0, DevKeyRole::Admin));
    assert_field_error(
        parse(&value),
        "members[0].admin_key",
        "not a point on the SM2 curve (crypto suite sm2-sm3)",
    );

    let sm2_key = dev_member_public_key(1, DevKeyRole::Consensus, CryptoSuite::Sm2Sm3);
    assert_field_error(
        parse_with("/members/1/consensus_key", hex_key(&sm2_key)),
        "members[1].consensus_key",
        "not a point on the secp256k1 curve (crypto suite secp256k1-keccak)",
    );
}

#[test]
fn sm2_members_with_sm2_keys_are_valid() {
    let mut value = valid_json();
    value["crypto_suite"] = json!("sm2-sm3");
    for index in 0..2u32 {
        for (field, role) in [
            ("admin_key", DevKeyRole::Admin),
            ("consensus_key", DevKeyRole::Consensus),
            ("vrf_key", DevKeyRole::Vrf),
        ] {
            value["members"][index as usize][field] =
                hex_key(&dev_member_public_key(index, role, CryptoSuite::Sm2Sm3));
        }
    }
    let spec = parse(&value).expect("SM2 keys are valid for sm2-sm3");
    assert_eq!(spec.crypto_suite, CryptoSuite::Sm2Sm3);
    assert_eq!(spec.members[0].admin_key.len(), 65);
}

#[test]
fn keys_are_unique_across_members_and_roles() {
    let value = valid_json();
    let reused = value["members"][0]["consensus_key"].clone();
    assert_field_error(
        parse_with("/members/1/admin_key", reused),
        "members[1].admin_key",
        "\"members[0].consensus_key\"",
    );
    let own_admin = value["members"][0]["admin_key"].clone();
    assert_field_error(
        parse_with("/members/0/consensus_key", own_admin),
        "members[0].consensus_key",
        "must be distinct",
    );
    let vrf = value["members"][0]["vrf_key"].clone();
    assert_field_error(
        parse_with("/members/1/vrf_key", vrf),
        "members[1].vrf_key",
        "\"members[0].vrf_key\"",
    );
}

#[test]
fn compressed_and_uncompressed_forms_of_one_key_are_the_same_key() {
    let uncompressed = uncompressed_secp256k1(0, DevKeyRole::Admin);
    assert_field_error(
        parse_with("/members/1/admin_key", hex_key(&uncompressed)),
        "members[1].admin_key",
        "same key",
    );
    // The uncompressed form alone is a valid key.
    assert!(parse_with("/members/0/admin_key", hex_key(&uncompressed)).is_ok());
}

#[test]
fn peer_ids_must_be_libp2p_multihashes() {
    assert_field_error(
        parse_with("/members/0/peer_id", json!("not-a-peer-id!")),
        "members[0].peer_id",
        "not base58",
    );
    // Valid base58 of bytes that are not a multihash.
    let not_multihash = bs58::encode([0x55u8, 3, 1, 2, 3]).into_string();
    assert_field_error(
        parse_with("/members/0/peer_id", json!(not_multihash)),
        "members[0].peer_id",
        "multihash code 0x55",
    );
    let wrong_length = bs58::encode([0x12u8, 20, 0, 0, 0]).into_string();
    assert_field_error(
        parse_with("/members/0/peer_id", json!(wrong_length)),
        "members[0].peer_id",
        "length",
    );
}

#[test]
fn ed25519_and_hashed_peer_id_forms_are_accepted() {
    // An ed25519 key inlined as an identity multihash (libp2p's default identity) ...
    let mut ed25519 = vec![0x00u8, 36, 0x08, 0x01, 0x12, 32];
    ed25519.extend([7u8; 32]);
    let ed25519 = bs58::encode(ed25519).into_string();
    assert!(ed25519.starts_with("12D3KooW"), "{ed25519}");
    // ... and a sha2-256 multihash of a larger key (RSA).
    let mut hashed = vec![0x12u8, 32];
    hashed.extend([9u8; 32]);
    let hashed = bs58::encode(hashed).into_string();
    assert!(hashed.starts_with("Qm"), "{hashed}");
    for peer_id in [ed25519, hashed] {
        let spec = parse_with("/members/0/peer_id", json!(peer_id))
            .unwrap_or_else(|e| panic!("{peer_id}: {e}"));
        assert_eq!(spec.members[0].peer_id, peer_id);
    }
}

#[test]
fn peer_ids_are_unique() {
    let value = valid_json();
    let first = value["members"][0]["peer_id"].clone();
    assert_field_error(
        parse_with("/members/1/peer_id", first),
        "members[1].peer_id",
        "already the peer id of members[0]",
    );
}

#[test]
fn fee_recipients_are_not_zero() {
    assert_field_error(
        parse_with(
            "/members/1/fee_recipient",
            json!(format!("0x{}", "0".repeat(40))),
        ),
        "members[1].fee_recipient",
        "zero address",
    );
}

#[test]
fn weights_are_at_least_one() {
    assert_field_error(
        parse_with("/members/1/weight", json!(0)),
        "members[1].weight",
        "at least 1",
    );
}

#[test]
fn fixed_fee_split_names_only_members() {
    let split = json!({ "fixed": { "Org A": 5000, "Org B": 4000, "Org C": 1000 } });
    assert_field_error(
        parse_with("/fee_split", split),
        "fee_split.fixed.Org C",
        "not the organisation of any member",
    );
}

#[test]
fn fixed_fee_split_lists_every_member() {
    let split = json!({ "fixed": { "Org A": 10000 } });
    assert_field_error(
        parse_with("/fee_split", split),
        "fee_split.fixed",
        "no entry for member \"Org B\"",
    );
}

#[test]
fn fixed_fee_split_sums_to_10000_basis_points() {
    let split = json!({ "fixed": { "Org A": 5000, "Org B": 4000 } });
    assert_field_error(
        parse_with("/fee_split", split),
        "fee_split.fixed",
        "sum to 9000",
    );
    let split = json!({ "fixed": { "Org A": 10000, "Org B": 0 } });
    assert!(parse_with("/fee_split", split).is_ok());
}

#[test]
fn by_weight_fee_split_parses() {
    let spec = parse_with("/fee_split", json!("by-weight")).unwrap();
    assert_eq!(spec.fee_split, kaimeng_genesis::FeeSplit::ByWeight);
}

#[test]
fn alloc_shards_must_exist() {
    assert_field_error(
        parse_with("/alloc/1/shards", json!([0, 2])),
        "alloc[1].shards[1]",
        "shard 2 does not exist (shard_count is 2)",
    );
}

#[test]
fn alloc_shards_are_listed_once_and_not_empty() {
    assert_field_error(
        parse_with("/alloc/1/shards", json!([1, 1])),
        "alloc[1].shards[1]",
        "listed twice",
    );
    assert_field_error(
        parse_with("/alloc/1/shards", json!([])),
        "alloc[1].shards",
        "is empty",
    );
}

#[test]
fn alloc_addresses_are_unique_per_shard() {
    // alloc[0] is on every shard, so repeating its address on shard 1 collides.
    let mut value = valid_json();
    value["alloc"][1]["address"] = value["alloc"][0]["address"].clone();
    assert_field_error(
        parse(&value),
        "alloc[1].address",
        "already allocated on shard 1 by alloc[0]",
    );
    // The same address on disjoint shards is fine.
    let mut value = valid_json();
    value["alloc"][2]["address"] = value["alloc"][1]["address"].clone();
    let spec = parse(&value).expect("disjoint shards may share an address");
    assert_eq!(spec.alloc_for_shard(0).count(), 2);
    assert_eq!(spec.alloc_for_shard(1).count(), 2);
}

#[test]
fn alloc_nonce_is_below_the_eip_2681_limit() {
    assert_field_error(
        parse_with("/alloc/2/nonce", json!(u64::MAX)),
        "alloc[2].nonce",
        "EIP-2681",
    );
}

#[test]
fn alloc_code_is_not_empty() {
    assert_field_error(
        parse_with("/alloc/2/code", json!("0x")),
        "alloc[2].code",
        "omit the field",
    );
}

#[test]
fn alloc_totals_fit_256_bits() {
    let max = format!("0x{}", "f".repeat(64));
    let mut value = valid_json();
    value["alloc"][0]["balance"] = json!(max);
    assert_field_error(
        parse(&value),
        "alloc",
        "balances on shard 1 add up to more than",
    );
}

#[test]
fn all_problems_are_reported_together() {
    let mut value = valid_json();
    value["epoch_length"] = json!(0);
    value["members"][1]["weight"] = json!(0);
    let spec: GenesisSpec = serde_json::from_value(value).expect("shape is fine");
    let fields: Vec<String> = spec
        .problems()
        .iter()
        .filter_map(|p| p.field_path().map(str::to_owned))
        .collect();
    assert_eq!(fields, ["epoch_length", "members[1].weight"]);
    assert_eq!(
        spec.validate().unwrap_err().field_path(),
        Some("epoch_length")
    );
}

#[test]
fn the_cross_shard_contract_address_cannot_be_allocated() {
    let mut value = valid_json();
    value["alloc"][1]["address"] = json!("0x000000000000000000000000000000000000c5c5");
    assert_field_error(
        parse(&value),
        "alloc[1].address",
        "is the cross-shard system contract",
    );
}

#[test]
fn a_rollup_needs_a_sane_shape_and_expiry_and_its_bridge_address_is_reserved() {
    let rollup = json!({
        "chunk_slots": 2,
        "chunk_k": 13,
        "sequencer": "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
        "priority_expiry_seconds": 3600
    });
    let with_rollup = |rollup: Value| {
        let mut value = valid_json();
        value["rollup"] = rollup;
        value
    };
    let spec = parse(&with_rollup(rollup.clone())).unwrap();
    // Genesis places the bridge on shard 0 itself, with the sequencer and expiry in its
    // storage slots 0 and 1.
    let bridge = spec.system_accounts(0);
    assert_eq!(bridge.len(), 1);
    assert_eq!(bridge[0].address, kaimeng_genesis::BRIDGE_ADDRESS);
    assert!(
        bridge[0]
            .code
            .as_ref()
            .is_some_and(|code| code.len() > 1_000)
    );
    assert!(spec.system_accounts(1).is_empty());
    let with = |field: &str, value: Value| {
        let mut rollup = rollup.clone();
        rollup[field] = value;
        parse(&with_rollup(rollup))
    };
    assert_field_error(with("chunk_k", json!(9)), "rollup.chunk_k", "out of range");
    assert_field_error(
        with("chunk_slots", json!(0)),
        "rollup.chunk_slots",
        "at least 1",
    );
    assert_field_error(
        with("priority_expiry_seconds", json!(0)),
        "rollup.priority_expiry_seconds",
        "at least 1 second",
    );
    // An alloc entry at the bridge's address is refused.
    let mut value = with_rollup(rollup);
    value["alloc"]
        .as_array_mut()
        .unwrap()
        .push(json!({"address": kaimeng_genesis::BRIDGE_ADDRESS.to_string(), "balance": "1"}));
    assert_field_error(parse(&value), "alloc", "rollup bridge's address");
}
