//! Block sync: ranges are served from the peer's block source, as a prefix when the peer has
//! fewer blocks or they do not fit, and bad ranges get clear errors on both sides.

use std::sync::Arc;

use kaimeng_network::{BlockSource, Chain, NodeKey, Refusal, SyncError};

use crate::harness::{Node, config};

/// Beacon blocks 0..300, each `"beacon block <h>"`.
struct Blocks;

impl BlockSource for Blocks {
    fn block(&self, chain: Chain, height: u64) -> Option<Vec<u8>> {
        (chain == Chain::Beacon && height < 300)
            .then(|| format!("beacon block {height}").into_bytes())
    }
}

fn expected(range: std::ops::RangeInclusive<u64>) -> Vec<Vec<u8>> {
    range
        .map(|h| format!("beacon block {h}").into_bytes())
        .collect()
}

async fn server_and_client(
    adjust_server: impl FnOnce(&mut kaimeng_network::NetworkConfig),
    adjust_client: impl FnOnce(&mut kaimeng_network::NetworkConfig),
) -> (Node, Node) {
    let mut server_config = config(NodeKey::generate(), vec![], vec![]);
    server_config.block_source = Some(Arc::new(Blocks));
    adjust_server(&mut server_config);
    let server = Node::start(server_config).await;
    let mut client_config = config(NodeKey::generate(), vec![server.addr()], vec![]);
    adjust_client(&mut client_config);
    let mut client = Node::start(client_config).await;
    client.wait_connected(server.id()).await;
    (server, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_ranges_and_rejects_bad_ones() {
    let (server, client) = server_and_client(|_| {}, |_| {}).await;
    let peer = server.id();
    let net = &client.handle;

    assert_eq!(
        net.request_blocks(peer, Chain::Beacon, 10, 20)
            .await
            .unwrap(),
        expected(10..=20)
    );
    assert_eq!(
        net.request_blocks(peer, Chain::Beacon, 0, 127)
            .await
            .unwrap(),
        expected(0..=127)
    );
    // Past the tip: the prefix the peer has; beyond it or on another chain: nothing.
    assert_eq!(
        net.request_blocks(peer, Chain::Beacon, 295, 310)
            .await
            .unwrap(),
        expected(295..=299)
    );
    assert!(
        net.request_blocks(peer, Chain::Beacon, 300, 310)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        net.request_blocks(peer, Chain::Shard(0), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Refused before anything is sent.
    assert_eq!(
        net.request_blocks(peer, Chain::Beacon, 0, 128).await,
        Err(SyncError::RangeTooLarge {
            from: 0,
            to: 128,
            max: 128
        })
    );
    let huge = net
        .request_blocks(peer, Chain::Beacon, 0, u64::MAX)
        .await
        .unwrap_err();
    assert!(huge.to_string().contains("more than 128 blocks"), "{huge}");
    assert_eq!(
        net.request_blocks(peer, Chain::Beacon, 5, 4).await,
        Err(SyncError::InvalidRange { from: 5, to: 4 })
    );

    let served = server.handle.stats();
    assert_eq!(served.sync_served, 5);
    assert_eq!(served.sync_refused, 0);
    let asked = client.handle.stats();
    assert_eq!((asked.sync_requested, asked.sync_failed), (5, 0));
    client.handle.shutdown().await;
    server.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_enforces_its_own_range_rate_and_size_caps() {
    let (server, client) = server_and_client(
        |server| {
            // Three requests, never refilled: the fourth is over the limit however slow the machine.
            server.limits.sync_requests = kaimeng_network::RateLimit::new(0, 3);
            // Room for the header and exactly four 19-byte blocks ("beacon block 10".."13").
            server.limits.max_response_bytes = 6 + 4 * (4 + 15);
        },
        // A client willing to ask for more than the server serves.
        |client| client.limits.max_blocks_per_request = 1_000,
    )
    .await;
    let peer = server.id();
    let net = &client.handle;

    let refused = net
        .request_blocks(peer, Chain::Beacon, 0, 199)
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        SyncError::Refused(Refusal::RangeTooLarge { max: 128 })
    );
    assert!(refused.to_string().contains("at most 128"), "{refused}");
    // The byte cap cuts the range to what fits.
    assert_eq!(
        net.request_blocks(peer, Chain::Beacon, 10, 20)
            .await
            .unwrap(),
        expected(10..=13)
    );
    // Third request within the burst of 3, then the rate limit refuses.
    assert_eq!(
        net.request_blocks(peer, Chain::Beacon, 14, 15)
            .await
            .unwrap(),
        expected(14..=15)
    );
    assert_eq!(
        net.request_blocks(peer, Chain::Beacon, 16, 17).await,
        Err(SyncError::Refused(Refusal::RateLimited))
    );
    let stats = server.handle.stats();
    assert_eq!(
        (
            stats.sync_served,
            stats.sync_refused,
            stats.dropped_rate_limited
        ),
        (2, 2, 1)
    );
    client.handle.shutdown().await;
    server.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_blocks_says_so() {
    let (server, client) = server_and_client(|server| server.block_source = None, |_| {}).await;
    assert_eq!(
        client
            .handle
            .request_blocks(server.id(), Chain::Beacon, 0, 1)
            .await,
        Err(SyncError::Refused(Refusal::NoBlockSource))
    );
    client.handle.shutdown().await;
    server.handle.shutdown().await;
}

/// A pool of two transactions, `"tx a"` and `"tx b"`, under hashes `[1; 32]` and `[2; 32]`.
struct Pool;

impl BlockSource for Pool {
    fn block(&self, _chain: Chain, _height: u64) -> Option<Vec<u8>> {
        None
    }

    fn transactions(&self, chain: Chain, hashes: &[[u8; 32]]) -> Vec<Vec<u8>> {
        if chain != Chain::Shard(0) {
            return Vec::new();
        }
        hashes
            .iter()
            .filter_map(|hash| match hash {
                [1, ..] => Some(b"tx a".to_vec()),
                [2, ..] => Some(b"tx b".to_vec()),
                _ => None,
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_pooled_transactions_by_hash() {
    let (server, client) =
        server_and_client(|server| server.block_source = Some(Arc::new(Pool)), |_| {}).await;
    let peer = server.id();
    let net = &client.handle;
    // Those the peer holds, in the order asked; the others left out.
    assert_eq!(
        net.request_transactions(peer, Chain::Shard(0), vec![[2; 32], [9; 32], [1; 32]])
            .await
            .unwrap(),
        vec![b"tx b".to_vec(), b"tx a".to_vec()]
    );
    assert!(
        net.request_transactions(peer, Chain::Shard(1), vec![[1; 32]])
            .await
            .unwrap()
            .is_empty()
    );
    // Nothing to ask is not sent; more hashes than a peer answers are refused before sending.
    assert_eq!(
        net.request_transactions(peer, Chain::Shard(0), Vec::new())
            .await,
        Ok(Vec::new())
    );
    assert_eq!(
        net.request_transactions(peer, Chain::Shard(0), vec![[1; 32]; 129])
            .await,
        Err(SyncError::RangeTooLarge {
            from: 1,
            to: 129,
            max: 128
        })
    );
    assert_eq!(server.handle.stats().sync_served, 2);
    assert_eq!(client.handle.stats().sync_requested, 2);
    client.handle.shutdown().await;
    server.handle.shutdown().await;
}
