//! Peer identities as the rest of the node sees them: [`PeerId`] (the base58 form genesis
//! writes, `16Uiu2HA...` for secp256k1 keys) and [`NodeKey`], the node's own secp256k1 libp2p
//! key. libp2p's types stay inside this crate.

use std::fmt;
use std::str::FromStr;

use libp2p::identity;

/// A peer's libp2p identity.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub(crate) libp2p::PeerId);

/// A peer id that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a libp2p peer id: {0}")]
pub struct PeerIdError(String);

impl PeerId {
    /// The multihash bytes (what libp2p puts on the wire).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<PeerId, PeerIdError> {
        libp2p::PeerId::from_bytes(bytes)
            .map(PeerId)
            .map_err(|e| PeerIdError(e.to_string()))
    }
}

impl FromStr for PeerId {
    type Err = PeerIdError;

    fn from_str(text: &str) -> Result<PeerId, PeerIdError> {
        libp2p::PeerId::from_str(text)
            .map(PeerId)
            .map_err(|e| PeerIdError(format!("{text:?}: {e}")))
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", self.0)
    }
}

/// The node's libp2p identity: a secp256k1 secret key (as genesis and the keystores hold it).
#[derive(Clone)]
pub struct NodeKey(identity::secp256k1::SecretKey);

/// A secret key that is not a valid secp256k1 scalar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a secp256k1 secret key: {0}")]
pub struct NodeKeyError(String);

impl NodeKey {
    /// The key from its 32 secret bytes.
    pub fn from_secret_bytes(secret: [u8; 32]) -> Result<NodeKey, NodeKeyError> {
        identity::secp256k1::SecretKey::try_from_bytes(secret)
            .map(NodeKey)
            .map_err(|e| NodeKeyError(e.to_string()))
    }

    /// A fresh random key (tests, throwaway full nodes).
    pub fn generate() -> NodeKey {
        NodeKey(identity::secp256k1::SecretKey::generate())
    }

    pub fn peer_id(&self) -> PeerId {
        PeerId(self.keypair().public().to_peer_id())
    }

    pub(crate) fn keypair(&self) -> identity::Keypair {
        identity::secp256k1::Keypair::from(self.0.clone()).into()
    }
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeKey({}, secret hidden)", self.peer_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_ids_round_trip_through_text_and_bytes() {
        let key = NodeKey::from_secret_bytes([7; 32]).unwrap();
        let id = key.peer_id();
        let text = id.to_string();
        assert!(text.starts_with("16Uiu2HA"), "{text}");
        assert_eq!(text.parse::<PeerId>(), Ok(id));
        assert_eq!(PeerId::from_bytes(&id.to_bytes()), Ok(id));
        assert!("not a peer".parse::<PeerId>().is_err());
        assert!(PeerId::from_bytes(&[0xff, 3, 1]).is_err());
        assert!(!format!("{key:?}").contains("0707"));
    }

    #[test]
    fn zero_is_not_a_secret_key() {
        assert!(NodeKey::from_secret_bytes([0; 32]).is_err());
    }
}
