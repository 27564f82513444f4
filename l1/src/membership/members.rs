//! The member set's rules: who is a member, and what a new member must satisfy. A new member
//! meets the same rules as a founding member in genesis (`kaimeng_genesis` validation): a clean
//! organisation name unique ignoring case, suite-valid public keys distinct from every other
//! member key, a well-formed unique libp2p peer id, a non-zero fee recipient and a weight of at
//! least 1.

use alloy_primitives::Address;
use kaimeng_genesis::{CryptoSuite, MAX_ORGANISATION_LEN, Member, check_peer_id};

use super::error::MembershipError;

/// Most members a consortium may have: the consensus engine's largest validator set
/// (`kaimeng_consensus::MAX_VALIDATORS`).
pub const MAX_MEMBERS: usize = 1024;

/// The member whose organisation is exactly `organisation`, with its index in member order.
pub fn find_member<'a>(members: &'a [Member], organisation: &str) -> Option<(usize, &'a Member)> {
    members
        .iter()
        .enumerate()
        .find(|(_, member)| member.organisation == organisation)
}

/// Checks that `candidate` may join `members` on a chain of `suite`.
pub fn check_new_member(
    suite: CryptoSuite,
    members: &[Member],
    candidate: &Member,
) -> Result<(), MembershipError> {
    check_organisation(&candidate.organisation)?;
    let folded = candidate.organisation.to_lowercase();
    if members
        .iter()
        .any(|member| member.organisation.to_lowercase() == folded)
    {
        return Err(MembershipError::MemberExists {
            organisation: candidate.organisation.clone(),
        });
    }
    if members.len() >= MAX_MEMBERS {
        return Err(MembershipError::TooManyMembers { max: MAX_MEMBERS });
    }
    check_keys(suite, members, candidate)?;
    check_peer_id(&candidate.peer_id).map_err(|problem| MembershipError::InvalidMember {
        field: "peer_id",
        problem,
    })?;
    if let Some(other) = members.iter().find(|m| m.peer_id == candidate.peer_id) {
        return Err(MembershipError::DuplicatePeerId {
            other_organisation: other.organisation.clone(),
        });
    }
    if candidate.fee_recipient == Address::ZERO {
        return Err(MembershipError::InvalidMember {
            field: "fee_recipient",
            problem: "must not be the zero address".to_owned(),
        });
    }
    if candidate.weight == 0 {
        return Err(MembershipError::InvalidMember {
            field: "weight",
            problem: "must be at least 1".to_owned(),
        });
    }
    Ok(())
}

/// Checks that the member `organisation` exists and is not the last one.
pub fn check_removal(members: &[Member], organisation: &str) -> Result<(), MembershipError> {
    if find_member(members, organisation).is_none() {
        return Err(MembershipError::UnknownMember {
            organisation: organisation.to_owned(),
        });
    }
    if members.len() <= 1 {
        return Err(MembershipError::LastMember {
            organisation: organisation.to_owned(),
        });
    }
    Ok(())
}

fn check_organisation(name: &str) -> Result<(), MembershipError> {
    let problem = if name.trim().is_empty() {
        "must not be empty".to_owned()
    } else if name.trim() != name {
        format!("\"{name}\" has leading or trailing whitespace")
    } else if name.chars().count() > MAX_ORGANISATION_LEN {
        format!("is longer than {MAX_ORGANISATION_LEN} characters")
    } else if name.chars().any(char::is_control) {
        "contains control characters".to_owned()
    } else {
        return Ok(());
    };
    Err(MembershipError::InvalidMember {
        field: "organisation",
        problem,
    })
}

fn key_fields(member: &Member) -> [(&'static str, &[u8]); 3] {
    [
        ("admin_key", member.admin_key.as_slice()),
        ("consensus_key", member.consensus_key.as_slice()),
        ("vrf_key", member.vrf_key.as_slice()),
    ]
}

/// Each key must be a valid point of the suite's curve and differ (compared compressed, so the
/// two SEC1 forms of one key are equal) from the candidate's other keys and every member's keys.
fn check_keys(
    suite: CryptoSuite,
    members: &[Member],
    candidate: &Member,
) -> Result<(), MembershipError> {
    let normalise = |key: &[u8]| {
        suite
            .compressed_public_key(key)
            .unwrap_or_else(|| key.to_vec())
    };
    let mut seen: Vec<(Vec<u8>, &'static str, &str)> = members
        .iter()
        .flat_map(|member| {
            key_fields(member)
                .map(|(field, key)| (normalise(key), field, member.organisation.as_str()))
        })
        .collect();
    for (field, key) in key_fields(candidate) {
        if field == "vrf_key" {
            // An RFC 9381 Edwards25519 key whatever the suite (ADR 0097).
            kaimeng_crypto::vrf::VrfPublicKey::from_bytes(key).map_err(|error| {
                MembershipError::InvalidMember {
                    field,
                    problem: error.to_string(),
                }
            })?;
        } else {
            suite
                .check_public_key(key)
                .map_err(|problem| MembershipError::InvalidMember {
                    field,
                    problem: format!("{problem} (crypto suite {suite})"),
                })?;
        }
        let normal = normalise(key);
        if let Some((_, other_field, other_organisation)) =
            seen.iter().find(|(other, _, _)| *other == normal)
        {
            return Err(MembershipError::DuplicateKey {
                field,
                other_field,
                other_organisation: (*other_organisation).to_owned(),
            });
        }
        seen.push((normal, field, candidate.organisation.as_str()));
    }
    Ok(())
}
