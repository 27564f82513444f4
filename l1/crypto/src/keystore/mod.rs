//! Validator keystores: a secret key encrypted with SM4 under a key derived
//! from a password by PBKDF2-HMAC-SM3, authenticated by HMAC-SM3, stored as
//! JSON (format in `docs/crypto.md`, choices in ADR 0023).
//!
//! [`Keystore::encrypt`] / [`Keystore::decrypt`] are pure; [`save_keystore`] and
//! [`load_keystore`] do the file IO (atomic write, mode 0600).

mod cipher;
mod error;
mod file;
mod format;

pub use error::KeystoreError;
pub use file::{load_keystore, read_keystore, save_keystore};

use crate::keys::SecretKey;
use crate::suite::CryptoSuite;
use zeroize::Zeroizing;

/// The keystore format version this crate writes and reads.
pub const KEYSTORE_VERSION: u32 = 1;
/// The only KDF: PBKDF2 (RFC 8018) with HMAC-SM3 as the PRF.
pub const KDF_NAME: &str = "pbkdf2-hmac-sm3";
/// The only cipher: SM4 in counter mode (128-bit big-endian counter).
pub const CIPHER_NAME: &str = "sm4-ctr";
/// PBKDF2 iterations of new keystores (about a second on the reference machine).
pub const DEFAULT_ITERATIONS: u32 = 1_000_000;
/// Files asking for more iterations are rejected (they would stall startup).
pub const MAX_ITERATIONS: u32 = 50_000_000;
/// Salt length of new keystores; files may use 16..=64 bytes.
pub const SALT_LEN: usize = 32;
/// SM4 counter-mode IV length.
pub const IV_LEN: usize = 16;
/// HMAC-SM3 tag length.
pub const MAC_LEN: usize = 32;
/// Largest secret a keystore holds.
pub const MAX_SECRET_LEN: usize = 1024;

/// An encrypted secret key, as stored on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keystore {
    /// Format version ([`KEYSTORE_VERSION`]).
    pub version: u32,
    /// Suite the secret belongs to.
    pub suite: CryptoSuite,
    /// Compressed public key of the secret, when it is a key of `suite`; lets an
    /// operator see which validator a file belongs to without the password, and
    /// is checked against the decrypted key.
    pub public_key: Option<[u8; 33]>,
    /// PBKDF2-HMAC-SM3 iteration count.
    pub iterations: u32,
    /// PBKDF2 salt.
    pub salt: Vec<u8>,
    /// SM4-CTR initial counter block.
    pub iv: [u8; IV_LEN],
    /// SM4-CTR encryption of the secret.
    pub ciphertext: Vec<u8>,
    /// HMAC-SM3 over the suite name, IV and ciphertext, under the second half
    /// of the derived key.
    pub mac: [u8; MAC_LEN],
}

impl Keystore {
    /// Encrypts `secret` with [`DEFAULT_ITERATIONS`] and a fresh random salt and IV.
    pub fn encrypt(secret: &[u8], password: impl AsRef<[u8]>, suite: CryptoSuite) -> Keystore {
        let (salt, iv) = fresh_salt_and_iv();
        Self::seal(
            secret,
            password.as_ref(),
            suite,
            DEFAULT_ITERATIONS,
            &salt,
            iv,
        )
    }

    /// Like [`Keystore::encrypt`] with another iteration count (tests, or
    /// operators who want a slower KDF).
    pub fn encrypt_with_iterations(
        secret: &[u8],
        password: impl AsRef<[u8]>,
        suite: CryptoSuite,
        iterations: u32,
    ) -> Result<Keystore, KeystoreError> {
        let (salt, iv) = fresh_salt_and_iv();
        Self::encrypt_with(secret, password, suite, iterations, &salt, iv)
    }

    /// Encrypts with an explicit iteration count, salt and IV (for tests and
    /// tools that need reproducible files). Checks them as a file would be checked.
    pub fn encrypt_with(
        secret: &[u8],
        password: impl AsRef<[u8]>,
        suite: CryptoSuite,
        iterations: u32,
        salt: &[u8],
        iv: [u8; IV_LEN],
    ) -> Result<Keystore, KeystoreError> {
        format::check_iterations(iterations)?;
        format::check_salt(salt)?;
        if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
            return Err(KeystoreError::InvalidField {
                field: "ciphertext",
                problem: format!(
                    "secret must be 1..={MAX_SECRET_LEN} bytes, got {}",
                    secret.len()
                ),
            });
        }
        Ok(Self::seal(
            secret,
            password.as_ref(),
            suite,
            iterations,
            salt,
            iv,
        ))
    }

    fn seal(
        secret: &[u8],
        password: &[u8],
        suite: CryptoSuite,
        iterations: u32,
        salt: &[u8],
        iv: [u8; IV_LEN],
    ) -> Keystore {
        let keys = cipher::DerivedKeys::derive(password, salt, iterations);
        let ciphertext = keys.apply_keystream(&iv, secret);
        let mac = keys.mac(suite, &iv, &ciphertext);
        let public_key = SecretKey::from_bytes(suite, secret)
            .ok()
            .map(|key| key.public_key().to_bytes());
        Keystore {
            version: KEYSTORE_VERSION,
            suite,
            public_key,
            iterations,
            salt: salt.to_vec(),
            iv,
            ciphertext,
            mac,
        }
    }

    /// Decrypts the secret bytes. A password that does not reproduce the MAC
    /// gives [`KeystoreError::WrongPassword`] (so does a tampered ciphertext).
    pub fn decrypt(&self, password: impl AsRef<[u8]>) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
        if self.version != KEYSTORE_VERSION {
            return Err(KeystoreError::UnsupportedVersion(u64::from(self.version)));
        }
        format::check_iterations(self.iterations)?;
        format::check_salt(&self.salt)?;
        let keys = cipher::DerivedKeys::derive(password.as_ref(), &self.salt, self.iterations);
        if !keys.mac_matches(self.suite, &self.iv, &self.ciphertext, &self.mac) {
            return Err(KeystoreError::WrongPassword);
        }
        Ok(Zeroizing::new(
            keys.apply_keystream(&self.iv, &self.ciphertext),
        ))
    }

    /// Decrypts and parses the secret as a key of [`Keystore::suite`], checking
    /// it against the recorded public key.
    pub fn decrypt_secret_key(
        &self,
        password: impl AsRef<[u8]>,
    ) -> Result<SecretKey, KeystoreError> {
        let secret = self.decrypt(password)?;
        let key = SecretKey::from_bytes(self.suite, &secret)
            .map_err(|source| KeystoreError::InvalidSecret { source })?;
        if let Some(recorded) = self.public_key {
            let derived = key.public_key().to_bytes();
            if derived != recorded {
                return Err(KeystoreError::PublicKeyMismatch {
                    recorded: hex::encode(recorded),
                    derived: hex::encode(derived),
                });
            }
        }
        Ok(key)
    }

    /// The JSON text of this keystore (pretty-printed).
    pub fn to_json(&self) -> String {
        format::to_json(self)
    }

    /// Parses keystore JSON; errors name the offending field.
    pub fn from_json(text: &str) -> Result<Keystore, KeystoreError> {
        format::from_json(text)
    }
}

/// Serialises as the keystore JSON object (same as [`Keystore::to_json`]).
impl serde::Serialize for Keystore {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&format::to_value(self), serializer)
    }
}

/// Deserialises with the checks of [`Keystore::from_json`]; the error text
/// names the offending field.
impl<'de> serde::Deserialize<'de> for Keystore {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        format::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// A random salt and IV from the OS-seeded thread CSPRNG.
fn fresh_salt_and_iv() -> ([u8; SALT_LEN], [u8; IV_LEN]) {
    let mut salt = [0u8; SALT_LEN];
    let mut iv = [0u8; IV_LEN];
    let mut rng = rand::rng();
    rand::RngCore::fill_bytes(&mut rng, &mut salt);
    rand::RngCore::fill_bytes(&mut rng, &mut iv);
    (salt, iv)
}
