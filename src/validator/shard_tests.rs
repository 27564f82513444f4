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

/// A signed EIP-1559 call from dev account 0 with `input_len` bytes of calldata.
fn signed_call(chain_id: u64, nonce: u64, input_len: usize) -> Vec<u8> {
    use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
    use alloy_eips::eip2718::Encodable2718;
    let key = kaimeng_genesis::dev_accounts(1)[0].private_key;
    let signer = alloy_signer_local::PrivateKeySigner::from_bytes(&key).unwrap();
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 1_000_000,
        max_fee_per_gas: 100_000_000_000,
        max_priority_fee_per_gas: 1,
        to: alloy_primitives::TxKind::Call(Address::repeat_byte(0x42)),
        value: U256::ZERO,
        access_list: Default::default(),
        input: vec![7; input_len].into(),
    };
    let signature =
        alloy_signer::SignerSync::sign_hash_sync(&signer, &tx.signature_hash()).unwrap();
    TxEnvelope::from(tx.into_signed(signature)).encoded_2718()
}

/// ADR 0117: a proposal names a long transaction by its hash; its proposer's pool completes
/// it; a member without it learns exactly which hash it lacks, and completes it with the
/// transaction a peer sent (junk and other transactions do not stand in), then executes it.
#[test]
fn a_member_completes_a_proposal_that_names_a_long_transaction() {
    let (proposer, member) = (setup(), setup());
    let chain_id = proposer.app.chain.config().chain_id;
    let long = signed_call(chain_id, 0, kaimeng_shards::wire::NAMED_TX_BYTES);
    let short = signed_call(chain_id, 1, 10);
    for raw in [&long, &short] {
        proposer.app.chain.submit_raw(raw).unwrap();
    }
    let parent = proposer.app.head().1;
    let (digest, bytes) = proposer.app.build(parent, 1, 0).unwrap();
    assert!(
        bytes.len() < long.len(),
        "a {}-byte proposal carries the {}-byte transaction",
        bytes.len(),
        long.len()
    );
    assert_eq!(proposer.app.decode_body(&bytes, &[]).unwrap().0, digest);

    let lacking = Some(BodyError::Missing(vec![
        alloy_primitives::keccak256(&long).0,
    ]));
    assert_eq!(member.app.decode_body(&bytes, &[]).err(), lacking);
    assert_eq!(
        member
            .app
            .decode_body(&bytes, &[b"junk".to_vec(), short.clone()])
            .err(),
        lacking
    );
    let (got, body) = member
        .app
        .decode_body(&bytes, std::slice::from_ref(&long))
        .unwrap();
    assert_eq!(got, digest);
    assert_eq!(body.txs.len(), 2);
    member.app.verify(parent, 1, 0, &body).unwrap();
}

/// Serves a shard's pooled transactions, as a node does.
struct PoolSource(Arc<ShardChain>);

impl kaimeng_network::BlockSource for PoolSource {
    fn block(&self, _chain: Chain, _height: u64) -> Option<Vec<u8>> {
        None
    }

    fn transactions(&self, _chain: Chain, hashes: &[[u8; 32]]) -> Vec<Vec<u8>> {
        crate::validator::pooled_transactions(&self.0, hashes)
    }
}

/// Two nodes on loopback: the first serves `pool`'s transactions. Returns both handles and
/// the second's events once the two are connected.
async fn serving_pair(
    pool: Arc<ShardChain>,
) -> (
    kaimeng_network::NetworkHandle,
    kaimeng_network::NetworkHandle,
) {
    use kaimeng_network::{Network, NetworkConfig, NetworkEvent, NodeKey};
    let config = |bootstrap: Vec<String>| {
        let mut config = NetworkConfig::new(NodeKey::generate(), [0x42; 32]);
        config.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
        config.bootstrap = bootstrap;
        config
    };
    let mut server = config(Vec::new());
    server.block_source = Some(Arc::new(PoolSource(pool)));
    let (server, _) = Network::start(server).await.unwrap();
    let (client, mut events) = Network::start(config(vec![server.listen_addrs()[0].clone()]))
        .await
        .unwrap();
    let peer = server.local_peer_id();
    tokio::time::timeout(Duration::from_secs(30), async {
        while events.recv().await != Some(NetworkEvent::PeerConnected(peer)) {}
    })
    .await
    .expect("the two nodes connect");
    (server, client)
}

/// ADR 0117 over a real network: a member lacking a proposal's named transaction fetches it
/// from the peer that relayed the body; when that peer (the only one) lacks it too, the body
/// is given up with what was missing.
#[test]
fn a_member_fetches_named_transactions_from_the_relaying_peer() {
    let (proposer, member, bystander) = (setup(), setup(), setup());
    let chain_id = proposer.app.chain.config().chain_id;
    let long = signed_call(chain_id, 0, kaimeng_shards::wire::NAMED_TX_BYTES + 1);
    proposer.app.chain.submit_raw(&long).unwrap();
    let parent = proposer.app.head().1;
    let (digest, bytes) = proposer.app.build(parent, 1, 0).unwrap();
    let member_app = Arc::new(member.app);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let (server, client) = serving_pair(proposer.app.chain.clone()).await;
        let from = server.local_peer_id();
        let (got, body) = crate::validator::body_fetch::decode_completing(
            member_app.clone(),
            &client,
            from,
            bytes.clone(),
        )
        .await
        .unwrap();
        assert_eq!(got, digest);
        assert_eq!(body.txs[0].encoded.as_ref(), long.as_slice());

        // A peer without it: the body is given up, saying what was missing.
        let (server, client) = serving_pair(bystander.app.chain.clone()).await;
        let from = server.local_peer_id();
        let error = crate::validator::body_fetch::decode_completing(
            member_app.clone(),
            &client,
            from,
            bytes,
        )
        .await
        .err()
        .expect("no peer holds the named transaction");
        assert!(error.contains("1 named transactions not found"), "{error}");
    });
}
