//! Node-held keys for `eth_sendTransaction`, `eth_accounts` and `eth_sign`: dev mode only.

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, B256, Bytes, TxKind};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

/// The dev accounts whose keys the node holds.
#[derive(Clone, Default)]
pub struct DevSigner {
    keys: Vec<PrivateKeySigner>,
}

/// A fully specified transaction to sign.
pub struct UnsignedTx {
    pub chain_id: u64,
    pub nonce: u64,
    pub gas_limit: u64,
    /// `Some` selects a legacy transaction at this price.
    pub gas_price: Option<u128>,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
    pub to: TxKind,
    pub value: alloy_primitives::U256,
    pub input: Bytes,
    pub access_list: alloy_eips::eip2930::AccessList,
}

impl DevSigner {
    pub fn new(secrets: &[B256]) -> Self {
        Self {
            keys: secrets
                .iter()
                .filter_map(|s| PrivateKeySigner::from_bytes(s).ok())
                .collect(),
        }
    }

    pub fn addresses(&self) -> Vec<Address> {
        self.keys.iter().map(|k| k.address()).collect()
    }

    fn key(&self, address: &Address) -> Option<&PrivateKeySigner> {
        self.keys.iter().find(|k| k.address() == *address)
    }

    pub fn holds(&self, address: &Address) -> bool {
        self.key(address).is_some()
    }

    /// EIP-191 personal-message signature (65 bytes, v = 27/28).
    pub fn sign_message(&self, address: &Address, message: &[u8]) -> Option<Bytes> {
        let signature = self.key(address)?.sign_message_sync(message).ok()?;
        Some(signature.as_bytes().to_vec().into())
    }

    pub fn sign_transaction(&self, from: &Address, tx: UnsignedTx) -> Option<TxEnvelope> {
        let key = self.key(from)?;
        Some(match tx.gas_price {
            Some(gas_price) => {
                let unsigned = TxLegacy {
                    chain_id: Some(tx.chain_id),
                    nonce: tx.nonce,
                    gas_price,
                    gas_limit: tx.gas_limit,
                    to: tx.to,
                    value: tx.value,
                    input: tx.input,
                };
                let signature = key.sign_hash_sync(&unsigned.signature_hash()).ok()?;
                unsigned.into_signed(signature).into()
            }
            None => {
                let unsigned = TxEip1559 {
                    chain_id: tx.chain_id,
                    nonce: tx.nonce,
                    gas_limit: tx.gas_limit,
                    max_fee_per_gas: tx.max_fee_per_gas,
                    max_priority_fee_per_gas: tx.max_priority_fee_per_gas,
                    to: tx.to,
                    value: tx.value,
                    access_list: tx.access_list,
                    input: tx.input,
                };
                let signature = key.sign_hash_sync(&unsigned.signature_hash()).ok()?;
                unsigned.into_signed(signature).into()
            }
        })
    }
}
