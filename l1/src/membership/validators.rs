//! The validator set the members make: what the consensus engine, the network and (later) the
//! committee shuffle need of each member, in member order.

use kaimeng_genesis::{HexBytes, Member};
use serde::{Deserialize, Serialize};

/// One validator: a member's consensus-facing identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validator {
    pub organisation: String,
    /// Signs consensus votes and proposals (suite-encoded SEC1, as in genesis).
    pub consensus_key: HexBytes,
    /// The member's VRF public key.
    pub vrf_key: HexBytes,
    /// libp2p peer id of the member's validator node.
    pub peer_id: String,
}

impl Validator {
    /// The validator that `member` runs.
    pub fn of(member: &Member) -> Self {
        Validator {
            organisation: member.organisation.clone(),
            consensus_key: member.consensus_key.clone(),
            vrf_key: member.vrf_key.clone(),
            peer_id: member.peer_id.clone(),
        }
    }
}
