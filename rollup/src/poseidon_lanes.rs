//! Many Poseidon hashes of one length at once: [`hash_many`] gives exactly what
//! [`poseidon::hash`] gives for each input, computing up to eight sponges side by side in the
//! 64-bit lanes of AVX-512 registers with the 52-bit multiply-add instructions (IFMA) where the
//! CPU has them, and one by one with [`poseidon::hash`] where it does not.
//!
//! A validator re-hashes every chunk's published data to check a batch (one permutation per
//! slot, about 40 % of a verification's CPU before this); the chunks of a batch all have one
//! length, so eight of them share each instruction. The arithmetic is [`crate::field_lanes`]';
//! the tests compare both ways on random and extreme inputs.

use crate::Fp;
use crate::poseidon;

use crate::field_lanes::LANES;

/// `poseidon::hash` of each input, in order.
pub fn hash_many(inputs: &[&[Fp]]) -> Vec<Fp> {
    #[cfg(target_arch = "x86_64")]
    if crate::field_lanes::ifma::available() {
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

/// `poseidon::hash2(l, r)` of each pair, in order: the Merkle tree's parents of one level.
pub fn hash2_many(pairs: &[(Fp, Fp)]) -> Vec<Fp> {
    let inputs: Vec<[Fp; 2]> = pairs.iter().map(|&(l, r)| [l, r]).collect();
    let views: Vec<&[Fp]> = inputs.iter().map(|pair| pair.as_slice()).collect();
    hash_many(&views)
}

fn one_by_one(inputs: &[&[Fp]]) -> Vec<Fp> {
    inputs.iter().map(|input| poseidon::hash(input)).collect()
}

#[cfg(target_arch = "x86_64")]
mod ifma {
    //! The sponge on [`crate::field_lanes`]' arithmetic. Words stay below `6p` between
    //! rounds: three products (each below `2p`) summed, or a partial round's pass-through word
    //! brought back below `4p`; a round constant (below `p`) added keeps a product's input
    //! below `2^257`.

    use std::sync::OnceLock;

    use ff::Field;

    use super::LANES;
    use crate::Fp;
    use crate::field_lanes::ifma::{
        Lanes, Limbs, P, add, available, factors, limbs_of, load, montgomery, mul, splat, store,
        subtract_if_at_least,
    };
    use crate::poseidon::{self, FULL_ROUNDS, PARTIAL_ROUNDS, WIDTH};

    /// The hashes of `group` (at most eight inputs of one length), or `None` if the lengths
    /// differ or the CPU lacks IFMA.
    pub fn hash_group(group: &[&[Fp]]) -> Option<Vec<Fp>> {
        let len = group.first()?.len();
        if !available() || group.len() > LANES || group.iter().any(|input| input.len() != len) {
            return None;
        }
        // SAFETY: `available()` found both features.
        let out = unsafe { hash_lanes(group, len) };
        Some(out[..group.len()].to_vec())
    }

    /// The constants of [`poseidon::permute`] in Montgomery form.
    struct Constants {
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

    fn constants() -> &'static Constants {
        static CONSTANTS: OnceLock<Constants> = OnceLock::new();
        CONSTANTS.get_or_init(|| {
            let c = poseidon::constants();
            let sparse = poseidon::sparse_form();
            let half = FULL_ROUNDS / 2;
            let full_rounds =
                (0..half).chain(half + PARTIAL_ROUNDS + 1..FULL_ROUNDS + PARTIAL_ROUNDS);
            Constants {
                full: full_rounds
                    .map(|round| c.round_constants[round].map(montgomery))
                    .collect(),
                mds: c.mds.map(|row| row.map(montgomery)),
                entry: sparse.entry.map(|row| row.map(montgomery)),
                partial: sparse
                    .constants
                    .iter()
                    .zip(&sparse.rounds)
                    .map(|(k, round)| PartialRound {
                        constant: montgomery(*k),
                        first: montgomery(round.first),
                        row: round.row.map(montgomery),
                        column: round.column.map(montgomery),
                    })
                    .collect(),
                after_partial: sparse.after_partial.map(montgomery),
            }
        })
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

    /// A full round on words below `6p`: constants added, S-boxes, the MDS matrix.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn full_round(c: &Constants, s: &[Lanes; WIDTH], rc: &[Limbs; WIDTH]) -> [Lanes; WIDTH] {
        let x: [Lanes; WIDTH] = std::array::from_fn(|i| sbox(&add(&s[i], &splat(&rc[i]))));
        std::array::from_fn(|i| dot(&c.mds[i], &x))
    }

    /// [`poseidon::permute`] on words below `6p`; its words are below `6p` again.
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn permute(c: &Constants, mut s: [Lanes; WIDTH]) -> [Lanes; WIDTH] {
        let two_p = factors().two_p;
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
                subtract_if_at_least(&add(&mul(&splat(&round.column[0]), &x), &s[1]), &two_p),
                subtract_if_at_least(&add(&mul(&splat(&round.column[1]), &x), &s[2]), &two_p),
            ];
        }
        s = full_round(c, &s, &c.after_partial);
        for rc in &c.full[half..] {
            s = full_round(c, &s, rc);
        }
        s
    }

    /// The sponge of [`poseidon::hash`] over each input of `group` (all of length `len`).
    #[target_feature(enable = "avx512f,avx512ifma")]
    fn hash_lanes(group: &[&[Fp]], len: usize) -> [Fp; LANES] {
        let c = constants();
        let four_p = factors().four_p;
        let zero = splat(&[0; P.len()]);
        let capacity = splat(&limbs_of(poseidon::capacity_for_length(len) * factors().r));
        let mut s = [zero, zero, capacity];
        let mut word = vec![Fp::ZERO; group.len()];
        for start in (0..len).step_by(poseidon::RATE) {
            for position in start..(start + poseidon::RATE).min(len) {
                for (w, input) in word.iter_mut().zip(group) {
                    *w = input[position];
                }
                let i = position - start;
                // Below 6p + 2p, brought back below 4p.
                s[i] = subtract_if_at_least(&add(&s[i], &load(&word)), &four_p);
            }
            s = permute(c, s);
        }
        store(&s[0])
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
    fn pairs_hash_as_merkle_parents() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for count in [0, 1, 8, 13] {
            let pairs: Vec<(Fp, Fp)> = (0..count)
                .map(|_| (Fp::random(&mut rng), Fp::random(&mut rng)))
                .collect();
            let expected: Vec<Fp> = pairs.iter().map(|&(l, r)| poseidon::hash2(l, r)).collect();
            assert_eq!(hash2_many(&pairs), expected);
        }
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

    proptest::proptest! {
        #[test]
        fn any_inputs_hash_as_the_scalar_sponge_does(
            seed in proptest::prelude::any::<u64>(),
            len in 0usize..12,
            count in 1usize..18,
        ) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let inputs: Vec<Vec<Fp>> = (0..count)
                .map(|_| (0..len).map(|_| Fp::random(&mut rng)).collect())
                .collect();
            check(&inputs);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn a_group_of_mixed_lengths_is_refused() {
        let (a, b): (&[Fp], &[Fp]) = (&[Fp::ONE], &[Fp::ONE, Fp::ONE]);
        assert!(ifma::hash_group(&[a, b]).is_none());
        assert!(ifma::hash_group(&[a; LANES + 1]).is_none());
    }
}
