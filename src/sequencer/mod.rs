//! The rollup sequencer: `kaimeng sequencer --config FILE`, and inside `kaimeng dev`.
//!
//! - [`core`]: soft-confirmed state, the journal, batches and their stages, events;
//! - [`pipeline`]: the bridge watcher and the batch life cycle on shard 0;
//! - [`jobs`]: chunk-proving jobs under leases;
//! - [`rpc`]: the `rollup_*` and `prover_*` JSON-RPC (HTTP and WebSocket);
//! - [`worker`]: prover workers, in-process or over the network (`kaimeng prover --sequencer`);
//! - [`wire`]: the RPC's request and answer types.
//!
//! Start-up (ADR 0105): the journal in the data directory is replayed; with no journal and
//! batches already on the bridge, the state is rebuilt from shard 0's published data.

pub mod core;
pub mod jobs;
pub mod pipeline;
pub mod rpc;
pub mod wire;
pub mod worker;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, anyhow, bail};
use kaimeng_genesis::RollupSpec;
use kaimeng_prover::{ChunkShape, ParamsCache, generate_vk};
use kaimeng_rollup::journal::{Journal, Record};
use kaimeng_rollup::stf::{ChunkConfig, L2State};
use serde::Deserialize;

use self::core::{Core, Settings};
use self::pipeline::Pipeline;
use crate::bridge_client::{
    BridgeClient, FEE_ACCOUNT, committedTailCall, lastCommittedCall, lastVerifiedCall,
    sequencerCall,
};

/// `kaimeng sequencer`'s config file (TOML).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequencerConfig {
    /// JSON-RPC URL of a shard-0 node.
    pub shard0_rpc: String,
    /// Where the `rollup_*` RPC listens.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The journal and the proving-parameter cache.
    pub data_dir: PathBuf,
    /// Hex private key of the sequencer's shard-0 account (genesis `rollup.sequencer`).
    pub private_key: String,
    /// Slots per chunk and circuit size: the genesis `rollup` section's.
    pub chunk_slots: u32,
    /// log2 rows of the chunk circuit.
    pub chunk_k: u32,
    /// Chunks per batch at most.
    #[serde(default = "default_max_chunks")]
    pub max_chunks: usize,
    /// A batch closes once its oldest operation waited this long.
    #[serde(default = "default_max_wait_ms")]
    pub max_wait_ms: u64,
    /// The smallest fee accepted, in L2 units.
    #[serde(default = "default_min_fee")]
    pub min_fee: u16,
    /// Prover threads inside the sequencer (0: only remote workers prove).
    #[serde(default = "default_local_provers")]
    pub local_provers: usize,
    /// How long a worker holds a job before it is handed out again.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:8645".parse().expect("a valid address")
}
fn default_max_chunks() -> usize {
    4
}
fn default_max_wait_ms() -> u64 {
    2_000
}
fn default_min_fee() -> u16 {
    1
}
fn default_local_provers() -> usize {
    1
}
fn default_lease_seconds() -> u64 {
    120
}

impl SequencerConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let config: Self = toml::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        config
            .check()
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        Ok(config)
    }

    /// The config for a dev network's sequencer.
    pub fn dev(
        shard0_rpc: String,
        listen: SocketAddr,
        data_dir: PathBuf,
        spec: &RollupSpec,
        private_key: String,
    ) -> Self {
        Self {
            shard0_rpc,
            listen,
            data_dir,
            private_key,
            chunk_slots: spec.chunk_slots,
            chunk_k: spec.chunk_k,
            max_chunks: default_max_chunks(),
            max_wait_ms: 1_000,
            min_fee: default_min_fee(),
            local_provers: default_local_provers(),
            lease_seconds: default_lease_seconds(),
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        self.shape()
            .validate()
            .map_err(|e| anyhow!("chunk_slots/chunk_k: {e}"))?;
        if !(1..=kaimeng_prover::batch_call::MAX_CHUNKS).contains(&self.max_chunks) {
            bail!(
                "max_chunks {} must be 1 to {}",
                self.max_chunks,
                kaimeng_prover::batch_call::MAX_CHUNKS
            );
        }
        if self.max_wait_ms == 0 {
            bail!("max_wait_ms must be positive");
        }
        if self.lease_seconds == 0 {
            bail!("lease_seconds must be positive");
        }
        self.signer()?;
        Ok(())
    }

    fn shape(&self) -> ChunkShape {
        ChunkShape {
            slots: self.chunk_slots as usize,
            k: self.chunk_k,
        }
    }

    fn signer(&self) -> anyhow::Result<PrivateKeySigner> {
        self.private_key
            .parse()
            .map_err(|e| anyhow!("private_key: {e}"))
    }
}

/// A running sequencer.
pub struct Sequencer {
    /// Its shared state.
    pub core: Arc<Core>,
    /// Where its RPC listens.
    pub addr: SocketAddr,
    _server: jsonrpsee::server::ServerHandle,
}

/// Starts a sequencer: opens (or rebuilds) its state, serves its RPC, runs its pipeline and
/// its local provers.
pub async fn start(config: SequencerConfig) -> anyhow::Result<Sequencer> {
    config.check()?;
    let signer = config.signer()?;
    let bridge = BridgeClient::new(&config.shard0_rpc)?;
    let chain_id = bridge
        .chain_id()
        .await
        .context("reaching shard 0 (shard0_rpc)")?;
    let genesis_sequencer = bridge.view(sequencerCall {}).await?;
    if genesis_sequencer != signer.address() {
        bail!(
            "private_key is {}'s, but the bridge's sequencer is {genesis_sequencer} (genesis \
             rollup.sequencer)",
            signer.address()
        );
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating {}", config.data_dir.display()))?;
    let journal_path = config.data_dir.join("journal");
    let (mut journal, recovered) = Journal::open(&journal_path)?;
    if recovered.torn_bytes > 0 {
        tracing::warn!(
            bytes = recovered.torn_bytes,
            "cut off an unfinished last journal record (never confirmed)"
        );
    }
    let mut records = recovered.records;

    // The base: empty, or rebuilt from shard 0 (now, or recorded by an earlier rebuild).
    let (base, base_batches, base_request) = match records.first() {
        Some(Record::Rebuilt {
            batches,
            next_request,
        }) => {
            let (rebuilder, _) = bridge.rebuild(*batches).await?;
            (rebuilder.state().clone(), *batches, *next_request)
        }
        Some(_) => (L2State::new(), 0, 0),
        None => {
            let committed = bridge.view(lastCommittedCall {}).await?;
            if committed == 0 {
                (L2State::new(), 0, 0)
            } else {
                let verified = bridge.view(lastVerifiedCall {}).await?;
                if verified < committed {
                    bail!(
                        "the data directory is empty and batches {}..={committed} are committed \
                         on shard 0 but not verified: their signatures are only in the lost \
                         journal, so they cannot be proven. Restore the journal to continue",
                        verified + 1
                    );
                }
                let next_request = bridge.view(committedTailCall {}).await?;
                let (rebuilder, chunks) = bridge.rebuild(committed).await?;
                tracing::info!(
                    batches = committed,
                    chunks,
                    next_request,
                    "rebuilt the L2 state from shard 0's published data"
                );
                let marker = Record::Rebuilt {
                    batches: committed,
                    next_request,
                };
                journal.append(&marker)?;
                journal.sync()?;
                records.push(marker);
                (rebuilder.state().clone(), committed, next_request)
            }
        }
    };

    let settings = Settings {
        chain_id,
        slots: config.chunk_slots as usize,
        max_chunks: config.max_chunks,
        max_wait: Duration::from_millis(config.max_wait_ms),
        min_fee: config.min_fee,
        chunk_k: config.chunk_k,
    };
    let (core, replayed) = Core::open(
        settings,
        journal,
        records,
        &base,
        base_batches,
        base_request,
        Duration::from_secs(config.lease_seconds),
    )?;
    core.start_tasks();

    // The tree after every closed batch; outcomes kept for those the bridge has not verified.
    let verified = bridge.view(lastVerifiedCall {}).await?;
    let mut tree = base;
    let chunk_config = ChunkConfig {
        chain_id,
        fee_account: FEE_ACCOUNT,
        slots: settings.slots,
    };
    let mut outcomes = BTreeMap::new();
    for (number, ops) in replayed.batch_ops {
        let applied = tree
            .apply_batch(chunk_config, &ops)
            .map_err(|e| anyhow!("replaying batch {number}: {e}"))?;
        core.batch_applied(number, &applied, &tree);
        if number > verified {
            outcomes.insert(number, Arc::new(applied));
        }
    }
    let pipeline = Pipeline::new(core.clone(), bridge, signer, tree, outcomes);
    pipeline.reopen_jobs();
    {
        let mut jobs = core.jobs.lock();
        for (id, proof) in replayed.proofs {
            jobs.record(id, proof);
        }
    }

    let shape = config.shape();
    let (addr, server) = rpc::serve(config.listen, core.clone(), shape).await?;
    tokio::spawn(pipeline.run());
    start_provers(
        core.clone(),
        config.data_dir.join("params"),
        shape,
        config.local_provers,
    );
    tracing::info!(%addr, "rollup sequencer ready");
    Ok(Sequencer {
        core,
        addr,
        _server: server,
    })
}

/// Once the first proving job appears (an idle sequencer costs nothing), loads the proving
/// parameters, builds the verifying key worker proofs are checked with, and starts `local`
/// in-process provers.
fn start_provers(core: Arc<Core>, params_dir: PathBuf, shape: ChunkShape, local: usize) {
    let runtime = tokio::runtime::Handle::current();
    let spawned = std::thread::Builder::new()
        .name("rollup-prover-setup".into())
        .spawn(move || {
            while core.jobs.lock().counts(std::time::Instant::now()).0 == 0 {
                std::thread::sleep(Duration::from_millis(200));
            }
            let built = ParamsCache::new(params_dir)
                .quiet()
                .load_or_generate(shape.k)
                .and_then(|params| Ok((generate_vk(&params, shape)?, params)));
            let (vk, params) = match built {
                Ok(built) => built,
                Err(e) => {
                    core.fail(format!("cannot build the proving parameters: {e}"));
                    return;
                }
            };
            let params = Arc::new(params);
            core.set_verifier(params.clone(), Arc::new(vk));
            let _guard = runtime.enter();
            for i in 0..local {
                if let Err(e) =
                    worker::spawn_local(core.clone(), params.clone(), shape, format!("local-{i}"))
                {
                    tracing::error!(error = %e, "cannot start a local prover");
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the prover setup thread");
    }
}

/// `kaimeng sequencer --config FILE`: runs until interrupted.
pub async fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = SequencerConfig::load(config_path)?;
    let sequencer = start(config).await?;
    println!(
        "Rollup sequencer: RPC http://{0}  WebSocket ws://{0}",
        sequencer.addr
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    crate::dev::wait_for_shutdown().await;
    Ok(())
}
