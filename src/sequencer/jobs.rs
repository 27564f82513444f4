//! Chunk-proving jobs handed to prover workers under leases.
//!
//! A worker leases the oldest job that is neither proven nor leased to someone else; a lease
//! that runs out without a proof (the worker died, or is too slow) makes the job available
//! again. A proof is recorded only after the caller checked it against the job's public
//! inputs, so a wrong or late answer costs nothing. Pure: the clock is passed in.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kaimeng_prover::PublicInputs;

/// A job: chunk `chunk` of batch `batch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId {
    /// Batch number.
    pub batch: u64,
    /// Chunk index in the batch.
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
    public: PublicInputs,
    lease: Option<(String, Instant)>,
    proof: Option<Vec<u8>>,
    leases: u32,
}

/// A job handed to a worker.
#[derive(Clone, Debug)]
pub struct Lease {
    /// The job.
    pub id: JobId,
    /// Its witness (the prover's wire JSON).
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

    /// Adds a job (a no-op if it is already there).
    pub fn add(&mut self, id: JobId, witness: String, public: PublicInputs) {
        self.jobs.entry(id).or_insert(Job {
            witness: Arc::new(witness),
            public,
            lease: None,
            proof: None,
            leases: 0,
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

    /// The public inputs a proof for `id` must prove, if the job is open.
    pub fn public_inputs(&self, id: JobId) -> Option<PublicInputs> {
        self.jobs
            .get(&id)
            .filter(|job| job.proof.is_none())
            .map(|job| job.public)
    }

    /// Records a proof the caller has checked. False if the job is unknown or already proven.
    pub fn record(&mut self, id: JobId, proof: Vec<u8>) -> bool {
        match self.jobs.get_mut(&id) {
            Some(job) if job.proof.is_none() => {
                job.proof = Some(proof);
                job.lease = None;
                true
            }
            _ => false,
        }
    }

    /// Every chunk proof of `batch` (chunks `0..chunks`), once all are in.
    pub fn proofs(&self, batch: u64, chunks: u32) -> Option<Vec<Vec<u8>>> {
        (0..chunks)
            .map(|chunk| self.jobs.get(&JobId { batch, chunk })?.proof.clone())
            .collect()
    }

    /// Drops the jobs of `batch` (verified on shard 0).
    pub fn forget(&mut self, batch: u64) {
        self.jobs.retain(|id, _| id.batch != batch);
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
            board.add(JobId { batch: 1, chunk }, format!("w{chunk}"), public());
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
        assert!(board.record(b.id, vec![2]));
        assert!(board.proofs(1, 2).is_none());
        assert!(board.record(c.id, vec![1]));
        // A late answer from a is ignored; the batch is complete.
        assert!(!board.record(a.id, vec![9]));
        assert_eq!(board.proofs(1, 2).unwrap(), vec![vec![1], vec![2]]);
        assert!(board.lease("d", t0 + Duration::from_secs(100)).is_none());
        assert_eq!(board.counts(t0).2, 3);
        board.forget(1);
        assert_eq!(board.counts(t0), (0, 0, 0));
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
