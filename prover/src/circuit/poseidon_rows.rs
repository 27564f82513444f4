//! The row plan of one Poseidon permutation in a twin-lane block, its per-row constants, and
//! the witness values of every row.
//!
//! A permutation spans rows `0..=27` of a block; row 27 is the output and doubles as row 0 of
//! the next block. Row `i` carries the state before the rounds its gate applies:
//!
//! | rows | gate | rounds |
//! |---|---|---|
//! | 0 | a *first* full round (fresh input, absorb, or Merkle swap) | 0 |
//! | 1..=3 | full | 1..=3 |
//! | 4..=21 | three partial rounds, two S-box outputs witnessed | 4..=57 |
//! | 22 | two partial rounds, one S-box output witnessed | 58..=59 |
//! | 23..=26 | full | 60..=63 |
//!
//! Partial-round gates fold the linear layers into per-row constants `k0..k4`. The `x` cells of
//! a partial row hold the S-box *inputs* of its second and third rounds (the first is
//! `s0 + k0`), so every S-box output in the gate is a fifth power of one cell; the next row's
//! state is checked through `M^-1`.

use ff::Field;
use kaimeng_rollup::poseidon::{self, constants, State};
use kaimeng_rollup::Fp;

/// Rows a permutation advances the layout by (its output row is the next block's row 0).
pub const BLOCK_ROWS: usize = 27;

/// What gate a row of a block carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowGate {
    /// Full round `round` (row 0 is the block's first round; its gate depends on the block).
    Full(usize),
    /// Partial rounds `round..round + 3`.
    Partial3(usize),
    /// Partial rounds `round..round + 2`.
    Partial2(usize),
}

/// The gate of row `row` (0..27) of a block.
pub fn row_gate(row: usize) -> RowGate {
    match row {
        0..=3 => RowGate::Full(row),
        4..=21 => RowGate::Partial3(4 + 3 * (row - 4)),
        22 => RowGate::Partial2(58),
        23..=26 => RowGate::Full(60 + (row - 23)),
        _ => panic!("a block has 27 gate rows"),
    }
}

fn mds() -> &'static [[Fp; 3]; 3] {
    &constants().mds
}

fn rc(round: usize) -> [Fp; 3] {
    constants().round_constants[round]
}

/// The fixed constants `k0..k4` of a row (capacities for fresh inputs are set separately).
pub fn row_constants(gate: RowGate) -> [Fp; 5] {
    let m = mds();
    match gate {
        RowGate::Full(round) => {
            let c = rc(round);
            [c[0], c[1], c[2], Fp::ZERO, Fp::ZERO]
        }
        RowGate::Partial3(r) => {
            let (a, b, c) = (rc(r), rc(r + 1), rc(r + 2));
            let k0 = a[0];
            let k1 = m[0][1] * a[1] + m[0][2] * a[2] + b[0];
            let c1 = m[1][1] * a[1] + m[1][2] * a[2] + b[1];
            let c2 = m[2][1] * a[1] + m[2][2] * a[2] + b[2];
            let w = |i: usize| m[i][1] * c1 + m[i][2] * c2 + c[i];
            [k0, k1, w(0), w(1), w(2)]
        }
        RowGate::Partial2(r) => {
            let (a, b) = (rc(r), rc(r + 1));
            let k0 = a[0];
            let k1 = m[0][1] * a[1] + m[0][2] * a[2] + b[0];
            let c1 = m[1][1] * a[1] + m[1][2] * a[2] + b[1];
            let c2 = m[2][1] * a[1] + m[2][2] * a[2] + b[2];
            [k0, k1, c1, c2, Fp::ZERO]
        }
    }
}

/// The witness of one block row: the state and the S-box outputs (partial rows only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowValues {
    /// The state carried by this row.
    pub state: State,
    /// S-box inputs witnessed in this row (zero where unused).
    pub x: [Fp; 2],
}

/// The states of rows `1..=27` of a block whose permutation input is `input` (row 0's gate
/// input, after absorption or swapping), plus the S-box witnesses of rows `1..=26`.
///
/// Index `i` of the result is row `i + 1`; the row-0 values are the caller's.
pub fn block_rows(input: State) -> Vec<RowValues> {
    let mut out = Vec::with_capacity(BLOCK_ROWS);
    // Row 0 applies round 0 from `input`.
    let mut state = poseidon::full_round(&input, 0);
    for row in 1..=BLOCK_ROWS {
        if row == BLOCK_ROWS {
            out.push(RowValues {
                state,
                x: [Fp::ZERO; 2],
            });
            break;
        }
        let (next, x) = match row_gate(row) {
            RowGate::Full(round) => (poseidon::full_round(&state, round), [Fp::ZERO; 2]),
            RowGate::Partial3(r) => {
                let t = poseidon::partial_round(&state, r);
                let u2 = t[0] + rc(r + 1)[0];
                let w = poseidon::partial_round(&t, r + 1);
                let u3 = w[0] + rc(r + 2)[0];
                (poseidon::partial_round(&w, r + 2), [u2, u3])
            }
            RowGate::Partial2(r) => {
                let t = poseidon::partial_round(&state, r);
                let u2 = t[0] + rc(r + 1)[0];
                (poseidon::partial_round(&t, r + 1), [u2, Fp::ZERO])
            }
        };
        out.push(RowValues { state, x });
        state = next;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kaimeng_rollup::poseidon::sbox;

    #[test]
    fn rows_cover_every_round_once() {
        let mut rounds = Vec::new();
        for row in 0..BLOCK_ROWS {
            match row_gate(row) {
                RowGate::Full(r) => rounds.push(r),
                RowGate::Partial3(r) => rounds.extend([r, r + 1, r + 2]),
                RowGate::Partial2(r) => rounds.extend([r, r + 1]),
            }
        }
        assert_eq!(rounds, (0..64).collect::<Vec<_>>());
    }

    #[test]
    fn block_output_is_the_permutation() {
        let input = [Fp::from(3), Fp::from(5), Fp::from(7)];
        let rows = block_rows(input);
        assert_eq!(rows.len(), BLOCK_ROWS);
        assert_eq!(rows[BLOCK_ROWS - 1].state, poseidon::permute(&input));
    }

    #[test]
    fn partial_row_constants_reproduce_the_rounds() {
        // Check the folded P3 relation against direct evaluation at one row.
        let m = mds();
        let minv = &constants().mds_inv;
        let s = [Fp::from(11), Fp::from(13), Fp::from(17)];
        let r = 4;
        let k = row_constants(RowGate::Partial3(r));
        let x1 = sbox(s[0] + k[0]);
        let t0 = m[0][0] * x1 + m[0][1] * s[1] + m[0][2] * s[2];
        let x2 = sbox(t0 + k[1]);
        let tt = |i: usize| m[i][0] * x1 + m[i][1] * s[1] + m[i][2] * s[2];
        let w = |i: usize| m[i][0] * x2 + m[i][1] * tt(1) + m[i][2] * tt(2);
        let next = {
            let a = poseidon::partial_round(&s, r);
            let b = poseidon::partial_round(&a, r + 1);
            poseidon::partial_round(&b, r + 2)
        };
        let minv_next = |i: usize| minv[i][0] * next[0] + minv[i][1] * next[1] + minv[i][2] * next[2];
        assert_eq!(minv_next(0), sbox(w(0) + k[2]));
        assert_eq!(minv_next(1), w(1) + k[3]);
        assert_eq!(minv_next(2), w(2) + k[4]);
    }
}
