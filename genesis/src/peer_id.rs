//! libp2p peer ids as written in genesis: the base58 multihash form libp2p prints
//! (`12D3KooW...` for ed25519 keys, `16Uiu2HA...` for secp256k1, `Qm...` for hashed keys).
//!
//! Checked structurally here, without depending on libp2p: an identity multihash of a protobuf
//! public key, or a sha2-256 multihash.

/// Multihash code of the identity "hash" (the key itself, for keys of at most 42 bytes).
const MULTIHASH_IDENTITY: u8 = 0x00;
/// Multihash code of sha2-256.
const MULTIHASH_SHA2_256: u8 = 0x12;
/// libp2p inlines public keys whose protobuf encoding is at most this long.
const MAX_INLINE_KEY_LEN: usize = 42;
/// libp2p's protobuf `KeyType` for secp256k1.
const KEY_TYPE_SECP256K1: u8 = 2;

/// Checks that `text` is a libp2p peer id in base58 multihash form.
pub fn check_peer_id(text: &str) -> Result<(), String> {
    let expected = |why: &str| {
        format!(
            "expected a libp2p peer id (base58 multihash, e.g. \"12D3KooW...\"), got \"{}\": {why}",
            crate::hex_text::shorten(text)
        )
    };
    let bytes = bs58::decode(text)
        .into_vec()
        .map_err(|_| expected("not base58"))?;
    let (code, rest) = bytes.split_first().ok_or_else(|| expected("empty"))?;
    let (len, digest) = rest
        .split_first()
        .ok_or_else(|| expected("truncated multihash"))?;
    if usize::from(*len) != digest.len() {
        return Err(expected("multihash length does not match its digest"));
    }
    match *code {
        MULTIHASH_SHA2_256 if digest.len() == 32 => Ok(()),
        MULTIHASH_IDENTITY if digest.len() <= MAX_INLINE_KEY_LEN => {
            check_protobuf_public_key(digest).map_err(|why| expected(&why))
        }
        MULTIHASH_SHA2_256 | MULTIHASH_IDENTITY => Err(expected("wrong digest length")),
        other => Err(expected(&format!(
            "multihash code 0x{other:02x} is neither identity nor sha2-256"
        ))),
    }
}

/// libp2p's `PublicKey` protobuf: field 1 key type (varint 0..=3), field 2 key bytes.
fn check_protobuf_public_key(encoded: &[u8]) -> Result<(), String> {
    match encoded {
        [0x08, key_type @ 0..=3, 0x12, len, key @ ..]
            if usize::from(*len) == key.len() && !key.is_empty() =>
        {
            let _ = key_type;
            Ok(())
        }
        _ => Err("inline public key is not a libp2p protobuf public key".to_owned()),
    }
}

/// The peer id libp2p gives a secp256k1 identity with this 33-byte compressed public key.
pub fn secp256k1_peer_id(compressed_public_key: &[u8; 33]) -> String {
    let mut protobuf = vec![0x08, KEY_TYPE_SECP256K1, 0x12, 33];
    protobuf.extend_from_slice(compressed_public_key);
    let mut multihash = vec![MULTIHASH_IDENTITY, protobuf.len() as u8];
    multihash.extend_from_slice(&protobuf);
    bs58::encode(multihash).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secp256k1_peer_id_is_an_inlined_protobuf_key() {
        let key = [3u8; 33];
        let id = secp256k1_peer_id(&key);
        assert!(id.starts_with("16Uiu2HA"), "{id}");
        check_peer_id(&id).unwrap();
        let bytes = bs58::decode(&id).into_vec().unwrap();
        assert_eq!(&bytes[..6], &[0x00, 37, 0x08, 0x02, 0x12, 33]);
        assert_eq!(&bytes[6..], &key);
    }

    #[test]
    fn inline_keys_must_be_protobuf_encoded() {
        let junk = bs58::encode([0x00u8, 3, 1, 2, 3]).into_string();
        assert!(check_peer_id(&junk).unwrap_err().contains("protobuf"));
        let too_long = bs58::encode([vec![0x00u8, 43], vec![0u8; 43]].concat()).into_string();
        assert!(
            check_peer_id(&too_long)
                .unwrap_err()
                .contains("wrong digest length")
        );
        assert!(check_peer_id("").unwrap_err().contains("empty"));
    }
}
