//! The beacon side of every consensus block. Until shards get their own committees, one
//! engine orders shard 0's block and, with it, a beacon section: the governance transactions
//! of that height. The shard header commits to the section (`parent_beacon_block_root` is its
//! keccak256), so the block hash the engine finalizes covers both.
//!
//! The consortium state and its rules are pure logic in `kaimeng_l1::beacon`. [`Beacon`] keeps
//! the finalized state on disk, the governance transaction pool, and computes the state after
//! any unfinalized block.

use std::sync::Arc;

use alloy_primitives::{B256, Bytes, U256};
use anyhow::Context;
use kaimeng_genesis::GenesisSpec;
use kaimeng_l1::Store;
pub use kaimeng_l1::beacon::BeaconState;
use kaimeng_l1::beacon::{BeaconError, MAX_GOVERNANCE_TXS, encode_section};
use kaimeng_l1::governance::{
    ConsortiumState, EpochTransition, GovernanceError, SignedGovernanceTx,
};
use kaimeng_shards::{BlockRules, ChainError, ShardChain, StoredBlock};
use parking_lot::{Mutex, RwLock};

const STATE_KEY: &[u8] = b"beacon_state";

/// Why the beacon state after a block is not available.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("block {hash}: {error}")]
    Block { hash: B256, error: ChainError },
    #[error("more than {0} unfinalized blocks above the head")]
    TooDeep(usize),
    #[error("beacon state at {state} behind the head {head}")]
    Behind { state: u64, head: u64 },
    #[error("block {height}: {error}")]
    Apply { height: u64, error: BeaconError },
}

/// The rules of the block after `state`, carrying `beacon`.
pub fn rules(state: &BeaconState, beacon: Bytes) -> BlockRules {
    let parameters = state.consortium.parameters();
    BlockRules {
        gas_limit: parameters.block_gas_limit,
        min_base_fee: u64::try_from(parameters.min_base_fee).unwrap_or(u64::MAX),
        payouts: state.payouts.clone(),
        beacon,
    }
}

/// The base fees a block paid to the treasury.
pub fn base_fees(header: &alloy_consensus::Header) -> U256 {
    U256::from(header.base_fee_per_gas.unwrap_or_default()) * U256::from(header.gas_used)
}

/// Applies a shard block's beacon side to `state`.
pub fn apply_block(
    state: &mut BeaconState,
    block: &StoredBlock,
) -> Result<Option<EpochTransition>, StateError> {
    state
        .apply(
            block.number(),
            &block.beacon,
            base_fees(&block.header.header),
        )
        .map_err(|error| StateError::Apply {
            height: block.number(),
            error,
        })
}

/// Most unfinalized blocks above the head the state is computed over.
const MAX_UNFINALIZED: usize = 256;

/// The node's beacon: finalized state (on disk), governance pool, pending states.
pub struct Beacon {
    chain: Arc<ShardChain>,
    finalized: RwLock<BeaconState>,
    pool: Mutex<Vec<SignedGovernanceTx>>,
}

impl Beacon {
    /// Loads the finalized state, replaying final blocks it has not seen (a crash between a
    /// block's write and the state's).
    pub fn open(chain: Arc<ShardChain>, genesis: &GenesisSpec) -> anyhow::Result<Self> {
        let mut state = match chain.store().get(kaimeng_shards::schema::META, STATE_KEY)? {
            Some(bytes) => BeaconState::decode(&bytes).context("beacon state")?,
            None => BeaconState::genesis(genesis)?,
        };
        let head = chain.head().number();
        for height in state.height + 1..=head {
            let block = chain
                .block(height)?
                .with_context(|| format!("final block {height} is missing"))?;
            apply_block(&mut state, &block).context("replaying final blocks")?;
        }
        let beacon = Self {
            chain,
            finalized: RwLock::new(state),
            pool: Mutex::new(Vec::new()),
        };
        beacon.persist()?;
        Ok(beacon)
    }

    fn persist(&self) -> anyhow::Result<()> {
        let store: &Store = self.chain.store();
        let mut batch = store.batch();
        batch.put(
            kaimeng_shards::schema::META,
            STATE_KEY,
            self.finalized.read().encode(),
        )?;
        store.write(batch)?;
        Ok(())
    }

    pub fn finalized(&self) -> BeaconState {
        self.finalized.read().clone()
    }

    /// The state after block `hash`: the finalized head, or an unfinalized block this node
    /// keeps (its unfinalized ancestors applied in order).
    pub fn state_after(&self, hash: &B256) -> Result<BeaconState, StateError> {
        let mut state = self.finalized();
        let head = self.chain.head();
        let mut chain = Vec::new();
        let mut cursor = *hash;
        while cursor != head.hash {
            let block = self
                .chain
                .kept_block(&cursor)
                .map_err(|error| StateError::Block {
                    hash: cursor,
                    error,
                })?;
            cursor = block.header.header.parent_hash;
            chain.push(block);
            if chain.len() > MAX_UNFINALIZED {
                return Err(StateError::TooDeep(MAX_UNFINALIZED));
            }
        }
        if state.height != head.number() {
            return Err(StateError::Behind {
                state: state.height,
                head: head.number(),
            });
        }
        for block in chain.iter().rev() {
            apply_block(&mut state, block)?;
        }
        Ok(state)
    }

    /// Applies newly final blocks, persists, and drops included transactions from the pool.
    pub fn on_finalized(
        &self,
        blocks: &[Arc<StoredBlock>],
    ) -> anyhow::Result<Vec<EpochTransition>> {
        let mut transitions = Vec::new();
        {
            let mut state = self.finalized.write();
            for block in blocks {
                if block.number() <= state.height {
                    continue;
                }
                if let Some(t) = apply_block(&mut state, block).context("final block")? {
                    transitions.push(t);
                }
            }
        }
        self.persist()?;
        let state = self.finalized();
        self.pool
            .lock()
            .retain(|tx| state.consortium.check_tx(state.height + 1, tx).is_ok());
        Ok(transitions)
    }

    /// The section for a block on top of `state`: pooled transactions that apply in order.
    pub fn select(&self, state: &BeaconState) -> Bytes {
        let mut trial = state.consortium.clone();
        let height = state.height + 1;
        let chosen: Vec<SignedGovernanceTx> = self
            .pool
            .lock()
            .iter()
            .filter(|tx| trial.apply_tx(height, tx).is_ok())
            .take(MAX_GOVERNANCE_TXS)
            .cloned()
            .collect();
        encode_section(&chosen).into()
    }

    /// The nonce after `organisation`'s pooled transactions, if it has any pooled.
    pub fn pooled_next_nonce(&self, organisation: &str) -> Option<u64> {
        self.pool
            .lock()
            .iter()
            .filter(|tx| tx.tx.signer() == organisation)
            .map(|tx| tx.tx.nonce() + 1)
            .max()
    }

    /// Pools `tx` if it applies after the finalized state and the pooled transactions.
    pub fn submit(&self, tx: SignedGovernanceTx) -> Result<B256, GovernanceError> {
        let state = self.finalized();
        let mut trial = state.consortium.clone();
        let height = state.height + 1;
        let mut pool = self.pool.lock();
        let id = tx.id(state.consortium.crypto_suite());
        if pool
            .iter()
            .any(|p| p.id(state.consortium.crypto_suite()) == id)
        {
            return Ok(id);
        }
        for pooled in pool.iter() {
            let _ = trial.apply_tx(height, pooled);
        }
        trial.check_tx(height, &tx)?;
        pool.push(tx);
        Ok(id)
    }
}

/// The `kaimeng_*` RPC's view of the node.
pub struct ConsortiumRpc {
    pub beacon: Arc<Beacon>,
    pub network: kaimeng_network::NetworkHandle,
}

impl kaimeng_rpc::Consortium for ConsortiumRpc {
    fn finalized_state(&self) -> ConsortiumState {
        self.beacon.finalized().consortium
    }

    fn pooled_next_nonce(&self, organisation: &str) -> Option<u64> {
        self.beacon.pooled_next_nonce(organisation)
    }

    fn submit_governance(&self, tx: SignedGovernanceTx) -> Result<B256, GovernanceError> {
        let encoded = tx.encode();
        let id = self.beacon.submit(tx)?;
        let network = self.network.clone();
        tokio::spawn(async move {
            let topic = kaimeng_network::Topic::Transactions(kaimeng_network::Chain::Beacon);
            if let Err(error) = network.publish(topic, encoded).await {
                tracing::debug!(%error, "governance transaction not gossiped");
            }
        });
        Ok(id)
    }
}
