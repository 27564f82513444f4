//! The peer ids genesis writes for the dev members are the ones this crate derives from their
//! p2p secrets, so a node started with `dev_member_secret(i, P2p, _)` is the member genesis names.

use kaimeng_genesis::{CryptoSuite, DevKeyRole, dev_member_peer_id, dev_member_secret};
use kaimeng_network::{NodeKey, PeerId};

#[test]
fn dev_member_p2p_keys_have_the_genesis_peer_ids() {
    for suite in [CryptoSuite::Secp256k1Keccak, CryptoSuite::Sm2Sm3] {
        for index in 0..8 {
            let secret = dev_member_secret(index, DevKeyRole::P2p, suite);
            let key = NodeKey::from_secret_bytes(secret.0).expect("a secp256k1 scalar");
            let expected: PeerId = dev_member_peer_id(index).parse().expect("a peer id");
            assert_eq!(key.peer_id(), expected, "member {index}, {suite:?}");
            assert!(expected.to_string().starts_with("16Uiu2HA"));
        }
    }
}
