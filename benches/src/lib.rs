//! Shared helpers for Kaimeng's benchmarks.

pub mod calibration;
#[cfg(feature = "sequencer")]
pub mod l2_keys;
#[cfg(feature = "shard")]
pub mod shard_fixture;
