//! The rollup sequencer: `kaimeng sequencer --config FILE`, and inside `kaimeng dev`.
//!
//! - [`core`]: soft-confirmed state, the journal, batches and their stages, events;
//! - [`pipeline`]: the bridge watcher and the batch life cycle on shard 0;
//! - [`jobs`]: chunk-proving jobs under leases;
//! - [`rpc`]: the users' `rollup_*` JSON-RPC (HTTP and WebSocket), rate-limited per client;
//! - [`prover_rpc`]: the `prover_*` JSON-RPC for remote workers, on its own listener behind a
//!   secret (ADR 0109);
//! - [`worker`]: prover workers, in-process or over the network (`kaimeng prover --sequencer`);
//! - [`wire`]: the RPC's request and answer types.
//!
//! Start-up (ADR 0105): the journal in the data directory is replayed; with no journal and
//! batches already on the bridge, the state is rebuilt from shard 0's published data.

pub mod core;
pub mod jobs;
pub mod pipeline;
pub mod prover_rpc;
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
use kaimeng_rollup::snapshot;
use kaimeng_rollup::stf::{ChunkConfig, L2State};
use serde::Deserialize;

use self::core::{Base, Core, Settings};
use self::pipeline::Pipeline;
use crate::bridge_client::{
    BridgeClient, FEE_ACCOUNT, committedTailCall, lastCommittedCall, lastExecutedCall,
    lastVerifiedCall, sequencerCall,
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
    /// Chunks per batch at most (a batch also closes after `max_wait_ms`). A batch's commit,
    /// verification and execution each cost shard 0 a fixed part, shared by its transfers.
    /// Unset, the most (up to 64) in whole packs whose verification fits a transaction (64 at
    /// the production `k = 16`, 56 at `k = 17`); read it with [`SequencerConfig::batch_chunks`].
    #[serde(default)]
    pub max_chunks: Option<usize>,
    /// Chunks one proof covers at most (a pack, ADR 0114): a batch's chunks are proven in
    /// packs of this many, each by one worker. Larger packs cost validators and the prover less
    /// per transfer, and the worker more memory (about 8 GB for 4 chunks at k = 17 or 8 at
    /// k = 16). Unset, [`default_chunks_per_proof`] of `chunk_k`; read it with
    /// [`SequencerConfig::pack`].
    #[serde(default)]
    pub chunks_per_proof: Option<usize>,
    /// Verified batches whose IPA claims are decided on shard 0 in one decision (ADR 0114); a
    /// batch executes once decided. A decision costs validators about 0.6 s of CPU at k = 16
    /// however few transfers it covers, so more batches per decision cost them less per
    /// transfer and delay withdrawals more.
    #[serde(default = "default_decide_every_batches")]
    pub decide_every_batches: u64,
    /// ...or fewer, once the oldest undecided batch has waited this long (at low load this
    /// bound, not the batch count, sets the transfers a decision is shared by).
    #[serde(default = "default_decide_wait_ms")]
    pub decide_wait_ms: u64,
    /// Most gas one step of a decision may use: a decision is split into the fewest steps
    /// (transactions) that each fit (ADR 0114). At most the per-transaction cap.
    #[serde(default = "default_decide_step_gas")]
    pub decide_step_gas: u64,
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
    /// Where remote prover workers lease jobs (`kaimeng prover --sequencer`); none if absent.
    #[serde(default)]
    pub prover_listen: Option<SocketAddr>,
    /// The secret remote workers present; created on first start. Default
    /// `<data_dir>/prover.secret`.
    #[serde(default)]
    pub prover_secret_file: Option<PathBuf>,
    /// Requests per second per client address on the public RPC (a batch costs its length).
    #[serde(default = "default_rate_limit")]
    pub rate_limit: u32,
    /// Connections to the public RPC at once.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
    /// Subscriptions open at once, over all connections.
    #[serde(default = "default_max_subscriptions")]
    pub max_subscriptions: usize,
    /// Subscriptions open at once on one connection.
    #[serde(default = "default_max_subscriptions_per_connection")]
    pub max_subscriptions_per_connection: u32,
    /// Operations of executed batches kept in memory for `rollup_getTransaction` (the
    /// newest); older ones are forgotten, so memory stays bounded however long it runs.
    #[serde(default = "default_keep_executed")]
    pub keep_executed: usize,
    /// The journal is compacted to a snapshot once it holds this many operations of executed
    /// batches (and at least one for every 16 accounts), so disk use and restart time stay
    /// bounded (ADR 0110).
    #[serde(default = "default_compact_after_ops")]
    pub compact_after_ops: usize,
    /// `--revert-unverified`: on an empty data directory, revert committed batches that are
    /// not verified instead of refusing to start.
    #[serde(skip)]
    pub revert_unverified: bool,
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:8645".parse().expect("a valid address")
}
/// Chunks per batch unless configured: the most, up to the bridge's 64, in whole packs of
/// `pack`, whose verification fits a transaction's bytes and gas (ADR 0115); at least one pack.
pub fn default_max_chunks(shape: ChunkShape, pack: usize) -> usize {
    let pack = pack.max(1);
    let fits = |chunks: usize| {
        let (bytes, gas) = pipeline::largest_verify_tx(shape, chunks, pack);
        bytes <= kaimeng_shards::tx::MAX_TX_BYTES && gas <= kaimeng_shards::tx::MAX_TX_GAS
    };
    let most = kaimeng_prover::batch_call::MAX_CHUNKS;
    (1..=most / pack)
        .rev()
        .map(|packs| packs * pack)
        .find(|&chunks| fits(chunks))
        .unwrap_or(pack.min(most))
}
/// Chunks per proof unless configured: packs of 2^19 rows, which a worker proves in about
/// 8 GB (8 chunks at the production `k = 16`, 4 at `k = 17`), and at most 8.
pub fn default_chunks_per_proof(chunk_k: u32) -> usize {
    ((1usize << 19) >> chunk_k.min(19)).clamp(1, 8)
}
/// Verified batches per decision unless configured (ADR 0114).
pub fn default_decide_every_batches() -> u64 {
    32
}
fn default_decide_wait_ms() -> u64 {
    600_000
}
/// Most gas of a decision step unless configured: three quarters of a transaction's cap.
pub fn default_decide_step_gas() -> u64 {
    kaimeng_shards::tx::MAX_TX_GAS / 4 * 3
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
fn default_keep_executed() -> usize {
    100_000
}
fn default_compact_after_ops() -> usize {
    20_000
}
fn default_rate_limit() -> u32 {
    20_000
}
fn default_max_connections() -> u32 {
    2_048
}
fn default_max_subscriptions() -> usize {
    10_000
}
fn default_max_subscriptions_per_connection() -> u32 {
    256
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

    /// Refuses a chunk shape other than the chain's: the verification precompile checks
    /// proofs against the genesis shape's key, so a batch proven at another would never verify.
    pub fn check_shape_against(&self, chain: &crate::rollup_rpc::RollupInfo) -> anyhow::Result<()> {
        if (self.chunk_slots, self.chunk_k) != (chain.chunk_slots, chain.chunk_k) {
            bail!(
                "chunk_slots = {} and chunk_k = {}, but shard 0's genesis rollup has chunks of {} \
                 slots at k = {}: proofs of this shape would never verify on chain; set the \
                 chain's shape",
                self.chunk_slots,
                self.chunk_k,
                chain.chunk_slots,
                chain.chunk_k
            );
        }
        Ok(())
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
            // Small batches and packs, so a dev machine proves each batch quickly.
            max_chunks: Some(4),
            chunks_per_proof: Some(4),
            // A dev network decides every batch at once, so withdrawals are quick.
            decide_every_batches: 1,
            decide_wait_ms: default_decide_wait_ms(),
            decide_step_gas: default_decide_step_gas(),
            max_wait_ms: 1_000,
            min_fee: default_min_fee(),
            local_provers: default_local_provers(),
            lease_seconds: default_lease_seconds(),
            prover_listen: None,
            prover_secret_file: None,
            rate_limit: default_rate_limit(),
            max_connections: default_max_connections(),
            max_subscriptions: default_max_subscriptions(),
            max_subscriptions_per_connection: default_max_subscriptions_per_connection(),
            keep_executed: default_keep_executed(),
            compact_after_ops: default_compact_after_ops(),
            revert_unverified: false,
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        self.shape()
            .validate()
            .map_err(|e| anyhow!("chunk_slots/chunk_k: {e}"))?;
        let (chunks, pack) = (self.batch_chunks(), self.pack());
        if !(1..=kaimeng_prover::batch_call::MAX_CHUNKS).contains(&chunks) {
            bail!(
                "max_chunks {} must be 1 to {}",
                chunks,
                kaimeng_prover::batch_call::MAX_CHUNKS
            );
        }
        if !(1..=kaimeng_prover::MAX_PACK).contains(&pack) {
            bail!(
                "chunks_per_proof {} must be 1 to {}",
                pack,
                kaimeng_prover::MAX_PACK
            );
        }
        let cap = kaimeng_shards::tx::MAX_TX_GAS;
        let (bytes, gas) = pipeline::largest_verify_tx(self.shape(), chunks, pack);
        let (max_bytes, max_gas) = (kaimeng_shards::tx::MAX_TX_BYTES, cap);
        if bytes > max_bytes || gas > max_gas {
            bail!(
                "max_chunks {} in packs of chunks_per_proof {} at chunk_k {}: a batch's \
                 verification could take {bytes} bytes and {gas} gas, above a transaction's \
                 limits of {max_bytes} bytes and {max_gas} gas; lower max_chunks or raise \
                 chunks_per_proof",
                chunks,
                pack,
                self.chunk_k
            );
        }
        if self.decide_every_batches == 0 {
            bail!("decide_every_batches must be positive");
        }
        let one_claim =
            crate::rollup_precompiles::decision_steps(self.chunk_k, 1, self.decide_step_gas);
        if self.decide_step_gas > cap || one_claim.is_none() {
            bail!(
                "decide_step_gas {} must be at most the transaction cap {cap} and fit a step of \
                 deciding one claim at chunk_k = {} ({} gas)",
                self.decide_step_gas,
                self.chunk_k,
                crate::rollup_precompiles::decide_step_gas(
                    self.chunk_k,
                    1,
                    kaimeng_prover::deferred::max_decision_steps(self.chunk_k) as u64
                )
            );
        }
        if self.max_wait_ms == 0 {
            bail!("max_wait_ms must be positive");
        }
        if self.lease_seconds == 0 {
            bail!("lease_seconds must be positive");
        }
        if self.local_provers == 0 && self.prover_listen.is_none() {
            bail!(
                "nothing would prove the batches: set local_provers above 0, or prover_listen \
                 for remote workers"
            );
        }
        for (key, value) in [
            ("rate_limit", self.rate_limit as usize),
            ("max_connections", self.max_connections as usize),
            ("max_subscriptions", self.max_subscriptions),
            ("compact_after_ops", self.compact_after_ops),
            (
                "max_subscriptions_per_connection",
                self.max_subscriptions_per_connection as usize,
            ),
        ] {
            if value == 0 {
                bail!("{key} must be positive");
            }
        }
        self.signer()?;
        Ok(())
    }

    /// The public listener's bounds.
    fn public_limits(&self) -> rpc::PublicLimits {
        rpc::PublicLimits {
            rpc: kaimeng_rpc::server::RpcLimits {
                max_connections: self.max_connections,
                max_subscriptions_per_connection: self.max_subscriptions_per_connection,
                requests_per_second_per_client: self.rate_limit,
                ..Default::default()
            },
            max_subscriptions: self.max_subscriptions,
        }
    }

    /// Where the prover secret is kept.
    pub fn prover_secret_path(&self) -> PathBuf {
        self.prover_secret_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("prover.secret"))
    }

    fn shape(&self) -> ChunkShape {
        ChunkShape {
            slots: self.chunk_slots as usize,
            k: self.chunk_k,
        }
    }

    /// Chunks per proof: as configured, or the default for the chunk shape's `k`.
    pub fn pack(&self) -> usize {
        self.chunks_per_proof
            .unwrap_or_else(|| default_chunks_per_proof(self.chunk_k))
    }

    /// Chunks per batch at most: as configured, or the most whose verification fits.
    pub fn batch_chunks(&self) -> usize {
        self.max_chunks
            .unwrap_or_else(|| default_max_chunks(self.shape(), self.pack()))
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
    /// Where remote provers lease jobs, if they may.
    pub prover_addr: Option<SocketAddr>,
    _servers: Vec<jsonrpsee::server::ServerHandle>,
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
    match bridge.rollup_info().await? {
        Some(chain) => config.check_shape_against(&chain)?,
        None => tracing::warn!(
            "shard 0's node does not serve kaimeng_rollup: chunk_slots and chunk_k are not \
             checked against the chain's"
        ),
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

    // The base: empty, or rebuilt from shard 0 (now, or recorded by an earlier rebuild),
    // with the state at the bridge's executed mark if that is below the base.
    let executed = bridge.view(lastExecutedCall {}).await?;
    let (base, base_batches, base_request, base_seq, at_executed) = match records.first() {
        Some(Record::Snapshot { .. }) => {
            let (head, state, spans) = snapshot::restore(&records)
                .map_err(|e| anyhow!("{}: {e}", journal_path.display()))?
                .expect("the journal starts with a snapshot");
            if executed < head.batches {
                bail!(
                    "{}: the journal's snapshot covers batch {}, but the bridge has executed \
                     only through batch {executed}: the data directory belongs to another \
                     bridge",
                    journal_path.display(),
                    head.batches
                );
            }
            records.drain(..spans);
            tracing::info!(
                batches = head.batches,
                accounts = state.accounts().count(),
                "restored the L2 state from the journal's snapshot"
            );
            (
                state,
                head.batches,
                head.next_request,
                head.first_seq,
                L2State::new(),
            )
        }
        Some(Record::Rebuilt {
            batches,
            next_request,
        }) => {
            let (rebuilder, _, at_executed) = bridge.rebuild_keeping(*batches, executed).await?;
            (
                rebuilder.state().clone(),
                *batches,
                *next_request,
                0,
                at_executed,
            )
        }
        Some(_) => (L2State::new(), 0, 0, 0, L2State::new()),
        None => {
            let mut committed = bridge.view(lastCommittedCall {}).await?;
            let verified = bridge.view(lastVerifiedCall {}).await?;
            if verified < committed {
                if !config.revert_unverified {
                    bail!(
                        "the data directory is empty and batches {}..={committed} are committed \
                         on shard 0 but not verified: their signatures are only in the lost \
                         journal, so they cannot be proven. Restore the journal to continue, or \
                         start with --revert-unverified to revert them on shard 0 (their \
                         transactions are dropped; their deposits and forced withdrawals are \
                         committed again)",
                        verified + 1
                    );
                }
                revert_unverified(&bridge, &signer, verified, committed).await?;
                committed = verified;
            }
            if committed == 0 {
                (L2State::new(), 0, 0, 0, L2State::new())
            } else {
                let next_request = bridge.view(committedTailCall {}).await?;
                let (rebuilder, chunks, at_executed) =
                    bridge.rebuild_keeping(committed, executed).await?;
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
                (
                    rebuilder.state().clone(),
                    committed,
                    next_request,
                    0,
                    at_executed,
                )
            }
        }
    };

    let settings = Settings {
        chain_id,
        slots: config.chunk_slots as usize,
        max_chunks: config.batch_chunks(),
        chunks_per_proof: config.pack(),
        decide_every: config.decide_every_batches,
        decide_wait: Duration::from_millis(config.decide_wait_ms),
        decide_step_gas: config.decide_step_gas,
        max_wait: Duration::from_millis(config.max_wait_ms),
        min_fee: config.min_fee,
        chunk_k: config.chunk_k,
        keep_executed: config.keep_executed,
        compact_after_ops: config.compact_after_ops,
    };
    let (core, replayed) = Core::open(
        settings,
        journal,
        records,
        Base {
            state: &base,
            batches: base_batches,
            next_request: base_request,
            first_seq: base_seq,
        },
        Duration::from_secs(config.lease_seconds),
    )?;
    core.rebuilt_executed_through(executed, &at_executed);
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
        for (id, chunks, proof) in replayed.proofs {
            // A proof of another pack size (the setting changed) is dropped and proven again.
            jobs.record(id, chunks, proof);
        }
    }

    let shape = config.shape();
    let (addr, server) = rpc::serve(config.listen, core.clone(), &config.public_limits()).await?;
    let mut servers = vec![server];
    let prover_addr = match config.prover_listen {
        Some(listen) => {
            let secret = prover_rpc::ProverSecret::read_or_create(&config.prover_secret_path())?;
            let (addr, server) = prover_rpc::serve(listen, core.clone(), shape, secret).await?;
            servers.push(server);
            Some(addr)
        }
        None => None,
    };
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
        prover_addr,
        _servers: servers,
    })
}

/// Reverts batches `verified + 1 ..= committed` on the bridge (`--revert-unverified`).
async fn revert_unverified(
    bridge: &BridgeClient,
    signer: &PrivateKeySigner,
    verified: u64,
    committed: u64,
) -> anyhow::Result<()> {
    use alloy_sol_types::SolCall;
    if bridge.has_pending(signer.address()).await? {
        bail!(
            "the sequencer's account {} has transactions in shard 0's pool; start again once \
             they are in a block, so that no commit lands after the revert",
            signer.address()
        );
    }
    let call = crate::bridge_client::revertBatchesCall {
        newLastCommitted: verified,
    };
    let receipt = bridge
        .send(signer, call.abi_encode(), alloy_primitives::U256::ZERO)
        .await
        .with_context(|| format!("reverting batches {}..={committed}", verified + 1))?;
    if receipt["status"] != "0x1" {
        bail!(
            "reverting batches {}..={committed}: the bridge refused it ({})",
            verified + 1,
            receipt["transactionHash"]
        );
    }
    tracing::warn!(
        from = verified + 1,
        to = committed,
        "reverted batches that were committed but not verified; their transactions are dropped"
    );
    Ok(())
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
pub async fn run(config_path: &Path, revert_unverified: bool) -> anyhow::Result<()> {
    let mut config = SequencerConfig::load(config_path)?;
    config.revert_unverified = revert_unverified;
    let secret_path = config.prover_secret_path();
    let sequencer = start(config).await?;
    println!(
        "Rollup sequencer: RPC http://{0}  WebSocket ws://{0}",
        sequencer.addr
    );
    if let Some(addr) = sequencer.prover_addr {
        println!(
            "Prover RPC: http://{addr}  (kaimeng prover --sequencer http://{addr} --secret {})",
            secret_path.display()
        );
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();
    crate::dev::wait_for_shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6";

    fn load(extra: &str) -> anyhow::Result<SequencerConfig> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sequencer.toml");
        std::fs::write(
            &path,
            format!(
                "shard0_rpc = \"http://127.0.0.1:8545\"\ndata_dir = \"/tmp/seq\"\n\
                 private_key = \"{KEY}\"\nchunk_slots = 2\nchunk_k = 13\n{extra}"
            ),
        )
        .unwrap();
        SequencerConfig::load(&path)
    }

    #[test]
    fn a_chunk_shape_other_than_the_chain_s_is_refused() {
        let config = load("").unwrap();
        let chain = |chunk_slots, chunk_k| crate::rollup_rpc::RollupInfo {
            bridge: kaimeng_genesis::BRIDGE_ADDRESS,
            chunk_slots,
            chunk_k,
            sequencer: alloy_primitives::Address::ZERO,
            priority_expiry_seconds: 60,
        };
        config.check_shape_against(&chain(2, 13)).unwrap();
        for (slots, k) in [(3, 13), (2, 14), (57, 16)] {
            let refused = config
                .check_shape_against(&chain(slots, k))
                .unwrap_err()
                .to_string();
            assert!(
                refused.contains("chunk_slots = 2 and chunk_k = 13")
                    && refused.contains(&format!("chunks of {slots} slots at k = {k}")),
                "{refused}"
            );
        }
    }

    #[test]
    fn defaults_bound_the_public_rpc_and_leave_remote_provers_off() {
        let config = load("").unwrap();
        assert_eq!(config.prover_listen, None);
        assert_eq!(
            config.prover_secret_path(),
            PathBuf::from("/tmp/seq/prover.secret")
        );
        let limits = config.public_limits();
        assert_eq!(limits.rpc.requests_per_second_per_client, 20_000);
        assert_eq!(limits.rpc.max_connections, 2_048);
        assert_eq!(limits.rpc.max_subscriptions_per_connection, 256);
        assert_eq!(limits.max_subscriptions, 10_000);
        assert_eq!(config.keep_executed, 100_000);
        assert_eq!(config.compact_after_ops, 20_000);
        assert_eq!((config.batch_chunks(), config.pack()), (64, 8));
        assert_eq!(
            (config.decide_every_batches, config.decide_wait_ms),
            (32, 600_000)
        );
        assert_eq!(
            config.decide_step_gas,
            kaimeng_shards::tx::MAX_TX_GAS / 4 * 3
        );
        assert!(!config.revert_unverified, "only the command line sets it");

        let config = load(
            "prover_listen = \"10.0.0.5:8646\"\nprover_secret_file = \"/etc/kaimeng/p.secret\"\n\
             rate_limit = 50\nmax_subscriptions = 2\nlocal_provers = 0\n",
        )
        .unwrap();
        assert_eq!(config.prover_listen, Some("10.0.0.5:8646".parse().unwrap()));
        assert_eq!(
            config.prover_secret_path(),
            PathBuf::from("/etc/kaimeng/p.secret")
        );
        assert_eq!(
            config.public_limits().rpc.requests_per_second_per_client,
            50
        );
        assert_eq!(config.public_limits().max_subscriptions, 2);
    }

    /// Every step of a decision carries every claim. At the production shape and defaults,
    /// the claims of 32 batches (256) are decided in 16 steps that each fit a transaction, and
    /// those of 64 in 32; those of 128 batches (1,024 claims, 557 KB) fit neither a step's gas
    /// nor a transaction's bytes, and the sequencer decides fewer.
    #[test]
    fn a_decision_of_the_default_batches_fits_a_transaction_a_step() {
        use crate::rollup_precompiles::decision_steps;
        let mut config = load("").unwrap();
        (config.chunk_slots, config.chunk_k) =
            (ChunkShape::DEFAULT.slots as u32, ChunkShape::DEFAULT.k);
        config.check().unwrap();
        let k = config.chunk_k;
        let packs = config.batch_chunks().div_ceil(config.pack());
        assert_eq!((config.pack(), packs), (8, 8));
        let claims = |batches: u64| {
            vec![
                alloy_primitives::Bytes::from(vec![0u8; packs * 32 * (k as usize + 1)]);
                batches as usize
            ]
        };
        let count = |batches: u64| batches * packs as u64;
        let batches = config.decide_every_batches;
        let steps = decision_steps(k, count(batches), config.decide_step_gas).unwrap();
        assert_eq!((batches, steps), (32, 16));
        assert!(pipeline::decision_step_fits(k, &claims(batches), steps));
        let steps = decision_steps(k, count(64), config.decide_step_gas).unwrap();
        assert_eq!(steps, 32);
        assert!(pipeline::decision_step_fits(k, &claims(64), steps));
        assert_eq!(decision_steps(k, count(128), config.decide_step_gas), None);
        assert!(!pipeline::decision_step_fits(k, &claims(128), 32));
    }

    /// A batch's verification is one transaction: at the production shape and defaults it
    /// needs more than geth's 128 KiB (hence ADR 0115's 512 KiB); by default a batch has the
    /// most chunks whose verification fits, and settings whose verification could not fit are
    /// refused.
    #[test]
    fn a_batch_s_verification_fits_one_transaction_or_the_settings_are_refused() {
        let fits = |shape, chunks, pack| {
            let (bytes, gas) = pipeline::largest_verify_tx(shape, chunks, pack);
            assert!(bytes >= 128 * 1024, "{bytes}");
            bytes <= kaimeng_shards::tx::MAX_TX_BYTES && gas <= kaimeng_shards::tx::MAX_TX_GAS
        };
        let mut config = load("").unwrap();
        // The production shape: 64 chunks in packs of 8.
        (config.chunk_k, config.chunk_slots) = (16, 57);
        assert_eq!((config.batch_chunks(), config.pack()), (64, 8));
        assert!(fits(ChunkShape::DEFAULT, 64, 8));
        config.check().unwrap();
        // The most slots at k = 17: packs of 4 (the same rows, so the same worker memory), and
        // 56 chunks in 14 of them; one more pack would pass EIP-7623's floor of 40 gas a
        // calldata byte.
        let mut larger = config.clone();
        (larger.chunk_k, larger.chunk_slots) = (17, 114);
        assert_eq!((larger.batch_chunks(), larger.pack()), (56, 4));
        larger.check().unwrap();
        assert!(!fits(larger.shape(), 60, 4));
        // A proof per chunk fits the bytes (515 KB) but not the gas (EIP-7623's floor).
        (config.max_chunks, config.chunks_per_proof) = (Some(64), Some(1));
        let error = config.check().unwrap_err().to_string();
        assert!(
            error.contains("max_chunks 64 in packs of chunks_per_proof 1 at chunk_k 16")
                && error.contains("limits of 524288 bytes and 16777216 gas"),
            "{error}"
        );
        config.max_chunks = Some(32);
        config.check().unwrap();
        // The most slots at k = 18 publish up to 484 KB in 64 chunks.
        (config.chunk_k, config.chunk_slots) = (18, ChunkShape::max_for_k(18).slots as u32);
        (config.max_chunks, config.chunks_per_proof) = (Some(64), Some(8));
        let error = config.check().unwrap_err().to_string();
        assert!(
            error.contains("max_chunks 64 in packs of chunks_per_proof 8 at chunk_k 18"),
            "{error}"
        );
        config.max_chunks = Some(16);
        config.check().unwrap();
        // Unset, the most that fit, in whole packs.
        config.max_chunks = None;
        let chunks = config.batch_chunks();
        assert!(chunks.is_multiple_of(8) && chunks < 64, "{chunks}");
        config.check().unwrap();
        assert!(!fits(config.shape(), chunks + 8, 8));
    }

    #[test]
    fn a_config_that_cannot_work_is_refused_with_its_key() {
        for (extra, expected) in [
            ("local_provers = 0\n", "nothing would prove the batches"),
            ("rate_limit = 0\n", "rate_limit must be positive"),
            ("max_connections = 0\n", "max_connections must be positive"),
            (
                "max_subscriptions = 0\n",
                "max_subscriptions must be positive",
            ),
            (
                "compact_after_ops = 0\n",
                "compact_after_ops must be positive",
            ),
            (
                "max_subscriptions_per_connection = 0\n",
                "max_subscriptions_per_connection must be positive",
            ),
            (
                "chunks_per_proof = 0\n",
                "chunks_per_proof 0 must be 1 to 16",
            ),
            (
                "chunks_per_proof = 17\n",
                "chunks_per_proof 17 must be 1 to 16",
            ),
            (
                "decide_every_batches = 0\n",
                "decide_every_batches must be positive",
            ),
            (
                "decide_step_gas = 1000\n",
                "decide_step_gas 1000 must be at most",
            ),
            (
                "decide_step_gas = 99000000\n",
                "decide_step_gas 99000000 must be at most",
            ),
            ("prover_listen = \"nowhere\"\n", "prover_listen"),
            ("revert_unverified = true\n", "unknown field"),
        ] {
            let error = format!("{:#}", load(extra).unwrap_err());
            assert!(
                error.contains(expected) && error.contains("sequencer.toml"),
                "{extra:?}: {error}"
            );
        }
    }
}
