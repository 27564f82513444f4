//! The cross-shard contract's Solidity interface (`contracts/ICrossShard.sol`) as Rust types.

alloy_sol_types::sol! {
    /// Sends value and/or a call to an address on another shard.
    function send(uint32 shard, address to, uint64 gasLimit, bytes data) external payable returns (bytes32 id);
    /// How many messages this shard has sent to `shard`.
    function outboxNonce(uint32 shard) external view returns (uint64);
    /// How many messages from `shard` this shard has taken (delivered or refunded).
    function inboxNonce(uint32 shard) external view returns (uint64);
    /// During a delivery: the source shard, the sender and the message id.
    function origin() external view returns (uint32 shard, address from, bytes32 id);

    /// Emitted on the source shard for every message sent.
    event MessageSent(bytes32 indexed id, uint32 indexed destination, address indexed from, uint64 nonce, address to, uint256 value, uint64 gasLimit, bytes data);
}
