//! The sequencer's pipeline, one task: it watches the bridge for priority requests, closes
//! batches, applies them to the L2 tree, hands their chunks to provers, and submits commit,
//! verify and execute to shard 0, each in batch order.
//!
//! Everything it sends is idempotent with respect to the bridge's marks, read back every tick:
//! after a restart it continues from what the bridge says, never from what it remembers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{B256, Bytes, U256};
use alloy_signer_local::PrivateKeySigner;
use alloy_sol_types::SolCall;
use anyhow::{Context, anyhow, bail};
use kaimeng_prover::codec::pack_to_json;
use kaimeng_prover::deferred::claim_of;
use kaimeng_prover::witness::PublicInputs;
use kaimeng_prover::{ChunkShape, ChunkWitness, proof_len};
use kaimeng_rollup::L2Op;
use kaimeng_rollup::bridge_calls::WORD;
use kaimeng_rollup::stf::{ChunkConfig, ChunkOutcome, L2State};
use kaimeng_rollup::tx::MAX_SLOT_BYTES;
use kaimeng_shards::tx::{MAX_TX_BYTES, MAX_TX_GAS, call_gas_bound};

use super::core::{Core, Marks};
use super::jobs::JobId;
use crate::bridge_client::{
    BridgeClient, Deciding, FEE_ACCOUNT, commitBatchCall, decideBatchesCall, depositCall,
    executeBatchCall, verifyBatchCall, word,
};
use crate::rollup_precompiles::{decide_step_gas, decision_steps, verify_batch_gas};

/// How often the pipeline looks around.
const TICK: Duration = Duration::from_millis(200);

/// The pipeline's own state: the tree and the outcomes of batches not yet verified.
pub struct Pipeline {
    core: Arc<Core>,
    bridge: BridgeClient,
    signer: PrivateKeySigner,
    tree: Option<L2State>,
    outcomes: BTreeMap<u64, Arc<Vec<ChunkOutcome>>>,
    /// The IPA claims of this run's proofs of batches not yet decided (ADR 0114).
    claims: BTreeMap<u64, Vec<u8>>,
    /// The claims of the verifications this run landed, until decided. Another verification
    /// (someone else's proofs, or after a dropped one) is read from its event instead.
    landed: BTreeMap<u64, Vec<u8>>,
    /// The bridge's `lastVerified` at the previous round (it moves back when claims are
    /// refused).
    verified_seen: u64,
    /// Since when some verified batch waits for its claims to be decided.
    undecided_since: Option<Instant>,
    log_cursor: u64,
    fee_deposit_sent: bool,
}

impl Pipeline {
    /// A pipeline over `tree` (the state after every batch the core has closed).
    pub fn new(
        core: Arc<Core>,
        bridge: BridgeClient,
        signer: PrivateKeySigner,
        tree: L2State,
        outcomes: BTreeMap<u64, Arc<Vec<ChunkOutcome>>>,
    ) -> Self {
        Self {
            core,
            bridge,
            signer,
            tree: Some(tree),
            outcomes,
            claims: BTreeMap::new(),
            landed: BTreeMap::new(),
            verified_seen: 0,
            undecided_since: None,
            log_cursor: 0,
            fee_deposit_sent: false,
        }
    }

    /// Runs until the bridge enters exodus mode.
    pub async fn run(mut self) {
        loop {
            match self.tick().await {
                Ok(true) => {}
                Ok(false) => {
                    self.core
                        .fail("the bridge is in exodus mode: the rollup has stopped".into());
                    return;
                }
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "sequencer pipeline"),
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// One round; false once the bridge is in exodus mode.
    /// Reads the bridge once (three round trips: block number, one batch of views, the new
    /// logs), closes due batches, and sends what the marks allow.
    async fn tick(&mut self) -> anyhow::Result<bool> {
        let bridge = self.bridge.state(self.signer.address()).await?;
        if bridge.exodus {
            return Ok(false);
        }
        self.watch_requests(bridge.block).await?;
        self.ensure_fee_account().await?;
        while let Some((number, ops)) = self.core.close_due_batch(Instant::now()).await? {
            self.apply(number, ops).await?;
        }
        let marks = Marks {
            committed: bridge.committed,
            verified: bridge.verified,
            decided: bridge.decided,
            executed: bridge.executed,
        };
        self.core.set_marks(marks);
        self.core.maybe_compact();
        // Nothing is sent while an earlier call of the sequencer is still in the pool: the
        // marks do not show it yet. (A second commit of the same batch would be refused, since
        // a commit names its batch, but it would cost gas.)
        if !bridge.sender_pending {
            self.advance(marks, bridge.block, bridge.deciding).await?;
        }
        Ok(true)
    }

    async fn watch_requests(&mut self, latest: u64) -> anyhow::Result<()> {
        if latest < self.log_cursor {
            return Ok(());
        }
        let requests = self.bridge.requests(self.log_cursor, latest).await?;
        let added = self.core.add_requests(requests).await?;
        if added > 0 {
            tracing::info!(added, "priority requests taken from the bridge");
        }
        self.log_cursor = latest + 1;
        Ok(())
    }

    /// The fee account (index 0) is the sequencer's own, and every chunk credits it, so it
    /// must be registered before users' deposits fill a chunk: at its first start the
    /// sequencer deposits one unit to it from its shard-0 account.
    async fn ensure_fee_account(&mut self) -> anyhow::Result<()> {
        if self.fee_deposit_sent || self.core.is_registered(FEE_ACCOUNT) {
            return Ok(());
        }
        let chain_id = self.core.settings.chain_id;
        let key = kaimeng_rollup::keys::derive_l2_key(self.signer.credential(), chain_id);
        let call = depositCall {
            l2PublicKey: B256::from(key.public_key().to_bytes()),
        };
        let receipt = self
            .bridge
            .send(
                &self.signer,
                call.abi_encode(),
                U256::from(1_000_000_000u64),
            )
            .await
            .context("depositing to the fee account")?;
        if receipt["status"] != "0x1" {
            bail!("the fee account's deposit failed: {receipt}");
        }
        tracing::info!("deposited one unit to the fee account (L2 account 0)");
        self.fee_deposit_sent = true;
        Ok(())
    }

    /// Applies a closed batch to the tree (off the async threads) and opens its proving jobs.
    async fn apply(&mut self, number: u64, ops: Vec<L2Op>) -> anyhow::Result<()> {
        let mut tree = self
            .tree
            .take()
            .ok_or_else(|| anyhow!("the tree was lost"))?;
        let config = self.chunk_config();
        let (tree, result) = tokio::task::spawn_blocking(move || {
            let result = tree.apply_batch(config, &ops);
            (tree, result)
        })
        .await?;
        self.tree = Some(tree);
        let outcomes = match result {
            Ok(outcomes) => Arc::new(outcomes),
            Err(e) => {
                // The soft ledger applies the STF's rules, so this is a bug; stop rather than
                // publish anything inconsistent.
                let reason = format!("batch {number} does not apply to the tree: {e}");
                self.core.fail(reason.clone());
                bail!(reason);
            }
        };
        let tree = self.tree.as_ref().expect("just put back");
        self.core.batch_applied(number, &outcomes, tree);
        self.open_jobs(number, &outcomes);
        tracing::info!(
            batch = number,
            chunks = outcomes.len(),
            root = %word(tree.root()),
            "batch closed"
        );
        self.outcomes.insert(number, outcomes);
        Ok(())
    }

    fn chunk_config(&self) -> ChunkConfig {
        ChunkConfig {
            chain_id: self.core.settings.chain_id,
            fee_account: FEE_ACCOUNT,
            slots: self.core.settings.slots,
        }
    }

    /// Opens the proving jobs of every batch not yet verified (after a restart).
    pub fn reopen_jobs(&self) {
        for (number, outcomes) in &self.outcomes {
            self.open_jobs(*number, outcomes);
        }
    }

    /// Opens the proving jobs of a batch: its chunks in packs of `chunks_per_proof`.
    pub fn open_jobs(&self, number: u64, outcomes: &[ChunkOutcome]) {
        let mut jobs = self.core.jobs.lock();
        let size = self.core.settings.chunks_per_proof.max(1);
        for (index, pack) in outcomes.chunks(size).enumerate() {
            let witnesses: Vec<ChunkWitness> =
                pack.iter().map(ChunkWitness::from_outcome).collect();
            let publics = pack
                .iter()
                .map(|outcome| PublicInputs {
                    old_root: outcome.old_root,
                    new_root: outcome.new_root,
                    data_commitment: outcome.data_commitment,
                    queue_before: outcome.queue_before,
                    queue_after: outcome.queue_after,
                    chain_id: outcome.config.chain_id,
                    fee_account: outcome.config.fee_account,
                })
                .collect();
            jobs.add(
                JobId {
                    batch: number,
                    chunk: (index * size) as u32,
                },
                pack_to_json(&witnesses).to_string(),
                publics,
            );
        }
    }

    /// Submits the next commit, verify, decision or execute the marks allow (one of each at
    /// most, each waiting for its receipt). `block` is the block the marks were read at.
    async fn advance(
        &mut self,
        marks: Marks,
        block: u64,
        deciding: Option<Deciding>,
    ) -> anyhow::Result<()> {
        let last_closed = self.core.last_closed();
        if marks.committed < last_closed {
            let number = marks.committed + 1;
            if let Some(outcomes) = self.outcomes.get(&number).cloned() {
                let call = commit_call(number, &outcomes);
                self.submit(number, "commit", call.abi_encode(), None)
                    .await?;
            }
        }
        if marks.verified < marks.committed {
            let number = marks.verified + 1;
            let chunks = self.core.chunks_of(number);
            let proofs = self.core.jobs.lock().proofs(number, chunks);
            let outcomes = self.outcomes.get(&number).cloned();
            if let (Some(outcomes), Some(proofs)) = (outcomes, proofs) {
                let claims = self.claims_of(number, chunks).await?;
                let commit = commit_call(number, &outcomes);
                let packs = proofs.iter().filter(|p| !p.is_empty()).count() as u64;
                let call = verifyBatchCall {
                    batchNumber: number,
                    chunkData: commit.chunkData,
                    chunkRoots: commit.chunkRoots,
                    chunkQueues: commit.chunkQueues,
                    proofs: proofs.into_iter().map(Bytes::from).collect(),
                    claims: claims.clone().into(),
                };
                let input = call.abi_encode();
                let verifier = verify_batch_gas(self.core.settings.chunk_k, packs, chunks.into());
                let gas = bridge_call_gas(input.len(), verifier);
                if self.submit(number, "verify", input, Some(gas)).await? {
                    self.landed.insert(number, claims);
                }
            }
        }
        self.decide(marks, block, deciding).await?;
        if marks.executed < marks.decided {
            let number = marks.executed + 1;
            let call = executeBatchCall {
                batchNumber: number,
            };
            self.submit(number, "execute", call.abi_encode(), None)
                .await?;
        }
        Ok(())
    }

    /// Has the claims of the verified batches decided, once `decide_every` of them wait or the
    /// oldest waited `decide_wait`, in as many steps as each must fit a transaction, one step a
    /// round; a decision under way (begun before a restart, or by someone else) is carried on
    /// first. Decided batches' proofs, witnesses and claims are dropped; until then they are
    /// kept, so a batch whose verification was dropped (a false claim) is verified again.
    async fn decide(
        &mut self,
        marks: Marks,
        block: u64,
        deciding: Option<Deciding>,
    ) -> anyhow::Result<()> {
        let decided = marks.decided;
        self.outcomes.retain(|n, _| *n > decided);
        self.claims.retain(|n, _| *n > decided);
        self.landed.retain(|n, _| *n > decided);
        if marks.verified < self.verified_seen {
            // Verifications were dropped (a false claim): ours among them no longer stand.
            self.landed.retain(|n, _| *n <= marks.verified);
        }
        self.verified_seen = marks.verified;
        self.core.jobs.lock().forget_through(decided);
        if marks.decided >= marks.verified {
            self.undecided_since = None;
            return Ok(());
        }
        let since = *self.undecided_since.get_or_insert_with(Instant::now);
        let settings = &self.core.settings;
        if deciding.is_none()
            && marks.verified - marks.decided < settings.decide_every
            && since.elapsed() < settings.decide_wait
        {
            return Ok(());
        }
        let last = deciding.map_or(marks.verified, |d| d.last_batch);
        let mut claims = self.claims_to_decide(decided + 1..=last, block).await?;
        let (steps, next_step) = match deciding {
            Some(d) => (d.steps, d.next_step),
            None => {
                // As many batches as one decision can take, in the fewest steps that fit, each
                // step a transaction that carries every claim.
                let k = settings.chunk_k;
                let budget = settings.decide_step_gas;
                let steps = loop {
                    let steps = decision_steps(k, claim_count(k, &claims), budget)
                        .filter(|steps| decision_step_fits(k, &claims, *steps));
                    match steps {
                        Some(steps) => break steps,
                        None if claims.len() > 1 => drop(claims.pop()),
                        None => bail!("one batch's claims do not fit a decision at k = {k}"),
                    }
                };
                (steps as u32, 0)
            }
        };
        let last = decided + claims.len() as u64;
        // One step a round: commits, verifications and executions go on between the steps, and
        // the next round finds the decision under way on the bridge.
        if next_step < steps {
            let k = self.core.settings.chunk_k;
            let count = claim_count(k, &claims);
            let call = decideBatchesCall {
                lastBatch: last,
                claims,
                steps,
            };
            let input = call.abi_encode();
            let decider = decide_step_gas(k, count, steps.into());
            let gas = bridge_call_gas(input.len(), decider);
            self.submit(last, "decide", input, Some(gas)).await?;
        }
        Ok(())
    }

    /// The claims of batches `numbers`, each as its verification took them: those this run
    /// landed, and any other from the `BatchVerified` events (before a restart, someone else's,
    /// or after verifications were dropped).
    async fn claims_to_decide(
        &self,
        numbers: std::ops::RangeInclusive<u64>,
        block: u64,
    ) -> anyhow::Result<Vec<Bytes>> {
        let from_events = if numbers.clone().all(|n| self.landed.contains_key(&n)) {
            BTreeMap::new()
        } else {
            self.bridge.verified_claims(numbers.clone(), block).await?
        };
        numbers
            .map(|number| {
                self.landed
                    .get(&number)
                    .or_else(|| from_events.get(&number))
                    .map(|c| Bytes::from(c.clone()))
                    .ok_or_else(|| {
                        anyhow!("batch {number} is verified but has no BatchVerified event")
                    })
            })
            .collect()
    }

    /// The IPA claims of batch `number`'s proofs, computed once from the proofs (each checked in
    /// full on the way).
    async fn claims_of(&mut self, number: u64, chunks: u32) -> anyhow::Result<Vec<u8>> {
        if let Some(claims) = self.claims.get(&number) {
            return Ok(claims.clone());
        }
        let packs = self
            .core
            .jobs
            .lock()
            .packs(number, chunks)
            .ok_or_else(|| anyhow!("batch {number}: proofs missing"))?;
        let (params, vk) = self
            .core
            .verifier()
            .ok_or_else(|| anyhow!("the verifying key is not built yet"))?;
        let claims = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
            let mut out = Vec::new();
            for (index, pack) in packs.iter().enumerate() {
                let claim = claim_of(&params, &vk, pack)
                    .map_err(|e| anyhow!("batch {number}, proof {index}: {e}"))?;
                out.extend(claim.to_bytes());
            }
            Ok(out)
        })
        .await??;
        self.claims.insert(number, claims.clone());
        Ok(claims)
    }

    /// Sends one bridge call for batch `number`, with `gas` or an estimate; records the
    /// outcome on the batch.
    async fn submit(
        &self,
        number: u64,
        what: &str,
        input: Vec<u8>,
        gas: Option<u64>,
    ) -> anyhow::Result<bool> {
        let started = Instant::now();
        // After a failure, ask for an estimate: it says why a call would revert without
        // sending it, so a call that keeps failing (say, a shape that is not the chain's)
        // costs the RPC node one run a round instead of every validator a reverted one.
        let gas = gas.filter(|_| !self.core.batch_failed(number));
        let sent = self
            .bridge
            .send_with_gas(&self.signer, input, U256::ZERO, gas);
        match sent.await {
            Ok(receipt) if receipt["status"] == "0x1" => {
                self.core.batch_error(number, None);
                tracing::info!(
                    batch = number,
                    what,
                    gas = receipt["gasUsed"].as_str().unwrap_or_default(),
                    tx = receipt["transactionHash"].as_str().unwrap_or_default(),
                    ms = started.elapsed().as_millis() as u64,
                    "batch submitted to shard 0"
                );
                Ok(true)
            }
            Ok(receipt) => {
                let error = format!("{what} reverted: {}", receipt["transactionHash"]);
                self.core.batch_error(number, Some(error.clone()));
                tracing::warn!(batch = number, %error);
                Ok(false)
            }
            Err(e) => {
                let error = format!("{what}: {e:#}");
                self.core.batch_error(number, Some(error.clone()));
                tracing::warn!(batch = number, %error);
                Ok(false)
            }
        }
    }
}

/// Room left in a bridge call's transaction for its envelope (nonce, fees, signature).
const ENVELOPE: usize = 256;

/// Gas for a bridge call of `calldata` bytes whose precompile charges `precompile`: the
/// calldata's (EIP-7623's floor or 16 a byte), the charge (and the 1/64 the bridge keeps back
/// when it passes its gas on), and the bridge's own work. The sequencer sends its
/// verifications and decision steps with it rather than an estimate: the RPC node would run
/// the proofs' check three times to estimate one (at the cap, at the optimistic limit, once in
/// the search), about 0.4 s per production batch.
pub fn bridge_call_gas(calldata: usize, precompile: u64) -> u64 {
    call_gas_bound(
        calldata,
        precompile + precompile / 63 + bridge_work_gas(calldata),
    )
}

/// A bound on the bridge's own gas in a proof call of `calldata` bytes: copying and hashing
/// its arguments (measured about 70 gas a word; 100 here) and memory for about twice the
/// calldata (2.5 times here), whose price grows with its square. Measured by the forge test
/// `test_theBridgeSPartOfAProductionVerificationFitsTheSequencersBound`: 218 K, 513 K and
/// 1.49 M gas for 16, 32 and 64 chunks of 57 slots of 32 bytes in packs of 8 (78, 156 and
/// 311 KB of calldata), against 435 K, 913 K and 2.30 M here.
pub fn bridge_work_gas(calldata: usize) -> u64 {
    let words = calldata.div_ceil(32) as u64;
    let memory = words * 5 / 2;
    100_000 + 100 * words + 3 * memory + memory * memory / 512
}

/// How many claims of `2^k`-row proofs the batches' `claims` hold in all.
fn claim_count(k: u32, claims: &[Bytes]) -> u64 {
    let total: usize = claims.iter().map(|c| c.len()).sum();
    (total / (WORD * (k as usize + 1))) as u64
}

/// Whether one step of deciding `claims` (each batch's, as the bridge takes them) in `steps`
/// steps fits a transaction: every step carries every claim, so its bytes and its gas (the
/// calldata's, the decider's charge and the bridge's) must both stay within a transaction's
/// limits.
pub fn decision_step_fits(k: u32, claims: &[Bytes], steps: u64) -> bool {
    let call = decideBatchesCall {
        lastBatch: u64::MAX,
        claims: claims.to_vec(),
        steps: u32::MAX,
    };
    let bytes = call.abi_encode().len() + ENVELOPE;
    let gas = bridge_call_gas(bytes, decide_step_gas(k, claim_count(k, claims), steps));
    bytes <= MAX_TX_BYTES && gas <= MAX_TX_GAS
}

/// The most bytes and gas a batch's verification can take as a transaction at these settings:
/// every slot of `max_chunks` chunks publishing the longest kind, a proof per pack of
/// `chunks_per_proof`, their claims, and room for the transaction's envelope. The gas is the
/// larger of EIP-7623's floor (40 a byte, all taken as nonzero) and the calldata at 16 a byte
/// plus the verifier's charge and the bridge's own work ([`bridge_call_gas`]).
pub fn largest_verify_tx(
    shape: ChunkShape,
    max_chunks: usize,
    chunks_per_proof: usize,
) -> (usize, u64) {
    let pack = chunks_per_proof.max(1);
    let proofs: Vec<Bytes> = (0..max_chunks)
        .map(|c| match c % pack {
            0 => vec![0xff; proof_len(pack.min(max_chunks - c), shape.k)].into(),
            _ => Bytes::new(),
        })
        .collect();
    let claims = max_chunks.div_ceil(pack) * WORD * (shape.k as usize + 1);
    let call = verifyBatchCall {
        batchNumber: u64::MAX,
        chunkData: vec![vec![0xff; shape.slots * MAX_SLOT_BYTES].into(); max_chunks],
        chunkRoots: vec![B256::repeat_byte(0xff); max_chunks],
        chunkQueues: vec![B256::repeat_byte(0xff); max_chunks],
        proofs,
        claims: vec![0xff; claims].into(),
    };
    let bytes = call.abi_encode().len() + ENVELOPE;
    let packs = max_chunks.div_ceil(pack) as u64;
    let verifier = verify_batch_gas(shape.k, packs, max_chunks as u64);
    (bytes, bridge_call_gas(bytes, verifier))
}

/// The commit call of batch `number`'s chunks.
pub fn commit_call(number: u64, outcomes: &[ChunkOutcome]) -> commitBatchCall {
    commitBatchCall {
        batchNumber: number,
        chunkData: outcomes.iter().map(|o| o.pubdata.clone().into()).collect(),
        chunkRoots: outcomes.iter().map(|o| word(o.new_root)).collect(),
        chunkQueues: outcomes.iter().map(|o| word(o.queue_after)).collect(),
    }
}
