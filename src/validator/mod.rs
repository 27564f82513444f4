//! A member's validator (or a non-member follower) of shard 0: the consensus engine
//! (`kaimeng-consensus`) over the libp2p network (`kaimeng-network`), driving the shard chain.
//!
//! - `host`: the event loop; performs the engine's effects in order.
//! - `worker`: builds, checks and finalizes blocks on its own thread; block sync.
//! - `sync`: what block sync serves (blocks with their finality certificates) and its check.
//! - `gossip`: transactions between pools, in batches.
//! - `records`: the engine's votes and certificates on disk.
//! - `epoch`: one epoch's engine from the consortium state (membership changes).
//! - `crypto`: the engine's signer and verifier over the genesis crypto suite.
//! - `admin`: the operator's `admin_*` RPC (peers, deny list).
//! - `beacon`: governance transactions ordered with each block; the consortium state.
//!
//! The design is in `docs/adr/0006-validator-host-and-unfinalized-blocks.md`; finality
//! certificates and block sync in `docs/adr/0017-finality-certificates-stored-and-checked.md`.

mod admin;
pub mod beacon;
pub mod crypto;
pub mod epoch;
mod gossip;
mod host;
mod records;
pub mod sync;
mod worker;

pub use admin::admin_methods;
pub use host::{RunningValidator, ValidatorConfig, ValidatorStatus, start};

/// What the host's loop reacts to besides network events.
pub(crate) enum HostEvent {
    /// An input for the engine (a timer fired, a payload was built or checked).
    Engine(kaimeng_consensus::Input),
    /// A proposal body decoded off the network.
    Body(
        std::sync::Arc<kaimeng_shards::wire::WireBlock>,
        kaimeng_consensus::Digest,
    ),
    /// A timer the engine of `epoch` scheduled fired.
    Timeout {
        epoch: u64,
        timer: kaimeng_consensus::Timer,
    },
    /// An epoch ended with this final block.
    Epoch(Box<kaimeng_l1::governance::EpochTransition>),
}
