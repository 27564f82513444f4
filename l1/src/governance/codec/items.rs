//! Encodings of members, fee splits, parameters, actions and (signed) transactions.
//!
//! ```text
//! signed_tx = version:u8 tx signature:[u8; 64]
//! tx        = 0:u8 proposer:string nonce:u64 action
//!           | 1:u8 voter:string nonce:u64 proposal_id:u64 approve:bool
//! action    = 0:u8 member | 1:u8 organisation:string | 2:u8 parameter
//! member    = organisation:string admin_key:bytes consensus_key:bytes vrf_key:bytes
//!             peer_id:string fee_recipient:[u8; 20] weight:u64
//! parameter = 0:u8 u128 | 1:u8 u64 | 2:u8 u64 | 3:u8 fee_split | 4:u8 u32 | 5:u8 u64
//! fee_split = 0:u8 | 1:u8 | 2:u8 count:u32 (organisation:string basis_points:u32)*
//! ```

use std::collections::BTreeMap;

use kaimeng_crypto::SIGNATURE_LEN;
use kaimeng_genesis::{FeeSplit, HexBytes};

use super::error::DecodeError;
use super::primitives::{Reader, Writer};
use super::{MAX_KEY_BYTES, MAX_ORGANISATION_BYTES, MAX_PEER_ID_BYTES, MAX_TX_LEN, TX_VERSION};
use crate::governance::transaction::{Action, GovernanceTx, SignedGovernanceTx};
use crate::membership::{MAX_MEMBERS, Member, Parameter};

const TX_PROPOSE: u8 = 0;
const TX_VOTE: u8 = 1;
const ACTION_ADD_MEMBER: u8 = 0;
const ACTION_REMOVE_MEMBER: u8 = 1;
const ACTION_SET_PARAMETER: u8 = 2;
const SPLIT_EQUAL: u8 = 0;
const SPLIT_BY_WEIGHT: u8 = 1;
const SPLIT_FIXED: u8 = 2;

pub(crate) fn encode_signed_tx(signed: &SignedGovernanceTx) -> Vec<u8> {
    let mut out = Writer::default();
    out.u8(TX_VERSION);
    write_tx(&mut out, &signed.tx);
    out.raw(&signed.signature);
    out.0
}

pub(crate) fn decode_signed_tx(bytes: &[u8]) -> Result<SignedGovernanceTx, DecodeError> {
    if bytes.len() > MAX_TX_LEN {
        return Err(DecodeError::TooLong {
            len: bytes.len(),
            max: MAX_TX_LEN,
        });
    }
    let mut input = Reader::new(bytes);
    let version = input.u8("version")?;
    if version != TX_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: TX_VERSION,
        });
    }
    let tx = read_tx(&mut input)?;
    let mut signature = [0u8; SIGNATURE_LEN];
    signature.copy_from_slice(input.take(SIGNATURE_LEN, "signature")?);
    input.finish("signed transaction")?;
    Ok(SignedGovernanceTx { tx, signature })
}

/// The unsigned transaction's encoding (the signed message's tail).
pub(crate) fn encode_tx(tx: &GovernanceTx) -> Vec<u8> {
    let mut out = Writer::default();
    write_tx(&mut out, tx);
    out.0
}

fn write_tx(out: &mut Writer, tx: &GovernanceTx) {
    match tx {
        GovernanceTx::Propose {
            proposer,
            action,
            nonce,
        } => {
            out.u8(TX_PROPOSE);
            out.string(proposer);
            out.u64(*nonce);
            write_action(out, action);
        }
        GovernanceTx::Vote {
            voter,
            proposal_id,
            approve,
            nonce,
        } => {
            out.u8(TX_VOTE);
            out.string(voter);
            out.u64(*nonce);
            out.u64(*proposal_id);
            out.bool(*approve);
        }
    }
}

fn read_tx(input: &mut Reader<'_>) -> Result<GovernanceTx, DecodeError> {
    match input.u8("transaction kind")? {
        TX_PROPOSE => Ok(GovernanceTx::Propose {
            proposer: read_organisation(input, "proposer")?,
            nonce: input.u64("nonce")?,
            action: read_action(input)?,
        }),
        TX_VOTE => Ok(GovernanceTx::Vote {
            voter: read_organisation(input, "voter")?,
            nonce: input.u64("nonce")?,
            proposal_id: input.u64("proposal id")?,
            approve: input.bool("approve")?,
        }),
        tag => Err(DecodeError::UnknownTag {
            what: "transaction kind",
            tag,
        }),
    }
}

pub(super) fn write_action(out: &mut Writer, action: &Action) {
    match action {
        Action::AddMember(member) => {
            out.u8(ACTION_ADD_MEMBER);
            write_member(out, member);
        }
        Action::RemoveMember(organisation) => {
            out.u8(ACTION_REMOVE_MEMBER);
            out.string(organisation);
        }
        Action::SetParameter(parameter) => {
            out.u8(ACTION_SET_PARAMETER);
            write_parameter(out, parameter);
        }
    }
}

pub(super) fn read_action(input: &mut Reader<'_>) -> Result<Action, DecodeError> {
    match input.u8("action")? {
        ACTION_ADD_MEMBER => Ok(Action::AddMember(read_member(input)?)),
        ACTION_REMOVE_MEMBER => Ok(Action::RemoveMember(read_organisation(
            input,
            "removed organisation",
        )?)),
        ACTION_SET_PARAMETER => Ok(Action::SetParameter(read_parameter(input)?)),
        tag => Err(DecodeError::UnknownTag {
            what: "action",
            tag,
        }),
    }
}

pub(super) fn write_member(out: &mut Writer, member: &Member) {
    out.string(&member.organisation);
    out.bytes(&member.admin_key);
    out.bytes(&member.consensus_key);
    out.bytes(&member.vrf_key);
    out.string(&member.peer_id);
    out.address(member.fee_recipient);
    out.u64(member.weight);
}

pub(super) fn read_member(input: &mut Reader<'_>) -> Result<Member, DecodeError> {
    Ok(Member {
        organisation: read_organisation(input, "member organisation")?,
        admin_key: HexBytes(input.bytes("admin key", MAX_KEY_BYTES)?.to_vec()),
        consensus_key: HexBytes(input.bytes("consensus key", MAX_KEY_BYTES)?.to_vec()),
        vrf_key: HexBytes(input.bytes("VRF key", MAX_KEY_BYTES)?.to_vec()),
        peer_id: input.string("peer id", MAX_PEER_ID_BYTES)?,
        fee_recipient: input.address("fee recipient")?,
        weight: input.u64("weight")?,
    })
}

pub(super) fn read_organisation(
    input: &mut Reader<'_>,
    what: &'static str,
) -> Result<String, DecodeError> {
    input.string(what, MAX_ORGANISATION_BYTES)
}

fn write_parameter(out: &mut Writer, parameter: &Parameter) {
    match parameter {
        Parameter::MinBaseFee(value) => {
            out.u8(0);
            out.u128(*value);
        }
        Parameter::BlockGasLimit(value) => {
            out.u8(1);
            out.u64(*value);
        }
        Parameter::EpochLength(value) => {
            out.u8(2);
            out.u64(*value);
        }
        Parameter::FeeSplit(split) => {
            out.u8(3);
            write_fee_split(out, split);
        }
        Parameter::CommitteeSize(value) => {
            out.u8(4);
            out.u32(*value);
        }
        Parameter::ProposalLifetimeEpochs(value) => {
            out.u8(5);
            out.u64(*value);
        }
    }
}

fn read_parameter(input: &mut Reader<'_>) -> Result<Parameter, DecodeError> {
    Ok(match input.u8("parameter")? {
        0 => Parameter::MinBaseFee(input.u128("min base fee")?),
        1 => Parameter::BlockGasLimit(input.u64("block gas limit")?),
        2 => Parameter::EpochLength(input.u64("epoch length")?),
        3 => Parameter::FeeSplit(read_fee_split(input)?),
        4 => Parameter::CommitteeSize(input.u32("committee size")?),
        5 => Parameter::ProposalLifetimeEpochs(input.u64("proposal lifetime")?),
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "parameter",
                tag,
            });
        }
    })
}

pub(super) fn write_fee_split(out: &mut Writer, split: &FeeSplit) {
    match split {
        FeeSplit::Equal => out.u8(SPLIT_EQUAL),
        FeeSplit::ByWeight => out.u8(SPLIT_BY_WEIGHT),
        FeeSplit::Fixed(points) => {
            out.u8(SPLIT_FIXED);
            out.count(points.len());
            for (organisation, basis_points) in points {
                out.string(organisation);
                out.u32(*basis_points);
            }
        }
    }
}

pub(super) fn read_fee_split(input: &mut Reader<'_>) -> Result<FeeSplit, DecodeError> {
    match input.u8("fee split")? {
        SPLIT_EQUAL => Ok(FeeSplit::Equal),
        SPLIT_BY_WEIGHT => Ok(FeeSplit::ByWeight),
        SPLIT_FIXED => {
            let count = input.count("fixed fee split entries", MAX_MEMBERS, 8)?;
            let mut points = BTreeMap::new();
            let mut previous: Option<String> = None;
            for _ in 0..count {
                let organisation = read_organisation(input, "fixed fee split organisation")?;
                let basis_points = input.u32("basis points")?;
                if previous.as_ref().is_some_and(|p| *p >= organisation) {
                    return Err(DecodeError::NotAscending {
                        what: "fixed fee split organisations",
                    });
                }
                previous = Some(organisation.clone());
                points.insert(organisation, basis_points);
            }
            Ok(FeeSplit::Fixed(points))
        }
        tag => Err(DecodeError::UnknownTag {
            what: "fee split",
            tag,
        }),
    }
}
