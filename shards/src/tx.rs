//! Incoming transactions: decoding (EIP-2718), stateless checks and sender recovery.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction, TxEnvelope};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256, Bytes, TxKind};
use rayon::prelude::*;
use revm::context::TxEnv;
use revm::context_interface::transaction::AccessList;

/// Largest accepted encoded transaction: 512 KiB, four times geth's pool bound, so that a rollup
/// batch's verification (about 250 KB at the production shape) is one transaction (ADR 0115).
/// At [`MAX_TX_GAS`] EIP-7623's floor of 40 gas a nonzero calldata byte allows about 410 KiB of
/// them anyway; the pool and blocks bound bytes in all (`max_bytes`,
/// `executor::MAX_BLOCK_TX_BYTES`).
pub const MAX_TX_BYTES: usize = 512 * 1024;
/// EIP-7825 (Osaka): a single transaction may not use more gas than this.
pub const MAX_TX_GAS: u64 = 1 << 24;

/// Gas enough for a call with `calldata` bytes (all taken as nonzero) whose execution costs
/// `execution` beyond them: the larger of EIP-7623's floor (40 gas a byte) and the standard
/// charge (16 a byte plus the execution), each on top of the 21,000 base.
pub const fn call_gas_bound(calldata: usize, execution: u64) -> u64 {
    let floor = 40 * calldata as u64;
    let standard = 16 * calldata as u64 + execution;
    21_000 + if floor > standard { floor } else { standard }
}

/// A decoded, signature-checked transaction ready for the pool or a block.
#[derive(Clone, Debug)]
pub struct ShardTx {
    pub envelope: TxEnvelope,
    pub sender: Address,
    pub hash: B256,
    pub encoded: Bytes,
}

/// Why a transaction was refused before touching state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("oversized transaction: {size} bytes exceeds the limit of {max} bytes")]
    Oversized { size: usize, max: usize },
    #[error("malformed transaction: {0}")]
    Malformed(String),
    #[error(
        "transaction type {0} ({1}) is not supported; use legacy (EIP-155), EIP-2930 or EIP-1559"
    )]
    UnsupportedType(u8, &'static str),
    #[error(
        "only replay-protected transactions are accepted: sign legacy transactions with EIP-155 (chain id {0})"
    )]
    Unprotected(u64),
    #[error("invalid chain id: transaction is for chain {got}, this shard is chain {expected}")]
    WrongChainId { got: u64, expected: u64 },
    #[error("invalid signature: {0}")]
    BadSignature(String),
    #[error("gas limit {gas} exceeds the per-transaction cap of {cap}")]
    GasLimitTooHigh { gas: u64, cap: u64 },
    #[error("max priority fee per gas ({tip}) is higher than max fee per gas ({cap})")]
    TipAboveFeeCap { tip: u128, cap: u128 },
}

impl ShardTx {
    /// Decodes `raw` and checks everything that does not depend on state.
    pub fn decode(raw: &[u8], chain_id: u64) -> Result<ShardTx, TxError> {
        if raw.len() > MAX_TX_BYTES {
            return Err(TxError::Oversized {
                size: raw.len(),
                max: MAX_TX_BYTES,
            });
        }
        let mut buf = raw;
        let envelope =
            TxEnvelope::decode_2718(&mut buf).map_err(|e| TxError::Malformed(e.to_string()))?;
        if !buf.is_empty() {
            return Err(TxError::Malformed(format!(
                "{} trailing bytes after the transaction",
                buf.len()
            )));
        }
        match &envelope {
            TxEnvelope::Eip4844(_) => return Err(TxError::UnsupportedType(3, "EIP-4844 blob")),
            TxEnvelope::Eip7702(_) => return Err(TxError::UnsupportedType(4, "EIP-7702 set-code")),
            _ => {}
        }
        match envelope.chain_id() {
            None => return Err(TxError::Unprotected(chain_id)),
            Some(got) if got != chain_id => {
                return Err(TxError::WrongChainId {
                    got,
                    expected: chain_id,
                });
            }
            Some(_) => {}
        }
        if envelope.gas_limit() > MAX_TX_GAS {
            return Err(TxError::GasLimitTooHigh {
                gas: envelope.gas_limit(),
                cap: MAX_TX_GAS,
            });
        }
        if let Some(tip) = envelope.max_priority_fee_per_gas() {
            if tip > envelope.max_fee_per_gas() {
                return Err(TxError::TipAboveFeeCap {
                    tip,
                    cap: envelope.max_fee_per_gas(),
                });
            }
        }
        let sender = envelope
            .recover_signer()
            .map_err(|e| TxError::BadSignature(e.to_string()))?;
        let hash = *envelope.tx_hash();
        Ok(ShardTx {
            envelope,
            sender,
            hash,
            encoded: Bytes::copy_from_slice(raw),
        })
    }

    /// Decodes many transactions, recovering senders in parallel.
    pub fn decode_many(raws: &[Bytes], chain_id: u64) -> Vec<Result<ShardTx, TxError>> {
        raws.par_iter()
            .map(|raw| ShardTx::decode(raw, chain_id))
            .collect()
    }

    /// Rebuilds a transaction from its stored encoding and known sender (no recovery).
    pub fn from_stored(raw: &[u8], sender: Address) -> Result<ShardTx, TxError> {
        let mut buf = raw;
        let envelope =
            TxEnvelope::decode_2718(&mut buf).map_err(|e| TxError::Malformed(e.to_string()))?;
        if !buf.is_empty() {
            return Err(TxError::Malformed(format!(
                "{} trailing bytes after the transaction",
                buf.len()
            )));
        }
        let hash = *envelope.tx_hash();
        Ok(ShardTx {
            envelope,
            sender,
            hash,
            encoded: Bytes::copy_from_slice(raw),
        })
    }

    pub fn from_envelope(envelope: TxEnvelope, sender: Address) -> ShardTx {
        let encoded = envelope.encoded_2718().into();
        let hash = *envelope.tx_hash();
        ShardTx {
            envelope,
            sender,
            hash,
            encoded,
        }
    }

    pub fn nonce(&self) -> u64 {
        self.envelope.nonce()
    }

    /// The tip this transaction pays per gas at `base_fee` (None if it cannot pay the base fee).
    pub fn effective_tip(&self, base_fee: u64) -> Option<u128> {
        self.envelope.effective_tip_per_gas(base_fee)
    }

    /// Upper bound of what the sender must hold: `gas_limit * max_fee + value`.
    pub fn max_cost(&self) -> alloy_primitives::U256 {
        alloy_primitives::U256::from(self.envelope.gas_limit())
            * alloy_primitives::U256::from(self.envelope.max_fee_per_gas())
            + self.envelope.value()
    }

    /// The transaction as revm executes it.
    pub fn tx_env(&self) -> TxEnv {
        let tx = &self.envelope;
        TxEnv {
            tx_type: tx.tx_type() as u8,
            caller: self.sender,
            gas_limit: tx.gas_limit(),
            gas_price: tx.max_fee_per_gas(),
            gas_priority_fee: tx.max_priority_fee_per_gas(),
            kind: match tx.kind() {
                TxKind::Create => TxKind::Create,
                TxKind::Call(to) => TxKind::Call(to),
            },
            value: tx.value(),
            data: tx.input().clone(),
            nonce: tx.nonce(),
            chain_id: tx.chain_id(),
            access_list: tx
                .access_list()
                .cloned()
                .unwrap_or_else(AccessList::default),
            ..Default::default()
        }
    }
}
