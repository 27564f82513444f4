//! A chain's worker, on its own thread: builds proposals, checks peers' blocks, finalizes with
//! the certificate, and fetches missed final blocks from peers (block sync, every block checked
//! against a certificate by the chain). Work is done in the order it is asked for, so
//! finalization never races a build; one chain's slow work never holds up another chain.

use std::sync::Arc;

use kaimeng_consensus::{Digest, Input, Proposal, ValidatorIndex, View};
use kaimeng_network::NetworkHandle;
use tokio::sync::mpsc;

use super::app::{Application, Finalized};
use super::host::HostEvent;

/// Most blocks asked for in one round of block sync.
const SYNC_SPAN: u64 = 512;

pub enum Work<B> {
    /// `proposer` is the view's leader: this node.
    Build {
        view: View,
        proposer: ValidatorIndex,
        parent: Digest,
        height: u64,
    },
    /// `proposer` is the leader of the proposal's view.
    Verify {
        proposal: Proposal,
        proposer: ValidatorIndex,
        body: Arc<B>,
    },
    /// A proposal whose body did not arrive: maybe this node kept it before a restart.
    VerifyKept {
        proposal: Proposal,
        proposer: ValidatorIndex,
    },
    /// Peers run a later epoch: fetch the final blocks this node missed.
    CatchUp,
    Finalize {
        height: u64,
        digest: Digest,
        /// The encoded finality certificate.
        certificate: Vec<u8>,
    },
}

pub struct Worker<A: Application> {
    pub app: Arc<A>,
    pub network: NetworkHandle,
    pub runtime: tokio::runtime::Handle,
    pub to_host: mpsc::UnboundedSender<HostEvent<A::Body>>,
}

impl<A: Application> Worker<A> {
    pub fn run(self, mut work: mpsc::UnboundedReceiver<Work<A::Body>>) {
        while let Some(item) = work.blocking_recv() {
            let outcome = match item {
                Work::Build {
                    view,
                    proposer,
                    parent,
                    height,
                } => {
                    self.build(view, proposer, parent, height);
                    Ok(())
                }
                Work::Verify {
                    proposal,
                    proposer,
                    body,
                } => {
                    self.verify(proposal, proposer, &body);
                    Ok(())
                }
                Work::VerifyKept { proposal, proposer } => {
                    self.verify_kept(proposal, proposer);
                    Ok(())
                }
                Work::Finalize {
                    height,
                    digest,
                    certificate,
                } => self.finalize(height, digest, &certificate),
                Work::CatchUp => {
                    self.sync(None);
                    Ok(())
                }
            };
            if let Err(error) = outcome {
                // Only a failed write of final data gets here: stop rather than diverge.
                tracing::error!(%error, "{} stopped: cannot write a final block", self.app.name());
                return;
            }
        }
    }

    fn send(&self, input: Input) {
        let _ = self.to_host.send(HostEvent::Engine(input));
    }

    fn build(&self, view: View, proposer: ValidatorIndex, parent: Digest, height: u64) {
        match self.app.build(parent, height, proposer) {
            Ok((payload, bytes)) => {
                let topic = kaimeng_network::Topic::Blocks(self.app.chain());
                if let Err(error) = self.runtime.block_on(self.network.publish(topic, bytes)) {
                    tracing::debug!(%error, "proposal body not gossiped");
                }
                tracing::debug!(chain = %self.app.name(), view, height, "proposing");
                self.send(Input::PayloadReady { view, payload });
            }
            // Without the parent (or what it needs) this node cannot lead the view; it times out.
            Err(error) => {
                tracing::warn!(chain = %self.app.name(), view, %error, "cannot build a proposal")
            }
        }
    }

    fn verify(&self, proposal: Proposal, proposer: ValidatorIndex, body: &A::Body) {
        let valid = match self
            .app
            .verify(proposal.parent.digest, proposal.height, proposer, body)
        {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(chain = %self.app.name(), view = proposal.view, %error, "rejecting proposal");
                false
            }
        };
        self.send(Input::PayloadVerified {
            view: proposal.view,
            payload: proposal.payload,
            valid,
        });
    }

    fn verify_kept(&self, proposal: Proposal, proposer: ValidatorIndex) {
        if let Some(valid) = self.app.verify_kept(
            proposal.payload,
            proposal.parent.digest,
            proposal.height,
            proposer,
        ) {
            self.send(Input::PayloadVerified {
                view: proposal.view,
                payload: proposal.payload,
                valid,
            });
        }
    }

    fn finalize(&self, height: u64, digest: Digest, certificate: &[u8]) -> anyhow::Result<()> {
        if height <= self.app.head().0 {
            return Ok(()); // reported again after a restart
        }
        match self.app.finalize(digest, certificate)? {
            Finalized::Heights(heights) => {
                if let Some(last) = heights.last() {
                    let _ = self.to_host.send(HostEvent::Finalized(*last));
                }
            }
            Finalized::Unknown => self.sync(Some(height)),
        }
        Ok(())
    }

    /// Fetches the final blocks after the head from peers (up to `target`, or as far as they
    /// have) and lets the chain apply those a certificate proves final. A peer whose answer
    /// does not check out is skipped for the next one.
    fn sync(&self, target: Option<u64>) {
        let head = || self.app.head().0;
        let reached = || target.is_some_and(|t| head() >= t);
        let before = head();
        if !self.app.before_block_sync(&self.network) {
            return;
        }
        'peers: for peer in self.network.peers() {
            loop {
                if reached() {
                    break 'peers;
                }
                let from = head() + 1;
                let answer = self.fetch(peer, from, from + SYNC_SPAN - 1);
                if answer.is_empty() {
                    break;
                }
                match self.app.apply_synced(answer) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(chain = %self.app.name(), %peer, %error, from, "block sync answer refused");
                        break;
                    }
                }
            }
        }
        let after = head();
        if after > before {
            tracing::info!(chain = %self.app.name(), head = after, "caught up by block sync");
            let _ = self.to_host.send(HostEvent::Finalized(after));
        }
        if let Some(target) = target.filter(|_| !reached()) {
            tracing::warn!(
                chain = %self.app.name(),
                target,
                head = after,
                "block sync incomplete; will retry on the next finalization"
            );
        }
    }

    /// Up to `to - from + 1` served blocks from `peer`, in order (fewer if it has fewer).
    fn fetch(&self, peer: kaimeng_network::PeerId, from: u64, to: u64) -> Vec<Vec<u8>> {
        let mut blocks = Vec::new();
        let mut next = from;
        while next <= to {
            // Peers answer at most 128 blocks per request (`Limits::max_blocks_per_request`).
            let last = to.min(next + 127);
            let answer = self.runtime.block_on(self.network.request_blocks(
                peer,
                self.app.chain(),
                next,
                last,
            ));
            let Ok(raws) = answer else { break };
            if raws.is_empty() {
                break;
            }
            next += raws.len() as u64;
            blocks.extend(raws);
        }
        blocks
    }
}
