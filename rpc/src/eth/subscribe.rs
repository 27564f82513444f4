//! `eth_subscribe` streams (`newHeads`, `logs`, `newPendingTransactions`) and the bound on what a
//! client that does not read its notifications can make the node hold.
//!
//! Notifications go into their connection's outgoing buffer: jsonrpsee's per-connection channel
//! of `message_buffer_capacity` messages, emptied by one task that writes to the socket. When the
//! client stops reading, the socket stops taking bytes and the channel fills. A notification may
//! wait for room (a free slot, and room under [`MAX_QUEUED_BYTES`] for the bytes of the
//! connection's notifications still waiting) for at most [`SLOW_SUBSCRIBER_GRACE`], as geth waits
//! at most that long for a write. Past it the subscription is closed: a warning names it in the
//! log, jsonrpsee queues an error notification for it behind what the client has not read, and
//! its events are no longer turned into messages. A client that reads, however slowly, keeps its
//! subscription; it only ever has the bounded amount waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Weak};
use std::time::Duration;

use alloy_rpc_types_eth::Filter;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::{
    ConnectionId, PendingSubscriptionAcceptError, PendingSubscriptionSink, SubscriptionMessage,
    SubscriptionSink, TrySendError,
};
use kaimeng_shards::{ChainEvent, ChainEvents, ShardChain, logs};
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::value::RawValue;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::convert;
use super::filters::check_filter_size;
use crate::error::invalid_params;

/// Most bytes of notifications one connection's subscriptions may have waiting to be written,
/// besides the one message the connection's writer may be holding. A single notification larger
/// than this (a log with megabytes of data) still goes out when nothing else waits.
pub const MAX_QUEUED_BYTES: u64 = 4 * 1024 * 1024;
/// How long a notification may wait for room before its subscription is closed.
pub const SLOW_SUBSCRIBER_GRACE: Duration = Duration::from_secs(10);
/// How often a waiting notification looks for room (jsonrpsee signals free slots, not bytes).
const ROOM_POLL: Duration = Duration::from_millis(20);
/// The JSON-RPC envelope jsonrpsee wraps around a notification's result: `{"jsonrpc":"2.0",
/// "method":"eth_subscription","params":{"subscription":"0x" + 32 hex digits,"result":…}}`.
const ENVELOPE_BYTES: u64 = 128;

#[derive(Clone, Copy, Debug)]
struct Bounds {
    max_queued_bytes: u64,
    grace: Duration,
}

const BOUNDS: Bounds = Bounds {
    max_queued_bytes: MAX_QUEUED_BYTES,
    grace: SLOW_SUBSCRIBER_GRACE,
};

enum Kind {
    NewHeads,
    Logs(Box<Filter>),
    PendingTxs,
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::NewHeads => "newHeads",
            Kind::Logs(_) => "logs",
            Kind::PendingTxs => "newPendingTransactions",
        }
    }
}

fn parse(kind: &str, params: Option<serde_json::Value>) -> Result<Kind, String> {
    match kind {
        "newHeads" => Ok(Kind::NewHeads),
        "newPendingTransactions" => Ok(Kind::PendingTxs),
        "logs" => {
            let filter = match params {
                None => Filter::default(),
                Some(value) => serde_json::from_value(value)
                    .map_err(|e| format!("invalid logs filter: {e}"))?,
            };
            check_filter_size(&filter)?;
            Ok(Kind::Logs(Box::new(filter)))
        }
        other => Err(format!(
            "unsupported subscription {other:?}: expected \"newHeads\", \"logs\" or \"newPendingTransactions\""
        )),
    }
}

fn message<T: Serialize>(value: &T) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(value).ok()
}

/// The notifications `event` makes for a subscription of `kind` (none when it does not concern it).
fn messages(kind: &Kind, event: &ChainEvent) -> Vec<Box<RawValue>> {
    match (kind, event) {
        (Kind::NewHeads, ChainEvent::NewBlock(block)) => {
            message(&convert::header(&block.header, 0))
                .into_iter()
                .collect()
        }
        (Kind::Logs(filter), ChainEvent::NewBlock(block)) => logs::filter_block(filter, block)
            .iter()
            .filter_map(message)
            .collect(),
        (Kind::PendingTxs, ChainEvent::PendingTx(hash)) => message(hash).into_iter().collect(),
        _ => Vec::new(),
    }
}

pub async fn subscribe(
    chain: Arc<ShardChain>,
    pending: PendingSubscriptionSink,
    kind: String,
    params: Option<serde_json::Value>,
) -> SubscriptionResult {
    let kind = match parse(&kind, params) {
        Ok(kind) => kind,
        Err(reason) => {
            pending.reject(invalid_params(reason)).await;
            return Ok(());
        }
    };
    // Connection ids are numbered per server; the chain tells this shard's server apart.
    let connection = (Arc::as_ptr(&chain) as usize, pending.connection_id());
    let events = chain.subscribe();
    match stream(pending, &kind, events, connection, BOUNDS).await? {
        Ended::ClientGone | Ended::ChainStopped => Ok(()),
        Ended::TooSlow(slow) => Err(slow.to_string().into()),
    }
}

/// Why a subscription stopped.
#[derive(Debug)]
enum Ended {
    /// The client unsubscribed or its connection closed.
    ClientGone,
    /// The chain's event stream ended (the node is stopping).
    ChainStopped,
    /// A notification found no room within the grace.
    TooSlow(TooSlow),
}

/// The state of a connection whose subscription was closed for not reading.
#[derive(Debug, Clone, Copy)]
struct TooSlow {
    queued_messages: usize,
    max_messages: usize,
    unwritten_bytes: u64,
    max_bytes: u64,
    grace: Duration,
}

impl std::fmt::Display for TooSlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "subscription closed: the client left {} of {} messages and up to {} bytes (limit {}) \
             unread for {:?}",
            self.queued_messages,
            self.max_messages,
            self.unwritten_bytes,
            self.max_bytes,
            self.grace
        )
    }
}

/// Accepts the subscription and turns `events` into its notifications until the client goes,
/// the chain stops, or the client falls too far behind.
async fn stream(
    pending: PendingSubscriptionSink,
    kind: &Kind,
    mut events: ChainEvents,
    connection: LedgerKey,
    bounds: Bounds,
) -> Result<Ended, PendingSubscriptionAcceptError> {
    let ledger = ConnectionLedger::of(connection);
    let mut sink = pending.accept().await?;
    loop {
        let event = tokio::select! {
            _ = sink.closed() => return Ok(Ended::ClientGone),
            event = events.recv() => event,
        };
        let event = match event {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "subscriber fell behind; events were dropped");
                continue;
            }
            Err(RecvError::Closed) => return Ok(Ended::ChainStopped),
        };
        for json in messages(kind, &event) {
            if let Err(ended) = deliver(&mut sink, &ledger, json, bounds).await {
                if let Ended::TooSlow(slow) = &ended {
                    tracing::warn!(
                        subscription = ?sink.subscription_id(),
                        connection = sink.connection_id().0,
                        kind = kind.name(),
                        queued_messages = slow.queued_messages,
                        unwritten_bytes = slow.unwritten_bytes,
                        "closing the subscription of a client that does not read its notifications"
                    );
                }
                return Ok(ended);
            }
        }
    }
}

/// Puts one notification into the connection's buffer once there is room for it, waiting at
/// most `bounds.grace`.
async fn deliver(
    sink: &mut SubscriptionSink,
    ledger: &ConnectionLedger,
    json: Box<RawValue>,
    bounds: Bounds,
) -> Result<(), Ended> {
    let bytes = json.get().len() as u64 + ENVELOPE_BYTES;
    let mut msg = SubscriptionMessage::from(json);
    let deadline = Instant::now() + bounds.grace;
    loop {
        let slow = {
            let mut ledger = ledger.lock();
            let max_messages = sink.max_capacity();
            let queued = max_messages - sink.capacity();
            let unwritten = ledger.unwritten_at_most(queued);
            if queued == 0 || unwritten + bytes <= bounds.max_queued_bytes {
                match sink.try_send(msg) {
                    Ok(()) => {
                        ledger.record(bytes, max_messages + 1);
                        return Ok(());
                    }
                    Err(TrySendError::Closed(_)) => return Err(Ended::ClientGone),
                    Err(TrySendError::Full(back)) => msg = back,
                }
            }
            TooSlow {
                queued_messages: queued,
                max_messages,
                unwritten_bytes: unwritten,
                max_bytes: bounds.max_queued_bytes,
                grace: bounds.grace,
            }
        };
        if Instant::now() >= deadline {
            return Err(Ended::TooSlow(slow));
        }
        tokio::select! {
            _ = sink.closed() => return Err(Ended::ClientGone),
            _ = tokio::time::sleep(ROOM_POLL.min(bounds.grace)) => {}
        }
    }
}

/// The sizes of the notifications one connection's subscriptions put into its outgoing buffer,
/// newest last: enough to bound the bytes still waiting there.
///
/// The buffer is a queue shared with method responses, and jsonrpsee shows only how many
/// messages it holds. With `q` messages in it, and the writer holding at most one more, only
/// the last `q + 1` notifications can still be unwritten, so their total size bounds the bytes
/// waiting (exactly, when the connection carries only notifications).
#[derive(Debug, Default)]
struct QueueLedger {
    /// The running byte total after each of the newest notifications, oldest first.
    ends: VecDeque<u64>,
    /// The running total before the oldest entry of `ends`.
    base: u64,
}

impl QueueLedger {
    fn total(&self) -> u64 {
        self.ends.back().copied().unwrap_or(self.base)
    }

    /// At most how many bytes of notifications are unwritten while `queued` messages wait.
    fn unwritten_at_most(&self, queued: usize) -> u64 {
        let newest = (queued + 1).min(self.ends.len());
        let before = match self.ends.len() - newest {
            0 => self.base,
            older => self.ends[older - 1],
        };
        self.total() - before
    }

    /// Records a notification of `bytes`, keeping the newest `keep` (the buffer's capacity + 1:
    /// older ones are written for certain).
    fn record(&mut self, bytes: u64, keep: usize) {
        self.ends.push_back(self.total() + bytes);
        while self.ends.len() > keep {
            if let Some(oldest) = self.ends.pop_front() {
                self.base = oldest;
            }
        }
    }
}

/// A server (told apart by an address it owns) and one of its connections.
type LedgerKey = (usize, ConnectionId);

/// The ledgers of connections with at least one live subscription.
static LEDGERS: LazyLock<Mutex<HashMap<LedgerKey, Weak<Mutex<QueueLedger>>>>> =
    LazyLock::new(Default::default);

/// A subscription's share of its connection's [`QueueLedger`]; the last one to go removes it.
struct ConnectionLedger {
    key: LedgerKey,
    /// `None` only while dropping, so that the count drops under the registry's lock.
    ledger: Option<Arc<Mutex<QueueLedger>>>,
}

impl ConnectionLedger {
    fn of(key: LedgerKey) -> Self {
        let mut all = LEDGERS.lock();
        let ledger = match all.get(&key).and_then(Weak::upgrade) {
            Some(ledger) => ledger,
            None => {
                let ledger = Arc::new(Mutex::new(QueueLedger::default()));
                all.insert(key, Arc::downgrade(&ledger));
                ledger
            }
        };
        Self {
            key,
            ledger: Some(ledger),
        }
    }

    fn lock(&self) -> parking_lot::MutexGuard<'_, QueueLedger> {
        self.ledger.as_ref().expect("present until dropped").lock()
    }
}

impl Drop for ConnectionLedger {
    fn drop(&mut self) {
        let mut all = LEDGERS.lock();
        if let Some(ledger) = self.ledger.take() {
            let last = Arc::strong_count(&ledger) == 1;
            drop(ledger);
            if last {
                all.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests;
