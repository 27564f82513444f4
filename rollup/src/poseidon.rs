//! Poseidon (P128Pow5T3: width 3, rate 2, x^5 S-box, 8 full and 56 partial rounds) over the
//! Pallas base field, and the hash domains the rollup builds on it.
//!
//! The round constants and MDS matrix are the standard ones shipped by `halo2_poseidon`. The
//! rounds are re-implemented here so that the prover's witness builder can reuse them one by
//! one. [`permute`] computes the same permutation faster: it moves the partial rounds' constants
//! onto the S-box input and factors their MDS multiplications into sparse matrices (5
//! multiplications instead of 9 per round). It is tested against the round-by-round form and
//! `halo2_poseidon`'s own sponge.
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

/// The whole permutation, round by round as the circuit lays it out.
pub fn permute_by_rounds(state: &State) -> State {
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

/// The whole permutation (the same function as [`permute_by_rounds`], with sparse partial
/// rounds).
pub fn permute(state: &State) -> State {
    let fast = sparse_form();
    let half = FULL_ROUNDS / 2;
    let mut s = *state;
    for round in 0..half {
        s = full_round(&s, round);
    }
    // Partial rounds: the dense part of their matrices, applied once on entry.
    let [[p00, p01], [p10, p11]] = fast.entry;
    s = [s[0], p00 * s[1] + p01 * s[2], p10 * s[1] + p11 * s[2]];
    for (k, round) in fast.constants.iter().zip(&fast.rounds) {
        let x = sbox(s[0] + k);
        s = [
            round.first * x + round.row[0] * s[1] + round.row[1] * s[2],
            round.column[0] * x + s[1],
            round.column[1] * x + s[2],
        ];
    }
    let rc = &fast.after_partial;
    s = apply_mds(&[sbox(s[0] + rc[0]), sbox(s[1] + rc[1]), sbox(s[2] + rc[2])]);
    for round in half + PARTIAL_ROUNDS + 1..FULL_ROUNDS + PARTIAL_ROUNDS {
        s = full_round(&s, round);
    }
    s
}

/// One partial round's sparse matrix `[[first, row], [column, I]]`.
#[derive(Debug)]
pub(crate) struct SparseRound {
    pub(crate) first: Fp,
    pub(crate) row: [Fp; 2],
    pub(crate) column: [Fp; 2],
}

/// The partial rounds rewritten: each adds one constant to the first word, S-boxes it, and
/// multiplies by a sparse matrix; a dense 2×2 block on the last two words comes first, and the
/// constants moved out of the partial rounds join the first full round after them.
#[derive(Debug)]
pub(crate) struct SparseForm {
    pub(crate) entry: [[Fp; 2]; 2],
    pub(crate) constants: Vec<Fp>,
    pub(crate) rounds: Vec<SparseRound>,
    pub(crate) after_partial: [Fp; WIDTH],
}

pub(crate) fn sparse_form() -> &'static SparseForm {
    static FORM: OnceLock<SparseForm> = OnceLock::new();
    FORM.get_or_init(|| {
        let c = constants();
        let m = c.mds;
        let first = FULL_ROUNDS / 2;
        let partial = first..first + PARTIAL_ROUNDS;
        // A partial round adds its constant to all three words, but only the first goes
        // through the S-box: the other two pass through the matrix into the next round's
        // constants, and after the last partial round into the next full round's.
        let mut carry = [Fp::ZERO; WIDTH];
        let mut constants = Vec::with_capacity(PARTIAL_ROUNDS);
        for round in partial.clone() {
            let rc = c.round_constants[round];
            let e = [rc[0] + carry[0], rc[1] + carry[1], rc[2] + carry[2]];
            constants.push(e[0]);
            carry = apply_mds(&[Fp::ZERO, e[1], e[2]]);
        }
        let next = c.round_constants[partial.end];
        let after_partial = [next[0] + carry[0], next[1] + carry[1], next[2] + carry[2]];
        // From the last partial round back: its matrix A = S·P, with P = diag(1, Â) and
        // S = [[a00, aᵀÂ⁻¹], [b, I]]. P commutes with the S-box on the first word, so it moves
        // into the round before: A ← P·M there. What is left after the first round is `entry`.
        let mut a = m;
        let mut rounds = Vec::with_capacity(PARTIAL_ROUNDS);
        let mut entry = [[Fp::ONE, Fp::ZERO], [Fp::ZERO, Fp::ONE]];
        for _ in partial {
            let hat = [[a[1][1], a[1][2]], [a[2][1], a[2][2]]];
            let det = hat[0][0] * hat[1][1] - hat[0][1] * hat[1][0];
            let inv_det = Option::<Fp>::from(det.invert())
                .expect("the MDS matrix's lower block is invertible");
            let inv = [
                [hat[1][1] * inv_det, -hat[0][1] * inv_det],
                [-hat[1][0] * inv_det, hat[0][0] * inv_det],
            ];
            rounds.push(SparseRound {
                first: a[0][0],
                row: [
                    a[0][1] * inv[0][0] + a[0][2] * inv[1][0],
                    a[0][1] * inv[0][1] + a[0][2] * inv[1][1],
                ],
                column: [a[1][0], a[2][0]],
            });
            // A ← diag(1, Â)·M
            a = [
                m[0],
                [
                    hat[0][0] * m[1][0] + hat[0][1] * m[2][0],
                    hat[0][0] * m[1][1] + hat[0][1] * m[2][1],
                    hat[0][0] * m[1][2] + hat[0][1] * m[2][2],
                ],
                [
                    hat[1][0] * m[1][0] + hat[1][1] * m[2][0],
                    hat[1][0] * m[1][1] + hat[1][1] * m[2][1],
                    hat[1][0] * m[1][2] + hat[1][1] * m[2][2],
                ],
            ];
            // After the first partial round, diag(1, Â) is what remains for its input.
            entry = hat;
        }
        rounds.reverse();
        SparseForm {
            entry,
            constants,
            rounds,
            after_partial,
        }
    })
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

    /// The sparse form is the same permutation as the rounds one by one.
    #[test]
    fn the_sparse_form_is_the_same_permutation() {
        let mut state = [Fp::from(3), Fp::from(5), Fp::from(7)];
        for _ in 0..50 {
            let fast = permute(&state);
            assert_eq!(fast, permute_by_rounds(&state));
            state = [fast[1], fast[2] + Fp::ONE, fast[0]];
        }
        for special in [[Fp::ZERO; 3], [-Fp::ONE; 3], [Fp::ZERO, Fp::ZERO, Fp::ONE]] {
            assert_eq!(permute(&special), permute_by_rounds(&special));
        }
    }

    #[test]
    fn round_classification_covers_all_rounds() {
        let full = (0..64).filter(|r| is_full_round(*r)).count();
        assert_eq!(full, FULL_ROUNDS);
        assert!(is_full_round(0) && is_full_round(3) && !is_full_round(4));
        assert!(!is_full_round(59) && is_full_round(60) && is_full_round(63));
    }
}
