//! Epochs of the beacon chain: which heights an epoch covers and where it ends.
//!
//! The genesis block is height 0 and belongs to no epoch; epoch 0 covers heights
//! `1..=epoch_length`. Each later epoch starts right after the previous one's last height and
//! lasts the `epoch_length` that governance set when it began, so boundaries are not multiples of
//! one number once the length has been changed. Pure: no IO, no clock.

use serde::{Deserialize, Serialize};

/// Height of the genesis block, which precedes epoch 0.
pub const GENESIS_HEIGHT: u64 = 0;

/// One epoch: its number, first height and length in beacon blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochInfo {
    /// Epoch number, from 0.
    pub epoch: u64,
    /// First beacon height of the epoch.
    pub start_height: u64,
    /// Beacon blocks in the epoch, at least 1.
    pub length: u64,
    /// Last beacon height of the epoch: `start_height + length - 1` (saturating). Carried for
    /// JSON readers; always recomputed from the other fields.
    pub last_height: u64,
}

impl EpochInfo {
    /// Epoch 0, which starts right after genesis.
    pub fn first(length: u64) -> Self {
        Self::new(0, GENESIS_HEIGHT + 1, length)
    }

    /// The epoch `epoch` starting at `start_height` with `length` blocks (a length of 0 is
    /// treated as 1, which validation never lets through).
    pub fn new(epoch: u64, start_height: u64, length: u64) -> Self {
        let length = length.max(1);
        EpochInfo {
            epoch,
            start_height,
            length,
            last_height: start_height.saturating_add(length - 1),
        }
    }

    /// Whether `height` belongs to this epoch.
    pub fn contains(&self, height: u64) -> bool {
        (self.start_height..=self.last_height).contains(&height)
    }

    /// The epoch after this one, `next_length` blocks long; `None` when heights would overflow.
    pub fn next(&self, next_length: u64) -> Option<Self> {
        let start = self.last_height.checked_add(1)?;
        Some(Self::new(self.epoch.checked_add(1)?, start, next_length))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_zero_starts_after_genesis_and_epochs_tile_the_heights() {
        let first = EpochInfo::first(3);
        assert_eq!((first.start_height, first.last_height), (1, 3));
        assert!(!first.contains(0) && first.contains(1) && first.contains(3) && !first.contains(4));
        let second = first.next(5).unwrap();
        assert_eq!(
            (second.epoch, second.start_height, second.last_height),
            (1, 4, 8)
        );
        let third = second.next(1).unwrap();
        assert_eq!((third.start_height, third.last_height), (9, 9));
    }

    #[test]
    fn heights_saturate_instead_of_overflowing() {
        let long = EpochInfo::new(7, u64::MAX - 1, u64::MAX);
        assert_eq!(long.last_height, u64::MAX);
        assert!(long.next(1).is_none());
    }
}
