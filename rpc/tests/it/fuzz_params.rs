//! Fuzzing of the JSON-RPC parameters (docs/fuzzing.md).
//!
//! 1. Every parameter type the `eth_*`, `debug_*`, `web3_*` and `kaimeng_*` methods deserialize
//!    (block ids and tags, quantities, hashes, addresses, bytes, call requests, state
//!    overrides, log filters, tracing options, ...) is fed arbitrary JSON values and strings
//!    and plausible ones (hex quantities of every length and case, tags, objects with the real
//!    field names): never a panic, and what is accepted survives a serialize/deserialize round
//!    trip.
//! 2. A real [`kaimeng_rpc::server::rpc_module`] (with the `kaimeng_*` namespace merged in, as the
//!    node serves it) over a shard with a few blocks in a temporary directory is called with
//!    `raw_json_request`: any method, fuzzed params, and mutated request text. Every answer is a
//!    JSON-RPC 2.0 response with the request's id and either a result or an error object, within
//!    a time bound, never a panic.
//!
//! Cases: `FUZZ_CASES` per property (the module property runs a tenth of them).

#[path = "../../../tests/fuzz/support.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, Bytes, TxKind, U64, U256};
use alloy_rpc_types_eth::state::StateOverride;
use alloy_rpc_types_eth::{Filter, TransactionRequest};
use alloy_rpc_types_trace::geth::{GethDebugTracingCallOptions, GethDebugTracingOptions};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use jsonrpsee::RpcModule;
use kaimeng_genesis::{
    CryptoSuite, DevKeyRole, DevOptions, GenesisSpec, dev_accounts, dev_member_secret,
};
use kaimeng_l1::governance::{ConsortiumState, GovernanceDomain, GovernanceTx};
use kaimeng_rpc::server::rpc_module;
use kaimeng_rpc::{DevSigner, GovernanceDomainView, ImmediateConsortium, KaimengRpc, RpcConfig};
use kaimeng_shards::ShardChain;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

// ---- JSON strategies ---------------------------------------------------------------------------

/// Values from the fixture chain, so that fuzzed params also hit real blocks, transactions and
/// accounts.
#[derive(Clone, Debug, Default)]
struct Known {
    block_hashes: Vec<String>,
    tx_hashes: Vec<String>,
    addresses: Vec<String>,
    raw_txs: Vec<String>,
    governance_txs: Vec<String>,
}

fn hex_of(bytes: &[u8]) -> String {
    format!("0x{}", support::hex(bytes))
}

/// Any JSON, a few levels deep.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::String),
        "[0-9a-fA-FxX]{0,70}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{0,12}", inner, 0..6)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Hex quantities as clients send them and as they should not: every width, leading zeros,
/// upper case, no digits, no prefix, too many digits, signs and spaces.
fn quantity() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => any::<u64>().prop_map(|v| json!(format!("{v:#x}"))),
        2 => (0u64..100).prop_map(|v| json!(format!("{v:#x}"))),
        1 => any::<[u8; 32]>().prop_map(|b| json!(format!("0x{}", support::hex(&b)))),
        1 => any::<[u8; 32]>().prop_map(|b| json!(format!("0x{}0", support::hex(&b)))),
        1 => any::<u64>().prop_map(|v| json!(format!("0x0{v:x}"))),
        1 => any::<u64>().prop_map(|v| json!(format!("0X{v:X}"))),
        1 => any::<u64>().prop_map(|v| json!(v.to_string())),
        1 => any::<u64>().prop_map(|v| json!(v)),
        1 => any::<i64>().prop_map(|v| json!(v)),
        1 => any::<f64>().prop_map(|v| json!(v)),
        1 => select(vec!["0x", "0x0", "0x00", "-0x1", " 0x1", "0x1 ", "0xg", "", "0x+1",
            "0xffffffffffffffff", "0x10000000000000000",
            "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            "0x10000000000000000000000000000000000000000000000000000000000000000"])
            .prop_map(|s| json!(s)),
    ]
}

fn tag() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => select(vec!["latest", "pending", "earliest", "safe", "finalized"]).prop_map(|s| json!(s)),
        1 => select(vec!["LATEST", "Latest", "", "head", "0x", "1", "-1"]).prop_map(|s| json!(s)),
        3 => (0u64..6).prop_map(|n| json!(format!("{n:#x}"))),
        1 => quantity(),
    ]
}

fn bytes_hex(max: usize) -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => support::bytes(max).prop_map(|b| json!(hex_of(&b))),
        1 => support::bytes(max).prop_map(|b| json!(format!("0x{}0", support::hex(&b)))),
        1 => support::bytes(max).prop_map(|b| json!(support::hex(&b))),
        1 => support::bytes(max).prop_map(|b| json!(hex_of(&b).to_uppercase())),
        1 => "0x[0-9a-zG-Z]{0,20}".prop_map(|s| json!(s)),
    ]
}

fn fixed_hex(len: usize, known: Vec<String>) -> BoxedStrategy<Value> {
    let random = proptest::collection::vec(any::<u8>(), len).prop_map(|b| json!(hex_of(&b)));
    let wrong = proptest::collection::vec(any::<u8>(), 0..len + 3).prop_map(|b| json!(hex_of(&b)));
    if known.is_empty() {
        prop_oneof![3 => random, 1 => wrong].boxed()
    } else {
        prop_oneof![3 => select(known).prop_map(|s| json!(s)), 3 => random, 1 => wrong].boxed()
    }
}

fn address(known: &Known) -> BoxedStrategy<Value> {
    fixed_hex(20, known.addresses.clone())
}

fn hash(known: &Known) -> BoxedStrategy<Value> {
    let mut hashes = known.block_hashes.clone();
    hashes.extend(known.tx_hashes.iter().cloned());
    fixed_hex(32, hashes)
}

fn block_id(known: &Known) -> BoxedStrategy<Value> {
    prop_oneof![
        4 => tag(),
        2 => hash(known),
        1 => (hash(known), any::<bool>())
            .prop_map(|(h, canonical)| json!({"blockHash": h, "requireCanonical": canonical})),
        1 => quantity().prop_map(|n| json!({"blockNumber": n})),
    ]
    .boxed()
}

/// An object with a random subset of `fields` (name, value strategy).
fn object_of(fields: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    object_with(fields, 0.5)
}

/// An object with each of `fields` present with probability `p`.
fn object_with(fields: Vec<(&'static str, BoxedStrategy<Value>)>, p: f64) -> BoxedStrategy<Value> {
    let count = fields.len();
    let (names, values): (Vec<_>, Vec<_>) = fields.into_iter().unzip();
    (
        proptest::collection::vec(proptest::bool::weighted(p), count),
        values,
        proptest::option::of(("[a-zA-Z]{1,10}", arbitrary_json())),
    )
        .prop_map(move |(present, values, extra)| {
            let mut map = Map::new();
            for ((name, value), keep) in names.iter().zip(values).zip(present) {
                if keep {
                    map.insert((*name).to_owned(), value);
                }
            }
            if let Some((name, value)) = extra {
                map.insert(name, value);
            }
            Value::Object(map)
        })
        .boxed()
}

/// EVM code worth running: a loop until out of gas, a revert, a log, a return, random bytes.
fn code() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("0x5b600056")),
        Just(json!("0x60006000fd")),
        Just(json!("0x600160206000a1")),
        Just(json!("0x602a60005260206000f3")),
        Just(json!("0x")),
        bytes_hex(64),
    ]
}

fn tx_request(known: &Known) -> BoxedStrategy<Value> {
    let access_list = proptest::collection::vec(
        (address(known), proptest::collection::vec(hash(known), 0..3))
            .prop_map(|(address, keys)| json!({"address": address, "storageKeys": keys})),
        0..3,
    )
    .prop_map(Value::Array);
    let small = || {
        prop_oneof![3 => (0u64..1_000_000).prop_map(|n| json!(format!("{n:#x}"))), 1 => quantity()]
            .boxed()
    };
    object_with(
        vec![
            ("from", address(known)),
            ("to", prop_oneof![address(known), Just(Value::Null)].boxed()),
            ("gas", small()),
            ("gasPrice", small()),
            ("maxFeePerGas", small()),
            ("maxPriorityFeePerGas", small()),
            ("maxFeePerBlobGas", small()),
            ("value", small()),
            ("nonce", small()),
            (
                "chainId",
                prop_oneof![Just(json!("0x7a69")), quantity()].boxed(),
            ),
            (
                "type",
                prop_oneof![(0u8..6).prop_map(|t| json!(format!("{t:#x}"))), quantity()].boxed(),
            ),
            ("data", prop_oneof![code(), bytes_hex(128)].boxed()),
            ("input", prop_oneof![code(), bytes_hex(128)].boxed()),
            ("accessList", access_list.boxed()),
            (
                "blobVersionedHashes",
                proptest::collection::vec(hash(known), 0..3)
                    .prop_map(Value::Array)
                    .boxed(),
            ),
            (
                "authorizationList",
                proptest::collection::vec(arbitrary_json(), 0..2)
                    .prop_map(Value::Array)
                    .boxed(),
            ),
        ],
        0.3,
    )
}

/// A call request a client would send: known or random well-formed addresses, small
/// quantities, interesting code as data.
fn clean_tx_request(known: &Known) -> BoxedStrategy<Value> {
    let address = || {
        let mut addresses = known.addresses.clone();
        addresses.push(hex_of(&[0x11; 20]));
        select(addresses).prop_map(|a| json!(a)).boxed()
    };
    let small = |max: u64| (0..max).prop_map(|n| json!(format!("{n:#x}"))).boxed();
    object_with(
        vec![
            ("from", address()),
            ("to", address()),
            ("gas", small(40_000_000)),
            ("maxFeePerGas", small(100_000_000_000)),
            ("value", small(1_000_000)),
            ("nonce", small(4)),
            ("input", code().boxed()),
        ],
        0.6,
    )
}

/// Overrides a client would send: code, balance or storage of a known account.
fn clean_state_override(known: &Known) -> BoxedStrategy<Value> {
    let addresses = known.addresses.clone();
    let slot = || proptest::collection::vec(any::<u8>(), 32).prop_map(|b| hex_of(&b));
    (
        select(if addresses.is_empty() {
            vec![hex_of(&[0x11; 20])]
        } else {
            addresses
        }),
        code(),
        (0u64..u64::MAX).prop_map(|n| json!(format!("{n:#x}"))),
        proptest::collection::btree_map(slot(), slot(), 0..3),
        0u8..4,
    )
        .prop_map(|(address, code, balance, state, which)| {
            let mut account = Map::new();
            if which & 1 == 0 {
                account.insert("code".into(), code);
            }
            if which & 2 == 0 {
                account.insert("balance".into(), balance);
            }
            if which == 3 {
                account.insert("stateDiff".into(), json!(state));
            }
            json!({ address: Value::Object(account) })
        })
        .boxed()
}

fn state_override(known: &Known) -> BoxedStrategy<Value> {
    let slots = proptest::collection::vec((hash(known), hash(known)), 0..3).prop_map(|pairs| {
        Value::Object(
            pairs
                .into_iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v)))
                .collect(),
        )
    });
    let account = object_of(vec![
        ("balance", quantity().boxed()),
        ("nonce", quantity().boxed()),
        ("code", code().boxed()),
        ("state", slots.clone().boxed()),
        ("stateDiff", slots.boxed()),
        ("movePrecompileToAddress", address(known)),
    ]);
    proptest::collection::vec((address(known), account), 0..3)
        .prop_map(|entries| {
            Value::Object(
                entries
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v)))
                    .collect(),
            )
        })
        .boxed()
}

fn filter(known: &Known) -> BoxedStrategy<Value> {
    let topic = prop_oneof![
        Just(Value::Null),
        hash(known),
        proptest::collection::vec(prop_oneof![hash(known), Just(Value::Null)], 0..3)
            .prop_map(Value::Array),
    ];
    object_of(vec![
        ("fromBlock", tag().boxed()),
        ("toBlock", tag().boxed()),
        ("blockHash", hash(known)),
        (
            "address",
            prop_oneof![
                address(known),
                proptest::collection::vec(address(known), 0..3).prop_map(Value::Array)
            ]
            .boxed(),
        ),
        (
            "topics",
            proptest::collection::vec(topic, 0..5)
                .prop_map(Value::Array)
                .boxed(),
        ),
    ])
}

fn tracing_options() -> BoxedStrategy<Value> {
    object_of(vec![
        (
            "tracer",
            prop_oneof![
                Just(json!("callTracer")),
                Just(json!("prestateTracer")),
                Just(json!("4byteTracer")),
                ".{0,12}".prop_map(Value::String),
            ]
            .boxed(),
        ),
        (
            "tracerConfig",
            prop_oneof![
                object_of(vec![
                    (
                        "onlyTopCall",
                        prop_oneof![any::<bool>().prop_map(Value::Bool), arbitrary_json()].boxed()
                    ),
                    ("withLog", any::<bool>().prop_map(Value::Bool).boxed()),
                    ("diffMode", any::<bool>().prop_map(Value::Bool).boxed()),
                ]),
                arbitrary_json().boxed(),
            ]
            .boxed(),
        ),
        (
            "timeout",
            prop_oneof![Just(json!("10s")), ".{0,6}".prop_map(Value::String)].boxed(),
        ),
        (
            "disableStorage",
            any::<bool>().prop_map(Value::Bool).boxed(),
        ),
        ("enableMemory", any::<bool>().prop_map(Value::Bool).boxed()),
    ])
}

fn percentiles() -> impl Strategy<Value = Value> {
    prop_oneof![
        proptest::collection::vec(0.0f64..=100.0, 0..8).prop_map(|mut v| {
            v.sort_by(f64::total_cmp);
            json!(v)
        }),
        proptest::collection::vec(any::<f64>(), 0..8).prop_map(|v| json!(v)),
        proptest::collection::vec(0u32..200, 0..120).prop_map(|v| json!(v)),
    ]
}

/// A parameter as a client might send one, or something no client should.
fn plausible_value(known: &Known) -> BoxedStrategy<Value> {
    let mut raw = known.raw_txs.clone();
    raw.extend(known.governance_txs.iter().cloned());
    let raw = if raw.is_empty() {
        bytes_hex(200).boxed()
    } else {
        prop_oneof![
            select(raw.clone()).prop_map(|s| json!(s)),
            (select(raw), support::edits(3)).prop_map(|(s, edits)| {
                let mut bytes: Vec<u8> = (2..s.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                    .collect();
                support::apply(&mut bytes, &edits);
                json!(hex_of(&bytes))
            }),
        ]
        .boxed()
    };
    prop_oneof![
        3 => quantity().boxed(),
        3 => block_id(known),
        2 => address(known),
        2 => hash(known),
        2 => bytes_hex(200).boxed(),
        2 => raw,
        3 => tx_request(known),
        2 => state_override(known),
        3 => filter(known),
        1 => tracing_options(),
        1 => percentiles().boxed(),
        1 => any::<bool>().prop_map(Value::Bool).boxed(),
        1 => select(vec!["newHeads", "logs", "newPendingTransactions", "syncing", "all", "open",
            "enacted", "dev-member-0", ""]).prop_map(|s| json!(s)).boxed(),
        2 => arbitrary_json().boxed(),
    ]
    .boxed()
}

/// Params as a whole: positional (mostly), by name, absent, or not a container at all.
fn params(known: &Known) -> BoxedStrategy<Option<Value>> {
    prop_oneof![
        8 => proptest::collection::vec(plausible_value(known), 0..5).prop_map(|v| Some(Value::Array(v))),
        1 => proptest::collection::btree_map("[a-zA-Z]{1,10}", plausible_value(known), 0..4)
            .prop_map(|m| Some(Value::Object(m.into_iter().collect()))),
        1 => Just(None),
        1 => arbitrary_json().prop_map(Some),
    ]
    .boxed()
}

/// The parameter kinds of the methods the node serves.
#[derive(Clone, Copy, Debug)]
enum Param {
    Quantity,
    Tag,
    BlockId,
    Hash,
    Address,
    Data,
    RawTx,
    Request,
    Overrides,
    Filter,
    Percentiles,
    Bool,
    Tracing,
    SubscriptionKind,
    SubscriptionId,
    Number,
    Text,
}

/// The positional parameters of `method` (as `rpc/src/api/*.rs` declares them), or `None` for
/// a method this list does not know (it gets generic params).
fn signature(method: &str) -> Option<Vec<Param>> {
    use Param::*;
    Some(match method {
        "eth_chainId"
        | "eth_blockNumber"
        | "eth_syncing"
        | "eth_coinbase"
        | "eth_gasPrice"
        | "eth_maxPriorityFeePerGas"
        | "eth_accounts"
        | "eth_newBlockFilter"
        | "eth_newPendingTransactionFilter"
        | "net_version"
        | "net_listening"
        | "net_peerCount"
        | "web3_clientVersion"
        | "txpool_status"
        | "txpool_content"
        | "txpool_inspect"
        | "kaimeng_members"
        | "kaimeng_epoch"
        | "kaimeng_governanceDomain" => vec![],
        "eth_feeHistory" => vec![Quantity, Tag, Percentiles],
        "eth_getBlockByNumber" => vec![Tag, Bool],
        "eth_getBlockByHash" => vec![Hash, Bool],
        "eth_getBlockTransactionCountByNumber" => vec![Tag],
        "eth_getBlockTransactionCountByHash"
        | "eth_getTransactionByHash"
        | "eth_getTransactionReceipt"
        | "txpool_transactionStatus" => vec![Hash],
        "eth_getTransactionByBlockHashAndIndex" => vec![Hash, Quantity],
        "eth_getTransactionByBlockNumberAndIndex" => vec![Tag, Quantity],
        "eth_getBlockReceipts" => vec![BlockId],
        "eth_getBalance" | "eth_getCode" | "eth_getTransactionCount" => vec![Address, BlockId],
        "eth_getStorageAt" => vec![Address, Quantity, BlockId],
        "eth_getProof" => vec![Address, Data, BlockId],
        "eth_call" | "eth_estimateGas" | "eth_createAccessList" => {
            vec![Request, BlockId, Overrides]
        }
        "debug_getRawHeader" | "debug_getRawBlock" | "debug_getRawReceipts" => vec![BlockId],
        "debug_getRawTransaction" => vec![Hash],
        "txpool_contentFrom" => vec![Address],
        "eth_sendRawTransaction" | "kaimeng_sendGovernanceTransaction" => vec![RawTx],
        "eth_sendTransaction" => vec![Request],
        "eth_sign" => vec![Address, Data],
        "eth_getLogs" | "eth_newFilter" => vec![Filter],
        "eth_getFilterChanges" | "eth_getFilterLogs" | "eth_uninstallFilter" => vec![Quantity],
        "eth_subscribe" => vec![SubscriptionKind, Filter],
        "eth_unsubscribe" => vec![SubscriptionId],
        "debug_traceTransaction" | "debug_traceBlockByHash" => vec![Hash, Tracing],
        "debug_traceBlockByNumber" => vec![Tag, Tracing],
        "debug_traceCall" => vec![Request, BlockId, Tracing],
        "web3_sha3" => vec![Data],
        "kaimeng_proposals" => vec![Text],
        "kaimeng_proposal" => vec![Number],
        "kaimeng_governanceNonce" => vec![Text],
        _ => return None,
    })
}

fn param(kind: Param, known: &Known) -> BoxedStrategy<Value> {
    match kind {
        Param::Quantity => {
            prop_oneof![3 => (0u64..8).prop_map(|n| json!(format!("{n:#x}"))), 2 => quantity()]
                .boxed()
        }
        Param::Tag => tag().boxed(),
        Param::BlockId => block_id(known),
        Param::Hash => hash(known),
        Param::Address => address(known),
        Param::Data => prop_oneof![
            bytes_hex(64),
            proptest::collection::vec(hash(known), 0..4).prop_map(Value::Array),
        ]
        .boxed(),
        Param::RawTx => {
            let mut raw = known.raw_txs.clone();
            raw.extend(known.governance_txs.iter().cloned());
            if raw.is_empty() {
                return bytes_hex(200).boxed();
            }
            prop_oneof![
                1 => select(raw.clone()).prop_map(|s| json!(s)),
                3 => (select(raw), support::edits(3)).prop_map(|(s, edits)| {
                    let mut bytes: Vec<u8> = (2..s.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                        .collect();
                    support::apply(&mut bytes, &edits);
                    json!(hex_of(&bytes))
                }),
                1 => bytes_hex(200),
            ]
            .boxed()
        }
        Param::Request => prop_oneof![clean_tx_request(known), tx_request(known)].boxed(),
        Param::Overrides => prop_oneof![clean_state_override(known), state_override(known)].boxed(),
        Param::Filter => filter(known),
        Param::Percentiles => percentiles().boxed(),
        Param::Bool => prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            Just(json!(1)),
            Just(json!("true"))
        ]
        .boxed(),
        Param::Tracing => tracing_options(),
        Param::SubscriptionKind => select(vec![
            "newHeads",
            "logs",
            "newPendingTransactions",
            "syncing",
            "",
            "NEWHEADS",
        ])
        .prop_map(|s| json!(s))
        .boxed(),
        Param::SubscriptionId => prop_oneof![
            bytes_hex(16),
            any::<u64>().prop_map(|n| json!(n)),
            ".{0,10}".prop_map(Value::String),
        ]
        .boxed(),
        Param::Number => prop_oneof![(0u64..4).prop_map(|n| json!(n)), quantity()].boxed(),
        Param::Text => prop_oneof![
            select(vec![
                "all",
                "open",
                "passed",
                "enacted",
                "failed",
                "rejected",
                "expired",
                "dev-member-0",
                "dev-member-9",
                ""
            ])
            .prop_map(|s| json!(s)),
            ".{0,300}".prop_map(Value::String),
            Just(Value::Null),
        ]
        .boxed(),
    }
}

/// Params for `method`: its own parameters, each mostly of its kind and sometimes anything,
/// with trailing (optional) ones sometimes left out and sometimes an extra one; generic params
/// for methods [`signature`] does not know, and now and then anyway.
fn method_params(method: &str, known: &Known) -> BoxedStrategy<Option<Value>> {
    let Some(kinds) = signature(method) else {
        return params(known);
    };
    let count = kinds.len();
    let positional: Vec<BoxedStrategy<Value>> = kinds
        .into_iter()
        .map(|kind| prop_oneof![6 => param(kind, known), 1 => plausible_value(known)].boxed())
        .collect();
    let typed = (
        positional,
        0..=count,
        proptest::option::weighted(0.1, plausible_value(known)),
        proptest::bool::weighted(0.8),
    )
        .prop_map(move |(mut values, keep, extra, all)| {
            if !all {
                values.truncate(keep);
            }
            values.extend(extra);
            Some(Value::Array(values))
        });
    prop_oneof![9 => typed, 1 => params(known)].boxed()
}

// ---- 1. parameter types ------------------------------------------------------------------------

/// Deserializes `value` (and its text) as `T`; what is accepted must serialize to JSON that
/// deserializes to the same `T`.
fn check_type<T>(name: &str, value: &Value) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let text = value.to_string();
    let from_value = support::bounded(name, text.as_bytes(), || {
        serde_json::from_value::<T>(value.clone())
    });
    let from_str = support::bounded(name, text.as_bytes(), || serde_json::from_str::<T>(&text));
    prop_assert_eq!(from_value.is_ok(), from_str.is_ok(), "{}: {}", name, text);
    if let Ok(parsed) = from_value {
        let json = serde_json::to_value(&parsed).map_err(|e| {
            TestCaseError::fail(format!("{name}: cannot serialize {parsed:?}: {e}"))
        })?;
        let again: T = serde_json::from_value(json.clone()).map_err(|e| {
            TestCaseError::fail(format!(
                "{name}: {text} parsed, but its serialization {json} does not: {e}"
            ))
        })?;
        prop_assert_eq!(&again, &parsed, "{}: {} -> {}", name, text, json);
    }
    Ok(())
}

/// `text` (any string) as every parameter type: never a panic.
fn check_all_from_str(text: &str) {
    macro_rules! each {
        ($($t:ty),* $(,)?) => {$(
            let _ = support::bounded(stringify!($t), text.as_bytes(), || serde_json::from_str::<$t>(text));
        )*};
    }
    each!(
        BlockId,
        Option<BlockId>,
        BlockNumberOrTag,
        U64,
        U256,
        Vec<U256>,
        B256,
        Address,
        Bytes,
        bool,
        u64,
        String,
        Option<Vec<f64>>,
        TransactionRequest,
        Option<StateOverride>,
        Filter,
        GethDebugTracingOptions,
        GethDebugTracingCallOptions,
        GovernanceDomainView,
        Option<Value>,
    );
}

fn check_all(value: &Value) -> Result<(), TestCaseError> {
    check_type::<BlockId>("BlockId", value)?;
    check_type::<Option<BlockId>>("Option<BlockId>", value)?;
    check_type::<BlockNumberOrTag>("BlockNumberOrTag", value)?;
    check_type::<U64>("U64", value)?;
    check_type::<U256>("U256", value)?;
    check_type::<Vec<U256>>("Vec<U256>", value)?;
    check_type::<B256>("B256", value)?;
    check_type::<Address>("Address", value)?;
    check_type::<Bytes>("Bytes", value)?;
    check_type::<u64>("u64", value)?;
    check_type::<Option<String>>("Option<String>", value)?;
    check_type::<TransactionRequest>("TransactionRequest", value)?;
    check_type::<Option<StateOverride>>("Option<StateOverride>", value)?;
    check_type::<Filter>("Filter", value)?;
    check_type::<GethDebugTracingOptions>("GethDebugTracingOptions", value)?;
    check_type::<GovernanceDomainView>("GovernanceDomainView", value)?;
    // Percentiles are compared as JSON: NaN is not a JSON number, so it cannot round-trip.
    let _ = serde_json::from_value::<Option<Vec<f64>>>(value.clone());
    // The debug_trace* tracer configs, as the methods derive them.
    if let Ok(options) = serde_json::from_value::<GethDebugTracingOptions>(value.clone()) {
        let _ = options.tracer_config.clone().into_call_config();
        let _ = options.tracer_config.into_pre_state_config();
    }
    Ok(())
}

proptest! {
    #![proptest_config(support::config(support::cases(128)))]

    #[test]
    fn fuzz_params_plausible_json(value in plausible_value(&Known::default())) {
        check_all(&value)?;
    }

    #[test]
    fn fuzz_params_arbitrary_json(value in arbitrary_json()) {
        check_all(&value)?;
    }

    /// Any text, and the text of plausible values with characters changed.
    #[test]
    fn fuzz_params_arbitrary_strings(
        text in prop_oneof![".{0,200}", "[\\[\\]{}\",:0-9a-fx\\\\ ]{0,64}"],
        value in plausible_value(&Known::default()),
        edits in support::edits(3),
    ) {
        check_all_from_str(&text);
        let mut bytes = value.to_string().into_bytes();
        support::apply(&mut bytes, &edits);
        check_all_from_str(&String::from_utf8_lossy(&bytes));
    }
}

// ---- 2. a real module over a chain -------------------------------------------------------------

/// A shard with three blocks (transfers, a contract that logs, a legacy transaction) and a
/// pending transaction, served by the node's module with the `kaimeng_*` namespace.
struct Fixture {
    runtime: tokio::runtime::Runtime,
    module: RpcModule<()>,
    known: Known,
    methods: Vec<String>,
    _chain: Arc<ShardChain>,
    _dir: tempfile::TempDir,
}

fn sign_1559(
    key: &PrivateKeySigner,
    chain_id: u64,
    nonce: u64,
    to: TxKind,
    input: Vec<u8>,
) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 200_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::from(7),
        access_list: Default::default(),
        input: input.into(),
    };
    let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
}

fn sign_legacy(key: &PrivateKeySigner, chain_id: u64, nonce: u64, to: Address) -> Vec<u8> {
    let tx = TxLegacy {
        chain_id: Some(chain_id),
        nonce,
        gas_price: 10_000_000_000,
        gas_limit: 21_000,
        to: TxKind::Call(to),
        value: U256::from(1),
        input: Default::default(),
    };
    let signature = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
}

impl Fixture {
    fn new() -> Fixture {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let genesis = GenesisSpec::dev(&DevOptions {
            validators: 1,
            ..DevOptions::default()
        });
        let store = kaimeng_shards::open_store(dir.path(), &Default::default()).unwrap();
        let chain = Arc::new(ShardChain::open(store, &genesis, 0).unwrap());
        let chain_id = chain.config().chain_id;
        let accounts = dev_accounts(4);
        let keys: Vec<PrivateKeySigner> = accounts
            .iter()
            .map(|a| PrivateKeySigner::from_bytes(&a.private_key).unwrap())
            .collect();
        let mut known = Known::default();
        let mut submit = |raw: Vec<u8>| {
            chain.submit_raw(&raw).expect("fixture transaction");
            known.raw_txs.push(hex_of(&raw));
        };
        // Stores 42 at memory 0 and logs it with topic 1; deploys empty code.
        let logging_init = vec![
            0x60, 0x2a, 0x60, 0x00, 0x52, 0x60, 0x01, 0x60, 0x20, 0x60, 0x00, 0xa1, 0x00,
        ];
        submit(sign_1559(
            &keys[0],
            chain_id,
            0,
            TxKind::Call(keys[1].address()),
            vec![],
        ));
        submit(sign_1559(
            &keys[2],
            chain_id,
            0,
            TxKind::Create,
            logging_init,
        ));
        let seal = |at: u64| {
            let proposed = chain.propose(at, keys[3].address(), 1_000).unwrap();
            chain.finalize(proposed).unwrap()
        };
        let mut blocks = vec![seal(1)];
        submit(sign_legacy(&keys[1], chain_id, 0, keys[0].address()));
        submit(sign_1559(
            &keys[0],
            chain_id,
            1,
            TxKind::Call(keys[2].address()),
            vec![1, 2, 3],
        ));
        blocks.push(seal(2));
        blocks.push(seal(3));
        // Stays pending.
        submit(sign_1559(
            &keys[3],
            chain_id,
            0,
            TxKind::Call(keys[0].address()),
            vec![],
        ));
        for block in &blocks {
            known.block_hashes.push(format!("{:#x}", block.hash()));
            for tx in &block.txs {
                known.tx_hashes.push(format!("{:#x}", tx.hash));
            }
        }
        known
            .block_hashes
            .push(format!("{:#x}", chain.head().header.parent_hash));
        known.addresses = keys.iter().map(|k| format!("{:#x}", k.address())).collect();
        known
            .addresses
            .push(format!("{:#x}", keys[2].address().create(0)));
        known
            .addresses
            .push("0x0000000000000000000000000000000000000a01".into());
        known
            .addresses
            .push("0x0000000000000000000000000000000000000a02".into());

        // The kaimeng_* namespace over the dev consortium, and signed governance transactions.
        let state = ConsortiumState::from_genesis(&genesis).expect("dev genesis");
        let domain = GovernanceDomain::of(&genesis);
        let admin = kaimeng_crypto::SecretKey::from_bytes(
            kaimeng_crypto::CryptoSuite::Secp256k1Keccak,
            dev_member_secret(0, DevKeyRole::Admin, CryptoSuite::Secp256k1Keccak).as_slice(),
        )
        .unwrap();
        for (nonce, approve) in [(0, true), (1, false)] {
            let vote = GovernanceTx::Vote {
                voter: "dev-member-0".into(),
                proposal_id: 1,
                approve,
                nonce,
            }
            .sign(&domain, &admin);
            known.governance_txs.push(hex_of(&vote.encode()));
        }

        let config = RpcConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            limits: Default::default(),
            dev_signer: DevSigner::new(&accounts.iter().map(|a| a.private_key).collect::<Vec<_>>()),
            fee_recipient: keys[3].address(),
            status: kaimeng_rpc::node_status::standalone(),
        };
        let module = runtime.block_on(async {
            let mut module = rpc_module(chain.clone(), &config).expect("module");
            module
                .merge(KaimengRpc::methods(Arc::new(ImmediateConsortium::new(
                    state,
                ))))
                .expect("kaimeng namespace");
            module
        });
        let mut methods: Vec<String> = module.method_names().map(str::to_owned).collect();
        methods.sort();
        Fixture {
            runtime,
            module,
            known,
            methods,
            _chain: chain,
            _dir: dir,
        }
    }

    /// Sends `request` and checks the answer; `Ok(None)` if jsonrpsee refused the text as a
    /// request (not JSON, or not a request object).
    fn call(&self, request: &str) -> Result<Option<Value>, TestCaseError> {
        let started = Instant::now();
        let answer = self
            .runtime
            .block_on(self.module.raw_json_request(request, 16));
        let elapsed = started.elapsed();
        prop_assert!(elapsed < RPC_SLOW, "{} took {:?}", request, elapsed);
        let Ok((response, _notifications)) = answer else {
            return Ok(None);
        };
        let response: Value = serde_json::from_str(response.get())
            .map_err(|e| TestCaseError::fail(format!("not JSON: {e}: {}", response.get())))?;
        check_response(request, &response)?;
        Ok(Some(response))
    }
}

/// An RPC call slower than this fails (the slowest methods, `eth_estimateGas` over a looping
/// contract, take well under a second on this chain).
const RPC_SLOW: Duration = Duration::from_secs(20);

/// A JSON-RPC 2.0 response to `request`: its id, and a result or an error object with an
/// integer code and a message.
fn check_response(request: &str, response: &Value) -> Result<(), TestCaseError> {
    let object = response
        .as_object()
        .ok_or_else(|| TestCaseError::fail(format!("not an object: {response}")))?;
    prop_assert_eq!(object.get("jsonrpc"), Some(&json!("2.0")), "{}", response);
    if let Ok(Value::Object(request)) = serde_json::from_str::<Value>(request) {
        if let Some(id) = request.get("id") {
            prop_assert_eq!(
                object.get("id"),
                Some(id),
                "{} -> {}",
                Value::Object(request.clone()),
                response
            );
        }
    }
    match (object.get("result"), object.get("error")) {
        (Some(_), None) => {}
        (None, Some(error)) => {
            prop_assert!(
                error["code"].is_i64(),
                "error without an integer code: {}",
                response
            );
            prop_assert!(
                error["message"].as_str().is_some_and(|m| !m.is_empty()),
                "error without a message: {}",
                response
            );
        }
        _ => prop_assert!(false, "neither a result nor an error: {}", response),
    }
    Ok(())
}

/// Runs `test` on `cases` values of `strategy` with proptest's runner (failures are shrunk and
/// persisted like those of `proptest!`).
fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut config = support::config(cases);
    config.source_file = Some(file!());
    let mut runner = TestRunner::new(config);
    if let Err(error) = runner.run(&strategy, test) {
        panic!("{error}");
    }
}

/// A method name: one the module serves, a near miss, or anything.
fn method(fixture: &Fixture) -> BoxedStrategy<String> {
    prop_oneof![
        8 => select(fixture.methods.clone()),
        1 => select(fixture.methods.clone()).prop_map(|m| m.to_uppercase()),
        1 => ".{0,20}",
    ]
    .boxed()
}

fn request_id() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => any::<u32>().prop_map(Value::from),
        1 => "[a-z0-9-]{0,12}".prop_map(Value::String),
        1 => Just(Value::Null),
    ]
}

fn request_text(method: String, params: Option<Value>, id: Value) -> String {
    let mut request = json!({"jsonrpc": "2.0", "id": id, "method": method});
    if let Some(params) = params {
        request["params"] = params;
    }
    request.to_string()
}

/// How a method answered: "result", or the error code. Printed at the end of
/// `fuzz_rpc_module_methods` (see it with `-- --nocapture`): how far the fuzzed params got.
type Outcomes = std::sync::Mutex<std::collections::BTreeMap<(String, String), u64>>;

fn outcome(response: &Value) -> String {
    match response.get("error") {
        Some(error) => format!("error {}", error["code"]),
        None => "result".to_owned(),
    }
}

#[test]
fn fuzz_rpc_module_methods() {
    let fixture = Fixture::new();
    let outcomes = Outcomes::default();
    let known = fixture.known.clone();
    let strategy = (
        method(&fixture).prop_flat_map(move |m| {
            let params = method_params(&m, &known);
            (Just(m), params)
        }),
        request_id(),
    );
    let served = fixture.methods.clone();
    // FUZZ_TRACE=<method> prints that method's requests and answers.
    let trace = std::env::var("FUZZ_TRACE").ok();
    run(
        support::scaled_cases(64, 10),
        strategy,
        |((method, params), id)| {
            let request = request_text(method.clone(), params, id);
            let response = fixture.call(&request)?;
            prop_assert!(
                response.is_some(),
                "a well-formed request was refused: {}",
                request
            );
            if let Some(response) = response {
                if trace.as_deref() == Some(method.as_str()) {
                    eprintln!("{request}\n  -> {response}");
                }
                let name = if served.contains(&method) {
                    method
                } else {
                    "(not served)".to_owned()
                };
                *outcomes
                    .lock()
                    .unwrap()
                    .entry((name, outcome(&response)))
                    .or_default() += 1;
            }
            Ok(())
        },
    );
    for ((method, outcome), count) in outcomes.into_inner().unwrap() {
        eprintln!("{method:45} {outcome:14} {count}");
    }
}

/// Every method once with no params, and with each plausible param shape: no panics on the
/// shapes a careless client sends.
#[test]
fn fuzz_rpc_module_every_method() {
    let fixture = Fixture::new();
    for method in &fixture.methods {
        for params in [
            None,
            Some(json!([])),
            Some(json!([null])),
            Some(json!({})),
            Some(json!([null, null, null, null])),
        ] {
            let request = request_text(method.clone(), params, json!(1));
            fixture
                .call(&request)
                .unwrap_or_else(|e| panic!("{request}: {e}"))
                .unwrap_or_else(|| panic!("{request} was refused"));
        }
    }
}

/// Request text mutated byte by byte: refused as not a request, or answered properly.
#[test]
fn fuzz_rpc_module_mutated_requests() {
    let fixture = Fixture::new();
    let known = fixture.known.clone();
    let strategy = (
        method(&fixture).prop_flat_map(move |m| {
            let params = method_params(&m, &known);
            (Just(m), params)
        }),
        request_id(),
        support::edits(4),
    );
    run(
        support::scaled_cases(64, 10),
        strategy,
        |((method, params), id, edits)| {
            let mut bytes = request_text(method, params, id).into_bytes();
            support::apply(&mut bytes, &edits);
            let text = String::from_utf8_lossy(&bytes);
            fixture.call(&text)?;
            Ok(())
        },
    );
}
