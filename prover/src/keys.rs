//! Proving and verifying keys of the chunk circuit for a chunk shape, and the verifying-key
//! fingerprint that pins the circuit.
//!
//! The fingerprint is Blake2b-256 over halo2's pinned description of the verifying key (the
//! constraint system, the fixed and permutation commitments, the domain): any change to the
//! circuit or to the parameters changes it, so a pinned value in the tests makes every such
//! change deliberate.

use halo2_proofs::plonk::{ProvingKey, VerifyingKey, keygen_pk, keygen_vk};
use pasta_curves::vesta;

use crate::circuit::ChunkCircuit;
use crate::error::ProverError;
use crate::params::ChunkParams;

/// How many slots a chunk has and the size of the circuit that proves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChunkShape {
    /// Slots per chunk.
    pub slots: usize,
    /// log2 of the circuit's rows.
    pub k: u32,
}

/// Rows one slot takes (Poseidon region, signature check, rules, range checks).
pub const ROWS_PER_SLOT: usize = 1_140;
/// Rows a chunk takes besides its slots (the fee credit and its range check, 487, and the
/// claims' digest, 43).
pub const ROWS_PER_CHUNK: usize = 530;
/// Rows halo2 reserves at the end of the domain for blinding (upper bound for this circuit).
pub const RESERVED_ROWS: usize = 16;

impl ChunkShape {
    /// The production shape: 57 slots at `k = 16` (the most that fit).
    pub const DEFAULT: ChunkShape = ChunkShape { slots: 57, k: 16 };

    /// The largest shape that fits in `2^k` rows.
    pub fn max_for_k(k: u32) -> ChunkShape {
        let usable = (1usize << k).saturating_sub(RESERVED_ROWS + ROWS_PER_CHUNK);
        ChunkShape {
            slots: usable / ROWS_PER_SLOT,
            k,
        }
    }

    /// Rows this shape uses.
    pub fn rows(&self) -> usize {
        self.slots * ROWS_PER_SLOT + ROWS_PER_CHUNK
    }

    /// Checks that the chunk fits in `2^k` rows and that `k` is supported.
    pub fn validate(&self) -> Result<(), ProverError> {
        if !(crate::params::MIN_K..=crate::params::MAX_K).contains(&self.k) {
            return Err(ProverError::UnsupportedK(self.k));
        }
        let available = (1usize << self.k).saturating_sub(RESERVED_ROWS);
        if self.slots == 0 || self.rows() > available {
            return Err(ProverError::ChunkTooLarge {
                k: self.k,
                slots: self.slots,
                needed: self.rows(),
                available,
            });
        }
        Ok(())
    }
}

/// The verifying key of a chunk shape (what a verifier needs, without the proving key).
pub type ChunkVerifyingKey = VerifyingKey<vesta::Affine>;

/// The verifying key of `shape` from `params` alone (deterministic, and much cheaper than
/// [`ChunkKeys::generate`], which also makes the proving key).
pub fn generate_vk(
    params: &ChunkParams,
    shape: ChunkShape,
) -> Result<ChunkVerifyingKey, ProverError> {
    check_shape(params, shape)?;
    keygen_vk(params, &ChunkCircuit::shape(shape.slots)).map_err(|e| ProverError::Halo2 {
        stage: "key generation",
        detail: format!("{e:?}"),
    })
}

fn check_shape(params: &ChunkParams, shape: ChunkShape) -> Result<(), ProverError> {
    shape.validate()?;
    if params.k() != shape.k {
        return Err(ProverError::KMismatch {
            params: params.k(),
            keys: shape.k,
        });
    }
    Ok(())
}

/// Keys for one chunk shape.
#[derive(Clone, Debug)]
pub struct ChunkKeys {
    /// The shape.
    pub shape: ChunkShape,
    /// Proving key (contains the verifying key).
    pub pk: ProvingKey<vesta::Affine>,
}

impl ChunkKeys {
    /// Generates the keys of `shape` from `params` (deterministic: same inputs, same keys).
    pub fn generate(params: &ChunkParams, shape: ChunkShape) -> Result<Self, ProverError> {
        let vk = generate_vk(params, shape)?;
        let pk = keygen_pk(params, vk, &ChunkCircuit::shape(shape.slots)).map_err(|e| {
            ProverError::Halo2 {
                stage: "key generation",
                detail: format!("{e:?}"),
            }
        })?;
        Ok(Self { shape, pk })
    }

    /// The verifying key.
    pub fn vk(&self) -> &VerifyingKey<vesta::Affine> {
        self.pk.get_vk()
    }

    /// The verifying-key fingerprint.
    pub fn fingerprint(&self) -> [u8; 32] {
        vk_fingerprint(self.vk())
    }
}

/// Blake2b-256 of the pinned verifying key.
pub fn vk_fingerprint(vk: &VerifyingKey<vesta::Affine>) -> [u8; 32] {
    let pinned = format!("{:?}", vk.pinned());
    let h = blake2b_simd::Params::new()
        .hash_length(32)
        .personal(b"Kaimeng-VK-Fprnt")
        .hash(pinned.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(h.as_bytes());
    out
}
