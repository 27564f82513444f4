//! The scenario builder: how many validators, which faults when, which validators are
//! Byzantine, and how the network behaves.

use super::outcome::Outcome;
use super::runner::Simulation;
use crate::engine::TimeoutConfig;
use crate::types::Height;
use std::collections::BTreeMap;
use std::time::Duration;

/// A simulated node: validators first (node `i` holds key `i`), then twins, then followers.
pub type NodeId = usize;
/// Simulated time in milliseconds.
pub type Millis = u64;

pub fn secs(seconds: u64) -> Millis {
    seconds * 1_000
}

pub fn millis(ms: u64) -> Millis {
    ms
}

/// How a validator behaves on the wire. Every node runs an honest engine; Byzantine
/// behaviours rewrite what it sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Behaviour {
    Honest,
    /// Sends nothing at all.
    Silent,
    /// As leader, sends a conflicting proposal to half the validators, then the original to
    /// everyone (the odd half sees both, in an order the network decides).
    EquivocatingLeader,
    /// Sends conflicting notarize votes to the two halves, and both finalize and nullify.
    EquivocatingVoter,
    /// As leader, proposes payloads the application rejects.
    InvalidProposer,
}

/// One epoch of a reconfiguring scenario.
#[derive(Clone, Debug)]
pub struct EpochPlan {
    /// The keys (node ids of validators) that validate, in validator-index order.
    pub members: Vec<NodeId>,
    /// The epoch's last height (`None` for the final, endless epoch).
    pub last_height: Option<Height>,
}

#[derive(Clone, Debug)]
pub(super) enum Fault {
    Crash { node: NodeId, mid_effects: bool },
    Restart { node: NodeId },
    Partition(Vec<Vec<NodeId>>),
    Heal,
    Loss { parts_per_million: u32 },
}

/// A network of validators and the faults to inject; run it with [`Scenario::run_for`].
#[derive(Clone, Debug)]
pub struct Scenario {
    pub(super) validators: usize,
    pub(super) seed: u64,
    pub(super) latency: (Millis, Millis),
    pub(super) loss_ppm: u32,
    pub(super) timeouts: TimeoutConfig,
    pub(super) app_delay: Millis,
    pub(super) faults: Vec<(Millis, Fault)>,
    pub(super) behaviours: BTreeMap<NodeId, Behaviour>,
    pub(super) twins: Vec<NodeId>,
    pub(super) followers: usize,
    pub(super) epochs: Vec<EpochPlan>,
    pub(super) stop_at_height: Option<Height>,
}

/// A network of `validators` honest validators with a 10–50 ms network, no loss, and a
/// 500 ms base timeout (capped at 4 s).
pub fn cluster(validators: usize) -> Scenario {
    Scenario {
        validators,
        seed: 0,
        latency: (10, 50),
        loss_ppm: 0,
        timeouts: TimeoutConfig {
            base: Duration::from_millis(500),
            max: Duration::from_millis(4_000),
        },
        app_delay: 2,
        faults: Vec::new(),
        behaviours: BTreeMap::new(),
        twins: Vec::new(),
        followers: 0,
        epochs: Vec::new(),
        stop_at_height: None,
    }
}

impl Scenario {
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// One-way message latency, uniform in `min..=max` (the spread is the jitter).
    pub fn latency(mut self, min: Millis, max: Millis) -> Self {
        self.latency = (min, max.max(min));
        self
    }

    /// The fraction of messages lost, from the start.
    pub fn loss(mut self, fraction: f64) -> Self {
        self.loss_ppm = (fraction.clamp(0.0, 1.0) * 1_000_000.0) as u32;
        self
    }

    /// Changes the loss rate at time `at`.
    pub fn loss_at(mut self, at: Millis, fraction: f64) -> Self {
        let parts_per_million = (fraction.clamp(0.0, 1.0) * 1_000_000.0) as u32;
        self.faults.push((at, Fault::Loss { parts_per_million }));
        self
    }

    /// Ends the run as soon as any node finalizes `height` (for benchmarks at zero latency,
    /// where simulated time stands still).
    pub fn stop_at_height(mut self, height: Height) -> Self {
        self.stop_at_height = Some(height);
        self
    }

    /// How long the simulated application takes to build or verify a payload.
    pub fn app_delay(mut self, delay: Millis) -> Self {
        self.app_delay = delay;
        self
    }

    pub fn timeouts(mut self, base: Millis, max: Millis) -> Self {
        self.timeouts = TimeoutConfig {
            base: Duration::from_millis(base),
            max: Duration::from_millis(max),
        };
        self
    }

    /// Makes validator `node` behave as `behaviour`.
    pub fn byzantine(mut self, node: NodeId, behaviour: Behaviour) -> Self {
        self.behaviours.insert(node, behaviour);
        self
    }

    /// Adds a second node holding validator `node`'s key (twins).
    pub fn twin(mut self, node: NodeId) -> Self {
        self.twins.push(node);
        self
    }

    /// Adds a non-member full node that follows the chain without voting.
    pub fn follower(mut self) -> Self {
        self.followers += 1;
        self
    }

    /// Replaces the single endless epoch by `plans` (validator-set changes at epoch ends).
    pub fn epochs(mut self, plans: Vec<EpochPlan>) -> Self {
        self.epochs = plans;
        self
    }

    pub fn crash(self, node: NodeId) -> CrashStep {
        CrashStep {
            scenario: self,
            node,
            mid_effects: false,
        }
    }

    /// Splits the network into `groups` (nodes not listed form one more group).
    pub fn partition(self, groups: &[&[NodeId]]) -> PartitionStep {
        PartitionStep {
            scenario: self,
            groups: groups.iter().map(|g| g.to_vec()).collect(),
        }
    }

    /// Runs the scenario for `duration` of simulated time.
    pub fn run_for(self, duration: Millis) -> Outcome {
        Simulation::new(self).run(duration)
    }

    pub(super) fn node_count(&self) -> usize {
        self.validators + self.twins.len() + self.followers
    }

    pub(super) fn with_fault(mut self, at: Millis, fault: Fault) -> Self {
        self.faults.push((at, fault));
        self
    }
}

/// `cluster(4).crash(2)` …
pub struct CrashStep {
    scenario: Scenario,
    node: NodeId,
    mid_effects: bool,
}

impl CrashStep {
    /// Crash while the node is performing an input's effects, at a random effect.
    pub fn mid_effects(mut self) -> Self {
        self.mid_effects = true;
        self
    }

    /// … `.at(t)` …
    pub fn at(self, at: Millis) -> Crashed {
        let fault = Fault::Crash {
            node: self.node,
            mid_effects: self.mid_effects,
        };
        Crashed {
            scenario: self.scenario.with_fault(at, fault),
            node: self.node,
        }
    }
}

/// … `.restart(t)` or `.forever()`.
pub struct Crashed {
    scenario: Scenario,
    node: NodeId,
}

impl Crashed {
    /// Restart from the node's persisted records only.
    pub fn restart(self, at: Millis) -> Scenario {
        self.scenario
            .with_fault(at, Fault::Restart { node: self.node })
    }

    pub fn forever(self) -> Scenario {
        self.scenario
    }
}

/// `cluster(4).partition(&[&[0, 1], &[2, 3]])` …
pub struct PartitionStep {
    scenario: Scenario,
    groups: Vec<Vec<NodeId>>,
}

impl PartitionStep {
    /// … `.at(t)` …
    pub fn at(self, at: Millis) -> Partitioned {
        Partitioned {
            scenario: self.scenario.with_fault(at, Fault::Partition(self.groups)),
        }
    }
}

/// … `.heal(t)` or `.forever()`.
pub struct Partitioned {
    scenario: Scenario,
}

impl Partitioned {
    pub fn heal(self, at: Millis) -> Scenario {
        self.scenario.with_fault(at, Fault::Heal)
    }

    pub fn forever(self) -> Scenario {
        self.scenario
    }
}
