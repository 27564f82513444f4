//! The binary encodings of governance transactions and of the consortium state.
//!
//! Fixed-width big-endian integers, `u32` length prefixes with a maximum per field, one-byte
//! tags for enums, maps in strictly ascending key order. Every value has exactly one encoding,
//! and the decoder accepts only that one: `encode(decode(bytes)) == bytes` for every input it
//! accepts, so hashes of encodings are well defined. The layout is documented in
//! `docs/governance.md` ("Wire format").

mod error;
mod items;
mod primitives;
mod state;

pub use error::DecodeError;
pub(crate) use items::{decode_signed_tx, encode_signed_tx, encode_tx};
pub(crate) use state::{decode_state, encode_state};

/// Version byte at the start of a signed transaction.
pub const TX_VERSION: u8 = 1;
/// Version byte at the start of an encoded consortium state.
pub const STATE_VERSION: u8 = 1;
/// Largest signed transaction accepted (a fixed fee split naming 1,024 members with the longest
/// names is about 270 KB).
pub const MAX_TX_LEN: usize = 512 * 1024;
/// Longest organisation name in bytes (64 characters of up to 4 UTF-8 bytes).
pub const MAX_ORGANISATION_BYTES: usize = 256;
/// Longest public key (uncompressed SEC1).
pub const MAX_KEY_BYTES: usize = 65;
/// Longest peer id text.
pub const MAX_PEER_ID_BYTES: usize = 128;
/// Longest reason recorded for a failed proposal.
pub const MAX_REASON_BYTES: usize = 1024;
