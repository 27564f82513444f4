//! How a shard block names the beacon block it follows, and the shard's epochs.
//!
//! A shard header's `parent_beacon_block_root` is the hash of a finalized beacon block (as
//! EIP-4788 uses the field); its `extra_data` repeats that block's height and epoch after the
//! `kaimeng` tag, so anyone holding the header (a crosslink, a light client) knows the beacon
//! epoch without a lookup. Shard validators check both against their beacon chain before
//! voting.
//!
//! A shard's epoch k covers its heights `k·L + 1 ..= (k + 1)·L`, L being the genesis epoch
//! length. Its validators are those of the beacon epoch that the last block of shard epoch
//! k − 1 references (genesis for k = 0). So a shard never waits for the beacon chain, and a
//! membership change reaches it at its first epoch end that references the new beacon epoch.

use alloy_consensus::Header;
use alloy_primitives::{B256, Bytes};

use super::BeaconError;

/// The tag every shard block's `extra_data` starts with.
pub const EXTRA_TAG: &[u8] = b"kaimeng";

/// The finalized beacon block a shard block follows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BeaconRef {
    pub root: B256,
    pub height: u64,
    pub epoch: u64,
}

impl BeaconRef {
    /// What a shard's genesis block follows: the beacon genesis (height 0, epoch 0).
    pub const GENESIS: Self = Self {
        root: B256::ZERO,
        height: 0,
        epoch: 0,
    };

    /// `kaimeng ‖ height (8, BE) ‖ epoch (8, BE)`.
    pub fn extra_data(&self) -> Bytes {
        let mut out = EXTRA_TAG.to_vec();
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.into()
    }

    /// The reference a shard header carries (its genesis block follows the beacon genesis).
    pub fn of_header(header: &Header) -> Result<Self, BeaconError> {
        if header.number == 0 {
            return Ok(Self::GENESIS);
        }
        let root = header
            .parent_beacon_block_root
            .ok_or(BeaconError::NoBeaconRef(header.number))?;
        let extra = header.extra_data.as_ref();
        let rest = extra
            .strip_prefix(EXTRA_TAG)
            .filter(|rest| rest.len() == 16)
            .ok_or(BeaconError::NoBeaconRef(header.number))?;
        Ok(Self {
            root,
            height: u64::from_be_bytes(rest[..8].try_into().expect("8 bytes")),
            epoch: u64::from_be_bytes(rest[8..].try_into().expect("8 bytes")),
        })
    }
}

/// The shard epoch of shard height `height` (genesis and heights `1..=length` are epoch 0).
pub fn shard_epoch(height: u64, length: u64) -> u64 {
    height.saturating_sub(1) / length.max(1)
}

/// The last height of shard epoch `epoch`.
pub fn shard_epoch_end(epoch: u64, length: u64) -> u64 {
    epoch.saturating_add(1).saturating_mul(length.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_epochs_tile_the_heights() {
        assert_eq!(shard_epoch(0, 4), 0);
        assert_eq!(shard_epoch(1, 4), 0);
        assert_eq!(shard_epoch(4, 4), 0);
        assert_eq!(shard_epoch(5, 4), 1);
        assert_eq!(shard_epoch_end(0, 4), 4);
        assert_eq!(shard_epoch_end(1, 4), 8);
    }

    #[test]
    fn a_reference_round_trips_through_a_header_and_a_bad_one_is_refused() {
        let reference = BeaconRef {
            root: B256::repeat_byte(7),
            height: 42,
            epoch: 3,
        };
        let mut header = Header {
            number: 9,
            parent_beacon_block_root: Some(reference.root),
            extra_data: reference.extra_data(),
            ..Header::default()
        };
        assert_eq!(BeaconRef::of_header(&header).unwrap(), reference);
        header.extra_data = Bytes::from_static(b"kaimeng");
        assert_eq!(
            BeaconRef::of_header(&header),
            Err(BeaconError::NoBeaconRef(9))
        );
        header.number = 0;
        assert_eq!(BeaconRef::of_header(&header).unwrap(), BeaconRef::GENESIS);
    }
}
