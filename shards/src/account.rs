//! The account record kept in state and committed in the account tree.

use alloy_primitives::{B256, U256, keccak256};
use revm::primitives::KECCAK_EMPTY;
use revm::state::AccountInfo;

/// Nonce, balance, code hash and the root of the account's storage tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountRecord {
    pub nonce: u64,
    pub balance: U256,
    pub code_hash: B256,
    pub storage_root: B256,
}

impl Default for AccountRecord {
    fn default() -> Self {
        Self {
            nonce: 0,
            balance: U256::ZERO,
            code_hash: KECCAK_EMPTY,
            storage_root: B256::ZERO,
        }
    }
}

pub const ACCOUNT_RECORD_LEN: usize = 8 + 32 + 32 + 32;

impl AccountRecord {
    pub fn encode(&self) -> [u8; ACCOUNT_RECORD_LEN] {
        let mut out = [0u8; ACCOUNT_RECORD_LEN];
        out[..8].copy_from_slice(&self.nonce.to_be_bytes());
        out[8..40].copy_from_slice(&self.balance.to_be_bytes::<32>());
        out[40..72].copy_from_slice(self.code_hash.as_slice());
        out[72..].copy_from_slice(self.storage_root.as_slice());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != ACCOUNT_RECORD_LEN {
            return None;
        }
        Some(Self {
            nonce: u64::from_be_bytes(bytes[..8].try_into().ok()?),
            balance: U256::from_be_slice(&bytes[8..40]),
            code_hash: B256::from_slice(&bytes[40..72]),
            storage_root: B256::from_slice(&bytes[72..]),
        })
    }

    /// The value committed in the account tree.
    pub fn commitment(&self) -> B256 {
        keccak256(self.encode())
    }

    pub fn info(&self) -> AccountInfo {
        AccountInfo {
            balance: self.balance,
            nonce: self.nonce,
            code_hash: self.code_hash,
            code: None,
            ..Default::default()
        }
    }
}
