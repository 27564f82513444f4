//! Many Poseidon hashes of one length at once: [`hash_many`] gives exactly what
//! [`poseidon::hash`] gives for each input, computing up to eight sponges side by side in the
//! 64-bit lanes of AVX-512 registers with the 52-bit multiply-add instructions (IFMA) where the
//! CPU has them, and one by one with [`poseidon::hash`] where it does not.
//!
//! A validator re-hashes every chunk's published data to check a batch (one permutation per
//! slot, about 40 % of a verification's CPU before this); the chunks of a batch all have one
//! length, so eight of them share each instruction. ADR 0116 gives the arithmetic and its
//! bounds; the tests compare both ways on random and extreme inputs.

use crate::Fp;
use crate::poseidon;

/// Sponges computed side by side.
pub const LANES: usize = 8;

/// `poseidon::hash` of each input, in order.
pub fn hash_many(inputs: &[&[Fp]]) -> Vec<Fp> {
    #[cfg(target_arch = "x86_64")]
    if ifma::available() {
        return inputs
            .chunks(LANES)
            .flat_map(|group| match ifma::hash_group(group) {
                Some(hashes) => hashes,
                None => one_by_one(group),
            })
            .collect();
    }
    one_by_one(inputs)
}

fn one_by_one(inputs: &[&[Fp]]) -> Vec<Fp> {
    inputs.iter().map(|input| poseidon::hash(input)).collect()
}

#[cfg(target_arch = "x86_64")]
mod ifma {
    //! Field elements mod the Pallas base prime `p` as five 52-bit limbs per lane, in
    //! Montgomery form with `R = 2^260`. A product of inputs below `2^257` is below `2p`; sums
    //! are kept below that bound by subtracting `2p` or `4p` where they could pass it.

    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    use ff::{Field, PrimeField};

    use super::LANES;
    use crate::Fp;
    use crate::poseidon::{self, FULL_ROUNDS, PARTIAL_ROUNDS, WIDTH};

    const LIMBS: usize = 5;
    const LIMB_BITS: u32 = 52;
    const MASK: u64 = (1 << LIMB_BITS) - 1;
    /// `p` in 52-bit limbs.
    const P: [u64; LIMBS] = [
        0x000d_30ed_0000_0001,
        0x000f_c094_cf91_b992,
        0x0000_0000_0022_4698,
        0,
        0x0000_4000_0000_0000,
    ];
    /// `−p⁻¹ mod 2^52`.
    const P_INV: u64 = 0x000d_30ec_ffff_ffff;

    /// A constant: one element's limbs, broadcast to every lane when used.
    type Limbs = [u64; LIMBS];

    /// One element per lane.
    #[derive(Clone, Copy)]
    struct Lanes([__m512i; LIMBS]);

    pub fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512ifma")
    }

    /// The hashes of `group` (at most eight inputs of one length), or `None` if the lengths
    /// differ.
    pub fn hash_group(group: &[&[Fp]]) -> Option<Vec<Fp>> {
        let len = group.first()?.len();
        if group.len() > LANES || group.iter().any(|input| input.len() != len) {
            return None;
        }
        // SAFETY: `hash_many` calls this only after `available()` found both features.
        let out = unsafe { hash_lanes(group, len) };
        Some(out[..group.len()].to_vec())
    }

    /// The constants of [`poseidon::permute`] in Montgomery form, and the conversion factors.
    struct Constants {
        /// `R mod p`.
        r: Fp,
        /// `R² mod p`: multiplying by it enters Montgomery form.
        r_squared: Limbs,
        two_p: Limbs,
        four_p: Limbs,
        p: Limbs,
        full: Vec<[Limbs; WIDTH]>,
        mds: [[Limbs; WIDTH]; WIDTH],
        entry: [[Limbs; 2]; 2],
        partial: Vec<PartialRound>,
        after_partial: [Limbs; WIDTH],
    }

    struct PartialRound {
        constant: Limbs,
        first: Limbs,
        row: [Limbs; 2],
        column: [Limbs; 2],
    }

    /// The canonical value of `x` in 52-bit limbs.
    pub(super) fn limbs_of(x: Fp) -> Limbs {
        let bytes = x.to_repr();
        let word = |i: usize| u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().unwrap());
        let w = [word(0), word(1), word(2), word(3)];
        [
            w[0] & MASK,
            (w[0] >> 52 | w[1] << 12) & MASK,
            (w[1] >> 40 | w[2] << 24) & MASK,
            (w[2] >> 28 | w[3] << 36) & MASK,
            w[3] >> 16,
        ]
    }

    /// The element whose canonical value has these (normalised, below `p`) limbs.
    pub(super) fn fp_of(l: Limbs) -> Fp {
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

    fn constants() -> &'static Constants {
        static CONSTANTS: OnceLock<Constants> = OnceLock::new();
        CONSTANTS.get_or_init(|| {
            let r = Fp::from(2).pow_vartime([260]);
            let mont = |x: Fp| limbs_of(x * r);
            let multiple = |k: u64| {
                let mut out = [0u64; LIMBS];
                let mut carry = 0u64;
                for (o, p) in out.iter_mut().zip(P) {
                    let v = p * k + carry;
                    *o = v & MASK;
                    carry = v >> LIMB_BITS;
                }
                out
            };
            let c = poseidon::constants();
            let sparse = poseidon::sparse_form();
            let half = FULL_ROUNDS / 2;
            let full_rounds =
                (0..half).chain(half + PARTIAL_ROUNDS + 1..FULL_ROUNDS + PARTIAL_ROUNDS);
            Constants {
                r,
                r_squared: limbs_of(r * r),
                two_p: multiple(2),
                four_p: multiple(4),
                p: P,
                full: full_rounds
                    .map(|round| c.round_constants[round].map(mont))
                    .collect(),
                mds: c.mds.map(|row| row.map(mont)),
                entry: sparse.entry.map(|row| row.map(mont)),
                partial: sparse
                    .constants
                    .iter()
                    .zip(&sparse.rounds)
                    .map(|(k, round)| PartialRound {
                        constant: mont(*k),
                        first: mont(round.first),
                        row: round.row.map(mont),
                        column: round.column.map(mont),
                    })
                    .collect(),
                after_partial: sparse.after_partial.map(mont),
            }
        })
    }

    #[target_feature(enable = "avx512f,avx512ifma")]
    fn splat(c: &Limbs) -> Lanes {
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
    fn add(a: &Lanes, b: &Lanes) -> Lanes {
        normalise(std::array::from_fn(|i| _mm512_add_epi64(a.0[i], b.0[i])))
    }

    /// `v − q` in the lanes where `v ≥ q`, `v` elsewhere.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn subtract_if_at_least(v: &Lanes, q: &Limbs) -> Lanes {
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
    fn mul(a: &Lanes, b: &Lanes) -> Lanes {
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

    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn sbox(x: &Lanes) -> Lanes {
        let x2 = mul(x, x);
        let x4 = mul(&x2, &x2);
        mul(&x4, x)
    }

    /// `Σ m_i·v_i`: below `6p` for three products.
    #[inline]
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn dot(m: &[Limbs], v: &[Lanes]) -> Lanes {
        let mut acc = mul(&splat(&m[0]), &v[0]);
        for (mi, vi) in m.iter().zip(v).skip(1) {
            acc = add(&acc, &mul(&splat(mi), vi));
        }
        acc
    }

    /// A full round on words below `6p`: constants (below `p`) added, S-boxes, the MDS matrix.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn full_round(c: &Constants, s: &[Lanes; WIDTH], rc: &[Limbs; WIDTH]) -> [Lanes; WIDTH] {
        let x: [Lanes; WIDTH] = std::array::from_fn(|i| sbox(&add(&s[i], &splat(&rc[i]))));
        std::array::from_fn(|i| dot(&c.mds[i], &x))
    }

    /// [`poseidon::permute`] on words below `6p`; its words are below `6p` again.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn permute(c: &Constants, mut s: [Lanes; WIDTH]) -> [Lanes; WIDTH] {
        let half = FULL_ROUNDS / 2;
        for rc in &c.full[..half] {
            s = full_round(c, &s, rc);
        }
        s = [s[0], dot(&c.entry[0], &s[1..]), dot(&c.entry[1], &s[1..])];
        for round in &c.partial {
            let x = sbox(&add(&s[0], &splat(&round.constant)));
            s = [
                add(&mul(&splat(&round.first), &x), &dot(&round.row, &s[1..])),
                // Below 2p + 4p, brought back below 4p.
                subtract_if_at_least(&add(&mul(&splat(&round.column[0]), &x), &s[1]), &c.two_p),
                subtract_if_at_least(&add(&mul(&splat(&round.column[1]), &x), &s[2]), &c.two_p),
            ];
        }
        s = full_round(c, &s, &c.after_partial);
        for rc in &c.full[half..] {
            s = full_round(c, &s, rc);
        }
        s
    }

    /// Lane `i` holds `x[i]` (zero past the end), in Montgomery form.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn load(c: &Constants, x: &[Fp]) -> Lanes {
        let mut columns = [[0u64; LANES]; LIMBS];
        for (lane, value) in x.iter().enumerate() {
            for (column, limb) in columns.iter_mut().zip(limbs_of(*value)) {
                column[lane] = limb;
            }
        }
        let plain = Lanes(columns.map(|column| {
            // SAFETY: `column` is eight u64s, the 64 bytes an unaligned load reads.
            unsafe { _mm512_loadu_si512(column.as_ptr().cast()) }
        }));
        mul(&plain, &splat(&c.r_squared))
    }

    /// The canonical values of the lanes (Montgomery form, below `6p`).
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn store(c: &Constants, v: &Lanes) -> [Fp; LANES] {
        let one = splat(&[1, 0, 0, 0, 0]);
        // Below p + 1 out of Montgomery form, then below p.
        let plain = subtract_if_at_least(&mul(v, &one), &c.p);
        let mut columns = [[0u64; LANES]; LIMBS];
        for (column, limb) in columns.iter_mut().zip(plain.0) {
            // SAFETY: `column` is eight u64s, the 64 bytes an unaligned store writes.
            unsafe { _mm512_storeu_si512(column.as_mut_ptr().cast(), limb) };
        }
        std::array::from_fn(|lane| fp_of(columns.map(|column| column[lane])))
    }

    /// The sponge of [`poseidon::hash`] over each input of `group` (all of length `len`).
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn hash_lanes(group: &[&[Fp]], len: usize) -> [Fp; LANES] {
        let c = constants();
        let zero = splat(&[0; LIMBS]);
        let capacity = splat(&limbs_of(poseidon::capacity_for_length(len) * c.r));
        let mut s = [zero, zero, capacity];
        let mut word = vec![Fp::ZERO; group.len()];
        for start in (0..len).step_by(poseidon::RATE) {
            for position in start..(start + poseidon::RATE).min(len) {
                for (w, input) in word.iter_mut().zip(group) {
                    *w = input[position];
                }
                let i = position - start;
                // Below 6p + 2p, brought back below 4p.
                s[i] = subtract_if_at_least(&add(&s[i], &load(c, &word)), &c.four_p);
            }
            s = permute(c, s);
        }
        store(c, &s[0])
    }
}

#[cfg(test)]
mod tests {
    use ff::Field;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    use super::*;

    fn check(inputs: &[Vec<Fp>]) {
        let views: Vec<&[Fp]> = inputs.iter().map(Vec::as_slice).collect();
        let expected: Vec<Fp> = inputs.iter().map(|i| poseidon::hash(i)).collect();
        assert_eq!(hash_many(&views), expected);
    }

    #[test]
    fn matches_the_scalar_sponge_on_random_inputs_of_many_lengths() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for len in [0, 1, 2, 3, 5, 114] {
            for count in [1, 7, 8, 9, 20] {
                let inputs: Vec<Vec<Fp>> = (0..count)
                    .map(|_| (0..len).map(|_| Fp::random(&mut rng)).collect())
                    .collect();
                check(&inputs);
            }
        }
    }

    #[test]
    fn matches_the_scalar_sponge_on_extreme_values() {
        let top = -Fp::ONE;
        let values = [
            Fp::ZERO,
            Fp::ONE,
            top,
            top - Fp::ONE,
            Fp::from(u64::MAX),
            top.double(),
        ];
        let inputs: Vec<Vec<Fp>> = (0..values.len() * values.len())
            .map(|i| {
                let (a, b) = (values[i % values.len()], values[i / values.len()]);
                vec![a, b, a, top, b, b, top, a]
            })
            .collect();
        check(&inputs);
        check(&[vec![top; 57], vec![Fp::ZERO; 57], vec![top; 57]]);
    }

    #[test]
    fn inputs_of_different_lengths_in_one_group_still_match() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let inputs: Vec<Vec<Fp>> = (0..10)
            .map(|len| (0..len).map(|_| Fp::random(&mut rng)).collect())
            .collect();
        check(&inputs);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn limbs_round_trip_and_a_group_of_mixed_lengths_is_refused() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for x in [Fp::ZERO, -Fp::ONE, Fp::random(&mut rng)] {
            assert_eq!(ifma::fp_of(ifma::limbs_of(x)), x);
        }
        let (a, b): (&[Fp], &[Fp]) = (&[Fp::ONE], &[Fp::ONE, Fp::ONE]);
        assert!(ifma::hash_group(&[a, b]).is_none());
        assert!(ifma::hash_group(&[a; LANES + 1]).is_none());
    }
}
