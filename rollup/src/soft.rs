//! The sequencer's soft-confirmed ledger: every account as it stands after every operation the
//! sequencer accepted, before any of them is in a batch.
//!
//! It holds no tree: a soft confirmation costs a signature check and a few map updates, and
//! the Merkle work happens when a batch closes. Its rules are the state-transition function's
//! ([`crate::stf::debited`] and the same credit and binding checks), so an operation accepted
//! here applies in the batch. Two differences keep that true: signatures are checked apart
//! (the caller may check many in parallel, outside any lock), and fees reach the fee account
//! only when their batch closes, as the STF credits them at the end of each chunk.

use std::collections::HashMap;

use crate::account::Account;
use crate::schnorr::{self, PublicKey};
use crate::stf::{L2State, StfError, credited, debited, deposited};
use crate::tx::{L2Op, PriorityOp};

/// Accounts after every accepted operation.
#[derive(Clone, Debug)]
pub struct SoftLedger {
    accounts: HashMap<u32, Account>,
    chain_id: u64,
    fee_account: u32,
    uncredited_fees: u64,
}

impl SoftLedger {
    /// The ledger of `state` (every account in it), for `chain_id`.
    pub fn new(state: &L2State, chain_id: u64, fee_account: u32) -> Self {
        Self {
            accounts: state.accounts().map(|(i, a)| (i, *a)).collect(),
            chain_id,
            fee_account,
            uncredited_fees: 0,
        }
    }

    /// The account at `index` as soft-confirmed (fees of open batches not yet credited).
    pub fn account(&self, index: u32) -> Account {
        self.accounts.get(&index).copied().unwrap_or_default()
    }

    /// Fees accepted but not yet credited to the fee account.
    pub fn uncredited_fees(&self) -> u64 {
        self.uncredited_fees
    }

    /// The key that must have signed `op` (the sender's registered key), or why there is none.
    /// `None` for unsigned operations.
    pub fn signer_of(&self, op: &L2Op) -> Result<Option<PublicKey>, StfError> {
        let from = match op {
            L2Op::Transfer(t) => t.tx.from,
            L2Op::Withdraw(w) => w.tx.from,
            L2Op::Padding | L2Op::Priority(_) => return Ok(None),
        };
        self.account(from)
            .public_key
            .map(Some)
            .ok_or(StfError::NotRegistered {
                slot: 0,
                account: from,
            })
    }

    /// Whether `op`'s signature verifies under `key` (pure: run it anywhere, in parallel).
    pub fn signature_ok(op: &L2Op, key: &PublicKey, chain_id: u64) -> bool {
        match op {
            L2Op::Transfer(t) => schnorr::verify(key, t.tx.message(chain_id), &t.signature),
            L2Op::Withdraw(w) => schnorr::verify(key, w.tx.message(chain_id), &w.signature),
            L2Op::Padding | L2Op::Priority(_) => true,
        }
    }

    /// The signed message word and signature of a signed operation.
    pub fn signed_parts(op: &L2Op, chain_id: u64) -> Option<(crate::Fp, crate::Signature)> {
        match op {
            L2Op::Transfer(t) => Some((t.tx.message(chain_id), t.signature)),
            L2Op::Withdraw(w) => Some((w.tx.message(chain_id), w.signature)),
            L2Op::Padding | L2Op::Priority(_) => None,
        }
    }

    /// The chain id signatures are bound to.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// Applies `op`, whose signature the caller has checked against [`Self::signer_of`]. On
    /// error nothing changes.
    pub fn apply(&mut self, op: &L2Op) -> Result<(), StfError> {
        match *op {
            L2Op::Padding => Ok(()),
            L2Op::Transfer(t) => {
                let tx = t.tx;
                let sender = debited(
                    0,
                    tx.from,
                    self.account(tx.from),
                    tx.amount,
                    tx.fee,
                    tx.nonce,
                )?;
                let fees = self.fees_after(tx.fee)?;
                let mut receiver = if tx.to == tx.from {
                    sender
                } else {
                    self.account(tx.to)
                };
                if receiver.public_key.is_none() {
                    return Err(StfError::NotRegistered {
                        slot: 0,
                        account: tx.to,
                    });
                }
                receiver.balance = credited(0, tx.to, receiver.balance, tx.amount)?;
                self.accounts.insert(tx.from, sender);
                self.accounts.insert(tx.to, receiver);
                self.uncredited_fees = fees;
                Ok(())
            }
            L2Op::Withdraw(w) => {
                let tx = w.tx;
                let sender = debited(
                    0,
                    tx.from,
                    self.account(tx.from),
                    tx.amount,
                    tx.fee,
                    tx.nonce,
                )?;
                self.uncredited_fees = self.fees_after(tx.fee)?;
                self.accounts.insert(tx.from, sender);
                Ok(())
            }
            L2Op::Priority(PriorityOp::Deposit(d)) => {
                let after = deposited(0, self.account(d.to), &d)?;
                self.accounts.insert(d.to, after);
                Ok(())
            }
            L2Op::Priority(PriorityOp::ForcedExit(f)) => {
                let mut current = self.account(f.account);
                if current.l1_address == f.l1_address && current.balance > 0 {
                    current.balance = 0;
                    self.accounts.insert(f.account, current);
                }
                Ok(())
            }
        }
    }

    fn fees_after(&self, fee: u16) -> Result<u64, StfError> {
        let credited = self.account(self.fee_account).balance;
        let total = self.uncredited_fees + u64::from(fee);
        if self.account(self.fee_account).public_key.is_none() {
            return Err(StfError::NotRegistered {
                slot: usize::MAX,
                account: self.fee_account,
            });
        }
        credited
            .checked_add(total)
            .map(|_| total)
            .ok_or(StfError::BalanceOverflow {
                slot: usize::MAX,
                account: self.fee_account,
            })
    }

    /// Credits `fees` (collected by a batch that just closed) to the fee account.
    pub fn credit_fees(&mut self, fees: u64) {
        let fees = fees.min(self.uncredited_fees);
        self.uncredited_fees -= fees;
        let mut account = self.account(self.fee_account);
        account.balance = account.balance.saturating_add(fees);
        self.accounts.insert(self.fee_account, account);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::L1Address;
    use crate::schnorr::SigningKey;
    use crate::stf::ChunkConfig;
    use crate::tx::{DepositOp, ForcedExitOp, Transfer, Withdraw};

    const CHAIN: u64 = 7;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_uniform_bytes(&[seed; 64])
    }

    fn deposit(to: u32, seed: u8, amount: u64) -> L2Op {
        L2Op::Priority(PriorityOp::Deposit(DepositOp {
            to,
            l1_address: L1Address([seed; 20]),
            public_key: key(seed).public_key(),
            amount,
        }))
    }

    fn transfer(from: u32, to: u32, amount: u64, fee: u16, nonce: u32) -> L2Op {
        L2Op::Transfer(
            Transfer {
                from,
                to,
                amount,
                fee,
                nonce,
            }
            .sign(&key(from as u8 + 1), CHAIN),
        )
    }

    /// Every sequence the ledger accepts applies in the STF and ends at the same accounts;
    /// what it refuses, the STF refuses too.
    #[test]
    fn the_ledger_accepts_exactly_what_the_stf_applies() {
        let mut ledger = SoftLedger::new(&L2State::new(), CHAIN, 0);
        let mut state = L2State::new();
        let config = ChunkConfig {
            chain_id: CHAIN,
            fee_account: 0,
            slots: 4,
        };
        let candidates = vec![
            deposit(0, 1, 10),
            deposit(1, 2, 100),
            transfer(1, 0, 50, 1, 0),
            transfer(1, 0, 50, 1, 0), // replayed nonce
            transfer(1, 2, 5, 1, 1),  // unregistered receiver
            deposit(2, 3, 7),
            transfer(1, 2, 49, 1, 1), // one unit short
            transfer(1, 2, 48, 1, 1),
            L2Op::Withdraw(
                Withdraw {
                    from: 2,
                    amount: 55,
                    fee: 0,
                    nonce: 0,
                }
                .sign(&key(3), CHAIN),
            ),
            deposit(2, 4, 1), // another owner
            L2Op::Priority(PriorityOp::ForcedExit(ForcedExitOp {
                account: 1,
                l1_address: L1Address([2; 20]),
            })),
            transfer(0, 1, 10, 0, 0), // the fee account spends its deposit, not its fees
        ];
        let mut accepted = Vec::new();
        for op in candidates {
            let stf_ok = state.clone().apply_chunk(config, &[op]).is_ok();
            let signed = ledger
                .signer_of(&op)
                .map(|k| k.is_none_or(|k| SoftLedger::signature_ok(&op, &k, CHAIN)));
            let ok = signed == Ok(true) && ledger.apply(&op).is_ok();
            assert_eq!(ok, stf_ok, "{op:?}");
            if ok {
                let outcome = state.apply_chunk(config, &[op]).unwrap();
                ledger.credit_fees(outcome.total_fee);
                accepted.push(op);
            }
        }
        assert_eq!(accepted.len(), 8);
        for index in 0..4 {
            assert_eq!(
                ledger.account(index),
                state.account(index),
                "account {index}"
            );
        }
    }

    #[test]
    fn a_bad_signature_is_seen_apart_from_the_state() {
        let mut ledger = SoftLedger::new(&L2State::new(), CHAIN, 0);
        ledger.apply(&deposit(0, 1, 10)).unwrap();
        let forged = L2Op::Transfer(
            Transfer {
                from: 0,
                to: 0,
                amount: 1,
                fee: 0,
                nonce: 0,
            }
            .sign(&key(9), CHAIN),
        );
        let signer = ledger.signer_of(&forged).unwrap().unwrap();
        assert!(!SoftLedger::signature_ok(&forged, &signer, CHAIN));
        assert!(matches!(
            ledger.signer_of(&transfer(5, 0, 1, 0, 0)),
            Err(StfError::NotRegistered { account: 5, .. })
        ));
    }
}
