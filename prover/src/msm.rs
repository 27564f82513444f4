//! The decision's multi-scalar multiplication ([`msm`]): Pippenger over Vesta with its buckets
//! summed in affine coordinates by batched additions, for `decide_step`, which runs on one
//! thread.
//!
//! halo2's [`best_multiexp`] adds each point into its bucket with a mixed (projective + affine)
//! addition, eleven field multiplications and squarings. Here each window's points are sorted
//! into their buckets and each bucket is summed as a tree, one level at a time; all the affine
//! additions of a level share one field inversion (Montgomery's trick), so each costs five
//! multiplications and a squaring. The buckets' weighted sum `Σ j·B_j` is mostly done the same
//! way (`Pass::weigh`). The point returned is the one [`best_multiexp`] returns, for every
//! input; the tests compare the two.

use ff::{Field, PrimeField};
use group::Group;
use pasta_curves::arithmetic::{CurveAffine, VartimeField};
use pasta_curves::{Fp, Fq, vesta};

/// halo2's MSM, which [`msm`] agrees with; re-exported for the benchmarks.
pub use halo2_proofs::arithmetic::best_multiexp;

/// An affine point's coordinates; `(0, 0)`, which is not on the curve, is the identity (as in
/// pasta).
type Xy = (Fq, Fq);
const IDENTITY: Xy = (Fq::ZERO, Fq::ZERO);

/// Windows whose buckets are summed together, sharing each tree level's inversion. One, two
/// and four measured the same at n = 4352; eight was slower (the points leave the cache).
const WINDOWS_PER_PASS: usize = 2;

/// `Σ scalars[i]·bases[i]`: the same point as [`best_multiexp`], computed on the calling
/// thread.
///
/// Panics if the slices differ in length.
pub fn msm(scalars: &[Fp], bases: &[vesta::Affine]) -> vesta::Point {
    assert_eq!(scalars.len(), bases.len(), "one scalar per base");
    let (limbs, points): (Vec<[u64; 4]>, Vec<Xy>) = scalars
        .iter()
        .zip(bases)
        .filter(|(s, _)| !s.is_zero_vartime())
        .filter_map(|(s, b)| {
            let c = b.coordinates().into_option()?;
            Some((limbs(s), (*c.x(), *c.y())))
        })
        .unzip();
    msm_with(&limbs, &points, window_bits(points.len()))
}

/// The scalar's canonical value as little-endian 64-bit limbs.
fn limbs(s: &Fp) -> [u64; 4] {
    let repr = s.to_repr();
    std::array::from_fn(|i| u64::from_le_bytes(repr[8 * i..8 * i + 8].try_into().unwrap()))
}

/// The window size of least estimated cost, `windows · (n + 1.5·buckets)` additions: a bucket
/// weighs about one and a half points (fitted to measurements at n = 1000, 4352 and 16000,
/// whose best windows were 8, 10 and 12 bits).
fn window_bits(n: usize) -> usize {
    let cost = |c: usize| 256usize.div_ceil(c) * (2 * n + 3 * (1 << (c - 1)));
    (2..=16).min_by_key(|&c| cost(c)).unwrap()
}

/// Pippenger with signed windows of `c` bits over non-identity `points` and their scalars.
fn msm_with(limbs: &[[u64; 4]], points: &[Xy], c: usize) -> vesta::Point {
    let n = points.len();
    if n == 0 {
        return vesta::Point::identity();
    }
    // digits[w·n + i] is scalar i's digit in window w, in [−2^(c−1), 2^(c−1)]: a window above
    // 2^(c−1) becomes negative and carries one into the next.
    let windows = 256usize.div_ceil(c);
    let mut digits = vec![0i32; windows * n];
    for (i, l) in limbs.iter().enumerate() {
        let mut carry = 0;
        for w in 0..windows {
            let (limb, off) = (w * c / 64, w * c % 64);
            let mut v = l.get(limb).map_or(0, |x| x >> off);
            if off + c > 64 && limb + 1 < 4 {
                v |= l[limb + 1] << (64 - off);
            }
            let v = (v & ((1 << c) - 1)) as i64 + carry;
            carry = i64::from(v > 1 << (c - 1));
            digits[w * n + i] = (v - (carry << c)) as i32;
        }
        // Bit 255, in the top window, is clear: that window takes the last carry.
        debug_assert_eq!(carry, 0);
    }
    let mut pass = Pass::default();
    let mut sums = Vec::with_capacity(windows);
    for first in (0..windows).step_by(WINDOWS_PER_PASS) {
        let last = windows.min(first + WINDOWS_PER_PASS);
        pass.fill(&digits[first * n..last * n], points, c);
        pass.reduce();
        pass.weigh(last - first, c, &mut sums);
    }
    sums.iter().rev().fold(vesta::Point::identity(), |acc, s| {
        (0..c).fold(acc, |acc, _| acc.double()) + s
    })
}

/// How a pair of points is added.
#[derive(Clone, Copy)]
enum Kind {
    Add,
    Double,
    /// The second point is the identity.
    First,
    /// The first point is the identity.
    Second,
    /// The points are opposite.
    Cancel,
}

/// Segments of affine points to sum, and the buffers for it, reused from pass to pass.
#[derive(Default)]
struct Pass {
    points: Vec<Xy>,
    /// Each segment's start in `points` and its length.
    segments: Vec<(usize, usize)>,
    kinds: Vec<Kind>,
    inverses: Vec<Fq>,
    scratch: Vec<Fq>,
}

impl Pass {
    /// One segment per (window, bucket): the points whose digit's magnitude is the bucket's
    /// index + 1, negated where the digit is negative. `digits` holds whole windows.
    fn fill(&mut self, digits: &[i32], points: &[Xy], c: usize) {
        let half = 1 << (c - 1);
        let bucket = |w: usize, d: i32| w * half + d.unsigned_abs() as usize - 1;
        self.segments.clear();
        self.segments
            .resize(digits.len() / points.len() * half, (0, 0));
        for (w, window) in digits.chunks(points.len()).enumerate() {
            for &d in window.iter().filter(|&&d| d != 0) {
                self.segments[bucket(w, d)].1 += 1;
            }
        }
        let mut next = 0;
        for (start, len) in &mut self.segments {
            (*start, next) = (next, next + *len);
            *len = 0;
        }
        self.points.resize(next, IDENTITY);
        for (w, window) in digits.chunks(points.len()).enumerate() {
            for (&d, &(x, y)) in window.iter().zip(points).filter(|(d, _)| **d != 0) {
                let (start, len) = &mut self.segments[bucket(w, d)];
                self.points[*start + *len] = (x, if d < 0 { -y } else { y });
                *len += 1;
            }
        }
    }

    /// Sums each segment in place down to at most one point, at its start: neighbours are
    /// added pairwise, level by level, with one inversion per level for all the segments.
    fn reduce(&mut self) {
        loop {
            self.kinds.clear();
            self.inverses.clear();
            for &(start, len) in &self.segments {
                for i in (start..start + len - len % 2).step_by(2) {
                    let (a, b) = (self.points[i], self.points[i + 1]);
                    self.kinds.push(classify(&a, &b, &mut self.inverses));
                }
            }
            if self.kinds.is_empty() {
                return;
            }
            batch_invert(&mut self.inverses, &mut self.scratch);
            let (mut kinds, mut inverses) = (self.kinds.iter(), self.inverses.iter());
            for (start, len) in &mut self.segments {
                for i in 0..*len / 2 {
                    let (a, b) = (self.points[*start + 2 * i], self.points[*start + 2 * i + 1]);
                    let kind = *kinds.next().unwrap();
                    self.points[*start + i] = finish(kind, &a, &b, &mut inverses);
                }
                if *len % 2 == 1 {
                    self.points[*start + *len / 2] = self.points[*start + *len - 1];
                }
                *len = len.div_ceil(2);
            }
        }
    }

    /// Appends to `sums` each window's `Σ_{j=1}^{h} j·B_j`, h = 2^(c−1), over the buckets `B_j`
    /// that [`Pass::reduce`] left.
    ///
    /// Writing `j − 1 = hi·L + lo` with `L = 2^t`, the rows `T_hi = Σ_lo B` and the columns
    /// `U_lo = Σ_hi B` are summed like the buckets (about 2h batched affine additions), and
    /// `Σ j·B_j = L·(R_T − S_T) + R_U`, where `S_T = Σ T_hi` and the running sums
    /// `R_X = Σ_k (k+1)·X_k` are projective but over only 2^(c−1−t) rows or 2^t columns.
    fn weigh(&mut self, windows: usize, c: usize, sums: &mut Vec<vesta::Point>) {
        let (half, t) = (1 << (c - 1), (c - 1) / 2);
        let (columns, rows) = (1 << t, half >> t);
        // Each window's rows, then its columns, as segments after the buckets' points.
        let buckets = std::mem::take(&mut self.segments);
        for w in 0..windows {
            let row = (0..rows).map(|hi| (hi * columns, 1, columns));
            let column = (0..columns).map(|lo| (lo, columns, rows));
            for (first, stride, count) in row.chain(column) {
                let start = self.points.len();
                for j in (first..).step_by(stride).take(count) {
                    let (at, len) = buckets[w * half + j];
                    if len == 1 {
                        self.points.push(self.points[at]);
                    }
                }
                self.segments.push((start, self.points.len() - start));
            }
        }
        self.reduce();
        // (Σ_k (k+1)·X_k, Σ_k X_k) over the segments' sums X_k.
        let running = |lines: &[(usize, usize)]| {
            let (mut acc, mut sum) = (vesta::Point::identity(), vesta::Point::identity());
            for &(start, len) in lines.iter().rev() {
                if len == 1 {
                    let (x, y) = self.points[start];
                    sum += vesta::Affine::from_xy_unchecked(x, y);
                }
                acc += sum;
            }
            (acc, sum)
        };
        for lines in self.segments.chunks(rows + columns) {
            let (r_t, s_t) = running(&lines[..rows]);
            let (r_u, _) = running(&lines[rows..]);
            sums.push((0..t).fold(r_t - s_t, |acc, _| acc.double()) + r_u);
        }
        self.segments = buckets;
    }
}

/// How `a + b` is to be added; queues the slope's denominator when there is one.
fn classify(a: &Xy, b: &Xy, denominators: &mut Vec<Fq>) -> Kind {
    let is_identity = |p: &Xy| p.1.is_zero_vartime() && p.0.is_zero_vartime();
    let dx = b.0 - a.0;
    if is_identity(a) {
        Kind::Second
    } else if is_identity(b) {
        Kind::First
    } else if !dx.is_zero_vartime() {
        denominators.push(dx);
        Kind::Add
    } else if (b.1 - a.1).is_zero_vartime() && !a.1.is_zero_vartime() {
        denominators.push(a.1.double());
        Kind::Double
    } else {
        // Same x, so b = −a (or a = b had order 2, which no point of Vesta has).
        Kind::Cancel
    }
}

/// `a + b`, taking the slope's inverted denominator from `inverses` if `kind` queued one.
fn finish<'a>(kind: Kind, a: &Xy, b: &Xy, inverses: &mut impl Iterator<Item = &'a Fq>) -> Xy {
    let slope = match kind {
        Kind::Add => (b.1 - a.1) * inverses.next().unwrap(),
        Kind::Double => {
            let xx = a.0.square();
            (xx.double() + xx) * inverses.next().unwrap()
        }
        Kind::First => return *a,
        Kind::Second => return *b,
        Kind::Cancel => return IDENTITY,
    };
    let x = slope.square() - a.0 - b.0;
    (x, slope * (a.0 - x) - a.1)
}

/// Inverts each element of `v`, all non-zero, with one field inversion; `scratch` is reused.
fn batch_invert(v: &mut [Fq], scratch: &mut Vec<Fq>) {
    scratch.clear();
    let mut acc = Fq::ONE;
    for x in v.iter() {
        scratch.push(acc);
        acc *= x;
    }
    let mut inv = acc.invert_vartime().expect("the denominators are non-zero");
    for (x, before) in v.iter_mut().zip(scratch.iter()).rev() {
        let x_inv = inv * before;
        inv *= *x;
        *x = x_inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use group::Curve;
    use group::CurveAffine as _;
    use proptest::prelude::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn random_points(rng: &mut ChaCha20Rng, n: usize) -> Vec<vesta::Affine> {
        let points: Vec<vesta::Point> = (0..n).map(|_| vesta::Point::random(&mut *rng)).collect();
        let mut affine = vec![vesta::Affine::identity(); n];
        vesta::Point::batch_normalize(&points, &mut affine);
        affine
    }

    fn random_scalars(rng: &mut ChaCha20Rng, n: usize) -> Vec<Fp> {
        (0..n).map(|_| Fp::random(&mut *rng)).collect()
    }

    fn check(scalars: &[Fp], bases: &[vesta::Affine]) {
        assert_eq!(
            msm(scalars, bases),
            best_multiexp(scalars, bases),
            "n = {}",
            bases.len()
        );
    }

    #[test]
    fn matches_best_multiexp_on_random_inputs() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for n in [0, 1, 2, 3, 17, 300, 4096 + 256] {
            let (scalars, bases) = (random_scalars(&mut rng, n), random_points(&mut rng, n));
            check(&scalars, &bases);
        }
    }

    #[test]
    fn every_window_size_agrees() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let (scalars, bases) = (random_scalars(&mut rng, 200), random_points(&mut rng, 200));
        let expected = best_multiexp(&scalars, &bases);
        let points: Vec<Xy> = bases
            .iter()
            .map(|b| {
                let c = b.coordinates().unwrap();
                (*c.x(), *c.y())
            })
            .collect();
        let limbs: Vec<_> = scalars.iter().map(limbs).collect();
        for c in 1..=13 {
            assert_eq!(msm_with(&limbs, &points, c), expected, "c = {c}");
        }
    }

    #[test]
    fn repeated_bases_double_inside_buckets() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let p = random_points(&mut rng, 1)[0];
        let s = Fp::random(&mut rng);
        // The same term many times: every bucket sums copies of ±p, level after level.
        for n in [2, 3, 64, 1000] {
            check(&vec![s; n], &vec![p; n]);
        }
        let scalars = random_scalars(&mut rng, 500);
        check(&scalars, &vec![p; 500]);
        let mut bases = random_points(&mut rng, 8).repeat(100);
        bases.extend(vec![p; 300]);
        let scalars = random_scalars(&mut rng, 550).repeat(2);
        check(&scalars, &bases);
    }

    #[test]
    fn opposite_bases_cancel() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let p = random_points(&mut rng, 1)[0];
        let s = Fp::random(&mut rng);
        assert_eq!(msm(&[s, s], &[p, -p]), vesta::Point::identity());
        assert_eq!(msm(&[s, -s], &[p, p]), vesta::Point::identity());
        let mut bases = [p, -p].repeat(150);
        bases.extend(random_points(&mut rng, 50));
        let mut scalars = vec![s; 300];
        scalars.extend(random_scalars(&mut rng, 50));
        check(&scalars, &bases);
        let scalars: Vec<Fp> = (0..350).map(|i| scalars[i / 2 * 2]).collect();
        check(&scalars, &bases);
    }

    #[test]
    fn special_scalars_and_identity_bases() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let n = 400;
        let mut bases = random_points(&mut rng, n);
        let mut scalars = random_scalars(&mut rng, n);
        for i in 0..n {
            match i % 5 {
                0 => scalars[i] = Fp::ZERO,
                1 => scalars[i] = Fp::ONE,
                2 => scalars[i] = -Fp::ONE,
                3 => bases[i] = vesta::Affine::identity(),
                _ => {}
            }
        }
        check(&scalars, &bases);
        check(&[Fp::ONE], &[bases[1]]);
        check(&[-Fp::ONE], &[bases[2]]);
        check(&[Fp::ZERO; 3], &bases[..3]);
        check(&scalars[..3], &[vesta::Affine::identity(); 3]);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Few distinct bases and scalars, so buckets see equal and opposite points.
        #[test]
        fn agrees_with_best_multiexp(
            terms in prop::collection::vec((0usize..6, 0usize..6), 0..80),
            seed in any::<u64>(),
        ) {
            let mut rng = ChaCha20Rng::seed_from_u64(seed);
            let p = random_points(&mut rng, 2);
            let set = [p[0], -p[0], p[1], p[0], vesta::Affine::identity(), -p[1]];
            let s = random_scalars(&mut rng, 3);
            let values = [Fp::ZERO, Fp::ONE, -Fp::ONE, s[0], -s[0], s[1] + s[2]];
            let (bases, scalars): (Vec<_>, Vec<_>) =
                terms.iter().map(|&(b, s)| (set[b], values[s])).unzip();
            prop_assert_eq!(msm(&scalars, &bases), best_multiexp(&scalars, &bases));
        }
    }
}
