//! Deferred inner-product checks (ADR 0114) with real proofs (one slot, k = 12): claims of
//! valid proofs and of a pack verify and are decided true; a changed point or challenge is
//! caught by the verifier or the decider; claims encode and decode, and bad encodings say why.

use kaimeng_prover::deferred::{Claim, claim_of, decide, verify_with_claims};
use kaimeng_prover::{ProverError, prove_pack};
use pasta_curves::vesta;

use crate::roundtrip::{SHAPE, proofs, setup, witnesses};

#[test]
fn claims_of_valid_proofs_verify_and_are_decided_true_and_false_ones_are_not() {
    let (params, keys) = setup();
    let pack = prove_pack(params, keys, witnesses()).unwrap();
    let proofs = vec![proofs()[0].clone(), proofs()[1].clone(), pack];
    let claims: Vec<Claim> = proofs
        .iter()
        .map(|p| claim_of(params, keys.vk(), p).unwrap())
        .collect();
    assert!(claims.iter().all(|c| c.u.len() == SHAPE.k as usize));
    verify_with_claims(params, keys.vk(), &proofs, &claims).unwrap();
    assert!(decide(params, &claims));
    assert!(decide(params, &claims[2..]));

    // A point that is not ⟨s(u), G⟩: the proof's IPA equation no longer holds, and the
    // decider refuses it too, alone or among true claims.
    let mut moved = claims.clone();
    moved[1].g = (moved[1].g + vesta::Affine::from(params.get_g()[0])).into();
    assert!(verify_with_claims(params, keys.vk(), &proofs, &moved).is_err());
    assert!(!decide(params, &moved));
    assert!(!decide(params, &moved[1..2]));
    // Challenges other than the proof's are refused by name; the decider refuses them too.
    let mut other_u = claims.clone();
    other_u[0].u[3] += kaimeng_rollup::Fp::from(1);
    assert!(matches!(
        verify_with_claims(params, keys.vk(), &proofs, &other_u),
        Err(ProverError::InvalidProof(reason)) if reason.contains("claim 0")
    ));
    assert!(!decide(params, &other_u));
    // A claim of another size, a missing claim, and a wrong proof.
    let mut short = claims.clone();
    short[0].u.pop();
    assert!(!decide(params, &short));
    assert!(verify_with_claims(params, keys.vk(), &proofs, &claims[..2]).is_err());
    let mut wrong = proofs.clone();
    wrong[0].publics[0].new_root += kaimeng_rollup::Fp::from(1);
    assert!(claim_of(params, keys.vk(), &wrong[0]).is_err());
    assert!(verify_with_claims(params, keys.vk(), &wrong, &claims).is_err());
}

#[test]
fn claims_encode_and_bad_encodings_say_why() {
    let (params, keys) = setup();
    let claim = claim_of(params, keys.vk(), &proofs()[0]).unwrap();
    let bytes = claim.to_bytes();
    assert_eq!(bytes.len(), 32 * (1 + SHAPE.k as usize));
    assert_eq!(Claim::from_bytes(SHAPE.k, &bytes).unwrap(), claim);
    let reason = |bytes: &[u8]| match Claim::from_bytes(SHAPE.k, bytes) {
        Err(ProverError::Decode { reason, .. }) => reason,
        other => panic!("expected a decode error, got {other:?}"),
    };
    assert!(reason(&bytes[..100]).contains("expected 416"));
    let mut off_curve = bytes.clone();
    off_curve[..32].copy_from_slice(&[0xff; 32]);
    assert!(reason(&off_curve).contains("not on the curve"));
    let mut big = bytes;
    big[64..96].copy_from_slice(&[0xff; 32]);
    assert!(reason(&big).contains("challenge 1"));
}
