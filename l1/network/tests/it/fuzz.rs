//! Fuzzing of the request-response wire format as peers reach it (docs/fuzzing.md).
//! Complements `wire_fuzz.rs` (no panics, round trips, truncation) with: bounds on time and
//! allocation for every decode (`support::bounded`), the shared mutations (forged 32-bit
//! counts and lengths, several edits at once), and the canonical-form property: whatever a
//! decoder accepts re-encodes to exactly the same bytes.
//!
//! Cases per property: `FUZZ_CASES` (`benches/fuzz.sh` for a long pass).

#[path = "../../../../tests/fuzz/support.rs"]
mod support;

use kaimeng_network::wire::{self, Request, Response};
use kaimeng_network::{Chain, Refusal, Topic};
use proptest::prelude::*;

fn chain() -> impl Strategy<Value = Chain> {
    prop_oneof![Just(Chain::Beacon), any::<u32>().prop_map(Chain::Shard)]
}

fn request() -> impl Strategy<Value = Request> {
    let topic = (0..3u8, chain()).prop_map(|(class, chain)| match class {
        0 => Topic::Consensus(chain),
        1 => Topic::Transactions(chain),
        _ => Topic::Blocks(chain),
    });
    prop_oneof![
        (chain(), any::<u64>(), any::<u64>()).prop_map(|(chain, from, to)| Request::GetBlocks {
            chain,
            from,
            to
        }),
        (topic, support::bytes(256)).prop_map(|(topic, data)| Request::Direct { topic, data }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        proptest::collection::vec(support::bytes(64), 0..12).prop_map(Response::Blocks),
        Just(Response::Ack),
        any::<u64>().prop_map(|max| Response::Refused(Refusal::RangeTooLarge { max })),
        proptest::sample::select(vec![
            Refusal::InvalidRange,
            Refusal::RateLimited,
            Refusal::Busy,
            Refusal::NoBlockSource,
            Refusal::NotAccepted,
            Refusal::Malformed,
        ])
        .prop_map(Response::Refused),
    ]
}

/// The most blocks a response may carry in these properties.
const MAX_BLOCKS: u64 = 16;

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(request) = support::bounded("decode_request", bytes, || wire::decode_request(bytes)) {
        prop_assert_eq!(wire::encode_request(&request), bytes.to_vec());
    }
    for max in [MAX_BLOCKS, u64::MAX] {
        if let Ok(response) = support::bounded("decode_response", bytes, || {
            wire::decode_response(bytes, max)
        }) {
            if let Response::Blocks(blocks) = &response {
                prop_assert!(blocks.len() as u64 <= max);
            }
            prop_assert_eq!(wire::encode_response(&response), bytes.to_vec());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(support::config(support::cases(128)))]

    #[test]
    fn fuzz_network_round_trip(request in request(), response in response()) {
        let bytes = wire::encode_request(&request);
        prop_assert_eq!(support::bounded("decode_request", &bytes, || wire::decode_request(&bytes)), Ok(request));
        let bytes = wire::encode_response(&response);
        prop_assert_eq!(
            support::bounded("decode_response", &bytes, || wire::decode_response(&bytes, MAX_BLOCKS)),
            Ok(response)
        );
    }

    #[test]
    fn fuzz_network_mutated(request in request(), response in response(), edits in support::edits(4)) {
        for mut bytes in [wire::encode_request(&request), wire::encode_response(&response)] {
            support::apply(&mut bytes, &edits);
            check(&bytes)?;
        }
    }

    #[test]
    fn fuzz_network_arbitrary_bytes(
        tag in proptest::option::of(0u8..4),
        count in proptest::option::of(support::interesting_u32()),
        body in support::bytes(1024),
    ) {
        let mut bytes = Vec::new();
        if let Some(tag) = tag {
            bytes.extend([wire::VERSION, tag]);
        }
        if let Some(count) = count {
            bytes.extend(count.to_be_bytes());
        }
        bytes.extend(body);
        check(&bytes)?;
    }
}
