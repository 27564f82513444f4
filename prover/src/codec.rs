//! Encodings of witnesses and proofs for the job queue: JSON with field elements, points and
//! signatures as hex strings. Decoding validates everything (canonical field elements, valid
//! points, known slot kinds) and returns typed errors.

use ff::PrimeField;
use kaimeng_rollup::account::LeafFields;
use kaimeng_rollup::schnorr::{PublicKey, Signature};
use kaimeng_rollup::tx::SlotKind;
use kaimeng_rollup::{Fp, TREE_DEPTH};
use serde::{Deserialize, Serialize};

use crate::error::ProverError;
use crate::proof::ChunkProof;
use crate::witness::{
    ChunkWitness, PriorityWitness, PublicInputs, SideWitness, SignatureWitness, SlotWitness,
};

fn decode_err(what: &'static str, reason: impl Into<String>) -> ProverError {
    ProverError::Decode {
        what,
        reason: reason.into(),
    }
}

fn hex_of(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

fn bytes_of<const N: usize>(what: &'static str, s: &str) -> Result<[u8; N], ProverError> {
    let v = hex::decode(s).map_err(|e| decode_err(what, format!("{e}")))?;
    v.try_into()
        .map_err(|v: Vec<u8>| decode_err(what, format!("{} bytes, expected {N}", v.len())))
}

fn fp_hex(v: &Fp) -> String {
    hex_of(v.to_repr().as_ref())
}

fn fp_of(what: &'static str, s: &str) -> Result<Fp, ProverError> {
    let bytes = bytes_of::<32>(what, s)?;
    Option::from(Fp::from_repr(bytes))
        .ok_or_else(|| decode_err(what, "not a canonical field element"))
}

#[derive(Serialize, Deserialize)]
struct WireLeaf {
    key_commitment: String,
    l1_address: String,
    balance: String,
    nonce: String,
}

impl WireLeaf {
    fn from(l: &LeafFields) -> Self {
        Self {
            key_commitment: fp_hex(&l.key_commitment),
            l1_address: fp_hex(&l.l1_address),
            balance: fp_hex(&l.balance),
            nonce: fp_hex(&l.nonce),
        }
    }
    fn to(&self) -> Result<LeafFields, ProverError> {
        Ok(LeafFields {
            key_commitment: fp_of("leaf key commitment", &self.key_commitment)?,
            l1_address: fp_of("leaf l1 address", &self.l1_address)?,
            balance: fp_of("leaf balance", &self.balance)?,
            nonce: fp_of("leaf nonce", &self.nonce)?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireSide {
    index: u32,
    before: WireLeaf,
    after: WireLeaf,
    siblings: Vec<String>,
}

impl WireSide {
    fn from(s: &SideWitness) -> Self {
        Self {
            index: s.index,
            before: WireLeaf::from(&s.before),
            after: WireLeaf::from(&s.after),
            siblings: s.siblings.iter().map(fp_hex).collect(),
        }
    }
    fn to(&self) -> Result<SideWitness, ProverError> {
        if self.siblings.len() != TREE_DEPTH {
            return Err(decode_err(
                "merkle path",
                format!("{} siblings, expected {TREE_DEPTH}", self.siblings.len()),
            ));
        }
        let mut siblings = [Fp::default(); TREE_DEPTH];
        for (out, s) in siblings.iter_mut().zip(&self.siblings) {
            *out = fp_of("merkle sibling", s)?;
        }
        Ok(SideWitness {
            index: self.index,
            before: self.before.to()?,
            after: self.after.to()?,
            siblings,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct WireSignature {
    public_key: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
struct WirePriority {
    l1_address: String,
    key_commitment: String,
}

#[derive(Serialize, Deserialize)]
struct WireSlot {
    kind: u8,
    amount: u64,
    fee: u64,
    a: WireSide,
    b: WireSide,
    signature: Option<WireSignature>,
    priority: Option<WirePriority>,
}

/// A chunk witness on the wire.
#[derive(Serialize, Deserialize)]
pub struct WireWitness {
    chain_id: u64,
    fee_account: u32,
    old_root: String,
    queue_before: String,
    slots: Vec<WireSlot>,
    fee_side: WireSide,
}

impl WireWitness {
    /// Encodes a witness.
    pub fn from_witness(w: &ChunkWitness) -> Self {
        Self {
            chain_id: w.chain_id,
            fee_account: w.fee_account,
            old_root: fp_hex(&w.old_root),
            queue_before: fp_hex(&w.queue_before),
            slots: w
                .slots
                .iter()
                .map(|s| WireSlot {
                    kind: s.kind as u8,
                    amount: s.amount,
                    fee: s.fee,
                    a: WireSide::from(&s.a),
                    b: WireSide::from(&s.b),
                    signature: s.signature.map(|sig| WireSignature {
                        public_key: hex_of(&sig.public_key.to_bytes()),
                        signature: hex_of(&sig.signature.to_bytes()),
                    }),
                    priority: s.priority.map(|p| WirePriority {
                        l1_address: fp_hex(&p.l1_address),
                        key_commitment: fp_hex(&p.key_commitment),
                    }),
                })
                .collect(),
            fee_side: WireSide::from(&w.fee_side),
        }
    }

    /// Decodes into a witness, validating every element.
    pub fn to_witness(&self) -> Result<ChunkWitness, ProverError> {
        let slots = self
            .slots
            .iter()
            .map(|s| {
                let kind = SlotKind::from_code(s.kind)
                    .ok_or_else(|| decode_err("slot kind", format!("unknown kind {}", s.kind)))?;
                let signature = match &s.signature {
                    None => None,
                    Some(sig) => Some(SignatureWitness {
                        public_key: PublicKey::from_bytes(&bytes_of::<32>(
                            "public key",
                            &sig.public_key,
                        )?)
                        .ok_or_else(|| decode_err("public key", "not a valid point"))?,
                        signature: Signature::from_bytes(&bytes_of::<64>(
                            "signature",
                            &sig.signature,
                        )?)
                        .ok_or_else(|| decode_err("signature", "invalid point or scalar"))?,
                    }),
                };
                let priority = match &s.priority {
                    None => None,
                    Some(p) => Some(PriorityWitness {
                        l1_address: fp_of("priority l1 address", &p.l1_address)?,
                        key_commitment: fp_of("priority key commitment", &p.key_commitment)?,
                    }),
                };
                Ok(SlotWitness {
                    kind,
                    amount: s.amount,
                    fee: s.fee,
                    a: s.a.to()?,
                    b: s.b.to()?,
                    signature,
                    priority,
                })
            })
            .collect::<Result<Vec<_>, ProverError>>()?;
        Ok(ChunkWitness {
            chain_id: self.chain_id,
            fee_account: self.fee_account,
            old_root: fp_of("old root", &self.old_root)?,
            queue_before: fp_of("queue hash", &self.queue_before)?,
            slots,
            fee_side: self.fee_side.to()?,
        })
    }
}

/// One chunk's public inputs on the wire.
#[derive(Serialize, Deserialize)]
struct WirePublic {
    old_root: String,
    new_root: String,
    data_commitment: String,
    queue_before: String,
    queue_after: String,
    chain_id: u64,
    fee_account: u32,
}

impl WirePublic {
    fn from_public(p: &PublicInputs) -> Self {
        Self {
            old_root: fp_hex(&p.old_root),
            new_root: fp_hex(&p.new_root),
            data_commitment: fp_hex(&p.data_commitment),
            queue_before: fp_hex(&p.queue_before),
            queue_after: fp_hex(&p.queue_after),
            chain_id: p.chain_id,
            fee_account: p.fee_account,
        }
    }

    fn to_public(&self) -> Result<PublicInputs, ProverError> {
        Ok(PublicInputs {
            old_root: fp_of("old root", &self.old_root)?,
            new_root: fp_of("new root", &self.new_root)?,
            data_commitment: fp_of("data commitment", &self.data_commitment)?,
            queue_before: fp_of("queue hash", &self.queue_before)?,
            queue_after: fp_of("queue hash", &self.queue_after)?,
            chain_id: self.chain_id,
            fee_account: self.fee_account,
        })
    }
}

/// A proof on the wire: the public inputs of each chunk it covers, then the proof.
#[derive(Serialize, Deserialize)]
pub struct WireProof {
    chunks: Vec<WirePublic>,
    proof: String,
}

impl WireProof {
    /// Encodes a proof.
    pub fn from_proof(p: &ChunkProof) -> Self {
        Self {
            chunks: p.publics.iter().map(WirePublic::from_public).collect(),
            proof: hex_of(&p.bytes),
        }
    }

    /// Decodes into a proof.
    pub fn to_proof(&self) -> Result<ChunkProof, ProverError> {
        if !(1..=crate::proof::MAX_PACK).contains(&self.chunks.len()) {
            return Err(ProverError::PackSize {
                found: self.chunks.len(),
            });
        }
        Ok(ChunkProof {
            publics: self
                .chunks
                .iter()
                .map(WirePublic::to_public)
                .collect::<Result<_, _>>()?,
            bytes: hex::decode(&self.proof)
                .map_err(|e| decode_err("proof bytes", format!("{e}")))?,
        })
    }
}

impl ChunkWitness {
    /// JSON encoding (the job format).
    pub fn to_json(&self) -> String {
        serde_json::to_string(&WireWitness::from_witness(self)).expect("plain data serializes")
    }

    /// Parses [`ChunkWitness::to_json`].
    pub fn from_json(s: &str) -> Result<Self, ProverError> {
        let wire: WireWitness =
            serde_json::from_str(s).map_err(|e| decode_err("witness json", e.to_string()))?;
        wire.to_witness()
    }
}

impl ChunkProof {
    /// JSON encoding.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&WireProof::from_proof(self)).expect("plain data serializes")
    }

    /// Parses [`ChunkProof::to_json`].
    pub fn from_json(s: &str) -> Result<Self, ProverError> {
        let wire: WireProof =
            serde_json::from_str(s).map_err(|e| decode_err("proof json", e.to_string()))?;
        wire.to_proof()
    }
}

/// The witnesses of a job as JSON: one chunk's witness object, or an array of a pack's in
/// chunk order.
pub fn pack_to_json(witnesses: &[ChunkWitness]) -> serde_json::Value {
    let wire = |w| serde_json::to_value(WireWitness::from_witness(w)).expect("plain data");
    match witnesses {
        [one] => wire(one),
        many => serde_json::Value::Array(many.iter().map(wire).collect()),
    }
}

/// Parses [`pack_to_json`]: an object is one chunk, an array a pack of 1 to
/// [`crate::proof::MAX_PACK`].
pub fn pack_from_json(value: &serde_json::Value) -> Result<Vec<ChunkWitness>, ProverError> {
    let one = |v: &serde_json::Value| {
        WireWitness::deserialize(v)
            .map_err(|e| decode_err("witness json", e.to_string()))?
            .to_witness()
    };
    match value {
        serde_json::Value::Array(items) => {
            if !(1..=crate::proof::MAX_PACK).contains(&items.len()) {
                return Err(ProverError::PackSize { found: items.len() });
            }
            items.iter().map(one).collect()
        }
        single => Ok(vec![one(single)?]),
    }
}
