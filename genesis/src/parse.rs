//! Reading genesis JSON: turns serde's errors into `GenesisError`s that name the field by its
//! JSON path and say what is wrong.

use serde_json::error::Category;

use crate::error::{GenesisError, TextPosition};
use crate::spec::GenesisSpec;

/// Parses genesis JSON without validating it.
pub fn parse_unvalidated(text: &str) -> Result<GenesisSpec, GenesisError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let spec: GenesisSpec = serde_path_to_error::deserialize(&mut deserializer).map_err(
        |error: serde_path_to_error::Error<serde_json::Error>| {
            let path = error.path().to_string();
            describe(path, error.into_inner())
        },
    )?;
    deserializer
        .end()
        .map_err(|error| describe(String::new(), error))?;
    Ok(spec)
}

fn describe(path: String, error: serde_json::Error) -> GenesisError {
    let at = TextPosition {
        line: error.line(),
        column: error.column(),
    };
    let message = message_without_position(&error);
    let parent = if path == "." { String::new() } else { path };
    if let Some(named) = FieldMessage::parse(&message) {
        return GenesisError::Field {
            field: named.full_path(&parent),
            problem: named.problem,
            at: Some(at),
        };
    }
    let is_document_error = matches!(
        error.classify(),
        Category::Syntax | Category::Eof | Category::Io
    ) || parent.is_empty();
    if is_document_error {
        GenesisError::Syntax {
            problem: message,
            at,
        }
    } else {
        GenesisError::Field {
            field: parent,
            problem: message,
            at: Some(at),
        }
    }
}

/// serde_json appends " at line L column C"; we report the position separately.
fn message_without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

/// A serde message about one named field: missing, duplicate or unknown.
struct FieldMessage {
    name: String,
    problem: String,
    /// Unknown fields are reported with the key already on the path; the others at the parent.
    path_includes_name: bool,
}

impl FieldMessage {
    fn parse(message: &str) -> Option<FieldMessage> {
        let named = |prefix: &str| -> Option<(String, String)> {
            let rest = message.strip_prefix(prefix)?;
            let end = rest.find('`')?;
            Some((rest[..end].to_owned(), rest[end + 1..].to_owned()))
        };
        if let Some((name, _)) = named("missing field `") {
            return Some(FieldMessage {
                name,
                problem: "is required but missing".to_owned(),
                path_includes_name: false,
            });
        }
        if let Some((name, _)) = named("duplicate field `") {
            return Some(FieldMessage {
                name,
                problem: "appears more than once".to_owned(),
                path_includes_name: false,
            });
        }
        let (name, rest) = named("unknown field `")?;
        let expected = rest.trim_start_matches(',').trim();
        let problem = if expected.is_empty() {
            "is not a known field".to_owned()
        } else {
            format!("is not a known field ({expected})")
        };
        Some(FieldMessage {
            name,
            problem,
            path_includes_name: true,
        })
    }

    fn full_path(&self, reported: &str) -> String {
        let last_segment = reported.rsplit(['.', ']']).next().unwrap_or("");
        if reported.is_empty() {
            self.name.clone()
        } else if self.path_includes_name && last_segment == self.name {
            reported.to_owned()
        } else {
            format!("{reported}.{}", self.name)
        }
    }
}
