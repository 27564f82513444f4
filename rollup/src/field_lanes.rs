//! Arithmetic mod the Pallas base prime `p` on eight elements at once, in the 64-bit lanes of
//! AVX-512 registers with the 52-bit multiply-add instructions (IFMA), for the validators' two
//! bulk field computations: a batch's data commitments ([`crate::poseidon_lanes`]) and the
//! sum of a decision's `s(u)` vectors ([`expansion_sum`]). ADR 0116 gives the representation
//! and its bounds.
//!
//! Everything here computes exactly what the scalar code computes; where the CPU lacks IFMA
//! the public functions say so (`None`) or fall back, and callers use the scalar code.

use crate::Fp;

/// Elements per register.
pub const LANES: usize = 8;

/// The coefficients of `Σ_j init_j · Π_i (1 + u_{j,bits−1−i} X^{2^i})`: the sum of the
/// scaled `s(u)` vectors of an inner-product argument, each `u_j` of length `bits`, with
/// `2^bits` coefficients. `None` where the CPU lacks IFMA or `bits < 3`; the caller then
/// computes it one term at a time.
pub fn expansion_sum(terms: &[(Fp, &[Fp])], bits: usize) -> Option<Vec<Fp>> {
    #[cfg(target_arch = "x86_64")]
    if ifma::available() && bits >= 3 && terms.iter().all(|(_, u)| u.len() == bits) {
        // SAFETY: `available()` found both features.
        return Some(unsafe { ifma::expansion_sum(terms, bits) });
    }
    let _ = (terms, bits);
    None
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod ifma {
    //! Five 52-bit limbs per lane, in Montgomery form with `R = 2^260`. A product of inputs
    //! below `2^257` (about `8p`) is below `2p`; sums are kept below that bound by subtracting
    //! `2p` or `4p` where they could pass it (a compare and subtract, not a reduction).

    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    use ff::{Field, PrimeField};

    use super::LANES;
    use crate::Fp;

    pub const LIMBS: usize = 5;
    const LIMB_BITS: u32 = 52;
    const MASK: u64 = (1 << LIMB_BITS) - 1;
    /// `p` in 52-bit limbs; its fourth limb is zero.
    pub const P: Limbs = [
        0x000d_30ed_0000_0001,
        0x000f_c094_cf91_b992,
        0x0000_0000_0022_4698,
        0,
        0x0000_4000_0000_0000,
    ];
    /// `−p⁻¹ mod 2^52`.
    const P_INV: u64 = 0x000d_30ec_ffff_ffff;

    /// One element's limbs (a constant, broadcast to every lane when used).
    pub type Limbs = [u64; LIMBS];

    /// One element per lane.
    #[derive(Clone, Copy)]
    pub struct Lanes([__m512i; LIMBS]);

    pub fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512ifma")
    }

    /// `R mod p` and `R² mod p`, and multiples of `p` in limbs.
    pub struct Factors {
        pub r: Fp,
        r_squared: Limbs,
        pub two_p: Limbs,
        pub four_p: Limbs,
    }

    pub fn factors() -> &'static Factors {
        static FACTORS: OnceLock<Factors> = OnceLock::new();
        FACTORS.get_or_init(|| {
            let r = Fp::from(2).pow_vartime([260]);
            Factors {
                r,
                r_squared: limbs_of(r * r),
                two_p: multiple_of_p(2),
                four_p: multiple_of_p(4),
            }
        })
    }

    pub(super) fn multiple_of_p(k: u64) -> Limbs {
        let mut out = [0u64; LIMBS];
        let mut carry = 0u64;
        for (o, p) in out.iter_mut().zip(P) {
            let v = p * k + carry;
            *o = v & MASK;
            carry = v >> LIMB_BITS;
        }
        out
    }

    /// The canonical value of `x` in 52-bit limbs.
    pub fn limbs_of(x: Fp) -> Limbs {
        let bytes = x.to_repr();
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[8 * i..8 * i + 8]);
            u64::from_le_bytes(w)
        };
        let w = [word(0), word(1), word(2), word(3)];
        [
            w[0] & MASK,
            (w[0] >> 52 | w[1] << 12) & MASK,
            (w[1] >> 40 | w[2] << 24) & MASK,
            (w[2] >> 28 | w[3] << 36) & MASK,
            w[3] >> 16,
        ]
    }

    /// `x` in Montgomery form, as limbs.
    pub fn montgomery(x: Fp) -> Limbs {
        limbs_of(x * factors().r)
    }

    /// The element whose canonical value has these (normalised, below `p`) limbs.
    pub fn fp_of(l: Limbs) -> Fp {
        let w = [
            l[0] | l[1] << 52,
            l[1] >> 12 | l[2] << 40,
            l[2] >> 24 | l[3] << 28,
            l[3] >> 36 | l[4] << 16,
        ];
        let mut bytes = [0u8; 32];
        for (i, word) in w.iter().enumerate() {
            bytes[8 * i..8 * i + 8].copy_from_slice(&word.to_le_bytes());
        }
        Option::from(Fp::from_repr(bytes)).expect("a fully reduced value is canonical")
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn splat(c: &Limbs) -> Lanes {
        Lanes(c.map(|limb| _mm512_set1_epi64(limb as i64)))
    }

    /// Carries every limb's bits above 52 into the next limb.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn normalise(mut v: [__m512i; LIMBS]) -> Lanes {
        let mask = _mm512_set1_epi64(MASK as i64);
        for i in 0..LIMBS - 1 {
            let carry = _mm512_srli_epi64::<52>(v[i]);
            v[i] = _mm512_and_si512(v[i], mask);
            v[i + 1] = _mm512_add_epi64(v[i + 1], carry);
        }
        Lanes(v)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn add(a: &Lanes, b: &Lanes) -> Lanes {
        normalise(std::array::from_fn(|i| _mm512_add_epi64(a.0[i], b.0[i])))
    }

    /// `v − q` in the lanes where `v ≥ q`, `v` elsewhere.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn subtract_if_at_least(v: &Lanes, q: &Limbs) -> Lanes {
        let mask = _mm512_set1_epi64(MASK as i64);
        let mut borrow = _mm512_setzero_si512();
        let mut d = [_mm512_setzero_si512(); LIMBS];
        for i in 0..LIMBS {
            let t = _mm512_sub_epi64(
                _mm512_sub_epi64(v.0[i], _mm512_set1_epi64(q[i] as i64)),
                borrow,
            );
            borrow = _mm512_srli_epi64::<63>(t);
            d[i] = _mm512_and_si512(t, mask);
        }
        let below = _mm512_test_epi64_mask(borrow, borrow);
        Lanes(std::array::from_fn(|i| {
            _mm512_mask_blend_epi64(below, d[i], v.0[i])
        }))
    }

    /// Montgomery product `a·b/R mod p`, below `2p` for inputs below `2^257`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn mul(a: &Lanes, b: &Lanes) -> Lanes {
        let zero = _mm512_setzero_si512();
        let p = P.map(|limb| _mm512_set1_epi64(limb as i64));
        let p_inv = _mm512_set1_epi64(P_INV as i64);
        let mut t = [zero; LIMBS + 1];
        for i in 0..LIMBS {
            let bi = b.0[i];
            for j in 0..LIMBS {
                t[j] = _mm512_madd52lo_epu64(t[j], a.0[j], bi);
                t[j + 1] = _mm512_madd52hi_epu64(t[j + 1], a.0[j], bi);
            }
            let m = _mm512_madd52lo_epu64(zero, t[0], p_inv);
            for j in [0, 1, 2, 4] {
                t[j] = _mm512_madd52lo_epu64(t[j], p[j], m);
                t[j + 1] = _mm512_madd52hi_epu64(t[j + 1], p[j], m);
            }
            // The low 52 bits of t[0] are zero now: divide by 2^52.
            let carry = _mm512_srli_epi64::<52>(t[0]);
            t = [_mm512_add_epi64(t[1], carry), t[2], t[3], t[4], t[5], zero];
        }
        normalise([t[0], t[1], t[2], t[3], t[4]])
    }

    /// Lane `i` holds `x[i]` (zero past the end), in Montgomery form, below `2p`.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn load(x: &[Fp]) -> Lanes {
        let mut columns = [[0u64; LANES]; LIMBS];
        for (lane, value) in x.iter().take(LANES).enumerate() {
            for (column, limb) in columns.iter_mut().zip(limbs_of(*value)) {
                column[lane] = limb;
            }
        }
        let plain = Lanes(columns.map(|column| {
            // SAFETY: `column` is eight u64s, the 64 bytes an unaligned load reads.
            unsafe { _mm512_loadu_si512(column.as_ptr().cast()) }
        }));
        mul(&plain, &splat(&factors().r_squared))
    }

    /// The lanes' canonical values (from Montgomery form, below `2^257`).
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn store(v: &Lanes) -> [Fp; LANES] {
        let one = splat(&[1, 0, 0, 0, 0]);
        // Below p + 1 out of Montgomery form, then below p.
        let plain = subtract_if_at_least(&mul(v, &one), &P);
        let mut columns = [[0u64; LANES]; LIMBS];
        for (column, limb) in columns.iter_mut().zip(plain.0) {
            // SAFETY: `column` is eight u64s, the 64 bytes an unaligned store writes.
            unsafe { _mm512_storeu_si512(column.as_mut_ptr().cast(), limb) };
        }
        std::array::from_fn(|lane| fp_of(columns.map(|column| column[lane])))
    }

    /// Lane `i` holds the value with limbs `lanes[i]` as they are (tests: values at the
    /// bounds, which no canonical input reaches).
    #[cfg(test)]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn from_limbs(lanes: &[Limbs; LANES]) -> Lanes {
        Lanes(std::array::from_fn(|limb| {
            let column: [u64; LANES] = std::array::from_fn(|lane| lanes[lane][limb]);
            // SAFETY: `column` is eight u64s, the 64 bytes an unaligned load reads.
            unsafe { _mm512_loadu_si512(column.as_ptr().cast()) }
        }))
    }

    /// Each lane's limbs as they are.
    #[cfg(test)]
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn to_limbs(v: &Lanes) -> [Limbs; LANES] {
        let mut columns = [[0u64; LANES]; LIMBS];
        for (column, limb) in columns.iter_mut().zip(v.0) {
            // SAFETY: `column` is eight u64s, the 64 bytes an unaligned store writes.
            unsafe { _mm512_storeu_si512(column.as_mut_ptr().cast(), limb) };
        }
        std::array::from_fn(|lane| columns.map(|column| column[lane]))
    }

    /// [`super::expansion_sum`]: each term's vector built eight coefficients to a register,
    /// the sums kept below `2p`.
    #[target_feature(enable = "avx512f,avx512ifma")]
    pub fn expansion_sum(terms: &[(Fp, &[Fp])], bits: usize) -> Vec<Fp> {
        let two_p = factors().two_p;
        let blocks = 1usize << (bits - 3);
        let zero = splat(&[0; LIMBS]);
        let mut sum = vec![zero; blocks];
        let mut s = vec![zero; blocks];
        for (init, u) in terms {
            // Coefficients 0 to 7 (the last three challenges) one by one, then each further
            // challenge doubles the blocks built so far.
            let mut first = [Fp::ZERO; LANES];
            first[0] = *init;
            for (i, u_i) in u.iter().rev().take(3).enumerate() {
                for t in 0..1 << i {
                    first[(1 << i) + t] = first[t] * u_i;
                }
            }
            s[0] = load(&first);
            for (level, u_i) in u.iter().rev().skip(3).enumerate() {
                let factor = splat(&montgomery(*u_i));
                let (low, high) = s.split_at_mut(1 << level);
                for (h, l) in high[..1 << level].iter_mut().zip(low.iter()) {
                    *h = mul(l, &factor);
                }
            }
            for (total, block) in sum.iter_mut().zip(&s) {
                *total = subtract_if_at_least(&add(total, block), &two_p);
            }
        }
        sum.iter().flat_map(|block| store(block)).collect()
    }
}

#[cfg(test)]
mod tests {
    use ff::Field;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    use super::*;

    /// The sum computed one term and one coefficient at a time.
    fn reference(terms: &[(Fp, &[Fp])], bits: usize) -> Vec<Fp> {
        let mut total = vec![Fp::ZERO; 1 << bits];
        for (init, u) in terms {
            let mut s = vec![Fp::ZERO; 1 << bits];
            s[0] = *init;
            for (i, u_i) in u.iter().rev().enumerate() {
                for t in 0..1 << i {
                    s[(1 << i) + t] = s[t] * u_i;
                }
            }
            for (a, b) in total.iter_mut().zip(s) {
                *a += b;
            }
        }
        total
    }

    #[test]
    fn the_expansion_sum_matches_the_one_by_one_sum() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let top = -Fp::ONE;
        for (bits, count) in [(3, 1), (4, 5), (11, 40), (12, 3)] {
            let challenges: Vec<Vec<Fp>> = (0..count)
                .map(|j| {
                    (0..bits)
                        .map(|i| {
                            if (i + j) % 5 == 0 {
                                top
                            } else {
                                Fp::random(&mut rng)
                            }
                        })
                        .collect()
                })
                .collect();
            let terms: Vec<(Fp, &[Fp])> = challenges
                .iter()
                .enumerate()
                .map(|(j, u)| {
                    (
                        if j % 2 == 0 {
                            top
                        } else {
                            Fp::random(&mut rng)
                        },
                        u.as_slice(),
                    )
                })
                .collect();
            let fast = expansion_sum(&terms, bits);
            #[cfg(target_arch = "x86_64")]
            assert_eq!(fast.is_some(), ifma::available(), "bits {bits}");
            if let Some(fast) = fast {
                assert_eq!(fast, reference(&terms, bits), "bits {bits}, {count} terms");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_expansion_sum_matches_the_one_by_one_sum(
            seed in proptest::prelude::any::<u64>(),
            bits in 3usize..8,
            count in 0usize..12,
        ) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let challenges: Vec<Vec<Fp>> = (0..count)
                .map(|_| (0..bits).map(|_| Fp::random(&mut rng)).collect())
                .collect();
            let terms: Vec<(Fp, &[Fp])> = challenges
                .iter()
                .map(|u| (Fp::random(&mut rng), u.as_slice()))
                .collect();
            if let Some(fast) = expansion_sum(&terms, bits) {
                proptest::prop_assert_eq!(fast, reference(&terms, bits));
            }
        }
    }

    #[test]
    fn too_few_bits_or_mixed_lengths_are_left_to_the_caller() {
        let u = [Fp::ONE; 4];
        assert!(expansion_sum(&[(Fp::ONE, &u[..2])], 2).is_none());
        assert!(expansion_sum(&[(Fp::ONE, &u[..3]), (Fp::ONE, &u)], 3).is_none());
    }

    /// The value of normalised limbs, as a big integer in u64 words (little-endian).
    #[cfg(target_arch = "x86_64")]
    fn value_words(l: &ifma::Limbs) -> [u64; 5] {
        let mut words = [0u64; 5];
        for (i, limb) in l.iter().enumerate() {
            let bit = 52 * i;
            words[bit / 64] |= limb << (bit % 64);
            if bit % 64 > 12 {
                words[bit / 64 + 1] |= limb >> (64 - bit % 64);
            }
        }
        words
    }

    /// Limbs of `k·p + x` for a canonical `x`.
    #[cfg(target_arch = "x86_64")]
    fn above(k: u64, x: Fp) -> ifma::Limbs {
        let (kp, xl) = (ifma::multiple_of_p(k), ifma::limbs_of(x));
        let mut out = [0u64; 5];
        let mut carry = 0;
        for i in 0..5 {
            let v = kp[i] + xl[i] + carry;
            out[i] = v & ((1 << 52) - 1);
            carry = v >> 52;
        }
        out[4] += carry << 52;
        out
    }

    /// The arithmetic at its stated bounds: a product of inputs just under `2^257` (`k·p + x`
    /// for k up to 7) is right mod p and below `2p`; subtracting `2p` from anything below `4p`
    /// leaves the same residue below `2p`.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn products_and_subtractions_hold_at_their_bounds() {
        if !ifma::available() {
            // Nothing to test: the lanes are never used on this CPU (CI's machines have IFMA).
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let r_inv = Option::<Fp>::from(ifma::factors().r.invert()).unwrap();
        let two_p = value_words(&ifma::multiple_of_p(2));
        let below = |a: [u64; 5], b: [u64; 5]| {
            (0..5)
                .rev()
                .find(|&i| a[i] != b[i])
                .is_some_and(|i| a[i] < b[i])
        };
        for round in 0..64 {
            let xs: [Fp; LANES] = std::array::from_fn(|i| {
                if round == 0 && i == 0 {
                    -Fp::ONE
                } else {
                    Fp::random(&mut rng)
                }
            });
            let ys: [Fp; LANES] = std::array::from_fn(|_| Fp::random(&mut rng));
            let ks: [u64; LANES] = std::array::from_fn(|i| (i as u64 + round) % 8);
            let a: [ifma::Limbs; LANES] = std::array::from_fn(|i| above(ks[i], xs[i]));
            let b: [ifma::Limbs; LANES] = std::array::from_fn(|i| above(7 - ks[i], ys[i]));
            // SAFETY: `available()` found both features.
            let (product, product_limbs, reduced, reduced_limbs) = unsafe {
                let product = ifma::mul(&ifma::from_limbs(&a), &ifma::from_limbs(&b));
                let four = ifma::from_limbs(&std::array::from_fn(|i| above(i as u64 % 4, xs[i])));
                let reduced = ifma::subtract_if_at_least(&four, &ifma::multiple_of_p(2));
                (
                    ifma::store(&product),
                    ifma::to_limbs(&product),
                    ifma::store(&reduced),
                    ifma::to_limbs(&reduced),
                )
            };
            for lane in 0..LANES {
                // store() leaves Montgomery form once more: x·y/R, then /R again.
                assert_eq!(
                    product[lane],
                    xs[lane] * ys[lane] * r_inv * r_inv,
                    "lane {lane}"
                );
                assert!(
                    below(value_words(&product_limbs[lane]), two_p),
                    "lane {lane}"
                );
                assert_eq!(reduced[lane], xs[lane] * r_inv, "lane {lane}");
                assert!(
                    below(value_words(&reduced_limbs[lane]), two_p),
                    "lane {lane}"
                );
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn limbs_round_trip() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for x in [Fp::ZERO, Fp::ONE, -Fp::ONE, Fp::random(&mut rng)] {
            assert_eq!(ifma::fp_of(ifma::limbs_of(x)), x);
        }
    }
}
