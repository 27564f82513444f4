//! L2 operations, the message a user signs, the bytes published per slot, and the field
//! elements the proofs commit to.
//!
//! A chunk is a fixed number of *slots*; each slot holds one operation:
//!
//! | kind | code | debits (side A) | credits (side B) | signed | from L1 queue |
//! |---|---|---|---|---|---|
//! | padding | 0 | — | — | no | no |
//! | transfer | 1 | `from`: amount + fee, nonce + 1 | `to`: amount | yes | no |
//! | withdraw | 2 | `from`: amount + fee, nonce + 1 | — | yes | no |
//! | deposit | 3 | — | `to`: amount (binds key and L1 address) | no | yes |
//! | forced exit | 4 | whole balance if the L1 address matches | — | no | yes |
//!
//! Published bytes per slot (big-endian integers): transfer `01 from:4 to:4 amount:5 fee:2`
//! (16 bytes); withdraw `02 from:4 amount:5 fee:2 l1:20`; deposit `03 to:4 amount:8`; forced
//! exit `04 account:4 amount:8 l1:20`; padding publishes nothing. The proof commits to two field
//! elements per slot, `d0 = kind | a·2^8 | b·2^40 | amount·2^72 | fee·2^136` and `d1 = l1`
//! (withdrawals only, zero otherwise), where `a`/`b` are the debited/credited account indices
//! (the same index for one-sided operations, zero for padding).

use ff::Field;

use crate::Fp;
use crate::account::{L1Address, key_commitment};
use crate::poseidon::hash4;
use crate::schnorr::{PublicKey, Signature, SigningKey};

/// Transfer and withdrawal amounts are below `2^AMOUNT_BITS` (5 published bytes).
pub const AMOUNT_BITS: usize = 40;
/// Fees are below `2^FEE_BITS` (2 published bytes).
pub const FEE_BITS: usize = 16;

/// Bit offsets inside the slot data word `d0` and the signed message word.
pub mod layout {
    /// Account index `a` (debited side).
    pub const A: u32 = 8;
    /// Account index `b` (credited side).
    pub const B: u32 = 40;
    /// Amount (up to 64 bits).
    pub const AMOUNT: u32 = 72;
    /// Fee.
    pub const FEE: u32 = 136;
    /// Chain id (signed message only).
    pub const CHAIN_ID: u32 = 152;
    /// Nonce (signed message only; the top field).
    pub const NONCE: u32 = 216;
    /// Priority-op word: account index.
    pub const OP_INDEX: u32 = 8;
    /// Priority-op word: amount.
    pub const OP_AMOUNT: u32 = 40;
}

/// `2^bits` as a field element (from a table below 256 bits: the slot and message words use it
/// for every field of every slot, and a power each time was about 4 % of a batch's verification).
pub fn pow2(bits: u32) -> Fp {
    static TABLE: std::sync::OnceLock<Vec<Fp>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        std::iter::successors(Some(Fp::ONE), |x| Some(x.double()))
            .take(256)
            .collect()
    });
    table
        .get(bits as usize)
        .copied()
        .unwrap_or_else(|| Fp::from(2u64).pow_vartime([u64::from(bits)]))
}

/// The kind of a slot; the discriminant is the code published and committed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum SlotKind {
    /// An empty slot.
    Padding = 0,
    /// A signed transfer between two L2 accounts.
    Transfer = 1,
    /// A signed withdrawal to the account's L1 address.
    Withdraw = 2,
    /// A deposit from the L1 priority queue.
    Deposit = 3,
    /// A forced exit from the L1 priority queue.
    ForcedExit = 4,
}

impl SlotKind {
    /// Parses a published kind byte.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Padding,
            1 => Self::Transfer,
            2 => Self::Withdraw,
            3 => Self::Deposit,
            4 => Self::ForcedExit,
            _ => return None,
        })
    }
}

/// An unsigned transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// Sender index.
    pub from: u32,
    /// Receiver index.
    pub to: u32,
    /// Amount, below `2^40`.
    pub amount: u64,
    /// Fee paid to the sequencer.
    pub fee: u16,
    /// The sender's current nonce.
    pub nonce: u32,
}

/// An unsigned withdrawal to the account's L1 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Withdraw {
    /// Account index.
    pub from: u32,
    /// Amount, below `2^40`.
    pub amount: u64,
    /// Fee paid to the sequencer.
    pub fee: u16,
    /// The account's current nonce.
    pub nonce: u32,
}

/// The signed message word for any signed operation.
fn message_word(
    kind: SlotKind,
    from: u32,
    to: u32,
    amount: u64,
    fee: u16,
    nonce: u32,
    chain_id: u64,
) -> Fp {
    Fp::from(kind as u64)
        + pow2(layout::A) * Fp::from(u64::from(from))
        + pow2(layout::B) * Fp::from(u64::from(to))
        + pow2(layout::AMOUNT) * Fp::from(amount)
        + pow2(layout::FEE) * Fp::from(u64::from(fee))
        + pow2(layout::CHAIN_ID) * Fp::from(chain_id)
        + pow2(layout::NONCE) * Fp::from(u64::from(nonce))
}

impl Transfer {
    /// The message word the sender signs (binds the chain id and the nonce).
    pub fn message(&self, chain_id: u64) -> Fp {
        message_word(
            SlotKind::Transfer,
            self.from,
            self.to,
            self.amount,
            self.fee,
            self.nonce,
            chain_id,
        )
    }

    /// Signs this transfer.
    pub fn sign(self, key: &SigningKey, chain_id: u64) -> SignedTransfer {
        SignedTransfer {
            signature: key.sign(self.message(chain_id)),
            tx: self,
        }
    }
}

impl Withdraw {
    /// The message word the owner signs (`to` is the account itself).
    pub fn message(&self, chain_id: u64) -> Fp {
        message_word(
            SlotKind::Withdraw,
            self.from,
            self.from,
            self.amount,
            self.fee,
            self.nonce,
            chain_id,
        )
    }

    /// Signs this withdrawal.
    pub fn sign(self, key: &SigningKey, chain_id: u64) -> SignedWithdraw {
        SignedWithdraw {
            signature: key.sign(self.message(chain_id)),
            tx: self,
        }
    }
}

/// A transfer with its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedTransfer {
    /// The transfer.
    pub tx: Transfer,
    /// The sender's signature on [`Transfer::message`].
    pub signature: Signature,
}

/// A withdrawal with its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedWithdraw {
    /// The withdrawal.
    pub tx: Withdraw,
    /// The owner's signature on [`Withdraw::message`].
    pub signature: Signature,
}

/// A deposit queued on L1: credits `to` and binds it to `public_key` and `l1_address`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepositOp {
    /// Account index assigned by the bridge.
    pub to: u32,
    /// The depositor's L1 address.
    pub l1_address: L1Address,
    /// The L2 key the account is bound to.
    pub public_key: PublicKey,
    /// Amount in L2 units.
    pub amount: u64,
}

/// A forced exit queued on L1 by `l1_address`: withdraws the whole balance of `account` if that
/// account belongs to `l1_address`, and is a no-op otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForcedExitOp {
    /// Account index.
    pub account: u32,
    /// The L1 address that asked for the exit.
    pub l1_address: L1Address,
}

/// An operation from the bridge's L1 priority queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriorityOp {
    /// A deposit.
    Deposit(DepositOp),
    /// A forced exit.
    ForcedExit(ForcedExitOp),
}

impl PriorityOp {
    /// `(w0, l1, key commitment)`: the three words folded into the queue hash.
    pub fn words(&self) -> [Fp; 3] {
        match self {
            PriorityOp::Deposit(d) => [
                Fp::from(SlotKind::Deposit as u64)
                    + pow2(layout::OP_INDEX) * Fp::from(u64::from(d.to))
                    + pow2(layout::OP_AMOUNT) * Fp::from(d.amount),
                d.l1_address.to_field(),
                key_commitment(&d.public_key),
            ],
            PriorityOp::ForcedExit(f) => [
                Fp::from(SlotKind::ForcedExit as u64)
                    + pow2(layout::OP_INDEX) * Fp::from(u64::from(f.account)),
                f.l1_address.to_field(),
                Fp::ZERO,
            ],
        }
    }

    /// The queue hash after this operation: `H(queue, w0, l1, key commitment)`.
    pub fn fold_into(&self, queue_hash: Fp) -> Fp {
        let [w0, l1, kc] = self.words();
        hash4(queue_hash, w0, l1, kc)
    }
}

/// The rolling hash of a sequence of priority operations, starting from `start`.
pub fn queue_hash(start: Fp, ops: &[PriorityOp]) -> Fp {
    ops.iter().fold(start, |q, op| op.fold_into(q))
}

/// One slot's operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L2Op {
    /// Nothing.
    Padding,
    /// A signed transfer.
    Transfer(SignedTransfer),
    /// A signed withdrawal.
    Withdraw(SignedWithdraw),
    /// A priority-queue operation.
    Priority(PriorityOp),
}

impl L2Op {
    /// The slot kind.
    pub fn kind(&self) -> SlotKind {
        match self {
            L2Op::Padding => SlotKind::Padding,
            L2Op::Transfer(_) => SlotKind::Transfer,
            L2Op::Withdraw(_) => SlotKind::Withdraw,
            L2Op::Priority(PriorityOp::Deposit(_)) => SlotKind::Deposit,
            L2Op::Priority(PriorityOp::ForcedExit(_)) => SlotKind::ForcedExit,
        }
    }
}

/// What a processed slot publishes; enough to rebuild the committed words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotData {
    /// The slot kind.
    pub kind: SlotKind,
    /// The debited (or only) account index.
    pub a: u32,
    /// The credited (or only) account index.
    pub b: u32,
    /// Amount moved (for a forced exit: the balance withdrawn).
    pub amount: u64,
    /// Fee.
    pub fee: u16,
    /// Recipient on L1 (withdrawals and forced exits).
    pub l1_address: L1Address,
}

impl SlotData {
    /// The padding slot.
    pub const PADDING: SlotData = SlotData {
        kind: SlotKind::Padding,
        a: 0,
        b: 0,
        amount: 0,
        fee: 0,
        l1_address: L1Address([0; 20]),
    };

    /// The two committed words `(d0, d1)`.
    pub fn words(&self) -> [Fp; 2] {
        let d0 = Fp::from(self.kind as u64)
            + pow2(layout::A) * Fp::from(u64::from(self.a))
            + pow2(layout::B) * Fp::from(u64::from(self.b))
            + pow2(layout::AMOUNT) * Fp::from(self.amount)
            + pow2(layout::FEE) * Fp::from(u64::from(self.fee));
        let d1 = match self.kind {
            SlotKind::Withdraw | SlotKind::ForcedExit => self.l1_address.to_field(),
            _ => Fp::ZERO,
        };
        [d0, d1]
    }

    /// The published bytes (see the module docs).
    pub fn to_pubdata(&self) -> Vec<u8> {
        let mut out = vec![self.kind as u8];
        match self.kind {
            SlotKind::Padding => return Vec::new(),
            SlotKind::Transfer => {
                out.extend_from_slice(&self.a.to_be_bytes());
                out.extend_from_slice(&self.b.to_be_bytes());
                out.extend_from_slice(&self.amount.to_be_bytes()[3..]);
                out.extend_from_slice(&self.fee.to_be_bytes());
            }
            SlotKind::Withdraw => {
                out.extend_from_slice(&self.a.to_be_bytes());
                out.extend_from_slice(&self.amount.to_be_bytes()[3..]);
                out.extend_from_slice(&self.fee.to_be_bytes());
                out.extend_from_slice(&self.l1_address.0);
            }
            SlotKind::Deposit => {
                out.extend_from_slice(&self.b.to_be_bytes());
                out.extend_from_slice(&self.amount.to_be_bytes());
            }
            SlotKind::ForcedExit => {
                out.extend_from_slice(&self.a.to_be_bytes());
                out.extend_from_slice(&self.amount.to_be_bytes());
                out.extend_from_slice(&self.l1_address.0);
            }
        }
        out
    }
}

/// Why published bytes could not be decoded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PubdataError {
    /// A kind byte that is not a known slot kind (or is padding, which publishes nothing).
    #[error("unknown slot kind byte {0:#04x} at offset {1}")]
    UnknownKind(u8, usize),
    /// The bytes end in the middle of a slot.
    #[error("pubdata truncated: slot at offset {offset} needs {needed} bytes, {available} left")]
    Truncated {
        /// Offset of the slot.
        offset: usize,
        /// Bytes the slot needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// More slots than the chunk holds.
    #[error("pubdata holds more than {0} slots")]
    TooManySlots(usize),
}

fn be_u64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
}

/// The most bytes one slot publishes (a forced exit).
pub const MAX_SLOT_BYTES: usize = 33;

/// Decodes a chunk's published bytes into `chunk_slots` slots (trailing padding implied).
pub fn parse_pubdata(bytes: &[u8], chunk_slots: usize) -> Result<Vec<SlotData>, PubdataError> {
    let mut slots = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if slots.len() == chunk_slots {
            return Err(PubdataError::TooManySlots(chunk_slots));
        }
        let kind = SlotKind::from_code(bytes[at])
            .filter(|k| *k != SlotKind::Padding)
            .ok_or(PubdataError::UnknownKind(bytes[at], at))?;
        let len = match kind {
            SlotKind::Transfer => 16,
            SlotKind::Withdraw => 32,
            SlotKind::Deposit => 13,
            SlotKind::ForcedExit => MAX_SLOT_BYTES,
            SlotKind::Padding => 1,
        };
        if bytes.len() - at < len {
            return Err(PubdataError::Truncated {
                offset: at,
                needed: len,
                available: bytes.len() - at,
            });
        }
        let body = &bytes[at + 1..at + len];
        let mut l1 = [0u8; 20];
        let slot = match kind {
            SlotKind::Transfer => SlotData {
                kind,
                a: be_u64(&body[0..4]) as u32,
                b: be_u64(&body[4..8]) as u32,
                amount: be_u64(&body[8..13]),
                fee: be_u64(&body[13..15]) as u16,
                l1_address: L1Address::default(),
            },
            SlotKind::Withdraw => {
                let a = be_u64(&body[0..4]) as u32;
                l1.copy_from_slice(&body[11..31]);
                SlotData {
                    kind,
                    a,
                    b: a,
                    amount: be_u64(&body[4..9]),
                    fee: be_u64(&body[9..11]) as u16,
                    l1_address: L1Address(l1),
                }
            }
            SlotKind::Deposit => {
                let b = be_u64(&body[0..4]) as u32;
                SlotData {
                    kind,
                    a: b,
                    b,
                    amount: be_u64(&body[4..12]),
                    fee: 0,
                    l1_address: L1Address::default(),
                }
            }
            SlotKind::ForcedExit => {
                let a = be_u64(&body[0..4]) as u32;
                l1.copy_from_slice(&body[12..32]);
                SlotData {
                    kind,
                    a,
                    b: a,
                    amount: be_u64(&body[4..12]),
                    fee: 0,
                    l1_address: L1Address(l1),
                }
            }
            SlotKind::Padding => SlotData::PADDING,
        };
        slots.push(slot);
        at += len;
    }
    slots.resize(chunk_slots, SlotData::PADDING);
    Ok(slots)
}

/// The data commitment over a chunk's slots: the constant-length Poseidon hash of all
/// `(d0, d1)` words in slot order.
pub fn data_commitment(slots: &[SlotData]) -> Fp {
    crate::poseidon::hash(&slot_words(slots))
}

/// [`data_commitment`] of each chunk, eight at a time where the CPU can
/// ([`crate::poseidon_lanes`]).
pub fn data_commitments(chunks: &[Vec<SlotData>]) -> Vec<Fp> {
    let words: Vec<Vec<Fp>> = chunks.iter().map(|slots| slot_words(slots)).collect();
    let views: Vec<&[Fp]> = words.iter().map(Vec::as_slice).collect();
    crate::poseidon_lanes::hash_many(&views)
}

fn slot_words(slots: &[SlotData]) -> Vec<Fp> {
    slots.iter().flat_map(|s| s.words()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pow2_is_two_to_the_power_in_and_beyond_its_table() {
        for bits in [0, 1, 8, 40, 63, 64, 128, 216, 254, 255, 256, 300] {
            assert_eq!(
                pow2(bits),
                Fp::from(2u64).pow_vartime([u64::from(bits)]),
                "{bits}"
            );
        }
    }

    fn l1(n: u8) -> L1Address {
        L1Address([n; 20])
    }

    #[test]
    fn pubdata_round_trips_every_kind() {
        let slots = vec![
            SlotData {
                kind: SlotKind::Transfer,
                a: 7,
                b: 9,
                amount: (1 << 40) - 1,
                fee: 65535,
                l1_address: L1Address::default(),
            },
            SlotData {
                kind: SlotKind::Withdraw,
                a: 3,
                b: 3,
                amount: 55,
                fee: 2,
                l1_address: l1(0xab),
            },
            SlotData {
                kind: SlotKind::Deposit,
                a: u32::MAX,
                b: u32::MAX,
                amount: u64::MAX,
                fee: 0,
                l1_address: L1Address::default(),
            },
            SlotData {
                kind: SlotKind::ForcedExit,
                a: 1,
                b: 1,
                amount: 12,
                fee: 0,
                l1_address: l1(0x11),
            },
        ];
        let bytes: Vec<u8> = slots.iter().flat_map(|s| s.to_pubdata()).collect();
        assert_eq!(slots[0].to_pubdata().len(), 16);
        let parsed = parse_pubdata(&bytes, 6).unwrap();
        assert_eq!(&parsed[..4], &slots[..]);
        assert_eq!(parsed[4], SlotData::PADDING);
        assert_eq!(data_commitment(&parsed), {
            let mut all = slots.clone();
            all.resize(6, SlotData::PADDING);
            data_commitment(&all)
        });
    }

    #[test]
    fn pubdata_errors_are_typed() {
        assert_eq!(parse_pubdata(&[9], 4), Err(PubdataError::UnknownKind(9, 0)));
        assert!(matches!(
            parse_pubdata(&[1, 0, 0], 4),
            Err(PubdataError::Truncated { offset: 0, .. })
        ));
        let one = SlotData {
            kind: SlotKind::Deposit,
            a: 1,
            b: 1,
            amount: 1,
            fee: 0,
            l1_address: L1Address::default(),
        }
        .to_pubdata();
        let two: Vec<u8> = one.iter().chain(one.iter()).copied().collect();
        assert_eq!(parse_pubdata(&two, 1), Err(PubdataError::TooManySlots(1)));
    }

    #[test]
    fn messages_differ_by_chain_and_nonce() {
        let t = Transfer {
            from: 1,
            to: 2,
            amount: 3,
            fee: 4,
            nonce: 5,
        };
        assert_ne!(t.message(1), t.message(2));
        assert_ne!(t.message(1), Transfer { nonce: 6, ..t }.message(1));
    }
}
