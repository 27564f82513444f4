//! The JSON-RPC API, one jsonrpsee trait per namespace. Implementations live in `crate::eth`
//! and friends; each method there is a short delegation to the shard.

pub mod debug;
pub mod eth;
pub mod finality;
pub mod kaimeng;
pub mod net;
pub mod txpool;
