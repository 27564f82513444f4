//! The shard-0 transactions behind L2 transfers at the production shape, signed for a network
//! made by `kaimeng testnet` whose genesis has the rollup shape set to the proven one (issue 12:
//! validator CPU per L2 transfer on the same network as ERC-20 transfers;
//! `benches/shards-testnet.sh` with `L2=1` sends them and measures).
//!
//! `l2_calls --out DIR [--batches 32] [--chunks 64] [--pack 8] [--slots 57] [--k 16]` proves
//! one batch of `chunks` chunks of `slots` L2 transfers in packs of `pack` (or reads it back
//! from `DIR/batch-….json`; proving takes about 15 minutes on 2 cores) and writes, as raw
//! transactions one per line (hex):
//! - `DIR/warmup.txt`: one verification and one decision, so every node builds its verifying
//!   key before anything is measured;
//! - `DIR/measured.txt`, for each of `batches` batches of `chunks` chunks:
//!   - the bridge's real `commitBatch` of that many chunks of transfers (from the genesis
//!     sequencer);
//!   - one call of the verification precompile on the proven batch with its claims: what
//!     `verifyBatch` asks of it (the same batch each time; nothing is cached between calls);
//!   - while steps remain, one step of deciding the claims of all `batches` batches, in as
//!     many steps as the sequencer takes at its default step gas (the sequencer decides once
//!     per 32 batches by default, one step a round).
//!
//! and `DIR/plan.json`: the transfers they cover and the transactions' count, bytes and gas;
//! with `--replay` it also executes them on a local shard 0 of that shape, one batch per block,
//! timing what a validator's execution of each kind costs (decode with sender recovery, revm
//! with the rollup precompiles, state-commit preparation), on the node's code path;
//! `DIR/checks.json`: `eth_call`s with the answers they must give (the precompiles answer
//! nothing, not a revert, to a call they refuse): the verification's end root and queue, and
//! the decision's last step's verdict, 1.

use std::path::{Path, PathBuf};

use alloy_primitives::{Bytes, TxKind};
use alloy_signer_local::PrivateKeySigner;
use anyhow::{Context, bail};
use clap::Parser;
use kaimeng::rollup_precompiles::{
    DECIDE_CLAIMS_ADDRESS, VERIFY_BATCH_ADDRESS, decide_step_gas, decision_steps, verify_batch_gas,
};
use kaimeng::sequencer::default_decide_step_gas;
use kaimeng_benches::l2_keys::l2_key;
use kaimeng_benches::shard_fixture::{bridge_commit, next_block, run_block, signed};
use kaimeng_genesis::dev_accounts;
use kaimeng_prover::batch_call::{BatchCall, ChunkCall, DecideStepCall};
use kaimeng_prover::deferred::max_decision_steps;
use kaimeng_prover::{ChunkKeys, ChunkShape, ChunkWitness, ParamsCache, prove_pack};
use kaimeng_rollup::stf::{ChunkConfig, L2State};
use kaimeng_rollup::tx::Transfer;
use kaimeng_rollup::{Account, L1Address, L2Op};
use kaimeng_shards::tx::call_gas_bound;
use serde_json::json;

#[derive(Parser)]
struct Args {
    /// Where the pack, the transactions and the plan go.
    #[arg(long)]
    out: PathBuf,
    /// Batches, all covered by one decision.
    #[arg(long, default_value_t = kaimeng::sequencer::default_decide_every_batches())]
    batches: u64,
    /// Chunks per batch.
    #[arg(long, default_value_t = 64)]
    chunks: usize,
    /// Chunks per proof (the sequencer's default at the production shape).
    #[arg(long, default_value_t = kaimeng::sequencer::default_chunks_per_proof(ChunkShape::DEFAULT.k))]
    pack: usize,
    #[arg(long, default_value_t = ChunkShape::DEFAULT.slots)]
    slots: usize,
    #[arg(long, default_value_t = ChunkShape::DEFAULT.k)]
    k: u32,
    /// The parameter cache.
    #[arg(long, default_value = "/tmp/kaimeng-params")]
    params: PathBuf,
    /// Also execute the transactions locally and time each kind.
    #[arg(long)]
    replay: bool,
}

const CHAIN_ID: u64 = 31337;
/// L2 accounts besides the fee account: at least 64, and more than a chunk's slots so that
/// each sends at most once a chunk.
fn account_count(slots: usize) -> u32 {
    (slots as u32 + 1).max(64)
}

/// `count` consecutive chunks of `slots` transfers each among accounts 1 to
/// [`account_count`].
fn chunk_witnesses(slots: usize, count: usize) -> (L2State, Vec<ChunkWitness>, Vec<ChunkCall>) {
    let accounts = account_count(slots);
    let mut state = L2State::new();
    for i in 0..=accounts {
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
    for c in 0..count {
        // Each sender sends once per chunk (slots < accounts), so its nonce is the chunk's.
        let ops: Vec<L2Op> = (0..slots as u32)
            .map(|s| {
                let from = 1 + (c as u32 * slots as u32 + s) % accounts;
                let to = 1 + from % accounts;
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

/// The batch's verification call with its proofs and claims: read from `path`, or proven and
/// saved there.
fn batch_call(args: &Args, path: &Path) -> anyhow::Result<BatchCall> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let value: serde_json::Value = serde_json::from_str(&text)?;
        let bytes = alloy_primitives::hex::decode(value["call"].as_str().unwrap_or_default())?;
        let call = BatchCall::decode(&bytes).context("the saved batch")?;
        eprintln!("l2_calls: batch read from {}", path.display());
        return Ok(call);
    }
    let shape = ChunkShape {
        slots: args.slots,
        k: args.k,
    };
    let params = ParamsCache::new(&args.params).load_or_generate(args.k)?;
    let keys = ChunkKeys::generate(&params, shape)?;
    let (start, witnesses, mut chunks) = chunk_witnesses(args.slots, args.chunks);
    for (i, pack) in witnesses.chunks(args.pack).enumerate() {
        eprintln!(
            "l2_calls: proving pack {} of {} ({} chunks at {shape:?})",
            i + 1,
            args.chunks / args.pack,
            pack.len()
        );
        let started = std::time::Instant::now();
        chunks[i * args.pack].proof = prove_pack(&params, &keys, pack)?.bytes;
        eprintln!(
            "l2_calls: proven in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
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

/// What the verification precompile answers to `batch`: its end root and queue.
fn verify_call(
    params: &kaimeng_prover::ChunkParams,
    batch: &BatchCall,
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
        batch,
    )?)
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
        // With room to spare.
        let gas = call_gas_bound(input.len(), execution) + 200_000;
        let raw = signed(&self.key, self.nonce, TxKind::Call(to), input.into(), gas);
        self.nonce += 1;
        raw
    }
}

/// CPU seconds this process has used (all threads).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of stat, here 11 and 12 after the two before ')'.
    (fields.get(10).unwrap_or(&0.0) + fields.get(11).unwrap_or(&0.0)) / 100.0
}

/// Executes `warmup` (untimed) then `measured`, `per_batch` transactions a block (commit,
/// verifications, decision step), on a local shard 0 with the rollup at this shape; prints the
/// execution CPU of each kind per L2 transfer.
fn replay(
    args: &Args,
    warmup: &[Bytes],
    measured: &[Vec<Bytes>],
    transfers: u64,
) -> anyhow::Result<()> {
    use kaimeng_shards::commit::prepare_commit;
    use kaimeng_shards::{ShardChain, ShardConfig};
    let dir = tempfile::tempdir()?;
    let mut genesis = kaimeng_genesis::GenesisSpec::dev(&kaimeng_genesis::DevOptions {
        validators: 1,
        ..Default::default()
    });
    let rollup = genesis
        .rollup
        .as_mut()
        .context("the dev genesis has a rollup")?;
    (rollup.chunk_slots, rollup.chunk_k) = (args.slots as u32, args.k);
    let rollup = rollup.clone();
    let mut config = ShardConfig::from_genesis(&genesis, 0);
    for precompile in kaimeng::rollup_precompiles::shard0_precompiles(
        rollup,
        genesis.block_gas_limit,
        args.params.clone(),
    )? {
        config.precompiles = config.precompiles.with(precompile)?;
    }
    let store = kaimeng_shards::open_store(dir.path(), &Default::default())?;
    let chain = ShardChain::open_with(store, &genesis, config)?;
    let seal = |raws: &[Bytes]| -> anyhow::Result<()> {
        for raw in raws {
            chain.submit_raw(raw)?;
        }
        let head = chain.head();
        let block = chain.finalize(chain.propose(
            head.header.timestamp + 1,
            Default::default(),
            1_000,
        )?)?;
        if block.txs.len() != raws.len() || block.receipts.iter().any(|r| !r.envelope.status()) {
            bail!("a replayed transaction was left out or failed");
        }
        Ok(())
    };
    seal(warmup)?;
    let mut spent = [0f64; 3];
    for batch in measured {
        let state = chain.latest_state();
        let mut ctx = next_block(&chain);
        ctx.precompiles = chain.config().precompiles.clone();
        // The commit, the verification, and the decision's step if one is left.
        let (commit, rest) = batch.split_at(1);
        let (verify, decide) = rest.split_at(1);
        for (kind, raws) in [commit, verify, decide].into_iter().enumerate() {
            let before = cpu_seconds();
            let out = run_block(&state, &ctx, raws);
            prepare_commit(&state, &out.pending, ctx.number)?;
            spent[kind] += cpu_seconds() - before;
        }
        seal(batch)?;
    }
    let per = |s: f64| 1e6 * s / transfers as f64;
    println!(
        "replay: execution CPU per L2 transfer: commit {:.1} + verify {:.1} + decide {:.1} = \
         {:.1} us",
        per(spent[0]),
        per(spent[1]),
        per(spent[2]),
        per(spent.iter().sum())
    );
    Ok(())
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
    let batch = batch_call(
        &args,
        &args.out.join(format!(
            "batch-k{}-s{}-c{}-p{}.json",
            args.k, args.slots, args.chunks, args.pack
        )),
    )?;
    let verify_input = batch.encode();
    let packs = args.chunks / args.pack;
    let verify_gas = verify_batch_gas(args.k, packs as u64, args.chunks as u64);
    let claim_len = batch.claims.len() / packs;
    let claim = batch.claims[..claim_len].to_vec();
    let claims = batch.claims.repeat(args.batches as usize);
    let params = ParamsCache::new(&args.params).load_or_generate(args.k)?;

    // The first step of a decision of one claim split as far as it goes fits a transaction.
    let most_steps = max_decision_steps(args.k) as u64;
    let mut verifier = Sender::new(5);
    let mut decider = Sender::new(6);
    let warmup = vec![
        verifier.call(VERIFY_BATCH_ADDRESS, verify_input.clone(), verify_gas),
        decider.call(
            DECIDE_CLAIMS_ADDRESS,
            DecideStepCall::first(most_steps, claim.clone()).encode(),
            decide_step_gas(args.k, 1, most_steps),
        ),
    ];

    let claim_count = claims.len() as u64 / claim.len() as u64;
    let steps = decision_steps(args.k, claim_count, default_decide_step_gas())
        .filter(|steps| *steps <= args.batches)
        .context("the decision's steps do not fit one per batch")?;
    let step_gas = decide_step_gas(args.k, claim_count, steps);
    let mut step = DecideStepCall::first(steps, claims);
    let mut decided = false;
    let mut checks = vec![json!({
        "to": VERIFY_BATCH_ADDRESS.to_string(),
        "data": format!("0x{}", alloy_primitives::hex::encode(&verify_input)),
        "answer": format!("0x{}", alloy_primitives::hex::encode(verify_call(&params, &batch, &args)?)),
    })];
    let mut measured: Vec<Vec<Bytes>> = Vec::new(); // each batch's transactions
    let mut kinds = [(0u64, 0u64); 3]; // (bytes, gas limit) of commits, verifications, steps
    for batch in 1..=args.batches {
        let commit = bridge_commit(batch, batch - 1, args.chunks, args.slots);
        kinds[0].0 += commit.len() as u64;
        let verify = verifier.call(VERIFY_BATCH_ADDRESS, verify_input.clone(), verify_gas);
        kinds[1].0 += verify.len() as u64;
        measured.push(vec![commit, verify]);
        if decided {
            continue;
        }
        let raw = decider.call(DECIDE_CLAIMS_ADDRESS, step.encode(), step_gas);
        kinds[2].0 += raw.len() as u64;
        measured.last_mut().expect("pushed above").push(raw);
        let answer = step.run(&params)?;
        if step.is_last() {
            decided = true;
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
    std::fs::write(args.out.join("measured.txt"), lines(&measured.concat()))?;
    let transfers = args.batches * (args.chunks * args.slots) as u64;
    let plan = json!({
        "batches": args.batches,
        "chunks_per_batch": args.chunks,
        "chunks_per_proof": args.pack,
        "slots": args.slots,
        "k": args.k,
        "transfers": transfers,
        "transactions": measured.iter().map(Vec::len).sum::<usize>(),
        "per_batch": measured.iter().map(Vec::len).collect::<Vec<_>>(),
        "commit_bytes": kinds[0].0,
        "verify_bytes": kinds[1].0,
        "decide_bytes": kinds[2].0,
        "verify_calls": args.batches,
        "decide_steps": steps,
        "bytes_per_transfer": (kinds[0].0 + kinds[1].0 + kinds[2].0) as f64 / transfers as f64,
    });
    std::fs::write(args.out.join("plan.json"), plan.to_string())?;
    std::fs::write(args.out.join("checks.json"), json!(checks).to_string())?;
    if args.replay {
        replay(&args, &warmup, &measured, transfers)?;
    }
    println!("{plan}");
    Ok(())
}
