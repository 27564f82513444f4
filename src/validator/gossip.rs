//! Transactions between validators' pools: local submissions are gossiped in batches;
//! batches from peers are decoded (senders recovered in parallel) and pooled without being
//! gossiped again by this node (the chain knows which transactions were submitted to it).
//! A local submission still pending after a few seconds is gossiped again: the members that
//! hold a shard change with its committees, and a member that takes a shard up has not seen
//! what was gossiped before it joined the shard's topics.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::Bytes;
use kaimeng_network::{Chain, NetworkHandle, Topic};
use kaimeng_shards::{ChainEvent, ShardChain, ShardTx};
use tokio::sync::broadcast::error::RecvError;

/// Most transactions in one gossip message.
const MAX_BATCH: usize = 512;
/// How long a batch waits for more transactions.
const BATCH_DELAY: Duration = Duration::from_millis(5);
/// How often local transactions still pending are gossiped again.
const REPUBLISH_INTERVAL: Duration = Duration::from_secs(3);
/// Most transactions gossiped again per interval.
const MAX_REPUBLISH: usize = 1_024;

/// Gossips this node's new pool transactions until the chain's event stream closes.
pub async fn publish_local(chain: Arc<ShardChain>, network: NetworkHandle) {
    let mut events = chain.subscribe();
    let topic = Topic::Transactions(Chain::Shard(chain.config().shard));
    loop {
        let mut batch: Vec<Bytes> = Vec::new();
        let first = match events.recv().await {
            Ok(ChainEvent::PendingTx(hash)) => Some(hash),
            Ok(_) | Err(RecvError::Lagged(_)) => None,
            Err(RecvError::Closed) => return,
        };
        let Some(first) = first else { continue };
        let mut hashes = vec![first];
        let deadline = tokio::time::sleep(BATCH_DELAY);
        tokio::pin!(deadline);
        while hashes.len() < MAX_BATCH {
            tokio::select! {
                _ = &mut deadline => break,
                event = events.recv() => match event {
                    Ok(ChainEvent::PendingTx(hash)) => hashes.push(hash),
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
            }
        }
        {
            let pool = chain.pool();
            for hash in hashes {
                if !chain.is_local(&hash) {
                    continue;
                }
                if let Some(tx) = pool.get(&hash) {
                    batch.push(tx.encoded.clone());
                }
            }
        }
        if !batch.is_empty() {
            if let Err(error) = network.publish(topic, encode_batch(&batch)).await {
                tracing::debug!(%error, "transactions not gossiped");
            }
        }
    }
}

/// Every [`REPUBLISH_INTERVAL`], gossips again the local transactions that were already
/// pending at the previous tick (so each waited at least one interval), until the network
/// stops.
pub async fn republish_local(chain: Arc<ShardChain>, network: NetworkHandle) {
    let topic = Topic::Transactions(Chain::Shard(chain.config().shard));
    let mut previous = std::collections::HashSet::new();
    let mut ticks = tokio::time::interval(REPUBLISH_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let pending = chain.local_pending(MAX_REPUBLISH);
        let again: Vec<Bytes> = pending
            .iter()
            .filter(|tx| previous.contains(&tx.hash))
            .map(|tx| tx.encoded.clone())
            .collect();
        previous = pending.iter().map(|tx| tx.hash).collect();
        for batch in again.chunks(MAX_BATCH) {
            if let Err(error) = network.publish(topic, encode_batch(batch)).await {
                tracing::debug!(%error, "pending transactions not gossiped again");
                break;
            }
        }
    }
}

/// Pools a batch from a peer. Invalid transactions are dropped one by one (the peer may
/// have pooled them before a block made them stale).
pub fn pool_remote(chain: &ShardChain, data: &[u8]) -> Result<usize, String> {
    let raws = decode_batch(data)?;
    let decoded = ShardTx::decode_many(&raws, chain.config().chain_id);
    let mut pooled = 0;
    for tx in decoded.into_iter().flatten() {
        if chain.submit_from_peer(Arc::new(tx)).is_ok() {
            pooled += 1;
        }
    }
    Ok(pooled)
}

fn encode_batch(txs: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::with_capacity(txs.iter().map(|t| 4 + t.len()).sum());
    for tx in txs {
        out.extend_from_slice(&(tx.len() as u32).to_be_bytes());
        out.extend_from_slice(tx);
    }
    out
}

fn decode_batch(mut data: &[u8]) -> Result<Vec<Bytes>, String> {
    let mut txs = Vec::new();
    while !data.is_empty() {
        let len = data
            .get(..4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("four bytes")) as usize)
            .ok_or("transaction batch ends inside a length")?;
        let tx = data
            .get(4..4 + len)
            .ok_or("transaction batch ends inside a transaction")?;
        txs.push(Bytes::copy_from_slice(tx));
        data = &data[4 + len..];
    }
    Ok(txs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_and_truncation_is_an_error() {
        let txs = vec![
            Bytes::from_static(b"abc"),
            Bytes::new(),
            Bytes::from_static(&[7; 300]),
        ];
        let encoded = encode_batch(&txs);
        assert_eq!(decode_batch(&encoded).unwrap(), txs);
        assert!(decode_batch(&encoded[..encoded.len() - 1]).is_err());
        assert!(decode_batch(&[0, 0]).is_err());
    }
}
