//! Starting a shard's JSON-RPC server (HTTP and WebSocket on one port) with its limits.
//!
//! The server runs its own accept loop around jsonrpsee's tower service so that every request
//! carries the client's address ([`ClientAddr`]) for the per-address rate limit; jsonrpsee's
//! own loop does not expose it, and so that a connection stops reading requests while its
//! answers cannot be written ([`Backpressured`]).

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::Address;
use jsonrpsee::RpcModule;
use jsonrpsee::core::BoxError;
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    BatchRequestConfig, HttpBody, Server, ServerConfig, ServerHandle, serve_with_graceful_shutdown,
    stop_channel,
};
use kaimeng_shards::ShardChain;
use tokio::net::TcpListener;

use crate::api::debug::{DebugApiServer, RawApiServer};
use crate::api::eth::{EthApiServer, EthToolsApiServer};
use crate::api::net::{NetApiServer, Web3ApiServer};
use crate::api::txpool::TxpoolApiServer;
use crate::backpressure::Backpressured;
use crate::debug::DebugRpc;
use crate::eth::tools::EthToolsRpc;
use crate::eth::{DevSigner, EthRpc};
use crate::http_guard::{HttpGuardLayer, MarkNotificationsLayer};
use crate::net::{NetRpc, Web3Rpc};
use crate::node_status::NodeStatus;
use crate::not_held::NotHeldLayer;
use crate::pages::Pages;
use crate::rate_limit::{ClientAddr, ClientBuckets, RateLimitLayer};
use crate::raw::RawRpc;
use crate::read_pool::ReadPool;
use crate::txpool::TxpoolRpc;

/// Limits every server enforces; each refusal names the limit that was hit.
#[derive(Clone, Debug)]
pub struct RpcLimits {
    pub max_request_bytes: u32,
    pub max_response_bytes: u32,
    pub max_batch_len: u32,
    pub max_connections: u32,
    pub max_subscriptions_per_connection: u32,
    /// Requests per second per client IP address, over HTTP and WebSocket together (a batch
    /// costs its length); see ADR 0082.
    pub requests_per_second_per_client: u32,
    /// Threads of the read pool that runs `eth_call`, `eth_estimateGas`, `eth_getLogs`, the
    /// filter polls and tracing off the async runtime; see ADR 0095.
    pub read_threads: u32,
    /// Calls that may wait for a read thread; one more is refused with -32005.
    pub read_queue: u32,
}

impl Default for RpcLimits {
    fn default() -> Self {
        Self {
            max_request_bytes: 5 * 1024 * 1024,
            max_response_bytes: 50 * 1024 * 1024,
            max_batch_len: 1_000,
            max_connections: 1_000,
            max_subscriptions_per_connection: 1_024,
            requests_per_second_per_client: 20_000,
            read_threads: crate::read_pool::default_threads(),
            read_queue: crate::read_pool::DEFAULT_QUEUE,
        }
    }
}

/// What one shard's server serves.
pub struct RpcConfig {
    pub addr: SocketAddr,
    pub limits: RpcLimits,
    /// Keys for `eth_sendTransaction`/`eth_sign` (dev mode); empty in production.
    pub dev_signer: DevSigner,
    pub fee_recipient: Address,
    /// Peers and sync progress for `net_*` and `eth_syncing`.
    pub status: Arc<dyn NodeStatus>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("RPC method registration failed: {0}")]
    Register(String),
    #[error("cannot start the RPC read pool: {0}")]
    ReadPool(std::io::Error),
}

/// Subscription ids as geth and reth issue them: `0x` and 32 hex digits. (jsonrpsee's default
/// numeric ids break viem, web3.py and Foundry.)
#[derive(Debug)]
struct HexIdProvider;

impl jsonrpsee::core::traits::IdProvider for HexIdProvider {
    fn next_id(&self) -> jsonrpsee::types::SubscriptionId<'static> {
        let bytes: [u8; 16] = rand::random();
        jsonrpsee::types::SubscriptionId::Str(format!("0x{}", hex::encode(bytes)).into())
    }
}

/// All namespaces for `chain` in one module, with a read pool sized by `config.limits`.
pub fn rpc_module(chain: Arc<ShardChain>, config: &RpcConfig) -> Result<RpcModule<()>, ServeError> {
    let reads = ReadPool::new(
        config.limits.read_threads as usize,
        config.limits.read_queue as usize,
    )
    .map_err(ServeError::ReadPool)?;
    rpc_module_with_pool(chain, config, Arc::new(reads))
}

/// [`rpc_module`] whose handlers that execute or scan run on `reads`.
pub fn rpc_module_with_pool(
    chain: Arc<ShardChain>,
    config: &RpcConfig,
    reads: Arc<ReadPool>,
) -> Result<RpcModule<()>, ServeError> {
    let mut module = RpcModule::new(());
    let register = |m: &mut RpcModule<()>, other: jsonrpsee::Methods| {
        m.merge(other)
            .map_err(|e| ServeError::Register(e.to_string()))
    };
    register(
        &mut module,
        EthRpc::new(
            chain.clone(),
            config.dev_signer.clone(),
            config.fee_recipient,
            reads.clone(),
            config.status.clone(),
        )
        .into_rpc()
        .into(),
    )?;
    register(
        &mut module,
        NetRpc {
            chain_id: chain.config().chain_id,
            status: config.status.clone(),
        }
        .into_rpc()
        .into(),
    )?;
    register(&mut module, Web3Rpc.into_rpc().into())?;
    register(&mut module, TxpoolRpc::new(chain.clone()).into_rpc().into())?;
    register(
        &mut module,
        EthToolsRpc::new(chain.clone(), reads.clone())
            .into_rpc()
            .into(),
    )?;
    register(&mut module, RawRpc::new(chain.clone()).into_rpc().into())?;
    register(&mut module, DebugRpc::new(chain, reads).into_rpc().into())?;
    Ok(module)
}

/// Serves `chain` at `config.addr`; returns the bound address and the server's handle.
pub async fn serve(
    chain: Arc<ShardChain>,
    config: RpcConfig,
) -> Result<(SocketAddr, ServerHandle), ServeError> {
    serve_with(chain, config, jsonrpsee::Methods::new()).await
}

/// [`serve`] with `extra` methods merged in, for namespaces that are not the shard's (for
/// example `kaimeng_*`: `crate::KaimengRpc::methods`). A name served twice is a
/// [`ServeError::Register`].
pub async fn serve_with(
    chain: Arc<ShardChain>,
    config: RpcConfig,
    extra: jsonrpsee::Methods,
) -> Result<(SocketAddr, ServerHandle), ServeError> {
    serve_with_pages(chain, config, extra, None).await
}

/// [`serve_with`], also answering HTTP requests under `pages.prefix` with `pages.service`
/// (the explorer) under the same per-client rate limit.
pub async fn serve_with_pages(
    chain: Arc<ShardChain>,
    config: RpcConfig,
    extra: jsonrpsee::Methods,
    pages: Option<Pages>,
) -> Result<(SocketAddr, ServerHandle), ServeError> {
    let chain_of = chain.clone();
    let mut module = rpc_module(chain, &config)?;
    module
        .merge(extra)
        .map_err(|e| ServeError::Register(e.to_string()))?;
    serve_guarded(
        config.addr,
        &config.limits,
        module.into(),
        Some(chain_of),
        pages,
    )
    .await
}

/// Serves `methods` at `addr` over HTTP and WebSocket with `limits`, the guards and the
/// per-address rate limit: what [`serve_with`] does for a shard, for any methods.
pub async fn serve_methods(
    addr: SocketAddr,
    limits: &RpcLimits,
    methods: jsonrpsee::Methods,
) -> Result<(SocketAddr, ServerHandle), ServeError> {
    serve_guarded(addr, limits, methods, None, None).await
}

/// [`serve_methods`], refusing `chain`'s state methods while this node does not hold it.
async fn serve_guarded(
    addr: SocketAddr,
    limits: &RpcLimits,
    methods: jsonrpsee::Methods,
    chain: Option<Arc<ShardChain>>,
    pages: Option<Pages>,
) -> Result<(SocketAddr, ServerHandle), ServeError> {
    let bind_error = |e: std::io::Error| ServeError::Bind {
        addr,
        reason: e.to_string(),
    };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    let server_config = ServerConfig::builder()
        .max_request_body_size(limits.max_request_bytes)
        .max_response_body_size(limits.max_response_bytes)
        .max_connections(limits.max_connections)
        .max_subscriptions_per_connection(limits.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch_len))
        .set_id_provider(HexIdProvider)
        .build();
    let buckets = Arc::new(ClientBuckets::new(limits.requests_per_second_per_client));
    let service = Server::builder()
        .set_config(server_config)
        .set_rpc_middleware(
            RpcServiceBuilder::new()
                .layer(RateLimitLayer::new(buckets.clone()))
                .layer(NotHeldLayer::new(chain))
                .layer(MarkNotificationsLayer),
        )
        .set_http_middleware(tower::ServiceBuilder::new().layer(HttpGuardLayer::new(
            limits.max_request_bytes,
            limits.max_response_bytes,
            limits.max_batch_len,
            limits.max_connections,
        )))
        .to_service_builder();
    let (stop, handle) = stop_channel();
    tokio::spawn(async move {
        let stopped = stop.clone().shutdown();
        tokio::pin!(stopped);
        loop {
            let (socket, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        accept_failed(error).await;
                        continue;
                    }
                },
                () = &mut stopped => break,
            };
            if let Err(error) = socket.set_nodelay(true) {
                tracing::debug!(%error, "TCP_NODELAY on an RPC connection");
            }
            let client = ClientAddr::new(peer.ip());
            let mut connection = service.clone().build(methods.clone(), stop.clone());
            let pages = pages.clone();
            let buckets = buckets.clone();
            let per_request = tower::service_fn(move |request: http::Request<_>| {
                let mut request = request.map(HttpBody::new);
                request.extensions_mut().insert(client);
                let answer: Answer = match pages.as_ref() {
                    Some(pages) if pages.serves(request.uri().path()) => {
                        if buckets.take(
                            peer.ip(),
                            crate::pages::PAGE_COST,
                            std::time::Instant::now(),
                        ) {
                            let mut service = pages.service.clone();
                            Box::pin(async move {
                                let Ok(response) =
                                    tower::Service::call(&mut service, request).await;
                                Ok(response)
                            })
                        } else {
                            let refused = crate::pages::too_many_requests(buckets.per_second());
                            Box::pin(std::future::ready(Ok(refused)))
                        }
                    }
                    _ => Box::pin(tower::Service::call(&mut connection, request)),
                };
                answer
            });
            // Boxed here, where its type is concrete: spawning the future unboxed trips
            // rustc's higher-ranked lifetime check of `Send`.
            let serving: Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>> =
                Box::pin(serve_with_graceful_shutdown(
                    Backpressured::new(socket),
                    per_request,
                    stop.clone().shutdown(),
                ));
            tokio::spawn(async move {
                if let Err(error) = serving.await {
                    tracing::debug!(%error, %peer, "RPC connection ended");
                }
            });
        }
    });
    Ok((local, handle))
}

/// A response to one HTTP request: an RPC answer or a page.
type Answer = Pin<Box<dyn Future<Output = Result<http::Response<HttpBody>, BoxError>> + Send>>;

/// Per-connection failures (the peer gave up) retry at once; others (out of file descriptors)
/// pause the loop briefly instead of spinning.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    tracing::debug!(%error, "accepting an RPC connection failed");
    if !matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
