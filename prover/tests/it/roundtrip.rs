//! Real proofs at a small size (one slot, k = 12): keygen, prove, verify, batch-verify,
//! rejection of truncated or corrupted proofs and bad witnesses, and the pinned verifying-key
//! fingerprint and proof size.
//!
//! Regenerate the pins only on purpose (a circuit change), with
//! `KAIMENG_PRINT_PINS=1 cargo test -p kaimeng-prover --test it roundtrip -- --nocapture`.

use std::sync::OnceLock;

use kaimeng_prover::{
    ChunkKeys, ChunkParams, ChunkProof, ChunkShape, ParamsCache, ProverError, WitnessError,
    batch_verify, prove_chunk, verify_chunk,
};

use crate::support::*;

pub const SHAPE: ChunkShape = ChunkShape { slots: 1, k: 12 };

/// Pinned: Blake2b-256 of the pinned verifying key for one slot at k = 12.
const VK_FINGERPRINT: &str = "04a1ef926408e85014dd75804600d6ed099ae8a348b70a3e62e91ba5238438d4";
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

fn proofs() -> &'static Vec<ChunkProof> {
    static PROOFS: OnceLock<Vec<ChunkProof>> = OnceLock::new();
    PROOFS.get_or_init(|| {
        let (params, keys) = setup();
        let mut state = funded_state(2);
        let mut out = Vec::new();
        for amount in [500, 600] {
            let op = transfer(&state, 1, 2, amount, 3);
            let chunk = apply(&mut state, SHAPE.slots, &[op]);
            let (witness, _, _) = evaluated(&chunk);
            out.push(prove_chunk(params, keys, &witness).unwrap());
        }
        out
    })
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
    // Keys are deterministic.
    let again = ChunkKeys::generate(&setup().0, SHAPE).unwrap();
    assert_eq!(again.fingerprint(), keys.fingerprint());
}

#[test]
fn wrong_public_inputs_truncated_and_corrupted_proofs_are_rejected() {
    let (params, keys) = setup();
    let good = &proofs()[0];

    let mut wrong_root = good.clone();
    wrong_root.public.new_root += kaimeng_rollup::Fp::from(1);
    assert!(matches!(
        verify_chunk(params, keys.vk(), &wrong_root),
        Err(ProverError::InvalidProof(_))
    ));

    for cut in [0, 1, 32, good.bytes.len() / 2, good.bytes.len() - 1] {
        let truncated = ChunkProof {
            public: good.public,
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
