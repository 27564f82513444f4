//! The node config file as written: TOML tables mapped one to one onto serde structs that
//! refuse unknown keys. Nothing is checked here beyond TOML types; `validate` turns a
//! [`ConfigFile`] into a `NodeConfig`. Tools that write config files (`kaimeng testnet`)
//! build a [`ConfigFile`] and call [`ConfigFile::to_toml`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What the node runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    /// A member's validator: signs proposals and votes with the member's consensus key.
    Validator,
    /// Follows the chain, serves RPC, never votes.
    Full,
}

/// The whole file. Paths are relative to the file's directory unless absolute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Chain data (stores, consensus journal, default node key).
    pub data_dir: PathBuf,
    /// The genesis JSON every node of the network shares.
    pub genesis: PathBuf,
    pub role: RoleName,
    /// `tracing` filter, e.g. `info` or `info,kaimeng_consensus=debug` (default `info`;
    /// the `KAIMENG_LOG` environment variable overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// Required when `role = "validator"`, refused otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validator: Option<ValidatorSection>,
    #[serde(default)]
    pub p2p: P2pSection,
    /// JSON-RPC; no server without this table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpc: Option<RpcSection>,
    /// Prometheus endpoint; none without this table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsSection>,
    #[serde(default)]
    pub storage: StorageSection,
    #[serde(default, skip_serializing_if = "is_default")]
    pub sync: SyncSection,
    #[serde(default, skip_serializing_if = "is_default")]
    pub shards: ShardsSection,
    #[serde(default, skip_serializing_if = "is_default")]
    pub explorer: ExplorerSection,
}

/// The explorer served on the RPC port under `/explorer` (docs/explorer.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplorerSection {
    /// Serve the explorer's pages (default true; needs `[rpc]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Build the indexes (address history, tokens, creators, rollup events) as blocks
    /// finalize (default true). Off, the pages that need them say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<bool>,
    /// Trace transactions that run code to index the addresses their inner calls reach
    /// (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_calls: Option<bool>,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Which shards a validator executes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardsSection {
    /// `"committees"` (the default): a validator executes only the shards whose committees
    /// seat it (now, in a shard that still needs an older committee, or in the next epoch's
    /// draw), and takes a shard it is drawn into by state sync during the epoch before it
    /// serves there; its RPC refuses the state methods of the shards it does not hold. `"all"`:
    /// execute and serve every shard, for a validator that also serves RPC for all of them.
    /// A full node always holds all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldShards>,
}

/// See [`ShardsSection::hold`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HoldShards {
    All,
    #[default]
    Committees,
}

/// How a node catches up a shard it holds nothing of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSection {
    /// A shard at genesis takes a state snapshot from peers, instead of replaying every
    /// block, when the newest crosslinked shard-epoch end is at least this many blocks ahead
    /// (default 1024; 0 always replays blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_min_gap: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorSection {
    /// The genesis member this validator signs for.
    pub organisation: String,
    /// SM4 keystore of the member's consensus key (`kaimeng keygen`).
    pub keystore: PathBuf,
    /// File whose first line is the keystore password; without it, `KAIMENG_PASSWORD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// SM4 keystore of the member's VRF secret (same password); without it, `vrf.json` beside
    /// `keystore`. A member proves each beacon block it proposes with it (ADR 0097).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vrf_keystore: Option<PathBuf>,
}

/// Listen addresses: one multiaddr or a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one.clone()],
            OneOrMany::Many(many) => many.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pSection {
    /// `/ip4/<ip>/tcp/<port>` or `/ip6/<ip>/tcp/<port>` (default `/ip4/0.0.0.0/tcp/30333`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<OneOrMany>,
    /// Peers kept connected: `/ip4/<ip>/tcp/<port>/p2p/<peer id>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bootnodes: Vec<String>,
    /// The node's libp2p secret key, 64 hex digits (default `<data_dir>/node.key`; a full node
    /// creates it when missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_key_file: Option<PathBuf>,
    /// Most inbound connections at once (member validators do not count; default 128).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_inbound_connections: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcSection {
    /// `IP:PORT` of shard 0's HTTP and WebSocket server; shard `i` listens on `PORT + i`.
    pub listen: String,
    /// Requests per second allowed per client IP address, over HTTP and WebSocket together; a
    /// batch counts each entry (default 20,000). Behind a reverse proxy every client has the
    /// proxy's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<u32>,
    /// Most connections at once (default 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Largest request body in bytes (default 5 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<u32>,
    /// Most calls in one batch (default 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batch_len: Option<u32>,
    /// Threads that run `eth_call`, `eth_estimateGas`, `eth_getLogs`, the filter polls and
    /// tracing, apart from the threads that serve requests and drive consensus (default: the
    /// number of cores, at least 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_threads: Option<u32>,
    /// Such calls that may wait for a read thread; one more is refused at once with -32005
    /// (default 64; 0 refuses whenever every thread is busy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_queue: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// `IP:PORT` of the Prometheus endpoint (`GET /metrics`).
    pub listen: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSection {
    /// RocksDB block cache in MiB (default 256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_mb: Option<u32>,
    /// fsync every committed batch, so a power cut loses nothing finalized (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_writes: Option<bool>,
}

impl ConfigFile {
    /// The file as TOML text.
    pub fn to_toml(&self) -> String {
        // Every field is a string, integer, bool, array or table: serialisation cannot fail.
        toml::to_string(self).unwrap_or_default()
    }
}
