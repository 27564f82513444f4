//! [`ConfigError`]: what is wrong with a node config file or the files it names. Every
//! message starts with the config file's path, then the field at fault.

use std::path::PathBuf;

use kaimeng_crypto::keystore::KeystoreError;
use kaimeng_genesis::GenesisError;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read the config file: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },

    /// Bad TOML, an unknown key, a missing key or a value of the wrong type.
    #[error("{file}: line {line}, column {column}: {message}")]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },

    /// A value of the right type that is still wrong.
    #[error("{file}: {field}: {problem}")]
    Field {
        file: PathBuf,
        field: &'static str,
        problem: String,
    },

    #[error("{file}: genesis: {source}")]
    Genesis { file: PathBuf, source: GenesisError },

    #[error("{file}: validator.keystore: {source}")]
    Keystore {
        file: PathBuf,
        source: KeystoreError,
    },

    #[error(
        "{file}: validator.password_file: no password: set password_file or the \
         KAIMENG_PASSWORD environment variable"
    )]
    NoPassword { file: PathBuf },

    #[error("{file}: {problem}")]
    Role { file: PathBuf, problem: String },

    #[error(
        "{file}: validator.organisation: {organisation:?} is not a genesis member (members: {members})"
    )]
    NotAMember {
        file: PathBuf,
        organisation: String,
        members: String,
    },

    #[error(
        "{file}: validator.keystore: the key's public key {found} is not the consensus key of \
         member {organisation:?} ({expected})"
    )]
    NotTheMembersKey {
        file: PathBuf,
        organisation: String,
        expected: String,
        found: String,
    },

    #[error("{file}: validator.vrf_keystore: {path}: {problem}")]
    VrfKey {
        file: PathBuf,
        path: PathBuf,
        problem: String,
    },

    #[error("{file}: p2p.node_key_file: {path}: {problem}")]
    NodeKey {
        file: PathBuf,
        path: PathBuf,
        problem: String,
    },
}

impl ConfigError {
    /// The dotted name of the field at fault, when the error is about one field.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Field { field, .. } => Some(field),
            ConfigError::Genesis { .. } => Some("genesis"),
            ConfigError::Keystore { .. } | ConfigError::NotTheMembersKey { .. } => {
                Some("validator.keystore")
            }
            ConfigError::VrfKey { .. } => Some("validator.vrf_keystore"),
            ConfigError::NoPassword { .. } => Some("validator.password_file"),
            ConfigError::NotAMember { .. } => Some("validator.organisation"),
            ConfigError::NodeKey { .. } => Some("p2p.node_key_file"),
            ConfigError::Read { .. } | ConfigError::Syntax { .. } | ConfigError::Role { .. } => {
                None
            }
        }
    }
}
