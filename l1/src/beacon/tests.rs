//! The beacon chain's pure rules: blocks commit to their body and state, crosslinks are
//! checked against the shard's validators, fees are shared per shard from crosslinked headers.

use alloy_consensus::Header;
use alloy_primitives::{B256, U256};
use kaimeng_consensus::signing::signing_bytes;
use kaimeng_consensus::{Certificate, Digest, Parent, Proposal, Signature, Vote, codec};
use kaimeng_crypto::{CryptoSuite, SecretKey};
use kaimeng_genesis::{DevKeyRole, DevOptions, GenesisSpec, dev_member_secret};

use super::*;

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

fn body(crosslinks: Vec<Crosslink>) -> BeaconBody {
    BeaconBody {
        governance: Vec::new(),
        crosslinks,
    }
}

#[test]
fn a_proposed_block_applies_on_every_node_and_commits_to_its_state() {
    let state = state();
    let (block, after, transition) = state.propose(B256::ZERO, 7, body(Vec::new())).unwrap();
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
        .propose(B256::ZERO, 1, body(vec![crosslink(headers, &keys[..3], 0)]))
        .unwrap();
    assert_eq!((after.shards[0].height, after.shards[0].hash), (2, last));
    assert_eq!(after.shards[0].fees, U256::from(20_000));
    // Heights 2 and 3 end beacon epoch 0: the shard's fees are shared among the members.
    let (_, after, _) = after.propose(B256::ZERO, 2, body(Vec::new())).unwrap();
    let (_, after, transition) = after.propose(B256::ZERO, 3, body(Vec::new())).unwrap();
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
    let refused = |link: Crosslink| state.propose(B256::ZERO, 1, body(vec![link])).unwrap_err();
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
        .propose(B256::ZERO, 1, body(vec![crosslink(headers, &keys, 0)]))
        .unwrap();
    assert_eq!(after.shards[0].validators_epoch, 0);
    // A later beacon epoch than the beacon chain has reached is refused.
    let ahead = crosslink(shard_headers(tip, 4, 6, 5), &keys, 1);
    assert_eq!(
        after.propose(B256::ZERO, 2, body(vec![ahead])).unwrap_err(),
        BeaconError::BadReference { shard: 0, epoch: 5 }
    );
}

#[test]
fn the_state_encoding_round_trips_and_truncation_is_refused() {
    let keys = member_keys();
    let (_, state, _) = state()
        .propose(
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
    let (block, _, _) = state().propose(B256::ZERO, 1, body(Vec::new())).unwrap();
    let bytes = block.encode();
    assert_eq!(
        BeaconBlock::decode(&bytes[..50], SUITE),
        Err(BeaconError::Truncated("the beacon header"))
    );
    let mut long = bytes.clone();
    long.push(0);
    assert!(BeaconBlock::decode(&long, SUITE).is_err());
    let mut forged_count = block.header.encode().to_vec();
    forged_count.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    assert!(BeaconBlock::decode(&forged_count, SUITE).is_err());
}
