//! `admin_*` JSON-RPC for the node's operator: this node's peer identity, its peers, and a
//! deny list (`admin_blockPeer` / `admin_unblockPeer`, like Besu's node permissioning).
//! Served only on loopback RPC (see `docs/operations.md`).

use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::{Methods, RpcModule};
use kaimeng_network::{NetworkHandle, PeerId};
use serde_json::{Value, json};

const INVALID_PARAMS: i32 = -32602;
const NODE_STOPPED: i32 = -32000;

fn peer_param(params: jsonrpsee::types::Params<'_>) -> Result<PeerId, ErrorObjectOwned> {
    let text: String = params.one().map_err(|e| {
        ErrorObjectOwned::owned(
            INVALID_PARAMS,
            format!("expected one peer id: {e}"),
            None::<()>,
        )
    })?;
    text.parse().map_err(|e| {
        ErrorObjectOwned::owned(
            INVALID_PARAMS,
            format!("\"{text}\" is not a libp2p peer id: {e}"),
            None::<()>,
        )
    })
}

fn stopped() -> ErrorObjectOwned {
    ErrorObjectOwned::owned(NODE_STOPPED, "the p2p network has stopped", None::<()>)
}

/// The `admin_*` methods over `network`.
pub fn admin_methods(network: NetworkHandle) -> Methods {
    let mut module = RpcModule::new(network);
    let registered = [
        module
            .register_method("admin_nodeInfo", |_, network, _| -> Value {
                json!({
                    "id": network.local_peer_id().to_string(),
                    "listenAddrs": network.listen_addrs(),
                })
            })
            .map(|_| ()),
        module
            .register_method("admin_peers", |_, network, _| -> Vec<String> {
                network.peers().iter().map(ToString::to_string).collect()
            })
            .map(|_| ()),
        module
            .register_async_method("admin_blockPeer", |params, network, _| async move {
                let peer = peer_param(params)?;
                network.block_peer(peer).await.map_err(|_| stopped())?;
                Ok::<bool, ErrorObjectOwned>(true)
            })
            .map(|_| ()),
        module
            .register_async_method("admin_unblockPeer", |params, network, _| async move {
                let peer = peer_param(params)?;
                network.unblock_peer(peer).await.map_err(|_| stopped())?;
                Ok::<bool, ErrorObjectOwned>(true)
            })
            .map(|_| ()),
    ];
    debug_assert!(
        registered.iter().all(Result::is_ok),
        "admin method names are unique"
    );
    module.into()
}
