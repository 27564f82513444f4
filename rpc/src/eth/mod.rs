//! `eth_*`: each method resolves its block and delegates to the shard.

mod convert;
mod fees;
mod filters;
pub mod signer;
mod subscribe;
pub mod tools;

use std::sync::Arc;

use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256};
use alloy_rpc_types_eth::state::StateOverride;
use alloy_rpc_types_eth::{
    Block, EIP1186AccountProofResponse, EIP1186StorageProof, FeeHistory, Filter, FilterBlockOption,
    FilterChanges, Log, SyncInfo, SyncStatus, Transaction, TransactionReceipt, TransactionRequest,
};
use jsonrpsee::PendingSubscriptionSink;
use jsonrpsee::core::SubscriptionResult;
use kaimeng_shards::{ShardChain, ShardTx, StoredBlock, logs};

pub use convert::{
    block as rpc_block, header as rpc_header, receipt as rpc_receipt, receipts as rpc_receipts,
    transaction as rpc_transaction,
};
pub use signer::DevSigner;

use crate::api::eth::EthApiServer;
use crate::error::{
    RpcResult, from_call, from_chain, from_logs, from_state, from_submit, internal, invalid_params,
    unsupported,
};
use crate::node_status::NodeStatus;
use crate::read_pool::ReadPool;
use crate::storage_key::StorageKey;
use filters::Filters;
use signer::UnsignedTx;

/// The block a state query or an execution refers to (default: latest). A block that does not
/// exist (a number past the head, an unknown hash) is -32000 `header not found`, as geth and
/// the execution-apis tests answer (ADR 0090).
pub(crate) fn resolve_state_block(chain: &ShardChain, id: Option<BlockId>) -> RpcResult<u64> {
    let header_not_found = crate::error::header_not_found;
    let head = chain.head().number();
    match id.unwrap_or(BlockId::Number(BlockNumberOrTag::Latest)) {
        BlockId::Number(BlockNumberOrTag::Number(n)) => {
            (n <= head).then_some(n).ok_or_else(header_not_found)
        }
        BlockId::Number(BlockNumberOrTag::Earliest) => Ok(0),
        // Finality is immediate: latest = safe = finalized; pending state is the head's.
        BlockId::Number(_) => Ok(head),
        BlockId::Hash(hash) => chain
            .number_of(&hash.block_hash)
            .map_err(from_chain)?
            .ok_or_else(header_not_found),
    }
}

pub struct EthRpc {
    chain: Arc<ShardChain>,
    signer: DevSigner,
    filters: Arc<Filters>,
    fee_recipient: Address,
    /// Where the methods that execute or scan run: `self.reads.run(move || ...).await`.
    reads: Arc<ReadPool>,
    status: Arc<dyn NodeStatus>,
}

impl EthRpc {
    pub fn new(
        chain: Arc<ShardChain>,
        signer: DevSigner,
        fee_recipient: Address,
        reads: Arc<ReadPool>,
        status: Arc<dyn NodeStatus>,
    ) -> Self {
        let filters = Filters::new(chain.clone());
        Self {
            chain,
            signer,
            filters,
            fee_recipient,
            reads,
            status,
        }
    }

    /// A tag or number as a block number; `None` if it is past the head.
    fn number_of_tag(&self, tag: BlockNumberOrTag) -> Option<u64> {
        let head = self.chain.head().number();
        match tag {
            BlockNumberOrTag::Earliest => Some(0),
            BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
            // Finality is immediate: latest = safe = finalized; pending state is the head's.
            _ => Some(head),
        }
    }

    /// The block a state query refers to (default: latest); unknown blocks are an error.
    fn state_block(&self, id: Option<BlockId>) -> RpcResult<u64> {
        resolve_state_block(&self.chain, id)
    }

    fn block_by_id(&self, id: BlockId) -> RpcResult<Option<Arc<StoredBlock>>> {
        let number = match id {
            BlockId::Number(tag) => self.number_of_tag(tag),
            BlockId::Hash(hash) => self.chain.number_of(&hash.block_hash).map_err(from_chain)?,
        };
        match number {
            None => Ok(None),
            Some(n) => self.chain.block(n).map_err(from_chain),
        }
    }

    fn tx_in_block(&self, block: Option<Arc<StoredBlock>>, index: U64) -> Option<Transaction> {
        let block = block?;
        let i = index.to::<usize>();
        block
            .txs
            .get(i)
            .map(|tx| convert::transaction(tx, Some((&block.header, i))))
    }

    fn block_range(&self, filter: &Filter) -> RpcResult<(u64, u64)> {
        let head = self.chain.head().number();
        match &filter.block_option {
            FilterBlockOption::AtBlockHash(hash) => {
                let number = self
                    .chain
                    .number_of(hash)
                    .map_err(from_chain)?
                    .ok_or_else(|| {
                        jsonrpsee::types::ErrorObjectOwned::owned(
                            crate::error::codes::INVALID_INPUT,
                            format!("unknown block {hash}"),
                            None::<()>,
                        )
                    })?;
                Ok((number, number))
            }
            FilterBlockOption::Range {
                from_block,
                to_block,
            } => {
                // Numbers are taken as given (never clamped to the head), so a reversed or
                // future range is refused as the execution-apis tests require (ADR 0090).
                let resolve =
                    |tag: Option<BlockNumberOrTag>| match tag.unwrap_or(BlockNumberOrTag::Latest) {
                        BlockNumberOrTag::Number(n) => n,
                        BlockNumberOrTag::Earliest => 0,
                        _ => head,
                    };
                let (from, to) = (resolve(*from_block), resolve(*to_block));
                if from > to {
                    return Err(invalid_params(format!(
                        "invalid block range params: fromBlock {from} is after toBlock {to}"
                    )));
                }
                if to > head {
                    return Err(invalid_params(format!(
                        "block range extends beyond current head block: toBlock {to}, head {head}"
                    )));
                }
                Ok((from, to))
            }
        }
    }

    fn fill_and_sign(&self, request: TransactionRequest) -> RpcResult<ShardTx> {
        let from = request
            .from
            .ok_or_else(|| invalid_params("eth_sendTransaction needs a \"from\" address"))?;
        if !self.signer.holds(&from) {
            return Err(unsupported(format!(
                "the node holds no key for {from}; sign locally and use eth_sendRawTransaction"
            )));
        }
        let nonce = match request.nonce {
            Some(n) => n,
            None => self.chain.pending_nonce(&from).map_err(from_state)?,
        };
        let head = self.chain.head().number();
        let gas_limit = match request.gas {
            Some(gas) => gas,
            None => self
                .chain
                .estimate_gas(&request, head, None)
                .map_err(from_call)?,
        };
        let base_fee = self.chain.next_base_fee() as u128;
        let tip = request
            .max_priority_fee_per_gas
            .unwrap_or(fees::SUGGESTED_TIP);
        let unsigned = UnsignedTx {
            chain_id: self.chain.config().chain_id,
            nonce,
            gas_limit,
            gas_price: request.gas_price,
            max_fee_per_gas: request.max_fee_per_gas.unwrap_or(2 * base_fee + tip),
            max_priority_fee_per_gas: tip,
            to: request.to.unwrap_or(TxKind::Create),
            value: request.value.unwrap_or_default(),
            input: request.input.input().cloned().unwrap_or_default(),
            access_list: request.access_list.unwrap_or_default(),
        };
        let envelope = self
            .signer
            .sign_transaction(&from, unsigned)
            .ok_or_else(|| internal("signing failed"))?;
        Ok(ShardTx::from_envelope(envelope, from))
    }
}

#[jsonrpsee::core::async_trait]
impl EthApiServer for EthRpc {
    fn chain_id(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain.config().chain_id))
    }

    fn block_number(&self) -> RpcResult<U64> {
        Ok(U64::from(self.chain.head().number()))
    }

    fn syncing(&self) -> RpcResult<SyncStatus> {
        Ok(match self.status.sync_progress() {
            None => SyncStatus::None,
            Some(progress) => SyncStatus::Info(Box::new(SyncInfo {
                starting_block: U256::from(progress.starting_block),
                current_block: U256::from(progress.current_block),
                highest_block: U256::from(progress.highest_block),
                ..SyncInfo::default()
            })),
        })
    }

    fn coinbase(&self) -> RpcResult<Address> {
        Ok(self.fee_recipient)
    }

    fn gas_price(&self) -> RpcResult<U256> {
        Ok(U256::from(
            self.chain.next_base_fee() as u128 + fees::SUGGESTED_TIP,
        ))
    }

    fn max_priority_fee_per_gas(&self) -> RpcResult<U256> {
        Ok(U256::from(fees::SUGGESTED_TIP))
    }

    fn fee_history(
        &self,
        block_count: U64,
        newest_block: BlockNumberOrTag,
        reward_percentiles: Option<Vec<f64>>,
    ) -> RpcResult<FeeHistory> {
        let newest = self
            .number_of_tag(newest_block)
            .unwrap_or(self.chain.head().number());
        fees::fee_history(
            &self.chain,
            block_count.to::<u64>(),
            newest,
            reward_percentiles.as_deref(),
        )
    }

    fn block_by_number(&self, number: BlockNumberOrTag, full: bool) -> RpcResult<Option<Block>> {
        Ok(self
            .block_by_id(BlockId::Number(number))?
            .map(|b| convert::block(&b, full)))
    }

    fn block_by_hash(&self, hash: B256, full: bool) -> RpcResult<Option<Block>> {
        Ok(self
            .block_by_id(BlockId::from(hash))?
            .map(|b| convert::block(&b, full)))
    }

    fn block_transaction_count_by_number(
        &self,
        number: BlockNumberOrTag,
    ) -> RpcResult<Option<U64>> {
        Ok(self
            .block_by_id(BlockId::Number(number))?
            .map(|b| U64::from(b.txs.len())))
    }

    fn block_transaction_count_by_hash(&self, hash: B256) -> RpcResult<Option<U64>> {
        Ok(self
            .block_by_id(BlockId::from(hash))?
            .map(|b| U64::from(b.txs.len())))
    }

    fn transaction_by_hash(&self, hash: B256) -> RpcResult<Option<Transaction>> {
        if let Some((number, index)) = self.chain.tx_location(&hash).map_err(from_chain)? {
            return Ok(self.tx_in_block(
                self.chain.block(number).map_err(from_chain)?,
                U64::from(index),
            ));
        }
        Ok(self
            .chain
            .pool()
            .get(&hash)
            .map(|tx| convert::transaction(&tx, None)))
    }

    fn transaction_by_block_hash_and_index(
        &self,
        hash: B256,
        index: U64,
    ) -> RpcResult<Option<Transaction>> {
        Ok(self.tx_in_block(self.block_by_id(BlockId::from(hash))?, index))
    }

    fn transaction_by_block_number_and_index(
        &self,
        number: BlockNumberOrTag,
        index: U64,
    ) -> RpcResult<Option<Transaction>> {
        Ok(self.tx_in_block(self.block_by_id(BlockId::Number(number))?, index))
    }

    fn transaction_receipt(&self, hash: B256) -> RpcResult<Option<TransactionReceipt>> {
        Ok(self
            .chain
            .receipt(&hash)
            .map_err(from_chain)?
            .map(|located| convert::receipt(&located)))
    }

    fn block_receipts(&self, block: BlockId) -> RpcResult<Option<Vec<TransactionReceipt>>> {
        Ok(self.block_by_id(block)?.map(|b| convert::receipts(&b)))
    }

    fn balance(&self, address: Address, block: Option<BlockId>) -> RpcResult<U256> {
        let state = self.chain.state_at(self.state_block(block)?);
        Ok(state
            .account(&address)
            .map_err(from_state)?
            .map(|a| a.balance)
            .unwrap_or_default())
    }

    fn code(&self, address: Address, block: Option<BlockId>) -> RpcResult<Bytes> {
        let state = self.chain.state_at(self.state_block(block)?);
        let Some(account) = state.account(&address).map_err(from_state)? else {
            return Ok(Bytes::new());
        };
        Ok(state
            .code(&account.code_hash)
            .map_err(from_state)?
            .original_bytes())
    }

    fn storage_at(
        &self,
        address: Address,
        slot: StorageKey,
        block: Option<BlockId>,
    ) -> RpcResult<B256> {
        let state = self.chain.state_at(self.state_block(block)?);
        Ok(B256::from(
            state.storage_value(&address, &slot.0).map_err(from_state)?,
        ))
    }

    fn transaction_count(&self, address: Address, block: Option<BlockId>) -> RpcResult<U64> {
        if matches!(block, Some(BlockId::Number(BlockNumberOrTag::Pending))) {
            return Ok(U64::from(
                self.chain.pending_nonce(&address).map_err(from_state)?,
            ));
        }
        let state = self.chain.state_at(self.state_block(block)?);
        Ok(U64::from(
            state
                .account(&address)
                .map_err(from_state)?
                .map(|a| a.nonce)
                .unwrap_or_default(),
        ))
    }

    fn proof(
        &self,
        address: Address,
        slots: Vec<StorageKey>,
        block: Option<BlockId>,
    ) -> RpcResult<EIP1186AccountProofResponse> {
        let number = self.state_block(block)?;
        if number != self.chain.head().number() {
            return Err(unsupported(
                "eth_getProof is served for the latest block only",
            ));
        }
        let slots: Vec<B256> = slots.into_iter().map(|key| key.0).collect();
        let proof = self
            .chain
            .latest_state()
            .proof(&address, &slots)
            .map_err(from_state)?;
        let account = proof.account.unwrap_or_default();
        Ok(EIP1186AccountProofResponse {
            address,
            balance: account.balance,
            code_hash: account.code_hash,
            nonce: account.nonce,
            storage_hash: proof.storage_root,
            account_proof: proof.account_proof.to_nodes(),
            storage_proof: proof
                .storage_proofs
                .into_iter()
                .map(|(slot, value, p)| EIP1186StorageProof {
                    key: slot.into(),
                    value,
                    proof: p.to_nodes(),
                })
                .collect(),
        })
    }

    async fn call(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<Bytes> {
        let number = self.state_block(block)?;
        let chain = self.chain.clone();
        self.reads
            .run(move || {
                Ok(chain
                    .call(&request, number, overrides.as_ref())
                    .map_err(from_call)?
                    .output)
            })
            .await
    }

    async fn estimate_gas(
        &self,
        request: TransactionRequest,
        block: Option<BlockId>,
        overrides: Option<StateOverride>,
    ) -> RpcResult<U64> {
        let number = self.state_block(block)?;
        let chain = self.chain.clone();
        self.reads
            .run(move || {
                Ok(U64::from(
                    chain
                        .estimate_gas(&request, number, overrides.as_ref())
                        .map_err(from_call)?,
                ))
            })
            .await
    }

    fn send_raw_transaction(&self, raw: Bytes) -> RpcResult<B256> {
        self.chain.submit_raw(&raw).map_err(from_submit)
    }

    fn send_transaction(&self, request: TransactionRequest) -> RpcResult<B256> {
        let tx = self.fill_and_sign(request)?;
        self.chain.submit(Arc::new(tx)).map_err(from_submit)
    }

    fn accounts(&self) -> RpcResult<Vec<Address>> {
        Ok(self.signer.addresses())
    }

    fn sign(&self, address: Address, message: Bytes) -> RpcResult<Bytes> {
        self.signer
            .sign_message(&address, &message)
            .ok_or_else(|| unsupported(format!("the node holds no key for {address}")))
    }

    async fn logs(&self, filter: Filter) -> RpcResult<Vec<Log>> {
        let (from, to) = self.block_range(&filter)?;
        let chain = self.chain.clone();
        self.reads
            .run(move || logs::query(&chain, &filter, from, to).map_err(from_logs))
            .await
    }

    fn new_filter(&self, filter: Filter) -> RpcResult<U256> {
        self.filters.new_logs(filter)
    }

    fn new_block_filter(&self) -> RpcResult<U256> {
        self.filters.new_blocks()
    }

    fn new_pending_transaction_filter(&self) -> RpcResult<U256> {
        self.filters.new_pending()
    }

    async fn filter_changes(&self, id: U256) -> RpcResult<FilterChanges> {
        let filters = self.filters.clone();
        self.reads.run(move || filters.changes(&id)).await
    }

    async fn filter_logs(&self, id: U256) -> RpcResult<Vec<Log>> {
        let filter = self.filters.logs_of(&id)?;
        self.logs(filter).await
    }

    fn uninstall_filter(&self, id: U256) -> RpcResult<bool> {
        Ok(self.filters.uninstall(&id))
    }

    async fn subscribe(
        &self,
        pending: PendingSubscriptionSink,
        kind: String,
        params: Option<serde_json::Value>,
    ) -> SubscriptionResult {
        subscribe::subscribe(self.chain.clone(), pending, kind, params).await
    }
}
