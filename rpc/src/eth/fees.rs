//! Fee suggestions and `eth_feeHistory`.

use alloy_consensus::Transaction as _;
use alloy_rpc_types_eth::FeeHistory;
use kaimeng_shards::ShardChain;
use kaimeng_shards::fees::next_base_fee;

use crate::error::{RpcResult, from_chain, invalid_params};

/// Most blocks one `eth_feeHistory` call covers.
pub const MAX_FEE_HISTORY_BLOCKS: u64 = 1024;

/// The priority fee we suggest: the chain's fees are small by design and blocks are rarely
/// full, so no tip is needed to be included.
pub const SUGGESTED_TIP: u128 = 0;

pub fn fee_history(
    chain: &ShardChain,
    count: u64,
    newest: u64,
    percentiles: Option<&[f64]>,
) -> RpcResult<FeeHistory> {
    if let Some(p) = percentiles {
        if p.len() > 100
            || p.iter().any(|v| !(0.0..=100.0).contains(v))
            || p.windows(2).any(|w| w[0] > w[1])
        {
            return Err(invalid_params(
                "rewardPercentiles must be at most 100 ascending values between 0 and 100",
            ));
        }
    }
    let count = count.min(MAX_FEE_HISTORY_BLOCKS).min(newest + 1);
    let oldest = newest + 1 - count;
    let mut history = FeeHistory {
        oldest_block: oldest,
        ..Default::default()
    };
    let min = chain.config().min_base_fee;
    for number in oldest..=newest {
        let block = chain
            .block(number)
            .map_err(from_chain)?
            .ok_or_else(|| invalid_params(format!("block {number} not found")))?;
        let h = &block.header.header;
        let base_fee = h.base_fee_per_gas.unwrap_or_default();
        history.base_fee_per_gas.push(base_fee as u128);
        history.gas_used_ratio.push(if h.gas_limit == 0 {
            0.0
        } else {
            h.gas_used as f64 / h.gas_limit as f64
        });
        history.base_fee_per_blob_gas.push(1);
        history.blob_gas_used_ratio.push(0.0);
        if number == newest {
            history
                .base_fee_per_gas
                .push(next_base_fee(base_fee, h.gas_used, h.gas_limit, min) as u128);
            history.base_fee_per_blob_gas.push(1);
        }
        if let Some(p) = percentiles {
            let mut tips: Vec<(u128, u64)> = block
                .txs
                .iter()
                .zip(&block.receipts)
                .map(|(tx, r)| {
                    (
                        tx.envelope
                            .effective_tip_per_gas(base_fee)
                            .unwrap_or_default(),
                        r.gas_used,
                    )
                })
                .collect();
            tips.sort_unstable();
            let rewards = p
                .iter()
                .map(|pct| {
                    let threshold = (h.gas_used as f64 * pct / 100.0) as u64;
                    let mut cumulative = 0u64;
                    tips.iter()
                        .find(|(_, gas)| {
                            cumulative += gas;
                            cumulative >= threshold
                        })
                        .or(tips.last())
                        .map(|(tip, _)| *tip)
                        .unwrap_or_default()
                })
                .collect();
            history.reward.get_or_insert_with(Vec::new).push(rewards);
        }
    }
    Ok(history)
}
