//! Polling filters installed at the start and never polled: `--idle-filters` each of
//! `eth_newPendingTransactionFilter`, `eth_newBlockFilter` and `eth_newFilter({})`. A node that
//! buffers per filter grows with every transaction until the filters expire.

use std::time::Duration;

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;
use serde_json::Value;

const BATCH: usize = 100;

/// Installs the filters; returns how many the node accepted.
pub async fn install_idle(rpc: &str, each: usize) -> anyhow::Result<u64> {
    let client = HttpClientBuilder::default()
        .request_timeout(Duration::from_secs(30))
        .build(rpc)?;
    let mut installed = 0;
    for (method, filter) in [
        ("eth_newPendingTransactionFilter", None),
        ("eth_newBlockFilter", None),
        ("eth_newFilter", Some(serde_json::json!({}))),
    ] {
        let mut left = each;
        while left > 0 {
            let n = left.min(BATCH);
            left -= n;
            let mut batch = BatchRequestBuilder::new();
            for _ in 0..n {
                match &filter {
                    Some(filter) => batch.insert(method, rpc_params![filter])?,
                    None => batch.insert(method, rpc_params![])?,
                }
            }
            let answers = client.batch_request::<Value>(batch).await?;
            installed += answers.iter().filter(|a| a.is_ok()).count() as u64;
        }
    }
    Ok(installed)
}
