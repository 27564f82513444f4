//! Completing a proposal body that names transactions by hash (ADR 0117): decode it, ask the
//! peer that relayed it (then other peers) for the named transactions this node lacks, and
//! decode again with them.

use std::collections::HashSet;
use std::sync::Arc;

use alloy_primitives::keccak256;
use kaimeng_consensus::Digest;
use kaimeng_network::{NetworkHandle, PeerId};

use super::app::{Application, BodyError};

/// Hashes asked of a peer in one request (peers answer up to `max_blocks_per_request`).
const HASHES_PER_REQUEST: usize = 64;
/// Peers asked for one body's transactions before it is given up (its view then times out,
/// as when a body never arrives).
const PEERS_ASKED: usize = 4;

/// Decodes a proposal body relayed by `relayed_by`, fetching the transactions it names that
/// this node does not hold. Each peer is asked again while it brings some of what is missing.
pub async fn decode_completing<A: Application>(
    app: Arc<A>,
    network: &NetworkHandle,
    relayed_by: PeerId,
    bytes: Vec<u8>,
) -> Result<(Digest, A::Body), String> {
    let bytes = Arc::new(bytes);
    let mut peers = std::iter::once(relayed_by)
        .chain(network.peers().into_iter().filter(|p| *p != relayed_by))
        .take(PEERS_ASKED);
    let mut peer = peers.next();
    let mut fetched: Vec<Vec<u8>> = Vec::new();
    let mut lacking = usize::MAX;
    loop {
        let (app_, bytes_) = (app.clone(), bytes.clone());
        let (decoded, kept) = tokio::task::spawn_blocking(move || {
            let decoded = app_.decode_body(&bytes_, &fetched);
            (decoded, fetched)
        })
        .await
        .map_err(|e| format!("decoding the body stopped: {e}"))?;
        fetched = kept;
        let missing = match decoded {
            Ok(done) => return Ok(done),
            Err(BodyError::Invalid(reason)) => return Err(reason),
            Err(BodyError::Missing(hashes)) => hashes,
        };
        if missing.len() >= lacking {
            // The last peer brought nothing of what is missing.
            peer = peers.next();
        }
        lacking = missing.len();
        let Some(from) = peer else {
            return Err(format!(
                "{lacking} named transactions not found at {PEERS_ASKED} peers"
            ));
        };
        for asked in missing.chunks(HASHES_PER_REQUEST) {
            match network
                .request_transactions(from, app.chain(), asked.to_vec())
                .await
            {
                Ok(raws) => {
                    // Only what was asked for is kept (and checked by the chain).
                    let asked: HashSet<&[u8; 32]> = asked.iter().collect();
                    fetched.extend(
                        raws.into_iter()
                            .filter(|raw| asked.contains(&keccak256(raw).0)),
                    );
                }
                Err(error) => {
                    tracing::debug!(peer = %from, %error, "named transactions not fetched");
                    break;
                }
            }
        }
        tracing::debug!(chain = %app.name(), peer = %from, lacking, fetched = fetched.len(), "fetching a proposal's named transactions");
    }
}
