//! The witness of one chunk proof, built from the native model's [`ChunkOutcome`], and its
//! native evaluation: every value the circuit assigns, the public inputs, and a check of every
//! rule the circuit enforces, so a bad witness is refused with the rule it breaks before any
//! proving work starts.

use ff::{Field, PrimeField};
use group::Curve;
use kaimeng_rollup::account::LeafFields;
use kaimeng_rollup::poseidon::{self, State, capacity_for_length, hash2, hash4};
use kaimeng_rollup::schnorr::{PublicKey, Signature, challenge, generator};
use kaimeng_rollup::smt::{MerkleProof, TREE_DEPTH};
use kaimeng_rollup::stf::{ChunkOutcome, SideTrace};
use kaimeng_rollup::tx::{AMOUNT_BITS, FEE_BITS, SlotKind, layout, pow2};
use kaimeng_rollup::{Fp, Fq};
use pasta_curves::arithmetic::CurveAffine;
use pasta_curves::pallas;

use crate::circuit::schnorr::{SignatureTrace, xy};
use crate::circuit::slot_rules::{
    AccountCells, FeeCells, Flags, WordCells, account_rules, fee_rules, word_rules,
};

/// Why a witness cannot be proven.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WitnessError {
    /// The witness has a different number of slots than the circuit.
    #[error("witness has {got} slots, the circuit has {expected}")]
    SlotCount {
        /// Slots in the circuit.
        expected: usize,
        /// Slots in the witness.
        got: usize,
    },
    /// A Merkle path does not lead from the leaf to the running root.
    #[error("slot {slot}: side {side} path does not match the state root")]
    RootMismatch {
        /// Slot (`usize::MAX` for the fee credit).
        slot: usize,
        /// `"a"`, `"b"` or `"fee"`.
        side: &'static str,
    },
    /// A rule of the circuit does not hold.
    #[error("slot {slot}: rule '{rule}' does not hold")]
    RuleViolated {
        /// Slot (`usize::MAX` for the fee credit).
        slot: usize,
        /// The rule's name (the same name as the circuit's constraint).
        rule: &'static str,
    },
    /// A value is outside the range the circuit checks.
    #[error("slot {slot}: {what} is out of range")]
    OutOfRange {
        /// Slot (`usize::MAX` for the fee credit).
        slot: usize,
        /// Which value.
        what: &'static str,
    },
    /// A signed slot without its signature, or an unsigned slot with one.
    #[error("slot {slot}: signature data does not match the slot kind")]
    SignatureShape {
        /// Slot.
        slot: usize,
    },
    /// A queue slot without its operation, or another slot with one.
    #[error("slot {slot}: priority-operation data does not match the slot kind")]
    PriorityShape {
        /// Slot.
        slot: usize,
    },
    /// The fee credit is not for the configured fee account.
    #[error("fee credit is for account {got}, the chunk pays account {expected}")]
    FeeAccount {
        /// Configured account.
        expected: u32,
        /// Account in the fee credit.
        got: u32,
    },
}

/// One side of a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SideWitness {
    /// Account index.
    pub index: u32,
    /// Leaf before.
    pub before: LeafFields,
    /// Leaf after.
    pub after: LeafFields,
    /// Merkle siblings, leaf level first.
    pub siblings: [Fp; TREE_DEPTH],
}

impl SideWitness {
    fn from_trace(t: &SideTrace) -> Self {
        Self {
            index: t.index,
            before: t.before.leaf_fields(),
            after: t.after.leaf_fields(),
            siblings: t.path.siblings,
        }
    }

    fn path(&self) -> MerkleProof {
        MerkleProof {
            index: self.index,
            siblings: self.siblings,
        }
    }
}

/// The signer of a signed slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureWitness {
    /// The signing key.
    pub public_key: PublicKey,
    /// The signature.
    pub signature: Signature,
}

/// The priority-queue operation of a deposit or forced exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriorityWitness {
    /// The op's L1 address.
    pub l1_address: Fp,
    /// The op's key commitment (zero for a forced exit).
    pub key_commitment: Fp,
}

/// One slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotWitness {
    /// Kind.
    pub kind: SlotKind,
    /// Amount (for a forced exit: the balance withdrawn).
    pub amount: u64,
    /// Fee (below `2^16` in a valid witness).
    pub fee: u64,
    /// Debited side.
    pub a: SideWitness,
    /// Credited side.
    pub b: SideWitness,
    /// Signature (transfers and withdrawals).
    pub signature: Option<SignatureWitness>,
    /// Priority op (deposits and forced exits).
    pub priority: Option<PriorityWitness>,
}

/// Everything a chunk proof needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkWitness {
    /// Chain id bound into signatures.
    pub chain_id: u64,
    /// The account credited with the fees.
    pub fee_account: u32,
    /// Root before the chunk.
    pub old_root: Fp,
    /// Queue hash before the chunk.
    pub queue_before: Fp,
    /// The slots.
    pub slots: Vec<SlotWitness>,
    /// The fee credit.
    pub fee_side: SideWitness,
}

/// What a chunk proof claims. The proof's instance column holds one value, [`Self::digest`]
/// of these seven, so a verifier commits to one field element per proof instead of seven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicInputs {
    /// State root before.
    pub old_root: Fp,
    /// State root after.
    pub new_root: Fp,
    /// Commitment to the chunk's published data.
    pub data_commitment: Fp,
    /// Priority-queue hash before.
    pub queue_before: Fp,
    /// Priority-queue hash after.
    pub queue_after: Fp,
    /// Chain id.
    pub chain_id: u64,
    /// Fee account.
    pub fee_account: u32,
}

/// Number of public inputs (values in the instance column).
pub const PUBLIC_INPUTS: usize = 1;

impl PublicInputs {
    /// `H(H4(old root, new root, data, queue before), H4(queue after, chain id, fee account,
    /// 0))` with the rollup's Poseidon: two four-word hashes side by side in the circuit's two
    /// lanes, then one pair hash.
    pub fn digest(&self) -> Fp {
        let [[a, b, c, d], [e, f, g, h]] = self.halves();
        hash2(hash4(a, b, c, d), hash4(e, f, g, h))
    }

    /// The instance column.
    pub fn to_vec(&self) -> Vec<Fp> {
        vec![self.digest()]
    }

    /// The two four-word halves [`Self::digest`] hashes.
    fn halves(&self) -> [[Fp; 4]; 2] {
        [
            [
                self.old_root,
                self.new_root,
                self.data_commitment,
                self.queue_before,
            ],
            [
                self.queue_after,
                Fp::from(self.chain_id),
                Fp::from(u64::from(self.fee_account)),
                Fp::ZERO,
            ],
        ]
    }

    /// [`Self::digest`] of each, computed side by side in SIMD lanes where the CPU has them
    /// (a verifier hashes every chunk of a pack).
    pub fn digests(publics: &[PublicInputs]) -> Vec<Fp> {
        let halves: Vec<[[Fp; 4]; 2]> = publics.iter().map(Self::halves).collect();
        let words: Vec<&[Fp]> = halves.iter().flatten().map(|h| h.as_slice()).collect();
        let hashed = kaimeng_rollup::poseidon_lanes::hash_many(&words);
        let pairs: Vec<(Fp, Fp)> = hashed.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        kaimeng_rollup::poseidon_lanes::hash2_many(&pairs)
    }
}

impl ChunkWitness {
    /// Builds the witness of a chunk the native model applied.
    pub fn from_outcome(outcome: &ChunkOutcome) -> Self {
        let slots = outcome
            .slots
            .iter()
            .map(|s| SlotWitness {
                kind: s.data.kind,
                amount: s.data.amount,
                fee: u64::from(s.data.fee),
                a: SideWitness::from_trace(&s.a),
                b: SideWitness::from_trace(&s.b),
                signature: s.signer.map(|sig| SignatureWitness {
                    public_key: sig.public_key,
                    signature: sig.signature,
                }),
                priority: s.priority.map(|op| {
                    let [_, l1, kc] = op.words();
                    PriorityWitness {
                        l1_address: l1,
                        key_commitment: kc,
                    }
                }),
            })
            .collect();
        Self {
            chain_id: outcome.config.chain_id,
            fee_account: outcome.config.fee_account,
            old_root: outcome.old_root,
            queue_before: outcome.queue_before,
            slots,
            fee_side: SideWitness::from_trace(&outcome.fee_credit),
        }
    }
}

/// A slot's circuit values.
#[derive(Clone, Debug)]
pub struct SlotValues {
    /// Account block.
    pub accounts: AccountCells<Fp>,
    /// Word block.
    pub words: WordCells<Fp>,
    /// Debited side.
    pub a: SideWitness,
    /// Credited side.
    pub b: SideWitness,
    /// Signing key (`[2]G` for unsigned slots).
    pub public_key: pallas::Affine,
    /// Signature commitment `R` (the generator for unsigned slots).
    pub r: pallas::Affine,
    /// The signature chip's rows (response one for unsigned slots).
    pub signature: SignatureTrace,
    /// Data sponge state before the slot.
    pub data_state: State,
}

/// The whole chunk's circuit values.
#[derive(Clone, Debug)]
pub struct ChunkValues {
    /// Per slot.
    pub slots: Vec<SlotValues>,
    /// Fee block.
    pub fee: FeeCells<Fp>,
    /// Fee side.
    pub fee_side: SideWitness,
    /// Public inputs.
    pub public: PublicInputs,
}

fn fp(v: u64) -> Fp {
    Fp::from(v)
}

fn bit(b: bool) -> Fp {
    if b { Fp::ONE } else { Fp::ZERO }
}

fn invert_or_zero(v: Fp) -> Fp {
    Option::from(v.invert()).unwrap_or(Fp::ZERO)
}

/// Whether `v < 2^bits`.
fn fits(v: Fp, bits: usize) -> bool {
    let repr = v.to_repr();
    let bytes = repr.as_ref();
    (bits..256).all(|i| (bytes[i / 8] >> (i % 8)) & 1 == 0)
}

fn check_rules(slot: usize, rules: Vec<(&'static str, Fp)>) -> Result<(), WitnessError> {
    match rules.into_iter().find(|(_, v)| !bool::from(v.is_zero())) {
        Some((rule, _)) => Err(WitnessError::RuleViolated { slot, rule }),
        None => Ok(()),
    }
}

impl ChunkWitness {
    /// Evaluates the witness natively: every circuit value and the public inputs, refusing a
    /// witness that breaks any rule the circuit checks.
    pub fn evaluate(&self, slots: usize) -> Result<ChunkValues, WitnessError> {
        self.compute(slots, true)
    }

    /// Computes the circuit values without checking the rules (only the shape). The circuit
    /// built from a bad witness this way does not verify; tests use it to show which
    /// constraint catches each attack.
    pub fn values_unchecked(&self, slots: usize) -> Result<ChunkValues, WitnessError> {
        self.compute(slots, false)
    }

    fn compute(&self, slots: usize, check: bool) -> Result<ChunkValues, WitnessError> {
        if self.slots.len() != slots {
            return Err(WitnessError::SlotCount {
                expected: slots,
                got: self.slots.len(),
            });
        }
        let mut root = self.old_root;
        let mut queue = self.queue_before;
        let mut fee_total = 0u64;
        let mut data_state: State = [Fp::ZERO, Fp::ZERO, capacity_for_length(2 * slots)];
        let mut out = Vec::with_capacity(slots);
        for (i, s) in self.slots.iter().enumerate() {
            for (side, w) in [("a", &s.a), ("b", &s.b)] {
                let path = w.path();
                if check && path.root_for(w.before.hash()) != root {
                    return Err(WitnessError::RootMismatch { slot: i, side });
                }
                root = path.root_for(w.after.hash());
            }
            let values = self.slot_values(i, s, queue, fee_total, data_state, check)?;
            queue = values.words.queue[2];
            fee_total = fee_total.wrapping_add(s.fee);
            data_state = poseidon::permute(&[
                data_state[0] + values.words.d0,
                data_state[1] + values.words.d1,
                data_state[2],
            ]);
            out.push(values);
        }

        let f = &self.fee_side;
        if check && f.index != self.fee_account {
            return Err(WitnessError::FeeAccount {
                expected: self.fee_account,
                got: f.index,
            });
        }
        if check && f.path().root_for(f.before.hash()) != root {
            return Err(WitnessError::RootMismatch {
                slot: usize::MAX,
                side: "fee",
            });
        }
        let fee = FeeCells {
            balance: [f.before.balance, f.after.balance],
            total: fp(fee_total),
            kc: f.before.key_commitment,
            kc_inv: invert_or_zero(f.before.key_commitment),
        };
        if check {
            check_rules(usize::MAX, fee_rules(&fee, |c| c))?;
            if f.before.key_commitment != f.after.key_commitment
                || f.before.l1_address != f.after.l1_address
                || f.before.nonce != f.after.nonce
            {
                return Err(WitnessError::RuleViolated {
                    slot: usize::MAX,
                    rule: "fee account only gains balance",
                });
            }
            if !fits(f.after.balance, 64) {
                return Err(WitnessError::OutOfRange {
                    slot: usize::MAX,
                    what: "fee account balance",
                });
            }
        }
        let new_root = f.path().root_for(f.after.hash());
        Ok(ChunkValues {
            slots: out,
            fee,
            fee_side: *f,
            public: PublicInputs {
                old_root: self.old_root,
                new_root,
                data_commitment: data_state[0],
                queue_before: self.queue_before,
                queue_after: queue,
                chain_id: self.chain_id,
                fee_account: self.fee_account,
            },
        })
    }

    fn slot_values(
        &self,
        i: usize,
        s: &SlotWitness,
        queue_in: Fp,
        fee_in: u64,
        data_state: State,
        check: bool,
    ) -> Result<SlotValues, WitnessError> {
        let kind = s.kind;
        let flags = Flags {
            transfer: bit(kind == SlotKind::Transfer),
            withdraw: bit(kind == SlotKind::Withdraw),
            deposit: bit(kind == SlotKind::Deposit),
            forced_exit: bit(kind == SlotKind::ForcedExit),
        };
        let signed = matches!(kind, SlotKind::Transfer | SlotKind::Withdraw);
        let queued = matches!(kind, SlotKind::Deposit | SlotKind::ForcedExit);
        if signed != s.signature.is_some() {
            return Err(WitnessError::SignatureShape { slot: i });
        }
        if queued != s.priority.is_some() {
            return Err(WitnessError::PriorityShape { slot: i });
        }
        let (a, b) = (&s.a, &s.b);
        if check
            && (a.before.key_commitment != a.after.key_commitment
                || a.before.l1_address != a.after.l1_address)
        {
            return Err(WitnessError::RuleViolated {
                slot: i,
                rule: "sender key and address unchanged",
            });
        }
        let g = generator();
        let (public_key, r, sig_s) = match s.signature {
            Some(sig) => (sig.public_key.point(), sig.signature.r, sig.signature.s),
            // Not `G`: the chip needs `G − P` and `−G − P` (ADR 0112).
            None => ((g + g).to_affine(), g, Fq::ONE),
        };
        let pk_xy = Option::from(public_key.coordinates())
            .map(|c: pasta_curves::arithmetic::Coordinates<pallas::Affine>| [*c.x(), *c.y()])
            .unwrap_or([Fp::ZERO; 2]);
        let (op_l1, op_kc) = s
            .priority
            .map(|p| (p.l1_address, p.key_commitment))
            .unwrap_or((Fp::ZERO, Fp::ZERO));
        let amount = fp(s.amount);
        let fee = fp(s.fee);
        let a_index = fp(u64::from(a.index));
        let b_index = fp(u64::from(b.index));
        let empty = kind == SlotKind::Deposit
            && [
                b.before.key_commitment,
                b.before.l1_address,
                b.before.balance,
                b.before.nonce,
            ]
            .iter()
            .all(|v| bool::from(v.is_zero()));
        let diff = a.before.l1_address - op_l1;
        let signer_kc = hash2(pk_xy[0], pk_xy[1]);
        let accounts = AccountCells {
            flags: flags.clone(),
            amount,
            fee,
            a_index,
            b_index,
            amount_signed: if signed { amount } else { Fp::ZERO },
            a_kc: a.before.key_commitment,
            a_l1: a.before.l1_address,
            a_balance: [a.before.balance, a.after.balance],
            a_nonce: [a.before.nonce, a.after.nonce],
            b_kc: [b.before.key_commitment, b.after.key_commitment],
            b_l1: [b.before.l1_address, b.after.l1_address],
            b_balance: [b.before.balance, b.after.balance],
            b_nonce: [b.before.nonce, b.after.nonce],
            op_l1,
            op_kc,
            empty: bit(empty),
            b_kc_inv: invert_or_zero(b.before.key_commitment),
            l1_match: bit(bool::from(diff.is_zero())),
            l1_diff_inv: invert_or_zero(diff),
            signer_kc,
        };

        let kind_code = fp(kind as u64);
        let d0 = kind_code
            + pow2(layout::A) * a_index
            + pow2(layout::B) * b_index
            + pow2(layout::AMOUNT) * amount
            + pow2(layout::FEE) * fee;
        let d1 = match kind {
            SlotKind::Withdraw => a.before.l1_address,
            SlotKind::ForcedExit => op_l1,
            _ => Fp::ZERO,
        };
        let message =
            d0 + pow2(layout::CHAIN_ID) * fp(self.chain_id) + pow2(layout::NONCE) * a.before.nonce;
        let w0 = kind_code
            + pow2(layout::OP_INDEX) * a_index
            + pow2(layout::OP_AMOUNT) * bit(kind == SlotKind::Deposit) * amount;
        let q_cand = hash4(queue_in, w0, op_l1, op_kc);
        let q_out = if queued { q_cand } else { queue_in };
        let pk =
            PublicKey::from_point(public_key).ok_or(WitnessError::SignatureShape { slot: i })?;
        let r_x = Option::from(r.coordinates())
            .map(|c: pasta_curves::arithmetic::Coordinates<pallas::Affine>| *c.x())
            .ok_or(WitnessError::SignatureShape { slot: i })?;
        let e = challenge(&pk, r_x, message);
        let signature = SignatureTrace::new(&public_key, sig_s, e);
        let sig_w = signature.w;
        let sig_r = xy(&r);
        let words = WordCells {
            flags,
            amount,
            fee,
            a_index,
            b_index,
            chain_id: fp(self.chain_id),
            a_nonce: a.before.nonce,
            a_l1: a.before.l1_address,
            op_l1,
            d0,
            d1,
            message,
            w0,
            queue: [queue_in, q_cand, q_out],
            fee_total: [fp(fee_in), fp(fee_in.wrapping_add(s.fee))],
            sig_w,
            sig_r,
        };
        if check {
            check_rules(i, account_rules(&accounts, |c| c))?;
            check_rules(i, word_rules(&words))?;
            for (what, v, bits) in [
                ("sender balance", a.after.balance, 64),
                ("receiver balance", b.after.balance, 64),
                ("amount", accounts.amount_signed, AMOUNT_BITS),
                ("fee", fee, FEE_BITS),
            ] {
                if !fits(v, bits) {
                    return Err(WitnessError::OutOfRange { slot: i, what });
                }
            }
        }
        Ok(SlotValues {
            accounts,
            words,
            a: *a,
            b: *b,
            public_key,
            r,
            signature,
            data_state,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(seed: u64) -> PublicInputs {
        PublicInputs {
            old_root: Fp::from(seed) - Fp::ONE,
            new_root: Fp::from(seed * 7 + 1),
            data_commitment: -Fp::from(seed + 3),
            queue_before: Fp::from(seed << 40),
            queue_after: Fp::from(u64::MAX - seed),
            chain_id: 31_338 + seed,
            fee_account: u32::MAX - seed as u32,
        }
    }

    #[test]
    fn digests_in_lanes_match_each_digest() {
        for n in [0, 1, 7, 8, 9, 16] {
            let publics: Vec<PublicInputs> = (0..n).map(claims).collect();
            let one_by_one: Vec<Fp> = publics.iter().map(PublicInputs::digest).collect();
            assert_eq!(PublicInputs::digests(&publics), one_by_one, "{n} chunks");
        }
        let one = claims(5);
        assert_eq!(one.to_vec(), vec![one.digest()]);
    }
}
