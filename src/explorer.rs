//! The explorer's place in a node: opens its index store in the data directory, starts one
//! indexer per shard and builds the pages every shard's RPC server mounts under `/explorer`
//! (ADR 0107). The explorer itself lives in the `kaimeng-explorer` crate.

use std::sync::Arc;

use anyhow::Context;
use kaimeng_explorer::{Explorer, Index, IndexOptions, Sources};
use kaimeng_shards::ShardChain;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::node::{NodeConfig, consortium_methods, shard_status};
use crate::validator::RunningValidator;

/// The indexers' stop switch and tasks.
pub type Indexers = (watch::Sender<bool>, Vec<JoinHandle<()>>);

/// The explorer of a node whose chains are `chains`: its pages, and its indexers unless the
/// operator switched the indexes off.
pub fn start(
    config: &NodeConfig,
    validator: Option<&RunningValidator>,
    chains: &[Arc<ShardChain>],
) -> anyhow::Result<(kaimeng_rpc::Pages, Option<Indexers>)> {
    let index = if config.explorer.index {
        let dir = config.data_dir.join("explorer");
        Some(Arc::new(Index::open(&dir, &config.store).with_context(
            || format!("opening the explorer's index in {}", dir.display()),
        )?))
    } else {
        None
    };
    let bridge = config
        .genesis
        .rollup
        .map(|_| kaimeng_genesis::BRIDGE_ADDRESS);
    let indexers = index.as_ref().map(|index| {
        let (stop, stopped) = watch::channel(false);
        let tasks = chains
            .iter()
            .map(|chain| {
                let options = IndexOptions {
                    internal_calls: config.explorer.internal_calls,
                    keep_logs_of: bridge.filter(|_| chain.config().shard == 0),
                };
                tokio::spawn(kaimeng_explorer::index::run(
                    index.clone(),
                    chain.clone(),
                    options,
                    stopped.clone(),
                ))
            })
            .collect();
        (stop, tasks)
    });
    let beacon_height = validator.map(|v| {
        let beacon = v.beacon.clone();
        Arc::new(move || beacon.finalized_state().height) as Arc<dyn Fn() -> u64 + Send + Sync>
    });
    let beacon = match validator {
        Some(v) => {
            use kaimeng_rpc::api::finality::FinalityApiServer;
            let mut methods = consortium_methods(v)?;
            let mut certified: Vec<Arc<dyn kaimeng_rpc::CertifiedChain>> = chains
                .iter()
                .map(|c| c.clone() as Arc<dyn kaimeng_rpc::CertifiedChain>)
                .collect();
            certified.push(v.beacon.clone());
            methods.merge(kaimeng_rpc::FinalityRpc::new(certified).into_rpc())?;
            Some(methods)
        }
        None => None,
    };
    let explorer = Explorer::new(Sources {
        chains: chains.to_vec(),
        index,
        beacon,
        beacon_height,
        status: shard_status(validator, 0, &chains[0]),
        bridge,
        chain_id: config.genesis.chain_id_base,
        crypto_suite: config.genesis.crypto_suite.to_string(),
    });
    Ok((kaimeng_explorer::pages_service(explorer), indexers))
}
