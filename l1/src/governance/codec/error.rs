//! `DecodeError`: why bytes are not a valid governance transaction or consortium state.

/// A malformed encoding, with what was being read when it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("input of {len} bytes exceeds the maximum of {max}")]
    TooLong { len: usize, max: usize },
    #[error("input ended while reading {what}: needed {needed} more bytes, {remaining} left")]
    UnexpectedEnd {
        what: &'static str,
        needed: usize,
        remaining: usize,
    },
    #[error("unsupported encoding version {found} (this node reads {supported})")]
    UnsupportedVersion { found: u8, supported: u8 },
    #[error("unknown {what} tag {tag}")]
    UnknownTag { what: &'static str, tag: u8 },
    #[error("{what} is {value}, above the maximum of {max}")]
    TooLarge {
        what: &'static str,
        value: u64,
        max: u64,
    },
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 { what: &'static str },
    #[error("{what} must be 0 or 1, found {value}")]
    InvalidBool { what: &'static str, value: u8 },
    #[error("{what} are not in strictly ascending order")]
    NotAscending { what: &'static str },
    #[error("{what} is invalid: {problem}")]
    Invalid {
        what: &'static str,
        problem: &'static str,
    },
    #[error("{count} trailing bytes after the end of the {what}")]
    TrailingBytes { what: &'static str, count: usize },
}
