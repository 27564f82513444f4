//! `kaimeng committees verify --rpc URL --epoch E`: recomputes an epoch's shard committees
//! from what `kaimeng_committees` returns (VRF proofs, seeds, members) and says whether the
//! node's assignment matches. Nothing the node computed is trusted.

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::rpc_params;

use crate::validator::beacon::committees::{CommitteesView, recompute};

#[derive(Subcommand, Debug)]
pub enum CommitteesCommand {
    /// Recompute an epoch's committees from RPC data alone and compare.
    Verify(VerifyArgs),
}

#[derive(Args, Debug, Clone)]
pub struct VerifyArgs {
    /// The node's JSON-RPC URL (any shard's).
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// The beacon epoch (default: the current one).
    #[arg(long)]
    pub epoch: Option<u64>,
}

pub fn run(command: CommitteesCommand) -> anyhow::Result<()> {
    let CommitteesCommand::Verify(args) = command;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let view: Option<CommitteesView> = runtime.block_on(async {
        let client = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(30))
            .build(&args.rpc)
            .map_err(|e| anyhow!("--rpc {}: {e}", args.rpc))?;
        let params = match args.epoch {
            Some(epoch) => rpc_params![epoch],
            None => rpc_params![],
        };
        client
            .request("kaimeng_committees", params)
            .await
            .map_err(|e| anyhow!("kaimeng_committees: {e}"))
    })?;
    let view = view.context("the node has not drawn that epoch's committees yet")?;
    let recomputed = recompute(&view)?;
    if recomputed != view.committees {
        bail!(
            "epoch {}: the node's committees do not match the ones recomputed from its seed inputs\n  node:       {:?}\n  recomputed: {:?}",
            view.epoch,
            view.committees,
            recomputed
        );
    }
    let vrf_blocks = view.seed_inputs.as_ref().map_or(0, |i| i.blocks.len());
    println!(
        "epoch {}: committees match ({} shards, committee size {}, drawn in epoch {} from seed {} over {} VRF proofs, every one verified)",
        view.epoch, view.shard_count, view.committee_size, view.drawn_in, view.seed, vrf_blocks
    );
    for (shard, committee) in view.committees.iter().enumerate() {
        let names: Vec<String> = committee
            .iter()
            .map(|key| {
                view.members
                    .iter()
                    .find(|m| &m.consensus_key == key)
                    .map_or_else(|| key.to_string(), |m| m.organisation.clone())
            })
            .collect();
        println!("  shard {shard}: {}", names.join(", "));
    }
    Ok(())
}
