//! The sequencer's state, shared by its RPC and its pipeline: the soft-confirmed ledger, the
//! journal, every accepted operation and its place, the batches and where each stands on
//! shard 0, the proving jobs, and the events subscribers follow.
//!
//! An operation is confirmed to its sender only once the journal holding it is synced
//! (group commit: one `fdatasync` covers every operation accepted while the previous one ran).
//! Once enough executed operations sit in the journal, it is compacted in the background to a
//! snapshot of the executed state and what follows it (ADR 0110).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use alloy_primitives::B256;
use anyhow::anyhow;
use kaimeng_prover::{ChunkParams, ChunkProof, ChunkVerifyingKey, verify_chunk};
use kaimeng_rollup::journal::{Journal, JournalError, Record, write_compacted};
use kaimeng_rollup::schnorr::verify_batch;
use kaimeng_rollup::snapshot::{SnapshotHead, snapshot_records};
use kaimeng_rollup::soft::SoftLedger;
use kaimeng_rollup::stf::{ChunkOutcome, L2State};
use kaimeng_rollup::{Account, L2Op, PriorityOp};
use kaimeng_rollup::{Fp, PublicKey, Signature};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore, broadcast, mpsc, oneshot, watch};

use super::jobs::{JobBoard, JobId};
use super::wire::{Balance, TxStage, op_hash};
use crate::bridge_client::{FEE_ACCOUNT, Request};

/// How the sequencer batches and what it charges.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// The rollup's chain id (shard 0's), bound into every signature.
    pub chain_id: u64,
    /// Slots per chunk (the genesis shape).
    pub slots: usize,
    /// Chunks per batch at most.
    pub max_chunks: usize,
    /// Chunks one proof covers at most.
    pub chunks_per_proof: usize,
    /// Verified batches whose claims are decided together (ADR 0114)...
    pub decide_every: u64,
    /// ...or fewer, once the oldest of them waited this long.
    pub decide_wait: Duration,
    /// Most gas one step of a decision may use.
    pub decide_step_gas: u64,
    /// A batch closes once its oldest operation waited this long.
    pub max_wait: Duration,
    /// The smallest fee accepted, in L2 units.
    pub min_fee: u16,
    /// log2 rows of the chunk circuit (told to remote provers).
    pub chunk_k: u32,
    /// Operations of executed batches kept in memory for `rollup_getTransaction` (the newest
    /// ones); older ones are forgotten.
    pub keep_executed: usize,
    /// The journal is compacted once it holds at least this many operations of executed
    /// batches (and at least one for every 16 accounts).
    pub compact_after_ops: usize,
}

impl Settings {
    /// Operations per batch at most.
    pub fn capacity(&self) -> usize {
        self.slots * self.max_chunks
    }
}

/// What subscribers are told about.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// An account's soft state changed.
    Account(u32),
    /// A batch moved on (closed, committed, verified or executed).
    Batch(u64),
}

/// How far the bridge has taken the batches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Marks {
    /// Last committed batch.
    pub committed: u64,
    /// Last verified batch.
    pub verified: u64,
    /// Last batch whose IPA claims were decided (ADR 0114).
    pub decided: u64,
    /// Last executed batch.
    pub executed: u64,
}

/// One closed batch.
#[derive(Debug)]
pub struct BatchRecord {
    /// Its number (from 1).
    pub number: u64,
    /// Sequence number of its first operation.
    pub first_seq: u64,
    /// Operations in it.
    pub ops: u32,
    /// Chunks (known once applied).
    pub chunks: u32,
    /// Accounts it changed, as it left them (until executed).
    pub diff: HashMap<u32, Account>,
    /// The last error submitting it to shard 0, if any.
    pub last_error: Option<String>,
    /// When it closed.
    pub closed_at: Instant,
    /// The first priority request after it.
    pub next_request_after: u64,
    /// The state root and priority-queue hash after it (known once applied).
    pub after: Option<(Fp, Fp)>,
}

/// Accounts a snapshot may hold per operation it drops: a snapshot's account (69 bytes) costs
/// less to write than a transfer record (112 bytes) and far less to restore than a transfer
/// costs to replay (about 50 µs against 0.8 ms), so a compaction pays even when it writes 16
/// times more accounts than it drops operations. The bound keeps a large account set from
/// being rewritten for a few operations.
const SNAPSHOT_ACCOUNTS_PER_DROPPED_OP: u64 = 16;

/// Whether a journal holding `dropped_ops` operations of executed batches is compacted, with
/// `accounts` accounts in the snapshot: at least `compact_after_ops` of them, and enough to
/// justify rewriting the accounts.
fn compaction_due(dropped_ops: u64, accounts: usize, compact_after_ops: usize) -> bool {
    dropped_ops >= compact_after_ops as u64
        && dropped_ops * SNAPSHOT_ACCOUNTS_PER_DROPPED_OP >= accounts as u64
}

/// A planned compaction.
struct Compaction {
    head: SnapshotHead,
    accounts: Vec<(u32, Account)>,
    /// Operation records before the snapshot's first operation.
    dropped_ops: u64,
}

struct OpEntry {
    hash: B256,
    op: L2Op,
}

struct State {
    ledger: SoftLedger,
    journal: Journal,
    broken: Option<String>,
    /// Every operation accepted since the first one not forgotten (sequence `forgotten`).
    ops: VecDeque<OpEntry>,
    /// Operations forgotten: executed, and older than the newest `keep_executed`.
    forgotten: u64,
    /// Sequence number of the journal's first operation record.
    journal_first_seq: u64,
    /// The batch the journal starts after (its base), and compactions since start.
    journal_base: u64,
    compactions: u64,
    /// The first priority request after the base.
    base_request: u64,
    unbatched: VecDeque<(u64, Instant)>,
    txs: HashMap<B256, u64>,
    first_batch: u64,
    batches: Vec<BatchRecord>,
    next_request: u64,
    waiting_requests: BTreeMap<u64, PriorityOp>,
    marks: Marks,
    executed_accounts: HashMap<u32, Account>,
    /// Accounts of a rebuilt base whose last batches the bridge has not executed yet: what
    /// they become once the base's last batch is executed.
    rebuilt_unexecuted: HashMap<u32, Account>,
    /// Whether a closed batch (or the base) registers the fee account.
    fee_batched: bool,
}

/// An accepted transaction.
#[derive(Clone, Copy, Debug)]
pub struct Accepted {
    /// Its hash.
    pub hash: B256,
    /// Its position in the sequence.
    pub seq: u64,
}

/// The sequencer's shared state.
pub struct Core {
    /// Batching and fees.
    pub settings: Settings,
    state: Mutex<State>,
    synced: watch::Sender<u64>,
    compacting: AtomicBool,
    flush_wanted: Notify,
    events: broadcast::Sender<Event>,
    /// Proving jobs.
    pub jobs: Mutex<JobBoard>,
    verifier: std::sync::OnceLock<(Arc<ChunkParams>, Arc<ChunkVerifyingKey>)>,
    signatures: mpsc::Sender<SignatureCheck>,
    signature_queue: Mutex<Option<mpsc::Receiver<SignatureCheck>>>,
}

/// Why a transaction was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitError {
    /// It is invalid, or the sequencer does not accept transactions now.
    Refused(String),
    /// The sequencer is at a limit; the same transaction may be sent again.
    Busy(String),
}

impl From<String> for SubmitError {
    fn from(reason: String) -> Self {
        Self::Refused(reason)
    }
}

impl From<&str> for SubmitError {
    fn from(reason: &str) -> Self {
        Self::Refused(reason.to_string())
    }
}

impl std::fmt::Display for SubmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(reason) | Self::Busy(reason) => f.write_str(reason),
        }
    }
}

/// A signature waiting to be checked, and where its verdict goes.
type SignatureCheck = ((PublicKey, Fp, Signature), oneshot::Sender<bool>);

/// Signatures checked in one multi-scalar multiplication at most.
const MAX_SIGNATURE_BATCH: usize = 512;

/// Signatures waiting for a checker at most; one more transaction is refused as busy. (Up to
/// a batch per core more are being checked.)
pub const MAX_WAITING_SIGNATURES: usize = 8 * MAX_SIGNATURE_BATCH;

/// What the journal's records start from.
#[derive(Clone, Copy)]
pub struct Base<'a> {
    /// The state: empty, rebuilt from shard 0, or restored from the journal's snapshot.
    pub state: &'a L2State,
    /// Batches it covers.
    pub batches: u64,
    /// The first priority request not consumed by them.
    pub next_request: u64,
    /// Sequence number of the first operation after them.
    pub first_seq: u64,
}

impl<'a> Base<'a> {
    /// The start of a journal with no base: nothing applied.
    pub fn empty(state: &'a L2State) -> Self {
        Self {
            state,
            batches: 0,
            next_request: 0,
            first_seq: 0,
        }
    }
}

/// What reopening the journal found, for the pipeline.
pub struct Replayed {
    /// Batches already applied to `base` (rebuilt from shard 0); later ones are replayed.
    pub base_batches: u64,
    /// The ops of each closed batch after the base, in order.
    pub batch_ops: Vec<(u64, Vec<L2Op>)>,
    /// Proofs found in the journal.
    /// `(first chunk's job, chunks the proof covers, proof)`.
    pub proofs: Vec<(JobId, u32, Vec<u8>)>,
}

impl Core {
    /// The state over an opened journal whose records are `records` (its base's records
    /// removed), on top of `base`.
    pub fn open(
        settings: Settings,
        journal: Journal,
        records: Vec<Record>,
        base: Base<'_>,
        lease_time: Duration,
    ) -> anyhow::Result<(Arc<Self>, Replayed)> {
        let Base {
            state: base,
            batches: base_batches,
            next_request: base_request,
            first_seq,
        } = base;
        let now = Instant::now();
        let mut state = State {
            ledger: SoftLedger::new(base, settings.chain_id, FEE_ACCOUNT),
            journal,
            broken: None,
            ops: VecDeque::new(),
            forgotten: first_seq,
            journal_first_seq: first_seq,
            journal_base: base_batches,
            compactions: 0,
            base_request,
            unbatched: VecDeque::new(),
            txs: HashMap::new(),
            first_batch: base_batches + 1,
            batches: Vec::new(),
            next_request: base_request,
            waiting_requests: BTreeMap::new(),
            marks: Marks {
                committed: base_batches,
                verified: base_batches,
                decided: base_batches,
                executed: base_batches,
            },
            executed_accounts: base.accounts().map(|(i, a)| (i, *a)).collect(),
            rebuilt_unexecuted: HashMap::new(),
            fee_batched: !base.account(FEE_ACCOUNT).is_empty(),
        };
        let mut replayed = Replayed {
            base_batches,
            batch_ops: Vec::new(),
            proofs: Vec::new(),
        };
        for (index, record) in records.into_iter().enumerate() {
            match record {
                Record::Op(op) => {
                    state.ledger.apply(&op).map_err(|e| {
                        anyhow!("journal record {index}: the operation no longer applies: {e}")
                    })?;
                    if matches!(op, L2Op::Priority(_)) {
                        state.next_request += 1;
                    }
                    state.push_op(op, now);
                }
                Record::Closed { batch, ops } => {
                    let ops = state.close(batch, ops as usize, now).ok_or_else(|| {
                        anyhow!("journal record {index}: batch {batch} closes out of order")
                    })?;
                    state.fee_batched |= ops.iter().any(|op| {
                        matches!(op, L2Op::Priority(PriorityOp::Deposit(d)) if d.to == FEE_ACCOUNT)
                    });
                    replayed.batch_ops.push((batch, ops));
                }
                Record::Proof {
                    batch,
                    chunk,
                    chunks,
                    bytes,
                } => replayed
                    .proofs
                    .push((JobId { batch, chunk }, chunks, bytes)),
                Record::Rebuilt { .. } => {}
                Record::Snapshot { .. } | Record::Accounts(_) => {
                    return Err(anyhow!(
                        "journal record {index}: a snapshot record after the journal's start"
                    ));
                }
            }
        }
        let written = state.journal.flush()?;
        let (synced, _) = watch::channel(written);
        let (events, _) = broadcast::channel(4096);
        let (signatures, signature_queue) = mpsc::channel(MAX_WAITING_SIGNATURES);
        Ok((
            Arc::new(Self {
                settings,
                state: Mutex::new(state),
                synced,
                compacting: AtomicBool::new(false),
                flush_wanted: Notify::new(),
                events,
                jobs: Mutex::new(JobBoard::new(lease_time)),
                verifier: std::sync::OnceLock::new(),
                signatures,
                signature_queue: Mutex::new(Some(signature_queue)),
            }),
            replayed,
        ))
    }

    /// Follows the events.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Starts the journal flusher and the signature checker (call once, in a runtime).
    pub fn start_tasks(self: &Arc<Self>) {
        tokio::spawn(self.clone().run_flusher());
        if let Some(queue) = self.signature_queue.lock().take() {
            tokio::spawn(check_signatures(queue));
        }
    }

    /// Whether `sig` on `message` verifies under `key`: checked together with every other
    /// signature waiting at the time (one multi-scalar multiplication per batch, a batch per
    /// core in flight), one by one only if the batch fails. Busy if
    /// [`MAX_WAITING_SIGNATURES`] are already waiting.
    async fn signature_ok(
        &self,
        key: PublicKey,
        message: Fp,
        sig: Signature,
    ) -> Result<bool, SubmitError> {
        let (verdict, answer) = oneshot::channel();
        match self.signatures.try_send(((key, message, sig), verdict)) {
            Ok(()) => Ok(answer.await.unwrap_or(false)),
            Err(mpsc::error::TrySendError::Full(_)) => Err(SubmitError::Busy(format!(
                "the sequencer is busy: {MAX_WAITING_SIGNATURES} signatures are waiting to be \
                 checked; retry shortly"
            ))),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Ok(kaimeng_rollup::schnorr::verify(&key, message, &sig))
            }
        }
    }

    /// Syncs the journal whenever asked; runs forever.
    async fn run_flusher(self: Arc<Self>) {
        loop {
            self.flush_wanted.notified().await;
            // The file handle is taken with the flush: a compaction may replace the file.
            let flushed = {
                let mut state = self.state.lock();
                state
                    .journal
                    .flush()
                    .and_then(|written| Ok((written, state.journal.sync_handle()?)))
            };
            let (written, file) = match flushed {
                Ok(flushed) => flushed,
                Err(e) => {
                    self.fail(format!("cannot write the journal: {e}"));
                    continue;
                }
            };
            match tokio::task::spawn_blocking(move || file.sync_data()).await {
                Ok(Ok(())) => self.mark_synced(written),
                Ok(Err(e)) => self.fail(format!("cannot sync the journal: {e}")),
                Err(e) => self.fail(format!("journal sync task: {e}")),
            }
        }
    }

    /// Everything before `position` is durable.
    fn mark_synced(&self, position: u64) {
        self.synced.send_if_modified(|synced| {
            let newer = position > *synced;
            *synced = (*synced).max(position);
            newer
        });
    }

    /// Stops accepting anything, for `reason`.
    pub fn fail(&self, reason: String) {
        tracing::error!(%reason, "the sequencer stops accepting transactions");
        self.state.lock().broken.get_or_insert(reason);
    }

    async fn durable(&self, position: u64) -> anyhow::Result<()> {
        let mut synced = self.synced.subscribe();
        self.flush_wanted.notify_one();
        loop {
            if *synced.borrow_and_update() >= position {
                return Ok(());
            }
            if let Some(reason) = self.state.lock().broken.clone() {
                return Err(anyhow!("{reason}"));
            }
            synced
                .changed()
                .await
                .map_err(|_| anyhow!("the journal flusher stopped"))?;
        }
    }

    /// Checks and soft-confirms a user's signed operation; returns once it is durable.
    pub async fn submit(&self, op: L2Op) -> Result<Accepted, SubmitError> {
        let fee = match op {
            L2Op::Transfer(t) => t.tx.fee,
            L2Op::Withdraw(w) => w.tx.fee,
            _ => return Err("only transfers and withdrawals are submitted here".into()),
        };
        if fee < self.settings.min_fee {
            return Err(format!(
                "fee {fee} is below the minimum {} (see rollup_feeQuote)",
                self.settings.min_fee
            )
            .into());
        }
        let signer = {
            let state = self.state.lock();
            if let Some(reason) = &state.broken {
                return Err(
                    format!("the sequencer is not accepting transactions: {reason}").into(),
                );
            }
            state.ledger.signer_of(&op).map_err(|e| reason(&e))?
        };
        // The signature is checked outside the lock, batched with others waiting.
        if let (Some(key), Some((message, sig))) = (
            signer,
            SoftLedger::signed_parts(&op, self.settings.chain_id),
        ) && !self.signature_ok(key, message, sig).await?
        {
            return Err("bad signature: it does not verify under the account's L2 key".into());
        }
        let (accepted, position) = {
            let mut state = self.state.lock();
            let hash = op_hash(&op);
            if state.txs.contains_key(&hash) {
                return Err(format!("transaction {hash} is already known").into());
            }
            state.ledger.apply(&op).map_err(|e| reason(&e))?;
            let position = state.journal.append(&Record::Op(op));
            let seq = state.push_op(op, Instant::now());
            match position {
                Ok(position) => (Accepted { hash, seq }, position),
                Err(e) => {
                    drop(state);
                    self.fail(format!("cannot write the journal: {e}"));
                    return Err("the sequencer cannot write its journal".into());
                }
            }
        };
        self.durable(position)
            .await
            .map_err(|e| SubmitError::Refused(format!("not durable: {e}")))?;
        for account in touched(&op) {
            let _ = self.events.send(Event::Account(account));
        }
        Ok(accepted)
    }

    /// Takes the bridge's priority requests in id order (duplicates and ones already taken are
    /// ignored; a gap waits). Returns how many were added.
    pub async fn add_requests(&self, requests: Vec<Request>) -> anyhow::Result<usize> {
        let (added, position, accounts) = {
            let mut state = self.state.lock();
            for r in requests {
                if r.id >= state.next_request {
                    state.waiting_requests.insert(r.id, r.op);
                }
            }
            let mut added = 0;
            let mut position = None;
            let mut accounts = Vec::new();
            loop {
                let next = state.next_request;
                let Some(op) = state.waiting_requests.remove(&next) else {
                    break;
                };
                let op = L2Op::Priority(op);
                if let Err(e) = state.ledger.apply(&op) {
                    let reason = format!("request {} does not apply: {e}", state.next_request);
                    state.broken.get_or_insert(reason.clone());
                    return Err(anyhow!(reason));
                }
                match state.journal.append(&Record::Op(op)) {
                    Ok(written) => position = Some(written),
                    Err(e) => {
                        let reason = format!("cannot write the journal: {e}");
                        state.broken.get_or_insert(reason.clone());
                        return Err(anyhow!(reason));
                    }
                }
                state.push_op(op, Instant::now());
                state.next_request += 1;
                accounts.extend(touched(&op));
                added += 1;
            }
            (added, position, accounts)
        };
        if let Some(position) = position {
            self.durable(position).await?;
        }
        for account in accounts {
            let _ = self.events.send(Event::Account(account));
        }
        Ok(added)
    }

    /// The next request id the sequencer waits for.
    pub fn next_request(&self) -> u64 {
        self.state.lock().next_request
    }

    /// Closes the next batch if it is due (full, or its oldest operation waited long enough)
    /// and the fee account exists; returns its number and operations once journaled.
    pub async fn close_due_batch(&self, now: Instant) -> anyhow::Result<Option<(u64, Vec<L2Op>)>> {
        let (number, ops, position) = {
            let mut state = self.state.lock();
            if state.broken.is_some() {
                return Ok(None);
            }
            let Some(&(_, oldest)) = state.unbatched.front() else {
                return Ok(None);
            };
            let due = state.unbatched.len() >= self.settings.capacity()
                || now.duration_since(oldest) >= self.settings.max_wait;
            if !due {
                return Ok(None);
            }
            // Every chunk credits the fee account, so its deposit must be in the first chunk.
            if !state.fee_batched {
                let position = state.unbatched.iter().position(|(seq, _)| {
                    matches!(
                        state.op(*seq).map(|entry| entry.op),
                        Some(
                        L2Op::Priority(PriorityOp::Deposit(d))) if d.to == FEE_ACCOUNT
                    )
                });
                match position {
                    None => return Ok(None),
                    Some(p) if p >= self.settings.slots => {
                        let reason = format!(
                            "the fee account's deposit comes after {p} other operations, more \
                             than a chunk's {} slots can hold before it: register the fee \
                             account (start the sequencer) before users deposit",
                            self.settings.slots
                        );
                        state.broken.get_or_insert(reason.clone());
                        return Err(anyhow!(reason));
                    }
                    Some(_) => state.fee_batched = true,
                }
            }
            let take = state.unbatched.len().min(self.settings.capacity());
            let number = state.first_batch + state.batches.len() as u64;
            let position = state.journal.append(&Record::Closed {
                batch: number,
                ops: take as u32,
            })?;
            let ops = state.close(number, take, now).expect("numbered in order");
            (number, ops, position)
        };
        self.durable(position).await?;
        Ok(Some((number, ops)))
    }

    /// Records what applying batch `number` did.
    pub fn batch_applied(&self, number: u64, outcomes: &[ChunkOutcome], after: &L2State) {
        let mut state = self.state.lock();
        let fees: u64 = outcomes.iter().map(|o| o.total_fee).sum();
        state.ledger.credit_fees(fees);
        if let Some(batch) = state.batch_mut(number) {
            batch.chunks = outcomes.len() as u32;
            batch.after = Some((after.root(), after.queue_hash()));
            let touched = outcomes.iter().flat_map(|o| {
                o.slots
                    .iter()
                    .flat_map(|s| [s.a.index, s.b.index])
                    .chain([o.fee_credit.index])
            });
            batch.diff = touched.map(|i| (i, after.account(i))).collect();
        }
        drop(state);
        let _ = self.events.send(Event::Batch(number));
        let _ = self.events.send(Event::Account(FEE_ACCOUNT));
    }

    /// Notes a submission error for batch `number` (shown by `rollup_getBatch`).
    pub fn batch_error(&self, number: u64, error: Option<String>) {
        if let Some(batch) = self.state.lock().batch_mut(number) {
            batch.last_error = error;
        }
    }

    /// Whether batch `number`'s last submission failed.
    pub fn batch_failed(&self, number: u64) -> bool {
        self.state
            .lock()
            .batch(number)
            .is_some_and(|b| b.last_error.is_some())
    }

    /// The bridge's marks, as last read.
    pub fn marks(&self) -> Marks {
        self.state.lock().marks
    }

    /// The last closed batch's number (0 if none).
    pub fn last_closed(&self) -> u64 {
        let state = self.state.lock();
        state.first_batch + state.batches.len() as u64 - 1
    }

    /// Chunks of batch `number` (0 if unknown or not applied).
    pub fn chunks_of(&self, number: u64) -> u32 {
        self.state.lock().batch(number).map_or(0, |b| b.chunks)
    }

    /// After a rebuild through the base's last batch: the bridge has executed only through
    /// batch `executed`, where the state was `at_executed`. The executed view starts there;
    /// the rest of the base joins it when the base's last batch is executed. Nothing to do if
    /// the whole base is executed.
    pub fn rebuilt_executed_through(&self, executed: u64, at_executed: &L2State) {
        let mut state = self.state.lock();
        if executed >= state.first_batch - 1 {
            return;
        }
        let then: HashMap<u32, Account> = at_executed.accounts().map(|(i, a)| (i, *a)).collect();
        let base = std::mem::take(&mut state.executed_accounts);
        state.rebuilt_unexecuted = base
            .into_iter()
            .filter(|(index, account)| then.get(index) != Some(account))
            .collect();
        state.executed_accounts = then;
        state.marks.executed = executed;
    }

    /// Updates the bridge's marks; executed batches fold into the executed view.
    pub fn set_marks(&self, marks: Marks) {
        let mut state = self.state.lock();
        let old = state.marks;
        if old == marks {
            return;
        }
        let base = state.first_batch - 1;
        for number in old.executed + 1..=marks.executed {
            let diff = if number == base {
                std::mem::take(&mut state.rebuilt_unexecuted)
            } else {
                state
                    .batch_mut(number)
                    .map(|b| std::mem::take(&mut b.diff))
                    .unwrap_or_default()
            };
            state.executed_accounts.extend(diff);
        }
        state.marks = marks;
        state.forget_executed(self.settings.keep_executed);
        drop(state);
        for number in old.committed.min(old.verified).min(old.executed) + 1..=marks.committed {
            let _ = self.events.send(Event::Batch(number));
        }
    }

    /// The parameters and verifying key checked proofs are checked with.
    pub fn set_verifier(&self, params: Arc<ChunkParams>, vk: Arc<ChunkVerifyingKey>) {
        let _ = self.verifier.set((params, vk));
    }

    /// The parameters and verifying key, once built.
    pub fn verifier(&self) -> Option<(Arc<ChunkParams>, Arc<ChunkVerifyingKey>)> {
        self.verifier.get().cloned()
    }

    /// Whether worker proofs can be checked yet.
    pub fn verifier_ready(&self) -> bool {
        self.verifier.get().is_some()
    }

    /// Checks a worker's proof for `id` and records it (journaled). Errors say why it was
    /// refused; a proof for a job already proven is ignored.
    pub async fn complete_job(&self, id: JobId, proof: Vec<u8>) -> anyhow::Result<bool> {
        let publics = self
            .jobs
            .lock()
            .public_inputs(id)
            .ok_or_else(|| anyhow!("job {id} is not open (unknown, or already proven)"))?;
        let chunks = publics.len() as u32;
        // A fast worker may deliver before the key is built (it starts with the first job).
        let deadline = Instant::now() + Duration::from_secs(300);
        let (params, vk) = loop {
            if let Some(ready) = self.verifier.get().cloned() {
                break ready;
            }
            if Instant::now() > deadline {
                return Err(anyhow!("the sequencer's verifying key is not ready"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let candidate = ChunkProof {
            publics,
            bytes: proof,
        };
        let candidate = tokio::task::spawn_blocking(move || {
            verify_chunk(&params, &vk, &candidate).map(|()| candidate)
        })
        .await?
        .map_err(|e| anyhow!("job {id}: the proof does not verify: {e}"))?;
        if !self.jobs.lock().record(id, chunks, candidate.bytes.clone()) {
            return Ok(false);
        }
        let position = self.state.lock().journal.append(&Record::Proof {
            batch: id.batch,
            chunk: id.chunk,
            chunks,
            bytes: candidate.bytes,
        })?;
        self.durable(position).await?;
        Ok(true)
    }

    /// Records a journal entry the pipeline wrote for itself (the rebuild marker).
    pub async fn journal(&self, record: Record) -> anyhow::Result<()> {
        let position = self.state.lock().journal.append(&record)?;
        self.durable(position).await
    }

    /// Compacts the journal in the background if it is due (one compaction at a time).
    pub fn maybe_compact(self: &Arc<Self>) {
        if self.compacting.swap(true, Ordering::AcqRel) {
            return;
        }
        if self.state.lock().compaction_head(&self.settings).is_none() {
            self.compacting.store(false, Ordering::Release);
            return;
        }
        let core = self.clone();
        tokio::task::spawn_blocking(move || {
            match core.compact() {
                Ok(Some(batches)) => tracing::info!(batches, "compacted the journal"),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "journal compaction"),
            }
            core.compacting.store(false, Ordering::Release);
        });
    }

    /// Compacts the journal now, if it is due: rewrites it as a snapshot of the state after
    /// the last executed batch and the records after that batch, while transactions keep
    /// being accepted. Returns the batch the snapshot covers. (Blocking: it reads and writes
    /// the journal; the lock is held only to plan and, at the end, to copy what arrived
    /// meanwhile and swap the files.)
    pub fn compact(&self) -> anyhow::Result<Option<u64>> {
        let (plan, cut, path) = {
            let mut state = self.state.lock();
            let Some(plan) = state.compaction(&self.settings) else {
                return Ok(None);
            };
            let cut = state.journal.cut()?;
            (plan, cut, state.journal.path().to_path_buf())
        };
        let Compaction {
            head,
            accounts,
            dropped_ops,
        } = plan;
        let records = snapshot_records(head, accounts);
        let mut ops_seen = 0;
        let copy = write_compacted(&path, cut, &records, |record| match record {
            Record::Op(_) => {
                ops_seen += 1;
                ops_seen > dropped_ops
            }
            Record::Closed { batch, .. } | Record::Proof { batch, .. } => *batch > head.batches,
            Record::Rebuilt { .. } | Record::Snapshot { .. } | Record::Accounts(_) => false,
        })?;
        let mut state = self.state.lock();
        match state.journal.adopt(copy) {
            Ok(position) => {
                state.journal_first_seq = head.first_seq;
                state.journal_base = head.batches;
                state.compactions += 1;
                drop(state);
                self.mark_synced(position);
                Ok(Some(head.batches))
            }
            Err(e @ JournalError::Reopen { .. }) => {
                // The journal refuses writes from now on; say why to every sender.
                state.broken.get_or_insert(e.to_string());
                Err(e.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `rollup_getAccount`: the account soft-confirmed and at each bridge stage.
    pub fn account_view(&self, index: u32) -> Value {
        let state = self.state.lock();
        let soft = state.ledger.account(index);
        let at = |mark: u64| -> Account {
            let newest = state
                .batches
                .iter()
                .rev()
                .filter(|b| b.number <= mark && b.number > state.marks.executed)
                .find_map(|b| b.diff.get(&index).copied())
                .or_else(|| {
                    (mark >= state.first_batch - 1)
                        .then(|| state.rebuilt_unexecuted.get(&index).copied())
                        .flatten()
                });
            newest.unwrap_or_else(|| {
                state
                    .executed_accounts
                    .get(&index)
                    .copied()
                    .unwrap_or_default()
            })
        };
        json!({
            "index": index,
            "publicKey": soft.public_key.map(|k| B256::from(k.to_bytes())),
            "l1Address": alloy_primitives::Address::from(soft.l1_address.0),
            "soft": Balance::from(soft),
            "committed": Balance::from(at(state.marks.committed)),
            "verified": Balance::from(at(state.marks.verified)),
            "executed": Balance::from(at(state.marks.executed)),
            "uncreditedFees": if index == FEE_ACCOUNT { state.ledger.uncredited_fees() } else { 0 },
        })
    }

    /// Whether L2 account `index` is bound to a key in the soft-confirmed ledger.
    pub fn is_registered(&self, index: u32) -> bool {
        self.state.lock().ledger.account(index).public_key.is_some()
    }

    /// `rollup_getTransaction`: where a transaction stands, or `None` if unknown.
    pub fn tx_view(&self, hash: B256) -> Option<Value> {
        let state = self.state.lock();
        let seq = *state.txs.get(&hash)?;
        let (stage, batch) = state.stage_of(seq);
        let entry = state.op(seq)?;
        Some(json!({
            "hash": hash,
            "seq": seq,
            "status": stage,
            "batch": batch,
            "operation": describe(&entry.op),
        }))
    }

    /// The batch a sequence number is in, and its stage.
    pub fn stage_of(&self, seq: u64) -> (TxStage, Option<u64>) {
        self.state.lock().stage_of(seq)
    }

    /// `rollup_getBatch`.
    pub fn batch_view(&self, number: u64) -> Option<Value> {
        let state = self.state.lock();
        let batch = state.batch(number)?;
        let stage = state.batch_stage(number);
        Some(json!({
            "number": number,
            "status": stage,
            "operations": batch.ops,
            "chunks": batch.chunks,
            "firstSeq": batch.first_seq,
            // Null once the batch's operations are forgotten.
            "transactions": (batch.first_seq..batch.first_seq + u64::from(batch.ops))
                .map(|s| state.op(s).map(|entry| entry.hash))
                .collect::<Option<Vec<_>>>(),
            "lastError": batch.last_error,
            "closedMsAgo": batch.closed_at.elapsed().as_millis() as u64,
        }))
    }

    /// `rollup_status`.
    pub fn status_view(&self) -> Value {
        let state = self.state.lock();
        let (open, leased, handed, again, failures) = {
            let jobs = self.jobs.lock();
            let (open, leased, handed) = jobs.counts(Instant::now());
            (open, leased, handed, jobs.handed_again(), jobs.failures())
        };
        let failing = failures.worst.map(|(job, times, reason)| {
            json!({"job": job.to_string(), "times": times, "reason": reason})
        });
        json!({
            "chainId": self.settings.chain_id,
            "accepted": state.next_seq(),
            "forgotten": state.forgotten,
            "unbatched": state.unbatched.len(),
            "lastClosedBatch": state.first_batch + state.batches.len() as u64 - 1,
            "committed": state.marks.committed,
            "verified": state.marks.verified,
            "decided": state.marks.decided,
            "executed": state.marks.executed,
            "nextRequest": state.next_request,
            "chunkSlots": self.settings.slots,
            "chunkK": self.settings.chunk_k,
            "maxChunks": self.settings.max_chunks,
            "chunksPerProof": self.settings.chunks_per_proof,
            "maxWaitMs": self.settings.max_wait.as_millis() as u64,
            "provingJobs": {"open": open, "leased": leased, "leasesHandedOut": handed,
                "handedAgainAfterExpiry": again, "failureReports": failures.reports,
                "failingMost": failing},
            "journal": {"startsAfterBatch": state.journal_base,
                "compactions": state.compactions},
            "stopped": state.broken,
        })
    }
}

/// Checks queued signatures in batches, as many batches at once as there are cores.
async fn check_signatures(mut queue: mpsc::Receiver<SignatureCheck>) {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let permits = Arc::new(Semaphore::new(cores));
    while let Some(first) = queue.recv().await {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_SIGNATURE_BATCH {
            match queue.try_recv() {
                Ok(check) => batch.push(check),
                Err(_) => break,
            }
        }
        tokio::task::spawn_blocking(move || {
            let (items, verdicts): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
            let all_ok = verify_batch(&items);
            for ((key, message, sig), verdict) in items.iter().zip(verdicts) {
                let ok = all_ok || kaimeng_rollup::schnorr::verify(key, *message, sig);
                let _ = verdict.send(ok);
            }
            drop(permit);
        });
    }
}

impl State {
    fn push_op(&mut self, op: L2Op, now: Instant) -> u64 {
        let seq = self.next_seq();
        let hash = op_hash(&op);
        self.txs.insert(hash, seq);
        self.ops.push_back(OpEntry { hash, op });
        self.unbatched.push_back((seq, now));
        seq
    }

    /// The sequence number the next accepted operation gets.
    fn next_seq(&self) -> u64 {
        self.forgotten + self.ops.len() as u64
    }

    /// Operation `seq`, unless it is forgotten.
    fn op(&self, seq: u64) -> Option<&OpEntry> {
        self.ops
            .get(usize::try_from(seq.checked_sub(self.forgotten)?).ok()?)
    }

    /// Where a compaction would cut now, and how many operation records it would drop, if
    /// one is due ([`compaction_due`]). Cheap: nothing is copied.
    fn compaction_head(&self, settings: &Settings) -> Option<(SnapshotHead, u64)> {
        let batch = self.batch(self.marks.executed)?;
        let (root, queue_hash) = batch.after?;
        let first_seq = batch.first_seq + u64::from(batch.ops);
        let dropped_ops = first_seq - self.journal_first_seq;
        let due = compaction_due(
            dropped_ops,
            self.executed_accounts.len(),
            settings.compact_after_ops,
        );
        due.then_some((
            SnapshotHead {
                batches: batch.number,
                first_seq,
                next_request: batch.next_request_after,
                queue_hash,
                root,
            },
            dropped_ops,
        ))
    }

    /// What a compaction would write now, if one is due.
    fn compaction(&self, settings: &Settings) -> Option<Compaction> {
        let (head, dropped_ops) = self.compaction_head(settings)?;
        Some(Compaction {
            head,
            accounts: self
                .executed_accounts
                .iter()
                .map(|(i, a)| (*i, *a))
                .collect(),
            dropped_ops,
        })
    }

    /// Forgets the oldest operations of executed batches while more than `keep` of them are
    /// held. (Unexecuted ones are never forgotten: they may still have to be proven.)
    fn forget_executed(&mut self, keep: usize) {
        let executed_end = self
            .batch(self.marks.executed)
            .map_or(0, |b| b.first_seq + u64::from(b.ops));
        while executed_end.saturating_sub(self.forgotten) > keep as u64 {
            let Some(entry) = self.ops.pop_front() else {
                return;
            };
            self.txs.remove(&entry.hash);
            self.forgotten += 1;
        }
    }

    /// Closes batch `number` with the `take` oldest unbatched ops; `None` if out of order.
    fn close(&mut self, number: u64, take: usize, now: Instant) -> Option<Vec<L2Op>> {
        if number != self.first_batch + self.batches.len() as u64 || take > self.unbatched.len() {
            return None;
        }
        let first_seq = self.unbatched.front().map_or(self.next_seq(), |(s, _)| *s);
        let forgotten = self.forgotten;
        let ops: Vec<L2Op> = self
            .unbatched
            .drain(..take)
            .map(|(seq, _)| self.ops[(seq - forgotten) as usize].op)
            .collect();
        let requests_before = self
            .batches
            .last()
            .map_or(self.base_request, |b| b.next_request_after);
        let requests = ops
            .iter()
            .filter(|op| matches!(op, L2Op::Priority(_)))
            .count();
        self.batches.push(BatchRecord {
            number,
            first_seq,
            ops: take as u32,
            chunks: 0,
            diff: HashMap::new(),
            last_error: None,
            closed_at: now,
            next_request_after: requests_before + requests as u64,
            after: None,
        });
        Some(ops)
    }

    fn batch(&self, number: u64) -> Option<&BatchRecord> {
        let i = number.checked_sub(self.first_batch)?;
        self.batches.get(i as usize)
    }

    fn batch_mut(&mut self, number: u64) -> Option<&mut BatchRecord> {
        let i = number.checked_sub(self.first_batch)?;
        self.batches.get_mut(i as usize)
    }

    fn batch_stage(&self, number: u64) -> TxStage {
        if number <= self.marks.executed {
            TxStage::Executed
        } else if number <= self.marks.verified {
            TxStage::Verified
        } else if number <= self.marks.committed {
            TxStage::Committed
        } else {
            TxStage::InBatch
        }
    }

    fn stage_of(&self, seq: u64) -> (TxStage, Option<u64>) {
        let i = self
            .batches
            .partition_point(|b| b.first_seq + u64::from(b.ops) <= seq);
        match self.batches.get(i) {
            Some(b) if b.first_seq <= seq => (self.batch_stage(b.number), Some(b.number)),
            _ => (TxStage::Accepted, None),
        }
    }
}

/// The accounts an operation changes.
fn touched(op: &L2Op) -> Vec<u32> {
    match op {
        L2Op::Padding => vec![],
        L2Op::Transfer(t) => vec![t.tx.from, t.tx.to],
        L2Op::Withdraw(w) => vec![w.tx.from],
        L2Op::Priority(PriorityOp::Deposit(d)) => vec![d.to],
        L2Op::Priority(PriorityOp::ForcedExit(f)) => vec![f.account],
    }
}

/// An operation as JSON.
fn describe(op: &L2Op) -> Value {
    match op {
        L2Op::Padding => json!({"type": "padding"}),
        L2Op::Transfer(t) => json!({"type": "transfer", "from": t.tx.from, "to": t.tx.to,
            "amount": t.tx.amount, "fee": t.tx.fee, "nonce": t.tx.nonce}),
        L2Op::Withdraw(w) => json!({"type": "withdraw", "from": w.tx.from,
            "amount": w.tx.amount, "fee": w.tx.fee, "nonce": w.tx.nonce}),
        L2Op::Priority(PriorityOp::Deposit(d)) => json!({"type": "deposit", "to": d.to,
            "amount": d.amount, "l1Address": alloy_primitives::Address::from(d.l1_address.0)}),
        L2Op::Priority(PriorityOp::ForcedExit(f)) => json!({"type": "forcedExit",
            "account": f.account, "l1Address": alloy_primitives::Address::from(f.l1_address.0)}),
    }
}

/// A refusal as the sender reads it.
fn reason(e: &kaimeng_rollup::StfError) -> String {
    use kaimeng_rollup::StfError::*;
    match e {
        NotRegistered {
            slot: usize::MAX, ..
        } => "the sequencer's fee account (L2 account 0) is not registered yet: its deposit is \
              still on its way; try again shortly"
            .to_string(),
        NotRegistered { account, .. } => format!("L2 account {account} does not exist"),
        WrongNonce {
            account,
            expected,
            got,
            ..
        } => format!("wrong nonce {got}: account {account} is at nonce {expected}"),
        InsufficientBalance {
            account,
            balance,
            needed,
            ..
        } => format!(
            "insufficient balance: account {account} has {balance} units, needs {needed} \
             (amount + fee)"
        ),
        AmountOutOfRange { amount, .. } => {
            format!("amount {amount} out of range: must be below 2^40 units")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use kaimeng_rollup::account::L1Address;
    use kaimeng_rollup::schnorr::SigningKey;
    use kaimeng_rollup::tx::{DepositOp, PriorityOp, Transfer};

    use super::*;

    const CHAIN: u64 = 7;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_uniform_bytes(&[seed; 64])
    }

    fn deposit_op(to: u32, amount: u64) -> L2Op {
        L2Op::Priority(PriorityOp::Deposit(DepositOp {
            to,
            l1_address: L1Address([to as u8; 20]),
            public_key: key(to as u8).public_key(),
            amount,
        }))
    }

    fn deposit(to: u32, amount: u64) -> Record {
        Record::Op(deposit_op(to, amount))
    }

    fn settings() -> Settings {
        Settings {
            chain_id: CHAIN,
            slots: 2,
            max_chunks: 1,
            chunks_per_proof: 1,
            decide_every: 1,
            decide_wait: Duration::from_secs(1),
            decide_step_gas: 12_000_000,
            max_wait: Duration::from_secs(60),
            min_fee: 1,
            chunk_k: 13,
            keep_executed: 2,
            compact_after_ops: 1_000_000,
        }
    }

    /// Three deposit records: the fee account (1 unit), accounts 1 and 2 (100 each).
    fn three_deposits() -> Vec<Record> {
        vec![deposit(0, 1), deposit(1, 100), deposit(2, 100)]
    }

    /// A core over a fresh journal whose records are `records` (tasks not started).
    fn open_core(dir: &tempfile::TempDir, records: Vec<Record>) -> Arc<Core> {
        let (journal, _) = Journal::open(&dir.path().join("journal")).unwrap();
        let (core, _) = Core::open(
            settings(),
            journal,
            records,
            Base::empty(&L2State::new()),
            Duration::from_secs(60),
        )
        .unwrap();
        core
    }

    /// Account 1's signed transfer of `amount` to account 2, fee 1.
    fn transfer(amount: u64, nonce: u32) -> L2Op {
        L2Op::Transfer(
            Transfer {
                from: 1,
                to: 2,
                amount,
                fee: 1,
                nonce,
            }
            .sign(&key(1), CHAIN),
        )
    }

    /// A sequencer rebuilt through batch 2 from a bridge that has executed only batch 1:
    /// the executed view is batch 1's until the bridge executes batch 2.
    #[test]
    fn after_a_rebuild_the_executed_view_follows_the_bridge_not_the_rebuilt_state() {
        let config = kaimeng_rollup::stf::ChunkConfig {
            chain_id: CHAIN,
            fee_account: FEE_ACCOUNT,
            slots: 2,
        };
        let mut state = L2State::new();
        state
            .apply_batch(config, &[deposit_op(0, 1), deposit_op(1, 100)])
            .unwrap();
        let after_one = state.clone();
        state.apply_batch(config, &[deposit_op(2, 50)]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = Journal::open(&dir.path().join("journal")).unwrap();
        let (core, _) = Core::open(
            settings(),
            journal,
            Vec::new(),
            Base {
                state: &state,
                batches: 2,
                next_request: 3,
                first_seq: 0,
            },
            Duration::from_secs(60),
        )
        .unwrap();
        core.rebuilt_executed_through(1, &after_one);
        let view = |index: u32, stage: &str| core.account_view(index)[stage]["balance"].clone();
        assert_eq!(core.marks().executed, 1);
        assert_eq!(
            (view(2, "verified"), view(2, "executed")),
            (50.into(), 0.into())
        );
        assert_eq!(
            (view(1, "verified"), view(1, "executed")),
            (100.into(), 100.into())
        );
        core.set_marks(Marks {
            committed: 2,
            verified: 2,
            decided: 2,
            executed: 2,
        });
        assert_eq!(
            (view(2, "soft"), view(2, "executed")),
            (50.into(), 50.into())
        );
        assert_eq!(view(1, "executed"), 100);
    }

    /// Executed operations beyond the newest `keep_executed` (2 here) are forgotten: their
    /// hashes are unknown and their batches list no transactions, while counts, sequence
    /// numbers and unexecuted operations are untouched.
    #[tokio::test]
    async fn executed_operations_beyond_the_newest_kept_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let records = three_deposits();
        let hashes: Vec<B256> = records
            .iter()
            .map(|r| match r {
                Record::Op(op) => op_hash(op),
                _ => unreachable!(),
            })
            .collect();
        let core = open_core(&dir, records);
        core.start_tasks();
        let mut transfers = Vec::new();
        for nonce in 0..3 {
            transfers.push(core.submit(transfer(1, nonce)).await.unwrap().hash);
        }
        // Batches of two: (0, 1), (2, 3), (4, 5).
        for number in 1..=3 {
            let (closed, _) = core.close_due_batch(Instant::now()).await.unwrap().unwrap();
            assert_eq!(closed, number);
        }
        let marks = |executed| Marks {
            committed: 3,
            verified: 3,
            decided: 3,
            executed,
        };
        core.set_marks(marks(2));
        let status = core.status_view();
        assert_eq!(
            (status["accepted"].clone(), status["forgotten"].clone()),
            (6.into(), 2.into())
        );
        assert!(core.tx_view(hashes[0]).is_none() && core.tx_view(hashes[1]).is_none());
        assert_eq!(core.tx_view(hashes[2]).unwrap()["status"], "executed");
        assert_eq!(core.tx_view(transfers[1]).unwrap()["status"], "verified");
        assert!(core.batch_view(1).unwrap()["transactions"].is_null());
        assert_eq!(
            core.batch_view(2).unwrap()["transactions"],
            json!([hashes[2], transfers[0]])
        );

        core.set_marks(marks(3));
        assert_eq!(core.status_view()["forgotten"], 4);
        assert!(core.tx_view(transfers[0]).is_none());
        assert_eq!(core.tx_view(transfers[2]).unwrap()["status"], "executed");
        assert_eq!(core.submit(transfer(1, 3)).await.unwrap().seq, 6);
        assert_eq!(core.account_view(1)["soft"]["nonce"], 4);
    }

    /// A compaction while the core runs: the journal becomes the snapshot of the executed
    /// state and the records after it (proofs of unexecuted batches, operations, closings),
    /// appending continues on it, and a core reopened on it holds the same state, numbering
    /// and unfinished batch.
    #[tokio::test]
    async fn a_compacted_journal_reopens_to_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let (mut journal, _) = Journal::open(&path).unwrap();
        for record in three_deposits() {
            journal.append(&record).unwrap();
        }
        let settings = Settings {
            compact_after_ops: 1,
            ..settings()
        };
        let (core, _) = Core::open(
            settings,
            journal,
            three_deposits(),
            Base::empty(&L2State::new()),
            Duration::from_secs(60),
        )
        .unwrap();
        core.start_tasks();
        for nonce in 0..3 {
            core.submit(transfer(1, nonce)).await.unwrap();
        }
        let config = kaimeng_rollup::stf::ChunkConfig {
            chain_id: CHAIN,
            fee_account: FEE_ACCOUNT,
            slots: 2,
        };
        // Batches of two: (0, 1), (2, 3), (4, 5), applied as the pipeline does.
        let mut tree = L2State::new();
        let mut after_two = None;
        for number in 1..=3 {
            let (closed, ops) = core.close_due_batch(Instant::now()).await.unwrap().unwrap();
            assert_eq!(closed, number);
            let outcomes = tree.apply_batch(config, &ops).unwrap();
            core.batch_applied(number, &outcomes, &tree);
            if number == 2 {
                after_two = Some(tree.clone());
            }
        }
        let after_two = after_two.unwrap();
        for batch in [1, 3] {
            core.journal(Record::Proof {
                batch,
                chunk: 0,
                chunks: 1,
                bytes: vec![batch as u8; 10],
            })
            .await
            .unwrap();
        }
        assert_eq!(core.compact().unwrap(), None, "nothing is executed yet");
        core.set_marks(Marks {
            committed: 3,
            verified: 3,
            decided: 3,
            executed: 2,
        });
        assert_eq!(core.compact().unwrap(), Some(2));
        let late = core.submit(transfer(1, 3)).await.unwrap();
        assert_eq!(late.seq, 6, "numbering goes on");

        // The file as a restart would read it (the running core keeps its lock).
        let copy = dir.path().join("copy");
        std::fs::copy(&path, &copy).unwrap();
        let (journal, recovered) = Journal::open(&copy).unwrap();
        let mut records = recovered.records;
        let (head, restored, spans) = kaimeng_rollup::snapshot::restore(&records)
            .unwrap()
            .unwrap();
        assert_eq!((head.batches, head.first_seq, head.next_request), (2, 4, 3));
        assert_eq!(restored.root(), after_two.root());
        assert_eq!(restored.queue_hash(), after_two.queue_hash());
        records.drain(..spans);
        let kinds: Vec<String> = records
            .iter()
            .map(|r| match r {
                Record::Op(_) => "op".to_string(),
                Record::Closed { batch, .. } => format!("closed {batch}"),
                Record::Proof { batch, .. } => format!("proof {batch}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, ["op", "op", "closed 3", "proof 3", "op"]);

        let (reopened, replayed) = Core::open(
            settings,
            journal,
            records,
            Base {
                state: &restored,
                batches: head.batches,
                next_request: head.next_request,
                first_seq: head.first_seq,
            },
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(replayed.proofs.len(), 1);
        // The pipeline replays the batches after the snapshot (as `start` does).
        let live_root = tree.root();
        let mut tree = restored;
        let [(number, ops)] = &replayed.batch_ops[..] else {
            panic!("one batch after the snapshot")
        };
        assert_eq!(*number, 3);
        let outcomes = tree.apply_batch(config, ops).unwrap();
        reopened.batch_applied(3, &outcomes, &tree);
        assert_eq!(tree.root(), live_root);
        for index in 0..3 {
            assert_eq!(
                reopened.account_view(index)["soft"],
                core.account_view(index)["soft"]
            );
        }
        assert_eq!(reopened.status_view()["accepted"], 7);
        assert_eq!(reopened.tx_view(late.hash).unwrap()["status"], "accepted");
        assert_eq!(reopened.last_closed(), 3);
        assert!(
            reopened.batch_view(2).is_none(),
            "batches in the snapshot are not listed"
        );

        // Once batch 3 is executed, the running core compacts again.
        core.set_marks(Marks {
            committed: 3,
            verified: 3,
            decided: 3,
            executed: 3,
        });
        assert_eq!(core.compact().unwrap(), Some(3));
        assert_eq!(core.status_view()["journal"]["compactions"], 2);
        assert_eq!(core.compact().unwrap(), None, "nothing new is executed");
    }

    #[test]
    fn a_compaction_needs_enough_operations_for_its_setting_and_its_accounts() {
        assert!(compaction_due(20_000, 1_000, 20_000));
        assert!(!compaction_due(19_999, 1_000, 20_000), "below the setting");
        assert!(compaction_due(62_500, 1_000_000, 20_000));
        assert!(
            !compaction_due(62_499, 1_000_000, 20_000),
            "too few operations to rewrite a million accounts for"
        );
        assert!(!compaction_due(0, 0, 1));
    }

    /// A full signature queue refuses a transaction as busy, without applying or journaling
    /// it; once the queue drains the same transaction is accepted.
    #[tokio::test]
    async fn a_full_signature_queue_refuses_as_busy_and_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let core = open_core(&dir, three_deposits());
        // Nothing checks signatures yet: fill the queue.
        let mut verdicts = Vec::new();
        let filler = Transfer {
            from: 1,
            to: 2,
            amount: 1,
            fee: 1,
            nonce: 9,
        }
        .sign(&key(1), CHAIN);
        for _ in 0..MAX_WAITING_SIGNATURES {
            let (verdict, answer) = oneshot::channel();
            let message = filler.tx.message(CHAIN);
            core.signatures
                .try_send(((key(1).public_key(), message, filler.signature), verdict))
                .unwrap();
            verdicts.push(answer);
        }
        let sent = transfer(10, 0);
        match core.submit(sent).await {
            Err(SubmitError::Busy(reason)) => {
                assert!(
                    reason.contains("busy") && reason.contains("retry"),
                    "{reason}"
                )
            }
            other => panic!("expected busy, got {other:?}"),
        }
        assert_eq!(core.account_view(1)["soft"]["nonce"], 0);
        assert_eq!(core.status_view()["accepted"], 3, "nothing was added");

        core.start_tasks();
        for answer in verdicts {
            assert!(answer.await.unwrap(), "the queued checks are answered");
        }
        let accepted = core.submit(sent).await.unwrap();
        assert_eq!(accepted.seq, 3);
        assert_eq!(core.account_view(1)["soft"]["balance"], 89);
    }
}
