//! The keys a config file points at: the member's consensus key (SM4 keystore, password from a
//! file or `KAIMENG_PASSWORD`), checked against the member's key in genesis or in the current
//! membership; and the node's libp2p key file (64 hex digits), created for full nodes.

use std::io::Write as _;
use std::path::Path;

use kaimeng_crypto::SecretKey;
use kaimeng_network::NodeKey;

use super::{ConfigError, NodeConfig, Role, ValidatorSettings};

/// The node key's file name inside the data directory when `p2p.node_key_file` is not set.
pub const NODE_KEY_FILE_NAME: &str = "node.key";
/// The environment variable read when `validator.password_file` is not set.
pub const PASSWORD_ENV: &str = "KAIMENG_PASSWORD";

impl NodeConfig {
    /// Decrypts the validator's keystore and checks that it holds the consensus key of the
    /// genesis member named by `validator.organisation`.
    pub fn open_validator_key(&self) -> Result<SecretKey, ConfigError> {
        let members = self.genesis.members.iter().map(|member| {
            (
                member.organisation.as_str(),
                member.consensus_key.as_slice(),
            )
        });
        self.open_validator_key_among(members)
    }

    /// Like [`NodeConfig::open_validator_key`], with the membership given as
    /// `(organisation, consensus key)` pairs: for a member admitted by governance after
    /// genesis, pass the current on-chain members.
    pub fn open_validator_key_among<'a>(
        &self,
        members: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<SecretKey, ConfigError> {
        let validator = self.validator_settings()?;
        let password = self.password(validator)?;
        self.open_validator_key_with(&password, members)
    }

    /// Decrypts with `password` (no password file or environment) and checks membership.
    pub fn open_validator_key_with<'a>(
        &self,
        password: &str,
        members: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<SecretKey, ConfigError> {
        let validator = self.validator_settings()?;
        let members: Vec<(&str, &[u8])> = members.into_iter().collect();
        let Some(&(_, expected)) = members
            .iter()
            .find(|(organisation, _)| *organisation == validator.organisation)
        else {
            let names: Vec<String> = members
                .iter()
                .map(|(name, _)| format!("{name:?}"))
                .collect();
            return Err(ConfigError::NotAMember {
                file: self.source.clone(),
                organisation: validator.organisation.clone(),
                members: names.join(", "),
            });
        };
        let key = kaimeng_crypto::keystore::load_keystore(&validator.keystore, password).map_err(
            |source| ConfigError::Keystore {
                file: self.source.clone(),
                source,
            },
        )?;
        let found = key.public_key();
        let matches = kaimeng_crypto::PublicKey::from_bytes(key.suite(), expected)
            .is_ok_and(|expected| expected == found);
        if !matches {
            return Err(ConfigError::NotTheMembersKey {
                file: self.source.clone(),
                organisation: validator.organisation.clone(),
                expected: format!("0x{}", hex::encode(expected)),
                found: format!("0x{}", hex::encode(found.to_bytes())),
            });
        }
        Ok(key)
    }

    /// Decrypts the validator's VRF keystore (same password) and checks that it holds the VRF
    /// key `expected` (the member's in genesis or the current membership), if one is given.
    pub fn open_vrf_key(
        &self,
        expected: Option<&[u8]>,
    ) -> Result<kaimeng_crypto::vrf::VrfSecretKey, ConfigError> {
        let validator = self.validator_settings()?;
        let password = self.password(validator)?;
        let error = |problem: String| ConfigError::VrfKey {
            file: self.source.clone(),
            path: validator.vrf_keystore.clone(),
            problem,
        };
        let secret = kaimeng_crypto::keystore::load_keystore(&validator.vrf_keystore, &password)
            .map_err(|e| error(e.to_string()))?;
        let key = kaimeng_crypto::vrf::VrfSecretKey::from_bytes(&secret.to_bytes());
        let found = key.public_key().to_bytes();
        if let Some(expected) = expected
            && expected != found.as_slice()
        {
            return Err(error(format!(
                "its VRF public key 0x{} is not member {:?}'s (0x{})",
                hex::encode(found),
                validator.organisation,
                hex::encode(expected)
            )));
        }
        Ok(key)
    }

    /// The node's libp2p key from `p2p.node_key_file`. A full node (or a validator whose
    /// organisation is not a genesis member) gets a fresh key written there when the file is
    /// missing. A genesis member's validator must have the key whose peer id genesis records,
    /// so for it a missing file or another key is an error.
    pub fn load_or_create_node_key(&self) -> Result<NodeKey, ConfigError> {
        let path = &self.p2p.node_key_file;
        let error = |problem: String| ConfigError::NodeKey {
            file: self.source.clone(),
            path: path.clone(),
            problem,
        };
        let genesis_peer = self.validator().and_then(|validator| {
            self.genesis
                .members
                .iter()
                .find(|member| member.organisation == validator.organisation)
                .map(|member| member.peer_id.clone())
        });
        let key = if path.exists() {
            read_node_key_file(path).map_err(error)?
        } else if let Some(peer) = &genesis_peer {
            return Err(error(format!(
                "missing; genesis records peer id {peer} for this member, so its node key \
                 must be installed there"
            )));
        } else {
            let secret = kaimeng_crypto::CryptoSuite::Secp256k1Keccak
                .generate()
                .to_bytes();
            write_node_key_file(path, &secret).map_err(|e| error(format!("cannot create: {e}")))?;
            tracing::info!(path = %path.display(), "created a new node key");
            read_node_key_file(path).map_err(error)?
        };
        if let Some(peer) = genesis_peer {
            let own = key.peer_id().to_string();
            if own != peer {
                return Err(error(format!(
                    "holds the key of peer {own}, but genesis records peer id {peer} for this \
                     member"
                )));
            }
        }
        Ok(key)
    }

    fn validator_settings(&self) -> Result<&ValidatorSettings, ConfigError> {
        match &self.role {
            Role::Validator(settings) => Ok(settings),
            Role::Full => Err(ConfigError::Role {
                file: self.source.clone(),
                problem: "role = \"full\": a full node has no validator key".into(),
            }),
        }
    }

    fn password(&self, validator: &ValidatorSettings) -> Result<String, ConfigError> {
        let password = match &validator.password_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Field {
                    file: self.source.clone(),
                    field: "validator.password_file",
                    problem: format!("cannot read {}: {e}", path.display()),
                })?;
                text.lines().next().unwrap_or_default().to_owned()
            }
            None => std::env::var(PASSWORD_ENV).map_err(|_| ConfigError::NoPassword {
                file: self.source.clone(),
            })?,
        };
        if password.is_empty() {
            return Err(ConfigError::Field {
                file: self.source.clone(),
                field: "validator.password_file",
                problem: "the password is empty".into(),
            });
        }
        Ok(password)
    }
}

/// Writes a node key file holding `secret` as 64 hex digits, with mode 0600; refuses to
/// replace an existing file.
pub fn write_node_key_file(path: &Path, secret: &[u8; 32]) -> std::io::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{}", hex::encode(secret))?;
    file.sync_all()
}

fn read_node_key_file(path: &Path) -> Result<NodeKey, String> {
    let metadata = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if metadata.len() > 1024 {
        return Err(format!(
            "{} bytes; a node key file holds 64 hex digits",
            metadata.len()
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let digits = text.trim();
    let digits = digits.strip_prefix("0x").unwrap_or(digits);
    let mut secret = [0u8; 32];
    hex::decode_to_slice(digits, &mut secret)
        .map_err(|_| "is not 64 hex digits (a secp256k1 secret key)".to_owned())?;
    NodeKey::from_secret_bytes(secret).map_err(|e| e.to_string())
}
