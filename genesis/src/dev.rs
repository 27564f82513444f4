//! The built-in development genesis: the ten well-known accounts of the `test ... junk`
//! mnemonic funded on every shard (as anvil and Hardhat do), and `validators` placeholder members
//! whose keys derive from fixed seeds, so every run of `kaimeng dev` starts from the same genesis.

use std::sync::OnceLock;

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_signer_local::{MnemonicBuilder, coins_bip39::English};

use crate::fee_split::FeeSplit;
use crate::hex_bytes::HexBytes;
use crate::peer_id::secp256k1_peer_id;
use crate::spec::{GenesisAccount, GenesisSpec, Member, RollupSpec};
use crate::suite::CryptoSuite;

/// The mnemonic of the well-known development accounts (anvil, Hardhat, Foundry).
pub const DEV_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// BIP-44 path prefix of the development accounts; account `i` is at `m/44'/60'/0'/0/i`.
pub const DEV_DERIVATION_PREFIX: &str = "m/44'/60'/0'/0/";
/// How many development accounts the dev genesis funds.
pub const DEV_ACCOUNT_COUNT: usize = 10;
/// Balance of each development account, in ether, on every shard.
pub const DEV_ACCOUNT_ETHER: u64 = 10_000;
/// One gwei in wei.
pub const GWEI: u128 = 1_000_000_000;
/// One ether in wei.
pub const ETHER: u128 = 1_000_000_000_000_000_000;
/// Minimum and initial base fee of the dev genesis: 1 gwei, anvil's starting base fee.
pub const DEV_BASE_FEE: u128 = GWEI;
/// Block gas limit of the dev genesis: anvil's default, 30 million.
pub const DEV_BLOCK_GAS_LIMIT: u64 = 30_000_000;
/// Epoch length of the dev genesis, in beacon blocks.
pub const DEV_EPOCH_LENGTH: u64 = 32;

/// Choices for the development genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevOptions {
    /// Number of placeholder members (validators). Default 4.
    pub validators: u32,
    /// Number of shards. Default 1.
    pub shards: u32,
    /// Chain id of shard 0. Default 31337, like anvil and Hardhat.
    pub chain_id_base: u64,
    /// Default `secp256k1-keccak`.
    pub crypto_suite: CryptoSuite,
    /// Default 1,000 ms.
    pub block_time_ms: u64,
    /// The rollup bridge's wait before exodus, in seconds. Default one hour.
    pub rollup_priority_expiry_seconds: u64,
    /// Genesis time in unix seconds. Default 0, so the dev genesis (and its hash) is the same on
    /// every run; `kaimeng dev` may set the current time when it creates a fresh data directory.
    pub timestamp: u64,
}

impl Default for DevOptions {
    fn default() -> Self {
        DevOptions {
            validators: 4,
            shards: 1,
            chain_id_base: 31337,
            crypto_suite: CryptoSuite::Secp256k1Keccak,
            block_time_ms: 1_000,
            rollup_priority_expiry_seconds: 3_600,
            timestamp: 0,
        }
    }
}

/// The dev network's rollup sequencer: the last dev account.
pub fn dev_sequencer() -> Address {
    dev_accounts(DEV_ACCOUNT_COUNT)[DEV_ACCOUNT_COUNT - 1].address
}

/// A development account: its address and private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevAccount {
    pub address: Address,
    pub private_key: B256,
}

/// The first `count` accounts of `DEV_MNEMONIC` at `m/44'/60'/0'/0/i` (the keys anvil prints).
/// The first `DEV_ACCOUNT_COUNT` are derived once per process and cached (derivation costs about
/// 10 ms: PBKDF2 with 2,048 rounds, then BIP-32).
pub fn dev_accounts(count: usize) -> Vec<DevAccount> {
    static FIRST: OnceLock<Vec<DevAccount>> = OnceLock::new();
    if count <= DEV_ACCOUNT_COUNT {
        let first = FIRST.get_or_init(|| derive_dev_accounts(DEV_ACCOUNT_COUNT));
        return first[..count].to_vec();
    }
    derive_dev_accounts(count)
}

fn derive_dev_accounts(count: usize) -> Vec<DevAccount> {
    let parent = MnemonicBuilder::<English>::default()
        .phrase(DEV_MNEMONIC)
        .build_parent_key()
        .expect("the built-in dev mnemonic is a valid BIP-39 phrase");
    parent
        .children()
        .take(count)
        .map(|signer| {
            let signer = signer.expect("non-hardened BIP-32 child derivation of the dev key");
            DevAccount {
                address: signer.address(),
                private_key: B256::from_slice(&signer.credential().to_bytes()),
            }
        })
        .collect()
}

/// A key a dev member holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevKeyRole {
    Admin,
    Consensus,
    Vrf,
    /// The libp2p identity key (always secp256k1: libp2p has no SM2 keys).
    P2p,
}

impl DevKeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            DevKeyRole::Admin => "admin",
            DevKeyRole::Consensus => "consensus",
            DevKeyRole::Vrf => "vrf",
            DevKeyRole::P2p => "p2p",
        }
    }
}

/// The seed of dev member `index`'s `role` key: `keccak256("kaimeng-dev-member-{index}-{role}")`.
pub fn dev_member_seed(index: u32, role: DevKeyRole) -> B256 {
    keccak256(format!("kaimeng-dev-member-{index}-{}", role.as_str()))
}

/// The secret scalar of dev member `index`'s `role` key on `suite`: the seed if it is a valid
/// scalar of the curve, else the first valid one of `keccak256(seed)`, `keccak256(keccak256(seed))`, ...
/// (a seed is invalid with probability about 2^-128). `P2p` keys are secp256k1 whatever the suite.
pub fn dev_member_secret(index: u32, role: DevKeyRole, suite: CryptoSuite) -> B256 {
    let curve = if role == DevKeyRole::P2p {
        CryptoSuite::Secp256k1Keccak
    } else {
        suite
    };
    let mut candidate = dev_member_seed(index, role);
    while !is_valid_scalar(curve, &candidate) {
        candidate = keccak256(candidate);
    }
    candidate
}

fn is_valid_scalar(suite: CryptoSuite, bytes: &B256) -> bool {
    match suite {
        CryptoSuite::Secp256k1Keccak => k256::SecretKey::from_slice(bytes.as_slice()).is_ok(),
        CryptoSuite::Sm2Sm3 => sm2::SecretKey::from_slice(bytes.as_slice()).is_ok(),
    }
}

/// The public key of dev member `index`'s `role` key: 33-byte compressed secp256k1, or 65-byte
/// uncompressed SM2.
pub fn dev_member_public_key(index: u32, role: DevKeyRole, suite: CryptoSuite) -> Vec<u8> {
    let secret = dev_member_secret(index, role, suite);
    if role == DevKeyRole::Vrf {
        return kaimeng_crypto::vrf::VrfSecretKey::from_bytes(&secret.0)
            .public_key()
            .to_bytes()
            .to_vec();
    }
    let curve = if role == DevKeyRole::P2p {
        CryptoSuite::Secp256k1Keccak
    } else {
        suite
    };
    match curve {
        CryptoSuite::Secp256k1Keccak => {
            use k256::elliptic_curve::sec1::ToEncodedPoint;
            let key = k256::SecretKey::from_slice(secret.as_slice())
                .expect("dev_member_secret returns a valid secp256k1 scalar");
            key.public_key().to_encoded_point(true).as_bytes().to_vec()
        }
        CryptoSuite::Sm2Sm3 => {
            use sm2::elliptic_curve::sec1::ToEncodedPoint;
            let key = sm2::SecretKey::from_slice(secret.as_slice())
                .expect("dev_member_secret returns a valid SM2 scalar");
            key.public_key().to_encoded_point(false).as_bytes().to_vec()
        }
    }
}

/// The libp2p peer id of dev member `index` (a secp256k1 identity from its `P2p` secret).
pub fn dev_member_peer_id(index: u32) -> String {
    let public = dev_member_public_key(index, DevKeyRole::P2p, CryptoSuite::Secp256k1Keccak);
    let compressed: [u8; 33] = public
        .try_into()
        .expect("compressed secp256k1 public keys are 33 bytes");
    secp256k1_peer_id(&compressed)
}

/// Organisation name of dev member `index`.
pub fn dev_member_name(index: u32) -> String {
    format!("dev-member-{index}")
}

/// The fee recipient of dev member `index`: the last 20 bytes of
/// `keccak256("kaimeng-dev-member-{index}-fee")`, an address nobody holds a key for.
pub fn dev_member_fee_recipient(index: u32) -> Address {
    Address::from_word(keccak256(format!("kaimeng-dev-member-{index}-fee")))
}

/// The dev treasury: the last 20 bytes of `keccak256("kaimeng-dev-treasury")`.
pub fn dev_treasury() -> Address {
    Address::from_word(keccak256("kaimeng-dev-treasury"))
}

/// Balance of each development account, in wei.
pub fn dev_account_balance() -> U256 {
    U256::from(DEV_ACCOUNT_ETHER) * U256::from(ETHER)
}

/// Dev member `index` with keys for `suite`.
pub fn dev_member(index: u32, suite: CryptoSuite) -> Member {
    let key = |role| HexBytes(dev_member_public_key(index, role, suite));
    Member {
        organisation: dev_member_name(index),
        admin_key: key(DevKeyRole::Admin),
        consensus_key: key(DevKeyRole::Consensus),
        vrf_key: key(DevKeyRole::Vrf),
        peer_id: dev_member_peer_id(index),
        fee_recipient: dev_member_fee_recipient(index),
        weight: 1,
    }
}

/// The development genesis for `opts`. Valid whenever `opts.validators >= 1`,
/// `1 <= opts.shards <= 64`, `opts.chain_id_base >= 1` and `opts.block_time_ms` is 1 to 3,600,000.
pub fn dev_genesis(opts: &DevOptions) -> GenesisSpec {
    let balance = dev_account_balance();
    GenesisSpec {
        chain_id_base: opts.chain_id_base,
        shard_count: opts.shards,
        block_gas_limit: DEV_BLOCK_GAS_LIMIT,
        min_base_fee: DEV_BASE_FEE,
        initial_base_fee: DEV_BASE_FEE,
        allow_zero_base_fee: false,
        block_time_ms: opts.block_time_ms,
        epoch_length: DEV_EPOCH_LENGTH,
        timestamp: opts.timestamp,
        crypto_suite: opts.crypto_suite,
        treasury: dev_treasury(),
        fee_split: FeeSplit::Equal,
        members: (0..opts.validators)
            .map(|index| dev_member(index, opts.crypto_suite))
            .collect(),
        alloc: dev_accounts(DEV_ACCOUNT_COUNT)
            .into_iter()
            .map(|account| GenesisAccount::funded(account.address, balance))
            .collect(),
        committee_size: None,
        rollup: Some(RollupSpec {
            chunk_slots: RollupSpec::DEV_SHAPE.0,
            chunk_k: RollupSpec::DEV_SHAPE.1,
            sequencer: dev_sequencer(),
            priority_expiry_seconds: opts.rollup_priority_expiry_seconds,
        }),
    }
}
