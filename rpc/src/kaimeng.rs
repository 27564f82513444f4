//! The `kaimeng_*` namespace over a [`Consortium`]: the node's finalized consortium state and
//! its governance-transaction pool, behind a narrow trait so the RPC does not know how the node
//! stores or orders anything.
//!
//! Each method is a short delegation: reads build the views of `kaimeng_l1::governance` from
//! [`Consortium::finalized_state`]; `kaimeng_sendGovernanceTransaction` decodes and checks the
//! transaction against that state with [`admit`] (pure) before handing it to
//! [`Consortium::submit_governance`]. [`ImmediateConsortium`] is an in-memory implementation
//! for tests and single-process tools.

use std::sync::Arc;

use alloy_primitives::{B256, Bytes, U256};
use jsonrpsee::types::ErrorObjectOwned;
use kaimeng_l1::governance::{
    ConsortiumState, DecodeError, EpochTransition, EpochView, GovernanceError, MembersView,
    ProposalView, ProposalsView, SignedGovernanceTx, TxOutcome,
};
use parking_lot::Mutex;

use crate::api::kaimeng::{GovernanceDomainView, KaimengApiServer};
use crate::error::{RpcResult, codes, invalid_params};

/// What the node offers the `kaimeng_` namespace. Implemented by the node.
pub trait Consortium: Send + Sync + 'static {
    /// The consortium state as of the latest finalized beacon block.
    fn finalized_state(&self) -> ConsortiumState;

    /// Pools a signed governance transaction for the next beacon blocks; `Err(message)` if
    /// refused. Called only with transactions [`admit`] accepted.
    fn submit_governance(&self, tx: SignedGovernanceTx) -> Result<B256, GovernanceError>;

    /// The nonce `organisation`'s next transaction needs when the pool already holds some of
    /// its transactions that are not yet finalized; `None` when the pool holds none (the
    /// finalized state's `next_nonce` then applies). The default pools nothing ahead.
    fn pooled_next_nonce(&self, organisation: &str) -> Option<u64> {
        let _ = organisation;
        None
    }
}

/// Checks `tx` against `state` as if it were included in the current epoch: signer a member,
/// signature, nonce, and the proposal or vote rules.
///
/// A nonce ahead of the finalized one is accepted only when it is exactly `pooled_next_nonce`,
/// the next after the organisation's pooled transactions; its signature has then been checked
/// (signatures are checked before nonces), and the node checks the rest when it includes it.
pub fn admit(
    state: &ConsortiumState,
    pooled_next_nonce: Option<u64>,
    tx: &SignedGovernanceTx,
) -> Result<(), GovernanceError> {
    match state.check_tx(state.epoch().start_height, tx) {
        Err(GovernanceError::BadNonce { expected, got, .. })
            if got > expected && pooled_next_nonce == Some(got) =>
        {
            Ok(())
        }
        other => other,
    }
}

/// The proposal-status filter of `kaimeng_proposals`: `None` for all.
fn status_filter(status: Option<&str>) -> RpcResult<Option<&str>> {
    const NAMES: [&str; 6] = ["open", "passed", "enacted", "failed", "rejected", "expired"];
    match status {
        None | Some("all") => Ok(None),
        Some(name) if NAMES.contains(&name) => Ok(Some(name)),
        Some(other) => Err(invalid_params(format!(
            "unknown proposal status \"{other}\"; expected \"all\" or one of {}",
            NAMES.join(", ")
        ))),
    }
}

fn malformed(error: DecodeError) -> ErrorObjectOwned {
    invalid_params(format!("not a governance transaction: {error}"))
}

fn refused(error: GovernanceError) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::INVALID_INPUT, error.to_string(), None::<()>)
}

/// The `kaimeng_*` methods, answering from a [`Consortium`].
pub struct KaimengRpc {
    consortium: Arc<dyn Consortium>,
}

impl KaimengRpc {
    pub fn new(consortium: Arc<dyn Consortium>) -> Self {
        KaimengRpc { consortium }
    }

    /// The namespace as methods to merge into a server (`server::serve_with`).
    pub fn methods(consortium: Arc<dyn Consortium>) -> jsonrpsee::Methods {
        KaimengRpc::new(consortium).into_rpc().into()
    }
}

impl KaimengApiServer for KaimengRpc {
    fn members(&self) -> RpcResult<MembersView> {
        Ok(self.consortium.finalized_state().members_view())
    }

    fn proposals(&self, status: Option<String>) -> RpcResult<ProposalsView> {
        let status = status_filter(status.as_deref())?;
        Ok(self.consortium.finalized_state().proposals_view(status))
    }

    fn proposal(&self, id: u64) -> RpcResult<Option<ProposalView>> {
        let state = self.consortium.finalized_state();
        Ok(state.proposal(id).map(|proposal| ProposalView {
            proposal: proposal.clone(),
            tally: proposal.tally(state.members()),
        }))
    }

    fn epoch(&self) -> RpcResult<EpochView> {
        Ok(self.consortium.finalized_state().epoch_view())
    }

    fn governance_domain(&self) -> RpcResult<GovernanceDomainView> {
        let state = self.consortium.finalized_state();
        Ok(GovernanceDomainView {
            chain_id: state.domain().chain_id,
            genesis_hash: state.domain().genesis_hash,
            crypto_suite: state.genesis_suite(),
        })
    }

    fn governance_nonce(&self, organisation: String) -> RpcResult<u64> {
        let finalized = self.consortium.finalized_state().next_nonce(&organisation);
        let pooled = self.consortium.pooled_next_nonce(&organisation);
        Ok(pooled.map_or(finalized, |pooled| pooled.max(finalized)))
    }

    fn send_governance_transaction(&self, tx: Bytes) -> RpcResult<B256> {
        let tx = SignedGovernanceTx::decode(&tx).map_err(malformed)?;
        let pooled = self.consortium.pooled_next_nonce(tx.tx.signer());
        admit(&self.consortium.finalized_state(), pooled, &tx).map_err(refused)?;
        self.consortium.submit_governance(tx).map_err(refused)
    }
}

/// A [`Consortium`] without blocks or consensus: every accepted transaction is applied at once
/// to an in-memory state, at the current epoch's first height, and epochs end only when
/// [`ImmediateConsortium::end_epoch`] is called. For tests and single-process tools; nothing
/// here is agreed by anyone.
pub struct ImmediateConsortium {
    state: Mutex<ConsortiumState>,
    outcomes: Mutex<Vec<TxOutcome>>,
}

impl ImmediateConsortium {
    pub fn new(state: ConsortiumState) -> Self {
        ImmediateConsortium {
            state: Mutex::new(state),
            outcomes: Mutex::new(Vec::new()),
        }
    }

    /// What each applied transaction did, in order.
    pub fn outcomes(&self) -> Vec<TxOutcome> {
        self.outcomes.lock().clone()
    }

    /// Runs the boundary of the current epoch with `fees` collected in it.
    pub fn end_epoch(&self, fees: U256) -> Result<EpochTransition, GovernanceError> {
        let mut state = self.state.lock();
        let last = state.epoch().last_height;
        state.on_epoch_boundary(last, fees)
    }
}

impl Consortium for ImmediateConsortium {
    fn finalized_state(&self) -> ConsortiumState {
        self.state.lock().clone()
    }

    fn submit_governance(&self, tx: SignedGovernanceTx) -> Result<B256, GovernanceError> {
        let mut state = self.state.lock();
        let height = state.epoch().start_height;
        let outcome = state.apply_tx(height, &tx)?;
        self.outcomes.lock().push(outcome);
        Ok(tx.id(state.crypto_suite()))
    }
}
