//! The precompiles a shard's EVM sees, provided per chain: [`ShardPrecompiles`] is revm's
//! [`PrecompileProvider`] for one chain. Every shard has Ethereum's set at the current spec plus
//! Kaimeng's 国密 precompiles (SM3 hash, SM2 verify; their logic, addresses and gas live in
//! `kaimeng-crypto`); a chain may add [`ChainPrecompile`]s that exist on it alone (shard 0's
//! rollup batch verifier) and that read the block they run in. The node builds the set when it
//! opens a chain ([`crate::ShardConfig::precompiles`]); block building, calls, estimates and
//! traces all get it through [`crate::executor::build_evm`]. Decisions: ADR 0093.

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};

use alloy_primitives::{Address, Bytes};
use kaimeng_crypto::precompile::{self as sm, PrecompileFailure};
use revm::context::Cfg;
use revm::context_interface::{Block, ContextTr};
use revm::handler::{EthPrecompiles, PrecompileProvider, precompile_output_to_interpreter_result};
use revm::interpreter::{CallInputs, InterpreterResult};
use revm::precompile::{
    Precompile, PrecompileHalt, PrecompileId, PrecompileOutput, PrecompileResult, PrecompileSpecId,
    Precompiles,
};
use revm::primitives::AddressSet;
use revm::primitives::hardfork::SpecId;

use crate::crossshard::{CROSS_SHARD_ADDRESS, CrossShardSite, Origin, precompile};
use crate::executor::SPEC;

pub const SM3_ADDRESS: Address = Address::new(sm::sm3_hash::ADDRESS);
pub const SM2_VERIFY_ADDRESS: Address = Address::new(sm::sm2_verify::ADDRESS);

/// The block a [`ChainPrecompile`] runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockView {
    pub chain_id: u64,
    pub number: u64,
    pub timestamp: u64,
}

/// A precompile that exists on some chains only. Like the 国密 ones it reports bad input inside
/// its output and running out of gas as [`PrecompileFailure::OutOfGas`] (which consumes all
/// the gas given to the call); it may read the block it runs in.
pub trait ChainPrecompile: Send + Sync + std::fmt::Debug {
    fn address(&self) -> Address;
    fn run(&self, input: &[u8], gas_limit: u64, block: &BlockView) -> sm::PrecompileResult;
}

/// A [`ChainPrecompile`] whose address is already taken on this chain.
#[derive(Debug, thiserror::Error)]
#[error("precompile address {0} is already taken on this chain")]
pub struct AddressTaken(pub Address);

/// One chain's precompiles, as revm's provider: cheap to clone (the chain's own precompiles
/// are shared), built once when the chain opens.
#[derive(Clone, Debug)]
pub struct ShardPrecompiles {
    /// Ethereum's and the 国密 precompiles at `common.spec`.
    common: EthPrecompiles,
    own: Arc<OwnPrecompiles>,
    /// The cross-shard contract, on a chain of a sharded node.
    cross_shard: Option<CrossShardSite>,
    /// The cross-shard message being delivered, while its call runs.
    delivering: Option<Origin>,
}

#[derive(Debug, Default)]
struct OwnPrecompiles {
    list: Vec<Arc<dyn ChainPrecompile>>,
    /// The common set's addresses and the chain's own, warm from the start of a transaction.
    warm: AddressSet,
}

impl ShardPrecompiles {
    /// Every shard's set: Ethereum's at [`SPEC`] plus SM3 and SM2 verify (built once).
    pub fn standard() -> Self {
        static STANDARD: OnceLock<ShardPrecompiles> = OnceLock::new();
        STANDARD
            .get_or_init(|| {
                let common = EthPrecompiles {
                    precompiles: common_set(SPEC),
                    spec: SPEC,
                };
                let warm = common.warm_addresses().clone();
                Self {
                    common,
                    own: Arc::new(OwnPrecompiles {
                        list: Vec::new(),
                        warm,
                    }),
                    cross_shard: None,
                    delivering: None,
                }
            })
            .clone()
    }

    /// This set with `precompile` added (a precompile of this chain alone).
    pub fn with(self, precompile: Arc<dyn ChainPrecompile>) -> Result<Self, AddressTaken> {
        let address = precompile.address();
        if self.contains(&address) {
            return Err(AddressTaken(address));
        }
        let mut list = self.own.list.clone();
        list.push(precompile);
        let mut warm = self.own.warm.clone();
        warm.insert(address);
        Ok(Self {
            own: Arc::new(OwnPrecompiles { list, warm }),
            ..self
        })
    }

    /// This set with the cross-shard contract at [`CROSS_SHARD_ADDRESS`], for `site`.
    pub fn with_cross_shard(self, site: CrossShardSite) -> Result<Self, AddressTaken> {
        if self.contains(&CROSS_SHARD_ADDRESS) {
            return Err(AddressTaken(CROSS_SHARD_ADDRESS));
        }
        let mut warm = self.own.warm.clone();
        warm.insert(CROSS_SHARD_ADDRESS);
        Ok(Self {
            own: Arc::new(OwnPrecompiles {
                list: self.own.list.clone(),
                warm,
            }),
            cross_shard: Some(site),
            ..self
        })
    }

    /// Where the cross-shard contract runs, if this chain has it.
    pub fn cross_shard(&self) -> Option<CrossShardSite> {
        self.cross_shard
    }

    /// This set while `origin`'s delivery runs (what `origin()` answers).
    pub fn delivering(mut self, origin: Origin) -> Self {
        self.delivering = Some(origin);
        self
    }

    /// Whether `address` is a precompile on this chain.
    pub fn contains(&self, address: &Address) -> bool {
        self.own.warm.contains(address)
    }

    fn own(&self, address: &Address) -> Option<&Arc<dyn ChainPrecompile>> {
        self.own.list.iter().find(|p| p.address() == *address)
    }
}

impl<CTX> PrecompileProvider<CTX> for ShardPrecompiles
where
    CTX: ContextTr<Cfg: Cfg<Spec = SpecId>>,
{
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: SpecId) -> bool {
        if spec == self.common.spec {
            return false;
        }
        self.common = EthPrecompiles {
            precompiles: common_set(spec),
            spec,
        };
        let mut warm = self.common.warm_addresses().clone();
        warm.extend(self.own.list.iter().map(|p| p.address()));
        if self.cross_shard.is_some() {
            warm.insert(CROSS_SHARD_ADDRESS);
        }
        self.own = Arc::new(OwnPrecompiles {
            list: self.own.list.clone(),
            warm,
        });
        true
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        if inputs.bytecode_address == CROSS_SHARD_ADDRESS
            && let Some(site) = &self.cross_shard
        {
            return precompile::run(site, self.delivering.as_ref(), context, inputs).map(Some);
        }
        let Some(precompile) = self.own(&inputs.bytecode_address) else {
            return <EthPrecompiles as PrecompileProvider<CTX>>::run(
                &mut self.common,
                context,
                inputs,
            );
        };
        let block = BlockView {
            chain_id: context.cfg().chain_id(),
            number: context.block().number().saturating_to(),
            timestamp: context.block().timestamp().saturating_to(),
        };
        let result = precompile.run(&inputs.input.as_bytes(context), inputs.gas_limit, &block);
        Ok(Some(precompile_output_to_interpreter_result(
            to_revm(result, inputs.reservoir),
            inputs.gas_limit,
        )))
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.own.warm
    }

    fn contains(&self, address: &Address) -> bool {
        ShardPrecompiles::contains(self, address)
    }
}

/// Ethereum's precompiles at `spec` extended with the 国密 ones, built once per spec.
fn common_set(spec: SpecId) -> &'static Precompiles {
    static AT_SPEC: OnceLock<Precompiles> = OnceLock::new();
    static OTHERS: Mutex<Vec<(PrecompileSpecId, &'static Precompiles)>> = Mutex::new(Vec::new());
    let build = |id: PrecompileSpecId| {
        let mut set = Precompiles::new(id).clone();
        set.extend([
            Precompile::new(
                PrecompileId::Custom(Cow::Borrowed("SM3")),
                SM3_ADDRESS,
                sm3_precompile,
            ),
            Precompile::new(
                PrecompileId::Custom(Cow::Borrowed("SM2VERIFY")),
                SM2_VERIFY_ADDRESS,
                sm2_verify_precompile,
            ),
        ]);
        set
    };
    let id = PrecompileSpecId::from_spec_id(spec);
    if id == PrecompileSpecId::from_spec_id(SPEC) {
        return AT_SPEC.get_or_init(|| build(id));
    }
    // Shards run one spec; another is built at most once per precompile spec and kept.
    let mut others = OTHERS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, set)) = others.iter().find(|(known, _)| *known == id) {
        return set;
    }
    let set: &'static Precompiles = Box::leak(Box::new(build(id)));
    others.push((id, set));
    set
}

fn sm3_precompile(input: &[u8], gas_limit: u64, reservoir: u64) -> PrecompileResult {
    Ok(to_revm(sm::sm3_hash::run(input, gas_limit), reservoir))
}

fn sm2_verify_precompile(input: &[u8], gas_limit: u64, reservoir: u64) -> PrecompileResult {
    Ok(to_revm(sm::sm2_verify::run(input, gas_limit), reservoir))
}

/// Bad input is reported inside the output (empty = "not valid"), out-of-gas as a halt.
fn to_revm(result: sm::PrecompileResult, reservoir: u64) -> PrecompileOutput {
    match result {
        Ok(ok) => PrecompileOutput::new(ok.gas_used, Bytes::from(ok.output), reservoir),
        Err(PrecompileFailure::OutOfGas { .. }) => {
            PrecompileOutput::halt(PrecompileHalt::OutOfGas, reservoir)
        }
    }
}
