//! The beacon chain's pure rules: blocks commit to their body and state, crosslinks are
//! checked against the shard's validators, fees are shared per shard from crosslinked headers.

use super::evidence;
use alloy_consensus::Header;
use alloy_primitives::{B256, U256};
use kaimeng_consensus::signing::signing_bytes;
use kaimeng_consensus::{Certificate, Digest, Parent, Proposal, Signature, Vote, codec};
use kaimeng_crypto::vrf::{VrfProof, VrfSecretKey};
use kaimeng_crypto::{CryptoSuite, SecretKey};
use kaimeng_genesis::{DevKeyRole, DevOptions, GenesisSpec, dev_member_secret};

use super::*;
use crate::governance::EpochTransition;

const SUITE: CryptoSuite = CryptoSuite::Secp256k1Keccak;
const SHARD_GENESIS: B256 = B256::repeat_byte(0x5a);

fn genesis() -> GenesisSpec {
    let mut spec = GenesisSpec::dev(&DevOptions {
        validators: 4,
        ..DevOptions::default()
    });
    spec.epoch_length = 3;
    spec
}

fn state() -> BeaconState {
    BeaconState::genesis(&genesis(), &[SHARD_GENESIS]).unwrap()
}

fn member_keys() -> Vec<SecretKey> {
    (0..4)
        .map(|i| {
            let secret = dev_member_secret(
                i,
                DevKeyRole::Consensus,
                kaimeng_genesis::CryptoSuite::Secp256k1Keccak,
            );
            SUITE.secret_key_from_bytes(secret.as_slice()).unwrap()
        })
        .collect()
}

/// Shard headers `from..=to` on `parent`, each referencing beacon epoch `epoch`, paying a
/// base fee of 10 wei on 1,000 gas.
fn shard_headers(parent: B256, from: u64, to: u64, epoch: u64) -> Vec<Header> {
    let mut parent = parent;
    (from..=to)
        .map(|number| {
            let reference = BeaconRef {
                root: B256::repeat_byte(1),
                height: 1,
                epoch,
            };
            let header = Header {
                number,
                parent_hash: parent,
                base_fee_per_gas: Some(10),
                gas_used: 1_000,
                parent_beacon_block_root: Some(reference.root),
                extra_data: reference.extra_data(),
                ..Default::default()
            };
            parent = header.hash_slow();
            header
        })
        .collect()
}

fn certificate(signers: &[SecretKey], epoch: u64, header: &Header) -> Vec<u8> {
    let vote = Vote::Finalize(Proposal {
        epoch,
        view: header.number + 1,
        height: header.number,
        parent: Parent {
            view: header.number,
            digest: Digest([0; 32]),
        },
        payload: Digest(header.hash_slow().0),
    });
    let message = signing_bytes(&shard_namespace(0), &vote);
    codec::encode_certificate(&Certificate {
        vote,
        signatures: signers
            .iter()
            .enumerate()
            .map(|(i, k)| (i as u32, Signature(k.sign(&message).to_bytes().to_vec())))
            .collect(),
    })
}

fn crosslink(headers: Vec<Header>, signers: &[SecretKey], epoch: u64) -> Crosslink {
    let certificate = certificate(signers, epoch, headers.last().unwrap());
    Crosslink {
        shard: 0,
        headers,
        certificate,
    }
}

fn vrf_key(member: u32) -> VrfSecretKey {
    let secret = dev_member_secret(
        member,
        DevKeyRole::Vrf,
        kaimeng_genesis::CryptoSuite::Secp256k1Keccak,
    );
    VrfSecretKey::from_bytes(&secret.0)
}

/// A body without its proposer's proof (`Seal::seal` adds it).
fn body(crosslinks: Vec<Crosslink>) -> BeaconBody {
    BeaconBody {
        proposer: 0,
        vrf_proof: VrfProof([0; 80]),
        governance: Vec::new(),
        crosslinks,
        evidence: Vec::new(),
    }
}

/// Proposes as the member whose turn the height is, with its VRF proof.
trait Seal {
    fn seal(
        &self,
        parent: B256,
        timestamp: u64,
        body: BeaconBody,
    ) -> Result<(BeaconBlock, BeaconState, Option<EpochTransition>), BeaconError>;
}

impl Seal for BeaconState {
    fn seal(
        &self,
        parent: B256,
        timestamp: u64,
        mut body: BeaconBody,
    ) -> Result<(BeaconBlock, BeaconState, Option<EpochTransition>), BeaconError> {
        let height = self.height + 1;
        body.proposer = (height % 4) as u32;
        let alpha = vrf_input(
            self.consortium.domain().chain_id,
            self.consortium.epoch().epoch,
            height,
        );
        body.vrf_proof = vrf_key(body.proposer).prove(&alpha);
        self.propose(parent, timestamp, body)
    }
}

#[test]
fn a_proposed_block_applies_on_every_node_and_commits_to_its_state() {
    let state = state();
    let (block, after, transition) = state.seal(B256::ZERO, 7, body(Vec::new())).unwrap();
    assert!(transition.is_none());
    assert_eq!(block.header.height, 1);
    assert_eq!(block.header.state_root, after.root());
    let mut follower = state.clone();
    follower.apply(&block).unwrap();
    assert_eq!(follower, after);
    // The encoding round-trips and checks the body root.
    let bytes = block.encode();
    assert_eq!(BeaconBlock::decode(&bytes, SUITE).unwrap(), block);
    let mut tampered = block.clone();
    tampered.header.state_root = B256::repeat_byte(9);
    let mut refused = state.clone();
    assert_eq!(
        refused.apply(&tampered),
        Err(BeaconError::StateRoot { height: 1 })
    );
    assert_eq!(refused, state, "a refused block changes nothing");
    tampered = block.clone();
    tampered.body.governance = vec![0, 0, 0, 0];
    assert_eq!(
        BeaconBlock::decode(&tampered.encode(), SUITE),
        Err(BeaconError::BodyRoot)
    );
}

#[test]
fn a_certified_crosslink_is_recorded_and_its_fees_are_shared_at_the_epoch_end() {
    let keys = member_keys();
    let state = state();
    let headers = shard_headers(SHARD_GENESIS, 1, 2, 0);
    let last = headers.last().unwrap().hash_slow();
    let (_, after, _) = state
        .seal(B256::ZERO, 1, body(vec![crosslink(headers, &keys[..3], 0)]))
        .unwrap();
    assert_eq!((after.shards[0].height, after.shards[0].hash), (2, last));
    assert_eq!(after.shards[0].fees, U256::from(20_000));
    // Heights 2 and 3 end beacon epoch 0: the shard's fees are shared among the members.
    let (_, after, _) = after.seal(B256::ZERO, 2, body(Vec::new())).unwrap();
    let (_, after, transition) = after.seal(B256::ZERO, 3, body(Vec::new())).unwrap();
    let transition = transition.expect("height 3 ends epoch 0");
    assert_eq!(transition.fees.collected, U256::from(20_000));
    let paid: U256 = after.payouts[0].iter().map(|(_, a)| *a).sum();
    assert_eq!(paid + after.shards[0].carry, U256::from(20_000));
    assert_eq!(after.shards[0].fees, U256::ZERO);
}

#[test]
fn crosslinks_that_do_not_prove_finality_are_refused() {
    let keys = member_keys();
    let state = state();
    let refused = |link: Crosslink| state.seal(B256::ZERO, 1, body(vec![link])).unwrap_err();
    // Too few signers.
    let short = crosslink(shard_headers(SHARD_GENESIS, 1, 2, 0), &keys[..2], 0);
    assert!(matches!(refused(short), BeaconError::Certificate(0, _)));
    // Signed by keys that are not the shard's validators.
    let strangers: Vec<_> = (0..4)
        .map(|i| SecretKey::from_seed(SUITE, &[i + 40; 32]))
        .collect();
    let forged = crosslink(shard_headers(SHARD_GENESIS, 1, 2, 0), &strangers, 0);
    assert!(matches!(refused(forged), BeaconError::Certificate(0, _)));
    // Does not start after the last linked header.
    let gap = crosslink(shard_headers(B256::repeat_byte(3), 1, 2, 0), &keys, 0);
    assert_eq!(
        refused(gap),
        BeaconError::CrosslinkGap {
            shard: 0,
            linked: 0,
            found: 1
        }
    );
    // A certificate of the wrong shard epoch.
    let wrong_epoch = crosslink(shard_headers(SHARD_GENESIS, 1, 2, 0), &keys, 1);
    assert!(matches!(
        refused(wrong_epoch),
        BeaconError::Certificate(0, _)
    ));
    // Spans the shard epoch end at height 3.
    let spanning = crosslink(shard_headers(SHARD_GENESIS, 1, 4, 0), &keys, 1);
    assert_eq!(
        refused(spanning),
        BeaconError::CrosslinkSpansEpochs { shard: 0 }
    );
    // An unknown shard.
    let mut unknown = crosslink(shard_headers(SHARD_GENESIS, 1, 2, 0), &keys, 0);
    unknown.shard = 5;
    assert_eq!(refused(unknown), BeaconError::UnknownShard(5));
}

#[test]
fn a_shard_epoch_end_names_the_validators_of_the_next_shard_epoch() {
    let keys = member_keys();
    let state = state();
    // Shard epoch 0 ends at height 3; its last block references beacon epoch 0.
    let headers = shard_headers(SHARD_GENESIS, 1, 3, 0);
    let tip = headers.last().unwrap().hash_slow();
    let (_, after, _) = state
        .seal(B256::ZERO, 1, body(vec![crosslink(headers, &keys, 0)]))
        .unwrap();
    assert_eq!(after.shards[0].validators_epoch, 0);
    // A later beacon epoch than the beacon chain has reached is refused.
    let ahead = crosslink(shard_headers(tip, 4, 6, 5), &keys, 1);
    assert_eq!(
        after.seal(B256::ZERO, 2, body(vec![ahead])).unwrap_err(),
        BeaconError::BadReference { shard: 0, epoch: 5 }
    );
}

#[test]
fn the_state_encoding_round_trips_and_truncation_is_refused() {
    let keys = member_keys();
    let (_, state, _) = state()
        .seal(
            B256::ZERO,
            1,
            body(vec![crosslink(
                shard_headers(SHARD_GENESIS, 1, 2, 0),
                &keys,
                0,
            )]),
        )
        .unwrap();
    let bytes = state.encode();
    assert_eq!(BeaconState::decode(&bytes).unwrap(), state);
    for cut in [0, 7, 20, 100, 200] {
        assert!(matches!(
            BeaconState::decode(&bytes[..cut]),
            Err(BeaconError::Corrupt(_))
        ));
    }
}

#[test]
fn undecodable_blocks_say_what_was_wrong() {
    let (block, _, _) = state().seal(B256::ZERO, 1, body(Vec::new())).unwrap();
    let bytes = block.encode();
    assert_eq!(
        BeaconBlock::decode(&bytes[..50], SUITE),
        Err(BeaconError::Truncated("the beacon header"))
    );
    let mut long = bytes.clone();
    long.push(0);
    assert!(BeaconBlock::decode(&long, SUITE).is_err());
    let mut forged_count = block.header.encode().to_vec();
    forged_count.extend_from_slice(&[0; 84]);
    forged_count.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    assert!(BeaconBlock::decode(&forged_count, SUITE).is_err());
}

#[test]
fn a_block_without_a_valid_vrf_proof_of_its_proposer_is_refused() {
    let state = state();
    let (block, _, _) = state.seal(B256::ZERO, 1, body(Vec::new())).unwrap();
    let proposer = block.body.proposer;
    let vrf = |error| BeaconError::Vrf { proposer, error };
    // A proof made with another member's key.
    let mut other = block.body.clone();
    other.vrf_proof = vrf_key(proposer + 1).prove(&vrf_input(31337, 0, 1));
    assert_eq!(
        state.propose(B256::ZERO, 1, other).unwrap_err(),
        vrf(kaimeng_crypto::vrf::VrfError::InvalidProof)
    );
    // The proposer's key, but over another height (a proof replayed from an earlier block).
    let mut replayed = block.body.clone();
    replayed.vrf_proof = vrf_key(proposer).prove(&vrf_input(31337, 0, 2));
    assert_eq!(
        state.propose(B256::ZERO, 1, replayed).unwrap_err(),
        vrf(kaimeng_crypto::vrf::VrfError::InvalidProof)
    );
    // No proof at all (zeros), and a proposer the epoch does not have.
    let mut missing = block.body.clone();
    missing.vrf_proof = VrfProof([0; 80]);
    assert!(matches!(
        state.propose(B256::ZERO, 1, missing).unwrap_err(),
        BeaconError::Vrf { .. }
    ));
    let mut stranger = block.body.clone();
    stranger.proposer = 9;
    assert_eq!(
        state.propose(B256::ZERO, 1, stranger).unwrap_err(),
        BeaconError::UnknownProposer {
            proposer: 9,
            members: 4
        }
    );
    // A follower refuses a block whose proof was swapped after sealing, and stays as it was.
    let mut swapped = block.clone();
    swapped.body.vrf_proof = vrf_key(proposer + 1).prove(&vrf_input(31337, 0, 1));
    swapped.header.body_root = swapped.body.root(SUITE);
    let mut follower = state.clone();
    assert!(follower.apply(&swapped).is_err());
    assert_eq!(follower, state);
    // A body cut inside its proof does not decode.
    let bytes = block.encode();
    assert_eq!(
        BeaconBlock::decode(&bytes[..112 + 4 + 40], SUITE),
        Err(BeaconError::Truncated("the VRF proof"))
    );
}

#[test]
fn the_next_seed_hashes_the_epochs_vrf_outputs_and_draws_the_committees_two_epochs_ahead() {
    let mut spec = genesis();
    spec.shard_count = 2;
    spec.committee_size = Some(2);
    let genesis_state = BeaconState::genesis(&spec, &[SHARD_GENESIS; 2]).unwrap();
    let seed0 = genesis_seed(SUITE, &spec.hash());
    assert_eq!(genesis_state.seed, seed0);
    for epoch in [0, 1] {
        for shard in [0, 1] {
            assert_eq!(genesis_state.committee(epoch, shard).unwrap().len(), 2);
        }
    }
    let mut state = genesis_state.clone();
    let mut outputs = Vec::new();
    for t in 1..=3 {
        let (block, after, _) = state.seal(B256::ZERO, t, body(Vec::new())).unwrap();
        let key = vrf_key(block.body.proposer).public_key();
        outputs.push(
            key.verify(&vrf_input(31337, 0, t), &block.body.vrf_proof)
                .unwrap()
                .0,
        );
        state = after;
    }
    // Height 3 ended epoch 0: seed(1) = H(seed(0) ‖ outputs of heights 1, 2, 3).
    let seed1 = next_seed(SUITE, &seed0, &outputs);
    assert_eq!(state.seed, seed1);
    assert_ne!(seed1, seed0);
    assert!(state.vrf_outputs.is_empty());
    let members: Vec<Vec<u8>> = member_keys()
        .iter()
        .map(|k| k.public_key().to_bytes().to_vec())
        .collect();
    let drawn = draw_committees(SUITE, &seed1, &members, 2, 2);
    for shard in [0, 1] {
        assert_eq!(
            state.committee(2, shard).unwrap(),
            drawn[shard as usize].as_slice()
        );
    }
    // 4 members, 2 shards of 2: the committees are disjoint and cover everyone.
    let mut everyone: Vec<_> = drawn.concat();
    everyone.sort();
    let mut sorted = members.clone();
    sorted.sort();
    assert_eq!(everyone, sorted);
    // The same blocks on another node give the same seed and committees.
    let mut replay = genesis_state;
    for t in 1..=3 {
        let (block, _, _) = replay.seal(B256::ZERO, t, body(Vec::new())).unwrap();
        replay.apply(&block).unwrap();
    }
    assert_eq!(replay, state);
}

#[test]
fn a_crosslink_signed_by_members_outside_the_shards_committee_is_refused() {
    let mut spec = genesis();
    spec.shard_count = 2;
    spec.committee_size = Some(2);
    let state = BeaconState::genesis(&spec, &[SHARD_GENESIS; 2]).unwrap();
    let keys = member_keys();
    let committee = state.committee(0, 0).unwrap().to_vec();
    let (inside, outside): (Vec<SecretKey>, Vec<SecretKey>) = keys
        .into_iter()
        .partition(|k| committee.contains(&k.public_key().to_bytes().to_vec()));
    // Seat order matters: sign as the committee's seats.
    let seated: Vec<SecretKey> = committee
        .iter()
        .map(|key| {
            inside
                .iter()
                .find(|k| k.public_key().to_bytes().as_slice() == key.as_slice())
                .unwrap()
                .clone()
        })
        .collect();
    let headers = shard_headers(SHARD_GENESIS, 1, 2, 0);
    let (_, after, _) = state
        .seal(
            B256::ZERO,
            1,
            body(vec![crosslink(headers.clone(), &seated, 0)]),
        )
        .unwrap();
    assert_eq!(after.shards[0].height, 2);
    // The two members outside shard 0's committee sign: a quorum of nobody.
    let forged = crosslink(headers, &outside, 0);
    assert!(matches!(
        state.seal(B256::ZERO, 1, body(vec![forged])).unwrap_err(),
        BeaconError::Certificate(0, _)
    ));
}

fn notarize(view: u64, payload: u8) -> Vote {
    Vote::Notarize(Proposal {
        epoch: 0,
        view,
        height: view,
        parent: Parent {
            view: view - 1,
            digest: Digest([0; 32]),
        },
        payload: Digest([payload; 32]),
    })
}

fn signed(key: &SecretKey, namespace: &[u8], vote: Vote) -> kaimeng_consensus::SignedVote {
    let signature = Signature(
        key.sign(&signing_bytes(namespace, &vote))
            .to_bytes()
            .to_vec(),
    );
    kaimeng_consensus::SignedVote {
        vote,
        signer: 2,
        signature,
    }
}

fn evidence_of(key: &SecretKey, chain: u32, first: Vote, second: Vote) -> Evidence {
    let namespace = if chain == evidence::BEACON_CHAIN {
        BEACON_NAMESPACE.to_vec()
    } else {
        shard_namespace(chain)
    };
    Evidence {
        chain,
        key: key.public_key().to_bytes().to_vec(),
        first: signed(key, &namespace, first),
        second: signed(key, &namespace, second),
    }
}

#[test]
fn conflicting_votes_are_recorded_once_against_the_member_who_signed_them() {
    let keys = member_keys();
    let state = state();
    let fault = evidence_of(&keys[2], 0, notarize(5, 1), notarize(5, 2));
    // It travels as bytes and decodes to the same evidence.
    assert_eq!(Evidence::from_bytes(&fault.to_bytes()).unwrap(), fault);
    let mut with = body(Vec::new());
    with.evidence = vec![fault.clone()];
    let (block, after, _) = state.seal(B256::ZERO, 1, with).unwrap();
    assert_eq!(
        after.evidence,
        vec![EvidenceRecord {
            height: 1,
            organisation: "dev-member-2".into(),
            chain: 0,
            epoch: 0,
            view: 5,
        }]
    );
    let mut follower = state.clone();
    follower.apply(&block).unwrap();
    assert_eq!(follower, after);
    assert_eq!(BeaconBlock::decode(&block.encode(), SUITE).unwrap(), block);
    // The same fault again is refused, and so is a block that carries it.
    assert!(matches!(
        after.check_evidence(2, &fault),
        Err(BeaconError::Evidence(m)) if m.contains("already recorded")
    ));
    let mut again = body(Vec::new());
    again.evidence = vec![fault];
    assert!(after.seal(B256::ZERO, 2, again).is_err());
    // A beacon-chain fault (nullify and finalize in one view) is a fault too.
    let nullify = Vote::Nullify { epoch: 0, view: 7 };
    let Vote::Notarize(proposal) = notarize(7, 1) else {
        unreachable!()
    };
    let beacon_fault = evidence_of(
        &keys[1],
        evidence::BEACON_CHAIN,
        nullify,
        Vote::Finalize(proposal),
    );
    assert_eq!(
        state.check_evidence(1, &beacon_fault).unwrap().organisation,
        "dev-member-1"
    );
}

#[test]
fn evidence_that_proves_no_fault_is_refused_and_changes_nothing() {
    let keys = member_keys();
    let state = state();
    let refused = |evidence: &Evidence| match state.check_evidence(1, evidence) {
        Err(BeaconError::Evidence(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    };
    // Two votes that do not conflict: the same vote twice, or two views.
    let same = evidence_of(&keys[2], 0, notarize(5, 1), notarize(5, 1));
    assert!(refused(&same).contains("do not conflict"));
    let two_views = evidence_of(&keys[2], 0, notarize(5, 1), notarize(6, 2));
    assert!(refused(&two_views).contains("do not conflict"));
    // Votes signed by another key than the one named.
    let mut forged = evidence_of(&keys[2], 0, notarize(5, 1), notarize(5, 2));
    forged.key = keys[3].public_key().to_bytes().to_vec();
    assert!(refused(&forged).contains("not signed by the key"));
    // Signed in another shard's domain than the one named.
    let mut moved = evidence_of(&keys[2], 0, notarize(5, 1), notarize(5, 2));
    moved.chain = evidence::BEACON_CHAIN;
    assert!(refused(&moved).contains("not signed by the key"));
    // A key that is no member's.
    let stranger = SecretKey::from_seed(SUITE, &[77; 32]);
    let outsider = evidence_of(&stranger, 0, notarize(5, 1), notarize(5, 2));
    assert!(refused(&outsider).contains("not a current member"));
    // A shard that does not exist.
    let nowhere = evidence_of(&keys[2], 9, notarize(5, 1), notarize(5, 2));
    assert!(refused(&nowhere).contains("no shard 9"));
    // Undecodable bytes say what was wrong.
    let bytes = evidence_of(&keys[2], 0, notarize(5, 1), notarize(5, 2)).to_bytes();
    assert!(Evidence::from_bytes(&bytes[..bytes.len() - 3]).is_err());
    assert!(Evidence::from_bytes(&[0, 0, 0, 0]).is_err());
    // A block carrying refused evidence is refused and leaves the state as it was.
    let mut with = body(Vec::new());
    with.evidence = vec![same];
    assert!(state.seal(B256::ZERO, 1, with).is_err());
}

#[test]
fn a_beacon_block_time_before_its_parent_or_far_ahead_is_refused() {
    use super::block::{MAX_CLOCK_DRIFT_SECS, check_timestamp};
    assert_eq!(check_timestamp(100, 100, 100), Ok(()));
    assert_eq!(check_timestamp(100 + MAX_CLOCK_DRIFT_SECS, 90, 100), Ok(()));
    assert!(matches!(
        check_timestamp(99, 100, 200),
        Err(BeaconError::Timestamp { .. })
    ));
    assert!(matches!(
        check_timestamp(101 + MAX_CLOCK_DRIFT_SECS, 90, 100),
        Err(BeaconError::Timestamp { .. })
    ));
    // No overflow at the edges.
    assert_eq!(check_timestamp(u64::MAX, 0, u64::MAX), Ok(()));
}
