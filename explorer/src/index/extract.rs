//! What one final block adds to the index, computed from the block alone (pure: no store, no
//! clock). The writer ([`super::writer`]) turns it into one atomic batch.

use std::collections::BTreeMap;

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256, U256, b256};
use kaimeng_shards::block::StoredBlock;
use serde::{Deserialize, Serialize};

/// `Transfer(address,address,uint256)`, the same topic for ERC-20 and ERC-721.
pub const TRANSFER_TOPIC: B256 =
    b256!("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// How a transaction touches an address (bits, OR-ed).
pub mod roles {
    pub const FROM: u8 = 1;
    pub const TO: u8 = 2;
    pub const CREATED: u8 = 4;
    pub const INTERNAL: u8 = 8;
}

/// Which standard a token transfer follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenKind {
    Erc20,
    Erc721,
}

/// One `Transfer` event: `amount` is the value for ERC-20 and the token id for ERC-721.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenTransfer {
    pub tx: u32,
    pub log: u32,
    pub token: Address,
    pub kind: TokenKind,
    pub from: Address,
    pub to: Address,
    pub amount: U256,
}

/// A log kept whole (the rollup bridge's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptLog {
    pub tx: u32,
    pub log: u32,
    pub topics: Vec<B256>,
    pub data: alloy_primitives::Bytes,
}

/// Everything block `number` adds to the index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockEntries {
    /// (address, tx index) → roles.
    pub touches: BTreeMap<(Address, u32), u8>,
    /// (sender, nonce, tx index).
    pub nonces: Vec<(Address, u64, u32)>,
    /// (contract, creator, tx index).
    pub creations: Vec<(Address, Address, u32)>,
    pub transfers: Vec<TokenTransfer>,
    pub kept_logs: Vec<KeptLog>,
}

/// The entries of `block`. `internal[i]` lists the addresses transaction `i` reached through
/// inner calls and creations (from the call tracer; empty when not traced). Logs emitted by
/// `keep_logs_of` are kept whole.
pub fn extract(
    block: &StoredBlock,
    internal: &[Vec<Address>],
    keep_logs_of: Option<Address>,
) -> BlockEntries {
    let mut entries = BlockEntries::default();
    for (i, (tx, receipt)) in block.txs.iter().zip(&block.receipts).enumerate() {
        let index = i as u32;
        let mut touch = |address: Address, role: u8| {
            *entries.touches.entry((address, index)).or_default() |= role;
        };
        touch(tx.sender, roles::FROM);
        if let Some(to) = tx.envelope.to() {
            touch(to, roles::TO);
        }
        if let Some(created) = receipt.contract_address {
            touch(created, roles::CREATED);
            entries.creations.push((created, tx.sender, index));
        }
        for address in internal.get(i).into_iter().flatten() {
            touch(*address, roles::INTERNAL);
        }
        entries.nonces.push((tx.sender, tx.nonce(), index));
        for (l, log) in receipt.envelope.logs().iter().enumerate() {
            if keep_logs_of == Some(log.address) {
                entries.kept_logs.push(KeptLog {
                    tx: index,
                    log: l as u32,
                    topics: log.topics().to_vec(),
                    data: log.data.data.clone(),
                });
            }
            if let Some(transfer) = token_transfer(log, index, l as u32) {
                entries.transfers.push(transfer);
            }
        }
    }
    entries
}

/// A `Transfer` log read as ERC-20 (two indexed addresses, a 32-byte value) or ERC-721 (three
/// indexed words, no data); anything else with that topic is not a token transfer.
fn token_transfer(log: &alloy_primitives::Log, tx: u32, index: u32) -> Option<TokenTransfer> {
    let topics = log.topics();
    if topics.first() != Some(&TRANSFER_TOPIC) {
        return None;
    }
    let address_of = |word: &B256| {
        word[..12]
            .iter()
            .all(|b| *b == 0)
            .then(|| Address::from_slice(&word[12..]))
    };
    let (kind, amount) = match (topics.len(), log.data.data.len()) {
        (3, 32) => (TokenKind::Erc20, U256::from_be_slice(&log.data.data)),
        (4, 0) => (TokenKind::Erc721, U256::from_be_bytes(topics[3].0)),
        _ => return None,
    };
    Some(TokenTransfer {
        tx,
        log: index,
        token: log.address,
        kind,
        from: address_of(&topics[1])?,
        to: address_of(&topics[2])?,
        amount,
    })
}

/// Whether transaction `i` of `block` may have run contract code (so that inner calls are
/// worth tracing): a creation, or a call that used more than a plain transfer's gas.
pub fn may_run_code(block: &StoredBlock, i: usize) -> bool {
    let (Some(tx), Some(receipt)) = (block.txs.get(i), block.receipts.get(i)) else {
        return false;
    };
    tx.envelope.to().is_none() || receipt.gas_used > 21_000
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Bytes, Log, LogData, address};

    fn word(address: Address) -> B256 {
        B256::left_padding_from(address.as_slice())
    }

    #[test]
    fn transfers_are_read_as_erc20_or_erc721_and_nothing_else() {
        let token = address!("00000000000000000000000000000000000000aa");
        let a = address!("00000000000000000000000000000000000000a1");
        let b = address!("00000000000000000000000000000000000000b2");
        let erc20 = Log {
            address: token,
            data: LogData::new_unchecked(
                vec![TRANSFER_TOPIC, word(a), word(b)],
                Bytes::from(U256::from(5).to_be_bytes::<32>().to_vec()),
            ),
        };
        let t = token_transfer(&erc20, 1, 2).unwrap();
        assert_eq!(
            (t.kind, t.from, t.to, t.amount),
            (TokenKind::Erc20, a, b, U256::from(5))
        );
        let erc721 = Log {
            address: token,
            data: LogData::new_unchecked(
                vec![TRANSFER_TOPIC, word(a), word(b), B256::with_last_byte(9)],
                Bytes::new(),
            ),
        };
        let t = token_transfer(&erc721, 0, 0).unwrap();
        assert_eq!((t.kind, t.amount), (TokenKind::Erc721, U256::from(9)));
        // Same topic, wrong shape: not a token transfer.
        let odd = Log {
            address: token,
            data: LogData::new_unchecked(vec![TRANSFER_TOPIC, word(a)], Bytes::new()),
        };
        assert!(token_transfer(&odd, 0, 0).is_none());
        // A topic word that is not an address.
        let bad = Log {
            address: token,
            data: LogData::new_unchecked(
                vec![TRANSFER_TOPIC, B256::repeat_byte(1), word(b)],
                Bytes::from(vec![0; 32]),
            ),
        };
        assert!(token_transfer(&bad, 0, 0).is_none());
    }
}
