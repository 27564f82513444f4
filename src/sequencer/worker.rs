//! Prover workers for the sequencer's jobs: in-process threads that take jobs from the board
//! directly, and `kaimeng prover --sequencer URL`, which leases them over JSON-RPC from another
//! machine (no shared filesystem). Both run the prover crate's worker loop
//! ([`kaimeng_prover::worker::serve`]) over their own [`JobQueue`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::Bytes;
use anyhow::anyhow;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::rpc_params;
use kaimeng_prover::codec::pack_from_json;
use kaimeng_prover::worker::{ChunkJob, JobOutcome, JobQueue, WorkerConfig, serve};
use kaimeng_prover::{ChunkKeys, ChunkParams, ChunkShape, ParamsCache, ProverError};
use serde_json::Value;

use super::core::Core;
use super::jobs::JobId;
use super::prover_rpc::ProverSecret;

/// What a failed first call means: a refused secret says so.
fn refusal(e: &jsonrpsee::core::client::Error) -> String {
    let text = e.to_string();
    if text.contains("401") {
        "the sequencer refused the prover secret (HTTP 401): give the sequencer's \
         prover_secret_file with --secret"
            .into()
    } else {
        text
    }
}

fn worker_config(shape: ChunkShape, max_jobs: Option<usize>) -> WorkerConfig {
    let mut config = WorkerConfig::new("", "", shape);
    config.poll_interval = Duration::from_millis(200);
    config.progress = false;
    config.max_jobs = max_jobs;
    config
}

fn queue_error(what: &str, detail: impl std::fmt::Display) -> ProverError {
    ProverError::Queue(format!("{what}: {detail}"))
}

/// The board of a sequencer in this process.
struct BoardQueue {
    core: Arc<Core>,
    runtime: tokio::runtime::Handle,
    name: String,
    shape: ChunkShape,
}

impl JobQueue for BoardQueue {
    fn take(&mut self) -> Result<Option<ChunkJob>, ProverError> {
        let Some(lease) = self.core.jobs.lock().lease(&self.name, Instant::now()) else {
            return Ok(None);
        };
        let json: Value =
            serde_json::from_str(&lease.witness).map_err(|e| queue_error("witness", e))?;
        Ok(Some(ChunkJob {
            id: lease.id.to_string(),
            shape: self.shape,
            witnesses: pack_from_json(&json)?,
        }))
    }

    fn finish(&mut self, id: &str, outcome: &JobOutcome) -> Result<(), ProverError> {
        let id: JobId = id.parse().map_err(|e: String| queue_error("job id", e))?;
        match outcome {
            JobOutcome::Proven(proof) => {
                if let Err(e) = self
                    .runtime
                    .block_on(self.core.complete_job(id, proof.bytes.clone()))
                {
                    tracing::warn!(job = %id, error = %format!("{e:#}"), "proof refused");
                }
            }
            JobOutcome::Failed(reason) => {
                tracing::warn!(job = %id, %reason, "job failed");
                self.core.jobs.lock().fail(id, reason);
            }
        }
        Ok(())
    }
}

/// Starts an in-process prover thread for `core`'s jobs.
pub fn spawn_local(
    core: Arc<Core>,
    params: Arc<ChunkParams>,
    shape: ChunkShape,
    name: String,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name(format!("prover-{name}"))
        .spawn(move || {
            let keys = match ChunkKeys::generate(&params, shape) {
                Ok(keys) => keys,
                Err(e) => {
                    tracing::error!(error = %e, "local prover: no keys");
                    return;
                }
            };
            let mut queue = BoardQueue {
                core,
                runtime,
                name,
                shape,
            };
            if let Err(e) = serve(&mut queue, &params, &keys, &worker_config(shape, None)) {
                tracing::error!(error = %e, "local prover stopped");
            }
        })?;
    Ok(())
}

/// A sequencer's board over its RPC.
struct RemoteQueue {
    client: HttpClient,
    runtime: Arc<tokio::runtime::Runtime>,
    name: String,
}

impl JobQueue for RemoteQueue {
    fn take(&mut self) -> Result<Option<ChunkJob>, ProverError> {
        let lease: Value = self
            .runtime
            .block_on(
                self.client
                    .request("prover_lease", rpc_params![self.name.clone()]),
            )
            .map_err(|e| queue_error("prover_lease", e))?;
        if lease.is_null() {
            return Ok(None);
        }
        let shape = ChunkShape {
            slots: lease["shape"]["slots"].as_u64().unwrap_or_default() as usize,
            k: lease["shape"]["k"].as_u64().unwrap_or_default() as u32,
        };
        let witnesses = pack_from_json(&lease["witness"])?;
        let id = lease["job"]
            .as_str()
            .ok_or_else(|| queue_error("lease", "no job id"))?;
        tracing::info!(job = id, worker = %self.name, "leased a chunk job");
        Ok(Some(ChunkJob {
            id: id.to_string(),
            shape,
            witnesses,
        }))
    }

    fn finish(&mut self, id: &str, outcome: &JobOutcome) -> Result<(), ProverError> {
        match outcome {
            JobOutcome::Proven(proof) => {
                let result: Result<bool, _> = self.runtime.block_on(self.client.request(
                    "prover_complete",
                    rpc_params![id, Bytes::from(proof.bytes.clone())],
                ));
                match result {
                    Ok(_) => tracing::info!(job = id, "proof delivered"),
                    Err(e) => tracing::warn!(job = id, error = %e, "proof refused"),
                }
            }
            JobOutcome::Failed(reason) => {
                tracing::warn!(job = id, %reason, "job failed; its lease will run out");
                let reported: Result<bool, _> = self.runtime.block_on(
                    self.client
                        .request("prover_fail", rpc_params![id, reason.to_string()]),
                );
                if let Err(e) = reported {
                    tracing::warn!(job = id, error = %e, "the failure was not reported");
                }
            }
        }
        Ok(())
    }
}

/// `kaimeng prover --sequencer URL --secret FILE`: `threads` workers lease jobs from the
/// sequencer's prover listener until `max_jobs` are done (or forever).
pub fn run_remote(
    url: &str,
    secret: &std::path::Path,
    params_dir: &std::path::Path,
    shape: ChunkShape,
    threads: usize,
    max_jobs: Option<usize>,
) -> anyhow::Result<usize> {
    let secret = ProverSecret::read(secret)?;
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&secret.bearer())?,
    );
    let client = HttpClientBuilder::default()
        .set_headers(headers)
        .request_timeout(Duration::from_secs(120))
        .max_response_size(64 << 20)
        .build(url)
        .map_err(|e| anyhow!("--sequencer {url}: {e}"))?;
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?,
    );
    // The shape is the sequencer's (the genesis one), not a guess; asking also checks the
    // secret.
    let status: Value = runtime
        .block_on(client.request("prover_shape", rpc_params![]))
        .map_err(|e| anyhow!("prover_shape at {url}: {}", refusal(&e)))?;
    let shape = match (status["slots"].as_u64(), status["k"].as_u64()) {
        (Some(slots), Some(k)) => ChunkShape {
            slots: slots as usize,
            k: k as u32,
        },
        _ => shape,
    };
    let params = ParamsCache::new(params_dir).load_or_generate(shape.k)?;
    let keys = ChunkKeys::generate(&params, shape)?;
    tracing::info!(threads, %url, "prover workers ready");
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads.max(1))
            .map(|i| {
                let mut queue = RemoteQueue {
                    client: client.clone(),
                    runtime: runtime.clone(),
                    name: format!("{host}-{}-{i}", std::process::id()),
                };
                let (params, keys) = (&params, &keys);
                scope
                    .spawn(move || serve(&mut queue, params, keys, &worker_config(shape, max_jobs)))
            })
            .collect();
        let mut proven = 0;
        for handle in handles {
            let report = handle
                .join()
                .map_err(|_| anyhow!("a prover thread panicked"))??;
            proven += report.proven;
        }
        Ok(proven)
    })
}
