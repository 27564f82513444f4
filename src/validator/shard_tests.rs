//! A shard block's rules come from the beacon epoch it references: that epoch's limits, and
//! the fee shares of every epoch its reference moved past since its parent's; its validators
//! come from the beacon epoch its epoch's anchor references.

use alloy_primitives::{Address, U256};
use kaimeng_genesis::{DevOptions, GenesisSpec};
use kaimeng_l1::beacon::BeaconRef;
use kaimeng_shards::{ShardChain, ShardConfig};

use super::*;
use crate::validator::beacon::store::{self, EpochRecord};

struct Setup {
    app: ShardApp,
    _dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut genesis = GenesisSpec::dev(&DevOptions {
        validators: 4,
        ..DevOptions::default()
    });
    genesis.epoch_length = 4;
    let options = kaimeng_l1::storage::StoreOptions::default();
    let store = kaimeng_shards::open_store(&dir.path().join("shard"), &options).unwrap();
    let chain = Arc::new(
        ShardChain::open_with(store, &genesis, ShardConfig::from_genesis(&genesis, 0)).unwrap(),
    );
    let metrics = crate::metrics::Metrics::new();
    let beacon = Arc::new(
        BeaconChain::open(
            &dir.path().join("beacon"),
            &options,
            &genesis,
            vec![chain.clone()],
            None,
            metrics.chain("beacon"),
        )
        .unwrap(),
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = ShardApp {
        chain: chain.clone(),
        beacon,
        runtime: runtime.handle().clone(),
        fee_recipient: Address::ZERO,
        max_txs: 10,
        metrics: metrics.chain("shard-0"),
        snapshots: crate::validator::state_sync::SnapshotServer::new(chain.clone()),
        state_sync: crate::validator::state_sync::StateSyncConfig {
            genesis: Arc::new(genesis.clone()),
            min_gap: None,
        },
        snapshot_failures: Default::default(),
        remote: Default::default(),
    };
    Setup {
        app,
        _dir: dir,
        _runtime: runtime,
    }
}

fn record(app: &ShardApp, epoch: u64, gas_limit: u64, payout: (Address, u64)) {
    let mut record = app.beacon.epoch_record(0).unwrap().unwrap();
    record.epoch = epoch;
    record.start_height = epoch * 4 + 1;
    record.gas_limit = gas_limit;
    record.payouts = vec![vec![(payout.0, U256::from(payout.1))]];
    let store = app.beacon.store();
    let mut batch = store.batch();
    store::put_epoch(&mut batch, &record).unwrap();
    store.write(batch).unwrap();
}

fn reference(epoch: u64) -> BeaconRef {
    BeaconRef {
        root: alloy_primitives::B256::repeat_byte(epoch as u8 + 1),
        height: epoch * 4,
        epoch,
    }
}

#[test]
fn a_block_follows_its_beacon_epoch_and_pays_every_epoch_it_moves_past() {
    let t = setup();
    let (a, b) = (Address::repeat_byte(0xa), Address::repeat_byte(0xb));
    record(&t.app, 1, 31_000_000, (a, 5));
    record(&t.app, 2, 32_000_000, (b, 7));

    let rules = t.app.rules(&reference(0), &reference(2)).unwrap();
    assert_eq!(rules.gas_limit, 32_000_000);
    assert_eq!(rules.payouts, vec![(a, U256::from(5)), (b, U256::from(7))]);
    assert_eq!(rules.beacon, reference(2));

    // Within one epoch nothing is paid.
    let rules = t.app.rules(&reference(2), &reference(2)).unwrap();
    assert!(rules.payouts.is_empty());
    assert_eq!(rules.gas_limit, 32_000_000);

    // An epoch this node has not finalized is refused with what is missing.
    let error = t.app.rules(&reference(2), &reference(3)).unwrap_err();
    assert!(error.to_string().contains("beacon epoch 3"), "{error}");
}

#[test]
fn the_first_shard_epoch_is_run_by_the_genesis_members() {
    let t = setup();
    let plan = t.app.epoch_plan().unwrap();
    assert_eq!(plan.epoch, 0);
    assert_eq!(plan.last_height, 4);
    assert_eq!(plan.validators.len(), 4);
    let genesis: EpochRecord = t.app.beacon.epoch_record(0).unwrap().unwrap();
    assert_eq!(plan.peers.len(), genesis.validators.len());
}
