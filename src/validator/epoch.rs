//! One epoch's consensus engine: the validator set, this node's place in it and the peers
//! behind each index, all taken from the finalized consortium state. Membership changes take
//! effect by starting the next epoch's engine, anchored at the epoch's last block.

use kaimeng_consensus::{
    Anchor, Config, Engine, PublicKey, Record, TimeoutConfig, ValidatorIndex, ValidatorSet,
};
use kaimeng_crypto::{CryptoSuite, SecretKey};
use kaimeng_network::PeerId;
use kaimeng_shards::SealedHeader;

use super::beacon::BeaconState;
use super::crypto::{SuiteSigner, SuiteVerifier};
use super::worker;

pub type ShardEngine = Engine<SuiteSigner, SuiteVerifier>;

/// An epoch's engine and who is who in it.
pub struct EpochEngine {
    pub engine: ShardEngine,
    pub epoch: u64,
    /// This node's index; `None` when it is not a validator this epoch.
    pub index: Option<ValidatorIndex>,
    /// The peer behind each validator index.
    pub peers: Vec<Option<PeerId>>,
}

/// Whether `key`'s public key is `encoded` (compressed or uncompressed SEC1).
pub fn is_key(key: &SecretKey, encoded: &[u8]) -> bool {
    let public = key.public_key();
    encoded == public.to_bytes().as_slice() || encoded == public.to_uncompressed().as_slice()
}

/// The domain votes on shard `shard` are signed in.
pub fn namespace(shard: u32) -> Vec<u8> {
    format!("kaimeng/shard/{shard}").into_bytes()
}

/// The validators of `state`'s epoch: every member's consensus key, in member order.
pub fn validator_set(state: &BeaconState) -> anyhow::Result<ValidatorSet> {
    ValidatorSet::new(
        state
            .consortium
            .validators()
            .iter()
            .map(|m| PublicKey(m.consensus_key.to_vec()))
            .collect(),
    )
    .map_err(|e| anyhow::anyhow!("validator set of epoch: {e}"))
}

/// The engine of `state`'s epoch, anchored at `anchor` (the finalized block the node is at).
pub fn epoch_engine(
    state: &BeaconState,
    anchor: &SealedHeader,
    key: Option<&SecretKey>,
    suite: CryptoSuite,
    shard: u32,
    timeouts: TimeoutConfig,
) -> anyhow::Result<EpochEngine> {
    let members = state.consortium.validators();
    let validators = validator_set(state)?;
    let index = key.and_then(|key| {
        members
            .iter()
            .position(|m| is_key(key, m.consensus_key.as_ref()))
            .map(|i| i as ValidatorIndex)
    });
    let epoch = state.consortium.epoch();
    let mut config = Config::new(
        namespace(shard),
        epoch.epoch,
        validators.clone(),
        index,
        Anchor {
            height: anchor.number(),
            digest: worker::digest(anchor.hash),
        },
    );
    config.last_height = Some(epoch.last_height);
    config.timeouts = timeouts;
    let signer = SuiteSigner(
        key.cloned()
            .unwrap_or_else(|| SecretKey::from_seed(suite, &[1; 32])),
    );
    Ok(EpochEngine {
        engine: Engine::new(config, signer, SuiteVerifier::new(suite, &validators)),
        epoch: epoch.epoch,
        index,
        peers: members.iter().map(|m| m.peer_id.parse().ok()).collect(),
    })
}

/// The epoch a stored record belongs to.
pub fn record_epoch(record: &Record) -> u64 {
    match record {
        Record::Vote(vote) => vote.vote.epoch(),
        Record::Certificate(certificate) => certificate.vote.epoch(),
    }
}
