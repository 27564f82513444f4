//! How numbers, addresses, words and byte strings are written in genesis JSON, with parse errors
//! that say what was expected and what was found.
//!
//! Integers may be JSON numbers or strings in decimal or `0x` hex, because wei amounts exceed
//! JSON's safe integer range. Amounts (`u128`, `U256`) are written back as decimal strings;
//! counters (`u32`, `u64`) as JSON numbers.

use std::collections::BTreeMap;
use std::fmt;

use alloy_primitives::{Address, B256, Bytes, U256};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserializer, Serializer};

/// What a lenient integer field accepts, for error messages.
const INTEGER_EXPECTED: &str =
    "a non-negative integer (a JSON number, or a decimal or 0x-hex string)";

/// Parses decimal or `0x`-hex integer text into a `U256`.
pub fn parse_uint_text(text: &str) -> Result<U256, String> {
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    let digits_ok = !digits.is_empty()
        && digits.chars().all(|c| match radix {
            16 => c.is_ascii_hexdigit(),
            _ => c.is_ascii_digit(),
        });
    if !digits_ok {
        return Err(format!(
            "expected {INTEGER_EXPECTED}, got \"{}\"",
            shorten(text)
        ));
    }
    U256::from_str_radix(digits, radix)
        .map_err(|_| format!("\"{}\" does not fit in 256 bits", shorten(text)))
}

/// Echoes user text in an error without flooding the terminal.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 48;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// Visits any JSON integer form and yields a `U256`; callers narrow it.
struct UintVisitor;

impl<'de> Visitor<'de> for UintVisitor {
    type Value = U256;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(INTEGER_EXPECTED)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<U256, E> {
        Ok(U256::from(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<U256, E> {
        Ok(U256::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<U256, E> {
        u64::try_from(v).map(U256::from).map_err(|_| {
            E::custom(format!(
                "expected {INTEGER_EXPECTED}, got the negative number {v}"
            ))
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<U256, E> {
        Err(E::custom(format!(
            "expected {INTEGER_EXPECTED}, got the number {v}, which is fractional, negative or \
             too large for an exact JSON number; write amounts above {} as decimal or 0x-hex strings",
            u64::MAX
        )))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<U256, E> {
        parse_uint_text(v).map_err(E::custom)
    }
}

fn deserialize_bounded<'de, D: Deserializer<'de>>(d: D, bits: usize) -> Result<U256, D::Error> {
    let value = d.deserialize_any(UintVisitor)?;
    if value.bit_len() > bits {
        return Err(de::Error::custom(format!(
            "{value} does not fit in {bits} bits"
        )));
    }
    Ok(value)
}

/// `u32` as a JSON number, or a decimal / hex string.
pub mod lenient_u32 {
    use super::*;

    pub fn serialize<S: Serializer>(value: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(*value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        Ok(deserialize_bounded(d, 32)?.to::<u32>())
    }
}

/// `u64` as a JSON number, or a decimal / hex string.
pub mod lenient_u64 {
    use super::*;

    pub fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(*value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        Ok(deserialize_bounded(d, 64)?.to::<u64>())
    }
}

/// `u128` written as a decimal string, read from a number or a decimal / hex string.
pub mod lenient_u128 {
    use super::*;

    pub fn serialize<S: Serializer>(value: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        Ok(deserialize_bounded(d, 128)?.to::<u128>())
    }
}

/// `U256` written as a decimal string, read from a number or a decimal / hex string.
pub mod lenient_u256 {
    use super::*;

    pub fn serialize<S: Serializer>(value: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        deserialize_bounded(d, 256)
    }
}

/// Parses a `0x`-prefixed 20-byte address. Mixed-case input must carry a valid EIP-55 checksum.
pub fn parse_address(text: &str) -> Result<Address, String> {
    let expected = || format!("expected a 20-byte hex address, got \"{}\"", shorten(text));
    let hex = text.strip_prefix("0x").ok_or_else(expected)?;
    if hex.len() != 40 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(expected());
    }
    let address: Address = text.parse().map_err(|_| expected())?;
    let has_upper = hex.chars().any(|c| c.is_ascii_uppercase());
    let has_lower = hex.chars().any(|c| c.is_ascii_lowercase());
    if has_upper && has_lower {
        let checksummed = address.to_checksum(None);
        if checksummed != text {
            return Err(format!(
                "address \"{text}\" has a wrong EIP-55 checksum (the checksummed form is \
                 \"{checksummed}\"; all-lowercase is also accepted)"
            ));
        }
    }
    Ok(address)
}

/// An address as an EIP-55 checksummed string.
pub mod address {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Address, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_checksum(None))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Address, D::Error> {
        struct AddressVisitor;
        impl<'de> Visitor<'de> for AddressVisitor {
            type Value = Address;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a 20-byte hex address")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Address, E> {
                parse_address(v).map_err(E::custom)
            }
        }
        d.deserialize_str(AddressVisitor)
    }
}

/// Parses `0x`-prefixed hex bytes (an even number of digits; `0x` alone is empty).
pub fn parse_hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    let expected = || {
        format!(
            "expected 0x-prefixed hex bytes (an even number of hex digits), got \"{}\"",
            shorten(text)
        )
    };
    let hex = text.strip_prefix("0x").ok_or_else(expected)?;
    hex::decode(hex).map_err(|_| expected())
}

/// Visits a string of `0x` hex bytes.
pub(crate) struct HexBytesVisitor;

impl<'de> Visitor<'de> for HexBytesVisitor {
    type Value = Vec<u8>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x-prefixed hex bytes")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        parse_hex_bytes(v).map_err(E::custom)
    }
}

/// Optional contract code as `0x` hex.
pub mod optional_code {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<Bytes>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(code) => s.serialize_str(&format!("0x{}", hex::encode(code))),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Bytes>, D::Error> {
        Ok(Some(Bytes::from(d.deserialize_str(HexBytesVisitor)?)))
    }
}

/// Parses a 32-byte word: `0x` and 1 to 64 hex digits, left-padded with zeros (so slot `0x0` is
/// allowed).
pub fn parse_word(text: &str) -> Result<B256, String> {
    let expected = || {
        format!(
            "expected a 32-byte hex word (0x and 1 to 64 hex digits), got \"{}\"",
            shorten(text)
        )
    };
    let hex = text.strip_prefix("0x").ok_or_else(expected)?;
    if hex.is_empty() || hex.len() > 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(expected());
    }
    let padded = format!("{hex:0>64}");
    let bytes = hex::decode(padded).map_err(|_| expected())?;
    Ok(B256::from_slice(&bytes))
}

/// Contract storage: a JSON object from 32-byte slot to 32-byte value.
pub mod storage {
    use super::*;

    pub fn serialize<S: Serializer>(value: &BTreeMap<B256, B256>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(value.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<B256, B256>, D::Error> {
        struct StorageVisitor;
        impl<'de> Visitor<'de> for StorageVisitor {
            type Value = BTreeMap<B256, B256>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object from 32-byte hex slots to 32-byte hex values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut words = BTreeMap::new();
                while let Some(key) = map.next_key::<String>()? {
                    let slot = parse_word(&key)
                        .map_err(|problem| de::Error::custom(format!("storage slot: {problem}")))?;
                    let value = map.next_value::<String>()?;
                    let value = parse_word(&value).map_err(|problem| {
                        de::Error::custom(format!("value of slot \"{key}\": {problem}"))
                    })?;
                    if words.insert(slot, value).is_some() {
                        return Err(de::Error::custom(format!(
                            "storage slot {slot} is given more than once"
                        )));
                    }
                }
                Ok(words)
            }
        }
        d.deserialize_map(StorageVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_text_in_both_radixes() {
        assert_eq!(parse_uint_text("0"), Ok(U256::ZERO));
        assert_eq!(parse_uint_text("0xff"), Ok(U256::from(255)));
        assert_eq!(parse_uint_text("0XFF"), Ok(U256::from(255)));
        assert_eq!(parse_uint_text("007"), Ok(U256::from(7)));
        for bad in ["", "0x", "-1", "1e3", " 1", "1_000", "0xg", "١"] {
            assert!(parse_uint_text(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_uint_text(&format!("0x1{}", "0".repeat(64))).is_err());
    }

    #[test]
    fn words_are_left_padded() {
        assert_eq!(parse_word("0x1"), Ok(B256::with_last_byte(1)));
        assert!(parse_word("0x").is_err());
        assert!(parse_word(&format!("0x{}", "0".repeat(65))).is_err());
    }

    #[test]
    fn long_text_is_shortened_in_messages() {
        let long = "a".repeat(1000);
        let message = parse_hex_bytes(&long).unwrap_err();
        assert!(message.len() < 200, "{message}");
        assert!(message.contains("..."));
    }
}
