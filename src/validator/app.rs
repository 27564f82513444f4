//! The narrow interface between a consensus host and the chain it orders. The host
//! (`super::host`) and its worker (`super::worker`) are the same for the beacon chain and every
//! shard; what differs is behind [`Application`]: how a block is built on a parent, checked,
//! finalized with its certificate, served to a syncing peer and applied from one.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::B256;
use futures::future::BoxFuture;
use kaimeng_consensus::{Digest, SignedVote, ValidatorIndex, ValidatorSet};
use kaimeng_network::{Chain, PeerId};

/// A block hash as the engine's payload digest.
pub fn digest(hash: B256) -> Digest {
    Digest(hash.0)
}

/// Seconds since the Unix epoch: a proposer's block timestamp.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// One epoch of a chain as the finalized state describes it.
pub struct EpochPlan {
    pub epoch: u64,
    pub validators: ValidatorSet,
    /// The peer behind each validator index.
    pub peers: Vec<Option<PeerId>>,
    /// The epoch's last height.
    pub last_height: u64,
}

/// What a final block's certificate finalized on this chain.
pub enum Finalized {
    /// These heights are final now.
    Heights(Vec<u64>),
    /// The block is not known here: the node fell behind and must sync.
    Unknown,
}

/// Why a proposal body could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    /// It names transactions, by these hashes, that this node does not hold (ADR 0117): fetch
    /// them from a peer and decode again.
    Missing(Vec<[u8; 32]>),
    /// It is malformed or invalid.
    Invalid(String),
}

/// A chain that a consensus host orders.
pub trait Application: Send + Sync + 'static {
    /// A proposal's body as decoded off the network.
    type Body: Send + Sync + 'static;

    /// Which chain this is (network topics and sync requests carry it).
    fn chain(&self) -> Chain;
    /// The domain this chain's votes are signed in.
    fn namespace(&self) -> Vec<u8>;
    /// A short name for logs and metrics (`beacon`, `shard-0`).
    fn name(&self) -> String;
    /// The finalized head: height and block hash.
    fn head(&self) -> (u64, Digest);
    /// The epoch that the block after the finalized head belongs to. An error means the
    /// chain cannot know it yet (a shard waiting for its beacon chain); the host asks again.
    fn epoch_plan(&self) -> anyhow::Result<EpochPlan>;

    /// Decodes a proposal body from a peer (on the blocking pool): its digest and body.
    /// `fetched` are transactions a peer sent for the hashes of an earlier
    /// [`BodyError::Missing`], unchecked.
    fn decode_body(
        &self,
        bytes: &[u8],
        fetched: &[Vec<u8>],
    ) -> Result<(Digest, Self::Body), BodyError>;
    /// Builds a block on `parent` at `height` as `proposer` (this node, the view's leader):
    /// its digest and the bytes to gossip.
    fn build(
        &self,
        parent: Digest,
        height: u64,
        proposer: ValidatorIndex,
    ) -> Result<(Digest, Vec<u8>), String>;
    /// Checks a peer's proposal on `parent` at `height` by `proposer` (the view's leader),
    /// executing it, and keeps it.
    fn verify(
        &self,
        parent: Digest,
        height: u64,
        proposer: ValidatorIndex,
        body: &Self::Body,
    ) -> Result<(), String>;
    /// Whether a block kept before (built here, or checked before a restart) is on `parent`
    /// at `height` by `proposer`; `None` if no such block is kept.
    fn verify_kept(
        &self,
        payload: Digest,
        parent: Digest,
        height: u64,
        proposer: ValidatorIndex,
    ) -> Option<bool>;
    /// Finalizes `payload` and its unfinalized ancestors with `certificate`. An error is a
    /// failed write of final data: the chain stops rather than diverge.
    fn finalize(&self, payload: Digest, certificate: &[u8]) -> anyhow::Result<Finalized>;

    /// Called before each round of block sync: whether to go on with it. A chain may first
    /// take a state snapshot instead of replaying from genesis (shards do).
    fn before_block_sync(&self, network: &kaimeng_network::NetworkHandle) -> bool {
        let _ = network;
        true
    }

    /// A final block with its certificate, as block sync serves it.
    fn serve(&self, height: u64) -> Option<Vec<u8>>;
    /// Checks and applies blocks a peer served, in order from the head: only those a
    /// certificate proves final. Returns how many were applied.
    fn apply_synced(&self, answer: Vec<Vec<u8>>) -> Result<usize, String>;

    /// A validator of this chain signed two conflicting votes with `key`: evidence for the
    /// beacon chain to record.
    fn report_fault(&self, key: Vec<u8>, first: SignedVote, second: SignedVote);

    /// Transactions of this chain gossiped by a peer.
    fn on_transactions(&self, data: Vec<u8>);
    /// Waits (at most `idle`) until there is something to put in a block.
    fn wait_for_work(self: Arc<Self>, idle: Duration) -> BoxFuture<'static, ()>;
}
