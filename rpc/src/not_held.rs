//! Refuses the state methods of a shard this node does not execute now (a validator holding
//! only its committees' shards, ADR 0101): its state of that shard stops where it last held
//! it, so an answer would look current and be stale. Identity methods (`eth_chainId`,
//! `net_*`, `web3_*`) and the node's own `kaimeng_*` methods still answer, so a client can
//! learn where it is and which shards this node holds (`kaimeng_heldShards`).

use std::sync::Arc;

use jsonrpsee::MethodResponse;
use jsonrpsee::core::middleware::{Batch, BatchEntry, Notification, RpcServiceT};
use jsonrpsee::types::{Id, Request};
use kaimeng_shards::ShardChain;

use crate::error::unavailable;

/// Whether `method` answers from the shard's state (and so must not while it is not held).
pub fn reads_shard_state(method: &str) -> bool {
    let namespaced = ["eth_", "debug_", "txpool_", "trace_"]
        .iter()
        .any(|prefix| method.starts_with(prefix));
    namespaced && method != "eth_chainId"
}

/// The layer; with no chain (a server that is not a shard's) it lets everything through.
#[derive(Clone, Default)]
pub struct NotHeldLayer {
    chain: Option<Arc<ShardChain>>,
}

impl NotHeldLayer {
    pub fn new(chain: Option<Arc<ShardChain>>) -> Self {
        Self { chain }
    }
}

impl<S> tower::Layer<S> for NotHeldLayer {
    type Service = NotHeld<S>;

    fn layer(&self, service: S) -> Self::Service {
        NotHeld {
            service,
            chain: self.chain.clone(),
        }
    }
}

#[derive(Clone)]
pub struct NotHeld<S> {
    service: S,
    chain: Option<Arc<ShardChain>>,
}

impl<S> NotHeld<S> {
    /// Why `methods` are refused now, if one of them reads a shard this node does not hold.
    fn refusal<'m>(&self, mut methods: impl Iterator<Item = &'m str>) -> Option<String> {
        let reason = self.chain.as_ref()?.not_held()?;
        methods.any(reads_shard_state).then_some(reason)
    }
}

impl<S> RpcServiceT for NotHeld<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, request: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let refusal = self.refusal(std::iter::once(request.method_name()));
        let service = self.service.clone();
        async move {
            match refusal {
                None => service.call(request).await,
                Some(reason) => MethodResponse::error(request.id, unavailable(reason)),
            }
        }
    }

    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let refusal = self.refusal(batch.iter().filter_map(|entry| match entry {
            Ok(BatchEntry::Call(request)) => Some(request.method_name()),
            Ok(BatchEntry::Notification(notification)) => Some(notification.method_name()),
            Err(_) => None,
        }));
        let service = self.service.clone();
        async move {
            match refusal {
                None => service.batch(batch).await,
                Some(reason) => MethodResponse::error(Id::Null, unavailable(reason)),
            }
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}

#[cfg(test)]
mod tests {
    use super::reads_shard_state;

    #[test]
    fn state_methods_are_told_from_identity_and_node_methods() {
        for method in [
            "eth_getBalance",
            "eth_blockNumber",
            "eth_sendRawTransaction",
            "eth_subscribe",
            "debug_traceTransaction",
            "txpool_content",
        ] {
            assert!(reads_shard_state(method), "{method}");
        }
        for method in [
            "eth_chainId",
            "net_version",
            "web3_clientVersion",
            "kaimeng_heldShards",
            "kaimeng_committees",
        ] {
            assert!(!reads_shard_state(method), "{method}");
        }
    }
}
