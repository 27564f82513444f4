//! [`SecretKey`] and [`PublicKey`] of either suite: generation (random or from a
//! seed), byte encodings that are checked when parsed, signing and verifying.

use crate::error::{EncodingError, VerifyError};
use crate::signature::Signature;
use crate::suite::CryptoSuite;
use crate::{secp256k1_backend, sm2_backend};
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use zeroize::Zeroizing;

/// Length of a secret key in bytes (a big-endian scalar) in both suites.
pub const SECRET_KEY_LEN: usize = 32;
/// Length of the canonical (compressed SEC1) public key encoding.
pub const PUBLIC_KEY_LEN: usize = 33;
/// Length of the uncompressed SEC1 public key encoding (`0x04 || x || y`).
pub const UNCOMPRESSED_PUBLIC_KEY_LEN: usize = 65;

/// Domain separator for [`SecretKey::from_seed`].
const SEED_DOMAIN: &[u8] = b"kaimeng/crypto/dev-secret-key/v1";

/// A signing key. `Debug` never prints the secret.
#[derive(Clone)]
pub struct SecretKey {
    inner: SecretInner,
}

#[derive(Clone)]
enum SecretInner {
    Secp256k1(k256::ecdsa::SigningKey),
    Sm2(Box<sm2::dsa::SigningKey>),
}

impl SecretKey {
    /// A random key drawn from `rng` (rejection sampling into `[1, n-1]`).
    pub fn generate<R: rand::CryptoRng + ?Sized>(suite: CryptoSuite, rng: &mut R) -> Self {
        loop {
            let mut candidate = Zeroizing::new([0u8; SECRET_KEY_LEN]);
            rng.fill_bytes(candidate.as_mut());
            if let Ok(key) = Self::from_bytes(suite, candidate.as_ref()) {
                return key;
            }
        }
    }

    /// A deterministic key for development and test networks:
    /// the first `suite.hash(domain || seed || counter)` (counter = 0, 1, ...)
    /// that is a valid scalar. Never use this for production keys.
    pub fn from_seed(suite: CryptoSuite, seed: &[u8; 32]) -> Self {
        let mut counter: u32 = 0;
        loop {
            let mut input = Zeroizing::new(Vec::with_capacity(SEED_DOMAIN.len() + 36));
            input.extend_from_slice(SEED_DOMAIN);
            input.extend_from_slice(seed);
            input.extend_from_slice(&counter.to_be_bytes());
            let candidate = Zeroizing::new(suite.hash(&input));
            if let Ok(key) = Self::from_bytes(suite, candidate.as_ref()) {
                return key;
            }
            counter = counter.wrapping_add(1);
        }
    }

    /// Parse a 32-byte big-endian scalar in `[1, n-1]`.
    pub fn from_bytes(suite: CryptoSuite, bytes: &[u8]) -> Result<Self, EncodingError> {
        let bytes: &[u8; SECRET_KEY_LEN] =
            bytes
                .try_into()
                .map_err(|_| EncodingError::SecretKeyLength {
                    suite,
                    got: bytes.len(),
                })?;
        let inner = match suite {
            CryptoSuite::Secp256k1Keccak => {
                SecretInner::Secp256k1(secp256k1_backend::secret_key(bytes)?)
            }
            CryptoSuite::Sm2Sm3 => SecretInner::Sm2(Box::new(sm2_backend::secret_key(bytes)?)),
        };
        Ok(Self { inner })
    }

    pub fn suite(&self) -> CryptoSuite {
        match self.inner {
            SecretInner::Secp256k1(_) => CryptoSuite::Secp256k1Keccak,
            SecretInner::Sm2(_) => CryptoSuite::Sm2Sm3,
        }
    }

    /// The secret scalar, big-endian; wiped from memory when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; SECRET_KEY_LEN]> {
        let bytes = match &self.inner {
            SecretInner::Secp256k1(key) => key.to_bytes(),
            SecretInner::Sm2(key) => key.to_bytes(),
        };
        let mut out = Zeroizing::new([0u8; SECRET_KEY_LEN]);
        out.copy_from_slice(&bytes);
        out
    }

    pub fn public_key(&self) -> PublicKey {
        match &self.inner {
            SecretInner::Secp256k1(key) => PublicKey::from_secp256k1(*key.verifying_key()),
            SecretInner::Sm2(key) => PublicKey::from_sm2(key.verifying_key().clone()),
        }
    }

    /// Sign `message` (any length). secp256k1: ECDSA over `keccak256(message)`;
    /// SM2: over `SM3(Z_A || message)` with the default identity. Deterministic.
    pub fn sign(&self, message: &[u8]) -> Signature {
        match &self.inner {
            SecretInner::Secp256k1(key) => Signature::from_trusted(
                CryptoSuite::Secp256k1Keccak,
                secp256k1_backend::sign(key, message),
            ),
            SecretInner::Sm2(key) => {
                Signature::from_trusted(CryptoSuite::Sm2Sm3, sm2_backend::sign(key, message))
            }
        }
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey({}, public {:?})",
            self.suite(),
            self.public_key()
        )
    }
}

/// A verifying key. Equality, hashing and ordering follow (suite, compressed bytes).
/// For SM2 it carries the precomputed `Z_A`, so keep parsed keys around rather
/// than re-parsing them for every verification.
#[derive(Clone)]
pub struct PublicKey {
    compressed: [u8; PUBLIC_KEY_LEN],
    inner: PublicInner,
}

#[derive(Clone)]
enum PublicInner {
    Secp256k1(k256::ecdsa::VerifyingKey),
    Sm2(Box<sm2::dsa::VerifyingKey>),
}

impl PublicKey {
    fn from_secp256k1(key: k256::ecdsa::VerifyingKey) -> Self {
        Self {
            compressed: secp256k1_backend::compressed(&key),
            inner: PublicInner::Secp256k1(key),
        }
    }

    fn from_sm2(key: sm2::dsa::VerifyingKey) -> Self {
        Self {
            compressed: sm2_backend::compressed(&key),
            inner: PublicInner::Sm2(Box::new(key)),
        }
    }

    /// Parse SEC1 bytes: 33 bytes compressed (`0x02`/`0x03 || x`) or 65 bytes
    /// uncompressed (`0x04 || x || y`); the point must be on the curve.
    pub fn from_bytes(suite: CryptoSuite, bytes: &[u8]) -> Result<Self, EncodingError> {
        match (bytes.len(), bytes.first()) {
            (PUBLIC_KEY_LEN, Some(0x02 | 0x03)) | (UNCOMPRESSED_PUBLIC_KEY_LEN, Some(0x04)) => {}
            (PUBLIC_KEY_LEN | UNCOMPRESSED_PUBLIC_KEY_LEN, Some(&prefix)) => {
                return Err(EncodingError::PublicKeyPrefix { suite, prefix });
            }
            (got, _) => return Err(EncodingError::PublicKeyLength { suite, got }),
        }
        Ok(match suite {
            CryptoSuite::Secp256k1Keccak => {
                Self::from_secp256k1(secp256k1_backend::public_key(bytes)?)
            }
            CryptoSuite::Sm2Sm3 => Self::from_sm2(sm2_backend::public_key(bytes)?),
        })
    }

    pub fn suite(&self) -> CryptoSuite {
        match self.inner {
            PublicInner::Secp256k1(_) => CryptoSuite::Secp256k1Keccak,
            PublicInner::Sm2(_) => CryptoSuite::Sm2Sm3,
        }
    }

    /// The canonical encoding: compressed SEC1, 33 bytes, in both suites.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.compressed
    }

    /// Uncompressed SEC1 (`0x04 || x || y`), the form most SM2 tools exchange.
    pub fn to_uncompressed(&self) -> [u8; UNCOMPRESSED_PUBLIC_KEY_LEN] {
        match &self.inner {
            PublicInner::Secp256k1(key) => secp256k1_backend::uncompressed(key),
            PublicInner::Sm2(key) => sm2_backend::uncompressed(key),
        }
    }

    /// Check `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), VerifyError> {
        let suite = self.suite();
        if signature.suite() != suite {
            return Err(VerifyError::SuiteMismatch {
                what: "signature",
                expected: suite,
                got: signature.suite(),
            });
        }
        let ok = match &self.inner {
            PublicInner::Secp256k1(key) => {
                secp256k1_backend::verify(key, message, signature.as_bytes())
            }
            PublicInner::Sm2(key) => sm2_backend::verify(key, message, signature.as_bytes()),
        };
        if ok {
            Ok(())
        } else {
            Err(VerifyError::BadSignature { suite })
        }
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.suite() == other.suite() && self.compressed == other.compressed
    }
}

impl Eq for PublicKey {}

impl Hash for PublicKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Hash::hash(&self.suite(), state);
        self.compressed.hash(state);
    }
}

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.suite(), self.compressed).cmp(&(other.suite(), other.compressed))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({}, 0x{})",
            self.suite(),
            hex::encode(self.compressed)
        )
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.compressed))
    }
}
