//! Evidence of a fault: two conflicting consensus votes signed with one consensus key, on the
//! beacon chain or on any shard. Anyone may submit it; the beacon chain records it against the
//! member who holds the key, and governance may then remove that member.
//!
//! Encoding: `chain (4, u32::MAX for the beacon chain) ‖ key length (4) ‖ key ‖ first vote
//! length (4) ‖ first vote ‖ second vote length (4) ‖ second vote`, each vote a consensus
//! message (`kaimeng_consensus::codec`) holding one signed vote.

use kaimeng_consensus::codec::{decode_message, encode_message};
use kaimeng_consensus::messages::{Message, SignedVote};
use kaimeng_consensus::signing::signing_bytes;
use kaimeng_crypto::CryptoSuite;
use serde::Serialize;

use super::bytes::{Reader, put_chunk};
use super::{BEACON_NAMESPACE, BeaconError, shard_namespace};

/// Most pieces of evidence in one beacon block.
pub const MAX_EVIDENCE: usize = 16;
/// How many evidence records the beacon state keeps (the newest; older ones stay in blocks).
pub const KEPT_EVIDENCE: usize = 256;
/// The chain code of the beacon chain.
pub const BEACON_CHAIN: u32 = u32::MAX;

/// Two conflicting votes signed with `key` in `chain`'s consensus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// A shard number, or [`BEACON_CHAIN`].
    pub chain: u32,
    /// The consensus public key both votes are signed with.
    pub key: Vec<u8>,
    pub first: SignedVote,
    pub second: SignedVote,
}

/// A recorded fault, as the beacon state keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EvidenceRecord {
    /// The beacon height that recorded it.
    pub height: u64,
    pub organisation: String,
    pub chain: u32,
    pub epoch: u64,
    pub view: u64,
}

impl Evidence {
    pub fn namespace(&self) -> Vec<u8> {
        if self.chain == BEACON_CHAIN {
            BEACON_NAMESPACE.to_vec()
        } else {
            shard_namespace(self.chain)
        }
    }

    /// Checks that the two votes conflict and that `key` signed both.
    pub fn check(&self, suite: CryptoSuite) -> Result<(), BeaconError> {
        if !self.first.vote.conflicts_with(&self.second.vote) {
            return Err(BeaconError::Evidence(
                "the two votes do not conflict (a fault is two different notarize or finalize \
                 votes, or a nullify and a finalize, in one view)"
                    .into(),
            ));
        }
        let key = suite
            .public_key_from_bytes(&self.key)
            .map_err(|e| BeaconError::Evidence(format!("the key: {e}")))?;
        let namespace = self.namespace();
        for (which, signed) in [("first", &self.first), ("second", &self.second)] {
            let signature = suite
                .signature_from_bytes(&signed.signature.0)
                .map_err(|e| BeaconError::Evidence(format!("the {which} vote's signature: {e}")))?;
            key.verify(&signing_bytes(&namespace, &signed.vote), &signature)
                .map_err(|_| {
                    BeaconError::Evidence(format!("the {which} vote is not signed by the key"))
                })?;
        }
        Ok(())
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.chain.to_be_bytes());
        put_chunk(out, &self.key);
        for signed in [&self.first, &self.second] {
            put_chunk(out, &encode_message(&Message::Vote(signed.clone())));
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self, BeaconError> {
        let chain = r.u32("evidence's chain")?;
        let key = r.chunk("evidence's key", 1024)?.to_vec();
        let mut vote = |which: &'static str| -> Result<SignedVote, BeaconError> {
            match decode_message(r.chunk(which, 4096)?) {
                Ok(Message::Vote(signed)) => Ok(signed),
                Ok(_) => Err(BeaconError::Evidence(format!("{which} is not a vote"))),
                Err(e) => Err(BeaconError::Evidence(format!("{which}: {e}"))),
            }
        };
        let first = vote("evidence's first vote")?;
        let second = vote("evidence's second vote")?;
        Ok(Self {
            chain,
            key,
            first,
            second,
        })
    }

    /// Decodes one piece of evidence (all of `bytes`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BeaconError> {
        let mut reader = Reader(bytes);
        let evidence = Self::read(&mut reader)?;
        if !reader.0.is_empty() {
            return Err(BeaconError::Evidence(format!(
                "{} bytes after the end of the evidence",
                reader.0.len()
            )));
        }
        Ok(evidence)
    }
}
