//! Drawing shard committees from an epoch seed (ADR 0098): the members are permuted by a
//! swap-or-not shuffle (Hoang–Morris–Rogaway) keyed by the seed, and each shard takes a run of
//! consecutive seats in the permuted list.
//!
//! Everything here is a pure function of its inputs. The hash is the chain's consensus hash,
//! passed in by the caller, so this module does not depend on the crypto suite; every node must
//! pass the same one.
//!
//! One round `r` (0-based, one byte) of the shuffle moves index `i` among `n` as follows:
//!
//! ```text
//! pivot    = u64_le(H(seed ‖ r)[0..8]) mod n
//! flip     = (pivot + n - i) mod n
//! position = max(i, flip)
//! source   = H(seed ‖ r ‖ u32_le(position / 256))
//! bit      = (source[(position % 256) / 8] >> (position % 8)) & 1
//! i        = if bit == 1 { flip } else { i }
//! ```
//!
//! Each round pairs `i` with `flip` and decides for the pair as a whole (both see the same
//! `position`), so a round is a permutation that is its own inverse; [`SHUFFLE_ROUNDS`] of them
//! make the seed's permutation.

/// The chain's consensus hash (32-byte output), as the caller supplies it.
pub type Hash = dyn Fn(&[u8]) -> [u8; 32];

/// Rounds of swap-or-not per shuffle.
pub const SHUFFLE_ROUNDS: u8 = 90;

/// Where index `index` of `count` goes under the seed's permutation (swap-or-not,
/// [`SHUFFLE_ROUNDS`] rounds). An index outside `0..count` (including any index when
/// `count == 0`) is returned unchanged; with `count == 1` this is the identity.
pub fn shuffled_index(index: u32, count: u32, seed: &[u8; 32], hash: &Hash) -> u32 {
    permute_index(index, count, seed, SHUFFLE_ROUNDS, hash)
}

/// The whole permutation as a list of `count` member indices: position `p` holds the index `i`
/// with `shuffled_index(i, count, seed, hash) == p`. So `shuffle(..)[shuffled_index(i, ..)] == i`
/// for every `i` in `0..count`. Empty for `count == 0`.
///
/// Costs about `SHUFFLE_ROUNDS * (1 + ceil(count / 256))` hashes, against
/// `2 * SHUFFLE_ROUNDS * count` for calling [`shuffled_index`] on every index.
pub fn shuffle(count: u32, seed: &[u8; 32], hash: &Hash) -> Vec<u32> {
    permute_list(count, seed, SHUFFLE_ROUNDS, hash)
}

/// The committees of `shards` shards (one entry per shard, in shard order), each of
/// `min(committee_size, members)` distinct member indices (indices into the member list,
/// `0..members`), in seat order.
///
/// The members are permuted by [`shuffle`]; shard `i`'s committee is the `c` members from
/// position `(i * c) mod members` of the permuted list onwards, wrapping around at the end. So
/// when `members >= shards * c` the committees are disjoint, and with fewer members they overlap
/// (each still has `c` distinct members); when `shards * c >= members` every member sits on at
/// least one committee.
///
/// A `committee_size` of 0 is treated as 1. With `members == 0` every committee is empty; with
/// `shards == 0` there are none.
pub fn assign(
    seed: &[u8; 32],
    members: u32,
    shards: u32,
    committee_size: u32,
    hash: &Hash,
) -> Vec<Vec<u32>> {
    if shards == 0 {
        return Vec::new();
    }
    if members == 0 {
        return vec![Vec::new(); shards as usize];
    }
    let n = u64::from(members);
    let c = u64::from(committee_size.max(1)).min(n);
    let permuted = shuffle(members, seed, hash);
    (0..u64::from(shards))
        .map(|shard| {
            // shard < 2^32 and c <= 2^32 - 1, so the product fits; start + seat < 2n.
            let start = shard * c % n;
            (0..c)
                .map(|seat| permuted[((start + seat) % n) as usize])
                .collect()
        })
        .collect()
}

/// `H(seed ‖ round)`: the round's pivot comes from its first 8 bytes.
fn pivot(count: u64, seed: &[u8; 32], round: u8, hash: &Hash) -> u64 {
    let mut input = [0u8; 33];
    input[..32].copy_from_slice(seed);
    input[32] = round;
    let digest = hash(&input);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first) % count
}

/// `H(seed ‖ round ‖ u32_le(block))`: the swap bits of positions `256 * block .. 256 * block + 255`.
fn source(seed: &[u8; 32], round: u8, block: u32, hash: &Hash) -> [u8; 32] {
    let mut input = [0u8; 37];
    input[..32].copy_from_slice(seed);
    input[32] = round;
    input[33..].copy_from_slice(&block.to_le_bytes());
    hash(&input)
}

/// The swap bit of `position` in its block's source.
fn bit(source: &[u8; 32], position: u64) -> bool {
    (source[((position % 256) / 8) as usize] >> (position % 8)) & 1 == 1
}

/// [`shuffled_index`] with the number of rounds as a parameter (the tests use fewer).
fn permute_index(index: u32, count: u32, seed: &[u8; 32], rounds: u8, hash: &Hash) -> u32 {
    if count <= 1 || index >= count {
        return index;
    }
    let n = u64::from(count);
    let mut i = u64::from(index);
    for round in 0..rounds {
        let flip = (pivot(n, seed, round, hash) + n - i) % n;
        let position = i.max(flip);
        // position < n <= 2^32 - 1, so position / 256 fits in a u32.
        let source = source(seed, round, (position / 256) as u32, hash);
        if bit(&source, position) {
            i = flip;
        }
    }
    // i < n = count, so it fits.
    i as u32
}

/// [`shuffle`] with the number of rounds as a parameter: applies each round to the whole list
/// at once. `list[p]` is the index currently at position `p`; a round swaps the pair
/// `(flip, position)` (with `flip < position`) whenever the bit of `position` is set, which is
/// exactly where [`permute_index`] moves those two indices.
fn permute_list(count: u32, seed: &[u8; 32], rounds: u8, hash: &Hash) -> Vec<u32> {
    let mut list: Vec<u32> = (0..count).collect();
    if count <= 1 {
        return list;
    }
    let n = u64::from(count);
    for round in 0..rounds {
        let pivot = pivot(n, seed, round, hash);
        // Visit each pair once, at its larger member, in increasing order so each block's source
        // is hashed once.
        let mut block = u32::MAX;
        let mut bits = [0u8; 32];
        for position in 0..n {
            let flip = (pivot + n - position) % n;
            if flip >= position {
                continue;
            }
            let position_block = (position / 256) as u32;
            if position_block != block {
                block = position_block;
                bits = source(seed, round, block, hash);
            }
            if bit(&bits, position) {
                list.swap(flip as usize, position as usize);
            }
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn sha256(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    /// A fixed, distinct seed per `k`.
    fn seed(k: u32) -> [u8; 32] {
        let mut input = b"kaimeng/committees/test-seed/".to_vec();
        input.extend_from_slice(&k.to_le_bytes());
        sha256(&input)
    }

    fn is_permutation(list: &[u32], count: u32) -> bool {
        let mut seen = vec![false; count as usize];
        list.len() == count as usize
            && list.iter().all(|&i| {
                let fresh = i < count && !seen[i as usize];
                if fresh {
                    seen[i as usize] = true;
                }
                fresh
            })
    }

    #[test]
    fn shuffle_is_a_permutation() {
        for k in 0..8 {
            for count in 0..=200 {
                let list = shuffle(count, &seed(k), &sha256);
                assert!(
                    is_permutation(&list, count),
                    "count {count}, seed {k}: {list:?}"
                );
            }
        }
        for count in [255, 256, 257, 511, 512, 513, 1000] {
            assert!(is_permutation(&shuffle(count, &seed(0), &sha256), count));
        }
    }

    #[test]
    fn shuffled_index_agrees_with_shuffle() {
        let counts = (1..=64).chain([100, 199, 200, 255, 256, 257, 300, 513]);
        for count in counts {
            for k in 0..2 {
                let list = shuffle(count, &seed(k), &sha256);
                for i in 0..count {
                    let p = shuffled_index(i, count, &seed(k), &sha256);
                    assert_eq!(list[p as usize], i, "count {count}, seed {k}, index {i}");
                }
            }
        }
    }

    #[test]
    fn list_and_index_forms_agree_for_any_number_of_rounds() {
        for rounds in [0, 1, 2, 3, 17] {
            for count in [2, 3, 7, 40, 300] {
                let list = permute_list(count, &seed(5), rounds, &sha256);
                for i in 0..count {
                    let p = permute_index(i, count, &seed(5), rounds, &sha256);
                    assert_eq!(list[p as usize], i);
                }
            }
        }
    }

    /// Pinned outputs (computed independently from the round rule in the module comment), so
    /// that any change to the draw, which would split the chain, fails here.
    #[test]
    fn known_answers() {
        let zero = [0u8; 32];
        assert_eq!(shuffle(10, &zero, &sha256), KNOWN_SHUFFLE_10);
        assert_eq!(
            shuffle(300, &seed(1), &sha256)[..8],
            KNOWN_SHUFFLE_300_PREFIX
        );
        assert_eq!(assign(&zero, 10, 3, 4, &sha256), KNOWN_ASSIGN);
    }

    const KNOWN_SHUFFLE_10: [u32; 10] = [5, 3, 9, 8, 2, 6, 7, 1, 4, 0];
    const KNOWN_SHUFFLE_300_PREFIX: [u32; 8] = [298, 87, 165, 77, 286, 157, 230, 194];
    const KNOWN_ASSIGN: [[u32; 4]; 3] = [[5, 3, 9, 8], [2, 6, 7, 1], [4, 0, 5, 3]];

    #[test]
    fn different_seeds_give_different_permutations() {
        for count in [8, 9, 16, 50, 100, 257] {
            let lists: Vec<Vec<u32>> = (0..20).map(|k| shuffle(count, &seed(k), &sha256)).collect();
            for a in 0..lists.len() {
                for b in a + 1..lists.len() {
                    assert_ne!(lists[a], lists[b], "count {count}: seeds {a} and {b}");
                }
            }
        }
    }

    #[test]
    fn committees_have_distinct_members_in_range() {
        for members in 1..=40 {
            for shards in 1..=6 {
                for size in 0..=12 {
                    let committees = assign(&seed(members), members, shards, size, &sha256);
                    assert_eq!(committees.len(), shards as usize);
                    let c = size.max(1).min(members) as usize;
                    for committee in &committees {
                        assert_eq!(committee.len(), c);
                        let mut sorted = committee.clone();
                        sorted.sort_unstable();
                        sorted.dedup();
                        assert_eq!(sorted.len(), c, "duplicate in {committee:?}");
                        assert!(committee.iter().all(|&m| m < members));
                    }
                }
            }
        }
    }

    #[test]
    fn committees_are_disjoint_when_members_suffice() {
        for (members, shards, size) in [
            (12, 3, 4),
            (13, 3, 4),
            (100, 4, 22),
            (100, 4, 25),
            (9, 9, 1),
        ] {
            for k in 0..10 {
                let committees = assign(&seed(k), members, shards, size, &sha256);
                let mut all: Vec<u32> = committees.concat();
                assert_eq!(all.len(), (shards * size) as usize);
                all.sort_unstable();
                all.dedup();
                assert_eq!(all.len(), (shards * size) as usize, "{committees:?}");
            }
        }
    }

    #[test]
    fn every_member_serves_when_seats_cover_the_members() {
        for (members, shards, size) in [
            (4, 4, 4),
            (8, 4, 4),
            (10, 3, 4),
            (12, 3, 4),
            (7, 2, 4),
            (5, 5, 1),
        ] {
            for k in 0..10 {
                let committees = assign(&seed(k), members, shards, size, &sha256);
                let mut all: Vec<u32> = committees.concat();
                all.sort_unstable();
                all.dedup();
                assert_eq!(all, (0..members).collect::<Vec<_>>(), "{committees:?}");
            }
        }
    }

    #[test]
    fn committees_follow_the_permuted_list() {
        let permuted = shuffle(10, &seed(3), &sha256);
        let committees = assign(&seed(3), 10, 4, 3, &sha256);
        assert_eq!(committees[0], permuted[0..3]);
        assert_eq!(committees[3], [permuted[9], permuted[0], permuted[1]]);
    }

    /// How often member `m` lands at position `p` over `seeds` seeds, for `n` members.
    fn placements(n: u32, seeds: u32, rounds: u8) -> Vec<Vec<u32>> {
        let mut counts = vec![vec![0u32; n as usize]; n as usize];
        for k in 0..seeds {
            for (p, &m) in permute_list(n, &seed(k), rounds, &sha256)
                .iter()
                .enumerate()
            {
                counts[m as usize][p] += 1;
            }
        }
        counts
    }

    /// Every (member, position) frequency within 25 % of the expected `seeds / n`.
    fn roughly_uniform(counts: &[Vec<u32>], seeds: u32) -> bool {
        let expected = f64::from(seeds) / counts.len() as f64;
        counts
            .iter()
            .flatten()
            .all(|&c| (f64::from(c) - expected).abs() <= 0.25 * expected)
    }

    #[test]
    fn placements_are_uniform() {
        // Expected 250 per cell, standard deviation about 14.8: the bound is over 4 deviations,
        // and the seeds are fixed, so the test is deterministic.
        let counts = placements(8, 2_000, SHUFFLE_ROUNDS);
        assert!(roughly_uniform(&counts, 2_000), "{counts:?}");
    }

    #[test]
    fn the_uniformity_check_catches_too_few_rounds() {
        // One round leaves about 9/16 of the members where they were.
        assert!(!roughly_uniform(&placements(8, 2_000, 1), 2_000));
        assert!(!roughly_uniform(&placements(8, 2_000, 0), 2_000));
    }

    #[test]
    fn edge_cases() {
        let s = seed(0);
        assert_eq!(shuffle(0, &s, &sha256), Vec::<u32>::new());
        assert_eq!(shuffle(1, &s, &sha256), [0]);
        assert_eq!(shuffled_index(0, 1, &s, &sha256), 0);
        // Out of range: returned unchanged, no panic.
        assert_eq!(shuffled_index(5, 0, &s, &sha256), 5);
        assert_eq!(shuffled_index(5, 5, &s, &sha256), 5);
        assert_eq!(shuffled_index(u32::MAX, 3, &s, &sha256), u32::MAX);
        assert!(shuffled_index(u32::MAX - 1, u32::MAX, &s, &sha256) < u32::MAX);
        assert!(shuffled_index(0, u32::MAX, &s, &sha256) < u32::MAX);

        assert!(assign(&s, 0, 0, 0, &sha256).is_empty());
        assert!(assign(&s, 10, 0, 4, &sha256).is_empty());
        assert_eq!(assign(&s, 0, 3, 4, &sha256), vec![Vec::<u32>::new(); 3]);
        // Size 0 is size 1; one member fills every seat.
        assert_eq!(assign(&s, 1, 3, 0, &sha256), vec![vec![0]; 3]);
        assert_eq!(assign(&s, 1, 2, 4, &sha256), vec![vec![0]; 2]);
        let committees = assign(&s, 5, 5, 0, &sha256);
        assert!(committees.iter().all(|c| c.len() == 1));
        // Committee size above the member count: each committee is every member.
        for committee in assign(&s, 6, 3, u32::MAX, &sha256) {
            let mut sorted = committee.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..6).collect::<Vec<_>>());
        }
    }
}
