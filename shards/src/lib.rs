//! A Kaimeng execution shard: an Ethereum-compatible EVM chain (revm) with its own state, pool
//! and blocks, stored in RocksDB and committed by an incremental sparse Merkle tree.

pub mod account;
pub mod admission;
pub mod block;
pub mod call;
pub mod chain;
pub mod commit;
pub mod commitment;
pub mod crossshard;
pub mod events;
pub mod executor;
pub mod fees;
pub mod finality_clock;
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
pub mod snapshot;
pub mod snapshot_store;
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
    let existing = kaimeng_l1::Store::existing_columns(dir);
    if existing
        .iter()
        .any(|c| c == schema::RETIRED_BEACON_SECTIONS)
    {
        return Err(kaimeng_l1::StoreError::Incompatible {
            path: dir.to_owned(),
            reason: "its shard blocks carry governance sections (ADR 0007), and since ADR 0096 the beacon chain is a chain of its own. Move the node's data directory away and start this version with an empty one: it rebuilds from genesis, by block sync from members that run this version (a network upgrades all members together)".into(),
        });
    }
    Ok(kaimeng_l1::Store::open(dir, schema::ALL_COLUMNS, options)?
        .with_synced_columns(schema::SYNCED_COLUMNS))
}
