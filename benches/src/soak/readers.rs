//! WebSocket clients that subscribe to `newHeads`, `logs` and `newPendingTransactions` and then
//! never read, or read a few bytes a second, plus one that reads promptly (the node must not
//! cut it off). When the flood ends every client reads what the node still has for it, for a
//! bounded time, and counts the notifications and the errors that closed subscriptions.
//!
//! `--request-flooders` adds clients that send `eth_getBlockByNumber("latest", true)` at
//! `--flooder-rate` a second each and never read the answers (off by default: see
//! BENCHMARKS.md, "Soak", for what that does to a node).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use super::Args;
use super::ws::{FrameDecoder, RawWs};

const SUBSCRIPTIONS: [&str; 3] = [
    r#"["newHeads"]"#,
    r#"["logs",{}]"#,
    r#"["newPendingTransactions"]"#,
];
/// After the flood, a client reads until its subscriptions are all closed, nothing came for
/// `DRAIN_IDLE`, or `DRAIN_MAX` passed. The node's notice that it closed a subscription comes
/// behind everything the client left unread, megabytes for a never-reader, and that data
/// comes slowly at first: through the flood the node's kernel kept retrying a connection with
/// no room (`ss` shows its side in `timer:(on…)` or `timer:(persist…)` with megabytes queued),
/// and its retries back off exponentially, up to Linux's 120 s (`TCP_RTO_MAX`). Drains waited
/// up to 27 s for the first new byte after a 95 s flood, so the idle limit must outlast the
/// longest back-off; a drain that sees every subscription closed ends at once.
const DRAIN_IDLE: Duration = Duration::from_secs(130);
const DRAIN_MAX: Duration = Duration::from_secs(300);
/// The receive buffer of a client that never reads. Left to itself the kernel may grow a
/// loopback socket's buffer to tens of megabytes (`tcp_rmem`), which would hold the flood
/// before the node's own bound fills; fixed small, what a never-reader's connection holds is
/// known ([`never_reader_capacity`]), and the soak floods until it must have overflowed.
const NEVER_READER_RECEIVE_BUFFER: u32 = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Never,
    Slow(usize),
    Prompt,
    /// Sends this many requests a second and never reads.
    Requests(u64),
}

/// One group of clients in the report.
#[derive(Debug, Default, Serialize)]
pub struct Group {
    pub clients: usize,
    pub failed_to_start: usize,
    pub subscriptions: u64,
    pub bytes_read: u64,
    pub notifications: u64,
    /// Subscriptions the node closed with an error notification ("subscription closed: …").
    pub subscriptions_closed_by_node: u64,
    /// Connections the node closed (a close frame or end of stream).
    pub connections_closed_by_node: u64,
    /// Clients that saw the node close at least one of their subscriptions or their connection.
    pub clients_cut_off: usize,
    /// How the clients' drains after the flood ended, and the longest one.
    pub drains: Drains,
}

/// How the drains after the flood ended: every subscription closed (or the connection), nothing
/// came for [`DRAIN_IDLE`], or [`DRAIN_MAX`] passed.
#[derive(Debug, Default, Serialize)]
pub struct Drains {
    pub all_closed: usize,
    pub idle: usize,
    pub at_limit: usize,
    pub longest_secs: f64,
    /// The longest a drain waited for the node to write anything.
    pub longest_silence_secs: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct ReadersReport {
    pub never: Group,
    pub slow: Group,
    pub prompt: Group,
    pub request_flooders: Group,
}

#[derive(Default)]
struct Outcome {
    subscriptions: u64,
    bytes_read: u64,
    notifications: u64,
    closed_subscriptions: u64,
    connection_closed: bool,
    drain: Option<(DrainEnd, Duration)>,
    longest_silence: Duration,
}

#[derive(Clone, Copy)]
enum DrainEnd {
    AllClosed,
    Idle,
    AtLimit,
}

impl Outcome {
    /// Takes in `bytes` read from the socket.
    fn take(&mut self, decoder: &mut FrameDecoder, bytes: &[u8]) {
        self.bytes_read += bytes.len() as u64;
        decoder.push(bytes);
        while let Some(frame) = decoder.next_frame() {
            match frame.opcode {
                8 => self.connection_closed = true,
                1 => {
                    let text = String::from_utf8_lossy(&frame.payload);
                    if text.contains("\"eth_subscription\"") {
                        if text.contains("subscription closed") {
                            self.closed_subscriptions += 1;
                        } else {
                            self.notifications += 1;
                        }
                    } else if text.contains("\"result\"") {
                        self.subscriptions += 1;
                    }
                }
                _ => {}
            }
        }
    }
}

/// Sends `per_second` requests a second until `stop`, reading nothing.
async fn flood_requests(ws: &mut RawWs, per_second: u64, stop: &mut watch::Receiver<bool>) {
    use tokio::io::AsyncWriteExt;
    const PER_TICK: u64 = 100;
    let frame = super::ws::client_frame(
        br#"{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":["latest",true]}"#,
    );
    let burst = frame.repeat(PER_TICK as usize);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(
        PER_TICK as f64 / per_second.max(1) as f64,
    ));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = ticker.tick() => {}
        }
        if ws.stream.write_all(&burst).await.is_err() {
            return;
        }
    }
}

async fn client(
    url: String,
    mode: Mode,
    mut stop: watch::Receiver<bool>,
    prompt_bytes: Arc<AtomicU64>,
) -> Option<Outcome> {
    let receive_buffer = (mode == Mode::Never).then_some(NEVER_READER_RECEIVE_BUFFER);
    let mut ws = RawWs::connect_with(&url, receive_buffer).await.ok()?;
    if let Mode::Requests(per_second) = mode {
        flood_requests(&mut ws, per_second, &mut stop).await;
        return Some(Outcome::default());
    }
    for (id, params) in SUBSCRIPTIONS.iter().enumerate() {
        let request =
            format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_subscribe","params":{params}}}"#);
        ws.send_text(&request).await.ok()?;
    }
    let mut outcome = Outcome::default();
    let mut decoder = FrameDecoder::default();
    let mut buf = vec![0u8; 64 * 1024];
    match mode {
        Mode::Never | Mode::Requests(_) => {
            let _ = stop.changed().await;
        }
        Mode::Slow(per_second) => {
            let mut ticker = tokio::time::interval(Duration::from_secs(1));
            let mut small = vec![0u8; per_second.max(1)];
            'reading: loop {
                tokio::select! {
                    _ = stop.changed() => break 'reading,
                    _ = ticker.tick() => {}
                }
                tokio::select! {
                    _ = stop.changed() => break 'reading,
                    read = ws.stream.read(&mut small) => match read {
                        Ok(0) | Err(_) => { outcome.connection_closed = true; break 'reading }
                        Ok(n) => outcome.take(&mut decoder, &small[..n]),
                    },
                }
            }
        }
        Mode::Prompt => loop {
            tokio::select! {
                _ = stop.changed() => break,
                read = ws.stream.read(&mut buf) => match read {
                    Ok(0) | Err(_) => { outcome.connection_closed = true; break }
                    Ok(n) => {
                        outcome.take(&mut decoder, &buf[..n]);
                        prompt_bytes.store(outcome.bytes_read, Relaxed);
                    }
                },
            }
        },
    }
    // Drain what the node still holds for a client that did not read it.
    if mode == Mode::Prompt {
        return Some(outcome);
    }
    let began = Instant::now();
    let mut last_data = began;
    let end = loop {
        if outcome.connection_closed || outcome.closed_subscriptions >= SUBSCRIPTIONS.len() as u64 {
            break DrainEnd::AllClosed;
        }
        let deadline = (last_data + DRAIN_IDLE).min(began + DRAIN_MAX);
        let read = timeout_at(deadline, ws.stream.read(&mut buf)).await;
        outcome.longest_silence = outcome.longest_silence.max(last_data.elapsed());
        match read {
            Err(_) if began.elapsed() >= DRAIN_MAX => break DrainEnd::AtLimit,
            Err(_) => break DrainEnd::Idle,
            Ok(Ok(0) | Err(_)) => outcome.connection_closed = true,
            Ok(Ok(n)) => {
                last_data = Instant::now();
                outcome.take(&mut decoder, &buf[..n]);
            }
        }
    };
    outcome.drain = Some((end, began.elapsed()));
    Some(outcome)
}

pub struct Readers {
    stop: watch::Sender<bool>,
    tasks: Vec<(Mode, JoinHandle<Option<Outcome>>)>,
    prompt_bytes: Arc<AtomicU64>,
}

/// Connects every client; each subscribes and then behaves as its mode says.
pub async fn start(url: &str, args: &Args) -> anyhow::Result<Readers> {
    // Refuse early if the node does not serve WebSocket at all.
    RawWs::connect(url).await.context("WebSocket")?;
    let (stop, stopped) = watch::channel(false);
    let prompt_bytes = Arc::new(AtomicU64::new(0));
    let modes = std::iter::repeat_n(Mode::Never, args.never_readers)
        .chain(std::iter::repeat_n(
            Mode::Slow(args.slow_read_bytes),
            args.slow_readers,
        ))
        .chain([Mode::Prompt])
        .chain(std::iter::repeat_n(
            Mode::Requests(args.flooder_rate),
            args.request_flooders,
        ));
    let tasks = modes
        .map(|mode| {
            (
                mode,
                tokio::spawn(client(
                    url.to_owned(),
                    mode,
                    stopped.clone(),
                    prompt_bytes.clone(),
                )),
            )
        })
        .collect();
    Ok(Readers {
        stop,
        tasks,
        prompt_bytes,
    })
}

/// Most bytes of notifications one never-reading client's connection can absorb before the
/// node's bound is full: the node's queue (`MAX_QUEUED_BYTES` in `rpc/src/eth/subscribe.rs`,
/// 4 MiB, which jsonrpsee's 1,024 messages may fill first), the node socket's send buffer (at
/// most the kernel's `tcp_wmem` maximum) and the client's fixed receive buffer (which the
/// kernel doubles), with a tenth more for framing and the message the node's writer holds.
pub fn never_reader_capacity() -> u64 {
    const NODE_QUEUE: u64 = 4 * 1024 * 1024;
    let send_buffer = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|text| text.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 * 1024 * 1024);
    let held = NODE_QUEUE + send_buffer + 2 * u64::from(NEVER_READER_RECEIVE_BUFFER);
    held + held / 10
}

impl Readers {
    /// Bytes the prompt reader has read so far: what the node sent each subscriber of the same
    /// three streams, so what each never-reader was sent as well.
    pub fn prompt_bytes(&self) -> u64 {
        self.prompt_bytes.load(Relaxed)
    }

    pub async fn finish(self) -> ReadersReport {
        let _ = self.stop.send(true);
        let mut report = ReadersReport::default();
        for (mode, task) in self.tasks {
            let group = match mode {
                Mode::Never => &mut report.never,
                Mode::Slow(_) => &mut report.slow,
                Mode::Prompt => &mut report.prompt,
                Mode::Requests(_) => &mut report.request_flooders,
            };
            group.clients += 1;
            match task.await.ok().flatten() {
                None => group.failed_to_start += 1,
                Some(o) => {
                    group.subscriptions += o.subscriptions;
                    group.bytes_read += o.bytes_read;
                    group.notifications += o.notifications;
                    group.subscriptions_closed_by_node += o.closed_subscriptions;
                    group.connections_closed_by_node += u64::from(o.connection_closed);
                    if o.closed_subscriptions > 0 || o.connection_closed {
                        group.clients_cut_off += 1;
                    }
                    if let Some((end, took)) = o.drain {
                        let drains = &mut group.drains;
                        *match end {
                            DrainEnd::AllClosed => &mut drains.all_closed,
                            DrainEnd::Idle => &mut drains.idle,
                            DrainEnd::AtLimit => &mut drains.at_limit,
                        } += 1;
                        drains.longest_secs = drains.longest_secs.max(took.as_secs_f64());
                        drains.longest_silence_secs = drains
                            .longest_silence_secs
                            .max(o.longest_silence.as_secs_f64());
                    }
                }
            }
        }
        report
    }
}
