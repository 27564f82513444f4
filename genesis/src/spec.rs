//! The genesis data model: `GenesisSpec` and its parts, with their JSON form.
//!
//! Parsing lives in `parse`, the rules in `validate`, the identity hash in `canonical`.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256};
use serde::{Deserialize, Serialize};

use crate::fee_split::FeeSplit;
use crate::hex_bytes::HexBytes;
use crate::hex_text::{
    address, lenient_u32, lenient_u64, lenient_u128, lenient_u256, optional_code, storage,
};
use crate::suite::CryptoSuite;

/// Everything every node of a Kaimeng network must agree on before the first block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisSpec {
    /// Shard `i` has EVM chain id `chain_id_base + i`.
    #[serde(with = "lenient_u64")]
    pub chain_id_base: u64,
    /// Number of execution shards, 1 to 64.
    #[serde(with = "lenient_u32")]
    pub shard_count: u32,
    /// Gas limit of every shard block.
    #[serde(with = "lenient_u64")]
    pub block_gas_limit: u64,
    /// Floor of the EIP-1559 base fee, in wei. Zero only with `allow_zero_base_fee`.
    #[serde(with = "lenient_u128")]
    pub min_base_fee: u128,
    /// Base fee of the first block of every shard, in wei; at least `min_base_fee`.
    #[serde(with = "lenient_u128")]
    pub initial_base_fee: u128,
    /// Must be `true` for `min_base_fee` to be zero (a fee-free chain is a deliberate choice).
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_zero_base_fee: bool,
    /// Target interval between blocks, in milliseconds.
    #[serde(with = "lenient_u64")]
    pub block_time_ms: u64,
    /// Beacon blocks per epoch.
    #[serde(with = "lenient_u64")]
    pub epoch_length: u64,
    /// Genesis time, in unix seconds.
    #[serde(with = "lenient_u64")]
    pub timestamp: u64,
    /// Consensus signature and hash suite.
    pub crypto_suite: CryptoSuite,
    /// Receives the base fees of every shard.
    #[serde(with = "address")]
    pub treasury: Address,
    /// How the treasury's base fees are shared among members each epoch.
    #[serde(default)]
    pub fee_split: FeeSplit,
    /// The founding consortium members; each runs a validator.
    pub members: Vec<Member>,
    /// Initial accounts.
    #[serde(default)]
    pub alloc: Vec<GenesisAccount>,
    /// Members per shard committee (the governed `committee-size` starts here); without it,
    /// every member validates every shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committee_size: Option<u32>,
    /// The ZK rollup bridged to shard 0. Without it shard 0 has no rollup precompiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollup: Option<RollupSpec>,
}

/// The ZK rollup bridged to shard 0: the shape its chunks are proven in (which fixes the
/// verifying key shard 0 checks every batch against) and the bridge contract's settings. The
/// bridge is placed at `crate::BRIDGE_ADDRESS` on shard 0 at genesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollupSpec {
    /// L2 operations per chunk (one proof each).
    #[serde(with = "lenient_u32")]
    pub chunk_slots: u32,
    /// log2 of the rows of the chunk circuit; the chunk must fit.
    #[serde(with = "lenient_u32")]
    pub chunk_k: u32,
    /// The account allowed to commit batches to the bridge.
    #[serde(with = "address")]
    pub sequencer: Address,
    /// How long a deposit or forced withdrawal may wait unprocessed before anyone may switch
    /// the bridge into exodus mode, in seconds.
    #[serde(with = "lenient_u64")]
    pub priority_expiry_seconds: u64,
}

impl RollupSpec {
    /// The production chunk shape: 57 slots at `k = 16`.
    pub const DEFAULT_SHAPE: (u32, u32) = (57, 16);
    /// The dev network's: 6 slots at `k = 13` (the most that fit), which proves in a few
    /// seconds on one core.
    pub const DEV_SHAPE: (u32, u32) = (6, 13);
    /// The default wait before exodus: three days (ADR 0104).
    pub const DEFAULT_PRIORITY_EXPIRY_SECONDS: u64 = 3 * 24 * 3600;
}

/// A founding consortium member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Organisation name, unique (ignoring case) among members.
    pub organisation: String,
    /// Public key that signs the member's governance transactions (suite-encoded, SEC1).
    pub admin_key: HexBytes,
    /// Public key that signs consensus votes and proposals (suite-encoded, SEC1).
    pub consensus_key: HexBytes,
    /// Public key of the member's VRF (suite-encoded, SEC1).
    pub vrf_key: HexBytes,
    /// libp2p peer id of the member's validator, base58.
    pub peer_id: String,
    /// Receives the member's share of fees.
    #[serde(with = "address")]
    pub fee_recipient: Address,
    /// Share weight for `FeeSplit::ByWeight`; at least 1.
    #[serde(default = "one", with = "lenient_u64")]
    pub weight: u64,
}

/// An account that exists at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisAccount {
    #[serde(with = "address")]
    pub address: Address,
    /// Balance in wei, on each shard the account is allocated on.
    #[serde(with = "lenient_u256")]
    pub balance: U256,
    #[serde(default, with = "lenient_u64", skip_serializing_if = "is_zero")]
    pub nonce: u64,
    /// Contract code; absent for plain accounts.
    #[serde(
        default,
        with = "optional_code",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<Bytes>,
    /// Contract storage, slot to value.
    #[serde(default, with = "storage", skip_serializing_if = "BTreeMap::is_empty")]
    pub storage: BTreeMap<B256, B256>,
    /// Shards the account exists on; absent means every shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<Vec<u32>>,
}

impl GenesisAccount {
    /// A plain account with `balance` wei on every shard.
    pub fn funded(address: Address, balance: U256) -> Self {
        GenesisAccount {
            address,
            balance,
            nonce: 0,
            code: None,
            storage: BTreeMap::new(),
            shards: None,
        }
    }

    /// Whether this account is allocated on `shard`.
    pub fn is_on_shard(&self, shard: u32) -> bool {
        match &self.shards {
            None => true,
            Some(shards) => shards.contains(&shard),
        }
    }
}

impl GenesisSpec {
    /// EVM chain id of `shard` (`chain_id_base + shard`).
    pub fn chain_id(&self, shard: u32) -> u64 {
        self.chain_id_base.saturating_add(u64::from(shard))
    }

    /// Chain ids of all shards, in shard order.
    pub fn chain_ids(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.shard_count).map(|shard| self.chain_id(shard))
    }

    /// The accounts allocated on `shard`, in file order.
    pub fn alloc_for_shard(&self, shard: u32) -> impl Iterator<Item = &GenesisAccount> {
        self.alloc
            .iter()
            .filter(move |account| account.is_on_shard(shard))
    }

    /// The accounts genesis places itself on `shard` besides `alloc`: the rollup bridge on
    /// shard 0 of a network with a rollup.
    pub fn system_accounts(&self, shard: u32) -> Vec<GenesisAccount> {
        match (shard, &self.rollup) {
            (0, Some(rollup)) => vec![crate::bridge::bridge_account(rollup)],
            _ => Vec::new(),
        }
    }

    /// Sum of balances allocated on `shard`; `None` if it overflows 256 bits (validation
    /// rejects such a genesis).
    pub fn total_alloc_on_shard(&self, shard: u32) -> Option<U256> {
        self.alloc_for_shard(shard)
            .try_fold(U256::ZERO, |sum, account| sum.checked_add(account.balance))
    }

    /// The member whose organisation is `name`, if any.
    pub fn member(&self, organisation: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|member| member.organisation == organisation)
    }
}

fn one() -> u64 {
    1
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}
