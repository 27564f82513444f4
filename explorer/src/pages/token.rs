//! Tokens: the list of ERC-20 and ERC-721 contracts seen on a shard, and a token's page
//! (supply, holders, transfers).

use std::sync::Arc;

use kaimeng_shards::ShardChain;
use serde_json::{Value as Json, json};

use super::{PER_PAGE, pager, parse_address, past_the_end};
use crate::Explorer;
use crate::fmt;
use crate::index::{IndexedTransfer, TokenKind};
use crate::web::{Outcome, PageError, PageResult, Request};

pub fn list(explorer: &Explorer, args: &[String], request: &Request) -> PageResult {
    let (shard, _) = explorer.shard_arg(&args[0])?;
    let index = explorer.index()?;
    let page = request.page()?;
    let tokens = index.tokens(shard, (page - 1) * PER_PAGE, PER_PAGE)?;
    if tokens.is_empty() && page > 1 {
        return Err(PageError::not_found(format!(
            "page {page} is past the last token"
        )));
    }
    let rows: Vec<Json> = tokens
        .iter()
        .map(|(address, info)| {
            json!({
                "address": address.to_string(),
                "kind": kind_name(info.kind),
                "name": info.name,
                "symbol": info.symbol,
                "holders": info.holders,
                "transfers": info.transfers,
                "supply": fmt::units(info.minted.parse().unwrap_or_default(), info.decimals),
            })
        })
        .collect();
    let context = json!({"shard": shard, "tokens": rows, "pager": pager(page, tokens.len(), None)});
    Ok(Outcome::Page {
        template: "tokens.html",
        context: minijinja::Value::from_serialize(context),
    })
}

pub fn page(explorer: &Explorer, args: &[String], request: &Request) -> PageResult {
    let (shard, chain) = explorer.shard_arg(&args[0])?;
    let token = parse_address(&args[1])?;
    let index = explorer.index()?;
    let info = index.token(shard, &token)?.ok_or_else(|| {
        PageError::not_found(format!(
            "no token transfers of {token} have been seen on shard {shard}"
        ))
    })?;
    let page = request.page()?;
    if page > 1 && (page - 1) * PER_PAGE >= info.transfers as usize {
        return Err(past_the_end(page, info.transfers));
    }
    let transfers = transfer_rows(
        explorer,
        chain,
        index.token_transfers(shard, &token, (page - 1) * PER_PAGE, PER_PAGE)?,
    );
    let holders: Vec<Json> = index
        .holders(shard, &token, 0, PER_PAGE)?
        .into_iter()
        .map(|(holder, balance)| json!({"holder": holder.to_string(), "balance": fmt::units(balance, info.decimals)}))
        .collect();
    let supply = crate::index::total_supply(chain, token)
        .map(|s| fmt::units(s, info.decimals))
        .unwrap_or_else(|| fmt::units(info.minted.parse().unwrap_or_default(), info.decimals));
    let shown = transfers.len();
    let context = json!({
        "shard": shard,
        "address": token.to_string(),
        "kind": kind_name(info.kind),
        "name": info.name,
        "symbol": info.symbol,
        "decimals": info.decimals,
        "supply": supply,
        "holderCount": info.holders,
        "transferCount": info.transfers,
        "firstBlock": info.first_block,
        "holders": holders,
        "transfers": transfers,
        "pager": pager(page, shown, Some(info.transfers)),
    });
    Ok(Outcome::Page {
        template: "token.html",
        context: minijinja::Value::from_serialize(context),
    })
}

fn kind_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Erc20 => "ERC-20",
        TokenKind::Erc721 => "ERC-721",
    }
}

/// Rows for a table of token transfers, with the transaction hash and the token's symbol.
pub fn transfer_rows(
    explorer: &Explorer,
    chain: &Arc<ShardChain>,
    transfers: Vec<IndexedTransfer>,
) -> Vec<Json> {
    let shard = chain.config().shard;
    let Some(index) = explorer.sources.index.as_ref() else {
        return Vec::new();
    };
    let positions: Vec<(u64, u32)> = transfers.iter().map(|t| (t.number, t.tx)).collect();
    let hashes = index.tx_summaries(shard, &positions).unwrap_or_default();
    transfers
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            let info = index.token(shard, &t.token).ok().flatten();
            let hash = hashes
                .get(i)
                .and_then(|s| s.as_ref())
                .map(|s| s.hash.to_string());
            let amount = match t.kind {
                TokenKind::Erc20 => fmt::units(t.amount, info.as_ref().map_or(0, |i| i.decimals)),
                TokenKind::Erc721 => format!("#{}", t.amount),
            };
            json!({
                "block": t.number,
                "tx": hash,
                "token": t.token.to_string(),
                "symbol": info.map(|i| i.symbol).unwrap_or_default(),
                "from": t.from.to_string(),
                "to": t.to.to_string(),
                "amount": amount,
            })
        })
        .collect()
}
