// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title CallTree: one transaction with every kind of internal call a tracer must report.
/// @notice `CallTree.run(v)` creates a `CallLeaf` (CREATE), pays it and sets it (CALL with
///         value), runs the leaf's `set` in its own storage (DELEGATECALL), and catches the
///         leaf's revert (CALL that reverts). The debug_trace* tests and the viem flow check
///         the call tree frame by frame.
contract CallLeaf {
    uint256 public value;

    function set(uint256 v) external payable {
        value = v;
    }

    /// Changes state, then reverts (so the caller reaches it with CALL, not STATICCALL).
    function fail() external {
        value += 1;
        revert("CallLeaf: refused");
    }
}

contract CallTree {
    /// Written by `CallLeaf.set` through DELEGATECALL (the leaf's slot 0).
    uint256 public stored;
    CallLeaf public leaf;

    event Ran(address leaf, uint256 stored, bool caught);

    function run(uint256 v) external payable returns (bool caught) {
        CallLeaf created = new CallLeaf();
        leaf = created;
        created.set{value: msg.value}(v);
        (bool ok, ) = address(created).delegatecall(abi.encodeCall(CallLeaf.set, (v + 1)));
        require(ok, "CallTree: delegatecall failed");
        try created.fail() {
            caught = false;
        } catch {
            caught = true;
        }
        emit Ran(address(created), stored, caught);
    }
}
