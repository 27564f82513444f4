//! The fixed base of L2 signatures (the Pallas generator `G`) in the form the ECC chip's
//! fixed-base multiplication needs: per 3-bit window, the Lagrange coefficients and the
//! `(z, u)` values that prove each window's point lies on the curve.
//!
//! The `(z, u)` values take minutes to find, so they are precomputed in
//! [`super::generator_constants`]; an ignored test regenerates them.

use std::sync::LazyLock;

use group::{Curve, Group};
use halo2_gadgets::ecc::FixedPoints;
#[cfg(test)]
use halo2_gadgets::ecc::chip::NUM_WINDOWS;
use halo2_gadgets::ecc::chip::{BaseFieldElem, FixedPoint, FullScalar, H, ShortScalar};
use pasta_curves::pallas;

#[cfg(test)]
use ff::PrimeField;

static GENERATOR: LazyLock<pallas::Affine> =
    LazyLock::new(|| pallas::Point::generator().to_affine());
fn full_us() -> Vec<[[u8; 32]; H]> {
    super::generator_constants::U.to_vec()
}

fn full_zs() -> Vec<u64> {
    super::generator_constants::Z.to_vec()
}

/// The fixed bases of the chunk circuit: only `G`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureBases;

/// `G` for full-width scalars (the signature response `s`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratorFull;

/// `G` for base-field scalars (required by the chip's interface; unused).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratorBase;

/// `G` for short signed scalars (required by the chip's interface; the chunk circuit never
/// multiplies by a short scalar, so its window values are not precomputed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratorShort;

impl FixedPoints<pallas::Affine> for SignatureBases {
    type FullScalar = GeneratorFull;
    type ShortScalar = GeneratorShort;
    type Base = GeneratorBase;
}

impl FixedPoint<pallas::Affine> for GeneratorFull {
    type FixedScalarKind = FullScalar;
    fn generator(&self) -> pallas::Affine {
        *GENERATOR
    }
    fn u(&self) -> Vec<[[u8; 32]; H]> {
        full_us()
    }
    fn z(&self) -> Vec<u64> {
        full_zs()
    }
}

impl FixedPoint<pallas::Affine> for GeneratorBase {
    type FixedScalarKind = BaseFieldElem;
    fn generator(&self) -> pallas::Affine {
        *GENERATOR
    }
    fn u(&self) -> Vec<[[u8; 32]; H]> {
        full_us()
    }
    fn z(&self) -> Vec<u64> {
        full_zs()
    }
}

impl FixedPoint<pallas::Affine> for GeneratorShort {
    type FixedScalarKind = ShortScalar;
    fn generator(&self) -> pallas::Affine {
        *GENERATOR
    }
    fn u(&self) -> Vec<[[u8; 32]; H]> {
        unimplemented!("the chunk circuit does not use short fixed-base multiplication")
    }
    fn z(&self) -> Vec<u64> {
        unimplemented!("the chunk circuit does not use short fixed-base multiplication")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precomputed_windows_have_the_right_shape() {
        assert_eq!(GeneratorFull.z().len(), NUM_WINDOWS);
        assert_eq!(GeneratorFull.u().len(), NUM_WINDOWS);
        assert_eq!(
            GeneratorFull.generator(),
            kaimeng_rollup::schnorr::generator()
        );
        // Every u is a canonical field element.
        for window in GeneratorFull.u() {
            for u in window {
                assert!(bool::from(pallas::Base::from_repr(u).is_some()));
            }
        }
    }
}

#[cfg(test)]
mod generate {
    use super::*;
    use halo2_gadgets::ecc::chip::find_zs_and_us;

    /// Regenerates `generator_constants.rs` into /tmp (slow: minutes). Run on purpose only.
    #[test]
    #[ignore]
    fn print_generator_constants() {
        let table = find_zs_and_us(*GENERATOR, NUM_WINDOWS).expect("z/u values exist");
        let mut out = String::new();
        out.push_str("pub static Z: [u64; NUM_WINDOWS] = [\n");
        for (z, _) in table.iter() {
            out.push_str(&format!("    {z},\n"));
        }
        out.push_str("];\n\npub static U: [[[u8; 32]; H]; NUM_WINDOWS] = [\n");
        for (_, us) in table.iter() {
            out.push_str("    [\n");
            for u in us {
                out.push_str(&format!("        {:?},\n", u.to_repr()));
            }
            out.push_str("    ],\n");
        }
        out.push_str("];\n");
        std::fs::write("/tmp/generator_constants.rs", out).unwrap();
    }
}
