//! Governance transactions: a member proposes an action or votes on a proposal, signed by its
//! admin key over a domain-separated encoding.
//!
//! The signed message is `SIGNING_DOMAIN || chain_id (u64, big-endian) || genesis_hash (32
//! bytes) || encoded transaction`, so a signature is valid on one chain only; the per-member
//! nonce makes it valid once. The wire layout is in `docs/governance.md` and in [`super::codec`].

use alloy_primitives::B256;
use kaimeng_crypto::{CryptoSuite, SIGNATURE_LEN, SecretKey};
use kaimeng_genesis::GenesisSpec;
use serde::{Deserialize, Serialize};

use super::codec::{self, DecodeError};
use crate::membership::{Member, Parameter};

/// Prefix of every signed governance message.
pub const SIGNING_DOMAIN: &[u8] = b"kaimeng/governance-tx/v1";

/// What a proposal would change.
///
/// JSON: `{"add-member": {<member as in genesis>}}`, `{"remove-member": "<organisation>"}`,
/// `{"set-parameter": {"epoch-length": 64}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    AddMember(Member),
    RemoveMember(String),
    SetParameter(Parameter),
}

/// A governance transaction before signing. `proposer` / `voter` is the signing member's
/// organisation name; `nonce` is that member's next nonce (0 for its first transaction).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GovernanceTx {
    Propose {
        proposer: String,
        action: Action,
        nonce: u64,
    },
    Vote {
        voter: String,
        proposal_id: u64,
        approve: bool,
        nonce: u64,
    },
}

/// The chain a signature is bound to: every governance signature covers both values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceDomain {
    /// The network's chain id (genesis `chain_id_base`).
    pub chain_id: u64,
    /// The genesis hash (`GenesisSpec::hash`).
    pub genesis_hash: B256,
}

impl GovernanceDomain {
    /// The domain of the chain started from `spec`.
    pub fn of(spec: &GenesisSpec) -> Self {
        GovernanceDomain {
            chain_id: spec.chain_id_base,
            genesis_hash: spec.hash(),
        }
    }
}

impl GovernanceTx {
    /// The organisation that must sign.
    pub fn signer(&self) -> &str {
        match self {
            GovernanceTx::Propose { proposer, .. } => proposer,
            GovernanceTx::Vote { voter, .. } => voter,
        }
    }

    pub fn nonce(&self) -> u64 {
        match self {
            GovernanceTx::Propose { nonce, .. } | GovernanceTx::Vote { nonce, .. } => *nonce,
        }
    }

    /// The bytes an admin key signs for this transaction on `domain`.
    pub fn signing_message(&self, domain: &GovernanceDomain) -> Vec<u8> {
        let mut message = Vec::with_capacity(SIGNING_DOMAIN.len() + 40 + 128);
        message.extend_from_slice(SIGNING_DOMAIN);
        message.extend_from_slice(&domain.chain_id.to_be_bytes());
        message.extend_from_slice(domain.genesis_hash.as_slice());
        message.extend_from_slice(&codec::encode_tx(self));
        message
    }

    /// Signs with the member's admin key.
    pub fn sign(self, domain: &GovernanceDomain, admin_key: &SecretKey) -> SignedGovernanceTx {
        let signature = admin_key.sign(&self.signing_message(domain)).to_bytes();
        SignedGovernanceTx {
            tx: self,
            signature,
        }
    }
}

/// A governance transaction with its admin-key signature (`r || s`, 64 bytes, in the chain's
/// suite). This is what beacon blocks and the gossip layer carry, encoded with
/// [`SignedGovernanceTx::encode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedGovernanceTx {
    pub tx: GovernanceTx,
    pub signature: [u8; SIGNATURE_LEN],
}

impl SignedGovernanceTx {
    /// The wire encoding: `version || tx || signature`.
    pub fn encode(&self) -> Vec<u8> {
        codec::encode_signed_tx(self)
    }

    /// Decodes the wire encoding; malformed input is a typed error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode_signed_tx(bytes)
    }

    /// The transaction's identity for mempools and indexes: the suite hash of its encoding.
    pub fn id(&self, suite: CryptoSuite) -> B256 {
        B256::from(suite.hash(&self.encode()))
    }
}
