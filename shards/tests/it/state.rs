//! State history, proofs and the incremental root agreeing with a rebuild.

use alloy_primitives::{Address, U256, keccak256};
use kaimeng_shards::commitment::MerkleProof;

use crate::common::*;

#[test]
fn past_balances_are_served_from_history() {
    let t = new_chain();
    let to = Address::repeat_byte(0x55);
    for nonce in 0..3 {
        t.chain
            .submit_raw(&transfer(&t.chain, 4, nonce, to, 100))
            .unwrap();
        seal(&t.chain);
    }
    for block in 0..=3u64 {
        let state = t.chain.state_at(block);
        let expected = U256::from(100 * block);
        assert_eq!(
            state
                .account(&to)
                .unwrap()
                .map(|a| a.balance)
                .unwrap_or_default(),
            expected,
            "at block {block}"
        );
    }
}

#[test]
fn account_proofs_verify_against_the_header_state_root() {
    let t = new_chain();
    t.chain
        .submit_raw(&transfer(&t.chain, 0, 0, Address::repeat_byte(1), 1))
        .unwrap();
    seal(&t.chain);
    let root = t.chain.head().header.state_root;
    let present = t.chain.latest_state().proof(&addr(0), &[]).unwrap();
    let account = present.account.unwrap();
    assert_eq!(
        present.account_proof.verify(&root, &keccak256(addr(0))),
        Ok(Some(account.commitment()))
    );
    let absent = Address::repeat_byte(0xee);
    let proof = t.chain.latest_state().proof(&absent, &[]).unwrap();
    assert!(proof.account.is_none());
    assert_eq!(
        proof.account_proof.verify(&root, &keccak256(absent)),
        Ok(None)
    );
    let wire = MerkleProof::from_nodes(&present.account_proof.to_nodes()).unwrap();
    assert!(
        wire.verify(&alloy_primitives::B256::repeat_byte(1), &keccak256(addr(0)))
            .is_err(),
        "wrong root must fail"
    );
}
