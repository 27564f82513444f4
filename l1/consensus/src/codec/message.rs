//! Encodings of votes, certificates, proposals, messages and records (layout in
//! `docs/consensus.md`, "Wire format").

use super::{
    DecodeError, MAX_JUSTIFICATION_NULLIFICATIONS, MAX_MESSAGE_LEN, Reader, VERSION, Writer,
};
use crate::messages::{
    Certificate, Justification, Message, ProposalMessage, Record, SignedVote, Vote,
};
use crate::signing::{MAX_SIGNATURE_LEN, Signature};
use crate::types::{Digest, Parent, Proposal, ValidatorIndex};
use crate::validators::MAX_VALIDATORS;

const TAG_PROPOSAL: u8 = 0;
const TAG_VOTE: u8 = 1;
const TAG_CERTIFICATE: u8 = 2;
const TAG_RECORD_VOTE: u8 = 0x10;
const TAG_RECORD_CERTIFICATE: u8 = 0x11;

const VOTE_NOTARIZE: u8 = 0;
const VOTE_NULLIFY: u8 = 1;
const VOTE_FINALIZE: u8 = 2;

/// Encodes a message for the wire.
pub fn encode_message(message: &Message) -> Vec<u8> {
    let mut w = Writer::with_capacity(256);
    w.u8(VERSION);
    match message {
        Message::Proposal(p) => {
            w.u8(TAG_PROPOSAL);
            p.vote.encode(&mut w);
            match &p.justification.parent {
                None => w.u8(0),
                Some(cert) => {
                    w.u8(1);
                    cert.encode(&mut w);
                }
            }
            w.varint(p.justification.nullifications.len() as u64);
            for cert in &p.justification.nullifications {
                cert.encode(&mut w);
            }
        }
        Message::Vote(v) => {
            w.u8(TAG_VOTE);
            v.encode(&mut w);
        }
        Message::Certificate(c) => {
            w.u8(TAG_CERTIFICATE);
            c.encode(&mut w);
        }
    }
    w.into_bytes()
}

/// Encodes a certificate on its own (what a node stores with a finalized block and serves to
/// block sync and light clients): the encoding of the message carrying it.
pub fn encode_certificate(certificate: &Certificate) -> Vec<u8> {
    encode_message(&Message::Certificate(certificate.clone()))
}

/// Decodes an encoding made by [`encode_certificate`] from untrusted bytes. Never panics.
pub fn decode_certificate(bytes: &[u8]) -> Result<Certificate, DecodeError> {
    match decode_message(bytes)? {
        Message::Certificate(certificate) => Ok(certificate),
        Message::Proposal(_) => Err(DecodeError::NotACertificate { found: "proposal" }),
        Message::Vote(_) => Err(DecodeError::NotACertificate { found: "vote" }),
    }
}

/// Decodes a message from untrusted bytes. Never panics.
pub fn decode_message(bytes: &[u8]) -> Result<Message, DecodeError> {
    let mut r = open(bytes)?;
    let message = match r.u8("message tag")? {
        TAG_PROPOSAL => {
            let vote = SignedVote::decode(&mut r)?;
            if let Vote::Nullify { .. } | Vote::Finalize(_) = vote.vote {
                let found = if matches!(vote.vote, Vote::Nullify { .. }) {
                    "nullify"
                } else {
                    "finalize"
                };
                return Err(DecodeError::ProposalWithoutNotarize { found });
            }
            let parent = match r.u8("justification parent flag")? {
                0 => None,
                1 => Some(Certificate::decode(&mut r)?),
                tag => {
                    return Err(DecodeError::UnknownTag {
                        what: "justification parent flag",
                        tag,
                    });
                }
            };
            let count = r.bounded(
                "justification nullification count",
                MAX_JUSTIFICATION_NULLIFICATIONS as u64,
            )? as usize;
            let mut nullifications = Vec::new();
            for _ in 0..count {
                nullifications.push(Certificate::decode(&mut r)?);
            }
            Message::Proposal(ProposalMessage {
                vote,
                justification: Justification {
                    parent,
                    nullifications,
                },
            })
        }
        TAG_VOTE => Message::Vote(SignedVote::decode(&mut r)?),
        TAG_CERTIFICATE => Message::Certificate(Certificate::decode(&mut r)?),
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "message",
                tag,
            });
        }
    };
    r.finish("message")?;
    Ok(message)
}

/// Encodes a record for the host's consensus store.
pub fn encode_record(record: &Record) -> Vec<u8> {
    let mut w = Writer::with_capacity(256);
    w.u8(VERSION);
    match record {
        Record::Vote(v) => {
            w.u8(TAG_RECORD_VOTE);
            v.encode(&mut w);
        }
        Record::Certificate(c) => {
            w.u8(TAG_RECORD_CERTIFICATE);
            c.encode(&mut w);
        }
    }
    w.into_bytes()
}

/// Decodes a record read back from the host's store. Never panics.
pub fn decode_record(bytes: &[u8]) -> Result<Record, DecodeError> {
    let mut r = open(bytes)?;
    let record = match r.u8("record tag")? {
        TAG_RECORD_VOTE => Record::Vote(SignedVote::decode(&mut r)?),
        TAG_RECORD_CERTIFICATE => Record::Certificate(Certificate::decode(&mut r)?),
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "record",
                tag,
            });
        }
    };
    r.finish("record")?;
    Ok(record)
}

fn open(bytes: &[u8]) -> Result<Reader<'_>, DecodeError> {
    if bytes.len() > MAX_MESSAGE_LEN {
        return Err(DecodeError::TooLong {
            len: bytes.len(),
            max: MAX_MESSAGE_LEN,
        });
    }
    let mut r = Reader::new(bytes);
    let version = r.u8("version")?;
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    Ok(r)
}

impl Proposal {
    pub fn encode(&self, w: &mut Writer) {
        w.varint(self.epoch);
        w.varint(self.view);
        w.varint(self.height);
        w.varint(self.parent.view);
        w.bytes(&self.parent.digest.0);
        w.bytes(&self.payload.0);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Proposal {
            epoch: r.varint("proposal epoch")?,
            view: r.varint("proposal view")?,
            height: r.varint("proposal height")?,
            parent: Parent {
                view: r.varint("parent view")?,
                digest: Digest(r.array32("parent digest")?),
            },
            payload: Digest(r.array32("payload digest")?),
        })
    }
}

impl Vote {
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Vote::Notarize(p) => {
                w.u8(VOTE_NOTARIZE);
                p.encode(w);
            }
            Vote::Nullify { epoch, view } => {
                w.u8(VOTE_NULLIFY);
                w.varint(*epoch);
                w.varint(*view);
            }
            Vote::Finalize(p) => {
                w.u8(VOTE_FINALIZE);
                p.encode(w);
            }
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        match r.u8("vote kind")? {
            VOTE_NOTARIZE => Ok(Vote::Notarize(Proposal::decode(r)?)),
            VOTE_NULLIFY => Ok(Vote::Nullify {
                epoch: r.varint("nullify epoch")?,
                view: r.varint("nullify view")?,
            }),
            VOTE_FINALIZE => Ok(Vote::Finalize(Proposal::decode(r)?)),
            tag => Err(DecodeError::UnknownTag {
                what: "vote kind",
                tag,
            }),
        }
    }
}

fn encode_signature(w: &mut Writer, signature: &Signature) {
    // Signatures longer than the maximum are a local bug, not peer input; they are truncated
    // in length byte only here and rejected by every decoder.
    w.u8(signature.0.len().min(u8::MAX as usize) as u8);
    w.bytes(&signature.0);
}

fn decode_signature(r: &mut Reader<'_>) -> Result<Signature, DecodeError> {
    let len = r.u8("signature length")? as usize;
    if len == 0 {
        return Err(DecodeError::Empty { what: "signature" });
    }
    if len > MAX_SIGNATURE_LEN {
        return Err(DecodeError::TooLarge {
            what: "signature length",
            value: len as u64,
            max: MAX_SIGNATURE_LEN as u64,
        });
    }
    Ok(Signature(r.take(len, "signature")?.to_vec()))
}

fn decode_signer(r: &mut Reader<'_>) -> Result<ValidatorIndex, DecodeError> {
    Ok(r.bounded("signer index", (MAX_VALIDATORS - 1) as u64)? as ValidatorIndex)
}

impl SignedVote {
    pub fn encode(&self, w: &mut Writer) {
        self.vote.encode(w);
        w.varint(u64::from(self.signer));
        encode_signature(w, &self.signature);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(SignedVote {
            vote: Vote::decode(r)?,
            signer: decode_signer(r)?,
            signature: decode_signature(r)?,
        })
    }
}

impl Certificate {
    pub fn encode(&self, w: &mut Writer) {
        self.vote.encode(w);
        w.varint(self.signatures.len() as u64);
        for (signer, signature) in &self.signatures {
            w.varint(u64::from(*signer));
            encode_signature(w, signature);
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let vote = Vote::decode(r)?;
        let count = r.bounded("certificate signer count", MAX_VALIDATORS as u64)? as usize;
        if count == 0 {
            return Err(DecodeError::Empty {
                what: "certificate signer list",
            });
        }
        // Each entry takes at least 3 bytes; never reserve more than the input can hold.
        let mut signatures = Vec::with_capacity(count.min(r.remaining() / 3));
        let mut previous: Option<ValidatorIndex> = None;
        for _ in 0..count {
            let signer = decode_signer(r)?;
            if let Some(previous) = previous
                && signer <= previous
            {
                return Err(DecodeError::SignersNotAscending {
                    previous,
                    next: signer,
                });
            }
            previous = Some(signer);
            signatures.push((signer, decode_signature(r)?));
        }
        Ok(Certificate { vote, signatures })
    }
}
