//! The node's JSON-RPC over HTTP: the few `eth_*` calls the load generator makes, batched.
//!
//! Responses are read as JSON values and checked field by field, so a node that answers with
//! something unexpected gets an error that names the method and the field.

use std::{ops::Range, time::Duration};

use alloy_primitives::{Address, B256, Bytes, U256};
use jsonrpsee::{
    core::{
        client::{BatchResponse, ClientT, Error as ClientError},
        params::{ArrayParams, BatchRequestBuilder},
    },
    http_client::{HttpClient, HttpClientBuilder},
    rpc_params,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{config::MAX_BATCH, txs::SignedTx};

/// Why a JSON-RPC exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    #[error("{method}: {source}")]
    Client {
        method: &'static str,
        source: ClientError,
    },
    #[error("{method}: node answered with an error: {message}")]
    Node {
        method: &'static str,
        message: String,
    },
    #[error("{method}: unexpected answer ({detail})")]
    Malformed {
        method: &'static str,
        detail: String,
    },
}

/// The transactions (and, with receipts, their outcome) of one block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockTxs {
    pub number: u64,
    pub hashes: Vec<B256>,
    /// Hashes of transactions whose receipt has status 0 (known only from receipts).
    pub reverted: Vec<B256>,
}

/// A JSON-RPC HTTP client for one node.
#[derive(Clone, Debug)]
pub struct Node {
    client: HttpClient,
}

impl Node {
    /// A client for `url`; every request gives up after `request_timeout`.
    pub fn connect(url: &str, request_timeout: Duration) -> Result<Self, RpcError> {
        let client = HttpClientBuilder::default()
            .request_timeout(request_timeout)
            .max_request_size(64 << 20)
            .max_response_size(256 << 20)
            .max_concurrent_requests(1024)
            .build(url)
            .map_err(|source| RpcError::Client {
                method: "connect",
                source,
            })?;
        Ok(Self { client })
    }

    async fn call<R: DeserializeOwned>(
        &self,
        method: &'static str,
        params: ArrayParams,
    ) -> Result<R, RpcError> {
        self.client
            .request(method, params)
            .await
            .map_err(|source| client_error(method, source))
    }

    /// Sends `params` as batches of at most [`MAX_BATCH`] calls of `method`, in order; each entry
    /// is the node's answer or its error message.
    async fn batch<R>(
        &self,
        method: &'static str,
        params: Vec<ArrayParams>,
    ) -> Result<Vec<Result<R, String>>, RpcError>
    where
        R: DeserializeOwned + std::fmt::Debug,
    {
        let mut answers = Vec::with_capacity(params.len());
        let mut params = params.into_iter().peekable();
        while params.peek().is_some() {
            let mut batch = BatchRequestBuilder::new();
            for p in params.by_ref().take(MAX_BATCH) {
                batch.insert(method, p).map_err(|err| RpcError::Malformed {
                    method,
                    detail: err.to_string(),
                })?;
            }
            let response: BatchResponse<'_, R> = self
                .client
                .batch_request(batch)
                .await
                .map_err(|source| client_error(method, source))?;
            answers.extend(
                response
                    .into_iter()
                    .map(|entry| entry.map_err(|err| error_text(&err))),
            );
        }
        Ok(answers)
    }

    pub async fn chain_id(&self) -> Result<u64, RpcError> {
        let value: Value = self.call("eth_chainId", rpc_params![]).await?;
        quantity_u64(&value).ok_or_else(|| malformed("eth_chainId", "result", &value))
    }

    pub async fn block_number(&self) -> Result<u64, RpcError> {
        let value: Value = self.call("eth_blockNumber", rpc_params![]).await?;
        quantity_u64(&value).ok_or_else(|| malformed("eth_blockNumber", "result", &value))
    }

    /// The base fee of the latest block (0 on a chain without EIP-1559 fees).
    pub async fn latest_base_fee(&self) -> Result<u128, RpcError> {
        let method = "eth_getBlockByNumber";
        let block: Value = self.call(method, rpc_params!["latest", false]).await?;
        match block.get("baseFeePerGas") {
            None | Some(Value::Null) => Ok(0),
            Some(fee) => quantity_u128(fee).ok_or_else(|| malformed(method, "baseFeePerGas", fee)),
        }
    }

    pub async fn balance(&self, address: Address) -> Result<U256, RpcError> {
        let value: Value = self
            .call("eth_getBalance", rpc_params![address, "latest"])
            .await?;
        quantity_u256(&value).ok_or_else(|| malformed("eth_getBalance", "result", &value))
    }

    /// Balances of many accounts at the latest block.
    pub async fn balances(&self, addresses: &[Address]) -> Result<Vec<U256>, RpcError> {
        let method = "eth_getBalance";
        let params = addresses.iter().map(|a| rpc_params![a, "latest"]).collect();
        let answers: Vec<Result<Value, String>> = self.batch(method, params).await?;
        answers
            .into_iter()
            .map(|a| {
                let value = a.map_err(|message| RpcError::Node { method, message })?;
                quantity_u256(&value).ok_or_else(|| malformed(method, "result", &value))
            })
            .collect()
    }

    /// Next nonces of many accounts, counting pending transactions; at the latest block if the
    /// node does not know the `pending` tag.
    pub async fn nonces(&self, addresses: &[Address]) -> Result<Vec<u64>, RpcError> {
        match self.nonces_at(addresses, "pending").await {
            Err(RpcError::Node { .. }) => self.nonces_at(addresses, "latest").await,
            other => other,
        }
    }

    async fn nonces_at(&self, addresses: &[Address], tag: &str) -> Result<Vec<u64>, RpcError> {
        let method = "eth_getTransactionCount";
        let params = addresses.iter().map(|a| rpc_params![a, tag]).collect();
        let answers: Vec<Result<Value, String>> = self.batch(method, params).await?;
        answers
            .into_iter()
            .map(|a| {
                let value = a.map_err(|message| RpcError::Node { method, message })?;
                quantity_u64(&value).ok_or_else(|| malformed(method, "result", &value))
            })
            .collect()
    }

    /// `eth_call` of each input against `to` at the latest block. Calls a node refuses as
    /// busy (-32005: its read pool is full) are sent again after a pause, for up to
    /// [`BUSY_RETRY_FOR`].
    pub async fn calls(&self, to: Address, inputs: &[Bytes]) -> Result<Vec<Bytes>, RpcError> {
        let method = "eth_call";
        let params = |indices: &[usize]| {
            indices
                .iter()
                .map(|&i| rpc_params![serde_json::json!({ "to": to, "data": inputs[i] }), "latest"])
                .collect()
        };
        let deadline = tokio::time::Instant::now() + BUSY_RETRY_FOR;
        let all: Vec<usize> = (0..inputs.len()).collect();
        let mut answers: Vec<Result<Bytes, String>> = self.batch(method, params(&all)).await?;
        loop {
            let refused: Vec<usize> = (0..answers.len())
                .filter(|&i| answers[i].as_ref().is_err_and(|e| is_busy(e)))
                .collect();
            if refused.is_empty() || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            let again: Vec<Result<Bytes, String>> = self.batch(method, params(&refused)).await?;
            for (i, answer) in refused.into_iter().zip(again) {
                answers[i] = answer;
            }
        }
        answers
            .into_iter()
            .map(|a| a.map_err(|message| RpcError::Node { method, message }))
            .collect()
    }

    /// Submits signed transactions in one request (a JSON-RPC batch when there are several).
    /// Returns one entry per transaction: `Ok` when the node accepted it, else the error text.
    /// A failure of the whole request yields its error for every transaction.
    pub async fn send_raw(&self, txs: &[SignedTx]) -> Vec<Result<(), String>> {
        let method = "eth_sendRawTransaction";
        let answers: Result<Vec<Result<B256, String>>, RpcError> = if let [tx] = txs {
            self.call(method, rpc_params![&tx.raw_hex])
                .await
                .map(|hash| vec![Ok(hash)])
                .or_else(|err| match err {
                    RpcError::Node { message, .. } => Ok(vec![Err(message)]),
                    other => Err(other),
                })
        } else {
            self.batch(
                method,
                txs.iter().map(|tx| rpc_params![&tx.raw_hex]).collect(),
            )
            .await
        };
        match answers {
            Ok(answers) if answers.len() == txs.len() => answers
                .into_iter()
                .zip(txs)
                .map(|(answer, tx)| match answer {
                    Ok(hash) if hash == tx.hash => Ok(()),
                    Ok(hash) => Err(format!("node returned hash {hash}, expected {}", tx.hash)),
                    Err(message) => Err(message),
                })
                .collect(),
            Ok(answers) => {
                let message = format!(
                    "{method}: {} answers for {} transactions",
                    answers.len(),
                    txs.len()
                );
                vec![Err(message); txs.len()]
            }
            Err(err) => vec![Err(err.to_string()); txs.len()],
        }
    }

    /// Transaction hashes of the blocks in `numbers`; `None` for a block the node does not have
    /// yet. With `receipts`, uses `eth_getBlockReceipts` and also reports reverted transactions.
    pub async fn blocks(
        &self,
        numbers: Range<u64>,
        receipts: bool,
    ) -> Result<Vec<Option<BlockTxs>>, RpcError> {
        let method = if receipts {
            "eth_getBlockReceipts"
        } else {
            "eth_getBlockByNumber"
        };
        let params = numbers
            .clone()
            .map(|n| {
                let tag = format!("{n:#x}");
                if receipts {
                    rpc_params![tag]
                } else {
                    rpc_params![tag, false]
                }
            })
            .collect();
        let answers: Vec<Result<Value, String>> = self.batch(method, params).await?;
        numbers
            .zip(answers)
            .map(|(number, answer)| {
                let value = answer.map_err(|message| RpcError::Node { method, message })?;
                if receipts {
                    parse_block_receipts(number, &value)
                } else {
                    parse_block(number, &value)
                }
                .map_err(|detail| RpcError::Malformed { method, detail })
            })
            .collect()
    }

    /// The receipt of one transaction, if the node has it.
    pub async fn receipt(&self, hash: B256) -> Result<Option<Value>, RpcError> {
        let value: Value = self
            .call("eth_getTransactionReceipt", rpc_params![hash])
            .await?;
        Ok((!value.is_null()).then_some(value))
    }
}

/// How long [`Node::calls`] keeps retrying calls refused as busy.
const BUSY_RETRY_FOR: Duration = Duration::from_secs(60);

/// An error text of [`error_text`] for a refusal with -32005 (a full read pool, a rate limit).
fn is_busy(text: &str) -> bool {
    text.contains("(code -32005")
}

fn client_error(method: &'static str, source: ClientError) -> RpcError {
    match source {
        ClientError::Call(err) => RpcError::Node {
            method,
            message: error_text(&err),
        },
        source => RpcError::Client { method, source },
    }
}

fn error_text(err: &jsonrpsee::types::ErrorObject<'_>) -> String {
    match err.data() {
        Some(data) => format!(
            "{} (code {}, data {})",
            err.message(),
            err.code(),
            data.get()
        ),
        None => format!("{} (code {})", err.message(), err.code()),
    }
}

fn malformed(method: &'static str, field: &str, value: &Value) -> RpcError {
    RpcError::Malformed {
        method,
        detail: format!("field {field} = {value}"),
    }
}

/// `{"transactions": [hash, ...]}` of `eth_getBlockByNumber(n, false)`; `null` is a missing block.
pub fn parse_block(number: u64, block: &Value) -> Result<Option<BlockTxs>, String> {
    if block.is_null() {
        return Ok(None);
    }
    let txs = block
        .get("transactions")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("block {number} has no transactions array"))?;
    let hashes = txs
        .iter()
        .map(|tx| {
            tx.as_str()
                .and_then(|s| s.parse::<B256>().ok())
                .ok_or_else(|| format!("block {number}: bad hash {tx}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(BlockTxs {
        number,
        hashes,
        reverted: Vec::new(),
    }))
}

/// `[{"transactionHash", "status"}, ...]` of `eth_getBlockReceipts(n)`; `null` is a missing block.
pub fn parse_block_receipts(number: u64, receipts: &Value) -> Result<Option<BlockTxs>, String> {
    if receipts.is_null() {
        return Ok(None);
    }
    let list = receipts
        .as_array()
        .ok_or_else(|| format!("receipts of block {number} are not an array"))?;
    let mut block = BlockTxs {
        number,
        ..BlockTxs::default()
    };
    for receipt in list {
        let hash = receipt
            .get("transactionHash")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<B256>().ok())
            .ok_or_else(|| format!("block {number}: receipt without transactionHash"))?;
        if receipt.get("status").and_then(quantity_u64) == Some(0) {
            block.reverted.push(hash);
        }
        block.hashes.push(hash);
    }
    Ok(Some(block))
}

/// A `0x`-hex quantity as `u64`.
pub fn quantity_u64(value: &Value) -> Option<u64> {
    u64::from_str_radix(value.as_str()?.strip_prefix("0x")?, 16).ok()
}

/// A `0x`-hex quantity as `u128`.
pub fn quantity_u128(value: &Value) -> Option<u128> {
    u128::from_str_radix(value.as_str()?.strip_prefix("0x")?, 16).ok()
}

/// A `0x`-hex quantity as `U256`.
pub fn quantity_u256(value: &Value) -> Option<U256> {
    U256::from_str_radix(value.as_str()?.strip_prefix("0x")?, 16).ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn quantities_parse_and_reject_non_hex() {
        assert_eq!(quantity_u64(&json!("0x1a")), Some(26));
        assert_eq!(quantity_u128(&json!("0x3b9aca00")), Some(1_000_000_000));
        assert_eq!(quantity_u256(&json!("0x0")), Some(U256::ZERO));
        assert_eq!(quantity_u64(&json!("26")), None);
        assert_eq!(quantity_u64(&json!(26)), None);
        assert_eq!(quantity_u64(&json!("0x1ffffffffffffffff")), None);
    }

    #[test]
    fn block_hashes_are_read_and_missing_blocks_are_none() {
        let h = B256::repeat_byte(7);
        let block = json!({"number": "0x5", "transactions": [h]});
        assert_eq!(
            parse_block(5, &block).unwrap(),
            Some(BlockTxs {
                number: 5,
                hashes: vec![h],
                reverted: vec![]
            })
        );
        assert_eq!(parse_block(5, &Value::Null).unwrap(), None);
        assert!(parse_block(5, &json!({"transactions": [{"hash": h}]})).is_err());
        assert!(parse_block(5, &json!({})).is_err());
    }

    #[test]
    fn receipts_mark_reverted_transactions() {
        let ok = B256::repeat_byte(1);
        let bad = B256::repeat_byte(2);
        let receipts = json!([
            {"transactionHash": ok, "status": "0x1"},
            {"transactionHash": bad, "status": "0x0"},
        ]);
        let block = parse_block_receipts(9, &receipts).unwrap().unwrap();
        assert_eq!(block.hashes, vec![ok, bad]);
        assert_eq!(block.reverted, vec![bad]);
        assert_eq!(parse_block_receipts(9, &Value::Null).unwrap(), None);
        assert!(parse_block_receipts(9, &json!([{"status": "0x1"}])).is_err());
    }
}
