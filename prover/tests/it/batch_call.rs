//! The bridge's batch verification call with real proofs (one slot, k = 12): a batch of two
//! chained chunks verifies and reports where it ends; other data, a broken chain, a changed
//! proof and every malformed encoding are refused with their reason. The same two chunks as
//! one pack (ADR 0114) verify too, and a pack's layout errors are named.

use std::sync::OnceLock;

use kaimeng_prover::batch_call::{
    BatchCall, BatchCallError, ChunkCall, DecideStepCall, decide_claims, verify_batch_call,
};
use kaimeng_prover::{ChunkWitness, MAX_PACK, prove_chunk, prove_pack};
use kaimeng_rollup::Fp;
use kaimeng_rollup::bridge_calls::{CallError, word_of_fp};

use crate::roundtrip::{SHAPE, setup};
use crate::support::*;

/// Two chained chunks (a transfer each) with their proofs, as the sequencer would submit them.
fn batch() -> &'static BatchCall {
    &batch_and_witnesses().0
}

fn batch_and_witnesses() -> &'static (BatchCall, Vec<ChunkWitness>) {
    static BATCH: OnceLock<(BatchCall, Vec<ChunkWitness>)> = OnceLock::new();
    BATCH.get_or_init(|| {
        let (params, keys) = setup();
        let mut state = funded_state(2);
        let old_root = state.root();
        let queue_before = state.queue_hash();
        let mut chunks = Vec::new();
        let mut witnesses = Vec::new();
        let mut chain_id = 0;
        let mut fee_account = 0;
        for amount in [300, 400] {
            let op = transfer(&state, 1, 2, amount, 2);
            let outcome = apply(&mut state, SHAPE.slots, &[op]);
            let (witness, _, _) = evaluated(&outcome);
            let proof = prove_chunk(params, keys, &witness).unwrap();
            chain_id = outcome.config.chain_id;
            fee_account = outcome.config.fee_account;
            chunks.push(ChunkCall {
                new_root: outcome.new_root,
                queue_after: outcome.queue_after,
                data: outcome.pubdata.clone(),
                proof: proof.bytes,
            });
            witnesses.push(witness);
        }
        let mut call = BatchCall {
            chain_id,
            fee_account,
            old_root,
            queue_before,
            chunks,
            claims: Vec::new(),
        };
        call.claims = call.compute_claims(params, keys.vk(), SHAPE.slots).unwrap();
        (call, witnesses)
    })
}

#[test]
fn a_batch_proven_as_one_pack_verifies_and_pack_layout_errors_are_named() {
    let (params, keys) = setup();
    let (call, witnesses) = batch_and_witnesses();
    let pack = prove_pack(params, keys, witnesses).unwrap();
    let mut packed = call.clone();
    packed.chunks[0].proof = pack.bytes.clone();
    packed.chunks[1].proof.clear();
    packed.claims = packed
        .compute_claims(params, keys.vk(), SHAPE.slots)
        .unwrap();
    assert_eq!(packed.proof_count(), 1);
    assert_eq!(verify(&packed), verify(call));
    assert!(verify(&packed).is_ok());

    // The pack's proof cannot be moved to the second chunk, nor claimed for one chunk.
    let mut moved = packed.clone();
    moved.chunks.swap(0, 1);
    moved.chunks[0].proof.clear();
    moved.chunks[1].proof = pack.bytes.clone();
    assert_eq!(verify(&moved), Err(BatchCallError::NoFirstProof));
    let mut alone = packed.clone();
    alone.chunks.truncate(1);
    assert!(matches!(verify(&alone), Err(BatchCallError::Proofs(_))));
    // A single-chunk proof does not cover the chunk after it.
    let mut stretched = call.clone();
    stretched.chunks[1].proof.clear();
    stretched.claims.truncate(call.claims.len() / 2);
    assert!(matches!(verify(&stretched), Err(BatchCallError::Proofs(_))));
    // A pack covers at most MAX_PACK chunks (refused before any proof is checked).
    let mut long = call.clone();
    let empty = ChunkCall {
        proof: Vec::new(),
        ..call.chunks[1].clone()
    };
    long.chunks.truncate(1);
    long.chunks.extend(std::iter::repeat_n(empty, MAX_PACK));
    assert_eq!(
        verify(&long),
        Err(BatchCallError::PackTooLarge { chunk: MAX_PACK })
    );
}

fn verify(call: &BatchCall) -> Result<[u8; 64], BatchCallError> {
    let (params, keys) = setup();
    verify_batch_call(params, keys.vk(), SHAPE.slots, &call.encode())
}

#[test]
fn a_chained_batch_verifies_and_reports_where_it_ends() {
    let call = batch();
    assert_eq!(BatchCall::decode(&call.encode()).as_ref(), Ok(call));
    let out = verify(call).unwrap();
    let last = call.chunks.last().unwrap();
    assert_eq!(out[..32], word_of_fp(last.new_root));
    assert_eq!(out[32..], word_of_fp(last.queue_after));
}

#[test]
fn other_data_a_broken_chain_or_a_changed_proof_fails() {
    let call = batch();
    // Published data that is not what was proven: another amount in chunk 0.
    let mut other_data = call.clone();
    let amount_at = other_data.chunks[0].data.len() - 3;
    other_data.chunks[0].data[amount_at] ^= 1;
    assert!(matches!(
        verify(&other_data),
        Err(BatchCallError::Proofs(_))
    ));
    // Chunks out of order, or a root claimed that was not reached.
    let mut swapped = call.clone();
    swapped.chunks.swap(0, 1);
    assert!(matches!(verify(&swapped), Err(BatchCallError::Proofs(_))));
    let mut other_root = call.clone();
    other_root.chunks[1].new_root += Fp::from(1u64);
    assert!(matches!(
        verify(&other_root),
        Err(BatchCallError::Proofs(_))
    ));
    // Another chain id or fee account than proven.
    let other_chain = BatchCall {
        chain_id: call.chain_id + 1,
        ..call.clone()
    };
    assert!(matches!(
        verify(&other_chain),
        Err(BatchCallError::Proofs(_))
    ));
    // A flipped proof byte, and a proof cut short.
    let mut flipped = call.clone();
    flipped.chunks[1].proof[100] ^= 0x40;
    assert!(verify(&flipped).is_err());
    let mut cut = call.clone();
    cut.chunks[0].proof.truncate(1000);
    assert!(verify(&cut).is_err());
    // Unparseable published data.
    let mut garbage = call.clone();
    garbage.chunks[0].data = vec![0xee; 5];
    assert!(matches!(
        verify(&garbage),
        Err(BatchCallError::Data { chunk: 0, .. })
    ));
}

/// The claims section: one claim per proof, each the proof's own. The decider holds true
/// claims, refuses a changed one, and names what is wrong with bytes that are not claims.
#[test]
fn claims_must_be_the_proofs_own_and_the_decider_checks_them() {
    let (params, _) = setup();
    let call = batch();
    let size = call.claims.len() / 2;
    let mut one_short = call.clone();
    one_short.claims.truncate(size);
    assert!(matches!(
        verify(&one_short),
        Err(BatchCallError::Claims(reason)) if reason.contains("1 claims for 2 proofs")
    ));
    let mut swapped = call.clone();
    swapped.claims = [&call.claims[size..], &call.claims[..size]].concat();
    assert!(matches!(verify(&swapped), Err(BatchCallError::Proofs(_))));
    let mut off_curve = call.clone();
    off_curve.claims[..32].copy_from_slice(&[0xff; 32]);
    assert!(matches!(
        verify(&off_curve),
        Err(BatchCallError::Claims(reason)) if reason.contains("claim 0")
    ));

    assert_eq!(decide_claims(params, &call.claims), Ok(true));
    // A point moved to another valid point: the decider says no.
    let mut moved = call.claims.clone();
    moved[..32].copy_from_slice(&call.claims[size..size + 32]);
    assert_eq!(decide_claims(params, &moved), Ok(false));
    for bad in [&[][..], &call.claims[..size - 1], &call.claims[..size + 5]] {
        assert!(matches!(
            decide_claims(params, bad),
            Err(BatchCallError::Claims(_))
        ));
    }

    // In two steps: the first answers a partial sum, which the second takes; the call
    // round-trips its encoding.
    let first = DecideStepCall::first(2, call.claims.clone());
    assert_eq!(DecideStepCall::decode(&first.encode()), Ok(first.clone()));
    assert!(!first.is_last());
    let sum = first.run(params).unwrap();
    let second = first.next(sum);
    assert!(second.is_last());
    assert_eq!(second.run(params).unwrap()[31], 1);
    let moved_first = DecideStepCall::first(2, moved);
    let moved_sum = moved_first.run(params).unwrap();
    assert_eq!(moved_first.next(moved_sum).run(params).unwrap(), [0; 32]);
    // Only the first step weighs the claimed points; a later one reads the challenges alone
    // (the bridge hands every step the claims its verifications checked).
    // A point off the curve is refused by the first step and never decompressed by the next.
    let mut off_curve = call.claims.clone();
    off_curve[..32].copy_from_slice(&[0xff; 32]);
    assert!(matches!(
        DecideStepCall::first(2, off_curve.clone()).run(params),
        Err(BatchCallError::Claims(reason)) if reason.contains("not on the curve")
    ));
    let later = DecideStepCall {
        claims: off_curve,
        ..second.clone()
    };
    assert_eq!(later.run(params).map(|answer| answer.len()), Ok(32));
    // Another partial sum changes the verdict; one that is not a point, or bad step
    // arguments, are refused.
    assert_eq!(first.next(moved_sum).run(params).unwrap(), [0; 32]);
    let refusal = |call: DecideStepCall| match call.run(params) {
        Err(BatchCallError::Claims(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(refusal(first.next([0xff; 32])).contains("not a point"));
    assert!(refusal(DecideStepCall::first(3, call.claims.clone())).contains("power of two"));
    assert!(
        refusal(DecideStepCall {
            step: 2,
            ..second.clone()
        })
        .contains("step 2 of 2")
    );
    assert!(matches!(
        DecideStepCall::decode(&first.encode()[..70]),
        Err(BatchCallError::Truncated("partial sum"))
    ));
}

#[test]
fn malformed_encodings_are_refused_without_panic() {
    let (params, keys) = setup();
    let encoded = batch().encode();
    // Every cut of the encoding is an error, never a panic (the lengths inside stay honest,
    // so each cut ends inside something).
    for len in (0..encoded.len()).step_by(97) {
        let result = verify_batch_call(params, keys.vk(), SHAPE.slots, &encoded[..len]);
        assert!(
            matches!(
                result,
                Err(BatchCallError::Truncated(_)) | Err(BatchCallError::ChunkCount { .. })
            ),
            "cut at {len}: {result:?}"
        );
    }
    let mut trailing = encoded.clone();
    trailing.push(0);
    assert_eq!(
        BatchCall::decode(&trailing),
        Err(BatchCallError::Trailing(1))
    );
    // No chunks, too many, a huge length that is not there, a non-canonical root.
    let word = |i: usize| i * 32..(i + 1) * 32;
    let mut none = encoded.clone();
    none[word(4)].copy_from_slice(&[0; 32]);
    assert_eq!(
        BatchCall::decode(&none),
        Err(BatchCallError::ChunkCount { found: 0 })
    );
    let mut many = encoded.clone();
    many[word(4)].copy_from_slice(&kaimeng_rollup::bridge_calls::word_of_uint(65));
    assert_eq!(
        BatchCall::decode(&many),
        Err(BatchCallError::ChunkCount { found: 65 })
    );
    let mut huge = encoded.clone();
    huge[word(7)].copy_from_slice(&kaimeng_rollup::bridge_calls::word_of_uint(u64::MAX));
    assert!(matches!(
        BatchCall::decode(&huge),
        Err(BatchCallError::TooLong { what: "data", .. })
    ));
    let mut wide = encoded.clone();
    wide[word(7)].copy_from_slice(&[0xff; 32]);
    assert!(matches!(
        BatchCall::decode(&wide),
        Err(BatchCallError::Word(CallError::TooWide { .. }))
    ));
    let mut bad_root = encoded;
    bad_root[word(2)].copy_from_slice(&[0xff; 32]);
    assert_eq!(
        BatchCall::decode(&bad_root),
        Err(BatchCallError::Word(CallError::NotCanonical("old root")))
    );
}
