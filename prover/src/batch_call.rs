//! The bridge's batch verification call: the bytes shard 0's batch-verify precompile takes
//! and the check it makes. A batch is the chain of its chunks. For each chunk the call carries
//! the state root and queue hash after it, its published data and its proof; the batch
//! carries the chain id, the fee account, and the root and queue hash it starts from. The
//! check recomputes each chunk's data commitment from its published data, so a proof of other
//! data fails. It chains the chunks root to root and queue hash to queue hash, and
//! batch-verifies all proofs in one multi-scalar multiplication.
//!
//! A proof may cover several consecutive chunks (a pack, ADR 0114): the chunks after its first
//! carry an empty proof, which means "proven by the last non-empty proof before me". The first
//! chunk must carry a proof, and a pack covers at most [`MAX_PACK`] chunks.
//!
//! The call ends with each proof's IPA claim, concatenated (ADR 0114): the proofs are checked
//! with those claims taken as given, and the bridge has the claims decided later, many batches
//! at once, in steps that each fit a transaction ([`DecideStepCall`]).
//!
//! Layout, in 32-byte big-endian words (see [`kaimeng_rollup::bridge_calls`]):
//!
//! ```text
//! chain id | fee account | old root | queue before | chunk count |
//! per chunk: new root | queue after | data length | data bytes | proof length | proof bytes
//! claims length | claims bytes
//! ```
//!
//! Lengths are words; the byte strings follow them unpadded (Solidity's `abi.encodePacked`
//! of `uint256, bytes`).

use group::GroupEncoding;
use halo2_proofs::plonk::VerifyingKey;
use kaimeng_rollup::Fp;
use kaimeng_rollup::bridge_calls::{
    CallError, WORD, fp_from_word, uint_from_word, word_of_fp, word_of_uint,
};
use kaimeng_rollup::tx::{PubdataError, data_commitments, parse_pubdata};
use pasta_curves::vesta;

use crate::deferred::{
    Claim, DecisionStep, claim_of, decide_step, decision_weights, verify_with_claims,
};
use crate::params::ChunkParams;
use crate::proof::{ChunkProof, MAX_PACK};
use crate::witness::PublicInputs;

/// Most chunks one call verifies.
pub const MAX_CHUNKS: usize = 64;
/// Largest proof accepted (a default-shape proof is about 5.4 KiB for one chunk plus 3 KiB for
/// each further chunk of its pack).
pub const MAX_PROOF_BYTES: usize = 1 << 17;
/// Largest published data of one chunk (a slot publishes at most 32 bytes).
pub const MAX_DATA_BYTES: usize = 1 << 16;
/// Largest claims section: a claim per chunk at most, of 32 bytes per challenge and one more
/// for the point, at `k` up to 24.
pub const MAX_CLAIMS_BYTES: usize = MAX_CHUNKS * 32 * 25;

/// One chunk of a batch call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkCall {
    pub new_root: Fp,
    pub queue_after: Fp,
    pub data: Vec<u8>,
    pub proof: Vec<u8>,
}

/// A decoded batch call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchCall {
    pub chain_id: u64,
    pub fee_account: u32,
    pub old_root: Fp,
    pub queue_before: Fp,
    pub chunks: Vec<ChunkCall>,
    /// Each proof's IPA claim ([`Claim::to_bytes`]), concatenated in proof order.
    pub claims: Vec<u8>,
}

/// Why a batch call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchCallError {
    #[error("input ends inside {0}")]
    Truncated(&'static str),
    #[error("{0} trailing bytes after the last chunk")]
    Trailing(usize),
    #[error("{found} chunks; a call carries 1 to {MAX_CHUNKS}")]
    ChunkCount { found: u64 },
    #[error("chunk {chunk}: {what} of {found} bytes is over the limit of {limit}")]
    TooLong {
        chunk: usize,
        what: &'static str,
        found: u64,
        limit: usize,
    },
    #[error("{0}")]
    Word(#[from] CallError),
    #[error("chunk {chunk}: published data: {error}")]
    Data { chunk: usize, error: PubdataError },
    #[error("chunk 0 carries no proof: an empty proof joins the pack of the chunk before")]
    NoFirstProof,
    #[error("chunk {chunk}: its pack would cover more than {MAX_PACK} chunks")]
    PackTooLarge { chunk: usize },
    #[error("claims: {0}")]
    Claims(String),
    #[error("the proofs do not verify: {0}")]
    Proofs(String),
}

/// Reads words and byte strings from the front of an input.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], BatchCallError> {
        if self.rest.len() < len {
            return Err(BatchCallError::Truncated(what));
        }
        let (head, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(head)
    }

    fn word(&mut self, what: &'static str) -> Result<&'a [u8; WORD], BatchCallError> {
        Ok(self.take(WORD, what)?.try_into().expect("a word"))
    }

    fn fp(&mut self, what: &'static str) -> Result<Fp, BatchCallError> {
        Ok(fp_from_word(self.word(what)?, what)?)
    }

    fn uint(&mut self, bits: u32, what: &'static str) -> Result<u64, BatchCallError> {
        Ok(uint_from_word(self.word(what)?, bits, what)?)
    }

    /// A length word, then that many bytes (at most `limit`).
    fn bytes(
        &mut self,
        chunk: usize,
        limit: usize,
        what: &'static str,
    ) -> Result<Vec<u8>, BatchCallError> {
        let len = self.uint(64, what)?;
        if len > limit as u64 {
            return Err(BatchCallError::TooLong {
                chunk,
                what,
                found: len,
                limit,
            });
        }
        Ok(self.take(len as usize, what)?.to_vec())
    }
}

impl BatchCall {
    pub fn decode(input: &[u8]) -> Result<Self, BatchCallError> {
        let mut reader = Reader { rest: input };
        let chain_id = reader.uint(64, "chain id")?;
        let fee_account = reader.uint(32, "fee account")? as u32;
        let old_root = reader.fp("old root")?;
        let queue_before = reader.fp("queue before")?;
        let count = reader.uint(64, "chunk count")?;
        if count == 0 || count > MAX_CHUNKS as u64 {
            return Err(BatchCallError::ChunkCount { found: count });
        }
        let mut chunks = Vec::with_capacity(count as usize);
        for chunk in 0..count as usize {
            chunks.push(ChunkCall {
                new_root: reader.fp("new root")?,
                queue_after: reader.fp("queue after")?,
                data: reader.bytes(chunk, MAX_DATA_BYTES, "data")?,
                proof: reader.bytes(chunk, MAX_PROOF_BYTES, "proof")?,
            });
        }
        let claims = reader.bytes(count as usize, MAX_CLAIMS_BYTES, "claims")?;
        if !reader.rest.is_empty() {
            return Err(BatchCallError::Trailing(reader.rest.len()));
        }
        Ok(Self {
            chain_id,
            fee_account,
            old_root,
            queue_before,
            chunks,
            claims,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = [
            word_of_uint(self.chain_id),
            word_of_uint(u64::from(self.fee_account)),
            word_of_fp(self.old_root),
            word_of_fp(self.queue_before),
            word_of_uint(self.chunks.len() as u64),
        ]
        .concat();
        for chunk in &self.chunks {
            out.extend_from_slice(&word_of_fp(chunk.new_root));
            out.extend_from_slice(&word_of_fp(chunk.queue_after));
            out.extend_from_slice(&word_of_uint(chunk.data.len() as u64));
            out.extend_from_slice(&chunk.data);
            out.extend_from_slice(&word_of_uint(chunk.proof.len() as u64));
            out.extend_from_slice(&chunk.proof);
        }
        out.extend_from_slice(&word_of_uint(self.claims.len() as u64));
        out.extend_from_slice(&self.claims);
        out
    }

    /// Each proof with the public inputs it must prove: those of the chunks of its pack,
    /// chained from the batch's old root and queue hash, each with the data commitment of the
    /// chunk's published data.
    pub fn chunk_proofs(&self, slots: usize) -> Result<Vec<ChunkProof>, BatchCallError> {
        let data = self
            .chunks
            .iter()
            .enumerate()
            .map(|(index, chunk)| {
                parse_pubdata(&chunk.data, slots).map_err(|error| BatchCallError::Data {
                    chunk: index,
                    error,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let commitments = data_commitments(&data);
        let mut root = self.old_root;
        let mut queue = self.queue_before;
        let mut proofs: Vec<ChunkProof> = Vec::new();
        for (index, (chunk, commitment)) in self.chunks.iter().zip(commitments).enumerate() {
            let public = PublicInputs {
                old_root: root,
                new_root: chunk.new_root,
                data_commitment: commitment,
                queue_before: queue,
                queue_after: chunk.queue_after,
                chain_id: self.chain_id,
                fee_account: self.fee_account,
            };
            if chunk.proof.is_empty() {
                let pack = proofs.last_mut().ok_or(BatchCallError::NoFirstProof)?;
                if pack.publics.len() == MAX_PACK {
                    return Err(BatchCallError::PackTooLarge { chunk: index });
                }
                pack.publics.push(public);
            } else {
                proofs.push(ChunkProof {
                    publics: vec![public],
                    bytes: chunk.proof.clone(),
                });
            }
            root = chunk.new_root;
            queue = chunk.queue_after;
        }
        Ok(proofs)
    }

    /// The prover's side: the claims of this call's proofs, concatenated, for
    /// [`BatchCall::claims`]. Each proof is checked in full on the way.
    pub fn compute_claims(
        &self,
        params: &ChunkParams,
        vk: &VerifyingKey<vesta::Affine>,
        slots: usize,
    ) -> Result<Vec<u8>, BatchCallError> {
        let mut out = Vec::new();
        for (index, proof) in self.chunk_proofs(slots)?.iter().enumerate() {
            let claim = claim_of(params, vk, proof)
                .map_err(|e| BatchCallError::Proofs(format!("proof {index}: {e}")))?;
            out.extend(claim.to_bytes());
        }
        Ok(out)
    }

    /// How many proofs the call carries (chunks with a non-empty proof).
    pub fn proof_count(&self) -> usize {
        self.chunks.iter().filter(|c| !c.proof.is_empty()).count()
    }

    /// The root and queue hash the batch ends at.
    pub fn end(&self) -> (Fp, Fp) {
        self.chunks
            .last()
            .map_or((self.old_root, self.queue_before), |last| {
                (last.new_root, last.queue_after)
            })
    }
}

/// Checks the batch call in `input` against the verifying key of `slots`-slot chunks. On
/// success returns the root and queue hash the batch ends at, as two words, for the bridge
/// to compare with what was committed.
pub fn verify_batch_call(
    params: &ChunkParams,
    vk: &VerifyingKey<vesta::Affine>,
    slots: usize,
    input: &[u8],
) -> Result<[u8; 2 * WORD], BatchCallError> {
    verify_call(params, vk, slots, &BatchCall::decode(input)?)
}

/// [`verify_batch_call`] on a call already decoded.
pub fn verify_call(
    params: &ChunkParams,
    vk: &VerifyingKey<vesta::Affine>,
    slots: usize,
    call: &BatchCall,
) -> Result<[u8; 2 * WORD], BatchCallError> {
    let proofs = call.chunk_proofs(slots)?;
    let claims = parse_claims(params.k(), &call.claims, Some(proofs.len()), true)?;
    verify_with_claims(params, vk, &proofs, &claims)
        .map_err(|e| BatchCallError::Proofs(e.to_string()))?;
    let (root, queue) = call.end();
    let mut out = [0; 2 * WORD];
    out[..WORD].copy_from_slice(&word_of_fp(root));
    out[WORD..].copy_from_slice(&word_of_fp(queue));
    Ok(out)
}

/// Splits concatenated claims of `2^k`-row proofs, `expected` of them if given; their points
/// are left as the identity unless `with_points`.
fn parse_claims(
    k: u32,
    bytes: &[u8],
    expected: Option<usize>,
    with_points: bool,
) -> Result<Vec<Claim>, BatchCallError> {
    let size = 32 * (1 + k as usize);
    if bytes.is_empty() || bytes.len() % size != 0 {
        return Err(BatchCallError::Claims(format!(
            "{} bytes is not a whole number of {size}-byte claims",
            bytes.len()
        )));
    }
    let count = bytes.len() / size;
    if let Some(expected) = expected.filter(|e| *e != count) {
        return Err(BatchCallError::Claims(format!(
            "{count} claims for {expected} proofs"
        )));
    }
    bytes
        .chunks(size)
        .enumerate()
        .map(|(i, c)| {
            let claim = if with_points {
                Claim::from_bytes(k, c)
            } else {
                Claim::challenges_from_bytes(k, c)
            };
            claim.map_err(|e| BatchCallError::Claims(format!("claim {i}: {e}")))
        })
        .collect()
}

/// One step of the claim decider (`0x…0b04`, ADR 0114): the claims of every batch being
/// decided, and where the decision stands.
///
/// ```text
/// steps | step | partial sum (32-byte compressed point; the identity, all zeros, at step 0) |
/// claims of 2^k-row proofs, concatenated
/// ```
///
/// `steps` and `step` are words. The answer is one 32-byte string: the new partial sum, or at
/// the last step a word that is 1 if every claim holds and 0 if one is false.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecideStepCall {
    pub steps: u64,
    pub step: u64,
    pub partial: [u8; WORD],
    pub claims: Vec<u8>,
}

impl DecideStepCall {
    /// The first step of deciding `claims` in `steps` steps.
    pub fn first(steps: u64, claims: Vec<u8>) -> Self {
        Self {
            steps,
            step: 0,
            partial: [0; WORD],
            claims,
        }
    }

    pub fn decode(input: &[u8]) -> Result<Self, BatchCallError> {
        let mut reader = Reader { rest: input };
        let steps = reader.uint(32, "steps")?;
        let step = reader.uint(32, "step")?;
        let partial = *reader.word("partial sum")?;
        Ok(Self {
            steps,
            step,
            partial,
            claims: reader.rest.to_vec(),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 * WORD + self.claims.len());
        out.extend_from_slice(&word_of_uint(self.steps));
        out.extend_from_slice(&word_of_uint(self.step));
        out.extend_from_slice(&self.partial);
        out.extend_from_slice(&self.claims);
        out
    }

    /// The call of the next step, given this one's answer.
    pub fn next(&self, answer: [u8; WORD]) -> Self {
        Self {
            step: self.step + 1,
            partial: answer,
            ..self.clone()
        }
    }

    /// Whether this is the decision's last step, whose answer is the verdict.
    pub fn is_last(&self) -> bool {
        self.step + 1 == self.steps
    }

    /// Runs the step: the answer, or why the input is refused.
    pub fn run(&self, params: &ChunkParams) -> Result<[u8; WORD], BatchCallError> {
        // Only the first step weighs the claimed points (decide_step).
        let claims = parse_claims(params.k(), &self.claims, None, self.step == 0)?;
        let weights = decision_weights(&self.claims, claims.len());
        let partial = Option::from(vesta::Point::from_bytes(&self.partial))
            .ok_or_else(|| BatchCallError::Claims("the partial sum is not a point".into()))?;
        let step = decide_step(
            params,
            &claims,
            &weights,
            self.steps as usize,
            self.step as usize,
            partial,
        )
        .map_err(|e| BatchCallError::Claims(e.to_string()))?;
        Ok(match step {
            DecisionStep::Partial(sum) => sum.to_bytes(),
            DecisionStep::Decided(holds) => word_of_uint(u64::from(holds)),
        })
    }
}

/// The claim decider's check in one call: `Ok(true)` if every claim in `claims` (of `2^k`-row
/// proofs, concatenated) holds, `Ok(false)` if one is false, an error if they are not claims.
pub fn decide_claims(params: &ChunkParams, claims: &[u8]) -> Result<bool, BatchCallError> {
    let answer = DecideStepCall::first(1, claims.to_vec()).run(params)?;
    Ok(answer[WORD - 1] == 1)
}
