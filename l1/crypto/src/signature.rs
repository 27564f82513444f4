//! [`Signature`]: a 64-byte `r || s` signature tagged with its suite, checked
//! for range (and low-s on secp256k1) when built from bytes.

use crate::error::EncodingError;
use crate::suite::CryptoSuite;
use crate::{secp256k1_backend, sm2_backend};
use std::fmt;

/// Length of a signature in bytes (`r || s`, big-endian) in both suites.
pub const SIGNATURE_LEN: usize = 64;

/// A consensus signature of one suite. Both suites sign deterministically, so
/// the same key and message always give the same bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signature {
    suite: CryptoSuite,
    bytes: [u8; SIGNATURE_LEN],
}

impl Signature {
    /// Parse `r || s`; rejects wrong lengths, scalars outside `[1, n-1]`, and
    /// high-s secp256k1 signatures (which would make signatures malleable).
    pub fn from_bytes(suite: CryptoSuite, bytes: &[u8]) -> Result<Self, EncodingError> {
        let bytes: [u8; SIGNATURE_LEN] =
            bytes
                .try_into()
                .map_err(|_| EncodingError::SignatureLength {
                    suite,
                    got: bytes.len(),
                })?;
        match suite {
            CryptoSuite::Secp256k1Keccak => secp256k1_backend::check_signature(&bytes)?,
            CryptoSuite::Sm2Sm3 => sm2_backend::check_signature(&bytes)?,
        }
        Ok(Self { suite, bytes })
    }

    /// Built by a backend that produced a valid signature.
    pub(crate) fn from_trusted(suite: CryptoSuite, bytes: [u8; SIGNATURE_LEN]) -> Self {
        Self { suite, bytes }
    }

    pub fn suite(&self) -> CryptoSuite {
        self.suite
    }

    pub fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        self.bytes
    }

    pub fn as_bytes(&self) -> &[u8; SIGNATURE_LEN] {
        &self.bytes
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Signature({}, 0x{})",
            self.suite,
            hex::encode(self.bytes)
        )
    }
}

/// True when `bytes` (32 bytes, big-endian) encode a scalar in `[1, n-1]`.
pub(crate) fn scalar_in_range<C>(bytes: &[u8]) -> bool
where
    C: sm2::elliptic_curve::CurveArithmetic,
{
    sm2::elliptic_curve::NonZeroScalar::<C>::try_from(bytes).is_ok()
}

/// Adapts the `rand` 0.9 thread RNG to the `rand_core` 0.6 traits that the
/// RustCrypto 0.13 curve crates take (only used on a ~2^-256 retry path).
pub(crate) struct LegacyRng(pub rand::rngs::ThreadRng);

impl sm2::elliptic_curve::rand_core::RngCore for LegacyRng {
    fn next_u32(&mut self) -> u32 {
        rand::RngCore::next_u32(&mut self.0)
    }
    fn next_u64(&mut self) -> u64 {
        rand::RngCore::next_u64(&mut self.0)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        rand::RngCore::fill_bytes(&mut self.0, dest)
    }
    fn try_fill_bytes(
        &mut self,
        dest: &mut [u8],
    ) -> Result<(), sm2::elliptic_curve::rand_core::Error> {
        rand::RngCore::fill_bytes(&mut self.0, dest);
        Ok(())
    }
}

impl sm2::elliptic_curve::rand_core::CryptoRng for LegacyRng {}
