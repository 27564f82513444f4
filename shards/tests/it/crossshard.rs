//! Cross-shard messages over real shard chains (RocksDB, revm) without a network: random
//! workloads of sends between three shards (transfers, calls that fail, sends the contract
//! refuses), random crosslink delays and beacon jumps past the delivery window. A second
//! chain per shard checks every block as a follower would. After every block the native
//! supply summed over the shards plus the value in flight equals the genesis supply, and in
//! the end every message is taken exactly once: delivered, or refunded to its sender.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_sol_types::SolCall;
use kaimeng_genesis::{DevOptions, GenesisSpec};
use kaimeng_l1::StoreError;
use kaimeng_l1::beacon::BeaconRef;
use kaimeng_shards::account::AccountRecord;
use kaimeng_shards::crossshard::deliver::Outcome;
use kaimeng_shards::crossshard::message::{inbox_slot, outbox_slot};
use kaimeng_shards::crossshard::relay::{self, Crosslinks};
use kaimeng_shards::crossshard::{
    CROSS_SHARD_ADDRESS, CrossShardSite, CrosslinkedHeader, DELIVERY_WINDOW, MessageKind, abi,
    block,
};
use kaimeng_shards::precompiles::ShardPrecompiles;
use kaimeng_shards::{BlockRules, ShardChain, ShardConfig};
use proptest::prelude::*;

use crate::common::{addr, eip1559};

const SHARDS: u32 = 3;

/// The crosslinks a beacon chain would have recorded.
#[derive(Default)]
struct Links(RefCell<HashMap<(u32, u64), CrosslinkedHeader>>);

impl Crosslinks for Links {
    fn crosslinked(
        &self,
        shard: u32,
        number: u64,
    ) -> Result<Option<CrosslinkedHeader>, StoreError> {
        Ok(self.0.borrow().get(&(shard, number)).copied())
    }
}

struct Network {
    leaders: Vec<Arc<ShardChain>>,
    followers: Vec<Arc<ShardChain>>,
    links: Links,
    /// Per shard, the last crosslinked height.
    linked: Vec<u64>,
    beacon_height: u64,
    _dirs: Vec<tempfile::TempDir>,
}

fn open(genesis: &GenesisSpec, shard: u32, dirs: &mut Vec<tempfile::TempDir>) -> Arc<ShardChain> {
    let dir = tempfile::tempdir().unwrap();
    let store = kaimeng_shards::open_store(dir.path(), &Default::default()).unwrap();
    let config = ShardConfig {
        precompiles: ShardPrecompiles::standard()
            .with_cross_shard(CrossShardSite {
                shard,
                shard_count: SHARDS,
                carries_messages: true,
            })
            .unwrap(),
        ..ShardConfig::from_genesis(genesis, shard)
    };
    dirs.push(dir);
    Arc::new(ShardChain::open_with(store, genesis, config).unwrap())
}

impl Network {
    fn new() -> Self {
        let genesis = GenesisSpec::dev(&DevOptions {
            validators: 1,
            shards: SHARDS,
            ..DevOptions::default()
        });
        let mut dirs = Vec::new();
        let leaders = (0..SHARDS).map(|s| open(&genesis, s, &mut dirs)).collect();
        let followers = (0..SHARDS).map(|s| open(&genesis, s, &mut dirs)).collect();
        Self {
            leaders,
            followers,
            links: Links::default(),
            linked: vec![0; SHARDS as usize],
            beacon_height: 1,
            _dirs: dirs,
        }
    }

    /// Crosslinks every final header of `shard` not linked yet, at the current beacon height.
    fn crosslink(&mut self, shard: u32) {
        let chain = &self.leaders[shard as usize];
        let head = chain.head().number();
        for number in self.linked[shard as usize] + 1..=head {
            let header = chain.header(number).unwrap().unwrap();
            self.links.0.borrow_mut().insert(
                (shard, number),
                CrosslinkedHeader {
                    beacon_height: self.beacon_height,
                    requests_hash: header.header.requests_hash.unwrap(),
                },
            );
        }
        self.linked[shard as usize] = head;
    }

    /// Builds the next block of `shard` with what its pool and the other shards offer; the
    /// follower checks the deliveries and re-executes it; both finalize it.
    fn block(&self, shard: u32) {
        let (leader, follower) = (
            &self.leaders[shard as usize],
            &self.followers[shard as usize],
        );
        let head = leader.head();
        let rules = BlockRules {
            beacon: BeaconRef {
                height: self.beacon_height,
                ..BeaconRef::GENESIS
            },
            ..BlockRules::from_config(leader.config())
        };
        let sources = self
            .leaders
            .iter()
            .map(|c| c.as_ref() as &dyn relay::Outbox<_>);
        let deliveries =
            relay::deliveries_for(&self.links, sources, leader, &head.hash, self.beacon_height)
                .unwrap();
        let block = leader
            .propose_on(
                &head.hash,
                head.header.timestamp + 1,
                addr(9),
                50,
                &rules,
                deliveries,
            )
            .unwrap();
        leader.finalize_pending(&block.hash()).unwrap();
        let taken = block.cross_shard.deliveries.clone();
        relay::check_deliveries(&self.links, &taken, shard, SHARDS, self.beacon_height).unwrap();
        let checked = follower
            .verify(&block.header.header, block.txs.clone(), taken, &rules)
            .unwrap();
        assert_eq!(checked.block.hash(), block.hash(), "the follower agrees");
        follower.finalize(checked).unwrap();
    }

    /// Σ balances over the shards, the value in flight, and the messages in flight.
    fn supply(&self) -> (U256, U256, u64) {
        let mut balances = U256::ZERO;
        for chain in &self.leaders {
            for (_, record) in chain
                .latest_state()
                .scan_latest(kaimeng_shards::schema::ACCOUNTS, &[])
                .unwrap()
            {
                balances += AccountRecord::decode(&record).unwrap().balance;
            }
        }
        let counter = |chain: &ShardChain, slot: U256| -> u64 {
            chain
                .latest_state()
                .storage_value(&CROSS_SHARD_ADDRESS, &B256::from(slot))
                .unwrap()
                .to()
        };
        let (mut in_flight, mut count) = (U256::ZERO, 0);
        for source in &self.leaders {
            for destination in &self.leaders {
                let (s, d) = (source.config().shard, destination.config().shard);
                if s == d {
                    continue;
                }
                for nonce in counter(destination, inbox_slot(s))..counter(source, outbox_slot(d)) {
                    let id = block::outbox_entry(source.store(), d, nonce)
                        .unwrap()
                        .unwrap();
                    let (number, index) = block::sent_at(source.store(), &id).unwrap().unwrap();
                    let messages = block::get(source.store(), number).unwrap().unwrap();
                    in_flight += messages.sent[index as usize].value;
                    count += 1;
                }
            }
        }
        (balances, in_flight, count)
    }
}

fn send_tx(
    chain: &ShardChain,
    from: usize,
    destination: u32,
    to: Address,
    value: U256,
    gas: u64,
) -> Bytes {
    let nonce = chain.pending_nonce(&addr(from)).unwrap();
    let input = abi::sendCall {
        shard: destination,
        to,
        gasLimit: gas,
        data: Bytes::new(),
    }
    .abi_encode();
    eip1559(
        chain,
        from,
        nonce,
        TxKind::Call(CROSS_SHARD_ADDRESS),
        value,
        input.into(),
        200_000 + gas,
    )
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    #[test]
    fn random_cross_shard_traffic_conserves_supply_and_settles_every_message_once(seed in 1u64..) {
        let mut rng = seed;
        let mut net = Network::new();
        let (genesis_balances, _, _) = net.supply();
        let mut sent_ids = Vec::new();
        for step in 0..40 {
            net.beacon_height += if xorshift(&mut rng) % 12 == 0 { DELIVERY_WINDOW + 5 } else { 1 };
            for shard in 0..SHARDS {
                if step < 30 {
                    for _ in 0..xorshift(&mut rng) % 3 {
                        let r = xorshift(&mut rng);
                        let chain = &net.leaders[shard as usize];
                        let destination = (shard + 1 + (r % (SHARDS as u64 - 1)) as u32) % SHARDS;
                        // One in four calls fails on arrival; one in eight is refused at once.
                        let (destination, to) = match r % 8 {
                            0 | 1 => (destination, CROSS_SHARD_ADDRESS),
                            2 => (shard, Address::repeat_byte(3)),
                            _ => (destination, Address::repeat_byte((r >> 8) as u8 | 1)),
                        };
                        let value = U256::from((r >> 16) % 1_000_000_000_000);
                        let raw = send_tx(chain, (r % 5) as usize, destination, to, value, (r >> 40) % 40_000);
                        chain.submit_raw(&raw).unwrap();
                    }
                }
                if xorshift(&mut rng) % 2 == 0 {
                    net.crosslink(shard);
                }
                net.block(shard);
                let (balances, in_flight, _) = net.supply();
                prop_assert_eq!(balances + in_flight, genesis_balances, "step {} shard {}", step, shard);
            }
        }
        // Drain: crosslink everything until nothing is in flight.
        for _ in 0..20 {
            net.beacon_height += 1;
            for shard in 0..SHARDS {
                net.crosslink(shard);
                net.block(shard);
            }
        }
        let (balances, _, count) = net.supply();
        prop_assert_eq!(count, 0, "messages still in flight");
        prop_assert_eq!(balances, genesis_balances);
        // Every message sent was taken exactly once, on its destination.
        for chain in &net.leaders {
            for number in 1..=chain.head().number() {
                let messages = block::get(chain.store(), number).unwrap().unwrap();
                for message in messages.sent {
                    sent_ids.push(message);
                }
            }
        }
        let mut takes = 0;
        for message in &sent_ids {
            let destination = &net.leaders[message.destination as usize];
            let (_, outcome) = block::taken_at(destination.store(), &message.id()).unwrap()
                .unwrap_or_else(|| panic!("message {} was never taken", message.id()));
            takes += 1;
            match (message.kind, outcome) {
                (MessageKind::Refund, Outcome::Refunded) => {}
                (MessageKind::Call, Outcome::Delivered { .. }) => {}
                (MessageKind::Call, Outcome::Failed { refund, .. }) => {
                    prop_assert_eq!(message.to, CROSS_SHARD_ADDRESS, "only calls to the contract fail");
                    prop_assert!(sent_ids.iter().any(|m| m.id() == refund), "its refund was sent");
                }
                (MessageKind::Call, Outcome::Expired { refund }) => {
                    prop_assert!(sent_ids.iter().any(|m| m.id() == refund), "its refund was sent");
                }
                (kind, outcome) => prop_assert!(false, "{:?} taken as {:?}", kind, outcome),
            }
        }
        prop_assert_eq!(takes, sent_ids.len());
        prop_assert!(sent_ids.len() >= 20, "the workload sent {} messages", sent_ids.len());
    }
}

#[test]
fn a_message_taken_after_its_delivery_window_is_refunded_in_full() {
    let mut net = Network::new();
    let (genesis_balances, _, _) = net.supply();
    let to = Address::repeat_byte(0x77);
    let value = U256::from(5_000_000u64);
    let source = net.leaders[0].clone();
    let before = crate::common::balance(&source, addr(1));
    source
        .submit_raw(&send_tx(&source, 1, 2, to, value, 0))
        .unwrap();
    net.block(0);
    net.crosslink(0);
    // Shard 2's next block references a beacon block past the window: the message expires.
    net.beacon_height += DELIVERY_WINDOW + 1;
    net.block(2);
    let message = block::get(source.store(), 1).unwrap().unwrap().sent[0].clone();
    let destination = &net.leaders[2];
    let (_, outcome) = block::taken_at(destination.store(), &message.id())
        .unwrap()
        .unwrap();
    let Outcome::Expired { refund } = outcome else {
        panic!("expected expiry, got {outcome:?}");
    };
    assert_eq!(crate::common::balance(destination, to), U256::ZERO);
    net.crosslink(2);
    net.block(0);
    assert_eq!(
        block::taken_at(source.store(), &refund).unwrap().unwrap().1,
        Outcome::Refunded
    );
    // The sender is out of pocket by the fee of its transaction alone.
    let sent_in = source.block(1).unwrap().unwrap();
    let price = sent_in.header.header.base_fee_per_gas.unwrap() + 1_000_000_000;
    let fee = U256::from(sent_in.receipts[0].gas_used) * U256::from(price);
    assert_eq!(crate::common::balance(&source, addr(1)), before - fee);
    let (balances, in_flight, _) = net.supply();
    assert_eq!((balances, in_flight), (genesis_balances, U256::ZERO));
}

#[test]
fn a_replayed_forged_or_unlinked_delivery_is_refused_and_changes_nothing() {
    let mut net = Network::new();
    let source = net.leaders[0].clone();
    let to = Address::repeat_byte(0x55);
    source
        .submit_raw(&send_tx(&source, 1, 1, to, U256::from(9u64), 0))
        .unwrap();
    net.block(0);
    let destination = net.leaders[1].clone();
    let head = destination.head();
    let rules = BlockRules {
        beacon: BeaconRef {
            height: net.beacon_height,
            ..BeaconRef::GENESIS
        },
        ..BlockRules::from_config(destination.config())
    };
    let deliveries = |net: &Network| {
        relay::deliveries_for(
            &net.links,
            net.leaders
                .iter()
                .map(|c| c.as_ref() as &dyn relay::Outbox<_>),
            &destination,
            &destination.head().hash,
            net.beacon_height,
        )
        .unwrap()
    };
    // Not crosslinked yet: nothing to take, and a delivery built anyway is refused.
    assert!(deliveries(&net).is_empty());
    net.crosslink(0);
    let taken = deliveries(&net);
    assert_eq!(taken.len(), 1);
    let unlinked = Links::default();
    let refused = relay::check_deliveries(&unlinked, &taken, 1, SHARDS, net.beacon_height);
    assert!(refused.unwrap_err().to_string().contains("not crosslinked"));
    // A forged value does not prove.
    let mut forged = taken.clone();
    forged[0].message.value = U256::from(9_000u64);
    let refused = relay::check_deliveries(&net.links, &forged, 1, SHARDS, net.beacon_height);
    assert!(refused.unwrap_err().to_string().contains("not in shard 0"));
    // Taken once; the same delivery again (or twice in one block) is refused by nonce.
    let twice = [taken.clone(), taken.clone()].concat();
    let error = destination
        .propose_on(
            &head.hash,
            head.header.timestamp + 1,
            addr(9),
            10,
            &rules,
            twice,
        )
        .unwrap_err();
    assert!(error.to_string().contains("nonce 0"), "{error}");
    net.block(1);
    assert_eq!(crate::common::balance(&destination, to), U256::from(9u64));
    let head = destination.head();
    let error = destination
        .propose_on(
            &head.hash,
            head.header.timestamp + 1,
            addr(9),
            10,
            &rules,
            taken,
        )
        .unwrap_err();
    assert!(
        error.to_string().contains("the next one to take is 1"),
        "{error}"
    );
    assert_eq!(destination.head().hash, head.hash);
    assert_eq!(crate::common::balance(&destination, to), U256::from(9u64));
}

#[test]
fn a_proposer_that_does_not_hold_the_source_takes_the_same_messages_from_a_remote_outbox() {
    let mut net = Network::new();
    let source = net.leaders[0].clone();
    for i in 0..3u64 {
        let to = Address::repeat_byte(0x70 + i as u8);
        source
            .submit_raw(&send_tx(&source, 1, 1, to, U256::from(5 + i), 0))
            .unwrap();
    }
    net.block(0);
    let destination = net.leaders[1].clone();
    let parent = destination.head().hash;
    let local = |net: &Network| {
        relay::deliveries_for(
            &net.links,
            [source.as_ref() as &dyn relay::Outbox<_>],
            &destination,
            &parent,
            net.beacon_height,
        )
        .unwrap()
    };
    // What a peer holding shard 0 serves (only crosslinked messages), and what a proposer
    // holding only shard 1 takes from it: the same as from the source itself.
    let served = |net: &Network| relay::outbox_from(&net.links, &source, 1, 0, 64).unwrap();
    assert!(
        served(&net).is_empty(),
        "served before its block was crosslinked"
    );
    net.crosslink(0);
    let remote = relay::RemoteOutbox {
        shard: 0,
        deliveries: served(&net),
    };
    assert_eq!(remote.deliveries.len(), 3);
    relay::check_deliveries(&net.links, &remote.deliveries, 1, SHARDS, net.beacon_height).unwrap();
    let taken = relay::deliveries_for(
        &net.links,
        [&remote as &dyn relay::Outbox<_>],
        &destination,
        &parent,
        net.beacon_height,
    )
    .unwrap();
    assert_eq!(taken, local(&net));
    assert_eq!(taken.len(), 3);
    // From a later nonce on, and within a cap.
    let later = relay::outbox_from(&net.links, &source, 1, 1, 1).unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].message.nonce, 1);
    // Not for a reference below the crosslink: a remote message waits like a local one.
    let early = relay::deliveries_for(
        &net.links,
        [&remote as &dyn relay::Outbox<_>],
        &destination,
        &parent,
        net.beacon_height - 1,
    )
    .unwrap();
    assert!(early.is_empty());
}
