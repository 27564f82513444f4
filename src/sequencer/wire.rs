//! What the sequencer's `rollup_*` JSON-RPC takes and returns.

use alloy_primitives::{B256, Bytes, keccak256};
use kaimeng_rollup::journal::encode_op;
use kaimeng_rollup::tx::{SignedTransfer, SignedWithdraw, Transfer, Withdraw};
use kaimeng_rollup::{Account, L2Op, Signature};
use serde::{Deserialize, Serialize};

/// A signed L2 transaction as submitted: `{"type": "transfer", "from", "to", "amount", "fee",
/// "nonce", "signature"}` or `{"type": "withdraw", "from", "amount", "fee", "nonce",
/// "signature"}`; amounts and fees in L2 units (gwei), the signature 64 bytes in hex.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum TxRequest {
    /// A transfer between L2 accounts.
    Transfer {
        /// Debited account.
        from: u32,
        /// Credited account.
        to: u32,
        /// Amount, below 2^40.
        amount: u64,
        /// Fee to the sequencer.
        fee: u16,
        /// The sender's next nonce.
        nonce: u32,
        /// Schnorr signature (64 bytes).
        signature: Bytes,
    },
    /// A withdrawal to the account's L1 address.
    Withdraw {
        /// Debited account.
        from: u32,
        /// Amount, below 2^40.
        amount: u64,
        /// Fee to the sequencer.
        fee: u16,
        /// The account's next nonce.
        nonce: u32,
        /// Schnorr signature (64 bytes).
        signature: Bytes,
    },
}

impl TxRequest {
    /// The request for a signed transfer.
    pub fn from_transfer(t: SignedTransfer) -> Self {
        TxRequest::Transfer {
            from: t.tx.from,
            to: t.tx.to,
            amount: t.tx.amount,
            fee: t.tx.fee,
            nonce: t.tx.nonce,
            signature: Bytes::from(t.signature.to_bytes().to_vec()),
        }
    }

    /// The request for a signed withdrawal.
    pub fn from_withdraw(w: SignedWithdraw) -> Self {
        TxRequest::Withdraw {
            from: w.tx.from,
            amount: w.tx.amount,
            fee: w.tx.fee,
            nonce: w.tx.nonce,
            signature: Bytes::from(w.signature.to_bytes().to_vec()),
        }
    }

    /// The operation, or why the request is malformed.
    pub fn to_op(&self) -> Result<L2Op, String> {
        let signature = |bytes: &Bytes| -> Result<Signature, String> {
            let array: [u8; 64] = bytes
                .as_ref()
                .try_into()
                .map_err(|_| format!("signature: {} bytes, expected 64", bytes.len()))?;
            Signature::from_bytes(&array)
                .ok_or_else(|| "signature: not a valid Schnorr signature encoding".to_string())
        };
        Ok(match self {
            TxRequest::Transfer {
                from,
                to,
                amount,
                fee,
                nonce,
                signature: sig,
            } => L2Op::Transfer(SignedTransfer {
                tx: Transfer {
                    from: *from,
                    to: *to,
                    amount: *amount,
                    fee: *fee,
                    nonce: *nonce,
                },
                signature: signature(sig)?,
            }),
            TxRequest::Withdraw {
                from,
                amount,
                fee,
                nonce,
                signature: sig,
            } => L2Op::Withdraw(SignedWithdraw {
                tx: Withdraw {
                    from: *from,
                    amount: *amount,
                    fee: *fee,
                    nonce: *nonce,
                },
                signature: signature(sig)?,
            }),
        })
    }
}

/// An operation's hash: Keccak-256 of its journal encoding.
pub fn op_hash(op: &L2Op) -> B256 {
    keccak256(encode_op(op))
}

/// Where a transaction stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TxStage {
    /// Soft-confirmed: accepted and journaled, not yet in a batch.
    Accepted,
    /// In a closed batch, not yet committed on shard 0.
    InBatch,
    /// Its batch is committed on shard 0.
    Committed,
    /// Its batch's proofs verified on shard 0.
    Verified,
    /// Its batch executed on shard 0 (withdrawals are claimable).
    Executed,
}

/// An account's balance and nonce at one stage.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Balance {
    /// Balance in L2 units.
    pub balance: u64,
    /// Next nonce.
    pub nonce: u32,
}

impl From<Account> for Balance {
    fn from(a: Account) -> Self {
        Balance {
            balance: a.balance,
            nonce: a.nonce,
        }
    }
}
