//! The built-in development genesis and the well-known dev accounts.

use alloy_primitives::{Address, B256, U256};
use kaimeng_genesis::{
    CryptoSuite, DEV_BASE_FEE, DevKeyRole, DevOptions, GenesisSpec, check_peer_id, dev_accounts,
    dev_member_peer_id, dev_member_public_key, dev_member_secret,
};

/// The accounts and keys anvil 1.7.1 prints for `test test ... junk` (checked by running it).
const ANVIL_ACCOUNTS: [(&str, &str); 10] = [
    (
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    ),
    (
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    ),
    (
        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
        "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    ),
    (
        "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    ),
    (
        "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
        "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    ),
    (
        "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
        "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    ),
    (
        "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
        "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    ),
    (
        "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
        "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    ),
    (
        "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
        "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    ),
    (
        "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
        "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
    ),
];

#[test]
fn dev_accounts_are_the_ones_anvil_prints() {
    let accounts = dev_accounts(10);
    assert_eq!(accounts.len(), 10);
    for (account, (address, key)) in accounts.iter().zip(ANVIL_ACCOUNTS) {
        assert_eq!(account.address.to_checksum(None), address);
        assert_eq!(account.private_key, key.parse::<B256>().unwrap());
    }
}

#[test]
fn dev_account_keys_control_their_addresses() {
    for account in dev_accounts(3) {
        let signer =
            alloy_signer_local::PrivateKeySigner::from_bytes(&account.private_key).unwrap();
        assert_eq!(signer.address(), account.address);
    }
}

#[test]
fn dev_genesis_funds_ten_accounts_with_10000_eth_on_every_shard() {
    let spec = GenesisSpec::dev(&DevOptions {
        shards: 3,
        ..DevOptions::default()
    });
    let ten_thousand_eth = U256::from(10_000u64) * U256::from(10u64).pow(U256::from(18));
    for shard in 0..3 {
        let funded: Vec<(Address, U256)> = spec
            .alloc_for_shard(shard)
            .map(|a| (a.address, a.balance))
            .collect();
        let expected: Vec<(Address, U256)> = ANVIL_ACCOUNTS
            .iter()
            .map(|(address, _)| (address.parse().unwrap(), ten_thousand_eth))
            .collect();
        assert_eq!(funded, expected, "shard {shard}");
    }
}

#[test]
fn default_dev_genesis_is_valid_and_anvil_like() {
    let spec = GenesisSpec::dev(&DevOptions::default());
    spec.validate().expect("dev genesis is valid");
    assert_eq!(spec.chain_id(0), 31337);
    assert_eq!(spec.shard_count, 1);
    assert_eq!(spec.members.len(), 4);
    assert_eq!(spec.block_gas_limit, 30_000_000);
    assert_eq!(spec.initial_base_fee, 1_000_000_000);
    assert_eq!(spec.min_base_fee, DEV_BASE_FEE);
    assert_eq!(spec.crypto_suite, CryptoSuite::Secp256k1Keccak);
    assert_eq!(spec.members[2].organisation, "dev-member-2");
}

#[test]
fn dev_genesis_is_valid_across_options_and_suites() {
    for crypto_suite in CryptoSuite::ALL {
        for (validators, shards) in [(1, 1), (4, 2), (7, 64)] {
            let opts = DevOptions {
                validators,
                shards,
                crypto_suite,
                chain_id_base: 1,
                block_time_ms: 250,
                rollup_priority_expiry_seconds: 60,
                timestamp: 9,
            };
            let spec = GenesisSpec::dev(&opts);
            spec.validate().unwrap_or_else(|e| panic!("{opts:?}: {e}"));
            assert_eq!(spec.members.len() as u32, validators);
            assert_eq!(spec.chain_id(shards - 1), u64::from(shards));
            assert_eq!(spec.block_time_ms, 250);
            assert_eq!(spec.timestamp, 9);
        }
    }
}

#[test]
fn dev_genesis_is_deterministic() {
    let opts = DevOptions::default();
    assert_eq!(GenesisSpec::dev(&opts), GenesisSpec::dev(&opts));
    assert_eq!(
        GenesisSpec::dev(&opts).hash(),
        GenesisSpec::dev(&opts).hash()
    );
    let other = DevOptions {
        validators: 5,
        ..DevOptions::default()
    };
    assert_ne!(
        GenesisSpec::dev(&opts).hash(),
        GenesisSpec::dev(&other).hash()
    );
}

#[test]
fn dev_member_keys_have_suite_encodings() {
    let secp = dev_member_public_key(0, DevKeyRole::Consensus, CryptoSuite::Secp256k1Keccak);
    assert_eq!(secp.len(), 33);
    assert!(matches!(secp[0], 2 | 3));
    let sm2 = dev_member_public_key(0, DevKeyRole::Consensus, CryptoSuite::Sm2Sm3);
    assert_eq!(sm2.len(), 65);
    assert_eq!(sm2[0], 4);
    assert!(sm2::PublicKey::from_sec1_bytes(&sm2).is_ok());
}

#[test]
fn dev_member_public_keys_match_their_secrets() {
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    let secret = dev_member_secret(3, DevKeyRole::Admin, CryptoSuite::Secp256k1Keccak);
    let public = k256::SecretKey::from_slice(secret.as_slice())
        .unwrap()
        .public_key();
    assert_eq!(
        public.to_encoded_point(true).as_bytes(),
        dev_member_public_key(3, DevKeyRole::Admin, CryptoSuite::Secp256k1Keccak).as_slice()
    );
    let secret = dev_member_secret(3, DevKeyRole::Admin, CryptoSuite::Sm2Sm3);
    let public = sm2::SecretKey::from_slice(secret.as_slice())
        .unwrap()
        .public_key();
    assert_eq!(
        public.to_encoded_point(false).as_bytes(),
        dev_member_public_key(3, DevKeyRole::Admin, CryptoSuite::Sm2Sm3).as_slice()
    );
}

#[test]
fn dev_peer_ids_are_secp256k1_libp2p_ids() {
    let first = dev_member_peer_id(0);
    // libp2p prints inlined secp256k1 identities with this prefix.
    assert!(first.starts_with("16Uiu2HA"), "{first}");
    check_peer_id(&first).expect("valid peer id");
    assert_ne!(first, dev_member_peer_id(1));
    // The peer id embeds the p2p public key.
    let bytes = bs58::decode(&first).into_vec().unwrap();
    let public = dev_member_public_key(0, DevKeyRole::P2p, CryptoSuite::Sm2Sm3);
    assert_eq!(&bytes[6..], public.as_slice());
}

#[test]
fn more_than_ten_dev_accounts_extend_the_same_sequence() {
    let twelve = dev_accounts(12);
    assert_eq!(&twelve[..10], dev_accounts(10).as_slice());
    assert_eq!(dev_accounts(3).as_slice(), &twelve[..3]);
    // anvil 1.7.1 prints this as account (10) with `--accounts 12`.
    assert_eq!(
        twelve[10].address.to_checksum(None),
        "0xBcd4042DE499D14e55001CcbB24a551F3b954096"
    );
}
