// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {KaiToken} from "kaimeng-contracts/KaiToken.sol";

/// The two cheatcodes this script needs, declared here so the project needs no forge-std.
interface Cheats {
    function startBroadcast() external;
    function stopBroadcast() external;
}

/// `forge script --broadcast` deployment of KaiToken by the CLI's sender (dev account 0).
contract DeployKaiToken {
    Cheats private constant VM = Cheats(address(uint160(uint256(keccak256("hevm cheat code")))));

    uint256 public constant SUPPLY = 1_000_000 ether;

    function run() external returns (KaiToken token) {
        VM.startBroadcast();
        token = new KaiToken("Kai Token", "KAI", SUPPLY);
        VM.stopBroadcast();
        require(token.totalSupply() == SUPPLY, "DeployKaiToken: wrong supply");
    }
}
