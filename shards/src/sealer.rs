//! The local sealer: the single block producer of `kaimeng dev` with one validator. It drives
//! the same propose → finalize interface the BFT engine drives with many validators.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy_primitives::Address;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::chain::ShardChain;
use crate::events::ChainEvent;

/// When the sealer makes blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SealMode {
    /// As soon as transactions are waiting, taking everything executable (like anvil's
    /// automine, but batching under load).
    Instant,
    /// Every interval, empty or not.
    Interval(Duration),
}

/// Most transactions the sealer puts in one block (the gas limit usually binds first).
pub const MAX_TXS_PER_BLOCK: usize = 20_000;

/// In instant mode under load (the last block carried transactions), the next block starts no
/// sooner than this after the last one started, so it takes everything that arrived meanwhile
/// instead of paying the per-block costs (state root, header, indexes, `newHeads`) for a few
/// transactions. The first transaction after a quiet spell is still sealed at once.
pub const LOAD_BATCH_WINDOW: Duration = Duration::from_millis(20);

/// Starts sealing `chain` as a task on the current tokio runtime. Aborting the task is safe:
/// a block being written completes atomically on its blocking thread.
pub fn spawn(chain: Arc<ShardChain>, mode: SealMode, fee_recipient: Address) -> JoinHandle<()> {
    tokio::spawn(run(chain, mode, fee_recipient))
}

async fn run(chain: Arc<ShardChain>, mode: SealMode, fee_recipient: Address) {
    let mut events = chain.subscribe();
    let mut ticker = match mode {
        SealMode::Interval(interval) => Some(tokio::time::interval(interval)),
        SealMode::Instant => None,
    };
    // In instant mode, `stalled` means the last block took nothing although the pool was not
    // empty (only gapped nonces): wait for news before trying again.
    let mut stalled = false;
    // When the last block that carried transactions started (instant mode batching).
    let mut busy_since: Option<tokio::time::Instant> = None;
    loop {
        match ticker.as_mut() {
            Some(ticker) => {
                ticker.tick().await;
            }
            None if stalled || chain.pool().is_empty() => {
                match events.recv().await {
                    Ok(ChainEvent::PendingTx(_)) | Err(RecvError::Lagged(_)) => stalled = false,
                    Ok(ChainEvent::NewBlock(_)) => {}
                    Err(RecvError::Closed) => return,
                }
                // Re-check the pool: events queued while sealing may already be included.
                continue;
            }
            None => {
                if let Some(started) = busy_since {
                    tokio::time::sleep_until(started + LOAD_BATCH_WINDOW).await;
                }
            }
        }
        let started = tokio::time::Instant::now();
        let worker = chain.clone();
        let sealed = tokio::task::spawn_blocking(move || seal_once(&worker, fee_recipient)).await;
        match sealed {
            Ok(Some(count)) => {
                stalled = count == 0;
                busy_since = (count > 0).then_some(started);
            }
            Ok(None) | Err(_) => return,
        }
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Seals one block; `None` means the chain could not be written and sealing must stop.
fn seal_once(chain: &ShardChain, fee_recipient: Address) -> Option<usize> {
    match chain
        .propose(now_secs(), fee_recipient, MAX_TXS_PER_BLOCK)
        .and_then(|p| chain.finalize(p))
    {
        Ok(block) => {
            tracing::debug!(
                number = block.number(),
                txs = block.txs.len(),
                "sealed block"
            );
            Some(block.txs.len())
        }
        Err(error) => {
            // A failed write of a finalized block stops production: retrying could diverge.
            tracing::error!(%error, "sealing failed; block production stopped");
            None
        }
    }
}
