//! The byte-level writer and reader: fixed-width big-endian integers, 32-bit length prefixes
//! with per-field maxima, UTF-8 strings and 0/1 booleans. The reader never panics and never
//! allocates more than the input could hold.

use alloy_primitives::{Address, B256, U256};

use super::error::DecodeError;

/// Appends encodings to a buffer.
#[derive(Default)]
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    pub(crate) fn u8(&mut self, value: u8) {
        self.0.push(value);
    }
    pub(crate) fn bool(&mut self, value: bool) {
        self.u8(u8::from(value));
    }
    pub(crate) fn u32(&mut self, value: u32) {
        self.raw(&value.to_be_bytes());
    }
    pub(crate) fn u64(&mut self, value: u64) {
        self.raw(&value.to_be_bytes());
    }
    pub(crate) fn u128(&mut self, value: u128) {
        self.raw(&value.to_be_bytes());
    }
    pub(crate) fn u256(&mut self, value: U256) {
        self.raw(&value.to_be_bytes::<32>());
    }
    pub(crate) fn address(&mut self, value: Address) {
        self.raw(value.as_slice());
    }
    pub(crate) fn b256(&mut self, value: B256) {
        self.raw(value.as_slice());
    }
    /// A count or length; callers keep values within the decoder's maxima, which are far
    /// below `u32::MAX`.
    pub(crate) fn count(&mut self, count: usize) {
        self.u32(u32::try_from(count).unwrap_or(u32::MAX));
    }
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.count(bytes.len());
        self.raw(bytes);
    }
    pub(crate) fn string(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }
}

/// Reads encodings from a byte slice.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, position: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.position
    }

    pub(crate) fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let remaining = self.remaining();
        if len > remaining {
            return Err(DecodeError::UnexpectedEnd {
                what,
                needed: len - remaining,
                remaining,
            });
        }
        let slice = &self.bytes[self.position..self.position + len];
        self.position += len;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }
    pub(crate) fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(DecodeError::InvalidBool { what, value }),
        }
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }
    pub(crate) fn u128(&mut self, what: &'static str) -> Result<u128, DecodeError> {
        Ok(u128::from_be_bytes(self.array(what)?))
    }
    pub(crate) fn u256(&mut self, what: &'static str) -> Result<U256, DecodeError> {
        Ok(U256::from_be_bytes(self.array::<32>(what)?))
    }
    pub(crate) fn address(&mut self, what: &'static str) -> Result<Address, DecodeError> {
        Ok(Address::from(self.array::<20>(what)?))
    }
    pub(crate) fn b256(&mut self, what: &'static str) -> Result<B256, DecodeError> {
        Ok(B256::from(self.array::<32>(what)?))
    }

    /// A count of items, each at least `min_item_len` bytes, at most `max`; also rejected when
    /// the rest of the input is too short to hold that many items, so a forged count cannot make
    /// the decoder allocate.
    pub(crate) fn count(
        &mut self,
        what: &'static str,
        max: usize,
        min_item_len: usize,
    ) -> Result<usize, DecodeError> {
        let count = self.u32(what)? as usize;
        if count > max {
            return Err(DecodeError::TooLarge {
                what,
                value: count as u64,
                max: max as u64,
            });
        }
        let needed = count.saturating_mul(min_item_len.max(1));
        if needed > self.remaining() {
            return Err(DecodeError::UnexpectedEnd {
                what,
                needed: needed - self.remaining(),
                remaining: self.remaining(),
            });
        }
        Ok(count)
    }

    pub(crate) fn bytes(
        &mut self,
        what: &'static str,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        let len = self.count(what, max, 1)?;
        self.take(len, what)
    }

    pub(crate) fn string(&mut self, what: &'static str, max: usize) -> Result<String, DecodeError> {
        let bytes = self.bytes(what, max)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidUtf8 { what })
    }

    /// Succeeds only if every byte was read.
    pub(crate) fn finish(self, what: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { what, count }),
        }
    }
}
