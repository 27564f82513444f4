//! Messages, outbox proofs and delivery checks, without a chain.

use alloy_primitives::{Address, B256, Bytes, U256};

use super::commitment::*;
use super::message::*;

fn message(nonce: u64, value: u64) -> Message {
    Message {
        kind: MessageKind::Call,
        source: 0,
        destination: 1,
        nonce,
        from: Address::repeat_byte(1),
        to: Address::repeat_byte(2),
        value: U256::from(value),
        gas_limit: 50_000,
        data: Bytes::from(vec![7; (nonce % 5) as usize]),
    }
}

/// A source block that sent `count` messages, and the crosslink the beacon chain recorded.
fn source_block(count: u64) -> (Vec<Message>, CrosslinkedHeader) {
    let sent: Vec<Message> = (0..count).map(|n| message(n, 10 + n)).collect();
    let crosslinked = CrosslinkedHeader {
        beacon_height: 5,
        requests_hash: commitment_of(&sent, &[]),
    };
    (sent, crosslinked)
}

fn delivery_of(sent: &[Message], index: usize) -> Delivery {
    let ids: Vec<B256> = sent.iter().map(Message::id).collect();
    Delivery {
        message: sent[index].clone(),
        source_height: 3,
        crosslinked_at: 5,
        proof: OutboxProof::build(&ids, index, deliveries_digest(&[])),
    }
}

#[test]
fn messages_and_deliveries_round_trip_through_their_encodings() {
    let (sent, _) = source_block(5);
    assert_eq!(decode_messages(&encode_messages(&sent)).unwrap(), sent);
    let deliveries: Vec<Delivery> = (0..5).map(|i| delivery_of(&sent, i)).collect();
    assert_eq!(
        decode_deliveries(&encode_deliveries(&deliveries)).unwrap(),
        deliveries
    );
    let refund = sent[2].refund(9);
    assert_eq!(refund.refunds(), Some(sent[2].id()));
    assert_eq!(
        (refund.source, refund.destination, refund.to),
        (1, 0, sent[2].from)
    );
}

#[test]
fn cut_or_padded_encodings_are_refused_with_a_reason() {
    let (sent, _) = source_block(3);
    let bytes = encode_deliveries(&[delivery_of(&sent, 1)]);
    for cut in 0..bytes.len() {
        assert!(decode_deliveries(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut padded = bytes.clone();
    padded.push(0);
    assert!(decode_deliveries(&padded).unwrap_err().contains("after"));
    let mut bad_kind = encode_messages(&sent);
    bad_kind[4] = 9;
    assert!(decode_messages(&bad_kind).unwrap_err().contains("kind"));
}

#[test]
fn every_message_of_a_block_proves_against_its_crosslinked_header() {
    for count in 1..=17 {
        let (sent, crosslinked) = source_block(count);
        for index in 0..count as usize {
            let delivery = delivery_of(&sent, index);
            check_delivery(&delivery, 1, 4, 5, Some(crosslinked))
                .unwrap_or_else(|e| panic!("{count} messages, index {index}: {e}"));
        }
    }
}

#[test]
fn a_delivery_that_does_not_prove_is_refused_with_what_is_wrong() {
    let (sent, crosslinked) = source_block(6);
    let good = delivery_of(&sent, 4);
    let check = |d: &Delivery, shard, reference, link| check_delivery(d, shard, 4, reference, link);

    let mut raised = good.clone();
    raised.message.value += U256::from(1);
    assert!(
        check(&raised, 1, 5, Some(crosslinked))
            .unwrap_err()
            .contains("not in shard 0")
    );

    let mut moved = good.clone();
    moved.proof.index = 5;
    assert!(check(&moved, 1, 5, Some(crosslinked)).is_err());

    let mut short = good.clone();
    short.proof.siblings.pop();
    assert!(check(&short, 1, 5, Some(crosslinked)).is_err());

    assert!(
        check(&good, 2, 5, Some(crosslinked))
            .unwrap_err()
            .contains("delivered on shard 2")
    );
    assert!(
        check(&good, 1, 5, None)
            .unwrap_err()
            .contains("not crosslinked")
    );
    assert!(
        check(&good, 1, 4, Some(crosslinked))
            .unwrap_err()
            .contains("after the referenced")
    );
    let mut wrong_height = good.clone();
    wrong_height.crosslinked_at = 4;
    assert!(
        check(&wrong_height, 1, 5, Some(crosslinked))
            .unwrap_err()
            .contains("claims")
    );

    let mut from_itself = good.clone();
    from_itself.message.source = 1;
    assert!(
        check(&from_itself, 1, 5, Some(crosslinked))
            .unwrap_err()
            .contains("cannot send")
    );

    let other = CrosslinkedHeader {
        requests_hash: B256::repeat_byte(9),
        ..crosslinked
    };
    assert!(check(&good, 1, 5, Some(other)).is_err());
}

#[test]
fn a_call_expires_after_its_window_and_a_refund_never_does() {
    let call = message(0, 1);
    assert!(!expired(&call, 10, 10 + DELIVERY_WINDOW));
    assert!(expired(&call, 10, 11 + DELIVERY_WINDOW));
    let refund = call.refund(0);
    assert!(!expired(&refund, 10, 10_000 + DELIVERY_WINDOW));
}

#[test]
fn a_block_without_traffic_keeps_ethereums_empty_requests_hash() {
    assert_eq!(
        commitment_of(&[], &[]),
        alloy_eips::eip7685::EMPTY_REQUESTS_HASH
    );
    let (sent, _) = source_block(1);
    assert_ne!(
        commitment_of(&sent, &[]),
        alloy_eips::eip7685::EMPTY_REQUESTS_HASH
    );
}
