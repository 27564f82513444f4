//! Starting test nodes on loopback and waiting for what they report.

use std::future::Future;
use std::time::Duration;

use kaimeng_network::{
    Backoff, Network, NetworkConfig, NetworkEvent, NetworkHandle, NodeKey, PeerId, Topic,
};
use tokio::sync::mpsc;

pub const GENESIS: [u8; 32] = [0x42; 32];
/// Upper bound on any single wait; generous for a loaded 2-core machine.
pub const WAIT: Duration = Duration::from_secs(30);

/// A loopback config with quick timers: heartbeat 100 ms, redial from 100 ms up to 1 s.
pub fn config(key: NodeKey, bootstrap: Vec<String>, topics: Vec<Topic>) -> NetworkConfig {
    let mut config = NetworkConfig::new(key, GENESIS);
    config.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
    config.bootstrap = bootstrap;
    config.topics = topics;
    config.timing.gossip_heartbeat = Duration::from_millis(100);
    config.reconnect = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
    };
    config
}

pub struct Node {
    pub handle: NetworkHandle,
    pub events: mpsc::Receiver<NetworkEvent>,
}

impl Node {
    pub async fn start(config: NetworkConfig) -> Node {
        // `RUST_LOG=kaimeng_network=debug` shows what the nodes do.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let (handle, events) = Network::start(config).await.expect("network starts");
        Node { handle, events }
    }

    pub fn id(&self) -> PeerId {
        self.handle.local_peer_id()
    }

    /// The first listen address, with `/p2p/<id>`.
    pub fn addr(&self) -> String {
        self.handle.listen_addrs()[0].clone()
    }

    /// Waits for the first event `pick` accepts, discarding the others before it.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&NetworkEvent) -> Option<T>,
    ) -> T {
        let events = &mut self.events;
        within(what, async {
            loop {
                let event = events.recv().await.expect("event channel open");
                if let Some(found) = pick(&event) {
                    return found;
                }
            }
        })
        .await
    }

    pub async fn wait_connected(&mut self, peer: PeerId) {
        self.wait_for(&format!("{peer} connected"), |e| {
            (*e == NetworkEvent::PeerConnected(peer)).then_some(())
        })
        .await
    }

    /// Waits until `peer` is in this node's gossip mesh for `topic`.
    pub async fn wait_in_mesh(&self, topic: Topic, peer: PeerId) {
        let handle = self.handle.clone();
        until(&format!("{peer} in the {topic} mesh"), || {
            let handle = handle.clone();
            async move { handle.mesh_peers(topic).await.unwrap().contains(&peer) }
        })
        .await
    }
}

/// Runs `future` or fails the test after [`WAIT`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// Re-checks a condition the network reports no event for (gossip mesh membership) every
/// 20 ms until it holds, failing after [`WAIT`].
pub async fn until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    within(what, async {
        while !condition().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}
