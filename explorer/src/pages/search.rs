//! The search box: a block number, a block or transaction hash, an address, `address:nonce`,
//! a member's organisation name or `epoch:N` leads to its page; anything else gets a page that
//! says what the box understands.

use serde_json::Value as Json;

use super::parse_address;
use crate::Explorer;
use crate::web::{Outcome, PREFIX, PageError, PageResult, Request};

pub fn page(explorer: &Explorer, _: &[String], request: &Request) -> PageResult {
    let q = request.query.get("q").map(|q| q.trim()).unwrap_or_default();
    if q.is_empty() {
        return Err(PageError::bad_request(
            "type a block number, a hash, an address, address:nonce, a member's name or epoch:N",
        ));
    }
    if q.len() > 200 {
        return Err(PageError::bad_request("a search is at most 200 characters"));
    }
    let to = |path: String| Ok(Outcome::Redirect(format!("{PREFIX}{path}")));
    if let Some(epoch) = q.strip_prefix("epoch:") {
        let n: u64 = epoch.trim().parse().map_err(|_| {
            PageError::bad_request(format!("{epoch:?} after epoch: is not an epoch number"))
        })?;
        return to(format!("/epoch/{n}"));
    }
    if let Some((address, nonce)) = q.split_once(':') {
        let address = parse_address(address)?;
        let nonce: u64 = nonce.trim().parse().map_err(|_| {
            PageError::bad_request(format!("{nonce:?} after the address is not a nonce"))
        })?;
        let index = explorer.index()?;
        for chain in &explorer.sources.chains {
            let shard = chain.config().shard;
            if let Some((number, tx)) = index.by_nonce(shard, &address, nonce)? {
                if let Some(hash) = chain
                    .block(number)?
                    .and_then(|b| b.txs.get(tx as usize).map(|t| t.hash))
                {
                    return to(format!("/s/{shard}/tx/{hash}"));
                }
            }
        }
        return Err(PageError::not_found(format!(
            "no final transaction of {address} with nonce {nonce} on any shard"
        )));
    }
    if let Some(hex) = q.strip_prefix("0x") {
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PageError::bad_request(format!("{q:?} is not hexadecimal")));
        }
        match hex.len() {
            64 => {
                let hash = super::parse_hash(q)?;
                for chain in &explorer.sources.chains {
                    let shard = chain.config().shard;
                    if chain.tx_location(&hash)?.is_some() {
                        return to(format!("/s/{shard}/tx/{hash}"));
                    }
                    if let Some(number) = chain.number_of(&hash)? {
                        return to(format!("/s/{shard}/block/{number}"));
                    }
                }
                return Err(PageError::not_found(format!(
                    "no final block or transaction {hash} on any shard"
                )));
            }
            40 => {
                let address = parse_address(q)?;
                return to(format!("/s/0/address/{address}"));
            }
            _ => {
                return Err(PageError::bad_request(format!(
                    "{q:?} is neither a hash (64 hex digits) nor an address (40)"
                )));
            }
        }
    }
    if q.bytes().all(|b| b.is_ascii_digit()) {
        let number: u64 = q
            .parse()
            .map_err(|_| PageError::bad_request(format!("{q} is too large for a block number")))?;
        let head = explorer.sources.chains[0].head().number();
        if number > head {
            return Err(PageError::not_found(format!(
                "block {number} is not final yet (shard 0's head is {head})"
            )));
        }
        return to(format!("/s/0/block/{number}"));
    }
    if explorer.sources.beacon.is_some() {
        let members = explorer.beacon_call("kaimeng_members", vec![])?;
        let found = members
            .get("members")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("organisation").and_then(Json::as_str))
            .find(|o| o.eq_ignore_ascii_case(q));
        if let Some(organisation) = found {
            return to(format!("/consortium#member-{organisation}"));
        }
    }
    Err(PageError::not_found(format!(
        "nothing matches {q:?}: try a block number, a hash, an address, address:nonce, a member's name or epoch:N"
    )))
}
