//! `GenesisError`: every way a genesis file can be unreadable or wrong.
//!
//! Field errors name the offending field by its JSON path (`members[2].fee_recipient`) and say
//! what is wrong with it, so an operator can fix the file without reading code.

use std::fmt;
use std::path::PathBuf;

/// A line and column in the genesis JSON text (both 1-based), where the parser noticed a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPosition {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for TextPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why a genesis could not be read, parsed, validated or written.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// A field has a wrong type, a malformed value, breaks a validation rule, is unknown or is
    /// missing. `field` is its JSON path, e.g. `alloc[3].balance`.
    #[error("genesis field \"{field}\": {problem}{}", at_suffix(.at))]
    Field {
        field: String,
        problem: String,
        at: Option<TextPosition>,
    },
    /// The document as a whole is wrong: not JSON, truncated, or not a JSON object.
    #[error("genesis is not a valid JSON document at {at}: {problem}")]
    Syntax { problem: String, at: TextPosition },
    /// The genesis file could not be read.
    #[error("cannot read genesis file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The genesis file could not be written.
    #[error("cannot write genesis file {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Refused to replace an existing file without `force`.
    #[error("genesis file {} already exists; use --force to overwrite it", path.display())]
    AlreadyExists { path: PathBuf },
}

impl GenesisError {
    /// A validation failure of the field at JSON path `field`.
    pub fn field(field: impl Into<String>, problem: impl Into<String>) -> Self {
        GenesisError::Field {
            field: field.into(),
            problem: problem.into(),
            at: None,
        }
    }

    /// The JSON path of the offending field, when the error is about one field.
    pub fn field_path(&self) -> Option<&str> {
        match self {
            GenesisError::Field { field, .. } => Some(field),
            _ => None,
        }
    }
}

fn at_suffix(at: &Option<TextPosition>) -> String {
    match at {
        Some(position) => format!(" (at {position})"),
        None => String::new(),
    }
}
