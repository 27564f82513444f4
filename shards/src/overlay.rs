//! The state a block is building: changes on top of a [`StateAt`] view, fed to revm as its
//! database and committed after each transaction. What it holds at the end is the block's
//! change set.

use std::collections::HashMap;

use alloy_primitives::{Address, B256, U256};
use revm::bytecode::Bytecode;
use revm::database_interface::{Database, DatabaseCommit, DatabaseRef};
use revm::primitives::{AddressMap, KECCAK_EMPTY};
use revm::state::Account;
pub use revm::state::AccountInfo;

use crate::state::{StateAt, StateError};

/// One account's changes within a block.
#[derive(Clone, Debug, Default)]
pub struct AccountChange {
    /// The account after the block; `None` if it was deleted.
    pub info: Option<AccountInfo>,
    /// Storage slots written in the block (zero = cleared).
    pub storage: HashMap<U256, U256>,
    /// All storage the account had before the block was wiped (self-destruct or re-creation).
    pub storage_wiped: bool,
}

/// Everything a block (or a call) changed.
#[derive(Clone, Debug, Default)]
pub struct PendingState {
    pub accounts: HashMap<Address, AccountChange>,
    pub contracts: HashMap<B256, Bytecode>,
}

impl PendingState {
    /// Adds `amount` to `address`'s balance, creating the account if needed.
    pub fn credit(
        &mut self,
        base: &StateAt,
        address: Address,
        amount: U256,
    ) -> Result<(), StateError> {
        if amount.is_zero() {
            return Ok(());
        }
        let mut info = match self.accounts.get(&address) {
            Some(change) => change.info.clone().unwrap_or_default(),
            None => base.basic_ref(address)?.unwrap_or_default(),
        };
        info.balance = info.balance.saturating_add(amount);
        self.accounts.entry(address).or_default().info = Some(info);
        Ok(())
    }
}

impl PendingState {
    /// Takes `amount` from `address`; `false` (changing nothing) when it holds less.
    pub fn debit(
        &mut self,
        base: &StateAt,
        address: Address,
        amount: U256,
    ) -> Result<bool, StateError> {
        if amount.is_zero() {
            return Ok(true);
        }
        let mut info = match self.accounts.get(&address) {
            Some(change) => change.info.clone().unwrap_or_default(),
            None => base.basic_ref(address)?.unwrap_or_default(),
        };
        let Some(left) = info.balance.checked_sub(amount) else {
            return Ok(false);
        };
        info.balance = left;
        self.accounts.entry(address).or_default().info = Some(info);
        Ok(true)
    }
}

/// revm's database while a block executes: pending changes first, then the base view.
pub struct Overlay<'a> {
    pub base: &'a StateAt,
    pub pending: &'a mut PendingState,
}

impl Database for Overlay<'_> {
    type Error = StateError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        self.basic_ref(address)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, StateError> {
        self.code_by_hash_ref(code_hash)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, StateError> {
        self.storage_ref(address, index)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, StateError> {
        self.block_hash_ref(number)
    }
}

/// Reads without changing anything (tracers read the state before a transaction this way).
impl DatabaseRef for Overlay<'_> {
    type Error = StateError;

    fn basic_ref(&self, address: Address) -> Result<Option<AccountInfo>, StateError> {
        match self.pending.accounts.get(&address) {
            Some(change) => Ok(change.info.clone()),
            None => self.base.basic_ref(address),
        }
    }

    fn code_by_hash_ref(&self, code_hash: B256) -> Result<Bytecode, StateError> {
        match self.pending.contracts.get(&code_hash) {
            Some(code) => Ok(code.clone()),
            None => self.base.code_by_hash_ref(code_hash),
        }
    }

    fn storage_ref(&self, address: Address, index: U256) -> Result<U256, StateError> {
        if let Some(change) = self.pending.accounts.get(&address) {
            if let Some(value) = change.storage.get(&index) {
                return Ok(*value);
            }
            if change.storage_wiped || change.info.is_none() {
                return Ok(U256::ZERO);
            }
        }
        self.base.storage_ref(address, index)
    }

    fn block_hash_ref(&self, number: u64) -> Result<B256, StateError> {
        self.base.block_hash_ref(number)
    }
}

impl DatabaseCommit for Overlay<'_> {
    fn commit(&mut self, changes: AddressMap<Account>) {
        for (address, account) in changes {
            apply_account(self.pending, address, account);
        }
    }
}

fn apply_account(pending: &mut PendingState, address: Address, account: Account) {
    if !account.is_touched() {
        return;
    }
    if account.is_selfdestructed() {
        pending.accounts.insert(
            address,
            AccountChange {
                info: None,
                storage: HashMap::new(),
                storage_wiped: true,
            },
        );
        return;
    }
    let entry = pending.accounts.entry(address).or_default();
    if account.is_created() {
        entry.storage.clear();
        entry.storage_wiped = true;
    }
    for (slot, value) in account.changed_storage_slots() {
        entry.storage.insert(*slot, value.present_value);
    }
    if account.is_empty() {
        // EIP-161: touched empty accounts are removed.
        entry.info = None;
        return;
    }
    let mut info = account.info;
    if let Some(code) = info.code.take() {
        if info.code_hash != KECCAK_EMPTY && !code.is_empty() {
            pending.contracts.entry(info.code_hash).or_insert(code);
        }
    }
    info.account_id = None;
    entry.info = Some(info);
}
