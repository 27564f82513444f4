//! Poseidon (P128Pow5T3: width 3, rate 2, x^5 S-box, 8 full and 56 partial rounds) over the
//! Pallas base field, and the hash domains the rollup builds on it.
//!
//! The round constants and MDS matrix are the standard ones shipped by `halo2_poseidon`; the
//! permutation is re-implemented here so that callers (the prover's witness builder) can reuse
//! it round by round, and it is tested against `halo2_poseidon`'s own sponge.
//!
//! Every hash is a constant-length sponge: the capacity element starts at `L * 2^64` for an
//! input of `L` field elements, inputs are absorbed two at a time (zero-padded), and the output
//! is the first state word after the last permutation.

use std::sync::OnceLock;

use ff::{Field, PrimeField};
use halo2_poseidon::{P128Pow5T3, Spec};

use crate::Fp;

/// Width of the permutation state.
pub const WIDTH: usize = 3;
/// Field elements absorbed per permutation.
pub const RATE: usize = 2;
/// Number of full rounds (half before, half after the partial rounds).
pub const FULL_ROUNDS: usize = 8;
/// Number of partial rounds.
pub const PARTIAL_ROUNDS: usize = 56;

/// A permutation state.
pub type State = [Fp; WIDTH];

/// The P128Pow5T3 constants: per-round additive constants, the MDS matrix and its inverse.
#[derive(Debug)]
pub struct Constants {
    /// `FULL_ROUNDS + PARTIAL_ROUNDS` rows of round constants.
    pub round_constants: Vec<[Fp; WIDTH]>,
    /// The MDS matrix applied after every S-box layer.
    pub mds: [[Fp; WIDTH]; WIDTH],
    /// Its inverse.
    pub mds_inv: [[Fp; WIDTH]; WIDTH],
}

/// The standard constants, computed once.
pub fn constants() -> &'static Constants {
    static CONSTANTS: OnceLock<Constants> = OnceLock::new();
    CONSTANTS.get_or_init(|| {
        let (round_constants, mds, mds_inv) = <P128Pow5T3 as Spec<Fp, WIDTH, RATE>>::constants();
        Constants {
            round_constants,
            mds,
            mds_inv,
        }
    })
}

/// The S-box `x^5`.
pub fn sbox(x: Fp) -> Fp {
    let x2 = x.square();
    x2.square() * x
}

/// Multiplies `state` by the MDS matrix.
pub fn apply_mds(state: &State) -> State {
    let mds = &constants().mds;
    let mut out = [Fp::ZERO; WIDTH];
    for (i, row) in mds.iter().enumerate() {
        out[i] = row[0] * state[0] + row[1] * state[1] + row[2] * state[2];
    }
    out
}

/// One full round: add the round constants, S-box every word, mix.
pub fn full_round(state: &State, round: usize) -> State {
    let rc = &constants().round_constants[round];
    apply_mds(&[
        sbox(state[0] + rc[0]),
        sbox(state[1] + rc[1]),
        sbox(state[2] + rc[2]),
    ])
}

/// One partial round: add the round constants, S-box the first word only, mix.
pub fn partial_round(state: &State, round: usize) -> State {
    let rc = &constants().round_constants[round];
    apply_mds(&[sbox(state[0] + rc[0]), state[1] + rc[1], state[2] + rc[2]])
}

/// Whether round `round` (0-based, of 64) is a full round.
pub fn is_full_round(round: usize) -> bool {
    !(FULL_ROUNDS / 2..FULL_ROUNDS / 2 + PARTIAL_ROUNDS).contains(&round)
}

/// The whole permutation.
pub fn permute(state: &State) -> State {
    let mut s = *state;
    for round in 0..FULL_ROUNDS + PARTIAL_ROUNDS {
        s = if is_full_round(round) {
            full_round(&s, round)
        } else {
            partial_round(&s, round)
        };
    }
    s
}

/// The initial capacity element for a constant-length hash of `len` field elements.
pub fn capacity_for_length(len: usize) -> Fp {
    Fp::from_u128((len as u128) << 64)
}

/// The constant-length sponge over any number of field elements.
pub fn hash(inputs: &[Fp]) -> Fp {
    let mut state = [Fp::ZERO, Fp::ZERO, capacity_for_length(inputs.len())];
    for pair in inputs.chunks(RATE) {
        state[0] += pair[0];
        if let Some(second) = pair.get(1) {
            state[1] += second;
        }
        state = permute(&state);
    }
    state[0]
}

/// `H(a, b)`: the Merkle node hash and the public-key commitment.
pub fn hash2(a: Fp, b: Fp) -> Fp {
    permute(&[a, b, capacity_for_length(2)])[0]
}

/// `H(a, b, c, d)`: the account leaf and the priority-queue fold.
pub fn hash4(a: Fp, b: Fp, c: Fp, d: Fp) -> Fp {
    let first = permute(&[a, b, capacity_for_length(4)]);
    permute(&[first[0] + c, first[1] + d, first[2]])[0]
}

/// Converts the low 32 bytes of a canonical little-endian encoding to a field element.
///
/// Returns `None` if `bytes` is not a canonical encoding.
pub fn fp_from_bytes(bytes: [u8; 32]) -> Option<Fp> {
    Option::from(Fp::from_repr(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_poseidon::{ConstantLength, Hash};

    fn reference<const L: usize>(inputs: [Fp; L]) -> Fp {
        Hash::<Fp, P128Pow5T3, ConstantLength<L>, 3, 2>::init().hash(inputs)
    }

    #[test]
    fn matches_the_reference_sponge() {
        let xs: Vec<Fp> = (1..=7u64).map(|i| Fp::from(i * 7919 + 13)).collect();
        assert_eq!(hash2(xs[0], xs[1]), reference([xs[0], xs[1]]));
        assert_eq!(
            hash4(xs[0], xs[1], xs[2], xs[3]),
            reference([xs[0], xs[1], xs[2], xs[3]])
        );
        assert_eq!(hash(&xs[..3]), reference([xs[0], xs[1], xs[2]]));
        assert_eq!(
            hash(&xs[..6]),
            reference([xs[0], xs[1], xs[2], xs[3], xs[4], xs[5]])
        );
        assert_eq!(
            hash(&xs[..7]),
            reference([xs[0], xs[1], xs[2], xs[3], xs[4], xs[5], xs[6]])
        );
    }

    #[test]
    fn round_classification_covers_all_rounds() {
        let full = (0..64).filter(|r| is_full_round(*r)).count();
        assert_eq!(full, FULL_ROUNDS);
        assert!(is_full_round(0) && is_full_round(3) && !is_full_round(4));
        assert!(!is_full_round(59) && is_full_round(60) && is_full_round(63));
    }
}
