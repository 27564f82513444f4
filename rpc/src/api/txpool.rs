//! The `txpool_*` namespace.

use alloy_rpc_types_eth::Transaction;
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;

use alloy_primitives::B256;

use crate::txpool::{TxStatusView, TxpoolContent, TxpoolStatus};

type RpcResult<T> = Result<T, ErrorObjectOwned>;

#[rpc(server, namespace = "txpool")]
pub trait TxpoolApi {
    #[method(name = "status")]
    fn status(&self) -> RpcResult<TxpoolStatus>;

    #[method(name = "content")]
    fn content(&self) -> RpcResult<TxpoolContent<Transaction>>;

    /// Where one transaction stands: `included` (with its block), `pending`, `queued`,
    /// `dropped` (with the reason) or `unknown`. Kaimeng's own method: a transaction this node
    /// accepted and later dropped is reported here, never silently forgotten.
    #[method(name = "transactionStatus")]
    fn transaction_status(&self, hash: B256) -> RpcResult<TxStatusView>;
}
