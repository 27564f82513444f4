//! The big-endian reader and writer of the beacon's encodings (blocks and state).

use alloy_primitives::{Address, B256, U256};

use super::BeaconError;

pub(crate) fn put_chunk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Reads fields in order; every short read names what was being read.
pub(crate) struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], BeaconError> {
        let taken = self.0.get(..len).ok_or(BeaconError::Truncated(what))?;
        self.0 = &self.0[len..];
        Ok(taken)
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, BeaconError> {
        Ok(u32::from_be_bytes(
            self.take(4, what)?.try_into().expect("4 bytes"),
        ))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, BeaconError> {
        Ok(u64::from_be_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }

    pub fn b256(&mut self, what: &'static str) -> Result<B256, BeaconError> {
        Ok(B256::from_slice(self.take(32, what)?))
    }

    pub fn u256(&mut self, what: &'static str) -> Result<U256, BeaconError> {
        Ok(U256::from_be_slice(self.take(32, what)?))
    }

    pub fn address(&mut self, what: &'static str) -> Result<Address, BeaconError> {
        Ok(Address::from_slice(self.take(20, what)?))
    }

    pub fn chunk(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], BeaconError> {
        let len = self.u32(what)? as usize;
        if len > max {
            return Err(BeaconError::ChunkTooLong { what, len, max });
        }
        self.take(len, what)
    }

    /// A count of items that take at least `min_item` bytes each, refused when the rest of the
    /// input cannot hold them (so a forged count cannot make a reader allocate).
    pub fn count(&mut self, what: &'static str, min_item: usize) -> Result<usize, BeaconError> {
        let count = self.u32(what)? as usize;
        if count.saturating_mul(min_item.max(1)) > self.0.len() {
            return Err(BeaconError::Truncated(what));
        }
        Ok(count)
    }
}
