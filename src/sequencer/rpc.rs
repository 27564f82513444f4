//! The sequencer's JSON-RPC over HTTP and WebSocket.
//!
//! Users: `rollup_sendTransaction`, `rollup_getAccount`, `rollup_getTransaction`,
//! `rollup_getBatch`, `rollup_status`, `rollup_feeQuote`, and the subscriptions
//! `rollup_subscribeAccount` / `rollup_subscribeTransaction` (notifications
//! `rollup_account` / `rollup_transaction`).
//!
//! It is served like a shard's RPC (`kaimeng_rpc::server::serve_methods`): a request rate per
//! client address, bounded connections, request sizes, batches and subscriptions per
//! connection, and here also a bound on subscriptions in all. The prover methods are on their
//! own authenticated listener ([`super::prover_rpc`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use alloy_primitives::B256;
use jsonrpsee::server::{RpcModule, ServerHandle, SubscriptionMessage};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use kaimeng_rpc::server::{RpcLimits, serve_methods};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::core::{Core, Event, SubmitError};
use super::wire::TxRequest;

/// Invalid parameters (malformed requests).
pub(super) const INVALID: i32 = -32602;
/// A transaction the sequencer refuses.
pub(super) const REFUSED: i32 = -32003;
/// A limit reached: retry later (as the shard RPC's rate limit answers).
pub(super) const LIMITED: i32 = -32005;

pub(super) fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

/// The public listener's bounds.
#[derive(Clone, Debug)]
pub struct PublicLimits {
    /// Rate, connections, sizes and subscriptions per connection, as a shard's RPC has them.
    pub rpc: RpcLimits,
    /// Subscriptions open at once over every connection.
    pub max_subscriptions: usize,
}

/// The `kaimeng sequencer` config's defaults.
impl Default for PublicLimits {
    fn default() -> Self {
        Self {
            rpc: RpcLimits {
                max_connections: super::default_max_connections(),
                max_subscriptions_per_connection: super::default_max_subscriptions_per_connection(),
                requests_per_second_per_client: super::default_rate_limit(),
                ..RpcLimits::default()
            },
            max_subscriptions: super::default_max_subscriptions(),
        }
    }
}

/// One open subscription, counted in the listener's total until dropped.
struct SubscriptionSlot(Arc<AtomicUsize>);

impl SubscriptionSlot {
    fn take(open: &Arc<AtomicUsize>, max: usize) -> Result<Self, ErrorObjectOwned> {
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .map(|_| Self(open.clone()))
        .map_err(|_| {
            error(
                LIMITED,
                format!("too many subscriptions: this sequencer serves at most {max} at once"),
            )
        })
    }
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub(super) fn param<T: serde::de::DeserializeOwned>(
    params: &Params<'_>,
    what: &str,
) -> Result<T, ErrorObjectOwned> {
    let mut seq = params.sequence();
    seq.next::<T>()
        .map_err(|e| error(INVALID, format!("{what}: {}", e.message())))
}

/// Serves the users' RPC on `listen`; returns the bound address.
pub async fn serve(
    listen: SocketAddr,
    core: Arc<Core>,
    limits: &PublicLimits,
) -> anyhow::Result<(SocketAddr, ServerHandle)> {
    let methods = module(core, limits.max_subscriptions)?;
    serve_methods(listen, &limits.rpc, methods.into())
        .await
        .map_err(|e| anyhow::anyhow!("sequencer RPC: {e}"))
}

/// The users' methods; at most `max_subscriptions` subscriptions are open at once.
pub fn module(core: Arc<Core>, max_subscriptions: usize) -> anyhow::Result<RpcModule<Arc<Core>>> {
    let open = Arc::new(AtomicUsize::new(0));
    let mut m = RpcModule::new(core);
    m.register_async_method("rollup_sendTransaction", |params, core, _| async move {
        let request: TxRequest = param(&params, "transaction")?;
        let op = request.to_op().map_err(|e| error(INVALID, e))?;
        let accepted = core.submit(op).await.map_err(|e| match e {
            SubmitError::Refused(reason) => error(REFUSED, reason),
            SubmitError::Busy(reason) => error(LIMITED, reason),
        })?;
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
    m.register_subscription(
        "rollup_subscribeAccount",
        "rollup_account",
        "rollup_unsubscribeAccount",
        {
            let open = open.clone();
            move |params, pending, core, _| {
                let admitted = SubscriptionSlot::take(&open, max_subscriptions)
                    .and_then(|slot| Ok((slot, param::<u32>(&params, "account index")?)));
                async move {
                    let (_slot, index) = match admitted {
                        Ok(admitted) => admitted,
                        Err(e) => {
                            pending.reject(e).await;
                            return Ok(());
                        }
                    };
                    follow(pending, &core, Follow {
                        view: |core: &Core| core.account_view(index),
                        changed: |new: &Value, last: &Value| new != last,
                        is_last: |_: &Value| false,
                        wakes: |event: &Event| !matches!(event, Event::Account(i) if *i != index),
                    })
                    .await
                }
            }
        },
    )?;
    m.register_subscription(
        "rollup_subscribeTransaction",
        "rollup_transaction",
        "rollup_unsubscribeTransaction",
        move |params, pending, core, _| {
            let admitted = SubscriptionSlot::take(&open, max_subscriptions)
                .and_then(|slot| Ok((slot, param::<B256>(&params, "transaction hash")?)))
                .and_then(|(slot, hash)| match core.tx_view(hash) {
                    Some(_) => Ok((slot, hash)),
                    None => Err(error(INVALID, format!("unknown transaction {hash}"))),
                });
            async move {
                let (_slot, hash) = match admitted {
                    Ok(admitted) => admitted,
                    Err(e) => {
                        pending.reject(e).await;
                        return Ok(());
                    }
                };
                follow(
                    pending,
                    &core,
                    Follow {
                        view: |core: &Core| core.tx_view(hash).unwrap_or(Value::Null),
                        changed: |new: &Value, last: &Value| new["status"] != last["status"],
                        is_last: |view: &Value| view["status"] == "executed",
                        wakes: |event: &Event| matches!(event, Event::Batch(_)),
                    },
                )
                .await
            }
        },
    )?;
    Ok(m)
}

/// What a subscription follows: its `view`, when a new view is worth sending (`changed`
/// from the last one sent), after which view it ends (`is_last`), and which events may
/// change it (`wakes`).
struct Follow<V, C, L, W> {
    view: V,
    changed: C,
    is_last: L,
    wakes: W,
}

/// Accepts `pending` and sends the view at once and again whenever an event it `wakes` on
/// (or a lag, which may hide one) changed it; ends when the client goes away or after the
/// last view.
async fn follow<V, C, L, W>(
    pending: jsonrpsee::PendingSubscriptionSink,
    core: &Core,
    follow: Follow<V, C, L, W>,
) -> jsonrpsee::core::SubscriptionResult
where
    V: Fn(&Core) -> Value,
    C: Fn(&Value, &Value) -> bool,
    L: Fn(&Value) -> bool,
    W: Fn(&Event) -> bool,
{
    let mut events = core.subscribe();
    let sink = pending.accept().await?;
    let mut last = Value::Null;
    loop {
        let view = (follow.view)(core);
        if (follow.changed)(&view, &last) {
            sink.send(notification(&view)?).await?;
            if (follow.is_last)(&view) {
                return Ok(());
            }
            last = view;
        }
        loop {
            tokio::select! {
                _ = sink.closed() => return Ok(()),
                event = events.recv() => match event {
                    Ok(event) if !(follow.wakes)(&event) => continue,
                    Ok(_) | Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return Ok(()),
                },
            }
        }
    }
}

fn notification(view: &Value) -> Result<SubscriptionMessage, serde_json::Error> {
    Ok(SubscriptionMessage::from(serde_json::value::to_raw_value(
        view,
    )?))
}
