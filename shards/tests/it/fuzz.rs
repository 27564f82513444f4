//! Fuzzing of what a shard decodes from the public (docs/fuzzing.md): raw transactions of every
//! EIP-2718 type (`ShardTx::decode`: legacy, EIP-2930 and EIP-1559 accepted, EIP-4844 and
//! EIP-7702 refused), blocks from peers (`wire::decode_block`), the stored header, body and
//! receipt codecs (a block's receipts and one receipt stored alone), and the inputs of the SM3 and SM2-verify precompiles.
//!
//! Inputs are arbitrary bytes, random RLP, and valid signed transactions and blocks that are
//! then mutated (support::Edit). Every property: the decoder never panics, returns within
//! `support::SLOW` and allocates no more than its input justifies (`support::bounded`); a valid
//! encoding round-trips; whatever a decoder accepts re-encodes to the same bytes, or an error
//! says what was wrong. Cases per property: `FUZZ_CASES` (`benches/fuzz.sh` for a long pass).

#[path = "../../../tests/fuzz/support.rs"]
mod support;

use std::sync::Arc;

use alloy_consensus::Transaction as _;
use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{
    Eip658Value, Header, Receipt, ReceiptEnvelope, SignableTransaction, Signed, TxEip1559,
    TxEip2930, TxEip4844, TxEip4844Variant, TxEip7702, TxEnvelope, TxLegacy,
};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::eip2930::{AccessList, AccessListItem};
use alloy_eips::eip7702::{Authorization, SignedAuthorization};
use alloy_primitives::{
    Address, B64, B256, Bytes, Log, LogData, Signature, TxKind, U256, keccak256,
};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use kaimeng_crypto::precompile::{sm2_verify, sm3_hash};
use kaimeng_shards::block::{
    SealedHeader, StoredBlock, StoredReceipt, decode_body, decode_receipts, encode_body,
    encode_receipts,
};
use kaimeng_shards::tx::{MAX_TX_GAS, ShardTx, TxError};
use kaimeng_shards::tx_receipt::{self, ReceiptEntry};
use kaimeng_shards::wire::{
    WireBlock, WireError, decode_block, decode_block_with, decode_proposal_with, encode_block,
    encode_proposal,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

use support::{bounded, config, edits};

/// The chain the transactions are decoded for (the dev chain's id).
const CHAIN_ID: u64 = 31337;

// ---- transactions ------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Legacy,
    /// Legacy without EIP-155 (refused: not replay-protected).
    LegacyUnprotected,
    Eip2930,
    Eip1559,
    /// Refused: blob transactions.
    Eip4844,
    /// Refused: set-code transactions.
    Eip7702,
}

/// The fields of a transaction before signing; every type takes what it has of them.
#[derive(Clone, Debug)]
struct Fields {
    kind: Kind,
    chain_id: u64,
    nonce: u64,
    gas_limit: u64,
    max_fee: u128,
    tip: u128,
    to: Option<Address>,
    value: U256,
    input: Vec<u8>,
    access_list: AccessList,
    blob_hashes: Vec<B256>,
    authorizations: Vec<SignedAuthorization>,
}

fn u256() -> impl Strategy<Value = U256> {
    prop_oneof![
        any::<u64>().prop_map(U256::from),
        any::<[u8; 32]>().prop_map(U256::from_be_bytes),
        Just(U256::ZERO),
        Just(U256::MAX),
    ]
}

fn fee() -> impl Strategy<Value = u128> {
    prop_oneof![
        3 => 0u128..100_000_000_000,
        1 => any::<u128>(),
        1 => Just(0u128),
        1 => Just(u128::MAX),
    ]
}

fn access_list() -> impl Strategy<Value = AccessList> {
    vec(
        (any::<[u8; 20]>(), vec(any::<[u8; 32]>(), 0..3)).prop_map(|(address, keys)| {
            AccessListItem {
                address: Address::from(address),
                storage_keys: keys.into_iter().map(B256::from).collect(),
            }
        }),
        0..3,
    )
    .prop_map(AccessList)
}

fn authorization() -> impl Strategy<Value = SignedAuthorization> {
    (
        u256(),
        any::<[u8; 20]>(),
        any::<u64>(),
        0u8..3,
        u256(),
        u256(),
    )
        .prop_map(|(chain_id, address, nonce, y_parity, r, s)| {
            SignedAuthorization::new_unchecked(
                Authorization {
                    chain_id,
                    address: Address::from(address),
                    nonce,
                },
                y_parity,
                r,
                s,
            )
        })
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Legacy),
        1 => Just(Kind::LegacyUnprotected),
        3 => Just(Kind::Eip2930),
        4 => Just(Kind::Eip1559),
        1 => Just(Kind::Eip4844),
        1 => Just(Kind::Eip7702),
    ]
}

/// Transaction fields of every kind, mostly plausible, sometimes out of bounds (another chain,
/// gas above the cap, a tip above the fee cap).
fn fields(
    kind: impl Strategy<Value = Kind>,
    plausible_only: bool,
) -> impl Strategy<Value = Fields> {
    let chain_id = if plausible_only {
        Just(CHAIN_ID).boxed()
    } else {
        prop_oneof![8 => Just(CHAIN_ID), 1 => any::<u64>(), 1 => Just(0u64)].boxed()
    };
    let gas_limit = if plausible_only {
        (21_000..=MAX_TX_GAS).boxed()
    } else {
        prop_oneof![8 => 21_000..=MAX_TX_GAS, 1 => any::<u64>(), 1 => Just(MAX_TX_GAS + 1)].boxed()
    };
    (
        kind,
        chain_id,
        any::<u64>(),
        gas_limit,
        (fee(), fee()),
        proptest::option::of(any::<[u8; 20]>()),
        u256(),
        support::bytes(256),
        access_list(),
        vec(any::<[u8; 32]>(), 0..3),
        vec(authorization(), 0..3),
    )
        .prop_map(
            move |(
                kind,
                chain_id,
                nonce,
                gas_limit,
                (a, b),
                to,
                value,
                input,
                access_list,
                blob_hashes,
                authorizations,
            )| {
                let (max_fee, tip) = if plausible_only {
                    (a.max(b), a.min(b))
                } else {
                    (a, b)
                };
                Fields {
                    kind,
                    chain_id,
                    nonce,
                    gas_limit,
                    max_fee,
                    tip,
                    to: to.map(Address::from),
                    value,
                    input,
                    access_list,
                    blob_hashes: blob_hashes.into_iter().map(B256::from).collect(),
                    authorizations,
                }
            },
        )
}

/// A signing key: one of the dev keys or a random valid scalar.
fn key() -> impl Strategy<Value = PrivateKeySigner> {
    prop_oneof![
        (0usize..10).prop_map(dev_key),
        any::<[u8; 32]>().prop_filter_map("not a valid secp256k1 scalar", |bytes| {
            PrivateKeySigner::from_bytes(&B256::from(bytes)).ok()
        }),
    ]
}

/// Dev account `index`'s key (`kaimeng_genesis::dev_accounts`, derived once).
fn dev_key(index: usize) -> PrivateKeySigner {
    static KEYS: std::sync::OnceLock<Vec<PrivateKeySigner>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        kaimeng_genesis::dev_accounts(10)
            .iter()
            .map(|account| PrivateKeySigner::from_bytes(&account.private_key).expect("dev key"))
            .collect()
    })[index % 10]
        .clone()
}

fn sign<T: SignableTransaction<Signature>>(tx: T, key: &PrivateKeySigner) -> Signed<T> {
    let signature = key
        .sign_hash_sync(&tx.signature_hash())
        .expect("signing a hash");
    tx.into_signed(signature)
}

fn envelope(f: &Fields, key: &PrivateKeySigner) -> TxEnvelope {
    let kind = f.to.map_or(TxKind::Create, TxKind::Call);
    let input = Bytes::from(f.input.clone());
    match f.kind {
        Kind::Legacy | Kind::LegacyUnprotected => sign(
            TxLegacy {
                chain_id: (f.kind == Kind::Legacy).then_some(f.chain_id),
                nonce: f.nonce,
                gas_price: f.max_fee,
                gas_limit: f.gas_limit,
                to: kind,
                value: f.value,
                input,
            },
            key,
        )
        .into(),
        Kind::Eip2930 => sign(
            TxEip2930 {
                chain_id: f.chain_id,
                nonce: f.nonce,
                gas_price: f.max_fee,
                gas_limit: f.gas_limit,
                to: kind,
                value: f.value,
                access_list: f.access_list.clone(),
                input,
            },
            key,
        )
        .into(),
        Kind::Eip1559 => sign(
            TxEip1559 {
                chain_id: f.chain_id,
                nonce: f.nonce,
                gas_limit: f.gas_limit,
                max_fee_per_gas: f.max_fee,
                max_priority_fee_per_gas: f.tip,
                to: kind,
                value: f.value,
                access_list: f.access_list.clone(),
                input,
            },
            key,
        )
        .into(),
        Kind::Eip4844 => {
            let signed = sign(
                TxEip4844 {
                    chain_id: f.chain_id,
                    nonce: f.nonce,
                    gas_limit: f.gas_limit,
                    max_fee_per_gas: f.max_fee,
                    max_priority_fee_per_gas: f.tip,
                    to: f.to.unwrap_or_default(),
                    value: f.value,
                    access_list: f.access_list.clone(),
                    blob_versioned_hashes: f.blob_hashes.clone(),
                    max_fee_per_blob_gas: f.max_fee,
                    input,
                },
                key,
            );
            TxEnvelope::Eip4844(Signed::<TxEip4844Variant>::from(signed))
        }
        Kind::Eip7702 => sign(
            TxEip7702 {
                chain_id: f.chain_id,
                nonce: f.nonce,
                gas_limit: f.gas_limit,
                max_fee_per_gas: f.max_fee,
                max_priority_fee_per_gas: f.tip,
                to: f.to.unwrap_or_default(),
                value: f.value,
                access_list: f.access_list.clone(),
                authorization_list: f.authorizations.clone(),
                input,
            },
            key,
        )
        .into(),
    }
}

/// A signed transaction of any kind with its signer, and its EIP-2718 encoding.
fn signed_tx() -> impl Strategy<Value = (Fields, Address, Vec<u8>)> {
    (fields(kind(), false), key()).prop_map(|(fields, key)| {
        let raw = envelope(&fields, &key).encoded_2718();
        (fields, key.address(), raw)
    })
}

/// A transaction the shard accepts (legacy with EIP-155, EIP-2930 or EIP-1559, this chain,
/// within the gas cap, tip at most the fee cap).
fn valid_tx() -> impl Strategy<Value = (Address, Vec<u8>)> {
    let kinds = prop_oneof![Just(Kind::Legacy), Just(Kind::Eip2930), Just(Kind::Eip1559)];
    (fields(kinds, true), key())
        .prop_map(|(fields, key)| (key.address(), envelope(&fields, &key).encoded_2718()))
}

/// Which refusal (by name) `ShardTx::decode` must give for these fields, or `None` to accept.
fn expected_refusal(f: &Fields) -> Option<&'static str> {
    match f.kind {
        Kind::Eip4844 | Kind::Eip7702 => return Some("UnsupportedType"),
        Kind::LegacyUnprotected => return Some("Unprotected"),
        _ => {}
    }
    if f.chain_id != CHAIN_ID {
        return Some("WrongChainId");
    }
    if f.gas_limit > MAX_TX_GAS {
        return Some("GasLimitTooHigh");
    }
    if matches!(f.kind, Kind::Eip1559) && f.tip > f.max_fee {
        return Some("TipAboveFeeCap");
    }
    None
}

fn refusal_name(error: &TxError) -> &'static str {
    match error {
        TxError::Oversized { .. } => "Oversized",
        TxError::Malformed(_) => "Malformed",
        TxError::UnsupportedType(..) => "UnsupportedType",
        TxError::Unprotected(_) => "Unprotected",
        TxError::WrongChainId { .. } => "WrongChainId",
        TxError::BadSignature(_) => "BadSignature",
        TxError::GasLimitTooHigh { .. } => "GasLimitTooHigh",
        TxError::TipAboveFeeCap { .. } => "TipAboveFeeCap",
    }
}

fn decode_tx(raw: &[u8]) -> Result<ShardTx, TxError> {
    bounded("ShardTx::decode", raw, || ShardTx::decode(raw, CHAIN_ID))
}

/// What an accepted transaction must satisfy: it is exactly the bytes it came from (the same
/// encoding, hash and sender when decoded again), and its sender is what the signature
/// recovers. A refusal must say what was wrong.
fn check_decoded(raw: &[u8], decoded: &Result<ShardTx, TxError>) -> Result<(), TestCaseError> {
    match decoded {
        Err(error) => prop_assert!(!error.to_string().is_empty()),
        Ok(tx) => {
            prop_assert_eq!(&tx.encoded[..], raw);
            prop_assert_eq!(
                tx.envelope.encoded_2718(),
                raw.to_vec(),
                "an accepted transaction re-encodes differently"
            );
            prop_assert_eq!(tx.hash, keccak256(raw));
            prop_assert_eq!(tx.hash, *tx.envelope.tx_hash());
            prop_assert_eq!(tx.envelope.recover_signer().ok(), Some(tx.sender));
            let again = ShardTx::decode(&tx.envelope.encoded_2718(), CHAIN_ID)
                .map_err(|e| TestCaseError::fail(format!("re-encoding is refused: {e}")))?;
            prop_assert_eq!(again.hash, tx.hash);
            prop_assert_eq!(again.sender, tx.sender);
        }
    }
    Ok(())
}

/// A valid transaction with one top-level field of its RLP list replaced by random RLP (or
/// removed, or another field duplicated), re-wrapped with a correct list header: decoding gets
/// past the envelope into the field decoders.
fn substitute_field(raw: &[u8], field: Index, with: Option<Vec<u8>>, duplicate: bool) -> Vec<u8> {
    let typed = raw.first().is_some_and(|b| *b < 0x80);
    let start = usize::from(typed);
    let Some((_, items)) = support::rlp_list_items(raw, start) else {
        return raw.to_vec();
    };
    if items.is_empty() {
        return raw.to_vec();
    }
    let at = field.index(items.len());
    let mut fields: Vec<Vec<u8>> = items
        .iter()
        .map(|item| raw[item.start..item.end()].to_vec())
        .collect();
    match with {
        Some(value) => fields[at] = value,
        None if duplicate => {
            let copy = fields[at].clone();
            fields.insert(at, copy);
        }
        None => {
            fields.remove(at);
        }
    }
    let mut out = raw[..start].to_vec();
    out.extend(support::rlp_list(&fields));
    out
}

/// A type byte for random RLP: legacy (none), the five known types, and unknown ones.
fn type_prefix() -> impl Strategy<Value = Option<u8>> {
    prop_oneof![
        Just(None),
        (0u8..=5).prop_map(Some),
        Just(Some(0x7f)),
        any::<u8>().prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(config(support::cases(64)))]

    /// Arbitrary bytes: never a panic; whatever is accepted is canonical.
    #[test]
    fn fuzz_tx_arbitrary_bytes(raw in support::bytes(2048)) {
        let decoded = decode_tx(&raw);
        check_decoded(&raw, &decoded)?;
    }

    /// Random RLP behind every type byte: gets past the envelope's first checks.
    #[test]
    fn fuzz_tx_random_rlp(prefix in type_prefix(), body in support::rlp_value()) {
        let raw: Vec<u8> = prefix.into_iter().chain(body).collect();
        let decoded = decode_tx(&raw);
        check_decoded(&raw, &decoded)?;
    }

    /// Signed transactions of every type round-trip or get exactly the refusal their fields
    /// call for: same hash, same sender, same bytes.
    #[test]
    fn fuzz_tx_signed_round_trip((fields, sender, raw) in signed_tx()) {
        let decoded = decode_tx(&raw);
        check_decoded(&raw, &decoded)?;
        match (expected_refusal(&fields), &decoded) {
            (None, Ok(tx)) => {
                prop_assert_eq!(tx.sender, sender);
                let mut buf = &raw[..];
                let envelope = <TxEnvelope as alloy_eips::eip2718::Decodable2718>::decode_2718(&mut buf).unwrap();
                prop_assert_eq!(&tx.envelope, &envelope);
            }
            (Some(expected), Err(error)) => prop_assert_eq!(refusal_name(error), expected, "{}", error),
            (expected, got) => prop_assert!(false, "expected {:?}, got {:?}", expected, got.as_ref().map(|t| t.hash)),
        }
    }

    /// Valid transactions mutated (bit flips, truncation, insertions, forged RLP lengths, ...):
    /// an error with a message, or a transaction that re-encodes to exactly these bytes.
    #[test]
    fn fuzz_tx_mutated((_, _, raw) in signed_tx(), edits in edits(4)) {
        let mut raw = raw;
        support::apply(&mut raw, &edits);
        let decoded = decode_tx(&raw);
        check_decoded(&raw, &decoded)?;
    }

    /// One field of a valid transaction replaced by random RLP, removed or duplicated.
    #[test]
    fn fuzz_tx_field_substituted(
        (_, _, raw) in signed_tx(),
        field in any::<Index>(),
        with in proptest::option::of(support::rlp_value()),
        duplicate in any::<bool>(),
    ) {
        let raw = substitute_field(&raw, field, with, duplicate);
        let decoded = decode_tx(&raw);
        check_decoded(&raw, &decoded)?;
    }

    /// `decode_many` (parallel sender recovery) agrees with `decode` one by one.
    #[test]
    fn fuzz_tx_decode_many_agrees(
        txs in vec(((signed_tx()), edits(2), any::<bool>()), 0..6),
    ) {
        let raws: Vec<Bytes> = txs
            .into_iter()
            .map(|((_, _, mut raw), edits, mutate)| {
                if mutate {
                    support::apply(&mut raw, &edits);
                }
                Bytes::from(raw)
            })
            .collect();
        let many = ShardTx::decode_many(&raws, CHAIN_ID);
        prop_assert_eq!(many.len(), raws.len());
        for (raw, decoded) in raws.iter().zip(&many) {
            let one = ShardTx::decode(raw, CHAIN_ID);
            prop_assert_eq!(
                one.as_ref().map(|t| (t.hash, t.sender)).map_err(|e| e.to_string()),
                decoded.as_ref().map(|t| (t.hash, t.sender)).map_err(|e| e.to_string())
            );
        }
    }

    /// Oversized input is refused by its length alone.
    #[test]
    fn fuzz_tx_oversized(extra in 1usize..64, fill in any::<u8>()) {
        let raw = vec![fill; kaimeng_shards::tx::MAX_TX_BYTES + extra];
        let refused = matches!(ShardTx::decode(&raw, CHAIN_ID), Err(TxError::Oversized { .. }));
        prop_assert!(refused);
    }
}

// ---- blocks from peers (wire) ------------------------------------------------------------------

fn header() -> impl Strategy<Value = Header> {
    (
        (
            any::<[u8; 32]>(),
            any::<[u8; 20]>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
        ),
        (any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>()),
        (
            support::bytes(32),
            any::<[u8; 32]>(),
            any::<[u8; 8]>(),
            u256(),
        ),
        // How many of the optional trailing fields are present (they can only be present in
        // order).
        (0usize..=8, any::<u64>(), any::<[u8; 32]>()),
    )
        .prop_map(
            |(
                (parent, beneficiary, state_root, tx_root),
                (number, gas_limit, gas_used, timestamp),
                (extra, mix, nonce, difficulty),
                (optional, number_field, root),
            )| {
                let root = B256::from(root);
                let present = |i: usize| optional > i;
                Header {
                    parent_hash: B256::from(parent),
                    beneficiary: Address::from(beneficiary),
                    state_root: B256::from(state_root),
                    transactions_root: B256::from(tx_root),
                    number,
                    gas_limit,
                    gas_used,
                    timestamp,
                    extra_data: Bytes::from(extra),
                    mix_hash: B256::from(mix),
                    nonce: B64::from(nonce),
                    difficulty,
                    base_fee_per_gas: present(0).then_some(number_field),
                    withdrawals_root: present(1).then_some(root),
                    blob_gas_used: present(2).then_some(number_field / 3),
                    excess_blob_gas: present(3).then_some(number_field / 5),
                    parent_beacon_block_root: present(4).then_some(root),
                    requests_hash: present(5).then_some(root),
                    block_access_list_hash: present(6).then_some(root),
                    slot_number: present(7).then_some(number_field / 7),
                    ..Header::default()
                }
            },
        )
}

fn shard_tx(raw: &[u8]) -> Arc<ShardTx> {
    Arc::new(ShardTx::decode(raw, CHAIN_ID).expect("a valid transaction"))
}

fn stored_block(header: Header, txs: Vec<Arc<ShardTx>>) -> StoredBlock {
    StoredBlock {
        header: SealedHeader::seal(header),
        txs,
        receipts: Vec::new(),
        payouts: Vec::new(),
        cross_shard: Default::default(),
    }
}

/// A block as a peer sends it: a header and up to three valid transactions.
fn wire_block() -> impl Strategy<Value = (StoredBlock, Vec<u8>)> {
    (header(), vec(valid_tx(), 0..4)).prop_map(|(header, txs)| {
        let txs = txs.iter().map(|(_, raw)| shard_tx(raw)).collect();
        let block = stored_block(header, txs);
        let bytes = encode_block(&block);
        (block, bytes)
    })
}

/// Where the 4-byte length prefixes of an encoded wire block are (header, each tx).
fn chunk_prefixes(bytes: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(len) = bytes.get(at..at + 4) {
        out.push(at);
        at += 4 + u32::from_be_bytes(len.try_into().unwrap()) as usize;
    }
    out
}

fn decode_wire(bytes: &[u8]) -> Result<WireBlock, kaimeng_shards::wire::WireError> {
    bounded("wire::decode_block", bytes, || {
        decode_block(bytes, CHAIN_ID)
    })
}

/// An accepted block re-encodes to exactly the bytes it came from, and each of its
/// transactions is an accepted transaction.
fn check_wire(
    bytes: &[u8],
    decoded: &Result<WireBlock, kaimeng_shards::wire::WireError>,
) -> Result<(), TestCaseError> {
    match decoded {
        Err(error) => prop_assert!(!error.to_string().is_empty()),
        Ok(block) => {
            let again = encode_block(&stored_block(block.header.clone(), block.txs.clone()));
            prop_assert_eq!(
                support::hex(&again),
                support::hex(bytes),
                "an accepted block re-encodes differently"
            );
            for tx in &block.txs {
                check_decoded(&tx.encoded, &Ok((**tx).clone()))?;
            }
        }
    }
    Ok(())
}

/// A chunk prefix of a wire block set to an interesting value.
#[derive(Clone, Debug)]
struct ChunkEdit(Index, u32);

fn chunk_edit() -> impl Strategy<Value = ChunkEdit> {
    (
        any::<Index>(),
        prop_oneof![
            support::interesting_u32(),
            (0u32..4).prop_map(|d| 0x8000_0000 | d),
            // A named transaction's length word (proposals only).
            Just(0x8000_0020u32),
        ],
    )
        .prop_map(|(at, value)| ChunkEdit(at, value))
}

proptest! {
    #![proptest_config(config(support::cases(64)))]

    #[test]
    fn fuzz_wire_arbitrary_bytes(bytes in support::bytes(2048)) {
        let decoded = decode_wire(&bytes);
        check_wire(&bytes, &decoded)?;
    }

    /// Valid blocks round-trip: header, transactions and their senders.
    #[test]
    fn fuzz_wire_round_trip((block, bytes) in wire_block()) {
        let decoded = decode_wire(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&decoded.header, &block.header.header);
        let got: Vec<_> = decoded.txs.iter().map(|t| (t.hash, t.sender)).collect();
        let want: Vec<_> = block.txs.iter().map(|t| (t.hash, t.sender)).collect();
        prop_assert_eq!(got, want);
        check_wire(&bytes, &Ok(decoded))?;
    }

    /// Mutated blocks, including forged chunk lengths: an error or a canonical block.
    #[test]
    fn fuzz_wire_mutated(
        (_, bytes) in wire_block(),
        edits in proptest::option::of(edits(4)),
        chunk in proptest::option::of(chunk_edit()),
    ) {
        let mut bytes = bytes;
        if let Some(ChunkEdit(at, value)) = chunk {
            let prefixes = chunk_prefixes(&bytes);
            if !prefixes.is_empty() {
                let at = prefixes[at.index(prefixes.len())];
                bytes[at..at + 4].copy_from_slice(&value.to_be_bytes());
            }
        }
        if let Some(edits) = edits {
            support::apply(&mut bytes, &edits);
        }
        let decoded = decode_wire(&bytes);
        check_wire(&bytes, &decoded)?;
    }

    /// Trailing bytes inside the header chunk are refused (the header chunk is exactly one RLP
    /// header), as anything accepted must re-encode to the same bytes.
    #[test]
    fn fuzz_wire_header_chunk_with_trailing_bytes(
        (block, _) in wire_block(),
        junk in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        let mut header = Vec::new();
        alloy_rlp::Encodable::encode(&block.header.header, &mut header);
        header.extend_from_slice(&junk);
        let mut bytes = (header.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&header);
        let decoded = decode_wire(&bytes);
        prop_assert!(decoded.is_err(), "a header chunk with {} trailing bytes was accepted", junk.len());
    }

    /// Reusing already-decoded (pooled) transactions gives the same block as decoding
    /// everything, and a "known" transaction whose bytes differ is not trusted.
    #[test]
    fn fuzz_wire_known_transactions(
        (block, bytes) in wire_block(),
        known in vec(any::<bool>(), 4),
        impostor in valid_tx(),
    ) {
        let impostor = shard_tx(&impostor.1);
        let by_hash: std::collections::HashMap<B256, Arc<ShardTx>> =
            block.txs.iter().map(|t| (t.hash, t.clone())).collect();
        let decoded = bounded("wire::decode_block_with", &bytes, || {
            decode_block_with(&bytes, CHAIN_ID, |hashes| {
                hashes
                    .iter()
                    .enumerate()
                    .map(|(i, hash)| match known.get(i) {
                        Some(true) => by_hash.get(hash).cloned(),
                        // Claims another transaction for this hash.
                        _ => Some(impostor.clone()),
                    })
                    .collect()
            })
        })
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let got: Vec<_> = decoded.txs.iter().map(|t| (t.hash, t.sender)).collect();
        let want: Vec<_> = block.txs.iter().map(|t| (t.hash, t.sender)).collect();
        prop_assert_eq!(got, want);
    }

    /// A proposal names its long transactions (ADR 0117): it decodes to the block when the
    /// receiver holds every named one, lists exactly those it lacks otherwise (a held
    /// transaction under another hash does not stand in), and block sync's decoder, which
    /// needs every transaction carried, refuses it.
    #[test]
    fn fuzz_proposal_names_long_transactions(
        (block, full) in wire_block(),
        name_from in 0usize..400,
        held in vec(any::<bool>(), 4),
        impostor in valid_tx(),
    ) {
        let impostor = shard_tx(&impostor.1);
        let bytes = encode_proposal(&block, name_from);
        let named: Vec<&Arc<ShardTx>> =
            block.txs.iter().filter(|t| t.encoded.len() >= name_from).collect();
        prop_assert_eq!(
            bytes.len(),
            full.len() - named.iter().map(|t| t.encoded.len()).sum::<usize>() + 32 * named.len()
        );
        let is_held = |hash: &B256| {
            block.txs.iter().position(|t| t.hash == *hash).is_some_and(|i| held[i])
        };
        let decoded = bounded("wire::decode_proposal_with", &bytes, || {
            decode_proposal_with(&bytes, CHAIN_ID, |hashes| {
                hashes
                    .iter()
                    .map(|hash| {
                        let tx = block.txs.iter().find(|t| t.hash == *hash)?;
                        Some(if is_held(hash) { tx.clone() } else { impostor.clone() })
                    })
                    .collect()
            })
        });
        let lacking: Vec<B256> =
            named.iter().map(|t| t.hash).filter(|hash| !is_held(hash)).collect();
        if lacking.is_empty() {
            let decoded = decoded.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&decoded.header, &block.header.header);
            let got: Vec<_> = decoded.txs.iter().map(|t| (t.hash, t.sender)).collect();
            let want: Vec<_> = block.txs.iter().map(|t| (t.hash, t.sender)).collect();
            prop_assert_eq!(got, want);
        } else {
            prop_assert_eq!(decoded.err(), Some(WireError::Missing(lacking)));
        }
        if !named.is_empty() {
            let refused = matches!(
                decode_wire(&bytes),
                Err(WireError::Transaction { reason, .. }) if reason.contains("named")
            );
            prop_assert!(refused, "block sync's decoder took a named transaction");
        }
    }
}

/// A proposal may name at most as many transactions as a block's bytes hold at the smallest
/// named size: one more is refused before any is looked up (or fetched from a peer).
#[test]
fn a_proposal_naming_more_transactions_than_a_block_holds_is_refused() {
    use kaimeng_shards::wire::MAX_NAMED_TXS;
    let empty = encode_proposal(&stored_block(Header::default(), Vec::new()), 0);
    let naming = |count: usize| {
        let mut bytes = empty.clone();
        for i in 0..count {
            bytes.extend_from_slice(&0x8000_0020u32.to_be_bytes());
            bytes.extend_from_slice(B256::with_last_byte(i as u8).as_slice());
        }
        bytes
    };
    let mut looked_up = 0;
    let most = decode_proposal_with(&naming(MAX_NAMED_TXS), CHAIN_ID, |hashes| {
        looked_up += hashes.len();
        vec![None; hashes.len()]
    });
    assert!(matches!(most, Err(WireError::Missing(h)) if h.len() == MAX_NAMED_TXS));
    assert_eq!(looked_up, MAX_NAMED_TXS);
    let too_many = decode_proposal_with(&naming(MAX_NAMED_TXS + 1), CHAIN_ID, |_| {
        panic!("nothing is looked up for a body naming too many")
    });
    assert!(
        matches!(&too_many, Err(WireError::Transaction { reason, .. }) if reason.contains("named transactions")),
        "{:?}",
        too_many.err()
    );
}

// ---- stored headers, bodies and receipts -------------------------------------------------------

fn receipts_for(
    txs: &[Arc<ShardTx>],
    gas: &[(u64, bool, u8)],
    logs: &[Vec<(Address, Vec<B256>, Vec<u8>)>],
) -> Vec<StoredReceipt> {
    let mut cumulative = 0u64;
    txs.iter()
        .enumerate()
        .map(|(i, tx)| {
            let (used, status, kind) = gas.get(i).copied().unwrap_or((21_000, true, 2));
            cumulative = cumulative.saturating_add(used);
            let logs = logs
                .get(i)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|(address, topics, data)| Log {
                    address,
                    data: LogData::new_unchecked(topics, Bytes::from(data)),
                })
                .collect();
            let receipt = Receipt {
                status: Eip658Value::Eip658(status),
                cumulative_gas_used: cumulative,
                logs,
            }
            .with_bloom();
            let envelope = match kind % 3 {
                0 => ReceiptEnvelope::Legacy(receipt),
                1 => ReceiptEnvelope::Eip2930(receipt),
                _ => ReceiptEnvelope::Eip1559(receipt),
            };
            StoredReceipt {
                contract_address: (tx.envelope.is_create() && status)
                    .then(|| tx.sender.create(tx.nonce())),
                gas_used: used,
                envelope,
            }
        })
        .collect()
}

fn log_strategy() -> impl Strategy<Value = (Address, Vec<B256>, Vec<u8>)> {
    (
        any::<[u8; 20]>(),
        vec(any::<[u8; 32]>(), 0..4),
        support::bytes(64),
    )
        .prop_map(|(address, topics, data)| {
            (
                Address::from(address),
                topics.into_iter().map(B256::from).collect(),
                data,
            )
        })
}

/// A stored block's body (at least `min_txs` transactions) and receipts.
fn stored(min_txs: usize) -> impl Strategy<Value = (Vec<Arc<ShardTx>>, Vec<StoredReceipt>)> {
    (
        vec(valid_tx(), min_txs..4),
        vec((0u64..10_000_000, any::<bool>(), any::<u8>()), 4),
        vec(vec(log_strategy(), 0..3), 4),
    )
        .prop_map(|(txs, gas, logs)| {
            let txs: Vec<Arc<ShardTx>> = txs.iter().map(|(_, raw)| shard_tx(raw)).collect();
            let receipts = receipts_for(&txs, &gas, &logs);
            (txs, receipts)
        })
}

fn same_receipts(a: &[StoredReceipt], b: &[StoredReceipt]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.envelope == b.envelope
                && a.gas_used == b.gas_used
                && a.contract_address == b.contract_address
        })
}

proptest! {
    #![proptest_config(config(support::cases(64)))]

    #[test]
    fn fuzz_stored_header(header in header(), edits in edits(4), mutate in any::<bool>()) {
        let sealed = SealedHeader::seal(header);
        let mut bytes = sealed.encode();
        if !mutate {
            prop_assert_eq!(SealedHeader::decode(&bytes), Some(sealed));
            return Ok(());
        }
        support::apply(&mut bytes, &edits);
        let _ = bounded("SealedHeader::decode", &bytes, || SealedHeader::decode(&bytes));
    }

    #[test]
    fn fuzz_stored_arbitrary_bytes(bytes in support::bytes(2048), txs in vec(valid_tx(), 0..3)) {
        let txs: Vec<Arc<ShardTx>> = txs.iter().map(|(_, raw)| shard_tx(raw)).collect();
        let _ = bounded("SealedHeader::decode", &bytes, || SealedHeader::decode(&bytes));
        let _ = bounded("decode_body", &bytes, || decode_body(&bytes));
        let _ = bounded("decode_receipts", &bytes, || decode_receipts(&bytes, &txs));
    }

    /// Bodies and receipts round-trip; mutated, they decode to something or nothing, without
    /// panicking.
    #[test]
    fn fuzz_stored_body_and_receipts((txs, receipts) in stored(0), edits in edits(4), which in 0u8..3) {
        let body = encode_body(&txs);
        let decoded = decode_body(&body).expect("a stored body decodes");
        let got: Vec<_> = decoded.iter().map(|t| (t.hash, t.sender, t.encoded.clone())).collect();
        let want: Vec<_> = txs.iter().map(|t| (t.hash, t.sender, t.encoded.clone())).collect();
        prop_assert_eq!(got, want);
        let encoded = encode_receipts(&receipts);
        let decoded_receipts = decode_receipts(&encoded, &txs).expect("stored receipts decode");
        prop_assert!(same_receipts(&decoded_receipts, &receipts));

        match which {
            0 => {
                let mut body = body;
                support::apply(&mut body, &edits);
                let _ = bounded("decode_body", &body, || decode_body(&body));
            }
            _ => {
                let mut encoded = encoded;
                support::apply(&mut encoded, &edits);
                let _ = bounded("decode_receipts", &encoded, || decode_receipts(&encoded, &txs));
            }
        }
    }

    /// A receipt stored alone (`tx_receipt`) round-trips, bloom included; mutated or
    /// arbitrary, it decodes to something or nothing, without panicking.
    #[test]
    fn fuzz_stored_receipt_entry(
        (txs, receipts) in stored(1),
        first_log_index in any::<u64>(),
        effective_gas_price in any::<u128>(),
        edits in edits(4),
        junk in support::bytes(512),
    ) {
        for (tx, receipt) in txs.iter().zip(&receipts) {
            let entry = ReceiptEntry {
                envelope: receipt.envelope.clone(),
                gas_used: receipt.gas_used,
                first_log_index,
                from: tx.sender,
                to: tx.envelope.to(),
                contract_address: receipt.contract_address,
                effective_gas_price,
            };
            let mut bytes = tx_receipt::encode(&entry);
            prop_assert_eq!(tx_receipt::decode(&bytes), Some(entry));
            support::apply(&mut bytes, &edits);
            let _ = bounded("tx_receipt::decode", &bytes, || tx_receipt::decode(&bytes));
        }
        let _ = bounded("tx_receipt::decode", &junk, || tx_receipt::decode(&junk));
    }

    /// Receipts whose cumulative gas goes down (a corrupt record) are refused, not a panic.
    #[test]
    fn fuzz_stored_receipts_with_decreasing_gas((txs, receipts) in stored(2), drop_by in 1u64..1_000_000) {
        let mut receipts = receipts;
        let second_cumulative = receipts[1].envelope.cumulative_gas_used();
        let first = match &mut receipts[0].envelope {
            ReceiptEnvelope::Legacy(r) | ReceiptEnvelope::Eip2930(r) | ReceiptEnvelope::Eip1559(r) => r,
            _ => unreachable!(),
        };
        first.receipt.cumulative_gas_used = second_cumulative.saturating_add(drop_by);
        let encoded = encode_receipts(&receipts);
        let decoded = bounded("decode_receipts", &encoded, || decode_receipts(&encoded, &txs));
        prop_assert!(decoded.is_none());
    }
}

// ---- SM precompiles ----------------------------------------------------------------------------

/// The GM/T 0003.5 example: e, r, s, x_A, y_A.
const SM2_STANDARD_INPUT: &str = "\
    F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640\
    F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3\
    B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA\
    09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020\
    CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13";

fn sm2_standard_input() -> Vec<u8> {
    (0..SM2_STANDARD_INPUT.len() / 2)
        .map(|i| u8::from_str_radix(&SM2_STANDARD_INPUT[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn check_sm2(input: &[u8], gas: u64) -> Result<(), TestCaseError> {
    let result = bounded("sm2_verify::run", input, || sm2_verify::run(input, gas));
    match result {
        Ok(ok) => {
            prop_assert_eq!(ok.gas_used, sm2_verify::GAS);
            prop_assert!(ok.output.is_empty() || ok.output.len() == 32);
            if input.len() != sm2_verify::INPUT_LEN {
                prop_assert!(ok.output.is_empty());
            }
        }
        Err(_) => prop_assert!(gas < sm2_verify::GAS),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(support::cases(64)))]

    #[test]
    fn fuzz_precompile_arbitrary_input(input in support::bytes(512), gas in prop_oneof![Just(u64::MAX), any::<u64>(), 0u64..100_000]) {
        check_sm2(&input, gas)?;
        let result = bounded("sm3_hash::run", &input, || sm3_hash::run(&input, gas));
        match result {
            Ok(ok) => {
                prop_assert_eq!(ok.gas_used, sm3_hash::gas_cost(input.len()));
                prop_assert_eq!(ok.output.len(), 32);
            }
            Err(_) => prop_assert!(gas < sm3_hash::gas_cost(input.len())),
        }
    }

    /// The standard valid input mutated: the output is a verdict (one or empty), never a panic.
    #[test]
    fn fuzz_precompile_sm2_mutated(edits in edits(3), fixed_length in any::<bool>()) {
        let mut input = sm2_standard_input();
        support::apply(&mut input, &edits);
        if fixed_length {
            input.resize(sm2_verify::INPUT_LEN, 0);
        }
        check_sm2(&input, sm2_verify::GAS)?;
    }
}

#[test]
fn the_mutations_change_what_they_say() {
    // A sanity check of the fuzzer's own RLP walking: a legacy transaction's list and its nine
    // fields are found, and a long-form rewrite of a header is one byte longer.
    let key = dev_key(0);
    let fields = Fields {
        kind: Kind::Legacy,
        chain_id: CHAIN_ID,
        nonce: 1,
        gas_limit: 21_000,
        max_fee: 1,
        tip: 0,
        to: Some(Address::ZERO),
        value: U256::from(5),
        input: vec![],
        access_list: AccessList::default(),
        blob_hashes: vec![],
        authorizations: vec![],
    };
    let raw = envelope(&fields, &key).encoded_2718();
    let (list, items) = support::rlp_list_items(&raw, 0).unwrap();
    assert_eq!(list.end(), raw.len());
    assert_eq!(items.len(), 9);
    assert!(ShardTx::decode(&raw, CHAIN_ID).is_ok());
    for index in [0, 1, 9] {
        let mut longer = raw.clone();
        support::edit_rlp(&mut longer, index, support::RlpEdit::LongForm);
        assert_eq!(longer.len(), raw.len() + 1, "item {index}");
        assert!(ShardTx::decode(&longer, CHAIN_ID).is_err(), "item {index}");
    }
}

/// A block's deliveries of `count` messages (`data_len` bytes of data each), all from one
/// source block, and the crosslink that proves them.
fn real_deliveries(
    count: usize,
    data_len: usize,
) -> (
    Vec<kaimeng_shards::crossshard::Delivery>,
    kaimeng_shards::crossshard::CrosslinkedHeader,
) {
    use kaimeng_shards::crossshard::commitment::{commitment_of, deliveries_digest};
    use kaimeng_shards::crossshard::{
        CrosslinkedHeader, Delivery, Message, MessageKind, OutboxProof,
    };
    let sent: Vec<Message> = (0..count as u64)
        .map(|nonce| Message {
            kind: if nonce % 3 == 2 {
                MessageKind::Refund
            } else {
                MessageKind::Call
            },
            source: 0,
            destination: 1,
            nonce,
            from: Address::repeat_byte(1),
            to: Address::repeat_byte(2),
            value: U256::from(nonce * 1000),
            gas_limit: 21_000,
            data: Bytes::from(vec![nonce as u8; data_len]),
        })
        .collect();
    let ids: Vec<B256> = sent.iter().map(Message::id).collect();
    let link = CrosslinkedHeader {
        beacon_height: 9,
        requests_hash: commitment_of(&sent, &[]),
    };
    let deliveries = (0..count)
        .map(|i| Delivery {
            message: sent[i].clone(),
            source_height: 4,
            crosslinked_at: 9,
            proof: OutboxProof::build(&ids, i, deliveries_digest(&[])),
        })
        .collect();
    (deliveries, link)
}

proptest! {
    #![proptest_config(config(support::cases(64)))]

    /// Cross-shard deliveries as a block carries them, mutated (forged counts and lengths
    /// included) or arbitrary: a typed error or a list that re-encodes the same; and a mutated
    /// list that still decodes proves against the crosslink only if it is the original.
    #[test]
    fn fuzz_cross_shard_deliveries_mutated(
        count in 1usize..6,
        data_len in 0usize..40,
        edits in edits(4),
        arbitrary in support::bytes(512),
    ) {
        use kaimeng_shards::crossshard::commitment::{check_delivery, decode_deliveries, encode_deliveries};
        use kaimeng_shards::crossshard::message::decode_messages;
        use kaimeng_shards::crossshard::BlockMessages;
        let (deliveries, link) = real_deliveries(count, data_len);
        let original = encode_deliveries(&deliveries);
        let mut raw = original.clone();
        support::apply(&mut raw, &edits);
        for input in [&raw, &arbitrary] {
            if let Ok(decoded) = bounded("decode_deliveries", input, || decode_deliveries(input)) {
                prop_assert_eq!(&encode_deliveries(&decoded), input);
                let proves = decoded.iter().all(|d| {
                    let link = (d.message.source == 0 && d.source_height == 4).then_some(link);
                    check_delivery(d, 1, 2, 9, link).is_ok()
                });
                if proves && !decoded.is_empty() {
                    prop_assert!(
                        decoded.iter().all(|d| deliveries.contains(d)),
                        "a mutated delivery proved"
                    );
                }
            }
            let _ = bounded("decode_messages", input, || decode_messages(input));
            let _ = bounded("BlockMessages::decode", input, || BlockMessages::decode(input));
        }
    }
}
