//! What a simulation run produced, and the assertions tests make about it.

use super::scenario::{Behaviour, Millis, NodeId};
use crate::types::{Digest, Height};
use std::collections::BTreeMap;

/// One node at the end of a run.
#[derive(Clone, Debug)]
pub struct NodeReport {
    pub behaviour: Behaviour,
    pub up: bool,
    /// Finalized blocks: height → (payload, time first reported).
    pub finalized: BTreeMap<Height, (Digest, Millis)>,
    /// Inputs the engine refused, by reason.
    pub rejections: BTreeMap<&'static str, u64>,
    /// Equivocations this node reported ([`crate::Effect::Fault`]).
    pub faults_reported: u64,
    /// Epoch the node is in at the end.
    pub epoch: u64,
}

impl NodeReport {
    pub fn highest_finalized(&self) -> Height {
        self.finalized.keys().next_back().copied().unwrap_or(0)
    }

    /// Blocks this node finalized after time `t`.
    pub fn finalized_after(&self, t: Millis) -> usize {
        self.finalized.values().filter(|(_, at)| *at > t).count()
    }
}

/// The result of [`super::Scenario::run_for`].
#[derive(Clone, Debug)]
pub struct Outcome {
    pub seed: u64,
    /// Hash of every event processed, in order: equal for equal seeds.
    pub trace_hash: u128,
    pub nodes: Vec<NodeReport>,
    /// Safety violations seen (empty in a correct run).
    pub violations: Vec<String>,
    pub events: u64,
    pub messages_delivered: u64,
    pub end: Millis,
}

impl Outcome {
    /// Panics with the violations if the run was unsafe.
    pub fn assert_safe(&self) {
        assert!(
            self.violations.is_empty(),
            "seed {}: safety violated: {:#?}",
            self.seed,
            self.violations
        );
    }

    /// Panics unless every node that is up at the end finalized at least `blocks` blocks
    /// after time `t`.
    pub fn assert_progress_after(&self, t: Millis, blocks: usize) {
        for (node, report) in self.nodes.iter().enumerate() {
            if report.up {
                let made = report.finalized_after(t);
                assert!(
                    made >= blocks,
                    "seed {}: node {node} finalized {made} blocks after t={t} ms, expected >= {blocks}; \
                     highest {}; rejections {:?}",
                    self.seed,
                    report.highest_finalized(),
                    report.rejections,
                );
            }
        }
    }

    /// The highest height any node finalized.
    pub fn highest_finalized(&self) -> Height {
        self.nodes
            .iter()
            .map(NodeReport::highest_finalized)
            .max()
            .unwrap_or(0)
    }

    /// Heights finalized by `node`.
    pub fn node(&self, node: NodeId) -> &NodeReport {
        &self.nodes[node]
    }
}
