//! Rebuilding the L2 state from what shard 0 publishes alone: each committed chunk's published
//! data, and the bridge's deposit requests, which carry the L2 keys that the data leaves out.
//! This is what an exodus exit stands on: nothing comes from the sequencer. Every chunk's
//! rebuilt root and queue hash are checked against the ones the bridge committed, so a wrong
//! rebuild is an error naming the chunk, never a proof the bridge would refuse. A chunk's
//! accounts change first and reach the tree together at its end ([`L2State::set_accounts`]).

use std::collections::{HashMap, VecDeque};

use crate::Fp;
use crate::account::Account;
use crate::stf::L2State;
use crate::tx::{DepositOp, ForcedExitOp, PriorityOp, PubdataError, SlotData, SlotKind};

/// The fewest bytes a non-padding slot publishes (a deposit).
const MIN_SLOT_BYTES: usize = 13;

/// Why the published data could not be replayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebuildError {
    #[error("chunk {chunk}: published data: {error}")]
    Data { chunk: usize, error: PubdataError },
    #[error("chunk {chunk}: a deposit to account {account} that no deposit request matches")]
    UnknownDeposit { chunk: usize, account: u32 },
    #[error("chunk {chunk}: account {account} {what}")]
    Inconsistent {
        chunk: usize,
        account: u32,
        what: &'static str,
    },
    #[error("chunk {chunk}: the rebuilt {what} differs from the one committed")]
    Mismatch { chunk: usize, what: &'static str },
}

/// Replays published chunks onto a state, taking deposits from the bridge's requests in order.
pub struct Rebuilder {
    state: L2State,
    /// Accounts the current chunk changed, not yet in the tree.
    changed: HashMap<u32, Account>,
    deposits: VecDeque<DepositOp>,
    fee_account: u32,
    chunks: usize,
}

impl Rebuilder {
    /// From the empty state; `deposits` are the bridge's deposit requests in request order.
    pub fn new(deposits: impl IntoIterator<Item = DepositOp>, fee_account: u32) -> Self {
        Self {
            state: L2State::new(),
            changed: HashMap::new(),
            deposits: deposits.into_iter().collect(),
            fee_account,
            chunks: 0,
        }
    }

    /// The state rebuilt so far.
    pub fn state(&self) -> &L2State {
        &self.state
    }

    /// Applies one chunk's published `data` and checks the root and queue hash it reaches
    /// against the committed `root` and `queue`.
    pub fn apply_chunk(&mut self, data: &[u8], root: Fp, queue: Fp) -> Result<(), RebuildError> {
        let chunk = self.chunks;
        // Padding publishes nothing and changes nothing, so the chunk's size does not matter.
        let slots = crate::tx::parse_pubdata(data, data.len() / MIN_SLOT_BYTES + 1)
            .map_err(|error| RebuildError::Data { chunk, error })?;
        let mut fees = 0u64;
        self.changed.clear();
        for slot in &slots {
            fees = fees.saturating_add(u64::from(slot.fee));
            self.apply_slot(chunk, slot)?;
        }
        let fee_account = self.account(self.fee_account);
        let balance = fee_account
            .balance
            .checked_add(fees)
            .ok_or(RebuildError::Inconsistent {
                chunk,
                account: self.fee_account,
                what: "overflows with the chunk's fees",
            })?;
        self.set(
            self.fee_account,
            Account {
                balance,
                ..fee_account
            },
        );
        let changed = self.changed.drain().collect();
        self.state.set_accounts(changed);
        self.chunks += 1;
        if self.state.root() != root {
            return Err(RebuildError::Mismatch {
                chunk,
                what: "state root",
            });
        }
        if self.state.queue_hash() != queue {
            return Err(RebuildError::Mismatch {
                chunk,
                what: "queue hash",
            });
        }
        Ok(())
    }

    fn apply_slot(&mut self, chunk: usize, slot: &SlotData) -> Result<(), RebuildError> {
        let inconsistent = |account, what| RebuildError::Inconsistent {
            chunk,
            account,
            what,
        };
        match slot.kind {
            SlotKind::Padding => {}
            SlotKind::Transfer | SlotKind::Withdraw => {
                let sender = self.account(slot.a);
                let needed = slot.amount.checked_add(u64::from(slot.fee));
                let balance = needed
                    .and_then(|needed| sender.balance.checked_sub(needed))
                    .ok_or(inconsistent(slot.a, "pays more than it holds"))?;
                self.set(
                    slot.a,
                    Account {
                        balance,
                        nonce: sender.nonce.wrapping_add(1),
                        ..sender
                    },
                );
                if slot.kind == SlotKind::Transfer {
                    self.credit(chunk, slot.b, slot.amount)?;
                }
            }
            SlotKind::Deposit => {
                let deposit = self
                    .deposits
                    .pop_front()
                    .filter(|d| d.to == slot.b && d.amount == slot.amount)
                    .ok_or(RebuildError::UnknownDeposit {
                        chunk,
                        account: slot.b,
                    })?;
                let current = self.account(deposit.to);
                let balance = current
                    .balance
                    .checked_add(deposit.amount)
                    .ok_or(inconsistent(deposit.to, "overflows with a deposit"))?;
                self.set(
                    deposit.to,
                    Account {
                        public_key: Some(deposit.public_key),
                        l1_address: deposit.l1_address,
                        balance,
                        nonce: current.nonce,
                    },
                );
                self.fold(PriorityOp::Deposit(deposit));
            }
            SlotKind::ForcedExit => {
                let current = self.account(slot.a);
                let balance = current
                    .balance
                    .checked_sub(slot.amount)
                    .ok_or(inconsistent(slot.a, "exits with more than it holds"))?;
                self.set(slot.a, Account { balance, ..current });
                self.fold(PriorityOp::ForcedExit(ForcedExitOp {
                    account: slot.a,
                    l1_address: slot.l1_address,
                }));
            }
        }
        Ok(())
    }

    fn credit(&mut self, chunk: usize, account: u32, amount: u64) -> Result<(), RebuildError> {
        let current = self.account(account);
        let balance = current
            .balance
            .checked_add(amount)
            .ok_or(RebuildError::Inconsistent {
                chunk,
                account,
                what: "overflows with a transfer",
            })?;
        self.set(account, Account { balance, ..current });
        Ok(())
    }

    /// An account as the current chunk has left it so far.
    fn account(&self, index: u32) -> Account {
        self.changed
            .get(&index)
            .copied()
            .unwrap_or_else(|| self.state.account(index))
    }

    fn set(&mut self, index: u32, account: Account) {
        self.changed.insert(index, account);
    }

    fn fold(&mut self, op: PriorityOp) {
        self.state
            .set_queue_hash(op.fold_into(self.state.queue_hash()));
    }
}
