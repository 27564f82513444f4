//! The row plan of one Poseidon permutation in a twin-lane block, its per-row constants, and
//! the witness values of every row (ADR 0113).
//!
//! A permutation spans rows `0..=14` of a block; row 14 is the output and doubles as row 0 of
//! the next block. Row `i` carries the state before the rounds its gate applies:
//!
//! | rows | gate | rounds |
//! |---|---|---|
//! | 0 | two full rounds, the first from the block's input (fresh, absorb, or Merkle swap) | 0, 1 |
//! | 1 | two full rounds | 2, 3 |
//! | 2..=10 | six partial rounds, five S-box inputs witnessed | 4..=57 |
//! | 11 | two partial rounds, one S-box input witnessed | 58, 59 |
//! | 12, 13 | two full rounds | 60..=63 |
//!
//! A two-full-round row witnesses the state between its rounds (`mid`, in `x2..x4`); `x0, x1`
//! stay free for gate inputs (absorbed words, Merkle siblings and direction bits). A partial
//! row's `x` cells hold the S-box *inputs* of its second to last rounds (the first is
//! `s0 + k0`). Every intermediate state word is then an affine form in those cells and `s1, s2`
//! with row-independent coefficients, so each S-box output in the gate is a fifth power of one
//! cell and the next row's state is checked through `M^-1`.

use ff::Field;
use kaimeng_rollup::Fp;
use kaimeng_rollup::poseidon::{self, State, constants};

/// Rows a permutation advances the layout by (its output row is the next block's row 0).
pub const BLOCK_ROWS: usize = 14;
/// Partial rounds in a long partial row.
pub const LONG: usize = 6;
/// Partial rounds in the short partial row.
pub const SHORT: usize = 2;
/// Variables of an affine form: the witnessed S-box inputs `u_2..u_6`, then `s1`, `s2`.
pub const VARS: usize = LONG + 1;
/// Index of `s1` among the variables.
pub const S1: usize = LONG - 1;
/// Index of `s2` among the variables.
pub const S2: usize = LONG;

/// What gate a row of a block carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowGate {
    /// Full rounds `round` and `round + 1` (row 0's first round depends on the block).
    Full2(usize),
    /// Partial rounds `round..round + n`.
    Partial {
        /// The first round.
        round: usize,
        /// How many.
        n: usize,
    },
}

/// The gate of row `row` (0..14) of a block.
pub fn row_gate(row: usize) -> RowGate {
    match row {
        0 | 1 => RowGate::Full2(2 * row),
        2..=10 => RowGate::Partial {
            round: 4 + LONG * (row - 2),
            n: LONG,
        },
        11 => RowGate::Partial {
            round: 58,
            n: SHORT,
        },
        12 | 13 => RowGate::Full2(60 + 2 * (row - 12)),
        _ => panic!("a block has 14 gate rows"),
    }
}

fn mds() -> &'static [[Fp; 3]; 3] {
    &constants().mds
}

fn rc(round: usize) -> [Fp; 3] {
    constants().round_constants[round]
}

/// An affine form over a partial row's variables (see [`VARS`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Affine {
    /// Coefficients of `u_2..u_6, s1, s2`.
    pub coefficients: [Fp; VARS],
    /// Constant term.
    pub constant: Fp,
}

impl Affine {
    fn var(i: usize) -> Self {
        let mut coefficients = [Fp::ZERO; VARS];
        coefficients[i] = Fp::ONE;
        Self {
            coefficients,
            constant: Fp::ZERO,
        }
    }
    fn constant(c: Fp) -> Self {
        Self {
            coefficients: [Fp::ZERO; VARS],
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
    /// Evaluates the form at `vars`.
    #[cfg(test)]
    pub fn eval(&self, vars: &[Fp; VARS]) -> Fp {
        self.coefficients
            .iter()
            .zip(vars)
            .fold(self.constant, |acc, (c, v)| acc + *c * v)
    }
}

/// The variable index of `u_m` (`m` from 2).
pub fn u(m: usize) -> usize {
    m - 2
}

/// `k1`: the constant in `u_2 = M00·(s0 + k0)^5 + M01·s1 + M02·s2 + k1`.
fn k1(a: [Fp; 3], b: [Fp; 3]) -> Fp {
    let m = mds();
    m[0][1] * a[1] + m[0][2] * a[2] + b[0]
}

/// The forms of a row of `n` partial rounds from `round` (real constants, or all-zero
/// constants with `zero` for the row-independent coefficients):
/// - `F_m` for `m = 2..n`, with `M00·u_m^5 = F_m`;
/// - then `(M^-1 next)_1` and `(M^-1 next)_2`.
pub fn partial_forms(round: usize, n: usize, zero: bool) -> Vec<Affine> {
    let m = mds();
    let constants = |r: usize| if zero { [Fp::ZERO; 3] } else { rc(r) };
    let inv = m[0][0].invert().expect("MDS entries are non-zero");
    let (a, b) = (constants(round), constants(round + 1));
    // The two words beside the S-box, with this round's constants: s1 + a1, s2 + a2.
    let mut p = [
        Affine::var(S1).plus(Affine::constant(a[1])),
        Affine::var(S2).plus(Affine::constant(a[2])),
    ];
    // y1 = (u2 - M01 p0 - M02 p1 - b0) / M00.
    let mut y = Affine::var(u(2))
        .plus(p[0].scale(-m[0][1]))
        .plus(p[1].scale(-m[0][2]))
        .plus(Affine::constant(-b[0]))
        .scale(inv);
    let after = |y: Affine, p: [Affine; 2], c: [Fp; 3]| {
        [1, 2].map(|i| {
            y.scale(m[i][0])
                .plus(p[0].scale(m[i][1]))
                .plus(p[1].scale(m[i][2]))
                .plus(Affine::constant(c[i]))
        })
    };
    p = after(y, p, b);
    let mut forms = Vec::with_capacity(n);
    for step in 2..n {
        // Round `round + step - 1` has S-box input u_step; the next input is u_{step+1}.
        let c = constants(round + step);
        let f = Affine::var(u(step + 1))
            .plus(p[0].scale(-m[0][1]))
            .plus(p[1].scale(-m[0][2]))
            .plus(Affine::constant(-c[0]));
        forms.push(f);
        y = f.scale(inv);
        p = after(y, p, c);
    }
    forms.extend(p);
    forms
}

/// The fixed constants `k0..k7` of a row (capacities for fresh inputs are set separately, in
/// `k6` and `k7` of row 0).
pub fn row_constants(gate: RowGate) -> [Fp; 8] {
    let mut k = [Fp::ZERO; 8];
    match gate {
        RowGate::Full2(round) => {
            k[..3].copy_from_slice(&rc(round));
            k[3..6].copy_from_slice(&rc(round + 1));
        }
        RowGate::Partial { round, n } => {
            let (a, b) = (rc(round), rc(round + 1));
            k[0] = a[0];
            k[1] = k1(a, b);
            for (slot, form) in k[2..].iter_mut().zip(partial_forms(round, n, false)) {
                *slot = form.constant;
            }
        }
    }
    k
}

/// The witness of one block row: the state and its `x` cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowValues {
    /// The state carried by this row.
    pub state: State,
    /// `x0..x4`: zero where the gate uses none; `mid` in `x2..x4` of a full row; the S-box
    /// inputs `u_2..` from `x0` in a partial row.
    pub x: [Fp; 5],
}

/// The states of rows `1..=14` of a block whose permutation input is `input` (row 0's gate
/// input, after absorption or swapping), with the `x` cells of rows `1..=13`; and row 0's
/// `mid` (the state after round 0).
///
/// Index `i` of the rows is row `i + 1`; the row-0 state is the caller's.
pub fn block_rows(input: State) -> (State, Vec<RowValues>) {
    let mut out = Vec::with_capacity(BLOCK_ROWS);
    let mid0 = poseidon::full_round(&input, 0);
    let mut state = poseidon::full_round(&mid0, 1);
    for row in 1..=BLOCK_ROWS {
        if row == BLOCK_ROWS {
            out.push(RowValues {
                state,
                x: [Fp::ZERO; 5],
            });
            break;
        }
        let mut x = [Fp::ZERO; 5];
        let next = match row_gate(row) {
            RowGate::Full2(round) => {
                let mid = poseidon::full_round(&state, round);
                x[2..].copy_from_slice(&mid);
                poseidon::full_round(&mid, round + 1)
            }
            RowGate::Partial { round, n } => {
                let mut t = state;
                for step in 0..n {
                    if step > 0 {
                        x[step - 1] = t[0] + rc(round + step)[0];
                    }
                    t = poseidon::partial_round(&t, round + step);
                }
                t
            }
        };
        out.push(RowValues { state, x });
        state = next;
    }
    (mid0, out)
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
                RowGate::Full2(r) => rounds.extend([r, r + 1]),
                RowGate::Partial { round, n } => rounds.extend(round..round + n),
            }
        }
        assert_eq!(rounds, (0..64).collect::<Vec<_>>());
    }

    #[test]
    fn block_output_is_the_permutation() {
        let input = [Fp::from(3), Fp::from(5), Fp::from(7)];
        let (_, rows) = block_rows(input);
        assert_eq!(rows.len(), BLOCK_ROWS);
        assert_eq!(rows[BLOCK_ROWS - 1].state, poseidon::permute(&input));
    }

    #[test]
    fn partial_row_relations_hold_on_the_witness() {
        let m = mds();
        let minv = &constants().mds_inv;
        let (_, rows) = block_rows([Fp::from(11), Fp::from(13), Fp::from(17)]);
        let mut checked = 0;
        for row in 1..BLOCK_ROWS {
            let (cur, next) = (rows[row - 1], rows[row].state);
            let s = cur.state;
            let back =
                |i: usize| minv[i][0] * next[0] + minv[i][1] * next[1] + minv[i][2] * next[2];
            let k = row_constants(row_gate(row));
            let RowGate::Partial { round, n } = row_gate(row) else {
                continue;
            };
            let mut vars = [Fp::ZERO; VARS];
            vars[..n - 1].copy_from_slice(&cur.x[..n - 1]);
            vars[S1] = s[1];
            vars[S2] = s[2];
            let u2 = cur.x[0];
            assert_eq!(
                u2,
                m[0][0] * sbox(s[0] + k[0]) + m[0][1] * s[1] + m[0][2] * s[2] + k[1],
                "row {row}"
            );
            // Row-independent coefficients plus per-row constants.
            let coefficients = partial_forms(round, n, true);
            for step in 2..n {
                let f = &coefficients[step - 2];
                assert_eq!(f.eval(&vars) + k[step], m[0][0] * sbox(cur.x[step - 2]));
            }
            assert_eq!(back(0), sbox(cur.x[n - 2]), "row {row}");
            assert_eq!(back(1), coefficients[n - 2].eval(&vars) + k[n]);
            assert_eq!(back(2), coefficients[n - 1].eval(&vars) + k[n + 1]);
            checked += 1;
        }
        assert_eq!(checked, 10);
    }
}
