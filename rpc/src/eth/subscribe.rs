//! `eth_subscribe` streams: `newHeads`, `logs` and `newPendingTransactions`.

use std::sync::Arc;

use alloy_rpc_types_eth::Filter;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::{PendingSubscriptionSink, SubscriptionMessage};
use kaimeng_shards::{ChainEvent, ShardChain, logs};
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use super::convert;
use crate::error::invalid_params;

enum Kind {
    NewHeads,
    Logs(Box<Filter>),
    PendingTxs,
}

fn parse(kind: &str, params: Option<serde_json::Value>) -> Result<Kind, String> {
    match kind {
        "newHeads" => Ok(Kind::NewHeads),
        "newPendingTransactions" => Ok(Kind::PendingTxs),
        "logs" => {
            let filter = match params {
                None => Filter::default(),
                Some(value) => serde_json::from_value(value)
                    .map_err(|e| format!("invalid logs filter: {e}"))?,
            };
            Ok(Kind::Logs(Box::new(filter)))
        }
        other => Err(format!(
            "unsupported subscription {other:?}: expected \"newHeads\", \"logs\" or \"newPendingTransactions\""
        )),
    }
}

fn message<T: Serialize>(value: &T) -> Option<SubscriptionMessage> {
    serde_json::value::to_raw_value(value)
        .ok()
        .map(SubscriptionMessage::from)
}

pub async fn subscribe(
    chain: Arc<ShardChain>,
    pending: PendingSubscriptionSink,
    kind: String,
    params: Option<serde_json::Value>,
) -> SubscriptionResult {
    let kind = match parse(&kind, params) {
        Ok(kind) => kind,
        Err(reason) => {
            pending.reject(invalid_params(reason)).await;
            return Ok(());
        }
    };
    let mut events = chain.subscribe();
    let sink = pending.accept().await?;
    loop {
        let event = tokio::select! {
            _ = sink.closed() => return Ok(()),
            event = events.recv() => event,
        };
        let messages: Vec<SubscriptionMessage> = match (&kind, event) {
            (Kind::NewHeads, Ok(ChainEvent::NewBlock(block))) => {
                message(&convert::header(&block.header, 0))
                    .into_iter()
                    .collect()
            }
            (Kind::Logs(filter), Ok(ChainEvent::NewBlock(block))) => {
                logs::filter_block(filter, &block)
                    .iter()
                    .filter_map(message)
                    .collect()
            }
            (Kind::PendingTxs, Ok(ChainEvent::PendingTx(hash))) => {
                message(&hash).into_iter().collect()
            }
            (_, Ok(_)) => continue,
            (_, Err(RecvError::Lagged(missed))) => {
                tracing::warn!(missed, "subscriber fell behind; events were dropped");
                continue;
            }
            (_, Err(RecvError::Closed)) => return Ok(()),
        };
        for msg in messages {
            if sink.send(msg).await.is_err() {
                return Ok(());
            }
        }
    }
}
