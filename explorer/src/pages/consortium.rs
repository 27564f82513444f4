//! The consortium page: members (organisation, keys, fee recipient, the epoch since which each
//! is a validator), every proposal with every member's vote, the history of the parameters and
//! the fee shares paid in each epoch.

use serde_json::{Value as Json, json};

use crate::Explorer;
use crate::fmt;
use crate::web::{Outcome, PageResult, Request};

/// Epochs read back for the parameter and fee-share history.
const HISTORY_EPOCHS: u64 = 64;

pub fn page(explorer: &Explorer, _: &[String], _: &Request) -> PageResult {
    let members = explorer.beacon_call("kaimeng_members", vec![])?;
    let current = members.get("epoch").and_then(Json::as_u64).unwrap_or(0);
    let epochs = explorer.epoch_history(current);
    let since = |organisation: &str| {
        epochs
            .iter()
            .find(|e| {
                e.get("validators")
                    .and_then(Json::as_array)
                    .is_some_and(|v| {
                        v.iter().any(|m| {
                            m.get("organisation").and_then(Json::as_str) == Some(organisation)
                        })
                    })
            })
            .and_then(|e| e.get("epoch").cloned())
    };
    let member_rows: Vec<Json> = members
        .get("members")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|m| {
            let organisation = m
                .get("organisation")
                .and_then(Json::as_str)
                .unwrap_or_default();
            json!({
                "organisation": organisation,
                "adminKey": m.get("admin_key"),
                "consensusKey": m.get("consensus_key"),
                "vrfKey": m.get("vrf_key"),
                "peerId": m.get("peer_id"),
                "feeRecipient": m.get("fee_recipient"),
                "weight": m.get("weight"),
                "since": since(organisation),
            })
        })
        .collect();
    let proposals = explorer.beacon_call("kaimeng_proposals", vec![])?;
    let proposal_rows: Vec<Json> = proposals
        .get("proposals")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let votes = p.get("votes").and_then(Json::as_array).cloned().unwrap_or_default();
            let ballot: Vec<Json> = p
                .get("electorate")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .map(|member| {
                    let vote = votes
                        .iter()
                        .find(|v| v.get("voter").and_then(Json::as_str) == Some(member))
                        .and_then(|v| v.get("approve").and_then(Json::as_bool));
                    json!({"member": member, "vote": match vote { Some(true) => "approve", Some(false) => "reject", None => "none" }})
                })
                .collect();
            json!({
                "id": p.get("id"),
                "proposer": p.get("proposer"),
                "action": p.get("action").map(|a| a.to_string()).unwrap_or_default(),
                "status": p.get("status"),
                "created": p.get("created_epoch"),
                "expires": p.get("expires_at_epoch"),
                "ballot": ballot,
            })
        })
        .collect();
    let mut parameters = Vec::new();
    let mut last: Option<Json> = None;
    let mut fee_shares = Vec::new();
    for e in &epochs {
        let params = json!({
            "gasLimit": e.get("gasLimit"),
            "minBaseFee": e.get("minBaseFee"),
            "committeeSize": e.get("committeeSize"),
        });
        if last.as_ref() != Some(&params) {
            parameters.push(json!({"epoch": e.get("epoch"), "params": params.clone()}));
            last = Some(params);
        }
        for payout in e
            .get("payouts")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
        {
            for share in payout
                .get("shares")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                fee_shares.push(json!({
                    "epoch": e.get("epoch"),
                    "shard": payout.get("shard"),
                    "share": share,
                }));
            }
        }
    }
    let paid: Vec<Json> = explorer
        .sources
        .index
        .as_ref()
        .map(|index| {
            (0..explorer.sources.chains.len() as u32)
                .flat_map(|shard| {
                    index.fee_shares(shard, 20).unwrap_or_default().into_iter().flat_map(move |(number, list)| {
                        list.into_iter().map(move |(to, wei)| {
                            json!({"shard": shard, "block": number, "to": to.to_string(), "amount": fmt::ether(wei.parse().unwrap_or_default())})
                        })
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let context = json!({
        "epoch": current,
        "members": member_rows,
        "proposals": proposal_rows,
        "parameters": parameters,
        "feeShares": fee_shares,
        "paid": paid,
    });
    Ok(Outcome::Page {
        template: "consortium.html",
        context: minijinja::Value::from_serialize(context),
    })
}

impl Explorer {
    /// The beacon epoch records of the last [`HISTORY_EPOCHS`] epochs up to `current`, oldest
    /// first.
    pub(crate) fn epoch_history(&self, current: u64) -> Vec<Json> {
        (current.saturating_sub(HISTORY_EPOCHS - 1)..=current)
            .filter_map(|n| {
                self.beacon_call("kaimeng_getBeaconEpoch", vec![json!(n)])
                    .ok()
            })
            .filter(|e| !e.is_null())
            .collect()
    }
}
