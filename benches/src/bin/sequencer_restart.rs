//! What a sequencer restart costs, from a journal of the whole history against one compacted
//! to a snapshot of the executed state (ADR 0110).
//!
//! It writes a real journal (deposits for every account, then signed transfers, batches closed
//! at the sequencer's capacity), then measures on this machine:
//! - a restart by replay: open the journal, rebuild the soft ledger, apply every batch through
//!   the tree, as `kaimeng sequencer` does on start;
//! - the compaction itself, once every batch is executed;
//! - a restart from the compacted journal: restore the snapshot (its root checked) and open;
//! - a rebuild from what shard 0 publishes (each chunk's data, root and queue hash, and the
//!   deposit requests), as `kaimeng l2 exit` and a sequencer on an empty disk do.
//!
//! ```text
//! cargo run --profile dev -p kaimeng-benches --features sequencer --bin sequencer_restart -- \
//!     --accounts 2000 --transfers 20000
//! ```

use std::time::{Duration, Instant};

use clap::Parser;
use kaimeng::bridge_client::FEE_ACCOUNT;
use kaimeng::sequencer::core::{Base, Core, Marks, Settings};
use kaimeng_rollup::journal::{Journal, Record};
use kaimeng_rollup::rebuild::Rebuilder;
use kaimeng_rollup::snapshot;
use kaimeng_rollup::stf::{ChunkConfig, ChunkOutcome, L2State};
use kaimeng_rollup::tx::{DepositOp, PriorityOp, Transfer};
use kaimeng_rollup::{L1Address, L2Op, SigningKey};

const CHAIN: u64 = 31337;

#[derive(Parser, Debug)]
struct Args {
    /// L2 accounts (account 0 is the fee account).
    #[arg(long, default_value_t = 2_000)]
    accounts: u32,
    /// Signed transfers after the deposits.
    #[arg(long, default_value_t = 20_000)]
    transfers: usize,
    /// Directory for the journal (default: a temporary one).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
}

fn key(i: u32) -> SigningKey {
    kaimeng_benches::l2_keys::l2_key(i as u64)
}

fn settings() -> Settings {
    Settings {
        chain_id: CHAIN,
        slots: 29,
        max_chunks: 16,
        chunks_per_proof: 8,
        decide_every: 32,
        decide_wait: Duration::from_secs(600),
        decide_step_gas: 12_000_000,
        max_wait: Duration::from_secs(3600),
        min_fee: 1,
        chunk_k: 16,
        keep_executed: 100_000,
        compact_after_ops: 1,
    }
}

/// What a restart gives: the core, the tree after the last batch, and the chunks it replayed.
type Restarted = (std::sync::Arc<Core>, L2State, Vec<ChunkOutcome>);

/// Opens the journal at `path` as a restart does.
fn restart(path: &std::path::Path) -> anyhow::Result<Restarted> {
    let (journal, recovered) = Journal::open(path)?;
    let mut records = recovered.records;
    let (head, base) = match snapshot::restore(&records).map_err(anyhow::Error::msg)? {
        Some((head, state, spans)) => {
            records.drain(..spans);
            (Some(head), state)
        }
        None => (None, L2State::new()),
    };
    let base_view = Base {
        state: &base,
        batches: head.map_or(0, |h| h.batches),
        next_request: head.map_or(0, |h| h.next_request),
        first_seq: head.map_or(0, |h| h.first_seq),
    };
    let (core, replayed) = Core::open(
        settings(),
        journal,
        records,
        base_view,
        Duration::from_secs(60),
    )?;
    let config = ChunkConfig {
        chain_id: CHAIN,
        fee_account: FEE_ACCOUNT,
        slots: settings().slots,
    };
    let mut tree = base;
    let mut chunks = Vec::new();
    for (number, batch) in replayed.batch_ops {
        let outcomes = tree
            .apply_batch(config, &batch)
            .map_err(|e| anyhow::anyhow!("batch {number}: {e}"))?;
        core.batch_applied(number, &outcomes, &tree);
        chunks.extend(outcomes);
    }
    Ok((core, tree, chunks))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.accounts >= 2, "--accounts must be at least 2");
    let temp = tempfile::tempdir()?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("journal");
    let _ = std::fs::remove_file(&path);

    // The history: a deposit per account, then transfers round the senders.
    let started = Instant::now();
    let mut ops: Vec<L2Op> = (0..args.accounts)
        .map(|i| {
            L2Op::Priority(PriorityOp::Deposit(DepositOp {
                to: i,
                l1_address: L1Address([(i % 251) as u8; 20]),
                public_key: key(i).public_key(),
                amount: 1_000_000_000,
            }))
        })
        .collect();
    let mut nonces = vec![0u32; args.accounts as usize];
    for n in 0..args.transfers {
        let from = 1 + (n as u32 % (args.accounts - 1));
        let to = 1 + ((n as u32 + 7) % (args.accounts - 1));
        let nonce = &mut nonces[from as usize];
        ops.push(L2Op::Transfer(
            Transfer {
                from,
                to,
                amount: 3,
                fee: 1,
                nonce: *nonce,
            }
            .sign(&key(from), CHAIN),
        ));
        *nonce += 1;
    }
    let capacity = settings().capacity();
    let (mut journal, _) = Journal::open(&path)?;
    let mut batches = 0u64;
    for (i, group) in ops.chunks(capacity).enumerate() {
        for op in group {
            journal.append(&Record::Op(*op))?;
        }
        journal.append(&Record::Closed {
            batch: i as u64 + 1,
            ops: group.len() as u32,
        })?;
        batches += 1;
    }
    journal.sync()?;
    drop(journal);
    let full_bytes = std::fs::metadata(&path)?.len();
    eprintln!(
        "wrote {} operations in {batches} batches ({full_bytes} bytes) in {:.1} s",
        ops.len(),
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let (core, tree, chunks) = restart(&path)?;
    let replay = started.elapsed();

    let deposits: Vec<DepositOp> = ops
        .iter()
        .filter_map(|op| match op {
            L2Op::Priority(PriorityOp::Deposit(d)) => Some(*d),
            _ => None,
        })
        .collect();
    let started = Instant::now();
    let mut rebuilder = Rebuilder::new(deposits, FEE_ACCOUNT);
    for chunk in &chunks {
        rebuilder
            .apply_chunk(&chunk.pubdata, chunk.new_root, chunk.queue_after)
            .map_err(|e| anyhow::anyhow!("rebuild: {e}"))?;
    }
    let rebuild = started.elapsed();

    core.set_marks(Marks {
        committed: batches,
        verified: batches,
        decided: batches,
        executed: batches,
    });
    let started = Instant::now();
    let compacted = core.compact()?;
    let compaction = started.elapsed();
    anyhow::ensure!(
        compacted == Some(batches),
        "compaction did not run: {compacted:?}"
    );
    drop(core);
    let compact_bytes = std::fs::metadata(&path)?.len();

    let started = Instant::now();
    let (core, restored, replayed) = restart(&path)?;
    anyhow::ensure!(replayed.is_empty(), "the compacted journal replayed chunks");
    let restore = started.elapsed();
    anyhow::ensure!(restored.root() == tree.root(), "the restored root differs");
    anyhow::ensure!(
        core.status_view()["accepted"] == ops.len(),
        "the restored numbering differs"
    );

    let per_op = |d: Duration| d.as_secs_f64() * 1e6 / ops.len() as f64;
    println!(
        "accounts {} | operations {} | batches {batches} ({} chunks)",
        args.accounts,
        ops.len(),
        chunks.len()
    );
    println!(
        "restart by replay: {:.2} s ({:.0} µs per operation) | journal {:.1} MB",
        replay.as_secs_f64(),
        per_op(replay),
        full_bytes as f64 / 1e6
    );
    println!(
        "rebuild from the published data: {:.2} s ({:.0} µs per operation)",
        rebuild.as_secs_f64(),
        per_op(rebuild)
    );
    println!("compaction: {:.2} s", compaction.as_secs_f64());
    println!(
        "restart from the snapshot: {:.3} s | journal {:.2} MB | {:.0}× faster, {:.0}× smaller",
        restore.as_secs_f64(),
        compact_bytes as f64 / 1e6,
        replay.as_secs_f64() / restore.as_secs_f64(),
        full_bytes as f64 / compact_bytes as f64
    );
    Ok(())
}
