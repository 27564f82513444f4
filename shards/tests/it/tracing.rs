//! Per-chain precompiles and tracing through the executor's path: a precompile one chain alone
//! has is seen by its blocks, calls, estimates and traces and by no other chain; a trace in a
//! block that pays fee shares first agrees with what the block recorded.

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_rpc_types_trace::geth::{
    CallConfig, CallFrame, GethTrace, PreStateConfig, PreStateFrame,
};
use kaimeng_crypto::precompile::{PrecompileFailure, PrecompileOk, PrecompileResult};
use kaimeng_shards::precompiles::{BlockView, ChainPrecompile, SM3_ADDRESS, ShardPrecompiles};
use kaimeng_shards::trace::Tracer;
use kaimeng_shards::{BlockRules, ShardChain, ShardConfig};

use crate::common::*;

/// Where the test precompile lives on the chain that has it.
const BLOCK_NUMBER_ADDRESS: Address = Address::new([
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0b, 0x00,
]);
const BLOCK_NUMBER_GAS: u64 = 700;

/// A precompile of one chain alone that reads the block it runs in: it returns the block
/// number as a 32-byte word.
#[derive(Debug)]
struct BlockNumberPrecompile;

impl ChainPrecompile for BlockNumberPrecompile {
    fn address(&self) -> Address {
        BLOCK_NUMBER_ADDRESS
    }

    fn run(&self, _input: &[u8], gas_limit: u64, block: &BlockView) -> PrecompileResult {
        if gas_limit < BLOCK_NUMBER_GAS {
            return Err(PrecompileFailure::OutOfGas {
                needed: BLOCK_NUMBER_GAS,
                limit: gas_limit,
            });
        }
        Ok(PrecompileOk {
            gas_used: BLOCK_NUMBER_GAS,
            output: U256::from(block.number).to_be_bytes::<32>().to_vec(),
        })
    }
}

fn open_with_block_number_precompile(dir: &std::path::Path) -> Arc<ShardChain> {
    let genesis = genesis();
    let store = kaimeng_shards::open_store(dir, &Default::default()).unwrap();
    let config = ShardConfig {
        precompiles: ShardPrecompiles::standard()
            .with(Arc::new(BlockNumberPrecompile))
            .unwrap(),
        ..ShardConfig::from_genesis(&genesis, 0)
    };
    Arc::new(ShardChain::open_with(store, &genesis, config).unwrap())
}

/// Runtime code: STATICCALL the test precompile, store the word it returns in slot 0 and
/// return it.
const READS_THE_PRECOMPILE: &[u8] = &[
    0x60, 0x20, 0x60, 0x00, 0x60, 0x00, 0x60,
    0x00, // retSize, retOffset, argsSize, argsOffset
    0x61, 0x0b, 0x00, 0x5a, 0xfa, 0x50, // PUSH2 0x0b00, GAS, STATICCALL, POP
    0x60, 0x00, 0x51, 0x60, 0x00, 0x55, // MLOAD(0) -> SSTORE slot 0
    0x60, 0x20, 0x60, 0x00, 0xf3, // RETURN(0, 32)
];

/// Init code that deploys `runtime`.
fn init_code(runtime: &[u8]) -> Bytes {
    let len = u8::try_from(runtime.len()).expect("short runtime");
    let mut code = vec![
        0x60, len, 0x80, 0x60, 0x0b, 0x60, 0x00, 0x39, 0x60, 0x00, 0xf3,
    ];
    code.extend_from_slice(runtime);
    code.into()
}

fn deploy(chain: &ShardChain, runtime: &[u8]) -> Address {
    let raw = eip1559(
        chain,
        0,
        chain.pending_nonce(&addr(0)).unwrap(),
        TxKind::Create,
        U256::ZERO,
        init_code(runtime),
        200_000,
    );
    chain.submit_raw(&raw).unwrap();
    seal(chain).receipts[0].contract_address.expect("deployed")
}

fn call_tracer() -> Tracer {
    Tracer::Call(CallConfig::default())
}

fn call_frame(trace: GethTrace) -> CallFrame {
    match trace {
        GethTrace::CallTracer(frame) => frame,
        other => panic!("expected a call frame, got {other:?}"),
    }
}

/// What one chain makes of the contract that reads the test precompile: the slot its block
/// wrote, `eth_call`'s output, the gas estimate, and the trace of the block's transaction.
struct Seen {
    stored: U256,
    block_number: u64,
    call_output: Bytes,
    estimate: u64,
    trace: CallFrame,
}

fn what_the_chain_sees(chain: &ShardChain) -> Seen {
    let contract = deploy(chain, READS_THE_PRECOMPILE);
    let raw = eip1559(
        chain,
        0,
        chain.pending_nonce(&addr(0)).unwrap(),
        TxKind::Call(contract),
        U256::ZERO,
        Bytes::new(),
        100_000,
    );
    let hash = chain.submit_raw(&raw).unwrap();
    let block = seal(chain);
    assert!(block.receipts[0].envelope.status(), "the call succeeded");
    let stored = chain
        .latest_state()
        .storage_value(&contract, &B256::ZERO)
        .unwrap();
    let request = TransactionRequest::default().to(contract);
    let head = chain.head().number();
    let call_output = chain.call(&request, head, None).unwrap().output;
    let estimate = chain.estimate_gas(&request, head, None).unwrap();
    let trace = call_frame(chain.trace_transaction(&hash, &call_tracer()).unwrap());
    Seen {
        stored,
        block_number: block.number(),
        call_output,
        estimate,
        trace,
    }
}

#[test]
fn a_precompile_of_one_chain_is_seen_by_its_blocks_calls_and_traces_and_by_no_other_chain() {
    let dir = tempfile::tempdir().unwrap();
    let with = open_with_block_number_precompile(dir.path());
    let without = new_chain();
    assert!(with.config().precompiles.contains(&BLOCK_NUMBER_ADDRESS));
    assert!(
        !without
            .chain
            .config()
            .precompiles
            .contains(&BLOCK_NUMBER_ADDRESS)
    );

    let seen = what_the_chain_sees(&with);
    // Block execution: the precompile read the block the transaction ran in.
    assert_eq!(seen.stored, U256::from(seen.block_number));
    // eth_call on the head's state runs in the head's context.
    assert_eq!(
        U256::from_be_slice(&seen.call_output),
        U256::from(with.head().number())
    );
    // The trace shows the precompile's frame with the word it returned in the block.
    let inner = &seen.trace.calls[0];
    assert_eq!(inner.to, Some(BLOCK_NUMBER_ADDRESS));
    assert_eq!(inner.typ, "STATICCALL");
    assert_eq!(
        U256::from_be_slice(&inner.output.clone().unwrap_or_default()),
        U256::from(seen.block_number)
    );
    assert_eq!(inner.gas_used, U256::from(BLOCK_NUMBER_GAS));

    let other = what_the_chain_sees(&without.chain);
    // An account with no code answers nothing: slot 0 stays zero everywhere.
    assert_eq!(other.stored, U256::ZERO);
    assert_eq!(U256::from_be_slice(&other.call_output), U256::ZERO);
    assert!(
        other.trace.calls[0]
            .output
            .as_ref()
            .is_none_or(|o| o.is_empty())
    );
    // The estimate prices the precompile where it exists: a warm address (100) plus its 700
    // gas, against a cold account access (2,600) elsewhere.
    assert!(
        seen.estimate + 1_700 < other.estimate,
        "{} vs {}",
        seen.estimate,
        other.estimate
    );
}

#[test]
fn a_precompile_cannot_take_an_address_already_in_use() {
    #[derive(Debug)]
    struct AtSm3;
    impl ChainPrecompile for AtSm3 {
        fn address(&self) -> Address {
            SM3_ADDRESS
        }
        fn run(&self, _: &[u8], _: u64, _: &BlockView) -> PrecompileResult {
            unreachable!("never installed")
        }
    }
    let err = ShardPrecompiles::standard()
        .with(Arc::new(AtSm3))
        .unwrap_err();
    assert_eq!(err.0, SM3_ADDRESS);
    let twice = ShardPrecompiles::standard()
        .with(Arc::new(BlockNumberPrecompile))
        .unwrap()
        .with(Arc::new(BlockNumberPrecompile));
    assert!(twice.is_err());
}

/// Runtime code: revert unless `account` holds a balance.
fn requires_balance_of(account: Address) -> Vec<u8> {
    let mut code = vec![0x73];
    code.extend_from_slice(account.as_slice());
    // BALANCE, ISZERO, PUSH1 revert, JUMPI, STOP, JUMPDEST, REVERT(0, 0)
    code.extend_from_slice(&[
        0x31, 0x15, 0x60, 27, 0x57, 0x00, 0x5b, 0x60, 0x00, 0x60, 0x00, 0xfd,
    ]);
    code
}

#[test]
fn a_trace_in_a_payout_block_sees_the_fee_shares_paid_before_the_transactions() {
    let t = new_chain();
    let treasury = t.chain.config().treasury;
    // A block of transfers puts base fees in the treasury.
    t.chain
        .submit_raw(&transfer(&t.chain, 1, 0, addr(2), 1))
        .unwrap();
    seal(&t.chain);
    let member = Address::repeat_byte(0x77);
    let contract = deploy(&t.chain, &requires_balance_of(member));
    assert_eq!(balance(&t.chain, member), U256::ZERO);

    // The next block pays the member its fee share first; the transaction then needs it.
    let raw = eip1559(
        &t.chain,
        0,
        t.chain.pending_nonce(&addr(0)).unwrap(),
        TxKind::Call(contract),
        U256::ZERO,
        Bytes::new(),
        100_000,
    );
    let hash = t.chain.submit_raw(&raw).unwrap();
    let share = balance(&t.chain, treasury);
    let rules = BlockRules {
        payouts: vec![(member, share)],
        ..dev_rules()
    };
    let head = t.chain.head();
    let block = t
        .chain
        .propose_on(
            &head.hash,
            head.header.timestamp + 1,
            addr(9),
            10,
            &rules,
            Vec::new(),
        )
        .unwrap();
    t.chain.finalize_pending(&block.hash()).unwrap();
    let block = t.chain.block(block.number()).unwrap().unwrap();
    assert_eq!(
        block.payouts, rules.payouts,
        "the payouts are kept with the block"
    );
    let receipt = &block.receipts[0];
    assert!(
        receipt.envelope.status(),
        "the transaction ran after the payout"
    );

    // The trace agrees with the receipt: success, and the same gas.
    let frame = call_frame(t.chain.trace_transaction(&hash, &call_tracer()).unwrap());
    assert_eq!(frame.error, None, "{frame:?}");
    assert_eq!(frame.gas_used, U256::from(receipt.gas_used));

    // The prestate tracer sees the member's balance after the payout.
    let prestate = t
        .chain
        .trace_transaction(&hash, &Tracer::Prestate(PreStateConfig::default()))
        .unwrap();
    let GethTrace::PreStateTracer(PreStateFrame::Default(accounts)) = prestate else {
        panic!("expected a prestate frame, got {prestate:?}")
    };
    assert_eq!(accounts.0[&member].balance, Some(share));

    // So does the block trace.
    let traces = t.chain.trace_block(block.number(), &call_tracer()).unwrap();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].hash, hash);
    assert_eq!(call_frame(traces[0].trace.clone()).error, None);
}
