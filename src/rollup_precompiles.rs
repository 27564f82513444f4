//! Shard 0's rollup precompiles (ADR 0103), for the bridge contract: batch verification
//! (`0x…0b01`), an exodus account claim (`0x…0b02`), the priority-queue fold (`0x…0b03`) and
//! the IPA claim decider (`0x…0b04`, ADR 0114).
//! Their logic lives in `kaimeng_prover::batch_call` and `kaimeng_rollup::bridge_calls`; this
//! module prices them and gives the batch verifier its key.
//!
//! Gas is set from measured CPU time on one thread relative to ecrecover's 3,000
//! (`benches/benches/rollup_gas.rs`, BENCHMARKS.md), and is charged before any proof is
//! checked, from the decoded call's proof and chunk counts (decoding is linear in the input,
//! which the caller paid for as calldata). Like the 国密 precompiles they report bad input as
//! empty output (the bridge reverts with its own reason), and run out of gas by consuming all
//! gas given.
//!
//! The proof work runs on the calling thread's own one-thread rayon pool, not on rayon's
//! global pool: halo2 would otherwise spread each multi-scalar multiplication over every core,
//! which on a validator that executes blocks (and other shards) at the same time only adds
//! scheduling and idle spinning to the CPU a block costs. Measured on 8 members on 2 cores:
//! 255 µs of node CPU per L2 transfer with the global pool, 81 µs with this (ADR 0114,
//! decision 8).
//!
//! The verifying key follows from the genesis chunk shape. It is built on the first batch
//! verification, not at start, because keygen takes seconds and most nodes of a test or dev
//! run never verify a batch. The parameters are cached under the data directory.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use alloy_primitives::Address;
use kaimeng_crypto::precompile::{PrecompileFailure, PrecompileOk, PrecompileResult};
use kaimeng_genesis::RollupSpec;
use kaimeng_prover::batch_call::{BatchCall, BatchCallError, DecideStepCall, verify_call};
use kaimeng_prover::deferred::max_decision_steps;
use kaimeng_prover::{ChunkParams, ChunkShape, ChunkVerifyingKey, ParamsCache, generate_vk};
use kaimeng_rollup::bridge_calls::{check_account, fold_priority};
use kaimeng_shards::precompiles::{BlockView, ChainPrecompile};

pub const VERIFY_BATCH_ADDRESS: Address = Address::new(address_of(0x0b01));
pub const ACCOUNT_CLAIM_ADDRESS: Address = Address::new(address_of(0x0b02));
pub const PRIORITY_FOLD_ADDRESS: Address = Address::new(address_of(0x0b03));
pub const DECIDE_CLAIMS_ADDRESS: Address = Address::new(address_of(0x0b04));

/// Gas of a priority fold (2.4 × ecrecover measured).
pub const PRIORITY_FOLD_GAS: u64 = 7_500;
/// Gas of an account claim (19 × ecrecover measured: 34 Poseidon permutations).
pub const ACCOUNT_CLAIM_GAS: u64 = 60_000;
/// Gas of a batch verification's fixed part, with the IPA claims taken as given (ADR 0114):
/// reading the call and the final MSM over the proofs' points (about 30 × ecrecover
/// measured).
pub const VERIFY_BATCH_BASE_GAS: u64 = 150_000;
/// Gas per proof, beside its share of the IPA rounds (its transcript, instance, gates,
/// permutation and opening; with [`VERIFY_BATCH_PROOF_ROUND_GAS`], about 45 × ecrecover
/// measured per proof at k = 12 and 13).
pub const VERIFY_BATCH_PROOF_GAS: u64 = 100_000;
/// Gas per proof and IPA round (k rounds, two points read each).
pub const VERIFY_BATCH_PROOF_ROUND_GAS: u64 = 8_000;
/// Gas per further chunk of a proof's pack, whatever k (ADR 0114; about 21 × ecrecover
/// measured at k = 12 and 13).
pub const VERIFY_BATCH_PACKED_CHUNK_GAS: u64 = 70_000;
/// Gas of a claim decision's fixed part at k = 12, the MSM over the generators (about
/// 1,100 × ecrecover measured).
pub const DECIDE_BASE_GAS: u64 = 3_800_000;
/// Gas per claim decided at k = 12 (about 5 × ecrecover measured at k = 13, halved).
pub const DECIDE_CLAIM_GAS: u64 = 20_000;
/// Gas of each step of a decision beside its share of the whole: smaller multi-scalar
/// multiplications cost more per generator. Measured at k = 16 with 64 claims: 595 ms in one
/// step, 714 / 808 / 876 ms in 8 / 16 / 32 steps, so 9 to 15 ms more per step (about 0.7 to
/// 1.2 M gas at ecrecover's rate).
pub const DECIDE_STEP_GAS: u64 = 1_000_000;
/// Gas per claim in every step of a decision, whatever its share of the generators: each step
/// reads every claim and draws its weight.
pub const DECIDE_STEP_CLAIM_GAS: u64 = 2_000;

const fn address_of(low: u16) -> [u8; 20] {
    let mut bytes = [0u8; 20];
    bytes[18] = (low >> 8) as u8;
    bytes[19] = low as u8;
    bytes
}

/// Gas of verifying `proofs` proofs of `chunks` chunks in all at `2^k` rows, with their IPA
/// claims taken as given. Nothing in it grows with the rows but the k rounds of each proof's
/// inner-product argument: the generator MSM is the decider's (BENCHMARKS.md, "Verification
/// without the generator vector").
pub fn verify_batch_gas(k: u32, proofs: u64, chunks: u64) -> u64 {
    let per_proof = VERIFY_BATCH_PROOF_GAS + VERIFY_BATCH_PROOF_ROUND_GAS * u64::from(k.min(32));
    VERIFY_BATCH_BASE_GAS
        .saturating_add(per_proof.saturating_mul(proofs))
        .saturating_add(VERIFY_BATCH_PACKED_CHUNK_GAS.saturating_mul(chunks.saturating_sub(proofs)))
}

/// Gas of deciding `claims` IPA claims of `2^k`-row proofs; doubles with each `k`.
pub fn decide_gas(k: u32, claims: u64) -> u64 {
    let scale = 1u64 << k.saturating_sub(12).min(20);
    DECIDE_BASE_GAS
        .saturating_add(DECIDE_CLAIM_GAS.saturating_mul(claims))
        .saturating_mul(scale)
}

/// Gas of one of `steps` equal steps of that decision (ADR 0114): its share of the whole,
/// rounded up, a step's own part, and reading every claim.
pub fn decide_step_gas(k: u32, claims: u64, steps: u64) -> u64 {
    decide_gas(k, claims)
        .div_ceil(steps.max(1))
        .saturating_add(DECIDE_STEP_GAS)
        .saturating_add(DECIDE_STEP_CLAIM_GAS.saturating_mul(claims))
}

/// The fewest steps (a power of two the decider accepts) in which deciding `claims` claims of
/// `2^k`-row proofs costs at most `limit` gas per step; `None` if no split fits.
pub fn decision_steps(k: u32, claims: u64, limit: u64) -> Option<u64> {
    let most = max_decision_steps(k) as u64;
    std::iter::successors(Some(1u64), |s| Some(s * 2))
        .take_while(|s| *s <= most)
        .find(|s| decide_step_gas(k, claims, *s) <= limit)
}

/// A precompile's output: the answer, or empty for refused input (logged with its reason).
fn answer(result: Result<Vec<u8>, BatchCallError>, what: &str) -> Vec<u8> {
    result.unwrap_or_else(|error| {
        tracing::debug!(%error, "rollup {what} refused");
        Vec::new()
    })
}

fn charge(gas: u64, limit: u64) -> Result<u64, PrecompileFailure> {
    if gas > limit {
        return Err(PrecompileFailure::OutOfGas { needed: gas, limit });
    }
    Ok(gas)
}

/// The verifying key of the genesis chunk shape, built once when first needed.
#[derive(Debug)]
pub struct BatchVerifierKey {
    shape: ChunkShape,
    params_dir: PathBuf,
    built: OnceLock<Option<(ChunkParams, ChunkVerifyingKey)>>,
}

impl BatchVerifierKey {
    /// For `spec`, caching parameters in `params_dir`. Refuses a shape whose chunk does not
    /// fit its `k`.
    pub fn new(spec: RollupSpec, params_dir: PathBuf) -> anyhow::Result<Self> {
        let shape = ChunkShape {
            slots: spec.chunk_slots as usize,
            k: spec.chunk_k,
        };
        shape
            .validate()
            .map_err(|e| anyhow::anyhow!("genesis rollup shape: {e}"))?;
        Ok(Self {
            shape,
            params_dir,
            built: OnceLock::new(),
        })
    }

    /// The parameters and key. If the parameter cache cannot be used, they are generated in
    /// memory (they are deterministic); `None` only if even that fails, which every node of
    /// the network then sees alike.
    /// The parameters and key, or why they are missing.
    fn built(&self) -> Result<(&ChunkParams, &ChunkVerifyingKey), BatchCallError> {
        self.get()
            .map(|(params, vk)| (params, vk))
            .ok_or_else(|| BatchCallError::Proofs("the verifying key could not be built".into()))
    }

    fn get(&self) -> Option<&(ChunkParams, ChunkVerifyingKey)> {
        self.built
            .get_or_init(|| {
                let started = std::time::Instant::now();
                let cache = ParamsCache::new(&self.params_dir).quiet();
                let params = cache.load_or_generate(self.shape.k).or_else(|error| {
                    tracing::warn!(%error, "rollup parameter cache unusable; generating in memory");
                    let temp = std::env::temp_dir()
                        .join(format!("kaimeng-rollup-params-{}", std::process::id()));
                    ParamsCache::new(temp)
                        .quiet()
                        .load_or_generate(self.shape.k)
                });
                let built = params.and_then(|params| {
                    let vk = generate_vk(&params, self.shape)?;
                    Ok((params, vk))
                });
                match built {
                    Ok(built) => {
                        tracing::info!(
                            slots = self.shape.slots,
                            k = self.shape.k,
                            seconds = started.elapsed().as_secs_f64(),
                            "rollup batch verifier key ready"
                        );
                        Some(built)
                    }
                    Err(error) => {
                        tracing::error!(%error, "cannot build the rollup verifying key");
                        None
                    }
                }
            })
            .as_ref()
    }
}

/// Runs `work` (proof verification or a decision step) on this thread's one-thread pool, so
/// that halo2's parallel loops inside it stay on one core.
fn on_one_thread<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    thread_local! {
        static POOL: Option<rayon::ThreadPool> = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .thread_name(|_| "kaimeng-proofs".into())
            .build()
            .ok();
    }
    POOL.with(|pool| match pool {
        Some(pool) => pool.install(work),
        // Without a pool of its own (no thread could be started) it runs where it is.
        None => work(),
    })
}

/// Batch verification: the batch call's proofs against the genesis shape's key.
#[derive(Debug)]
pub struct VerifyBatch(pub Arc<BatchVerifierKey>);

impl ChainPrecompile for VerifyBatch {
    fn address(&self) -> Address {
        VERIFY_BATCH_ADDRESS
    }

    fn run(&self, input: &[u8], gas_limit: u64, _block: &BlockView) -> PrecompileResult {
        let call = BatchCall::decode(input);
        // An undecodable call costs one proof's verification, like the smallest valid one.
        let (proofs, chunks) = call
            .as_ref()
            .map_or((1, 1), |c| (c.proof_count() as u64, c.chunks.len() as u64));
        let gas_used = charge(verify_batch_gas(self.0.shape.k, proofs, chunks), gas_limit)?;
        let verified = call.and_then(|call| {
            let (params, vk) = self.0.built()?;
            on_one_thread(|| verify_call(params, vk, self.0.shape.slots, &call))
        });
        let output = answer(verified.map(|end| end.to_vec()), "batch verification");
        Ok(PrecompileOk { gas_used, output })
    }
}

/// One step of the IPA claim decider (ADR 0114, [`DecideStepCall`]): the partial sum for the
/// next step, or at the last step one word, 1 if every claim holds and 0 if one is false;
/// empty if the input is refused.
#[derive(Debug)]
pub struct DecideClaims(pub Arc<BatchVerifierKey>);

impl ChainPrecompile for DecideClaims {
    fn address(&self) -> Address {
        DECIDE_CLAIMS_ADDRESS
    }

    fn run(&self, input: &[u8], gas_limit: u64, _block: &BlockView) -> PrecompileResult {
        let k = self.0.shape.k;
        let call = DecideStepCall::decode(input);
        // Priced from the claims' length (one claim per 32 · (1 + k) bytes, at least one) and
        // the step count; an undecodable call as one claim in one step.
        let (claims, steps) = call.as_ref().map_or((1, 1), |c| {
            let claims = (c.claims.len() / (32 * (1 + k as usize))).max(1) as u64;
            (claims, c.steps)
        });
        let gas_used = charge(decide_step_gas(k, claims, steps), gas_limit)?;
        let answered = call.and_then(|call| {
            let (params, _) = self.0.built()?;
            on_one_thread(|| call.run(params))
        });
        let output = answer(answered.map(|word| word.to_vec()), "claim decision");
        Ok(PrecompileOk { gas_used, output })
    }
}

/// An exodus account claim: `1` if the leaf sits under the root.
#[derive(Debug)]
pub struct AccountClaim;

impl ChainPrecompile for AccountClaim {
    fn address(&self) -> Address {
        ACCOUNT_CLAIM_ADDRESS
    }

    fn run(&self, input: &[u8], gas_limit: u64, _block: &BlockView) -> PrecompileResult {
        let gas_used = charge(ACCOUNT_CLAIM_GAS, gas_limit)?;
        let output = if check_account(input) == Ok(true) {
            one()
        } else {
            Vec::new()
        };
        Ok(PrecompileOk { gas_used, output })
    }
}

/// The priority-queue fold: the queue hash after the request and its key commitment.
#[derive(Debug)]
pub struct PriorityFold;

impl ChainPrecompile for PriorityFold {
    fn address(&self) -> Address {
        PRIORITY_FOLD_ADDRESS
    }

    fn run(&self, input: &[u8], gas_limit: u64, _block: &BlockView) -> PrecompileResult {
        let gas_used = charge(PRIORITY_FOLD_GAS, gas_limit)?;
        let output = fold_priority(input)
            .map(|out| out.to_vec())
            .unwrap_or_default();
        Ok(PrecompileOk { gas_used, output })
    }
}

fn one() -> Vec<u8> {
    let mut word = vec![0; 32];
    word[31] = 1;
    word
}

/// The three precompiles for shard 0 of a network with `spec`'s rollup, after checking that one
/// chunk's verification fits in a transaction (the lower of the block gas limit and the
/// per-transaction cap).
pub fn shard0_precompiles(
    spec: RollupSpec,
    block_gas_limit: u64,
    params_dir: PathBuf,
) -> anyhow::Result<Vec<Arc<dyn ChainPrecompile>>> {
    let most_steps = max_decision_steps(spec.chunk_k) as u64;
    let needed =
        verify_batch_gas(spec.chunk_k, 1, 1).max(decide_step_gas(spec.chunk_k, 1, most_steps));
    let limit = block_gas_limit.min(kaimeng_shards::tx::MAX_TX_GAS);
    if needed > limit {
        anyhow::bail!(
            "genesis rollup shape (k = {}) needs {needed} gas to verify one chunk or take a step \
             of deciding its claim, more than a transaction may use ({limit}: the lower of the block gas \
             limit and the per-transaction cap); lower chunk_k",
            spec.chunk_k
        );
    }
    let key = Arc::new(BatchVerifierKey::new(spec, params_dir)?);
    Ok(vec![
        Arc::new(VerifyBatch(key.clone())),
        Arc::new(AccountClaim),
        Arc::new(PriorityFold),
        Arc::new(DecideClaims(key)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use kaimeng_prover::batch_call::{BatchCall, ChunkCall};
    use kaimeng_rollup::Fp;

    fn shape((chunk_slots, chunk_k): (u32, u32)) -> RollupSpec {
        RollupSpec {
            chunk_slots,
            chunk_k,
            sequencer: alloy_primitives::Address::ZERO,
            priority_expiry_seconds: 60,
        }
    }

    #[test]
    fn a_batch_is_priced_from_its_proof_and_chunk_counts_before_any_proof_is_checked() {
        let chunk = |proof: Vec<u8>| ChunkCall {
            new_root: Fp::from(1u64),
            queue_after: Fp::from(2u64),
            data: Vec::new(),
            proof,
        };
        let call = |n: usize| BatchCall {
            chain_id: 1,
            fee_account: 0,
            old_root: Fp::from(0u64),
            queue_before: Fp::from(0u64),
            chunks: vec![chunk(vec![1, 2, 3]); n],
            claims: vec![7; 64],
        };
        // Each k adds a round to each proof; one more proof costs the per-proof parts, one
        // more chunk of a pack the per-packed-chunk part, whatever k.
        assert_eq!(
            verify_batch_gas(13, 1, 1) - verify_batch_gas(12, 1, 1),
            VERIFY_BATCH_PROOF_ROUND_GAS
        );
        assert_eq!(
            verify_batch_gas(16, 2, 2) - verify_batch_gas(16, 1, 1),
            VERIFY_BATCH_PROOF_GAS + 16 * VERIFY_BATCH_PROOF_ROUND_GAS
        );
        for k in [12, 16] {
            assert_eq!(
                verify_batch_gas(k, 1, 3) - verify_batch_gas(k, 1, 1),
                2 * VERIFY_BATCH_PACKED_CHUNK_GAS
            );
        }
        // The production shape verifies a 64-chunk batch, even a proof per chunk, within a
        // transaction.
        assert!(verify_batch_gas(16, 64, 64) <= kaimeng_shards::tx::MAX_TX_GAS);
        let block = BlockView {
            chain_id: 1,
            number: 1,
            timestamp: 0,
        };
        let precompile = VerifyBatch(Arc::new(
            BatchVerifierKey::new(shape(RollupSpec::DEV_SHAPE), std::env::temp_dir()).unwrap(),
        ));
        let k = RollupSpec::DEV_SHAPE.1;
        // A pack: one proof, then two chunks with empty proofs. Garbage is priced as one proof.
        let mut packed = call(3);
        packed.chunks[1].proof.clear();
        packed.chunks[2].proof.clear();
        for (input, proofs, chunks) in [
            (call(3).encode(), 3, 3),
            (packed.encode(), 1, 3),
            (vec![0xff; 200], 1, 1),
        ] {
            let gas = verify_batch_gas(k, proofs, chunks);
            // Not enough gas is a halt that consumes what was given.
            assert_eq!(
                precompile.run(&input, gas - 1, &block),
                Err(PrecompileFailure::OutOfGas {
                    needed: gas,
                    limit: gas - 1
                })
            );
        }
    }

    #[test]
    fn a_shape_too_costly_for_a_block_or_too_large_for_its_k_is_refused() {
        // A block gas limit below a step of deciding one claim, even in the most steps.
        let error = shard0_precompiles(
            shape(RollupSpec::DEV_SHAPE),
            2_000_000,
            std::env::temp_dir(),
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("more than a transaction may use"), "{error}");
        let too_many = shape((9, 13));
        let error = shard0_precompiles(too_many, 30_000_000, std::env::temp_dir())
            .unwrap_err()
            .to_string();
        assert!(error.contains("genesis rollup shape"), "{error}");
        // The production and dev shapes fit: a decision is split into steps.
        for accepted in [RollupSpec::DEFAULT_SHAPE, RollupSpec::DEV_SHAPE] {
            let precompiles =
                shard0_precompiles(shape(accepted), 30_000_000, std::env::temp_dir()).unwrap();
            assert_eq!(precompiles.len(), 4);
        }
    }

    #[test]
    fn a_decision_is_split_into_the_fewest_steps_that_each_fit() {
        let cap = kaimeng_shards::tx::MAX_TX_GAS;
        // The production shape: one claim, or the 64 of eight batches in packs of 8.
        let k = RollupSpec::DEFAULT_SHAPE.1;
        assert!(
            decide_gas(k, 1) > cap,
            "a whole decision does not fit at k = {k}"
        );
        for claims in [1, 64] {
            let steps = decision_steps(k, claims, cap * 3 / 4).unwrap();
            assert!(steps.is_power_of_two() && steps > 1);
            assert!(decide_step_gas(k, claims, steps) <= cap * 3 / 4);
            assert!(decide_step_gas(k, claims, steps / 2) > cap * 3 / 4);
        }
        // Steps share the whole and each reads every claim.
        assert_eq!(
            decide_step_gas(16, 64, 8),
            decide_gas(16, 64).div_ceil(8) + DECIDE_STEP_GAS + 64 * DECIDE_STEP_CLAIM_GAS
        );
        assert_eq!(decision_steps(12, 1, cap), Some(1));
        // Too many claims for any split: none.
        assert_eq!(decision_steps(k, 100_000, cap), None);

        // The precompile prices a step before running it; garbage as one claim in one step.
        let precompile = DecideClaims(Arc::new(
            BatchVerifierKey::new(shape(RollupSpec::DEV_SHAPE), std::env::temp_dir()).unwrap(),
        ));
        let block = BlockView {
            chain_id: 1,
            number: 1,
            timestamp: 0,
        };
        let dev_k = RollupSpec::DEV_SHAPE.1;
        let claims = vec![7; 3 * 32 * (1 + dev_k as usize)];
        for (input, gas) in [
            (
                DecideStepCall::first(2, claims.clone()).encode(),
                decide_step_gas(dev_k, 3, 2),
            ),
            (vec![1; 10], decide_step_gas(dev_k, 1, 1)),
        ] {
            assert_eq!(
                precompile.run(&input, gas - 1, &block),
                Err(PrecompileFailure::OutOfGas {
                    needed: gas,
                    limit: gas - 1
                })
            );
        }
    }
}
