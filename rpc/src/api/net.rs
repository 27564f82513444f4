//! The `net_*` and `web3_*` namespaces.

use alloy_primitives::{B256, Bytes, U64};
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;

type RpcResult<T> = Result<T, ErrorObjectOwned>;

#[rpc(server, namespace = "net")]
pub trait NetApi {
    #[method(name = "version")]
    fn version(&self) -> RpcResult<String>;

    #[method(name = "listening")]
    fn listening(&self) -> RpcResult<bool>;

    #[method(name = "peerCount")]
    fn peer_count(&self) -> RpcResult<U64>;
}

#[rpc(server, namespace = "web3")]
pub trait Web3Api {
    #[method(name = "clientVersion")]
    fn client_version(&self) -> RpcResult<String>;

    #[method(name = "sha3")]
    fn sha3(&self, data: Bytes) -> RpcResult<B256>;
}
