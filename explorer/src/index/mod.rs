//! The explorer's indexes (ADR 0108): address → transactions (sender, recipient, creation,
//! inner calls), sender nonces, contract creators, ERC-20 and ERC-721 transfers by token and by
//! holder with balances, the rollup bridge's logs and fee shares paid. Built as blocks
//! finalize ([`writer`]), read by the pages (this module).

pub mod extract;
pub mod schema;
pub mod writer;

use std::path::Path;

use alloy_primitives::{Address, Bytes, U256};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{SolCall, sol};
use kaimeng_l1::Store;
use kaimeng_l1::storage::StoreOptions;
use kaimeng_shards::ShardChain;
use serde::{Deserialize, Serialize};

pub use extract::{KeptLog, TokenKind};
use schema::{self as s, key};
pub use writer::{IndexOptions, run};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("explorer index store: {0}")]
    Store(#[from] kaimeng_l1::StoreError),
    #[error("explorer index: reading the chain: {0}")]
    Chain(#[from] kaimeng_shards::chain::ChainError),
}

/// The index store.
pub struct Index {
    store: Store,
}

/// What the index knows of a token.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenInfo {
    pub kind: TokenKind,
    /// As the contract answered `name()` when first seen (empty if it has none).
    pub name: String,
    pub symbol: String,
    pub decimals: u8,
    pub first_block: u64,
    /// Holders with a non-zero balance.
    pub holders: u64,
    pub transfers: u64,
    /// Minted less burnt, as the index has seen (decimal).
    pub minted: String,
}

/// What a listing shows of one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxSummary {
    pub hash: alloy_primitives::B256,
    pub from: Address,
    /// `None` for a contract creation.
    pub to: Option<Address>,
    pub value: U256,
    pub ok: bool,
}

impl TxSummary {
    /// hash (32) ‖ from (20) ‖ to (20, zero for a creation) ‖ value (32) ‖ flags (bit 0: ok,
    /// bit 1: has a recipient).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(105);
        out.extend_from_slice(self.hash.as_slice());
        out.extend_from_slice(self.from.as_slice());
        out.extend_from_slice(self.to.unwrap_or_default().as_slice());
        out.extend_from_slice(&self.value.to_be_bytes::<32>());
        out.push(u8::from(self.ok) | (u8::from(self.to.is_some()) << 1));
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != 105 {
            return None;
        }
        let flags = bytes[104];
        Some(Self {
            hash: alloy_primitives::B256::from_slice(&bytes[..32]),
            from: Address::from_slice(&bytes[32..52]),
            to: (flags & 2 != 0).then(|| Address::from_slice(&bytes[52..72])),
            value: U256::from_be_slice(&bytes[72..104]),
            ok: flags & 1 != 0,
        })
    }
}

/// One indexed token transfer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedTransfer {
    pub number: u64,
    pub tx: u32,
    pub log: u32,
    pub token: Address,
    pub kind: TokenKind,
    pub from: Address,
    pub to: Address,
    pub amount: U256,
}

/// One page of a listing, with how many entries there are in all when that is known.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: Option<u64>,
}

sol! {
    function name() external view returns (string);
    function symbol() external view returns (string);
    function decimals() external view returns (uint8);
    function totalSupply() external view returns (uint256);
}

/// Reads a token's name, symbol and decimals on the state after block `number`; what a
/// contract does not answer is left empty (or 0 decimals).
pub fn token_meta(chain: &ShardChain, token: Address, kind: TokenKind, number: u64) -> TokenInfo {
    let call = |data: Vec<u8>| -> Option<Bytes> {
        let request = TransactionRequest::default()
            .to(token)
            .input(Bytes::from(data).into())
            .gas_limit(1_000_000);
        chain.call(&request, number, None).ok().map(|o| o.output)
    };
    let text = |data: Vec<u8>| {
        call(data)
            .and_then(|out| nameCall::abi_decode_returns(&out).ok())
            .unwrap_or_default()
    };
    TokenInfo {
        kind,
        name: text(nameCall {}.abi_encode()),
        symbol: text(symbolCall {}.abi_encode()),
        decimals: call(decimalsCall {}.abi_encode())
            .and_then(|out| decimalsCall::abi_decode_returns(&out).ok())
            .unwrap_or(0),
        first_block: number,
        holders: 0,
        transfers: 0,
        minted: "0".into(),
    }
}

/// A token's total supply as the contract reports it now.
pub fn total_supply(chain: &ShardChain, token: Address) -> Option<U256> {
    let request = TransactionRequest::default()
        .to(token)
        .input(Bytes::from(totalSupplyCall {}.abi_encode()).into())
        .gas_limit(1_000_000);
    let out = chain
        .call(&request, chain.head().number(), None)
        .ok()?
        .output;
    totalSupplyCall::abi_decode_returns(&out).ok()
}

impl Index {
    /// Opens (creating if needed) the index store in `dir`.
    pub fn open(dir: &Path, options: &StoreOptions) -> Result<Self, IndexError> {
        Ok(Self {
            store: Store::open(dir, s::ALL_COLUMNS, options)?,
        })
    }

    /// The last block of `shard` whose entries are written.
    pub fn progress(&self, shard: u32) -> Result<Option<u64>, IndexError> {
        Ok(self
            .store
            .get(s::PROGRESS, shard.to_be_bytes())?
            .map(|v| writer::be_u64(&v)))
    }

    /// The transactions touching `address`, newest first: `(number, tx index, roles)`.
    pub fn address_txs(
        &self,
        shard: u32,
        address: &Address,
        skip: usize,
        limit: usize,
    ) -> Result<Page<(u64, u32, u8)>, IndexError> {
        self.address_txs_before(shard, address, None, skip, limit)
    }

    /// [`Index::address_txs`] older than position `before` (`number`, tx index): the page
    /// after one that ended there, by one seek.
    pub fn address_txs_before(
        &self,
        shard: u32,
        address: &Address,
        before: Option<(u64, u32)>,
        skip: usize,
        limit: usize,
    ) -> Result<Page<(u64, u32, u8)>, IndexError> {
        let prefix = key(shard, &[address.as_slice()]);
        let after = before.map(|(n, t)| key(shard, &[address.as_slice(), &s::position(n, t)]));
        let items = self
            .store
            .page_prefix_from(s::ADDRESS_TXS, &prefix, true, after.as_deref(), skip, limit)?
            .into_iter()
            .filter_map(|(k, v)| {
                let (number, tx) = s::read_position(&k[prefix.len()..])?;
                Some((number, tx, *v.first()?))
            })
            .collect();
        let total = self
            .store
            .get(s::ADDRESS_COUNTS, &prefix)?
            .map_or(0, |v| writer::be_u64(&v));
        Ok(Page {
            items,
            total: Some(total),
        })
    }

    /// Where `sender`'s transaction with `nonce` is: `(number, tx index)`.
    pub fn by_nonce(
        &self,
        shard: u32,
        sender: &Address,
        nonce: u64,
    ) -> Result<Option<(u64, u32)>, IndexError> {
        Ok(self
            .store
            .get(
                s::SENDER_NONCES,
                key(shard, &[sender.as_slice(), &nonce.to_be_bytes()]),
            )?
            .and_then(|v| s::read_position(&v)))
    }

    /// Who created `contract`, in which block and transaction.
    pub fn creator(
        &self,
        shard: u32,
        contract: &Address,
    ) -> Result<Option<(Address, u64, u32)>, IndexError> {
        Ok(self
            .store
            .get(s::CREATORS, key(shard, &[contract.as_slice()]))?
            .and_then(|v| {
                let (number, tx) = s::read_position(v.get(20..)?)?;
                Some((s::address_at(&v)?, number, tx))
            }))
    }

    /// The summaries of the transactions at `positions` (`number`, tx index), in that order;
    /// `None` where the index has none.
    pub fn tx_summaries(
        &self,
        shard: u32,
        positions: &[(u64, u32)],
    ) -> Result<Vec<Option<TxSummary>>, IndexError> {
        let keys: Vec<Vec<u8>> = positions
            .iter()
            .map(|&(n, t)| key(shard, &[&s::position(n, t)]))
            .collect();
        Ok(self
            .store
            .multi_get(s::TX_SUMMARIES, &keys)?
            .into_iter()
            .map(|v| v.and_then(|v| TxSummary::decode(&v)))
            .collect())
    }

    pub fn token(&self, shard: u32, token: &Address) -> Result<Option<TokenInfo>, IndexError> {
        Ok(self
            .store
            .get(s::TOKENS, key(shard, &[token.as_slice()]))?
            .and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Tokens seen on `shard`, by address.
    pub fn tokens(
        &self,
        shard: u32,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<(Address, TokenInfo)>, IndexError> {
        let prefix = shard.to_be_bytes();
        Ok(self
            .store
            .page_prefix(s::TOKENS, &prefix, false, skip, limit)?
            .into_iter()
            .filter_map(|(k, v)| Some((s::address_at(&k[4..])?, serde_json::from_slice(&v).ok()?)))
            .collect())
    }

    /// `token`'s transfers, newest first.
    pub fn token_transfers(
        &self,
        shard: u32,
        token: &Address,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<IndexedTransfer>, IndexError> {
        let prefix = key(shard, &[token.as_slice()]);
        Ok(self
            .store
            .page_prefix(s::TOKEN_TRANSFERS, &prefix, true, skip, limit)?
            .into_iter()
            .filter_map(|(k, v)| decode_transfer(*token, &k[prefix.len()..], &v))
            .collect())
    }

    /// Transfers to or from `holder`, of any token, newest first.
    pub fn holder_transfers(
        &self,
        shard: u32,
        holder: &Address,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<IndexedTransfer>, IndexError> {
        let prefix = key(shard, &[holder.as_slice()]);
        let mut out = Vec::new();
        for (k, v) in self
            .store
            .page_prefix(s::HOLDER_TRANSFERS, &prefix, true, skip, limit)?
        {
            let Some(token) = s::address_at(&v) else {
                continue;
            };
            let position = &k[prefix.len()..];
            let entry = self.store.get(
                s::TOKEN_TRANSFERS,
                key(shard, &[token.as_slice(), position]),
            )?;
            if let Some(t) = entry.and_then(|v| decode_transfer(token, position, &v)) {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// `holder`'s balance of `token` as the index has counted it.
    pub fn balance(
        &self,
        shard: u32,
        token: &Address,
        holder: &Address,
    ) -> Result<U256, IndexError> {
        Ok(self
            .store
            .get(
                s::BALANCES,
                key(shard, &[token.as_slice(), holder.as_slice()]),
            )?
            .map_or(U256::ZERO, |v| U256::from_be_slice(&v)))
    }

    /// `token`'s holders with their balances, by address.
    pub fn holders(
        &self,
        shard: u32,
        token: &Address,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<(Address, U256)>, IndexError> {
        let prefix = key(shard, &[token.as_slice()]);
        Ok(self
            .store
            .page_prefix(s::BALANCES, &prefix, false, skip, limit)?
            .into_iter()
            .filter_map(|(k, v)| {
                Some((s::address_at(&k[prefix.len()..])?, U256::from_be_slice(&v)))
            })
            .collect())
    }

    /// The tokens `holder` has held, with the balance of each now.
    pub fn holdings(
        &self,
        shard: u32,
        holder: &Address,
        limit: usize,
    ) -> Result<Vec<(Address, U256)>, IndexError> {
        let prefix = key(shard, &[holder.as_slice()]);
        let mut out = Vec::new();
        for (k, _) in self
            .store
            .page_prefix(s::HOLDINGS, &prefix, false, 0, limit)?
        {
            if let Some(token) = s::address_at(&k[prefix.len()..]) {
                out.push((token, self.balance(shard, &token, holder)?));
            }
        }
        Ok(out)
    }

    /// The kept logs (the rollup bridge's), newest first: `(number, log)`.
    pub fn kept_logs(
        &self,
        shard: u32,
        skip: usize,
        limit: usize,
    ) -> Result<Vec<(u64, KeptLog)>, IndexError> {
        Ok(self
            .store
            .page_prefix(s::BRIDGE_LOGS, &shard.to_be_bytes(), true, skip, limit)?
            .into_iter()
            .filter_map(|(k, v)| {
                let (number, _, _) = s::read_log_position(&k[4..])?;
                Some((number, serde_json::from_slice(&v).ok()?))
            })
            .collect())
    }

    /// Fee shares paid, newest block first: `(number, [(recipient, amount in wei)])`.
    pub fn fee_shares(
        &self,
        shard: u32,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<(Address, String)>)>, IndexError> {
        Ok(self
            .store
            .page_prefix(s::FEE_SHARES, &shard.to_be_bytes(), true, 0, limit)?
            .into_iter()
            .filter_map(|(k, v)| Some((writer::be_u64(&k[4..]), serde_json::from_slice(&v).ok()?)))
            .collect())
    }
}

fn decode_transfer(token: Address, position: &[u8], value: &[u8]) -> Option<IndexedTransfer> {
    let (number, tx, log) = s::read_log_position(position)?;
    let kind = match *value.first()? {
        0 => TokenKind::Erc20,
        1 => TokenKind::Erc721,
        _ => return None,
    };
    Some(IndexedTransfer {
        number,
        tx,
        log,
        token,
        kind,
        from: s::address_at(value.get(1..)?)?,
        to: s::address_at(value.get(21..)?)?,
        amount: U256::from_be_slice(value.get(41..73)?),
    })
}
