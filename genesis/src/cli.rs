//! Helpers behind `kaimeng genesis`: write the dev genesis to a file, and check a file and
//! summarise it for a human.

use std::fmt;
use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, U256};

use crate::dev::{DevOptions, ETHER};
use crate::error::GenesisError;
use crate::fee_split::FeeSplit;
use crate::spec::GenesisSpec;
use crate::suite::CryptoSuite;

/// Writes the development genesis for `opts` to `path` as pretty JSON. Refuses to replace an
/// existing file unless `force`. The genesis is validated before anything is written.
pub fn create_dev_file(path: &Path, opts: &DevOptions, force: bool) -> Result<(), GenesisError> {
    write_file(path, &GenesisSpec::dev(opts), force)
}

/// Validates `spec` and writes it to `path` as pretty JSON, atomically (a temporary file in the
/// same directory, then a rename). Refuses to replace an existing file unless `force`.
pub fn write_file(path: &Path, spec: &GenesisSpec, force: bool) -> Result<(), GenesisError> {
    spec.validate()?;
    if !force && path.exists() {
        return Err(GenesisError::AlreadyExists {
            path: path.to_owned(),
        });
    }
    let write_error = |source| GenesisError::Write {
        path: path.to_owned(),
        source,
    };
    let mut text = spec.to_json_pretty();
    text.push('\n');
    let temporary = temporary_path(path);
    std::fs::write(&temporary, text).map_err(write_error)?;
    std::fs::rename(&temporary, path).map_err(|source| {
        let _ = std::fs::remove_file(&temporary);
        write_error(source)
    })
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|name| name.to_os_string())
        .unwrap_or_else(|| "genesis.json".into());
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Reads, parses and validates the genesis at `path`, and summarises it.
pub fn check_file(path: &Path) -> Result<GenesisSummary, GenesisError> {
    let spec = GenesisSpec::load(path)?;
    Ok(GenesisSummary::of(&spec))
}

/// What `kaimeng genesis check` prints about a valid genesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenesisSummary {
    pub hash: B256,
    pub crypto_suite: CryptoSuite,
    pub shards: Vec<ShardSummary>,
    pub block_gas_limit: u64,
    pub min_base_fee: u128,
    pub initial_base_fee: u128,
    pub block_time_ms: u64,
    pub epoch_length: u64,
    pub timestamp: u64,
    pub treasury: Address,
    pub fee_split: FeeSplit,
    pub members: Vec<MemberSummary>,
}

/// One shard's chain id and allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSummary {
    pub shard: u32,
    pub chain_id: u64,
    pub accounts: usize,
    /// Sum of balances, in wei (saturating; validation rejects overflowing totals).
    pub total_balance: U256,
}

/// One member, as the summary shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSummary {
    pub organisation: String,
    pub peer_id: String,
    pub fee_recipient: Address,
    pub weight: u64,
}

impl GenesisSummary {
    /// Summarises `spec` (assumed valid).
    pub fn of(spec: &GenesisSpec) -> Self {
        GenesisSummary {
            hash: spec.hash(),
            crypto_suite: spec.crypto_suite,
            shards: (0..spec.shard_count)
                .map(|shard| ShardSummary {
                    shard,
                    chain_id: spec.chain_id(shard),
                    accounts: spec.alloc_for_shard(shard).count(),
                    total_balance: spec.total_alloc_on_shard(shard).unwrap_or(U256::MAX),
                })
                .collect(),
            block_gas_limit: spec.block_gas_limit,
            min_base_fee: spec.min_base_fee,
            initial_base_fee: spec.initial_base_fee,
            block_time_ms: spec.block_time_ms,
            epoch_length: spec.epoch_length,
            timestamp: spec.timestamp,
            treasury: spec.treasury,
            fee_split: spec.fee_split.clone(),
            members: spec
                .members
                .iter()
                .map(|member| MemberSummary {
                    organisation: member.organisation.clone(),
                    peer_id: member.peer_id.clone(),
                    fee_recipient: member.fee_recipient,
                    weight: member.weight,
                })
                .collect(),
        }
    }
}

impl fmt::Display for GenesisSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "genesis hash     {}", self.hash)?;
        writeln!(f, "crypto suite     {}", self.crypto_suite)?;
        let chain_ids: Vec<String> = self.shards.iter().map(|s| s.chain_id.to_string()).collect();
        writeln!(
            f,
            "shards           {} (chain ids {})",
            self.shards.len(),
            chain_ids.join(", ")
        )?;
        writeln!(f, "block gas limit  {}", self.block_gas_limit)?;
        writeln!(
            f,
            "base fee         min {} wei, initial {} wei",
            self.min_base_fee, self.initial_base_fee
        )?;
        writeln!(
            f,
            "timing           block every {} ms, epoch of {} beacon blocks, genesis time {}",
            self.block_time_ms, self.epoch_length, self.timestamp
        )?;
        writeln!(f, "treasury         {}", self.treasury.to_checksum(None))?;
        writeln!(
            f,
            "fee split        {}",
            describe_fee_split(&self.fee_split)
        )?;
        writeln!(f, "members          {}", self.members.len())?;
        for member in &self.members {
            writeln!(
                f,
                "  {}  weight {}  peer {}  fees to {}",
                member.organisation,
                member.weight,
                member.peer_id,
                member.fee_recipient.to_checksum(None)
            )?;
        }
        writeln!(f, "allocation")?;
        for shard in &self.shards {
            writeln!(
                f,
                "  shard {} (chain id {}): {} accounts, {} ETH ({} wei)",
                shard.shard,
                shard.chain_id,
                shard.accounts,
                format_ether(shard.total_balance),
                shard.total_balance
            )?;
        }
        Ok(())
    }
}

fn describe_fee_split(split: &FeeSplit) -> String {
    match split {
        FeeSplit::Equal => "equal shares".to_owned(),
        FeeSplit::ByWeight => "by member weight".to_owned(),
        FeeSplit::Fixed(points) => {
            let parts: Vec<String> = points
                .iter()
                .map(|(organisation, bp)| format!("{organisation} {bp} bp"))
                .collect();
            format!("fixed: {}", parts.join(", "))
        }
    }
}

/// `wei` in ether, with up to 18 decimals and no trailing zeros.
pub fn format_ether(wei: U256) -> String {
    let ether = U256::from(ETHER);
    let (whole, fraction) = wei.div_rem(ether);
    if fraction.is_zero() {
        return whole.to_string();
    }
    let digits = format!("{fraction:0>18}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}
