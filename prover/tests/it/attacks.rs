//! Each attack must fail, and the test names the constraint that catches it. The same bad
//! witness is also refused by the native checker (`ChunkWitness::evaluate`) with the matching
//! rule, so a prover never starts on it.

use ff::Field;
use halo2_proofs::dev::{MockProver, VerifyFailure};
use kaimeng_prover::witness::{ChunkWitness, PublicInputs, WitnessError};
use kaimeng_rollup::schnorr::Signature;
use kaimeng_rollup::{Fp, Fq};

use crate::forge::{Forge, TransferSpec};
use crate::support::*;

const SLOTS: usize = 1;
const K: u32 = 12;

fn failures(witness: &ChunkWitness, tamper_public: impl FnOnce(&mut PublicInputs)) -> Vec<String> {
    let values = witness.values_unchecked(SLOTS).expect("shape is right");
    let mut public = values.public;
    tamper_public(&mut public);
    let prover =
        MockProver::run(K, &circuit(SLOTS, values), vec![public.to_vec()]).expect("synthesizes");
    match prover.verify() {
        Ok(()) => Vec::new(),
        Err(errors) => errors.iter().map(VerifyFailure::to_string).collect(),
    }
}

fn assert_caught_by(failures: &[String], needle: &str) {
    assert!(
        failures.iter().any(|f| f.contains(needle)),
        "expected a failure mentioning {needle:?}, got {failures:#?}"
    );
}

fn spec() -> TransferSpec {
    TransferSpec {
        from: 1,
        to: 2,
        amount: 400,
        fee: 5,
    }
}

fn forge() -> Forge {
    Forge::new(&[(0, 0), (1, 1_000), (2, 50)])
}

fn honest() -> ChunkWitness {
    let mut f = forge();
    f.transfer(spec(), None, |_| {}, |_| {});
    f.finish(SLOTS)
}

#[test]
fn the_honest_forged_chunk_is_accepted() {
    let w = honest();
    assert!(w.evaluate(SLOTS).is_ok());
    assert!(failures(&w, |_| {}).is_empty());
}

#[test]
fn bad_signature_is_caught_by_the_signature_equation() {
    let mut f = forge();
    let slot = f.transfer(spec(), None, |_| {}, |_| {});
    let sig = slot.signature.as_mut().unwrap();
    sig.signature = Signature {
        r: sig.signature.r,
        s: sig.signature.s + Fq::ONE,
    };
    let w = f.finish(SLOTS);
    assert_caught_by(&failures(&w, |_| {}), "('signature: x') in gate");
    assert_eq!(
        w.evaluate(SLOTS).err(),
        Some(WitnessError::RuleViolated {
            slot: 0,
            rule: "signature: x"
        })
    );
}

#[test]
fn reused_signature_is_caught_by_the_signature_equation() {
    // Account 1 already made its first transfer (nonce 0 -> 1); the sequencer replays the
    // signature of that first transfer, which the user really produced.
    let mut f = forge();
    f.set_nonce(1, 1);
    f.transfer(spec(), Some(0), |_| {}, |_| {});
    let w = f.finish(SLOTS);
    assert_caught_by(&failures(&w, |_| {}), "('signature: x') in gate");
    assert_eq!(
        w.evaluate(SLOTS).err(),
        Some(WitnessError::RuleViolated {
            slot: 0,
            rule: "signature: x"
        })
    );
}

#[test]
fn nonce_that_does_not_advance_is_caught_by_the_sender_nonce_rule() {
    let mut f = forge();
    f.transfer(spec(), None, |a| a.nonce += Fp::ONE, |_| {});
    let w = f.finish(SLOTS);
    assert_caught_by(&failures(&w, |_| {}), "('sender nonce') in gate");
    assert_eq!(
        w.evaluate(SLOTS).err(),
        Some(WitnessError::RuleViolated {
            slot: 0,
            rule: "sender nonce"
        })
    );
}

#[test]
fn signature_over_a_wrong_nonce_is_caught_by_the_signature_equation() {
    let mut f = forge();
    f.transfer(spec(), Some(7), |_| {}, |_| {});
    let w = f.finish(SLOTS);
    assert_caught_by(&failures(&w, |_| {}), "('signature: x') in gate");
}

#[test]
fn overdraft_is_caught_by_the_sender_balance_range_check() {
    let mut f = forge();
    f.transfer(
        TransferSpec {
            amount: 5_000,
            ..spec()
        },
        None,
        |_| {},
        |_| {},
    );
    let w = f.finish(SLOTS);
    assert_caught_by(&failures(&w, |_| {}), "range: slot 0 sender balance");
    assert_eq!(
        w.evaluate(SLOTS).err(),
        Some(WitnessError::OutOfRange {
            slot: 0,
            what: "sender balance"
        })
    );
}

#[test]
fn amount_out_of_range_is_caught_by_the_amount_range_check() {
    let mut f = Forge::new(&[(0, 0), (1, 1 << 42), (2, 50)]);
    f.transfer(
        TransferSpec {
            amount: 1 << 40,
            ..spec()
        },
        None,
        |_| {},
        |_| {},
    );
    let w = f.finish(SLOTS);
    assert_caught_by(&failures(&w, |_| {}), "range: slot 0 amount < 2^40");
    assert_eq!(
        w.evaluate(SLOTS).err(),
        Some(WitnessError::OutOfRange {
            slot: 0,
            what: "amount"
        })
    );
}

#[test]
fn fee_out_of_range_is_caught_by_the_fee_range_check() {
    let mut f = Forge::new(&[(0, 0), (1, 1 << 20), (2, 50)]);
    f.transfer(
        TransferSpec {
            fee: 70_000,
            ..spec()
        },
        None,
        |_| {},
        |_| {},
    );
    let w = f.finish(SLOTS);
    assert_caught_by(&failures(&w, |_| {}), "range: slot 0 fee < 2^16");
}

/// How MockProver names a mismatch with the instance column's one row, the claims' digest.
const DIGEST_MISMATCH: &str = "column_type: Instance, index: 0 }, outside any region, on row 0)";

#[test]
fn wrong_old_root_is_caught_by_the_public_digest() {
    let w = honest();
    let f = failures(&w, |p| p.old_root += Fp::ONE);
    assert_caught_by(&f, DIGEST_MISMATCH);
}

#[test]
fn every_claim_is_bound_by_the_public_digest() {
    let w = honest();
    type Tamper = (&'static str, fn(&mut PublicInputs));
    let tampers: [Tamper; 7] = [
        ("old root", |p| p.old_root += Fp::ONE),
        ("new root", |p| p.new_root += Fp::ONE),
        ("data commitment", |p| p.data_commitment += Fp::ONE),
        ("queue before", |p| p.queue_before += Fp::ONE),
        ("queue after", |p| p.queue_after += Fp::ONE),
        ("chain id", |p| p.chain_id += 1),
        ("fee account", |p| p.fee_account ^= 1),
    ];
    for (claim, tamper) in tampers {
        let f = failures(&w, tamper);
        assert!(
            f.iter().any(|f| f.contains(DIGEST_MISMATCH)),
            "a wrong {claim} was not caught by the digest: {f:#?}"
        );
    }
}

#[test]
fn tampered_receiver_leaf_is_caught_by_the_receiver_rules() {
    let mut f = forge();
    f.transfer(spec(), None, |_| {}, |b| b.balance += Fp::ONE);
    let w = f.finish(SLOTS);
    assert_caught_by(&failures(&w, |_| {}), "('receiver balance') in gate");

    let mut f = forge();
    f.transfer(spec(), None, |_| {}, |b| b.key_commitment = Fp::from(99));
    let w = f.finish(SLOTS);
    assert_caught_by(&failures(&w, |_| {}), "('receiver key') in gate");
}

#[test]
fn tampered_data_commitment_is_caught_by_the_public_digest() {
    let w = honest();
    let other = kaimeng_rollup::tx::data_commitment(&[kaimeng_rollup::tx::SlotData::PADDING]);
    let f = failures(&w, |p| p.data_commitment = other);
    assert_caught_by(&f, DIGEST_MISMATCH);
}
