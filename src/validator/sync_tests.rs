//! Block sync refuses what a certificate does not prove: forged, short, wrong-epoch and
//! undecodable certificates, blocks that do not link, and truncated answers.

use alloy_consensus::Header;
use alloy_primitives::B256;
use kaimeng_consensus::signing::signing_bytes;
use kaimeng_consensus::{
    Certificate, Digest, FinalityError, Parent, Proposal, PublicKey, Rejection, Signature,
    ValidatorSet, Vote,
};
use kaimeng_crypto::{CryptoSuite, SecretKey};
use kaimeng_shards::wire::WireBlock;

use super::*;

const SUITE: CryptoSuite = CryptoSuite::Secp256k1Keccak;
const NAMESPACE: &[u8] = b"kaimeng/shard/0";

fn keys(seed: u8) -> Vec<SecretKey> {
    (0..4)
        .map(|i| SecretKey::from_seed(SUITE, &[seed + i; 32]))
        .collect()
}

fn set(keys: &[SecretKey]) -> ValidatorSet {
    ValidatorSet::new(
        keys.iter()
            .map(|k| PublicKey(k.public_key().to_bytes().to_vec()))
            .collect(),
    )
    .unwrap()
}

/// Blocks 1..=n on `head`.
fn chain(head: B256, n: u64) -> Vec<Header> {
    let mut parent = head;
    (1..=n)
        .map(|number| {
            let header = Header {
                number,
                parent_hash: parent,
                ..Default::default()
            };
            parent = header.hash_slow();
            header
        })
        .collect()
}

fn certificate(signers: &[SecretKey], epoch: u64, height: u64, hash: B256) -> Vec<u8> {
    let vote = Vote::Finalize(Proposal {
        epoch,
        view: height + 1,
        height,
        parent: Parent {
            view: height,
            digest: Digest([0; 32]),
        },
        payload: Digest(hash.0),
    });
    let message = signing_bytes(NAMESPACE, &vote);
    let certificate = Certificate {
        vote,
        signatures: signers
            .iter()
            .enumerate()
            .map(|(i, k)| (i as u32, Signature(k.sign(&message).to_bytes().to_vec())))
            .collect(),
    };
    kaimeng_consensus::codec::encode_certificate(&certificate)
}

fn synced(headers: &[Header], certificate: Vec<u8>) -> Vec<SyncedBlock> {
    let certified = headers.last().unwrap().number;
    let count = headers.len();
    headers
        .iter()
        .enumerate()
        .map(|(i, header)| SyncedBlock {
            number: header.number,
            parent: header.parent_hash,
            hash: header.hash_slow(),
            block: WireBlock {
                header: header.clone(),
                deliveries: Vec::new(),
                txs: Vec::new(),
            },
            certified,
            certificate: if i + 1 == count {
                certificate.clone()
            } else {
                Vec::new()
            },
        })
        .collect()
}

fn check(
    blocks: &[SyncedBlock],
    head: B256,
    validators: &ValidatorSet,
) -> Result<usize, SyncError> {
    let verifier = SuiteVerifier::new(SUITE, validators);
    let epoch = EpochValidators {
        namespace: NAMESPACE,
        epoch: 2,
        last_height: 10,
        validators,
        verifier: &verifier,
    };
    certified_prefix(blocks, head, &epoch)
}

#[test]
fn a_certified_prefix_is_accepted_and_everything_else_refused() {
    let members = keys(1);
    let validators = set(&members);
    let head = B256::repeat_byte(7);
    let headers = chain(head, 3);
    let last = headers[2].hash_slow();

    let good = synced(&headers, certificate(&members[..3], 2, 3, last));
    assert_eq!(check(&good, head, &validators).unwrap(), 3);

    // Signed by keys that are not this epoch's validators.
    let outsiders = keys(100);
    let forged = synced(&headers, certificate(&outsiders[..3], 2, 3, last));
    assert!(matches!(
        check(&forged, head, &validators),
        Err(SyncError::NotFinal {
            error: FinalityError::Signatures(Rejection::BadSignature(_)),
            ..
        })
    ));

    // Two signatures where a quorum of four is three.
    let short = synced(&headers, certificate(&members[..2], 2, 3, last));
    assert!(matches!(
        check(&short, head, &validators),
        Err(SyncError::NotFinal {
            error: FinalityError::Signatures(Rejection::NotEnoughSigners { have: 2, need: 3 }),
            ..
        })
    ));

    // A real quorum, but of another epoch.
    let stale = synced(&headers, certificate(&members[..3], 1, 3, last));
    assert!(matches!(
        check(&stale, head, &validators),
        Err(SyncError::NotFinal {
            error: FinalityError::WrongEpoch {
                expected: 2,
                found: 1
            },
            ..
        })
    ));

    // A certificate of another block at the same height.
    let other = synced(
        &headers,
        certificate(&members[..3], 2, 3, B256::repeat_byte(9)),
    );
    assert!(matches!(
        check(&other, head, &validators),
        Err(SyncError::NotFinal {
            error: FinalityError::WrongBlock { .. },
            ..
        })
    ));

    let garbage = synced(&headers, vec![1, 2, 3]);
    assert!(matches!(
        check(&garbage, head, &validators),
        Err(SyncError::BadCertificate { certified: 3, .. })
    ));

    // Blocks that do not start at this node's head.
    assert!(matches!(
        check(&good, B256::repeat_byte(8), &validators),
        Err(SyncError::Unlinked(3))
    ));

    // No certificate at all (a node that kept none).
    let mut uncertified = synced(&headers, Vec::new());
    for block in &mut uncertified {
        block.certified = 0;
    }
    assert!(matches!(
        check(&uncertified, head, &validators),
        Err(SyncError::Uncertified(1))
    ));

    // The certified block is not in the answer.
    assert!(matches!(
        check(&good[..2], head, &validators),
        Err(SyncError::Incomplete { certified: 3, .. })
    ));

    // Past the end of the epoch the validators were given for.
    let long = chain(head, 11);
    let past = synced(
        &long,
        certificate(&members[..3], 2, 11, long[10].hash_slow()),
    );
    assert!(matches!(
        check(&past, head, &validators),
        Err(SyncError::PastEpoch { certified: 11, .. })
    ));
}

#[test]
fn truncated_answers_are_refused_without_panicking() {
    for bytes in [
        &[][..],
        &[0; 8][..],
        &[0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff][..],
    ] {
        assert!(matches!(decode(bytes, 1), Err(SyncError::Decode(_))));
    }
}
