//! A running node: one store, chain, block producer and RPC server per shard.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy_primitives::Address;
use anyhow::Context;
use jsonrpsee::server::ServerHandle;
use kaimeng_genesis::GenesisSpec;
use kaimeng_l1::storage::StoreOptions;
use kaimeng_rpc::{DevSigner, RpcConfig, RpcLimits};
use kaimeng_shards::ShardChain;
use kaimeng_shards::sealer::{self, SealMode};

/// How to run a node.
pub struct NodeConfig {
    pub genesis: GenesisSpec,
    pub data_dir: PathBuf,
    pub host: IpAddr,
    /// Shard `i` serves RPC on `rpc_port + i` (0 picks free ports).
    pub rpc_port: u16,
    pub seal_mode: SealMode,
    pub fee_recipient: Address,
    pub dev_signer: DevSigner,
    pub limits: RpcLimits,
    pub store: StoreOptions,
}

/// One shard of a running node.
pub struct RunningShard {
    pub chain: Arc<ShardChain>,
    pub rpc_addr: SocketAddr,
    server: ServerHandle,
    sealer: tokio::task::JoinHandle<()>,
}

pub struct RunningNode {
    pub shards: Vec<RunningShard>,
}

impl RunningNode {
    /// Opens every shard and starts producing blocks and serving RPC.
    pub async fn start(config: NodeConfig) -> anyhow::Result<RunningNode> {
        check_data_dir(&config.data_dir)?;
        let mut shards = Vec::new();
        for shard in 0..config.genesis.shard_count {
            let dir = config.data_dir.join("shards").join(shard.to_string());
            let store = kaimeng_shards::open_store(&dir, &config.store)?;
            let chain = Arc::new(ShardChain::open(store, &config.genesis, shard)?);
            let port = if config.rpc_port == 0 {
                0
            } else {
                config
                    .rpc_port
                    .checked_add(shard as u16)
                    .context("RPC port out of range")?
            };
            let rpc = RpcConfig {
                addr: SocketAddr::new(config.host, port),
                limits: config.limits.clone(),
                dev_signer: config.dev_signer.clone(),
                fee_recipient: config.fee_recipient,
            };
            let (rpc_addr, server) = kaimeng_rpc::serve(chain.clone(), rpc).await?;
            let sealer = sealer::spawn(chain.clone(), config.seal_mode, config.fee_recipient);
            tracing::info!(shard, chain_id = chain.config().chain_id, %rpc_addr, head = chain.head().number(), "shard started");
            shards.push(RunningShard {
                chain,
                rpc_addr,
                server,
                sealer,
            });
        }
        Ok(RunningNode { shards })
    }

    /// Stops block production and RPC. Blocks being written complete atomically first.
    pub async fn stop(self) {
        for shard in self.shards {
            shard.sealer.abort();
            let _ = shard.sealer.await;
            let _ = shard.server.stop();
            shard.server.stopped().await;
        }
    }
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
