//! Consortium governance as pure beacon-chain state: [`ConsortiumState`] (members, governed
//! parameters, epoch, proposals and votes, scheduled changes, nonces, treasury remainder), the
//! signed transactions that change it, and the epoch boundary at which passed changes take
//! effect and fees are shared.
//!
//! No IO: the node persists [`ConsortiumState::encode`] in RocksDB, carries
//! [`SignedGovernanceTx::encode`] in beacon blocks, calls [`ConsortiumState::apply_tx`] for each
//! and [`ConsortiumState::on_epoch_boundary`] after the last block of every epoch.
//! Rules and formats: `docs/governance.md`.
//!
//! ```
//! use alloy_primitives::U256;
//! use kaimeng_genesis::{DevKeyRole, DevOptions, GenesisSpec, dev_member_secret};
//! use kaimeng_l1::governance::{Action, ConsortiumState, GovernanceTx, ProposalStatus};
//! use kaimeng_l1::membership::Parameter;
//!
//! let genesis = GenesisSpec::dev(&DevOptions { validators: 1, ..DevOptions::default() });
//! let mut state = ConsortiumState::from_genesis(&genesis).unwrap();
//! let suite = state.crypto_suite();
//! let secret = dev_member_secret(0, DevKeyRole::Admin, genesis.crypto_suite);
//! let admin = kaimeng_crypto::SecretKey::from_bytes(suite, secret.as_slice()).unwrap();
//!
//! let tx = GovernanceTx::Propose {
//!     proposer: "dev-member-0".into(),
//!     action: Action::SetParameter(Parameter::BlockGasLimit(60_000_000)),
//!     nonce: state.next_nonce("dev-member-0"),
//! }
//! .sign(state.domain(), &admin);
//! state.apply_tx(1, &tx).unwrap(); // one member of one: passes at once
//! assert_eq!(state.parameters().block_gas_limit, 30_000_000); // ...but waits for the boundary
//! let last = state.epoch().last_height;
//! let transition = state.on_epoch_boundary(last, U256::from(1_000)).unwrap();
//! assert_eq!(transition.parameters.block_gas_limit, 60_000_000);
//! assert_eq!(transition.fees.payouts[0].amount, U256::from(1_000));
//! assert!(matches!(state.proposal(1).unwrap().status, ProposalStatus::Enacted { effective_epoch: 1 }));
//! ```

mod apply;
mod boundary;
pub mod codec;
mod error;
mod proposal;
mod state;
mod transaction;
mod views;

pub use apply::{MAX_OPEN_PROPOSALS_PER_MEMBER, TxOutcome};
pub use boundary::EpochTransition;
pub use codec::DecodeError;
pub use error::GovernanceError;
pub use proposal::{CastVote, Proposal, ProposalStatus, Tally, approvals_needed, passes};
pub use state::{ConsortiumState, GenesisSuite};
pub use transaction::{Action, GovernanceDomain, GovernanceTx, SIGNING_DOMAIN, SignedGovernanceTx};
pub use views::{EpochView, MemberView, MembersView, ProposalView, ProposalsView};
