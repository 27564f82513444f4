//! Kaimeng's L2 (rollup) state model: the native reference that the prover's circuits
//! and the later sequencer and bridge all agree on.
//!
//! Nothing here knows about circuits. The modules are:
//! - [`poseidon`]: P128Pow5T3 over the Pallas base field and the hash domains built on it;
//! - [`field_lanes`] and [`poseidon_lanes`]: the validators' bulk field work (a batch's data
//!   commitments, a decision's `s(u)` sum) eight elements at a time in AVX-512 IFMA lanes;
//! - [`smt`]: the depth-32 sparse Merkle tree of accounts, with membership proofs;
//! - [`account`]: the account leaf (public key, balance, nonce, L1 address);
//! - [`tx`]: L2 operations (deposit, transfer, withdraw, forced exit), their signed message,
//!   the bytes published per slot and the words committed to by the proofs;
//! - [`rebuild`]: the L2 state rebuilt from shard 0's published data alone (exodus exits);
//! - [`schnorr`]: Schnorr signatures over Pallas with a Poseidon challenge bound to the chain id;
//! - [`keys`]: deriving a user's L2 key from a signature made with their Ethereum key;
//! - [`bridge_calls`]: what the bridge contract asks natively (priority-queue fold, exodus
//!   account proofs), in EVM words;
//! - [`soft`]: the sequencer's soft-confirmed ledger (the STF's rules without the tree);
//! - [`journal`]: the sequencer's durable, checksummed log of accepted operations;
//! - [`stf`]: the state-transition function that applies slots in fixed-size chunks and
//!   records every intermediate root together with the trace a prover needs.

pub mod account;
pub mod bridge_calls;
pub mod field_lanes;
pub mod journal;
pub mod keys;
pub mod poseidon;
pub mod poseidon_lanes;
pub mod rebuild;
pub mod schnorr;
pub mod smt;
pub mod snapshot;
pub mod soft;
pub mod stf;
pub mod tx;

/// The Pallas base field: every state value (roots, hashes, balances) lives here.
pub use pasta_curves::pallas::Base as Fp;
/// The Pallas scalar field: Schnorr secret keys and signature scalars live here.
pub use pasta_curves::pallas::Scalar as Fq;

pub use account::{Account, L1Address};
pub use schnorr::{PublicKey, Signature, SigningKey};
pub use smt::{MerkleProof, SparseMerkleTree, TREE_DEPTH};
pub use stf::{ChunkOutcome, L2State, SlotTrace, StfError};
pub use tx::{DepositOp, ForcedExitOp, L2Op, PriorityOp, SignedTransfer, SignedWithdraw};
