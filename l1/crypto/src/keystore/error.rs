//! [`KeystoreError`]: everything that can go wrong reading, decrypting or
//! writing a keystore, with the offending field or path named.

use crate::error::EncodingError;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum KeystoreError {
    #[error("wrong password (or a modified keystore): the MAC does not match")]
    WrongPassword,

    #[error("keystore is not valid JSON: {0}")]
    Json(String),

    #[error("keystore field \"{field}\" is missing")]
    MissingField { field: &'static str },

    #[error("keystore field \"{field}\": {problem}")]
    InvalidField {
        field: &'static str,
        problem: String,
    },

    #[error("keystore version {0} is not supported; this build reads version 1")]
    UnsupportedVersion(u64),

    #[error("decrypted secret is not a valid key of the keystore's suite: {source}")]
    InvalidSecret { source: EncodingError },

    #[error("decrypted key has public key {derived}, but the keystore records {recorded}")]
    PublicKeyMismatch { recorded: String, derived: String },

    #[error("keystore file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("keystore file {path} already exists; refusing to overwrite it")]
    AlreadyExists { path: PathBuf },

    #[error("keystore file {path} is {len} bytes; a keystore is at most {max} bytes")]
    TooLarge { path: PathBuf, len: u64, max: u64 },
}
