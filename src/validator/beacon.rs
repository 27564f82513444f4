//! The beacon side of every consensus block. Until shards get their own committees, one
//! engine orders shard 0's block and, with it, a beacon section: the governance transactions
//! of that height. The shard header commits to the section (`parent_beacon_block_root` is its
//! keccak256), so the block hash the engine finalizes covers both.
//!
//! [`BeaconState`] is the consortium state (members, parameters, proposals; pure logic in
//! `kaimeng_l1::governance`) plus what the node derives at epoch boundaries: the base fees
//! collected in the epoch and the fee shares the next block pays out. [`Beacon`] keeps the
//! finalized state on disk, the governance transaction pool, and computes the state after any
//! unfinalized block.

use std::sync::Arc;

use alloy_primitives::{Address, B256, Bytes, U256};
use anyhow::Context;
use kaimeng_genesis::GenesisSpec;
use kaimeng_l1::Store;
use kaimeng_l1::governance::{ConsortiumState, EpochTransition, SignedGovernanceTx};
use kaimeng_shards::{BlockRules, ShardChain, StoredBlock};
use parking_lot::{Mutex, RwLock};

/// Most governance transactions in one block.
pub const MAX_GOVERNANCE_TXS: usize = 64;
const STATE_KEY: &[u8] = b"beacon_state";

/// The consortium state after a block, with the epoch's fee accounting.
#[derive(Clone, Debug)]
pub struct BeaconState {
    /// The block this state is after.
    pub height: u64,
    pub consortium: ConsortiumState,
    /// Base fees the treasury collected in the current epoch.
    pub epoch_fees: U256,
    /// Fee shares the next block pays from the treasury (set at an epoch boundary).
    pub payouts: Vec<(Address, U256)>,
}

impl BeaconState {
    pub fn genesis(spec: &GenesisSpec) -> anyhow::Result<Self> {
        Ok(Self {
            height: 0,
            consortium: ConsortiumState::from_genesis(spec)
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("consortium state from genesis")?,
            epoch_fees: U256::ZERO,
            payouts: Vec::new(),
        })
    }

    /// The rules of the block after this state, carrying `beacon`.
    pub fn rules(&self, beacon: Bytes) -> BlockRules {
        let parameters = self.consortium.parameters();
        BlockRules {
            gas_limit: parameters.block_gas_limit,
            min_base_fee: u64::try_from(parameters.min_base_fee).unwrap_or(u64::MAX),
            payouts: self.payouts.clone(),
            beacon,
        }
    }

    /// Applies block `height` (its governance transactions and the base fees it collected);
    /// at the epoch's last height, ends the epoch. An invalid transaction refuses the block.
    pub fn apply(
        &mut self,
        height: u64,
        section: &[u8],
        base_fees: U256,
    ) -> Result<Option<EpochTransition>, String> {
        if height != self.height + 1 {
            return Err(format!(
                "beacon state is at {}, not {}",
                self.height,
                height - 1
            ));
        }
        for tx in decode_section(section)? {
            self.consortium
                .apply_tx(height, &tx)
                .map_err(|e| format!("governance transaction refused: {e}"))?;
        }
        self.height = height;
        self.payouts.clear();
        self.epoch_fees = self.epoch_fees.saturating_add(base_fees);
        if height != self.consortium.epoch().last_height {
            return Ok(None);
        }
        let transition = self
            .consortium
            .on_epoch_boundary(height, self.epoch_fees)
            .map_err(|e| format!("epoch boundary at {height}: {e}"))?;
        self.epoch_fees = U256::ZERO;
        self.payouts = transition
            .fees
            .payouts
            .iter()
            .filter(|p| !p.amount.is_zero())
            .map(|p| (p.fee_recipient, p.amount))
            .collect();
        Ok(Some(transition))
    }

    /// Applies a shard block's beacon side.
    pub fn apply_block(&mut self, block: &StoredBlock) -> Result<Option<EpochTransition>, String> {
        let header = &block.header.header;
        let base_fees =
            U256::from(header.base_fee_per_gas.unwrap_or_default()) * U256::from(header.gas_used);
        self.apply(block.number(), &block.beacon, base_fees)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.epoch_fees.to_be_bytes::<32>());
        out.extend_from_slice(&(self.payouts.len() as u32).to_be_bytes());
        for (address, amount) in &self.payouts {
            out.extend_from_slice(address.as_slice());
            out.extend_from_slice(&amount.to_be_bytes::<32>());
        }
        out.extend_from_slice(&self.consortium.encode());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let height = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let epoch_fees = U256::from_be_slice(bytes.get(8..40)?);
        let count = u32::from_be_bytes(bytes.get(40..44)?.try_into().ok()?) as usize;
        let mut at = 44;
        let mut payouts = Vec::new();
        for _ in 0..count {
            payouts.push((
                Address::from_slice(bytes.get(at..at + 20)?),
                U256::from_be_slice(bytes.get(at + 20..at + 52)?),
            ));
            at += 52;
        }
        Some(Self {
            height,
            epoch_fees,
            payouts,
            consortium: ConsortiumState::decode(bytes.get(at..)?).ok()?,
        })
    }
}

/// `{ length (4, BE) ‖ signed governance transaction }*`; no transactions is no bytes.
pub fn encode_section(txs: &[SignedGovernanceTx]) -> Bytes {
    let mut out = Vec::new();
    for tx in txs {
        let encoded = tx.encode();
        out.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
        out.extend_from_slice(&encoded);
    }
    out.into()
}

pub fn decode_section(mut bytes: &[u8]) -> Result<Vec<SignedGovernanceTx>, String> {
    let mut txs = Vec::new();
    while !bytes.is_empty() {
        if txs.len() == MAX_GOVERNANCE_TXS {
            return Err(format!(
                "more than {MAX_GOVERNANCE_TXS} governance transactions"
            ));
        }
        let len = bytes
            .get(..4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("four bytes")) as usize)
            .ok_or("beacon section ends inside a length")?;
        let raw = bytes
            .get(4..4 + len)
            .ok_or("beacon section ends inside a transaction")?;
        txs.push(
            SignedGovernanceTx::decode(raw)
                .map_err(|e| format!("undecodable governance transaction: {e}"))?,
        );
        bytes = &bytes[4 + len..];
    }
    Ok(txs)
}

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
            Some(bytes) => BeaconState::decode(&bytes).context("corrupt beacon state")?,
            None => BeaconState::genesis(genesis)?,
        };
        let head = chain.head().number();
        for height in state.height + 1..=head {
            let block = chain
                .block(height)?
                .with_context(|| format!("final block {height} is missing"))?;
            state
                .apply_block(&block)
                .map_err(|e| anyhow::anyhow!("replaying block {height}: {e}"))?;
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
    pub fn state_after(&self, hash: &B256) -> Result<BeaconState, String> {
        let mut state = self.finalized();
        let head = self.chain.head();
        let mut chain = Vec::new();
        let mut cursor = *hash;
        while cursor != head.hash {
            let block = self
                .chain
                .kept_block(&cursor)
                .map_err(|e| format!("block {cursor}: {e}"))?;
            cursor = block.header.header.parent_hash;
            chain.push(block);
            if chain.len() > 256 {
                return Err("too many unfinalized blocks".into());
            }
        }
        if state.height != head.number() {
            return Err(format!(
                "beacon state at {} behind the head {}",
                state.height,
                head.number()
            ));
        }
        for block in chain.iter().rev() {
            state.apply_block(block)?;
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
                if let Some(t) = state
                    .apply_block(block)
                    .map_err(|e| anyhow::anyhow!("final block {}: {e}", block.number()))?
                {
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
        encode_section(&chosen)
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
    pub fn submit(&self, tx: SignedGovernanceTx) -> Result<B256, String> {
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
        trial.check_tx(height, &tx).map_err(|e| e.to_string())?;
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

    fn submit_governance(&self, tx: SignedGovernanceTx) -> Result<B256, String> {
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
