//! The parts of a state snapshot as they travel between nodes: the manifest, the recent
//! headers, and each chunk, numbered as the network's `GetSnapshot` asks for them. Pure
//! encoding; decoding never panics and says what was wrong. What a part proves is checked
//! by its user (`Manifest::check`, `Manifest::check_chunk`, `check_headers`).

use alloy_consensus::Header;
use alloy_primitives::{Address, B256, Bytes};
use alloy_rlp::{Decodable, Encodable};

use super::{CHUNKS, Manifest, SnapshotAccount};
use crate::account::{ACCOUNT_RECORD_LEN, AccountRecord};
use crate::block::SealedHeader;
use crate::commitment::Child;

/// How many headers up to the snapshot's block travel with it (what `BLOCKHASH` reads).
pub const RECENT_HEADERS: u64 = 256;

/// Which part of a snapshot: chunks are `0..256`, then the manifest and the headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Chunk(usize),
    Manifest,
    Headers,
}

impl Part {
    pub fn number(self) -> u32 {
        match self {
            Part::Chunk(index) => index as u32,
            Part::Manifest => CHUNKS as u32,
            Part::Headers => CHUNKS as u32 + 1,
        }
    }

    pub fn from_number(number: u32) -> Option<Part> {
        match number as usize {
            index if index < CHUNKS => Some(Part::Chunk(index)),
            CHUNKS => Some(Part::Manifest),
            n if n == CHUNKS + 1 => Some(Part::Headers),
            _ => None,
        }
    }
}

/// Why a part could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartError {
    #[error("the part ends inside {0}")]
    Truncated(&'static str),
    #[error("{0} bytes after the end of the part")]
    TrailingBytes(usize),
    #[error("unknown manifest entry tag {0}")]
    UnknownChild(u8),
    #[error("header {0} of the part is not a valid header")]
    Header(usize),
    #[error("the headers do not form a chain ending at block {number} with hash {hash}")]
    NotAChain { number: u64, hash: B256 },
}

pub fn encode_manifest(manifest: &Manifest) -> Vec<u8> {
    let mut out = Vec::with_capacity(manifest.subtrees.len() * 65);
    for child in &manifest.subtrees {
        match child {
            Child::Empty => out.push(0),
            Child::Leaf { key, value } => {
                out.push(1);
                out.extend_from_slice(key.as_slice());
                out.extend_from_slice(value.as_slice());
            }
            Child::Branch(hash) => {
                out.push(2);
                out.extend_from_slice(hash.as_slice());
            }
        }
    }
    out
}

pub fn decode_manifest(bytes: &[u8]) -> Result<Manifest, PartError> {
    let mut reader = Reader(bytes);
    let mut subtrees = Vec::with_capacity(CHUNKS);
    while !reader.0.is_empty() {
        subtrees.push(match reader.u8("an entry tag")? {
            0 => Child::Empty,
            1 => Child::Leaf {
                key: reader.b256("a leaf key")?,
                value: reader.b256("a leaf value")?,
            },
            2 => Child::Branch(reader.b256("a branch hash")?),
            tag => return Err(PartError::UnknownChild(tag)),
        });
    }
    Ok(Manifest { subtrees })
}

pub fn encode_chunk(accounts: &[SnapshotAccount]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(accounts.len() as u32).to_be_bytes());
    for account in accounts {
        out.extend_from_slice(account.address.as_slice());
        out.extend_from_slice(&account.record.encode());
        out.extend_from_slice(&(account.storage.len() as u32).to_be_bytes());
        for (slot, value) in &account.storage {
            out.extend_from_slice(slot.as_slice());
            out.extend_from_slice(value.as_slice());
        }
        match &account.code {
            None => out.push(0),
            Some(code) => {
                out.push(1);
                out.extend_from_slice(&(code.len() as u32).to_be_bytes());
                out.extend_from_slice(code);
            }
        }
    }
    out
}

pub fn decode_chunk(bytes: &[u8]) -> Result<Vec<SnapshotAccount>, PartError> {
    let mut reader = Reader(bytes);
    let count = reader.u32("the account count")?;
    // Each account takes at least 20 + 104 + 4 + 1 bytes: a count that cannot fit is refused
    // before anything is reserved for it.
    let smallest = 20 + ACCOUNT_RECORD_LEN + 5;
    if count as usize > reader.0.len() / smallest {
        return Err(PartError::Truncated("the accounts"));
    }
    let mut accounts = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let address = Address::from_slice(reader.take(20, "an address")?);
        let record = AccountRecord::decode(reader.take(ACCOUNT_RECORD_LEN, "an account record")?)
            .ok_or(PartError::Truncated("an account record"))?;
        let slots = reader.u32("a slot count")? as usize;
        if slots > reader.0.len() / 64 {
            return Err(PartError::Truncated("the storage"));
        }
        let mut storage = Vec::with_capacity(slots);
        for _ in 0..slots {
            storage.push((reader.b256("a slot")?, reader.b256("a slot value")?));
        }
        let code = match reader.u8("the code flag")? {
            0 => None,
            _ => {
                let len = reader.u32("the code length")? as usize;
                Some(Bytes::copy_from_slice(reader.take(len, "the code")?))
            }
        };
        accounts.push(SnapshotAccount {
            address,
            record,
            storage,
            code,
        });
    }
    reader.finish()?;
    Ok(accounts)
}

/// Each header's RLP, oldest first.
pub fn encode_headers(headers: &[SealedHeader]) -> Vec<u8> {
    let mut out = Vec::new();
    for header in headers {
        let mut rlp = Vec::new();
        header.header.encode(&mut rlp);
        out.extend_from_slice(&(rlp.len() as u32).to_be_bytes());
        out.extend_from_slice(&rlp);
    }
    out
}

/// The headers of a part, each sealed with the hash computed here (never a sent one).
pub fn decode_headers(bytes: &[u8]) -> Result<Vec<SealedHeader>, PartError> {
    let mut reader = Reader(bytes);
    let mut headers = Vec::new();
    while !reader.0.is_empty() {
        let len = reader.u32("a header length")? as usize;
        let mut rlp = reader.take(len, "a header")?;
        let header = Header::decode(&mut rlp).map_err(|_| PartError::Header(headers.len()))?;
        if !rlp.is_empty() {
            return Err(PartError::Header(headers.len()));
        }
        headers.push(SealedHeader::seal(header));
    }
    Ok(headers)
}

/// Checks that `headers` are consecutive, each the parent of the next, and end at the
/// trusted block `(number, hash)`: then every one of them is that block's ancestor.
pub fn check_headers(headers: &[SealedHeader], number: u64, hash: B256) -> Result<(), PartError> {
    let not_a_chain = PartError::NotAChain { number, hash };
    let Some(last) = headers.last() else {
        return Err(not_a_chain);
    };
    if last.number() != number || last.hash != hash {
        return Err(not_a_chain);
    }
    let linked = headers.windows(2).all(|pair| {
        pair[1].header.parent_hash == pair[0].hash && pair[1].number() == pair[0].number() + 1
    });
    if !linked {
        return Err(not_a_chain);
    }
    Ok(())
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], PartError> {
        if self.0.len() < len {
            return Err(PartError::Truncated(what));
        }
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, PartError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, PartError> {
        let bytes = self.take(4, what)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn b256(&mut self, what: &'static str) -> Result<B256, PartError> {
        Ok(B256::from_slice(self.take(32, what)?))
    }

    fn finish(self) -> Result<(), PartError> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(PartError::TrailingBytes(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::U256;

    use super::*;

    fn account(byte: u8, slots: usize, code: bool) -> SnapshotAccount {
        SnapshotAccount {
            address: Address::repeat_byte(byte),
            record: AccountRecord {
                nonce: byte as u64,
                balance: U256::from(byte as u64 * 1000),
                ..AccountRecord::default()
            },
            storage: (0..slots)
                .map(|i| (B256::repeat_byte(i as u8), B256::repeat_byte(i as u8 + 1)))
                .collect(),
            code: code.then(|| Bytes::from(vec![0x60, byte])),
        }
    }

    #[test]
    fn parts_round_trip() {
        let chunk = vec![account(1, 0, false), account(2, 3, true)];
        assert_eq!(decode_chunk(&encode_chunk(&chunk)).unwrap(), chunk);
        assert_eq!(decode_chunk(&encode_chunk(&[])).unwrap(), vec![]);
        let manifest = Manifest {
            subtrees: (0..CHUNKS)
                .map(|i| match i % 3 {
                    0 => Child::Empty,
                    1 => Child::Leaf {
                        key: B256::repeat_byte(i as u8),
                        value: B256::repeat_byte(7),
                    },
                    _ => Child::Branch(B256::repeat_byte(i as u8)),
                })
                .collect(),
        };
        assert_eq!(
            decode_manifest(&encode_manifest(&manifest)).unwrap(),
            manifest
        );
        for n in 0..=CHUNKS as u32 + 1 {
            assert_eq!(Part::from_number(n).unwrap().number(), n);
        }
        assert_eq!(Part::from_number(CHUNKS as u32 + 2), None);
    }

    #[test]
    fn every_cut_of_a_part_is_refused_without_a_panic() {
        let bytes = encode_chunk(&[account(1, 2, true), account(2, 0, false)]);
        for cut in 0..bytes.len() {
            assert!(decode_chunk(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(decode_chunk(&long), Err(PartError::TrailingBytes(1)));
        // A count far beyond what the bytes hold reserves nothing and is refused.
        let mut huge = u32::MAX.to_be_bytes().to_vec();
        huge.extend_from_slice(&bytes[4..]);
        assert_eq!(
            decode_chunk(&huge),
            Err(PartError::Truncated("the accounts"))
        );
        assert_eq!(decode_manifest(&[3]), Err(PartError::UnknownChild(3)));
        assert_eq!(
            decode_manifest(&[1, 0]),
            Err(PartError::Truncated("a leaf key"))
        );
        assert!(decode_headers(&[0, 0, 0, 9, 1]).is_err());
    }

    #[test]
    fn headers_are_sealed_here_and_must_chain_to_the_trusted_block() {
        let mut headers = Vec::new();
        let mut parent = B256::ZERO;
        for number in 10..15 {
            let header = SealedHeader::seal(Header {
                number,
                parent_hash: parent,
                ..Header::default()
            });
            parent = header.hash;
            headers.push(header);
        }
        let decoded = decode_headers(&encode_headers(&headers)).unwrap();
        assert_eq!(decoded, headers);
        let last = headers.last().unwrap().clone();
        check_headers(&decoded, 14, last.hash).unwrap();
        assert!(check_headers(&decoded, 14, B256::repeat_byte(1)).is_err());
        assert!(check_headers(&decoded, 15, last.hash).is_err());
        assert!(check_headers(&[], 14, last.hash).is_err());
        // A header swapped for another breaks the chain.
        let mut forged = decoded.clone();
        forged[2] = SealedHeader::seal(Header {
            number: 12,
            gas_limit: 1,
            ..forged[2].header.clone()
        });
        assert!(check_headers(&forged, 14, last.hash).is_err());
    }
}
