//! The crosslinks a beacon proposer includes: for each shard the node holds, the finalized
//! headers after the last linked one, in runs that end at a block with its own certificate
//! (so a run never spans two shard epochs: an epoch's last block is always certified).

use kaimeng_l1::beacon::{BeaconState, Crosslink, block::MAX_CROSSLINK_HEADERS};
use kaimeng_shards::ShardChain;

/// Most runs of one shard in one beacon block.
const MAX_RUNS_PER_SHARD: usize = 8;

/// The crosslinks of `shards` on top of `state`.
pub fn collect(state: &BeaconState, shards: &[std::sync::Arc<ShardChain>]) -> Vec<Crosslink> {
    let mut links = Vec::new();
    for (shard, chain) in shards.iter().enumerate() {
        let Some(link) = state.shards.get(shard) else {
            continue;
        };
        let head = chain.head().number();
        let mut from = link.height + 1;
        for _ in 0..MAX_RUNS_PER_SHARD {
            if from > head {
                break;
            }
            match run(chain, shard as u32, from) {
                Some(crosslink) => {
                    from += crosslink.headers.len() as u64;
                    links.push(crosslink);
                }
                None => break,
            }
        }
    }
    links
}

/// The run that starts at final block `from`: up to the block whose certificate finalized it.
fn run(chain: &ShardChain, shard: u32, from: u64) -> Option<Crosslink> {
    let (certified, certificate) = chain.certificate(from).ok().flatten()?;
    if certified < from || certified - from >= MAX_CROSSLINK_HEADERS as u64 {
        return None;
    }
    let headers = (from..=certified)
        .map(|n| chain.header(n).ok().flatten().map(|h| h.header))
        .collect::<Option<Vec<_>>>()?;
    Some(Crosslink {
        shard,
        headers,
        certificate,
    })
}
