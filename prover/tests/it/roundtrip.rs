//! Real proofs at a small size (one slot, k = 12): keygen, prove, verify, batch-verify,
//! rejection of truncated or corrupted proofs and bad witnesses, and the pinned verifying-key
//! fingerprint and proof size.
//!
//! Regenerate the pins only on purpose (a circuit change), with
//! `KAIMENG_PRINT_PINS=1 cargo test -p kaimeng-prover --test it roundtrip -- --nocapture`.

use std::sync::OnceLock;

use kaimeng_prover::{
    ChunkKeys, ChunkParams, ChunkProof, ChunkShape, ChunkWitness, MAX_PACK, ParamsCache,
    ProverError, WitnessError, batch_verify, proof_len, prove_chunk, prove_pack, verify_chunk,
};

use crate::support::*;

pub const SHAPE: ChunkShape = ChunkShape { slots: 1, k: 12 };

/// Pinned: Blake2b-256 of the pinned verifying key for one slot at k = 12.
const VK_FINGERPRINT: &str = "a397fa0a15836c8796b6eac4f6e36e9c2edc16c42ef71ade5595649f408c4655";
/// Pinned: proof size in bytes for this shape.
const PROOF_BYTES: usize = 5152;

pub fn setup() -> &'static (ChunkParams, ChunkKeys) {
    static SETUP: OnceLock<(ChunkParams, ChunkKeys)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = std::env::temp_dir().join("kaimeng-prover-test-params");
        let params = ParamsCache::new(dir)
            .quiet()
            .load_or_generate(SHAPE.k)
            .unwrap();
        let keys = ChunkKeys::generate(&params, SHAPE).unwrap();
        (params, keys)
    })
}

/// Two consecutive chunks.
pub fn witnesses() -> &'static Vec<ChunkWitness> {
    static WITNESSES: OnceLock<Vec<ChunkWitness>> = OnceLock::new();
    WITNESSES.get_or_init(|| {
        let mut state = funded_state(2);
        [500, 600]
            .into_iter()
            .map(|amount| {
                let op = transfer(&state, 1, 2, amount, 3);
                let chunk = apply(&mut state, SHAPE.slots, &[op]);
                evaluated(&chunk).0
            })
            .collect()
    })
}

/// Each of the two chunks proven alone.
pub fn proofs() -> &'static Vec<ChunkProof> {
    static PROOFS: OnceLock<Vec<ChunkProof>> = OnceLock::new();
    PROOFS.get_or_init(|| {
        let (params, keys) = setup();
        witnesses()
            .iter()
            .map(|w| prove_chunk(params, keys, w).unwrap())
            .collect()
    })
}

/// A pack (ADR 0114): both chunks in one proof. It binds each chunk's public inputs in order,
/// is smaller than two proofs, and batch-verifies beside single-chunk proofs.
#[test]
fn a_pack_proves_consecutive_chunks_in_one_proof_bound_to_each_chunk() {
    let (params, keys) = setup();
    let pack = prove_pack(params, keys, witnesses()).unwrap();
    let singles = proofs();
    assert_eq!(
        pack.publics,
        vec![singles[0].publics[0], singles[1].publics[0]]
    );
    verify_chunk(params, keys.vk(), &pack).unwrap();
    assert!(pack.bytes.len() < singles[0].bytes.len() + singles[1].bytes.len());
    assert_eq!(
        pack.bytes.len(),
        proof_len(2, SHAPE.k),
        "a pack's size is foretold"
    );
    batch_verify(params, keys.vk(), &[singles[0].clone(), pack.clone()]).unwrap();

    let mut swapped = pack.clone();
    swapped.publics.swap(0, 1);
    let mut changed = pack.clone();
    changed.publics[1].new_root += kaimeng_rollup::Fp::from(1);
    let mut missing = pack.clone();
    missing.publics.pop();
    let mut single_as_pack = singles[0].clone();
    single_as_pack.publics.push(singles[1].publics[0]);
    for bad in [swapped, changed, missing, single_as_pack] {
        assert!(verify_chunk(params, keys.vk(), &bad).is_err());
        match batch_verify(params, keys.vk(), &[singles[0].clone(), bad]) {
            Err(ProverError::BatchRejected { first_bad }) => assert_eq!(first_bad, Some(1)),
            other => panic!("expected a rejected batch, got {other:?}"),
        }
    }

    // A pack holds 1 to MAX_PACK chunks.
    assert!(matches!(
        prove_pack(params, keys, &[]),
        Err(ProverError::PackSize { found: 0 })
    ));
    let oversized = ChunkProof {
        publics: vec![pack.publics[0]; MAX_PACK + 1],
        bytes: pack.bytes.clone(),
    };
    assert!(matches!(
        verify_chunk(params, keys.vk(), &oversized),
        Err(ProverError::PackSize { found }) if found == MAX_PACK + 1
    ));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn prove_then_verify_single_and_batched() {
    let (params, keys) = setup();
    let proofs = proofs();
    for p in proofs {
        verify_chunk(params, keys.vk(), p).unwrap();
    }
    batch_verify(params, keys.vk(), proofs).unwrap();
}

#[test]
fn verifying_key_fingerprint_and_proof_size_are_pinned() {
    let (_, keys) = setup();
    let fingerprint = hex(&keys.fingerprint());
    let size = proofs()[0].bytes.len();
    if std::env::var("KAIMENG_PRINT_PINS").is_ok() {
        println!("VK_FINGERPRINT = {fingerprint}\nPROOF_BYTES = {size}");
    }
    assert_eq!(
        fingerprint, VK_FINGERPRINT,
        "the circuit changed: re-pin on purpose"
    );
    assert_eq!(
        size, PROOF_BYTES,
        "the proof size changed: re-pin on purpose"
    );
    assert_eq!(proof_len(1, SHAPE.k), size, "and proof_len with it");
    // Keys are deterministic.
    let again = ChunkKeys::generate(&setup().0, SHAPE).unwrap();
    assert_eq!(again.fingerprint(), keys.fingerprint());
}

#[test]
fn wrong_public_inputs_truncated_and_corrupted_proofs_are_rejected() {
    let (params, keys) = setup();
    let good = &proofs()[0];

    let mut wrong_root = good.clone();
    wrong_root.publics[0].new_root += kaimeng_rollup::Fp::from(1);
    assert!(matches!(
        verify_chunk(params, keys.vk(), &wrong_root),
        Err(ProverError::InvalidProof(_))
    ));

    for cut in [0, 1, 32, good.bytes.len() / 2, good.bytes.len() - 1] {
        let truncated = ChunkProof {
            publics: good.publics.clone(),
            bytes: good.bytes[..cut].to_vec(),
        };
        assert!(matches!(
            verify_chunk(params, keys.vk(), &truncated),
            Err(ProverError::InvalidProof(_))
        ));
    }
    let mut flipped = good.clone();
    let mid = flipped.bytes.len() / 3;
    flipped.bytes[mid] ^= 0x40;
    assert!(verify_chunk(params, keys.vk(), &flipped).is_err());

    // One bad proof spoils the batch, and the error says which.
    let batch = vec![proofs()[1].clone(), wrong_root];
    match batch_verify(params, keys.vk(), &batch) {
        Err(ProverError::BatchRejected { first_bad }) => assert_eq!(first_bad, Some(1)),
        other => panic!("expected a rejected batch, got {other:?}"),
    }
}

#[test]
fn bad_witness_is_refused_before_proving() {
    let (params, keys) = setup();
    let mut state = funded_state(2);
    let op = transfer(&state, 1, 2, 10, 1);
    let chunk = apply(&mut state, SHAPE.slots, &[op]);
    let (mut witness, _, _) = evaluated(&chunk);
    witness.slots[0].b.after.balance += kaimeng_rollup::Fp::from(1);
    match prove_chunk(params, keys, &witness) {
        Err(ProverError::Witness(WitnessError::RootMismatch { .. }))
        | Err(ProverError::Witness(WitnessError::RuleViolated { .. })) => {}
        other => panic!("expected a witness error, got {other:?}"),
    }
    witness.slots.clear();
    assert!(matches!(
        prove_chunk(params, keys, &witness),
        Err(ProverError::Witness(WitnessError::SlotCount {
            expected: 1,
            got: 0
        }))
    ));
}
