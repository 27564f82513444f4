//! The stateless prover worker: takes chunk jobs from a queue, proves them, reports the
//! results. It holds only parameters and keys, so any number of workers on any number of
//! machines can serve one queue; each job goes to exactly one of them.
//!
//! [`JobQueue`] is the whole interface to whoever produces jobs (the sequencer, later).
//! [`DirQueue`] implements it over a directory (local or shared): `pending/` holds jobs,
//! a worker claims one by renaming it into `claimed/` (atomic, so two workers never get the
//! same job), and writes the proof to `done/` or the reason to `failed/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::codec::{WireProof, pack_from_json, pack_to_json};
use crate::error::ProverError;
use crate::keys::{ChunkKeys, ChunkShape};
use crate::params::{ChunkParams, ParamsCache};
use crate::proof::{ChunkProof, prove_pack};
use crate::witness::ChunkWitness;

/// A unit of work: prove a pack of consecutive chunks (often just one) in one proof.
#[derive(Clone, Debug)]
pub struct ChunkJob {
    /// Identifier chosen by the producer (file-name safe: `[A-Za-z0-9_-]`).
    pub id: String,
    /// The shape the job must be proven with.
    pub shape: ChunkShape,
    /// The witnesses, in chunk order.
    pub witnesses: Vec<ChunkWitness>,
}

/// What became of a job.
#[derive(Clone, Debug)]
pub enum JobOutcome {
    /// The proof.
    Proven(ChunkProof),
    /// Why it could not be proven.
    Failed(String),
}

/// Where jobs come from and results go.
pub trait JobQueue {
    /// Claims the next job, if there is one. A claimed job is given to no one else.
    fn take(&mut self) -> Result<Option<ChunkJob>, ProverError>;
    /// Records the outcome of a claimed job.
    fn finish(&mut self, id: &str, outcome: &JobOutcome) -> Result<(), ProverError>;
}

#[derive(Serialize, Deserialize)]
struct WireJob {
    id: String,
    shape: ChunkShape,
    /// One witness object, or an array of a pack's.
    witness: serde_json::Value,
}

/// A job queue in a directory.
#[derive(Clone, Debug)]
pub struct DirQueue {
    root: PathBuf,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn io_err(what: &'static str, path: &Path, source: std::io::Error) -> ProverError {
    ProverError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn write_atomic(path: &Path, contents: &str) -> Result<(), ProverError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, contents).map_err(|e| io_err("writing", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io_err("renaming into place", path, e))
}

impl DirQueue {
    /// Opens (creating if needed) a queue rooted at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, ProverError> {
        let root = root.into();
        for sub in ["pending", "claimed", "done", "failed"] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|e| io_err("creating", &dir, e))?;
        }
        Ok(Self { root })
    }

    fn dir(&self, sub: &str) -> PathBuf {
        self.root.join(sub)
    }

    /// Adds a job (what a producer does).
    pub fn submit(&self, job: &ChunkJob) -> Result<(), ProverError> {
        if !valid_id(&job.id) {
            return Err(ProverError::Queue(format!("invalid job id {:?}", job.id)));
        }
        let wire = WireJob {
            id: job.id.clone(),
            shape: job.shape,
            witness: pack_to_json(&job.witnesses),
        };
        let json = serde_json::to_string(&wire).map_err(|e| ProverError::Queue(e.to_string()))?;
        write_atomic(&self.dir("pending").join(format!("{}.json", job.id)), &json)
    }

    /// The proof of a finished job, if it is done.
    pub fn result(&self, id: &str) -> Result<Option<JobOutcome>, ProverError> {
        let done = self.dir("done").join(format!("{id}.proof.json"));
        if let Ok(s) = fs::read_to_string(&done) {
            return Ok(Some(JobOutcome::Proven(ChunkProof::from_json(&s)?)));
        }
        let failed = self.dir("failed").join(format!("{id}.error.txt"));
        match fs::read_to_string(&failed) {
            Ok(reason) => Ok(Some(JobOutcome::Failed(reason))),
            Err(_) => Ok(None),
        }
    }
}

impl JobQueue for DirQueue {
    fn take(&mut self) -> Result<Option<ChunkJob>, ProverError> {
        let pending = self.dir("pending");
        let mut names: Vec<String> = fs::read_dir(&pending)
            .map_err(|e| io_err("listing", &pending, e))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|name| name.ends_with(".json"))
            .collect();
        names.sort();
        for name in names {
            let from = pending.join(&name);
            let to = self.dir("claimed").join(&name);
            // Another worker may have claimed it first; then try the next one.
            if fs::rename(&from, &to).is_err() {
                continue;
            }
            let id = name.trim_end_matches(".json").to_string();
            let parsed = fs::read_to_string(&to)
                .map_err(|e| e.to_string())
                .and_then(|s| serde_json::from_str::<WireJob>(&s).map_err(|e| e.to_string()))
                .and_then(|w| {
                    pack_from_json(&w.witness)
                        .map(|witnesses| ChunkJob {
                            id: id.clone(),
                            shape: w.shape,
                            witnesses,
                        })
                        .map_err(|e| e.to_string())
                });
            match parsed {
                Ok(job) => return Ok(Some(job)),
                Err(reason) => {
                    self.finish(
                        &id,
                        &JobOutcome::Failed(format!("undecodable job: {reason}")),
                    )?;
                }
            }
        }
        Ok(None)
    }

    fn finish(&mut self, id: &str, outcome: &JobOutcome) -> Result<(), ProverError> {
        match outcome {
            JobOutcome::Proven(proof) => write_atomic(
                &self.dir("done").join(format!("{id}.proof.json")),
                &serde_json::to_string(&WireProof::from_proof(proof))
                    .map_err(|e| ProverError::Queue(e.to_string()))?,
            )?,
            JobOutcome::Failed(reason) => {
                write_atomic(&self.dir("failed").join(format!("{id}.error.txt")), reason)?
            }
        }
        let claimed = self.dir("claimed").join(format!("{id}.json"));
        match fs::remove_file(&claimed) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("removing", &claimed, e)),
        }
    }
}

/// How a worker runs.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// The queue directory.
    pub queue_dir: PathBuf,
    /// Where parameters are cached.
    pub params_dir: PathBuf,
    /// The chunk shape this worker proves.
    pub shape: ChunkShape,
    /// How long to wait when the queue is empty.
    pub poll_interval: Duration,
    /// Stop when the queue is empty instead of waiting.
    pub exit_when_idle: bool,
    /// Stop after this many jobs.
    pub max_jobs: Option<usize>,
    /// Show progress bars.
    pub progress: bool,
}

impl WorkerConfig {
    /// A worker for `shape` over a directory queue, caching parameters in `params_dir`.
    pub fn new(
        queue_dir: impl Into<PathBuf>,
        params_dir: impl Into<PathBuf>,
        shape: ChunkShape,
    ) -> Self {
        Self {
            queue_dir: queue_dir.into(),
            params_dir: params_dir.into(),
            shape,
            poll_interval: Duration::from_secs(2),
            exit_when_idle: false,
            max_jobs: None,
            progress: true,
        }
    }
}

/// What a worker did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// Jobs proven.
    pub proven: usize,
    /// Jobs that failed.
    pub failed: usize,
}

/// Runs a worker: loads or generates parameters, generates keys, then serves the queue.
/// This is what `kaimeng prover` calls.
pub fn run(config: WorkerConfig) -> Result<WorkerReport, ProverError> {
    config.shape.validate()?;
    let cache = ParamsCache::new(&config.params_dir);
    let cache = if config.progress {
        cache
    } else {
        cache.quiet()
    };
    let params = cache.load_or_generate(config.shape.k)?;
    tracing::info!(
        k = config.shape.k,
        slots = config.shape.slots,
        "generating chunk keys"
    );
    let keys = ChunkKeys::generate(&params, config.shape)?;
    tracing::info!(fingerprint = %hex::encode(keys.fingerprint()), "prover ready");
    let mut queue = DirQueue::open(&config.queue_dir)?;
    serve(&mut queue, &params, &keys, &config)
}

/// Serves `queue` with ready parameters and keys until it is idle (if asked to stop then) or
/// `max_jobs` are done.
pub fn serve(
    queue: &mut impl JobQueue,
    params: &ChunkParams,
    keys: &ChunkKeys,
    config: &WorkerConfig,
) -> Result<WorkerReport, ProverError> {
    let mut report = WorkerReport::default();
    loop {
        if config
            .max_jobs
            .is_some_and(|max| report.proven + report.failed >= max)
        {
            return Ok(report);
        }
        let Some(job) = queue.take()? else {
            if config.exit_when_idle {
                return Ok(report);
            }
            std::thread::sleep(config.poll_interval);
            continue;
        };
        let outcome = prove_job(&job, params, keys, config.progress);
        match &outcome {
            JobOutcome::Proven(_) => report.proven += 1,
            JobOutcome::Failed(reason) => {
                tracing::warn!(job = %job.id, %reason, "job failed");
                report.failed += 1;
            }
        }
        queue.finish(&job.id, &outcome)?;
    }
}

fn prove_job(job: &ChunkJob, params: &ChunkParams, keys: &ChunkKeys, progress: bool) -> JobOutcome {
    if job.shape != keys.shape {
        return JobOutcome::Failed(format!(
            "job is for {:?}, this worker proves {:?}",
            job.shape, keys.shape
        ));
    }
    let bar = if progress {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} proving chunk {msg} [{elapsed_precise}]")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(job.id.clone());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let outcome = match prove_pack(params, keys, &job.witnesses) {
        Ok(proof) => {
            tracing::info!(job = %job.id, chunks = job.witnesses.len(), seconds = started.elapsed().as_secs_f64(), bytes = proof.bytes.len(), "chunks proven");
            JobOutcome::Proven(proof)
        }
        Err(e) => JobOutcome::Failed(e.to_string()),
    };
    bar.finish_and_clear();
    outcome
}
