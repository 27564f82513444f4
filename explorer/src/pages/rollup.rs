//! The rollup page, from the bridge's events on shard 0 (kept whole by the index): batches
//! with their commit, verify and execute state, L2 accounts opened by deposits, deposits and
//! withdrawals, exits, and a banner when the bridge is in exodus mode. A batch the sequencer
//! reverted is dropped until its number is committed again.

use std::collections::BTreeMap;

use alloy_primitives::{B256, LogData};
use alloy_sol_types::{SolEvent, sol};
use serde_json::{Value as Json, json};

use crate::Explorer;
use crate::fmt;
use crate::web::{Outcome, PageError, PageResult, Request};

/// Bridge events read for the page, newest first.
const EVENTS: usize = 5_000;
/// Rows per table.
const ROWS: usize = 50;

// The bridge's events, from its interface as the contract implements it.
sol!("../contracts/rollup/IBridge.sol");
use IBridge::{
    BatchCommitted, BatchExecuted, BatchReverted, BatchVerified, BatchesDecided, ClaimsRefused,
    Deposit, DepositReclaimed, Exit, ExodusActivated, ForcedWithdrawalRequested,
    WithdrawalClaimable, WithdrawalClaimed,
};

fn decode<E: SolEvent>(topics: &[B256], data: &alloy_primitives::Bytes) -> Option<E> {
    E::decode_log_data(&LogData::new(topics.to_vec(), data.clone())?).ok()
}

pub fn page(explorer: &Explorer, _: &[String], _: &Request) -> PageResult {
    let Some(bridge) = explorer.sources.bridge else {
        return Err(PageError::not_found(
            "this network has no rollup (its genesis has no [rollup] section)",
        ));
    };
    let index = explorer.index()?;
    let logs = index.kept_logs(0, 0, EVENTS)?;
    let mut batches: BTreeMap<u64, serde_json::Map<String, Json>> = BTreeMap::new();
    let mut accounts: BTreeMap<u32, Json> = BTreeMap::new();
    let (mut deposits, mut withdrawals, mut exits) = (Vec::new(), Vec::new(), Vec::new());
    let mut exodus = None;
    // Oldest first, so that later events update earlier state.
    for (number, log) in logs.iter().rev() {
        let (t, d) = (&log.topics, &log.data);
        let batch = |n: u64, batches: &mut BTreeMap<u64, serde_json::Map<String, Json>>| {
            batches
                .entry(n)
                .or_insert_with(|| {
                    let mut m = serde_json::Map::new();
                    m.insert("number".into(), json!(n));
                    m
                })
                .clone()
        };
        if let Some(e) = decode::<BatchCommitted>(t, d) {
            let mut b = batch(e.batchNumber, &mut batches);
            b.insert("committed".into(), json!(number));
            b.insert("root".into(), json!(e.finalRoot.to_string()));
            b.insert("priority".into(), json!(e.priorityCount));
            b.insert("withdrawals".into(), json!(e.withdrawalCount.to_string()));
            b.insert("state".into(), json!("committed"));
            batches.insert(e.batchNumber, b);
        } else if let Some(e) = decode::<BatchReverted>(t, d) {
            // Forgotten by the bridge; the number is committed again later.
            batches.remove(&e.batchNumber);
        } else if let Some(e) = decode::<BatchVerified>(t, d) {
            let mut b = batch(e.batchNumber, &mut batches);
            b.insert("verified".into(), json!(number));
            b.insert("state".into(), json!("verified"));
            batches.insert(e.batchNumber, b);
        } else if let Some(e) = decode::<BatchesDecided>(t, d) {
            for n in e.first..=e.last {
                let mut b = batch(n, &mut batches);
                b.insert("decided".into(), json!(number));
                b.insert("state".into(), json!("decided"));
                batches.insert(n, b);
            }
        } else if let Some(e) = decode::<ClaimsRefused>(t, d) {
            // Their verification is dropped; they are verified again later.
            for n in e.first..=e.last {
                let mut b = batch(n, &mut batches);
                b.remove("verified");
                b.insert("state".into(), json!("committed"));
                batches.insert(n, b);
            }
        } else if let Some(e) = decode::<BatchExecuted>(t, d) {
            let mut b = batch(e.batchNumber, &mut batches);
            b.insert("executed".into(), json!(number));
            b.insert("state".into(), json!("executed"));
            batches.insert(e.batchNumber, b);
        } else if let Some(e) = decode::<Deposit>(t, d) {
            accounts.insert(e.account, json!({"account": e.account, "l1": e.l1.to_string(), "key": e.l2PublicKey.to_string(), "since": number}));
            deposits.push(json!({"request": e.requestId, "account": e.account, "l1": e.l1.to_string(), "amount": e.amount, "block": number, "kind": "deposit"}));
        } else if let Some(e) = decode::<ForcedWithdrawalRequested>(t, d) {
            deposits.push(json!({"request": e.requestId, "account": e.account, "l1": e.l1.to_string(), "amount": Json::Null, "block": number, "kind": "forced"}));
        } else if let Some(e) = decode::<WithdrawalClaimable>(t, d) {
            withdrawals.push(json!({"batch": e.batchNumber, "l1": e.l1.to_string(), "value": fmt::ether(e.value), "block": number, "kind": "claimable"}));
        } else if let Some(e) = decode::<WithdrawalClaimed>(t, d) {
            withdrawals.push(json!({"batch": Json::Null, "l1": e.to.to_string(), "value": fmt::ether(e.value), "block": number, "kind": "claimed"}));
        } else if let Some(e) = decode::<ExodusActivated>(t, d) {
            exodus = Some(json!({"request": e.requestId, "block": number}));
        } else if let Some(e) = decode::<Exit>(t, d) {
            exits.push(json!({"account": e.account, "l1": e.l1.to_string(), "value": fmt::ether(e.value), "block": number, "kind": "exit"}));
        } else if let Some(e) = decode::<DepositReclaimed>(t, d) {
            exits.push(json!({"account": e.account, "l1": e.l1.to_string(), "value": fmt::ether(e.value), "block": number, "kind": "reclaimed"}));
        }
    }
    let newest = |mut rows: Vec<Json>| {
        rows.reverse();
        rows.truncate(ROWS);
        rows
    };
    let batch_rows: Vec<Json> = batches
        .into_values()
        .rev()
        .take(ROWS)
        .map(Json::Object)
        .collect();
    let context = json!({
        "bridge": bridge.to_string(),
        "exodus": exodus,
        "batches": batch_rows,
        "accounts": accounts.into_values().take(ROWS).collect::<Vec<_>>(),
        "deposits": newest(deposits),
        "withdrawals": newest(withdrawals),
        "exits": newest(exits),
        "events": logs.len(),
    });
    Ok(Outcome::Page {
        template: "rollup.html",
        context: minijinja::Value::from_serialize(context),
    })
}
