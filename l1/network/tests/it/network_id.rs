//! Nodes of another chain (another genesis hash) are disconnected once identify shows it.

use kaimeng_network::{NetworkEvent, NodeKey};

use crate::harness::{Node, config, until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_of_another_genesis_is_dropped() {
    let mut foreign_config = config(NodeKey::generate(), vec![], vec![]);
    foreign_config.genesis_hash = [0x99; 32];
    let foreign = Node::start(foreign_config).await;
    let mut node = Node::start(config(NodeKey::generate(), vec![foreign.addr()], vec![])).await;
    let foreign_id = foreign.id();
    node.wait_connected(foreign_id).await;
    node.wait_for("the foreign peer to be dropped", |e| {
        (*e == NetworkEvent::PeerDisconnected(foreign_id)).then_some(())
    })
    .await;
    // Whichever side reads the other's identify first hangs up, and counts it.
    let (a, b) = (node.handle.clone(), foreign.handle.clone());
    until("the mismatch to be counted", || {
        let (a, b) = (a.clone(), b.clone());
        async move { a.stats().wrong_network + b.stats().wrong_network >= 1 }
    })
    .await;
    assert!(!node.handle.peers().contains(&foreign_id));
    node.handle.shutdown().await;
    foreign.handle.shutdown().await;
}
