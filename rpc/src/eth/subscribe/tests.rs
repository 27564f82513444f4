//! A subscriber that never reads is closed once its connection's buffer is full, and holds no
//! more than the bound meanwhile; a subscriber that reads keeps its subscription.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{B256, U256};
use jsonrpsee::core::client::SubscriptionClientT;
use jsonrpsee::server::{Server, ServerConfig};
use jsonrpsee::ws_client::WsClientBuilder;
use jsonrpsee::{ConnectionId, RpcModule, rpc_params};
use kaimeng_shards::EventSender;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use super::*;

/// Every test gets its own ledger key, so they can run in parallel.
fn server_key(n: usize) -> usize {
    0x7e57_0000 + n
}

/// Bytes a `newPendingTransactions` notification counts for: a quoted 32-byte hash + envelope.
const HASH_NOTIFICATION: u64 = 66 + 2 + ENVELOPE_BYTES;

fn hash(n: u64) -> B256 {
    B256::from(U256::from(n))
}

struct Ctx {
    events: Arc<EventSender>,
    ended: mpsc::UnboundedSender<(ConnectionId, Ended)>,
    key: usize,
    bounds: Bounds,
}

/// A module serving `test_subscribe` (pending-transaction hashes from `events`) through
/// [`stream`], reporting how each subscription ended.
fn module(ctx: Ctx) -> RpcModule<Ctx> {
    let mut module = RpcModule::new(ctx);
    module
        .register_subscription(
            "test_subscribe",
            "test_subscription",
            "test_unsubscribe",
            |_params, pending, ctx, _| async move {
                let connection = pending.connection_id();
                let events = ctx.events.subscribe();
                let ended = stream(
                    pending,
                    &Kind::PendingTxs,
                    events,
                    (ctx.key, connection),
                    ctx.bounds,
                )
                .await?;
                let result: SubscriptionResult = match &ended {
                    Ended::TooSlow(slow) => Err(slow.to_string().into()),
                    _ => Ok(()),
                };
                let _ = ctx.ended.send((connection, ended));
                result
            },
        )
        .unwrap();
    module
}

#[test]
fn ledger_bounds_the_unwritten_bytes_by_the_newest_notifications() {
    let mut ledger = QueueLedger::default();
    assert_eq!(ledger.unwritten_at_most(0), 0);
    for bytes in [100, 200, 300, 400] {
        ledger.record(bytes, 3);
    }
    // Only the newest three are kept: the fourth from last is written for certain.
    assert_eq!(ledger.ends.len(), 3);
    // Nothing queued: the writer may still hold the newest.
    assert_eq!(ledger.unwritten_at_most(0), 400);
    assert_eq!(ledger.unwritten_at_most(1), 700);
    assert_eq!(ledger.unwritten_at_most(2), 900);
    // More queued than recorded (method responses share the buffer): all that is kept.
    assert_eq!(ledger.unwritten_at_most(50), 900);
}

#[test]
fn the_last_subscription_of_a_connection_removes_its_ledger() {
    let key = (server_key(1), ConnectionId(7));
    let first = ConnectionLedger::of(key);
    let second = ConnectionLedger::of(key);
    first.lock().record(10, 4);
    assert_eq!(
        second.lock().total(),
        10,
        "subscriptions of a connection share its ledger"
    );
    drop(first);
    assert!(LEDGERS.lock().contains_key(&key));
    drop(second);
    assert!(!LEDGERS.lock().contains_key(&key));
}

/// In memory (no socket): a subscriber that never reads fills its buffer, and its subscription
/// is closed when the next notification does not fit, by the byte bound or by the slot count.
#[tokio::test]
async fn a_subscriber_that_never_reads_is_closed_at_the_bound() {
    for (case, max_queued_bytes, buffer) in [
        ("bytes", 5 * HASH_NOTIFICATION, 64_usize),
        ("slots", MAX_QUEUED_BYTES, 8),
    ] {
        let events = Arc::new(EventSender::with_capacity(1, 1024));
        let (ended_tx, mut ended) = mpsc::unbounded_channel();
        let module = module(Ctx {
            events: events.clone(),
            ended: ended_tx,
            key: server_key(2),
            bounds: Bounds {
                max_queued_bytes,
                grace: Duration::ZERO,
            },
        });
        let mut subscription = module
            .subscribe("test_subscribe", rpc_params![], buffer)
            .await
            .unwrap();

        let mut sent = 0;
        let slow = loop {
            assert!(sent < 10_000, "{case}: never closed after {sent} events");
            events.pending_tx(hash(sent));
            sent += 1;
            // Let the subscription's task take the event before the next one.
            tokio::task::yield_now().await;
            if let Ok((_, end)) = ended.try_recv() {
                match end {
                    Ended::TooSlow(slow) => break slow,
                    other => panic!("{case}: ended by {other:?}"),
                }
            }
        };

        // Read what was queued: the notifications, then the closing error (`None`).
        let mut received = Vec::new();
        while let Some(item) = subscription.next::<B256>().await {
            received.push(item.unwrap().0);
        }
        assert!(!received.is_empty(), "{case}");
        assert_eq!(received[0], hash(0), "{case}");
        let bytes = received.len() as u64 * HASH_NOTIFICATION;
        match case {
            "bytes" => {
                assert!(bytes <= max_queued_bytes, "{case}: {bytes} bytes queued");
                assert!(slow.unwritten_bytes + HASH_NOTIFICATION > max_queued_bytes);
            }
            _ => {
                assert_eq!(
                    slow.queued_messages, buffer,
                    "{case}: closed with room left"
                );
                assert_eq!(received.len(), buffer, "{case}");
            }
        }
        assert!(
            !LEDGERS
                .lock()
                .contains_key(&(server_key(2), ConnectionId(0))),
            "{case}: the closed subscription's ledger is gone"
        );
    }
}

/// One raw WebSocket connection: the handshake, masked text frames out, unmasked frames in.
struct RawWs {
    stream: TcpStream,
}

impl RawWs {
    async fn connect(addr: std::net::SocketAddr) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        // A small receive buffer: the kernel absorbs less before the node's buffer fills.
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let request = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(stream.read_u8().await.unwrap());
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        Self { stream }
    }

    async fn send(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut frame = vec![0x81];
        match payload.len() {
            n @ 0..=125 => frame.push(0x80 | n as u8),
            n => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await.unwrap();
    }

    async fn recv(&mut self) -> Value {
        let opcode = self.stream.read_u8().await.unwrap() & 0x0f;
        let len = match self.stream.read_u8().await.unwrap() & 0x7f {
            126 => self.stream.read_u16().await.unwrap() as usize,
            127 => self.stream.read_u64().await.unwrap() as usize,
            n => n as usize,
        };
        let mut payload = vec![0; len];
        self.stream.read_exact(&mut payload).await.unwrap();
        assert_eq!(opcode, 1, "a text frame");
        serde_json::from_slice(&payload).unwrap()
    }
}

/// Over a real WebSocket server: a client that subscribes and then never reads is closed once
/// its connection's buffer is full, while a client reading the same stream keeps its
/// subscription and gets every notification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_websocket_the_stalled_client_is_closed_and_the_reader_is_not() {
    const BUFFER: u32 = 64;
    const WINDOW: u64 = 256;
    const MAX_EVENTS: u64 = 2_000_000;
    let bounds = Bounds {
        max_queued_bytes: 16 * 1024,
        grace: Duration::from_secs(2),
    };
    let events = Arc::new(EventSender::with_capacity(1, 4 * WINDOW as usize));
    let (ended_tx, mut ended) = mpsc::unbounded_channel();
    let module = module(Ctx {
        events: events.clone(),
        ended: ended_tx,
        key: server_key(3),
        bounds,
    });
    let server = Server::builder()
        .set_config(
            ServerConfig::builder()
                .set_message_buffer_capacity(BUFFER)
                .build(),
        )
        .build("127.0.0.1:0")
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.start(module);

    // The stalled client: subscribes, reads the answer, then stops reading.
    let mut stalled = RawWs::connect(addr).await;
    stalled
        .send(r#"{"jsonrpc":"2.0","id":1,"method":"test_subscribe","params":[]}"#)
        .await;
    let answer = stalled.recv().await;
    let stalled_id = answer["result"].clone();
    assert!(!stalled_id.is_null(), "{answer}");

    // The reader: counts what it gets, in order.
    let client = WsClientBuilder::default()
        .build(format!("ws://{addr}"))
        .await
        .unwrap();
    let mut reader = client
        .subscribe::<B256, _>("test_subscribe", rpc_params![], "test_unsubscribe")
        .await
        .unwrap();
    let (read_tx, mut read) = watch::channel(0u64);
    let reading = tokio::spawn(async move {
        let mut next = 0u64;
        while let Some(item) = reader.next().await {
            assert_eq!(
                item.unwrap(),
                hash(next),
                "the reader gets every event in order"
            );
            next += 1;
            read_tx.send_replace(next);
        }
    });

    // Events, never more than WINDOW ahead of the reader (so the reader never lags), until the
    // stalled subscription is closed.
    let mut sent = 0;
    let (connection, slow) = loop {
        assert!(
            sent < MAX_EVENTS,
            "the stalled subscription was never closed"
        );
        read.wait_for(|&n| sent - n < WINDOW).await.unwrap();
        events.pending_tx(hash(sent));
        sent += 1;
        if let Ok((connection, end)) = ended.try_recv() {
            match end {
                Ended::TooSlow(slow) => break (connection, slow),
                other => panic!("a subscription ended by {other:?}"),
            }
        }
    };
    assert!(
        slow.queued_messages == BUFFER as usize
            || slow.unwritten_bytes + HASH_NOTIFICATION > bounds.max_queued_bytes,
        "closed with room left: {slow:?}"
    );
    assert!(slow.unwritten_bytes <= bounds.max_queued_bytes + HASH_NOTIFICATION);
    assert!(!LEDGERS.lock().contains_key(&(server_key(3), connection)));

    // The reader is still subscribed and gets everything, including one more event.
    events.pending_tx(hash(sent));
    sent += 1;
    read.wait_for(|&n| n == sent).await.unwrap();
    assert!(
        ended.try_recv().is_err(),
        "only the stalled subscription ended"
    );

    // The stalled client reads at last: its notifications, then the error that closed it.
    let mut notifications = 0u64;
    let error = loop {
        let frame = stalled.recv().await;
        assert_eq!(frame["params"]["subscription"], stalled_id);
        if let Some(error) = frame["params"].get("error") {
            break error.as_str().unwrap().to_owned();
        }
        notifications += 1;
    };
    assert!(error.starts_with("subscription closed"), "{error}");
    eprintln!("closed after {sent} events with {notifications} notifications unread: {error}");
    assert!(notifications > 0 && notifications < sent);
    // The subscription is gone: unsubscribing answers false.
    stalled
        .send(
            &serde_json::json!({
                "jsonrpc": "2.0", "id": 2, "method": "test_unsubscribe", "params": [stalled_id]
            })
            .to_string(),
        )
        .await;
    let answer = stalled.recv().await;
    assert_eq!(answer["id"], 2, "no notification after the closing error");
    assert_eq!(answer["result"], false);

    drop(client);
    reading.await.unwrap();
    handle.stop().unwrap();
}
