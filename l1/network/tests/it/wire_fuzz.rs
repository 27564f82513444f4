//! Property tests of the request-response wire format: any bytes decode to a value or a typed
//! error (never a panic), and every message round-trips. Run more cases with
//! `PROPTEST_CASES=100000 cargo test -p kaimeng-network --test it wire_fuzz`.

use kaimeng_network::wire::{self, Request, Response};
use kaimeng_network::{Chain, Refusal, Topic};
use proptest::prelude::*;

fn chain() -> impl Strategy<Value = Chain> {
    prop_oneof![Just(Chain::Beacon), any::<u32>().prop_map(Chain::Shard)]
}

fn topic() -> impl Strategy<Value = Topic> {
    (0..3u8, chain()).prop_map(|(class, chain)| match class {
        0 => Topic::Consensus(chain),
        1 => Topic::Transactions(chain),
        _ => Topic::Blocks(chain),
    })
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (chain(), any::<u64>(), any::<u64>()).prop_map(|(chain, from, to)| Request::GetBlocks {
            chain,
            from,
            to
        }),
        (topic(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(topic, data)| Request::Direct { topic, data }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..32), 0..16)
            .prop_map(Response::Blocks),
        Just(Response::Ack),
        any::<u64>().prop_map(|max| Response::Refused(Refusal::RangeTooLarge { max })),
        Just(Response::Refused(Refusal::RateLimited)),
        Just(Response::Refused(Refusal::Malformed)),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = wire::decode_request(&bytes);
        let _ = wire::decode_response(&bytes, 128);
    }

    #[test]
    fn plausible_frames_never_panic(tag in 0..4u8, body in proptest::collection::vec(any::<u8>(), 0..64)) {
        // Version 1 and a real tag, so decoding gets past the header into the bodies.
        let frame = [vec![wire::VERSION, tag], body].concat();
        let _ = wire::decode_request(&frame);
        let _ = wire::decode_response(&frame, 128);
    }

    #[test]
    fn requests_round_trip(request in request()) {
        prop_assert_eq!(wire::decode_request(&wire::encode_request(&request)), Ok(request));
    }

    #[test]
    fn responses_round_trip(response in response()) {
        prop_assert_eq!(wire::decode_response(&wire::encode_response(&response), 16), Ok(response));
    }

    #[test]
    fn truncated_frames_are_errors(request in request(), cut in any::<prop::sample::Index>()) {
        let bytes = wire::encode_request(&request);
        let cut = cut.index(bytes.len());
        // A Direct request's payload runs to the end, so cutting it is still a valid request
        // with less data; anything cut inside the header must fail.
        let decoded = wire::decode_request(&bytes[..cut]);
        if let Ok(Request::Direct { .. }) = decoded {
            let was_direct = matches!(request, Request::Direct { .. });
            prop_assert!(was_direct);
        } else {
            prop_assert!(decoded.is_err());
        }
    }
}
