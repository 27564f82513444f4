//! Integration tests of `kaimeng-network`: real libp2p nodes on 127.0.0.1. Every wait is on an
//! event or a condition, bounded by a timeout.

mod direct;
mod flood;
mod fuzz;
mod genesis_keys;
mod harness;
mod malformed;
mod mesh;
mod network_id;
mod reconnect;
mod sync;
mod validation;
mod wire_fuzz;
