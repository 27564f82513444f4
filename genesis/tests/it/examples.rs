//! The example files shipped in `genesis/examples/` and shown in `docs/genesis.md` parse and
//! validate.

use std::path::{Path, PathBuf};

use alloy_primitives::U256;
use kaimeng_genesis::{CryptoSuite, DevOptions, FeeSplit, GenesisSpec};

fn example(name: &str) -> PathBuf {
    manifest_dir().join("examples").join(name)
}

/// `examples/dev.json` is the default dev genesis (regenerate with
/// `KAIMENG_REGENERATE_EXAMPLES=1 cargo test -p kaimeng-genesis --test it examples`).
#[test]
fn dev_example_is_the_default_dev_genesis() {
    let path = example("dev.json");
    let expected = GenesisSpec::dev(&DevOptions::default());
    if std::env::var_os("KAIMENG_REGENERATE_EXAMPLES").is_some() {
        std::fs::write(&path, expected.to_json_pretty() + "\n").unwrap();
    }
    let loaded = GenesisSpec::load(&path).expect("examples/dev.json parses and validates");
    assert_eq!(loaded, expected);
    assert_eq!(loaded.hash(), expected.hash());
}

#[test]
fn consortium_example_parses_with_its_documented_meaning() {
    let spec =
        GenesisSpec::load(&example("consortium.json")).expect("examples/consortium.json is valid");
    assert_eq!(spec.crypto_suite, CryptoSuite::Sm2Sm3);
    assert_eq!(spec.chain_ids().collect::<Vec<_>>(), [8100, 8101]);
    assert_eq!(spec.min_base_fee, 10_000_000);
    assert_eq!(spec.initial_base_fee, 1_000_000_000);
    assert_eq!(spec.members.len(), 3);
    assert!(spec.members.iter().all(|m| m.consensus_key.len() == 65));
    let FeeSplit::Fixed(points) = &spec.fee_split else {
        panic!("fixed split expected")
    };
    assert_eq!(points.values().sum::<u32>(), 10_000);
    // 0x56bc75e2d63100000 wei is 100 ether, on shard 1 only.
    let on_shard_1: Vec<_> = spec.alloc_for_shard(1).collect();
    assert_eq!(on_shard_1.len(), 2);
    assert_eq!(
        on_shard_1[1].balance,
        U256::from(100u64) * U256::from(10u64).pow(U256::from(18))
    );
    let contract = spec
        .alloc_for_shard(0)
        .find(|a| a.code.is_some())
        .expect("a contract on shard 0");
    assert_eq!(contract.storage.len(), 2);
    assert!(spec.alloc_for_shard(1).all(|a| a.code.is_none()));
}

/// Every JSON block in `docs/genesis.md` that starts with `{` and mentions `chain_id_base` is a
/// complete genesis and must stay valid as the format evolves.
#[test]
fn genesis_documentation_examples_are_valid() {
    let doc = manifest_dir().join("../docs/genesis.md");
    let text = std::fs::read_to_string(&doc).expect("docs/genesis.md exists");
    let mut checked = 0;
    for block in text.split("```json").skip(1) {
        let body = block.split("```").next().unwrap_or_default();
        if body.trim_start().starts_with('{') && body.contains("\"chain_id_base\"") {
            GenesisSpec::from_json_str(body)
                .unwrap_or_else(|e| panic!("docs/genesis.md example: {e}\n{body}"));
            checked += 1;
        }
    }
    assert!(
        checked >= 1,
        "no complete genesis example found in docs/genesis.md"
    );
}

/// The crate's directory, read when the test runs: a test binary reused from another checkout
/// through a shared target directory must still read this checkout's files.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).to_owned())
}
