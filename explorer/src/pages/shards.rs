//! Shards and crosslinks: each shard's chain id and head, and the newest crosslinks the beacon
//! chain recorded (the shard headers it finalized, with their signers).

use serde_json::{Value as Json, json};

use crate::Explorer;
use crate::fmt;
use crate::web::{Outcome, PageResult, Request};

/// Crosslinks listed.
const CROSSLINKS: usize = 50;

pub fn page(explorer: &Explorer, _: &[String], _: &Request) -> PageResult {
    let shards: Vec<Json> = explorer
        .sources
        .chains
        .iter()
        .map(|chain| {
            let head = chain.head();
            json!({
                "shard": chain.config().shard,
                "chainId": chain.config().chain_id,
                "height": head.number(),
                "hash": head.hash.to_string(),
                "time": fmt::utc(head.header.timestamp),
                "held": chain.not_held().is_none(),
            })
        })
        .collect();
    let crosslinks: Vec<Json> = match explorer.sources.beacon {
        Some(_) => {
            let listed = explorer.beacon_call("kaimeng_crosslinks", vec![json!({})])?;
            let mut rows: Vec<Json> = listed.as_array().cloned().unwrap_or_default();
            rows.reverse();
            rows.truncate(CROSSLINKS);
            rows.into_iter()
                .map(|c| {
                    json!({
                        "beaconHeight": c.get("beaconHeight"),
                        "shard": c.get("shard"),
                        "from": c.get("fromHeight"),
                        "to": c.get("toHeight"),
                        "epoch": c.get("shardEpoch"),
                        "signers": c.get("signers").map(|s| s.to_string()).unwrap_or_default(),
                    })
                })
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Outcome::Page {
        template: "shards.html",
        context: minijinja::Value::from_serialize(json!({
            "list": shards,
            "crosslinks": crosslinks,
            "beacon": explorer.sources.beacon.is_some(),
        })),
    })
}
