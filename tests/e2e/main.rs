//! End-to-end tests of the `kaimeng` binary: real `kaimeng dev`, `kaimeng node` and
//! `kaimeng testnet` processes on loopback.

mod bad_input;
mod beacon;
mod bridge;
mod cluster;
mod consensus;
mod crossshard;
mod explorer;
mod faults;
mod finality;
mod gov_cli;
mod governance;
mod holding;
mod hostile;
mod node;
mod restart;
mod rollup_precompiles;
mod rpc;
mod sequencer;
mod shards;
mod state_sync;
mod supervisor;
