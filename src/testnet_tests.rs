//! A generated testnet keeps every member's VRF secret in an SM4 keystore beside its consensus
//! key, and the secret is the one whose public key genesis records for the member.

use kaimeng_crypto::keystore::{load_keystore, read_keystore};
use kaimeng_genesis::{CryptoSuite, GenesisSpec};

use super::{
    ADMIN_KEYSTORE, CONSENSUS_KEYSTORE, TestnetPlan, VRF_KEYSTORE, generate, genesis_key,
    member_dir, vrf_public_key,
};

fn plan(dir: &std::path::Path, suite: CryptoSuite) -> TestnetPlan {
    TestnetPlan {
        dir: dir.to_path_buf(),
        validators: 3,
        chain_id: 8_800,
        suite,
        p2p_port: 30_000,
        rpc_port: 31_000,
        shards: 1,
        committee_size: None,
        metrics_port: 32_000,
        kdf_iterations: 1,
        block_time_ms: 500,
        epoch_length: kaimeng_genesis::DEV_EPOCH_LENGTH,
    }
}

fn check_vrf_keystores(suite: CryptoSuite) {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path(), suite);
    let testnet = generate(&plan).unwrap();
    let genesis = GenesisSpec::load(&testnet.genesis).unwrap();
    assert_eq!(genesis.members.len(), 3);
    for (i, member) in genesis.members.iter().enumerate() {
        let member_dir = member_dir(dir.path(), i as u32);
        let password = std::fs::read_to_string(member_dir.join("password")).unwrap();
        let stored = read_keystore(&member_dir.join(VRF_KEYSTORE)).unwrap();
        assert_eq!(stored.suite, crate::consensus_suite(suite), "member {i}");
        let vrf = load_keystore(&member_dir.join(VRF_KEYSTORE), &password).unwrap();
        assert_eq!(
            vrf_public_key(&vrf),
            member.vrf_key,
            "member {i}: the keystore's VRF secret is the genesis VRF key's"
        );
        let consensus = load_keystore(&member_dir.join(CONSENSUS_KEYSTORE), &password).unwrap();
        let admin = load_keystore(&member_dir.join(ADMIN_KEYSTORE), &password).unwrap();
        assert_eq!(genesis_key(&consensus), member.consensus_key, "member {i}");
        assert_eq!(genesis_key(&admin), member.admin_key, "member {i}");
        assert!(
            load_keystore(&member_dir.join(VRF_KEYSTORE), "not the password").is_err(),
            "member {i}: the VRF keystore is encrypted"
        );
    }
}

#[test]
fn every_members_vrf_secret_is_kept_in_its_keystore_sm2() {
    check_vrf_keystores(CryptoSuite::Sm2Sm3);
}

#[test]
fn every_members_vrf_secret_is_kept_in_its_keystore_secp256k1() {
    check_vrf_keystores(CryptoSuite::Secp256k1Keccak);
}
