//! `kaimeng dev`: a complete local network in one process, printing what a developer needs.

use std::time::Duration;

use anyhow::Context;
use kaimeng_consensus::TimeoutConfig;
use kaimeng_genesis::{
    DEV_MNEMONIC, DevKeyRole, DevOptions, GenesisSpec, dev_accounts, dev_member_secret,
};
use kaimeng_l1::storage::StoreOptions;
use kaimeng_rpc::{DevSigner, RpcLimits};
use kaimeng_shards::sealer::SealMode;

use crate::cli::{DevArgs, parse_suite};
use crate::node::{BlockProduction, ConsensusSetup, NodeConfig, RunningNode};

pub fn dev_genesis(args: &DevArgs) -> anyhow::Result<GenesisSpec> {
    if args.validators == 0 {
        anyhow::bail!("--validators 0: a network needs at least one validator");
    }
    if args.standby > 0 && args.validators == 1 {
        anyhow::bail!("--standby needs --validators > 1 (BFT consensus)");
    }
    let opts = DevOptions {
        validators: args.validators,
        shards: args.shards,
        chain_id_base: args.chain_id,
        crypto_suite: parse_suite(&args.crypto_suite)?,
        block_time_ms: args.block_time.max(1),
        rollup_priority_expiry_seconds: args.rollup_priority_expiry,
        ..DevOptions::default()
    };
    let mut genesis = GenesisSpec::dev(&opts);
    if let Some(gas_limit) = args.gas_limit {
        genesis.block_gas_limit = gas_limit;
    }
    genesis.epoch_length = args.epoch_length;
    genesis.committee_size = args.committee_size;
    genesis.validate().context("dev genesis")?;
    Ok(genesis)
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let genesis = dev_genesis(&args)?;
    let (data_dir, _temp) = match &args.data_dir {
        Some(dir) => (dir.clone(), None),
        None => {
            let temp = tempfile::Builder::new()
                .prefix("kaimeng-dev-")
                .tempdir()
                .context("creating a temporary data directory")?;
            (temp.path().to_owned(), Some(temp))
        }
    };
    let accounts = dev_accounts(10);
    let nodes = start_nodes(&args, &genesis, &data_dir).await?;
    let node = &nodes[0];

    println!("\n  Kaimeng 开盟 dev network\n");
    println!("Available accounts (10,000 ETH each on every shard)\n==================");
    for (i, a) in accounts.iter().enumerate() {
        println!("({i}) {}", a.address);
    }
    println!("\nPrivate keys\n==================");
    for (i, a) in accounts.iter().enumerate() {
        println!("({i}) {}", a.private_key);
    }
    println!("\nMnemonic: {DEV_MNEMONIC}\nDerivation path: m/44'/60'/0'/0/");
    println!(
        "\nBase fee floor: {} wei   Block gas limit: {}",
        genesis.min_base_fee, genesis.block_gas_limit
    );
    if nodes.len() == 1 {
        println!(
            "Blocks: {}",
            if args.block_time == 0 {
                "sealed as soon as transactions arrive".to_string()
            } else {
                format!("every {} ms", args.block_time)
            }
        );
    } else {
        println!(
            "Blocks: final by BFT consensus among {} in-process validators ({}), proposed as soon as transactions arrive, empty every {} ms when idle",
            nodes.len(),
            genesis.crypto_suite,
            idle_interval(&args).as_millis()
        );
        for (i, validator) in nodes.iter().enumerate() {
            let rpc = validator.shards[0]
                .rpc_addr
                .map(|a| a.to_string())
                .unwrap_or_default();
            let p2p = validator
                .validator
                .as_ref()
                .map(|v| v.dial_addrs().join(" "))
                .unwrap_or_default();
            if i < args.validators as usize {
                println!("Validator {i}: RPC http://{rpc}  p2p {p2p}");
            } else {
                println!(
                    "Standby {i} (dev-member-{i}, not a member until governance admits it): RPC http://{rpc}  p2p {p2p}"
                );
            }
        }
    }
    println!(
        "Data directory: {}{}",
        data_dir.display(),
        if args.data_dir.is_none() {
            " (temporary)"
        } else {
            ""
        }
    );
    println!();
    for shard in &node.shards {
        let c = shard.chain.config();
        let addr = shard.rpc_addr.context("node 0 serves RPC")?;
        println!(
            "Shard {} chain id {}: RPC http://{addr}  WebSocket ws://{addr}",
            c.shard, c.chain_id,
        );
    }
    if node.shards.len() > 1 && node.validator.is_some() {
        println!(
            "Cross-shard messages: send(uint32 shard, address to, uint64 gasLimit, bytes data) on {} (docs/cross-shard.md)",
            kaimeng_shards::crossshard::CROSS_SHARD_ADDRESS
        );
    }
    let shard0 = node.shards[0].rpc_addr.context("node 0 serves RPC")?;
    let _sequencer = match (&genesis.rollup, args.no_sequencer) {
        (Some(spec), false) => {
            let mut config = crate::sequencer::SequencerConfig::dev(
                format!("http://{shard0}"),
                std::net::SocketAddr::from(([127, 0, 0, 1], sequencer_port(&args))),
                data_dir.join("sequencer"),
                spec,
                accounts[9].private_key.to_string(),
            );
            config.max_wait_ms = args.sequencer_max_wait_ms;
            let sequencer = crate::sequencer::start(config)
                .await
                .context("starting the rollup sequencer")?;
            println!(
                "Rollup sequencer (dev account 9): RPC http://{0}  WebSocket ws://{0}  \
                 (chunks of {1} slots, k = {2}; bridge {3})",
                sequencer.addr,
                spec.chunk_slots,
                spec.chunk_k,
                kaimeng_genesis::BRIDGE_ADDRESS
            );
            Some(sequencer)
        }
        _ => None,
    };
    if !args.no_explorer {
        println!(
            "Explorer: http://{shard0}{}/{}",
            kaimeng_explorer::PREFIX,
            if args.no_explorer_index {
                "  (indexes off)"
            } else {
                ""
            }
        );
    }
    println!("Listening on http://{shard0}");
    use std::io::Write;
    let _ = std::io::stdout().flush();

    wait_for_shutdown().await;
    eprintln!("shutting down");
    for node in nodes {
        node.stop().await;
    }
    Ok(())
}

/// The sequencer's RPC port: as given, else 100 above shard 0's (free with `--port 0`).
fn sequencer_port(args: &DevArgs) -> u16 {
    args.sequencer_port.unwrap_or(match args.port {
        0 => 0,
        port => port.saturating_add(100),
    })
}

/// How long an idle leader waits before proposing an empty block.
fn idle_interval(args: &DevArgs) -> Duration {
    if args.block_time == 0 {
        Duration::from_millis(1_000)
    } else {
        Duration::from_millis(args.block_time)
    }
}

/// How `kaimeng dev` opens its stores (ADR 0003). Block data is not fsynced unless
/// `--sync-writes` is given: a dev chain is disposable (by default it lives in a temporary
/// directory removed on exit), a completed write already survives `kill -9` through the
/// write-ahead log, and an fsync per block would throttle the instant-seal loop developers and
/// the anvil comparison rely on. Consensus records (a validator's own votes) are fsynced
/// whatever this says: the shard schema marks their column synced (`open_store`), because a
/// vote lost after it was sent lets a restarted validator vote twice.
pub fn store_options(args: &DevArgs) -> StoreOptions {
    StoreOptions {
        sync_writes: args.sync_writes,
        ..StoreOptions::default()
    }
}

/// Starts one node (one validator) or `args.validators` in-process validators that talk
/// over libp2p on loopback. Node 0 serves RPC on `args.port`, the others on free ports.
async fn start_nodes(
    args: &DevArgs,
    genesis: &GenesisSpec,
    data_dir: &std::path::Path,
) -> anyhow::Result<Vec<RunningNode>> {
    let accounts = dev_accounts(10);
    // Only node 0 (whose RPC the banner prints) serves the explorer and builds its indexes.
    let explorer = |node: u32| crate::config::ExplorerSettings {
        enabled: node == 0 && !args.no_explorer,
        index: !args.no_explorer_index,
        internal_calls: true,
    };
    let base = |rpc_port, data_dir, production, fee_recipient, node| NodeConfig {
        explorer: explorer(node),
        genesis: genesis.clone(),
        data_dir,
        host: args.host,
        rpc_port: Some(rpc_port),
        production,
        fee_recipient,
        dev_signer: DevSigner::new(&accounts.iter().map(|a| a.private_key).collect::<Vec<_>>()),
        limits: RpcLimits {
            requests_per_second_per_client: args.rpc_rate_limit,
            read_threads: args
                .rpc_read_threads
                .unwrap_or_else(kaimeng_rpc::read_pool::default_threads),
            read_queue: args.rpc_read_queue,
            ..RpcLimits::default()
        },
        store: store_options(args),
    };
    if args.validators == 1 {
        let mode = if args.block_time == 0 {
            SealMode::Instant
        } else {
            SealMode::Interval(Duration::from_millis(args.block_time))
        };
        let config = base(
            args.port,
            data_dir.to_owned(),
            BlockProduction::Sealer(mode),
            accounts[0].address,
            0,
        );
        return Ok(vec![RunningNode::start(config).await?]);
    }
    let suite = crate::consensus_suite(genesis.crypto_suite);
    let idle = idle_interval(args);
    let mut nodes: Vec<RunningNode> = Vec::new();
    for i in 0..args.validators + args.standby {
        let consensus_secret = dev_member_secret(i, DevKeyRole::Consensus, genesis.crypto_suite);
        let p2p_secret = dev_member_secret(i, DevKeyRole::P2p, genesis.crypto_suite);
        let setup = ConsensusSetup {
            consensus_key: Some(kaimeng_crypto::SecretKey::from_bytes(
                suite,
                consensus_secret.as_slice(),
            )?),
            vrf_key: Some(kaimeng_crypto::vrf::VrfSecretKey::from_bytes(
                &dev_member_secret(i, DevKeyRole::Vrf, genesis.crypto_suite).0,
            )),
            node_key: kaimeng_network::NodeKey::from_secret_bytes(p2p_secret.0)?,
            listen: vec![format!("/ip4/{}/tcp/0", args.host)],
            bootstrap: nodes
                .iter()
                .filter_map(|n| n.validator.as_ref())
                .flat_map(|v| v.dial_addrs())
                .collect(),
            timeouts: TimeoutConfig {
                base: (idle * 2).max(Duration::from_millis(1_000)),
                max: Duration::from_secs(30),
            },
            idle_block_interval: idle,
            snapshot_min_gap: Some(crate::config::DEFAULT_SNAPSHOT_MIN_GAP),
            // The dev network's RPC is validator 0's, so it serves every shard.
            hold: crate::config::HoldShards::All,
            metrics: crate::metrics::Metrics::new(),
        };
        let config = base(
            if i == 0 { args.port } else { 0 },
            data_dir.join(format!("validator-{i}")),
            BlockProduction::Consensus(setup),
            kaimeng_genesis::dev_member_fee_recipient(i),
            i,
        );
        match RunningNode::start(config).await {
            Ok(node) => nodes.push(node),
            Err(error) => {
                // Stop the validators already running, so that no store is open at exit.
                for node in nodes {
                    node.stop().await;
                }
                return Err(error.context(format!("starting validator {i}")));
            }
        }
    }
    Ok(nodes)
}

pub async fn wait_for_shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
#[path = "dev_tests.rs"]
mod tests;
