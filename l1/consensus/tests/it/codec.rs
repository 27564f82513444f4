//! The codec: property-based round trips, and fuzzing of the decoders with arbitrary and
//! mutated bytes (they must never panic, and whatever they accept must re-encode to the same
//! bytes). Longer fuzzing: `PROPTEST_CASES=1000000 cargo test --release -p kaimeng-consensus
//! --test it codec::` (see docs/consensus.md).

use kaimeng_consensus::codec::{
    DecodeError, MAX_MESSAGE_LEN, VERSION, decode_message, decode_record, encode_message,
    encode_record,
};
use kaimeng_consensus::{
    Certificate, Digest, Justification, Message, Parent, Proposal, ProposalMessage, Record,
    Signature, SignedVote, Vote,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

fn digest() -> impl Strategy<Value = Digest> {
    any::<[u8; 32]>().prop_map(Digest)
}

fn proposal() -> impl Strategy<Value = Proposal> {
    (
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        digest(),
        digest(),
    )
        .prop_map(
            |(epoch, view, height, parent_view, parent, payload)| Proposal {
                epoch,
                view,
                height,
                parent: Parent {
                    view: parent_view,
                    digest: parent,
                },
                payload,
            },
        )
}

fn vote() -> impl Strategy<Value = Vote> {
    prop_oneof![
        proposal().prop_map(Vote::Notarize),
        (any::<u64>(), any::<u64>()).prop_map(|(epoch, view)| Vote::Nullify { epoch, view }),
        proposal().prop_map(Vote::Finalize),
    ]
}

fn signature() -> impl Strategy<Value = Signature> {
    vec(any::<u8>(), 1..=128).prop_map(Signature)
}

fn signed_vote() -> impl Strategy<Value = SignedVote> {
    (vote(), 0u32..1024, signature()).prop_map(|(vote, signer, signature)| SignedVote {
        vote,
        signer,
        signature,
    })
}

fn certificate() -> impl Strategy<Value = Certificate> {
    (vote(), btree_map(0u32..1024, signature(), 1..8)).prop_map(|(vote, signatures)| Certificate {
        vote,
        signatures: signatures.into_iter().collect(),
    })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            proposal(),
            0u32..1024,
            signature(),
            proptest::option::of(certificate()),
            vec(certificate(), 0..4)
        )
            .prop_map(|(proposal, signer, signature, parent, nullifications)| {
                Message::Proposal(ProposalMessage {
                    vote: SignedVote {
                        vote: Vote::Notarize(proposal),
                        signer,
                        signature,
                    },
                    justification: Justification {
                        parent,
                        nullifications,
                    },
                })
            }),
        signed_vote().prop_map(Message::Vote),
        certificate().prop_map(Message::Certificate),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        signed_vote().prop_map(Record::Vote),
        certificate().prop_map(Record::Certificate)
    ]
}

/// Whatever the decoder accepts must be the canonical encoding of what it returns.
fn assert_canonical_if_accepted(bytes: &[u8]) {
    if let Ok(message) = decode_message(bytes) {
        assert_eq!(encode_message(&message), bytes);
    }
    if let Ok(record) = decode_record(bytes) {
        assert_eq!(encode_record(&record), bytes);
    }
}

proptest! {
    #[test]
    fn messages_round_trip(message in message()) {
        let bytes = encode_message(&message);
        prop_assert_eq!(decode_message(&bytes), Ok(message));
    }

    #[test]
    fn records_round_trip(record in record()) {
        let bytes = encode_record(&record);
        prop_assert_eq!(decode_record(&bytes), Ok(record));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..1024)) {
        assert_canonical_if_accepted(&bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_header_never_panic(tag in 0u8..3, body in vec(any::<u8>(), 0..1024)) {
        let mut bytes = vec![VERSION, tag];
        bytes.extend(body);
        assert_canonical_if_accepted(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(
        message in message(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut bytes = encode_message(&message);
        for (index, byte, kind) in edits {
            if bytes.is_empty() { break; }
            let at = index.index(bytes.len());
            match kind {
                0 => bytes[at] = byte,
                1 => { bytes.remove(at); }
                _ => bytes.insert(at, byte),
            }
        }
        assert_canonical_if_accepted(&bytes);
    }

    #[test]
    fn every_truncation_is_a_typed_error(message in message()) {
        let bytes = encode_message(&message);
        for len in 0..bytes.len() {
            prop_assert!(decode_message(&bytes[..len]).is_err());
        }
    }
}

fn sample_vote() -> SignedVote {
    SignedVote {
        vote: Vote::Nullify {
            epoch: 1,
            view: 300,
        },
        signer: 2,
        signature: Signature(vec![9; 64]),
    }
}

#[test]
fn wrong_version_is_rejected() {
    let mut bytes = encode_message(&Message::Vote(sample_vote()));
    bytes[0] = VERSION + 1;
    assert_eq!(
        decode_message(&bytes),
        Err(DecodeError::UnsupportedVersion {
            found: VERSION + 1,
            supported: VERSION
        })
    );
}

#[test]
fn unknown_message_tag_is_rejected() {
    assert_eq!(
        decode_message(&[VERSION, 9]),
        Err(DecodeError::UnknownTag {
            what: "message",
            tag: 9
        })
    );
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = encode_message(&Message::Vote(sample_vote()));
    bytes.push(0);
    assert_eq!(
        decode_message(&bytes),
        Err(DecodeError::TrailingBytes {
            what: "message",
            count: 1
        })
    );
}

#[test]
fn overlong_varints_are_rejected() {
    // Vote message, nullify, epoch encoded as 0x81 0x00 (1 in two bytes).
    let bytes = [VERSION, 1, 1, 0x81, 0x00];
    assert_eq!(
        decode_message(&bytes),
        Err(DecodeError::NonCanonicalVarint {
            what: "nullify epoch"
        })
    );
    let overflow = [
        VERSION, 1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ];
    assert_eq!(
        decode_message(&overflow),
        Err(DecodeError::VarintOverflow {
            what: "nullify epoch"
        })
    );
}

#[test]
fn certificate_signers_must_ascend() {
    let certificate = Certificate {
        vote: Vote::Nullify { epoch: 0, view: 1 },
        signatures: vec![(3, Signature(vec![1])), (1, Signature(vec![2]))],
    };
    let bytes = encode_message(&Message::Certificate(certificate));
    assert_eq!(
        decode_message(&bytes),
        Err(DecodeError::SignersNotAscending {
            previous: 3,
            next: 1
        })
    );
}

#[test]
fn huge_counts_fail_fast_without_allocating() {
    // A certificate claiming 1024 signers with no bytes behind the count.
    let mut bytes = vec![VERSION, 2, 1, 0, 1];
    bytes.extend([0x80, 0x08]); // varint 1024
    assert!(matches!(
        decode_message(&bytes),
        Err(DecodeError::UnexpectedEnd { .. })
    ));
    // More signers than any validator set may have.
    let mut bytes = vec![VERSION, 2, 1, 0, 1];
    bytes.extend([0x81, 0x08]); // varint 1025
    assert!(matches!(
        decode_message(&bytes),
        Err(DecodeError::TooLarge {
            what: "certificate signer count",
            ..
        })
    ));
}

#[test]
fn signatures_must_be_between_1_and_128_bytes() {
    let mut vote = sample_vote();
    vote.signature = Signature(vec![1; 129]);
    let bytes = encode_message(&Message::Vote(vote));
    assert!(matches!(
        decode_message(&bytes),
        Err(DecodeError::TooLarge {
            what: "signature length",
            ..
        })
    ));
    let mut vote = sample_vote();
    vote.signature = Signature(Vec::new());
    let bytes = encode_message(&Message::Vote(vote));
    assert_eq!(
        decode_message(&bytes),
        Err(DecodeError::Empty { what: "signature" })
    );
}

#[test]
fn a_proposal_must_carry_a_notarize_vote() {
    let message = Message::Proposal(ProposalMessage {
        vote: sample_vote(),
        justification: Justification::default(),
    });
    let bytes = encode_message(&message);
    assert_eq!(
        decode_message(&bytes),
        Err(DecodeError::ProposalWithoutNotarize { found: "nullify" })
    );
}

#[test]
fn oversized_input_is_rejected_before_parsing() {
    let bytes = vec![VERSION; MAX_MESSAGE_LEN + 1];
    assert_eq!(
        decode_message(&bytes),
        Err(DecodeError::TooLong {
            len: MAX_MESSAGE_LEN + 1,
            max: MAX_MESSAGE_LEN
        })
    );
}

#[test]
fn empty_input_is_a_typed_error() {
    assert!(matches!(
        decode_message(&[]),
        Err(DecodeError::UnexpectedEnd {
            what: "version",
            ..
        })
    ));
    assert!(matches!(
        decode_record(&[]),
        Err(DecodeError::UnexpectedEnd {
            what: "version",
            ..
        })
    ));
}

#[test]
fn documented_message_sizes_hold() {
    let proposal = Proposal {
        epoch: 0,
        view: 5_000,
        height: 9_000,
        parent: Parent {
            view: 4_999,
            digest: Digest([1; 32]),
        },
        payload: Digest([2; 32]),
    };
    let signature = Signature(vec![7; 64]);
    let vote = SignedVote {
        vote: Vote::Notarize(proposal),
        signer: 3,
        signature: signature.clone(),
    };
    assert_eq!(encode_message(&Message::Vote(vote)).len(), 140);
    let certificate = Certificate {
        vote: Vote::Notarize(proposal),
        signatures: vec![
            (0, signature.clone()),
            (1, signature.clone()),
            (3, signature),
        ],
    };
    assert_eq!(
        encode_message(&Message::Certificate(certificate)).len(),
        273
    );
}
