//! Why a byte string is not a valid consensus message or record.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("input of {len} bytes exceeds the maximum of {max}")]
    TooLong { len: usize, max: usize },
    #[error("input ended while reading {what}: needed {needed} more bytes, {remaining} left")]
    UnexpectedEnd {
        what: &'static str,
        needed: usize,
        remaining: usize,
    },
    #[error("unsupported codec version {found} (this node speaks {supported})")]
    UnsupportedVersion { found: u8, supported: u8 },
    #[error("unknown {what} tag {tag}")]
    UnknownTag { what: &'static str, tag: u8 },
    #[error("{what}: varint is longer than its shortest form")]
    NonCanonicalVarint { what: &'static str },
    #[error("{what}: varint overflows 64 bits")]
    VarintOverflow { what: &'static str },
    #[error("{what} is {value}, above the maximum of {max}")]
    TooLarge {
        what: &'static str,
        value: u64,
        max: u64,
    },
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("certificate signers are not strictly ascending ({previous} then {next})")]
    SignersNotAscending { previous: u32, next: u32 },
    #[error("a proposal must carry its leader's notarize vote, found a {found} vote")]
    ProposalWithoutNotarize { found: &'static str },
    #[error("expected a certificate, found a {found}")]
    NotACertificate { found: &'static str },
    #[error("{count} trailing bytes after the end of the {what}")]
    TrailingBytes { what: &'static str, count: usize },
}
