//! The repository's ERC-20 (tests/contracts/KaiToken.sol) on a real shard: deploy, transfer,
//! logs, a revert reason from eth_call, estimates and tracing.

use alloy_primitives::{Address, Bytes, TxKind, U256, hex, keccak256};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::geth::{CallConfig, GethTrace};
use alloy_sol_types::{SolCall, SolConstructor, sol};
use kaimeng_shards::call::CallError;
use kaimeng_shards::trace::Tracer;

use crate::common::*;

sol! {
    constructor(string name, string symbol, uint256 supply);
    function transfer(address to, uint256 value) returns (bool);
    function balanceOf(address who) returns (uint256);
}

fn bytecode() -> Vec<u8> {
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/contracts/out/KaiToken.json")).unwrap();
    hex::decode(artifact["bytecode"].as_str().unwrap()).unwrap()
}

fn deploy(t: &TestChain) -> Address {
    let mut code = bytecode();
    code.extend(
        constructorCall {
            name: "Kai".into(),
            symbol: "KAI".into(),
            supply: U256::from(1_000_000u64),
        }
        .abi_encode(),
    );
    let raw = eip1559(
        &t.chain,
        0,
        t.chain.pending_nonce(&addr(0)).unwrap(),
        TxKind::Create,
        U256::ZERO,
        code.into(),
        2_000_000,
    );
    t.chain.submit_raw(&raw).unwrap();
    let block = seal(&t.chain);
    let receipt = &block.receipts[0];
    receipt.contract_address.expect("contract created")
}

fn balance_of(t: &TestChain, token: Address, who: Address) -> U256 {
    let request = TransactionRequest::default()
        .to(token)
        .input(Bytes::from(balanceOfCall { who }.abi_encode()).into());
    let out = t
        .chain
        .call(&request, t.chain.head().number(), None)
        .unwrap()
        .output;
    U256::from_be_slice(&out)
}

#[test]
fn deploy_transfer_and_read_the_transfer_log() {
    let t = new_chain();
    let token = deploy(&t);
    let data: Bytes = transferCall {
        to: addr(1),
        value: U256::from(250u64),
    }
    .abi_encode()
    .into();
    let raw = eip1559(
        &t.chain,
        0,
        t.chain.pending_nonce(&addr(0)).unwrap(),
        TxKind::Call(token),
        U256::ZERO,
        data,
        100_000,
    );
    t.chain.submit_raw(&raw).unwrap();
    let block = seal(&t.chain);
    assert_eq!(balance_of(&t, token, addr(1)), U256::from(250u64));
    assert_eq!(balance_of(&t, token, addr(0)), U256::from(999_750u64));
    let logs = kaimeng_shards::logs::block_logs(&block);
    assert_eq!(logs.len(), 1);
    let log = &logs[0].inner;
    assert_eq!(log.address, token);
    assert_eq!(
        log.topics()[0],
        keccak256("Transfer(address,address,uint256)")
    );
    assert_eq!(Address::from_word(log.topics()[2]), addr(1));
    assert!(
        block
            .header
            .header
            .logs_bloom
            .contains_input(alloy_primitives::BloomInput::Raw(token.as_slice()))
    );
}

#[test]
fn a_reverting_call_returns_the_reason_string_and_data() {
    let t = new_chain();
    let token = deploy(&t);
    let data: Bytes = transferCall {
        to: addr(2),
        value: U256::from(1u64),
    }
    .abi_encode()
    .into();
    let request = TransactionRequest::default()
        .from(addr(5))
        .to(token)
        .input(data.into());
    match t.chain.call(&request, t.chain.head().number(), None) {
        Err(CallError::Revert { reason, output }) => {
            assert_eq!(reason.as_deref(), Some("KaiToken: insufficient balance"));
            assert!(output.starts_with(&hex!("08c379a0")));
        }
        other => panic!("expected a revert, got {other:?}"),
    }
    assert!(matches!(
        t.chain
            .estimate_gas(&request, t.chain.head().number(), None),
        Err(CallError::Revert { .. })
    ));
}

#[test]
fn estimates_are_enough_and_tight() {
    let t = new_chain();
    let token = deploy(&t);
    let data: Bytes = transferCall {
        to: addr(3),
        value: U256::from(1u64),
    }
    .abi_encode()
    .into();
    let request = TransactionRequest::default()
        .from(addr(0))
        .to(token)
        .input(data.clone().into());
    let estimate = t
        .chain
        .estimate_gas(&request, t.chain.head().number(), None)
        .unwrap();
    let raw = eip1559(
        &t.chain,
        0,
        t.chain.pending_nonce(&addr(0)).unwrap(),
        TxKind::Call(token),
        U256::ZERO,
        data,
        estimate,
    );
    t.chain.submit_raw(&raw).unwrap();
    let block = seal(&t.chain);
    assert!(
        alloy_consensus::TxReceipt::status(&block.receipts[0].envelope),
        "a tx with the estimated gas succeeds"
    );
    assert!(
        estimate <= block.receipts[0].gas_used * 110 / 100 + 3_000,
        "estimate {estimate} vs used {}",
        block.receipts[0].gas_used
    );
}

#[test]
fn state_overrides_apply_to_calls() {
    let t = new_chain();
    let token = deploy(&t);
    let mut overrides = alloy_rpc_types_eth::state::StateOverride::default();
    let rich = Address::repeat_byte(0x77);
    // balanceOf is the mapping at slot 3 (name, symbol, totalSupply before it).
    let slot = keccak256(
        [
            rich.into_word().as_slice(),
            U256::from(3u64).to_be_bytes::<32>().as_slice(),
        ]
        .concat(),
    );
    let mut diff = alloy_primitives::map::B256HashMap::default();
    diff.insert(slot, alloy_primitives::B256::from(U256::from(42u64)));
    overrides.insert(
        token,
        alloy_rpc_types_eth::state::AccountOverride {
            state_diff: Some(diff),
            ..Default::default()
        },
    );
    let request = TransactionRequest::default()
        .to(token)
        .input(Bytes::from(balanceOfCall { who: rich }.abi_encode()).into());
    let out = t
        .chain
        .call(&request, t.chain.head().number(), Some(&overrides))
        .unwrap()
        .output;
    assert_eq!(U256::from_be_slice(&out), U256::from(42u64));
    assert_eq!(
        balance_of(&t, token, rich),
        U256::ZERO,
        "overrides never touch real state"
    );
}

#[test]
fn the_call_tracer_reports_the_top_call() {
    let t = new_chain();
    let token = deploy(&t);
    let data: Bytes = transferCall {
        to: addr(1),
        value: U256::from(5u64),
    }
    .abi_encode()
    .into();
    let raw = eip1559(
        &t.chain,
        0,
        t.chain.pending_nonce(&addr(0)).unwrap(),
        TxKind::Call(token),
        U256::ZERO,
        data.clone(),
        100_000,
    );
    let hash = t.chain.submit_raw(&raw).unwrap();
    seal(&t.chain);
    let GethTrace::CallTracer(frame) = t
        .chain
        .trace_transaction(
            &hash,
            &Tracer::Call(CallConfig {
                only_top_call: None,
                with_log: Some(true),
            }),
        )
        .unwrap()
    else {
        panic!("the call tracer gives a call frame")
    };
    assert_eq!(frame.to, Some(token));
    assert_eq!(frame.from, addr(0));
    assert_eq!(frame.input, data);
    assert_eq!(frame.logs.len(), 1);
}
