//! What the RPC reports about the node around the chain: its peers, whether it listens for
//! them, and how far it is behind (`net_peerCount`, `net_listening`, `eth_syncing`). The node
//! passes an implementation backed by its network and consensus; [`StandaloneNode`] is the
//! answer of a node without a network (a single local sealer, tests).

use std::sync::Arc;

/// A node's view of its network and sync state, for `net_*` and `eth_syncing`.
pub trait NodeStatus: Send + Sync + 'static {
    /// Connected peers.
    fn peer_count(&self) -> u64;
    /// Whether the node accepts peer connections.
    fn listening(&self) -> bool;
    /// `None` when the node is in sync; otherwise how far it has come.
    fn sync_progress(&self) -> Option<SyncProgress>;
}

/// The block heights of a sync under way, as `eth_syncing` reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncProgress {
    /// The head when this sync began.
    pub starting_block: u64,
    /// The head now.
    pub current_block: u64,
    /// The highest final block the node knows the network has.
    pub highest_block: u64,
}

/// A node without peers: no network, never syncing.
#[derive(Clone, Copy, Debug, Default)]
pub struct StandaloneNode;

impl NodeStatus for StandaloneNode {
    fn peer_count(&self) -> u64 {
        0
    }

    fn listening(&self) -> bool {
        false
    }

    fn sync_progress(&self) -> Option<SyncProgress> {
        None
    }
}

/// [`StandaloneNode`] as the shared handle servers take.
pub fn standalone() -> Arc<dyn NodeStatus> {
    Arc::new(StandaloneNode)
}
