//! The block page: header fields, the transactions (paginated) and the members whose
//! signatures are in the finality certificate.

use alloy_consensus::Transaction;
use alloy_primitives::U256;
use serde_json::{Value as Json, json};

use super::{PER_PAGE, pager, parse_hash};
use crate::Explorer;
use crate::fmt;
use crate::web::{Outcome, PageError, PageResult, Request};

pub fn page(explorer: &Explorer, args: &[String], request: &Request) -> PageResult {
    let (shard, chain) = explorer.shard_arg(&args[0])?;
    let id = args[1].trim();
    let number = if id.starts_with("0x") && id.len() == 66 {
        let hash = parse_hash(id)?;
        chain.number_of(&hash)?.ok_or_else(|| {
            PageError::not_found(format!("shard {shard} has no final block {hash}"))
        })?
    } else {
        id.parse::<u64>().map_err(|_| {
            PageError::bad_request(format!("{id:?} is neither a block number nor a block hash"))
        })?
    };
    let block = chain.block(number)?.ok_or_else(|| {
        PageError::not_found(format!(
            "shard {shard} has no final block {number} (its head is {})",
            chain.head().number()
        ))
    })?;
    let page = request.page()?;
    let total = block.txs.len() as u64;
    if (page - 1) * PER_PAGE >= block.txs.len() && page > 1 {
        return Err(super::past_the_end(page, total));
    }
    let h = &block.header.header;
    let txs: Vec<Json> = block
        .txs
        .iter()
        .zip(&block.receipts)
        .enumerate()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .map(|(i, (tx, receipt))| {
            json!({
                "index": i,
                "hash": tx.hash.to_string(),
                "from": tx.sender.to_string(),
                "to": tx.envelope.to().map(|a| a.to_string()),
                "created": receipt.contract_address.map(|a| a.to_string()),
                "value": fmt::ether(tx.envelope.value()),
                "ok": receipt.envelope.status(),
                "gas": receipt.gas_used,
            })
        })
        .collect();
    let signers = explorer.certificate_signers(shard, number);
    let context = json!({
        "shard": shard,
        "number": number,
        "hash": block.hash().to_string(),
        "parent": h.parent_hash.to_string(),
        "time": fmt::utc(h.timestamp),
        "proposer": h.beneficiary.to_string(),
        "gasUsed": h.gas_used,
        "gasLimit": h.gas_limit,
        "baseFee": fmt::gwei(u128::from(h.base_fee_per_gas.unwrap_or_default())),
        "burnt": fmt::ether(U256::from(h.base_fee_per_gas.unwrap_or_default()) * U256::from(h.gas_used)),
        "stateRoot": h.state_root.to_string(),
        "txRoot": h.transactions_root.to_string(),
        "txCount": total,
        "txs": txs,
        "pager": pager(page, txs_len(total, page), Some(total)),
        "signers": signers,
        "payouts": block.payouts.iter().map(|(to, v)| json!({"to": to.to_string(), "value": fmt::ether(*v)})).collect::<Vec<_>>(),
        "hasNext": number < chain.head().number(),
    });
    Ok(Outcome::Page {
        template: "block.html",
        context: minijinja::Value::from_serialize(context),
    })
}

fn txs_len(total: u64, page: usize) -> usize {
    (total as usize)
        .saturating_sub((page - 1) * PER_PAGE)
        .min(PER_PAGE)
}

impl Explorer {
    /// The certificate that finalized block `number` of `shard`: its epoch, view and the
    /// signing members by name. `None` without a beacon chain or certificate (genesis).
    fn certificate_signers(&self, shard: u32, number: u64) -> Option<Json> {
        self.sources.beacon.as_ref()?;
        let cert = self
            .beacon_call(
                "kaimeng_getFinalityCertificate",
                vec![
                    json!(format!("shard-{shard}")),
                    json!(format!("0x{number:x}")),
                ],
            )
            .ok()?;
        let epoch = cert.get("epoch")?.as_u64()?;
        let validators = self
            .beacon_call("kaimeng_getBeaconEpoch", vec![json!(epoch)])
            .ok()
            .and_then(|e| e.get("validators").cloned())
            .unwrap_or(Json::Null);
        let names: Vec<Json> = cert
            .get("signatures")?
            .as_array()?
            .iter()
            .filter_map(|s| {
                let i = s.get("validator")?.as_u64()? as usize;
                let organisation = validators
                    .get(i)
                    .and_then(|v| v.get("organisation"))
                    .and_then(|o| o.as_str())
                    .unwrap_or("?");
                Some(json!({"index": i, "organisation": organisation}))
            })
            .collect();
        Some(json!({
            "epoch": epoch,
            "view": cert.get("view"),
            "certifiedHeight": cert.get("certifiedHeight"),
            "members": names,
        }))
    }
}
