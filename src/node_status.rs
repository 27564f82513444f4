//! The node's answer to `net_peerCount`, `net_listening` and `eth_syncing`
//! ([`kaimeng_rpc::NodeStatus`]): peers and listen addresses from the libp2p network; sync
//! progress from the highest final height the node has seen on the network against the height
//! its chain has stored.
//!
//! The consensus engine learns a height is final (from the network's certificates) before the
//! chain stores that block; while it is more than [`SYNC_SLACK`] blocks ahead the node is
//! catching up, and `eth_syncing` says from where, where and to where.

use std::sync::Arc;

use kaimeng_network::NetworkHandle;
use kaimeng_rpc::{NodeStatus, SyncProgress};
use kaimeng_shards::ShardChain;
use parking_lot::Mutex;

/// Blocks the chain may be behind the highest final height seen and still count as in sync:
/// in normal running the engine learns a block is final a moment before the chain stores it.
pub const SYNC_SLACK: u64 = 2;

/// [`NodeStatus`] over a running network and one chain.
pub struct NetworkStatus {
    network: NetworkHandle,
    chain: Arc<ShardChain>,
    /// The highest final height seen from the network.
    highest_seen: Box<dyn Fn() -> u64 + Send + Sync>,
    /// The head when the current sync began; `None` while in sync.
    sync_start: Mutex<Option<u64>>,
}

impl NetworkStatus {
    /// `highest_seen` reads the highest final height the node has seen from its peers. A
    /// node starts out counting as syncing from its head at start, so that a catch-up right
    /// after a restart reports where it began.
    pub fn shared(
        network: NetworkHandle,
        chain: Arc<ShardChain>,
        highest_seen: impl Fn() -> u64 + Send + Sync + 'static,
    ) -> Arc<dyn NodeStatus> {
        let start = chain.head().number();
        Arc::new(NetworkStatus {
            network,
            chain,
            highest_seen: Box::new(highest_seen),
            sync_start: Mutex::new(Some(start)),
        })
    }
}

impl NodeStatus for NetworkStatus {
    fn peer_count(&self) -> u64 {
        self.network.peers().len() as u64
    }

    fn listening(&self) -> bool {
        !self.network.listen_addrs().is_empty()
    }

    fn sync_progress(&self) -> Option<SyncProgress> {
        progress(
            &self.sync_start,
            self.chain.head().number(),
            (self.highest_seen)(),
        )
    }
}

/// The sync state of a chain at `current` when the network is at `highest`; remembers in
/// `sync_start` where a sync began and forgets it once in sync.
fn progress(sync_start: &Mutex<Option<u64>>, current: u64, highest: u64) -> Option<SyncProgress> {
    let mut start = sync_start.lock();
    if highest <= current.saturating_add(SYNC_SLACK) {
        *start = None;
        return None;
    }
    let starting_block = *start.get_or_insert(current);
    Some(SyncProgress {
        starting_block: starting_block.min(current),
        current_block: current,
        highest_block: highest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_sync_within_the_slack_and_syncing_beyond_it() {
        let start = Mutex::new(Some(10));
        assert_eq!(progress(&start, 10, 10 + SYNC_SLACK), None);
        assert_eq!(*start.lock(), None, "in sync forgets the start");
        let behind = progress(&start, 20, 21 + SYNC_SLACK).expect("syncing");
        assert_eq!(
            behind,
            SyncProgress {
                starting_block: 20,
                current_block: 20,
                highest_block: 21 + SYNC_SLACK,
            }
        );
        // The start stays while the sync goes on.
        let later = progress(&start, 25, 40).expect("syncing");
        assert_eq!((later.starting_block, later.current_block), (20, 25));
        assert_eq!(progress(&start, 40, 40), None);
    }

    #[test]
    fn a_catch_up_after_a_restart_starts_at_the_head_at_start() {
        let start = Mutex::new(Some(7));
        let first = progress(&start, 9, 500).expect("syncing");
        assert_eq!(first.starting_block, 7);
    }
}
