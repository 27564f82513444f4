//! The `txpool_*` namespace.

use alloy_rpc_types_eth::Transaction;
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;

use crate::txpool::{TxpoolContent, TxpoolStatus};

type RpcResult<T> = Result<T, ErrorObjectOwned>;

#[rpc(server, namespace = "txpool")]
pub trait TxpoolApi {
    #[method(name = "status")]
    fn status(&self) -> RpcResult<TxpoolStatus>;

    #[method(name = "content")]
    fn content(&self) -> RpcResult<TxpoolContent<Transaction>>;
}
