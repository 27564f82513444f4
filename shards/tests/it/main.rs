//! Shard integration tests: a real chain on RocksDB in a temporary directory.

mod admission;
mod branches;
mod chain;
mod common;
mod crossshard;
mod erc20;
mod fuzz;
mod gm;
mod pool;
mod rules;
mod snapshot_install;
mod state;
mod tracing;
mod wire;
