//! Gossip across a line of four nodes: every node receives what either end publishes, from the
//! neighbour that forwarded it.

use kaimeng_network::{Chain, NetworkEvent, NodeKey, PublishError, Topic};

use crate::harness::{Node, config};

const TOPIC: Topic = Topic::Consensus(Chain::Beacon);

async fn receive(node: &mut Node, data: &[u8]) -> kaimeng_network::PeerId {
    node.wait_for("the published message", |event| match event {
        NetworkEvent::Gossip {
            from,
            topic,
            data: got,
            ..
        } if *topic == TOPIC && got == data => Some(*from),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_nodes_in_a_line_all_receive_a_published_message() {
    // 0 - 1 - 2 - 3: each node bootstraps from the previous one only.
    let mut nodes: Vec<Node> = Vec::new();
    for i in 0..4 {
        let bootstrap = nodes
            .last()
            .map(|n: &Node| vec![n.addr()])
            .unwrap_or_default();
        nodes.push(Node::start(config(NodeKey::generate(), bootstrap, vec![TOPIC])).await);
        if i > 0 {
            let id = nodes[i - 1].id();
            nodes[i].wait_connected(id).await;
        }
    }
    let ids: Vec<_> = nodes.iter().map(Node::id).collect();
    for i in 0..4 {
        if i > 0 {
            nodes[i].wait_in_mesh(TOPIC, ids[i - 1]).await;
        }
        if i < 3 {
            nodes[i].wait_in_mesh(TOPIC, ids[i + 1]).await;
        }
    }
    // Only neighbours are connected: messages must be forwarded.
    assert_eq!(nodes[0].handle.peers(), vec![ids[1]]);

    let from_end = b"proposal from node 3".to_vec();
    nodes[3]
        .handle
        .publish(TOPIC, from_end.clone())
        .await
        .unwrap();
    for i in 0..3 {
        let via = receive(&mut nodes[i], &from_end).await;
        assert_eq!(
            via,
            ids[i + 1],
            "node {i} hears it from its right neighbour"
        );
    }

    let from_start = b"vote from node 0".to_vec();
    nodes[0]
        .handle
        .publish(TOPIC, from_start.clone())
        .await
        .unwrap();
    for i in 1..4 {
        let via = receive(&mut nodes[i], &from_start).await;
        assert_eq!(via, ids[i - 1], "node {i} hears it from its left neighbour");
    }

    let middle = nodes[1].handle.stats();
    let topic = middle.topics[&TOPIC];
    assert_eq!(topic.messages_in, 2);
    assert_eq!(topic.messages_out, 0);
    assert_eq!(topic.dropped, 0);
    assert_eq!(middle.connected_peers, 2);
    let end = nodes[3].handle.stats().topics[&TOPIC];
    assert_eq!(
        (end.messages_out, end.bytes_out),
        (1, from_end.len() as u64)
    );

    // A topic nobody else carries has no peers to publish to.
    let lonely = Topic::Blocks(Chain::Shard(9));
    assert_eq!(
        nodes[0].handle.publish(lonely, vec![1]).await,
        Err(PublishError::NoPeers(lonely))
    );
    for node in &nodes {
        node.handle.shutdown().await;
    }
}

/// A shard's largest transaction (512 KiB, ADR 0115: a rollup batch's verification is about
/// 250 KB) is gossiped whole; one byte more is refused before it leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_s_largest_transaction_is_gossiped() {
    let topic = Topic::Transactions(Chain::Shard(0));
    let first = Node::start(config(NodeKey::generate(), vec![], vec![topic])).await;
    let mut second =
        Node::start(config(NodeKey::generate(), vec![first.addr()], vec![topic])).await;
    second.wait_connected(first.id()).await;
    first.wait_in_mesh(topic, second.id()).await;
    let largest: Vec<u8> = (0..512 * 1024).map(|i| (i % 251) as u8).collect();
    first.handle.publish(topic, largest.clone()).await.unwrap();
    let got = second
        .wait_for("the largest transaction", |event| match event {
            NetworkEvent::Gossip { topic: t, data, .. } if *t == topic => Some(data.len()),
            _ => None,
        })
        .await;
    assert_eq!(got, largest.len());
    let mut over = largest;
    over.push(0);
    assert!(matches!(
        first.handle.publish(topic, over).await,
        Err(PublishError::TooLarge { max: 524_288, .. })
    ));
}
