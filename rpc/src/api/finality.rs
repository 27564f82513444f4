//! `kaimeng_getFinalityCertificate`: the certificate that made a block final, in a form a light
//! client checks with the member list alone (see `docs/consensus.md`, "Checking a certificate").

use alloy_primitives::{B256, Bytes, U64};
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;
use serde::{Deserialize, Serialize};

type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// One validator's signature in a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateSignature {
    /// The signer's position in the epoch's validator set (member order).
    pub validator: u32,
    pub signature: Bytes,
}

/// A finality certificate and the headers that tie the asked block to the certified one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinalityCertificate {
    /// `beacon` or `shard-N`.
    pub chain: String,
    /// The block asked for.
    pub height: U64,
    pub block_hash: B256,
    /// The block the certificate finalizes: `height` itself, or a descendant whose finality
    /// makes `height` final.
    pub certified_height: U64,
    pub certified_hash: B256,
    pub epoch: u64,
    pub view: u64,
    pub parent_view: u64,
    /// The domain the votes are signed in (`kaimeng/beacon`, `kaimeng/shard/N`), as UTF-8.
    pub namespace: String,
    pub signatures: Vec<CertificateSignature>,
    /// The certificate's canonical encoding (what a node stores and serves to block sync).
    pub encoded: Bytes,
    /// The headers `height..=certifiedHeight`, in order (a shard's as RLP, whose keccak256 is
    /// its hash; the beacon chain's as its 112-byte encoding, whose consensus hash is its hash):
    /// each one's hash is the next one's parent hash, and the last one's is `certifiedHash`.
    pub headers: Vec<Bytes>,
}

#[rpc(server, client, namespace = "kaimeng")]
pub trait FinalityApi {
    /// The certificate that finalized block `height` of `chain` (`"beacon"`, `"shard-0"`, or a
    /// shard number). Errors when the chain is not served here, the block is not final, or no
    /// certificate was kept for it (genesis, a dev sealer's block).
    #[method(name = "getFinalityCertificate")]
    fn get_finality_certificate(
        &self,
        chain: serde_json::Value,
        height: U64,
    ) -> RpcResult<FinalityCertificate>;
}
