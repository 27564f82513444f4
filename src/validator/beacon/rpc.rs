//! The beacon chain's RPC: the consortium state and governance pool behind `kaimeng_*`
//! ([`ConsortiumRpc`]), and `kaimeng_crosslinks`, `kaimeng_getBeaconBlock` and
//! `kaimeng_getBeaconEpoch` over final beacon blocks and epoch records ([`beacon_methods`]).

use std::sync::Arc;

use alloy_primitives::B256;
use jsonrpsee::RpcModule;
use jsonrpsee::types::ErrorObjectOwned;
use kaimeng_l1::beacon::{BeaconBlock, decode_section, shard_epoch};
use kaimeng_l1::governance::{ConsortiumState, GovernanceError, SignedGovernanceTx};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::BeaconChain;

/// Most beacon blocks one `kaimeng_crosslinks` call reads.
pub const MAX_CROSSLINK_SPAN: u64 = 256;

/// The `kaimeng_*` RPC's view of the node.
pub struct ConsortiumRpc {
    pub beacon: Arc<BeaconChain>,
    pub network: kaimeng_network::NetworkHandle,
}

impl kaimeng_rpc::Consortium for ConsortiumRpc {
    fn finalized_state(&self) -> ConsortiumState {
        self.beacon.finalized_state().consortium
    }

    fn pooled_next_nonce(&self, organisation: &str) -> Option<u64> {
        self.beacon.pooled_next_nonce(organisation)
    }

    fn submit_governance(&self, tx: SignedGovernanceTx) -> Result<B256, GovernanceError> {
        let encoded = tx.encode();
        let id = self.beacon.submit(tx)?;
        let network = self.network.clone();
        tokio::spawn(async move {
            let topic = kaimeng_network::Topic::Transactions(kaimeng_network::Chain::Beacon);
            if let Err(error) = network.publish(topic, encoded).await {
                tracing::debug!(%error, "governance transaction not gossiped");
            }
        });
        Ok(id)
    }
}

impl kaimeng_rpc::CertifiedChain for BeaconChain {
    fn name(&self) -> String {
        "beacon".into()
    }

    fn namespace(&self) -> String {
        String::from_utf8_lossy(kaimeng_l1::beacon::BEACON_NAMESPACE).into_owned()
    }

    fn finalized_height(&self) -> u64 {
        self.finalized_state().height
    }

    fn certificate(&self, height: u64) -> Result<Option<(u64, Vec<u8>)>, String> {
        super::store::certificate(self.store(), height).map_err(|e| e.to_string())
    }

    fn header(&self, height: u64) -> Result<Option<(B256, Vec<u8>)>, String> {
        Ok(self
            .block(height)
            .map_err(|e| e.to_string())?
            .map(|block| (block.hash(self.suite()), block.header.encode().to_vec())))
    }
}

/// Which crosslinks to list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CrosslinkQuery {
    /// First beacon height (default: the last `MAX_CROSSLINK_SPAN` final blocks).
    from_height: Option<u64>,
    /// Last beacon height (default: the final head; heights past it list nothing).
    to_height: Option<u64>,
    /// Only this shard's crosslinks.
    shard: Option<u32>,
}

/// One crosslink as the RPC reports it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CrosslinkView {
    pub beacon_height: u64,
    pub beacon_hash: B256,
    pub shard: u32,
    /// The shard heights linked, first and last.
    pub from_height: u64,
    pub to_height: u64,
    /// The shard epoch of the linked headers.
    pub shard_epoch: u64,
    /// Each linked header's hash, in order.
    pub headers: Vec<B256>,
    /// Base fee × gas used, summed over the linked headers (wei, decimal).
    pub base_fees: String,
    /// The validator indices that signed the last header's finality certificate.
    pub signers: Vec<u32>,
}

pub(super) fn invalid(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32602, message.into(), None::<()>)
}

/// What was wrong with a parameter: jsonrpsee keeps serde's reason in the error's data.
pub(super) fn reason(error: &ErrorObjectOwned) -> String {
    error
        .data()
        .map(|data| data.get().trim_matches('"').to_owned())
        .unwrap_or_else(|| error.message().to_owned())
}

pub(super) fn internal(error: impl std::fmt::Display) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(-32603, error.to_string(), None::<()>)
}

fn views(beacon: &BeaconChain, block: &BeaconBlock, shard: Option<u32>) -> Vec<CrosslinkView> {
    let hash = block.hash(beacon.suite());
    let length = beacon.finalized_state().shard_epoch_length;
    block
        .body
        .crosslinks
        .iter()
        .filter(|link| shard.is_none_or(|s| s == link.shard))
        .map(|link| {
            let first = link.headers.first().map_or(0, |h| h.number);
            let last = link.headers.last().map_or(0, |h| h.number);
            let fees = link
                .headers
                .iter()
                .fold(alloy_primitives::U256::ZERO, |sum, h| {
                    sum + alloy_primitives::U256::from(h.base_fee_per_gas.unwrap_or_default())
                        * alloy_primitives::U256::from(h.gas_used)
                });
            let signers = kaimeng_consensus::codec::decode_certificate(&link.certificate)
                .map(|c| c.signatures.iter().map(|(i, _)| *i).collect())
                .unwrap_or_default();
            CrosslinkView {
                beacon_height: block.header.height,
                beacon_hash: hash,
                shard: link.shard,
                from_height: first,
                to_height: last,
                shard_epoch: shard_epoch(last, length),
                headers: link.headers.iter().map(|h| h.hash_slow()).collect(),
                base_fees: fees.to_string(),
                signers,
            }
        })
        .collect()
}

/// `kaimeng_crosslinks`, `kaimeng_getBeaconBlock`, `kaimeng_getBeaconEpoch`,
/// `kaimeng_committees`, `kaimeng_submitEvidence` and `kaimeng_evidence`.
pub fn beacon_methods(beacon: Arc<BeaconChain>) -> RpcModule<Arc<BeaconChain>> {
    let mut module = RpcModule::new(beacon);
    module
        .register_blocking_method("kaimeng_crosslinks", |params, beacon, _| {
            let query: CrosslinkQuery = match params.one::<Option<CrosslinkQuery>>() {
                Ok(query) => query.unwrap_or(CrosslinkQuery {
                    from_height: None,
                    to_height: None,
                    shard: None,
                }),
                Err(error) => {
                    return Err(invalid(format!(
                        "kaimeng_crosslinks takes one object {{fromHeight, toHeight, shard}}: {}",
                        reason(&error)
                    )));
                }
            };
            let head = beacon.finalized_state().height;
            let to = query.to_height.unwrap_or(head);
            let from = query
                .from_height
                .unwrap_or_else(|| to.min(head).saturating_sub(MAX_CROSSLINK_SPAN - 1));
            if from > to {
                return Err(invalid(format!(
                    "fromHeight {from} is after toHeight {to} (the final beacon head is {head})"
                )));
            }
            if to - from >= MAX_CROSSLINK_SPAN {
                return Err(invalid(format!(
                    "at most {MAX_CROSSLINK_SPAN} beacon blocks per call; asked for {}",
                    to - from + 1
                )));
            }
            if let Some(shard) = query.shard
                && shard as usize >= beacon.finalized_state().shards.len()
            {
                return Err(invalid(format!("no shard {shard}")));
            }
            let mut out = Vec::new();
            for height in from..=to.min(head) {
                let block = beacon
                    .block(height)
                    .map_err(internal)?
                    .ok_or_else(|| internal(format!("final beacon block {height} is missing")))?;
                out.extend(views(&beacon, &block, query.shard));
            }
            Ok::<_, ErrorObjectOwned>(out)
        })
        .expect("kaimeng_crosslinks is registered once");
    module
        .register_blocking_method("kaimeng_getBeaconBlock", |params, beacon, _| {
            let height: u64 = params.one().map_err(|e| {
                invalid(format!(
                    "kaimeng_getBeaconBlock takes a height: {}",
                    reason(&e)
                ))
            })?;
            let Some(block) = beacon.block(height).map_err(internal)? else {
                return Ok(serde_json::Value::Null);
            };
            let governance = decode_section(&block.body.governance)
                .map(|txs| txs.len())
                .unwrap_or(0);
            let certified = super::store::certificate(beacon.store(), height)
                .map_err(internal)?
                .map(|(certified, _)| certified);
            Ok::<_, ErrorObjectOwned>(json!({
                "height": block.header.height,
                "hash": block.hash(beacon.suite()),
                "parentHash": block.header.parent,
                "timestamp": block.header.timestamp,
                "bodyRoot": block.header.body_root,
                "stateRoot": block.header.state_root,
                "governanceTransactions": governance,
                "crosslinks": views(&beacon, &block, None),
                "certifiedHeight": certified,
            }))
        })
        .expect("kaimeng_getBeaconBlock is registered once");
    module
        .register_blocking_method("kaimeng_getBeaconEpoch", |params, beacon, _| {
            let epoch: u64 = params.one().map_err(|e| {
                invalid(format!(
                    "kaimeng_getBeaconEpoch takes an epoch number: {}",
                    reason(&e)
                ))
            })?;
            let record = beacon.epoch_record(epoch).map_err(internal)?;
            Ok::<_, ErrorObjectOwned>(record.map(|r| {
                json!({
                    "epoch": r.epoch,
                    "startHeight": r.start_height,
                    "validators": r.validators,
                    "gasLimit": r.gas_limit,
                    "minBaseFee": r.min_base_fee.to_string(),
                    "seed": r.seed,
                    "committeeSize": r.committee_size,
                    "committees": r.committees,
                    "payouts": r.payouts.iter().enumerate().map(|(shard, payouts)| json!({
                        "shard": shard,
                        "shares": payouts.iter().map(|(to, amount)| json!({
                            "feeRecipient": to,
                            "amount": amount.to_string(),
                        })).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })
            }))
        })
        .expect("kaimeng_getBeaconEpoch is registered once");
    module
        .register_blocking_method("kaimeng_committees", |params, beacon, _| {
            let epoch: Option<u64> = params.sequence().optional_next().map_err(|e| {
                invalid(format!(
                    "kaimeng_committees takes an epoch number (or nothing, for the current epoch): {}",
                    reason(&e)
                ))
            })?;
            let epoch = epoch.unwrap_or_else(|| beacon.finalized_state().consortium.epoch().epoch);
            super::committees::view(&beacon, epoch).map_err(internal)
        })
        .expect("kaimeng_committees is registered once");
    module
        .register_blocking_method("kaimeng_submitEvidence", |params, beacon, _| {
            let bytes: alloy_primitives::Bytes = params.one().map_err(|e| {
                invalid(format!(
                    "kaimeng_submitEvidence takes the evidence as 0x-hex bytes: {}",
                    reason(&e)
                ))
            })?;
            let evidence = kaimeng_l1::beacon::Evidence::from_bytes(&bytes)
                .map_err(|e| invalid(format!("undecodable evidence: {e}")))?;
            beacon
                .submit_and_gossip_evidence(evidence)
                .map_err(|e| invalid(e.to_string()))
        })
        .expect("kaimeng_submitEvidence is registered once");
    module
        .register_method("kaimeng_evidence", |_, beacon, _| {
            beacon.finalized_state().evidence
        })
        .expect("kaimeng_evidence is registered once");
    module
        .register_method("kaimeng_heldShards", |_, beacon, _| {
            (0..beacon.shard_count())
                .filter(|s| beacon.holds(*s))
                .collect::<Vec<u32>>()
        })
        .expect("kaimeng_heldShards is registered once");
    module
}
