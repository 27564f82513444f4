//! Confirmation tracking: a `newHeads` subscription over WebSocket, and for every new block its
//! transaction hashes fetched over HTTP and handed to the [`Matcher`].
//!
//! No receipt is polled. Heads are read by their own task into an unbounded queue, so a slow
//! block fetch never makes the subscription lag; blocks whose head notification was missed are
//! fetched anyway (every number from the start block on is inspected, in order). A block's
//! confirmation time is when its head was announced (or, for a block without its own
//! notification, when the next head was).

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use alloy_primitives::B256;
use jsonrpsee::{
    core::client::{Subscription, SubscriptionClientT},
    rpc_params,
    ws_client::{WsClient, WsClientBuilder},
};
use serde_json::Value;
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
    time::sleep_until,
};

use super::{
    matcher::Matcher,
    rpc::{Node, RpcError, quantity_u64},
};

/// Blocks fetched per JSON-RPC batch when catching up.
const FETCH_BATCH: u64 = 100;
/// Wait before re-asking for a block the node announced but did not serve, or after an error.
const RETRY_AFTER: Duration = Duration::from_millis(50);
/// Consecutive failed fetches after which tracking gives up.
const MAX_FETCH_FAILURES: u32 = 100;
/// How often the wait for the last confirmations reports progress on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Why tracking stopped before its deadline.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    #[error("cannot connect the WebSocket {url}: {source}")]
    Connect {
        url: String,
        source: jsonrpsee::core::client::Error,
    },
    #[error("eth_subscribe(newHeads) failed: {0}")]
    Subscribe(jsonrpsee::core::client::Error),
    #[error("the newHeads subscription ended: {0}")]
    SubscriptionEnded(String),
    #[error("a newHeads notification has no hex `number`: {0}")]
    BadHead(String),
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error("fetching blocks failed {MAX_FETCH_FAILURES} times in a row; last error: {0}")]
    FetchFailing(String),
    #[error("the tracker task stopped unexpectedly: {0}")]
    Task(String),
}

/// How tracking ended.
#[derive(Debug)]
pub struct Tracked {
    pub matcher: Matcher,
    /// False when the deadline passed with awaited transactions unconfirmed.
    pub complete: bool,
}

enum HeadEvent {
    Head { number: u64, at: Instant },
    Ended(TrackError),
}

/// A running tracker; call [`Tracker::finish`] once every transaction has been submitted.
pub struct Tracker {
    finish_tx: oneshot::Sender<(Vec<bool>, Instant)>,
    task: JoinHandle<Result<Tracked, TrackError>>,
    head_task: JoinHandle<()>,
}

impl Tracker {
    /// Subscribes to new heads and starts matching blocks after the current one against `hashes`.
    pub async fn start(
        ws_url: &str,
        node: Node,
        hashes: &[B256],
        receipts: bool,
    ) -> Result<Self, TrackError> {
        let ws: WsClient = WsClientBuilder::default()
            .max_buffer_capacity_per_subscription(1 << 16)
            .request_timeout(Duration::from_secs(30))
            .build(ws_url)
            .await
            .map_err(|source| TrackError::Connect {
                url: ws_url.to_owned(),
                source,
            })?;
        let subscription: Subscription<Value> = ws
            .subscribe("eth_subscribe", rpc_params!["newHeads"], "eth_unsubscribe")
            .await
            .map_err(TrackError::Subscribe)?;
        // Subscribed first, then read the height: a block after `start` cannot be missed.
        let start = node.block_number().await?;

        let (head_tx, head_rx) = mpsc::unbounded_channel();
        let head_task = tokio::spawn(read_heads(ws, subscription, head_tx));
        let (finish_tx, finish_rx) = oneshot::channel();
        let state = TrackState {
            node,
            receipts,
            matcher: Matcher::new(hashes),
            next: start + 1,
            latest: start,
            heads: BTreeMap::new(),
        };
        let task = tokio::spawn(state.run(head_rx, finish_rx));
        Ok(Self {
            finish_tx,
            task,
            head_task,
        })
    }

    /// Waits until every `awaited[i]` transaction is confirmed, or until `deadline`.
    pub async fn finish(
        self,
        awaited: Vec<bool>,
        deadline: Instant,
    ) -> Result<Tracked, TrackError> {
        // If the task already stopped (with an error), the join below reports it.
        let _ = self.finish_tx.send((awaited, deadline));
        let result = self
            .task
            .await
            .map_err(|err| TrackError::Task(err.to_string()));
        self.head_task.abort();
        result?
    }
}

async fn read_heads(
    ws: WsClient,
    mut subscription: Subscription<Value>,
    heads: mpsc::UnboundedSender<HeadEvent>,
) {
    let ended = loop {
        match subscription.next().await {
            Some(Ok(head)) => {
                let at = Instant::now();
                let Some(number) = head.get("number").and_then(quantity_u64) else {
                    break TrackError::BadHead(head.to_string());
                };
                if heads.send(HeadEvent::Head { number, at }).is_err() {
                    return; // tracking finished
                }
            }
            Some(Err(err)) => break TrackError::BadHead(err.to_string()),
            None => {
                let reason = subscription
                    .close_reason()
                    .map_or("closed".to_owned(), |r| format!("{r:?}"));
                break TrackError::SubscriptionEnded(reason);
            }
        }
    };
    let _ = heads.send(HeadEvent::Ended(ended));
    drop(ws);
}

struct TrackState {
    node: Node,
    receipts: bool,
    matcher: Matcher,
    /// The next block number to inspect.
    next: u64,
    /// The highest block number announced (or known at start).
    latest: u64,
    /// When each not-yet-inspected head was announced.
    heads: BTreeMap<u64, Instant>,
}

impl TrackState {
    async fn run(
        mut self,
        mut head_rx: mpsc::UnboundedReceiver<HeadEvent>,
        mut finish_rx: oneshot::Receiver<(Vec<bool>, Instant)>,
    ) -> Result<Tracked, TrackError> {
        let mut deadline: Option<Instant> = None;
        let mut retry_at: Option<Instant> = None;
        let mut failures = 0u32;
        let mut last_progress = Instant::now();
        loop {
            if self.matcher.is_complete() {
                return Ok(Tracked {
                    matcher: self.matcher,
                    complete: true,
                });
            }
            if deadline.is_some() && last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = Instant::now();
                eprintln!(
                    "  ... {} confirmed, {} awaited; inspected up to block {}",
                    self.matcher.confirmed(),
                    self.matcher.remaining(),
                    self.next.saturating_sub(1)
                );
            }
            tokio::select! {
                event = head_rx.recv() => {
                    self.on_head(event)?;
                    while let Ok(event) = head_rx.try_recv() {
                        self.on_head(Some(event))?;
                    }
                    retry_at = None;
                }
                finish = &mut finish_rx, if deadline.is_none() => {
                    let (awaited, until) = finish.map_err(|_| TrackError::Task("finish handle dropped".to_owned()))?;
                    self.matcher.await_only(awaited);
                    deadline = Some(until);
                    last_progress = Instant::now();
                    continue;
                }
                _ = sleep_until(deadline.unwrap_or_else(Instant::now).into()), if deadline.is_some() => {
                    return Ok(Tracked { matcher: self.matcher, complete: false });
                }
                _ = sleep_until(retry_at.unwrap_or_else(Instant::now).into()), if retry_at.is_some() => {
                    retry_at = None;
                }
                _ = sleep_until((last_progress + PROGRESS_EVERY).into()), if deadline.is_some() => continue,
            }
            match self.catch_up().await {
                Ok(true) => failures = 0,
                Ok(false) => retry_at = Some(Instant::now() + RETRY_AFTER),
                Err(err) => {
                    failures += 1;
                    if failures >= MAX_FETCH_FAILURES {
                        return Err(TrackError::FetchFailing(err.to_string()));
                    }
                    retry_at = Some(Instant::now() + RETRY_AFTER);
                }
            }
        }
    }

    fn on_head(&mut self, event: Option<HeadEvent>) -> Result<(), TrackError> {
        match event {
            Some(HeadEvent::Head { number, at }) => {
                self.latest = self.latest.max(number);
                if number >= self.next {
                    self.heads.entry(number).or_insert(at);
                }
                Ok(())
            }
            Some(HeadEvent::Ended(err)) => Err(err),
            None => Err(TrackError::SubscriptionEnded(
                "head reader stopped".to_owned(),
            )),
        }
    }

    /// Inspects blocks `next..=latest`. Returns false if the node did not serve one of them yet.
    async fn catch_up(&mut self) -> Result<bool, RpcError> {
        while self.next <= self.latest {
            let end = self.latest.min(self.next + FETCH_BATCH - 1) + 1;
            let blocks = self.node.blocks(self.next..end, self.receipts).await?;
            for block in blocks {
                let Some(block) = block else { return Ok(false) };
                let announced_at = self.announcement_of(block.number);
                self.matcher.observe(&block, announced_at);
                self.next = block.number + 1;
                self.heads = self.heads.split_off(&self.next);
                if self.matcher.is_complete() {
                    return Ok(true);
                }
            }
        }
        Ok(true)
    }

    /// When block `number` became known: its own head, else the first later head, else now.
    fn announcement_of(&self, number: u64) -> Instant {
        self.heads
            .range(number..)
            .next()
            .map_or_else(Instant::now, |(_, at)| *at)
    }
}
