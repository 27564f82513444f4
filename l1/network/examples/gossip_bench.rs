//! Gossip and block sync on loopback, all nodes in this process:
//!
//! ```text
//! cargo run --release -p kaimeng-network --example gossip_bench -- [nodes] [rate] [count] [size]
//! ```
//!
//! 1. Latency: node 0 publishes `count` transaction-topic messages of `size` bytes at `rate`
//!    per second; every other node records publish-to-receipt time (p50, p99, max).
//! 2. Throughput: node 0 publishes `count` messages as fast as it can; reported is the rate at
//!    which they were delivered to all other nodes.
//! 3. Block sync: node 1 fetches 1,024 blocks of 10 KiB from node 0 in 128-block requests.
//!
//! The nodes form a full mesh. Limits are raised so the benchmark measures the network stack,
//! not the default rate limits (which are per peer and far above honest load anyway).

use std::sync::Arc;
use std::time::{Duration, Instant};

use kaimeng_network::{
    BlockSource, Chain, ClassLimits, Network, NetworkConfig, NetworkEvent, NetworkHandle, NodeKey,
    RateLimit, Topic,
};
use tokio::sync::mpsc;

const TOPIC: Topic = Topic::Transactions(Chain::Shard(0));
const BLOCK_BYTES: usize = 10 * 1024;
const SYNC_BLOCKS: u64 = 1024;

struct Blocks;

impl BlockSource for Blocks {
    fn block(&self, _: Chain, height: u64) -> Option<Vec<u8>> {
        (height < SYNC_BLOCKS).then(|| vec![height as u8; BLOCK_BYTES])
    }
}

fn arg(index: usize, default: u64) -> u64 {
    std::env::args()
        .nth(index)
        .map(|a| a.parse().expect("a number"))
        .unwrap_or(default)
}

/// Payload: sequence number, nanoseconds since `base` at publish time, padding.
fn payload(seq: u64, base: Instant, size: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(size.max(16));
    data.extend_from_slice(&seq.to_be_bytes());
    data.extend_from_slice(&(base.elapsed().as_nanos() as u64).to_be_bytes());
    data.resize(size.max(16), 0xab);
    data
}

fn parse(data: &[u8]) -> (u64, u64) {
    let word = |range: std::ops::Range<usize>| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&data[range]);
        u64::from_be_bytes(bytes)
    };
    (word(0..8), word(8..16))
}

/// Collects `(seq, latency)` of every message until `count` arrived or `deadline` passed.
async fn collect(
    mut events: mpsc::Receiver<NetworkEvent>,
    base: Instant,
    first: u64,
    count: u64,
    deadline: Duration,
) -> (mpsc::Receiver<NetworkEvent>, Vec<Duration>, Option<Instant>) {
    let mut latencies = Vec::new();
    let mut last = None;
    let _ = tokio::time::timeout(deadline, async {
        while (latencies.len() as u64) < count {
            let Some(event) = events.recv().await else {
                break;
            };
            if let NetworkEvent::Gossip { data, .. } = event {
                let (seq, sent) = parse(&data);
                if seq >= first && seq < first + count {
                    let now = base.elapsed();
                    latencies.push(now.saturating_sub(Duration::from_nanos(sent)));
                    last = Some(Instant::now());
                }
            }
        }
    })
    .await;
    (events, latencies, last)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let nodes = arg(1, 4) as usize;
    let rate = arg(2, 1_000);
    let count = arg(3, 3_000);
    let size = arg(4, 200) as usize;
    println!("{nodes} nodes, full mesh; {count} messages of {size} B; latency phase at {rate}/s");

    let mut handles: Vec<NetworkHandle> = Vec::new();
    let mut receivers = Vec::new();
    for i in 0..nodes {
        let mut config = NetworkConfig::new(NodeKey::generate(), [7; 32]);
        config.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
        config.bootstrap = handles
            .iter()
            .map(|h| h.listen_addrs()[0].clone())
            .collect();
        config.topics = vec![TOPIC];
        config.limits.transactions = ClassLimits {
            messages: RateLimit::new(1_000_000, 1_000_000),
            bytes: RateLimit::new(1 << 30, 1 << 30),
            max_message_bytes: 128 * 1024,
        };
        config.limits.sync_requests = RateLimit::new(1_000, 1_000);
        config.timing.gossip_heartbeat = Duration::from_millis(200);
        config.event_buffer = 1 << 20;
        if i == 0 {
            config.block_source = Some(Arc::new(Blocks));
        }
        let (handle, events) = Network::start(config).await.expect("start");
        handles.push(handle);
        receivers.push(Some(events));
    }
    // Wait until node 0 has every other node in its mesh.
    let wanted: Vec<_> = handles[1..].iter().map(|h| h.local_peer_id()).collect();
    let formed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let mesh = handles[0].mesh_peers(TOPIC).await.unwrap();
            if wanted.iter().all(|p| mesh.contains(p)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(formed.is_ok(), "mesh did not form");

    let base = Instant::now();
    // 1. Latency at a fixed rate.
    let collectors: Vec<_> = (1..nodes)
        .map(|i| {
            let events = receivers[i].take().unwrap();
            tokio::spawn(collect(events, base, 0, count, Duration::from_secs(120)))
        })
        .collect();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    for seq in 0..count {
        let due = start + interval * seq as u32;
        tokio::time::sleep_until(due.into()).await;
        handles[0]
            .publish(TOPIC, payload(seq, base, size))
            .await
            .expect("publish");
    }
    let mut all = Vec::new();
    for (i, collector) in collectors.into_iter().enumerate() {
        let (events, latencies, _) = collector.await.unwrap();
        receivers[i + 1] = Some(events);
        assert_eq!(
            latencies.len() as u64,
            count,
            "node {} missed messages",
            i + 1
        );
        all.extend(latencies);
    }
    all.sort();
    println!(
        "latency at {rate}/s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} receipts)",
        percentile(&all, 0.5).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        all.len()
    );

    // 2. Throughput: publish as fast as possible.
    let first = count;
    let collectors: Vec<_> = (1..nodes)
        .map(|i| {
            let events = receivers[i].take().unwrap();
            tokio::spawn(collect(
                events,
                base,
                first,
                count,
                Duration::from_secs(120),
            ))
        })
        .collect();
    let start = Instant::now();
    for seq in first..first + count {
        handles[0]
            .publish(TOPIC, payload(seq, base, size))
            .await
            .expect("publish");
    }
    let published = start.elapsed();
    let mut slowest = start;
    let mut delivered = 0;
    for collector in collectors {
        let (_, latencies, last) = collector.await.unwrap();
        delivered += latencies.len();
        slowest = slowest.max(last.unwrap_or(start));
    }
    let elapsed = slowest - start;
    println!(
        "throughput: published {count} in {:.2} s; all {} receivers had {delivered}/{} after \
         {:.2} s = {:.0} msg/s delivered to every node",
        published.as_secs_f64(),
        nodes - 1,
        count * (nodes as u64 - 1),
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64()
    );

    // 3. Block sync.
    let server = handles[0].local_peer_id();
    let start = Instant::now();
    let mut next = 0;
    while next < SYNC_BLOCKS {
        let blocks = handles[1]
            .request_blocks(server, Chain::Beacon, next, next + 127)
            .await
            .expect("sync");
        assert!(!blocks.is_empty());
        next += blocks.len() as u64;
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "block sync: {SYNC_BLOCKS} blocks of {} KiB in {:.2} s = {:.0} blocks/s, {:.1} MiB/s",
        BLOCK_BYTES / 1024,
        elapsed,
        SYNC_BLOCKS as f64 / elapsed,
        (SYNC_BLOCKS as usize * BLOCK_BYTES) as f64 / elapsed / (1 << 20) as f64
    );
    for handle in &handles {
        handle.shutdown().await;
    }
}
