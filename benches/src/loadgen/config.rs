//! Command-line options of the load generator and their validation into a [`RunConfig`].
//!
//! Everything here is pure: parsing and checking, no network.

use std::{path::PathBuf, time::Duration};

use alloy_primitives::{B256, U256};
use clap::{Parser, ValueEnum};

/// Anvil's (and `kaimeng dev`'s) account 0 of the `test test ... junk` mnemonic.
pub const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// The largest JSON-RPC batch the load generator sends (nodes commonly cap batches at 100).
pub const MAX_BATCH: usize = 100;

/// The largest number of sender accounts (each gets its own token allowance at setup).
pub const MAX_SENDERS: usize = 100_000;

/// How the confirmation tracker learns which transactions a new block holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConfirmWith {
    /// `eth_getBlockByNumber(n, false)`: transaction hashes only (cheapest for the node).
    Block,
    /// `eth_getBlockReceipts(n)`: receipts, so reverted transfers are counted too.
    Receipts,
}

/// What each measured transaction does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// A KaiToken `transfer` of one unit to the next sender (two storage slots change).
    Erc20,
    /// A 21,000-gas transfer of 0 wei to the sender itself: no code, no storage, only the
    /// sender's nonce and fee change (what consensus and the pool cost without execution).
    SelfTransfer,
}

/// Measures confirmed ERC-20 transfers per second (CTPS) and submit-to-receipt latency.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Measures confirmed ERC-20 transfers per second (CTPS) and submit-to-receipt latency of a JSON-RPC node"
)]
pub struct Args {
    /// HTTP JSON-RPC endpoint of the node.
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// WebSocket endpoint for `newHeads` (default: the RPC's host and port over ws://).
    #[arg(long)]
    pub ws: Option<String>,
    /// Number of sender accounts, funded at setup.
    #[arg(long, default_value_t = 200)]
    pub senders: usize,
    /// Total number of measured transfers (spread round-robin over the senders).
    #[arg(long, default_value_t = 4000)]
    pub txs: usize,
    /// Target submission rate in transactions per second; 0 sends as fast as possible.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Maximum number of JSON-RPC requests in flight during the measured phase.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Transactions per JSON-RPC request (1 = no batching; at most 100).
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Seconds to wait for all measured transfers to confirm, counted from the first submit.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Seconds allowed for the setup phase (deploy, fund, confirm).
    #[arg(long, default_value_t = 300)]
    pub setup_timeout: u64,
    /// Funded private key that deploys the token and funds the senders (hex).
    #[arg(long, default_value = DEV_KEY, env = "LOADGEN_KEY", hide_env_values = true)]
    pub key: String,
    /// Seed from which the sender keys are derived.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// KaiToken artifact (JSON with `abi` and `bytecode`); default: the copy built into the binary.
    #[arg(long)]
    pub artifact: Option<PathBuf>,
    /// Priority fee per gas, in wei.
    #[arg(long, default_value_t = 1_000_000_000)]
    pub tip_wei: u128,
    /// Cap on the fee per gas, in wei (default: 3 × the current base fee + the tip).
    #[arg(long)]
    pub max_fee_wei: Option<u128>,
    /// Gas limit of each measured transfer.
    #[arg(long, default_value_t = 60_000)]
    pub gas_limit: u64,
    /// How new blocks are inspected for our transactions.
    #[arg(long, value_enum, default_value_t = ConfirmWith::Block)]
    pub confirm_with: ConfirmWith,
    /// What the measured transactions do; `self-transfer` sends 21,000-gas no-ops (its gas
    /// limit is 21,000 whatever `--gas-limit` says).
    #[arg(long, value_enum, default_value_t = Workload::Erc20)]
    pub workload: Workload,
    /// Print one JSON object with the results on stdout (the human summary goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// A label copied into the JSON output (e.g. "anvil" or "kaimeng").
    #[arg(long, default_value = "")]
    pub label: String,
}

/// Why the options cannot describe a run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("--batch must be between 1 and {MAX_BATCH}, got {0}")]
    Batch(usize),
    #[error("--senders must be between 1 and {MAX_SENDERS}, got {0}")]
    Senders(usize),
    #[error("--txs must be at least 1")]
    NoTxs,
    #[error("--concurrency must be at least 1")]
    Concurrency,
    #[error("--timeout and --setup-timeout must be at least 1 second")]
    Timeout,
    #[error("--gas-limit {0} is below the 21000 of any transaction")]
    GasLimit(u64),
    #[error("--rpc must start with http:// or https://, got {0:?}")]
    RpcScheme(String),
    #[error("--ws must start with ws:// or wss://, got {0:?}")]
    WsScheme(String),
    #[error("--key is not a 32-byte hex private key: {0}")]
    Key(String),
}

/// A validated run description.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub rpc: String,
    pub ws: String,
    pub senders: usize,
    pub txs: usize,
    /// `None`: as fast as possible.
    pub rate: Option<u64>,
    pub concurrency: usize,
    pub batch: usize,
    pub timeout: Duration,
    pub setup_timeout: Duration,
    pub funder_key: B256,
    pub seed: u64,
    pub artifact: Option<PathBuf>,
    pub tip_wei: u128,
    pub max_fee_wei: Option<u128>,
    pub gas_limit: u64,
    pub confirm_with: ConfirmWith,
    pub workload: Workload,
    pub json: bool,
    pub label: String,
}

impl RunConfig {
    /// Measured transfers each sender signs (the last senders may sign one fewer).
    pub fn txs_per_sender(&self) -> usize {
        self.txs.div_ceil(self.senders)
    }
}

impl TryFrom<Args> for RunConfig {
    type Error = ConfigError;

    fn try_from(args: Args) -> Result<Self, ConfigError> {
        if !(1..=MAX_BATCH).contains(&args.batch) {
            return Err(ConfigError::Batch(args.batch));
        }
        if !(1..=MAX_SENDERS).contains(&args.senders) {
            return Err(ConfigError::Senders(args.senders));
        }
        if args.txs == 0 {
            return Err(ConfigError::NoTxs);
        }
        if args.concurrency == 0 {
            return Err(ConfigError::Concurrency);
        }
        if args.timeout == 0 || args.setup_timeout == 0 {
            return Err(ConfigError::Timeout);
        }
        if args.gas_limit < 21_000 {
            return Err(ConfigError::GasLimit(args.gas_limit));
        }
        let ws = match args.ws {
            Some(ws) if ws.starts_with("ws://") || ws.starts_with("wss://") => ws,
            Some(ws) => return Err(ConfigError::WsScheme(ws)),
            None => ws_url_for(&args.rpc)?,
        };
        if !(args.rpc.starts_with("http://") || args.rpc.starts_with("https://")) {
            return Err(ConfigError::RpcScheme(args.rpc));
        }
        Ok(Self {
            funder_key: parse_key(&args.key)?,
            rpc: args.rpc,
            ws,
            senders: args.senders,
            txs: args.txs,
            rate: (args.rate > 0).then_some(args.rate),
            concurrency: args.concurrency,
            batch: args.batch,
            timeout: Duration::from_secs(args.timeout),
            setup_timeout: Duration::from_secs(args.setup_timeout),
            seed: args.seed,
            artifact: args.artifact,
            tip_wei: args.tip_wei,
            max_fee_wei: args.max_fee_wei,
            gas_limit: match args.workload {
                Workload::Erc20 => args.gas_limit,
                Workload::SelfTransfer => 21_000,
            },
            confirm_with: args.confirm_with,
            workload: args.workload,
            json: args.json,
            label: args.label,
        })
    }
}

/// The WebSocket URL on the same host and port as an HTTP RPC URL.
pub fn ws_url_for(rpc: &str) -> Result<String, ConfigError> {
    if let Some(rest) = rpc.strip_prefix("http://") {
        Ok(format!("ws://{rest}"))
    } else if let Some(rest) = rpc.strip_prefix("https://") {
        Ok(format!("wss://{rest}"))
    } else {
        Err(ConfigError::RpcScheme(rpc.to_owned()))
    }
}

/// Parses a hex private key, with or without `0x`.
pub fn parse_key(hex_key: &str) -> Result<B256, ConfigError> {
    let digits = hex_key.trim().trim_start_matches("0x");
    if digits.len() != 64 {
        return Err(ConfigError::Key(format!(
            "expected 64 hex digits, got {}",
            digits.len()
        )));
    }
    let value: U256 = U256::from_str_radix(digits, 16)
        .map_err(|_| ConfigError::Key("not hexadecimal".to_owned()))?;
    Ok(B256::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["loadgen"];
        argv.extend_from_slice(extra);
        Args::parse_from(argv)
    }

    #[test]
    fn defaults_validate_and_derive_the_ws_url_from_the_rpc_url() {
        let config = RunConfig::try_from(args(&["--rpc", "http://127.0.0.1:9001"])).unwrap();
        assert_eq!(config.ws, "ws://127.0.0.1:9001");
        assert_eq!(config.rate, None);
        assert_eq!(config.funder_key, parse_key(DEV_KEY).unwrap());
    }

    #[test]
    fn https_maps_to_wss() {
        assert_eq!(
            ws_url_for("https://node.example:443/shard/0").unwrap(),
            "wss://node.example:443/shard/0"
        );
    }

    #[test]
    fn rejects_out_of_range_options_with_the_option_named() {
        let err = RunConfig::try_from(args(&["--batch", "101"])).unwrap_err();
        assert_eq!(err, ConfigError::Batch(101));
        assert!(err.to_string().contains("--batch"));
        assert_eq!(
            RunConfig::try_from(args(&["--batch", "0"])).unwrap_err(),
            ConfigError::Batch(0)
        );
        assert_eq!(
            RunConfig::try_from(args(&["--senders", "0"])).unwrap_err(),
            ConfigError::Senders(0)
        );
        assert_eq!(
            RunConfig::try_from(args(&["--txs", "0"])).unwrap_err(),
            ConfigError::NoTxs
        );
        assert_eq!(
            RunConfig::try_from(args(&["--concurrency", "0"])).unwrap_err(),
            ConfigError::Concurrency
        );
        assert!(matches!(
            RunConfig::try_from(args(&["--rpc", "127.0.0.1:8545"])),
            Err(ConfigError::RpcScheme(_))
        ));
        assert!(matches!(
            RunConfig::try_from(args(&["--ws", "http://x:1"])),
            Err(ConfigError::WsScheme(_))
        ));
        assert!(matches!(
            RunConfig::try_from(args(&["--key", "0x1234"])),
            Err(ConfigError::Key(_))
        ));
        assert!(matches!(
            RunConfig::try_from(args(&["--key", &"zz".repeat(32)])),
            Err(ConfigError::Key(_))
        ));
    }

    #[test]
    fn self_transfers_always_use_exactly_21000_gas() {
        let erc20 = RunConfig::try_from(args(&["--gas-limit", "70000"])).unwrap();
        assert_eq!(erc20.workload, Workload::Erc20);
        assert_eq!(erc20.gas_limit, 70_000);
        let noop = RunConfig::try_from(args(&[
            "--workload",
            "self-transfer",
            "--gas-limit",
            "70000",
        ]))
        .unwrap();
        assert_eq!(noop.workload, Workload::SelfTransfer);
        assert_eq!(noop.gas_limit, 21_000);
    }

    #[test]
    fn rate_zero_means_unthrottled_and_txs_per_sender_rounds_up() {
        let config =
            RunConfig::try_from(args(&["--rate", "500", "--senders", "3", "--txs", "10"])).unwrap();
        assert_eq!(config.rate, Some(500));
        assert_eq!(config.txs_per_sender(), 4);
    }
}
