//! A consortium under test: a dev genesis, its members' admin keys, and helpers that sign and
//! apply governance transactions at the current height.

use alloy_primitives::U256;
use kaimeng_crypto::SecretKey;
use kaimeng_genesis::{
    CryptoSuite, DevKeyRole, DevOptions, GenesisSpec, Member, dev_member, dev_member_name,
    dev_member_secret,
};
use kaimeng_l1::governance::{
    Action, ConsortiumState, EpochTransition, GovernanceError, GovernanceTx, SignedGovernanceTx,
    TxOutcome,
};
use kaimeng_l1::membership::Parameter;

pub struct Consortium {
    pub genesis: GenesisSpec,
    pub state: ConsortiumState,
    /// Height at which the next transaction is included.
    pub height: u64,
}

impl Consortium {
    /// A dev consortium of `members` members on secp256k1-keccak.
    pub fn new(members: u32) -> Self {
        Self::with_suite(members, CryptoSuite::Secp256k1Keccak)
    }

    pub fn with_suite(members: u32, suite: CryptoSuite) -> Self {
        Self::from_genesis(GenesisSpec::dev(&DevOptions {
            validators: members,
            crypto_suite: suite,
            ..DevOptions::default()
        }))
    }

    pub fn from_genesis(genesis: GenesisSpec) -> Self {
        let state = ConsortiumState::from_genesis(&genesis).expect("valid genesis");
        let height = state.epoch().start_height;
        Consortium {
            genesis,
            state,
            height,
        }
    }

    /// The admin key of dev member `index` (whether or not it is a member).
    pub fn admin(&self, index: u32) -> SecretKey {
        let secret = dev_member_secret(index, DevKeyRole::Admin, self.genesis.crypto_suite);
        SecretKey::from_bytes(self.state.crypto_suite(), secret.as_slice()).expect("dev key")
    }

    /// Dev member `index` as a candidate for admission.
    pub fn candidate(&self, index: u32) -> Member {
        dev_member(index, self.genesis.crypto_suite)
    }

    /// A proposal by dev member `index`, signed with its admin key and its next nonce.
    pub fn propose_tx(&self, index: u32, action: Action) -> SignedGovernanceTx {
        let proposer = dev_member_name(index);
        GovernanceTx::Propose {
            nonce: self.state.next_nonce(&proposer),
            proposer,
            action,
        }
        .sign(self.state.domain(), &self.admin(index))
    }

    /// A vote by dev member `index`, signed with its admin key and its next nonce.
    pub fn vote_tx(&self, index: u32, proposal_id: u64, approve: bool) -> SignedGovernanceTx {
        let voter = dev_member_name(index);
        GovernanceTx::Vote {
            nonce: self.state.next_nonce(&voter),
            voter,
            proposal_id,
            approve,
        }
        .sign(self.state.domain(), &self.admin(index))
    }

    pub fn apply(&mut self, tx: &SignedGovernanceTx) -> Result<TxOutcome, GovernanceError> {
        self.state.apply_tx(self.height, tx)
    }

    pub fn propose(&mut self, index: u32, action: Action) -> Result<TxOutcome, GovernanceError> {
        let tx = self.propose_tx(index, action);
        self.apply(&tx)
    }

    pub fn vote(
        &mut self,
        index: u32,
        id: u64,
        approve: bool,
    ) -> Result<TxOutcome, GovernanceError> {
        let tx = self.vote_tx(index, id, approve);
        self.apply(&tx)
    }

    /// Ends the current epoch with `fees` wei collected and moves to the next epoch's first height.
    pub fn end_epoch(&mut self, fees: u64) -> EpochTransition {
        let last = self.state.epoch().last_height;
        let transition = self
            .state
            .on_epoch_boundary(last, U256::from(fees))
            .expect("boundary at the epoch's last height");
        self.height = self.state.epoch().start_height;
        transition
    }

    pub fn member_names(&self) -> Vec<String> {
        self.state
            .members()
            .iter()
            .map(|m| m.organisation.clone())
            .collect()
    }
}

pub fn name(index: u32) -> String {
    dev_member_name(index)
}

pub fn gas_limit(limit: u64) -> Action {
    Action::SetParameter(Parameter::BlockGasLimit(limit))
}

/// The id in a `Proposed` outcome.
pub fn proposal_id(outcome: TxOutcome) -> u64 {
    match outcome {
        TxOutcome::Proposed { proposal_id, .. } => proposal_id,
        other => panic!("expected a proposal, got {other:?}"),
    }
}

/// Proptest cases: `default`, or `PROPTEST_CASES` from the environment for longer runs.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}
