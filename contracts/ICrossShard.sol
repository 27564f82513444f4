// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @dev The cross-shard system contract's address. It is the same on every shard of a Kaimeng
/// network. The node runs it natively: there is no code at the address (`extcodesize` is 0),
/// and plain ether sent to it (empty call data) is refused. Call it through this interface.
address constant CROSS_SHARD_ADDRESS = 0x000000000000000000000000000000000000C5C5;

/// @dev The contract at CROSS_SHARD_ADDRESS, typed.
ICrossShard constant CROSS_SHARD = ICrossShard(CROSS_SHARD_ADDRESS);

/// @title ICrossShard: sending value and calls from one Kaimeng shard to another
/// @notice A message leaves its source shard when the sending transaction's block is final. The
/// destination shard takes it once the source block is crosslinked in a final beacon block,
/// proves it against that crosslink, and runs it exactly once, in order with the other messages
/// from the same source. A call that fails, or a message not taken within 256 beacon blocks of
/// its crosslink, is refunded to the sender on the source shard. See docs/cross-shard.md.
/// @dev A delivered call reaches its recipient with `msg.sender == CROSS_SHARD_ADDRESS` (and
/// `tx.origin` the same); the recipient learns who sent it with `origin()`.
interface ICrossShard {
    /// @notice Emitted on the source shard for every message a transaction sends. Refunds, which
    /// the node itself sends back for failed or expired calls, emit no event.
    /// @param id The message id (topic 1): what `kaimeng_getCrossShardMessage` takes.
    /// @param destination The destination shard (topic 2).
    /// @param from The sender, `msg.sender` of `send` (topic 3); refunds go back to it.
    /// @param nonce The message's position among those from this shard to `destination`.
    /// @param to The recipient on the destination shard.
    /// @param value The value in wei, taken out of circulation on this shard.
    /// @param gasLimit The gas the call gets on the destination shard.
    /// @param data The call data.
    event MessageSent(
        bytes32 indexed id,
        uint32 indexed destination,
        address indexed from,
        uint64 nonce,
        address to,
        uint256 value,
        uint64 gasLimit,
        bytes data
    );

    /// @notice Sends `msg.value` and a call with `data` to `to` on shard `shard`.
    /// @dev The value is burned here and minted on the destination when the message is
    /// delivered. If the call reverts or runs out of gas there, or the message expires, the
    /// value is credited back to `msg.sender` on this shard; the credit runs no code, so a
    /// contract that sends messages must account for refunds that arrive without a call.
    ///
    /// Costs 60,000 gas + 16 per byte of `data` + `gasLimit`, all of it charged here even if
    /// the destination uses less (the destination's gas is paid up front). With less gas
    /// than that the call runs out of gas.
    ///
    /// Reverts with a reason, consuming no gas of its own, when: `shard` is this shard or does
    /// not exist; `gasLimit` is above 1,000,000; `data` is longer than 8,192 bytes; it is
    /// reached by DELEGATECALL, CALLCODE or STATICCALL; or the node has no beacon chain (a
    /// single sealer, such as `kaimeng dev --validators 1`).
    ///
    /// Code that runs for a delivery may call it too: its messages leave with the delivering
    /// block (and are undone if the delivered call fails).
    /// @param shard The destination shard (0 to the shard count minus 1, not this one).
    /// @param to The recipient there; an account without code receives a plain transfer.
    /// @param gasLimit Gas for the call on the destination, on top of the 21,000 base cost and
    /// the data cost, which the message also covers. 0 is enough for a transfer to an account
    /// without code; a contract needs what its function uses.
    /// @param data The call data (empty for a plain transfer).
    /// @return id The message id: keccak256 of "kaimeng/cross-shard" followed by the
    /// message's encoding (docs/cross-shard.md). Also topic 1 of `MessageSent`.
    function send(uint32 shard, address to, uint64 gasLimit, bytes calldata data)
        external
        payable
        returns (bytes32 id);

    /// @notice How many messages this shard has sent to `shard`, refunds included: the next
    /// message to `shard` gets this nonce.
    /// @dev Views cost 2,100 gas and revert if sent value.
    function outboxNonce(uint32 shard) external view returns (uint64);

    /// @notice How many messages from `shard` this shard has taken (delivered, failed, expired
    /// or, for refunds, credited): the next one it takes has this nonce.
    function inboxNonce(uint32 shard) external view returns (uint64);

    /// @notice The message being delivered: its source shard, its sender there and its id.
    /// @dev Answers only while a delivery runs, and reverts otherwise. It answers any contract
    /// that the delivered call reaches, not only the recipient, so check
    /// `msg.sender == CROSS_SHARD_ADDRESS` before trusting it.
    function origin() external view returns (uint32 shard, address from, bytes32 id);
}
