//! What every crate's fuzz properties share (docs/fuzzing.md). Each `<crate>/tests/it/fuzz*.rs`
//! includes this file with `#[path]`, so it depends on `std` and `proptest` only.
//!
//! - [`cases`]: the number of cases per property, `FUZZ_CASES` from the environment (small by
//!   default, so the fuzz properties run with `cargo test --workspace`); `benches/fuzz.sh`
//!   raises it for the long pass.
//! - [`edits`] and [`apply`]: mutations of a valid encoding (bit flips, bytes set, inserted or
//!   removed, truncation, appended bytes, forged 32-bit lengths and counts, duplicated and
//!   swapped spans, and RLP length prefixes grown, shrunk, made huge or re-written in a
//!   non-canonical long form).
//! - [`bounded`]: runs a decoder and checks that it returns promptly and allocates no more than
//!   its input justifies (a tracking global allocator measures the calling thread's
//!   allocations while the decoder runs); a watchdog aborts the process, printing the input, if
//!   a decoder hangs.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;

/// Cases per property: `FUZZ_CASES`, or `default` (kept small: the whole fuzz set is part of
/// `cargo test --workspace`).
pub fn cases(default: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Cases for a property about `divisor` times as costly per case as a decoder call (one that
/// executes RPC methods against a chain): `FUZZ_CASES / divisor`, or `default`.
pub fn scaled_cases(default: u32, divisor: u32) -> u32 {
    match std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|value| value.parse::<u32>().ok())
    {
        Some(cases) => (cases / divisor.max(1)).max(1),
        None => default,
    }
}

/// The proptest configuration of a fuzz property with `cases` cases. Everything else comes from
/// proptest's defaults and `PROPTEST_*` variables (e.g. `PROPTEST_RNG_SEED` to replay a run);
/// failures are persisted under `<crate>/tests/proptest-regressions/`.
pub fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Inputs are small; a failure's shrinking is bounded in time rather than in steps.
        max_shrink_time: 60_000,
        max_shrink_iters: u32::MAX,
        ..ProptestConfig::default()
    }
}

/// Any bytes, at most `max` of them.
pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

// ---- bounded decoding --------------------------------------------------------------------------

/// A decoder call slower than this fails its property (decoders take microseconds on inputs of
/// a few KB; the margin is for a loaded machine).
pub const SLOW: Duration = Duration::from_secs(5);
/// A decoder call running this long is a hang: the watchdog prints the input and aborts.
pub const HANG: Duration = Duration::from_secs(120);
/// Most bytes one allocation may ask for while decoding `len` input bytes.
pub fn largest_allocation_allowed(len: usize) -> usize {
    (1 << 20) + 64 * len
}
/// Most bytes all allocations together may ask for while decoding `len` input bytes.
pub fn total_allocation_allowed(len: usize) -> usize {
    (8 << 20) + 1024 * len
}

/// Runs `decode` (a decoder's call on `input`) and checks that it returned within [`SLOW`] and
/// allocated, on this thread, no single block above [`largest_allocation_allowed`] and no more
/// than [`total_allocation_allowed`] altogether: a forged length or count must not make a
/// decoder reserve memory its input cannot fill.
pub fn bounded<T>(what: &str, input: &[u8], decode: impl FnOnce() -> T) -> T {
    let thread = std::thread::current().id();
    watched().insert(
        thread,
        Watched {
            what: what.to_owned(),
            input: input.to_vec(),
            started: Instant::now(),
        },
    );
    let started = Instant::now();
    let guard = Armed {
        thread,
        was_armed: ARMED.with(|armed| armed.replace(true)),
        outer_largest: LARGEST.with(|largest| largest.replace(0)),
        outer_total: TOTAL.with(|total| total.replace(0)),
    };
    let value = decode();
    let (largest, total) = guard.disarm();
    let elapsed = started.elapsed();
    assert!(
        elapsed < SLOW,
        "{what} took {elapsed:?} on {} input bytes",
        input.len()
    );
    assert!(
        largest <= largest_allocation_allowed(input.len()),
        "{what} allocated a block of {largest} bytes for {} input bytes",
        input.len()
    );
    assert!(
        total <= total_allocation_allowed(input.len()),
        "{what} allocated {total} bytes in all for {} input bytes",
        input.len()
    );
    value
}

/// Stops the accounting and the watch when [`bounded`]'s decoder returns or panics.
struct Armed {
    thread: ThreadId,
    was_armed: bool,
    outer_largest: usize,
    outer_total: usize,
}

impl Armed {
    /// This call's largest allocation and total.
    fn disarm(self) -> (usize, usize) {
        let measured = (LARGEST.with(Cell::get), TOTAL.with(Cell::get));
        drop(self);
        measured
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        ARMED.with(|armed| armed.set(self.was_armed));
        LARGEST.with(|largest| largest.set(self.outer_largest.max(largest.get())));
        TOTAL.with(|total| total.set(self.outer_total.saturating_add(total.get())));
        watched().remove(&self.thread);
    }
}

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, noting the size of every allocation a thread makes inside
/// [`bounded`]. (Const-initialised thread-locals of `Copy` types neither allocate nor register
/// destructors, so they are safe to use here.)
struct Tracking;

fn note(size: usize) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = LARGEST.try_with(|largest| largest.set(largest.get().max(size)));
            let _ = TOTAL.try_with(|total| total.set(total.get().saturating_add(size)));
        }
    });
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

struct Watched {
    what: String,
    input: Vec<u8>,
    started: Instant,
}

/// The decoder calls in progress, per thread; the first call starts the watchdog thread.
fn watched() -> std::sync::MutexGuard<'static, HashMap<ThreadId, Watched>> {
    static WATCHED: OnceLock<Mutex<HashMap<ThreadId, Watched>>> = OnceLock::new();
    WATCHED
        .get_or_init(|| {
            std::thread::spawn(|| {
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                    for call in watched().values() {
                        if call.started.elapsed() > HANG {
                            eprintln!(
                                "fuzz watchdog: {} has not returned after {:?}; input ({} bytes): {}",
                                call.what,
                                call.started.elapsed(),
                                call.input.len(),
                                hex(&call.input)
                            );
                            std::process::abort();
                        }
                    }
                }
            });
            Mutex::new(HashMap::new())
        })
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---- mutations ---------------------------------------------------------------------------------

/// One mutation of an encoding; positions are picked relative to the length at that point.
#[derive(Clone, Debug)]
pub enum Edit {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
    Append(Vec<u8>),
    /// Overwrites four bytes with a big-endian `u32`: a forged length, count or offset.
    SetU32(Index, u32),
    /// Inserts a copy of up to `len` bytes from one position at another.
    Duplicate(Index, Index, u8),
    Swap(Index, Index),
    /// Changes the length prefix of one RLP item (an RLP header found by walking the encoding);
    /// on bytes with no RLP structure, sets a byte instead.
    Rlp(Index, RlpEdit),
}

#[derive(Clone, Copy, Debug)]
pub enum RlpEdit {
    /// The encoded length plus `n` (1..=3).
    Grow(u8),
    /// The encoded length minus `n` (1..=3).
    Shrink(u8),
    /// A long-form header claiming `u64::MAX` bytes.
    Huge,
    /// The same length in a non-canonical longer form (`0x81 b` for a single byte below 0x80,
    /// `0xb8 n` for a short string, a leading zero length byte for a long one).
    LongForm,
    /// The prefix byte replaced.
    Byte(u8),
}

/// 32-bit values that make interesting lengths and counts.
pub fn interesting_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(u32::MAX),
        Just(u32::MAX - 3),
        Just(0x7fff_ffff),
        Just(0x8000_0000),
        Just(0x0001_0000),
        0u32..64,
        0u32..4096,
        any::<u32>(),
    ]
}

pub fn edit() -> impl Strategy<Value = Edit> {
    let rlp = prop_oneof![
        (1u8..=3).prop_map(RlpEdit::Grow),
        (1u8..=3).prop_map(RlpEdit::Shrink),
        Just(RlpEdit::Huge),
        Just(RlpEdit::LongForm),
        any::<u8>().prop_map(RlpEdit::Byte),
    ];
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Edit::FlipBit(at, bit)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Edit::SetByte(at, byte)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(at, byte)| Edit::Insert(at, byte)),
        1 => any::<Index>().prop_map(Edit::Remove),
        1 => any::<Index>().prop_map(Edit::Truncate),
        1 => bytes(16).prop_map(Edit::Append),
        2 => (any::<Index>(), interesting_u32()).prop_map(|(at, value)| Edit::SetU32(at, value)),
        1 => (any::<Index>(), any::<Index>(), any::<u8>())
            .prop_map(|(from, to, len)| Edit::Duplicate(from, to, len)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Edit::Swap(a, b)),
        3 => (any::<Index>(), rlp).prop_map(|(at, edit)| Edit::Rlp(at, edit)),
    ]
}

/// One to `max` edits.
pub fn edits(max: usize) -> impl Strategy<Value = Vec<Edit>> {
    proptest::collection::vec(edit(), 1..=max.max(1))
}

/// Applies `edits` in order.
pub fn apply(bytes: &mut Vec<u8>, edits: &[Edit]) {
    for edit in edits {
        apply_one(bytes, edit);
    }
}

fn apply_one(bytes: &mut Vec<u8>, edit: &Edit) {
    let len = bytes.len();
    if len == 0 {
        match edit {
            Edit::Insert(_, byte) | Edit::SetByte(_, byte) => bytes.push(*byte),
            Edit::Append(tail) => bytes.extend_from_slice(tail),
            Edit::SetU32(_, value) => bytes.extend_from_slice(&value.to_be_bytes()),
            _ => {}
        }
        return;
    }
    match edit {
        Edit::FlipBit(at, bit) => bytes[at.index(len)] ^= 1 << (bit % 8),
        Edit::SetByte(at, byte) => bytes[at.index(len)] = *byte,
        Edit::Insert(at, byte) => bytes.insert(at.index(len + 1), *byte),
        Edit::Remove(at) => {
            bytes.remove(at.index(len));
        }
        Edit::Truncate(at) => bytes.truncate(at.index(len)),
        Edit::Append(tail) => bytes.extend_from_slice(tail),
        Edit::SetU32(at, value) => {
            let at = at.index(len);
            let value = value.to_be_bytes();
            let end = (at + 4).min(len);
            bytes[at..end].copy_from_slice(&value[..end - at]);
        }
        Edit::Duplicate(from, to, count) => {
            let from = from.index(len);
            let end = (from + usize::from(*count).max(1)).min(len);
            let copy = bytes[from..end].to_vec();
            let to = to.index(len + 1);
            bytes.splice(to..to, copy);
        }
        Edit::Swap(a, b) => bytes.swap(a.index(len), b.index(len)),
        Edit::Rlp(at, rlp) => {
            let headers = rlp_items(bytes);
            if headers.is_empty() {
                bytes[at.index(len)] = match rlp {
                    RlpEdit::Byte(byte) => *byte,
                    _ => 0xff,
                };
                return;
            }
            edit_rlp(bytes, at.index(headers.len()), *rlp);
        }
    }
}

/// An RLP item found in an encoding: where its header starts, the header's and the payload's
/// lengths, and whether it is a list.
#[derive(Clone, Copy, Debug)]
pub struct RlpItem {
    pub start: usize,
    pub header_len: usize,
    pub payload_len: usize,
    pub list: bool,
}

impl RlpItem {
    pub fn end(&self) -> usize {
        self.start + self.header_len + self.payload_len
    }
}

/// Decodes the RLP header at `at`, if it is well formed and its payload fits in `bytes`.
pub fn rlp_item(bytes: &[u8], at: usize) -> Option<RlpItem> {
    let first = *bytes.get(at)?;
    let (header_len, payload_len, list) = match first {
        0x00..=0x7f => (0, 1, false),
        0x80..=0xb7 => (1, usize::from(first - 0x80), false),
        0xc0..=0xf7 => (1, usize::from(first - 0xc0), true),
        0xb8..=0xbf | 0xf8..=0xff => {
            let list = first >= 0xf8;
            let len_of_len = usize::from(first - if list { 0xf7 } else { 0xb7 });
            let len_bytes = bytes.get(at + 1..at + 1 + len_of_len)?;
            let mut payload = 0usize;
            for byte in len_bytes {
                payload = payload.checked_mul(256)?.checked_add(usize::from(*byte))?;
            }
            (1 + len_of_len, payload, list)
        }
    };
    let end = at.checked_add(header_len)?.checked_add(payload_len)?;
    (end <= bytes.len()).then_some(RlpItem {
        start: at,
        header_len,
        payload_len,
        list,
    })
}

/// Every RLP item in `bytes` (walking into lists), in order; a typed transaction's leading type
/// byte counts as a single-byte item. Stops where the structure stops making sense.
pub fn rlp_items(bytes: &[u8]) -> Vec<RlpItem> {
    let mut out = Vec::new();
    walk(bytes, 0, bytes.len(), &mut out, 0);
    out
}

fn walk(bytes: &[u8], mut at: usize, end: usize, out: &mut Vec<RlpItem>, depth: usize) {
    while at < end && depth < 16 {
        let Some(item) = rlp_item(bytes, at) else {
            return;
        };
        if item.end() > end {
            return;
        }
        out.push(item);
        if item.list {
            walk(
                bytes,
                item.start + item.header_len,
                item.end(),
                out,
                depth + 1,
            );
        }
        at = item.end();
    }
}

/// The top-level items of the RLP list that starts at `at`: `(list, items)`.
pub fn rlp_list_items(bytes: &[u8], at: usize) -> Option<(RlpItem, Vec<RlpItem>)> {
    let list = rlp_item(bytes, at)?;
    if !list.list {
        return None;
    }
    let mut items = Vec::new();
    let mut cursor = list.start + list.header_len;
    while cursor < list.end() {
        let item = rlp_item(bytes, cursor)?;
        if item.end() > list.end() {
            return None;
        }
        items.push(item);
        cursor = item.end();
    }
    Some((list, items))
}

/// The RLP header of a string or list of `payload_len` bytes.
pub fn rlp_header(list: bool, payload_len: usize) -> Vec<u8> {
    let (short, long) = if list { (0xc0u8, 0xf7u8) } else { (0x80, 0xb7) };
    if payload_len <= 55 {
        vec![short + payload_len as u8]
    } else {
        let be = payload_len.to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        let mut out = vec![long + (be.len() - skip) as u8];
        out.extend_from_slice(&be[skip..]);
        out
    }
}

/// `payload` as an RLP string.
pub fn rlp_string(payload: &[u8]) -> Vec<u8> {
    if payload.len() == 1 && payload[0] < 0x80 {
        return payload.to_vec();
    }
    let mut out = rlp_header(false, payload.len());
    out.extend_from_slice(payload);
    out
}

/// Concatenated RLP `items` as an RLP list.
pub fn rlp_list(items: &[Vec<u8>]) -> Vec<u8> {
    let payload: Vec<u8> = items.concat();
    let mut out = rlp_header(true, payload.len());
    out.extend_from_slice(&payload);
    out
}

/// Random RLP: strings, integers and lists nested a few levels deep.
pub fn rlp_value() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        bytes(40).prop_map(|b| rlp_string(&b)),
        any::<u64>().prop_map(|v| {
            let be = v.to_be_bytes();
            let skip = be.iter().take_while(|b| **b == 0).count();
            rlp_string(&be[skip..])
        }),
        proptest::collection::vec(any::<u8>(), 20).prop_map(|b| rlp_string(&b)),
        proptest::collection::vec(any::<u8>(), 32).prop_map(|b| rlp_string(&b)),
        Just(vec![0x80]),
        Just(vec![0xc0]),
    ];
    leaf.prop_recursive(3, 48, 12, |inner| {
        proptest::collection::vec(inner, 0..12).prop_map(|items| rlp_list(&items))
    })
}

/// Applies `edit` to the header of the `index`th RLP item of `bytes` (in [`rlp_items`] order);
/// does nothing if there is no such item.
pub fn edit_rlp(bytes: &mut Vec<u8>, index: usize, edit: RlpEdit) {
    let Some(item) = rlp_items(bytes).get(index).copied() else {
        return;
    };
    let at = item.start;
    let first = bytes[at];
    match edit {
        RlpEdit::Byte(byte) => bytes[at] = byte,
        RlpEdit::Grow(n) | RlpEdit::Shrink(n) => {
            let grow = matches!(edit, RlpEdit::Grow(_));
            if item.header_len == 1 {
                let (low, high) = if item.list {
                    (0xc0u8, 0xf7u8)
                } else {
                    (0x80, 0xb7)
                };
                let next = if grow {
                    first.saturating_add(n)
                } else {
                    first.saturating_sub(n)
                };
                bytes[at] = next.clamp(low, high);
            } else if item.header_len > 1 {
                let last = at + item.header_len - 1;
                bytes[last] = if grow {
                    bytes[last].wrapping_add(n)
                } else {
                    bytes[last].wrapping_sub(n)
                };
            } else {
                // A single byte: make it a string header claiming `n` bytes.
                bytes[at] = 0x80 + n;
            }
        }
        RlpEdit::Huge => {
            let header = [
                if item.list { 0xff } else { 0xbf },
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
                0xff,
            ];
            bytes.splice(at..at + item.header_len.max(1), header);
        }
        RlpEdit::LongForm => {
            let replacement: Vec<u8> = if item.header_len == 0 {
                vec![0x81, first]
            } else if item.header_len == 1 {
                let long = if item.list { 0xf8 } else { 0xb8 };
                vec![long, item.payload_len as u8]
            } else {
                // One more length byte, a leading zero (at most eight length bytes).
                match first {
                    0xbf | 0xff => bytes[at..at + item.header_len].to_vec(),
                    _ => {
                        let mut longer = vec![first + 1, 0];
                        longer.extend_from_slice(&bytes[at + 1..at + item.header_len]);
                        longer
                    }
                }
            };
            let replaced = if item.header_len == 0 {
                1
            } else {
                item.header_len
            };
            bytes.splice(at..at + replaced, replacement);
        }
    }
}
