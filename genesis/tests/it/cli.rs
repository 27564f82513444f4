//! The `kaimeng genesis` helpers: create the dev file, refuse to overwrite, check and summarise.

use alloy_primitives::U256;
use kaimeng_genesis::cli::{GenesisSummary, check_file, create_dev_file, format_ether};
use kaimeng_genesis::{DevOptions, GenesisError, GenesisSpec};

#[test]
fn create_then_check_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genesis.json");
    let opts = DevOptions {
        shards: 2,
        ..DevOptions::default()
    };
    create_dev_file(&path, &opts, false).unwrap();
    let summary = check_file(&path).unwrap();
    assert_eq!(summary, GenesisSummary::of(&GenesisSpec::dev(&opts)));
    assert_eq!(summary.hash, GenesisSpec::dev(&opts).hash());
    let text = summary.to_string();
    for needle in [
        "chain ids 31337, 31338",
        "dev-member-3",
        "shard 1 (chain id 31338): 10 accounts, 100000 ETH",
        &format!("{}", summary.hash),
    ] {
        assert!(text.contains(needle), "summary lacks {needle:?}:\n{text}");
    }
}

#[test]
fn create_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genesis.json");
    std::fs::write(&path, "keep me").unwrap();
    let error = create_dev_file(&path, &DevOptions::default(), false).unwrap_err();
    assert!(
        matches!(error, GenesisError::AlreadyExists { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("--force"), "{error}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
    create_dev_file(&path, &DevOptions::default(), true).unwrap();
    assert!(check_file(&path).is_ok());
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "temporary file left behind");
}

#[test]
fn create_refuses_invalid_options_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genesis.json");
    let error = create_dev_file(
        &path,
        &DevOptions {
            validators: 0,
            ..DevOptions::default()
        },
        false,
    )
    .unwrap_err();
    assert_eq!(error.field_path(), Some("members"));
    assert!(!path.exists());
}

#[test]
fn check_names_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.json");
    let error = check_file(&path).unwrap_err();
    assert!(matches!(error, GenesisError::Read { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
}

#[test]
fn check_reports_the_bad_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("genesis.json");
    create_dev_file(&path, &DevOptions::default(), false).unwrap();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"epoch_length\": 32", "\"epoch_length\": 0");
    std::fs::write(&path, text).unwrap();
    let error = check_file(&path).unwrap_err();
    assert_eq!(
        error.to_string(),
        "genesis field \"epoch_length\": must be at least 1 beacon block"
    );
}

#[test]
fn ether_formatting() {
    let ether = U256::from(10u64).pow(U256::from(18));
    assert_eq!(format_ether(ether * U256::from(3)), "3");
    assert_eq!(format_ether(ether + ether / U256::from(2)), "1.5");
    assert_eq!(format_ether(U256::from(1)), "0.000000000000000001");
}
