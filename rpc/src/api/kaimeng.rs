//! The `kaimeng_*` namespace: consortium membership and governance (members, proposals, the
//! epoch) and the submission of signed governance transactions. Answers are the serde views of
//! `kaimeng_l1::governance` (snake_case fields, plain JSON numbers, amounts as decimal strings).
//! The implementation is `crate::kaimeng::KaimengRpc`; the `client` half is what `kaimeng gov`
//! calls.

use alloy_primitives::{B256, Bytes};
use jsonrpsee::proc_macros::rpc;
use jsonrpsee::types::ErrorObjectOwned;
use kaimeng_l1::governance::{
    EpochView, GenesisSuite, GovernanceDomain, MembersView, ProposalView, ProposalsView,
};
use serde::{Deserialize, Serialize};

type RpcResult<T> = Result<T, ErrorObjectOwned>;

/// `kaimeng_governanceDomain`: what a governance signature must be bound to, and the suite of
/// the admin keys that make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovernanceDomainView {
    /// The network's chain id (genesis `chain_id_base`).
    pub chain_id: u64,
    /// `GenesisSpec::hash()` of the network's genesis.
    pub genesis_hash: B256,
    /// The consensus suite, as genesis names it (`secp256k1-keccak` or `sm2-sm3`).
    pub crypto_suite: GenesisSuite,
}

impl GovernanceDomainView {
    /// The domain governance transactions are signed over.
    pub fn domain(&self) -> GovernanceDomain {
        GovernanceDomain {
            chain_id: self.chain_id,
            genesis_hash: self.genesis_hash,
        }
    }
}

#[rpc(server, client, namespace = "kaimeng")]
pub trait KaimengApi {
    /// The current members, each with its next governance nonce.
    #[method(name = "members")]
    fn members(&self) -> RpcResult<MembersView>;

    /// Proposals with their tallies: all of them, or those whose status is `status` (`"open"`,
    /// `"passed"`, `"enacted"`, `"failed"`, `"rejected"`, `"expired"`; `"all"` or null for all).
    #[method(name = "proposals")]
    fn proposals(&self, status: Option<String>) -> RpcResult<ProposalsView>;

    /// One proposal with its tally, or null if there is no proposal `id`.
    #[method(name = "proposal")]
    fn proposal(&self, id: u64) -> RpcResult<Option<ProposalView>>;

    /// The current epoch, its parameters and validators, what takes effect at its end, and the
    /// last fee sharing.
    #[method(name = "epoch")]
    fn epoch(&self) -> RpcResult<EpochView>;

    /// Chain id, genesis hash and suite that governance signatures are bound to.
    #[method(name = "governanceDomain")]
    fn governance_domain(&self) -> RpcResult<GovernanceDomainView>;

    /// The nonce `organisation`'s next governance transaction must carry (counting
    /// transactions the node has pooled but not yet finalized).
    #[method(name = "governanceNonce")]
    fn governance_nonce(&self, organisation: String) -> RpcResult<u64>;

    /// Checks and pools a signed governance transaction (`SignedGovernanceTx::encode`, hex);
    /// returns its id (`SignedGovernanceTx::id`).
    #[method(name = "sendGovernanceTransaction")]
    fn send_governance_transaction(&self, tx: Bytes) -> RpcResult<B256>;
}
