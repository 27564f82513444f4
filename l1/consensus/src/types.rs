//! The consensus vocabulary: views, heights, epochs, validator indices, digests and the
//! proposal header that every vote and certificate is about.
//!
//! Consensus never sees block contents. A proposal names the application's payload by its
//! 32-byte digest and links to its parent by (view, digest); the application's own block
//! format carries whatever else it needs.

use std::fmt;

/// A consensus round. View 0 is the anchor (the genesis block or the last block of the previous
/// epoch); the first real view is 1.
pub type View = u64;
/// A block height. The anchor has the height given in the engine's configuration.
pub type Height = u64;
/// An epoch: a span of heights with one validator set.
pub type Epoch = u64;
/// The position of a validator in its epoch's [`crate::ValidatorSet`].
pub type ValidatorIndex = u32;

/// A 32-byte digest of an application payload (a block hash, as the application defines it).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The all-zero digest, which names no block: an application never proposes it.
    pub const EMPTY: Digest = Digest([0; 32]);
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0[..4] {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "…")
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// The block a proposal extends: the view it was proposed in (0 for the anchor) and its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Parent {
    pub view: View,
    pub digest: Digest,
}

/// What a leader proposes and validators vote on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Proposal {
    pub epoch: Epoch,
    pub view: View,
    /// Height of this block: the parent's height + 1.
    pub height: Height,
    pub parent: Parent,
    /// The application's digest of the block payload.
    pub payload: Digest,
}

impl Proposal {
    /// A padding block carries no payload of its own: it repeats its parent's digest (no real
    /// block can, as a block's hash commits to its parent's). Leaders propose them only past
    /// the epoch's last height, so that the last real block gets finalized through a
    /// descendant when it could not be finalized directly. Every padding above that block
    /// therefore carries its digest, and the finalization of any one of them names the block
    /// it makes final. They are never reported to the application.
    pub fn is_padding(&self) -> bool {
        self.payload == self.parent.digest
    }
}
