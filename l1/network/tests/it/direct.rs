//! Direct messages (the consensus engine's `SendTo`): delivered to one peer with an ack, under
//! the same caps and topics as gossip.

use kaimeng_network::{Chain, NetworkEvent, NodeKey, Refusal, SendError, Topic};

use crate::harness::{Node, config};

const TOPIC: Topic = Topic::Consensus(Chain::Shard(0));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_message_reaches_only_its_peer() {
    let mut receiver = Node::start(config(NodeKey::generate(), vec![], vec![TOPIC])).await;
    let sender = Node::start(config(
        NodeKey::generate(),
        vec![receiver.addr()],
        vec![TOPIC],
    ))
    .await;
    receiver.wait_connected(sender.id()).await;

    sender
        .handle
        .send_to(receiver.id(), TOPIC, b"certificate".to_vec())
        .await
        .unwrap();
    let (from, topic, data) = receiver
        .wait_for("the direct message", |e| match e {
            NetworkEvent::Direct { from, topic, data } => Some((*from, *topic, data.clone())),
            _ => None,
        })
        .await;
    assert_eq!(
        (from, topic, data),
        (sender.id(), TOPIC, b"certificate".to_vec())
    );

    // A topic the receiver does not carry is refused; an oversized message never leaves.
    let other = Topic::Consensus(Chain::Beacon);
    assert_eq!(
        sender.handle.send_to(receiver.id(), other, vec![1]).await,
        Err(SendError::Refused(Refusal::NotAccepted))
    );
    let too_big = vec![0; (1 << 20) + 1];
    assert!(matches!(
        sender.handle.send_to(receiver.id(), TOPIC, too_big).await,
        Err(SendError::TooLarge { max: 1_048_576, .. })
    ));

    let stats = receiver.handle.stats().topics[&TOPIC];
    assert_eq!((stats.messages_in, stats.bytes_in), (1, 11));
    sender.handle.shutdown().await;
    receiver.handle.shutdown().await;
}
