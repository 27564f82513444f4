//! The node config file behind `kaimeng node --config FILE`: one member's validator or a full
//! node on a real host. [`NodeConfig::load`] reads the TOML ([`ConfigFile`]), refuses unknown
//! keys, resolves paths against the file's directory, loads the genesis and checks every value,
//! naming the file and the field in each error. [`NodeConfig::open_validator_key`] decrypts the
//! member's keystore and checks it holds that member's consensus key;
//! [`NodeConfig::load_or_create_node_key`] gives the libp2p identity. The annotated format is
//! in `docs/operations.md`.

mod addr;
mod error;
mod file;
mod keys;

pub use error::ConfigError;
pub use file::{
    ConfigFile, ExplorerSection, HoldShards, MetricsSection, OneOrMany, P2pSection, RoleName,
    RpcSection, ShardsSection, StorageSection, SyncSection, ValidatorSection,
};
pub use keys::{NODE_KEY_FILE_NAME, PASSWORD_ENV, write_node_key_file};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use kaimeng_genesis::GenesisSpec;
use kaimeng_l1::storage::StoreOptions;
use kaimeng_network::{DEFAULT_PORT, NetworkConfig, NodeKey, PeerId};
use kaimeng_rpc::RpcLimits;

/// Config files larger than this are refused unread.
pub const MAX_CONFIG_FILE_LEN: u64 = 1024 * 1024;
/// The `tracing` filter when the file sets none.
pub const DEFAULT_LOG_LEVEL: &str = "info";
/// Inbound connection cap when the file sets none.
pub const DEFAULT_MAX_INBOUND_CONNECTIONS: u32 = 128;
/// RocksDB block cache when the file sets none, in MiB.
pub const DEFAULT_CACHE_MB: u32 = 256;
/// Blocks a shard's crosslinked epoch end must be ahead of a node at genesis before the node
/// takes a state snapshot rather than replaying them.
pub const DEFAULT_SNAPSHOT_MIN_GAP: u64 = 1024;

/// A checked config: paths absolute or relative to the working directory (resolved against
/// the config file's directory), addresses parsed, genesis loaded.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The config file it was read from (error messages name it).
    pub source: PathBuf,
    pub data_dir: PathBuf,
    pub genesis_file: PathBuf,
    pub genesis: GenesisSpec,
    pub role: Role,
    /// `tracing` filter directives.
    pub log_level: String,
    pub p2p: P2pSettings,
    /// `None`: no JSON-RPC server.
    pub rpc: Option<RpcSettings>,
    /// `None`: no metrics endpoint.
    pub metrics: Option<SocketAddr>,
    pub storage: StoreOptions,
    /// See `[sync] snapshot_min_gap`; `None` always replays blocks.
    pub snapshot_min_gap: Option<u64>,
    /// See `[shards] hold`.
    pub hold: HoldShards,
    pub explorer: ExplorerSettings,
}

/// What the explorer does on this node (`[explorer]`; every switch defaults to on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExplorerSettings {
    pub enabled: bool,
    pub index: bool,
    pub internal_calls: bool,
}

impl Default for ExplorerSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            index: true,
            internal_calls: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Validator(ValidatorSettings),
    Full,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorSettings {
    pub organisation: String,
    pub keystore: PathBuf,
    pub vrf_keystore: PathBuf,
    pub password_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct P2pSettings {
    /// Checked listen multiaddrs.
    pub listen: Vec<String>,
    /// Checked bootnode multiaddrs, each ending in `/p2p/<peer id>`.
    pub bootnodes: Vec<String>,
    pub node_key_file: PathBuf,
    pub max_inbound_connections: u32,
}

#[derive(Debug, Clone)]
pub struct RpcSettings {
    /// Shard 0's address; shard `i` uses port + `i`.
    pub listen: SocketAddr,
    pub limits: RpcLimits,
}

impl NodeConfig {
    /// Reads, parses and checks the config file at `path` (and the genesis and keystore
    /// files it names; the keystore is parsed, not decrypted).
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = read_limited(path)?;
        NodeConfig::from_toml(&text, path)
    }

    /// Parses and checks config text as if read from `path` (relative paths in it resolve
    /// against `path`'s directory).
    pub fn from_toml(text: &str, path: &Path) -> Result<NodeConfig, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|error| {
            let (line, column) = error
                .span()
                .map(|span| line_and_column(text, span.start))
                .unwrap_or((1, 1));
            ConfigError::Syntax {
                file: path.to_owned(),
                line,
                column,
                message: error.message().trim_end().to_owned(),
            }
        })?;
        NodeConfig::check(file, path)
    }

    /// Checks a parsed file as if read from `path`.
    pub fn check(file: ConfigFile, path: &Path) -> Result<NodeConfig, ConfigError> {
        let source = path.to_owned();
        let base = path.parent().unwrap_or(Path::new("")).to_owned();
        let resolve = |p: &Path| base.join(p);
        let field = |field: &'static str, problem: String| ConfigError::Field {
            file: source.clone(),
            field,
            problem,
        };

        let data_dir = resolve(&file.data_dir);
        if file.data_dir.as_os_str().is_empty() {
            return Err(field("data_dir", "is empty".into()));
        }
        if data_dir.exists() && !data_dir.is_dir() {
            return Err(field(
                "data_dir",
                format!("{} exists and is not a directory", data_dir.display()),
            ));
        }

        let genesis_file = resolve(&file.genesis);
        let genesis = GenesisSpec::load(&genesis_file).map_err(|source| ConfigError::Genesis {
            file: path.to_owned(),
            source,
        })?;

        let role = match (file.role, file.validator) {
            (RoleName::Validator, Some(section)) => Role::Validator(ValidatorSettings {
                organisation: section.organisation,
                vrf_keystore: match &section.vrf_keystore {
                    Some(path) => resolve(path),
                    None => resolve(&section.keystore).with_file_name("vrf.json"),
                },
                keystore: resolve(&section.keystore),
                password_file: section.password_file.as_deref().map(resolve),
            }),
            (RoleName::Validator, None) => {
                return Err(ConfigError::Role {
                    file: source.clone(),
                    problem: "role = \"validator\" needs a [validator] table (organisation, \
                              keystore, password_file)"
                        .into(),
                });
            }
            (RoleName::Full, Some(_)) => {
                return Err(ConfigError::Role {
                    file: source.clone(),
                    problem: "role = \"full\" takes no [validator] table (a full node never \
                              signs); remove it or set role = \"validator\""
                        .into(),
                });
            }
            (RoleName::Full, None) => Role::Full,
        };
        if let Role::Validator(validator) = &role {
            check_validator(validator, &genesis, &source)?;
        }

        let log_level = file
            .log_level
            .unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_owned());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log_level) {
            return Err(field(
                "log_level",
                format!("{log_level:?} is not a tracing filter ({e})"),
            ));
        }

        let listen = match &file.p2p.listen {
            Some(listen) => listen.to_vec(),
            None => vec![format!("/ip4/0.0.0.0/tcp/{DEFAULT_PORT}")],
        };
        if listen.is_empty() {
            return Err(field("p2p.listen", "is empty".into()));
        }
        for address in &listen {
            addr::check_listen(address).map_err(|e| field("p2p.listen", e))?;
        }
        for address in &file.p2p.bootnodes {
            addr::check_bootnode(address).map_err(|e| field("p2p.bootnodes", e))?;
        }
        let max_inbound_connections = file
            .p2p
            .max_inbound_connections
            .unwrap_or(DEFAULT_MAX_INBOUND_CONNECTIONS);
        let node_key_file = match &file.p2p.node_key_file {
            Some(path) => resolve(path),
            None => data_dir.join(NODE_KEY_FILE_NAME),
        };
        let p2p = P2pSettings {
            listen,
            bootnodes: file.p2p.bootnodes,
            node_key_file,
            max_inbound_connections,
        };

        let rpc = match file.rpc {
            None => None,
            Some(section) => Some(rpc_settings(section, &source)?),
        };
        let metrics = match file.metrics {
            None => None,
            Some(section) => Some(
                addr::parse_socket_addr(&section.listen).map_err(|e| field("metrics.listen", e))?,
            ),
        };

        let cache_mb = file.storage.cache_mb.unwrap_or(DEFAULT_CACHE_MB);
        if cache_mb == 0 {
            return Err(field("storage.cache_mb", "must be at least 1".into()));
        }
        let storage = StoreOptions {
            block_cache_bytes: (cache_mb as usize) << 20,
            sync_writes: file.storage.sync_writes.unwrap_or(true),
        };

        Ok(NodeConfig {
            source,
            data_dir,
            genesis_file,
            genesis,
            role,
            log_level,
            p2p,
            rpc,
            metrics,
            storage,
            snapshot_min_gap: match file
                .sync
                .snapshot_min_gap
                .unwrap_or(DEFAULT_SNAPSHOT_MIN_GAP)
            {
                0 => None,
                gap => Some(gap),
            },
            hold: file.shards.hold.unwrap_or_default(),
            explorer: ExplorerSettings {
                enabled: file.explorer.enabled.unwrap_or(true),
                index: file.explorer.index.unwrap_or(true),
                internal_calls: file.explorer.internal_calls.unwrap_or(true),
            },
        })
    }

    /// The validator settings, if this node is a validator.
    pub fn validator(&self) -> Option<&ValidatorSettings> {
        match &self.role {
            Role::Validator(settings) => Some(settings),
            Role::Full => None,
        }
    }

    /// The network configuration of this node with `key` as its identity: listen and
    /// bootnode addresses, inbound cap, the genesis hash as network name, and the genesis
    /// members' validators as priority peers. Topics, limits and the block source are left at
    /// their defaults for the caller.
    pub fn network_config(&self, key: NodeKey) -> NetworkConfig {
        let mut config = NetworkConfig::new(key, self.genesis.hash().0);
        config.listen = self.p2p.listen.clone();
        config.bootstrap = self.p2p.bootnodes.clone();
        config.max_inbound_connections = self.p2p.max_inbound_connections;
        // Genesis validation checked every member's peer id.
        config.priority_peers = self
            .genesis
            .members
            .iter()
            .filter_map(|member| member.peer_id.parse::<PeerId>().ok())
            .collect();
        config
    }
}

fn check_validator(
    validator: &ValidatorSettings,
    genesis: &GenesisSpec,
    file: &Path,
) -> Result<(), ConfigError> {
    let field = |field: &'static str, problem: String| ConfigError::Field {
        file: file.to_owned(),
        field,
        problem,
    };
    if validator.organisation.trim().is_empty() {
        return Err(field("validator.organisation", "is empty".into()));
    }
    let keystore =
        kaimeng_crypto::keystore::read_keystore(&validator.keystore).map_err(|source| {
            ConfigError::Keystore {
                file: file.to_owned(),
                source,
            }
        })?;
    let chain_suite = genesis.crypto_suite.as_str();
    if keystore.suite.name() != chain_suite {
        return Err(field(
            "validator.keystore",
            format!(
                "{} holds a {} key, but the genesis uses {chain_suite}",
                validator.keystore.display(),
                keystore.suite.name()
            ),
        ));
    }
    if let Some(password_file) = &validator.password_file
        && !password_file.is_file()
    {
        return Err(field(
            "validator.password_file",
            format!(
                "{} does not exist or is not a file",
                password_file.display()
            ),
        ));
    }
    Ok(())
}

fn rpc_settings(section: RpcSection, file: &Path) -> Result<RpcSettings, ConfigError> {
    let field = |field: &'static str, problem: String| ConfigError::Field {
        file: file.to_owned(),
        field,
        problem,
    };
    let listen = addr::parse_socket_addr(&section.listen).map_err(|e| field("rpc.listen", e))?;
    let at_least_one = |name: &'static str, value: Option<u32>, default: u32| match value {
        Some(0) => Err(field(name, "must be at least 1".into())),
        Some(value) => Ok(value),
        None => Ok(default),
    };
    let defaults = RpcLimits::default();
    let limits = RpcLimits {
        requests_per_second_per_client: at_least_one(
            "rpc.requests_per_second",
            section.requests_per_second,
            defaults.requests_per_second_per_client,
        )?,
        max_connections: at_least_one(
            "rpc.max_connections",
            section.max_connections,
            defaults.max_connections,
        )?,
        max_request_bytes: at_least_one(
            "rpc.max_request_bytes",
            section.max_request_bytes,
            defaults.max_request_bytes,
        )?,
        max_batch_len: at_least_one(
            "rpc.max_batch_len",
            section.max_batch_len,
            defaults.max_batch_len,
        )?,
        read_threads: at_least_one(
            "rpc.read_threads",
            section.read_threads,
            defaults.read_threads,
        )?,
        read_queue: section.read_queue.unwrap_or(defaults.read_queue),
        ..defaults
    };
    Ok(RpcSettings { listen, limits })
}

fn read_limited(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read as _;
    let read_error = |source| ConfigError::Read {
        file: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let len = file.metadata().map_err(read_error)?.len();
    if len > MAX_CONFIG_FILE_LEN {
        return Err(read_error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{len} bytes; a config file is at most {MAX_CONFIG_FILE_LEN} bytes"),
        )));
    }
    let mut text = String::new();
    file.take(MAX_CONFIG_FILE_LEN)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    Ok(text)
}

/// 1-based line and column of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
