//! A Kaimeng execution shard: an Ethereum-compatible EVM chain (revm) with its own state, pool
//! and blocks, stored in RocksDB and committed by an incremental sparse Merkle tree.

pub mod account;
pub mod admission;
pub mod block;
pub mod call;
pub mod chain;
pub mod commit;
pub mod commitment;
pub mod events;
pub mod executor;
pub mod fees;
pub mod journal;
pub mod layers;
pub mod logs;
pub mod overlay;
pub mod pending_index;
pub mod pool;
pub mod precompiles;
pub mod schema;
pub mod sealer;
pub mod simulate;
pub mod state;
pub mod state_cache;
pub mod trace;
pub mod tx;
pub mod tx_receipt;
pub mod wire;

pub use block::{SealedHeader, StoredBlock, StoredReceipt};
pub use chain::{
    BlockRules, ChainError, ProposedBlock, ShardChain, ShardConfig, SubmitError, TxStatus,
};
pub use events::{ChainEvent, ChainEvents, EventSender};
pub use state::{StateAt, StateError};
pub use tx::{ShardTx, TxError};

/// Opens a shard's RocksDB store in `dir` with the shard schema. Writes to the consensus
/// column (a validator's own votes) are always fsynced, whatever `options.sync_writes` says:
/// losing a vote that was sent lets the restarted validator vote twice (ADR 0003).
pub fn open_store(
    dir: &std::path::Path,
    options: &kaimeng_l1::storage::StoreOptions,
) -> Result<kaimeng_l1::Store, kaimeng_l1::StoreError> {
    Ok(kaimeng_l1::Store::open(dir, schema::ALL_COLUMNS, options)?
        .with_synced_columns(schema::SYNCED_COLUMNS))
}
