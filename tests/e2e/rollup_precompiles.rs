//! Shard 0's rollup precompiles on a real `kaimeng dev` node, called with `eth_call` the way the
//! bridge contract will call them: the priority fold and the account claim agree with the
//! native model, a real batch proof (the dev shape, 2 slots at k = 13) verifies and reports
//! where the batch ends with its IPA claims taken as given, the claim decider holds those claims
//! and refuses a moved one, data that was not proven is refused, a call without enough gas
//! fails, and shard 1 has none of them.

use alloy_primitives::hex;
use kaimeng::rollup_precompiles::{
    ACCOUNT_CLAIM_ADDRESS, DECIDE_CLAIMS_ADDRESS, PRIORITY_FOLD_ADDRESS, VERIFY_BATCH_ADDRESS,
    decide_step_gas, verify_batch_gas,
};
use kaimeng_prover::batch_call::{BatchCall, ChunkCall, DecideStepCall};
use kaimeng_prover::{ChunkKeys, ChunkShape, ChunkWitness, ParamsCache, prove_chunk};
use kaimeng_rollup::bridge_calls::{AccountClaim, encode_priority, fold_priority, word_of_fp};
use kaimeng_rollup::stf::{ChunkConfig, L2State};
use kaimeng_rollup::tx::{DepositOp, L2Op, PriorityOp, Transfer};
use kaimeng_rollup::{Account, L1Address, SigningKey};
use serde_json::{Value, json};

use crate::node::{DevNode, rpc_at};

fn key(i: u8) -> SigningKey {
    SigningKey::from_uniform_bytes(&[i; 64])
}

fn call(port: u16, to: alloy_primitives::Address, data: &[u8], gas: u64) -> Value {
    rpc_at(
        port,
        "eth_call",
        json!([{"to": to, "data": format!("0x{}", hex::encode(data)), "gas": format!("{gas:#x}")}, "latest"]),
    )
}

fn output(response: &Value) -> String {
    response["result"]
        .as_str()
        .unwrap_or_else(|| panic!("no result: {response}"))
        .to_string()
}

/// Accounts 1 and 2 hold funds; account 0 takes the fees.
fn funded() -> L2State {
    let mut state = L2State::new();
    for i in 0..=2u8 {
        state.set_account(
            u32::from(i),
            Account {
                public_key: Some(key(i).public_key()),
                l1_address: L1Address([i; 20]),
                balance: if i == 0 { 0 } else { 1_000_000 },
                nonce: 0,
            },
        );
    }
    state
}

#[test]
fn the_bridge_precompiles_answer_on_shard_0_only() {
    let node = DevNode::start(&["--shards", "2"]);
    let (shard0, shard1) = (node.shard_ports[0], node.shard_ports[1]);

    // Shard 0 says the rollup's genesis settings; shard 1 has no such method.
    let info = rpc_at(shard0, "kaimeng_rollup", json!([]));
    assert_eq!(info["result"]["chunkSlots"], 6, "{info}");
    assert_eq!(info["result"]["chunkK"], 13, "{info}");
    assert_eq!(
        info["result"]["bridge"],
        format!("{:#x}", kaimeng_genesis::BRIDGE_ADDRESS),
        "{info}"
    );
    let none = rpc_at(shard1, "kaimeng_rollup", json!([]));
    assert_eq!(none["error"]["code"], -32601, "{none}");

    // The priority fold: the queue hash and key commitment the native model computes.
    let fold = encode_priority(
        L2State::new().queue_hash(),
        &PriorityOp::Deposit(DepositOp {
            to: 7,
            l1_address: L1Address([7; 20]),
            public_key: key(7).public_key(),
            amount: 1_000,
        }),
    );
    let expected = format!("0x{}", hex::encode(fold_priority(&fold).unwrap()));
    assert_eq!(
        output(&call(shard0, PRIORITY_FOLD_ADDRESS, &fold, 100_000)),
        expected
    );
    // A malformed request (a key that is no point) gets an empty answer.
    let mut bad_key = fold.clone();
    bad_key[5 * 32..].copy_from_slice(&[0xff; 32]);
    assert_eq!(
        output(&call(shard0, PRIORITY_FOLD_ADDRESS, &bad_key, 100_000)),
        "0x"
    );
    // Shard 1 has no such precompile: the address is an empty account.
    assert_eq!(
        output(&call(shard1, PRIORITY_FOLD_ADDRESS, &fold, 100_000)),
        "0x"
    );

    // An account claim holds for the real leaf only.
    let state = funded();
    let claim = AccountClaim {
        root: state.root(),
        index: 2,
        key_commitment: state.account(2).key_commitment(),
        l1_address: L1Address([2; 20]),
        balance: 1_000_000,
        nonce: 0,
        siblings: state.proof(2).siblings,
    };
    let one = format!("0x{}1", "0".repeat(63));
    assert_eq!(
        output(&call(
            shard0,
            ACCOUNT_CLAIM_ADDRESS,
            &claim.encode(),
            100_000
        )),
        one
    );
    let more = AccountClaim {
        balance: 1_000_001,
        ..claim
    };
    assert_eq!(
        output(&call(
            shard0,
            ACCOUNT_CLAIM_ADDRESS,
            &more.encode(),
            100_000
        )),
        "0x"
    );

    // A real batch of one chunk at the dev shape.
    let shape = ChunkShape { slots: 6, k: 13 };
    let params = ParamsCache::new(std::env::temp_dir().join("kaimeng-e2e-params"))
        .quiet()
        .load_or_generate(shape.k)
        .unwrap();
    let keys = ChunkKeys::generate(&params, shape).unwrap();
    let mut state = funded();
    let old_root = state.root();
    let queue_before = state.queue_hash();
    let ops: Vec<L2Op> = [(1u8, 2u8), (2, 1)]
        .iter()
        .map(|&(from, to)| {
            L2Op::Transfer(
                Transfer {
                    from: u32::from(from),
                    to: u32::from(to),
                    amount: 500,
                    fee: 3,
                    nonce: 0,
                }
                .sign(&key(from), 31337),
            )
        })
        .collect();
    let config = ChunkConfig {
        chain_id: 31337,
        fee_account: 0,
        slots: shape.slots,
    };
    let outcome = state.apply_chunk(config, &ops).unwrap();
    let proof = prove_chunk(&params, &keys, &ChunkWitness::from_outcome(&outcome)).unwrap();
    let mut batch = BatchCall {
        chain_id: 31337,
        fee_account: 0,
        old_root,
        queue_before,
        chunks: vec![ChunkCall {
            new_root: outcome.new_root,
            queue_after: outcome.queue_after,
            data: outcome.pubdata.clone(),
            proof: proof.bytes,
        }],
        claims: Vec::new(),
    };
    batch.claims = batch
        .compute_claims(&params, keys.vk(), shape.slots)
        .unwrap();
    let gas = verify_batch_gas(shape.k, 1, 1);
    // Beside the precompile's price: 21,000 intrinsic gas and 16 per calldata byte.
    let headroom = 21_000 + 16 * batch.encode().len() as u64;
    let end = format!(
        "0x{}{}",
        hex::encode(word_of_fp(outcome.new_root)),
        hex::encode(word_of_fp(outcome.queue_after))
    );
    assert_eq!(
        output(&call(
            shard0,
            VERIFY_BATCH_ADDRESS,
            &batch.encode(),
            gas + headroom
        )),
        end
    );
    // The decider holds the batch's claim, and refuses it with its point moved to another
    // point on the curve (the generator's negation is the point with the sign bit flipped);
    // in one step, or in two, the first answering the partial sum the second takes.
    let decide = |step: &DecideStepCall| {
        // The step's gas, and the call's own (intrinsic and calldata) with room to spare.
        let gas = decide_step_gas(shape.k, 1, step.steps) + 100_000;
        output(&call(shard0, DECIDE_CLAIMS_ADDRESS, &step.encode(), gas))
    };
    let mut word = "0".repeat(63);
    word.push('1');
    let holds = format!("0x{word}");
    let refused = format!("0x{}", "0".repeat(64));
    assert_eq!(
        decide(&DecideStepCall::first(1, batch.claims.clone())),
        holds
    );
    let first = DecideStepCall::first(2, batch.claims.clone());
    let partial = decide(&first);
    assert_eq!(partial.len(), 66, "{partial}");
    let partial: [u8; 32] = hex::decode(&partial[2..]).unwrap().try_into().unwrap();
    assert_eq!(decide(&first.next(partial)), holds);
    let mut moved = batch.claims.clone();
    moved[31] ^= 0x80;
    assert_eq!(decide(&DecideStepCall::first(1, moved.clone())), refused);
    assert_eq!(
        decide(&DecideStepCall::first(1, moved[..40].to_vec())),
        "0x"
    );
    assert_eq!(
        decide(&DecideStepCall::first(3, batch.claims.clone())),
        "0x"
    );
    // Published data other than what was proven is refused.
    let mut other = batch.clone();
    let last = other.chunks[0].data.len() - 3;
    other.chunks[0].data[last] ^= 1;
    assert_eq!(
        output(&call(
            shard0,
            VERIFY_BATCH_ADDRESS,
            &other.encode(),
            gas + headroom
        )),
        "0x"
    );
    // Too little gas for the verification: the call fails and says so.
    let short = call(shard0, VERIFY_BATCH_ADDRESS, &batch.encode(), gas / 2);
    assert!(short["error"].is_object(), "{short}");
    // And an estimate covers the price.
    let estimate = rpc_at(
        shard0,
        "eth_estimateGas",
        json!([{"to": VERIFY_BATCH_ADDRESS, "data": format!("0x{}", hex::encode(batch.encode()))}]),
    );
    let estimated = u64::from_str_radix(
        estimate["result"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
        16,
    )
    .unwrap();
    assert!(estimated >= gas, "{estimated} < {gas}");
}
