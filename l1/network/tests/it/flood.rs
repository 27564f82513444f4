//! One peer floods the transaction topic: its excess is dropped and counted, it is banned,
//! and a well-behaved peer publishing at the same time gets every message through.

use std::time::{Duration, Instant};

use kaimeng_network::{Chain, ClassLimits, NetworkEvent, NodeKey, RateLimit, Topic};

use crate::harness::{Node, config, within};

const TOPIC: Topic = Topic::Transactions(Chain::Shard(0));
const FLOOD: usize = 2_000;
const HONEST: usize = 30;
const RATE: u32 = 20;
const BURST: u32 = 50;
const STRIKES: u32 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_peer_is_throttled_and_banned_while_others_get_through() {
    let mut observer_config = config(NodeKey::generate(), vec![], vec![TOPIC]);
    observer_config.limits.transactions = ClassLimits {
        messages: RateLimit::new(RATE, BURST),
        bytes: RateLimit::new(1 << 20, 1 << 20),
        max_message_bytes: 1 << 10,
    };
    observer_config.limits.ban.strikes = RateLimit::new(0, STRIKES);
    observer_config.limits.ban.duration = Duration::from_secs(600);
    let mut observer = Node::start(observer_config).await;
    let mut flooder = Node::start(config(
        NodeKey::generate(),
        vec![observer.addr()],
        vec![TOPIC],
    ))
    .await;
    let mut honest = Node::start(config(
        NodeKey::generate(),
        vec![observer.addr()],
        vec![TOPIC],
    ))
    .await;
    let (flooder_id, honest_id) = (flooder.id(), honest.id());
    for node in [&mut flooder, &mut honest] {
        node.wait_in_mesh(TOPIC, observer.id()).await;
    }
    observer.wait_in_mesh(TOPIC, flooder_id).await;
    observer.wait_in_mesh(TOPIC, honest_id).await;

    let started = Instant::now();
    let flood = tokio::spawn({
        let handle = flooder.handle.clone();
        async move {
            for i in 0..FLOOD {
                // Fails once the observer has banned us; keep going as a flooder would.
                let _ = handle
                    .publish(TOPIC, format!("flood {i}").into_bytes())
                    .await;
            }
        }
    });
    let calm = tokio::spawn({
        let handle = honest.handle.clone();
        async move {
            for i in 0..HONEST {
                handle
                    .publish(TOPIC, format!("honest {i}").into_bytes())
                    .await
                    .expect("the honest peer stays connected");
                tokio::task::yield_now().await;
            }
        }
    });

    let (mut from_flooder, mut from_honest, mut banned) = (0usize, Vec::new(), None);
    within("all honest messages and the flooder's ban", async {
        while from_honest.len() < HONEST || banned.is_none() {
            match observer.events.recv().await.expect("events") {
                NetworkEvent::Gossip { from, data, .. } if from == flooder_id => {
                    assert!(data.starts_with(b"flood"));
                    from_flooder += 1;
                }
                NetworkEvent::Gossip { from, data, .. } if from == honest_id => {
                    from_honest.push(String::from_utf8(data).unwrap());
                }
                NetworkEvent::PeerBanned { peer, .. } => {
                    assert_eq!(peer, flooder_id, "only the flooder is banned");
                    banned = Some(started.elapsed());
                }
                _ => {}
            }
        }
    })
    .await;
    calm.await.unwrap();
    within("the flood to end", flood).await.unwrap();

    // Every honest message arrived, in order.
    let expected: Vec<_> = (0..HONEST).map(|i| format!("honest {i}")).collect();
    assert_eq!(from_honest, expected);
    // The flooder got no more than its bucket allows over the time it was connected.
    let elapsed = banned.unwrap().as_secs_f64();
    let allowed = BURST as usize + (RATE as f64 * elapsed).ceil() as usize;
    assert!(
        from_flooder <= allowed,
        "{from_flooder} flood messages passed, at most {allowed} allowed in {elapsed:.2}s"
    );
    assert!(
        from_flooder >= BURST as usize,
        "the burst itself passes: {from_flooder}"
    );

    let stats = observer.handle.stats();
    // It was banned on the strike after its last one (messages it still had in flight when
    // its connection closed are dropped too).
    assert!(stats.dropped_rate_limited > u64::from(STRIKES), "{stats:?}");
    assert_eq!(stats.topics[&TOPIC].dropped, stats.dropped_rate_limited);
    assert_eq!(stats.dropped_oversized, 0);
    assert_eq!(
        stats.topics[&TOPIC].messages_in,
        (from_flooder + HONEST) as u64
    );
    assert_eq!((stats.bans, stats.banned_peers), (1, 1));
    assert_eq!(observer.handle.peers(), vec![honest_id]);

    for node in [&observer, &flooder, &honest] {
        node.handle.shutdown().await;
    }
}
