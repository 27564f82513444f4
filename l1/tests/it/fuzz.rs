//! Fuzzing of the governance codec as the public reaches it (docs/fuzzing.md): signed
//! governance transactions arrive by gossip and by `kaimeng_sendGovernanceTransaction`, the
//! consortium state is read back from disk. Complements `codec.rs` (round trips of every shape,
//! typed errors) with transactions really signed by members' admin keys on both suites
//! (secp256k1 and SM2), mutations that forge the 32-bit length prefixes and counts, bounds on
//! time and allocation (`support::bounded`), and applying whatever decodes to a consortium:
//! never a panic, and whatever is accepted re-encodes to the same bytes.
//!
//! Cases per property: `FUZZ_CASES` (`benches/fuzz.sh` for a long pass).

#[path = "../../../tests/fuzz/support.rs"]
pub(crate) mod support;

use std::collections::BTreeMap;

use alloy_primitives::Address;
use kaimeng_genesis::{CryptoSuite, FeeSplit, HexBytes, Member};
use kaimeng_l1::governance::codec::MAX_TX_LEN;
use kaimeng_l1::governance::{Action, ConsortiumState, GovernanceTx, SignedGovernanceTx};
use kaimeng_l1::membership::Parameter;
use proptest::prelude::*;

use crate::common::{Consortium, gas_limit, name, proposal_id};

fn suite() -> impl Strategy<Value = CryptoSuite> {
    prop_oneof![
        Just(CryptoSuite::Secp256k1Keccak),
        Just(CryptoSuite::Sm2Sm3)
    ]
}

fn organisation() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u32..6).prop_map(name),
        1 => ".{0,12}",
        1 => "[a-z-]{60,64}",
    ]
}

fn action() -> impl Strategy<Value = Action> {
    let member = (
        organisation(),
        support::bytes(65),
        support::bytes(65),
        support::bytes(65),
        ".{0,40}",
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
        );
    let split = prop_oneof![
        Just(FeeSplit::Equal),
        Just(FeeSplit::ByWeight),
        proptest::collection::btree_map(organisation(), any::<u32>(), 0..6)
            .prop_map(FeeSplit::Fixed),
    ];
    let parameter = prop_oneof![
        any::<u128>().prop_map(Parameter::MinBaseFee),
        any::<u64>().prop_map(Parameter::BlockGasLimit),
        any::<u64>().prop_map(Parameter::EpochLength),
        split.prop_map(Parameter::FeeSplit),
        any::<u32>().prop_map(Parameter::CommitteeSize),
        any::<u64>().prop_map(Parameter::ProposalLifetimeEpochs),
    ];
    prop_oneof![
        member.prop_map(Action::AddMember),
        organisation().prop_map(Action::RemoveMember),
        parameter.prop_map(Action::SetParameter),
    ]
}

/// A transaction signed by dev member `signer`'s admin key on `suite`, as that member or as
/// someone else, with a plausible or arbitrary nonce.
fn signed(suite: CryptoSuite) -> impl Strategy<Value = SignedGovernanceTx> {
    (
        0u32..5,
        organisation(),
        any::<bool>(),
        prop_oneof![0u64..3, any::<u64>()],
        prop_oneof![
            action().prop_map(Ok),
            (0u64..4, any::<bool>()).prop_map(Err)
        ],
    )
        .prop_map(move |(signer, as_who, honest, nonce, what)| {
            let net = consortium(suite);
            let who = if honest { name(signer) } else { as_who };
            let tx = match what {
                Ok(action) => GovernanceTx::Propose {
                    proposer: who,
                    action,
                    nonce,
                },
                Err((proposal_id, approve)) => GovernanceTx::Vote {
                    voter: who,
                    proposal_id,
                    approve,
                    nonce,
                },
            };
            tx.sign(net.state.domain(), &net.admin(signer))
        })
}

/// A dev consortium of four with an open proposal (id 1), built once per suite.
fn consortium(suite: CryptoSuite) -> &'static Consortium {
    static SECP: std::sync::OnceLock<Consortium> = std::sync::OnceLock::new();
    static SM2: std::sync::OnceLock<Consortium> = std::sync::OnceLock::new();
    let cell = match suite {
        CryptoSuite::Secp256k1Keccak => &SECP,
        CryptoSuite::Sm2Sm3 => &SM2,
    };
    cell.get_or_init(|| {
        let mut net = Consortium::with_suite(4, suite);
        let id = proposal_id(net.propose(0, gas_limit(40_000_000)).unwrap());
        assert_eq!(id, 1);
        net
    })
}

fn decode(bytes: &[u8]) -> Result<SignedGovernanceTx, kaimeng_l1::governance::DecodeError> {
    support::bounded("SignedGovernanceTx::decode", bytes, || {
        SignedGovernanceTx::decode(bytes)
    })
}

/// What is accepted is canonical, and a consortium applies it or refuses it without panicking
/// (and with its state unchanged when it refuses).
fn check(suite: CryptoSuite, bytes: &[u8]) -> Result<(), TestCaseError> {
    match decode(bytes) {
        Err(error) => prop_assert!(!error.to_string().is_empty()),
        Ok(tx) => {
            prop_assert_eq!(support::hex(&tx.encode()), support::hex(bytes));
            let net = consortium(suite);
            let mut state = net.state.clone();
            let outcome = support::bounded("ConsortiumState::apply_tx", bytes, || {
                state.apply_tx(net.height, &tx)
            });
            if outcome.is_err() {
                prop_assert_eq!(
                    &state,
                    &net.state,
                    "a refused transaction changed the state"
                );
            }
        }
    }
    Ok(())
}

/// A state with members, nonces, proposals in several statuses and a fee distribution.
fn stored_state() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| {
        let mut net = Consortium::new(4);
        let admit = proposal_id(net.propose(0, Action::AddMember(net.candidate(4))).unwrap());
        net.vote(1, admit, true).unwrap();
        net.vote(2, admit, true).unwrap();
        let rejected = proposal_id(net.propose(2, gas_limit(40_000_000)).unwrap());
        net.vote(0, rejected, false).unwrap();
        net.vote(1, rejected, false).unwrap();
        let fixed: BTreeMap<String, u32> = [
            (name(0), 4_000),
            (name(1), 3_000),
            (name(2), 2_000),
            (name(3), 1_000),
        ]
        .into();
        net.propose(
            3,
            Action::SetParameter(Parameter::FeeSplit(FeeSplit::Fixed(fixed))),
        )
        .unwrap();
        net.end_epoch(1_234_567);
        net.state.encode()
    })
}

proptest! {
    #![proptest_config(support::config(support::cases(64)))]

    /// Signed transactions round-trip, and the consortium's verdict on them never panics.
    #[test]
    fn fuzz_governance_signed_round_trip((suite, tx) in suite().prop_flat_map(|s| (Just(s), signed(s)))) {
        let bytes = tx.encode();
        prop_assert_eq!(decode(&bytes), Ok(tx));
        check(suite, &bytes)?;
    }

    /// Signed transactions mutated (including forged lengths and counts): a typed error, or a
    /// canonical transaction that the consortium applies or refuses.
    #[test]
    fn fuzz_governance_mutated(
        (suite, tx) in suite().prop_flat_map(|s| (Just(s), signed(s))),
        edits in support::edits(4),
    ) {
        let mut bytes = tx.encode();
        support::apply(&mut bytes, &edits);
        check(suite, &bytes)?;
    }

    #[test]
    fn fuzz_governance_arbitrary_bytes(suite in suite(), bytes in support::bytes(1024)) {
        check(suite, &bytes)?;
    }

    /// Plausible prefixes (version, kind, a length) with arbitrary bodies.
    #[test]
    fn fuzz_governance_plausible_prefix(
        kind in 0u8..3,
        len in support::interesting_u32(),
        body in support::bytes(512),
    ) {
        let mut bytes = vec![1, kind];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend(body);
        check(CryptoSuite::Secp256k1Keccak, &bytes)?;
    }

    /// The stored state mutated: a typed error or a canonical state.
    #[test]
    fn fuzz_governance_state_mutated(edits in support::edits(4)) {
        let mut bytes = stored_state().to_vec();
        support::apply(&mut bytes, &edits);
        let decoded = support::bounded("ConsortiumState::decode", &bytes, || ConsortiumState::decode(&bytes));
        if let Ok(state) = decoded {
            prop_assert_eq!(support::hex(&state.encode()), support::hex(&bytes));
        }
    }

    #[test]
    fn fuzz_governance_state_arbitrary_bytes(bytes in support::bytes(2048)) {
        let decoded = support::bounded("ConsortiumState::decode", &bytes, || ConsortiumState::decode(&bytes));
        if let Ok(state) = decoded {
            prop_assert_eq!(state.encode(), bytes);
        }
    }
}

#[test]
fn the_largest_transaction_decodes_within_bounds() {
    // A fixed fee split naming as many organisations as fit under MAX_TX_LEN.
    let fixed: BTreeMap<String, u32> = (0..1024).map(|i| (format!("{i:0>250}"), 1)).collect();
    let tx = GovernanceTx::Propose {
        proposer: name(0),
        action: Action::SetParameter(Parameter::FeeSplit(FeeSplit::Fixed(fixed))),
        nonce: 0,
    }
    .sign(
        consortium(CryptoSuite::Secp256k1Keccak).state.domain(),
        &consortium(CryptoSuite::Secp256k1Keccak).admin(0),
    );
    let bytes = tx.encode();
    assert!(bytes.len() <= MAX_TX_LEN, "{} bytes", bytes.len());
    assert_eq!(decode(&bytes), Ok(tx));
}
