//! Fuzzing of what the beacon chain takes from peers and the public (docs/fuzzing.md): beacon
//! blocks (with their VRF proof and evidence) arrive by gossip and block sync, evidence by
//! `kaimeng_submitEvidence`, the beacon state is read back from disk. A real block and real
//! evidence are mutated (forged lengths and counts included): decoding gives a typed error or
//! a block that re-encodes to the same bytes, and applying whatever decodes never panics and
//! never accepts another body than the real one.
//!
//! Cases per property: `FUZZ_CASES` (`benches/fuzz.sh` for a long pass).

use std::sync::OnceLock;

use alloy_primitives::B256;
use kaimeng_consensus::signing::signing_bytes;
use kaimeng_consensus::{Digest, Parent, Proposal, Signature, SignedVote, Vote};
use kaimeng_crypto::vrf::VrfSecretKey;
use kaimeng_genesis::{DevKeyRole, DevOptions, GenesisSpec, dev_member_secret};
use kaimeng_l1::beacon::{
    BeaconBlock, BeaconBody, BeaconState, Evidence, shard_namespace, vrf_input,
};
use proptest::prelude::*;

use crate::fuzz::support;

const SUITE: kaimeng_crypto::CryptoSuite = kaimeng_crypto::CryptoSuite::Secp256k1Keccak;

fn secret(member: u32, role: DevKeyRole) -> [u8; 32] {
    dev_member_secret(member, role, kaimeng_genesis::CryptoSuite::Secp256k1Keccak).0
}

fn evidence() -> Evidence {
    let key = SUITE
        .secret_key_from_bytes(&secret(2, DevKeyRole::Consensus))
        .unwrap();
    let vote = |payload: u8| {
        let vote = Vote::Notarize(Proposal {
            epoch: 0,
            view: 4,
            height: 4,
            parent: Parent {
                view: 3,
                digest: Digest([0; 32]),
            },
            payload: Digest([payload; 32]),
        });
        SignedVote {
            signature: Signature(
                key.sign(&signing_bytes(&shard_namespace(0), &vote))
                    .to_bytes()
                    .to_vec(),
            ),
            vote,
            signer: 2,
        }
    };
    Evidence {
        chain: 0,
        key: key.public_key().to_bytes().to_vec(),
        first: vote(1),
        second: vote(2),
    }
}

/// The genesis state and a real block 1 on it, with a VRF proof and one piece of evidence.
fn fixture() -> &'static (BeaconState, BeaconBlock) {
    static FIXTURE: OnceLock<(BeaconState, BeaconBlock)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut spec = GenesisSpec::dev(&DevOptions {
            validators: 4,
            shards: 2,
            ..DevOptions::default()
        });
        spec.committee_size = Some(2);
        let state = BeaconState::genesis(&spec, &[B256::repeat_byte(1); 2]).unwrap();
        let vrf = VrfSecretKey::from_bytes(&secret(1, DevKeyRole::Vrf));
        let body = BeaconBody {
            proposer: 1,
            vrf_proof: vrf.prove(&vrf_input(31337, 0, 1)),
            governance: Vec::new(),
            crosslinks: Vec::new(),
            evidence: vec![evidence()],
        };
        let (block, _, _) = state.propose(B256::ZERO, 5, body).unwrap();
        (state, block)
    })
}

fn check_block(bytes: &[u8]) -> Result<(), TestCaseError> {
    let (state, real) = fixture();
    let decoded = support::bounded("BeaconBlock::decode", bytes, || {
        BeaconBlock::decode(bytes, SUITE)
    });
    if let Ok(block) = decoded {
        prop_assert_eq!(support::hex(&block.encode()), support::hex(bytes));
        let mut follower = state.clone();
        if follower.apply(&block).is_ok() {
            // The state transition fixes everything but the header's parent and timestamp,
            // which the node checks against the chain it builds on.
            prop_assert_eq!(&block.body, &real.body, "only the real body applies");
            prop_assert_eq!(block.header.state_root, real.header.state_root);
            prop_assert_eq!(block.header.height, real.header.height);
        } else {
            prop_assert_eq!(&follower, state, "a refused block changes nothing");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(support::config(support::cases(64)))]

    #[test]
    fn fuzz_beacon_block_mutated(edits in support::edits(4)) {
        let mut bytes = fixture().1.encode();
        support::apply(&mut bytes, &edits);
        check_block(&bytes)?;
    }

    #[test]
    fn fuzz_beacon_block_arbitrary_bytes(bytes in support::bytes(1024)) {
        check_block(&bytes)?;
    }

    /// Evidence mutated: a typed error, or evidence that re-encodes to the same bytes and that
    /// the state records or refuses without panicking.
    #[test]
    fn fuzz_evidence_mutated(edits in support::edits(4)) {
        let mut bytes = evidence().to_bytes();
        support::apply(&mut bytes, &edits);
        let decoded = support::bounded("Evidence::from_bytes", &bytes, || Evidence::from_bytes(&bytes));
        if let Ok(evidence) = decoded {
            prop_assert_eq!(support::hex(&evidence.to_bytes()), support::hex(&bytes));
            let _ = fixture().0.check_evidence(1, &evidence);
        }
    }

    /// The stored beacon state mutated: a typed error or a state that re-encodes the same.
    #[test]
    fn fuzz_beacon_state_mutated(edits in support::edits(4)) {
        let (state, block) = fixture();
        let mut after = state.clone();
        after.apply(block).unwrap();
        let mut bytes = after.encode();
        support::apply(&mut bytes, &edits);
        let decoded = support::bounded("BeaconState::decode", &bytes, || BeaconState::decode(&bytes));
        if let Ok(decoded) = decoded {
            prop_assert_eq!(support::hex(&decoded.encode()), support::hex(&bytes));
        }
    }
}
