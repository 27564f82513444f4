//! Writing the index: one atomic batch per final block, with the shard's indexed height in
//! the same batch, so that after a crash the index resumes exactly where it stopped. Blocks are
//! read back from the chain's store by number; the chain's event channel only wakes the
//! indexer and may lose events without losing entries.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, U256};
use alloy_rpc_types_trace::geth::{CallConfig, CallFrame, GethTrace};
use kaimeng_shards::ShardChain;
use kaimeng_shards::block::StoredBlock;
use kaimeng_shards::trace::Tracer;

use super::extract::{self, BlockEntries, TokenKind};
use super::schema::{self as s, key};
use super::{Index, IndexError, TokenInfo, token_meta};

/// What indexing a shard records besides the block itself.
#[derive(Clone, Debug)]
pub struct IndexOptions {
    /// Trace transactions that run code, to index the addresses their inner calls reach.
    pub internal_calls: bool,
    /// Logs of this contract are kept whole (the rollup bridge on shard 0).
    pub keep_logs_of: Option<Address>,
}

impl Index {
    /// Indexes up to `limit` final blocks of `chain` not yet indexed, oldest first. Returns the
    /// number of blocks written.
    pub fn catch_up(
        &self,
        chain: &ShardChain,
        options: &IndexOptions,
        limit: u64,
    ) -> Result<u64, IndexError> {
        let shard = chain.config().shard;
        let head = chain.head().number();
        let start = self.progress(shard)?.map_or(0, |n| n + 1);
        let end = head.min(start.saturating_add(limit).saturating_sub(1));
        for next in start..=end {
            match chain.block(next)? {
                Some(block) => self.index_block(chain, &block, options)?,
                // Below a state snapshot's base the node holds no blocks: nothing to index.
                None => self.set_progress(shard, next)?,
            }
        }
        Ok(if end >= start { end - start + 1 } else { 0 })
    }

    fn set_progress(&self, shard: u32, number: u64) -> Result<(), IndexError> {
        let mut batch = self.store.batch();
        batch.put(s::PROGRESS, shard.to_be_bytes(), number.to_be_bytes())?;
        self.store.write(batch)?;
        Ok(())
    }

    /// Writes `block`'s entries and moves the shard's progress to it, in one batch.
    pub fn index_block(
        &self,
        chain: &ShardChain,
        block: &StoredBlock,
        options: &IndexOptions,
    ) -> Result<(), IndexError> {
        // Inner calls come later, from `trace_inner_calls`, when the node is not busy.
        let entries = extract::extract(block, &[], options.keep_logs_of);
        let shard = chain.config().shard;
        let number = block.number();
        let mut batch = self.store.batch();
        let mut counts: BTreeMap<Address, u64> = BTreeMap::new();
        for (&(address, tx), &roles) in &entries.touches {
            batch.put(
                s::ADDRESS_TXS,
                key(shard, &[address.as_slice(), &s::position(number, tx)]),
                [roles],
            )?;
            *counts.entry(address).or_default() += 1;
        }
        for (address, added) in counts {
            let k = key(shard, &[address.as_slice()]);
            let before = self
                .store
                .get(s::ADDRESS_COUNTS, &k)?
                .map_or(0, |v| be_u64(&v));
            batch.put(s::ADDRESS_COUNTS, k, (before + added).to_be_bytes())?;
        }
        for (i, (tx, receipt)) in block.txs.iter().zip(&block.receipts).enumerate() {
            use alloy_consensus::Transaction;
            let summary = super::TxSummary {
                hash: tx.hash,
                from: tx.sender,
                to: tx.envelope.to(),
                value: tx.envelope.value(),
                ok: receipt.envelope.status(),
            };
            batch.put(
                s::TX_SUMMARIES,
                key(shard, &[&s::position(number, i as u32)]),
                summary.encode(),
            )?;
        }
        for &(sender, nonce, tx) in &entries.nonces {
            batch.put(
                s::SENDER_NONCES,
                key(shard, &[sender.as_slice(), &nonce.to_be_bytes()]),
                s::position(number, tx),
            )?;
        }
        for &(contract, creator, tx) in &entries.creations {
            batch.put(
                s::CREATORS,
                key(shard, &[contract.as_slice()]),
                [creator.as_slice(), &s::position(number, tx)].concat(),
            )?;
        }
        self.write_token_entries(chain, shard, number, &entries, &mut batch)?;
        for log in &entries.kept_logs {
            batch.put(
                s::BRIDGE_LOGS,
                key(shard, &[&s::log_position(number, log.tx, log.log)]),
                serde_json::to_vec(log).expect("a log serializes"),
            )?;
        }
        if !block.payouts.is_empty() {
            let paid: Vec<(Address, String)> = block
                .payouts
                .iter()
                .map(|(to, amount)| (*to, amount.to_string()))
                .collect();
            batch.put(
                s::FEE_SHARES,
                key(shard, &[&number.to_be_bytes()]),
                serde_json::to_vec(&paid).expect("payouts serialize"),
            )?;
        }
        batch.put(s::PROGRESS, shard.to_be_bytes(), number.to_be_bytes())?;
        self.store.write(batch)?;
        Ok(())
    }

    /// Token transfers by token and by holder, balances, holder counts and each token's
    /// metadata (read once, when the token is first seen).
    fn write_token_entries(
        &self,
        chain: &ShardChain,
        shard: u32,
        number: u64,
        entries: &BlockEntries,
        batch: &mut kaimeng_l1::storage::WriteBatch<'_>,
    ) -> Result<(), IndexError> {
        let mut tokens: HashMap<Address, TokenInfo> = HashMap::new();
        let mut balances: HashMap<(Address, Address), U256> = HashMap::new();
        for t in &entries.transfers {
            if !tokens.contains_key(&t.token) {
                let info = match self.token(shard, &t.token)? {
                    Some(info) => info,
                    None => token_meta(chain, t.token, t.kind, number),
                };
                tokens.insert(t.token, info);
            }
            let position = s::log_position(number, t.tx, t.log);
            let mut value = Vec::with_capacity(73);
            value.push(t.kind as u8);
            value.extend_from_slice(t.from.as_slice());
            value.extend_from_slice(t.to.as_slice());
            value.extend_from_slice(&t.amount.to_be_bytes::<32>());
            batch.put(
                s::TOKEN_TRANSFERS,
                key(shard, &[t.token.as_slice(), &position]),
                value,
            )?;
            for holder in [t.from, t.to] {
                if holder != Address::ZERO {
                    batch.put(
                        s::HOLDER_TRANSFERS,
                        key(shard, &[holder.as_slice(), &position]),
                        t.token.as_slice(),
                    )?;
                }
            }
            let moved = match t.kind {
                TokenKind::Erc20 => t.amount,
                TokenKind::Erc721 => U256::from(1),
            };
            let info = tokens.get_mut(&t.token).expect("inserted above");
            info.transfers += 1;
            for (holder, credit) in [(t.from, false), (t.to, true)] {
                if holder == Address::ZERO {
                    // Minted or burnt: the supply the index has seen moves instead.
                    info.minted = if credit {
                        (info
                            .minted
                            .parse::<U256>()
                            .unwrap_or_default()
                            .saturating_sub(moved))
                        .to_string()
                    } else {
                        (info
                            .minted
                            .parse::<U256>()
                            .unwrap_or_default()
                            .saturating_add(moved))
                        .to_string()
                    };
                    continue;
                }
                let slot = (t.token, holder);
                let before = match balances.get(&slot) {
                    Some(b) => *b,
                    None => self.balance(shard, &t.token, &holder)?,
                };
                let after = if credit {
                    before.saturating_add(moved)
                } else {
                    before.saturating_sub(moved)
                };
                if before.is_zero() && !after.is_zero() {
                    info.holders += 1;
                } else if !before.is_zero() && after.is_zero() {
                    info.holders = info.holders.saturating_sub(1);
                }
                balances.insert(slot, after);
            }
        }
        for ((token, holder), balance) in balances {
            let k = key(shard, &[token.as_slice(), holder.as_slice()]);
            if balance.is_zero() {
                batch.delete(s::BALANCES, k)?;
            } else {
                batch.put(s::BALANCES, k, balance.to_be_bytes::<32>())?;
            }
            batch.put(
                s::HOLDINGS,
                key(shard, &[holder.as_slice(), token.as_slice()]),
                [],
            )?;
        }
        for (token, info) in tokens {
            batch.put(
                s::TOKENS,
                key(shard, &[token.as_slice()]),
                serde_json::to_vec(&info).expect("token info serializes"),
            )?;
        }
        Ok(())
    }
}

impl Index {
    /// The last block of `shard` whose inner calls are indexed.
    pub fn inner_progress(&self, shard: u32) -> Result<Option<u64>, IndexError> {
        Ok(self
            .store
            .get(s::PROGRESS, inner_progress_key(shard))?
            .map(|v| be_u64(&v)))
    }

    /// Indexes the inner calls of up to `limit` blocks that the main index already holds:
    /// replays those with transactions that may run code under the call tracer and adds the
    /// addresses their inner calls reached (as [`extract::roles::INTERNAL`]). Returns the number
    /// of blocks done. Kept apart from [`Index::index_block`] because a replay costs as much
    /// as executing the block: it runs when the node has nothing pending (ADR 0108).
    pub fn trace_inner_calls(&self, chain: &ShardChain, limit: u64) -> Result<u64, IndexError> {
        let shard = chain.config().shard;
        let Some(indexed) = self.progress(shard)? else {
            return Ok(0);
        };
        let start = self.inner_progress(shard)?.map_or(0, |n| n + 1);
        let end = indexed.min(start.saturating_add(limit).saturating_sub(1));
        for number in start..=end {
            let mut batch = self.store.batch();
            if let Some(block) = chain.block(number)? {
                let mut added: BTreeMap<Address, u64> = BTreeMap::new();
                for (tx, addresses) in inner_call_addresses(chain, &block).iter().enumerate() {
                    let mut seen = std::collections::BTreeSet::new();
                    for address in addresses {
                        if !seen.insert(*address) {
                            continue;
                        }
                        let k = key(
                            shard,
                            &[address.as_slice(), &s::position(number, tx as u32)],
                        );
                        match self.store.get(s::ADDRESS_TXS, &k)? {
                            Some(roles) => {
                                let bits = roles.first().copied().unwrap_or(0);
                                batch.put(s::ADDRESS_TXS, k, [bits | extract::roles::INTERNAL])?;
                            }
                            None => {
                                batch.put(s::ADDRESS_TXS, k, [extract::roles::INTERNAL])?;
                                *added.entry(*address).or_default() += 1;
                            }
                        }
                    }
                }
                for (address, more) in added {
                    let k = key(shard, &[address.as_slice()]);
                    let before = self
                        .store
                        .get(s::ADDRESS_COUNTS, &k)?
                        .map_or(0, |v| be_u64(&v));
                    batch.put(s::ADDRESS_COUNTS, k, (before + more).to_be_bytes())?;
                }
            }
            batch.put(s::PROGRESS, inner_progress_key(shard), number.to_be_bytes())?;
            self.store.write(batch)?;
        }
        Ok(if end >= start { end - start + 1 } else { 0 })
    }
}

fn inner_progress_key(shard: u32) -> Vec<u8> {
    key(shard, &[b"inner"])
}

/// For each transaction of `block`, the addresses its inner calls and creations reached
/// (empty for transactions that ran no code; all empty if the replay fails, which is logged).
fn inner_call_addresses(chain: &ShardChain, block: &StoredBlock) -> Vec<Vec<Address>> {
    if !(0..block.txs.len()).any(|i| extract::may_run_code(block, i)) {
        return Vec::new();
    }
    let tracer = Tracer::Call(CallConfig::default());
    match chain.trace_block(block.number(), &tracer) {
        Ok(traces) => traces
            .into_iter()
            .map(|t| match t.trace {
                GethTrace::CallTracer(frame) => {
                    let mut out = Vec::new();
                    for inner in &frame.calls {
                        collect_frame(inner, &mut out);
                    }
                    out
                }
                _ => Vec::new(),
            })
            .collect(),
        Err(error) => {
            tracing::warn!(number = block.number(), %error, "explorer index: inner calls not traced");
            Vec::new()
        }
    }
}

fn collect_frame(frame: &CallFrame, out: &mut Vec<Address>) {
    out.push(frame.from);
    if let Some(to) = frame.to {
        out.push(to);
    }
    for inner in &frame.calls {
        collect_frame(inner, out);
    }
}

pub(crate) fn be_u64(bytes: &[u8]) -> u64 {
    bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_be_bytes)
}

/// Blocks indexed between two looks at the stop switch.
const BLOCKS_PER_STEP: u64 = 256;
/// Blocks whose inner calls are traced between two looks at the pool.
const INNER_CALL_BLOCKS_PER_STEP: u64 = 16;

/// Keeps the index of `chain` up to date until `stop` changes (ADR 0108). The work runs on a
/// thread of its own at the lowest CPU priority, so that it takes only what block production
/// and the RPC leave: under a sustained full load the index falls behind and catches up when
/// the load eases, and finality is not slowed. The thread indexes whenever the chain reports an
/// new block (and at least once a second): first the blocks not yet indexed (a backfill on first
/// start, with its progress logged), then, while the pool is empty, the inner calls.
pub async fn run(
    index: Arc<Index>,
    chain: Arc<ShardChain>,
    options: IndexOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let shard = chain.config().shard;
    let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
    let stopped = Arc::new(AtomicBool::new(false));
    let worker = {
        let (chain, stopped) = (chain.clone(), stopped.clone());
        std::thread::Builder::new()
            .name(format!("explorer-index-{shard}"))
            .spawn(move || {
                lowest_priority();
                let mut logged = Instant::now();
                while !stopped.load(Ordering::Relaxed) {
                    match step(&index, &chain, &options) {
                        Ok(true) => {
                            let indexed = index.progress(shard).ok().flatten().unwrap_or(0);
                            let behind = chain.head().number().saturating_sub(indexed);
                            if behind > 1_000 && logged.elapsed() > Duration::from_secs(2) {
                                tracing::info!(shard, indexed, behind, "explorer index: catching up");
                                logged = Instant::now();
                            }
                            continue;
                        }
                        Ok(false) => {}
                        Err(error) => {
                            tracing::error!(shard, %error, "explorer index: stopped; restart the node to resume");
                            return;
                        }
                    }
                    let _ = woken.recv_timeout(Duration::from_secs(1));
                }
            })
    };
    let worker = match worker {
        Ok(worker) => worker,
        Err(error) => {
            tracing::error!(shard, %error, "explorer index: cannot start its thread");
            return;
        }
    };
    let mut events = chain.subscribe();
    loop {
        tokio::select! {
            received = events.recv() => match received {
                Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    let _ = stop.changed().await;
                    break;
                }
                // Pooled transactions do not wake it (thousands a second under load).
                Ok(kaimeng_shards::events::ChainEvent::PendingTx(_)) => {}
                _ => {
                    let _ = wake.try_send(());
                }
            },
            _ = stop.changed() => break,
        }
    }
    stopped.store(true, Ordering::Relaxed);
    drop(wake);
    let _ = tokio::task::spawn_blocking(move || worker.join()).await;
}

/// One step of the indexer: some blocks, or else some blocks' inner calls while the pool is
/// empty. Returns whether more work is waiting.
fn step(index: &Index, chain: &ShardChain, options: &IndexOptions) -> Result<bool, IndexError> {
    if index.catch_up(chain, options, BLOCKS_PER_STEP)? > 0 {
        return Ok(true);
    }
    if options.internal_calls && chain.pool().len() == 0 {
        return Ok(index.trace_inner_calls(chain, INNER_CALL_BLOCKS_PER_STEP)? > 0);
    }
    Ok(false)
}

/// Moves the calling thread to the lowest CPU priority (nice 19; on Linux a thread's own).
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take no pointers; a failure only leaves the priority.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, 19) } != 0 {
            tracing::debug!("explorer index: could not lower the thread's priority");
        }
    }
}
