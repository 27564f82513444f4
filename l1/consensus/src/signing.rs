//! Signatures as the engine sees them: opaque bytes made by a [`Signer`] and checked by a
//! [`Verifier`], over domain-separated bytes built by [`signing_bytes`].
//!
//! The crypto crate plugs in secp256k1 or SM2 by implementing the two traits; the simulation
//! uses a keyed-hash mock ([`crate::sim::MockScheme`]).

use crate::codec::Writer;
use crate::messages::Vote;
use crate::types::ValidatorIndex;
use crate::validators::PublicKey;

/// The longest signature the codec accepts (SM2 DER is at most 72 bytes, secp256k1 65).
pub const MAX_SIGNATURE_LEN: usize = 128;

/// An opaque signature of at most [`MAX_SIGNATURE_LEN`] bytes.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Signature(pub Vec<u8>);

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature(")?;
        for byte in self.0.iter().take(4) {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "…)")
    }
}

/// This validator's consensus key.
pub trait Signer {
    /// Signs `message`, which the engine built with [`signing_bytes`].
    fn sign(&self, message: &[u8]) -> Signature;
}

/// The chain's signature scheme (its consensus suite).
pub trait Verifier {
    /// True when `signature` is a valid signature of `message` by validator `signer`, whose
    /// key in this epoch's [`crate::ValidatorSet`] is `public_key`. The index lets an
    /// implementation keep parsed keys in an array (SM2 precomputes `Z_A` per key) instead of
    /// parsing `public_key` on every call. Must not panic on any input: the signature comes
    /// from a possibly malicious peer.
    fn verify(
        &self,
        signer: ValidatorIndex,
        public_key: &PublicKey,
        message: &[u8],
        signature: &Signature,
    ) -> bool;
}

/// The bytes a validator signs for `vote`: a fixed tag, the chain's namespace (so a vote on
/// the beacon chain can never count on a shard, or the reverse), and the vote's encoding, which
/// includes its kind and epoch.
pub fn signing_bytes(namespace: &[u8], vote: &Vote) -> Vec<u8> {
    let mut writer = Writer::with_capacity(16 + namespace.len() + 96);
    writer.bytes(b"kaimeng-consensus-v1");
    writer.varint(namespace.len() as u64);
    writer.bytes(namespace);
    vote.encode(&mut writer);
    writer.into_bytes()
}
