//! The beacon side of consensus as pure logic: the consortium state after each height with the
//! epoch's fee accounting ([`BeaconState`]), the governance transactions ordered at a height
//! ([`section`]), and every reason a height is refused ([`BeaconError`]). No IO: the node keeps
//! the state on disk and feeds it heights in order.

mod error;
pub mod section;
mod state;

pub use error::BeaconError;
pub use section::{MAX_GOVERNANCE_TXS, decode_section, encode_section};
pub use state::BeaconState;
