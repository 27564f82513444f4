//! Cross-shard messages (ADR 0099): a transaction on one shard sends value and/or a call to an
//! address on another. The cross-shard system contract at [`CROSS_SHARD_ADDRESS`] exists on
//! every shard; its Solidity interface is `contracts/ICrossShard.sol`.
//!
//! - `message`: a message, its encoding and id, and the account's counters.
//! - `commitment`: how a block commits to what it sends and takes, and a delivery's proof.
//! - `precompile`: the contract's functions as the EVM runs them (`send` and views).
//! - `deliver`: taking messages into a block before its transactions, refunding failures.
//! - `block`: a block's traffic as stored, and the indexes by id and by nonce.
//! - `relay`: what a proposer takes from other shards, and the check of a block's deliveries.
//! - `abi`: the Solidity interface as Rust types.
//!
//! A message's value leaves circulation when it is sent (the source burns it) and comes back
//! when it is delivered or refunded, so the native supply summed over the shards plus the
//! value in flight never changes.

pub mod abi;
pub mod block;
pub mod commitment;
pub mod deliver;
pub mod message;
pub mod precompile;
pub mod relay;

use alloy_primitives::Address;

pub use block::BlockMessages;
pub use commitment::{CrosslinkedHeader, DELIVERY_WINDOW, Delivery, OutboxProof};
pub use message::{Message, MessageKind};

/// The cross-shard system contract, the same on every shard.
pub use kaimeng_genesis::CROSS_SHARD_ADDRESS;

/// The most gas a message may carry for its call on the destination.
pub const MAX_DELIVERY_GAS: u64 = 1_000_000;

/// The most call data a message may carry.
pub const MAX_MESSAGE_DATA: usize = 8 * 1024;

/// The most messages a block takes.
pub const MAX_DELIVERIES: usize = 64;

/// The most gas the messages a block takes may carry in all (their calls run besides the
/// block's gas limit, which bounds its transactions).
pub const MAX_DELIVERY_GAS_PER_BLOCK: u64 = 15_000_000;

/// The gas a delivered call may use: the message's own, plus the intrinsic cost of a call
/// with its data (paid on the source as part of [`SEND_GAS`] and 16 per byte).
pub fn delivery_gas(message: &Message) -> u64 {
    message.gas_limit + 21_000 + 40 * message.data.len() as u64
}

/// Gas `send` costs on the source besides the destination's gas (paid up front) and 16 per
/// byte of data: storage writes, the log, and the delivery's fixed work on the destination.
pub const SEND_GAS: u64 = 60_000;

/// Gas a view function of the contract costs (one storage read).
pub const VIEW_GAS: u64 = 2_100;

/// Where the cross-shard contract runs: this shard, how many there are, and whether the node
/// has a beacon chain that can carry messages (a single sealer cannot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrossShardSite {
    pub shard: u32,
    pub shard_count: u32,
    pub carries_messages: bool,
}

/// The message being delivered, which the recipient reads with `origin()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    pub shard: u32,
    pub from: Address,
    pub id: alloy_primitives::B256,
}

#[cfg(test)]
mod tests;
