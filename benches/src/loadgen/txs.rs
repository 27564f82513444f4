//! Building and signing EIP-1559 transactions into raw bytes and their hashes.

use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{B256, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;

/// Chain id and fee caps shared by every transaction of a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeParams {
    pub chain_id: u64,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
}

impl FeeParams {
    /// Fee caps from the current base fee: the cap is `3 × base fee + tip` unless given.
    pub fn from_base_fee(chain_id: u64, base_fee: u128, tip: u128, max_fee: Option<u128>) -> Self {
        let max_fee_per_gas = max_fee
            .unwrap_or_else(|| base_fee.saturating_mul(3).saturating_add(tip))
            .max(tip);
        Self {
            chain_id,
            max_fee_per_gas,
            max_priority_fee_per_gas: tip,
        }
    }

    /// The most a transaction with `gas_limit` can cost in fees (what a pool checks against balance).
    pub fn max_cost(&self, gas_limit: u64) -> U256 {
        U256::from(self.max_fee_per_gas) * U256::from(gas_limit)
    }
}

/// What a transaction does: destination, value, input and gas limit.
#[derive(Clone, Debug)]
pub struct Call {
    pub to: TxKind,
    pub value: U256,
    pub input: Bytes,
    pub gas_limit: u64,
}

/// A signed transaction, ready for `eth_sendRawTransaction`.
#[derive(Clone, Debug)]
pub struct SignedTx {
    pub hash: B256,
    /// The EIP-2718 envelope, `0x`-hex encoded.
    pub raw_hex: String,
}

/// Signs `call` as an EIP-1559 transaction from `signer` at `nonce`.
pub fn sign(
    signer: &PrivateKeySigner,
    nonce: u64,
    call: Call,
    fees: FeeParams,
) -> Result<SignedTx, alloy_signer::Error> {
    let tx = TxEip1559 {
        chain_id: fees.chain_id,
        nonce,
        gas_limit: call.gas_limit,
        max_fee_per_gas: fees.max_fee_per_gas,
        max_priority_fee_per_gas: fees.max_priority_fee_per_gas,
        to: call.to,
        value: call.value,
        access_list: Default::default(),
        input: call.input,
    };
    let signature = signer.sign_hash_sync(&tx.signature_hash())?;
    let signed = tx.into_signed(signature);
    let raw = signed.encoded_2718();
    Ok(SignedTx {
        hash: *signed.hash(),
        raw_hex: alloy_primitives::hex::encode_prefixed(raw),
    })
}

#[cfg(test)]
mod tests {
    use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
    use alloy_eips::eip2718::Decodable2718;
    use alloy_primitives::{Address, hex};

    use super::*;
    use crate::loadgen::keys::sender_key;

    #[test]
    fn signed_bytes_decode_to_the_same_transaction_and_recover_the_signer() {
        let signer = sender_key(1, 0);
        let fees = FeeParams::from_base_fee(31337, 7, 2, None);
        let to = Address::repeat_byte(0x42);
        let call = Call {
            to: TxKind::Call(to),
            value: U256::from(9u64),
            input: Bytes::from(vec![1, 2, 3]),
            gas_limit: 50_000,
        };
        let signed = sign(&signer, 5, call, fees).unwrap();

        let raw = hex::decode(&signed.raw_hex).unwrap();
        assert_eq!(raw[0], 2, "EIP-1559 type byte");
        let envelope = TxEnvelope::decode_2718(&mut raw.as_slice()).unwrap();
        assert_eq!(*envelope.tx_hash(), signed.hash);
        assert_eq!(envelope.recover_signer().unwrap(), signer.address());
        assert_eq!(envelope.nonce(), 5);
        assert_eq!(envelope.chain_id(), Some(31337));
        assert_eq!(envelope.to(), Some(to));
        assert_eq!(envelope.max_fee_per_gas(), 3 * 7 + 2);
        assert_eq!(envelope.max_priority_fee_per_gas(), Some(2));
    }

    #[test]
    fn explicit_fee_cap_wins_but_never_falls_below_the_tip() {
        assert_eq!(
            FeeParams::from_base_fee(1, 100, 5, Some(50)).max_fee_per_gas,
            50
        );
        assert_eq!(
            FeeParams::from_base_fee(1, 100, 5, Some(1)).max_fee_per_gas,
            5
        );
        assert_eq!(
            FeeParams::from_base_fee(1, 100, 5, None).max_cost(10),
            U256::from(3050u64)
        );
    }
}
