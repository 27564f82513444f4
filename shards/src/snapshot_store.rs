//! Shard state snapshots against a store: reading the chunks of a state (what a serving node
//! sends) and installing a checked snapshot into an empty store, so that a chain opens there
//! with the snapshot's header as its head and no history below it (ADR 0100). The checks are
//! `crate::snapshot`'s; nothing is written unless every chunk passes and the rebuilt tree
//! gives the header's state root.

use std::collections::HashMap;

use alloy_primitives::{Address, B256, U256};
use kaimeng_genesis::GenesisSpec;
use kaimeng_l1::Store;
use revm::bytecode::Bytecode;
use revm::primitives::KECCAK_EMPTY;

use crate::account::AccountRecord;
use crate::block::SealedHeader;
use crate::commit::prepare_commit;
use crate::overlay::{AccountChange, AccountInfo, PendingState};
use crate::schema;
use crate::snapshot::{CHUNKS, Manifest, SnapshotAccount, SnapshotError, chunk_of};
use crate::state::{StateAt, StateError};

/// Why a snapshot was not installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("a snapshot has {CHUNKS} chunks, this one {0}")]
    ChunkCount(usize),
    #[error("the store is not empty: a snapshot is installed only into a new data directory")]
    NotEmpty,
    #[error("no header to install the snapshot under")]
    NoHeader,
    #[error("the rebuilt state gives root {found}, but header {number} commits to {expected}")]
    StateRoot {
        number: u64,
        expected: B256,
        found: B256,
    },
    #[error("the snapshot was not installed, and writing genesis again failed: {0}")]
    Restore(String),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Store(#[from] kaimeng_l1::StoreError),
}

/// Every account of `state` with its record (what [`Manifest::of`] takes).
pub fn accounts(state: &StateAt) -> Result<Vec<(Address, AccountRecord)>, StateError> {
    state
        .scan_latest(schema::ACCOUNTS, &[])?
        .into_iter()
        .map(|(key, value)| {
            let record = AccountRecord::decode(&value)
                .ok_or_else(|| StateError::Corrupt("an account record".into()))?;
            Ok((Address::from_slice(&key), record))
        })
        .collect()
}

/// The accounts of `state`, with their storage and code, split into the snapshot's chunks.
pub fn read_chunks(state: &StateAt) -> Result<Vec<Vec<SnapshotAccount>>, StateError> {
    let mut accounts_with_storage = Vec::new();
    for (address, record) in accounts(state)? {
        let storage = state
            .scan_latest(schema::STORAGE, address.as_slice())?
            .into_iter()
            .map(|(key, value)| (B256::from_slice(&key[20..]), B256::from_slice(&value)))
            .collect();
        accounts_with_storage.push(((address, record), storage));
    }
    into_chunks(state, accounts_with_storage)
}

/// Accounts with their storage, and their code read from `state`, in the snapshot's chunks.
fn into_chunks(
    state: &StateAt,
    accounts: Vec<((Address, AccountRecord), Vec<(B256, B256)>)>,
) -> Result<Vec<Vec<SnapshotAccount>>, StateError> {
    let mut chunks = vec![Vec::new(); CHUNKS];
    for ((address, record), storage) in accounts {
        let code = (record.code_hash != KECCAK_EMPTY)
            .then(|| state.code(&record.code_hash))
            .transpose()?
            .map(|code| code.original_bytes());
        chunks[chunk_of(&address)].push(SnapshotAccount {
            address,
            record,
            storage,
            code,
        });
    }
    Ok(chunks)
}

/// The accounts of the state after block `height`, with storage and code, split into the
/// snapshot's chunks. Read from the history columns, one pass over each, so blocks may be
/// written meanwhile: a snapshot is served pinned at its height while the head moves on.
pub fn read_chunks_at(store: &Store, height: u64) -> Result<Vec<Vec<SnapshotAccount>>, StateError> {
    let number =
        |key: &[u8]| u64::from_be_bytes(key[key.len() - 8..].try_into().unwrap_or_default());
    // Accounts: the newest version at or below `height` of each address (empty: deleted).
    let mut accounts: Vec<(Address, AccountRecord)> = Vec::new();
    let mut current: Option<(Vec<u8>, Option<Vec<u8>>)> = None;
    let keep = |entry: Option<(Vec<u8>, Option<Vec<u8>>)>,
                accounts: &mut Vec<(Address, AccountRecord)>|
     -> Result<(), StateError> {
        if let Some((address, Some(value))) =
            entry.filter(|(_, v)| v.as_ref().is_some_and(|v| !v.is_empty()))
        {
            let record = AccountRecord::decode(&value)
                .ok_or_else(|| StateError::Corrupt("an account history record".into()))?;
            accounts.push((Address::from_slice(&address), record));
        }
        Ok(())
    };
    store.for_each_prefix(
        schema::ACCOUNT_HISTORY,
        &[],
        |key, value| -> Result<(), StateError> {
            if key.len() != 28 {
                return Err(StateError::Corrupt("an account history key".into()));
            }
            if current
                .as_ref()
                .is_none_or(|(address, _)| address[..] != key[..20])
            {
                keep(current.take(), &mut accounts)?;
                current = Some((key[..20].to_vec(), None));
            }
            if number(key) <= height {
                if let Some((_, newest)) = current.as_mut() {
                    *newest = Some(value.to_vec());
                }
            }
            Ok(())
        },
    )?;
    keep(current.take(), &mut accounts)?;
    let index: HashMap<Address, usize> = accounts
        .iter()
        .enumerate()
        .map(|(i, (a, _))| (*a, i))
        .collect();
    // Storage: the newest value at or below `height` of each slot; zero is absent.
    let mut storage: Vec<Vec<(B256, B256)>> = vec![Vec::new(); accounts.len()];
    let mut slot: Option<(Vec<u8>, Option<B256>)> = None;
    let keep_slot = |entry: Option<(Vec<u8>, Option<B256>)>,
                     storage: &mut Vec<Vec<(B256, B256)>>| {
        if let Some((key, Some(value))) = entry.filter(|(_, v)| v.is_some_and(|v| !v.is_zero())) {
            if let Some(&i) = index.get(&Address::from_slice(&key[..20])) {
                storage[i].push((B256::from_slice(&key[20..52]), value));
            }
        }
    };
    store.for_each_prefix(
        schema::STORAGE_HISTORY,
        &[],
        |key, value| -> Result<(), StateError> {
            if key.len() != 60 || value.len() != 32 {
                return Err(StateError::Corrupt("a storage history entry".into()));
            }
            if slot.as_ref().is_none_or(|(k, _)| k[..] != key[..52]) {
                keep_slot(slot.take(), &mut storage);
                slot = Some((key[..52].to_vec(), None));
            }
            if number(key) <= height {
                if let Some((_, newest)) = slot.as_mut() {
                    *newest = Some(B256::from_slice(value));
                }
            }
            Ok(())
        },
    )?;
    keep_slot(slot.take(), &mut storage);
    into_chunks(
        &StateAt::latest(store.clone()),
        accounts.into_iter().zip(storage).collect(),
    )
}

/// Installs the snapshot of the state after the newest of `headers` into the empty `store`:
/// the accounts, storage, code and tree, those headers (the newest 256 serve `BLOCKHASH`; the
/// genesis header may be among them), and the head. Checks `manifest` against the head's
/// state root and every chunk against `manifest` first, and the rebuilt root again before
/// writing; a refusal writes nothing.
pub fn install(
    store: &Store,
    genesis: &GenesisSpec,
    manifest: &Manifest,
    chunks: &[Vec<SnapshotAccount>],
    headers: &[SealedHeader],
) -> Result<SealedHeader, InstallError> {
    if store.get(schema::META, schema::META_HEAD)?.is_some() {
        return Err(InstallError::NotEmpty);
    }
    let head = check(manifest, chunks, headers)?;
    write_checked(store, genesis, chunks, headers, head)
}

/// Checks a snapshot before anything is written: `manifest` against the newest header's
/// state root, and every chunk against `manifest`. Returns that header.
pub fn check(
    manifest: &Manifest,
    chunks: &[Vec<SnapshotAccount>],
    headers: &[SealedHeader],
) -> Result<SealedHeader, InstallError> {
    let head = headers
        .iter()
        .max_by_key(|h| h.number())
        .ok_or(InstallError::NoHeader)?
        .clone();
    manifest.check(head.header.state_root)?;
    if chunks.len() != CHUNKS {
        return Err(InstallError::ChunkCount(chunks.len()));
    }
    for (index, chunk) in chunks.iter().enumerate() {
        manifest.check_chunk(index, chunk)?;
    }
    Ok(head)
}

/// Removes the state of a chain that holds nothing after its genesis block, and its head, in
/// one write: the store then reads as new (a restart writes genesis again), ready for
/// [`write_checked`]. Blocks, receipts and code stay.
pub fn clear_genesis_state(store: &Store) -> Result<(), InstallError> {
    let mut batch = store.batch();
    for column in [
        schema::ACCOUNTS,
        schema::STORAGE,
        schema::TRIE,
        schema::ACCOUNT_HISTORY,
        schema::STORAGE_HISTORY,
        schema::PENDING_BODIES,
        schema::PENDING_NUMBERS,
    ] {
        for (key, _) in store.scan_prefix(column, &[])? {
            batch.delete(column, key)?;
        }
    }
    batch.delete(schema::META, schema::META_HEAD)?;
    store.write(batch)?;
    Ok(())
}

/// Writes a snapshot that [`check`] accepted, with `head` its newest header, into a store
/// without a head; the rebuilt root is compared with the head's once more first.
pub fn write_checked(
    store: &Store,
    genesis: &GenesisSpec,
    chunks: &[Vec<SnapshotAccount>],
    headers: &[SealedHeader],
    head: SealedHeader,
) -> Result<SealedHeader, InstallError> {
    if store.get(schema::META, schema::META_HEAD)?.is_some() {
        return Err(InstallError::NotEmpty);
    }
    let mut pending = PendingState::default();
    for chunk in chunks {
        for account in chunk {
            let code = account.code.clone().map(Bytecode::new_raw);
            if let Some(code) = &code {
                pending
                    .contracts
                    .insert(account.record.code_hash, code.clone());
            }
            let storage: HashMap<U256, U256> = account
                .storage
                .iter()
                .map(|(slot, value)| (U256::from_be_bytes(slot.0), U256::from_be_bytes(value.0)))
                .collect();
            pending.accounts.insert(
                account.address,
                AccountChange {
                    info: Some(AccountInfo {
                        balance: account.record.balance,
                        nonce: account.record.nonce,
                        code_hash: account.record.code_hash,
                        code,
                        ..Default::default()
                    }),
                    storage,
                    storage_wiped: false,
                },
            );
        }
    }
    let commit = prepare_commit(&StateAt::latest(store.clone()), &pending, head.number())?;
    if commit.state_root != head.header.state_root {
        return Err(InstallError::StateRoot {
            number: head.number(),
            expected: head.header.state_root,
            found: commit.state_root,
        });
    }
    let mut batch = store.batch();
    commit.apply_to(&mut batch)?;
    for header in headers {
        let key = schema::number_key(header.number());
        batch.put(schema::HEADERS, key, header.encode())?;
        batch.put(schema::BLOCK_NUMBERS, header.hash, key)?;
    }
    batch.put(schema::META, schema::META_GENESIS, genesis.hash())?;
    batch.put(
        schema::META,
        schema::META_SNAPSHOT_BASE,
        schema::number_key(head.number()),
    )?;
    batch.put(
        schema::META,
        schema::META_HEAD,
        schema::number_key(head.number()),
    )?;
    store.write(batch)?;
    Ok(head)
}

/// The height a store's state was installed at from a snapshot (no blocks at or below it are
/// held), if it was.
pub fn snapshot_base(store: &Store) -> Result<Option<u64>, kaimeng_l1::StoreError> {
    Ok(store
        .get(schema::META, schema::META_SNAPSHOT_BASE)?
        .and_then(|v| v.try_into().ok())
        .map(u64::from_be_bytes))
}
