//! Epochs and committees: the recent epochs, and one epoch's seed, the VRF proofs it was drawn
//! from, its members and the assignment per shard, with a check in the browser that recomputes
//! the assignment from the seed (`static/committees.js`).

use serde_json::{Value as Json, json};

use crate::Explorer;
use crate::web::{Outcome, PageError, PageResult, Request};

pub fn list(explorer: &Explorer, _: &[String], _: &Request) -> PageResult {
    let current = explorer
        .beacon_call("kaimeng_epoch", vec![])?
        .get("epoch")
        .and_then(Json::as_u64)
        .unwrap_or(0);
    let mut epochs = explorer.epoch_history(current);
    epochs.reverse();
    let rows: Vec<Json> = epochs
        .iter()
        .map(|e| {
            json!({
                "epoch": e.get("epoch"),
                "start": e.get("startHeight"),
                "seed": e.get("seed"),
                "validators": e.get("validators").and_then(Json::as_array).map_or(0, |v| v.len()),
                "committees": e.get("committees").and_then(Json::as_array).map_or(0, |c| c.len()),
            })
        })
        .collect();
    Ok(Outcome::Page {
        template: "epochs.html",
        context: minijinja::Value::from_serialize(json!({"current": current, "epochs": rows})),
    })
}

pub fn page(explorer: &Explorer, args: &[String], _: &Request) -> PageResult {
    let n: u64 = args[0]
        .trim()
        .parse()
        .map_err(|_| PageError::bad_request(format!("{:?} is not an epoch number", args[0])))?;
    let drawn = explorer
        .beacon_call("kaimeng_committees", vec![json!(n)])
        .map_err(|e| {
            if e.status.is_server_error() {
                PageError::not_found(format!("epoch {n} is not known here: {}", e.detail))
            } else {
                e
            }
        })?;
    if drawn.is_null() {
        return Err(PageError::not_found(format!(
            "epoch {n} has not been drawn yet"
        )));
    }
    // Committee seats are indices into the members of the epoch the draw was made in; members
    // who joined since come after them. `remaining` is this epoch's members, in member order.
    let key_list = |field: &str, inner: Option<&str>| -> Vec<String> {
        drawn
            .get(field)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| match inner {
                Some(name) => m.get(name).and_then(Json::as_str).map(str::to_string),
                None => m.as_str().map(str::to_string),
            })
            .collect()
    };
    let mut keys = key_list("members", Some("consensusKey"));
    let draw_size = keys.len();
    let present = key_list("epochMembers", None);
    for key in &present {
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    let remaining: Vec<usize> = present
        .iter()
        .filter_map(|k| keys.iter().position(|x| x == k))
        .collect();
    let organisation_of = |key: &str| {
        drawn
            .get("members")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .find(|m| m.get("consensusKey").and_then(Json::as_str) == Some(key))
            .and_then(|m| m.get("organisation").and_then(Json::as_str))
            .unwrap_or("?")
            .to_string()
    };
    let committees: Vec<Json> = drawn
        .get("committees")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(shard, seats)| {
            let seats: Vec<Json> = seats
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .map(|key| {
                    json!({
                        "index": keys.iter().position(|k| k == key),
                        "organisation": organisation_of(key),
                        "key": key,
                    })
                })
                .collect();
            json!({"shard": shard, "seats": seats})
        })
        .collect();
    let indices: Vec<Vec<Json>> = committees
        .iter()
        .map(|c| {
            c["seats"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| s["index"].clone())
                .collect()
        })
        .collect();
    let members: Vec<Json> = keys[..draw_size]
        .iter()
        .enumerate()
        .map(|(i, key)| json!({"index": i, "key": key, "organisation": organisation_of(key)}))
        .collect();
    let context = json!({
        "epoch": n,
        "seed": drawn.get("seed"),
        "suite": drawn.get("cryptoSuite"),
        "drawnIn": drawn.get("drawnIn"),
        "seedInputs": drawn.get("seedInputs").map(|s| serde_json::to_string_pretty(s).unwrap_or_default()),
        "hasSeedInputs": drawn.get("seedInputs").is_some_and(|s| !s.is_null()),
        "shardCount": drawn.get("shardCount"),
        "committeeSize": drawn.get("committeeSize"),
        "members": members,
        "committees": committees,
        "committeesJson": serde_json::to_string(&indices).unwrap_or_default(),
        "remainingJson": serde_json::to_string(&remaining).unwrap_or_default(),
    });
    Ok(Outcome::Page {
        template: "epoch.html",
        context: minijinja::Value::from_serialize(context),
    })
}
