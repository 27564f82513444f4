//! Authentication of governance transactions: admin-key signatures bound to one chain, and
//! per-member nonces against replay. A refused transaction changes nothing.

use kaimeng_crypto::SecretKey;
use kaimeng_genesis::{CryptoSuite, DevOptions, GenesisSpec};
use kaimeng_l1::governance::{
    ConsortiumState, GovernanceDomain, GovernanceError, GovernanceTx, SignedGovernanceTx,
};

use crate::common::{Consortium, gas_limit, name, proposal_id};

fn assert_bad_signature(result: Result<impl std::fmt::Debug, GovernanceError>) {
    match result {
        Err(GovernanceError::BadSignature { .. }) => {}
        other => panic!("expected BadSignature, got {other:?}"),
    }
}

#[test]
fn a_vote_with_a_bad_signature_is_rejected_in_both_suites() {
    for suite in CryptoSuite::ALL {
        let mut net = Consortium::with_suite(4, suite);
        let id = proposal_id(net.propose(0, gas_limit(50_000_000)).unwrap());
        let before = net.state.clone();

        // One flipped bit in the signature.
        let mut tampered = net.vote_tx(1, id, true);
        tampered.signature[40] ^= 0x01;
        assert_bad_signature(net.apply(&tampered));

        // The signature is valid, but for a different vote.
        let mut swapped = net.vote_tx(1, id, true);
        swapped.tx = GovernanceTx::Vote {
            voter: name(1),
            proposal_id: id,
            approve: false,
            nonce: 0,
        };
        assert_bad_signature(net.apply(&swapped));

        // Signed by another member's admin key.
        let forged = GovernanceTx::Vote {
            voter: name(1),
            proposal_id: id,
            approve: true,
            nonce: 0,
        }
        .sign(net.state.domain(), &net.admin(2));
        assert_bad_signature(net.apply(&forged));

        // Signed by the member's consensus key instead of its admin key.
        let wrong_role = SecretKey::from_bytes(
            net.state.crypto_suite(),
            kaimeng_genesis::dev_member_secret(1, kaimeng_genesis::DevKeyRole::Consensus, suite)
                .as_slice(),
        )
        .unwrap();
        let by_consensus_key = GovernanceTx::Vote {
            voter: name(1),
            proposal_id: id,
            approve: true,
            nonce: 0,
        }
        .sign(net.state.domain(), &wrong_role);
        assert_bad_signature(net.apply(&by_consensus_key));

        // Not a signature at all: zero scalars.
        let mut zeros = net.vote_tx(1, id, true);
        zeros.signature = [0; 64];
        assert_bad_signature(net.apply(&zeros));

        assert_eq!(net.state, before, "{suite}: refused votes change nothing");
        assert_eq!(net.state.next_nonce(&name(1)), 0);
        // The genuine vote still goes through.
        net.vote(1, id, true).unwrap();
    }
}

#[test]
fn replayed_transactions_are_rejected() {
    let mut net = Consortium::new(4);
    let propose = net.propose_tx(0, gas_limit(50_000_000));
    let id = proposal_id(net.apply(&propose).unwrap());
    assert_eq!(
        net.apply(&propose),
        Err(GovernanceError::BadNonce {
            organisation: name(0),
            expected: 1,
            got: 0
        })
    );
    let vote = net.vote_tx(1, id, true);
    net.apply(&vote).unwrap();
    assert_eq!(
        net.apply(&vote),
        Err(GovernanceError::BadNonce {
            organisation: name(1),
            expected: 1,
            got: 0
        })
    );
    // Replayed in a later epoch, after the proposal passed and took effect.
    net.vote(2, id, true).unwrap();
    net.end_epoch(0);
    let before = net.state.clone();
    for tx in [&propose, &vote] {
        assert!(matches!(
            net.apply(tx),
            Err(GovernanceError::BadNonce { .. })
        ));
    }
    assert_eq!(net.state, before);
    assert_eq!(net.state.proposals().len(), 1);
}

#[test]
fn nonces_are_sequential_per_member() {
    let mut net = Consortium::new(4);
    let skip_ahead = GovernanceTx::Propose {
        proposer: name(0),
        action: gas_limit(50_000_000),
        nonce: 1,
    }
    .sign(net.state.domain(), &net.admin(0));
    assert_eq!(
        net.apply(&skip_ahead),
        Err(GovernanceError::BadNonce {
            organisation: name(0),
            expected: 0,
            got: 1
        })
    );
    net.propose(0, gas_limit(50_000_000)).unwrap();
    assert!(net.apply(&skip_ahead).is_ok(), "nonce 1 is next now");
    assert_eq!(net.state.next_nonce(&name(0)), 2);
    assert_eq!(net.state.next_nonce(&name(1)), 0, "nonces are per member");
}

#[test]
fn a_signature_for_another_chain_does_not_verify_here() {
    let net = Consortium::new(4);
    let mut other_chain = *net.state.domain();
    other_chain.chain_id += 1;
    let mut other_genesis: GovernanceDomain = *net.state.domain();
    other_genesis.genesis_hash.0[0] ^= 1;
    for domain in [other_chain, other_genesis] {
        let mut state = net.state.clone();
        let tx = GovernanceTx::Propose {
            proposer: name(0),
            action: gas_limit(50_000_000),
            nonce: 0,
        }
        .sign(&domain, &net.admin(0));
        assert_bad_signature(state.apply_tx(net.height, &tx));
    }

    // Two chains with the same members but different genesis files (here: the timestamp) have
    // different domains, so one's transactions are void on the other.
    let a = GenesisSpec::dev(&DevOptions::default());
    let b = GenesisSpec::dev(&DevOptions {
        timestamp: 1,
        ..DevOptions::default()
    });
    let on_a = Consortium::from_genesis(a);
    let mut on_b = ConsortiumState::from_genesis(&b).unwrap();
    let tx = on_a.propose_tx(0, gas_limit(50_000_000));
    assert_bad_signature(on_b.apply_tx(1, &tx));
}

#[test]
fn the_signed_message_is_domain_separated_and_covers_every_field() {
    let net = Consortium::new(4);
    let tx = GovernanceTx::Vote {
        voter: name(1),
        proposal_id: 7,
        approve: true,
        nonce: 3,
    };
    let message = tx.signing_message(net.state.domain());
    assert!(message.starts_with(kaimeng_l1::governance::SIGNING_DOMAIN));
    let changed = [
        GovernanceTx::Vote {
            voter: name(2),
            proposal_id: 7,
            approve: true,
            nonce: 3,
        },
        GovernanceTx::Vote {
            voter: name(1),
            proposal_id: 8,
            approve: true,
            nonce: 3,
        },
        GovernanceTx::Vote {
            voter: name(1),
            proposal_id: 7,
            approve: false,
            nonce: 3,
        },
        GovernanceTx::Vote {
            voter: name(1),
            proposal_id: 7,
            approve: true,
            nonce: 4,
        },
    ];
    for other in changed {
        assert_ne!(
            other.signing_message(net.state.domain()),
            message,
            "{other:?}"
        );
    }
}

#[test]
fn encoded_transactions_apply_like_decoded_ones() {
    let mut net = Consortium::new(4);
    let tx = net.propose_tx(0, gas_limit(50_000_000));
    let bytes = tx.encode();
    assert_eq!(SignedGovernanceTx::decode(&bytes).unwrap(), tx);
    let height = net.height;
    net.state.apply_encoded_tx(height, &bytes).unwrap();
    assert!(matches!(
        net.state
            .apply_encoded_tx(height, &bytes[..bytes.len() - 1]),
        Err(GovernanceError::Decode(_))
    ));
    let suite = net.state.crypto_suite();
    assert_ne!(
        tx.id(suite),
        net.propose_tx(0, gas_limit(50_000_000)).id(suite)
    );
}
