//! Kaimeng's consensus: a Simplex-class BFT protocol (responsive, one-block finality,
//! `n = 3f + 1`) written as a pure state machine, its message codec, and a deterministic
//! simulation that drives it under faults.
//!
//! - [`Engine`]: inputs in ([`Input`]), effects out ([`Effect`]); no IO, clock or thread.
//! - [`codec`]: the versioned binary encoding of [`Message`]s and [`Record`]s.
//! - [`Signer`] / [`Verifier`]: the signature scheme is the host's (secp256k1 or SM2).
//! - [`ValidatorSet`]: one epoch's members; a new epoch is a new engine.
//! - [`sim`]: seeded network, crashes, partitions and Byzantine validators.
//!
//! The protocol, the wire format and the safety argument are in `docs/consensus.md`; the
//! choice of protocol in `docs/adr/0010-consensus-protocol-simplex.md`.
//!
//! # Driving the engine from a host
//!
//! The host owns the network, the disk, the clock and the application. It performs the
//! effects **in order**, and a `Persist` must be durable before the next effect runs (so a
//! vote is on disk before it can leave the node). Sketch of a host loop:
//!
//! ```
//! use kaimeng_consensus::sim::{MockScheme, MockSigner};
//! use kaimeng_consensus::{Anchor, Config, Digest, Effect, Engine, Input, codec};
//!
//! // One validator (n = 1), so the example finalizes on its own.
//! let scheme = MockScheme::new(1);
//! let anchor = Anchor { height: 0, digest: Digest([7; 32]) };
//! let config = Config::new(b"kaimeng/beacon".to_vec(), 0, scheme.validator_set(), Some(0), anchor);
//! let mut engine = Engine::new(config, scheme.signer(0), scheme.clone());
//!
//! let mut disk: Vec<Vec<u8>> = Vec::new(); // the host's consensus column family
//! let mut finalized = Vec::new();
//! let mut queue: Vec<Input> = Vec::new(); // stands for the network, timers and the app
//! let mut effects = engine.start(Vec::new()); // or: decoded records from `disk`
//! while finalized.len() < 3 {
//!     for effect in effects.drain(..) {
//!         match effect {
//!             // Write and fsync before touching the next effect.
//!             Effect::Persist(record) => disk.push(codec::encode_record(&record)),
//!             Effect::Broadcast(message) => { let _bytes = codec::encode_message(&message); /* gossip */ }
//!             Effect::SendTo { to: _, message: _ } => { /* request-response to one peer */ }
//!             Effect::ScheduleTimeout { timer: _, after: _ } => { /* tokio::time::sleep, then Input::Timeout(timer) */ }
//!             Effect::RequestPayload { view, parent: _, height } => {
//!                 // The application builds a block on `parent` and returns its digest.
//!                 queue.push(Input::PayloadReady { view, payload: Digest([height as u8 + 1; 32]) });
//!             }
//!             Effect::VerifyPayload { proposal } => {
//!                 queue.push(Input::PayloadVerified { view: proposal.view, payload: proposal.payload, valid: true });
//!             }
//!             Effect::Finalized { proposal, certificate: _ } => finalized.push(proposal.height),
//!             Effect::EpochEnded { .. } => { /* start the next epoch's engine */ }
//!             Effect::Fault(_evidence) => { /* hand to governance */ }
//!             Effect::Prune { below_view: _ } => { /* delete records of older views */ }
//!         }
//!     }
//!     for input in queue.drain(..) {
//!         // Bad peer input is a typed `Rejection`; log it and move on.
//!         if let Ok(more) = engine.apply(input) {
//!             effects.extend(more);
//!         }
//!     }
//! }
//! assert_eq!(finalized, vec![1, 2, 3]);
//! ```
//!
//! After a crash, decode every stored record with [`codec::decode_record`] and pass them to
//! [`Engine::start`].

pub mod codec;
pub mod engine;
pub mod finality;
pub mod messages;
pub mod signing;
pub mod sim;
pub mod types;
pub mod validators;

pub use engine::{
    Anchor, Config, Effect, Engine, Evidence, FinalizedTip, Input, Rejection, TimeoutConfig, Timer,
};
pub use finality::{FinalityClaim, FinalityError, verify_finality, verify_signatures};
pub use messages::{
    Certificate, CertificateKind, Justification, Message, ProposalMessage, Record, SignedVote, Vote,
};
pub use signing::{MAX_SIGNATURE_LEN, Signature, Signer, Verifier};
pub use types::{Digest, Epoch, Height, Parent, Proposal, ValidatorIndex, View};
pub use validators::{MAX_VALIDATORS, PublicKey, ValidatorSet, ValidatorSetError};
