//! Kaimeng genesis: the file every node of a network starts from.
//!
//! - `spec`: the data model (`GenesisSpec`, `Member`, `GenesisAccount`) and its JSON form;
//! - `parse` and `validate`: reading JSON and the rules, with errors naming the field by JSON path;
//! - `canonical`: the encoding whose keccak256 is the genesis hash;
//! - `dev`: the built-in development genesis and the well-known dev accounts;
//! - `cli`: helpers behind `kaimeng genesis create-dev` / `check`.
//!
//! The file format is documented in `docs/genesis.md`.

pub mod bridge;
mod canonical;
pub mod cli;
mod dev;
mod error;
mod fee_split;
mod hex_bytes;
pub mod hex_text;
mod parse;
mod peer_id;
mod spec;
mod suite;
mod validate;

use std::path::Path;

use alloy_primitives::B256;

pub use bridge::BRIDGE_ADDRESS;
pub use canonical::{ENCODING_TAG, canonical_bytes};
pub use dev::{
    DEV_ACCOUNT_COUNT, DEV_ACCOUNT_ETHER, DEV_BASE_FEE, DEV_BLOCK_GAS_LIMIT, DEV_DERIVATION_PREFIX,
    DEV_EPOCH_LENGTH, DEV_MNEMONIC, DevAccount, DevKeyRole, DevOptions, ETHER, GWEI,
    dev_account_balance, dev_accounts, dev_member, dev_member_fee_recipient, dev_member_name,
    dev_member_peer_id, dev_member_public_key, dev_member_secret, dev_member_seed, dev_sequencer,
    dev_treasury,
};
pub use error::{GenesisError, TextPosition};
pub use fee_split::{BASIS_POINTS_TOTAL, FeePayout, FeeSplit};
pub use hex_bytes::HexBytes;
pub use peer_id::{check_peer_id, secp256k1_peer_id};
pub use spec::{GenesisAccount, GenesisSpec, Member, RollupSpec};
pub use suite::{CryptoSuite, UnknownCryptoSuite};

/// The cross-shard system contract, at the same address on every shard (`kaimeng-shards`
/// runs it); genesis may not allocate it.
pub const CROSS_SHARD_ADDRESS: alloy_primitives::Address =
    alloy_primitives::address!("000000000000000000000000000000000000c5c5");
pub use validate::{
    MAX_BLOCK_GAS_LIMIT, MAX_BLOCK_TIME_MS, MAX_CHAIN_ID, MAX_ORGANISATION_LEN, MAX_SHARDS,
    MIN_BLOCK_GAS_LIMIT,
};

impl GenesisSpec {
    /// Parses genesis JSON and validates it.
    pub fn from_json_str(text: &str) -> Result<GenesisSpec, GenesisError> {
        let spec = parse::parse_unvalidated(text)?;
        spec.validate()?;
        Ok(spec)
    }

    /// Reads, parses and validates the genesis file at `path`.
    pub fn load(path: &Path) -> Result<GenesisSpec, GenesisError> {
        let text = std::fs::read_to_string(path).map_err(|source| GenesisError::Read {
            path: path.to_owned(),
            source,
        })?;
        GenesisSpec::from_json_str(&text)
    }

    /// Checks every rule; returns the first violation.
    pub fn validate(&self) -> Result<(), GenesisError> {
        match validate::problems(self).into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// Every rule violation, in field order (empty when valid).
    pub fn problems(&self) -> Vec<GenesisError> {
        validate::problems(self)
    }

    /// The genesis as pretty-printed JSON, in the documented format.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self)
            .expect("a genesis serializes to JSON: string keys, no floats")
    }

    /// keccak256 of the canonical encoding: equal for two nodes exactly when they share a genesis.
    pub fn hash(&self) -> B256 {
        canonical::genesis_hash(self)
    }

    /// The built-in development genesis.
    pub fn dev(opts: &DevOptions) -> GenesisSpec {
        dev::dev_genesis(opts)
    }
}
