//! A deterministic mock signature scheme for tests and the simulation: a signature is a
//! keyed hash of the message under the validator's secret. It rejects forgeries (a signature
//! made with another key or over other bytes does not verify) but is NOT secure: the verifier
//! holds every secret.

use crate::signing::{Signature, Signer, Verifier};
use crate::types::ValidatorIndex;
use crate::validators::{PublicKey, ValidatorSet};
use sha3::{Digest as _, Keccak256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// 16 bytes keep a signed message within one Keccak block.
type Secret = [u8; 16];

fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// The key registry of a mock network: `n` validators with secrets derived from their index
/// and a salt, and a verifier that knows them all.
#[derive(Clone, Debug)]
pub struct MockScheme {
    secrets: Arc<BTreeMap<PublicKey, Secret>>,
    members: Vec<PublicKey>,
    salt: u64,
}

impl MockScheme {
    /// `n` validators with the default salt.
    pub fn new(n: usize) -> Self {
        Self::with_salt(n, 0)
    }

    /// `n` validators whose keys depend on `salt` (a different salt gives outsiders' keys).
    pub fn with_salt(n: usize, salt: u64) -> Self {
        let mut secrets = BTreeMap::new();
        let mut members = Vec::with_capacity(n);
        for index in 0..n as u64 {
            let mut secret = [0u8; 16];
            secret.copy_from_slice(
                &hash(&[b"mock-secret", &salt.to_le_bytes(), &index.to_le_bytes()])[..16],
            );
            let public = PublicKey(hash(&[b"mock-public", &secret]).to_vec());
            secrets.insert(public.clone(), secret);
            members.push(public);
        }
        Self {
            secrets: Arc::new(secrets),
            members,
            salt,
        }
    }

    /// The validator set of all `n` keys, in index order.
    pub fn validator_set(&self) -> ValidatorSet {
        ValidatorSet::new(self.members.clone()).expect("mock keys are distinct and n >= 1")
    }

    /// The validator set of the keys at `indices`, in that order.
    pub fn validator_subset(&self, indices: &[usize]) -> ValidatorSet {
        let members = indices
            .iter()
            .filter_map(|i| self.members.get(*i).cloned())
            .collect();
        ValidatorSet::new(members).expect("mock keys are distinct and the subset is not empty")
    }

    /// The signer of key `index` (an empty key, whose signatures never verify, if out of range).
    pub fn signer(&self, index: usize) -> MockSigner {
        let secret = self
            .members
            .get(index)
            .and_then(|public| self.secrets.get(public))
            .copied();
        MockSigner {
            secret: secret.unwrap_or([0; 16]),
        }
    }

    pub fn salt(&self) -> u64 {
        self.salt
    }
}

impl Verifier for MockScheme {
    fn verify(
        &self,
        _signer: ValidatorIndex,
        public_key: &PublicKey,
        message: &[u8],
        signature: &Signature,
    ) -> bool {
        match self.secrets.get(public_key) {
            Some(secret) => signature.0.as_slice() == hash(&[secret, message]).as_slice(),
            None => false,
        }
    }
}

/// One mock validator key.
#[derive(Clone, Debug)]
pub struct MockSigner {
    secret: Secret,
}

impl Signer for MockSigner {
    fn sign(&self, message: &[u8]) -> Signature {
        Signature(hash(&[&self.secret, message]).to_vec())
    }
}
