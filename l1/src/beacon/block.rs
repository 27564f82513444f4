//! Beacon blocks and their one encoding. A block is a header and a body: the governance
//! transactions ordered at its height and the crosslinks it records. The header commits to the
//! body (`body_root`) and to the consortium state after the block (`state_root`), both with the
//! chain's consensus hash (Keccak-256 or SM3), and its own hash is what the engine finalizes
//! and what a shard header's `parent_beacon_block_root` names.
//!
//! Layout: `header (112) ‖ proposer (4) ‖ VRF proof (80) ‖ section length (4) ‖ governance
//! section ‖ crosslink count (4) ‖ crosslink* ‖ evidence count (4) ‖ evidence*`, a header being `height (8) ‖ parent (32) ‖ timestamp (8) ‖ body root (32) ‖
//! state root (32)` and a crosslink `shard (4) ‖ header count (4) ‖ {length (4) ‖ shard header
//! RLP}* ‖ certificate length (4) ‖ certificate`. All integers big-endian.

use alloy_consensus::Header;
use alloy_primitives::B256;
use alloy_rlp::{Decodable, Encodable};
use kaimeng_crypto::CryptoSuite;
use kaimeng_crypto::vrf::{PROOF_LEN, VrfProof};

use super::BeaconError;
use super::bytes::{Reader, put_chunk};
use super::evidence::{Evidence, MAX_EVIDENCE};

/// Most crosslinks in one beacon block.
pub const MAX_CROSSLINKS: usize = 64;
/// Most shard headers in one crosslink.
pub const MAX_CROSSLINK_HEADERS: usize = 512;
/// Most bytes of one crosslink certificate.
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;

const HEADER_LEN: usize = 112;

/// How far ahead of a checking node's clock a beacon block's timestamp may be.
pub const MAX_CLOCK_DRIFT_SECS: u64 = 15;

/// A beacon block's time is not before its parent's, nor more than [`MAX_CLOCK_DRIFT_SECS`]
/// ahead of `now` (the checking node's clock, in Unix seconds).
pub fn check_timestamp(timestamp: u64, parent: u64, now: u64) -> Result<(), BeaconError> {
    if timestamp < parent || timestamp > now.saturating_add(MAX_CLOCK_DRIFT_SECS) {
        return Err(BeaconError::Timestamp {
            timestamp,
            parent,
            now,
        });
    }
    Ok(())
}

/// A beacon block's header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeaconHeader {
    pub height: u64,
    pub parent: B256,
    /// Seconds since the Unix epoch, as the proposer saw it.
    pub timestamp: u64,
    /// The consensus hash of the encoded body.
    pub body_root: B256,
    /// The consensus hash of the encoded [`super::BeaconState`] after this block.
    pub state_root: B256,
}

impl BeaconHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0; HEADER_LEN];
        out[..8].copy_from_slice(&self.height.to_be_bytes());
        out[8..40].copy_from_slice(self.parent.as_slice());
        out[40..48].copy_from_slice(&self.timestamp.to_be_bytes());
        out[48..80].copy_from_slice(self.body_root.as_slice());
        out[80..].copy_from_slice(self.state_root.as_slice());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, BeaconError> {
        let bytes: &[u8; HEADER_LEN] = bytes
            .try_into()
            .map_err(|_| BeaconError::Truncated("the beacon header"))?;
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        Ok(Self {
            height: u64_at(0),
            parent: B256::from_slice(&bytes[8..40]),
            timestamp: u64_at(40),
            body_root: B256::from_slice(&bytes[48..80]),
            state_root: B256::from_slice(&bytes[80..]),
        })
    }

    /// The block's hash: the consensus hash of the encoded header.
    pub fn hash(&self, suite: CryptoSuite) -> B256 {
        B256::from(suite.hash(&self.encode()))
    }
}

/// Finalized headers of one shard, consecutive, with the certificate that finalized the last
/// (which finalizes the others as its ancestors).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crosslink {
    pub shard: u32,
    pub headers: Vec<Header>,
    /// The encoded finality certificate of the last header (`kaimeng_consensus::codec`).
    pub certificate: Vec<u8>,
}

/// What a beacon block orders: governance transactions and crosslinks, with its proposer's
/// VRF proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeaconBody {
    /// The proposer's index among the epoch's members (the engine's leader of the view).
    pub proposer: u32,
    /// The proposer's ECVRF proof over `(chain id, epoch, height)` (`super::state::vrf_input`).
    pub vrf_proof: VrfProof,
    /// The governance section (`super::section`).
    pub governance: Vec<u8>,
    pub crosslinks: Vec<Crosslink>,
    /// Conflicting votes submitted against members.
    pub evidence: Vec<Evidence>,
}

impl BeaconBody {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(92 + self.governance.len());
        out.extend_from_slice(&self.proposer.to_be_bytes());
        out.extend_from_slice(&self.vrf_proof.0);
        put_chunk(&mut out, &self.governance);
        out.extend_from_slice(&(self.crosslinks.len() as u32).to_be_bytes());
        for link in &self.crosslinks {
            out.extend_from_slice(&link.shard.to_be_bytes());
            out.extend_from_slice(&(link.headers.len() as u32).to_be_bytes());
            for header in &link.headers {
                let mut rlp = Vec::new();
                header.encode(&mut rlp);
                put_chunk(&mut out, &rlp);
            }
            put_chunk(&mut out, &link.certificate);
        }
        out.extend_from_slice(&(self.evidence.len() as u32).to_be_bytes());
        for evidence in &self.evidence {
            evidence.encode(&mut out);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, BeaconError> {
        let mut reader = Reader(bytes);
        let proposer = reader.u32("the proposer")?;
        let vrf_proof = VrfProof(
            reader
                .take(PROOF_LEN, "the VRF proof")?
                .try_into()
                .expect("80 bytes"),
        );
        let governance = reader.chunk("the governance section", usize::MAX)?.to_vec();
        let count = reader.count("the crosslink count", 12)?;
        if count > MAX_CROSSLINKS {
            return Err(BeaconError::TooManyCrosslinks {
                max: MAX_CROSSLINKS,
            });
        }
        let mut crosslinks = Vec::with_capacity(count);
        for _ in 0..count {
            let shard = reader.u32("a crosslink's shard")?;
            let headers = reader.count("a crosslink's header count", 4)?;
            if headers == 0 || headers > MAX_CROSSLINK_HEADERS {
                return Err(BeaconError::CrosslinkSize {
                    shard,
                    headers,
                    max: MAX_CROSSLINK_HEADERS,
                });
            }
            let mut decoded = Vec::with_capacity(headers);
            for _ in 0..headers {
                let mut rlp = reader.chunk("a crosslinked header", usize::MAX)?;
                let header = Header::decode(&mut rlp)
                    .map_err(|e| BeaconError::CrosslinkHeader(e.to_string()))?;
                if !rlp.is_empty() {
                    return Err(BeaconError::CrosslinkHeader(
                        "trailing bytes after the header".into(),
                    ));
                }
                decoded.push(header);
            }
            let certificate = reader
                .chunk("a crosslink certificate", MAX_CERTIFICATE_BYTES)?
                .to_vec();
            crosslinks.push(Crosslink {
                shard,
                headers: decoded,
                certificate,
            });
        }
        let count = reader.count("the evidence count", 16)?;
        if count > MAX_EVIDENCE {
            return Err(BeaconError::TooMuchEvidence { max: MAX_EVIDENCE });
        }
        let mut evidence = Vec::with_capacity(count);
        for _ in 0..count {
            evidence.push(Evidence::read(&mut reader)?);
        }
        if !reader.0.is_empty() {
            return Err(BeaconError::TrailingBytes(reader.0.len()));
        }
        Ok(Self {
            proposer,
            vrf_proof,
            governance,
            crosslinks,
            evidence,
        })
    }

    pub fn root(&self, suite: CryptoSuite) -> B256 {
        B256::from(suite.hash(&self.encode()))
    }
}

/// A beacon block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BeaconBlock {
    pub header: BeaconHeader,
    pub body: BeaconBody,
}

impl BeaconBlock {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.header.encode().to_vec();
        out.extend_from_slice(&self.body.encode());
        out
    }

    /// Decodes a block and checks that its header commits to its body.
    pub fn decode(bytes: &[u8], suite: CryptoSuite) -> Result<Self, BeaconError> {
        let header = BeaconHeader::decode(
            bytes
                .get(..HEADER_LEN)
                .ok_or(BeaconError::Truncated("the beacon header"))?,
        )?;
        let body = BeaconBody::decode(&bytes[HEADER_LEN..])?;
        if body.root(suite) != header.body_root {
            return Err(BeaconError::BodyRoot);
        }
        Ok(Self { header, body })
    }

    pub fn hash(&self, suite: CryptoSuite) -> B256 {
        self.header.hash(suite)
    }
}
