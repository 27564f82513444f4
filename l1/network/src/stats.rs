//! Counters the node publishes as metrics ([`NetworkStats`]), and the state the service shares
//! with its handles (connected peers, listen addresses) so that reading them never waits on
//! the network task.

use std::collections::{BTreeMap, BTreeSet};

use parking_lot::Mutex;

use crate::peer::PeerId;
use crate::topic::Topic;

/// Traffic of one topic (gossip and direct messages together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TopicStats {
    /// Messages received and accepted (handed to the node).
    pub messages_in: u64,
    pub bytes_in: u64,
    /// Messages this node published or sent.
    pub messages_out: u64,
    pub bytes_out: u64,
    /// Messages received and dropped: over a rate limit or over the size cap.
    pub dropped: u64,
}

/// A snapshot of the network's counters. All counts are totals since start except
/// `connected_peers` and `banned_peers`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkStats {
    pub connected_peers: u64,
    pub banned_peers: u64,
    pub topics: BTreeMap<Topic, TopicStats>,
    /// Messages and requests dropped because their sender exceeded a rate limit.
    pub dropped_rate_limited: u64,
    /// Messages dropped because they exceeded their class's size cap.
    pub dropped_oversized: u64,
    /// Gossip messages the node reported invalid (node validation on).
    pub rejected_by_node: u64,
    /// Events not delivered because the node's event receiver was full.
    pub dropped_events: u64,
    /// Inbound requests that could not be decoded (malformed or too large); each is answered
    /// with `Refusal::Malformed` and costs its sender a strike.
    pub malformed_requests: u64,
    /// Block sync requests we answered with blocks.
    pub sync_served: u64,
    /// Block sync requests we refused (rate limit, range, busy).
    pub sync_refused: u64,
    /// Block sync requests we sent, and how many of them failed.
    pub sync_requested: u64,
    pub sync_failed: u64,
    /// Bans imposed since start.
    pub bans: u64,
    /// Peers disconnected because they belong to another network (other genesis).
    pub wrong_network: u64,
}

impl NetworkStats {
    pub(crate) fn topic(&mut self, topic: Topic) -> &mut TopicStats {
        self.topics.entry(topic).or_default()
    }
}

/// What the service writes and the handles read.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) stats: Mutex<NetworkStats>,
    pub(crate) peers: Mutex<BTreeSet<PeerId>>,
    pub(crate) listen_addrs: Mutex<Vec<String>>,
}
