//! One transaction's receipt stored on its own, beside its block's receipts, with what its RPC
//! form takes from the rest of the block: the gas it used (its cumulative gas minus the previous
//! receipt's), the block-wide index of its first log, its sender and recipient, the price it
//! paid and the contract it created. `eth_getTransactionReceipt` reads and converts this one
//! entry (column [`schema::TX_RECEIPTS`], key `number ‖ index`), never the block's others.
//!
//! Entry layout: `type (1) ‖ status (1) ‖ cumulative gas (8) ‖ gas used (8) ‖ first log index
//! (8) ‖ effective gas price (16) ‖ from (20) ‖ flags (1: bit 0 recipient, bit 1 contract) ‖
//! [to (20)] ‖ [contract (20)] ‖ RLP(logs)`. The bloom is not stored: it is derived from the
//! logs when the entry is read.

use alloy_consensus::{
    Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, Transaction, TxType,
};
use alloy_primitives::{Address, B256, Log};
use alloy_rlp::Decodable;

use crate::block::StoredBlock;
#[cfg(doc)]
use crate::schema;

/// What the RPC reports for one receipt, apart from the block's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptEntry {
    pub envelope: ReceiptEnvelope,
    pub gas_used: u64,
    /// Block-wide index of the receipt's first log (the number of logs before it).
    pub first_log_index: u64,
    pub from: Address,
    pub to: Option<Address>,
    pub contract_address: Option<Address>,
    pub effective_gas_price: u128,
}

/// A receipt entry with its position: what `eth_getTransactionReceipt` converts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocatedReceipt {
    pub entry: ReceiptEntry,
    pub tx_hash: B256,
    pub index: u64,
    pub block_hash: B256,
    pub block_number: u64,
    pub block_timestamp: u64,
}

/// The store key of the receipt of transaction `index` in block `number`.
pub fn key(number: u64, index: u32) -> [u8; 12] {
    let mut key = [0; 12];
    key[..8].copy_from_slice(&number.to_be_bytes());
    key[8..].copy_from_slice(&index.to_be_bytes());
    key
}

/// The entry of every receipt of `block`, in order.
pub fn entries(block: &StoredBlock) -> Vec<ReceiptEntry> {
    let base_fee = block.header.header.base_fee_per_gas;
    let mut next_log_index = 0u64;
    block
        .txs
        .iter()
        .zip(&block.receipts)
        .map(|(tx, stored)| {
            let first_log_index = next_log_index;
            next_log_index += stored.envelope.logs().len() as u64;
            ReceiptEntry {
                envelope: stored.envelope.clone(),
                gas_used: stored.gas_used,
                first_log_index,
                from: tx.sender,
                to: tx.envelope.to(),
                contract_address: stored.contract_address,
                effective_gas_price: tx.envelope.effective_gas_price(base_fee),
            }
        })
        .collect()
}

pub fn encode(entry: &ReceiptEntry) -> Vec<u8> {
    let logs = entry.envelope.logs();
    let mut out = Vec::with_capacity(104 + alloy_rlp::list_length(logs));
    out.push(entry.envelope.tx_type() as u8);
    out.push(entry.envelope.status() as u8);
    out.extend_from_slice(&entry.envelope.cumulative_gas_used().to_be_bytes());
    out.extend_from_slice(&entry.gas_used.to_be_bytes());
    out.extend_from_slice(&entry.first_log_index.to_be_bytes());
    out.extend_from_slice(&entry.effective_gas_price.to_be_bytes());
    out.extend_from_slice(entry.from.as_slice());
    let flags = u8::from(entry.to.is_some()) | (u8::from(entry.contract_address.is_some()) << 1);
    out.push(flags);
    for address in [entry.to, entry.contract_address].into_iter().flatten() {
        out.extend_from_slice(address.as_slice());
    }
    alloy_rlp::encode_list(logs, &mut out);
    out
}

/// Decodes an entry; `None` if it is malformed (never panics).
pub fn decode(bytes: &[u8]) -> Option<ReceiptEntry> {
    let tx_type = TxType::try_from(*bytes.first()?).ok()?;
    let success = match *bytes.get(1)? {
        0 => false,
        1 => true,
        _ => return None,
    };
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };
    let cumulative_gas_used = u64_at(2)?;
    let gas_used = u64_at(10)?;
    let first_log_index = u64_at(18)?;
    let effective_gas_price = u128::from_be_bytes(bytes.get(26..42)?.try_into().ok()?);
    let from = Address::from_slice(bytes.get(42..62)?);
    let flags = *bytes.get(62)?;
    if flags > 0b11 {
        return None;
    }
    let mut at = 63;
    let mut address_if = |present: bool| -> Option<Option<Address>> {
        if !present {
            return Some(None);
        }
        let address = Address::from_slice(bytes.get(at..at + 20)?);
        at += 20;
        Some(Some(address))
    };
    let to = address_if(flags & 1 != 0)?;
    let contract_address = address_if(flags & 2 != 0)?;
    let mut rest = bytes.get(at..)?;
    let logs = Vec::<Log>::decode(&mut rest).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let receipt = Receipt {
        status: Eip658Value::Eip658(success),
        cumulative_gas_used,
        logs,
    };
    Some(ReceiptEntry {
        envelope: ReceiptEnvelope::from_typed(tx_type, ReceiptWithBloom::from(receipt)),
        gas_used,
        first_log_index,
        from,
        to,
        contract_address,
        effective_gas_price,
    })
}
