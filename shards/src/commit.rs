//! Turning a block's [`PendingState`] into the new state root and the writes that persist it:
//! plain state, per-block history, code and the changed branches of the Merkle trees.

use std::collections::HashSet;

use alloy_primitives::{Address, B256, U256, keccak256};
use kaimeng_l1::{StoreError, WriteBatch};
use rayon::prelude::*;

use crate::account::AccountRecord;
use crate::commitment::{Child, TreeUpdate, update_tree};
use crate::overlay::{AccountChange, PendingState};
use crate::schema::{self, TreeId};
use crate::state::{StateAt, StateError, TrieNodes};

/// One write of a state commit.
#[derive(Clone, Debug)]
pub enum WriteOp {
    Put(&'static str, Vec<u8>, Vec<u8>),
    Delete(&'static str, Vec<u8>),
}

/// The new state root and the writes that make it durable.
#[derive(Clone, Debug, Default)]
pub struct StateCommit {
    pub state_root: B256,
    pub ops: Vec<WriteOp>,
}

impl StateCommit {
    pub fn apply_to(&self, batch: &mut WriteBatch<'_>) -> Result<(), StoreError> {
        for op in &self.ops {
            match op {
                WriteOp::Put(column, key, value) => batch.put(column, key, value)?,
                WriteOp::Delete(column, key) => batch.delete(column, key)?,
            }
        }
        Ok(())
    }
}

/// Computes the commit of `pending` on top of the head state `base`, for block `number`.
pub fn prepare_commit(
    base: &StateAt,
    pending: &PendingState,
    number: u64,
) -> Result<StateCommit, StateError> {
    let per_account: Vec<(Address, Option<AccountRecord>, Vec<WriteOp>)> = pending
        .accounts
        .par_iter()
        .map(|(address, change)| commit_account(base, address, change, number))
        .collect::<Result<_, _>>()?;

    let mut ops = Vec::new();
    let mut account_changes = Vec::with_capacity(per_account.len());
    for (address, record, account_ops) in per_account {
        ops.extend(account_ops);
        let history_key = schema::account_history_key(&address, number).to_vec();
        match record {
            Some(record) => {
                let encoded = record.encode().to_vec();
                ops.push(WriteOp::Put(
                    schema::ACCOUNTS,
                    address.to_vec(),
                    encoded.clone(),
                ));
                ops.push(WriteOp::Put(schema::ACCOUNT_HISTORY, history_key, encoded));
                account_changes.push((keccak256(address), Some(record.commitment())));
            }
            None => {
                ops.push(WriteOp::Delete(schema::ACCOUNTS, address.to_vec()));
                ops.push(WriteOp::Put(
                    schema::ACCOUNT_HISTORY,
                    history_key,
                    Vec::new(),
                ));
                account_changes.push((keccak256(address), None));
            }
        }
    }
    for (hash, code) in &pending.contracts {
        ops.push(WriteOp::Put(
            schema::CODE,
            hash.to_vec(),
            code.original_bytes().to_vec(),
        ));
    }
    let accounts = TrieNodes::new(base, TreeId::Accounts);
    let update = update_tree(&accounts, &accounts.root()?, account_changes)?;
    let state_root = update.root.hash();
    push_tree_writes(&mut ops, &accounts, TreeId::Accounts, update);
    Ok(StateCommit { state_root, ops })
}

fn commit_account(
    base: &StateAt,
    address: &Address,
    change: &AccountChange,
    number: u64,
) -> Result<(Address, Option<AccountRecord>, Vec<WriteOp>), StateError> {
    let mut ops = Vec::new();
    let wipe = change.storage_wiped || change.info.is_none();
    let mut slot_changes: Vec<(B256, Option<B256>)> = Vec::with_capacity(change.storage.len());
    let mut written: HashSet<B256> = HashSet::with_capacity(change.storage.len());
    for (slot, value) in &change.storage {
        let slot = B256::from(*slot);
        written.insert(slot);
        let value_bytes = B256::from(*value);
        let plain_key = schema::storage_key(address, &slot).to_vec();
        ops.push(WriteOp::Put(
            schema::STORAGE_HISTORY,
            schema::storage_history_key(address, &slot, number).to_vec(),
            value_bytes.to_vec(),
        ));
        if value.is_zero() || change.info.is_none() {
            ops.push(WriteOp::Delete(schema::STORAGE, plain_key));
            slot_changes.push((keccak256(slot), None));
        } else {
            ops.push(WriteOp::Put(
                schema::STORAGE,
                plain_key,
                value_bytes.to_vec(),
            ));
            slot_changes.push((keccak256(slot), Some(value_bytes)));
        }
    }
    if wipe {
        for (key, _) in base.scan_latest(schema::STORAGE, address.as_slice())? {
            let slot = B256::from_slice(&key[20..]);
            if written.contains(&slot) {
                continue;
            }
            ops.push(WriteOp::Delete(schema::STORAGE, key));
            ops.push(WriteOp::Put(
                schema::STORAGE_HISTORY,
                schema::storage_history_key(address, &slot, number).to_vec(),
                U256::ZERO.to_be_bytes::<32>().to_vec(),
            ));
            slot_changes.push((keccak256(slot), None));
        }
    }
    let tree = TreeId::Storage(*address);
    let nodes = TrieNodes::new(base, tree);
    let old_root = nodes.root()?;
    let storage_root = if slot_changes.is_empty() {
        old_root.hash()
    } else {
        let update = update_tree(&nodes, &old_root, slot_changes)?;
        let root = update.root.hash();
        push_tree_writes(&mut ops, &nodes, tree, update);
        root
    };
    let record = change.info.as_ref().map(|info| AccountRecord {
        nonce: info.nonce,
        balance: info.balance,
        code_hash: info.code_hash,
        storage_root,
    });
    Ok((*address, record, ops))
}

fn push_tree_writes(
    ops: &mut Vec<WriteOp>,
    nodes: &TrieNodes<'_>,
    tree: TreeId,
    update: TreeUpdate,
) {
    for (path, branch) in update.writes {
        let key = nodes.node_key(&path);
        match branch {
            Some(branch) => ops.push(WriteOp::Put(schema::TRIE, key, branch.encode())),
            None => ops.push(WriteOp::Delete(schema::TRIE, key)),
        }
    }
    match update.root {
        Child::Empty => ops.push(WriteOp::Delete(schema::TRIE, tree.root_key())),
        root => ops.push(WriteOp::Put(schema::TRIE, tree.root_key(), root.encode())),
    }
}
