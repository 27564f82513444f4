//! A running node: one store, chain, block producer and RPC server per shard. Blocks come
//! from a local sealer (a one-validator network) or from the BFT engines run by
//! [`crate::validator`]: the beacon chain's among all members, each shard's among its committee.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use alloy_primitives::Address;
use anyhow::Context;
use jsonrpsee::server::ServerHandle;
use kaimeng_genesis::GenesisSpec;
use kaimeng_l1::storage::StoreOptions;
use kaimeng_rpc::{DevSigner, RpcConfig, RpcLimits};
use kaimeng_shards::precompiles::ShardPrecompiles;
use kaimeng_shards::sealer::{self, SealMode};
use kaimeng_shards::{ShardChain, ShardConfig};

use crate::validator::beacon::BeaconChain;
use crate::validator::{self, RunningValidator, ValidatorConfig};

/// Who makes the blocks.
pub enum BlockProduction {
    /// A local sealer per shard: a network of one validator.
    Sealer(SealMode),
    /// The beacon chain and every shard finalized by BFT consensus: the beacon chain by all
    /// members, each shard by its committee.
    Consensus(ConsensusSetup),
}

/// This node's place in the consensus network.
#[derive(Clone)]
pub struct ConsensusSetup {
    /// A member's consensus key; `None` follows the chain without voting.
    pub consensus_key: Option<kaimeng_crypto::SecretKey>,
    /// The member's VRF secret, with which it proves the beacon blocks it proposes.
    pub vrf_key: Option<kaimeng_crypto::vrf::VrfSecretKey>,
    pub node_key: kaimeng_network::NodeKey,
    pub listen: Vec<String>,
    pub bootstrap: Vec<String>,
    pub timeouts: kaimeng_consensus::TimeoutConfig,
    pub idle_block_interval: std::time::Duration,
    /// See `ValidatorConfig::snapshot_min_gap`.
    pub snapshot_min_gap: Option<u64>,
    /// See `ValidatorConfig::hold`.
    pub hold: crate::config::HoldShards,
    /// Where the validator reports its metrics (served by the caller, if at all).
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// How to run a node.
pub struct NodeConfig {
    pub genesis: GenesisSpec,
    pub data_dir: PathBuf,
    pub host: IpAddr,
    /// Shard `i` serves RPC on `rpc_port + i` (0 picks free ports); `None` serves no RPC.
    pub rpc_port: Option<u16>,
    pub production: BlockProduction,
    pub fee_recipient: Address,
    pub dev_signer: DevSigner,
    pub limits: RpcLimits,
    pub store: StoreOptions,
    /// The explorer on the RPC port (`/explorer`) and its indexes.
    pub explorer: crate::config::ExplorerSettings,
}

/// The precompiles shard `shard`'s EVM gets: every shard has the standard set (Ethereum's and
/// the 国密 ones) and the cross-shard contract, which carries messages when the node runs the
/// beacon chain (`consensus`) and refuses them with the reason under a single sealer. A
/// shard 0 of a network with a rollup also has the rollup precompiles
/// ([`crate::rollup_precompiles`]).
fn shard_precompiles(
    shard: u32,
    genesis: &GenesisSpec,
    consensus: bool,
    data_dir: &Path,
) -> anyhow::Result<ShardPrecompiles> {
    let mut precompiles = ShardPrecompiles::standard().with_cross_shard(
        kaimeng_shards::crossshard::CrossShardSite {
            shard,
            shard_count: genesis.shard_count,
            carries_messages: consensus,
        },
    )?;
    if let (0, Some(rollup)) = (shard, genesis.rollup) {
        for precompile in crate::rollup_precompiles::shard0_precompiles(
            rollup,
            genesis.block_gas_limit,
            data_dir.join("rollup-params"),
        )? {
            precompiles = precompiles.with(precompile)?;
        }
    }
    Ok(precompiles)
}

/// One shard of a running node.
pub struct RunningShard {
    pub chain: Arc<ShardChain>,
    /// `None` when the node serves no RPC.
    pub rpc_addr: Option<SocketAddr>,
    server: Option<ServerHandle>,
    sealer: Option<tokio::task::JoinHandle<()>>,
}

pub struct RunningNode {
    pub shards: Vec<RunningShard>,
    /// The validator (beacon chain and shard hosts), when blocks come from consensus.
    pub validator: Option<RunningValidator>,
    /// The explorer's indexers, one per shard, and what stops them.
    indexers: Option<(
        tokio::sync::watch::Sender<bool>,
        Vec<tokio::task::JoinHandle<()>>,
    )>,
}

impl RunningNode {
    /// Opens every shard and starts producing blocks and serving RPC.
    pub async fn start(config: NodeConfig) -> anyhow::Result<RunningNode> {
        check_data_dir(&config.data_dir)?;
        let mut chains = Vec::new();
        for shard in 0..config.genesis.shard_count {
            let dir = config.data_dir.join("shards").join(shard.to_string());
            let store = kaimeng_shards::open_store(&dir, &config.store)?;
            let shard_config = ShardConfig {
                precompiles: shard_precompiles(
                    shard,
                    &config.genesis,
                    matches!(config.production, BlockProduction::Consensus(_)),
                    &config.data_dir,
                )?,
                ..ShardConfig::from_genesis(&config.genesis, shard)
            };
            chains.push(Arc::new(ShardChain::open_with(
                store,
                &config.genesis,
                shard_config,
            )?));
        }
        let validator = match &config.production {
            BlockProduction::Sealer(_) => None,
            BlockProduction::Consensus(setup) => Some(
                validator::start(ValidatorConfig {
                    genesis: config.genesis.clone(),
                    beacon: Arc::new(BeaconChain::open(
                        &config.data_dir.join("beacon"),
                        &config.store,
                        &config.genesis,
                        chains.clone(),
                        setup.vrf_key.clone(),
                        setup.metrics.chain("beacon"),
                    )?),
                    chains: chains.clone(),
                    consensus_key: setup.consensus_key.clone(),
                    node_key: setup.node_key.clone(),
                    listen: setup.listen.clone(),
                    bootstrap: setup.bootstrap.clone(),
                    timeouts: setup.timeouts,
                    idle_block_interval: setup.idle_block_interval,
                    max_txs_per_block: sealer::MAX_TXS_PER_BLOCK,
                    fee_recipient: config.fee_recipient,
                    metrics: setup.metrics.clone(),
                    snapshot_min_gap: setup.snapshot_min_gap,
                    hold: setup.hold,
                })
                .await?,
            ),
        };
        let mut node = RunningNode {
            shards: Vec::new(),
            validator,
            indexers: None,
        };
        let pages = match (config.explorer.enabled, config.rpc_port) {
            (true, Some(_)) => {
                let (pages, indexers) =
                    crate::explorer::start(&config, node.validator.as_ref(), &chains)?;
                node.indexers = indexers;
                Some(pages)
            }
            _ => None,
        };
        for (shard, chain) in chains.into_iter().enumerate() {
            match serve_shard(
                &config,
                node.validator.as_ref(),
                shard,
                chain,
                pages.clone(),
            )
            .await
            {
                Ok(running) => node.shards.push(running),
                Err(error) => {
                    // Stop what already runs, so that no store is open when the process exits.
                    node.stop().await;
                    return Err(error);
                }
            }
        }
        Ok(node)
    }

    /// Stops block production and RPC. Blocks being written complete atomically first.
    pub async fn stop(self) {
        if let Some((stop, tasks)) = self.indexers {
            let _ = stop.send(true);
            for task in tasks {
                let _ = task.await;
            }
        }
        if let Some(validator) = self.validator {
            validator.stop().await;
        }
        for shard in self.shards {
            if let Some(sealer) = shard.sealer {
                sealer.abort();
                let _ = sealer.await;
            }
            if let Some(server) = shard.server {
                let _ = server.stop();
                server.stopped().await;
            }
        }
    }
}

/// Serves shard `shard`'s RPC and, for a one-validator network, starts its sealer.
async fn serve_shard(
    config: &NodeConfig,
    validator: Option<&RunningValidator>,
    shard: usize,
    chain: Arc<ShardChain>,
    pages: Option<kaimeng_rpc::Pages>,
) -> anyhow::Result<RunningShard> {
    let (rpc_addr, server) = match config.rpc_port {
        None => (None, None),
        Some(base) => {
            let port = if base == 0 {
                0
            } else {
                base.checked_add(shard as u16)
                    .context("RPC port out of range")?
            };
            let rpc = RpcConfig {
                addr: SocketAddr::new(config.host, port),
                limits: config.limits.clone(),
                dev_signer: config.dev_signer.clone(),
                fee_recipient: config.fee_recipient,
                status: shard_status(validator, shard, &chain),
            };
            // The operator's admin methods only where only the operator can reach them.
            let mut extra = jsonrpsee::Methods::new();
            {
                use kaimeng_rpc::api::finality::FinalityApiServer;
                let mut chains: Vec<Arc<dyn kaimeng_rpc::CertifiedChain>> = vec![chain.clone()];
                if let Some(v) = validator {
                    chains.push(v.beacon.clone());
                }
                let finality = kaimeng_rpc::FinalityRpc::new(chains);
                extra.merge(finality.into_rpc())?;
            }
            if let (0, Some(rollup)) = (shard, &config.genesis.rollup) {
                extra.merge(crate::rollup_rpc::methods(rollup))?;
            }
            if let Some(v) = validator {
                extra.merge(consortium_methods(v)?)?;
                // The operator's admin methods only where only the operator can reach them.
                if config.host.is_loopback() {
                    extra.merge(validator::admin_methods(v.network.clone()))?;
                }
            }
            let (addr, server) =
                kaimeng_rpc::serve_with_pages(chain.clone(), rpc, extra, pages).await?;
            (Some(addr), Some(server))
        }
    };
    let sealer = match &config.production {
        BlockProduction::Sealer(mode) => {
            Some(sealer::spawn(chain.clone(), *mode, config.fee_recipient))
        }
        BlockProduction::Consensus(_) => None,
    };
    tracing::info!(shard, chain_id = chain.config().chain_id, rpc = ?rpc_addr, head = chain.head().number(), "shard started");
    Ok(RunningShard {
        chain,
        rpc_addr,
        server,
        sealer,
    })
}

/// Peers and sync progress of shard `shard` for its RPC (and the explorer's home page).
pub(crate) fn shard_status(
    validator: Option<&RunningValidator>,
    shard: usize,
    chain: &Arc<ShardChain>,
) -> Arc<dyn kaimeng_rpc::NodeStatus> {
    match validator {
        Some(v) => {
            let seen = v.statuses[shard].clone();
            crate::node_status::NetworkStatus::shared(v.network.clone(), chain.clone(), move || {
                seen.finalized_height.load(Ordering::Relaxed)
            })
        }
        None => kaimeng_rpc::node_status::standalone(),
    }
}

/// The beacon chain's `kaimeng_*` methods: the consortium, epochs, committees, crosslinks and
/// cross-shard messages.
pub(crate) fn consortium_methods(v: &RunningValidator) -> anyhow::Result<jsonrpsee::Methods> {
    let mut methods = jsonrpsee::Methods::new();
    let consortium = validator::beacon::rpc::ConsortiumRpc {
        beacon: v.beacon.clone(),
        network: v.network.clone(),
    };
    methods.merge(kaimeng_rpc::KaimengRpc::methods(Arc::new(consortium)))?;
    methods.merge(validator::beacon::rpc::beacon_methods(v.beacon.clone()))?;
    methods.merge(validator::beacon::messages_rpc::message_methods(
        v.beacon.clone(),
    ))?;
    Ok(methods)
}

/// Says clearly when the data directory cannot be used.
fn check_data_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "data directory {} exists and is not a directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let probe = dir.join(".kaimeng-write-test");
    std::fs::write(&probe, b"ok")
        .with_context(|| format!("data directory {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}
