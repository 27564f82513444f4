//! A small seeded random number generator (SplitMix64). The simulation needs only speed and
//! reproducibility: the same seed gives the same sequence on every platform.

#[derive(Clone, Debug)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed ^ 0x6b61_696d_656e_6721,
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high` (`low` when the range is empty).
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.next_u64() % (high - low + 1)
    }

    /// True with probability `parts_per_million / 1_000_000`.
    pub fn chance(&mut self, parts_per_million: u32) -> bool {
        (self.next_u64() % 1_000_000) < u64::from(parts_per_million)
    }

    /// A new generator whose sequence is independent of this one's future draws.
    pub fn fork(&mut self) -> SimRng {
        SimRng::new(self.next_u64())
    }
}
