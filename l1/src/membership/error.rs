//! `MembershipError`: why a membership change or a parameter value is not acceptable against the
//! current consortium.

/// A proposed action that the current consortium cannot accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    #[error(
        "\"{organisation}\" is already a member (organisation names are compared ignoring case)"
    )]
    MemberExists { organisation: String },
    #[error("\"{organisation}\" is not a member")]
    UnknownMember { organisation: String },
    #[error(
        "cannot remove \"{organisation}\": it is the last member and a consortium needs at least one"
    )]
    LastMember { organisation: String },
    #[error("the consortium already has the maximum of {max} members")]
    TooManyMembers { max: usize },
    #[error("new member's {field}: {problem}")]
    InvalidMember {
        field: &'static str,
        problem: String,
    },
    #[error(
        "new member's {field} is already used as {other_field} by member \"{other_organisation}\"; every key must be distinct"
    )]
    DuplicateKey {
        field: &'static str,
        other_field: &'static str,
        other_organisation: String,
    },
    #[error("new member's peer id is already the peer id of member \"{other_organisation}\"")]
    DuplicatePeerId { other_organisation: String },
    #[error("parameter {parameter} is out of bounds: {problem}")]
    ParameterOutOfBounds {
        parameter: &'static str,
        problem: String,
    },
}
