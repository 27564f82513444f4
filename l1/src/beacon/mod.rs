//! The beacon chain as pure logic: its blocks and their encoding ([`block`]), the consortium
//! state after each height with the shards' crosslinks and fee accounting ([`BeaconState`]),
//! the governance transactions ordered at a height ([`section`]), how a shard block names the
//! beacon block it follows ([`reference`]), evidence of conflicting votes ([`evidence`]), and
//! every reason a block is refused
//! ([`BeaconError`]). No IO: the node keeps blocks and state on disk and feeds them in order.

pub mod block;
mod bytes;
mod error;
pub mod evidence;
pub mod reference;
pub mod section;
mod state;
#[cfg(test)]
mod tests;

pub use block::{BeaconBlock, BeaconBody, BeaconHeader, Crosslink};
pub use error::BeaconError;
pub use evidence::{Evidence, EvidenceRecord};
pub use reference::{BeaconRef, shard_epoch, shard_epoch_end};
pub use section::{MAX_GOVERNANCE_TXS, decode_section, encode_section};
pub use state::{
    BeaconState, EpochCommittees, ShardLink, draw_committees, genesis_seed, next_seed,
    validator_set, vrf_input,
};

/// The domain votes on the beacon chain are signed in.
pub const BEACON_NAMESPACE: &[u8] = b"kaimeng/beacon";

/// The domain votes on shard `shard` are signed in.
pub fn shard_namespace(shard: u32) -> Vec<u8> {
    format!("kaimeng/shard/{shard}").into_bytes()
}
