//! The prover's errors.

use std::path::PathBuf;

use crate::witness::WitnessError;

/// Everything that can go wrong when setting up, proving or verifying.
#[derive(Debug, thiserror::Error)]
pub enum ProverError {
    /// The witness breaks a rule of the circuit (nothing was proven).
    #[error("bad witness: {0}")]
    Witness(#[from] WitnessError),
    /// A parameter file exists but is not a valid parameter file for this `k`.
    #[error("corrupted parameter file {path}: {reason}")]
    CorruptParams {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `k` is outside the supported range, or too small for the chunk.
    #[error("k = {k} cannot hold a chunk of {slots} slots (needs {needed} rows, has {available})")]
    ChunkTooLarge {
        /// Parameter size.
        k: u32,
        /// Slots per chunk.
        slots: usize,
        /// Rows the chunk needs.
        needed: usize,
        /// Usable rows at this `k`.
        available: usize,
    },
    /// `k` is outside what this crate supports.
    #[error("unsupported k = {0} (supported: {min}..={max})", min = crate::params::MIN_K, max = crate::params::MAX_K)]
    UnsupportedK(u32),
    /// A proof must cover 1 to [`crate::proof::MAX_PACK`] chunks.
    #[error("a proof covers {found} chunks; it must cover 1 to {max}", max = crate::proof::MAX_PACK)]
    PackSize {
        /// Chunks given.
        found: usize,
    },
    /// The parameters were made for another `k` than the keys.
    #[error("parameters are for k = {params}, the keys for k = {keys}")]
    KMismatch {
        /// k of the parameters.
        params: u32,
        /// k of the keys.
        keys: u32,
    },
    /// halo2 refused to build keys or a proof.
    #[error("halo2 {stage} failed: {detail}")]
    Halo2 {
        /// keygen or proving.
        stage: &'static str,
        /// halo2's error.
        detail: String,
    },
    /// The proof does not verify (or cannot be parsed: truncated, corrupted).
    #[error("proof rejected: {0}")]
    InvalidProof(String),
    /// A batch of proofs does not verify; `first_bad` is the first proof that fails alone.
    #[error("batch rejected; first failing proof: {first_bad:?}")]
    BatchRejected {
        /// Index of the first proof that fails on its own, if any does.
        first_bad: Option<usize>,
    },
    /// An encoded proof or job could not be decoded.
    #[error("cannot decode {what}: {reason}")]
    Decode {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// The job queue failed.
    #[error("job queue: {0}")]
    Queue(String),
}
