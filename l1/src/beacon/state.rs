//! [`BeaconState`]: the consortium state after a height, with what the node derives at epoch
//! boundaries (the base fees collected in the epoch and the fee shares the next block pays).

use alloy_primitives::{Address, U256};
use kaimeng_genesis::GenesisSpec;

use super::{BeaconError, decode_section};
use crate::governance::{ConsortiumState, EpochTransition};

/// The consortium state after a height, with the epoch's fee accounting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeaconState {
    /// The height this state is after.
    pub height: u64,
    pub consortium: ConsortiumState,
    /// Base fees the treasury collected in the current epoch.
    pub epoch_fees: U256,
    /// Fee shares the next height pays from the treasury (set at an epoch boundary).
    pub payouts: Vec<(Address, U256)>,
}

impl BeaconState {
    pub fn genesis(spec: &GenesisSpec) -> Result<Self, BeaconError> {
        Ok(Self {
            height: 0,
            consortium: ConsortiumState::from_genesis(spec).map_err(BeaconError::Genesis)?,
            epoch_fees: U256::ZERO,
            payouts: Vec::new(),
        })
    }

    /// Applies height `height` (its governance transactions in `section` and the base fees it
    /// collected); at the epoch's last height, ends the epoch. Any refused transaction refuses
    /// the whole height and leaves the state as it was.
    pub fn apply(
        &mut self,
        height: u64,
        section: &[u8],
        base_fees: U256,
    ) -> Result<Option<EpochTransition>, BeaconError> {
        if Some(height) != self.height.checked_add(1) {
            return Err(BeaconError::OutOfOrder {
                at: self.height,
                height,
            });
        }
        let mut next = self.clone();
        for tx in decode_section(section)? {
            next.consortium
                .apply_tx(height, &tx)
                .map_err(BeaconError::Refused)?;
        }
        next.height = height;
        next.payouts.clear();
        next.epoch_fees = next.epoch_fees.saturating_add(base_fees);
        let transition = if height == next.consortium.epoch().last_height {
            let transition = next
                .consortium
                .on_epoch_boundary(height, next.epoch_fees)
                .map_err(|error| BeaconError::Boundary { height, error })?;
            next.epoch_fees = U256::ZERO;
            next.payouts = transition
                .fees
                .payouts
                .iter()
                .filter(|p| !p.amount.is_zero())
                .map(|p| (p.fee_recipient, p.amount))
                .collect();
            Some(transition)
        } else {
            None
        };
        *self = next;
        Ok(transition)
    }

    /// `height (8) ‖ epoch fees (32) ‖ payout count (4) ‖ {address (20) ‖ amount (32)}* ‖
    /// consortium state`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.epoch_fees.to_be_bytes::<32>());
        out.extend_from_slice(&(self.payouts.len() as u32).to_be_bytes());
        for (address, amount) in &self.payouts {
            out.extend_from_slice(address.as_slice());
            out.extend_from_slice(&amount.to_be_bytes::<32>());
        }
        out.extend_from_slice(&self.consortium.encode());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, BeaconError> {
        let short = BeaconError::Corrupt("ends early");
        let height = u64::from_be_bytes(
            bytes
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .ok_or(short.clone())?,
        );
        let epoch_fees = U256::from_be_slice(bytes.get(8..40).ok_or(short.clone())?);
        let count = u32::from_be_bytes(
            bytes
                .get(40..44)
                .and_then(|b| b.try_into().ok())
                .ok_or(short.clone())?,
        ) as usize;
        let mut at = 44;
        let mut payouts = Vec::new();
        for _ in 0..count {
            let entry = bytes.get(at..at + 52).ok_or(short.clone())?;
            payouts.push((
                Address::from_slice(&entry[..20]),
                U256::from_be_slice(&entry[20..]),
            ));
            at += 52;
        }
        let consortium = ConsortiumState::decode(&bytes[at..])
            .map_err(|_| BeaconError::Corrupt("undecodable consortium state"))?;
        Ok(Self {
            height,
            consortium,
            epoch_fees,
            payouts,
        })
    }
}

#[cfg(test)]
mod tests {
    use kaimeng_genesis::{DevOptions, GenesisSpec};

    use super::*;

    fn genesis() -> GenesisSpec {
        let mut spec = GenesisSpec::dev(&DevOptions {
            validators: 4,
            ..DevOptions::default()
        });
        spec.epoch_length = 3;
        spec
    }

    #[test]
    fn heights_apply_in_order_and_an_epoch_pays_out_its_fees() {
        let mut state = BeaconState::genesis(&genesis()).unwrap();
        assert_eq!(
            state.apply(2, &[], U256::ZERO).unwrap_err(),
            BeaconError::OutOfOrder { at: 0, height: 2 }
        );
        assert!(state.apply(1, &[], U256::from(400)).unwrap().is_none());
        assert!(state.apply(2, &[], U256::from(400)).unwrap().is_none());
        let last = state.consortium.epoch().last_height;
        assert_eq!(last, 3);
        let transition = state.apply(3, &[], U256::from(400)).unwrap().unwrap();
        assert_eq!(transition.epoch.epoch, 1);
        assert_eq!(state.epoch_fees, U256::ZERO);
        let paid: U256 = state.payouts.iter().map(|(_, a)| *a).sum();
        assert_eq!(paid, transition.fees.total_paid());
        assert!(!paid.is_zero());
        // The next height pays them and clears them.
        state.apply(4, &[], U256::ZERO).unwrap();
        assert!(state.payouts.is_empty());
    }

    #[test]
    fn a_refused_section_leaves_the_state_as_it_was() {
        let mut state = BeaconState::genesis(&genesis()).unwrap();
        let before = state.clone();
        assert!(matches!(
            state.apply(1, &[0, 0, 0, 2, 9, 9], U256::from(5)),
            Err(BeaconError::Undecodable(_))
        ));
        assert_eq!(state, before);
    }

    #[test]
    fn the_encoding_round_trips_and_truncation_is_refused() {
        let mut state = BeaconState::genesis(&genesis()).unwrap();
        for height in 1..=3 {
            state.apply(height, &[], U256::from(1_000)).unwrap();
        }
        let bytes = state.encode();
        assert_eq!(BeaconState::decode(&bytes).unwrap(), state);
        for cut in [0, 7, 43, 60] {
            assert!(matches!(
                BeaconState::decode(&bytes[..cut]),
                Err(BeaconError::Corrupt(_))
            ));
        }
    }
}
