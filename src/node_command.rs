//! `kaimeng node --config FILE`: one member's validator, or a full node, on a real host, from
//! a config file (`docs/operations.md`). It runs until SIGINT/SIGTERM.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use kaimeng_consensus::TimeoutConfig;
use kaimeng_rpc::DevSigner;

use crate::config::NodeConfig as ConfigFile;
use crate::node::{BlockProduction, ConsensusSetup, NodeConfig, RunningNode};

/// Loads and checks everything the node needs (config, genesis, keys) before starting.
pub fn run(path: &Path) -> anyhow::Result<()> {
    let config = ConfigFile::load(path)?;
    init_tracing(&config.log_level);
    let (consensus_key, vrf_key) = match config.validator() {
        Some(validator) => {
            let genesis_vrf = config
                .genesis
                .member(&validator.organisation)
                .map(|m| m.vrf_key.to_vec());
            (
                Some(config.open_validator_key()?),
                Some(config.open_vrf_key(genesis_vrf.as_deref())?),
            )
        }
        None => (None, None),
    };
    let node_key = config.load_or_create_node_key()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(config, consensus_key, vrf_key, node_key))
}

async fn serve(
    config: ConfigFile,
    consensus_key: Option<kaimeng_crypto::SecretKey>,
    vrf_key: Option<kaimeng_crypto::vrf::VrfSecretKey>,
    node_key: kaimeng_network::NodeKey,
) -> anyhow::Result<()> {
    let idle = Duration::from_millis(config.genesis.block_time_ms.max(1));
    let metrics = crate::metrics::Metrics::new();
    let _metrics_server = match config.metrics {
        Some(addr) => {
            let (addr, task) = crate::metrics::serve(addr, metrics.clone())
                .await
                .with_context(|| format!("cannot serve metrics on {addr}"))?;
            println!("Metrics on http://{addr}/metrics");
            Some(task)
        }
        None => None,
    };
    let fee_recipient = config
        .validator()
        .and_then(|v| config.genesis.member(&v.organisation))
        .map(|m| m.fee_recipient)
        .unwrap_or_default();
    let node = RunningNode::start(NodeConfig {
        genesis: config.genesis.clone(),
        data_dir: config.data_dir.clone(),
        host: config
            .rpc
            .as_ref()
            .map(|r| r.listen.ip())
            .unwrap_or([127, 0, 0, 1].into()),
        rpc_port: config.rpc.as_ref().map(|r| r.listen.port()),
        production: BlockProduction::Consensus(ConsensusSetup {
            consensus_key,
            vrf_key,
            node_key,
            listen: config.p2p.listen.clone(),
            bootstrap: config.p2p.bootnodes.clone(),
            timeouts: TimeoutConfig {
                base: (idle * 2).max(Duration::from_millis(1_000)),
                max: Duration::from_secs(30),
            },
            idle_block_interval: idle,
            snapshot_min_gap: config.snapshot_min_gap,
            hold: config.hold,
            metrics,
        }),
        fee_recipient,
        // A real node holds no dev keys: eth_sendTransaction is refused.
        dev_signer: DevSigner::new(&[]),
        limits: config
            .rpc
            .as_ref()
            .map(|r| r.limits.clone())
            .unwrap_or_default(),
        store: config.storage.clone(),
        explorer: config.explorer,
    })
    .await?;
    if let Some(validator) = &node.validator {
        for addr in validator.dial_addrs() {
            println!("p2p {addr}");
        }
    }
    if let Some(addr) = node.shards[0].rpc_addr {
        println!("Listening on http://{addr}");
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    crate::dev::wait_for_shutdown().await;
    eprintln!("shutting down");
    node.stop().await;
    Ok(())
}

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KAIMENG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
