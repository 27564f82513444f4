//! The wire format of the request-response protocol (`/kaimeng/<id>/req/1`): block sync and
//! direct messages. Each request and each response is one frame, delimited by the end of its
//! stream (the writer closes its side), so the format carries no outer length.
//!
//! ```text
//! request  = version:u8(1) tag:u8 body
//!   tag 0  GetBlocks  chain from:u64 to:u64         (inclusive range, big-endian)
//!   tag 1  Direct     class:u8 chain data:rest      (a message for one peer)
//!   tag 2  GetSnapshot chain height:u64 part:u32     (one part of a state snapshot)
//!   tag 3  GetMessages source:u32 destination:u32 from:u64  (cross-shard messages with proofs)
//!   tag 4  GetTransactions chain count:u32 hash:32*count   (pooled transactions by hash)
//! response = version:u8(1) tag:u8 body
//!   tag 0  Blocks     count:u32 (len:u32 bytes)*count   (a snapshot part is one "block";
//!                     none when the peer does not have it, or not yet; each transaction
//!                     asked for that the peer holds is one)
//!   tag 1  Ack
//!   tag 2  Refused    reason:u8 [max:u64 if reason = 0]   (see `Refusal`)
//! chain    = 0 (beacon) | 1 index:u32 (shard)
//! class    = 0 consensus | 1 transactions | 2 blocks
//! ```
//!
//! Decoding never panics and rejects trailing bytes, unknown tags and counts that do not fit
//! what is left of the frame, each with its own [`DecodeError`].

use crate::topic::{Chain, Topic, TopicClass};

pub const VERSION: u8 = 1;

/// A request to one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// The blocks of `chain` at heights `from..=to`.
    GetBlocks { chain: Chain, from: u64, to: u64 },
    /// A message for this peer only (the consensus engine's `SendTo`).
    Direct { topic: Topic, data: Vec<u8> },
    /// Part `part` of the state snapshot of `chain` at `height` (what a part is, the node
    /// decides: [`crate::BlockSource::snapshot_part`]).
    GetSnapshot {
        chain: Chain,
        height: u64,
        part: u32,
    },
    /// The cross-shard messages shard `source` sent to shard `destination`, from nonce `from`
    /// on, with their proofs (the node encodes them: [`crate::BlockSource::messages`]).
    GetMessages {
        source: u32,
        destination: u32,
        from: u64,
    },
    /// The transactions of `chain` with these hashes that the peer holds (its pool): what a
    /// proposal body names instead of carrying ([`crate::BlockSource::transactions`]).
    GetTransactions { chain: Chain, hashes: Vec<[u8; 32]> },
}

/// The answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    /// Blocks `from, from + 1, ...`: the longest prefix of the range the peer has and that fits
    /// in one response (possibly empty).
    Blocks(Vec<Vec<u8>>),
    /// A direct message was accepted.
    Ack,
    Refused(Refusal),
}

/// Why a peer refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the range holds more blocks than the peer serves at once (at most {max})")]
    RangeTooLarge { max: u64 },
    #[error("the range is empty (from > to)")]
    InvalidRange,
    #[error("the peer's rate limit for this peer was exceeded")]
    RateLimited,
    #[error("the peer is serving too many block requests at once")]
    Busy,
    #[error("the peer serves no blocks")]
    NoBlockSource,
    #[error("the peer does not accept this message (too large or not subscribed)")]
    NotAccepted,
    #[error("the peer could not read the request (malformed or too large)")]
    Malformed,
}

/// What was wrong with a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty frame")]
    Empty,
    #[error("unknown wire version {0} (expected {VERSION})")]
    Version(u8),
    #[error("unknown {what} tag {tag}")]
    UnknownTag { what: &'static str, tag: u8 },
    #[error("frame ends inside {0}")]
    Truncated(&'static str),
    #[error("{0} bytes after the end of the message")]
    TrailingBytes(usize),
    #[error("{count} blocks in a response, at most {max} allowed")]
    TooManyBlocks { count: u64, max: u64 },
}

// ---- encoding ----

fn put_chain(out: &mut Vec<u8>, chain: Chain) {
    match chain {
        Chain::Beacon => out.push(0),
        Chain::Shard(index) => {
            out.push(1);
            out.extend_from_slice(&index.to_be_bytes());
        }
    }
}

fn class_tag(class: TopicClass) -> u8 {
    match class {
        TopicClass::Consensus => 0,
        TopicClass::Transactions => 1,
        TopicClass::Blocks => 2,
    }
}

pub fn encode_request(request: &Request) -> Vec<u8> {
    let mut out = vec![VERSION];
    match request {
        Request::GetBlocks { chain, from, to } => {
            out.push(0);
            put_chain(&mut out, *chain);
            out.extend_from_slice(&from.to_be_bytes());
            out.extend_from_slice(&to.to_be_bytes());
        }
        Request::Direct { topic, data } => {
            out.push(1);
            out.push(class_tag(topic.class()));
            put_chain(&mut out, topic.chain());
            out.extend_from_slice(data);
        }
        Request::GetSnapshot {
            chain,
            height,
            part,
        } => {
            out.push(2);
            put_chain(&mut out, *chain);
            out.extend_from_slice(&height.to_be_bytes());
            out.extend_from_slice(&part.to_be_bytes());
        }
        Request::GetMessages {
            source,
            destination,
            from,
        } => {
            out.push(3);
            out.extend_from_slice(&source.to_be_bytes());
            out.extend_from_slice(&destination.to_be_bytes());
            out.extend_from_slice(&from.to_be_bytes());
        }
        Request::GetTransactions { chain, hashes } => {
            out.push(4);
            put_chain(&mut out, *chain);
            // Callers bound the count by `Limits::max_blocks_per_request`.
            out.extend_from_slice(&(hashes.len() as u32).to_be_bytes());
            for hash in hashes {
                out.extend_from_slice(hash);
            }
        }
    }
    out
}

pub fn encode_response(response: &Response) -> Vec<u8> {
    let mut out = vec![VERSION];
    match response {
        Response::Blocks(blocks) => {
            out.push(0);
            // Callers bound the count and sizes far below u32::MAX (see `Limits`).
            out.extend_from_slice(&(blocks.len() as u32).to_be_bytes());
            for block in blocks {
                out.extend_from_slice(&(block.len() as u32).to_be_bytes());
                out.extend_from_slice(block);
            }
        }
        Response::Ack => out.push(1),
        Response::Refused(refusal) => {
            out.push(2);
            match refusal {
                Refusal::RangeTooLarge { max } => {
                    out.push(0);
                    out.extend_from_slice(&max.to_be_bytes());
                }
                Refusal::InvalidRange => out.push(1),
                Refusal::RateLimited => out.push(2),
                Refusal::Busy => out.push(3),
                Refusal::NoBlockSource => out.push(4),
                Refusal::NotAccepted => out.push(5),
                Refusal::Malformed => out.push(6),
            }
        }
    }
    out
}

/// Bytes of a `Blocks` response with these block sizes (for fitting under a cap).
pub fn blocks_response_len(block_lens: impl IntoIterator<Item = usize>) -> usize {
    block_lens.into_iter().map(|len| len + 4).sum::<usize>() + 6
}

// ---- decoding ----

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError::Truncated(what));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let mut buf = [0; 4];
        buf.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_be_bytes(buf))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let mut buf = [0; 8];
        buf.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_be_bytes(buf))
    }

    fn chain(&mut self) -> Result<Chain, DecodeError> {
        match self.u8("chain")? {
            0 => Ok(Chain::Beacon),
            1 => Ok(Chain::Shard(self.u32("shard index")?)),
            tag => Err(DecodeError::UnknownTag { what: "chain", tag }),
        }
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.bytes)
    }

    fn finish(self) -> Result<(), DecodeError> {
        match self.bytes.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

fn header<'a>(bytes: &'a [u8], what: &'static str) -> Result<(u8, Reader<'a>), DecodeError> {
    let mut reader = Reader { bytes };
    let version = reader.u8("version").map_err(|_| DecodeError::Empty)?;
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let tag = reader.u8(what)?;
    Ok((tag, reader))
}

pub fn decode_request(bytes: &[u8]) -> Result<Request, DecodeError> {
    let (tag, mut reader) = header(bytes, "request tag")?;
    let request = match tag {
        0 => {
            let chain = reader.chain()?;
            let from = reader.u64("from")?;
            let to = reader.u64("to")?;
            Request::GetBlocks { chain, from, to }
        }
        1 => {
            let class = match reader.u8("topic class")? {
                0 => TopicClass::Consensus,
                1 => TopicClass::Transactions,
                2 => TopicClass::Blocks,
                tag => {
                    return Err(DecodeError::UnknownTag {
                        what: "topic class",
                        tag,
                    });
                }
            };
            let chain = reader.chain()?;
            let data = reader.rest().to_vec();
            Request::Direct {
                topic: Topic::new(class, chain),
                data,
            }
        }
        2 => {
            let chain = reader.chain()?;
            let height = reader.u64("height")?;
            let part = reader.u32("part")?;
            Request::GetSnapshot {
                chain,
                height,
                part,
            }
        }
        3 => Request::GetMessages {
            source: reader.u32("source")?,
            destination: reader.u32("destination")?,
            from: reader.u64("from")?,
        },
        4 => {
            let chain = reader.chain()?;
            let count = reader.u32("hash count")? as usize;
            // Exactly `count` hashes follow: a count the frame cannot hold is refused before
            // anything is allocated for it.
            if reader.bytes.len() != count.saturating_mul(32) {
                return Err(DecodeError::Truncated("hash list"));
            }
            let hashes = reader
                .rest()
                .chunks_exact(32)
                .map(|hash| hash.try_into().expect("32 bytes"))
                .collect();
            Request::GetTransactions { chain, hashes }
        }
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "request",
                tag,
            });
        }
    };
    reader.finish()?;
    Ok(request)
}

/// Decodes a response carrying at most `max_blocks` blocks.
pub fn decode_response(bytes: &[u8], max_blocks: u64) -> Result<Response, DecodeError> {
    let (tag, mut reader) = header(bytes, "response tag")?;
    let response = match tag {
        0 => {
            let count = u64::from(reader.u32("block count")?);
            if count > max_blocks {
                return Err(DecodeError::TooManyBlocks {
                    count,
                    max: max_blocks,
                });
            }
            // Each block needs at least its 4-byte length, so `count` is bounded by the frame.
            if count.saturating_mul(4) > reader.bytes.len() as u64 {
                return Err(DecodeError::Truncated("block list"));
            }
            let mut blocks = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let len = reader.u32("block length")? as usize;
                blocks.push(reader.take(len, "block")?.to_vec());
            }
            Response::Blocks(blocks)
        }
        1 => Response::Ack,
        2 => Response::Refused(match reader.u8("refusal")? {
            0 => Refusal::RangeTooLarge {
                max: reader.u64("max")?,
            },
            1 => Refusal::InvalidRange,
            2 => Refusal::RateLimited,
            3 => Refusal::Busy,
            4 => Refusal::NoBlockSource,
            5 => Refusal::NotAccepted,
            6 => Refusal::Malformed,
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "refusal",
                    tag,
                });
            }
        }),
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "response",
                tag,
            });
        }
    };
    reader.finish()?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        for request in [
            Request::GetBlocks {
                chain: Chain::Beacon,
                from: 0,
                to: u64::MAX,
            },
            Request::GetSnapshot {
                chain: Chain::Shard(3),
                height: 1 << 40,
                part: 257,
            },
            Request::GetMessages {
                source: 1,
                destination: 2,
                from: u64::MAX,
            },
            Request::GetBlocks {
                chain: Chain::Shard(7),
                from: 10,
                to: 20,
            },
            Request::Direct {
                topic: Topic::Consensus(Chain::Shard(1)),
                data: vec![1, 2, 3],
            },
            Request::Direct {
                topic: Topic::Blocks(Chain::Beacon),
                data: Vec::new(),
            },
            Request::GetTransactions {
                chain: Chain::Shard(0),
                hashes: vec![[7; 32], [0; 32]],
            },
            Request::GetTransactions {
                chain: Chain::Shard(2),
                hashes: Vec::new(),
            },
        ] {
            assert_eq!(decode_request(&encode_request(&request)), Ok(request));
        }
    }

    #[test]
    fn responses_round_trip() {
        for response in [
            Response::Blocks(vec![]),
            Response::Blocks(vec![vec![], vec![9; 300]]),
            Response::Ack,
            Response::Refused(Refusal::RangeTooLarge { max: 128 }),
            Response::Refused(Refusal::RateLimited),
            Response::Refused(Refusal::NotAccepted),
            Response::Refused(Refusal::Malformed),
        ] {
            let bytes = encode_response(&response);
            if let Response::Blocks(blocks) = &response {
                assert_eq!(
                    bytes.len(),
                    blocks_response_len(blocks.iter().map(Vec::len))
                );
            }
            assert_eq!(decode_response(&bytes, 128), Ok(response));
        }
    }

    #[test]
    fn bad_frames_get_typed_errors() {
        assert_eq!(decode_request(&[]), Err(DecodeError::Empty));
        assert_eq!(decode_request(&[2, 0]), Err(DecodeError::Version(2)));
        assert_eq!(
            decode_request(&[1, 9]),
            Err(DecodeError::UnknownTag {
                what: "request",
                tag: 9
            })
        );
        assert_eq!(
            decode_request(&[1, 0, 0, 1, 2]),
            Err(DecodeError::Truncated("from"))
        );
        let mut long = encode_request(&Request::GetBlocks {
            chain: Chain::Beacon,
            from: 1,
            to: 2,
        });
        long.push(0);
        assert_eq!(decode_request(&long), Err(DecodeError::TrailingBytes(1)));
        assert_eq!(
            decode_request(&[1, 0, 5]),
            Err(DecodeError::UnknownTag {
                what: "chain",
                tag: 5
            })
        );
    }

    #[test]
    fn block_counts_are_bounded_before_allocating() {
        let many = [1, 0, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            decode_response(&many, 128),
            Err(DecodeError::TooManyBlocks {
                count: u64::from(u32::MAX),
                max: 128
            })
        );
        assert_eq!(
            decode_response(&many, u64::MAX),
            Err(DecodeError::Truncated("block list"))
        );
        let bytes = encode_response(&Response::Blocks(vec![vec![1], vec![2]]));
        assert!(matches!(
            decode_response(&bytes, 1),
            Err(DecodeError::TooManyBlocks { count: 2, max: 1 })
        ));
        // A block length pointing past the end.
        assert_eq!(
            decode_response(&[1, 0, 0, 0, 0, 1, 0, 0, 0, 9, 1], 4),
            Err(DecodeError::Truncated("block"))
        );
    }

    #[test]
    fn a_hash_list_must_be_exactly_its_count() {
        let request = Request::GetTransactions {
            chain: Chain::Shard(0),
            hashes: vec![[1; 32], [2; 32]],
        };
        let bytes = encode_request(&request);
        // One byte short, one byte over, and a count of u32::MAX over two hashes.
        for bad in [
            bytes[..bytes.len() - 1].to_vec(),
            [bytes.as_slice(), &[0]].concat(),
            [&bytes[..7], &[0xff; 4], &bytes[11..]].concat(),
        ] {
            assert_eq!(
                decode_request(&bad),
                Err(DecodeError::Truncated("hash list"))
            );
        }
    }
}
