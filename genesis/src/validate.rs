//! The rules a genesis must satisfy beyond its JSON shape. Pure: no IO, no clock.
//!
//! Every rule reports the JSON path of the field it concerns; `problems` collects all of them,
//! `GenesisSpec::validate` returns the first.

use std::collections::{BTreeMap, BTreeSet};

use alloy_primitives::Address;

use crate::error::GenesisError;
use crate::fee_split::{BASIS_POINTS_TOTAL, FeeSplit};
use crate::peer_id::check_peer_id;
use crate::spec::{GenesisAccount, GenesisSpec, Member};

/// Most shards a network may have.
pub const MAX_SHARDS: u32 = 64;
/// Range of the rollup's `chunk_k` (the prover's parameter sizes).
pub const MIN_ROLLUP_K: u32 = 10;
pub const MAX_ROLLUP_K: u32 = 20;
/// Largest chain id wallets accept (MetaMask's limit, `floor((2^53 - 39) / 2)`); every shard's
/// chain id must stay at or below it.
pub const MAX_CHAIN_ID: u64 = 4_503_599_627_370_476;
/// Smallest block gas limit: room for 100 plain transfers.
pub const MIN_BLOCK_GAS_LIMIT: u64 = 21_000 * 100;
/// Largest block gas limit, `2^63 - 1`, so gas fits a signed 64-bit integer in every tool.
pub const MAX_BLOCK_GAS_LIMIT: u64 = i64::MAX as u64;
/// Longest block interval, one hour.
pub const MAX_BLOCK_TIME_MS: u64 = 3_600_000;
/// Longest organisation name, in characters.
pub const MAX_ORGANISATION_LEN: usize = 64;

/// All rule violations of `spec`, in field order.
pub fn problems(spec: &GenesisSpec) -> Vec<GenesisError> {
    let mut found = Problems::default();
    check_chain(spec, &mut found);
    check_fees(spec, &mut found);
    check_members(spec, &mut found);
    check_fee_split(spec, &mut found);
    check_alloc(spec, &mut found);
    found.0
}

#[derive(Default)]
struct Problems(Vec<GenesisError>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push(GenesisError::field(field, problem));
    }
}

fn check_chain(spec: &GenesisSpec, found: &mut Problems) {
    if spec.chain_id_base == 0 {
        found.add(
            "chain_id_base",
            "must be at least 1 (chain id 0 is not valid for EIP-155)",
        );
    }
    if spec.shard_count == 0 || spec.shard_count > MAX_SHARDS {
        found.add(
            "shard_count",
            format!(
                "{} is out of range; must be 1 to {MAX_SHARDS}",
                spec.shard_count
            ),
        );
    }
    let last_shard = u64::from(spec.shard_count.max(1) - 1);
    match spec.chain_id_base.checked_add(last_shard) {
        Some(last) if last <= MAX_CHAIN_ID => {}
        _ => found.add(
            "chain_id_base",
            format!(
                "{} is too large: shard {last_shard} would get a chain id above {MAX_CHAIN_ID}, \
                 the largest wallets accept",
                spec.chain_id_base
            ),
        ),
    }
    if !(MIN_BLOCK_GAS_LIMIT..=MAX_BLOCK_GAS_LIMIT).contains(&spec.block_gas_limit) {
        found.add(
            "block_gas_limit",
            format!(
                "{} is out of range; must be {MIN_BLOCK_GAS_LIMIT} to {MAX_BLOCK_GAS_LIMIT}",
                spec.block_gas_limit
            ),
        );
    }
    if spec.block_time_ms == 0 || spec.block_time_ms > MAX_BLOCK_TIME_MS {
        found.add(
            "block_time_ms",
            format!(
                "{} is out of range; must be 1 to {MAX_BLOCK_TIME_MS} milliseconds",
                spec.block_time_ms
            ),
        );
    }
    if let Some(size) = spec.committee_size
        && (size == 0 || size as usize > spec.members.len())
    {
        found.add(
            "committee_size",
            format!(
                "{size} is not within 1 to the number of members ({})",
                spec.members.len()
            ),
        );
    }
    if let Some(rollup) = spec.rollup {
        // The prover checks that the chunk fits in 2^k rows when the node starts.
        if !(MIN_ROLLUP_K..=MAX_ROLLUP_K).contains(&rollup.chunk_k) {
            found.add(
                "rollup.chunk_k",
                format!(
                    "{} is out of range; must be {MIN_ROLLUP_K} to {MAX_ROLLUP_K}",
                    rollup.chunk_k
                ),
            );
        }
        if rollup.chunk_slots == 0 {
            found.add("rollup.chunk_slots", "must be at least 1");
        }
        if rollup.priority_expiry_seconds == 0 {
            found.add(
                "rollup.priority_expiry_seconds",
                "must be at least 1 second",
            );
        }
        if spec
            .alloc
            .iter()
            .any(|account| account.address == crate::BRIDGE_ADDRESS)
        {
            found.add(
                "alloc",
                format!(
                    "{} is the rollup bridge's address, which genesis fills itself",
                    crate::BRIDGE_ADDRESS
                ),
            );
        }
    }
    if spec.epoch_length == 0 {
        found.add("epoch_length", "must be at least 1 beacon block");
    }
}

fn check_fees(spec: &GenesisSpec, found: &mut Problems) {
    if spec.min_base_fee == 0 && !spec.allow_zero_base_fee {
        found.add(
            "min_base_fee",
            "is 0; a fee-free chain must say so with \"allow_zero_base_fee\": true",
        );
    }
    if spec.initial_base_fee < spec.min_base_fee {
        found.add(
            "initial_base_fee",
            format!(
                "{} is below min_base_fee {}",
                spec.initial_base_fee, spec.min_base_fee
            ),
        );
    }
    if spec.treasury == Address::ZERO {
        found.add(
            "treasury",
            "must not be the zero address (fees sent there could never be shared)",
        );
    }
}

fn check_members(spec: &GenesisSpec, found: &mut Problems) {
    if spec.members.is_empty() {
        found.add("members", "must list at least one founding member");
    }
    let mut organisations: BTreeMap<String, usize> = BTreeMap::new();
    let mut keys: BTreeMap<Vec<u8>, String> = BTreeMap::new();
    let mut peer_ids: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, member) in spec.members.iter().enumerate() {
        let at = |field: &str| format!("members[{index}].{field}");
        if let Err(problem) = check_organisation(&member.organisation) {
            found.add(at("organisation"), problem);
        }
        let folded = member.organisation.to_lowercase();
        if let Some(first) = organisations.insert(folded, index) {
            found.add(
                at("organisation"),
                format!(
                    "\"{}\" is already the name of members[{first}] (names are compared \
                     ignoring case)",
                    member.organisation
                ),
            );
        }
        for (role, key) in member_keys(member) {
            let field = at(role);
            let checked = if role == "vrf_key" {
                check_vrf_key(key)
            } else {
                spec.crypto_suite.check_public_key(key)
            };
            match checked {
                Err(problem) if role == "vrf_key" => found.add(&field, problem),
                Err(problem) => found.add(
                    &field,
                    format!("{problem} (crypto suite {})", spec.crypto_suite),
                ),
                Ok(()) => {
                    let normal = spec
                        .crypto_suite
                        .compressed_public_key(key)
                        .unwrap_or_else(|| key.to_vec());
                    if let Some(first) = keys.get(&normal) {
                        found.add(
                            &field,
                            format!(
                                "is the same key as \"{first}\"; every admin, consensus and \
                                 VRF key must be distinct"
                            ),
                        );
                    } else {
                        keys.insert(normal, field);
                    }
                }
            }
        }
        match check_peer_id(&member.peer_id) {
            Err(problem) => found.add(at("peer_id"), problem),
            Ok(()) => {
                if let Some(first) = peer_ids.insert(&member.peer_id, index) {
                    found.add(
                        at("peer_id"),
                        format!("is already the peer id of members[{first}]"),
                    );
                }
            }
        }
        if member.fee_recipient == Address::ZERO {
            found.add(at("fee_recipient"), "must not be the zero address");
        }
        if member.weight == 0 {
            found.add(at("weight"), "must be at least 1");
        }
    }
}

/// A member's VRF key is an ECVRF-EDWARDS25519-SHA512-TAI public key (RFC 9381), whatever
/// the crypto suite: there is no standard SM2 VRF (ADR 0097).
fn check_vrf_key(key: &[u8]) -> Result<(), String> {
    kaimeng_crypto::vrf::VrfPublicKey::from_bytes(key)
        .map(|_| ())
        .map_err(|e| format!("{e} (a VRF key is an RFC 9381 Edwards25519 public key)"))
}

fn member_keys(member: &Member) -> [(&'static str, &[u8]); 3] {
    [
        ("admin_key", member.admin_key.as_slice()),
        ("consensus_key", member.consensus_key.as_slice()),
        ("vrf_key", member.vrf_key.as_slice()),
    ]
}

fn check_organisation(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    if name.trim() != name {
        return Err(format!("\"{name}\" has leading or trailing whitespace"));
    }
    if name.chars().count() > MAX_ORGANISATION_LEN {
        return Err(format!("is longer than {MAX_ORGANISATION_LEN} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("contains control characters".to_owned());
    }
    Ok(())
}

fn check_fee_split(spec: &GenesisSpec, found: &mut Problems) {
    let FeeSplit::Fixed(points) = &spec.fee_split else {
        return;
    };
    for organisation in points.keys() {
        if spec.member(organisation).is_none() {
            found.add(
                format!("fee_split.fixed.{organisation}"),
                format!("\"{organisation}\" is not the organisation of any member"),
            );
        }
    }
    for member in &spec.members {
        if !points.contains_key(&member.organisation) {
            found.add(
                "fee_split.fixed",
                format!(
                    "has no entry for member \"{}\"; list every member (0 basis points is allowed)",
                    member.organisation
                ),
            );
        }
    }
    let sum: u64 = points.values().map(|p| u64::from(*p)).sum();
    if sum != u64::from(BASIS_POINTS_TOTAL) {
        found.add(
            "fee_split.fixed",
            format!("basis points sum to {sum}; they must sum to {BASIS_POINTS_TOTAL}"),
        );
    }
}

fn check_alloc(spec: &GenesisSpec, found: &mut Problems) {
    let mut owners: BTreeMap<(Address, u32), usize> = BTreeMap::new();
    for (index, account) in spec.alloc.iter().enumerate() {
        let at = |field: &str| format!("alloc[{index}].{field}");
        check_account_shards(spec, index, account, found);
        for shard in (0..spec.shard_count.min(MAX_SHARDS)).filter(|s| account.is_on_shard(*s)) {
            if let Some(first) = owners.insert((account.address, shard), index) {
                found.add(
                    at("address"),
                    format!(
                        "{} is already allocated on shard {shard} by alloc[{first}]; an address \
                         may appear once per shard",
                        account.address
                    ),
                );
            }
        }
        if account.address == crate::CROSS_SHARD_ADDRESS {
            found.add(
                at("address"),
                format!(
                    "{} is the cross-shard system contract; genesis may not allocate it",
                    account.address
                ),
            );
        }
        if account.nonce == u64::MAX {
            found.add(at("nonce"), "must be below 2^64 - 1 (EIP-2681)");
        }
        if account.code.as_ref().is_some_and(|code| code.is_empty()) {
            found.add(
                at("code"),
                "is empty; omit the field for an account without code",
            );
        }
    }
    for shard in 0..spec.shard_count.min(MAX_SHARDS) {
        if spec.total_alloc_on_shard(shard).is_none() {
            found.add(
                "alloc",
                format!("balances on shard {shard} add up to more than 2^256 - 1 wei"),
            );
        }
    }
}

fn check_account_shards(
    spec: &GenesisSpec,
    index: usize,
    account: &GenesisAccount,
    found: &mut Problems,
) {
    let Some(shards) = &account.shards else {
        return;
    };
    if shards.is_empty() {
        found.add(
            format!("alloc[{index}].shards"),
            "is empty; list at least one shard, or omit the field for every shard",
        );
    }
    let mut seen = BTreeSet::new();
    for (position, shard) in shards.iter().enumerate() {
        let field = format!("alloc[{index}].shards[{position}]");
        if *shard >= spec.shard_count {
            found.add(
                &field,
                format!(
                    "shard {shard} does not exist (shard_count is {})",
                    spec.shard_count
                ),
            );
        }
        if !seen.insert(*shard) {
            found.add(&field, format!("shard {shard} is listed twice"));
        }
    }
}
