//! Node validation: a relay forwards only what its node accepted, so a message its node
//! rejects (or never judges) stops there, and the sender pays a strike for rejected ones.

use kaimeng_network::{Chain, NetworkEvent, NodeKey, Topic, Validation};

use crate::harness::{Node, config};

const TOPIC: Topic = Topic::Consensus(Chain::Beacon);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_forwards_only_what_its_node_accepts() {
    // publisher - relay - listener; the relay's node validates.
    let mut publisher = Node::start(config(NodeKey::generate(), vec![], vec![TOPIC])).await;
    let mut relay_config = config(NodeKey::generate(), vec![publisher.addr()], vec![TOPIC]);
    relay_config.node_validation = true;
    let mut relay = Node::start(relay_config).await;
    let mut listener =
        Node::start(config(NodeKey::generate(), vec![relay.addr()], vec![TOPIC])).await;
    publisher.wait_connected(relay.id()).await;
    listener.wait_connected(relay.id()).await;
    publisher.wait_in_mesh(TOPIC, relay.id()).await;
    relay.wait_in_mesh(TOPIC, listener.id()).await;

    // The relay's node rejects "bad", never judges "unjudged", accepts "good".
    for data in [&b"bad"[..], b"unjudged", b"good"] {
        publisher
            .handle
            .publish(TOPIC, data.to_vec())
            .await
            .unwrap();
        let id = relay
            .wait_for("the message at the relay", |e| match e {
                NetworkEvent::Gossip { data: got, id, .. } if got == data => Some(id.clone()),
                _ => None,
            })
            .await;
        match data {
            b"bad" => relay.handle.validate(id, Validation::Reject).await.unwrap(),
            b"good" => relay.handle.validate(id, Validation::Accept).await.unwrap(),
            _ => {}
        }
    }
    // Forwarding keeps order on the relay's stream to the listener: had "bad" or "unjudged"
    // been forwarded, it would arrive before "good".
    let first = listener
        .wait_for("the first forwarded message", |e| match e {
            NetworkEvent::Gossip { data, .. } => Some(data.clone()),
            _ => None,
        })
        .await;
    assert_eq!(first, b"good");
    assert_eq!(relay.handle.stats().rejected_by_node, 1);
    for node in [&publisher, &relay, &listener] {
        node.handle.shutdown().await;
    }
}
