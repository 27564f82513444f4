//! The worker and its directory queue, and the job/proof encodings.

use std::fs;

use kaimeng_prover::worker::{ChunkJob, JobOutcome, serve};
use kaimeng_prover::{
    ChunkProof, ChunkShape, ChunkWitness, DirQueue, JobQueue, ProverError, WorkerConfig,
    verify_chunk,
};

use crate::roundtrip::{SHAPE, setup};
use crate::support::*;

fn witness(amount: u64) -> ChunkWitness {
    let mut state = funded_state(2);
    let op = transfer(&state, 1, 2, amount, 1);
    let out = apply(&mut state, SHAPE.slots, &[op]);
    ChunkWitness::from_outcome(&out)
}

#[test]
fn witness_and_proof_encodings_round_trip_and_reject_garbage() {
    let w = witness(9);
    let decoded = ChunkWitness::from_json(&w.to_json()).unwrap();
    assert_eq!(decoded, w);
    assert!(matches!(
        ChunkWitness::from_json("{\"chain_id\": 1}"),
        Err(ProverError::Decode { .. })
    ));
    // A non-canonical field element (all ones) is refused.
    let bad = w.to_json().replacen(
        &hex::encode(ff::PrimeField::to_repr(&w.old_root)),
        &"ff".repeat(32),
        1,
    );
    assert!(matches!(
        ChunkWitness::from_json(&bad),
        Err(ProverError::Decode { .. })
    ));

    let proof = ChunkProof {
        publics: vec![w.evaluate(1).unwrap().public],
        bytes: vec![1, 2, 3],
    };
    assert_eq!(ChunkProof::from_json(&proof.to_json()).unwrap(), proof);
    assert!(ChunkProof::from_json("not json").is_err());
    // A pack's witnesses: an array of 1 to MAX_PACK, each decoded with its own checks.
    let pack = kaimeng_prover::codec::pack_to_json(&[w.clone(), w.clone()]);
    assert_eq!(
        kaimeng_prover::codec::pack_from_json(&pack).unwrap(),
        vec![w.clone(), w.clone()]
    );
    assert!(matches!(
        kaimeng_prover::codec::pack_from_json(&serde_json::json!([])),
        Err(ProverError::PackSize { found: 0 })
    ));
    assert!(matches!(
        kaimeng_prover::codec::pack_from_json(&serde_json::json!([{"chain_id": 1}])),
        Err(ProverError::Decode { .. })
    ));
}

#[test]
fn worker_proves_queued_jobs_and_reports_failures() {
    let (params, keys) = setup();
    let dir = tempfile::tempdir().unwrap();
    let mut queue = DirQueue::open(dir.path()).unwrap();
    queue
        .submit(&ChunkJob {
            id: "chunk-1".into(),
            shape: SHAPE,
            witnesses: vec![witness(10)],
        })
        .unwrap();
    queue
        .submit(&ChunkJob {
            id: "chunk-2-wrong-shape".into(),
            shape: ChunkShape { slots: 2, k: 13 },
            witnesses: vec![witness(11)],
        })
        .unwrap();
    queue
        .submit(&ChunkJob {
            id: "chunk-4-pack".into(),
            shape: SHAPE,
            witnesses: vec![witness(13), witness(14)],
        })
        .unwrap();
    fs::write(dir.path().join("pending/chunk-3-garbage.json"), "{").unwrap();
    assert!(
        queue
            .submit(&ChunkJob {
                id: "../escape".into(),
                shape: SHAPE,
                witnesses: vec![witness(12)],
            })
            .is_err()
    );

    let mut config = WorkerConfig::new(dir.path(), dir.path().join("params"), SHAPE);
    config.exit_when_idle = true;
    config.progress = false;
    let report = serve(&mut queue, params, keys, &config).unwrap();
    // The undecodable job is failed by the queue while claiming; the worker never sees it.
    assert_eq!((report.proven, report.failed), (2, 1));

    match queue.result("chunk-1").unwrap() {
        Some(JobOutcome::Proven(proof)) => verify_chunk(params, keys.vk(), &proof).unwrap(),
        other => panic!("expected a proof, got {other:?}"),
    }
    // A pack's job gives one proof of both chunks.
    match queue.result("chunk-4-pack").unwrap() {
        Some(JobOutcome::Proven(proof)) => {
            assert_eq!(proof.publics.len(), 2);
            verify_chunk(params, keys.vk(), &proof).unwrap()
        }
        other => panic!("expected a proof, got {other:?}"),
    }
    match queue.result("chunk-2-wrong-shape").unwrap() {
        Some(JobOutcome::Failed(reason)) => assert!(reason.contains("this worker proves")),
        other => panic!("expected a failure, got {other:?}"),
    }
    match queue.result("chunk-3-garbage").unwrap() {
        Some(JobOutcome::Failed(reason)) => assert!(reason.contains("undecodable")),
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(
        fs::read_dir(dir.path().join("claimed"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn two_workers_never_claim_the_same_job() {
    let dir = tempfile::tempdir().unwrap();
    let producer = DirQueue::open(dir.path()).unwrap();
    for i in 0..6 {
        producer
            .submit(&ChunkJob {
                id: format!("job-{i}"),
                shape: SHAPE,
                witnesses: vec![witness(i + 1)],
            })
            .unwrap();
    }
    // Four workers race over the same directory.
    let claimed: Vec<Vec<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let mut q = DirQueue::open(dir.path()).unwrap();
                    let mut mine = Vec::new();
                    while let Some(job) = q.take().unwrap() {
                        q.finish(&job.id, &JobOutcome::Failed("test".into()))
                            .unwrap();
                        mine.push(job.id);
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seen: Vec<String> = claimed.into_iter().flatten().collect();
    seen.sort();
    let expected: Vec<String> = (0..6).map(|i| format!("job-{i}")).collect();
    assert_eq!(seen, expected);
}
