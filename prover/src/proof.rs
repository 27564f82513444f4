//! Proving chunks, verifying one proof, and batch-verifying many.
//!
//! One proof covers a *pack*: one chunk or several consecutive ones (ADR 0114). halo2 proves
//! several instances of one circuit in one transcript, so the chunks of a pack share the
//! quotient polynomial, the multi-point opening and the inner-product argument. Verifying a
//! pack costs one chunk's share of the curve and vector work plus a little per chunk.

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

/// Most chunks one proof covers. A pack's prover holds every chunk's polynomials at once, so
/// memory grows with the pack; sixteen production chunks need about 16 GiB.
pub const MAX_PACK: usize = 16;

/// A proof of a pack of consecutive chunks with the public inputs it proves, one set per
/// chunk in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkProof {
    /// The public inputs of each chunk.
    pub publics: Vec<PublicInputs>,
    /// The halo2 proof bytes.
    pub bytes: Vec<u8>,
}

impl ChunkProof {
    /// The instance columns halo2 takes: one column of public inputs per chunk.
    fn instances(&self) -> Vec<Vec<Vec<Fp>>> {
        PublicInputs::digests(&self.publics)
            .into_iter()
            .map(|digest| vec![vec![digest]])
            .collect()
    }

    /// Checks the pack size before halo2 sees it.
    fn check_size(&self) -> Result<(), ProverError> {
        pack_size(self.publics.len())
    }

    /// Runs `verify` on the proof's transcript and instances, as halo2's `verify_proof` takes
    /// them, once the pack size is checked.
    pub(crate) fn with_transcript<R>(
        &self,
        verify: impl FnOnce(
            &[&[&[Fp]]],
            &mut Blake2bRead<&[u8], vesta::Affine, Challenge255<vesta::Affine>>,
        ) -> R,
    ) -> Result<R, ProverError> {
        self.check_size()?;
        let digests = PublicInputs::digests(&self.publics);
        let columns: Vec<[&[Fp]; 1]> = digests
            .iter()
            .map(std::slice::from_ref)
            .map(|c| [c])
            .collect();
        let instances: Vec<&[&[Fp]]> = columns.iter().map(|c| &c[..]).collect();
        let mut transcript = Blake2bRead::init(&self.bytes[..]);
        Ok(verify(&instances, &mut transcript))
    }
}

/// Bytes of a proof of a pack of `chunks` chunks at `k`. The circuit's columns, gates, lookups
/// and permutation do not depend on its shape, so the layout of halo2's transcript fixes the
/// size: per chunk, its advice commitments and evaluations, lookup and permutation products
/// (2,400 bytes); once per proof, the vanishing argument, the fixed and permutation
/// evaluations and the multi-point opening (1,984 bytes), and the inner-product argument's
/// two points per round (64 bytes for each of `k` rounds). The tests pin it against real
/// proofs.
pub const fn proof_len(chunks: usize, k: u32) -> usize {
    1_984 + 2_400 * chunks + 64 * k as usize
}

fn pack_size(chunks: usize) -> Result<(), ProverError> {
    if (1..=MAX_PACK).contains(&chunks) {
        Ok(())
    } else {
        Err(ProverError::PackSize { found: chunks })
    }
}

/// Proves one chunk.
pub fn prove_chunk(
    params: &ChunkParams,
    keys: &ChunkKeys,
    witness: &ChunkWitness,
) -> Result<ChunkProof, ProverError> {
    prove_pack(params, keys, std::slice::from_ref(witness))
}

/// Proves a pack of chunks in one proof. Each witness is evaluated natively first, so a
/// witness that breaks a rule is refused with that rule's name instead of producing a proof
/// that fails. The chunks are proven as given; that they follow one another is for the
/// verifier's public inputs to require.
pub fn prove_pack(
    params: &ChunkParams,
    keys: &ChunkKeys,
    witnesses: &[ChunkWitness],
) -> Result<ChunkProof, ProverError> {
    pack_size(witnesses.len())?;
    if params.k() != keys.shape.k {
        return Err(ProverError::KMismatch {
            params: params.k(),
            keys: keys.shape.k,
        });
    }
    let mut publics = Vec::with_capacity(witnesses.len());
    let mut circuits = Vec::with_capacity(witnesses.len());
    for witness in witnesses {
        let values = witness.evaluate(keys.shape.slots)?;
        publics.push(values.public);
        circuits.push(ChunkCircuit::from_values(keys.shape.slots, values));
    }
    let digests = PublicInputs::digests(&publics);
    let columns: Vec<[&[Fp]; 1]> = digests
        .iter()
        .map(std::slice::from_ref)
        .map(|c| [c])
        .collect();
    let instances: Vec<&[&[Fp]]> = columns.iter().map(|c| &c[..]).collect();
    let mut transcript = Blake2bWrite::<_, vesta::Affine, Challenge255<_>>::init(vec![]);
    create_proof(
        params,
        &keys.pk,
        &circuits,
        &instances,
        rand_core::UnwrapErr(rand::rngs::SysRng),
        &mut transcript,
    )
    .map_err(|e| ProverError::Halo2 {
        stage: "proving",
        detail: format!("{e:?}"),
    })?;
    Ok(ChunkProof {
        publics,
        bytes: transcript.finalize(),
    })
}

/// Verifies one proof (of a pack of any size up to [`MAX_PACK`]).
pub fn verify_chunk(
    params: &ChunkParams,
    vk: &VerifyingKey<vesta::Affine>,
    proof: &ChunkProof,
) -> Result<(), ProverError> {
    proof
        .with_transcript(|instances, transcript| {
            verify_proof(
                params,
                vk,
                SingleVerifier::new(params),
                instances,
                transcript,
            )
        })?
        .map_err(|e| ProverError::InvalidProof(format!("{e:?}")))
}

/// Verifies many proofs together: one multi-scalar multiplication for all of them.
/// On failure, finds the first proof that fails alone.
pub fn batch_verify(
    params: &ChunkParams,
    vk: &VerifyingKey<vesta::Affine>,
    proofs: &[ChunkProof],
) -> Result<(), ProverError> {
    let mut batch = BatchVerifier::new();
    for p in proofs {
        p.check_size()?;
        batch.add_proof(p.instances(), p.bytes.clone());
    }
    if batch.finalize(params, vk) {
        return Ok(());
    }
    let first_bad = proofs
        .iter()
        .position(|p| verify_chunk(params, vk, p).is_err());
    Err(ProverError::BatchRejected { first_bad })
}
