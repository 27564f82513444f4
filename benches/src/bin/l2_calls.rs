//! The shard-0 transactions behind L2 transfers at the production shape, signed for a network
//! made by `kaimeng testnet` whose genesis has the rollup shape set to the proven one (issue 12:
//! validator CPU per L2 transfer on the same network as ERC-20 transfers;
//! `benches/shards-testnet.sh` with `L2=1` sends them and measures).
//!
//! `l2_calls --out DIR [--batches 16] [--chunks 64] [--pack 8] [--slots 57] [--k 16]` proves one
//! pack of `pack` chunks of `slots` L2 transfers (or reads it back from `DIR/pack.json`) and
//! writes, as raw transactions one per line (hex):
//! - `DIR/warmup.txt`: one verification and one decision, so every node builds its verifying
//!   key before anything is measured;
//! - `DIR/measured.txt`, for each of `batches` batches of `chunks` chunks:
//!   - the bridge's real `commitBatch` of that many chunks of transfers (from the genesis
//!     sequencer);
//!   - `chunks / pack` calls of the verification precompile, each checking the proven pack with
//!     its claim: what `verifyBatch` asks of it, but one proof per call, so nothing is shared
//!     between a batch's proofs (a real batch shares the final MSM);
//!   - one step of deciding the claims of all `batches` batches in `batches` steps (the
//!     sequencer's default of one decision per 16 batches).
//!
//! and `DIR/plan.json`: the transfers they cover and the transactions' count, bytes and gas;
//! `DIR/checks.json`: `eth_call`s with the answers they must give (the precompiles answer
//! nothing, not a revert, to a call they refuse): the verification's end root and queue, and
//! the decision's last step's verdict, 1.

use std::path::{Path, PathBuf};

use alloy_primitives::{Bytes, TxKind};
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, bail};
use clap::Parser;
use kaimeng::rollup_precompiles::{
    DECIDE_CLAIMS_ADDRESS, VERIFY_BATCH_ADDRESS, decide_step_gas, verify_batch_gas,
};
use kaimeng_benches::l2_keys::l2_key;
use kaimeng_benches::shard_fixture::{bridge_commit, signed};
use kaimeng_genesis::dev_accounts;
use kaimeng_prover::batch_call::{BatchCall, ChunkCall, DecideStepCall};
use kaimeng_prover::{ChunkKeys, ChunkShape, ChunkWitness, ParamsCache, prove_pack};
use kaimeng_rollup::stf::{ChunkConfig, L2State};
use kaimeng_rollup::tx::Transfer;
use kaimeng_rollup::{Account, L1Address, L2Op};
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Where the pack, the transactions and the plan go.
    #[arg(long)]
    out: PathBuf,
    /// Batches, and steps of the one decision over them.
    #[arg(long, default_value_t = 16)]
    batches: u64,
    /// Chunks per batch.
    #[arg(long, default_value_t = 64)]
    chunks: usize,
    /// Chunks per proof.
    #[arg(long, default_value_t = 8)]
    pack: usize,
    #[arg(long, default_value_t = 57)]
    slots: usize,
    #[arg(long, default_value_t = 16)]
    k: u32,
    /// The parameter cache.
    #[arg(long, default_value = "/tmp/kaimeng-params")]
    params: PathBuf,
}

const CHAIN_ID: u64 = 31337;
const ACCOUNTS: u32 = 64;

/// `pack` consecutive chunks of `slots` transfers each among accounts 1 to 64.
fn chunk_witnesses(slots: usize, pack: usize) -> (L2State, Vec<ChunkWitness>, Vec<ChunkCall>) {
    let mut state = L2State::new();
    for i in 0..=ACCOUNTS {
        state.set_account(
            i,
            Account {
                public_key: Some(l2_key(u64::from(i)).public_key()),
                l1_address: L1Address([i as u8; 20]),
                balance: 1_000_000_000,
                nonce: 0,
            },
        );
    }
    let start = state.clone();
    let config = ChunkConfig {
        chain_id: CHAIN_ID,
        fee_account: 0,
        slots,
    };
    let mut witnesses = Vec::new();
    let mut calls = Vec::new();
    for c in 0..pack {
        // Each sender sends once per chunk (slots < accounts), so its nonce is the chunk's.
        let ops: Vec<L2Op> = (0..slots as u32)
            .map(|s| {
                let from = 1 + (c as u32 * slots as u32 + s) % ACCOUNTS;
                let to = 1 + from % ACCOUNTS;
                let transfer = Transfer {
                    from,
                    to,
                    amount: 1_000 + u64::from(s),
                    fee: 10,
                    nonce: state.account(from).nonce,
                };
                L2Op::Transfer(transfer.sign(&l2_key(u64::from(from)), CHAIN_ID))
            })
            .collect();
        let outcome = state
            .apply_chunk(config, &ops)
            .expect("the transfers apply");
        witnesses.push(ChunkWitness::from_outcome(&outcome));
        calls.push(ChunkCall {
            new_root: outcome.new_root,
            queue_after: outcome.queue_after,
            data: outcome.pubdata.clone(),
            proof: Vec::new(),
        });
    }
    (start, witnesses, calls)
}

/// The pack's verification call with its proof and claim: read from `path`, or proven and
/// saved there.
fn pack_call(args: &Args, path: &Path) -> anyhow::Result<BatchCall> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let value: serde_json::Value = serde_json::from_str(&text)?;
        let bytes = alloy_primitives::hex::decode(value["call"].as_str().unwrap_or_default())?;
        let call = BatchCall::decode(&bytes).context("the saved pack")?;
        eprintln!("l2_calls: pack read from {}", path.display());
        return Ok(call);
    }
    let shape = ChunkShape {
        slots: args.slots,
        k: args.k,
    };
    let params = ParamsCache::new(&args.params).load_or_generate(args.k)?;
    let keys = ChunkKeys::generate(&params, shape)?;
    let (start, witnesses, mut chunks) = chunk_witnesses(args.slots, args.pack);
    eprintln!(
        "l2_calls: proving a pack of {} chunks at {shape:?}",
        args.pack
    );
    let started = std::time::Instant::now();
    let proof = prove_pack(&params, &keys, &witnesses)?;
    eprintln!(
        "l2_calls: proven in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    chunks[0].proof = proof.bytes;
    let mut call = BatchCall {
        chain_id: CHAIN_ID,
        fee_account: 0,
        old_root: start.root(),
        queue_before: start.queue_hash(),
        chunks,
        claims: Vec::new(),
    };
    call.claims = call.compute_claims(&params, keys.vk(), args.slots)?;
    std::fs::write(
        path,
        json!({ "call": alloy_primitives::hex::encode(call.encode()) }).to_string(),
    )?;
    Ok(call)
}

/// What the verification precompile answers to `pack`: the pack's end root and queue.
fn verify_call(
    params: &kaimeng_prover::ChunkParams,
    pack: &BatchCall,
    args: &Args,
) -> anyhow::Result<[u8; 64]> {
    let keys = ChunkKeys::generate(
        params,
        ChunkShape {
            slots: args.slots,
            k: args.k,
        },
    )?;
    Ok(kaimeng_prover::batch_call::verify_call(
        params,
        keys.vk(),
        args.slots,
        pack,
    )?)
}

/// Enough gas for `input` plus `execution`: the larger of EIP-7623's floor and the standard
/// calldata charge, with room to spare.
fn gas_for(input: &[u8], execution: u64) -> u64 {
    let len = input.len() as u64;
    (21_000 + 40 * len).max(21_000 + 16 * len + execution) + 200_000
}

/// Signs a chain of transactions from `key`, nonces from 0.
struct Sender {
    key: PrivateKeySigner,
    nonce: u64,
}

impl Sender {
    fn new(dev_index: usize) -> Sender {
        let account = &dev_accounts(dev_index + 1)[dev_index];
        Sender {
            key: PrivateKeySigner::from_bytes(&account.private_key).unwrap(),
            nonce: 0,
        }
    }

    fn call(&mut self, to: alloy_primitives::Address, input: Vec<u8>, execution: u64) -> Bytes {
        let gas = gas_for(&input, execution);
        let raw = signed(&self.key, self.nonce, TxKind::Call(to), input.into(), gas);
        self.nonce += 1;
        raw
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.chunks % args.pack != 0 {
        bail!(
            "--chunks {} is not a multiple of --pack {}",
            args.chunks,
            args.pack
        );
    }
    std::fs::create_dir_all(&args.out)?;
    let pack = pack_call(
        &args,
        &args.out.join(format!(
            "pack-k{}-s{}-p{}.json",
            args.k, args.slots, args.pack
        )),
    )?;
    let verify_input = pack.encode();
    let verify_gas = verify_batch_gas(args.k, 1, args.pack as u64);
    let claim = pack.claims.clone();
    let packs = args.chunks / args.pack;
    let claims = claim.repeat(packs * args.batches as usize);
    let params = ParamsCache::new(&args.params).load_or_generate(args.k)?;

    let mut verifier = Sender::new(5);
    let mut decider = Sender::new(6);
    let warmup = vec![
        verifier.call(VERIFY_BATCH_ADDRESS, verify_input.clone(), verify_gas),
        decider.call(
            DECIDE_CLAIMS_ADDRESS,
            DecideStepCall::first(1, claim.clone()).encode(),
            decide_step_gas(args.k, 1, 1),
        ),
    ];

    let claim_count = claims.len() as u64 / claim.len() as u64;
    let step_gas = decide_step_gas(args.k, claim_count, args.batches);
    let mut step = DecideStepCall::first(args.batches, claims);
    let mut checks = vec![json!({
        "to": VERIFY_BATCH_ADDRESS.to_string(),
        "data": format!("0x{}", alloy_primitives::hex::encode(&verify_input)),
        "answer": format!("0x{}", alloy_primitives::hex::encode(verify_call(&params, &pack, &args)?)),
    })];
    let mut measured = Vec::new();
    let mut kinds = [(0u64, 0u64); 3]; // (bytes, gas limit) of commits, verifications, steps
    for batch in 1..=args.batches {
        let commit = bridge_commit(batch, batch - 1, args.chunks, args.slots);
        kinds[0].0 += commit.len() as u64;
        measured.push(commit);
        for _ in 0..packs {
            let raw = verifier.call(VERIFY_BATCH_ADDRESS, verify_input.clone(), verify_gas);
            kinds[1].0 += raw.len() as u64;
            measured.push(raw);
        }
        let raw = decider.call(DECIDE_CLAIMS_ADDRESS, step.encode(), step_gas);
        kinds[2].0 += raw.len() as u64;
        measured.push(raw);
        let answer = step.run(&params)?;
        if step.is_last() {
            if answer[31] != 1 {
                bail!("the decision over the proven claims came out false");
            }
            checks.push(json!({
                "to": DECIDE_CLAIMS_ADDRESS.to_string(),
                "data": format!("0x{}", alloy_primitives::hex::encode(step.encode())),
                "answer": format!("0x{}", alloy_primitives::hex::encode(answer)),
            }));
        } else {
            step = step.next(answer);
        }
    }
    let lines = |raws: &[Bytes]| -> String {
        raws.iter()
            .map(|raw| format!("0x{}\n", alloy_primitives::hex::encode(raw)))
            .collect()
    };
    std::fs::write(args.out.join("warmup.txt"), lines(&warmup))?;
    std::fs::write(args.out.join("measured.txt"), lines(&measured))?;
    let transfers = args.batches * (args.chunks * args.slots) as u64;
    let plan = json!({
        "batches": args.batches,
        "chunks_per_batch": args.chunks,
        "chunks_per_proof": args.pack,
        "slots": args.slots,
        "k": args.k,
        "transfers": transfers,
        "transactions": measured.len(),
        "commit_bytes": kinds[0].0,
        "verify_bytes": kinds[1].0,
        "decide_bytes": kinds[2].0,
        "verify_calls": args.batches as usize * packs,
        "decide_steps": args.batches,
        "bytes_per_transfer": (kinds[0].0 + kinds[1].0 + kinds[2].0) as f64 / transfers as f64,
    });
    std::fs::write(args.out.join("plan.json"), plan.to_string())?;
    std::fs::write(args.out.join("checks.json"), json!(checks).to_string())?;
    println!("{plan}");
    Ok(())
}
