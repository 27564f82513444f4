//! The rollup bridge on a real `kaimeng dev` node, with real proofs at the dev shape (2 slots,
//! k = 13). The L2 side is played by the native model in this test: the sequencer (dev account
//! 9) and two users deposit, a batch of their deposits, a transfer and a withdrawal is
//! committed, verified and executed, and the withdrawal is claimed on shard 0. A batch with a
//! changed proof or with data other than committed is refused. Then the sequencer stops for
//! good: a forced withdrawal expires, exodus mode is entered, every account exits once with a
//! proof against the last executed root, and the deposit never processed is reclaimed. The
//! bridge's escrow equals L2 balances + claimable withdrawals + unprocessed deposits throughout.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_sol_types::{SolCall, sol};
use kaimeng_genesis::{BRIDGE_ADDRESS, dev_accounts};
use kaimeng_prover::deferred::claim_of;
use kaimeng_prover::{ChunkKeys, ChunkShape, ChunkWitness, ParamsCache, prove_pack};
use kaimeng_rollup::bridge_calls::word_of_fp;
use kaimeng_rollup::stf::{ChunkConfig, ChunkOutcome, L2State};
use kaimeng_rollup::tx::{DepositOp, L2Op, PriorityOp, Transfer, Withdraw};
use kaimeng_rollup::{L1Address, SigningKey};
use serde_json::{Value, json};

use crate::node::{DevNode, receipt_at, result_at, signed_call_from};

sol! {
    function deposit(bytes32 l2PublicKey) external payable returns (uint64 requestId, uint32 account);
    function requestForcedWithdrawal(uint32 account) external returns (uint64 requestId);
    function commitBatch(uint64 batchNumber, bytes[] chunkData, bytes32[] chunkRoots, bytes32[] chunkQueues) external;
    function verifyBatch(uint64 batchNumber, bytes[] chunkData, bytes32[] chunkRoots, bytes32[] chunkQueues, bytes[] proofs, bytes claims) external;
    function decideBatches(uint64 lastBatch, bytes[] claims, uint32 steps) external;
    function executeBatch(uint64 batchNumber) external;
    function claimWithdrawal(address to) external;
    function activateExodus() external;
    function exit(uint32 account, bytes32 keyCommitment, address l1, uint64 balance, uint32 nonce, bytes32[32] siblings) external;
    function reclaimDeposit(uint64 requestId) external;
    function claimable(address who) external view returns (uint256);
}

const CHAIN: u64 = 31337;
const UNIT: u64 = 1_000_000_000;
const SHAPE: ChunkShape = ChunkShape { slots: 6, k: 13 };

/// One dev account acting on shard 0: its key, address and next nonce.
struct Actor {
    key: String,
    address: Address,
    nonce: u64,
}

impl Actor {
    fn dev(index: usize) -> Actor {
        let account = &dev_accounts(10)[index];
        Actor {
            key: account.private_key.to_string(),
            address: account.address,
            nonce: 0,
        }
    }

    /// Sends a call to the bridge; returns its final receipt.
    fn send(&mut self, port: u16, input: Vec<u8>, value: U256) -> Value {
        let raw = signed_call_from(
            &self.key,
            CHAIN,
            self.nonce,
            BRIDGE_ADDRESS,
            value,
            input,
            16_000_000,
        );
        self.nonce += 1;
        let hash = result_at(port, "eth_sendRawTransaction", json!([raw]));
        receipt_at(port, hash.as_str().unwrap(), Duration::from_secs(60))
    }

    /// Sends a call that must succeed.
    fn ok(&mut self, port: u16, input: Vec<u8>, value: U256) -> Value {
        let receipt = self.send(port, input, value);
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        receipt
    }

    /// Sends a call that must revert.
    fn refused(&mut self, port: u16, input: Vec<u8>) {
        let receipt = self.send(port, input, U256::ZERO);
        assert_eq!(receipt["status"], "0x0", "{receipt}");
    }
}

fn l2_key(seed: u8) -> SigningKey {
    SigningKey::from_uniform_bytes(&[seed; 64])
}

fn balance(port: u16, address: Address) -> U256 {
    result_at(port, "eth_getBalance", json!([address, "latest"]))
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn view(port: u16, input: Vec<u8>) -> U256 {
    let out = result_at(
        port,
        "eth_call",
        json!([{"to": BRIDGE_ADDRESS, "data": Bytes::from(input)}, "latest"]),
    );
    out.as_str().unwrap().parse::<B256>().unwrap().into()
}

fn b256(value: kaimeng_rollup::Fp) -> B256 {
    B256::from(word_of_fp(value))
}

/// The proven chunks of a batch, as the bridge takes them: the first chunk proven alone, the
/// rest as one pack (ADR 0114), whose proof sits at its first chunk with empty entries after.
#[derive(Clone)]
struct Batch {
    data: Vec<Bytes>,
    roots: Vec<B256>,
    queues: Vec<B256>,
    proofs: Vec<Bytes>,
    /// Each proof's IPA claim, concatenated (ADR 0114).
    claims: Bytes,
}

fn prove(outcomes: &[ChunkOutcome]) -> Batch {
    let params = ParamsCache::new(std::env::temp_dir().join("kaimeng-e2e-params"))
        .quiet()
        .load_or_generate(SHAPE.k)
        .unwrap();
    let keys = ChunkKeys::generate(&params, SHAPE).unwrap();
    let mut batch = Batch {
        data: Vec::new(),
        roots: Vec::new(),
        queues: Vec::new(),
        proofs: Vec::new(),
        claims: Bytes::new(),
    };
    let witnesses: Vec<ChunkWitness> = outcomes.iter().map(ChunkWitness::from_outcome).collect();
    let mut claims = Vec::new();
    for pack in [&witnesses[..1], &witnesses[1..]] {
        let proof = prove_pack(&params, &keys, pack).unwrap();
        claims.extend(claim_of(&params, keys.vk(), &proof).unwrap().to_bytes());
        batch.proofs.push(proof.bytes.into());
        batch
            .proofs
            .extend(std::iter::repeat_n(Bytes::new(), pack.len() - 1));
    }
    for outcome in outcomes {
        batch.data.push(outcome.pubdata.clone().into());
        batch.roots.push(b256(outcome.new_root));
        batch.queues.push(b256(outcome.queue_after));
    }
    batch.claims = claims.into();
    batch
}

fn commit(number: u64, batch: &Batch) -> Vec<u8> {
    commitBatchCall {
        batchNumber: number,
        chunkData: batch.data.clone(),
        chunkRoots: batch.roots.clone(),
        chunkQueues: batch.queues.clone(),
    }
    .abi_encode()
}

fn verify(number: u64, batch: &Batch) -> Vec<u8> {
    verifyBatchCall {
        batchNumber: number,
        chunkData: batch.data.clone(),
        chunkRoots: batch.roots.clone(),
        chunkQueues: batch.queues.clone(),
        proofs: batch.proofs.clone(),
        claims: batch.claims.clone(),
    }
    .abi_encode()
}

fn deposit_op(to: u32, actor: &Actor, key: &SigningKey, units: u64) -> L2Op {
    L2Op::Priority(PriorityOp::Deposit(DepositOp {
        to,
        l1_address: L1Address(actor.address.0.0),
        public_key: key.public_key(),
        amount: units,
    }))
}

fn deposit_call(key: &SigningKey) -> Vec<u8> {
    depositCall {
        l2PublicKey: B256::from(key.public_key().to_bytes()),
    }
    .abi_encode()
}

fn chunk(state: &mut L2State, ops: &[L2Op]) -> ChunkOutcome {
    let config = ChunkConfig {
        chain_id: CHAIN,
        fee_account: 0,
        slots: SHAPE.slots,
    };
    state.apply_chunk(config, ops).unwrap()
}

#[test]
fn deposit_transfer_withdraw_then_exodus_with_every_account_exiting_once() {
    let node = DevNode::start(&["--rollup-priority-expiry", "20"]);
    let port = node.port;
    let mut sequencer = Actor::dev(9);
    let mut alice = Actor::dev(1);
    let mut bob = Actor::dev(2);
    // Alice's L2 key is the one her Ethereum key derives (ADR 0035), as `kaimeng l2 deposit`
    // and a browser wallet derive it.
    let alice_eth: alloy_signer_local::PrivateKeySigner = alice.key.parse().unwrap();
    let alice_key = kaimeng_rollup::keys::derive_l2_key(alice_eth.credential(), CHAIN);
    let (seq_key, bob_key) = (l2_key(9), l2_key(2));
    let units = |n: u64| U256::from(n * UNIT);
    let l2 = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_kaimeng"))
            .arg("l2")
            .args(args)
            .args(["--rpc", &format!("http://127.0.0.1:{port}")])
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).to_string(),
            String::from_utf8_lossy(&output.stderr).to_string(),
        )
    };

    // Deposits: the sequencer's (the fee account, 0), Alice's (1, through `kaimeng l2
    // deposit`) and Bob's (2).
    sequencer.ok(port, deposit_call(&seq_key), units(1));
    let (ok, stdout, stderr) = l2(&["deposit", "--private-key", &alice.key, "--gwei", "1000"]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("deposited 1000 units") && stdout.contains("to L2 account 1"),
        "{stdout}"
    );
    alice.nonce += 1;
    bob.ok(port, deposit_call(&bob_key), units(500));
    assert_eq!(balance(port, BRIDGE_ADDRESS), units(1_501));

    // The L2 side: the deposits, Alice pays Bob 100 (fee 1), Bob withdraws 50 (fee 1).
    let mut state = L2State::new();
    let first = chunk(
        &mut state,
        &[
            deposit_op(0, &sequencer, &seq_key, 1),
            deposit_op(1, &alice, &alice_key, 1_000),
        ],
    );
    let transfer = Transfer {
        from: 1,
        to: 2,
        amount: 100,
        fee: 1,
        nonce: 0,
    }
    .sign(&alice_key, CHAIN);
    let second = chunk(
        &mut state,
        &[deposit_op(2, &bob, &bob_key, 500), L2Op::Transfer(transfer)],
    );
    let withdraw = Withdraw {
        from: 2,
        amount: 50,
        fee: 1,
        nonce: 0,
    }
    .sign(&bob_key, CHAIN);
    let third = chunk(&mut state, &[L2Op::Withdraw(withdraw)]);
    let batch = prove(&[first, second, third]);

    // Commit is the sequencer's alone.
    alice.refused(port, commit(1, &batch));
    sequencer.ok(port, commit(1, &batch), U256::ZERO);
    // The same commit sent again is refused: it names batch 1, and batch 2 is next.
    sequencer.refused(port, commit(1, &batch));
    // A changed proof, a pack's proof claimed for its first chunk alone, or data other than
    // committed, does not verify.
    let mut forged = batch.clone();
    let mut proof = forged.proofs[1].to_vec();
    proof[200] ^= 1;
    forged.proofs[1] = proof.into();
    alice.refused(port, verify(1, &forged));
    let mut unpacked = batch.clone();
    unpacked.proofs[2] = batch.proofs[1].clone();
    alice.refused(port, verify(1, &unpacked));
    let mut other_data = batch.clone();
    let mut data = other_data.data[1].to_vec();
    let last = data.len() - 3;
    data[last] ^= 1;
    other_data.data[1] = data.into();
    alice.refused(port, verify(1, &other_data));
    // Claims that are not the proofs' own do not verify either.
    let mut other_claims = forged;
    other_claims.data = batch.data.clone();
    let mut claims = batch.claims.to_vec();
    let half = claims.len() / 2;
    claims.rotate_left(half);
    other_claims.claims = claims.into();
    alice.refused(port, verify(1, &other_claims));
    // Executing before verifying, or before the claims are decided, is refused; deciding
    // needs the claims the verification took. Then anyone verifies, decides (in two steps,
    // the batch executing only after the second) and executes.
    alice.refused(port, executeBatchCall { batchNumber: 1 }.abi_encode());
    alice.ok(port, verify(1, &batch), U256::ZERO);
    alice.refused(port, executeBatchCall { batchNumber: 1 }.abi_encode());
    let decide = |claims: &Bytes| {
        decideBatchesCall {
            lastBatch: 1,
            claims: vec![claims.clone()],
            steps: 2,
        }
        .abi_encode()
    };
    alice.refused(port, decide(&other_claims.claims));
    alice.ok(port, decide(&batch.claims), U256::ZERO);
    alice.refused(port, executeBatchCall { batchNumber: 1 }.abi_encode());
    alice.refused(port, decide(&other_claims.claims));
    alice.ok(port, decide(&batch.claims), U256::ZERO);
    alice.ok(
        port,
        executeBatchCall { batchNumber: 1 }.abi_encode(),
        U256::ZERO,
    );

    // `kaimeng l2 status` shows Alice's account at the executed root, rebuilt from shard 0.
    let (ok, stdout, stderr) = l2(&["status", "--address", &alice.address.to_string()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains("1 executed batch(es)")
            && stdout.contains("L2 account 1: balance 899 units, nonce 1"),
        "{stdout}"
    );

    // Bob's withdrawal is claimable and claimed on shard 0.
    let claimable = |who: Address| view(port, claimableCall { who }.abi_encode());
    assert_eq!(claimable(bob.address), units(50));
    let before = balance(port, bob.address);
    alice.ok(
        port,
        claimWithdrawalCall { to: bob.address }.abi_encode(),
        U256::ZERO,
    );
    assert_eq!(balance(port, bob.address), before + units(50));
    assert_eq!(claimable(bob.address), U256::ZERO);
    // Escrow = L2 balances (1 + 899 + 549 + 2 in fees = 1,451).
    let l2_total: u64 = (0..3).map(|i| state.account(i).balance).sum();
    assert_eq!(l2_total, 1_451);
    assert_eq!(balance(port, BRIDGE_ADDRESS), units(l2_total));

    // The sequencer stops. Alice asks for a forced withdrawal and deposits again; neither is
    // processed, so once the request expires anyone may switch the bridge into exodus mode.
    alice.ok(
        port,
        requestForcedWithdrawalCall { account: 1 }.abi_encode(),
        U256::ZERO,
    );
    alice.ok(port, deposit_call(&alice_key), units(30));
    assert_eq!(balance(port, BRIDGE_ADDRESS), units(l2_total + 30));
    bob.refused(port, activateExodusCall {}.abi_encode());
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        // Blocks carry time; the expiry is 20 s after the request.
        let receipt = bob.send(port, activateExodusCall {}.abi_encode(), U256::ZERO);
        if receipt["status"] == "0x1" {
            break;
        }
        assert!(Instant::now() < deadline, "exodus never became possible");
        std::thread::sleep(Duration::from_secs(2));
    }
    // No batch is accepted any more.
    sequencer.refused(port, commit(2, &batch));

    // Every account exits once with a proof against the last executed root. `kaimeng l2 exit`
    // builds each proof from shard 0's published data alone (the sequencer is gone); a second
    // exit, or one claiming more than the leaf holds, fails.
    let exit = |index: u32, balance: u64| {
        let account = state.account(index);
        let siblings: [B256; 32] = state.proof(index).siblings.map(b256);
        exitCall {
            account: index,
            keyCommitment: b256(account.key_commitment()),
            l1: Address::from(account.l1_address.0),
            balance,
            nonce: account.nonce,
            siblings,
        }
        .abi_encode()
    };
    bob.refused(port, exit(1, state.account(1).balance + 1));
    // Carol (dev account 3, no L2 account) pays the gas of every exit.
    let carol = &dev_accounts(10)[3];
    let l2_exit = |account: u32| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kaimeng"))
            .args(["l2", "exit", "--rpc", &format!("http://127.0.0.1:{port}")])
            .args(["--account", &account.to_string()])
            .args(["--private-key", &carol.private_key.to_string()])
            .output()
            .unwrap()
    };
    for index in [1u32, 0, 2] {
        let owner = Address::from(state.account(index).l1_address.0);
        let before = balance(port, owner);
        let output = l2_exit(index);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "l2 exit {index}: {}{stdout}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("rebuilt the L2 state from 1 executed batch(es), 3 chunk(s)"),
            "{stdout}"
        );
        eprintln!("{stdout}");
        assert_eq!(
            balance(port, owner),
            before + units(state.account(index).balance),
            "account {index}"
        );
    }
    // A second exit fails, through the tool (which says so) and directly.
    let again = l2_exit(1);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exited"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    bob.refused(port, exit(1, state.account(1).balance));
    // Alice's unprocessed deposit (request 4: 0-2 were executed, 3 is the forced withdrawal)
    // comes back once; the forced withdrawal is not a deposit.
    bob.refused(port, reclaimDepositCall { requestId: 3 }.abi_encode());
    let alice_before = balance(port, alice.address);
    bob.ok(
        port,
        reclaimDepositCall { requestId: 4 }.abi_encode(),
        U256::ZERO,
    );
    assert_eq!(balance(port, alice.address), alice_before + units(30));
    bob.refused(port, reclaimDepositCall { requestId: 4 }.abi_encode());
    // Everything escrowed went back: the bridge holds nothing.
    assert_eq!(balance(port, BRIDGE_ADDRESS), U256::ZERO);
}
