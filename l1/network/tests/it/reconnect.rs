//! Peers that go away and come back are redialled: bootstrap peers from their configured
//! address, priority peers from the address they announced.

use kaimeng_network::{Chain, NetworkEvent, NodeKey, Topic};

use crate::harness::{Node, config, until};

const TOPIC: Topic = Topic::Consensus(Chain::Beacon);

/// Restarts a node with the same key on the same address.
async fn restart(key: &NodeKey, addr: &str, bootstrap: Vec<String>) -> Node {
    let port = addr
        .split('/')
        .nth(4)
        .expect("an /ip4/../tcp/<port> address")
        .to_owned();
    let mut config = config(key.clone(), bootstrap, vec![TOPIC]);
    config.listen = vec![format!("/ip4/127.0.0.1/tcp/{port}")];
    Node::start(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_peer_that_restarts_is_reconnected() {
    let server_key = NodeKey::generate();
    let server = Node::start(config(server_key.clone(), vec![], vec![TOPIC])).await;
    let server_addr = server.addr();
    let mut client = Node::start(config(
        NodeKey::generate(),
        vec![server_addr.clone()],
        vec![TOPIC],
    ))
    .await;
    let server_id = server.id();
    client.wait_connected(server_id).await;

    server.handle.shutdown().await;
    client
        .wait_for("the server to disconnect", |e| {
            (*e == NetworkEvent::PeerDisconnected(server_id)).then_some(())
        })
        .await;
    assert!(client.handle.peers().is_empty());

    // Back, with no bootstrap of its own: only the client's redial can reconnect them.
    let mut server = restart(&server_key, &server_addr, vec![]).await;
    client.wait_connected(server_id).await;
    server.wait_connected(client.id()).await;

    // And gossip flows again, once each side has the other in its mesh (the server publishes,
    // so it must know the client subscribes).
    client.wait_in_mesh(TOPIC, server_id).await;
    server.wait_in_mesh(TOPIC, client.id()).await;
    server
        .handle
        .publish(TOPIC, b"after restart".to_vec())
        .await
        .unwrap();
    client
        .wait_for("gossip after the restart", |e| match e {
            NetworkEvent::Gossip { data, .. } if data == b"after restart" => Some(()),
            _ => None,
        })
        .await;
    client.handle.shutdown().await;
    server.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_priority_peer_is_redialled_at_the_address_it_announced() {
    // The member dials the hub; the hub learns its listen address only through identify.
    let mut hub = Node::start(config(NodeKey::generate(), vec![], vec![TOPIC])).await;
    let member_key = NodeKey::generate();
    let member = Node::start(config(member_key.clone(), vec![hub.addr()], vec![TOPIC])).await;
    let member_id = member.id();
    let member_addr = member.addr();
    hub.wait_connected(member_id).await;
    hub.handle
        .set_priority_peers(vec![member_id])
        .await
        .unwrap();
    let hub_handle = hub.handle.clone();
    until("the hub to learn the member's address", || {
        let (hub, addr) = (hub_handle.clone(), member_addr.clone());
        async move {
            hub.known_addresses(member_id)
                .await
                .unwrap()
                .contains(&addr)
        }
    })
    .await;

    member.handle.shutdown().await;
    hub.wait_for("the member to disconnect", |e| {
        (*e == NetworkEvent::PeerDisconnected(member_id)).then_some(())
    })
    .await;
    let _member = restart(&member_key, &member_addr, vec![]).await;
    hub.wait_connected(member_id).await;

    // A peer that is no longer a priority peer is not redialled.
    hub.handle.set_priority_peers(vec![]).await.unwrap();
    _member.handle.shutdown().await;
    hub.wait_for("the member to disconnect again", |e| {
        (*e == NetworkEvent::PeerDisconnected(member_id)).then_some(())
    })
    .await;
    let _member = restart(&member_key, &member_addr, vec![]).await;
    // Give the hub several backoff periods (1 s at most each) to redial, which it must not.
    let redialled = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        hub.wait_for("", |e| {
            matches!(e, NetworkEvent::PeerConnected(_)).then_some(())
        })
        .await
    })
    .await;
    assert!(redialled.is_err(), "an unwanted peer was redialled");
    assert!(hub_handle.peers().is_empty());
    hub.handle.shutdown().await;
    _member.handle.shutdown().await;
}
