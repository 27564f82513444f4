//! The sequencer's journal: an append-only file of checksummed records, written before a
//! transaction is confirmed to its sender.
//!
//! A record is `length: u32 LE | !length: u32 LE | checksum: 16 bytes (Blake2b of the payload)
//! | payload`; the length is written twice so that a damaged length is told from a torn end. The
//! payload is one of: an accepted operation (in acceptance order, priority operations included),
//! a batch closing (how many of the oldest unbatched operations it took), or a chunk proof.
//!
//! On open every record is read back and checked. A record cut short or failing its checksum
//! at the very end of the file is what `kill -9` leaves mid-write: it was never confirmed (the
//! sequencer confirms only after the file is synced past it), so it is cut off and reported.
//! A tail of zeros (blocks a power cut allocated but never filled) is cut the same way.
//! Damage anywhere else is refused with the record's offset and what is wrong: nothing is
//! dropped silently, and the operator decides (keep the file, or start on an empty directory,
//! which rebuilds from shard 0).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use blake2b_simd::Params as Blake2bParams;

use crate::account::L1Address;
use crate::schnorr::{PublicKey, Signature};
use crate::tx::{
    DepositOp, ForcedExitOp, L2Op, PriorityOp, SignedTransfer, SignedWithdraw, Transfer, Withdraw,
};

const HEADER: usize = 4 + 4 + 16;
/// No record is larger (a chunk proof at the largest shape is well below).
pub const MAX_RECORD: usize = 1 << 24;

/// One journal record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// An operation accepted (soft-confirmed), in order.
    Op(L2Op),
    /// Batch `batch` closed with the `ops` oldest unbatched operations.
    Closed {
        /// Batch number (from 1).
        batch: u64,
        /// Operations it took.
        ops: u32,
    },
    /// The journal continues a state rebuilt from shard 0 through batch `batches`, with the
    /// priority requests before `next_request` consumed (first record of such a journal).
    Rebuilt {
        /// Batches rebuilt.
        batches: u64,
        /// The first request not yet consumed.
        next_request: u64,
    },
    /// The proof of chunk `chunk` of batch `batch`.
    Proof {
        /// Batch number.
        batch: u64,
        /// Chunk index in the batch.
        chunk: u32,
        /// Proof bytes.
        bytes: Vec<u8>,
    },
}

/// Why the journal could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The journal file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A record before the end of the file is damaged.
    #[error(
        "{path}: record {index} at byte {offset} is corrupted ({reason}); refusing to start. \
         Keep the file for inspection; a sequencer started on an empty data directory rebuilds \
         its state from shard 0"
    )]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// Record number (from 0).
        index: usize,
        /// Byte offset of the record.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

/// What opening found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Every intact record, in order.
    pub records: Vec<Record>,
    /// Bytes of an unfinished last record that were cut off (never confirmed).
    pub torn_bytes: u64,
}

/// The open journal, positioned at its end.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    writer: BufWriter<File>,
    sync_handle: File,
    written: u64,
}

impl Journal {
    /// Opens (or creates) the journal at `path` and reads it back.
    pub fn open(path: impl Into<PathBuf>) -> Result<(Self, Recovered), JournalError> {
        let path = path.into();
        let io = |source| JournalError::Io {
            path: path.clone(),
            source,
        };
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        // One sequencer per journal: a second process on the same directory is refused.
        file.try_lock().map_err(|e| {
            io(std::io::Error::other(format!(
                "locked by another process ({e}): is a sequencer already running on this \
                 directory?"
            )))
        })?;
        if !existed && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // The new file's directory entry must survive a crash too.
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let (records, good) = read_records(&path, &bytes)?;
        let torn_bytes = bytes.len() as u64 - good;
        if torn_bytes > 0 {
            file.set_len(good).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        file.seek(SeekFrom::Start(good)).map_err(io)?;
        let sync_handle = file.try_clone().map_err(io)?;
        Ok((
            Self {
                path,
                writer: BufWriter::with_capacity(1 << 20, file),
                sync_handle,
                written: good,
            },
            Recovered {
                records,
                torn_bytes,
            },
        ))
    }

    /// The journal's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a record to the write buffer; returns the file length once it is written.
    /// Nothing is durable until [`Self::flush`] and a sync of [`Self::sync_handle`].
    pub fn append(&mut self, record: &Record) -> std::io::Result<u64> {
        let payload = encode(record);
        self.writer
            .write_all(&(payload.len() as u32).to_le_bytes())?;
        self.writer
            .write_all(&(!(payload.len() as u32)).to_le_bytes())?;
        self.writer.write_all(&checksum(&payload))?;
        self.writer.write_all(&payload)?;
        self.written += (HEADER + payload.len()) as u64;
        Ok(self.written)
    }

    /// Hands the buffered records to the OS; returns the length written so far.
    pub fn flush(&mut self) -> std::io::Result<u64> {
        self.writer.flush()?;
        Ok(self.written)
    }

    /// A handle to sync the file with, without holding the journal.
    pub fn sync_handle(&self) -> std::io::Result<File> {
        self.sync_handle.try_clone()
    }

    /// Flushes and syncs: every appended record is durable on return.
    pub fn sync(&mut self) -> std::io::Result<u64> {
        let written = self.flush()?;
        self.sync_handle.sync_data()?;
        Ok(written)
    }
}

fn checksum(payload: &[u8]) -> [u8; 16] {
    let hash = Blake2bParams::new()
        .hash_length(16)
        .personal(b"Kaimeng-Journal1")
        .hash(payload);
    let mut out = [0u8; 16];
    out.copy_from_slice(hash.as_bytes());
    out
}

/// Every intact record and the length they cover; an error for damage before the last record.
fn read_records(path: &Path, bytes: &[u8]) -> Result<(Vec<Record>, u64), JournalError> {
    let mut records = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        let corrupt = |reason: String| JournalError::Corrupt {
            path: path.to_path_buf(),
            index: records.len(),
            offset: offset as u64,
            reason,
        };
        if bytes[offset..].iter().all(|b| *b == 0) {
            break; // zeros to the end: blocks a crash allocated but never filled
        }
        let Some(header) = bytes.get(offset..offset + HEADER) else {
            break; // a header cut short: the torn end
        };
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
        let check = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
        if check != !len {
            return Err(corrupt("its length field is damaged".into()));
        }
        let len = len as usize;
        if len > MAX_RECORD {
            return Err(corrupt(format!("length {len} is above {MAX_RECORD}")));
        }
        let end = offset + HEADER + len;
        let Some(payload) = bytes.get(offset + HEADER..end) else {
            break; // the payload cut short
        };
        if checksum(payload) != header[8..] {
            if end == bytes.len() {
                break; // the last record, partly written
            }
            return Err(corrupt("checksum mismatch".into()));
        }
        let record = decode(payload).map_err(corrupt)?;
        records.push(record);
        offset = end;
    }
    Ok((records, offset as u64))
}

/// The bytes of an operation (also what its transaction hash is taken over).
pub fn encode_op(op: &L2Op) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    match op {
        L2Op::Padding => out.push(0),
        L2Op::Transfer(t) => {
            out.push(1);
            out.extend(t.tx.from.to_be_bytes());
            out.extend(t.tx.to.to_be_bytes());
            out.extend(t.tx.amount.to_be_bytes());
            out.extend(t.tx.fee.to_be_bytes());
            out.extend(t.tx.nonce.to_be_bytes());
            out.extend(t.signature.to_bytes());
        }
        L2Op::Withdraw(w) => {
            out.push(2);
            out.extend(w.tx.from.to_be_bytes());
            out.extend(w.tx.amount.to_be_bytes());
            out.extend(w.tx.fee.to_be_bytes());
            out.extend(w.tx.nonce.to_be_bytes());
            out.extend(w.signature.to_bytes());
        }
        L2Op::Priority(PriorityOp::Deposit(d)) => {
            out.push(3);
            out.extend(d.to.to_be_bytes());
            out.extend(d.l1_address.0);
            out.extend(d.public_key.to_bytes());
            out.extend(d.amount.to_be_bytes());
        }
        L2Op::Priority(PriorityOp::ForcedExit(f)) => {
            out.push(4);
            out.extend(f.account.to_be_bytes());
            out.extend(f.l1_address.0);
        }
    }
    out
}

/// Parses [`encode_op`]'s bytes.
pub fn decode_op(bytes: &[u8]) -> Result<L2Op, String> {
    let mut r = Reader(bytes);
    let op = match r.u8()? {
        0 => L2Op::Padding,
        1 => {
            let tx = Transfer {
                from: r.u32()?,
                to: r.u32()?,
                amount: r.u64()?,
                fee: r.u16()?,
                nonce: r.u32()?,
            };
            L2Op::Transfer(SignedTransfer {
                tx,
                signature: r.signature()?,
            })
        }
        2 => {
            let tx = Withdraw {
                from: r.u32()?,
                amount: r.u64()?,
                fee: r.u16()?,
                nonce: r.u32()?,
            };
            L2Op::Withdraw(SignedWithdraw {
                tx,
                signature: r.signature()?,
            })
        }
        3 => L2Op::Priority(PriorityOp::Deposit(DepositOp {
            to: r.u32()?,
            l1_address: L1Address(r.array()?),
            public_key: PublicKey::from_bytes(&r.array()?).ok_or("not an L2 public key")?,
            amount: r.u64()?,
        })),
        4 => L2Op::Priority(PriorityOp::ForcedExit(ForcedExitOp {
            account: r.u32()?,
            l1_address: L1Address(r.array()?),
        })),
        other => return Err(format!("unknown operation kind {other}")),
    };
    if !r.0.is_empty() {
        return Err(format!("{} bytes after the operation", r.0.len()));
    }
    Ok(op)
}

fn encode(record: &Record) -> Vec<u8> {
    match record {
        Record::Op(op) => {
            let mut out = vec![1];
            out.extend(encode_op(op));
            out
        }
        Record::Closed { batch, ops } => {
            let mut out = vec![2];
            out.extend(batch.to_be_bytes());
            out.extend(ops.to_be_bytes());
            out
        }
        Record::Rebuilt {
            batches,
            next_request,
        } => {
            let mut out = vec![4];
            out.extend(batches.to_be_bytes());
            out.extend(next_request.to_be_bytes());
            out
        }
        Record::Proof {
            batch,
            chunk,
            bytes,
        } => {
            let mut out = vec![3];
            out.extend(batch.to_be_bytes());
            out.extend(chunk.to_be_bytes());
            out.extend(bytes);
            out
        }
    }
}

fn decode(payload: &[u8]) -> Result<Record, String> {
    let (&tag, rest) = payload.split_first().ok_or("an empty record")?;
    match tag {
        1 => decode_op(rest).map(Record::Op),
        2 => {
            let mut r = Reader(rest);
            let record = Record::Closed {
                batch: r.u64()?,
                ops: r.u32()?,
            };
            if !r.0.is_empty() {
                return Err("bytes after a batch closing".into());
            }
            Ok(record)
        }
        3 => {
            let mut r = Reader(rest);
            Ok(Record::Proof {
                batch: r.u64()?,
                chunk: r.u32()?,
                bytes: r.0.to_vec(),
            })
        }
        4 => {
            let mut r = Reader(rest);
            let record = Record::Rebuilt {
                batches: r.u64()?,
                next_request: r.u64()?,
            };
            if !r.0.is_empty() {
                return Err("bytes after a rebuild marker".into());
            }
            Ok(record)
        }
        other => Err(format!("unknown record kind {other}")),
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        if self.0.len() < N {
            return Err(format!(
                "truncated: {} bytes where {N} were expected",
                self.0.len()
            ));
        }
        let (head, rest) = self.0.split_at(N);
        self.0 = rest;
        Ok(head.try_into().expect("split at N"))
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_be_bytes(self.array()?))
    }
    fn signature(&mut self) -> Result<Signature, String> {
        Signature::from_bytes(&self.array()?).ok_or_else(|| "not a valid signature".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schnorr::SigningKey;

    fn records() -> Vec<Record> {
        let key = SigningKey::from_uniform_bytes(&[3; 64]);
        vec![
            Record::Op(L2Op::Priority(PriorityOp::Deposit(DepositOp {
                to: 1,
                l1_address: L1Address([1; 20]),
                public_key: key.public_key(),
                amount: 500,
            }))),
            Record::Op(L2Op::Transfer(
                Transfer {
                    from: 1,
                    to: 2,
                    amount: 10,
                    fee: 1,
                    nonce: 0,
                }
                .sign(&key, 9),
            )),
            Record::Op(L2Op::Withdraw(
                Withdraw {
                    from: 1,
                    amount: 3,
                    fee: 1,
                    nonce: 1,
                }
                .sign(&key, 9),
            )),
            Record::Op(L2Op::Priority(PriorityOp::ForcedExit(ForcedExitOp {
                account: 1,
                l1_address: L1Address([1; 20]),
            }))),
            Record::Closed { batch: 1, ops: 4 },
            Record::Rebuilt {
                batches: 3,
                next_request: 9,
            },
            Record::Proof {
                batch: 1,
                chunk: 0,
                bytes: vec![7; 300],
            },
        ]
    }

    fn written(dir: &Path) -> PathBuf {
        let path = dir.join("journal");
        let (mut journal, recovered) = Journal::open(&path).unwrap();
        assert_eq!(recovered, Recovered::default());
        for record in records() {
            journal.append(&record).unwrap();
        }
        journal.sync().unwrap();
        path
    }

    #[test]
    fn records_come_back_in_order_and_appending_continues() {
        let dir = tempdir();
        let path = written(&dir);
        let (mut journal, recovered) = Journal::open(&path).unwrap();
        assert_eq!(recovered.records, records());
        journal
            .append(&Record::Closed { batch: 2, ops: 0 })
            .unwrap();
        journal.sync().unwrap();
        // A second sequencer on the same journal is refused while the first holds it.
        let err = Journal::open(&path).unwrap_err().to_string();
        assert!(err.contains("locked by another process"), "{err}");
        drop(journal);
        let (_, again) = Journal::open(&path).unwrap();
        assert_eq!(again.records.len(), records().len() + 1);
    }

    /// Every cut through the last record (what kill -9 leaves) loses that record only.
    #[test]
    fn a_torn_last_record_is_cut_off_at_every_length() {
        let dir = tempdir();
        let path = written(&dir);
        let full = std::fs::read(&path).unwrap();
        let last_len = HEADER + 1 + 8 + 4 + 300;
        for cut in 1..last_len {
            std::fs::write(&path, &full[..full.len() - cut]).unwrap();
            let (_, recovered) = Journal::open(&path).unwrap();
            assert_eq!(
                recovered.records,
                records()[..records().len() - 1],
                "cut {cut}"
            );
            assert_eq!(recovered.torn_bytes as usize, last_len - cut);
            assert_eq!(
                std::fs::metadata(&path).unwrap().len() as usize,
                full.len() - last_len
            );
        }
    }

    /// Zeros after the last record (what a power cut can leave) are cut off like a torn end.
    #[test]
    fn a_zero_filled_tail_is_cut_off() {
        let dir = tempdir();
        let path = written(&dir);
        let full = std::fs::read(&path).unwrap();
        let mut padded = full.clone();
        padded.extend([0u8; 4096]);
        std::fs::write(&path, &padded).unwrap();
        let (_, recovered) = Journal::open(&path).unwrap();
        assert_eq!(recovered.records, records());
        assert_eq!(recovered.torn_bytes, 4096);
        assert_eq!(std::fs::read(&path).unwrap(), full);
    }

    /// A flipped byte in any record but the last is refused with its offset; the file is kept.
    #[test]
    fn damage_before_the_end_is_refused_and_the_file_kept() {
        let dir = tempdir();
        let path = written(&dir);
        let full = std::fs::read(&path).unwrap();
        let last_start = full.len() - (HEADER + 1 + 8 + 4 + 300);
        for position in (0..last_start).step_by(7) {
            let mut damaged = full.clone();
            damaged[position] ^= 0x20;
            std::fs::write(&path, &damaged).unwrap();
            let err = Journal::open(&path).unwrap_err().to_string();
            assert!(
                err.contains("is corrupted") && err.contains("refusing to start"),
                "{err}"
            );
            assert_eq!(std::fs::read(&path).unwrap(), damaged, "byte {position}");
        }
    }

    #[test]
    fn operations_round_trip_and_bad_bytes_say_why() {
        for record in records() {
            if let Record::Op(op) = record {
                assert_eq!(decode_op(&encode_op(&op)).unwrap(), op);
            }
        }
        assert!(
            decode_op(&[9])
                .unwrap_err()
                .contains("unknown operation kind 9")
        );
        assert!(decode_op(&[1, 0, 0]).unwrap_err().contains("truncated"));
    }

    fn tempdir() -> PathBuf {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kaimeng-journal-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
