//! Governed parameters: bounds (genesis's), and changes that wait for the epoch boundary.

use kaimeng_genesis::{DevOptions, GenesisSpec, MAX_BLOCK_GAS_LIMIT, MIN_BLOCK_GAS_LIMIT};
use kaimeng_l1::governance::{Action, GovernanceError};
use kaimeng_l1::membership::{MAX_COMMITTEE_SIZE, MembershipError, Parameter};

use crate::common::{Consortium, proposal_id};

fn pass(net: &mut Consortium, parameter: Parameter) -> u64 {
    let id = proposal_id(net.propose(0, Action::SetParameter(parameter)).unwrap());
    for voter in [1, 2] {
        net.vote(voter, id, true).unwrap();
    }
    id
}

#[test]
fn a_parameter_change_takes_effect_only_at_the_boundary() {
    let mut net = Consortium::new(4);
    let genesis_length = net.state.epoch().length;
    pass(&mut net, Parameter::BlockGasLimit(60_000_000));
    pass(&mut net, Parameter::MinBaseFee(2_000_000_000));
    pass(&mut net, Parameter::EpochLength(5));
    pass(&mut net, Parameter::CommitteeSize(3));

    // Every height of the epoch still runs under the old values.
    assert_eq!(net.state.parameters().block_gas_limit, 30_000_000);
    assert_eq!(net.state.parameters().min_base_fee, 1_000_000_000);
    assert_eq!(net.state.epoch().length, genesis_length);
    let last = net.state.epoch().last_height;
    net.height = last;
    let late = proposal_id(
        net.propose(3, Action::SetParameter(Parameter::CommitteeSize(2)))
            .unwrap(),
    );
    assert!(net.state.proposal(late).unwrap().is_open());

    let transition = net.end_epoch(0);
    assert!(transition.parameters_changed && !transition.validators_changed);
    let parameters = net.state.parameters();
    assert_eq!(parameters.block_gas_limit, 60_000_000);
    assert_eq!(parameters.min_base_fee, 2_000_000_000);
    assert_eq!(parameters.committee_size, 3);
    assert_eq!(parameters, &transition.parameters);
    // The new epoch already has the new length: heights last+1 ..= last+5.
    assert_eq!(transition.epoch.start_height, last + 1);
    assert_eq!(transition.epoch.last_height, last + 5);
    assert_eq!(net.state.epoch().length, 5);
    let next = net.end_epoch(0);
    assert_eq!(next.epoch.start_height, last + 6);
}

#[test]
fn the_boundary_is_refused_at_any_other_height_and_changes_nothing() {
    let mut net = Consortium::new(4);
    pass(&mut net, Parameter::BlockGasLimit(60_000_000));
    let before = net.state.clone();
    let epoch = net.state.epoch();
    for height in [
        0,
        epoch.start_height,
        epoch.last_height - 1,
        epoch.last_height + 1,
    ] {
        assert_eq!(
            net.state.on_epoch_boundary(height, Default::default()),
            Err(GovernanceError::NotEpochBoundary {
                height,
                epoch: 0,
                expected: epoch.last_height
            })
        );
    }
    assert_eq!(net.state, before);
    // Transactions must fall in the current epoch: a missed boundary is noticed.
    let tx = net.vote_tx(3, 1, true);
    assert_eq!(
        net.state.apply_tx(epoch.last_height + 1, &tx),
        Err(GovernanceError::HeightOutsideEpoch {
            height: epoch.last_height + 1,
            epoch: 0,
            start: epoch.start_height,
            last: epoch.last_height
        })
    );
    assert_eq!(net.state, before);
}

#[test]
fn out_of_bounds_parameters_are_rejected_when_proposed() {
    let mut net = Consortium::new(4);
    let out_of_bounds = [
        Parameter::BlockGasLimit(MIN_BLOCK_GAS_LIMIT - 1),
        Parameter::BlockGasLimit(MAX_BLOCK_GAS_LIMIT + 1),
        Parameter::BlockGasLimit(0),
        Parameter::EpochLength(0),
        Parameter::MinBaseFee(0),
        Parameter::CommitteeSize(0),
        Parameter::CommitteeSize(MAX_COMMITTEE_SIZE + 1),
        Parameter::ProposalLifetimeEpochs(0),
        Parameter::ProposalLifetimeEpochs(1_025),
    ];
    for parameter in out_of_bounds {
        let name = parameter.name();
        match net.propose(0, Action::SetParameter(parameter)) {
            Err(GovernanceError::InvalidAction(MembershipError::ParameterOutOfBounds {
                parameter,
                ..
            })) => assert_eq!(parameter, name),
            other => panic!("{name}: expected ParameterOutOfBounds, got {other:?}"),
        }
    }
    for parameter in [
        Parameter::BlockGasLimit(MIN_BLOCK_GAS_LIMIT),
        Parameter::BlockGasLimit(MAX_BLOCK_GAS_LIMIT),
        Parameter::EpochLength(1),
        Parameter::MinBaseFee(1),
        Parameter::CommitteeSize(1),
        Parameter::CommitteeSize(MAX_COMMITTEE_SIZE),
    ] {
        let mut fresh = Consortium::new(4);
        fresh.propose(0, Action::SetParameter(parameter)).unwrap();
    }
}

#[test]
fn a_zero_minimum_base_fee_is_allowed_only_if_genesis_allowed_it() {
    let mut genesis = GenesisSpec::dev(&DevOptions::default());
    genesis.allow_zero_base_fee = true;
    let mut net = Consortium::from_genesis(genesis);
    pass(&mut net, Parameter::MinBaseFee(0));
    net.end_epoch(0);
    assert_eq!(net.state.parameters().min_base_fee, 0);
}

#[test]
fn gas_limit_bounds_agree_with_genesis_validation() {
    for limit in [
        0,
        MIN_BLOCK_GAS_LIMIT - 1,
        MIN_BLOCK_GAS_LIMIT,
        30_000_000,
        MAX_BLOCK_GAS_LIMIT,
        MAX_BLOCK_GAS_LIMIT + 1,
        u64::MAX,
    ] {
        let mut genesis = GenesisSpec::dev(&DevOptions::default());
        genesis.block_gas_limit = limit;
        let governance = Parameter::BlockGasLimit(limit).check(false, &genesis.members);
        assert_eq!(
            governance.is_ok(),
            genesis.validate().is_ok(),
            "limit {limit}"
        );
    }
    for length in [0, 1, 32, u64::MAX] {
        let mut genesis = GenesisSpec::dev(&DevOptions::default());
        genesis.epoch_length = length;
        let governance = Parameter::EpochLength(length).check(false, &genesis.members);
        assert_eq!(
            governance.is_ok(),
            genesis.validate().is_ok(),
            "length {length}"
        );
    }
}
