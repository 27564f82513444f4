//! `kaimeng dev`: a complete local network in one process, printing what a developer needs.

use std::time::Duration;

use anyhow::Context;
use kaimeng_genesis::{DEV_MNEMONIC, DevOptions, GenesisSpec, dev_accounts};
use kaimeng_l1::storage::StoreOptions;
use kaimeng_rpc::{DevSigner, RpcLimits};
use kaimeng_shards::sealer::SealMode;

use crate::cli::{DevArgs, parse_suite};
use crate::node::{NodeConfig, RunningNode};

pub fn dev_genesis(args: &DevArgs) -> anyhow::Result<GenesisSpec> {
    if args.validators != 1 {
        anyhow::bail!(
            "--validators {}: this build runs one local validator (multi-validator BFT arrives with the consortium L1)",
            args.validators
        );
    }
    let opts = DevOptions {
        validators: args.validators,
        shards: args.shards,
        chain_id_base: args.chain_id,
        crypto_suite: parse_suite(&args.crypto_suite)?,
        block_time_ms: args.block_time.max(1),
        ..DevOptions::default()
    };
    let mut genesis = GenesisSpec::dev(&opts);
    if let Some(gas_limit) = args.gas_limit {
        genesis.block_gas_limit = gas_limit;
    }
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
    let config = NodeConfig {
        genesis: genesis.clone(),
        data_dir: data_dir.clone(),
        host: args.host,
        rpc_port: args.port,
        seal_mode: if args.block_time == 0 {
            SealMode::Instant
        } else {
            SealMode::Interval(Duration::from_millis(args.block_time))
        },
        fee_recipient: accounts[0].address,
        dev_signer: DevSigner::new(&accounts.iter().map(|a| a.private_key).collect::<Vec<_>>()),
        limits: RpcLimits {
            requests_per_second_per_connection: args.rpc_rate_limit,
            ..RpcLimits::default()
        },
        store: StoreOptions::default(),
    };
    let node = RunningNode::start(config).await?;

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
    println!(
        "Blocks: {}",
        if args.block_time == 0 {
            "sealed as soon as transactions arrive".to_string()
        } else {
            format!("every {} ms", args.block_time)
        }
    );
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
        println!(
            "Shard {} chain id {}: RPC http://{addr}  WebSocket ws://{addr}",
            c.shard,
            c.chain_id,
            addr = shard.rpc_addr
        );
    }
    println!("Listening on http://{}", node.shards[0].rpc_addr);
    use std::io::Write;
    let _ = std::io::stdout().flush();

    wait_for_shutdown().await;
    eprintln!("shutting down");
    node.stop().await;
    Ok(())
}

async fn wait_for_shutdown() {
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
