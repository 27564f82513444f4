//! The `txpool_*` namespace.

use alloy_rpc_types_eth::Transaction;
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;

use alloy_primitives::{Address, B256};

use crate::txpool::{TxStatusView, TxpoolContent, TxpoolContentFrom, TxpoolStatus};

type RpcResult<T> = Result<T, ErrorObjectOwned>;

#[rpc(server, namespace = "txpool")]
pub trait TxpoolApi {
    #[method(name = "status")]
    fn status(&self) -> RpcResult<TxpoolStatus>;

    #[method(name = "content")]
    fn content(&self) -> RpcResult<TxpoolContent<Transaction>>;

    /// `txpool_content` for one sender: its pending and queued transactions by nonce.
    #[method(name = "contentFrom")]
    fn content_from(&self, address: Address) -> RpcResult<TxpoolContentFrom<Transaction>>;

    /// Every pooled transaction in one line, as geth prints it:
    /// `"<to>: <value> wei + <gas> gas × <max fee> wei"` (`contract creation` for no `to`).
    #[method(name = "inspect")]
    fn inspect(&self) -> RpcResult<TxpoolContent<String>>;

    /// Where one transaction stands: `included` (with its block), `pending`, `queued`,
    /// `dropped` (with the reason) or `unknown`. Kaimeng's own method: a transaction this node
    /// accepted and later dropped is reported here, never silently forgotten.
    #[method(name = "transactionStatus")]
    fn transaction_status(&self, hash: B256) -> RpcResult<TxStatusView>;
}
