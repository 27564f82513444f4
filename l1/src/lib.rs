//! Kaimeng's beacon chain (L1): its blocks, state and rules as pure code (`beacon`, `governance`,
//! `membership`, `epoch`), the consensus suite's signer (`signing`), and the node's durable storage
//! layer, which every chain in a node (the beacon chain and each shard) opens in its own
//! directory.

pub mod beacon;
pub mod committees;
pub mod epoch;
pub mod governance;
pub mod membership;
pub mod signing;
pub mod storage;

pub use storage::{Store, StoreError, WriteBatch};
