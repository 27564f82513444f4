//! What the bridge contract on shard 0 asks of the rollup natively, in EVM words: the fold of
//! a priority request into the queue hash (so the bridge keeps the very hash the circuit
//! proves), and the check of an account's leaf against a state root (an exodus exit).
//! Shard 0's precompiles run these; the sequencer and `kaimeng l2 exit` build the same inputs.
//!
//! Every value travels as a 32-byte big-endian word. Field elements must be canonical,
//! integers must fit their width, and an L1 address fills the low 20 bytes. A malformed call
//! is a [`CallError`] that says what was wrong; nothing here panics on input.

use ff::PrimeField;

use crate::Fp;
use crate::account::{L1Address, LeafFields, key_commitment};
use crate::schnorr::PublicKey;
use crate::smt::{MerkleProof, TREE_DEPTH};
use crate::tx::{AMOUNT_BITS, DepositOp, ForcedExitOp, PriorityOp, SlotKind};

/// Bytes per word.
pub const WORD: usize = 32;
/// Input of [`fold_priority`]: `kind, queue hash, account, amount, l1 address, l2 key`.
pub const FOLD_INPUT_LEN: usize = 6 * WORD;
/// Input of [`check_account`]: `root, index, key commitment, l1 address, balance, nonce`,
/// then the 32 siblings from the leaf upwards.
pub const ACCOUNT_INPUT_LEN: usize = (6 + TREE_DEPTH) * WORD;

/// Why a call's input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("input is {found} bytes, expected {expected}")]
    Length { expected: usize, found: usize },
    #[error("{0} is not a canonical field element")]
    NotCanonical(&'static str),
    #[error("{what} does not fit in {bits} bits")]
    TooWide { what: &'static str, bits: u32 },
    #[error("kind {0} is neither a deposit (3) nor a forced exit (4)")]
    Kind(u64),
    #[error("the L2 key is not a valid compressed Pallas point")]
    BadKey,
    #[error("a forced exit carries no {0}")]
    ExitCarries(&'static str),
}

/// The `index`-th word of `input` (which the caller has length-checked).
fn word(input: &[u8], index: usize) -> &[u8; WORD] {
    input[index * WORD..(index + 1) * WORD]
        .try_into()
        .expect("a 32-byte slice")
}

/// A canonical field element from a big-endian word.
pub fn fp_from_word(word: &[u8; WORD], what: &'static str) -> Result<Fp, CallError> {
    let mut repr = *word;
    repr.reverse();
    Option::from(Fp::from_repr(repr)).ok_or(CallError::NotCanonical(what))
}

/// The big-endian word of a field element.
pub fn word_of_fp(value: Fp) -> [u8; WORD] {
    let mut word = value.to_repr();
    word.reverse();
    word
}

/// The integer in a word, if it fits in `bits` (at most 64).
pub fn uint_from_word(word: &[u8; WORD], bits: u32, what: &'static str) -> Result<u64, CallError> {
    let too_wide = CallError::TooWide { what, bits };
    if word[..24].iter().any(|b| *b != 0) {
        return Err(too_wide);
    }
    let value = u64::from_be_bytes(word[24..].try_into().expect("8 bytes"));
    if bits < 64 && value >> bits != 0 {
        return Err(too_wide);
    }
    Ok(value)
}

/// The word of an integer.
pub fn word_of_uint(value: u64) -> [u8; WORD] {
    let mut word = [0; WORD];
    word[24..].copy_from_slice(&value.to_be_bytes());
    word
}

/// The L1 address in the low 20 bytes of a word.
pub fn address_from_word(word: &[u8; WORD]) -> Result<L1Address, CallError> {
    if word[..12].iter().any(|b| *b != 0) {
        return Err(CallError::TooWide {
            what: "l1 address",
            bits: 160,
        });
    }
    Ok(L1Address(word[12..].try_into().expect("20 bytes")))
}

/// The word of an L1 address.
pub fn word_of_address(address: &L1Address) -> [u8; WORD] {
    let mut word = [0; WORD];
    word[12..].copy_from_slice(&address.0);
    word
}

/// Decodes a priority request from its fold input (without the queue hash, word 1).
pub fn decode_priority(input: &[u8]) -> Result<PriorityOp, CallError> {
    if input.len() != FOLD_INPUT_LEN {
        return Err(CallError::Length {
            expected: FOLD_INPUT_LEN,
            found: input.len(),
        });
    }
    let kind = uint_from_word(word(input, 0), 8, "kind")?;
    let account = uint_from_word(word(input, 2), 32, "account")? as u32;
    let amount = uint_from_word(word(input, 3), AMOUNT_BITS as u32, "amount")?;
    let l1_address = address_from_word(word(input, 4))?;
    let key = word(input, 5);
    match kind {
        k if k == SlotKind::Deposit as u64 => {
            let public_key = PublicKey::from_bytes(key).ok_or(CallError::BadKey)?;
            Ok(PriorityOp::Deposit(DepositOp {
                to: account,
                l1_address,
                public_key,
                amount,
            }))
        }
        k if k == SlotKind::ForcedExit as u64 => {
            if amount != 0 {
                return Err(CallError::ExitCarries("amount"));
            }
            if key.iter().any(|b| *b != 0) {
                return Err(CallError::ExitCarries("L2 key"));
            }
            Ok(PriorityOp::ForcedExit(ForcedExitOp {
                account,
                l1_address,
            }))
        }
        other => Err(CallError::Kind(other)),
    }
}

/// The fold input of `op` after `queue_hash`.
pub fn encode_priority(queue_hash: Fp, op: &PriorityOp) -> Vec<u8> {
    let (kind, account, amount, l1_address, key) = match op {
        PriorityOp::Deposit(d) => (
            SlotKind::Deposit,
            d.to,
            d.amount,
            d.l1_address,
            d.public_key.to_bytes(),
        ),
        PriorityOp::ForcedExit(f) => (SlotKind::ForcedExit, f.account, 0, f.l1_address, [0; 32]),
    };
    [
        word_of_uint(kind as u64),
        word_of_fp(queue_hash),
        word_of_uint(u64::from(account)),
        word_of_uint(amount),
        word_of_address(&l1_address),
        key,
    ]
    .concat()
}

/// Folds the priority request in `input` into the queue hash in it. Returns the new queue
/// hash and the request's key commitment (zero for a forced exit), as two words: the bridge
/// keeps the hash after every request, and binds an account index to its key.
pub fn fold_priority(input: &[u8]) -> Result<[u8; 2 * WORD], CallError> {
    let op = decode_priority(input)?;
    let queue_hash = fp_from_word(word(input, 1), "queue hash")?;
    let commitment = match &op {
        PriorityOp::Deposit(d) => key_commitment(&d.public_key),
        PriorityOp::ForcedExit(_) => Fp::from(0u64),
    };
    let mut out = [0; 2 * WORD];
    out[..WORD].copy_from_slice(&word_of_fp(op.fold_into(queue_hash)));
    out[WORD..].copy_from_slice(&word_of_fp(commitment));
    Ok(out)
}

/// An account's leaf and its path, as an exodus exit proves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountClaim {
    pub root: Fp,
    pub index: u32,
    pub key_commitment: Fp,
    pub l1_address: L1Address,
    pub balance: u64,
    pub nonce: u32,
    pub siblings: [Fp; TREE_DEPTH],
}

impl AccountClaim {
    pub fn decode(input: &[u8]) -> Result<Self, CallError> {
        if input.len() != ACCOUNT_INPUT_LEN {
            return Err(CallError::Length {
                expected: ACCOUNT_INPUT_LEN,
                found: input.len(),
            });
        }
        let mut siblings = [Fp::from(0u64); TREE_DEPTH];
        for (height, sibling) in siblings.iter_mut().enumerate() {
            *sibling = fp_from_word(word(input, 6 + height), "sibling")?;
        }
        Ok(Self {
            root: fp_from_word(word(input, 0), "root")?,
            index: uint_from_word(word(input, 1), 32, "index")? as u32,
            key_commitment: fp_from_word(word(input, 2), "key commitment")?,
            l1_address: address_from_word(word(input, 3))?,
            balance: uint_from_word(word(input, 4), 64, "balance")?,
            nonce: uint_from_word(word(input, 5), 32, "nonce")? as u32,
            siblings,
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = [
            word_of_fp(self.root),
            word_of_uint(u64::from(self.index)),
            word_of_fp(self.key_commitment),
            word_of_address(&self.l1_address),
            word_of_uint(self.balance),
            word_of_uint(u64::from(self.nonce)),
        ]
        .concat();
        for sibling in &self.siblings {
            out.extend_from_slice(&word_of_fp(*sibling));
        }
        out
    }

    /// Whether this leaf sits at its index under its root.
    pub fn holds(&self) -> bool {
        let leaf = LeafFields {
            key_commitment: self.key_commitment,
            l1_address: self.l1_address.to_field(),
            balance: Fp::from(self.balance),
            nonce: Fp::from(u64::from(self.nonce)),
        }
        .hash();
        MerkleProof {
            index: self.index,
            siblings: self.siblings,
        }
        .verify(self.root, leaf)
    }
}

/// Checks the account claim in `input`: `Ok(true)` if the leaf sits under the root.
pub fn check_account(input: &[u8]) -> Result<bool, CallError> {
    Ok(AccountClaim::decode(input)?.holds())
}
