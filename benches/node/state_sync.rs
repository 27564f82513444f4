//! Shard state sync of a large state over a real libp2p connection on loopback (issue 11,
//! item 4): a server node holds a shard state of `STATE_SYNC_ACCOUNTS` accounts (default
//! 1,000,000; one in 50 with two storage slots) in RocksDB and serves its snapshot; a client
//! node takes it with the node's own download (every part checked on arrival) and installs it
//! into a running chain at genesis. Timed: the server's read of the snapshot from history, the
//! transfer with the checks, the install, and the accounts per second of the whole sync.
//! Plain `main`: one run, one measurement; it builds with the node's dev profile.
//!
//!   cargo bench --profile dev --bench state_sync

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_consensus::Header;
use kaimeng::validator::state_sync::{encode_snapshot, fetch, network_source};
use kaimeng_genesis::{DevOptions, GenesisSpec};
use kaimeng_network::{BlockSource, Chain, Network, NetworkConfig, NodeKey};
use kaimeng_shards::{SealedHeader, ShardChain};

/// Serves the parts of one snapshot of shard 0.
struct Parts {
    height: u64,
    parts: Vec<Vec<u8>>,
}

impl BlockSource for Parts {
    fn block(&self, _: Chain, _: u64) -> Option<Vec<u8>> {
        None
    }

    fn snapshot_part(&self, chain: Chain, height: u64, part: u32) -> Option<Vec<u8>> {
        (chain == Chain::Shard(0) && height == self.height)
            .then(|| self.parts.get(part as usize).cloned())
            .flatten()
    }
}

#[path = "large_state.rs"]
mod large_state;

fn main() {
    let count: u64 = std::env::var("STATE_SYNC_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let genesis = GenesisSpec::dev(&DevOptions::default());
    let server_dir = tempfile::tempdir().unwrap();
    let server_store = kaimeng_shards::open_store(server_dir.path(), &Default::default()).unwrap();
    let started = Instant::now();
    let state_root = large_state::write(&server_store, count);
    println!(
        "built a state of {count} accounts in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let header = SealedHeader::seal(Header {
        number: 1,
        state_root: state_root,
        ..Default::default()
    });

    let started = Instant::now();
    let (parts, accounts) = encode_snapshot(&server_store, std::slice::from_ref(&header)).unwrap();
    let read = started.elapsed().as_secs_f64();
    let bytes: usize = parts.iter().map(Vec::len).sum();
    assert_eq!(accounts as u64, count);

    let client_dir = tempfile::tempdir().unwrap();
    let client_store = kaimeng_shards::open_store(client_dir.path(), &Default::default()).unwrap();
    let chain = ShardChain::open(client_store, &genesis, 0).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (transfer, install) = runtime.block_on(async {
        let mut config = NetworkConfig::new(NodeKey::generate(), genesis.hash().0);
        config.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
        config.block_source = Some(Arc::new(Parts { height: 1, parts }));
        let (server, mut server_events) = Network::start(config).await.unwrap();
        tokio::spawn(async move { while server_events.recv().await.is_some() {} });
        let deadline = Instant::now() + Duration::from_secs(10);
        while server.listen_addrs().is_empty() {
            assert!(Instant::now() < deadline, "the server never listened");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut config = NetworkConfig::new(NodeKey::generate(), genesis.hash().0);
        config.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
        config.bootstrap = server.listen_addrs();
        let (client, mut client_events) = Network::start(config).await.unwrap();
        tokio::spawn(async move { while client_events.recv().await.is_some() {} });
        while client.peers().is_empty() {
            assert!(Instant::now() < deadline, "the client never connected");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let started = Instant::now();
        let source = network_source(&client, Chain::Shard(0), 1);
        let snapshot = fetch(&source, &header, 0, Duration::from_secs(600))
            .await
            .unwrap();
        let transfer = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let head = chain
            .install_snapshot(
                &genesis,
                &snapshot.manifest,
                &snapshot.chunks,
                &snapshot.headers,
            )
            .unwrap();
        assert_eq!(head.hash, header.hash);
        (transfer, started.elapsed().as_secs_f64())
    });
    let rate = |seconds: f64| count as f64 / seconds;
    println!(
        "serve: read the snapshot at its height from history and encode it ({} MB in 258 parts): {read:.1} s = {:.0} accounts/s",
        bytes >> 20,
        rate(read)
    );
    println!(
        "receive over libp2p (one peer, loopback), each part checked on arrival: {transfer:.1} s = {:.0} accounts/s",
        rate(transfer)
    );
    println!(
        "install into the running chain at genesis (state and tree): {install:.1} s = {:.0} accounts/s",
        rate(install)
    );
    println!(
        "sync as the joining node sees it (receive + install): {:.1} s = {:.0} accounts/s",
        transfer + install,
        rate(transfer + install)
    );
}
