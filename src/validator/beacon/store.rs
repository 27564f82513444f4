//! The beacon chain's own RocksDB (`<data>/beacon`): final blocks with their certificates, an
//! index from block hash to height and epoch, one record per beacon epoch (what shards need to
//! follow it), the finalized state, the engine's vote records, and an index of every
//! crosslinked shard header (what a cross-shard message proves against).

use std::path::Path;

use alloy_primitives::{Address, B256, U256};
use kaimeng_l1::beacon::{BeaconBlock, BeaconRef, BeaconState};
use kaimeng_l1::governance::EpochTransition;
use kaimeng_l1::storage::StoreOptions;
use kaimeng_l1::{Store, StoreError, WriteBatch};
use kaimeng_shards::crossshard::CrosslinkedHeader;
use serde::{Deserialize, Serialize};

pub const BLOCKS: &str = "blocks"; // height (8, BE) -> encoded beacon block
pub const HASHES: &str = "hashes"; // block hash -> height (8, BE) ‖ epoch (8, BE)
pub const CERTIFICATES: &str = "certificates"; // height -> certified height (8, BE) ‖ certificate (only at the certified height)
pub const EPOCHS: &str = "epochs"; // epoch (8, BE) -> EpochRecord (JSON)
pub const META: &str = "meta"; // "state" -> finalized BeaconState
pub const CONSENSUS: &str = kaimeng_shards::schema::CONSENSUS; // the engine's records
pub const CROSSLINKED: &str = "crosslinked"; // shard (4, BE) ‖ number (8, BE) -> beacon height (8, BE) ‖ requests hash (32)

const ALL_COLUMNS: &[&str] = &[
    BLOCKS,
    HASHES,
    CERTIFICATES,
    EPOCHS,
    META,
    CONSENSUS,
    CROSSLINKED,
];
const STATE_KEY: &[u8] = b"state";
/// The encoding of beacon blocks and state this store holds; written with the genesis block.
const FORMAT_KEY: &[u8] = b"format";
/// 2: beacon blocks carry VRF proofs and evidence; the state carries seeds and committees.
/// 3: every crosslinked shard header is indexed (cross-shard messages prove against it), and
/// shard blocks carry the messages they take.
const FORMAT: &[u8] = b"3";

/// What a shard needs to know about one beacon epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: u64,
    pub start_height: u64,
    /// The members' consensus keys (hex) and libp2p peer ids, in member order.
    pub validators: Vec<RecordedValidator>,
    pub gas_limit: u64,
    pub min_base_fee: u64,
    /// Per shard: the fee shares of the epoch before this one, which the shard pays in its first
    /// block that references this epoch (or a later one).
    pub payouts: Vec<Vec<(Address, U256)>>,
    /// Per shard: its committee this epoch, as indices into `validators` in seat order.
    pub committees: Vec<Vec<u32>>,
    /// The epoch's seed, `seed(e)`; this epoch's committees were drawn from `seed(e - 1)`.
    pub seed: alloy_primitives::B256,
    /// The governed committee size in force this epoch (it shapes the draw made at its end).
    #[serde(default)]
    pub committee_size: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedValidator {
    pub consensus_key: alloy_primitives::Bytes,
    pub peer_id: String,
    #[serde(default)]
    pub organisation: String,
    /// The member's RFC 9381 VRF public key.
    #[serde(default)]
    pub vrf_key: alloy_primitives::Bytes,
}

impl EpochRecord {
    /// The record of the epoch `state` is in.
    pub fn of(state: &BeaconState) -> Self {
        let epoch = state.consortium.epoch();
        let parameters = state.consortium.parameters();
        let keys = validators_keys(state);
        Self {
            epoch: epoch.epoch,
            start_height: epoch.start_height,
            validators: state
                .consortium
                .validators()
                .iter()
                .map(|v| RecordedValidator {
                    consensus_key: v.consensus_key.to_vec().into(),
                    peer_id: v.peer_id.clone(),
                    organisation: v.organisation.clone(),
                    vrf_key: v.vrf_key.to_vec().into(),
                })
                .collect(),
            gas_limit: parameters.block_gas_limit,
            min_base_fee: u64::try_from(parameters.min_base_fee).unwrap_or(u64::MAX),
            payouts: state.payouts.clone(),
            committees: (0..state.shards.len() as u32)
                .map(|shard| {
                    state
                        .committee(epoch.epoch, shard)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|key| keys.iter().position(|k| k == key))
                        .map(|i| i as u32)
                        .collect()
                })
                .collect(),
            seed: state.seed,
            committee_size: parameters.committee_size,
        }
    }

    /// Shard `shard`'s committee: its members' records in seat order.
    pub fn committee(&self, shard: u32) -> Vec<&RecordedValidator> {
        self.committees
            .get(shard as usize)
            .map(|seats| {
                seats
                    .iter()
                    .filter_map(|&i| self.validators.get(i as usize))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn validators_keys(state: &BeaconState) -> Vec<Vec<u8>> {
    state
        .consortium
        .validators()
        .iter()
        .map(|v| v.consensus_key.to_vec())
        .collect()
}

pub fn open(dir: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
    Ok(Store::open(dir, ALL_COLUMNS, options)?.with_synced_columns(&[CONSENSUS]))
}

fn key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// The finalized state, or `None` for an empty store. A store of an earlier format is
/// refused, untouched, with what to do.
pub fn load_state(store: &Store) -> anyhow::Result<Option<BeaconState>> {
    let Some(bytes) = store.get(META, STATE_KEY)? else {
        return Ok(None);
    };
    if store.get(META, FORMAT_KEY)?.as_deref() != Some(FORMAT) {
        anyhow::bail!(
            "this beacon store was written by an earlier Kaimeng (before the crosslink index that \
             cross-shard messages prove against) and cannot be read; the network restarts from \
             genesis: move the data directory away and start the node with an empty one"
        );
    }
    Ok(Some(BeaconState::decode(&bytes)?))
}

/// One final block, atomically: the block, its hash, its certificate (or a pointer to the
/// descendant's), the state after it and, at an epoch boundary, the new epoch's record.
pub struct FinalWrite<'a> {
    pub block: &'a BeaconBlock,
    pub hash: B256,
    /// The epoch the block belongs to.
    pub epoch: u64,
    pub state: &'a BeaconState,
    pub transition: Option<&'a EpochTransition>,
    /// `(certified height, certificate)`; the bytes are stored at the certified height only.
    pub certificate: Option<(u64, &'a [u8])>,
}

pub fn put_final(batch: &mut WriteBatch<'_>, write: &FinalWrite<'_>) -> Result<(), StoreError> {
    let height = write.block.header.height;
    batch.put(BLOCKS, key(height), write.block.encode())?;
    let mut index = key(height).to_vec();
    index.extend_from_slice(&key(write.epoch));
    batch.put(HASHES, write.hash, index)?;
    if let Some((certified, certificate)) = write.certificate {
        let mut value = key(certified).to_vec();
        if certified == height {
            value.extend_from_slice(certificate);
        }
        batch.put(CERTIFICATES, key(height), value)?;
    }
    for crosslink in &write.block.body.crosslinks {
        for header in &crosslink.headers {
            let mut value = key(height).to_vec();
            value.extend_from_slice(
                header
                    .requests_hash
                    .unwrap_or(kaimeng_shards::crossshard::commitment::EMPTY_REQUESTS_HASH)
                    .as_slice(),
            );
            batch.put(
                CROSSLINKED,
                crosslinked_key(crosslink.shard, header.number),
                value,
            )?;
        }
    }
    batch.put(META, STATE_KEY, write.state.encode())?;
    if height == 0 {
        batch.put(META, FORMAT_KEY, FORMAT)?;
    }
    if write.transition.is_some() || height == 0 {
        put_epoch(batch, &EpochRecord::of(write.state))?;
    }
    Ok(())
}

fn crosslinked_key(shard: u32, number: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..4].copy_from_slice(&shard.to_be_bytes());
    out[4..].copy_from_slice(&number.to_be_bytes());
    out
}

/// Shard `shard`'s header `number` as a final beacon block crosslinked it.
pub fn crosslinked(
    store: &Store,
    shard: u32,
    number: u64,
) -> Result<Option<CrosslinkedHeader>, StoreError> {
    Ok(store
        .get(CROSSLINKED, crosslinked_key(shard, number))?
        .filter(|v| v.len() == 40)
        .map(|v| CrosslinkedHeader {
            beacon_height: u64::from_be_bytes(v[..8].try_into().expect("8")),
            requests_hash: B256::from_slice(&v[8..]),
        }))
}

pub fn put_epoch(batch: &mut WriteBatch<'_>, record: &EpochRecord) -> Result<(), StoreError> {
    batch.put(
        EPOCHS,
        key(record.epoch),
        serde_json::to_vec(record).expect("a record serializes"),
    )
}

pub fn block(
    store: &Store,
    suite: kaimeng_crypto::CryptoSuite,
    height: u64,
) -> anyhow::Result<Option<BeaconBlock>> {
    match store.get(BLOCKS, key(height))? {
        None => Ok(None),
        Some(bytes) => Ok(Some(BeaconBlock::decode(&bytes, suite)?)),
    }
}

/// The finalized block `hash` as a shard references it.
pub fn reference(store: &Store, hash: &B256) -> Result<Option<BeaconRef>, StoreError> {
    Ok(store.get(HASHES, hash)?.and_then(|value| {
        Some(BeaconRef {
            root: *hash,
            height: u64::from_be_bytes(value.get(..8)?.try_into().ok()?),
            epoch: u64::from_be_bytes(value.get(8..16)?.try_into().ok()?),
        })
    }))
}

pub fn epoch(store: &Store, epoch: u64) -> anyhow::Result<Option<EpochRecord>> {
    match store.get(EPOCHS, key(epoch))? {
        None => Ok(None),
        Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
    }
}

/// The certificate that made block `height` final: the certified height and its encoding.
pub fn certificate(store: &Store, height: u64) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    let Some(pointer) = store.get(CERTIFICATES, key(height))? else {
        return Ok(None);
    };
    let Some(certified) = pointer
        .get(..8)
        .map(|b| u64::from_be_bytes(b.try_into().expect("eight bytes")))
    else {
        return Ok(None);
    };
    if certified == height {
        return Ok(Some((certified, pointer[8..].to_vec())));
    }
    Ok(store
        .get(CERTIFICATES, key(certified))?
        .filter(|v| v.len() > 8)
        .map(|v| (certified, v[8..].to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beacon_store_of_an_earlier_format_is_refused_untouched_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), &StoreOptions::default()).unwrap();
        let mut batch = store.batch();
        batch.put(META, STATE_KEY, b"an issue-10 state").unwrap();
        store.write(batch).unwrap();
        let error = load_state(&store).unwrap_err().to_string();
        assert!(error.contains("earlier Kaimeng"), "{error}");
        assert!(error.contains("empty one"), "{error}");
        assert_eq!(
            store.get(META, STATE_KEY).unwrap().as_deref(),
            Some(&b"an issue-10 state"[..]),
            "nothing was changed"
        );
    }
}
