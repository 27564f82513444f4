//! Encoding of the consortium state, the form the node stores and hashes.
//!
//! ```text
//! state        = version:u8 chain_id:u64 genesis_hash:[u8; 32] suite:u8 treasury:[u8; 20]
//!                allow_zero_base_fee:bool
//!                epoch:u64 start_height:u64 length:u64
//!                parameters
//!                count:u32 member*
//!                count:u32 (organisation:string next_nonce:u64)*   ascending organisations
//!                next_proposal_id:u64
//!                count:u32 proposal*                              ascending ids
//!                count:u32 scheduled_id:u64*
//!                treasury_carry:u256
//!                (0:u8 | 1:u8 distribution)
//! parameters   = min_base_fee:u128 block_gas_limit:u64 epoch_length:u64 fee_split
//!                committee_size:u32 proposal_lifetime_epochs:u64
//! proposal     = id:u64 proposer:string action created_epoch:u64 created_height:u64
//!                expires_at_epoch:u64 count:u32 organisation:string*
//!                count:u32 (voter:string approve:bool)* status
//! status       = 0:u8 | 1:u8 passed_in_epoch:u64 | 2:u8 effective_epoch:u64
//!              | 3:u8 epoch:u64 reason:string | 4:u8 epoch:u64 | 5:u8 epoch:u64
//! distribution = epoch:u64 collected:u256 carried_in:u256
//!                count:u32 (organisation:string fee_recipient:[u8; 20] amount:u256)*
//!                carried_out:u256
//! ```

use std::collections::BTreeMap;

use kaimeng_genesis::CryptoSuite;

use super::error::DecodeError;
use super::items::{
    read_action, read_fee_split, read_member, read_organisation, write_action, write_fee_split,
    write_member,
};
use super::primitives::{Reader, Writer};
use super::{MAX_REASON_BYTES, STATE_VERSION};
use crate::epoch::EpochInfo;
use crate::governance::proposal::{CastVote, Proposal, ProposalStatus};
use crate::governance::state::ConsortiumState;
use crate::governance::transaction::GovernanceDomain;
use crate::membership::{FeeDistribution, MAX_MEMBERS, MemberPayout, Parameters};

/// Smallest encodings, used to bound counts by the remaining input.
const MIN_MEMBER_LEN: usize = 4 * 5 + 20 + 8;
const MIN_PROPOSAL_LEN: usize = 8 + 4 + 1 + 24 + 8 + 1;

pub(crate) fn encode_state(state: &ConsortiumState) -> Vec<u8> {
    let mut out = Writer::default();
    out.u8(STATE_VERSION);
    out.u64(state.domain.chain_id);
    out.b256(state.domain.genesis_hash);
    out.u8(suite_tag(state.crypto_suite));
    out.address(state.treasury);
    out.bool(state.allow_zero_base_fee);
    out.u64(state.epoch.epoch);
    out.u64(state.epoch.start_height);
    out.u64(state.epoch.length);
    write_parameters(&mut out, &state.parameters);
    out.count(state.members.len());
    for member in &state.members {
        write_member(&mut out, member);
    }
    out.count(state.nonces.len());
    for (organisation, nonce) in &state.nonces {
        out.string(organisation);
        out.u64(*nonce);
    }
    out.u64(state.next_proposal_id);
    out.count(state.proposals.len());
    for proposal in &state.proposals {
        write_proposal(&mut out, proposal);
    }
    out.count(state.scheduled.len());
    for id in &state.scheduled {
        out.u64(*id);
    }
    out.u256(state.treasury_carry);
    match &state.last_fee_distribution {
        None => out.u8(0),
        Some(distribution) => {
            out.u8(1);
            write_distribution(&mut out, distribution);
        }
    }
    out.0
}

pub(crate) fn decode_state(bytes: &[u8]) -> Result<ConsortiumState, DecodeError> {
    let mut input = Reader::new(bytes);
    let version = input.u8("state version")?;
    if version != STATE_VERSION {
        return Err(DecodeError::UnsupportedVersion {
            found: version,
            supported: STATE_VERSION,
        });
    }
    let domain = GovernanceDomain {
        chain_id: input.u64("chain id")?,
        genesis_hash: input.b256("genesis hash")?,
    };
    let crypto_suite = read_suite(&mut input)?;
    let treasury = input.address("treasury")?;
    let allow_zero_base_fee = input.bool("allow zero base fee")?;
    let epoch = read_epoch(&mut input)?;
    let parameters = read_parameters(&mut input)?;
    let member_count = input.count("members", MAX_MEMBERS, MIN_MEMBER_LEN)?;
    let members = (0..member_count)
        .map(|_| read_member(&mut input))
        .collect::<Result<Vec<_>, _>>()?;
    let nonces = read_nonces(&mut input)?;
    let next_proposal_id = input.u64("next proposal id")?;
    let proposals = read_proposals(&mut input)?;
    if proposals
        .last()
        .is_some_and(|last| last.id >= next_proposal_id)
    {
        return Err(DecodeError::Invalid {
            what: "next proposal id",
            problem: "must be above every proposal's id",
        });
    }
    let scheduled_count = input.count("scheduled proposals", usize::MAX, 8)?;
    let scheduled = (0..scheduled_count)
        .map(|_| input.u64("scheduled proposal id"))
        .collect::<Result<Vec<_>, _>>()?;
    let treasury_carry = input.u256("treasury carry")?;
    let last_fee_distribution = match input.u8("last fee distribution")? {
        0 => None,
        1 => Some(read_distribution(&mut input)?),
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "last fee distribution",
                tag,
            });
        }
    };
    input.finish("consortium state")?;
    Ok(ConsortiumState {
        domain,
        crypto_suite,
        treasury,
        allow_zero_base_fee,
        epoch,
        parameters,
        members,
        nonces,
        next_proposal_id,
        proposals,
        scheduled,
        treasury_carry,
        last_fee_distribution,
    })
}

fn suite_tag(suite: CryptoSuite) -> u8 {
    match suite {
        CryptoSuite::Secp256k1Keccak => 0,
        CryptoSuite::Sm2Sm3 => 1,
    }
}

fn read_suite(input: &mut Reader<'_>) -> Result<CryptoSuite, DecodeError> {
    match input.u8("crypto suite")? {
        0 => Ok(CryptoSuite::Secp256k1Keccak),
        1 => Ok(CryptoSuite::Sm2Sm3),
        tag => Err(DecodeError::UnknownTag {
            what: "crypto suite",
            tag,
        }),
    }
}

fn read_epoch(input: &mut Reader<'_>) -> Result<EpochInfo, DecodeError> {
    let epoch = input.u64("epoch")?;
    let start_height = input.u64("epoch start height")?;
    let length = input.u64("epoch length")?;
    if length == 0 {
        return Err(DecodeError::Invalid {
            what: "epoch length",
            problem: "must be at least 1",
        });
    }
    Ok(EpochInfo::new(epoch, start_height, length))
}

fn write_parameters(out: &mut Writer, parameters: &Parameters) {
    out.u128(parameters.min_base_fee);
    out.u64(parameters.block_gas_limit);
    out.u64(parameters.epoch_length);
    write_fee_split(out, &parameters.fee_split);
    out.u32(parameters.committee_size);
    out.u64(parameters.proposal_lifetime_epochs);
}

fn read_parameters(input: &mut Reader<'_>) -> Result<Parameters, DecodeError> {
    Ok(Parameters {
        min_base_fee: input.u128("min base fee")?,
        block_gas_limit: input.u64("block gas limit")?,
        epoch_length: input.u64("epoch length parameter")?,
        fee_split: read_fee_split(input)?,
        committee_size: input.u32("committee size")?,
        proposal_lifetime_epochs: input.u64("proposal lifetime")?,
    })
}

fn read_nonces(input: &mut Reader<'_>) -> Result<BTreeMap<String, u64>, DecodeError> {
    let count = input.count("nonces", usize::MAX, 12)?;
    let mut nonces = BTreeMap::new();
    let mut previous: Option<String> = None;
    for _ in 0..count {
        let organisation = read_organisation(input, "nonce organisation")?;
        let nonce = input.u64("nonce")?;
        if previous.as_ref().is_some_and(|p| *p >= organisation) {
            return Err(DecodeError::NotAscending {
                what: "nonce organisations",
            });
        }
        previous = Some(organisation.clone());
        nonces.insert(organisation, nonce);
    }
    Ok(nonces)
}

fn write_proposal(out: &mut Writer, proposal: &Proposal) {
    out.u64(proposal.id);
    out.string(&proposal.proposer);
    write_action(out, &proposal.action);
    out.u64(proposal.created_epoch);
    out.u64(proposal.created_height);
    out.u64(proposal.expires_at_epoch);
    out.count(proposal.electorate.len());
    for organisation in &proposal.electorate {
        out.string(organisation);
    }
    out.count(proposal.votes.len());
    for vote in &proposal.votes {
        out.string(&vote.voter);
        out.bool(vote.approve);
    }
    write_status(out, &proposal.status);
}

fn read_proposals(input: &mut Reader<'_>) -> Result<Vec<Proposal>, DecodeError> {
    let count = input.count("proposals", usize::MAX, MIN_PROPOSAL_LEN)?;
    let mut proposals: Vec<Proposal> = Vec::with_capacity(count);
    for _ in 0..count {
        let proposal = read_proposal(input)?;
        if proposals.last().is_some_and(|last| last.id >= proposal.id) {
            return Err(DecodeError::NotAscending {
                what: "proposal ids",
            });
        }
        proposals.push(proposal);
    }
    Ok(proposals)
}

fn read_proposal(input: &mut Reader<'_>) -> Result<Proposal, DecodeError> {
    let id = input.u64("proposal id")?;
    let proposer = read_organisation(input, "proposer")?;
    let action = read_action(input)?;
    let created_epoch = input.u64("created epoch")?;
    let created_height = input.u64("created height")?;
    let expires_at_epoch = input.u64("expiry epoch")?;
    let electorate_count = input.count("electorate", MAX_MEMBERS, 4)?;
    let electorate = (0..electorate_count)
        .map(|_| read_organisation(input, "electorate organisation"))
        .collect::<Result<Vec<_>, _>>()?;
    let vote_count = input.count("votes", MAX_MEMBERS, 5)?;
    let votes = (0..vote_count)
        .map(|_| {
            Ok(CastVote {
                voter: read_organisation(input, "voter")?,
                approve: input.bool("approve")?,
            })
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    Ok(Proposal {
        id,
        proposer,
        action,
        created_epoch,
        created_height,
        expires_at_epoch,
        electorate,
        votes,
        status: read_status(input)?,
    })
}

fn write_status(out: &mut Writer, status: &ProposalStatus) {
    match status {
        ProposalStatus::Open => out.u8(0),
        ProposalStatus::Passed { passed_in_epoch } => {
            out.u8(1);
            out.u64(*passed_in_epoch);
        }
        ProposalStatus::Enacted { effective_epoch } => {
            out.u8(2);
            out.u64(*effective_epoch);
        }
        ProposalStatus::Failed { epoch, reason } => {
            out.u8(3);
            out.u64(*epoch);
            out.string(reason);
        }
        ProposalStatus::Rejected { epoch } => {
            out.u8(4);
            out.u64(*epoch);
        }
        ProposalStatus::Expired { epoch } => {
            out.u8(5);
            out.u64(*epoch);
        }
    }
}

fn read_status(input: &mut Reader<'_>) -> Result<ProposalStatus, DecodeError> {
    Ok(match input.u8("proposal status")? {
        0 => ProposalStatus::Open,
        1 => ProposalStatus::Passed {
            passed_in_epoch: input.u64("passed epoch")?,
        },
        2 => ProposalStatus::Enacted {
            effective_epoch: input.u64("effective epoch")?,
        },
        3 => ProposalStatus::Failed {
            epoch: input.u64("failed epoch")?,
            reason: input.string("failure reason", MAX_REASON_BYTES)?,
        },
        4 => ProposalStatus::Rejected {
            epoch: input.u64("rejected epoch")?,
        },
        5 => ProposalStatus::Expired {
            epoch: input.u64("expired epoch")?,
        },
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "proposal status",
                tag,
            });
        }
    })
}

fn write_distribution(out: &mut Writer, distribution: &FeeDistribution) {
    out.u64(distribution.epoch);
    out.u256(distribution.collected);
    out.u256(distribution.carried_in);
    out.count(distribution.payouts.len());
    for payout in &distribution.payouts {
        out.string(&payout.organisation);
        out.address(payout.fee_recipient);
        out.u256(payout.amount);
    }
    out.u256(distribution.carried_out);
}

fn read_distribution(input: &mut Reader<'_>) -> Result<FeeDistribution, DecodeError> {
    let epoch = input.u64("distribution epoch")?;
    let collected = input.u256("collected fees")?;
    let carried_in = input.u256("carried in")?;
    let count = input.count("payouts", MAX_MEMBERS, 4 + 20 + 32)?;
    let payouts = (0..count)
        .map(|_| {
            Ok(MemberPayout {
                organisation: read_organisation(input, "payout organisation")?,
                fee_recipient: input.address("payout recipient")?,
                amount: input.u256("payout amount")?,
            })
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    Ok(FeeDistribution {
        epoch,
        collected,
        carried_in,
        payouts,
        carried_out: input.u256("carried out")?,
    })
}
