//! EIP-1559 base fee with a governance floor.

/// Base fee of the block after one with `gas_used` of `gas_limit` at `base_fee`, never below `floor`.
pub fn next_base_fee(base_fee: u64, gas_used: u64, gas_limit: u64, floor: u64) -> u64 {
    let target = (gas_limit / 2).max(1) as u128;
    let base = base_fee as u128;
    let used = gas_used as u128;
    let next = if used > target {
        let delta = (base * (used - target) / target / 8).max(1);
        base + delta
    } else {
        base - base * (target - used) / target / 8
    };
    (next.min(u64::MAX as u128) as u64).max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_target_the_fee_holds() {
        assert_eq!(
            next_base_fee(1_000_000_000, 15_000_000, 30_000_000, 0),
            1_000_000_000
        );
    }

    #[test]
    fn full_blocks_raise_it_by_an_eighth_and_empty_ones_lower_it() {
        assert_eq!(
            next_base_fee(1_000_000_000, 30_000_000, 30_000_000, 0),
            1_125_000_000
        );
        assert_eq!(next_base_fee(1_000_000_000, 0, 30_000_000, 0), 875_000_000);
    }

    #[test]
    fn the_floor_holds() {
        assert_eq!(next_base_fee(8, 0, 30_000_000, 7), 7);
        assert_eq!(next_base_fee(7, 0, 30_000_000, 7), 7);
    }

    #[test]
    fn small_fees_still_rise() {
        assert_eq!(next_base_fee(7, 30_000_000, 30_000_000, 7), 8);
    }
}
