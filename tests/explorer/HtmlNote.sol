// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title HtmlNote: the explorer test's source of hostile text.
/// @notice Emits whatever string it is given as an event and reverts with a reason carrying
/// markup, so the explorer's transaction page has HTML in a log and in a revert reason to escape.
contract HtmlNote {
    event Note(address indexed from, string text);

    function note(string calldata text) external {
        emit Note(msg.sender, text);
    }

    /// The block of the last call to `fail` (never set: the call always reverts).
    uint256 public lastFailure;

    function fail() external {
        lastFailure = block.number;
        revert("HtmlNote: <b>refused</b> & <svg onload=alert(3)>");
    }
}
