//! The explorer over a real shard chain (RocksDB on disk, revm): the index of a block with more
//! matches than a page loses none, resumes from its stored height after a reopen, counts token
//! balances as the contract does; and the pages escape what contracts say, refuse bad input
//! with a clear 4xx page, and never answer 500.

use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256, hex};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::{SolCall, SolConstructor, sol};
use kaimeng_explorer::{Explorer, Index, IndexOptions, Sources};
use kaimeng_genesis::{DevOptions, GenesisSpec, dev_accounts};
use kaimeng_shards::ShardChain;

sol! {
    constructor(string name, string symbol, uint256 supply);
    function transfer(address to, uint256 value) returns (bool);
    function balanceOf(address who) returns (uint256);
}

const EVIL: &str = "<script>alert(1)</script>";

fn key(i: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&dev_accounts(10)[i].private_key).unwrap()
}

fn signed(
    chain: &ShardChain,
    from: usize,
    nonce: u64,
    to: TxKind,
    input: Bytes,
    gas: u64,
) -> Bytes {
    let tx = TxEip1559 {
        chain_id: chain.config().chain_id,
        nonce,
        gas_limit: gas,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: if input.is_empty() {
            U256::from(7)
        } else {
            U256::ZERO
        },
        access_list: Default::default(),
        input,
    };
    let sig = key(from).sign_hash_sync(&tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(sig)).encoded_2718().into()
}

fn seal(chain: &ShardChain) {
    let ts = chain.head().header.timestamp + 1;
    let proposed = chain.propose(ts, key(9).address(), 10_000).unwrap();
    chain.finalize(proposed).unwrap();
}

fn open_chain(dir: &std::path::Path, genesis: &GenesisSpec) -> Arc<ShardChain> {
    let store = kaimeng_shards::open_store(dir, &Default::default()).unwrap();
    Arc::new(ShardChain::open(store, genesis, 0).unwrap())
}

fn token_code() -> Vec<u8> {
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/contracts/out/KaiToken.json")).unwrap();
    let mut code = hex::decode(artifact["bytecode"].as_str().unwrap()).unwrap();
    code.extend(
        constructorCall {
            name: EVIL.into(),
            symbol: EVIL.into(),
            supply: U256::from(1_000_000u64),
        }
        .abi_encode(),
    );
    code
}

fn balance_of(chain: &ShardChain, token: Address, who: Address) -> U256 {
    let request = TransactionRequest::default()
        .to(token)
        .input(Bytes::from(balanceOfCall { who }.abi_encode()).into());
    U256::from_be_slice(
        &chain
            .call(&request, chain.head().number(), None)
            .unwrap()
            .output,
    )
}

/// A chain with a token named `EVIL` and one block of 30 transactions from account 0: 20
/// transfers of ether and 10 of the token, to 10 addresses.
fn build() -> (tempfile::TempDir, Arc<ShardChain>, Address) {
    let dir = tempfile::tempdir().unwrap();
    let genesis = GenesisSpec::dev(&DevOptions {
        validators: 1,
        ..DevOptions::default()
    });
    let chain = open_chain(&dir.path().join("chain"), &genesis);
    chain
        .submit_raw(&signed(
            &chain,
            0,
            0,
            TxKind::Create,
            token_code().into(),
            2_000_000,
        ))
        .unwrap();
    seal(&chain);
    let token = chain.block(1).unwrap().unwrap().receipts[0]
        .contract_address
        .unwrap();
    for nonce in 1..=30u64 {
        let to = Address::repeat_byte(0x40 + nonce as u8 % 10);
        let raw = if nonce % 3 == 0 {
            let data = transferCall {
                to,
                value: U256::from(nonce),
            }
            .abi_encode();
            signed(&chain, 0, nonce, TxKind::Call(token), data.into(), 100_000)
        } else {
            signed(&chain, 0, nonce, TxKind::Call(to), Bytes::new(), 21_000)
        };
        chain.submit_raw(&raw).unwrap();
    }
    seal(&chain);
    assert_eq!(
        chain.block(2).unwrap().unwrap().txs.len(),
        30,
        "one block holds all 30"
    );
    (dir, chain, token)
}

fn options() -> IndexOptions {
    IndexOptions {
        internal_calls: true,
        keep_logs_of: None,
    }
}

#[test]
fn a_block_with_more_matches_than_a_page_loses_none_and_the_index_resumes() {
    let (dir, chain, token) = build();
    let sender = key(0).address();
    let index = Index::open(&dir.path().join("explorer"), &Default::default()).unwrap();
    assert_eq!(
        index.catch_up(&chain, &options(), u64::MAX).unwrap(),
        3,
        "genesis and two blocks"
    );
    assert_eq!(index.progress(0).unwrap(), Some(2));

    // Every page of 25, newest first, together hold each of the 31 transactions once.
    let first = index.address_txs(0, &sender, 0, 25).unwrap();
    assert_eq!(first.total, Some(31));
    let second = index.address_txs(0, &sender, 25, 25).unwrap();
    assert_eq!(first.items.len() + second.items.len(), 31);
    let all: Vec<(u64, u32, u8)> = first.items.iter().chain(&second.items).copied().collect();
    let mut positions: Vec<(u64, u32)> = all.iter().map(|(n, t, _)| (*n, *t)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
    positions.sort();
    let mut expected: Vec<(u64, u32)> = (0..30).map(|i| (2, i)).collect();
    expected.insert(0, (1, 0));
    assert_eq!(positions, expected);
    assert!(
        index
            .address_txs(0, &sender, 50, 25)
            .unwrap()
            .items
            .is_empty()
    );

    // Each listed transaction's summary is the block's own.
    let block = chain.block(2).unwrap().unwrap();
    let summaries = index.tx_summaries(0, &[(2, 0), (2, 2), (9, 0)]).unwrap();
    for (summary, i) in summaries.iter().zip([0usize, 2]) {
        let summary = summary.as_ref().expect("indexed");
        assert_eq!(summary.hash, block.txs[i].hash);
        assert_eq!(summary.from, sender);
        assert!(summary.ok);
    }
    assert_eq!(summaries[2], None, "no block 9");
    assert_eq!(
        summaries[1].as_ref().unwrap().to,
        Some(token),
        "the third is a token call"
    );

    // Nonce lookup, creator, and the token's inner bookkeeping against the contract's own.
    assert_eq!(index.by_nonce(0, &sender, 0).unwrap(), Some((1, 0)));
    assert_eq!(index.by_nonce(0, &sender, 30).unwrap(), Some((2, 29)));
    assert_eq!(index.creator(0, &token).unwrap().map(|c| c.0), Some(sender));
    let info = index.token(0, &token).unwrap().expect("token seen");
    assert_eq!((info.name.as_str(), info.symbol.as_str()), (EVIL, EVIL));
    assert_eq!(info.transfers, 11, "the mint and ten transfers");
    for (holder, balance) in index.holders(0, &token, 0, 100).unwrap() {
        assert_eq!(
            balance,
            balance_of(&chain, token, holder),
            "balance of {holder}"
        );
    }
    assert_eq!(
        info.holders,
        index.holders(0, &token, 0, 100).unwrap().len() as u64
    );
    // A recipient is touched only in block 2, once per transaction, and counted exactly.
    let recipient = Address::repeat_byte(0x44);
    let touching = index.address_txs(0, &recipient, 0, 25).unwrap();
    assert!(touching.items.iter().all(|(n, _, _)| *n == 2));
    assert_eq!(touching.total, Some(touching.items.len() as u64));

    // Inner calls are traced apart (the token calls nothing): every block is covered and no
    // entry is added or counted twice.
    assert_eq!(index.trace_inner_calls(&chain, 100).unwrap(), 3);
    assert_eq!(index.inner_progress(0).unwrap(), Some(2));
    assert_eq!(index.trace_inner_calls(&chain, 100).unwrap(), 0);
    assert_eq!(index.address_txs(0, &sender, 0, 1).unwrap().total, Some(31));

    // Reopened, it resumes from its stored height and indexes only the new block.
    drop(index);
    chain
        .submit_raw(&signed(
            &chain,
            0,
            31,
            TxKind::Call(Address::with_last_byte(1)),
            Bytes::new(),
            21_000,
        ))
        .unwrap();
    seal(&chain);
    let index = Index::open(&dir.path().join("explorer"), &Default::default()).unwrap();
    assert_eq!(index.progress(0).unwrap(), Some(2));
    assert_eq!(index.catch_up(&chain, &options(), u64::MAX).unwrap(), 1);
    assert_eq!(index.address_txs(0, &sender, 0, 1).unwrap().total, Some(32));
}

async fn get(explorer: &Arc<Explorer>, path: &str) -> (u16, String) {
    use tower::ServiceExt;
    let request = http::Request::get(path)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = kaimeng_explorer::router(explorer.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_escape_contract_text_and_refuse_bad_input_with_a_clear_page() {
    let (dir, chain, token) = build();
    let index = Arc::new(Index::open(&dir.path().join("explorer"), &Default::default()).unwrap());
    index.catch_up(&chain, &options(), u64::MAX).unwrap();
    let explorer = Explorer::new(Sources {
        chains: vec![chain.clone()],
        index: Some(index),
        beacon: None,
        beacon_height: None,
        status: kaimeng_rpc::node_status::standalone(),
        bridge: None,
        chain_id: 31337,
        crypto_suite: "secp256k1-keccak".into(),
    });
    let (status, body) = get(&explorer, &format!("/explorer/s/0/token/{token}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains(EVIL),
        "the token's name reached the page unescaped"
    );
    assert!(body.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;"));
    let (status, body) = get(&explorer, "/explorer/s/0/tokens").await;
    assert_eq!(status, 200);
    assert!(!body.contains(EVIL));

    let sender = key(0).address();
    let (status, body) = get(&explorer, &format!("/explorer/s/0/address/{sender}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body.matches("<tr data-tx=").count(),
        25,
        "a full first page"
    );
    let (status, body) = get(&explorer, &format!("/explorer/s/0/address/{sender}?page=2")).await;
    assert_eq!(status, 200);
    assert_eq!(
        body.matches("<tr data-tx=").count(),
        6,
        "the other six on page two"
    );
    // The first page links to the next by position; that page holds the same six.
    let (_, first) = get(&explorer, &format!("/explorer/s/0/address/{sender}")).await;
    let cursor = first
        .split("?before=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a next link by position");
    let (status, by_cursor) = get(
        &explorer,
        &format!("/explorer/s/0/address/{sender}?before={cursor}"),
    )
    .await;
    assert_eq!(status, 200);
    let rows = |html: &str| {
        html.split("<tr data-tx=\"")
            .skip(1)
            .map(|r| r[..66].to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(rows(&by_cursor), rows(&body));
    // The language links keep the page's query.
    assert!(body.contains("?page=2&amp;lang=zh"), "{body}");

    // A view function with an argument, read through the form a pasted ABI gives.
    let abi = r#"[{"type":"function","name":"balanceOf","stateMutability":"view","inputs":[{"name":"who","type":"address"}],"outputs":[{"name":"","type":"uint256"}]},{"type":"function","name":"totalSupply","stateMutability":"view","inputs":[],"outputs":[{"name":"","type":"uint256"}]}]"#;
    let query = |extra: &[(&str, String)]| {
        let mut pairs = vec![("abi", abi.to_string())];
        pairs.extend(extra.iter().cloned());
        serde_urlencoded::to_string(&pairs).unwrap()
    };
    let (status, body) = get(
        &explorer,
        &format!("/explorer/s/0/address/{token}?{}", query(&[])),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(">1000000</output>"),
        "totalSupply() is read at once: {body}"
    );
    assert!(
        body.contains("name=\"a0\""),
        "balanceOf(address) gets a form"
    );
    let asked = query(&[
        ("fn", "balanceOf(address)".into()),
        ("a0", sender.to_string()),
    ]);
    let (status, body) = get(&explorer, &format!("/explorer/s/0/address/{token}?{asked}")).await;
    assert_eq!(status, 200, "{body}");
    let expected = balance_of(&chain, token, sender);
    assert!(
        body.contains(&format!(">{expected}</output>")),
        "balanceOf(sender) = {expected}: {body}"
    );
    let bad = query(&[
        ("fn", "balanceOf(address)".into()),
        ("a0", "not an address".into()),
    ]);
    let (status, body) = get(&explorer, &format!("/explorer/s/0/address/{token}?{bad}")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("is not a valid address"), "{body}");

    let block = chain.block(2).unwrap().unwrap();
    let hash = block.txs[2].hash;
    let (status, body) = get(&explorer, &format!("/explorer/s/0/tx/{hash}")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Transfer (ERC-20)"),
        "the token event is named"
    );

    for (path, expected) in [
        (format!("/explorer/s/0/address/{sender}?page=99"), 404),
        (format!("/explorer/s/0/address/{sender}?page=abc"), 400),
        (format!("/explorer/s/0/address/{sender}?page=0"), 400),
        (format!("/explorer/s/0/address/{sender}?before=x"), 400),
        ("/explorer/s/0/address/0x12".to_string(), 400),
        ("/explorer/s/9/block/1".to_string(), 404),
        ("/explorer/s/0/block/999".to_string(), 404),
        ("/explorer/s/0/block/%3Cb%3E".to_string(), 400),
        ("/explorer/s/0/tx/0xzz".to_string(), 400),
        ("/explorer/search?q=zzz".to_string(), 404),
        ("/explorer/search?q=0x12".to_string(), 400),
        ("/explorer/search?q=".to_string(), 400),
        ("/explorer/search?q=epoch:x".to_string(), 400),
        ("/explorer/consortium".to_string(), 503),
        ("/explorer/nothing-here".to_string(), 404),
    ] {
        let (status, body) = get(&explorer, &path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(
            body.contains("data-page=\"error\""),
            "{path} has no error page"
        );
        assert!(
            body.contains("id=\"error-detail\""),
            "{path} says no reason"
        );
    }
    let (status, _) = get(&explorer, "/explorer/search?q=1").await;
    assert_eq!(status, 303);
    let (_, zh) = get(&explorer, "/explorer/?lang=zh").await;
    assert!(zh.contains("<html lang=\"zh-CN\">") && zh.contains("网络状态"));
}
