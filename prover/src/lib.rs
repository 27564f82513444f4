//! Kaimeng's rollup prover: halo2 circuits proving that a chunk of L2 slots moved the state
//! root exactly as the native model in `kaimeng-rollup` says, plus the API to prove, verify
//! and batch-verify chunk proofs, the parameter cache and a stateless prover worker.

pub mod batch_call;
pub mod circuit;
pub mod codec;
pub mod deferred;
pub mod error;
pub mod keys;
pub mod msm;
pub mod params;
pub mod proof;
pub mod witness;
pub mod worker;

pub use error::ProverError;
pub use keys::{ChunkKeys, ChunkShape, ChunkVerifyingKey, generate_vk, vk_fingerprint};
pub use params::{ChunkParams, ParamsCache};
pub use proof::{
    ChunkProof, MAX_PACK, batch_verify, proof_len, prove_chunk, prove_pack, verify_chunk,
};
pub use witness::{ChunkWitness, PublicInputs, WitnessError};
pub use worker::{DirQueue, JobQueue, WorkerConfig, run as run_worker};
