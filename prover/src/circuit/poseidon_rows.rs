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
use kaimeng_rollup::Fp;
use kaimeng_rollup::poseidon::{self, State, constants};

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

/// An affine form `u2·U2 + u3·U3 + s1·S1 + s2·S2 + c` over a partial row's cells (`u2`, `u3`:
/// the witnessed S-box inputs; `s1`, `s2`: state words).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Affine {
    /// Coefficients of `u2, u3, s1, s2`.
    pub coefficients: [Fp; 4],
    /// Constant term.
    pub constant: Fp,
}

impl Affine {
    fn var(i: usize) -> Self {
        let mut coefficients = [Fp::ZERO; 4];
        coefficients[i] = Fp::ONE;
        Self {
            coefficients,
            constant: Fp::ZERO,
        }
    }
    fn constant(c: Fp) -> Self {
        Self {
            coefficients: [Fp::ZERO; 4],
            constant: c,
        }
    }
    fn scale(self, k: Fp) -> Self {
        Self {
            coefficients: self.coefficients.map(|v| v * k),
            constant: self.constant * k,
        }
    }
    fn plus(self, o: Self) -> Self {
        let mut coefficients = self.coefficients;
        for (a, b) in coefficients.iter_mut().zip(o.coefficients) {
            *a += b;
        }
        Self {
            coefficients,
            constant: self.constant + o.constant,
        }
    }
    /// Evaluates the form.
    #[cfg(test)]
    pub fn eval(&self, u2: Fp, u3: Fp, s1: Fp, s2: Fp) -> Fp {
        let c = &self.coefficients;
        c[0] * u2 + c[1] * u3 + c[2] * s1 + c[3] * s2 + self.constant
    }
}

const U2: usize = 0;
const U3: usize = 1;
const S1: usize = 2;
const S2: usize = 3;

/// `k1`: the constant in `u2 = M00·(s0 + k0)^5 + M01·s1 + M02·s2 + k1`.
fn k1(a: [Fp; 3], b: [Fp; 3]) -> Fp {
    let m = mds();
    m[0][1] * a[1] + m[0][2] * a[2] + b[0]
}

/// The state after a partial round `r` (round constants `a`, next round's `b`), minus the
/// S-box word, written through the relation above so the first S-box output disappears:
/// `(t1 + b1, t2 + b2)` as affine forms in `u2, s1, s2`.
fn after_first(a: [Fp; 3], b: [Fp; 3]) -> [Affine; 2] {
    let m = mds();
    // y1 = (u2 - M01 s1 - M02 s2 - k1) / M00.
    let inv = m[0][0].invert().expect("MDS entries are non-zero");
    let y1 = Affine::var(U2)
        .plus(Affine::var(S1).scale(-m[0][1]))
        .plus(Affine::var(S2).scale(-m[0][2]))
        .plus(Affine::constant(-k1(a, b)))
        .scale(inv);
    [1, 2].map(|i| {
        y1.scale(m[i][0])
            .plus(Affine::var(S1).scale(m[i][1]))
            .plus(Affine::var(S2).scale(m[i][2]))
            .plus(Affine::constant(m[i][1] * a[1] + m[i][2] * a[2] + b[i]))
    })
}

/// The three affine forms of a three-partial-round row: `F2` (with `M00·u2^5 = F2`),
/// `F4 = (M^-1 next)_1` and `F5 = (M^-1 next)_2`.
pub fn p3_forms(a: [Fp; 3], b: [Fp; 3], c: [Fp; 3]) -> [Affine; 3] {
    let m = mds();
    let [p1, p2] = after_first(a, b);
    // u3 = M00 y2 + M01 p1 + M02 p2 + c0  =>  M00 y2 = u3 - M01 p1 - M02 p2 - c0 = F2.
    let f2 = Affine::var(U3)
        .plus(p1.scale(-m[0][1]))
        .plus(p2.scale(-m[0][2]))
        .plus(Affine::constant(-c[0]));
    let y2 = f2.scale(m[0][0].invert().expect("MDS entries are non-zero"));
    let w = |i: usize| {
        y2.scale(m[i][0])
            .plus(p1.scale(m[i][1]))
            .plus(p2.scale(m[i][2]))
            .plus(Affine::constant(c[i]))
    };
    [f2, w(1), w(2)]
}

/// The two affine forms of a two-partial-round row: `(M^-1 next)_1` and `(M^-1 next)_2`.
pub fn p2_forms(a: [Fp; 3], b: [Fp; 3]) -> [Affine; 2] {
    after_first(a, b)
}

/// The fixed constants `k0..k4` of a row (capacities for fresh inputs are set separately).
pub fn row_constants(gate: RowGate) -> [Fp; 5] {
    match gate {
        RowGate::Full(round) => {
            let c = rc(round);
            [c[0], c[1], c[2], Fp::ZERO, Fp::ZERO]
        }
        RowGate::Partial3(r) => {
            let (a, b, c) = (rc(r), rc(r + 1), rc(r + 2));
            let [f2, f4, f5] = p3_forms(a, b, c);
            [a[0], k1(a, b), f2.constant, f4.constant, f5.constant]
        }
        RowGate::Partial2(r) => {
            let (a, b) = (rc(r), rc(r + 1));
            let [p1, p2] = p2_forms(a, b);
            [a[0], k1(a, b), p1.constant, p2.constant, Fp::ZERO]
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
    fn partial_row_relations_hold_on_the_witness() {
        let m = mds();
        let minv = &constants().mds_inv;
        let rows = block_rows([Fp::from(11), Fp::from(13), Fp::from(17)]);
        let zero = [Fp::ZERO; 3];
        let [g2, g4, g5] = p3_forms(zero, zero, zero);
        let [h1, h2] = p2_forms(zero, zero);
        for row in 1..BLOCK_ROWS {
            let (cur, next) = (rows[row - 1], rows[row].state);
            let s = cur.state;
            let [u2, u3] = cur.x;
            let back =
                |i: usize| minv[i][0] * next[0] + minv[i][1] * next[1] + minv[i][2] * next[2];
            let k = row_constants(row_gate(row));
            let c1 = u2 - m[0][0] * sbox(s[0] + k[0]) - m[0][1] * s[1] - m[0][2] * s[2] - k[1];
            match row_gate(row) {
                RowGate::Full(_) => {}
                RowGate::Partial3(_) => {
                    assert_eq!(c1, Fp::ZERO, "row {row}");
                    // Row-independent coefficients plus per-row constants.
                    assert_eq!(g2.eval(u2, u3, s[1], s[2]) + k[2], m[0][0] * sbox(u2));
                    assert_eq!(back(0), sbox(u3));
                    assert_eq!(back(1), g4.eval(u2, u3, s[1], s[2]) + k[3]);
                    assert_eq!(back(2), g5.eval(u2, u3, s[1], s[2]) + k[4]);
                }
                RowGate::Partial2(_) => {
                    assert_eq!(c1, Fp::ZERO, "row {row}");
                    assert_eq!(back(0), sbox(u2));
                    assert_eq!(back(1), h1.eval(u2, u3, s[1], s[2]) + k[2]);
                    assert_eq!(back(2), h2.eval(u2, u3, s[1], s[2]) + k[3]);
                }
            }
        }
    }
}
