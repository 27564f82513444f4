//! The state-transition function: applies L2 operations in fixed-size chunks and records every
//! intermediate root, plus the trace (accounts before and after, Merkle paths) that a prover
//! turns into a circuit witness.
//!
//! Every slot touches two sides in order: side A (the debited account) and then side B (the
//! credited account); a side that an operation does not need is a no-op on a real leaf, so
//! every slot has the same shape. At the end of a chunk the fees it collected are credited to
//! the sequencer's fee account in one more update. An operation that fails validation changes
//! nothing: the chunk is rolled back and the error names the slot and the reason.

use std::collections::HashMap;

use ff::Field;

use crate::Fp;
use crate::account::{Account, L1Address};
use crate::schnorr::{self, PublicKey, Signature};
use crate::smt::{MerkleProof, SparseMerkleTree, UpdateTrace};
use crate::tx::{AMOUNT_BITS, DepositOp, L2Op, PriorityOp, SlotData, SlotKind, data_commitment};

/// Why an operation (or a chunk) was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StfError {
    /// More operations than the chunk has slots.
    #[error("{ops} operations do not fit in a chunk of {slots} slots")]
    TooManyOps {
        /// Operations given.
        ops: usize,
        /// Slots per chunk.
        slots: usize,
    },
    /// A chunk must have at least one slot.
    #[error("a chunk needs at least one slot")]
    EmptyChunk,
    /// The signature does not verify under the account's key.
    #[error("slot {slot}: bad signature for account {account}")]
    BadSignature {
        /// Slot index in the chunk.
        slot: usize,
        /// Signer's account.
        account: u32,
    },
    /// The operation's nonce is not the account's current nonce.
    #[error("slot {slot}: nonce {got} but account {account} is at {expected}")]
    WrongNonce {
        /// Slot index in the chunk.
        slot: usize,
        /// Account.
        account: u32,
        /// The account's nonce.
        expected: u32,
        /// The operation's nonce.
        got: u32,
    },
    /// The account cannot pay amount plus fee.
    #[error("slot {slot}: account {account} has {balance}, needs {needed}")]
    InsufficientBalance {
        /// Slot index in the chunk.
        slot: usize,
        /// Account.
        account: u32,
        /// Its balance.
        balance: u64,
        /// Amount plus fee.
        needed: u128,
    },
    /// A transfer or withdrawal amount at or above `2^40`.
    #[error("slot {slot}: amount {amount} is not below 2^40")]
    AmountOutOfRange {
        /// Slot index in the chunk.
        slot: usize,
        /// The amount.
        amount: u64,
    },
    /// The account has no registered key.
    #[error("slot {slot}: account {account} is not registered")]
    NotRegistered {
        /// Slot index in the chunk (`usize::MAX` for the fee account).
        slot: usize,
        /// Account.
        account: u32,
    },
    /// A credit would take a balance to `2^64` or more.
    #[error("slot {slot}: crediting account {account} overflows its balance")]
    BalanceOverflow {
        /// Slot index in the chunk (`usize::MAX` for the fee credit).
        slot: usize,
        /// Account.
        account: u32,
    },
    /// The nonce would pass `2^32 - 1`.
    #[error("slot {slot}: account {account} has used every nonce")]
    NonceExhausted {
        /// Slot index in the chunk.
        slot: usize,
        /// Account.
        account: u32,
    },
    /// A deposit names an account bound to another key or L1 address (the bridge assigns
    /// indices, so this means the bridge and the rollup disagree).
    #[error("slot {slot}: deposit to account {account}, which is bound to another owner")]
    DepositOwnerMismatch {
        /// Slot index in the chunk.
        slot: usize,
        /// Account.
        account: u32,
    },
}

/// What the chunk's parameters are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkConfig {
    /// The rollup's chain id (bound into every signature).
    pub chain_id: u64,
    /// The account that receives the chunk's fees.
    pub fee_account: u32,
    /// Slots per chunk.
    pub slots: usize,
}

/// One side of a slot: an account before and after, and its path (valid for both, since the
/// update only changes the leaf).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SideTrace {
    /// Account index.
    pub index: u32,
    /// Before the update.
    pub before: Account,
    /// After the update.
    pub after: Account,
    /// Authentication path.
    pub path: MerkleProof,
    /// Root before.
    pub root_before: Fp,
    /// Root after.
    pub root_after: Fp,
}

/// The signer data of a signed slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignerTrace {
    /// The key that signed.
    pub public_key: PublicKey,
    /// The signature.
    pub signature: Signature,
    /// The signed message word.
    pub message: Fp,
}

/// Everything about one applied slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotTrace {
    /// The operation.
    pub op: L2Op,
    /// What the slot publishes.
    pub data: SlotData,
    /// The debited side.
    pub a: SideTrace,
    /// The credited side.
    pub b: SideTrace,
    /// Signature data (transfers and withdrawals).
    pub signer: Option<SignerTrace>,
    /// The priority operation consumed, if any.
    pub priority: Option<PriorityOp>,
    /// Queue hash before the slot.
    pub queue_before: Fp,
    /// Queue hash after the slot.
    pub queue_after: Fp,
}

/// The result of applying one chunk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkOutcome {
    /// The chunk's parameters.
    pub config: ChunkConfig,
    /// Root before the chunk.
    pub old_root: Fp,
    /// Root after each slot, in order.
    pub slot_roots: Vec<Fp>,
    /// Root after the fee credit: the chunk's new root.
    pub new_root: Fp,
    /// Queue hash before the chunk.
    pub queue_before: Fp,
    /// Queue hash after the chunk.
    pub queue_after: Fp,
    /// The committed data of every slot (padding included).
    pub slots_data: Vec<SlotData>,
    /// The data commitment (a public input of the proof).
    pub data_commitment: Fp,
    /// Bytes to publish on L1.
    pub pubdata: Vec<u8>,
    /// Withdrawals to pay on L1: `(recipient, amount)`.
    pub withdrawals: Vec<(L1Address, u64)>,
    /// Per-slot traces.
    pub slots: Vec<SlotTrace>,
    /// Total fees collected.
    pub total_fee: u64,
    /// The fee credit.
    pub fee_credit: SideTrace,
}

/// The L2 state: accounts, their tree, and how far the L1 priority queue has been consumed.
#[derive(Clone, Debug, Default)]
pub struct L2State {
    accounts: HashMap<u32, Account>,
    tree: SparseMerkleTree,
    queue_hash: Fp,
}

impl L2State {
    /// The empty state.
    pub fn new() -> Self {
        Self {
            accounts: HashMap::new(),
            tree: SparseMerkleTree::new(),
            queue_hash: Fp::ZERO,
        }
    }

    /// The state holding `accounts` (each index once) after `queue_hash`: a state restored
    /// from a snapshot, built at once ([`Self::set_accounts`]).
    pub fn from_accounts(accounts: Vec<(u32, Account)>, queue_hash: Fp) -> Self {
        let mut state = Self::new();
        state.set_accounts(accounts);
        state.queue_hash = queue_hash;
        state
    }

    /// Sets the priority-queue hash (for a state rebuilt from published data, which folds
    /// the requests itself).
    pub fn set_queue_hash(&mut self, queue_hash: Fp) {
        self.queue_hash = queue_hash;
    }

    /// The state root.
    pub fn root(&self) -> Fp {
        self.tree.root()
    }

    /// The rolling hash of every priority operation processed so far.
    pub fn queue_hash(&self) -> Fp {
        self.queue_hash
    }

    /// The account at `index` (the empty account if untouched).
    pub fn account(&self, index: u32) -> Account {
        self.accounts.get(&index).copied().unwrap_or_default()
    }

    /// Every non-empty account, in no particular order.
    pub fn accounts(&self) -> impl Iterator<Item = (u32, &Account)> {
        self.accounts.iter().map(|(i, a)| (*i, a))
    }

    /// The Merkle path of `index`.
    pub fn proof(&self, index: u32) -> MerkleProof {
        self.tree.proof(index)
    }

    /// Replaces an account without any checks (genesis, tests, benchmarks). Returns the new root.
    pub fn set_account(&mut self, index: u32, account: Account) -> Fp {
        self.put_account(index, account);
        self.tree.set_leaf(index, account.leaf_hash())
    }

    /// Replaces several accounts without any checks (each index once), hashing their leaves and
    /// each node above them once, in parallel ([`SparseMerkleTree::set_leaves`]). Returns the
    /// new root.
    pub fn set_accounts(&mut self, accounts: Vec<(u32, Account)>) -> Fp {
        use rayon::prelude::*;
        let leaves: Vec<(u32, Fp)> = accounts
            .par_iter()
            .map(|(index, account)| (*index, account.leaf_hash()))
            .collect();
        for (index, account) in accounts {
            self.put_account(index, account);
        }
        self.tree.set_leaves(leaves)
    }

    /// Replaces an account in the map only (its leaf is left to [`Self::commit_leaves`] or
    /// the caller).
    fn put_account(&mut self, index: u32, account: Account) {
        if account == Account::default() {
            self.accounts.remove(&index);
        } else {
            self.accounts.insert(index, account);
        }
    }

    /// Records an update of `index` to `after`. The account changes now; its path and roots are
    /// filled in by [`Self::commit_leaves`] once the chunk's rules have all passed.
    fn update(&mut self, index: u32, after: Account, pending: &mut Pending) -> SideTrace {
        let before = self.account(index);
        pending.changes.push((index, before, after));
        self.put_account(index, after);
        SideTrace {
            index,
            before,
            after,
            path: MerkleProof {
                index,
                siblings: [Fp::ZERO; crate::smt::TREE_DEPTH],
            },
            root_before: Fp::ZERO,
            root_after: Fp::ZERO,
        }
    }

    /// Hashes the recorded updates into the tree (leaves and levels in parallel) and returns
    /// each one's path and roots, in order.
    fn commit_leaves(&mut self, pending: &Pending) -> Vec<UpdateTrace> {
        use rayon::prelude::*;
        let updates: Vec<(u32, Option<Fp>)> = pending
            .changes
            .par_iter()
            .map(|(index, before, after)| (*index, (after != before).then(|| after.leaf_hash())))
            .collect();
        self.tree.apply_updates(&updates)
    }

    /// Applies a batch: splits `ops` into chunks of `config.slots` (the last one padded) and
    /// applies them in order. On error nothing is changed.
    pub fn apply_batch(
        &mut self,
        config: ChunkConfig,
        ops: &[L2Op],
    ) -> Result<Vec<ChunkOutcome>, StfError> {
        if config.slots == 0 {
            return Err(StfError::EmptyChunk);
        }
        let snapshot_len = ops.len().div_ceil(config.slots);
        let mut outcomes = Vec::with_capacity(snapshot_len);
        for chunk in ops.chunks(config.slots) {
            match self.apply_chunk(config, chunk) {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    for done in outcomes.iter().rev() {
                        self.revert_chunk(done);
                    }
                    return Err(e);
                }
            }
        }
        Ok(outcomes)
    }

    /// Every intermediate root of a batch: after each slot and after each fee credit.
    pub fn batch_roots(outcomes: &[ChunkOutcome]) -> Vec<Fp> {
        outcomes
            .iter()
            .flat_map(|o| o.slot_roots.iter().copied().chain([o.new_root]))
            .collect()
    }

    fn revert_chunk(&mut self, outcome: &ChunkOutcome) {
        self.set_account(outcome.fee_credit.index, outcome.fee_credit.before);
        for slot in outcome.slots.iter().rev() {
            self.set_account(slot.b.index, slot.b.before);
            self.set_account(slot.a.index, slot.a.before);
        }
        self.queue_hash = outcome.queue_before;
    }

    /// Applies one chunk of at most `config.slots` operations (padded with [`L2Op::Padding`]).
    /// On error nothing is changed.
    pub fn apply_chunk(
        &mut self,
        config: ChunkConfig,
        ops: &[L2Op],
    ) -> Result<ChunkOutcome, StfError> {
        if config.slots == 0 {
            return Err(StfError::EmptyChunk);
        }
        if ops.len() > config.slots {
            return Err(StfError::TooManyOps {
                ops: ops.len(),
                slots: config.slots,
            });
        }
        let mut pending = Pending::default();
        let queue_start = self.queue_hash;
        match self.apply_chunk_inner(config, ops, &mut pending) {
            Ok(outcome) => Ok(outcome),
            Err(e) => {
                // Nothing reached the tree: the rules all run before any hashing.
                for (index, before, _) in pending.changes.iter().rev() {
                    self.put_account(*index, *before);
                }
                self.queue_hash = queue_start;
                // A bad signature before the failing rule is what checking in order finds first.
                Err(pending.first_bad_signature().unwrap_or(e))
            }
        }
    }

    fn apply_chunk_inner(
        &mut self,
        config: ChunkConfig,
        ops: &[L2Op],
        pending: &mut Pending,
    ) -> Result<ChunkOutcome, StfError> {
        let old_root = self.root();
        let queue_before = self.queue_hash;
        let mut slots = Vec::with_capacity(config.slots);
        let mut total_fee = 0u64;
        let mut withdrawals = Vec::new();
        let padded = ops
            .iter()
            .copied()
            .chain(std::iter::repeat(L2Op::Padding))
            .take(config.slots);
        for (slot, op) in padded.enumerate() {
            let trace = self.apply_slot(config.chain_id, slot, op, pending)?;
            total_fee += u64::from(trace.data.fee);
            if matches!(trace.data.kind, SlotKind::Withdraw | SlotKind::ForcedExit) {
                withdrawals.push((trace.data.l1_address, trace.data.amount));
            }
            slots.push(trace);
        }

        let fee_account = self.account(config.fee_account);
        if fee_account.public_key.is_none() {
            return Err(StfError::NotRegistered {
                slot: usize::MAX,
                account: config.fee_account,
            });
        }
        let credited =
            fee_account
                .balance
                .checked_add(total_fee)
                .ok_or(StfError::BalanceOverflow {
                    slot: usize::MAX,
                    account: config.fee_account,
                })?;
        let mut fee_credit = self.update(
            config.fee_account,
            Account {
                balance: credited,
                ..fee_account
            },
            pending,
        );
        if let Some(bad) = pending.bad_signature() {
            return Err(bad);
        }

        // Every rule passed: hash the updates into the tree and fill in what each saw, in the
        // order they were made (each slot's side A, then side B; the fee credit last).
        let traces = self.commit_leaves(pending);
        let sides = slots
            .iter_mut()
            .flat_map(|slot| [&mut slot.a, &mut slot.b])
            .chain([&mut fee_credit]);
        for (side, trace) in sides.zip(traces) {
            side.path = trace.path;
            side.root_before = trace.root_before;
            side.root_after = trace.root_after;
        }
        let slot_roots = slots.iter().map(|slot| slot.b.root_after).collect();

        let slots_data: Vec<SlotData> = slots.iter().map(|s: &SlotTrace| s.data).collect();
        Ok(ChunkOutcome {
            config,
            old_root,
            new_root: self.root(),
            slot_roots,
            queue_before,
            queue_after: self.queue_hash,
            data_commitment: data_commitment(&slots_data),
            pubdata: slots_data.iter().flat_map(|d| d.to_pubdata()).collect(),
            slots_data,
            withdrawals,
            slots,
            total_fee,
            fee_credit,
        })
    }

    fn apply_slot(
        &mut self,
        chain_id: u64,
        slot: usize,
        op: L2Op,
        pending: &mut Pending,
    ) -> Result<SlotTrace, StfError> {
        let queue_before = self.queue_hash;
        let (a, b, data, signer, priority) =
            match op {
                L2Op::Padding => {
                    let a = self.update(0, self.account(0), pending);
                    let b = self.update(0, self.account(0), pending);
                    (a, b, SlotData::PADDING, None, None)
                }
                L2Op::Transfer(t) => {
                    let tx = t.tx;
                    let message = tx.message(chain_id);
                    let (a, signer) = self.debit(
                        slot,
                        tx.from,
                        tx.amount,
                        tx.fee,
                        tx.nonce,
                        message,
                        t.signature,
                        pending,
                    )?;
                    let receiver = self.account(tx.to);
                    if receiver.public_key.is_none() {
                        return Err(StfError::NotRegistered {
                            slot,
                            account: tx.to,
                        });
                    }
                    let balance = receiver.balance.checked_add(tx.amount).ok_or(
                        StfError::BalanceOverflow {
                            slot,
                            account: tx.to,
                        },
                    )?;
                    let b = self.update(
                        tx.to,
                        Account {
                            balance,
                            ..receiver
                        },
                        pending,
                    );
                    let data = SlotData {
                        kind: SlotKind::Transfer,
                        a: tx.from,
                        b: tx.to,
                        amount: tx.amount,
                        fee: tx.fee,
                        l1_address: L1Address::default(),
                    };
                    (a, b, data, Some(signer), None)
                }
                L2Op::Withdraw(w) => {
                    let tx = w.tx;
                    let message = tx.message(chain_id);
                    let (a, signer) = self.debit(
                        slot,
                        tx.from,
                        tx.amount,
                        tx.fee,
                        tx.nonce,
                        message,
                        w.signature,
                        pending,
                    )?;
                    let b = self.update(tx.from, self.account(tx.from), pending);
                    let data = SlotData {
                        kind: SlotKind::Withdraw,
                        a: tx.from,
                        b: tx.from,
                        amount: tx.amount,
                        fee: tx.fee,
                        l1_address: a.after.l1_address,
                    };
                    (a, b, data, Some(signer), None)
                }
                L2Op::Priority(PriorityOp::Deposit(d)) => {
                    let a = self.update(d.to, self.account(d.to), pending);
                    let after = deposited(slot, self.account(d.to), &d)?;
                    let b = self.update(d.to, after, pending);
                    let data = SlotData {
                        kind: SlotKind::Deposit,
                        a: d.to,
                        b: d.to,
                        amount: d.amount,
                        fee: 0,
                        l1_address: L1Address::default(),
                    };
                    self.queue_hash = PriorityOp::Deposit(d).fold_into(self.queue_hash);
                    (a, b, data, None, Some(PriorityOp::Deposit(d)))
                }
                L2Op::Priority(PriorityOp::ForcedExit(f)) => {
                    let current = self.account(f.account);
                    let matches = current.l1_address == f.l1_address;
                    let amount = if matches { current.balance } else { 0 };
                    let a = self.update(
                        f.account,
                        Account {
                            balance: current.balance - amount,
                            ..current
                        },
                        pending,
                    );
                    let b = self.update(f.account, self.account(f.account), pending);
                    let data = SlotData {
                        kind: SlotKind::ForcedExit,
                        a: f.account,
                        b: f.account,
                        amount,
                        fee: 0,
                        l1_address: f.l1_address,
                    };
                    self.queue_hash = PriorityOp::ForcedExit(f).fold_into(self.queue_hash);
                    (a, b, data, None, Some(PriorityOp::ForcedExit(f)))
                }
            };
        Ok(SlotTrace {
            op,
            data,
            a,
            b,
            signer,
            priority,
            queue_before,
            queue_after: self.queue_hash,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn debit(
        &mut self,
        slot: usize,
        from: u32,
        amount: u64,
        fee: u16,
        nonce: u32,
        message: Fp,
        signature: Signature,
        pending: &mut Pending,
    ) -> Result<(SideTrace, SignerTrace), StfError> {
        let sender = self.account(from);
        let public_key = sender.public_key.ok_or(StfError::NotRegistered {
            slot,
            account: from,
        })?;
        if amount >> AMOUNT_BITS != 0 {
            return Err(StfError::AmountOutOfRange { slot, amount });
        }
        // Checked with the chunk's others once its rules pass (`Pending::bad_signature`).
        pending
            .signatures
            .push((slot, from, (public_key, message, signature)));
        let after = debited(slot, from, sender, amount, fee, nonce)?;
        let side = self.update(from, after, pending);
        Ok((
            side,
            SignerTrace {
                public_key,
                signature,
                message,
            },
        ))
    }
}

/// What a chunk's rules have done before anything is hashed: the account updates in order
/// (index, before, after) and the signatures to check.
#[derive(Default)]
struct Pending {
    changes: Vec<(u32, Account, Account)>,
    signatures: Vec<(usize, u32, (PublicKey, Fp, Signature))>,
}

impl Pending {
    /// The first slot whose signature does not verify, if any: one batched check for all, and
    /// one by one only if the batch fails (each signature in parallel).
    fn bad_signature(&self) -> Option<StfError> {
        use rayon::prelude::*;
        let items: Vec<_> = self.signatures.iter().map(|(_, _, item)| *item).collect();
        let halves = items.len().div_ceil(2).max(1);
        let all_good = items.par_chunks(halves).all(schnorr::verify_batch);
        if all_good {
            return None;
        }
        self.first_bad_signature()
    }

    /// The first recorded signature that does not verify, checked one by one in order.
    fn first_bad_signature(&self) -> Option<StfError> {
        self.signatures
            .iter()
            .find(|(_, _, (key, message, signature))| !schnorr::verify(key, *message, signature))
            .map(|(slot, account, _)| StfError::BadSignature {
                slot: *slot,
                account: *account,
            })
    }
}

/// The account `d.to` after the deposit `d`: bound to its key and L1 address if it was empty,
/// refused if it is bound to another owner.
pub fn deposited(slot: usize, current: Account, d: &DepositOp) -> Result<Account, StfError> {
    let bound = current.is_empty()
        || (current.public_key == Some(d.public_key) && current.l1_address == d.l1_address);
    if !bound {
        return Err(StfError::DepositOwnerMismatch {
            slot,
            account: d.to,
        });
    }
    Ok(Account {
        public_key: Some(d.public_key),
        l1_address: d.l1_address,
        balance: credited(slot, d.to, current.balance, d.amount)?,
        nonce: current.nonce,
    })
}

/// `balance + amount`, refused if it would reach 2^64.
pub fn credited(slot: usize, account: u32, balance: u64, amount: u64) -> Result<u64, StfError> {
    balance
        .checked_add(amount)
        .ok_or(StfError::BalanceOverflow { slot, account })
}

/// The sender after paying `amount + fee` at `nonce`: the checks every signed operation passes
/// apart from its signature (which the caller checks against the registered key). The
/// sequencer's soft-confirmation ledger applies exactly these rules.
pub fn debited(
    slot: usize,
    from: u32,
    sender: Account,
    amount: u64,
    fee: u16,
    nonce: u32,
) -> Result<Account, StfError> {
    if sender.public_key.is_none() {
        return Err(StfError::NotRegistered {
            slot,
            account: from,
        });
    }
    if amount >> AMOUNT_BITS != 0 {
        return Err(StfError::AmountOutOfRange { slot, amount });
    }
    if nonce != sender.nonce {
        return Err(StfError::WrongNonce {
            slot,
            account: from,
            expected: sender.nonce,
            got: nonce,
        });
    }
    let needed = u128::from(amount) + u128::from(fee);
    if u128::from(sender.balance) < needed {
        return Err(StfError::InsufficientBalance {
            slot,
            account: from,
            balance: sender.balance,
            needed,
        });
    }
    let next_nonce = sender
        .nonce
        .checked_add(1)
        .ok_or(StfError::NonceExhausted {
            slot,
            account: from,
        })?;
    Ok(Account {
        balance: sender.balance - needed as u64,
        nonce: next_nonce,
        ..sender
    })
}
