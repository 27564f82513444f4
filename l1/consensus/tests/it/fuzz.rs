//! Fuzzing of the consensus codec as peers reach it (docs/fuzzing.md). Complements `codec.rs`
//! (round trips, single-byte corruptions, typed errors) with: bounds on time and allocation
//! for every decode (`support::bounded`), the shared mutations (forged 32-bit values, spans
//! duplicated and swapped, several edits at once), varint-aware mutations (overlong encodings,
//! huge counts and lengths spliced in), and messages at the size limits (a proposal carrying
//! the most nullification certificates, certificates with many signers). Every property: no
//! panic, and whatever is accepted re-encodes to the same bytes.
//!
//! Cases per property: `FUZZ_CASES` (`benches/fuzz.sh` for a long pass).

#[path = "../../../../tests/fuzz/support.rs"]
mod support;

use kaimeng_consensus::codec::{
    MAX_JUSTIFICATION_NULLIFICATIONS, decode_message, decode_record, encode_message, encode_record,
};
use kaimeng_consensus::{
    Certificate, Digest, Justification, Message, Parent, Proposal, ProposalMessage, Record,
    Signature, SignedVote, Vote,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::Index;

fn proposal() -> impl Strategy<Value = Proposal> {
    (
        prop_oneof![0u64..4, any::<u64>()],
        prop_oneof![0u64..1000, any::<u64>()],
        any::<u64>(),
        any::<u64>(),
        any::<[u8; 32]>(),
        any::<[u8; 32]>(),
    )
        .prop_map(
            |(epoch, view, height, parent_view, parent, payload)| Proposal {
                epoch,
                view,
                height,
                parent: Parent {
                    view: parent_view,
                    digest: Digest(parent),
                },
                payload: Digest(payload),
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
    prop_oneof![Just(64usize), Just(65), 1usize..=128]
        .prop_flat_map(|len| vec(any::<u8>(), len))
        .prop_map(Signature)
}

fn certificate(max_signers: usize) -> impl Strategy<Value = Certificate> {
    (vote(), btree_map(0u32..1024, signature(), 1..=max_signers)).prop_map(|(vote, signatures)| {
        Certificate {
            vote,
            signatures: signatures.into_iter().collect(),
        }
    })
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            proposal(),
            0u32..1024,
            signature(),
            proptest::option::of(certificate(6)),
            vec(certificate(3), 0..5)
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
        (vote(), 0u32..1024, signature()).prop_map(|(vote, signer, signature)| {
            Message::Vote(SignedVote {
                vote,
                signer,
                signature,
            })
        }),
        certificate(8).prop_map(Message::Certificate),
    ]
}

fn record() -> impl Strategy<Value = Record> {
    prop_oneof![
        (vote(), 0u32..1024, signature()).prop_map(|(vote, signer, signature)| {
            Record::Vote(SignedVote {
                vote,
                signer,
                signature,
            })
        }),
        certificate(8).prop_map(Record::Certificate),
    ]
}

/// A varint-level mutation.
#[derive(Clone, Debug)]
enum VarintEdit {
    /// The byte at a position, if it could end a varint (below 0x80), re-encoded in two bytes
    /// (`b | 0x80, 0x00`): the same value in a non-canonical form.
    Overlong(Index),
    /// A varint spliced in over a byte: a forged count, length, index or epoch.
    Splice(Index, u64),
}

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

fn varint_edit() -> impl Strategy<Value = VarintEdit> {
    prop_oneof![
        any::<Index>().prop_map(VarintEdit::Overlong),
        (
            any::<Index>(),
            prop_oneof![
                Just(0u64),
                Just(1024),
                Just(1025),
                Just(MAX_JUSTIFICATION_NULLIFICATIONS as u64),
                Just(MAX_JUSTIFICATION_NULLIFICATIONS as u64 + 1),
                Just(u64::MAX),
                Just(1 << 63),
                any::<u64>(),
            ]
        )
            .prop_map(|(at, value)| VarintEdit::Splice(at, value)),
    ]
}

fn apply_varint(bytes: &mut Vec<u8>, edit: &VarintEdit) {
    if bytes.is_empty() {
        return;
    }
    match edit {
        VarintEdit::Overlong(at) => {
            let at = at.index(bytes.len());
            if bytes[at] < 0x80 {
                let byte = bytes[at];
                bytes.splice(at..=at, [byte | 0x80, 0x00]);
            }
        }
        VarintEdit::Splice(at, value) => {
            let at = at.index(bytes.len());
            bytes.splice(at..=at, varint(*value));
        }
    }
}

/// Decodes `bytes` as a message and as a record: never a panic, within bounds, and canonical
/// if accepted.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(message) = support::bounded("decode_message", bytes, || decode_message(bytes)) {
        prop_assert_eq!(support::hex(&encode_message(&message)), support::hex(bytes));
    }
    if let Ok(record) = support::bounded("decode_record", bytes, || decode_record(bytes)) {
        prop_assert_eq!(support::hex(&encode_record(&record)), support::hex(bytes));
    }
    Ok(())
}

proptest! {
    #![proptest_config(support::config(support::cases(128)))]

    #[test]
    fn fuzz_consensus_round_trip(message in message(), record in record()) {
        let bytes = encode_message(&message);
        prop_assert_eq!(
            support::bounded("decode_message", &bytes, || decode_message(&bytes)),
            Ok(message)
        );
        let bytes = encode_record(&record);
        prop_assert_eq!(
            support::bounded("decode_record", &bytes, || decode_record(&bytes)),
            Ok(record)
        );
    }

    #[test]
    fn fuzz_consensus_mutated(
        message in message(),
        record in record(),
        edits in support::edits(5),
        varints in vec(varint_edit(), 0..3),
    ) {
        for mut bytes in [encode_message(&message), encode_record(&record)] {
            for edit in &varints {
                apply_varint(&mut bytes, edit);
            }
            support::apply(&mut bytes, &edits);
            check(&bytes)?;
        }
    }

    #[test]
    fn fuzz_consensus_varint_mutated(message in message(), varints in vec(varint_edit(), 1..4)) {
        let mut bytes = encode_message(&message);
        for edit in &varints {
            apply_varint(&mut bytes, edit);
        }
        check(&bytes)?;
    }

    #[test]
    fn fuzz_consensus_arbitrary_bytes(
        header in prop_oneof![Just(vec![]), (0u8..3).prop_map(|t| vec![1, t]), (0x10u8..0x12).prop_map(|t| vec![1, t])],
        body in support::bytes(2048),
    ) {
        let bytes = [header, body].concat();
        check(&bytes)?;
    }
}

/// The largest legal proposal (the most nullifications, each with many signers) round-trips
/// within the time and allocation bounds.
#[test]
fn the_largest_proposal_decodes_within_bounds() {
    let signatures: Vec<(u32, Signature)> = (0..48).map(|i| (i, Signature(vec![7; 65]))).collect();
    let certificate = Certificate {
        vote: Vote::Nullify {
            epoch: 1,
            view: u64::MAX,
        },
        signatures,
    };
    let message = Message::Proposal(ProposalMessage {
        vote: SignedVote {
            vote: Vote::Notarize(Proposal {
                epoch: 1,
                view: u64::MAX,
                height: u64::MAX,
                parent: Parent {
                    view: 0,
                    digest: Digest([1; 32]),
                },
                payload: Digest([2; 32]),
            }),
            signer: 1023,
            signature: Signature(vec![9; 128]),
        },
        justification: Justification {
            parent: Some(certificate.clone()),
            nullifications: vec![certificate; MAX_JUSTIFICATION_NULLIFICATIONS],
        },
    });
    let bytes = encode_message(&message);
    assert!(bytes.len() < kaimeng_consensus::codec::MAX_MESSAGE_LEN);
    let decoded = support::bounded("decode_message", &bytes, || decode_message(&bytes));
    assert_eq!(decoded, Ok(message));
}
