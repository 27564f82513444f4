//! `kaimeng_getFinalityCertificate` over the shards this node serves: the stored certificate,
//! decoded, with the headers from the asked block up to the certified one.

use std::sync::Arc;

use alloy_primitives::{Bytes, U64};
use alloy_rlp::Encodable;
use kaimeng_consensus::codec::decode_certificate;
use kaimeng_shards::ShardChain;

use crate::api::finality::{CertificateSignature, FinalityApiServer, FinalityCertificate};
use crate::error::{RpcResult, internal, invalid_params, not_found};

/// Answers from the shard chains this node holds.
pub struct FinalityRpc {
    chains: Vec<Arc<ShardChain>>,
}

impl FinalityRpc {
    pub fn new(chains: Vec<Arc<ShardChain>>) -> Self {
        Self { chains }
    }

    fn served(&self) -> String {
        self.chains
            .iter()
            .map(|c| format!("shard-{}", c.config().shard))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The chain named by `"shard-N"` or `N`.
    fn chain(&self, name: &serde_json::Value) -> RpcResult<&Arc<ShardChain>> {
        let shard = match name {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.strip_prefix("shard-").and_then(|n| n.parse().ok()),
            _ => None,
        };
        let unknown = || {
            invalid_params(format!(
                "unknown chain {name}: this node serves {} (name a chain as \"shard-N\" or N)",
                self.served()
            ))
        };
        let shard = shard.ok_or_else(unknown)?;
        self.chains
            .iter()
            .find(|c| u64::from(c.config().shard) == shard)
            .ok_or_else(unknown)
    }
}

impl FinalityApiServer for FinalityRpc {
    fn get_finality_certificate(
        &self,
        chain_name: serde_json::Value,
        height: U64,
    ) -> RpcResult<FinalityCertificate> {
        let chain = self.chain(&chain_name)?;
        let height = height.to::<u64>();
        let head = chain.head().number();
        if height == 0 {
            return Err(not_found(
                "block 0 is genesis: final by definition, it has no certificate",
            ));
        }
        if height > head {
            return Err(not_found(format!(
                "block {height} is not final (the finalized head is {head})"
            )));
        }
        let (certified, encoded) = chain.certificate(height).map_err(internal)?.ok_or_else(|| {
            not_found(format!(
                "no certificate is stored for block {height}: it was sealed without consensus (a one-validator dev network) or finalized before this node kept certificates"
            ))
        })?;
        let certificate = decode_certificate(&encoded)
            .map_err(|e| internal(format!("stored certificate of block {certified}: {e}")))?;
        let proposal = certificate.proposal().copied().ok_or_else(|| {
            internal(format!(
                "stored certificate of block {certified} has no block"
            ))
        })?;
        let mut headers = Vec::new();
        for number in height..=certified {
            let header = chain
                .header(number)
                .map_err(internal)?
                .ok_or_else(|| internal(format!("final block {number} is missing")))?;
            let mut rlp = Vec::new();
            header.header.encode(&mut rlp);
            headers.push(Bytes::from(rlp));
        }
        let block_hash = chain
            .header(height)
            .map_err(internal)?
            .map(|h| h.hash)
            .unwrap_or_default();
        Ok(FinalityCertificate {
            chain: format!("shard-{}", chain.config().shard),
            height: U64::from(height),
            block_hash,
            certified_height: U64::from(certified),
            certified_hash: proposal.payload.0.into(),
            epoch: proposal.epoch,
            view: proposal.view,
            parent_view: proposal.parent.view,
            namespace: format!("kaimeng/shard/{}", chain.config().shard),
            signatures: certificate
                .signatures
                .iter()
                .map(|(validator, signature)| CertificateSignature {
                    validator: *validator,
                    signature: Bytes::copy_from_slice(&signature.0),
                })
                .collect(),
            encoded: encoded.into(),
            headers,
        })
    }
}
