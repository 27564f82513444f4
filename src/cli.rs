//! The `kaimeng` command line: `dev`, `node`, `testnet`, `genesis`, `keygen`, `key-inspect`,
//! `gov`, `prover`, `verify-certificate`, `committees` and `l2`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use kaimeng_genesis::{CryptoSuite, DevOptions};

#[derive(Parser, Debug)]
#[command(
    name = "kaimeng",
    version,
    about = "Kaimeng (开盟): an open-consortium blockchain"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Start a local development network in this process, with funded dev accounts.
    Dev(DevArgs),
    /// Create or check genesis files.
    #[command(subcommand)]
    Genesis(GenesisCommand),
    /// Generate a validator key and write it to a keystore encrypted with SM4 under a password.
    Keygen(KeygenArgs),
    /// Decrypt a keystore and print its public key (checks the password).
    KeyInspect(KeyInspectArgs),
    /// Run stateless rollup prover workers: leasing jobs from a sequencer over JSON-RPC
    /// (`--sequencer URL`), or over a directory job queue (`--queue DIR`).
    Prover(ProverArgs),
    /// Run the rollup sequencer from a config file (docs/rollup.md, "The sequencer").
    Sequencer(SequencerArgs),
    /// Consortium governance: list members and proposals, propose, vote.
    #[command(subcommand)]
    Gov(crate::gov::GovCommand),
    /// Run one member's validator, or a full node, from a config file.
    Node(NodeArgs),
    /// Generate keys, genesis and configs for N members and run each as its own process.
    Testnet(TestnetArgs),
    /// Check a block's finality certificate from a node's RPC against the genesis members
    /// (a light client's check: nothing else is trusted).
    VerifyCertificate(crate::light::VerifyCertificateArgs),
    /// Shard committees: recompute an epoch's assignment from RPC data and compare.
    #[command(subcommand)]
    Committees(crate::committees_command::CommitteesCommand),
    /// The rollup from a user's side: key, deposit, transfer, withdraw, claim, status, exit.
    #[command(subcommand)]
    L2(crate::l2_command::L2Command),
}

#[derive(Args, Debug, Clone)]
pub struct NodeArgs {
    /// The node's TOML config file (see docs/operations.md).
    #[arg(long, short)]
    pub config: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct SequencerArgs {
    /// The sequencer's TOML config file (docs/rollup.md).
    #[arg(long, short)]
    pub config: PathBuf,
    /// On an empty data directory, revert the batches committed on shard 0 but not verified
    /// (their signed operations were only in the lost journal, so they cannot be proven), then
    /// rebuild from the verified ones. Their transactions are dropped; their deposits and
    /// forced withdrawals are committed again.
    #[arg(long)]
    pub revert_unverified: bool,
}

#[derive(Args, Debug, Clone)]
pub struct TestnetArgs {
    /// Number of members (validators), each a separate `kaimeng node` process.
    #[arg(long, default_value_t = 4)]
    pub validators: u32,
    /// Directory for keys, genesis, configs, data and logs (must not hold a testnet yet).
    #[arg(long, default_value = "kaimeng-testnet")]
    pub dir: PathBuf,
    /// Chain id of shard 0.
    #[arg(long, default_value_t = 31337)]
    pub chain_id: u64,
    /// Consensus crypto suite: secp256k1-keccak or sm2-sm3.
    #[arg(long, default_value = "secp256k1-keccak")]
    pub crypto_suite: String,
    /// Member i listens for peers on p2p-port + i.
    #[arg(long, default_value_t = 30333)]
    pub p2p_port: u16,
    /// Member i serves shard s's JSON-RPC on rpc-port + i * shards + s.
    #[arg(long, default_value_t = 8545)]
    pub rpc_port: u16,
    /// Number of execution shards (chain ids chain-id, chain-id + 1, ...).
    #[arg(long, default_value_t = 1)]
    pub shards: u32,
    /// Members per shard committee, drawn each epoch by VRF (default: every member).
    #[arg(long)]
    pub committee_size: Option<u32>,
    /// Member i serves Prometheus metrics on metrics-port + i.
    #[arg(long, default_value_t = 9615)]
    pub metrics_port: u16,
    /// Keystore key-derivation iterations.
    #[arg(long, default_value_t = kaimeng_crypto::keystore::DEFAULT_ITERATIONS)]
    pub kdf_iterations: u32,
    /// Genesis block time in milliseconds: an idle leader proposes an empty block after this
    /// long, and the consensus base timeout is twice it.
    #[arg(long, default_value_t = 1_000)]
    pub block_time_ms: u64,
    /// Blocks per epoch (governance changes take effect at epoch boundaries).
    #[arg(long, default_value_t = kaimeng_genesis::DEV_EPOCH_LENGTH)]
    pub epoch_length: u64,
    /// Only write the files; start nothing.
    #[arg(long)]
    pub generate_only: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ProverArgs {
    /// The job queue directory (shared by workers; jobs are claimed by atomic rename).
    #[arg(
        long,
        conflicts_with = "sequencer",
        required_unless_present = "sequencer"
    )]
    pub queue: Option<PathBuf>,
    /// A sequencer's RPC URL to lease jobs from (no shared filesystem needed).
    #[arg(long)]
    pub sequencer: Option<String>,
    /// The sequencer's prover secret (its `prover_secret_file`), required with --sequencer.
    #[arg(long, requires = "sequencer")]
    pub secret: Option<PathBuf>,
    /// Workers in this process (with --sequencer).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Stop after this many jobs per worker (with --sequencer).
    #[arg(long)]
    pub max_jobs: Option<usize>,
    /// Chunk slots of the network's genesis `rollup` section (with --queue; with --sequencer
    /// the sequencer tells the shape).
    #[arg(long, default_value_t = kaimeng_prover::ChunkShape::DEFAULT.slots)]
    pub chunk_slots: usize,
    /// log2 rows of the chunk circuit (genesis `rollup.chunk_k`).
    #[arg(long, default_value_t = kaimeng_prover::ChunkShape::DEFAULT.k)]
    pub chunk_k: u32,
    /// Where proving parameters are cached (generated deterministically on first use).
    #[arg(long, default_value = ".kaimeng-prover-params")]
    pub params: PathBuf,
    /// Stop when the queue is empty instead of waiting for more jobs.
    #[arg(long)]
    pub exit_when_idle: bool,
}

#[derive(Args, Debug, Clone)]
pub struct KeygenArgs {
    /// Where to write the keystore (refuses to overwrite).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Crypto suite of the key: secp256k1-keccak or sm2-sm3.
    #[arg(long, default_value = "sm2-sm3")]
    pub suite: String,
    /// File whose first line is the password (or set KAIMENG_PASSWORD).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// PBKDF2-HMAC-SM3 iterations.
    #[arg(long, default_value_t = kaimeng_crypto::keystore::DEFAULT_ITERATIONS)]
    pub iterations: u32,
}

#[derive(Args, Debug, Clone)]
pub struct KeyInspectArgs {
    /// The keystore file.
    pub file: PathBuf,
    /// File whose first line is the password (or set KAIMENG_PASSWORD).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// The keystore holds a VRF secret: print its RFC 9381 public key (a member's genesis
    /// `vrf_key`) instead of the suite key.
    #[arg(long)]
    pub vrf: bool,
}

#[derive(Args, Debug, Clone)]
pub struct DevArgs {
    /// Port of shard 0's JSON-RPC (HTTP and WebSocket); shard i uses port + i. 0 picks free ports.
    #[arg(long, short, default_value_t = 8545)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Keep chain data here across restarts (default: a temporary directory removed on exit).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Block interval in milliseconds; 0 seals a block as soon as transactions arrive.
    #[arg(long, default_value_t = 0)]
    pub block_time: u64,
    /// Number of validators (consortium members), run in this process and finalizing blocks
    /// by BFT consensus over libp2p on loopback; 1 runs a single local sealer.
    #[arg(long, default_value_t = 4)]
    pub validators: u32,
    /// Number of execution shards (chain ids chain-id, chain-id + 1, ...).
    #[arg(long, default_value_t = 1)]
    pub shards: u32,
    /// Members per shard committee, drawn each epoch by VRF (default: every member).
    #[arg(long)]
    pub committee_size: Option<u32>,
    /// Chain id of shard 0.
    #[arg(long, default_value_t = 31337)]
    pub chain_id: u64,
    /// Consensus crypto suite: secp256k1-keccak or sm2-sm3.
    #[arg(long, default_value = "secp256k1-keccak")]
    pub crypto_suite: String,
    /// Block gas limit.
    #[arg(long)]
    pub gas_limit: Option<u64>,
    /// JSON-RPC requests per second allowed per client IP address, over HTTP and WebSocket
    /// together (a batch counts each entry); the excess is refused with error -32005.
    #[arg(long, default_value_t = 20_000)]
    pub rpc_rate_limit: u32,
    /// Threads that run eth_call, eth_estimateGas, eth_getLogs, filter polls and tracing, apart
    /// from those serving requests and consensus (default: the number of cores, at least 2).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub rpc_read_threads: Option<u32>,
    /// Such calls that may wait for a read thread; one more is refused with error -32005.
    #[arg(long, default_value_t = kaimeng_rpc::read_pool::DEFAULT_QUEUE)]
    pub rpc_read_queue: u32,
    /// Extra in-process nodes holding dev member keys N.. but not in genesis: they follow the
    /// chain and become validators once governance admits them (`kaimeng gov propose add-member`).
    #[arg(long, default_value_t = 0)]
    pub standby: u32,
    /// Blocks per epoch (governance changes take effect at epoch boundaries).
    #[arg(long, default_value_t = kaimeng_genesis::DEV_EPOCH_LENGTH)]
    pub epoch_length: u64,
    /// Seconds a rollup deposit or forced withdrawal may wait unprocessed before anyone may
    /// switch the bridge into exodus mode.
    #[arg(long, default_value_t = 3_600, value_parser = clap::value_parser!(u64).range(1..))]
    pub rollup_priority_expiry: u64,
    /// Port of the rollup sequencer's JSON-RPC (`rollup_*`, HTTP and WebSocket). Default:
    /// `--port` + 100 (8645), or a free one with `--port 0`.
    #[arg(long)]
    pub sequencer_port: Option<u16>,
    /// Do not run the rollup sequencer (dev account 9 then stays free to act as one).
    #[arg(long)]
    pub no_sequencer: bool,
    /// Do not serve the explorer (`/explorer` on shard 0's RPC port) nor build its indexes.
    #[arg(long)]
    pub no_explorer: bool,
    /// Serve the explorer without building its indexes (the pages that need them say so).
    #[arg(long)]
    pub no_explorer_index: bool,
    /// A rollup batch closes once its oldest operation waited this long (milliseconds).
    #[arg(long, default_value_t = 1_000)]
    pub sequencer_max_wait_ms: u64,
    /// fsync every block written, as `kaimeng node` does by default. Off by default: dev
    /// block data survives `kill -9` but not a power cut. Votes are fsynced either way.
    #[arg(long)]
    pub sync_writes: bool,
}

#[derive(Subcommand, Debug)]
pub enum GenesisCommand {
    /// Write the built-in development genesis to a file.
    New {
        /// Where to write it.
        #[arg(long, short)]
        out: PathBuf,
        #[arg(long, default_value_t = 4)]
        validators: u32,
        #[arg(long, default_value_t = 1)]
        shards: u32,
        #[arg(long, default_value_t = 31337)]
        chain_id: u64,
        #[arg(long, default_value = "secp256k1-keccak")]
        crypto_suite: String,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Validate a genesis file and print a summary.
    Check { file: PathBuf },
}

pub fn parse_suite(text: &str) -> anyhow::Result<CryptoSuite> {
    text.parse::<CryptoSuite>()
        .map_err(|e| anyhow::anyhow!("--crypto-suite: {e}"))
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Dev(args) => {
            init_tracing();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(crate::dev::run(args))
        }
        Command::Genesis(GenesisCommand::New {
            out,
            validators,
            shards,
            chain_id,
            crypto_suite,
            force,
        }) => {
            let opts = DevOptions {
                validators,
                shards,
                chain_id_base: chain_id,
                crypto_suite: parse_suite(&crypto_suite)?,
                ..DevOptions::default()
            };
            kaimeng_genesis::cli::create_dev_file(&out, &opts, force)?;
            println!("wrote {}", out.display());
            Ok(())
        }
        Command::Keygen(args) => keygen(args),
        Command::KeyInspect(args) => key_inspect(args),
        Command::Gov(command) => crate::gov::run(command),
        Command::Prover(args) => {
            init_tracing();
            let shape = kaimeng_prover::ChunkShape {
                slots: args.chunk_slots,
                k: args.chunk_k,
            };
            if let Some(url) = &args.sequencer {
                let secret = args
                    .secret
                    .as_deref()
                    .context("--secret FILE is required with --sequencer (the sequencer's prover_secret_file)")?;
                let proven = crate::sequencer::worker::run_remote(
                    url,
                    secret,
                    &args.params,
                    shape,
                    args.threads,
                    args.max_jobs,
                )?;
                println!("proved {proven} chunks");
                return Ok(());
            }
            let queue = args.queue.context("--queue or --sequencer is required")?;
            let mut config = kaimeng_prover::WorkerConfig::new(queue, args.params, shape);
            config.exit_when_idle = args.exit_when_idle;
            let report = kaimeng_prover::run_worker(config)?;
            println!("proved {} chunks, {} failed", report.proven, report.failed);
            Ok(())
        }
        Command::Node(args) => crate::node_command::run(&args.config),
        Command::Sequencer(args) => {
            init_tracing();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(crate::sequencer::run(&args.config, args.revert_unverified))
        }
        Command::Testnet(args) => testnet(args),
        Command::VerifyCertificate(args) => crate::light::run(args),
        Command::Committees(command) => crate::committees_command::run(command),
        Command::L2(command) => crate::l2_command::run(command),
        Command::Genesis(GenesisCommand::Check { file }) => {
            let summary = kaimeng_genesis::cli::check_file(&file)?;
            println!("{summary}");
            Ok(())
        }
    }
}

fn testnet(args: TestnetArgs) -> anyhow::Result<()> {
    let plan = crate::testnet::TestnetPlan {
        dir: args.dir,
        validators: args.validators,
        chain_id: args.chain_id,
        suite: parse_suite(&args.crypto_suite)?,
        p2p_port: args.p2p_port,
        rpc_port: args.rpc_port,
        shards: args.shards,
        committee_size: args.committee_size,
        metrics_port: args.metrics_port,
        kdf_iterations: args.kdf_iterations,
        block_time_ms: args.block_time_ms,
        epoch_length: args.epoch_length,
    };
    let testnet = crate::testnet::generate(&plan)?;
    println!("genesis {}", testnet.genesis.display());
    for (config, url) in testnet.configs.iter().zip(&testnet.rpc_urls) {
        println!("member config {}  RPC {url}", config.display());
    }
    if plan.shards > 1
        && plan
            .committee_size
            .is_some_and(|size| size < plan.validators)
    {
        println!(
            "each member executes only the shards its committees seat it in, and its RPC \
             refuses the others' state (kaimeng_heldShards lists what it holds); set \
             `[shards] hold = \"all\"` in a member's config to serve every shard there"
        );
    }
    if args.generate_only {
        return Ok(());
    }
    let mut children = crate::testnet::launch(&testnet)?;
    for (i, child) in children.iter().flatten().enumerate() {
        println!("member {i} pid {}", child.id());
    }
    println!(
        "running {} validators (logs in member-*/node.log); Ctrl-C stops them. A member that \
         exits is reported here and not restarted",
        children.len()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(crate::testnet::supervise(&mut children, &testnet.configs));
    for child in children.iter_mut().flatten() {
        // SIGTERM lets each node finish its current write.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
    }
    for child in children.iter_mut().flatten() {
        let _ = child.wait();
    }
    Ok(())
}

/// The first line of `file`, or `KAIMENG_PASSWORD` without one (keystore passwords).
pub(crate) fn read_password(file: Option<&Path>) -> anyhow::Result<String> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read password file {}", path.display()))?;
            Ok(text.lines().next().unwrap_or_default().to_string())
        }
        None => std::env::var("KAIMENG_PASSWORD")
            .context("no keystore password: pass --password-file or set KAIMENG_PASSWORD"),
    }
}

fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    let suite: kaimeng_crypto::CryptoSuite = args
        .suite
        .parse()
        .map_err(|e| anyhow::anyhow!("--suite: {e}"))?;
    let password = read_password(args.password_file.as_deref())?;
    if password.is_empty() {
        anyhow::bail!("the password is empty");
    }
    let key = suite.generate();
    let keystore = kaimeng_crypto::keystore::Keystore::encrypt_with_iterations(
        &key.to_bytes()[..],
        &password,
        suite,
        args.iterations,
    )?;
    kaimeng_crypto::keystore::save_keystore(&args.out, &keystore, false)?;
    println!(
        "wrote {} ({suite}); public key 0x{}",
        args.out.display(),
        hex::encode(key.public_key().to_bytes())
    );
    Ok(())
}

fn key_inspect(args: KeyInspectArgs) -> anyhow::Result<()> {
    let password = read_password(args.password_file.as_deref())?;
    let key = kaimeng_crypto::keystore::load_keystore(&args.file, &password)?;
    if args.vrf {
        let vrf = kaimeng_crypto::vrf::VrfSecretKey::from_bytes(&key.to_bytes());
        println!(
            "VRF (ECVRF-EDWARDS25519-SHA512-TAI): public key 0x{}",
            hex::encode(vrf.public_key().to_bytes())
        );
        return Ok(());
    }
    println!(
        "{}: public key 0x{}",
        key.suite(),
        hex::encode(key.public_key().to_bytes())
    );
    Ok(())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KAIMENG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
