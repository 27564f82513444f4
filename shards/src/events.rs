//! What a chain tells its subscribers: new final blocks and newly pooled transactions, on two
//! broadcast channels so that the ring of recent events holds few blocks (a block can be
//! megabytes; a hash is 32 bytes). A subscriber that falls behind either ring gets `Lagged`.

use std::sync::Arc;

use alloy_primitives::B256;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::block::StoredBlock;

/// Blocks kept for subscribers that are behind.
pub const BLOCK_EVENTS: usize = 64;
/// Pooled-transaction hashes kept for subscribers that are behind.
pub const TX_EVENTS: usize = 8192;

/// What subscribers hear about.
#[derive(Clone, Debug)]
pub enum ChainEvent {
    NewBlock(Arc<StoredBlock>),
    PendingTx(B256),
}

/// The sending side, owned by the chain.
pub struct EventSender {
    blocks: broadcast::Sender<Arc<StoredBlock>>,
    txs: broadcast::Sender<B256>,
}

impl Default for EventSender {
    fn default() -> Self {
        Self::with_capacity(BLOCK_EVENTS, TX_EVENTS)
    }
}

impl EventSender {
    /// Rings of the given sizes (tests use small ones).
    pub fn with_capacity(blocks: usize, txs: usize) -> Self {
        Self {
            blocks: broadcast::channel(blocks).0,
            txs: broadcast::channel(txs).0,
        }
    }

    pub fn new_block(&self, block: Arc<StoredBlock>) {
        let _ = self.blocks.send(block);
    }

    pub fn pending_tx(&self, hash: B256) {
        let _ = self.txs.send(hash);
    }

    pub fn subscribe(&self) -> ChainEvents {
        ChainEvents {
            blocks: self.blocks.subscribe(),
            txs: self.txs.subscribe(),
        }
    }
}

/// One subscriber's view of both channels.
pub struct ChainEvents {
    blocks: broadcast::Receiver<Arc<StoredBlock>>,
    txs: broadcast::Receiver<B256>,
}

impl ChainEvents {
    /// The next event, blocks first when both are ready. Cancel-safe.
    pub async fn recv(&mut self) -> Result<ChainEvent, RecvError> {
        tokio::select! {
            biased;
            block = self.blocks.recv() => block.map(ChainEvent::NewBlock),
            hash = self.txs.recv() => hash.map(ChainEvent::PendingTx),
        }
    }
}
