//! Kaimeng's consensus cryptography: the two genesis-selectable suites
//! (`secp256k1-keccak` and `sm2-sm3`), the 国密 EVM precompile logic (SM3 hash,
//! SM2 verify) and SM4-encrypted validator keystores.
//!
//! Everything here is pure except [`keystore::load_keystore`] and
//! [`keystore::save_keystore`], which read and write one file.
//!
//! # Using a suite
//!
//! ```
//! use kaimeng_crypto::{CryptoSuite, SecretKey};
//!
//! let suite: CryptoSuite = "sm2-sm3".parse().unwrap();
//! let key = SecretKey::from_seed(suite, &[7u8; 32]);
//! let digest = suite.hash(b"block header bytes");
//! let signature = key.sign(&digest);
//! assert!(suite.verify(&key.public_key(), &digest, &signature).is_ok());
//!
//! // Keys and signatures travel as bytes and are checked when parsed back.
//! let public = suite.public_key_from_bytes(&key.public_key().to_bytes()).unwrap();
//! let signature = suite.signature_from_bytes(&signature.to_bytes()).unwrap();
//! assert!(public.verify(&digest, &signature).is_ok());
//!
//! // A consensus engine holding raw bytes: one SuiteVerifier per node.
//! let verifier = kaimeng_crypto::SuiteVerifier::new(suite);
//! let raw_key = key.public_key().to_bytes();
//! assert!(verifier.verify_bytes(&raw_key, &digest, &signature.to_bytes()).is_ok());
//! ```
//!
//! Two SM implementations are linked: RustCrypto (`sm2`/`sm3`/`sm4`) serves every
//! hot path; [`alt_sm_crypto`] wraps the `sm-crypto` crate for cross-checks and
//! benchmarks (see `docs/adr/0020-sm-library-choice.md`).

pub mod alt_sm_crypto;
mod error;
mod keys;
pub mod keystore;
pub mod precompile;
mod secp256k1_backend;
mod signature;
mod sm2_backend;
pub mod sm2_digest;
mod suite;
mod verifier;
pub mod vrf;

pub use error::{EncodingError, VerifyError};
pub use keys::{PUBLIC_KEY_LEN, SECRET_KEY_LEN, UNCOMPRESSED_PUBLIC_KEY_LEN};
pub use keys::{PublicKey, SecretKey};
pub use signature::SIGNATURE_LEN;
pub use signature::Signature;
pub use suite::{CryptoSuite, HASH_LEN, UnknownSuite};
pub use verifier::{BytesVerifyError, MAX_CACHED_KEYS, SuiteVerifier};
