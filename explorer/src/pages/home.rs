//! The home page: live network status (heights, block interval, confirmed transactions per
//! second over the last minute, pending transactions, the epoch, peers) and the newest blocks
//! of shard 0, refreshed in the page from [`status`] every second.

use serde_json::{Value as Json, json};

use crate::Explorer;
use crate::fmt;
use crate::web::{Outcome, PageResult, Request};

/// Newest blocks shown.
const LATEST: u64 = 10;

pub fn page(explorer: &Explorer, _: &[String], _: &Request) -> PageResult {
    Ok(Outcome::Page {
        template: "home.html",
        context: minijinja::Value::from_serialize(explorer.status_json()),
    })
}

/// The same figures as JSON, for the page's live updates.
pub fn status(explorer: &Explorer, _: &[String], _: &Request) -> PageResult {
    Ok(Outcome::Json(explorer.status_json()))
}

/// Blocks whose time and size are remembered per shard.
const REMEMBERED: usize = 4_096;

impl Explorer {
    /// Block `number`'s timestamp and transaction count, read once and remembered (the home
    /// page counts the last minute's transactions every second).
    fn block_size(&self, chain: &kaimeng_shards::ShardChain, number: u64) -> Option<(u64, usize)> {
        let shard = chain.config().shard;
        if let Some(known) = self.block_sizes.lock().get(&(shard, number)) {
            return Some(*known);
        }
        let block = chain.block(number).ok().flatten()?;
        let size = (block.header.header.timestamp, block.txs.len());
        let mut sizes = self.block_sizes.lock();
        sizes.insert((shard, number), size);
        while sizes.len() > REMEMBERED * self.sources.chains.len() {
            sizes.pop_first();
        }
        Some(size)
    }

    fn status_json(&self) -> Json {
        let chains: Vec<Json> = self
            .sources
            .chains
            .iter()
            .map(|chain| {
                let head = chain.head();
                let now = fmt::age_seconds(0);
                // Transactions in final blocks of the last minute, and the mean block interval
                // over the last 20 blocks.
                let mut txs_last_minute = 0usize;
                let mut oldest = head.header.timestamp;
                let mut counted = 0u64;
                let mut number = head.number();
                while number > 0 && counted < 2_000 {
                    let Some((timestamp, txs)) = self.block_size(chain, number) else { break };
                    if timestamp + 60 < now {
                        break;
                    }
                    txs_last_minute += txs;
                    oldest = timestamp;
                    counted += 1;
                    number -= 1;
                }
                let interval = if counted > 1 {
                    (head.header.timestamp - oldest) as f64 / (counted - 1) as f64
                } else {
                    0.0
                };
                json!({
                    "shard": chain.config().shard,
                    "chainId": chain.config().chain_id,
                    "height": head.number(),
                    "age": fmt::age_seconds(head.header.timestamp),
                    "interval": format!("{interval:.1}"),
                    "ctps": format!("{:.1}", txs_last_minute as f64 / 60.0),
                    "pending": chain.pool().len(),
                    "finality": chain.finality_waits().map(|w| json!({
                        "p50": format!("{:.0}", w.p50.as_secs_f64() * 1000.0),
                        "p99": format!("{:.0}", w.p99.as_secs_f64() * 1000.0),
                        "blocks": w.blocks,
                    })),
                    "indexed": self.sources.index.as_ref().and_then(|i| i.progress(chain.config().shard).ok().flatten()),
                })
            })
            .collect();
        let chain0 = &self.sources.chains[0];
        let head = chain0.head().number();
        let blocks: Vec<Json> = (head.saturating_sub(LATEST - 1)..=head)
            .rev()
            .filter_map(|n| chain0.block(n).ok().flatten())
            .map(|b| {
                json!({
                    "number": b.number(),
                    "hash": b.hash().to_string(),
                    "short": fmt::short(&b.hash().to_string()),
                    "txs": b.txs.len(),
                    "gasUsed": b.header.header.gas_used,
                    "time": fmt::utc(b.header.header.timestamp),
                })
            })
            .collect();
        let txs: Vec<Json> = (head.saturating_sub(LATEST - 1)..=head)
            .rev()
            .filter_map(|n| chain0.block(n).ok().flatten())
            .flat_map(|b| {
                let number = b.number();
                b.txs
                    .iter()
                    .rev()
                    .take(LATEST as usize)
                    .map(move |t| {
                        json!({"hash": t.hash.to_string(), "short": fmt::short(&t.hash.to_string()), "from": t.sender.to_string(), "block": number})
                    })
                    .collect::<Vec<_>>()
            })
            .take(LATEST as usize)
            .collect();
        let epoch = self
            .sources
            .beacon
            .as_ref()
            .and_then(|_| self.beacon_call("kaimeng_epoch", vec![]).ok())
            .and_then(|e| e.get("epoch").cloned());
        let members = self
            .sources
            .beacon
            .as_ref()
            .and_then(|_| self.beacon_call("kaimeng_members", vec![]).ok())
            .and_then(|m| m.get("members").and_then(|l| l.as_array()).map(|l| l.len()));
        json!({
            "chains": chains,
            "beaconHeight": self.sources.beacon_height.as_ref().map(|h| h()),
            "epoch": epoch,
            "members": members,
            "peers": self.sources.status.peer_count(),
            "blocks": blocks,
            "txs": txs,
        })
    }
}
