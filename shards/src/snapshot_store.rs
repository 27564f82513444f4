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
    let mut chunks = vec![Vec::new(); CHUNKS];
    for (address, record) in accounts(state)? {
        let storage = state
            .scan_latest(schema::STORAGE, address.as_slice())?
            .into_iter()
            .map(|(key, value)| (B256::from_slice(&key[20..]), B256::from_slice(&value)))
            .collect();
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
    let head = headers
        .iter()
        .max_by_key(|h| h.number())
        .ok_or(InstallError::NoHeader)?
        .clone();
    manifest.check(head.header.state_root)?;
    if chunks.len() != CHUNKS {
        return Err(InstallError::ChunkCount(chunks.len()));
    }
    let mut pending = PendingState::default();
    for (index, chunk) in chunks.iter().enumerate() {
        manifest.check_chunk(index, chunk)?;
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
