//! Chunk-proving jobs handed to prover workers under leases. A job is a pack: one chunk or
//! several consecutive ones of a batch, proven by one proof (ADR 0114).
//!
//! A worker leases the oldest job that is neither proven nor leased to someone else; a lease
//! that runs out without a proof (the worker died, or is too slow) makes the job available
//! again. A proof is recorded only after the caller checked it against the job's public
//! inputs, so a wrong or late answer costs nothing. Pure: the clock is passed in.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kaimeng_prover::{ChunkProof, PublicInputs};

/// A job: the pack starting at chunk `chunk` of batch `batch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId {
    /// Batch number.
    pub batch: u64,
    /// Index in the batch of the pack's first chunk.
    pub chunk: u32,
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.batch, self.chunk)
    }
}

impl std::str::FromStr for JobId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (batch, chunk) = s
            .split_once('-')
            .ok_or_else(|| format!("job id {s:?}: expected BATCH-CHUNK"))?;
        Ok(JobId {
            batch: batch
                .parse()
                .map_err(|_| format!("job id {s:?}: bad batch"))?,
            chunk: chunk
                .parse()
                .map_err(|_| format!("job id {s:?}: bad chunk"))?,
        })
    }
}

#[derive(Debug)]
struct Job {
    witness: Arc<String>,
    /// One set per chunk of the pack.
    publics: Vec<PublicInputs>,
    lease: Option<(String, Instant)>,
    proof: Option<Vec<u8>>,
    leases: u32,
    /// Workers' reports that proving it failed, and the last reason given.
    failures: u32,
    last_failure: Option<String>,
}

/// The longest failure reason kept, in bytes; longer ones are cut.
pub const MAX_FAILURE_REASON: usize = 512;

/// `reason` cut to at most [`MAX_FAILURE_REASON`] bytes, on a character boundary.
pub fn cut_reason(reason: &str) -> &str {
    let mut end = reason.len().min(MAX_FAILURE_REASON);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

/// What the board says about failed attempts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Failures {
    /// Failure reports on jobs still open.
    pub reports: u64,
    /// The open job reported failing most often, how often, and the last reason given.
    pub worst: Option<(JobId, u32, String)>,
}

/// A job handed to a worker.
#[derive(Clone, Debug)]
pub struct Lease {
    /// The job.
    pub id: JobId,
    /// Its witnesses (the prover's wire JSON: one object, or an array for a pack).
    pub witness: Arc<String>,
    /// When the lease runs out.
    pub until: Instant,
}

/// The jobs of every batch not yet fully proven.
#[derive(Debug)]
pub struct JobBoard {
    jobs: BTreeMap<JobId, Job>,
    lease_time: Duration,
    handed_again: u64,
}

impl JobBoard {
    /// An empty board whose leases last `lease_time`.
    pub fn new(lease_time: Duration) -> Self {
        Self {
            jobs: BTreeMap::new(),
            lease_time,
            handed_again: 0,
        }
    }

    /// Adds a job for the pack whose chunks have `publics` (a no-op if it is already there).
    pub fn add(&mut self, id: JobId, witness: String, publics: Vec<PublicInputs>) {
        self.jobs.entry(id).or_insert(Job {
            witness: Arc::new(witness),
            publics,
            lease: None,
            proof: None,
            leases: 0,
            failures: 0,
            last_failure: None,
        });
    }

    /// Leases the oldest unproven job that nobody holds a live lease on.
    pub fn lease(&mut self, worker: &str, now: Instant) -> Option<Lease> {
        let lease_time = self.lease_time;
        let (id, job) = self.jobs.iter_mut().find(|(_, job)| {
            job.proof.is_none() && job.lease.as_ref().is_none_or(|(_, until)| *until <= now)
        })?;
        let until = now + lease_time;
        if job.lease.is_some() {
            // The previous holder's lease ran out without a proof.
            self.handed_again += 1;
        }
        job.lease = Some((worker.to_string(), until));
        job.leases += 1;
        Some(Lease {
            id: *id,
            witness: job.witness.clone(),
            until,
        })
    }

    /// The public inputs a proof for `id` must prove, one set per chunk, if the job is open.
    pub fn public_inputs(&self, id: JobId) -> Option<Vec<PublicInputs>> {
        self.jobs
            .get(&id)
            .filter(|job| job.proof.is_none())
            .map(|job| job.publics.clone())
    }

    /// Records a proof of `chunks` chunks the caller has checked. False if the job is unknown,
    /// already proven, or a pack of another size.
    pub fn record(&mut self, id: JobId, chunks: u32, proof: Vec<u8>) -> bool {
        match self.jobs.get_mut(&id) {
            Some(job) if job.proof.is_none() && job.publics.len() == chunks as usize => {
                job.proof = Some(proof);
                job.lease = None;
                true
            }
            _ => false,
        }
    }

    /// Records a worker's report that proving `id` failed, for `reason`. The job stays leased
    /// until its lease runs out, so a failure that repeats does not spin. False if the job is
    /// unknown or already proven.
    pub fn fail(&mut self, id: JobId, reason: &str) -> bool {
        let Some(job) = self.jobs.get_mut(&id).filter(|job| job.proof.is_none()) else {
            return false;
        };
        job.failures += 1;
        job.last_failure = Some(cut_reason(reason).to_string());
        true
    }

    /// Failure reports on open jobs, and the one failing most.
    pub fn failures(&self) -> Failures {
        let open = self.jobs.iter().filter(|(_, job)| job.proof.is_none());
        Failures {
            reports: open.clone().map(|(_, job)| u64::from(job.failures)).sum(),
            worst: open
                .filter(|(_, job)| job.failures > 0)
                .max_by_key(|(_, job)| job.failures)
                .map(|(id, job)| {
                    (
                        *id,
                        job.failures,
                        job.last_failure.clone().unwrap_or_default(),
                    )
                }),
        }
    }

    /// The proofs of `batch` (chunks `0..chunks`) as the bridge takes them, once all are in:
    /// one entry per chunk, a pack's proof at its first chunk and empty entries after it.
    pub fn proofs(&self, batch: u64, chunks: u32) -> Option<Vec<Vec<u8>>> {
        let mut out = Vec::with_capacity(chunks as usize);
        while out.len() < chunks as usize {
            let chunk = out.len() as u32;
            let job = self.jobs.get(&JobId { batch, chunk })?;
            out.push(job.proof.clone()?);
            out.resize(out.len() + job.publics.len() - 1, Vec::new());
        }
        (out.len() == chunks as usize).then_some(out)
    }

    /// The proofs of `batch` with the public inputs of the chunks each covers, once all are in.
    pub fn packs(&self, batch: u64, chunks: u32) -> Option<Vec<ChunkProof>> {
        let mut packs = Vec::new();
        let mut chunk = 0;
        while chunk < chunks {
            let job = self.jobs.get(&JobId { batch, chunk })?;
            packs.push(ChunkProof {
                publics: job.publics.clone(),
                bytes: job.proof.clone()?,
            });
            chunk += job.publics.len() as u32;
        }
        (chunk == chunks).then_some(packs)
    }

    /// Drops the jobs of `batch` (decided on shard 0).
    pub fn forget(&mut self, batch: u64) {
        self.jobs.retain(|id, _| id.batch != batch);
    }

    /// Drops the jobs of every batch up to `batch` (decided on shard 0).
    pub fn forget_through(&mut self, batch: u64) {
        self.jobs.retain(|id, _| id.batch > batch);
    }

    /// Jobs handed out again after a lease ran out, since start.
    pub fn handed_again(&self) -> u64 {
        self.handed_again
    }

    /// (jobs open, jobs leased now, total leases handed out on open jobs).
    pub fn counts(&self, now: Instant) -> (usize, usize, u64) {
        let open = self.jobs.values().filter(|j| j.proof.is_none()).count();
        let leased = self
            .jobs
            .values()
            .filter(|j| j.proof.is_none() && j.lease.as_ref().is_some_and(|(_, u)| *u > now))
            .count();
        let handed = self.jobs.values().map(|j| u64::from(j.leases)).sum();
        (open, leased, handed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kaimeng_rollup::Fp;

    fn public() -> PublicInputs {
        PublicInputs {
            old_root: Fp::from(1),
            new_root: Fp::from(2),
            data_commitment: Fp::from(3),
            queue_before: Fp::from(4),
            queue_after: Fp::from(5),
            chain_id: 7,
            fee_account: 0,
        }
    }

    #[test]
    fn leases_are_exclusive_until_they_run_out_and_then_handed_out_again() {
        let mut board = JobBoard::new(Duration::from_secs(10));
        let t0 = Instant::now();
        for chunk in 0..2 {
            board.add(
                JobId { batch: 1, chunk },
                format!("w{chunk}"),
                vec![public()],
            );
        }
        let a = board.lease("a", t0).unwrap();
        let b = board.lease("b", t0).unwrap();
        assert_eq!((a.id.chunk, b.id.chunk), (0, 1));
        assert!(board.lease("c", t0 + Duration::from_secs(9)).is_none());
        // Worker a dies; its job goes to c once the lease ran out.
        assert_eq!(board.handed_again(), 0);
        let c = board.lease("c", t0 + Duration::from_secs(10)).unwrap();
        assert_eq!(c.id, a.id);
        assert_eq!(board.handed_again(), 1);
        assert!(board.record(b.id, 1, vec![2]));
        assert!(board.proofs(1, 2).is_none());
        assert!(board.record(c.id, 1, vec![1]));
        // A late answer from a is ignored; the batch is complete.
        assert!(!board.record(a.id, 1, vec![9]));
        assert_eq!(board.proofs(1, 2).unwrap(), vec![vec![1], vec![2]]);
        assert!(board.lease("d", t0 + Duration::from_secs(100)).is_none());
        assert_eq!(board.counts(t0).2, 3);
        board.forget(1);
        assert_eq!(board.counts(t0), (0, 0, 0));
    }

    /// A failure report is counted on its open job with its reason (cut to a bound), keeps the
    /// lease until it runs out, and is gone once the job is proven.
    #[test]
    fn failures_are_counted_on_open_jobs_and_named() {
        let mut board = JobBoard::new(Duration::from_secs(10));
        let now = Instant::now();
        let (a, b) = (JobId { batch: 1, chunk: 0 }, JobId { batch: 1, chunk: 1 });
        board.add(a, "{}".into(), vec![public()]);
        board.add(b, "{}".into(), vec![public()]);
        assert_eq!(board.failures(), Failures::default());
        let lease = board.lease("w", now).unwrap();
        assert!(board.fail(lease.id, "synthesis: constraint slot 0 fails"));
        assert!(board.fail(lease.id, &"é".repeat(MAX_FAILURE_REASON)));
        assert!(board.fail(b, "out of memory"));
        assert!(!board.fail(JobId { batch: 9, chunk: 0 }, "unknown"));
        let failures = board.failures();
        assert_eq!(failures.reports, 3);
        let (worst, times, reason) = failures.worst.unwrap();
        assert_eq!((worst, times), (a, 2));
        assert!(reason.len() <= MAX_FAILURE_REASON && reason.starts_with('é'));
        // Still leased to "w": the next lease is the other job.
        assert_eq!(board.lease("v", now).unwrap().id, b);
        assert!(board.record(a, 1, vec![1]));
        assert!(!board.fail(a, "late"), "a proven job takes no more reports");
        assert_eq!(board.failures().reports, 1);
    }

    /// A batch of five chunks in packs of three and two: the bridge gets each pack's proof at
    /// its first chunk and empty entries after it; a proof of another pack size is refused.
    #[test]
    fn packs_give_one_proof_at_their_first_chunk_and_empty_entries_after() {
        let mut board = JobBoard::new(Duration::from_secs(10));
        let (first, second) = (JobId { batch: 4, chunk: 0 }, JobId { batch: 4, chunk: 3 });
        board.add(first, "[]".into(), vec![public(); 3]);
        board.add(second, "[]".into(), vec![public(); 2]);
        assert_eq!(board.public_inputs(first).unwrap().len(), 3);
        assert!(
            !board.record(second, 3, vec![9]),
            "a pack of three for a job of two"
        );
        assert!(board.record(second, 2, vec![2]));
        assert!(
            board.proofs(4, 5).is_none(),
            "the first pack is not proven yet"
        );
        assert!(board.record(first, 3, vec![1]));
        assert_eq!(
            board.proofs(4, 5).unwrap(),
            vec![vec![1], vec![], vec![], vec![2], vec![]]
        );
        let packs = board.packs(4, 5).unwrap();
        assert_eq!(
            packs
                .iter()
                .map(|p| (p.publics.len(), p.bytes.clone()))
                .collect::<Vec<_>>(),
            vec![(3, vec![1]), (2, vec![2])]
        );
        assert!(board.packs(4, 4).is_none());
        // A batch that ends inside a pack, or starts without one, gets no proofs.
        assert!(board.proofs(4, 4).is_none());
        assert!(board.proofs(5, 1).is_none());
    }

    #[test]
    fn job_ids_parse_back_and_bad_ones_say_why() {
        let id = JobId {
            batch: 12,
            chunk: 3,
        };
        assert_eq!(id.to_string().parse::<JobId>().unwrap(), id);
        assert!("12".parse::<JobId>().unwrap_err().contains("BATCH-CHUNK"));
        assert!("x-1".parse::<JobId>().unwrap_err().contains("bad batch"));
    }
}
