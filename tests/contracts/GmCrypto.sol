// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title GmCrypto: calls Kaimeng's 国密 precompiles from Solidity.
/// @notice SM3 at 0x…0a01 (any input → 32-byte digest); SM2 verify at 0x…0a02
///         (e ‖ r ‖ s ‖ x ‖ y, 160 bytes → 32-byte 1, or empty when invalid).
contract GmCrypto {
    address constant SM3 = address(0x0a01);
    address constant SM2_VERIFY = address(0x0a02);

    function sm3(bytes calldata data) external view returns (bytes32 digest) {
        (bool ok, bytes memory out) = SM3.staticcall(data);
        require(ok && out.length == 32, "GmCrypto: SM3 precompile failed");
        digest = abi.decode(out, (bytes32));
    }

    function sm2Verify(bytes32 e, bytes32 r, bytes32 s, bytes32 x, bytes32 y) external view returns (bool valid) {
        (bool ok, bytes memory out) = SM2_VERIFY.staticcall(abi.encodePacked(e, r, s, x, y));
        valid = ok && out.length == 32 && abi.decode(out, (uint256)) == 1;
    }
}
