//! The `eth_*` namespace.

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, U64, U256};
use alloy_rpc_types_eth::state::StateOverride;
use alloy_rpc_types_eth::{
    Block, EIP1186AccountProofResponse, FeeHistory, Filter, FilterChanges, Log, SyncStatus,
    Transaction, TransactionReceipt, TransactionRequest,
};
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;

type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// The methods that execute or scan are `async`: they run on the read pool
/// (`crate::read_pool`), not on the runtime.
#[rpc(server, namespace = "eth")]
pub trait EthApi {
    #[method(name = "chainId")]
    fn chain_id(&self) -> RpcResult<U64>;

    #[method(name = "blockNumber")]
    fn block_number(&self) -> RpcResult<U64>;

    #[method(name = "syncing")]
    fn syncing(&self) -> RpcResult<SyncStatus>;

    #[method(name = "coinbase")]
    fn coinbase(&self) -> RpcResult<Address>;

    #[method(name = "gasPrice")]
    fn gas_price(&self) -> RpcResult<U256>;

    #[method(name = "maxPriorityFeePerGas")]
    fn max_priority_fee_per_gas(&self) -> RpcResult<U256>;

    #[method(name = "feeHistory")]
    fn fee_history(
        &self,
        block_count: U64,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory>;

    #[method(name = "getBlockByNumber")]
    fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>>;

    #[method(name = "getBlockByHash")]
    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>>;

    #[method(name = "getBlockTransactionCountByNumber")]
    fn block_transaction_count_by_number(&self, number: BlockNumberOrTag)
    -> RpcResult<Option<U64>>;

    #[method(name = "getBlockTransactionCountByHash")]
    fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>>;

    #[method(name = "getTransactionByHash")]
    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>>;

    #[method(name = "getTransactionByBlockHashAndIndex")]
    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: U64,
    ) -> RpcResult<Option<Transaction>>;

    #[method(name = "getTransactionByBlockNumberAndIndex")]
    fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<Transaction>>;

    #[method(name = "getTransactionReceipt")]
    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>>;

    #[method(name = "getBlockReceipts")]
    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>>;

    #[method(name = "getBalance")]
    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256>;

    #[method(name = "getCode")]
    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes>;

    #[method(name = "getStorageAt")]
    fn storage_at(
        &self,
        address: Address,
        slot: crate::storage_key::StorageKey,
        block: Option<BlockId>,
    ) -> RpcResult<B256>;

    #[method(name = "getTransactionCount")]
    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64>;

    #[method(name = "getProof")]
    fn proof(
        &self,
        address: Address,
        slots: Vec<crate::storage_key::StorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse>;

    #[method(name = "call")]
    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes>;

    #[method(name = "estimateGas")]
    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<U64>;

    #[method(name = "sendRawTransaction")]
    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256>;

    #[method(name = "sendTransaction")]
    fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256>;

    #[method(name = "accounts")]
    fn accounts(&self) -> RpcResult<Vec<Address>>;

    #[method(name = "sign")]
    fn sign(&self, address: Address, message: Bytes) -> RpcResult<Bytes>;

    #[method(name = "getLogs")]
    async fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>>;

    #[method(name = "newFilter")]
    fn new_filter(&self, filter: Filter) -> RpcResult<U256>;

    #[method(name = "newBlockFilter")]
    fn new_block_filter(&self) -> RpcResult<U256>;

    #[method(name = "newPendingTransactionFilter")]
    fn new_pending_transaction_filter(&self) -> RpcResult<U256>;

    #[method(name = "getFilterChanges")]
    async fn filter_changes(&self, id: U256) -> RpcResult<FilterChanges>;

    #[method(name = "getFilterLogs")]
    async fn filter_logs(&self, id: U256) -> RpcResult<Vec<Log>>;

    #[method(name = "uninstallFilter")]
    fn uninstall_filter(&self, id: U256) -> RpcResult<bool>;

    /// `newHeads`, `logs` (with a filter) or `newPendingTransactions`.
    #[subscription(name = "subscribe" => "subscription", unsubscribe = "unsubscribe", item = serde_json::Value)]
    async fn subscribe(
        &self,
        kind: String,
        params: Option<serde_json::Value>,
    ) -> SubscriptionResult;
}

/// The `eth_*` methods indexers, wallets and simulators call beyond the classic set
/// (implemented by `crate::eth::tools::EthToolsRpc`; all three run on the read pool).
#[rpc(server, namespace = "eth")]
pub trait EthToolsApi {
    /// Values of many slots of many accounts at one block (execution-apis).
    #[method(name = "getStorageValues")]
    async fn storage_values(
        &self,
        requests: std::collections::HashMap<Address, Vec<crate::storage_key::StorageKey>>,
        block: Option<BlockId>,
    ) -> RpcResult<std::collections::HashMap<Address, Vec<B256>>>;

    /// The access list a call needs, the gas it uses with it, and why it failed if it did.
    #[method(name = "createAccessList")]
    async fn create_access_list(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<alloy_rpc_types_eth::AccessListResult>;

    /// Simulated blocks of calls on top of `block` (execution-apis `eth_simulateV1`).
    #[method(name = "simulateV1")]
    async fn simulate_v1(
        &self,
        payload: alloy_rpc_types_eth::simulate::SimulatePayload,
        block: Option<BlockId>,
    ) -> RpcResult<Vec<alloy_rpc_types_eth::simulate::SimulatedBlock<Block>>>;
}
