//! The address page: balance and nonce on every shard, its transactions on one shard (all of
//! them, newest first, paginated by position so that a block with more matches than a page
//! loses none), token transfers and balances, contract code and creator, and the results of
//! its view functions when the reader pastes an ABI.

use alloy_dyn_abi::{FunctionExt, JsonAbiExt, Specifier};
use alloy_json_abi::{JsonAbi, StateMutability};
use alloy_primitives::{Address, Bytes};
use alloy_rpc_types_eth::TransactionRequest;
use serde_json::{Value as Json, json};

use super::{PER_PAGE, pager, parse_address, past_the_end};
use crate::Explorer;
use crate::fmt;
use crate::index::extract::roles;
use crate::web::{Outcome, PageError, PageResult, Request};

/// View functions called at most for one page.
const MAX_VIEWS: usize = 50;

pub fn page(explorer: &Explorer, args: &[String], request: &Request) -> PageResult {
    let (shard, chain) = explorer.shard_arg(&args[0])?;
    let address = parse_address(&args[1])?;
    let page = request.page()?;
    let shards: Vec<Json> = explorer
        .sources
        .chains
        .iter()
        .map(|c| {
            let account = c
                .latest_state()
                .account(&address)
                .ok()
                .flatten()
                .unwrap_or_default();
            json!({
                "shard": c.config().shard,
                "balance": fmt::ether(account.balance),
                "nonce": account.nonce,
            })
        })
        .collect();
    let account = chain.latest_state().account(&address)?.unwrap_or_default();
    let code =
        if account.code_hash == alloy_primitives::KECCAK256_EMPTY || account.code_hash.is_zero() {
            Bytes::new()
        } else {
            chain
                .latest_state()
                .code(&account.code_hash)?
                .original_bytes()
        };
    let before = match request.query.get("before") {
        None => None,
        Some(text) => Some(parse_position(text)?),
    };
    let mut next_before = None;
    let index = explorer.sources.index.as_deref();
    let (history, total, creator, transfers, holdings) = match index {
        Some(index) => {
            let listed = match before {
                Some(position) => {
                    index.address_txs_before(shard, &address, Some(position), 0, PER_PAGE)?
                }
                None => index.address_txs(shard, &address, (page - 1) * PER_PAGE, PER_PAGE)?,
            };
            let total = listed.total.unwrap_or(0);
            if listed.items.is_empty() && page > 1 {
                return Err(past_the_end(page, total));
            }
            next_before = match listed.items.last() {
                Some((number, tx, _)) if listed.items.len() == PER_PAGE => {
                    Some(format!("{number}-{tx}"))
                }
                _ => None,
            };
            let positions: Vec<(u64, u32)> = listed.items.iter().map(|&(n, t, _)| (n, t)).collect();
            let summaries = index.tx_summaries(shard, &positions)?;
            let history: Vec<Json> = listed
                .items
                .iter()
                .zip(summaries)
                .filter_map(|(&(number, _, bits), summary)| {
                    let t = summary?;
                    Some(json!({
                        "hash": t.hash.to_string(),
                        "short": fmt::short(&t.hash.to_string()),
                        "block": number,
                        "from": t.from.to_string(),
                        "to": t.to.map(|a| a.to_string()),
                        "value": fmt::ether(t.value),
                        "ok": t.ok,
                        "out": bits & roles::FROM != 0,
                        "in": bits & roles::TO != 0,
                        "created": bits & roles::CREATED != 0,
                        "internal": bits & roles::INTERNAL != 0,
                    }))
                })
                .collect();
            let creator = index.creator(shard, &address)?.map(|(who, number, tx)| {
                let hash = index
                    .tx_summaries(shard, &[(number, tx)])
                    .ok()
                    .and_then(|s| s.into_iter().next().flatten())
                    .map(|s| s.hash.to_string());
                json!({"creator": who.to_string(), "block": number, "tx": hash})
            });
            let transfers = super::token::transfer_rows(
                explorer,
                chain,
                index.holder_transfers(shard, &address, 0, PER_PAGE)?,
            );
            let holdings: Vec<Json> = index
                .holdings(shard, &address, 100)?
                .into_iter()
                .filter(|(_, balance)| !balance.is_zero())
                .map(|(token, balance)| {
                    let info = index.token(shard, &token).ok().flatten();
                    json!({
                        "token": token.to_string(),
                        "name": info.as_ref().map(|i| i.name.clone()).unwrap_or_default(),
                        "symbol": info.as_ref().map(|i| i.symbol.clone()).unwrap_or_default(),
                        "balance": fmt::units(balance, info.as_ref().map_or(0, |i| i.decimals)),
                    })
                })
                .collect();
            (history, Some(total), creator, transfers, holdings)
        }
        None => (Vec::new(), None, None, Vec::new(), Vec::new()),
    };
    let views = match request.query.get("abi").filter(|a| !a.trim().is_empty()) {
        Some(text) => {
            let abi: JsonAbi = serde_json::from_str(text).map_err(|e| {
                PageError::bad_request(format!("the ABI is not valid JSON ABI: {e}"))
            })?;
            read_views(chain, address, &abi, &request.query)?
        }
        None => Vec::new(),
    };
    let shown = history.len();
    let context = json!({
        "shard": shard,
        "address": address.to_string(),
        "perShard": shards,
        "isContract": !code.is_empty(),
        "code": format!("0x{}", hex::encode(&code)),
        "codeSize": code.len(),
        "creator": creator,
        "history": history,
        "total": total,
        "indexed": index.is_some(),
        "pager": address_pager(page, shown, total, before.is_some(), next_before),
        "transfers": transfers,
        "holdings": holdings,
        "views": views,
        "abi": request.query.get("abi").cloned().unwrap_or_default(),
    });
    Ok(Outcome::Page {
        template: "address.html",
        context: minijinja::Value::from_serialize(context),
    })
}

/// The view and pure functions of `abi` (at most [`MAX_VIEWS`]), each with its arguments'
/// names and types: those without arguments are called on the latest state; one with
/// arguments is called when the reader submitted its form (`fn` = its signature, `a0`, `a1`, …
/// its arguments as text, parsed by their ABI types).
fn read_views(
    chain: &kaimeng_shards::ShardChain,
    address: Address,
    abi: &JsonAbi,
    query: &std::collections::HashMap<String, String>,
) -> Result<Vec<Json>, PageError> {
    let asked = query.get("fn");
    let mut views = Vec::new();
    for f in abi
        .functions()
        .filter(|f| {
            matches!(
                f.state_mutability,
                StateMutability::View | StateMutability::Pure
            )
        })
        .take(MAX_VIEWS)
    {
        let signature = f.signature();
        let inputs: Vec<Json> = f
            .inputs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                json!({
                    "field": format!("a{i}"),
                    "name": p.name,
                    "type": p.ty,
                    "value": query.get(&format!("a{i}")).cloned().unwrap_or_default(),
                })
            })
            .collect();
        let result = if f.inputs.is_empty() {
            Some(call_view(chain, address, f, &[]))
        } else if asked == Some(&signature) {
            let mut args = Vec::with_capacity(f.inputs.len());
            for (i, param) in f.inputs.iter().enumerate() {
                let text = query
                    .get(&format!("a{i}"))
                    .map(|t| t.trim())
                    .unwrap_or_default();
                let ty = param.resolve().map_err(|e| {
                    PageError::bad_request(format!(
                        "{signature}: argument {i} has a type this page cannot read: {e}"
                    ))
                })?;
                args.push(ty.coerce_str(text).map_err(|e| {
                    PageError::bad_request(format!(
                        "{signature}: argument {i} ({} {}) is not a valid {}: {e}",
                        param.ty, param.name, param.ty
                    ))
                })?);
            }
            Some(call_view(chain, address, f, &args))
        } else {
            None
        };
        views.push(json!({"name": signature, "inputs": inputs, "result": result}));
    }
    Ok(views)
}

/// Calls view function `f` with `args` on the latest state; its outputs, or why not, as text.
fn call_view(
    chain: &kaimeng_shards::ShardChain,
    address: Address,
    f: &alloy_json_abi::Function,
    args: &[alloy_dyn_abi::DynSolValue],
) -> String {
    let data = match f.abi_encode_input(args) {
        Ok(data) => data,
        Err(e) => return format!("(cannot encode the arguments: {e})"),
    };
    let request = TransactionRequest::default()
        .to(address)
        .input(Bytes::from(data).into())
        .gas_limit(5_000_000);
    match chain.call(&request, chain.head().number(), None) {
        Ok(out) => match f.abi_decode_output(&out.output) {
            Ok(values) => values
                .iter()
                .map(fmt::abi_value)
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => format!("(cannot decode the output: {e})"),
        },
        Err(e) => format!("(the call failed: {e})"),
    }
}

/// `NUMBER-INDEX`, the position a `before` link carries.
fn parse_position(text: &str) -> Result<(u64, u32), PageError> {
    text.split_once('-')
        .and_then(|(n, t)| Some((n.parse().ok()?, t.parse().ok()?)))
        .ok_or_else(|| {
            PageError::bad_request(format!(
                "before must be a block number and a transaction index, as 120-3, not {text:?}"
            ))
        })
}

/// The history's page links: numbered pages, and a `before` link to the next page, which is
/// found by one seek however deep it is.
fn address_pager(
    page: usize,
    shown: usize,
    total: Option<u64>,
    by_cursor: bool,
    next_before: Option<String>,
) -> serde_json::Value {
    if by_cursor {
        return json!({"page": null, "prev": null, "next": null, "last": null, "first": true, "nextBefore": next_before});
    }
    let mut links = pager(page, shown, total);
    if links["next"].is_number() {
        links["nextBefore"] = json!(next_before);
    }
    links
}
