//! Deferred inner-product checks (ADR 0114) with real proofs (one slot, k = 12): claims of
//! valid proofs and of a pack verify and are decided true; a changed point or challenge is
//! caught by the verifier or the decider, whole or split into steps; claims encode and decode, and bad encodings say why.

use group::Group;
use kaimeng_prover::deferred::{
    Claim, DecisionStep, claim_of, decide, decide_step, decision_weights, max_decision_steps,
    opening_params, verify_with_claims,
};
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
    // Read for a later decision step: the challenges only, the point never decompressed.
    let challenges = Claim::challenges_from_bytes(SHAPE.k, &off_curve).unwrap();
    assert_eq!(challenges.u, claim.u);
    let mut big = bytes;
    big[64..96].copy_from_slice(&[0xff; 32]);
    assert!(reason(&big).contains("challenge 1"));
}

/// Runs a whole decision in `steps` steps, each from the last one's partial sum.
fn decide_in(steps: usize, claims: &[Claim]) -> bool {
    let (params, _) = setup();
    let bytes: Vec<u8> = claims.iter().flat_map(Claim::to_bytes).collect();
    let weights = decision_weights(&bytes, claims.len());
    let mut partial = vesta::Point::identity();
    for step in 0..steps {
        match decide_step(params, claims, &weights, steps, step, partial).unwrap() {
            DecisionStep::Partial(sum) => {
                assert!(
                    step + 1 < steps,
                    "step {step} of {steps} gave a partial sum"
                );
                partial = sum;
            }
            DecisionStep::Decided(holds) => {
                assert_eq!(step + 1, steps, "step {step} of {steps} decided");
                return holds;
            }
        }
    }
    unreachable!("the last step decides")
}

/// A decision split over ranges of generators gives the same verdict as one step, for true
/// and false claims; the weights follow from the claims; bad step arguments are refused.
#[test]
fn a_decision_split_into_steps_agrees_with_one_step() {
    let (params, keys) = setup();
    let claims: Vec<Claim> = proofs()
        .iter()
        .map(|p| claim_of(params, keys.vk(), p).unwrap())
        .collect();
    let max = max_decision_steps(SHAPE.k);
    assert_eq!(max, 1 << (SHAPE.k - 11));
    for steps in [1, max] {
        assert!(decide_in(steps, &claims), "{steps} steps");
        let mut moved = claims.clone();
        moved[0].g = (moved[0].g + vesta::Affine::from(params.get_g()[5])).into();
        assert!(!decide_in(steps, &moved), "{steps} steps, moved point");
        // A point moved by a generator the last range holds is caught as well.
        let last = params.get_g()[(1 << SHAPE.k) - 1];
        let mut late = claims.clone();
        late[1].g = (late[1].g + vesta::Affine::from(last)).into();
        assert!(!decide_in(steps, &late), "{steps} steps, moved late");
    }

    // Weights are the same for the same claims and differ for others or other indices.
    let bytes: Vec<u8> = claims.iter().flat_map(Claim::to_bytes).collect();
    let weights = decision_weights(&bytes, 2);
    assert_eq!(weights, decision_weights(&bytes, 2));
    assert_ne!(weights[0], weights[1]);
    assert_ne!(weights[0], decision_weights(&bytes[1..], 2)[0]);

    let start = vesta::Point::identity();
    let refused = |steps: usize, step: usize, partial: vesta::Point, w: &[kaimeng_rollup::Fp]| {
        match decide_step(params, &claims, w, steps, step, partial) {
            Err(ProverError::Decode { reason, .. }) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    };
    assert!(refused(3, 0, start, &weights).contains("power of two"));
    assert!(refused(2 * max, 0, start, &weights).contains("power of two up to"));
    assert!(refused(max, max, start, &weights).contains("step"));
    let elsewhere = vesta::Point::generator();
    assert!(refused(max, 0, elsewhere, &weights).contains("identity"));
    assert!(refused(1, 0, start, &weights[..1]).contains("1 weights for 2 claims"));
}

/// The one-row parameters a given claim's proof is checked with hold the same `G_0`, `W` and
/// `U` as the full parameters (halo2 writes `W` and `U` last).
#[test]
fn one_row_parameters_share_g0_w_and_u_with_the_full_ones() {
    let (params, _) = setup();
    let small = opening_params();
    assert_eq!(small.k(), 0);
    assert_eq!(small.get_g(), vec![params.get_g()[0]]);
    let bytes = |p: &kaimeng_prover::ChunkParams| {
        let mut out = Vec::new();
        p.write(&mut out).unwrap();
        out
    };
    let (full, one) = (bytes(params), bytes(small));
    assert_eq!(full[full.len() - 64..], one[one.len() - 64..]);
}
