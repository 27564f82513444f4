//! The 国密 precompiles called from Solidity (tests/contracts/GmCrypto.sol) on a real shard.

use alloy_primitives::{Address, B256, Bytes, TxKind, U256, hex};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{SolCall, sol};
use kaimeng_crypto::{CryptoSuite, SecretKey, sm2_digest};

use crate::common::*;

sol! {
    function sm3(bytes data) returns (bytes32 digest);
    function sm2Verify(bytes32 e, bytes32 r, bytes32 s, bytes32 x, bytes32 y) returns (bool valid);
}

fn deploy(t: &TestChain) -> Address {
    let artifact: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/contracts/out/GmCrypto.json")).unwrap();
    let code = hex::decode(artifact["bytecode"].as_str().unwrap()).unwrap();
    let raw = eip1559(
        &t.chain,
        0,
        t.chain.pending_nonce(&addr(0)).unwrap(),
        TxKind::Create,
        U256::ZERO,
        code.into(),
        1_000_000,
    );
    t.chain.submit_raw(&raw).unwrap();
    seal(&t.chain).receipts[0]
        .contract_address
        .expect("deployed")
}

fn call(t: &TestChain, to: Address, data: Vec<u8>) -> Bytes {
    let request = TransactionRequest::default()
        .to(to)
        .input(Bytes::from(data).into());
    t.chain
        .call(&request, t.chain.head().number(), None)
        .unwrap()
        .output
}

#[test]
fn solidity_gets_the_gmt_0004_sm3_digest() {
    let t = new_chain();
    let gm = deploy(&t);
    let out = call(
        &t,
        gm,
        sm3Call {
            data: Bytes::from_static(b"abc"),
        }
        .abi_encode(),
    );
    assert_eq!(
        out.as_ref(),
        hex!("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")
    );
    let sixty_four = b"abcd".repeat(16);
    let out = call(
        &t,
        gm,
        sm3Call {
            data: Bytes::from(sixty_four),
        }
        .abi_encode(),
    );
    assert_eq!(
        out.as_ref(),
        hex!("debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732")
    );
}

#[test]
fn solidity_verifies_an_sm2_signature_and_rejects_a_tampered_one() {
    let t = new_chain();
    let gm = deploy(&t);
    let key = SecretKey::from_seed(CryptoSuite::Sm2Sm3, &[7u8; 32]);
    let message = b"kaimeng";
    let signature = key.sign(message).to_bytes();
    let public = key.public_key().to_uncompressed();
    let xy: [u8; 64] = public[1..].try_into().unwrap();
    let e = sm2_digest::default_message_digest(&xy, message);
    let verify = |e: [u8; 32]| {
        let out = call(
            &t,
            gm,
            sm2VerifyCall {
                e: B256::from(e),
                r: B256::from_slice(&signature[..32]),
                s: B256::from_slice(&signature[32..64]),
                x: B256::from_slice(&xy[..32]),
                y: B256::from_slice(&xy[32..]),
            }
            .abi_encode(),
        );
        U256::from_be_slice(&out) == U256::from(1u8)
    };
    assert!(verify(e), "a valid signature verifies");
    let mut tampered = e;
    tampered[0] ^= 1;
    assert!(!verify(tampered), "a tampered digest does not");
}
