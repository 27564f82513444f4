//! The wire and disk encoding of consensus messages and records: compact, versioned and
//! length-checked.
//!
//! Every encoding starts with a version byte ([`VERSION`]) and a tag byte. Integers are
//! unsigned LEB128 varints in their shortest form; digests are 32 raw bytes; signatures are a
//! length byte and at most [`MAX_SIGNATURE_LEN`](crate::signing::MAX_SIGNATURE_LEN) bytes;
//! certificate signers are strictly ascending. So every value has exactly one encoding, and
//! [`decode_message`] rejects anything else with a [`DecodeError`] that says what was wrong. The
//! decoder never panics and never allocates more than the input's size justifies. The layout
//! is specified in `docs/consensus.md` and fuzzed in `tests/it/codec.rs`.

mod error;
mod message;
mod reader;
mod writer;

pub use error::DecodeError;
pub use message::{
    decode_certificate, decode_message, decode_record, encode_certificate, encode_message,
    encode_record,
};
pub use reader::Reader;
pub use writer::Writer;

/// The codec version this crate writes and reads.
pub const VERSION: u8 = 1;
/// The largest encoded message or record the decoder looks at.
pub const MAX_MESSAGE_LEN: usize = 1 << 20;
/// The most nullifications a proposal's justification may carry. An honest leader needs one per
/// view skipped since its parent; a longer gap makes it wait for a later view.
pub const MAX_JUSTIFICATION_NULLIFICATIONS: usize = 256;
