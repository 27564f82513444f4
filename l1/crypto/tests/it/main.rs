//! Integration tests of `kaimeng-crypto`: standard vectors, cross-library
//! agreement, suite behaviour, precompiles and keystores.

mod cross_library;
mod gmt_vectors;
mod keystore;
mod precompiles;
mod suites;

/// Decode a hex literal of a test vector (spaces allowed, as the standards print them).
pub fn unhex(s: &str) -> Vec<u8> {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(compact).expect("test vector is valid hex")
}

pub fn unhex_array<const N: usize>(s: &str) -> [u8; N] {
    unhex(s)
        .try_into()
        .expect("test vector has the expected length")
}
