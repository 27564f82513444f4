//! A deterministic simulation of a validator network driving real [`crate::Engine`]s.
//!
//! One seeded random generator decides every latency, loss and crash point, and events are
//! processed in (time, sequence) order, so a seed replays exactly: every run records a trace
//! hash to prove it. Scenarios read like the fault they describe:
//!
//! ```
//! use kaimeng_consensus::sim::{cluster, secs};
//! let outcome = cluster(4).seed(7).crash(2).at(secs(2)).restart(secs(5)).run_for(secs(12));
//! outcome.assert_safe();
//! outcome.assert_progress_after(secs(6), 3);
//! ```
//!
//! Submodules: `scenario` (the builder), `runner` (event loop and host), `network` (latency,
//! loss, partitions), `byzantine` (faulty behaviours), `monitor` (safety and equivocation
//! checks), `outcome` (results and assertions), `mock_crypto`, `rng`.

mod byzantine;
mod mock_crypto;
mod monitor;
mod network;
mod outcome;
mod rng;
mod runner;
mod scenario;

pub use mock_crypto::{MockScheme, MockSigner};
pub use outcome::{NodeReport, Outcome};
pub use rng::SimRng;
pub use scenario::{
    Behaviour, CrashStep, Crashed, EpochPlan, Millis, NodeId, PartitionStep, Partitioned, Scenario,
    cluster, millis, secs,
};

/// The namespace simulated chains sign under.
pub const SIM_NAMESPACE: &[u8] = b"kaimeng/sim";
