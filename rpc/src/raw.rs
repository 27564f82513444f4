//! `debug_getRawHeader`, `debug_getRawBlock`, `debug_getRawReceipts` and
//! `debug_getRawTransaction`: the consensus encodings of what the shard stores, byte for byte
//! what geth returns (RLP headers and blocks, EIP-2718 receipts and transactions). A block that
//! does not exist is -32000 `header not found` (geth); an unknown transaction is `0x` (geth).

use std::sync::Arc;

use alloy_consensus::{Block, BlockBody, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip4895::Withdrawals;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{B256, Bytes};
use kaimeng_shards::{ShardChain, StoredBlock};

use crate::api::debug::RawApiServer;
use crate::error::{RpcResult, from_chain, header_not_found};

/// A 32-byte hash that must be written as geth requires it: `0x` and 64 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefixedHash(pub B256);

impl<'de> serde::Deserialize<'de> for PrefixedHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let digits = text.strip_prefix("0x").ok_or_else(|| {
            serde::de::Error::custom(format!("hex string without 0x prefix: {text:?}"))
        })?;
        let mut hash = [0u8; 32];
        hex::decode_to_slice(digits, &mut hash)
            .map_err(|_| serde::de::Error::custom(format!("not a 32-byte hex hash: {text:?}")))?;
        Ok(Self(B256::from(hash)))
    }
}

impl serde::Serialize for PrefixedHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

pub struct RawRpc {
    chain: Arc<ShardChain>,
}

impl RawRpc {
    pub fn new(chain: Arc<ShardChain>) -> Self {
        Self { chain }
    }

    fn block(&self, id: BlockId) -> RpcResult<Arc<StoredBlock>> {
        let head = self.chain.head().number();
        let number = match id {
            BlockId::Number(BlockNumberOrTag::Number(n)) => Some(n).filter(|n| *n <= head),
            BlockId::Number(BlockNumberOrTag::Earliest) => Some(0),
            // Finality is immediate: every other tag is the head.
            BlockId::Number(_) => Some(head),
            BlockId::Hash(hash) => self.chain.number_of(&hash.block_hash).map_err(from_chain)?,
        };
        let Some(number) = number else {
            return Err(header_not_found());
        };
        self.chain
            .block(number)
            .map_err(from_chain)?
            .ok_or_else(header_not_found)
    }
}

/// The block as Ethereum encodes it: `[header, transactions, ommers, withdrawals]`.
pub fn encode_block(block: &StoredBlock) -> Bytes {
    let body = BlockBody::<TxEnvelope> {
        transactions: block.txs.iter().map(|tx| tx.envelope.clone()).collect(),
        ommers: Vec::new(),
        withdrawals: block
            .header
            .header
            .withdrawals_root
            .map(|_| Withdrawals::default()),
    };
    let block = Block::new(block.header.header.clone(), body);
    alloy_rlp::encode(&block).into()
}

impl RawApiServer for RawRpc {
    fn raw_header(&self, block: BlockId) -> RpcResult<Bytes> {
        Ok(alloy_rlp::encode(&self.block(block)?.header.header).into())
    }

    fn raw_block(&self, block: BlockId) -> RpcResult<Bytes> {
        let block = self.block(block)?;
        Ok(encode_block(&block))
    }

    fn raw_receipts(&self, block: BlockId) -> RpcResult<Vec<Bytes>> {
        Ok(self
            .block(block)?
            .receipts
            .iter()
            .map(|r| r.envelope.encoded_2718().into())
            .collect())
    }

    fn raw_transaction(&self, hash: PrefixedHash) -> RpcResult<Bytes> {
        let hash = hash.0;
        if let Some((number, index)) = self.chain.tx_location(&hash).map_err(from_chain)? {
            if let Some(tx) = self
                .chain
                .block(number)
                .map_err(from_chain)?
                .and_then(|b| b.txs.get(index).cloned())
            {
                return Ok(tx.encoded.clone());
            }
        }
        Ok(self
            .chain
            .pool()
            .get(&hash)
            .map(|tx| tx.encoded.clone())
            .unwrap_or_default())
    }
}
