//! A running chain that has nothing after its genesis block takes a checked state snapshot
//! as its new head (shard state sync, ADR 0100): the store's genesis state is replaced, and
//! the chain's memory (head, kept blocks, recent blocks, state cache, pool) starts over there.

use std::sync::atomic::Ordering;

use kaimeng_genesis::GenesisSpec;

use super::{ShardChain, write_genesis};
use crate::block::SealedHeader;
use crate::pool::{PoolConfig, TxPool};
use crate::snapshot::{Manifest, SnapshotAccount};
use crate::snapshot_store::{self, InstallError};

impl ShardChain {
    /// Checks the snapshot (`manifest` against the newest of `headers`, each chunk against
    /// `manifest`), then installs it in place of the genesis state. Refused, writing nothing,
    /// when a check fails or the chain has a block after genesis. If the write itself fails
    /// after the genesis state was removed, genesis is written again.
    pub fn install_snapshot(
        &self,
        genesis: &GenesisSpec,
        manifest: &Manifest,
        chunks: &[Vec<SnapshotAccount>],
        headers: &[SealedHeader],
    ) -> Result<SealedHeader, InstallError> {
        let head = snapshot_store::check(manifest, chunks, headers)?;
        let _writing = self.write_lock.lock();
        if self.head().number() != 0 {
            return Err(InstallError::NotEmpty);
        }
        snapshot_store::clear_genesis_state(&self.store)?;
        let installed =
            match snapshot_store::write_checked(&self.store, genesis, chunks, headers, head) {
                Ok(head) => head,
                Err(error) => {
                    write_genesis(&self.store, genesis, &self.config)
                        .map_err(|e| InstallError::Restore(e.to_string()))?;
                    return Err(error);
                }
            };
        self.pending.write().clear();
        self.recent.write().clear();
        self.cache.clear();
        *self.pool.lock() = TxPool::new(PoolConfig::default());
        self.pool_head.store(installed.number(), Ordering::SeqCst);
        *self.head.write() = installed.clone();
        Ok(installed)
    }
}
