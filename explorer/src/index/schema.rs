//! The explorer index's on-disk layout: its own RocksDB in the node's data directory
//! (`explorer/`), column families and key encodings in one place. Every key starts with the
//! shard (4 bytes, big-endian), so one store serves every shard.

use alloy_primitives::{Address, B256};

/// shard → the last block whose entries are written (8, BE); shard ‖ `inner` → the last block
/// whose inner calls are indexed.
pub const PROGRESS: &str = "progress";
/// shard ‖ address ‖ number (8) ‖ tx index (4) → roles (1 byte of [`Roles`] bits).
pub const ADDRESS_TXS: &str = "address_txs";
/// shard ‖ address → how many transactions touch it (8, BE).
pub const ADDRESS_COUNTS: &str = "address_counts";
/// shard ‖ sender ‖ nonce (8) → number (8) ‖ tx index (4).
pub const SENDER_NONCES: &str = "sender_nonces";
/// shard ‖ contract → creator (20) ‖ number (8) ‖ tx index (4).
pub const CREATORS: &str = "creators";
/// shard ‖ token → [`crate::index::TokenInfo`] (JSON).
pub const TOKENS: &str = "tokens";
/// shard ‖ token ‖ number ‖ tx index ‖ log index (4) → [`crate::index::TokenTransfer`] value bytes.
pub const TOKEN_TRANSFERS: &str = "token_transfers";
/// shard ‖ holder ‖ number ‖ tx index ‖ log index → token (20).
pub const HOLDER_TRANSFERS: &str = "holder_transfers";
/// shard ‖ token ‖ holder → balance (32, BE), non-zero only (ERC-20 units or ERC-721 count).
pub const BALANCES: &str = "balances";
/// shard ‖ holder ‖ token → empty: the tokens a holder has held.
pub const HOLDINGS: &str = "holdings";
/// shard ‖ number ‖ tx index ‖ log index → a log of the rollup bridge (topics ‖ data, JSON).
pub const BRIDGE_LOGS: &str = "bridge_logs";
/// shard ‖ number (8) → fee shares paid in that block (JSON list of recipient, wei).
pub const FEE_SHARES: &str = "fee_shares";

/// shard ‖ number ‖ tx index → [`crate::index::TxSummary`] (hash, from, to, value, status): what
/// a listing shows of a transaction, without decoding its block.
pub const TX_SUMMARIES: &str = "tx_summaries";

pub const ALL_COLUMNS: &[&str] = &[
    PROGRESS,
    TX_SUMMARIES,
    ADDRESS_TXS,
    ADDRESS_COUNTS,
    SENDER_NONCES,
    CREATORS,
    TOKENS,
    TOKEN_TRANSFERS,
    HOLDER_TRANSFERS,
    BALANCES,
    HOLDINGS,
    BRIDGE_LOGS,
    FEE_SHARES,
];

/// Key builder: `shard ‖ parts…`.
pub fn key(shard: u32, parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::with_capacity(4 + parts.iter().map(|p| p.len()).sum::<usize>());
    key.extend_from_slice(&shard.to_be_bytes());
    for part in parts {
        key.extend_from_slice(part);
    }
    key
}

/// `number ‖ tx index` as stored in keys.
pub fn position(number: u64, tx: u32) -> [u8; 12] {
    let mut out = [0; 12];
    out[..8].copy_from_slice(&number.to_be_bytes());
    out[8..].copy_from_slice(&tx.to_be_bytes());
    out
}

/// `number ‖ tx index ‖ log index`.
pub fn log_position(number: u64, tx: u32, log: u32) -> [u8; 16] {
    let mut out = [0; 16];
    out[..12].copy_from_slice(&position(number, tx));
    out[12..].copy_from_slice(&log.to_be_bytes());
    out
}

/// Reads `number ‖ tx index` from `bytes` (at least 12 long).
pub fn read_position(bytes: &[u8]) -> Option<(u64, u32)> {
    let number = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    let tx = u32::from_be_bytes(bytes.get(8..12)?.try_into().ok()?);
    Some((number, tx))
}

/// Reads `number ‖ tx index ‖ log index`.
pub fn read_log_position(bytes: &[u8]) -> Option<(u64, u32, u32)> {
    let (number, tx) = read_position(bytes)?;
    let log = u32::from_be_bytes(bytes.get(12..16)?.try_into().ok()?);
    Some((number, tx, log))
}

pub fn address_at(bytes: &[u8]) -> Option<Address> {
    Some(Address::from_slice(bytes.get(..20)?))
}

pub fn word_at(bytes: &[u8]) -> Option<B256> {
    Some(B256::from_slice(bytes.get(..32)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_and_sort_by_block_then_index() {
        assert_eq!(read_position(&position(7, 3)), Some((7, 3)));
        assert_eq!(read_log_position(&log_position(7, 3, 9)), Some((7, 3, 9)));
        assert!(position(7, 300) < position(8, 0));
        assert!(key(0, &[&[0xff; 20]]) < key(1, &[&[0; 20]]));
        assert_eq!(read_position(&[0; 5]), None);
    }
}
