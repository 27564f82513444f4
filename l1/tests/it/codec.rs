//! The wire encoding of governance transactions and the stored encoding of the state: round
//! trips, one encoding per value, typed errors for malformed input (never a panic), and the
//! JSON shapes the RPC serves.

use std::collections::BTreeMap;

use alloy_primitives::{Address, U256};
use kaimeng_genesis::{FeeSplit, HexBytes, Member};
use kaimeng_l1::governance::codec::{MAX_TX_LEN, TX_VERSION};
use kaimeng_l1::governance::{
    Action, ConsortiumState, DecodeError, GovernanceTx, ProposalsView, SignedGovernanceTx,
};
use kaimeng_l1::membership::Parameter;
use proptest::prelude::*;

use crate::common::{Consortium, gas_limit, name, proposal_id};

fn organisation() -> impl Strategy<Value = String> {
    prop_oneof![".{0,12}", "[a-z-]{1,8}"]
}

fn member() -> impl Strategy<Value = Member> {
    (
        organisation(),
        proptest::collection::vec(any::<u8>(), 0..=65),
        proptest::collection::vec(any::<u8>(), 0..=65),
        proptest::collection::vec(any::<u8>(), 0..=65),
        ".{0,20}",
        any::<[u8; 20]>(),
        any::<u64>(),
    )
        .prop_map(
            |(organisation, admin, consensus, vrf, peer_id, recipient, weight)| Member {
                organisation,
                admin_key: HexBytes(admin),
                consensus_key: HexBytes(consensus),
                vrf_key: HexBytes(vrf),
                peer_id,
                fee_recipient: Address::from(recipient),
                weight,
            },
        )
}

fn fee_split() -> impl Strategy<Value = FeeSplit> {
    prop_oneof![
        Just(FeeSplit::Equal),
        Just(FeeSplit::ByWeight),
        proptest::collection::btree_map(organisation(), any::<u32>(), 0..5)
            .prop_map(FeeSplit::Fixed),
    ]
}

fn parameter() -> impl Strategy<Value = Parameter> {
    prop_oneof![
        any::<u128>().prop_map(Parameter::MinBaseFee),
        any::<u64>().prop_map(Parameter::BlockGasLimit),
        any::<u64>().prop_map(Parameter::EpochLength),
        fee_split().prop_map(Parameter::FeeSplit),
        any::<u32>().prop_map(Parameter::CommitteeSize),
        any::<u64>().prop_map(Parameter::ProposalLifetimeEpochs),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        member().prop_map(Action::AddMember),
        organisation().prop_map(Action::RemoveMember),
        parameter().prop_map(Action::SetParameter),
    ]
}

fn signed_tx() -> impl Strategy<Value = SignedGovernanceTx> {
    let propose = (organisation(), action(), any::<u64>()).prop_map(|(proposer, action, nonce)| {
        GovernanceTx::Propose {
            proposer,
            action,
            nonce,
        }
    });
    let vote = (organisation(), any::<u64>(), any::<bool>(), any::<u64>()).prop_map(
        |(voter, proposal_id, approve, nonce)| GovernanceTx::Vote {
            voter,
            proposal_id,
            approve,
            nonce,
        },
    );
    (
        prop_oneof![propose, vote],
        proptest::collection::vec(any::<u8>(), 64),
    )
        .prop_map(|(tx, signature)| SignedGovernanceTx {
            tx,
            signature: signature.try_into().unwrap(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::common::cases(512)))]

    #[test]
    fn every_transaction_round_trips(tx in signed_tx()) {
        let bytes = tx.encode();
        prop_assert_eq!(SignedGovernanceTx::decode(&bytes), Ok(tx));
    }

    /// Arbitrary bytes never panic the decoder, and what it accepts is canonical.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(tx) = SignedGovernanceTx::decode(&bytes) {
            prop_assert_eq!(tx.encode(), bytes);
        }
    }

    /// Corrupting a valid encoding (one byte changed, cut short, or a byte inserted) gives a
    /// typed error or another canonical transaction, never a panic.
    #[test]
    fn corrupted_encodings_are_refused_or_canonical(
        tx in signed_tx(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        how in 0..3u8,
    ) {
        let mut bytes = tx.encode();
        let at = position.index(bytes.len());
        match how {
            0 => bytes[at] = byte,
            1 => bytes.truncate(at),
            _ => bytes.insert(at, byte),
        }
        if let Ok(decoded) = SignedGovernanceTx::decode(&bytes) {
            prop_assert_eq!(decoded.encode(), bytes);
        }
    }

    /// The same for the stored state.
    #[test]
    fn corrupted_state_encodings_are_refused_or_canonical(
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        how in 0..3u8,
    ) {
        let mut bytes = busy_state_bytes().to_vec();
        let at = position.index(bytes.len());
        match how {
            0 => bytes[at] = byte,
            1 => bytes.truncate(at),
            _ => bytes.insert(at, byte),
        }
        if let Ok(decoded) = ConsortiumState::decode(&bytes) {
            prop_assert_eq!(decoded.encode(), bytes);
        }
    }

    #[test]
    fn decoding_arbitrary_bytes_as_state_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(state) = ConsortiumState::decode(&bytes) {
            prop_assert_eq!(state.encode(), bytes);
        }
    }
}

fn busy_state_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| busy_state().encode())
}

fn vote_bytes() -> Vec<u8> {
    SignedGovernanceTx {
        tx: GovernanceTx::Vote {
            voter: "acme".into(),
            proposal_id: 1,
            approve: true,
            nonce: 0,
        },
        signature: [7; 64],
    }
    .encode()
}

#[test]
fn malformed_transactions_get_typed_errors() {
    let vote = vote_bytes();
    // version, kind, len(4) "acme", nonce, proposal id, approve, signature
    assert_eq!(vote.len(), 1 + 1 + 4 + 4 + 8 + 8 + 1 + 64);
    let decode = SignedGovernanceTx::decode;

    assert!(matches!(
        decode(&[]),
        Err(DecodeError::UnexpectedEnd {
            what: "version",
            ..
        })
    ));
    let mut v2 = vote.clone();
    v2[0] = TX_VERSION + 1;
    assert_eq!(
        decode(&v2),
        Err(DecodeError::UnsupportedVersion {
            found: 2,
            supported: 1
        })
    );
    let mut kind = vote.clone();
    kind[1] = 9;
    assert_eq!(
        decode(&kind),
        Err(DecodeError::UnknownTag {
            what: "transaction kind",
            tag: 9
        })
    );
    let mut utf8 = vote.clone();
    utf8[6] = 0xff;
    assert_eq!(
        decode(&utf8),
        Err(DecodeError::InvalidUtf8 { what: "voter" })
    );
    let mut boolean = vote.clone();
    boolean[26] = 2;
    assert_eq!(
        decode(&boolean),
        Err(DecodeError::InvalidBool {
            what: "approve",
            value: 2
        })
    );
    let mut trailing = vote.clone();
    trailing.push(0);
    assert_eq!(
        decode(&trailing),
        Err(DecodeError::TrailingBytes {
            what: "signed transaction",
            count: 1
        })
    );
    assert!(matches!(
        decode(&vote[..vote.len() - 1]),
        Err(DecodeError::UnexpectedEnd {
            what: "signature",
            needed: 1,
            ..
        })
    ));
    let mut huge_name = vote.clone();
    huge_name[2..6].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        decode(&huge_name),
        Err(DecodeError::TooLarge { what: "voter", .. })
    ));
    let too_long = vec![1u8; MAX_TX_LEN + 1];
    assert_eq!(
        decode(&too_long),
        Err(DecodeError::TooLong {
            len: MAX_TX_LEN + 1,
            max: MAX_TX_LEN
        })
    );
}

#[test]
fn a_fixed_split_must_be_encoded_in_ascending_order() {
    let split: BTreeMap<String, u32> = [("a".to_owned(), 1), ("b".to_owned(), 2)]
        .into_iter()
        .collect();
    let tx = SignedGovernanceTx {
        tx: GovernanceTx::Propose {
            proposer: "p".into(),
            action: Action::SetParameter(Parameter::FeeSplit(FeeSplit::Fixed(split))),
            nonce: 0,
        },
        signature: [1; 64],
    };
    let mut bytes = tx.encode();
    // ... count:u32 len:u32 "a" points:u32 len:u32 "b" points:u32 signature
    let b_at = bytes.len() - 64 - 4 - 1;
    let a_at = b_at - 4 - 4 - 1;
    assert_eq!((bytes[a_at], bytes[b_at]), (b'a', b'b'));
    bytes.swap(a_at, b_at);
    assert_eq!(
        SignedGovernanceTx::decode(&bytes),
        Err(DecodeError::NotAscending {
            what: "fixed fee split organisations"
        })
    );
}

/// A state with members added and removed, passed, enacted, open, rejected and expired
/// proposals, nonces, and a fee distribution.
fn busy_state() -> ConsortiumState {
    let mut net = Consortium::new(4);
    let admit = proposal_id(net.propose(0, Action::AddMember(net.candidate(4))).unwrap());
    net.vote(1, admit, true).unwrap();
    net.vote(2, admit, true).unwrap();
    let remove = proposal_id(net.propose(1, Action::RemoveMember(name(3))).unwrap());
    net.vote(0, remove, true).unwrap();
    net.vote(2, remove, true).unwrap();
    let rejected = proposal_id(net.propose(2, gas_limit(40_000_000)).unwrap());
    net.vote(0, rejected, false).unwrap();
    net.vote(1, rejected, false).unwrap();
    let fixed: BTreeMap<String, u32> = [
        (name(0), 4_000),
        (name(1), 3_000),
        (name(2), 2_000),
        (name(3), 1_000),
    ]
    .into_iter()
    .collect();
    let split = proposal_id(
        net.propose(
            3,
            Action::SetParameter(Parameter::FeeSplit(FeeSplit::Fixed(fixed))),
        )
        .unwrap(),
    );
    net.vote(0, split, true).unwrap();
    net.vote(1, split, true).unwrap();
    net.propose(0, gas_limit(50_000_000)).unwrap();
    net.end_epoch(1_234_567);
    net.propose(4, gas_limit(60_000_000)).unwrap();
    net.end_epoch(89);
    net.state
}

#[test]
fn the_state_round_trips_and_its_hash_is_deterministic() {
    let state = busy_state();
    let bytes = state.encode();
    let decoded = ConsortiumState::decode(&bytes).unwrap();
    assert_eq!(decoded, state);
    assert_eq!(decoded.hash(), state.hash());
    assert_eq!(busy_state().hash(), state.hash(), "same history, same hash");

    let statuses: Vec<&str> = state.proposals().iter().map(|p| p.status.name()).collect();
    for expected in ["enacted", "rejected", "expired", "open"] {
        assert!(
            statuses.contains(&expected),
            "{statuses:?} lacks {expected}"
        );
    }
    assert!(state.last_fee_distribution().is_some());

    let mut changed = state.clone();
    let tx_height = changed.epoch().start_height;
    let mut net = Consortium::new(4);
    net.state = changed.clone();
    let vote = net.vote_tx(0, state.proposals().last().unwrap().id, true);
    changed.apply_tx(tx_height, &vote).unwrap();
    assert_ne!(changed.hash(), state.hash());

    assert!(matches!(
        ConsortiumState::decode(&[]),
        Err(DecodeError::UnexpectedEnd { .. })
    ));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(matches!(
        ConsortiumState::decode(&trailing),
        Err(DecodeError::TrailingBytes { .. })
    ));
}

#[test]
fn the_state_hash_uses_the_chain_suite() {
    let secp = Consortium::with_suite(4, kaimeng_genesis::CryptoSuite::Secp256k1Keccak).state;
    let sm2 = Consortium::with_suite(4, kaimeng_genesis::CryptoSuite::Sm2Sm3).state;
    assert_eq!(
        secp.hash().0,
        kaimeng_crypto::CryptoSuite::Secp256k1Keccak.hash(&secp.encode())
    );
    assert_eq!(
        sm2.hash().0,
        kaimeng_crypto::CryptoSuite::Sm2Sm3.hash(&sm2.encode())
    );
}

#[test]
fn rpc_views_have_stable_json_field_names() {
    let state = busy_state();
    let members = serde_json::to_value(state.members_view()).unwrap();
    let first = &members["members"][0];
    for field in [
        "organisation",
        "admin_key",
        "consensus_key",
        "vrf_key",
        "peer_id",
        "fee_recipient",
        "weight",
        "next_nonce",
    ] {
        assert!(first.get(field).is_some(), "member lacks {field}: {first}");
    }
    assert_eq!(members["epoch"], 2);

    let proposals = state.proposals_view(None);
    let json = serde_json::to_value(&proposals).unwrap();
    let first = &json["proposals"][0];
    assert_eq!(first["id"], 1);
    assert_eq!(first["status"], "enacted");
    assert_eq!(first["effective_epoch"], 1);
    assert_eq!(
        first["action"]["add-member"]["organisation"],
        "dev-member-4"
    );
    assert_eq!(first["votes"][0]["voter"], "dev-member-0");
    assert_eq!(first["tally"]["needed"], 3);
    let back: ProposalsView = serde_json::from_value(json).unwrap();
    assert_eq!(back, proposals);
    assert_eq!(state.proposals_view(Some("open")).proposals.len(), 1);

    let epoch = serde_json::to_value(state.epoch_view()).unwrap();
    for field in [
        "epoch",
        "start_height",
        "last_height",
        "length",
        "parameters",
        "validators",
        "scheduled",
        "treasury",
        "treasury_carry",
        "last_fee_distribution",
    ] {
        assert!(epoch.get(field).is_some(), "epoch lacks {field}: {epoch}");
    }
    assert_eq!(
        epoch["parameters"]["min_base_fee"], "1000000000",
        "wei amounts are decimal strings"
    );
    assert_eq!(epoch["last_fee_distribution"]["collected"], "89");

    let state_json = serde_json::to_value(&state).unwrap();
    assert_eq!(state_json["crypto_suite"], "secp256k1-keccak");
}

#[test]
fn actions_parse_from_the_documented_json() {
    let parse = |text: &str| serde_json::from_str::<Action>(text).unwrap();
    assert_eq!(
        parse(r#"{"remove-member": "acme"}"#),
        Action::RemoveMember("acme".into())
    );
    assert_eq!(
        parse(r#"{"set-parameter": {"min-base-fee": "2000000000"}}"#),
        Action::SetParameter(Parameter::MinBaseFee(2_000_000_000))
    );
    assert_eq!(
        parse(r#"{"set-parameter": {"block-gas-limit": 60000000}}"#),
        Action::SetParameter(Parameter::BlockGasLimit(60_000_000))
    );
    assert_eq!(
        parse(r#"{"set-parameter": {"fee-split": {"fixed": {"a": 6000, "b": 4000}}}}"#),
        Action::SetParameter(Parameter::FeeSplit(FeeSplit::Fixed(
            [("a".to_owned(), 6_000), ("b".to_owned(), 4_000)]
                .into_iter()
                .collect()
        )))
    );
    let net = Consortium::new(1);
    let member = net.candidate(5);
    let text = format!(
        r#"{{"add-member": {}}}"#,
        serde_json::to_string(&member).unwrap()
    );
    assert_eq!(parse(&text), Action::AddMember(member));
    let _ = U256::ZERO;
}
