//! One shard chain on disk: genesis, the head, proposing and finalizing blocks, the pool, and
//! the read side the RPC serves. Block production is driven from outside: by the local sealer
//! through [`ShardChain::propose`] and [`ShardChain::finalize`] on the head, and by the BFT
//! engine through [`ShardChain::propose_on`], [`ShardChain::verify_on`] and
//! [`ShardChain::finalize_pending`], which build and check blocks on unfinalized parents.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, EMPTY_ROOT_HASH, Header, proofs};
use alloy_eips::eip7685::EMPTY_REQUESTS_HASH;
use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use kaimeng_genesis::GenesisSpec;
use kaimeng_l1::beacon::BeaconRef;
use kaimeng_l1::{Store, StoreError};
use parking_lot::{Mutex, MutexGuard, RwLock};
use revm::bytecode::Bytecode;
use revm::state::AccountInfo;

use crate::admission::{self, NextBlock};
use crate::block::{self, SealedHeader, StoredBlock, StoredReceipt};
use crate::commit::{StateCommit, WriteOp, prepare_commit};
use crate::crossshard::commitment::commitment_of;
use crate::crossshard::deliver::{DeliveryError, check_order};
use crate::crossshard::{self, BlockMessages, Delivery};
use crate::events::{ChainEvents, EventSender};
use crate::executor::{BlockContext, BlockExecution, Skip, execute_block};
use crate::fees::next_base_fee;
use crate::journal::PoolJournal;
use crate::layers::{Layer, Layers};
use crate::overlay::{AccountChange, PendingState};
use crate::pending_index;
use crate::pool::{PoolConfig, PoolError, PoolStatus, SenderState, TxPool};
use crate::precompiles::ShardPrecompiles;
use crate::schema;
use crate::state::{StateAt, StateError};
use crate::state_cache::{self, StateCache};
use crate::tx::{ShardTx, TxError};
use crate::tx_receipt::{self, LocatedReceipt};

/// Static parameters of one shard, taken from genesis, and the precompiles the node gives it.
#[derive(Clone, Debug)]
pub struct ShardConfig {
    pub shard: u32,
    pub chain_id: u64,
    pub treasury: Address,
    pub min_base_fee: u64,
    pub gas_limit: u64,
    /// What every EVM of this chain sees (blocks, calls, estimates, traces).
    pub precompiles: ShardPrecompiles,
}

impl ShardConfig {
    pub fn from_genesis(genesis: &GenesisSpec, shard: u32) -> Self {
        Self {
            shard,
            chain_id: genesis.chain_id(shard),
            treasury: genesis.treasury,
            min_base_fee: u64::try_from(genesis.min_base_fee).unwrap_or(u64::MAX),
            gas_limit: genesis.block_gas_limit,
            precompiles: ShardPrecompiles::standard(),
        }
    }
}

/// Errors of the chain's write and read paths.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the data directory holds a different chain (genesis {stored}, expected {expected}); use another --data-dir"
    )]
    GenesisMismatch { stored: B256, expected: B256 },
    #[error("corrupt block data at height {0}")]
    Corrupt(u64),
    #[error("proposal does not extend the head: parent {parent}, head {head}")]
    NotOnHead { parent: B256, head: B256 },
    #[error("proposal is invalid: {0}")]
    InvalidProposal(String),
    #[error("unknown parent block {0}: neither the finalized head nor a pending block")]
    UnknownParent(B256),
    #[error("unknown block {0}: not pending on top of the finalized head")]
    UnknownBlock(B256),
    #[error("{0}")]
    Journal(String),
}

/// Why a submitted transaction was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Tx(#[from] TxError),
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// A rule the executor would refuse the transaction for (intrinsic gas, init-code size,
    /// block gas limit, ...), in the wording Ethereum clients know.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Where a transaction stands, for `txpool_transactionStatus`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxStatus {
    /// In a finalized block.
    Included { block: u64, index: usize },
    /// In the pool: executable (`Pending`) or behind a nonce gap (`Queued`), or dropped with a
    /// reason, or unknown to this node.
    Pool(PoolStatus),
}

/// What a block must follow beyond Ethereum's rules, set by the finalized beacon block it
/// references: its gas limit, the base fee floor and fee shares to pay from the treasury first.
/// The header names that beacon block (`parent_beacon_block_root`, and its height and epoch in
/// `extra_data`, see `kaimeng_l1::beacon::reference`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockRules {
    pub gas_limit: u64,
    pub min_base_fee: u64,
    pub payouts: Vec<(Address, U256)>,
    pub beacon: BeaconRef,
}

impl BlockRules {
    /// The genesis rules: no payouts, following the beacon genesis.
    pub fn from_config(config: &ShardConfig) -> Self {
        Self {
            gas_limit: config.gas_limit,
            min_base_fee: config.min_base_fee,
            payouts: Vec::new(),
            beacon: BeaconRef::GENESIS,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(68 + self.payouts.len() * 52);
        out.extend_from_slice(&self.gas_limit.to_be_bytes());
        out.extend_from_slice(&self.min_base_fee.to_be_bytes());
        out.extend_from_slice(&(self.payouts.len() as u32).to_be_bytes());
        for (address, amount) in &self.payouts {
            out.extend_from_slice(address.as_slice());
            out.extend_from_slice(&amount.to_be_bytes::<32>());
        }
        out.extend_from_slice(self.beacon.root.as_slice());
        out.extend_from_slice(&self.beacon.height.to_be_bytes());
        out.extend_from_slice(&self.beacon.epoch.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let gas_limit = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let min_base_fee = u64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
        let count = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?) as usize;
        let mut at = 20;
        let mut payouts = Vec::with_capacity(count.min(1024));
        for _ in 0..count {
            let address = Address::from_slice(bytes.get(at..at + 20)?);
            let amount = U256::from_be_slice(bytes.get(at + 20..at + 52)?);
            payouts.push((address, amount));
            at += 52;
        }
        Some(Self {
            gas_limit,
            min_base_fee,
            payouts,
            beacon: BeaconRef {
                root: B256::from_slice(bytes.get(at..at + 32)?),
                height: u64::from_be_bytes(bytes.get(at + 32..at + 40)?.try_into().ok()?),
                epoch: u64::from_be_bytes(bytes.get(at + 40..at + 48)?.try_into().ok()?),
            },
        })
    }
}

/// The certificate that makes a block final: it certifies block `certified` (the block itself
/// or a descendant).
#[derive(Clone, Copy)]
struct Finality<'a> {
    certified: u64,
    certificate: &'a [u8],
}

/// A block built on the head, not yet finalized.
pub struct ProposedBlock {
    pub block: StoredBlock,
    pub commit: StateCommit,
}

/// An executed, unfinalized block and the writes of its unfinalized chain (itself included).
struct KeptBlock {
    block: Arc<StoredBlock>,
    commit: StateCommit,
    layers: Layers,
    /// When it was executed here, for [`ShardChain::finality_waits`].
    kept_at: std::time::Instant,
}

pub struct ShardChain {
    store: Store,
    config: ShardConfig,
    head: RwLock<SealedHeader>,
    pool: Mutex<TxPool>,
    /// The number of the last final block the pool has been pruned for; changed only under the
    /// pool lock (see [`ShardChain::pool_with_sender_state`]).
    pool_head: AtomicU64,
    /// Transactions submitted here, kept on disk until final or dropped.
    journal: PoolJournal,
    events: EventSender,
    /// Serialises propose/finalize against each other.
    write_lock: Mutex<()>,
    /// Executed blocks awaiting finality, by hash.
    pending: RwLock<HashMap<B256, Arc<KeptBlock>>>,
    /// The last [`RECENT_BLOCKS`] final blocks, oldest first: clients and subscribers ask for
    /// the newest blocks again and again, and a final block never changes.
    recent: RwLock<VecDeque<Arc<StoredBlock>>>,
    /// The hot part of the finalized state, kept in step with the store by `write_final`.
    cache: Arc<StateCache>,
    /// Whether this node executes the chain now; a chain it does not hold refuses new
    /// transactions (its state is not current), naming where to send them instead.
    not_held: parking_lot::RwLock<Option<String>>,
    /// How long kept blocks waited for finality.
    finality_clock: crate::finality_clock::FinalityClock,
    /// Called after every sender-state read of the pool's paths (tests pause reads with it).
    #[cfg(test)]
    state_read_hook: Mutex<Option<StateReadHook>>,
}

#[cfg(test)]
type StateReadHook = Arc<dyn Fn(&Address) + Send + Sync>;

/// How many of the newest final blocks [`ShardChain::block`] serves from memory.
const RECENT_BLOCKS: usize = 64;

/// How often admission reads a sender's state without the pool lock before it reads it under
/// the lock (each retry means a block was applied to the pool during the read).
const UNLOCKED_READ_TRIES: usize = 4;

impl ShardChain {
    /// Opens the shard in `store`, writing genesis on first use.
    pub fn open(store: Store, genesis: &GenesisSpec, shard: u32) -> Result<Self, ChainError> {
        Self::open_with(store, genesis, ShardConfig::from_genesis(genesis, shard))
    }

    /// [`ShardChain::open`] with `config` (for example with precompiles of this chain alone).
    pub fn open_with(
        store: Store,
        genesis: &GenesisSpec,
        config: ShardConfig,
    ) -> Result<Self, ChainError> {
        let expected = genesis.hash();
        let head = match store.get(schema::META, schema::META_HEAD)? {
            Some(bytes) => {
                let stored = store
                    .get(schema::META, schema::META_GENESIS)?
                    .map(|v| B256::from_slice(&v))
                    .unwrap_or_default();
                if stored != expected {
                    return Err(ChainError::GenesisMismatch { stored, expected });
                }
                let number =
                    u64::from_be_bytes(bytes.try_into().map_err(|_| ChainError::Corrupt(0))?);
                read_header(&store, number)?.ok_or(ChainError::Corrupt(number))?
            }
            None => write_genesis(&store, genesis, &config)?,
        };
        pending_index::prepare(&store, head.number())?;
        let head_number = head.number();
        let chain = Self {
            journal: PoolJournal::new(store.path()),
            store,
            config,
            head: RwLock::new(head),
            pool: Mutex::new(TxPool::new(PoolConfig::default())),
            pool_head: AtomicU64::new(head_number),
            events: EventSender::default(),
            write_lock: Mutex::new(()),
            pending: RwLock::new(HashMap::new()),
            recent: RwLock::new(VecDeque::with_capacity(RECENT_BLOCKS)),
            cache: Arc::new(StateCache::new(state_cache::DEFAULT_CAPACITY)),
            not_held: parking_lot::RwLock::new(None),
            finality_clock: Default::default(),
            #[cfg(test)]
            state_read_hook: Mutex::new(None),
        };
        chain.restore_journal()?;
        Ok(chain)
    }

    /// Pools the journaled transactions again (those that no longer qualify are forgotten),
    /// then starts journaling.
    fn restore_journal(&self) -> Result<(), ChainError> {
        let journal_error = |error: std::io::Error| {
            ChainError::Journal(format!(
                "cannot use the pool journal beside {}: {error}",
                self.store.path().display()
            ))
        };
        let txs = self.journal.load().map_err(journal_error)?;
        if !txs.is_empty() {
            self.pool_again(txs);
        }
        self.journal.start().map_err(journal_error)
    }

    fn pool_again(&self, txs: Vec<ShardTx>) {
        let total = txs.len();
        let mut stale = Vec::new();
        for tx in txs {
            let hash = tx.hash;
            if let Err(error) = self.admit(Arc::new(tx)) {
                tracing::debug!(%hash, %error, "journaled transaction not pooled again");
                stale.push(hash);
            }
        }
        self.journal.forget(stale.iter().copied());
        tracing::info!(
            shard = self.config.shard,
            restored = total - stale.len(),
            stale = stale.len(),
            "pooled the transactions journaled before the restart"
        );
    }

    pub fn config(&self) -> &ShardConfig {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn head(&self) -> SealedHeader {
        self.head.read().clone()
    }

    /// The hash of this shard's genesis block.
    pub fn genesis_hash(&self) -> Result<B256, ChainError> {
        self.header(0)?
            .map(|genesis| genesis.hash)
            .ok_or(ChainError::Corrupt(0))
    }

    pub fn subscribe(&self) -> ChainEvents {
        self.events.subscribe()
    }

    /// The base fee the next block will charge.
    pub fn next_base_fee(&self) -> u64 {
        let head = self.head.read();
        let h = &head.header;
        next_base_fee(
            h.base_fee_per_gas.unwrap_or(self.config.min_base_fee),
            h.gas_used,
            h.gas_limit,
            self.config.min_base_fee,
        )
    }

    pub fn latest_state(&self) -> StateAt {
        StateAt::latest(self.store.clone()).with_cache(self.cache.clone())
    }

    /// State as of block `number` (the head's plain state when `number` is the head).
    pub fn state_at(&self, number: u64) -> StateAt {
        if number >= self.head.read().number() {
            self.latest_state()
        } else {
            StateAt::at_block(self.store.clone(), number)
        }
    }

    // ---- transactions in ----

    /// Decodes, checks, pools and journals a raw transaction sent to this node; returns its
    /// hash.
    pub fn submit_raw(&self, raw: &[u8]) -> Result<B256, SubmitError> {
        let tx = ShardTx::decode(raw, self.config.chain_id)?;
        self.submit(Arc::new(tx))
    }

    /// Marks the chain as not executed by this node (with why, for the submitter), or as
    /// executed again (`None`).
    /// How long the recent blocks made final through consensus waited for it here, from their
    /// execution on this node; `None` under a local sealer.
    pub fn finality_waits(&self) -> Option<crate::finality_clock::FinalityWaits> {
        self.finality_clock.summary()
    }

    pub fn set_not_held(&self, reason: Option<String>) {
        *self.not_held.write() = reason;
    }

    /// Why this node does not execute the chain now, if it does not.
    pub fn not_held(&self) -> Option<String> {
        self.not_held.read().clone()
    }

    /// Pools and journals an already decoded transaction sent to this node.
    pub fn submit(&self, tx: Arc<ShardTx>) -> Result<B256, SubmitError> {
        if let Some(reason) = self.not_held() {
            return Err(SubmitError::Invalid(reason));
        }
        let hash = self.admit(tx.clone())?;
        self.journal.record(&tx);
        self.events.pending_tx(hash);
        Ok(hash)
    }

    /// Pools a transaction a peer relayed (not journaled: the node it was sent to keeps it).
    pub fn submit_from_peer(&self, tx: Arc<ShardTx>) -> Result<B256, SubmitError> {
        let hash = self.admit(tx)?;
        self.events.pending_tx(hash);
        Ok(hash)
    }

    /// Every admission rule: the executor's stateless ones, then the pool's against the head.
    fn admit(&self, tx: Arc<ShardTx>) -> Result<B256, SubmitError> {
        let hash = tx.hash;
        let base_fee = self.next_base_fee();
        let next = {
            let head = self.head.read();
            NextBlock {
                chain_id: self.config.chain_id,
                number: head.number() + 1,
                timestamp: head.header.timestamp + 1,
                gas_limit: head.header.gas_limit,
                base_fee,
            }
        };
        admission::check(&tx, &next).map_err(SubmitError::Invalid)?;
        let (mut pool, sender) = self.pool_with_sender_state(&tx.sender)?;
        pool.add(tx, sender, self.config.min_base_fee, Instant::now())?;
        let departed = pool.take_departed();
        drop(pool);
        self.journal.forget(departed);
        Ok(hash)
    }

    /// The pool, locked, and `sender`'s final nonce and balance as of the last block the pool
    /// has been pruned for, or later. The state is read without the lock, so a slow read never
    /// stalls other submissions or finalization. A block written after the read is harmless:
    /// `write_final` writes the block before it prunes the pool, and pruning removes what that
    /// block made stale. A block applied to the pool between the read and the lock is not: the
    /// read may predate it and let in a nonce it made final. So the read is repeated when the
    /// pool head moved meanwhile; after [`UNLOCKED_READ_TRIES`] lost races it is made under the
    /// lock, so a sender racing a fast chain still gets an answer.
    fn pool_with_sender_state(
        &self,
        sender: &Address,
    ) -> Result<(MutexGuard<'_, TxPool>, SenderState), StateError> {
        for _ in 0..UNLOCKED_READ_TRIES {
            let applied = self.pool_head.load(Ordering::SeqCst);
            let state = self.sender_state(sender)?;
            let pool = self.pool.lock();
            if self.pool_head.load(Ordering::SeqCst) == applied {
                return Ok((pool, state));
            }
        }
        let pool = self.pool.lock();
        let state = self.sender_state(sender)?;
        Ok((pool, state))
    }

    /// `sender`'s nonce and balance in the latest final state.
    fn sender_state(&self, sender: &Address) -> Result<SenderState, StateError> {
        let account = self.latest_state().account(sender)?.unwrap_or_default();
        #[cfg(test)]
        {
            let hook = self.state_read_hook.lock().clone();
            if let Some(hook) = hook {
                hook(sender);
            }
        }
        Ok(SenderState {
            nonce: account.nonce,
            balance: account.balance,
        })
    }

    /// Whether the pool holds a transaction the next block could include.
    pub fn has_executable(&self) -> bool {
        let base_fee = self.next_base_fee();
        self.pool.lock().has_executable(base_fee)
    }

    /// Whether `hash` was submitted to this node (and is not yet final or dropped), as opposed
    /// to relayed by a peer.
    pub fn is_local(&self, hash: &B256) -> bool {
        self.journal.is_live(hash)
    }

    /// Up to `limit` transactions submitted to this node that are not yet final or dropped.
    pub fn local_pending(&self, limit: usize) -> Vec<Arc<ShardTx>> {
        self.journal.live(limit)
    }

    /// Whether pooled transaction `hash` could go into the next block.
    pub fn is_executable(&self, hash: &B256) -> bool {
        let base_fee = self.next_base_fee();
        self.pool.lock().is_executable(hash, base_fee)
    }

    /// Where transaction `hash` stands: finalized, pooled, dropped (with the reason) or unknown.
    pub fn tx_status(&self, hash: &B256) -> Result<TxStatus, ChainError> {
        if let Some((block, index)) = self.tx_location(hash)? {
            return Ok(TxStatus::Included { block, index });
        }
        Ok(TxStatus::Pool(self.pool.lock().status(hash)))
    }

    pub fn pool(&self) -> parking_lot::MutexGuard<'_, TxPool> {
        self.pool.lock()
    }

    /// The nonce `address`'s next transaction should use (`eth_getTransactionCount` "pending").
    pub fn pending_nonce(&self, address: &Address) -> Result<u64, StateError> {
        let (pool, state) = self.pool_with_sender_state(address)?;
        Ok(pool.pending_nonce(address, state.nonce))
    }

    // ---- block production ----

    /// Builds the next block on the finalized head from the pool's best transactions.
    pub fn propose(
        &self,
        timestamp: u64,
        beneficiary: Address,
        max_txs: usize,
    ) -> Result<ProposedBlock, ChainError> {
        let _guard = self.write_lock.lock();
        let (parent, base) = self.parent_state(&self.head().hash)?;
        let rules = BlockRules::from_config(&self.config);
        self.build(
            &parent,
            &base,
            timestamp,
            beneficiary,
            max_txs,
            &rules,
            Vec::new(),
        )
    }

    /// Builds a block on `parent` (the finalized head or an unfinalized block this chain
    /// built or checked) and keeps it until it is finalized or abandoned.
    pub fn propose_on(
        &self,
        parent: &B256,
        timestamp: u64,
        beneficiary: Address,
        max_txs: usize,
        rules: &BlockRules,
        deliveries: Vec<Delivery>,
    ) -> Result<Arc<StoredBlock>, ChainError> {
        let _guard = self.write_lock.lock();
        let (parent, base) = self.parent_state(parent)?;
        let proposed = self.build(
            &parent,
            &base,
            timestamp,
            beneficiary,
            max_txs,
            rules,
            deliveries,
        )?;
        self.keep_pending(proposed, &base, rules)
    }

    /// Re-executes a block someone else proposed on `header.parent_hash` (the head or an
    /// unfinalized block) and keeps it until it is finalized or abandoned.
    pub fn verify_on(
        &self,
        header: &Header,
        txs: Vec<Arc<ShardTx>>,
        deliveries: Vec<Delivery>,
        rules: &BlockRules,
    ) -> Result<Arc<StoredBlock>, ChainError> {
        let _guard = self.write_lock.lock();
        let hash = header.hash_slow();
        if let Some(known) = self.pending.read().get(&hash) {
            return Ok(known.block.clone());
        }
        let (parent, base) = self.parent_state(&header.parent_hash)?;
        let proposed = self.check(&parent, &base, header, txs, deliveries, rules)?;
        self.keep_pending(proposed, &base, rules)
    }

    /// Finalizes the kept block `hash` and its unfinalized ancestors, oldest first, and
    /// forgets kept blocks that can no longer be finalized. Returns the newly final blocks.
    pub fn finalize_pending(&self, hash: &B256) -> Result<Vec<Arc<StoredBlock>>, ChainError> {
        self.finalize_pending_with(hash, None)
    }

    /// [`ShardChain::finalize_pending`], storing `certificate` (the encoded finality
    /// certificate of block `hash`) with the blocks it makes final.
    pub fn finalize_pending_certified(
        &self,
        hash: &B256,
        certificate: &[u8],
    ) -> Result<Vec<Arc<StoredBlock>>, ChainError> {
        self.finalize_pending_with(hash, Some(certificate))
    }

    fn finalize_pending_with(
        &self,
        hash: &B256,
        certificate: Option<&[u8]>,
    ) -> Result<Vec<Arc<StoredBlock>>, ChainError> {
        let _guard = self.write_lock.lock();
        let head = self.head();
        if *hash == head.hash {
            return Ok(Vec::new());
        }
        let mut chain = Vec::new();
        {
            let pending = self.pending.read();
            let mut cursor = *hash;
            while cursor != head.hash {
                let block = pending
                    .get(&cursor)
                    .ok_or(ChainError::UnknownBlock(cursor))?;
                cursor = block.block.header.header.parent_hash;
                chain.push(block.clone());
            }
        }
        let certified = chain.first().map(|kept| kept.block.number());
        if let Some(newest) = chain.first() {
            self.finality_clock.record(newest.kept_at.elapsed());
        }
        let mut finalized = Vec::with_capacity(chain.len());
        for block in chain.into_iter().rev() {
            let proof = certified
                .zip(certificate)
                .map(|(certified, certificate)| Finality {
                    certified,
                    certificate,
                });
            finalized.push(self.write_final(block.block.clone(), &block.commit, proof)?);
        }
        self.forget_abandoned()?;
        Ok(finalized)
    }

    /// Drops kept blocks (and their persisted bodies) that do not descend from the
    /// finalized head.
    fn forget_abandoned(&self) -> Result<(), ChainError> {
        let mut pending = self.pending.write();
        let mut by_height: Vec<(u64, B256, B256)> = pending
            .values()
            .map(|kept| {
                let header = &kept.block.header;
                (header.number(), header.hash, header.header.parent_hash)
            })
            .collect();
        by_height.sort_unstable();
        let mut live = std::collections::HashSet::from([self.head().hash]);
        let mut batch = self.store.batch();
        for (number, hash, parent) in by_height {
            if live.contains(&parent) {
                live.insert(hash);
            } else {
                pending.remove(&hash);
                pending_index::delete(&mut batch, number, &hash)?;
            }
        }
        if !batch.is_empty() {
            self.store.write(batch)?;
        }
        Ok(())
    }

    /// A kept block, re-executed from its persisted body if this process has not seen it
    /// (it was kept before a restart).
    pub fn kept_block(&self, hash: &B256) -> Result<Arc<StoredBlock>, ChainError> {
        let _guard = self.write_lock.lock();
        if let Some(block) = self.pending_block(hash) {
            return Ok(block);
        }
        Ok(self.restore_pending(hash, 0)?.block.clone())
    }

    /// A kept (unfinalized) block, if this chain built or checked it.
    pub fn pending_block(&self, hash: &B256) -> Option<Arc<StoredBlock>> {
        self.pending.read().get(hash).map(|kept| kept.block.clone())
    }

    /// Re-executes a block proposed by someone else on the head and checks its header.
    pub fn verify(
        &self,
        header: &Header,
        txs: Vec<Arc<ShardTx>>,
        deliveries: Vec<Delivery>,
        rules: &BlockRules,
    ) -> Result<ProposedBlock, ChainError> {
        let _guard = self.write_lock.lock();
        let head = self.head();
        if header.parent_hash != head.hash {
            return Err(ChainError::NotOnHead {
                parent: header.parent_hash,
                head: head.hash,
            });
        }
        let (parent, base) = self.parent_state(&head.hash)?;
        self.check(&parent, &base, header, txs, deliveries, rules)
    }

    /// How many cross-shard messages from `source` the state after `parent` has taken.
    pub fn inbox_nonce(&self, parent: &B256, source: u32) -> Result<u64, ChainError> {
        let (_, state) = self.parent_state(parent)?;
        let slot = B256::from(crossshard::message::inbox_slot(source));
        Ok(state
            .storage_value(&crossshard::CROSS_SHARD_ADDRESS, &slot)?
            .saturating_to())
    }

    /// The header of `parent` and the state after it: the finalized head, or a kept block.
    fn parent_state(&self, parent: &B256) -> Result<(SealedHeader, StateAt), ChainError> {
        let head = self.head();
        if *parent == head.hash {
            return Ok((head, self.latest_state()));
        }
        let kept = self.pending.read().get(parent).cloned();
        let kept = match kept {
            Some(kept) => kept,
            None => self.restore_pending(parent, 0)?,
        };
        Ok((
            kept.block.header.clone(),
            StateAt::pending(self.store.clone(), kept.layers.clone())
                .with_cache(self.cache.clone()),
        ))
    }

    /// Re-executes a kept block from its persisted body (after a restart, the engine may
    /// extend a block that was notarized but not final when the node stopped).
    fn restore_pending(&self, hash: &B256, depth: usize) -> Result<Arc<KeptBlock>, ChainError> {
        const MAX_DEPTH: usize = 64;
        let unknown = || ChainError::UnknownParent(*hash);
        if depth > MAX_DEPTH {
            return Err(unknown());
        }
        let bytes = pending_index::body(&self.store, hash)?.ok_or_else(unknown)?;
        // `wire length (4) ‖ wire block ‖ rules`, as `keep_pending` writes it.
        let wire_len = bytes
            .get(..4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("four bytes")) as usize)
            .ok_or(ChainError::Corrupt(0))?;
        let wire = bytes.get(4..4 + wire_len).ok_or(ChainError::Corrupt(0))?;
        let rules = BlockRules::decode(&bytes[4 + wire_len..]).ok_or(ChainError::Corrupt(0))?;
        let block = crate::wire::decode_block(wire, self.config.chain_id)
            .map_err(|_| ChainError::Corrupt(0))?;
        let parent_hash = block.header.parent_hash;
        let (parent, base) = if parent_hash == self.head().hash {
            (self.head(), self.latest_state())
        } else {
            let kept = match self.pending.read().get(&parent_hash).cloned() {
                Some(kept) => kept,
                None => self.restore_pending(&parent_hash, depth + 1)?,
            };
            (
                kept.block.header.clone(),
                StateAt::pending(self.store.clone(), kept.layers.clone())
                    .with_cache(self.cache.clone()),
            )
        };
        let proposed = self.check(
            &parent,
            &base,
            &block.header,
            block.txs,
            block.deliveries,
            &rules,
        )?;
        self.keep_pending(proposed, &base, &rules)?;
        self.pending.read().get(hash).cloned().ok_or_else(unknown)
    }

    /// Keeps an executed block in memory (with its writes as a layer) and its body on disk,
    /// so it can be re-executed after a restart until it is final or abandoned.
    fn keep_pending(
        &self,
        proposed: ProposedBlock,
        base: &StateAt,
        rules: &BlockRules,
    ) -> Result<Arc<StoredBlock>, ChainError> {
        let block = &proposed.block;
        let header_write = WriteOp::Put(
            schema::HEADERS,
            schema::number_key(block.number()).to_vec(),
            block.header.encode(),
        );
        let layer = Layer::from_ops(proposed.commit.ops.iter().chain([&header_write]));
        let layers = base.layers().with(layer);
        let mut batch = self.store.batch();
        pending_index::put(&mut batch, block.number(), &block.hash(), &{
            let wire = crate::wire::encode_block(block);
            [
                &(wire.len() as u32).to_be_bytes()[..],
                &wire,
                &rules.encode(),
            ]
            .concat()
        })?;
        self.store.write(batch)?;
        let block = Arc::new(proposed.block);
        let kept = KeptBlock {
            block: block.clone(),
            commit: proposed.commit,
            layers,
            kept_at: std::time::Instant::now(),
        };
        self.pending.write().insert(block.hash(), Arc::new(kept));
        Ok(block)
    }

    fn build(
        &self,
        parent: &SealedHeader,
        base: &StateAt,
        timestamp: u64,
        beneficiary: Address,
        max_txs: usize,
        rules: &BlockRules,
        deliveries: Vec<Delivery>,
    ) -> Result<ProposedBlock, ChainError> {
        check_order(base, &deliveries).map_err(invalid_deliveries)?;
        let ctx = self.context_for(parent, timestamp, beneficiary, rules, deliveries);
        let candidates = self.pool.lock().best(ctx.base_fee, max_txs);
        let execution = execute_block(base, &ctx, candidates)?;
        // A transaction that cannot execute is dropped (and reported), or it would keep its
        // sender's queue "executable" and leaders proposing at once. Some skips are not final:
        // no room left in the block (gas or bytes), an earlier transaction of the sender left
        // out, and, on an unfinalized parent, "nonce too low" for a transaction that chain
        // already holds (it must stay pooled in case that chain is abandoned).
        if !execution.skipped.is_empty() {
            let on_final = parent.hash == self.head().hash;
            let mut pool = self.pool.lock();
            for (tx, reason) in &execution.skipped {
                let waits = match reason {
                    Skip::NonceTooLow { .. } => !on_final,
                    other => other.may_fit_later(),
                };
                if !waits {
                    tracing::debug!(hash = %tx.hash, %reason, "dropping transaction that cannot execute");
                    pool.drop_tx(&tx.hash, &reason.to_string());
                }
            }
            let departed = pool.take_departed();
            drop(pool);
            self.journal.forget(departed);
        }
        self.seal(base, parent, &ctx, execution, &rules.beacon)
    }

    fn check(
        &self,
        parent: &SealedHeader,
        base: &StateAt,
        header: &Header,
        txs: Vec<Arc<ShardTx>>,
        deliveries: Vec<Delivery>,
        rules: &BlockRules,
    ) -> Result<ProposedBlock, ChainError> {
        if header.number != parent.number() + 1 {
            return Err(ChainError::InvalidProposal(format!(
                "block number {} does not follow its parent's {}",
                header.number,
                parent.number()
            )));
        }
        check_order(base, &deliveries).map_err(invalid_deliveries)?;
        let ctx = self.context_for(
            parent,
            header.timestamp,
            header.beneficiary,
            rules,
            deliveries,
        );
        let count = txs.len();
        let execution = execute_block(base, &ctx, txs)?;
        if execution.txs.len() != count {
            let reason = execution
                .skipped
                .first()
                .map(|(_, r)| r.to_string())
                .unwrap_or_default();
            return Err(ChainError::InvalidProposal(format!(
                "a transaction cannot execute: {reason}"
            )));
        }
        let proposed = self.seal(base, parent, &ctx, execution, &rules.beacon)?;
        if proposed.block.header.hash != header.hash_slow() {
            return Err(ChainError::InvalidProposal(
                "header does not match re-execution".into(),
            ));
        }
        Ok(proposed)
    }

    fn context_for(
        &self,
        parent: &SealedHeader,
        timestamp: u64,
        beneficiary: Address,
        rules: &BlockRules,
        deliveries: Vec<Delivery>,
    ) -> BlockContext {
        let h = &parent.header;
        BlockContext {
            chain_id: self.config.chain_id,
            number: h.number + 1,
            timestamp: timestamp.max(h.timestamp),
            beneficiary,
            treasury: self.config.treasury,
            base_fee: next_base_fee(
                h.base_fee_per_gas.unwrap_or(rules.min_base_fee),
                h.gas_used,
                h.gas_limit,
                rules.min_base_fee,
            ),
            gas_limit: rules.gas_limit,
            prevrandao: keccak256(parent.hash),
            payouts: rules.payouts.clone(),
            precompiles: self.config.precompiles.clone(),
            deliveries: deliveries.into(),
            beacon_height: rules.beacon.height,
        }
    }

    fn seal(
        &self,
        base: &StateAt,
        parent: &SealedHeader,
        ctx: &BlockContext,
        execution: BlockExecution,
        beacon: &BeaconRef,
    ) -> Result<ProposedBlock, ChainError> {
        let commit = prepare_commit(base, &execution.pending, ctx.number)?;
        let envelopes: Vec<_> = execution
            .txs
            .iter()
            .map(|t| t.tx.envelope.clone())
            .collect();
        let receipts: Vec<_> = execution.txs.iter().map(|t| t.receipt.clone()).collect();
        let header = Header {
            parent_hash: parent.hash,
            ommers_hash: EMPTY_OMMER_ROOT_HASH,
            beneficiary: ctx.beneficiary,
            state_root: commit.state_root,
            transactions_root: proofs::calculate_transaction_root(&envelopes),
            receipts_root: proofs::calculate_receipt_root(&receipts),
            logs_bloom: execution.logs_bloom,
            difficulty: U256::ZERO,
            number: ctx.number,
            gas_limit: ctx.gas_limit,
            gas_used: execution.gas_used,
            timestamp: ctx.timestamp,
            extra_data: beacon.extra_data(),
            mix_hash: ctx.prevrandao,
            nonce: Default::default(),
            base_fee_per_gas: Some(ctx.base_fee),
            withdrawals_root: Some(EMPTY_ROOT_HASH),
            blob_gas_used: Some(0),
            excess_blob_gas: Some(0),
            parent_beacon_block_root: Some(beacon.root),
            requests_hash: Some(commitment_of(&execution.sent, &ctx.deliveries)),
            ..Default::default()
        };
        let (txs, receipts) = execution
            .txs
            .into_iter()
            .map(|t| {
                (
                    t.tx,
                    StoredReceipt {
                        envelope: t.receipt,
                        gas_used: t.gas_used,
                        contract_address: t.contract_address,
                    },
                )
            })
            .unzip();
        Ok(ProposedBlock {
            block: StoredBlock {
                header: SealedHeader::seal(header),
                txs,
                receipts,
                payouts: ctx.payouts.clone(),
                cross_shard: BlockMessages {
                    deliveries: ctx.deliveries.to_vec(),
                    taken: execution.taken,
                    sent: execution.sent,
                },
            },
            commit,
        })
    }

    /// Makes a block proposed on the head final: one atomic write, then the new head is
    /// announced.
    pub fn finalize(&self, proposed: ProposedBlock) -> Result<Arc<StoredBlock>, ChainError> {
        let _guard = self.write_lock.lock();
        self.write_final(Arc::new(proposed.block), &proposed.commit, None)
    }

    /// [`ShardChain::finalize`] for a synced block, storing the finality certificate of block
    /// `certified` (this block or a descendant, which makes it final) beside it.
    pub fn finalize_certified(
        &self,
        proposed: ProposedBlock,
        certified: u64,
        certificate: &[u8],
    ) -> Result<Arc<StoredBlock>, ChainError> {
        let _guard = self.write_lock.lock();
        let proof = Finality {
            certified,
            certificate,
        };
        self.write_final(Arc::new(proposed.block), &proposed.commit, Some(proof))
    }

    /// The finality certificate that made block `number` final: the number of the block it
    /// certifies (`number` itself or a descendant) and its encoding. `None` for blocks
    /// finalized without consensus (a dev sealer) or before certificates were kept.
    pub fn certificate(&self, number: u64) -> Result<Option<(u64, Vec<u8>)>, ChainError> {
        let Some(pointer) = self
            .store
            .get(schema::CERTIFICATES, schema::number_key(number))?
        else {
            return Ok(None);
        };
        let certified = pointer
            .get(..8)
            .map(|b| u64::from_be_bytes(b.try_into().expect("eight bytes")))
            .ok_or(ChainError::Corrupt(number))?;
        if certified == number {
            return Ok(Some((certified, pointer[8..].to_vec())));
        }
        let certificate = self
            .store
            .get(schema::CERTIFICATES, schema::number_key(certified))?
            .and_then(|value| value.get(8..).map(<[u8]>::to_vec))
            .ok_or(ChainError::Corrupt(certified))?;
        Ok(Some((certified, certificate)))
    }

    fn write_final(
        &self,
        block: Arc<StoredBlock>,
        commit: &StateCommit,
        finality: Option<Finality<'_>>,
    ) -> Result<Arc<StoredBlock>, ChainError> {
        let head = self.head();
        if block.header.header.parent_hash != head.hash {
            return Err(ChainError::NotOnHead {
                parent: block.header.header.parent_hash,
                head: head.hash,
            });
        }
        let number = block.number();
        let mut batch = self.store.batch();
        let key = schema::number_key(number);
        batch.put(schema::HEADERS, key, block.header.encode())?;
        batch.put(schema::BLOCK_NUMBERS, block.hash(), key)?;
        batch.put(schema::BODIES, key, block::encode_body(&block.txs))?;
        batch.put(
            schema::RECEIPTS,
            key,
            block::encode_receipts(&block.receipts),
        )?;
        for (index, (tx, entry)) in block
            .txs
            .iter()
            .zip(tx_receipt::entries(&block))
            .enumerate()
        {
            let location = tx_receipt::key(number, index as u32);
            batch.put(schema::TX_INDEX, tx.hash, location)?;
            batch.put(schema::TX_RECEIPTS, location, tx_receipt::encode(&entry))?;
        }
        if !block.payouts.is_empty() {
            batch.put(schema::PAYOUTS, key, block::encode_payouts(&block.payouts))?;
        }
        crossshard::block::put(&mut batch, number, &block.cross_shard)?;
        if let Some(finality) = finality {
            let mut value = finality.certified.to_be_bytes().to_vec();
            if finality.certified == number {
                value.extend_from_slice(finality.certificate);
            }
            batch.put(schema::CERTIFICATES, key, value)?;
        }
        commit.apply_to(&mut batch)?;
        batch.put(schema::META, schema::META_HEAD, key)?;
        self.cache
            .write_through(&commit.ops, || self.store.write(batch))?;
        *self.head.write() = block.header.clone();
        {
            let mut recent = self.recent.write();
            if recent.len() == RECENT_BLOCKS {
                recent.pop_front();
            }
            recent.push_back(block.clone());
        }

        // The senders' new nonces are read before the pool lock is taken (see
        // `pool_with_sender_state`), so submissions go on while they are read.
        let nonces: HashMap<Address, u64> = block
            .txs
            .iter()
            .map(|tx| tx.sender)
            .collect::<std::collections::HashSet<_>>()
            .into_iter()
            .map(|sender| {
                let nonce = self.sender_state(&sender).map(|s| s.nonce).unwrap_or(0);
                (sender, nonce)
            })
            .collect();
        let now = Instant::now();
        let departed = {
            let mut pool = self.pool.lock();
            pool.on_new_head(
                &block.txs,
                |sender| nonces.get(sender).copied().unwrap_or(0),
                now,
            );
            self.pool_head.store(number, Ordering::SeqCst);
            let expired = pool.expire(now);
            if expired > 0 {
                tracing::info!(
                    expired,
                    "dropped transactions that waited too long behind a nonce gap"
                );
            }
            pool.take_departed()
        };
        self.journal
            .forget(block.txs.iter().map(|tx| tx.hash).chain(departed));
        self.events.new_block(block.clone());
        Ok(block)
    }

    // ---- reads ----

    pub fn header(&self, number: u64) -> Result<Option<SealedHeader>, ChainError> {
        read_header(&self.store, number)
    }

    pub fn number_of(&self, hash: &B256) -> Result<Option<u64>, ChainError> {
        Ok(self
            .store
            .get(schema::BLOCK_NUMBERS, hash)?
            .and_then(|v| v.try_into().ok())
            .map(u64::from_be_bytes))
    }

    pub fn block(&self, number: u64) -> Result<Option<Arc<StoredBlock>>, ChainError> {
        if let Some(block) = self.recent_block(number) {
            return Ok(Some(block));
        }
        let Some(header) = self.header(number)? else {
            return Ok(None);
        };
        let key = schema::number_key(number);
        let Some(body) = self.store.get(schema::BODIES, key)? else {
            // Below a snapshot's base only headers are held: the block is not here.
            let base = crate::snapshot_store::snapshot_base(&self.store)?;
            return match base {
                Some(base) if number <= base => Ok(None),
                _ => Err(ChainError::Corrupt(number)),
            };
        };
        let txs = block::decode_body(&body).ok_or(ChainError::Corrupt(number))?;
        let raw_receipts = self
            .store
            .get(schema::RECEIPTS, key)?
            .ok_or(ChainError::Corrupt(number))?;
        let receipts =
            block::decode_receipts(&raw_receipts, &txs).ok_or(ChainError::Corrupt(number))?;
        let payouts = match self.store.get(schema::PAYOUTS, key)? {
            None => Vec::new(),
            Some(bytes) => block::decode_payouts(&bytes).ok_or(ChainError::Corrupt(number))?,
        };
        let cross_shard =
            crossshard::block::get(&self.store, number)?.ok_or(ChainError::Corrupt(number))?;
        Ok(Some(Arc::new(StoredBlock {
            header,
            txs,
            receipts,
            payouts,
            cross_shard,
        })))
    }

    fn recent_block(&self, number: u64) -> Option<Arc<StoredBlock>> {
        let recent = self.recent.read();
        let oldest = recent.front()?.number();
        let block = recent.get(usize::try_from(number.checked_sub(oldest)?).ok()?)?;
        (block.number() == number).then(|| block.clone())
    }

    /// The receipt of final transaction `hash`, read and decoded alone: cost independent of the
    /// size of its block. Blocks written before receipts were stored one by one fall back to
    /// deriving the entry from the whole block.
    pub fn receipt(&self, hash: &B256) -> Result<Option<LocatedReceipt>, ChainError> {
        let Some((number, index)) = self.tx_location(hash)? else {
            return Ok(None);
        };
        let header = self.header(number)?.ok_or(ChainError::Corrupt(number))?;
        let entry = match self
            .store
            .get(schema::TX_RECEIPTS, tx_receipt::key(number, index as u32))?
        {
            Some(bytes) => tx_receipt::decode(&bytes).ok_or(ChainError::Corrupt(number))?,
            None => {
                let block = self.block(number)?.ok_or(ChainError::Corrupt(number))?;
                tx_receipt::entries(&block)
                    .into_iter()
                    .nth(index)
                    .ok_or(ChainError::Corrupt(number))?
            }
        };
        Ok(Some(LocatedReceipt {
            entry,
            tx_hash: *hash,
            index: index as u64,
            block_hash: header.hash,
            block_number: number,
            block_timestamp: header.header.timestamp,
        }))
    }

    /// Where a transaction was included: (block number, index).
    pub fn tx_location(&self, hash: &B256) -> Result<Option<(u64, usize)>, ChainError> {
        let Some(v) = self.store.get(schema::TX_INDEX, hash)? else {
            return Ok(None);
        };
        if v.len() != 12 {
            return Err(ChainError::Corrupt(0));
        }
        let number = u64::from_be_bytes(v[..8].try_into().map_err(|_| ChainError::Corrupt(0))?);
        let index =
            u32::from_be_bytes(v[8..].try_into().map_err(|_| ChainError::Corrupt(0))?) as usize;
        Ok(Some((number, index)))
    }
}

fn read_header(store: &Store, number: u64) -> Result<Option<SealedHeader>, ChainError> {
    match store.get(schema::HEADERS, schema::number_key(number))? {
        None => Ok(None),
        Some(bytes) => SealedHeader::decode(&bytes)
            .map(Some)
            .ok_or(ChainError::Corrupt(number)),
    }
}

fn write_genesis(
    store: &Store,
    genesis: &GenesisSpec,
    config: &ShardConfig,
) -> Result<SealedHeader, ChainError> {
    let mut pending = PendingState::default();
    let system = genesis.system_accounts(config.shard);
    for account in genesis.alloc_for_shard(config.shard).chain(&system) {
        let mut info = AccountInfo {
            balance: account.balance,
            nonce: account.nonce,
            ..Default::default()
        };
        if let Some(code) = account.code.as_ref().filter(|c| !c.is_empty()) {
            let bytecode = Bytecode::new_raw(code.clone());
            info.code_hash = bytecode.hash_slow();
            pending.contracts.insert(info.code_hash, bytecode);
        }
        let storage = account
            .storage
            .iter()
            .map(|(k, v)| (U256::from_be_bytes(k.0), U256::from_be_bytes(v.0)))
            .collect();
        pending.accounts.insert(
            account.address,
            AccountChange {
                info: Some(info),
                storage,
                storage_wiped: false,
            },
        );
    }
    let commit = prepare_commit(&StateAt::latest(store.clone()), &pending, 0)?;
    let base_fee = u64::try_from(genesis.initial_base_fee)
        .unwrap_or(u64::MAX)
        .max(config.min_base_fee);
    let header = Header {
        parent_hash: B256::ZERO,
        ommers_hash: EMPTY_OMMER_ROOT_HASH,
        beneficiary: Address::ZERO,
        state_root: commit.state_root,
        transactions_root: EMPTY_ROOT_HASH,
        receipts_root: EMPTY_ROOT_HASH,
        number: 0,
        gas_limit: config.gas_limit,
        timestamp: genesis.timestamp,
        extra_data: Bytes::copy_from_slice(&genesis.hash()[..]),
        base_fee_per_gas: Some(base_fee),
        withdrawals_root: Some(EMPTY_ROOT_HASH),
        blob_gas_used: Some(0),
        excess_blob_gas: Some(0),
        parent_beacon_block_root: Some(B256::ZERO),
        requests_hash: Some(EMPTY_REQUESTS_HASH),
        ..Default::default()
    };
    let sealed = SealedHeader::seal(header);
    let mut batch = store.batch();
    let key = schema::number_key(0);
    batch.put(schema::HEADERS, key, sealed.encode())?;
    batch.put(schema::BLOCK_NUMBERS, sealed.hash, key)?;
    batch.put(schema::BODIES, key, [])?;
    batch.put(schema::RECEIPTS, key, [])?;
    commit.apply_to(&mut batch)?;
    batch.put(schema::META, schema::META_GENESIS, genesis.hash())?;
    batch.put(schema::META, schema::META_HEAD, key)?;
    store.write(batch)?;
    Ok(sealed)
}

/// Deliveries a block cannot take, as a refusal of the block.
fn invalid_deliveries(error: DeliveryError) -> ChainError {
    match error {
        DeliveryError::Invalid(reason) => ChainError::InvalidProposal(reason),
        DeliveryError::State(e) => ChainError::State(e),
    }
}

#[cfg(test)]
#[path = "chain_pool_lock_tests.rs"]
mod pool_lock_tests;

#[path = "chain_snapshot.rs"]
mod snapshot;
