//! The canonical binary encoding of a genesis and its keccak256 hash, which nodes compare to
//! check they start from the same genesis.
//!
//! The encoding is independent of JSON formatting (whitespace, key order, number spelling,
//! address case): fields in declaration order; integers big-endian at their full width; byte
//! strings, strings and lists prefixed by an 8-byte big-endian length; `Option` as a 0/1 byte
//! then the value; enums as a one-byte tag then their payload; maps in key order. It starts with
//! the tag `kaimeng-genesis/v1`, which changes whenever the encoding does.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, U256, keccak256};

use crate::fee_split::FeeSplit;
use crate::spec::{GenesisAccount, GenesisSpec, Member};
use crate::suite::CryptoSuite;

/// Domain tag at the start of the encoding.
pub const ENCODING_TAG: &[u8] = b"kaimeng-genesis/v1";

/// keccak256 of `canonical_bytes(spec)`.
pub fn genesis_hash(spec: &GenesisSpec) -> B256 {
    keccak256(canonical_bytes(spec))
}

/// The canonical encoding of `spec`.
pub fn canonical_bytes(spec: &GenesisSpec) -> Vec<u8> {
    let mut out = Encoder::default();
    out.bytes(ENCODING_TAG);
    out.u64(spec.chain_id_base);
    out.u32(spec.shard_count);
    out.u64(spec.block_gas_limit);
    out.u128(spec.min_base_fee);
    out.u128(spec.initial_base_fee);
    out.bool(spec.allow_zero_base_fee);
    out.u64(spec.block_time_ms);
    out.u64(spec.epoch_length);
    out.u64(spec.timestamp);
    out.tag(match spec.crypto_suite {
        CryptoSuite::Secp256k1Keccak => 0,
        CryptoSuite::Sm2Sm3 => 1,
    });
    out.address(spec.treasury);
    encode_fee_split(&mut out, &spec.fee_split);
    out.len(spec.members.len());
    for member in &spec.members {
        encode_member(&mut out, member);
    }
    out.len(spec.alloc.len());
    for account in &spec.alloc {
        encode_account(&mut out, account);
    }
    // Appended only when set, so the hash of a genesis without it is unchanged.
    if let Some(size) = spec.committee_size {
        out.tag(1);
        out.u32(size);
    }
    if let Some(rollup) = spec.rollup {
        out.tag(2);
        out.u32(rollup.chunk_slots);
        out.u32(rollup.chunk_k);
        out.address(rollup.sequencer);
        out.u64(rollup.priority_expiry_seconds);
    }
    out.0
}

fn encode_fee_split(out: &mut Encoder, split: &FeeSplit) {
    match split {
        FeeSplit::Equal => out.tag(0),
        FeeSplit::ByWeight => out.tag(1),
        FeeSplit::Fixed(points) => {
            out.tag(2);
            out.len(points.len());
            for (organisation, basis_points) in points {
                out.bytes(organisation.as_bytes());
                out.u32(*basis_points);
            }
        }
    }
}

fn encode_member(out: &mut Encoder, member: &Member) {
    out.bytes(member.organisation.as_bytes());
    out.bytes(&member.admin_key);
    out.bytes(&member.consensus_key);
    out.bytes(&member.vrf_key);
    out.bytes(member.peer_id.as_bytes());
    out.address(member.fee_recipient);
    out.u64(member.weight);
}

fn encode_account(out: &mut Encoder, account: &GenesisAccount) {
    out.address(account.address);
    out.u256(account.balance);
    out.u64(account.nonce);
    match &account.code {
        None => out.tag(0),
        Some(code) => {
            out.tag(1);
            out.bytes(code);
        }
    }
    encode_storage(out, &account.storage);
    match &account.shards {
        None => out.tag(0),
        Some(shards) => {
            out.tag(1);
            out.len(shards.len());
            for shard in shards {
                out.u32(*shard);
            }
        }
    }
}

fn encode_storage(out: &mut Encoder, storage: &BTreeMap<B256, B256>) {
    out.len(storage.len());
    for (slot, value) in storage {
        out.raw(slot.as_slice());
        out.raw(value.as_slice());
    }
}

#[derive(Default)]
struct Encoder(Vec<u8>);

impl Encoder {
    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn tag(&mut self, tag: u8) {
        self.0.push(tag);
    }
    fn bool(&mut self, value: bool) {
        self.tag(u8::from(value));
    }
    fn u32(&mut self, value: u32) {
        self.raw(&value.to_be_bytes());
    }
    fn u64(&mut self, value: u64) {
        self.raw(&value.to_be_bytes());
    }
    fn u128(&mut self, value: u128) {
        self.raw(&value.to_be_bytes());
    }
    fn u256(&mut self, value: U256) {
        self.raw(&value.to_be_bytes::<32>());
    }
    fn address(&mut self, address: Address) {
        self.raw(address.as_slice());
    }
    fn len(&mut self, len: usize) {
        self.u64(len as u64);
    }
    fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.raw(bytes);
    }
}
