//! The transaction page: status and revert reason, value, the fee split into the base fee (to
//! the treasury) and the tip (to the block's proposer), logs (token events named, others raw
//! or decoded against an ABI the reader pastes) and the inner calls from the call tracer.

use alloy_consensus::Transaction;
use alloy_dyn_abi::EventExt;
use alloy_json_abi::JsonAbi;
use alloy_primitives::{B256, Log, U256, b256};
use alloy_rpc_types_trace::geth::{CallConfig, CallFrame, GethTrace};
use kaimeng_shards::trace::Tracer;
use serde_json::{Value as Json, json};

use super::parse_hash;
use crate::Explorer;
use crate::fmt;
use crate::index::extract::TRANSFER_TOPIC;
use crate::web::{Outcome, PageError, PageResult, Request};

/// `Approval(address,address,uint256)`.
const APPROVAL_TOPIC: B256 =
    b256!("8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925");
/// `ApprovalForAll(address,address,bool)`.
const APPROVAL_FOR_ALL_TOPIC: B256 =
    b256!("17307eab39ab6107e8899845ad3d59bd9653f200f220920489ca2b5937696c31");

// `MessageSent`, from the cross-shard contract's interface.
alloy_sol_types::sol!("../contracts/ICrossShard.sol");

/// Inner calls listed at most.
const MAX_CALLS: usize = 500;

pub fn page(explorer: &Explorer, args: &[String], request: &Request) -> PageResult {
    let (shard, chain) = explorer.shard_arg(&args[0])?;
    let hash = parse_hash(&args[1])?;
    let located = chain.receipt(&hash)?.ok_or_else(|| {
        let pending = chain.pool().status(&hash);
        PageError::not_found(format!(
            "shard {shard} has no final transaction {hash} (in this node's pool: {pending:?})"
        ))
    })?;
    let block = chain
        .block(located.block_number)?
        .ok_or_else(|| PageError::internal("the transaction's block is missing"))?;
    let tx = block
        .txs
        .get(located.index as usize)
        .ok_or_else(|| PageError::internal("the transaction is missing from its block"))?;
    let entry = &located.entry;
    let base_fee = u128::from(block.header.header.base_fee_per_gas.unwrap_or_default());
    let gas = u128::from(entry.gas_used);
    let base_part = U256::from(gas * base_fee);
    let tip = U256::from(gas * entry.effective_gas_price.saturating_sub(base_fee));
    let abi =
        match request.query.get("abi").filter(|a| !a.trim().is_empty()) {
            Some(text) => Some(serde_json::from_str::<JsonAbi>(text).map_err(|e| {
                PageError::bad_request(format!("the ABI is not valid JSON ABI: {e}"))
            })?),
            None => None,
        };
    let logs: Vec<Json> = entry
        .envelope
        .logs()
        .iter()
        .enumerate()
        .map(|(i, log)| describe_log(i as u64 + entry.first_log_index, log, abi.as_ref()))
        .collect();
    let (calls, revert) = inner_calls(chain, &hash);
    let messages = cross_shard_messages(explorer, entry.envelope.logs());
    let context = json!({
        "shard": shard,
        "hash": hash.to_string(),
        "ok": entry.envelope.status(),
        "revert": revert,
        "block": located.block_number,
        "index": located.index,
        "time": fmt::utc(located.block_timestamp),
        "from": entry.from.to_string(),
        "to": entry.to.map(|a| a.to_string()),
        "created": entry.contract_address.map(|a| a.to_string()),
        "nonce": tx.nonce(),
        "value": fmt::ether(tx.envelope.value()),
        "gasUsed": entry.gas_used,
        "gasLimit": tx.envelope.gas_limit(),
        "gasPrice": fmt::gwei(entry.effective_gas_price),
        "fee": fmt::ether(base_part + tip),
        "baseFee": fmt::ether(base_part),
        "tip": fmt::ether(tip),
        "input": format!("0x{}", hex::encode(tx.envelope.input())),
        "logs": logs,
        "calls": calls,
        "messages": messages,
        "abi": request.query.get("abi").cloned().unwrap_or_default(),
    });
    Ok(Outcome::Page {
        template: "tx.html",
        context: minijinja::Value::from_serialize(context),
    })
}

/// A log with its event named where it is a token event, or decoded against `abi`.
fn describe_log(index: u64, log: &Log, abi: Option<&JsonAbi>) -> Json {
    let topics = log.topics();
    let word_address = |i: usize| {
        topics
            .get(i)
            .map(|t| alloy_primitives::Address::from_slice(&t[12..]).to_string())
    };
    let data = &log.data.data;
    let (name, fields): (Option<String>, Vec<(String, String)>) =
        match (topics.first(), topics.len(), data.len()) {
            (Some(t), 3, 32) if *t == TRANSFER_TOPIC => (
                Some("Transfer (ERC-20)".into()),
                vec![
                    ("from".into(), word_address(1).unwrap_or_default()),
                    ("to".into(), word_address(2).unwrap_or_default()),
                    ("value".into(), U256::from_be_slice(data).to_string()),
                ],
            ),
            (Some(t), 4, 0) if *t == TRANSFER_TOPIC => (
                Some("Transfer (ERC-721)".into()),
                vec![
                    ("from".into(), word_address(1).unwrap_or_default()),
                    ("to".into(), word_address(2).unwrap_or_default()),
                    (
                        "tokenId".into(),
                        U256::from_be_bytes(topics[3].0).to_string(),
                    ),
                ],
            ),
            (Some(t), 3, 32) if *t == APPROVAL_TOPIC => (
                Some("Approval (ERC-20)".into()),
                vec![
                    ("owner".into(), word_address(1).unwrap_or_default()),
                    ("spender".into(), word_address(2).unwrap_or_default()),
                    ("value".into(), U256::from_be_slice(data).to_string()),
                ],
            ),
            (Some(t), 3, 32) if *t == APPROVAL_FOR_ALL_TOPIC => (
                Some("ApprovalForAll".into()),
                vec![
                    ("owner".into(), word_address(1).unwrap_or_default()),
                    ("operator".into(), word_address(2).unwrap_or_default()),
                    (
                        "approved".into(),
                        (!U256::from_be_slice(data).is_zero()).to_string(),
                    ),
                ],
            ),
            _ => match abi.and_then(|abi| decode_with_abi(abi, log)) {
                Some((name, fields)) => (Some(name), fields),
                None => (None, Vec::new()),
            },
        };
    json!({
        "index": index,
        "address": log.address.to_string(),
        "name": name,
        "fields": fields.into_iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
        "topics": topics.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
        "data": format!("0x{}", hex::encode(data)),
    })
}

/// The event of `abi` whose selector is the log's first topic, with its decoded fields.
fn decode_with_abi(abi: &JsonAbi, log: &Log) -> Option<(String, Vec<(String, String)>)> {
    let selector = *log.topics().first()?;
    let event = abi.events().find(|e| e.selector() == selector)?;
    let decoded = event
        .decode_log_parts(log.topics().iter().copied(), &log.data.data)
        .ok()?;
    let (mut indexed, mut body) = (decoded.indexed.into_iter(), decoded.body.into_iter());
    let fields = event
        .inputs
        .iter()
        .map(|input| {
            let value = if input.indexed {
                indexed.next()
            } else {
                body.next()
            };
            (
                input.name.clone(),
                value.map(|v| fmt::abi_value(&v)).unwrap_or_default(),
            )
        })
        .collect();
    Some((event.signature(), fields))
}

/// The cross-shard messages the transaction sent (its `MessageSent` logs from the cross-shard
/// contract), each with where it stands now as `kaimeng_getCrossShardMessage` reports it.
fn cross_shard_messages(explorer: &Explorer, logs: &[Log]) -> Vec<Json> {
    use alloy_sol_types::SolEvent;
    logs.iter()
        .filter(|log| log.address == kaimeng_shards::crossshard::CROSS_SHARD_ADDRESS)
        .filter_map(|log| ICrossShard::MessageSent::decode_log_data(&log.data).ok())
        .map(|sent| {
            let status = explorer
                .sources
                .beacon
                .as_ref()
                .and_then(|_| {
                    explorer
                        .beacon_call("kaimeng_getCrossShardMessage", vec![json!(sent.id)])
                        .ok()
                })
                .and_then(|m| m.get("status").and_then(Json::as_str).map(str::to_string));
            json!({
                "id": sent.id.to_string(),
                "destination": sent.destination,
                "to": sent.to.to_string(),
                "value": fmt::ether(sent.value),
                "status": status,
            })
        })
        .collect()
}

/// The inner calls of transaction `hash` (depth-first, depth ≥ 1) and its revert reason.
fn inner_calls(chain: &kaimeng_shards::ShardChain, hash: &B256) -> (Vec<Json>, Option<String>) {
    let traced = chain.trace_transaction(hash, &Tracer::Call(CallConfig::default()));
    let Ok(GethTrace::CallTracer(top)) = traced else {
        return (Vec::new(), None);
    };
    let revert = top.revert_reason.clone().or(top.error.clone());
    let mut out = Vec::new();
    fn walk(frame: &CallFrame, depth: usize, out: &mut Vec<Json>) {
        for inner in &frame.calls {
            if out.len() >= MAX_CALLS {
                return;
            }
            out.push(json!({
                "depth": depth,
                "kind": inner.typ,
                "from": inner.from.to_string(),
                "to": inner.to.map(|a| a.to_string()),
                "value": fmt::ether(inner.value.unwrap_or_default()),
                "gas": inner.gas_used.to::<u64>(),
                "error": inner.error,
            }));
            walk(inner, depth + 1, out);
        }
    }
    walk(&top, 1, &mut out);
    (out, revert)
}
