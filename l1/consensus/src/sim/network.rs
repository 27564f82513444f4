//! The simulated network: who can reach whom (partitions), what is lost, how long delivery
//! takes.

use super::rng::SimRng;
use super::scenario::{Millis, NodeId};

#[derive(Debug)]
pub(super) struct Network {
    latency: (Millis, Millis),
    pub loss_ppm: u32,
    /// Group of each node while partitioned.
    groups: Option<Vec<usize>>,
}

impl Network {
    pub fn new(latency: (Millis, Millis), loss_ppm: u32) -> Self {
        Self {
            latency,
            loss_ppm,
            groups: None,
        }
    }

    pub fn partition(&mut self, nodes: usize, groups: &[Vec<NodeId>]) {
        let unlisted = groups.len();
        let mut assignment = vec![unlisted; nodes];
        for (group, members) in groups.iter().enumerate() {
            for node in members {
                if let Some(slot) = assignment.get_mut(*node) {
                    *slot = group;
                }
            }
        }
        self.groups = Some(assignment);
    }

    pub fn heal(&mut self) {
        self.groups = None;
    }

    /// The delivery delay of one message, or `None` if it is lost or cannot cross a partition.
    pub fn route(&self, rng: &mut SimRng, from: NodeId, to: NodeId) -> Option<Millis> {
        if let Some(groups) = &self.groups
            && groups.get(from) != groups.get(to)
        {
            return None;
        }
        if self.loss_ppm > 0 && rng.chance(self.loss_ppm) {
            return None;
        }
        Some(rng.range(self.latency.0, self.latency.1))
    }
}
