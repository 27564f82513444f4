//! Proving one chunk, verifying one proof, and batch-verifying many.

use halo2_proofs::plonk::{
    BatchVerifier, SingleVerifier, VerifyingKey, create_proof, verify_proof,
};
use halo2_proofs::transcript::{Blake2bRead, Blake2bWrite, Challenge255};
use kaimeng_rollup::Fp;
use pasta_curves::vesta;

use crate::circuit::ChunkCircuit;
use crate::error::ProverError;
use crate::keys::ChunkKeys;
use crate::params::ChunkParams;
use crate::witness::{ChunkWitness, PublicInputs};

/// A proof of one chunk with the public inputs it proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkProof {
    /// The public inputs.
    pub public: PublicInputs,
    /// The halo2 proof bytes.
    pub bytes: Vec<u8>,
}

/// Proves `witness` with `keys`. The witness is evaluated natively first, so a witness that
/// breaks a rule is refused with that rule's name instead of producing a proof that fails.
pub fn prove_chunk(
    params: &ChunkParams,
    keys: &ChunkKeys,
    witness: &ChunkWitness,
) -> Result<ChunkProof, ProverError> {
    if params.k() != keys.shape.k {
        return Err(ProverError::KMismatch {
            params: params.k(),
            keys: keys.shape.k,
        });
    }
    let values = witness.evaluate(keys.shape.slots)?;
    let public = values.public;
    let circuit = ChunkCircuit::from_values(keys.shape.slots, values);
    let instance = public.to_vec();
    let mut transcript = Blake2bWrite::<_, vesta::Affine, Challenge255<_>>::init(vec![]);
    create_proof(
        params,
        &keys.pk,
        &[circuit],
        &[&[&instance]],
        rand_core::UnwrapErr(rand::rngs::SysRng),
        &mut transcript,
    )
    .map_err(|e| ProverError::Halo2 {
        stage: "proving",
        detail: format!("{e:?}"),
    })?;
    Ok(ChunkProof {
        public,
        bytes: transcript.finalize(),
    })
}

/// Verifies one chunk proof.
pub fn verify_chunk(
    params: &ChunkParams,
    vk: &VerifyingKey<vesta::Affine>,
    proof: &ChunkProof,
) -> Result<(), ProverError> {
    let instance = proof.public.to_vec();
    let mut transcript = Blake2bRead::<_, vesta::Affine, Challenge255<_>>::init(&proof.bytes[..]);
    verify_proof(
        params,
        vk,
        SingleVerifier::new(params),
        &[&[&instance]],
        &mut transcript,
    )
    .map_err(|e| ProverError::InvalidProof(format!("{e:?}")))
}

/// Verifies many chunk proofs together: one multi-scalar multiplication for all of them.
/// On failure, finds the first proof that fails alone.
pub fn batch_verify(
    params: &ChunkParams,
    vk: &VerifyingKey<vesta::Affine>,
    proofs: &[ChunkProof],
) -> Result<(), ProverError> {
    let mut batch = BatchVerifier::new();
    for p in proofs {
        let instance: Vec<Vec<Vec<Fp>>> = vec![vec![p.public.to_vec()]];
        batch.add_proof(instance, p.bytes.clone());
    }
    if batch.finalize(params, vk) {
        return Ok(());
    }
    let first_bad = proofs
        .iter()
        .position(|p| verify_chunk(params, vk, p).is_err());
    Err(ProverError::BatchRejected { first_bad })
}
