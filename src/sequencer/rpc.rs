//! The sequencer's JSON-RPC over HTTP and WebSocket.
//!
//! Users: `rollup_sendTransaction`, `rollup_getAccount`, `rollup_getTransaction`,
//! `rollup_getBatch`, `rollup_status`, `rollup_feeQuote`, and the subscriptions
//! `rollup_subscribeAccount` / `rollup_subscribeTransaction` (notifications
//! `rollup_account` / `rollup_transaction`). Provers: `prover_lease` and `prover_complete`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use alloy_primitives::{B256, Bytes};
use jsonrpsee::server::{RpcModule, Server, ServerHandle, SubscriptionMessage};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use kaimeng_prover::ChunkShape;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::core::{Core, Event};
use super::jobs::JobId;
use super::wire::TxRequest;

/// Invalid parameters (malformed requests).
const INVALID: i32 = -32602;
/// A transaction the sequencer refuses.
const REFUSED: i32 = -32003;

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

fn param<T: serde::de::DeserializeOwned>(
    params: &Params<'_>,
    what: &str,
) -> Result<T, ErrorObjectOwned> {
    let mut seq = params.sequence();
    seq.next::<T>()
        .map_err(|e| error(INVALID, format!("{what}: {}", e.message())))
}

/// Serves the sequencer's RPC on `listen`; returns the bound address.
pub async fn serve(
    listen: SocketAddr,
    core: Arc<Core>,
    shape: ChunkShape,
) -> anyhow::Result<(SocketAddr, ServerHandle)> {
    let server = Server::builder()
        .set_config(
            jsonrpsee::server::ServerConfig::builder()
                .max_request_body_size(16 << 20)
                .max_response_body_size(64 << 20)
                .max_connections(2_048)
                .build(),
        )
        .build(listen)
        .await
        .map_err(|e| anyhow::anyhow!("sequencer RPC on {listen}: {e}"))?;
    let addr = server.local_addr()?;
    let handle = server.start(module(core, shape)?);
    Ok((addr, handle))
}

/// The RPC methods.
pub fn module(core: Arc<Core>, shape: ChunkShape) -> anyhow::Result<RpcModule<Arc<Core>>> {
    let mut m = RpcModule::new(core);
    m.register_async_method("rollup_sendTransaction", |params, core, _| async move {
        let request: TxRequest = param(&params, "transaction")?;
        let op = request.to_op().map_err(|e| error(INVALID, e))?;
        let accepted = core.submit(op).await.map_err(|e| error(REFUSED, e))?;
        Ok::<_, ErrorObjectOwned>(json!({
            "hash": accepted.hash,
            "seq": accepted.seq,
            "status": "accepted",
        }))
    })?;
    m.register_method("rollup_getAccount", |params, core, _| {
        let index: u32 = param(&params, "account index")?;
        Ok::<_, ErrorObjectOwned>(core.account_view(index))
    })?;
    m.register_method("rollup_getTransaction", |params, core, _| {
        let hash: B256 = param(&params, "transaction hash")?;
        Ok::<_, ErrorObjectOwned>(core.tx_view(hash).unwrap_or(Value::Null))
    })?;
    m.register_method("rollup_getBatch", |params, core, _| {
        let number: u64 = param(&params, "batch number")?;
        Ok::<_, ErrorObjectOwned>(core.batch_view(number).unwrap_or(Value::Null))
    })?;
    m.register_method("rollup_status", |_, core, _| core.status_view())?;
    m.register_method("rollup_feeQuote", |_, core, _| {
        let fee = core.settings.min_fee;
        json!({
            "transfer": fee,
            "withdraw": fee,
            "unit": "gwei",
            "note": "the sequencer's minimum fee per operation, in L2 units",
        })
    })?;
    m.register_method("prover_lease", move |params, core, _| {
        let worker: String = param(&params, "worker name")?;
        let Some(lease) = core.jobs.lock().lease(&worker, Instant::now()) else {
            return Ok::<_, ErrorObjectOwned>(Value::Null);
        };
        let witness: Value = serde_json::from_str(&lease.witness)
            .map_err(|e| error(-32603, format!("witness: {e}")))?;
        Ok(json!({
            "job": lease.id.to_string(),
            "shape": {"slots": shape.slots, "k": shape.k},
            "leaseSeconds": lease.until.saturating_duration_since(Instant::now()).as_secs(),
            "witness": witness,
        }))
    })?;
    m.register_async_method("prover_complete", |params, core, _| async move {
        let mut seq = params.sequence();
        let job: String = seq
            .next()
            .map_err(|e| error(INVALID, format!("job id: {}", e.message())))?;
        let proof: Bytes = seq
            .next()
            .map_err(|e| error(INVALID, format!("proof: {}", e.message())))?;
        let id: JobId = job.parse().map_err(|e: String| error(INVALID, e))?;
        core.complete_job(id, proof.to_vec())
            .await
            .map_err(|e| error(REFUSED, format!("{e:#}")))
    })?;
    m.register_subscription(
        "rollup_subscribeAccount",
        "rollup_account",
        "rollup_unsubscribeAccount",
        |params, pending, core, _| async move {
            let index: u32 = match param(&params, "account index") {
                Ok(index) => index,
                Err(e) => {
                    pending.reject(e).await;
                    return Ok(());
                }
            };
            let mut events = core.subscribe();
            let sink = pending.accept().await?;
            let mut last = Value::Null;
            loop {
                let view = core.account_view(index);
                if view != last {
                    sink.send(SubscriptionMessage::from(serde_json::value::to_raw_value(
                        &view,
                    )?))
                    .await?;
                    last = view;
                }
                tokio::select! {
                    _ = sink.closed() => return Ok(()),
                    event = events.recv() => match event {
                        Ok(Event::Account(i)) if i != index => continue,
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return Ok(()),
                    },
                }
            }
        },
    )?;
    m.register_subscription(
        "rollup_subscribeTransaction",
        "rollup_transaction",
        "rollup_unsubscribeTransaction",
        |params, pending, core, _| async move {
            let hash: B256 = match param(&params, "transaction hash") {
                Ok(hash) => hash,
                Err(e) => {
                    pending.reject(e).await;
                    return Ok(());
                }
            };
            if core.tx_view(hash).is_none() {
                pending
                    .reject(error(INVALID, format!("unknown transaction {hash}")))
                    .await;
                return Ok(());
            }
            let mut events = core.subscribe();
            let sink = pending.accept().await?;
            let mut last = Value::Null;
            loop {
                let view = core.tx_view(hash).unwrap_or(Value::Null);
                if view["status"] != last["status"] {
                    sink.send(SubscriptionMessage::from(serde_json::value::to_raw_value(
                        &view,
                    )?))
                    .await?;
                    if view["status"] == "executed" {
                        return Ok(());
                    }
                    last = view;
                }
                tokio::select! {
                    _ = sink.closed() => return Ok(()),
                    event = events.recv() => match event {
                        Ok(Event::Account(_)) => continue,
                        Ok(Event::Batch(_)) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return Ok(()),
                    },
                }
            }
        },
    )?;
    Ok(m)
}
