//! Hand-built witnesses: a small tree whose leaves can be set to anything, so a test can make
//! one transition wrong while keeping every Merkle path consistent. The circuit must then
//! fail at exactly the rule that transition breaks.

use std::collections::HashMap;

use ff::Field;
use kaimeng_prover::witness::{
    ChunkWitness, PriorityWitness, SideWitness, SignatureWitness, SlotWitness,
};
use kaimeng_rollup::account::LeafFields;
use kaimeng_rollup::smt::SparseMerkleTree;
use kaimeng_rollup::tx::{SlotKind, Transfer};
use kaimeng_rollup::{Account, Fp};

use crate::support::{CHAIN, FEE_ACCOUNT, acct, key};

pub struct Forge {
    tree: SparseMerkleTree,
    leaves: HashMap<u32, LeafFields>,
    old_root: Fp,
    pub queue_before: Fp,
    slots: Vec<SlotWitness>,
    fees: u64,
}

fn empty_leaf() -> LeafFields {
    Account::default().leaf_fields()
}

/// Transfer parameters (`sign_nonce` is the nonce the sender signs).
#[derive(Clone, Copy)]
pub struct TransferSpec {
    pub from: u32,
    pub to: u32,
    pub amount: u64,
    pub fee: u64,
}

impl Forge {
    /// Registered accounts `i` (at `acct(i)`, key `key(i)`) with the given balances.
    pub fn new(balances: &[(u32, u64)]) -> Self {
        let mut tree = SparseMerkleTree::new();
        let mut leaves = HashMap::new();
        for (i, balance) in balances {
            let account = Account {
                public_key: Some(key(u64::from(*i)).public_key()),
                l1_address: crate::support::l1(u64::from(*i)),
                balance: *balance,
                nonce: 0,
            };
            let fields = account.leaf_fields();
            tree.set_leaf(acct(*i), fields.hash());
            leaves.insert(acct(*i), fields);
        }
        Self {
            old_root: tree.root(),
            tree,
            leaves,
            queue_before: Fp::ZERO,
            slots: Vec::new(),
            fees: 0,
        }
    }

    /// Sets account `i`'s nonce before the chunk starts.
    pub fn set_nonce(&mut self, i: u32, nonce: u64) {
        assert!(self.slots.is_empty(), "only before the first slot");
        let mut leaf = self.leaf(acct(i));
        leaf.nonce = Fp::from(nonce);
        self.tree.set_leaf(acct(i), leaf.hash());
        self.leaves.insert(acct(i), leaf);
        self.old_root = self.tree.root();
    }

    pub fn leaf(&self, index: u32) -> LeafFields {
        self.leaves.get(&index).copied().unwrap_or_else(empty_leaf)
    }

    fn side(&mut self, index: u32, after: LeafFields) -> SideWitness {
        let before = self.leaf(index);
        let siblings = self.tree.proof(index).siblings;
        self.tree.set_leaf(index, after.hash());
        self.leaves.insert(index, after);
        SideWitness {
            index,
            before,
            after,
            siblings,
        }
    }

    /// A transfer whose new leaves pass through `edit_a` / `edit_b` before they are written,
    /// signed over `sign_nonce` (default: the sender's current nonce).
    pub fn transfer(
        &mut self,
        t: TransferSpec,
        sign_nonce: Option<u32>,
        edit_a: impl FnOnce(&mut LeafFields),
        edit_b: impl FnOnce(&mut LeafFields),
    ) -> &mut SlotWitness {
        let (from, to) = (acct(t.from), acct(t.to));
        let a_before = self.leaf(from);
        let nonce = sign_nonce.unwrap_or_else(|| {
            let repr = ff::PrimeField::to_repr(&a_before.nonce);
            u32::from_le_bytes([repr[0], repr[1], repr[2], repr[3]])
        });
        let signed = Transfer {
            from,
            to,
            amount: t.amount,
            fee: t.fee as u16,
            nonce,
        }
        .sign(&key(u64::from(t.from)), CHAIN);
        let mut a_after = LeafFields {
            balance: a_before.balance - Fp::from(t.amount) - Fp::from(t.fee),
            nonce: a_before.nonce + Fp::ONE,
            ..a_before
        };
        edit_a(&mut a_after);
        let a = self.side(from, a_after);
        let b_before = self.leaf(to);
        let mut b_after = LeafFields {
            balance: b_before.balance + Fp::from(t.amount),
            ..b_before
        };
        edit_b(&mut b_after);
        let b = self.side(to, b_after);
        self.fees += t.fee;
        self.slots.push(SlotWitness {
            kind: SlotKind::Transfer,
            amount: t.amount,
            fee: t.fee,
            a,
            b,
            signature: Some(SignatureWitness {
                public_key: key(u64::from(t.from)).public_key(),
                signature: signed.signature,
            }),
            priority: None::<PriorityWitness>,
        });
        self.slots.last_mut().expect("just pushed")
    }

    /// Pads the chunk to `slots` and credits the fees.
    pub fn finish(mut self, slots: usize) -> ChunkWitness {
        while self.slots.len() < slots {
            let leaf = self.leaf(0);
            let a = self.side(0, leaf);
            let b = self.side(0, leaf);
            self.slots.push(SlotWitness {
                kind: SlotKind::Padding,
                amount: 0,
                fee: 0,
                a,
                b,
                signature: None,
                priority: None,
            });
        }
        let fee_before = self.leaf(acct(0));
        let fee_side = self.side(
            acct(FEE_ACCOUNT),
            LeafFields {
                balance: fee_before.balance + Fp::from(self.fees),
                ..fee_before
            },
        );
        ChunkWitness {
            chain_id: CHAIN,
            fee_account: acct(FEE_ACCOUNT),
            old_root: self.old_root,
            queue_before: self.queue_before,
            slots: self.slots,
            fee_side,
        }
    }
}
