//! `kaimeng_getFinalityCertificate` over the chains this node serves (the beacon chain and its
//! shards): the stored certificate, decoded, with the headers from the asked block up to the
//! certified one.

use std::sync::Arc;

use alloy_primitives::{B256, Bytes, U64};
use alloy_rlp::Encodable;
use kaimeng_consensus::codec::decode_certificate;
use kaimeng_shards::ShardChain;

use crate::api::finality::{CertificateSignature, FinalityApiServer, FinalityCertificate};
use crate::error::{RpcResult, internal, invalid_params, not_found};

/// A chain whose final blocks are stored with their finality certificates.
pub trait CertifiedChain: Send + Sync + 'static {
    /// `beacon` or `shard-N`.
    fn name(&self) -> String;
    /// The domain its votes are signed in.
    fn namespace(&self) -> String;
    fn finalized_height(&self) -> u64;
    /// The certified height and the certificate that made block `height` final.
    fn certificate(&self, height: u64) -> Result<Option<(u64, Vec<u8>)>, String>;
    /// A final block's hash and header encoding (RLP for a shard, 112 bytes for the beacon
    /// chain).
    fn header(&self, height: u64) -> Result<Option<(B256, Vec<u8>)>, String>;
}

impl CertifiedChain for ShardChain {
    fn name(&self) -> String {
        format!("shard-{}", self.config().shard)
    }

    fn namespace(&self) -> String {
        format!("kaimeng/shard/{}", self.config().shard)
    }

    fn finalized_height(&self) -> u64 {
        self.head().number()
    }

    fn certificate(&self, height: u64) -> Result<Option<(u64, Vec<u8>)>, String> {
        ShardChain::certificate(self, height).map_err(|e| e.to_string())
    }

    fn header(&self, height: u64) -> Result<Option<(B256, Vec<u8>)>, String> {
        Ok(ShardChain::header(self, height)
            .map_err(|e| e.to_string())?
            .map(|sealed| {
                let mut rlp = Vec::new();
                sealed.header.encode(&mut rlp);
                (sealed.hash, rlp)
            }))
    }
}

/// Answers from the chains this node holds.
pub struct FinalityRpc {
    chains: Vec<Arc<dyn CertifiedChain>>,
}

impl FinalityRpc {
    pub fn new(chains: Vec<Arc<dyn CertifiedChain>>) -> Self {
        Self { chains }
    }

    fn served(&self) -> String {
        self.chains
            .iter()
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The chain named by `"beacon"`, `"shard-N"` or `N`.
    fn chain(&self, name: &serde_json::Value) -> RpcResult<&Arc<dyn CertifiedChain>> {
        let wanted = match name {
            serde_json::Value::Number(n) => n.as_u64().map(|n| format!("shard-{n}")),
            serde_json::Value::String(s) => Some(s.clone()),
            _ => None,
        };
        let unknown = || {
            invalid_params(format!(
                "unknown chain {name}: this node serves {} (name a chain as \"beacon\", \"shard-N\" or N)",
                self.served()
            ))
        };
        let wanted = wanted.ok_or_else(unknown)?;
        self.chains
            .iter()
            .find(|c| c.name() == wanted)
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
        let head = chain.finalized_height();
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
        let mut block_hash = B256::ZERO;
        for number in height..=certified {
            let (hash, header) = chain
                .header(number)
                .map_err(internal)?
                .ok_or_else(|| internal(format!("final block {number} is missing")))?;
            if number == height {
                block_hash = hash;
            }
            headers.push(Bytes::from(header));
        }
        Ok(FinalityCertificate {
            chain: chain.name(),
            height: U64::from(height),
            block_hash,
            certified_height: U64::from(certified),
            certified_hash: proposal.payload.0.into(),
            epoch: proposal.epoch,
            view: proposal.view,
            parent_view: proposal.parent.view,
            namespace: chain.namespace(),
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
