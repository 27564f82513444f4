//! The read pool: a bounded set of threads, apart from the async runtime, that runs the RPC
//! handlers which execute or scan (`eth_call`, `eth_estimateGas`, `eth_getLogs`, the filter
//! polls, `debug_trace*`), so that a flood of them cannot take the runtime that serves other
//! requests and drives consensus.
//!
//! The pool has `threads` threads and room for `queue` jobs waiting for one. A job that finds
//! both full is refused at once with -32005 naming the limit ([`ReadPool::busy`]); nothing
//! waits unbounded. A job that panics fails its own call with an internal error and leaves the
//! thread running. A handler moves its work here with one line:
//!
//! ```ignore
//! let chain = self.chain.clone();
//! self.reads.run(move || chain.call(&request, number, None).map_err(from_call)).await
//! ```
//!
//! See ADR 0095.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use jsonrpsee::types::ErrorObjectOwned;
use parking_lot::{Condvar, Mutex};

use crate::error::{RpcResult, internal, limit_exceeded};

type Job = Box<dyn FnOnce() + Send>;

/// The default number of threads: the machine's cores, at least 2.
pub fn default_threads() -> u32 {
    std::thread::available_parallelism()
        .map_or(2, |n| n.get() as u32)
        .max(2)
}

/// Jobs that may wait for a thread by default.
pub const DEFAULT_QUEUE: u32 = 64;

/// A bounded pool of threads for RPC reads; the threads end when the pool is dropped (after
/// the jobs already accepted).
pub struct ReadPool {
    shared: Arc<Shared>,
    threads: usize,
    queue: usize,
}

struct Shared {
    state: Mutex<State>,
    job_ready: Condvar,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<Job>,
    /// Jobs accepted and not yet finished: waiting or running.
    occupied: usize,
    closed: bool,
}

/// One accepted job's place in the pool; freed when the job ends, however it ends.
struct Slot(Arc<Shared>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.state.lock().occupied -= 1;
    }
}

impl ReadPool {
    /// Starts `threads` threads (at least 1) with room for `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> std::io::Result<ReadPool> {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            job_ready: Condvar::new(),
        });
        for i in 0..threads {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("rpc-read-{i}"))
                .spawn(move || {
                    lower_priority();
                    work(&shared)
                })?;
        }
        Ok(ReadPool {
            shared,
            threads,
            queue,
        })
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    pub fn queue(&self) -> usize {
        self.queue
    }

    /// Runs `job` on the pool and resolves to its result; refused at once with
    /// [`ReadPool::busy`] when every thread is running a job and `queue` jobs already wait.
    /// The job is accepted or refused when this is called, not when the future is polled.
    pub fn run<T, F>(&self, job: F) -> impl Future<Output = RpcResult<T>> + Send + 'static
    where
        T: Send + 'static,
        F: FnOnce() -> RpcResult<T> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let accepted = self.submit(move |slot| {
            Box::new(move || {
                let outcome = catch_unwind(AssertUnwindSafe(job));
                // The place is free before the caller hears, so that a caller who calls again at
                // once finds it free.
                drop(slot);
                let answer = outcome.unwrap_or_else(|_| {
                    tracing::error!("an RPC read job panicked; its call got an internal error");
                    Err(internal("the RPC read job panicked (see the node's log)"))
                });
                // The caller may have gone; its answer is then dropped.
                let _ = reply.send(answer);
            })
        });
        async move {
            accepted?;
            answer
                .await
                .map_err(|_| internal("the RPC read pool stopped before answering"))?
        }
    }

    /// Queues the job `make` builds around its [`Slot`] if fewer than `threads + queue` jobs
    /// are accepted and unfinished.
    fn submit(&self, make: impl FnOnce(Slot) -> Job) -> Result<(), ErrorObjectOwned> {
        let mut state = self.shared.state.lock();
        if state.occupied >= self.threads + self.queue {
            return Err(self.busy());
        }
        state.occupied += 1;
        state.waiting.push_back(make(Slot(self.shared.clone())));
        drop(state);
        self.shared.job_ready.notify_one();
        Ok(())
    }

    /// The refusal of a job that finds the pool full.
    pub fn busy(&self) -> ErrorObjectOwned {
        limit_exceeded(format!(
            "server busy: all {} RPC read threads are running and {} calls already wait \
             (eth_call, eth_estimateGas, eth_getLogs, filter polls and tracing share them); \
             retry later, or raise [rpc] read_threads / read_queue",
            self.threads, self.queue
        ))
    }
}

impl Drop for ReadPool {
    fn drop(&mut self) {
        self.shared.state.lock().closed = true;
        self.shared.job_ready.notify_all();
    }
}

/// The nice value of the read threads: when the cores are all busy, the scheduler gives the
/// threads that serve requests and drive consensus about ten times their share.
pub const READ_THREAD_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority to [`READ_THREAD_NICE`] (Linux keeps a
/// nice value per thread); elsewhere, or if refused, the thread keeps the process's.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
        let result = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, READ_THREAD_NICE)
        };
        if result != 0 {
            tracing::debug!(
                error = %std::io::Error::last_os_error(),
                "could not lower the priority of an RPC read thread"
            );
        }
    }
}

/// One thread's loop: takes the oldest waiting job until the pool is closed and drained.
fn work(shared: &Shared) {
    loop {
        let job = {
            let mut state = shared.state.lock();
            loop {
                if let Some(job) = state.waiting.pop_front() {
                    break job;
                }
                if state.closed {
                    return;
                }
                shared.job_ready.wait(&mut state);
            }
        };
        // Jobs catch their own panics ([`ReadPool::run`]); this is the thread's safety net.
        let _ = catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::error::codes;

    /// A job that blocks until `release` is sent (or dropped), having said it started.
    fn blocked_job(
        started: mpsc::Sender<()>,
        release: mpsc::Receiver<()>,
    ) -> impl FnOnce() -> RpcResult<u32> + Send + 'static {
        move || {
            started.send(()).unwrap();
            let _ = release.recv();
            Ok(1)
        }
    }

    #[tokio::test]
    async fn a_full_pool_refuses_at_once_and_accepts_again_when_a_job_ends() {
        let pool = ReadPool::new(2, 1).unwrap();
        let (started_tx, started) = mpsc::channel();
        let mut releases = Vec::new();
        let mut running = Vec::new();
        for _ in 0..3 {
            let (release_tx, release) = mpsc::channel();
            releases.push(release_tx);
            running.push(tokio::spawn(
                pool.run(blocked_job(started_tx.clone(), release)),
            ));
        }
        // Both threads hold a job; the third waits in the queue.
        started.recv_timeout(Duration::from_secs(10)).unwrap();
        started.recv_timeout(Duration::from_secs(10)).unwrap();

        let refused = pool.run(|| Ok(7)).await.unwrap_err();
        assert_eq!(refused.code(), codes::LIMIT_EXCEEDED);
        assert!(refused.message().contains("read_threads"), "{refused:?}");
        assert!(
            refused.message().contains("2 RPC read threads"),
            "{refused:?}"
        );

        releases.remove(0).send(()).unwrap();
        assert_eq!(running.remove(0).await.unwrap().unwrap(), 1);
        // The queued job now runs; the queue has room for one again.
        started.recv_timeout(Duration::from_secs(10)).unwrap();
        let accepted = tokio::spawn(pool.run(|| Ok(7)));
        assert_eq!(
            pool.run(|| Ok(8)).await.unwrap_err().code(),
            codes::LIMIT_EXCEEDED
        );
        drop(releases);
        for job in running {
            assert_eq!(job.await.unwrap().unwrap(), 1);
        }
        assert_eq!(accepted.await.unwrap().unwrap(), 7);
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_call_and_the_thread_lives_on() {
        let pool = ReadPool::new(1, 0).unwrap();
        for _ in 0..3 {
            let error = pool
                .run(|| -> RpcResult<u32> { panic!("boom") })
                .await
                .unwrap_err();
            assert_eq!(error.code(), codes::INTERNAL);
            assert!(error.message().contains("panicked"), "{error:?}");
            // The one thread is still there to run the next job.
            assert_eq!(pool.run(|| Ok(5)).await.unwrap(), 5);
        }
    }

    #[tokio::test]
    async fn errors_of_the_job_reach_the_caller() {
        let pool = ReadPool::new(1, 0).unwrap();
        let error = pool
            .run(|| -> RpcResult<u32> { Err(crate::error::invalid_params("bad")) })
            .await
            .unwrap_err();
        assert_eq!(error.code(), codes::INVALID_PARAMS);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn read_threads_run_at_a_lower_priority() {
        let pool = ReadPool::new(1, 0).unwrap();
        // SAFETY: as in `lower_priority`.
        let nice = pool
            .run(|| {
                Ok(unsafe {
                    let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
                    libc::getpriority(libc::PRIO_PROCESS, tid)
                })
            })
            .await
            .unwrap();
        // At least the pool's nice value (more if the test process runs niced already).
        assert!(nice >= READ_THREAD_NICE, "nice {nice}");
    }

    #[test]
    fn dropping_the_pool_ends_its_threads_after_their_jobs() {
        let pool = ReadPool::new(2, 4).unwrap();
        let (done_tx, done) = mpsc::channel();
        for i in 0..6 {
            let done_tx = done_tx.clone();
            drop(pool.run(move || {
                done_tx.send(i).unwrap();
                Ok(())
            }));
        }
        drop(pool);
        drop(done_tx);
        let mut ran: Vec<i32> = done.iter().collect();
        ran.sort();
        assert_eq!(ran, (0..6).collect::<Vec<_>>());
    }
}
