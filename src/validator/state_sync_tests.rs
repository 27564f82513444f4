//! The snapshot download against peers that lie, are not ready, or fail: every part is
//! checked on arrival, a peer whose part fails its check is not asked again, and the honest
//! peers' parts are what is kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloy_primitives::U256;
use kaimeng_genesis::{DevOptions, GenesisSpec};
use kaimeng_network::NodeKey;
use kaimeng_shards::ShardChain;

use super::*;

/// How a test peer answers.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Honest,
    /// Adds one wei to an account of every chunk it sends.
    AltersChunks,
    /// Sends headers that do not end at the trusted block.
    ForgesHeaders,
    /// Has nothing for the first `n` requests (still reading the snapshot).
    NotReadyFor(usize),
    /// Its requests fail in transport.
    Unreachable,
}

struct TestPeers {
    parts: Vec<Vec<u8>>,
    peers: Vec<(PeerId, Behaviour)>,
    asked: Mutex<HashMap<PeerId, usize>>,
    refused: Mutex<HashSet<PeerId>>,
    served_wrong: AtomicUsize,
}

impl PartSource for TestPeers {
    fn peers(&self) -> Vec<PeerId> {
        let refused = self.refused.lock();
        self.peers
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| !refused.contains(p))
            .collect()
    }

    fn ask(
        &self,
        peer: PeerId,
        part: Part,
    ) -> futures::future::BoxFuture<'_, anyhow::Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            let asked = {
                let mut asked = self.asked.lock();
                let n = asked.entry(peer).or_default();
                *n += 1;
                *n
            };
            let behaviour = self.peers.iter().find(|(p, _)| *p == peer).unwrap().1;
            let honest = self.parts[part.number() as usize].clone();
            Ok(match (behaviour, part) {
                (Behaviour::Honest, _) => Some(honest),
                (Behaviour::AltersChunks, Part::Chunk(_)) => {
                    let mut chunk = parts::decode_chunk(&honest).unwrap();
                    match chunk.first_mut() {
                        Some(account) => account.record.balance += U256::from(1),
                        None => chunk.push(SnapshotAccount {
                            address: alloy_primitives::Address::repeat_byte(9),
                            record: Default::default(),
                            storage: Vec::new(),
                            code: None,
                        }),
                    }
                    self.served_wrong.fetch_add(1, Ordering::Relaxed);
                    Some(parts::encode_chunk(&chunk))
                }
                (Behaviour::AltersChunks, _) => Some(honest),
                (Behaviour::ForgesHeaders, Part::Headers) => {
                    self.served_wrong.fetch_add(1, Ordering::Relaxed);
                    Some(parts::encode_headers(&[]))
                }
                (Behaviour::ForgesHeaders, _) => Some(honest),
                (Behaviour::NotReadyFor(n), _) if asked <= n => None,
                (Behaviour::NotReadyFor(_), _) => Some(honest),
                (Behaviour::Unreachable, _) => anyhow::bail!("could not connect to the peer"),
            })
        })
    }

    fn refuse(&self, peer: PeerId) {
        self.refused.lock().insert(peer);
    }
}

/// A dev genesis state (its accounts spread over many chunks) and its snapshot's parts.
fn snapshot() -> (tempfile::TempDir, Arc<ShardChain>, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    let genesis = GenesisSpec::dev(&DevOptions {
        validators: 4,
        ..DevOptions::default()
    });
    let store = kaimeng_shards::open_store(dir.path(), &Default::default()).unwrap();
    let chain = Arc::new(ShardChain::open(store, &genesis, 0).unwrap());
    let chunks = snapshot_store::read_chunks_at(chain.store(), 0).unwrap();
    assert!(chunks.iter().filter(|c| !c.is_empty()).count() > 3);
    let (encoded, _) =
        encode_snapshot(chain.store(), &[chain.header(0).unwrap().unwrap()]).unwrap();
    (dir, chain, encoded)
}

fn peer() -> PeerId {
    NodeKey::generate().peer_id()
}

fn run(peers: Vec<(PeerId, Behaviour)>) -> (anyhow::Result<Snapshot>, TestPeers, Arc<ShardChain>) {
    let (_dir, chain, parts) = snapshot();
    let source = TestPeers {
        parts,
        peers,
        asked: Mutex::new(HashMap::new()),
        refused: Mutex::new(HashSet::new()),
        served_wrong: AtomicUsize::new(0),
    };
    let target = chain.header(0).unwrap().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let result = runtime.block_on(fetch(&source, &target, 0, Duration::from_secs(2)));
    (result, source, chain)
}

#[test]
fn a_peer_that_alters_a_chunk_is_refused_and_the_honest_peers_parts_are_kept() {
    let (liar, forger, slow, down, honest) = (peer(), peer(), peer(), peer(), peer());
    // Part n is asked of peer n % 5 first: the manifest (256) of the slow one, the headers
    // (257) of the forger, chunk 0 of the liar.
    let (result, source, chain) = run(vec![
        (liar, Behaviour::AltersChunks),
        (slow, Behaviour::NotReadyFor(3)),
        (forger, Behaviour::ForgesHeaders),
        (down, Behaviour::Unreachable),
        (honest, Behaviour::Honest),
    ]);
    let snapshot = result.unwrap();
    // Every part is the honest one: the state installs and gives genesis's root.
    let expected = snapshot_store::read_chunks_at(chain.store(), 0).unwrap();
    assert_eq!(snapshot.chunks, expected);
    snapshot_store::check(&snapshot.manifest, &snapshot.chunks, &snapshot.headers).unwrap();
    // The liars sent wrong parts and were dropped; the others were not.
    assert_eq!(source.served_wrong.load(Ordering::Relaxed), 2);
    let refused = source.refused.lock().clone();
    assert_eq!(refused, HashSet::from([liar, forger]));
    assert!(
        source.asked.lock()[&slow] > 3,
        "the slow peer was asked again"
    );
}

#[test]
fn only_liars_means_no_snapshot_and_an_error_that_says_why() {
    let (result, source, _chain) = run(vec![(peer(), Behaviour::ForgesHeaders)]);
    // The forger is refused at the headers; with nobody left the download gives up at the
    // deadline: here, the manifest came, the headers never do.
    assert_eq!(source.refused.lock().len(), 1);
    let error = format!("{:#}", result.err().unwrap());
    assert!(error.contains("Headers"), "{error}");
}

#[test]
fn a_read_starts_only_for_the_newest_epoch_ends_and_not_again_within_the_gap() {
    let now = std::time::Instant::now();
    // Epochs of 10 blocks, head 67: the newest four ends are 60, 50, 40 and 30.
    for height in [60, 50, 40, 30] {
        assert!(may_build(height, 67, 0, 10, None, now), "height {height}");
    }
    for height in [0, 20, 35, 70, u64::MAX] {
        assert!(!may_build(height, 67, 0, 10, None, now), "height {height}");
    }
    // Not below what this store itself was installed at.
    assert!(!may_build(30, 67, 31, 10, None, now));
    // A flood of requests for other heights after a read started waits out the gap.
    let started = now;
    assert!(!may_build(
        50,
        67,
        0,
        10,
        Some(started),
        now + Duration::from_secs(1)
    ));
    assert!(may_build(50, 67, 0, 10, Some(started), now + MIN_BUILD_GAP));
}
