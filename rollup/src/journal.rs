//! The sequencer's journal: an append-only file of checksummed records, written before a
//! transaction is confirmed to its sender.
//!
//! A record is `length: u32 LE | !length: u32 LE | checksum: 16 bytes (Blake2b of the payload)
//! | payload`; the length is written twice so that a damaged length is told from a torn end. The
//! payload is one of: an accepted operation (in acceptance order, priority operations included),
//! a batch closing (how many of the oldest unbatched operations it took), a chunk proof, or
//! the base the journal starts from (a rebuild marker, or a snapshot of the state at an
//! executed batch followed by its accounts; see [`crate::snapshot`]).
//!
//! Compaction (ADR 0110) writes a shorter copy beside the journal (`journal.compact`): the
//! snapshot, then the records still needed. The copy is synced, the records appended to the
//! journal meanwhile are copied over, and it is renamed over the journal. A crash at any
//! point leaves either the old journal or the new one, both whole; a leftover copy is removed
//! on open. Positions returned by [`Journal::append`] count bytes ever appended, so they keep
//! growing across a compaction.
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

use ff::PrimeField;

use crate::Fp;
use crate::account::{Account, L1Address};
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
    /// The journal continues the state snapshotted after batch `batches` (first record of a
    /// compacted journal); the next `accounts` accounts follow in [`Record::Accounts`].
    Snapshot {
        /// Batches the snapshot covers (all executed on shard 0).
        batches: u64,
        /// Sequence number of the first operation after them.
        first_seq: u64,
        /// The first priority request not yet consumed.
        next_request: u64,
        /// The priority-queue hash after batch `batches`.
        queue_hash: Fp,
        /// The state root after batch `batches` (checked when the state is restored).
        root: Fp,
        /// Accounts in the snapshot.
        accounts: u64,
    },
    /// Accounts of the snapshot, `(index, account)`.
    Accounts(Vec<(u32, Account)>),
    /// The proof of chunks `chunk..chunk + chunks` of batch `batch` (one pack).
    Proof {
        /// Batch number.
        batch: u64,
        /// Index in the batch of the first chunk the proof covers.
        chunk: u32,
        /// Chunks the proof covers (1 in journals written before packs).
        chunks: u32,
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
    /// A compacted copy replaced the journal, but it could not be reopened for writing.
    #[error(
        "{path}: replaced by its compacted copy (whole and synced), but reopening it failed: \
         {source}; nothing more can be journaled until the sequencer restarts"
    )]
    Reopen {
        /// The journal file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
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
    /// Length of the file once the buffer is written.
    written: u64,
    /// Position (bytes ever appended) at which the current file was `file_base` long.
    position_base: u64,
    file_base: u64,
    /// Set when a compacted copy replaced the file but could not be reopened: the handles
    /// point at the old, unlinked file, so nothing more may be written.
    stranded: bool,
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
        // A compacted copy left by a crash before it replaced the journal.
        match std::fs::remove_file(compact_path(&path)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
            _ => {}
        }
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
                position_base: good,
                file_base: good,
                stranded: false,
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

    /// Appends a record to the write buffer; returns its end position (bytes ever appended,
    /// continuous across compactions). Nothing is durable until [`Self::flush`] and a sync of
    /// [`Self::sync_handle`].
    pub fn append(&mut self, record: &Record) -> std::io::Result<u64> {
        self.check_not_stranded()?;
        self.written += write_record(&mut self.writer, record)?;
        Ok(self.position())
    }

    fn position(&self) -> u64 {
        self.position_base + (self.written - self.file_base)
    }

    /// Hands the buffered records to the OS; returns the position written so far.
    pub fn flush(&mut self) -> std::io::Result<u64> {
        self.check_not_stranded()?;
        self.writer.flush()?;
        Ok(self.position())
    }

    fn check_not_stranded(&self) -> std::io::Result<()> {
        if self.stranded {
            return Err(std::io::Error::other(
                "the journal was replaced by its compacted copy, which could not be reopened",
            ));
        }
        Ok(())
    }

    /// The length of the file once everything appended is handed to the OS: where a
    /// compaction's copy stops reading ([`write_compacted`]).
    pub fn cut(&mut self) -> std::io::Result<u64> {
        self.writer.flush()?;
        Ok(self.written)
    }

    /// Replaces this journal by `copy` (from [`write_compacted`]): copies over what was
    /// appended since its cut, syncs it, and renames it over the journal. Returns the position
    /// written so far, all of it durable.
    ///
    /// On an error before the rename the journal is unchanged (and the copy removed). After
    /// it, the journal file is the copy, whole and synced; an error in reopening it is
    /// returned, and the journal must not be written again.
    pub fn adopt(&mut self, copy: CompactedCopy) -> Result<u64, JournalError> {
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        self.check_not_stranded().map_err(io)?;
        let CompactedCopy {
            path: copy_path,
            mut file,
            cut,
        } = copy;
        let renamed = (|| {
            self.writer.flush()?;
            let mut tail = Vec::new();
            let mut source = File::open(&self.path)?;
            source.seek(SeekFrom::Start(cut))?;
            source.read_to_end(&mut tail)?;
            file.write_all(&tail)?;
            file.sync_all()?;
            std::fs::rename(&copy_path, &self.path)
        })();
        if let Err(e) = renamed {
            let _ = std::fs::remove_file(&copy_path);
            return Err(io(e));
        }
        let position = self.position();
        self.stranded = true;
        let reopen = |source| JournalError::Reopen {
            path: self.path.clone(),
            source,
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(reopen)?;
        }
        file.try_lock()
            .map_err(|e| reopen(std::io::Error::other(e.to_string())))?;
        let length = file.seek(SeekFrom::End(0)).map_err(reopen)?;
        self.sync_handle = file.try_clone().map_err(reopen)?;
        self.writer = BufWriter::with_capacity(1 << 20, file);
        self.written = length;
        self.file_base = length;
        self.position_base = position;
        self.stranded = false;
        Ok(position)
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

/// A compacted copy of a journal, written and synced beside it, not yet in its place.
#[derive(Debug)]
pub struct CompactedCopy {
    path: PathBuf,
    file: File,
    cut: u64,
}

/// Where the compacted copy of the journal at `path` is written.
pub fn compact_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".compact");
    path.with_file_name(name)
}

/// Writes the compacted copy of the journal at `path`: `head` (the snapshot), then each of the
/// records before byte `cut` that `keep` admits, in order; synced. Runs beside a journal still
/// being appended to: it reads only what lies before the cut ([`Journal::cut`]).
pub fn write_compacted(
    path: &Path,
    cut: u64,
    head: &[Record],
    mut keep: impl FnMut(&Record) -> bool,
) -> Result<CompactedCopy, JournalError> {
    let copy_path = compact_path(path);
    let io = |source| JournalError::Io {
        path: copy_path.clone(),
        source,
    };
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(cut).read_to_end(&mut bytes))
        .map_err(|source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let (records, _) = read_records(path, &bytes)?;
    drop(bytes);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&copy_path)
        .map_err(io)?;
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    let written = (|| {
        for record in head.iter().chain(records.iter().filter(|r| keep(r))) {
            write_record(&mut writer, record)?;
        }
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(file)
    })();
    match written {
        Ok(file) => Ok(CompactedCopy {
            path: copy_path,
            file,
            cut,
        }),
        Err(e) => {
            let _ = std::fs::remove_file(&copy_path);
            Err(io(e))
        }
    }
}

/// Writes one record; returns its length.
fn write_record(out: &mut impl Write, record: &Record) -> std::io::Result<u64> {
    let payload = encode(record);
    out.write_all(&(payload.len() as u32).to_le_bytes())?;
    out.write_all(&(!(payload.len() as u32)).to_le_bytes())?;
    out.write_all(&checksum(&payload))?;
    out.write_all(&payload)?;
    Ok((HEADER + payload.len()) as u64)
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
        Record::Snapshot {
            batches,
            first_seq,
            next_request,
            queue_hash,
            root,
            accounts,
        } => {
            let mut out = vec![5];
            out.extend(batches.to_be_bytes());
            out.extend(first_seq.to_be_bytes());
            out.extend(next_request.to_be_bytes());
            out.extend(queue_hash.to_repr());
            out.extend(root.to_repr());
            out.extend(accounts.to_be_bytes());
            out
        }
        Record::Accounts(accounts) => {
            let mut out = Vec::with_capacity(1 + accounts.len() * ACCOUNT_BYTES);
            out.push(6);
            for (index, account) in accounts {
                out.extend(index.to_be_bytes());
                match account.public_key {
                    Some(key) => {
                        out.push(1);
                        out.extend(key.to_bytes());
                    }
                    None => out.extend([0u8; 33]),
                }
                out.extend(account.l1_address.0);
                out.extend(account.balance.to_be_bytes());
                out.extend(account.nonce.to_be_bytes());
            }
            out
        }
        Record::Proof {
            batch,
            chunk,
            chunks,
            bytes,
        } => {
            // Tag 3 is a one-chunk proof (the only kind before packs), tag 7 a pack's.
            let mut out = if *chunks == 1 { vec![3] } else { vec![7] };
            out.extend(batch.to_be_bytes());
            out.extend(chunk.to_be_bytes());
            if *chunks != 1 {
                out.extend(chunks.to_be_bytes());
            }
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
                chunks: 1,
                bytes: r.0.to_vec(),
            })
        }
        7 => {
            let mut r = Reader(rest);
            Ok(Record::Proof {
                batch: r.u64()?,
                chunk: r.u32()?,
                chunks: r.u32()?,
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
        5 => {
            let mut r = Reader(rest);
            let record = Record::Snapshot {
                batches: r.u64()?,
                first_seq: r.u64()?,
                next_request: r.u64()?,
                queue_hash: r.field()?,
                root: r.field()?,
                accounts: r.u64()?,
            };
            if !r.0.is_empty() {
                return Err("bytes after a snapshot head".into());
            }
            Ok(record)
        }
        6 => {
            if rest.len() % ACCOUNT_BYTES != 0 {
                return Err(format!(
                    "{} bytes of accounts, not a multiple of {ACCOUNT_BYTES}",
                    rest.len()
                ));
            }
            let mut r = Reader(rest);
            let mut accounts = Vec::with_capacity(rest.len() / ACCOUNT_BYTES);
            while !r.0.is_empty() {
                let index = r.u32()?;
                let public_key = match (r.u8()?, r.array::<32>()?) {
                    (0, key) if key == [0; 32] => None,
                    (1, key) => Some(
                        PublicKey::from_bytes(&key)
                            .ok_or_else(|| format!("account {index}: not an L2 public key"))?,
                    ),
                    _ => return Err(format!("account {index}: a malformed key field")),
                };
                accounts.push((
                    index,
                    Account {
                        public_key,
                        l1_address: L1Address(r.array()?),
                        balance: r.u64()?,
                        nonce: r.u32()?,
                    },
                ));
            }
            Ok(Record::Accounts(accounts))
        }
        other => Err(format!("unknown record kind {other}")),
    }
}

/// Bytes of one account in a [`Record::Accounts`].
const ACCOUNT_BYTES: usize = 4 + 1 + 32 + 20 + 8 + 4;

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
    fn field(&mut self) -> Result<Fp, String> {
        Option::from(Fp::from_repr(self.array()?))
            .ok_or_else(|| "not a canonical field element".to_string())
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
            Record::Snapshot {
                batches: 3,
                first_seq: 40,
                next_request: 9,
                queue_hash: Fp::from(5),
                root: -Fp::from(6),
                accounts: 2,
            },
            Record::Accounts(vec![
                (
                    1,
                    Account {
                        public_key: Some(key.public_key()),
                        l1_address: L1Address([1; 20]),
                        balance: 487,
                        nonce: 2,
                    },
                ),
                (
                    u32::MAX,
                    Account {
                        balance: 1,
                        ..Account::default()
                    },
                ),
            ]),
            Record::Proof {
                batch: 1,
                chunk: 1,
                chunks: 3,
                bytes: vec![8; 300],
            },
            Record::Proof {
                batch: 1,
                chunk: 0,
                chunks: 1,
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

    /// A compaction while records keep coming: the copy holds the head, the kept records
    /// and everything appended after the cut; positions keep growing; appending continues on
    /// the new file, and it reopens with exactly those records.
    #[test]
    fn a_compacted_journal_keeps_what_was_asked_and_what_came_after() {
        let dir = tempdir();
        let path = dir.join("journal");
        let (mut journal, _) = Journal::open(&path).unwrap();
        let mut position = 0;
        for record in records() {
            position = journal.append(&record).unwrap();
        }
        let cut = journal.cut().unwrap();
        let late = Record::Closed { batch: 2, ops: 1 };
        let after_late = journal.append(&late).unwrap();
        assert!(after_late > position);
        let head = [Record::Rebuilt {
            batches: 1,
            next_request: 2,
        }];
        let copy =
            write_compacted(&path, cut, &head, |r| matches!(r, Record::Proof { .. })).unwrap();
        assert!(compact_path(&path).exists());
        let adopted = journal.adopt(copy).unwrap();
        assert_eq!(adopted, after_late, "positions continue across the swap");
        assert!(!compact_path(&path).exists());
        let later = Record::Closed { batch: 3, ops: 0 };
        assert!(journal.append(&later).unwrap() > adopted);
        journal.sync().unwrap();
        drop(journal);

        let proofs = records()
            .into_iter()
            .filter(|r| matches!(r, Record::Proof { .. }));
        let (_, recovered) = Journal::open(&path).unwrap();
        assert_eq!(
            recovered.records,
            [head[0].clone()]
                .into_iter()
                .chain(proofs)
                .chain([late, later])
                .collect::<Vec<_>>(),
            "head, kept, appended during, appended after"
        );
    }

    /// A copy left by a crash before the swap is removed on open; the journal is untouched.
    #[test]
    fn a_leftover_compacted_copy_is_removed_on_open() {
        let dir = tempdir();
        let path = written(&dir);
        let copy =
            write_compacted(&path, 0, &[Record::Closed { batch: 9, ops: 9 }], |_| true).unwrap();
        drop(copy);
        assert!(compact_path(&path).exists());
        let (_, recovered) = Journal::open(&path).unwrap();
        assert_eq!(recovered.records, records());
        assert!(!compact_path(&path).exists());
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
