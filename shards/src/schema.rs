//! The shard chain's on-disk layout: column families and key encodings in one place.

use alloy_primitives::{Address, B256};

pub const HEADERS: &str = "headers"; // number (8, BE) -> header RLP
pub const BLOCK_NUMBERS: &str = "block_numbers"; // block hash -> number (8, BE)
pub const BODIES: &str = "bodies"; // number -> encoded body (txs + senders)
pub const RECEIPTS: &str = "receipts"; // number -> encoded receipts
pub const TX_INDEX: &str = "tx_index"; // tx hash -> number (8) ‖ index (4)
pub const TX_RECEIPTS: &str = "tx_receipts"; // number (8) ‖ index (4) -> one receipt with its block context (tx_receipt.rs); absent for blocks written before it existed
pub const ACCOUNTS: &str = "accounts"; // address -> AccountRecord (latest)
pub const STORAGE: &str = "storage"; // address ‖ slot -> value (latest, non-zero only)
pub const CODE: &str = "code"; // code hash -> bytecode
pub const ACCOUNT_HISTORY: &str = "account_history"; // address ‖ number -> AccountRecord after that block, or empty (deleted)
pub const STORAGE_HISTORY: &str = "storage_history"; // address ‖ slot ‖ number -> value after that block
pub const TRIE: &str = "trie"; // tree id ‖ node path -> branch; tree id ‖ 0xff -> root child
pub const META: &str = "meta";
pub const CONSENSUS: &str = "consensus"; // view (8, BE) ‖ sequence (8, BE) -> consensus record
pub const CERTIFICATES: &str = "certificates"; // number -> certified number (8, BE) ‖ finality certificate (only at the certified number)
pub const PENDING_BODIES: &str = "pending_bodies"; // number (8, BE) ‖ hash -> wire block, until final or abandoned
pub const PENDING_NUMBERS: &str = "pending_numbers"; // hash -> number (8, BE) of each body in PENDING_BODIES (pending_index.rs)
/// The column of governance sections that data directories written before ADR 0096 have;
/// a store that has it is refused with what to do.
pub const RETIRED_BEACON_SECTIONS: &str = "beacon";
pub const PAYOUTS: &str = "payouts"; // number -> fee shares paid before the block's transactions (absent when none)
pub const CROSS_SHARD: &str = "cross_shard"; // number -> the block's messages: taken, their outcomes, sent (absent when none)
pub const SENT_MESSAGES: &str = "sent_messages"; // message id -> number (8) ‖ index in the block's outbox (4)
pub const OUTBOX: &str = "outbox"; // destination (4) ‖ nonce (8) -> message id
pub const TAKEN_MESSAGES: &str = "taken_messages"; // message id -> number (8) ‖ outcome

pub const ALL_COLUMNS: &[&str] = &[
    HEADERS,
    BLOCK_NUMBERS,
    BODIES,
    RECEIPTS,
    TX_INDEX,
    TX_RECEIPTS,
    ACCOUNTS,
    STORAGE,
    CODE,
    ACCOUNT_HISTORY,
    STORAGE_HISTORY,
    TRIE,
    META,
    CONSENSUS,
    PENDING_BODIES,
    PENDING_NUMBERS,
    PAYOUTS,
    CERTIFICATES,
    CROSS_SHARD,
    SENT_MESSAGES,
    OUTBOX,
    TAKEN_MESSAGES,
];

/// Columns whose every write is fsynced even in a store opened without `sync_writes`.
pub const SYNCED_COLUMNS: &[&str] = &[CONSENSUS];

pub const META_HEAD: &[u8] = b"head";
pub const META_GENESIS: &[u8] = b"genesis";
/// The height whose state a snapshot installed (no blocks at or below it are held); absent in a
/// store that holds its chain from genesis.
pub const META_SNAPSHOT_BASE: &[u8] = b"snapshot_base";
/// Present once every body in PENDING_BODIES has its PENDING_NUMBERS entry.
pub const META_PENDING_INDEX: &[u8] = b"pending_index";

pub fn pending_body_key(number: u64, hash: &B256) -> [u8; 40] {
    let mut key = [0; 40];
    key[..8].copy_from_slice(&number.to_be_bytes());
    key[8..].copy_from_slice(hash.as_slice());
    key
}

pub fn number_key(number: u64) -> [u8; 8] {
    number.to_be_bytes()
}

pub fn storage_key(address: &Address, slot: &B256) -> [u8; 52] {
    let mut key = [0u8; 52];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(slot.as_slice());
    key
}

pub fn account_history_key(address: &Address, number: u64) -> [u8; 28] {
    let mut key = [0u8; 28];
    key[..20].copy_from_slice(address.as_slice());
    key[20..].copy_from_slice(&number.to_be_bytes());
    key
}

pub fn storage_history_key(address: &Address, slot: &B256, number: u64) -> [u8; 60] {
    let mut key = [0u8; 60];
    key[..52].copy_from_slice(&storage_key(address, slot));
    key[52..].copy_from_slice(&number.to_be_bytes());
    key
}

/// Which sparse Merkle tree a trie node belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TreeId {
    Accounts,
    Storage(Address),
}

impl TreeId {
    pub fn prefix(&self) -> Vec<u8> {
        match self {
            TreeId::Accounts => vec![0],
            TreeId::Storage(address) => [&[1u8][..], address.as_slice()].concat(),
        }
    }

    pub fn root_key(&self) -> Vec<u8> {
        [self.prefix(), vec![0xff]].concat()
    }
}
