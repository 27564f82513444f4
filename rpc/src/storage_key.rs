//! Storage slot keys as the execution-apis spec takes them (`bytesMax32`): hex with or without
//! `0x`, leading zeros allowed, at most 32 bytes. A longer key or a non-hex digit is refused
//! (-32602) instead of being truncated or read as a number.

use alloy_primitives::B256;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A storage key, left-padded to 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StorageKey(pub B256);

impl StorageKey {
    /// Parses `text` the way geth does: optional `0x`, an odd digit count padded on the left.
    pub fn parse(text: &str) -> Result<Self, String> {
        let digits = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("invalid hex in storage key: {text:?}"));
        }
        if digits.len() > 64 {
            return Err(format!(
                "storage key too long (want at most 32 bytes): {text:?}"
            ));
        }
        let mut padded = [b'0'; 64];
        padded[64 - digits.len()..].copy_from_slice(digits.as_bytes());
        let mut key = [0u8; 32];
        hex::decode_to_slice(padded, &mut key)
            .map_err(|_| format!("invalid hex in storage key: {text:?}"))?;
        Ok(Self(B256::from(key)))
    }
}

impl<'de> Deserialize<'de> for StorageKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        StorageKey::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for StorageKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_left_padded_and_prefixes_are_optional() {
        let one = B256::with_last_byte(1);
        assert_eq!(StorageKey::parse("0x1").unwrap().0, one);
        assert_eq!(StorageKey::parse("0x01").unwrap().0, one);
        assert_eq!(StorageKey::parse("1").unwrap().0, one);
        assert_eq!(StorageKey::parse("0X1").unwrap().0, one);
        assert_eq!(StorageKey::parse("0x").unwrap().0, B256::ZERO);
        let full = format!("0x{}", "ab".repeat(32));
        assert_eq!(StorageKey::parse(&full).unwrap().0, B256::repeat_byte(0xab));
    }

    #[test]
    fn long_keys_and_bad_digits_are_refused() {
        let long = format!("0x{}", "0".repeat(65));
        assert!(StorageKey::parse(&long).unwrap_err().contains("too long"));
        assert!(
            StorageKey::parse("0xasdf")
                .unwrap_err()
                .contains("invalid hex")
        );
        assert!(StorageKey::parse("0x-1").is_err());
        assert!(StorageKey::parse(" 0x1").is_err());
    }

    #[test]
    fn serde_round_trip() {
        let key: StorageKey = serde_json::from_str("\"0x2a\"").unwrap();
        let text = serde_json::to_string(&key).unwrap();
        assert_eq!(text, format!("\"0x{}2a\"", "0".repeat(62)));
        assert_eq!(serde_json::from_str::<StorageKey>(&text).unwrap(), key);
        assert!(serde_json::from_str::<StorageKey>("42").is_err());
    }
}
