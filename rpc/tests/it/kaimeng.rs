//! The `kaimeng_*` namespace over an in-memory consortium that applies accepted transactions at
//! once: the views it answers, a fifth member voted in, and refusals with their codes.

use std::sync::Arc;

use alloy_primitives::{B256, Bytes, U256};
use jsonrpsee::RpcModule;
use jsonrpsee::core::client::Error as ClientError;
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::server::Server;
use jsonrpsee::types::ErrorObjectOwned;
use kaimeng_genesis::{CryptoSuite, DevKeyRole, DevOptions, GenesisSpec, dev_member_secret};
use kaimeng_l1::governance::{
    Action, ConsortiumState, EpochView, GovernanceDomain, GovernanceError, GovernanceTx,
    MembersView, ProposalStatus, ProposalView, ProposalsView, SignedGovernanceTx,
};
use kaimeng_l1::membership::{Member, Parameter};
use kaimeng_rpc::api::kaimeng::{GovernanceDomainView, KaimengApiClient, KaimengApiServer};
use kaimeng_rpc::kaimeng::admit;
use kaimeng_rpc::{Consortium, ImmediateConsortium, KaimengRpc};
use serde_json::json;

struct Network {
    genesis: GenesisSpec,
    consortium: Arc<ImmediateConsortium>,
    module: RpcModule<KaimengRpc>,
}

fn network(suite: CryptoSuite) -> Network {
    let genesis = GenesisSpec::dev(&DevOptions {
        validators: 4,
        crypto_suite: suite,
        ..DevOptions::default()
    });
    let state = ConsortiumState::from_genesis(&genesis).expect("dev genesis is valid");
    let consortium = Arc::new(ImmediateConsortium::new(state));
    let module = KaimengRpc::new(consortium.clone()).into_rpc();
    Network {
        genesis,
        consortium,
        module,
    }
}

fn admin_key(index: u32, suite: CryptoSuite) -> kaimeng_crypto::SecretKey {
    let secret = dev_member_secret(index, DevKeyRole::Admin, suite);
    let crypto_suite = match suite {
        CryptoSuite::Secp256k1Keccak => kaimeng_crypto::CryptoSuite::Secp256k1Keccak,
        CryptoSuite::Sm2Sm3 => kaimeng_crypto::CryptoSuite::Sm2Sm3,
    };
    kaimeng_crypto::SecretKey::from_bytes(crypto_suite, secret.as_slice()).expect("dev key")
}

/// The fifth dev member (keys of dev index 4), a candidate for admission.
fn candidate(suite: CryptoSuite) -> Member {
    let five = GenesisSpec::dev(&DevOptions {
        validators: 5,
        crypto_suite: suite,
        ..DevOptions::default()
    });
    five.members[4].clone()
}

impl Network {
    fn domain(&self) -> GovernanceDomain {
        GovernanceDomain::of(&self.genesis)
    }

    fn propose(&self, member: u32, action: Action, nonce: u64) -> SignedGovernanceTx {
        GovernanceTx::Propose {
            proposer: format!("dev-member-{member}"),
            action,
            nonce,
        }
        .sign(
            &self.domain(),
            &admin_key(member, self.genesis.crypto_suite),
        )
    }

    fn vote(&self, member: u32, proposal_id: u64, approve: bool, nonce: u64) -> SignedGovernanceTx {
        GovernanceTx::Vote {
            voter: format!("dev-member-{member}"),
            proposal_id,
            approve,
            nonce,
        }
        .sign(
            &self.domain(),
            &admin_key(member, self.genesis.crypto_suite),
        )
    }

    async fn send(&self, tx: &SignedGovernanceTx) -> Result<B256, ErrorObjectOwned> {
        self.send_bytes(tx.encode()).await
    }

    async fn send_bytes(&self, bytes: Vec<u8>) -> Result<B256, ErrorObjectOwned> {
        self.module
            .call("kaimeng_sendGovernanceTransaction", [Bytes::from(bytes)])
            .await
            .map_err(|error| match error {
                jsonrpsee::core::server::MethodsError::JsonRpc(object) => object,
                other => panic!("not a JSON-RPC error: {other}"),
            })
    }

    async fn members(&self) -> MembersView {
        self.module
            .call("kaimeng_members", jsonrpsee::rpc_params![])
            .await
            .unwrap()
    }

    async fn proposal(&self, id: u64) -> Option<ProposalView> {
        self.module.call("kaimeng_proposal", [id]).await.unwrap()
    }
}

#[tokio::test]
async fn views_of_the_dev_genesis() {
    for suite in CryptoSuite::ALL {
        let net = network(suite);
        let members = net.members().await;
        assert_eq!(members.epoch, 0);
        let names: Vec<_> = members
            .members
            .iter()
            .map(|m| m.organisation.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "dev-member-0",
                "dev-member-1",
                "dev-member-2",
                "dev-member-3"
            ]
        );
        assert!(members.members.iter().all(|m| m.next_nonce == 0));
        assert_eq!(
            members.members[2].admin_key,
            net.genesis.members[2].admin_key
        );

        let epoch: EpochView = net
            .module
            .call("kaimeng_epoch", jsonrpsee::rpc_params![])
            .await
            .unwrap();
        assert_eq!(epoch.epoch.epoch, 0);
        assert_eq!(epoch.epoch.start_height, 1);
        assert_eq!(epoch.epoch.length, net.genesis.epoch_length);
        assert_eq!(epoch.validators.len(), 4);
        assert_eq!(
            epoch.parameters.block_gas_limit,
            net.genesis.block_gas_limit
        );
        assert!(epoch.scheduled.is_empty());

        let domain: GovernanceDomainView = net
            .module
            .call("kaimeng_governanceDomain", jsonrpsee::rpc_params![])
            .await
            .unwrap();
        assert_eq!(domain.domain(), net.domain());
        assert_eq!(domain.crypto_suite, suite);

        let proposals: ProposalsView = net
            .module
            .call("kaimeng_proposals", [None::<String>])
            .await
            .unwrap();
        assert!(proposals.proposals.is_empty());
        assert_eq!(net.proposal(1).await, None);
    }
}

#[tokio::test]
async fn four_members_vote_in_a_fifth_through_the_rpc() {
    for suite in CryptoSuite::ALL {
        let net = network(suite);
        let fifth = candidate(suite);
        let id = net
            .send(&net.propose(0, Action::AddMember(fifth.clone()), 0))
            .await
            .expect("member 0 may propose");
        assert_eq!(
            id,
            net.propose(0, Action::AddMember(fifth.clone()), 0)
                .id(suite_of(suite))
        );

        let open = net.proposal(1).await.expect("proposal 1 exists");
        assert_eq!(open.proposal.status, ProposalStatus::Open);
        assert_eq!(open.proposal.proposer, "dev-member-0");
        assert_eq!((open.tally.approvals, open.tally.needed), (1, 3));
        let nonce: u64 = net
            .module
            .call("kaimeng_governanceNonce", ["dev-member-0"])
            .await
            .unwrap();
        assert_eq!(nonce, 1);

        net.send(&net.vote(1, 1, true, 0)).await.expect("vote 1");
        let still_open: ProposalsView = net
            .module
            .call("kaimeng_proposals", ["open"])
            .await
            .unwrap();
        assert_eq!(still_open.proposals.len(), 1);
        assert_eq!(still_open.proposals[0].tally.approvals, 2);

        net.send(&net.vote(2, 1, true, 0)).await.expect("vote 2");
        let passed = net.proposal(1).await.unwrap();
        assert_eq!(
            passed.proposal.status,
            ProposalStatus::Passed { passed_in_epoch: 0 }
        );
        let open: ProposalsView = net
            .module
            .call("kaimeng_proposals", ["open"])
            .await
            .unwrap();
        assert!(open.proposals.is_empty());
        let all: ProposalsView = net.module.call("kaimeng_proposals", ["all"]).await.unwrap();
        assert_eq!(all.proposals.len(), 1);
        let epoch: EpochView = net
            .module
            .call("kaimeng_epoch", jsonrpsee::rpc_params![])
            .await
            .unwrap();
        assert_eq!(epoch.scheduled, [1]);
        assert_eq!(
            net.members().await.members.len(),
            4,
            "not before the boundary"
        );

        // A vote on a closed proposal is refused with the state's reason.
        let late = net.send(&net.vote(3, 1, true, 0)).await.unwrap_err();
        assert_eq!(late.code(), -32000);
        assert!(
            late.message().contains("no longer open"),
            "{}",
            late.message()
        );

        net.consortium.end_epoch(U256::ZERO).expect("boundary");
        let members = net.members().await;
        assert_eq!(members.epoch, 1);
        assert_eq!(members.members.len(), 5);
        assert_eq!(members.members[4].organisation, fifth.organisation);
        assert_eq!(
            net.proposal(1).await.unwrap().proposal.status,
            ProposalStatus::Enacted { effective_epoch: 1 }
        );
    }
}

fn suite_of(suite: CryptoSuite) -> kaimeng_crypto::CryptoSuite {
    match suite {
        CryptoSuite::Secp256k1Keccak => kaimeng_crypto::CryptoSuite::Secp256k1Keccak,
        CryptoSuite::Sm2Sm3 => kaimeng_crypto::CryptoSuite::Sm2Sm3,
    }
}

#[tokio::test]
async fn refusals_have_codes_and_reasons_and_change_nothing() {
    let net = network(CryptoSuite::Secp256k1Keccak);
    let before = net.consortium.finalized_state();
    let gas = || Action::SetParameter(Parameter::BlockGasLimit(60_000_000));

    let garbage = net
        .send_bytes(vec![0xde, 0xad, 0xbe, 0xef])
        .await
        .unwrap_err();
    assert_eq!(garbage.code(), -32602);
    assert!(
        garbage.message().contains("not a governance transaction"),
        "{}",
        garbage.message()
    );
    let empty = net.send_bytes(Vec::new()).await.unwrap_err();
    assert_eq!(empty.code(), -32602);

    // Member 0's transaction signed with member 1's admin key.
    let forged = GovernanceTx::Propose {
        proposer: "dev-member-0".into(),
        action: gas(),
        nonce: 0,
    }
    .sign(&net.domain(), &admin_key(1, CryptoSuite::Secp256k1Keccak));
    let bad_signature = net.send(&forged).await.unwrap_err();
    assert_eq!(bad_signature.code(), -32000);
    assert!(
        bad_signature.message().contains("does not verify"),
        "{}",
        bad_signature.message()
    );

    // A valid signature with one byte of the signature changed.
    let mut flipped = net.propose(0, gas(), 0);
    flipped.signature[10] ^= 1;
    assert_eq!(net.send(&flipped).await.unwrap_err().code(), -32000);

    // Signed for another network.
    let other_chain = GovernanceTx::Propose {
        proposer: "dev-member-0".into(),
        action: gas(),
        nonce: 0,
    }
    .sign(
        &GovernanceDomain {
            chain_id: 1,
            ..net.domain()
        },
        &admin_key(0, CryptoSuite::Secp256k1Keccak),
    );
    assert!(
        net.send(&other_chain)
            .await
            .unwrap_err()
            .message()
            .contains("does not verify")
    );

    let outsider = GovernanceTx::Propose {
        proposer: "acme".into(),
        action: gas(),
        nonce: 0,
    }
    .sign(&net.domain(), &admin_key(7, CryptoSuite::Secp256k1Keccak));
    let non_member = net.send(&outsider).await.unwrap_err();
    assert_eq!(non_member.code(), -32000);
    assert_eq!(non_member.message(), "\"acme\" is not a current member");

    let wrong_nonce = net.send(&net.propose(0, gas(), 5)).await.unwrap_err();
    assert_eq!(wrong_nonce.code(), -32000);
    assert!(
        wrong_nonce.message().contains("nonce 5") && wrong_nonce.message().contains("next nonce 0"),
        "{}",
        wrong_nonce.message()
    );

    let unknown = net.send(&net.vote(1, 9, true, 0)).await.unwrap_err();
    assert_eq!(unknown.message(), "there is no proposal 9");

    let bad_value = net
        .send(&net.propose(0, Action::SetParameter(Parameter::EpochLength(0)), 0))
        .await
        .unwrap_err();
    assert_eq!(bad_value.code(), -32000);
    assert!(
        bad_value.message().contains("rejected proposal"),
        "{}",
        bad_value.message()
    );

    let status = net
        .module
        .call::<_, ProposalsView>("kaimeng_proposals", ["pending"])
        .await
        .unwrap_err();
    assert!(
        status.to_string().contains("unknown proposal status"),
        "{status}"
    );

    assert_eq!(
        net.consortium.finalized_state(),
        before,
        "refusals change nothing"
    );
    assert!(net.consortium.outcomes().is_empty());
}

/// A pool that already holds member 0's transaction with nonce 0.
struct PooledAhead(ImmediateConsortium);

impl Consortium for PooledAhead {
    fn finalized_state(&self) -> ConsortiumState {
        self.0.finalized_state()
    }
    fn submit_governance(&self, tx: SignedGovernanceTx) -> Result<B256, GovernanceError> {
        Ok(tx.id(kaimeng_crypto::CryptoSuite::Secp256k1Keccak))
    }
    fn pooled_next_nonce(&self, organisation: &str) -> Option<u64> {
        (organisation == "dev-member-0").then_some(1)
    }
}

#[tokio::test]
async fn nonces_ahead_of_the_finalized_state_only_right_after_the_pool() {
    let net = network(CryptoSuite::Secp256k1Keccak);
    let state = net.consortium.finalized_state();
    let gas = Action::SetParameter(Parameter::BlockGasLimit(60_000_000));

    let next = net.propose(0, gas.clone(), 1);
    assert_eq!(admit(&state, Some(1), &next), Ok(()));
    assert!(matches!(
        admit(&state, None, &next),
        Err(GovernanceError::BadNonce {
            expected: 0,
            got: 1,
            ..
        })
    ));
    assert!(matches!(
        admit(&state, Some(1), &net.propose(0, gas.clone(), 2)),
        Err(GovernanceError::BadNonce { .. })
    ));
    let mut forged = next.clone();
    forged.signature[3] ^= 1;
    assert!(matches!(
        admit(&state, Some(1), &forged),
        Err(GovernanceError::BadSignature { .. })
    ));

    let pooled = KaimengRpc::new(Arc::new(PooledAhead(ImmediateConsortium::new(state)))).into_rpc();
    let nonce: u64 = pooled
        .call("kaimeng_governanceNonce", ["dev-member-0"])
        .await
        .unwrap();
    assert_eq!(nonce, 1);
    let other: u64 = pooled
        .call("kaimeng_governanceNonce", ["dev-member-1"])
        .await
        .unwrap();
    assert_eq!(other, 0);
    let id: B256 = pooled
        .call(
            "kaimeng_sendGovernanceTransaction",
            [Bytes::from(next.encode())],
        )
        .await
        .unwrap();
    assert_eq!(id, next.id(kaimeng_crypto::CryptoSuite::Secp256k1Keccak));
}

#[tokio::test]
async fn the_generated_client_reads_every_view_over_http() {
    let net = network(CryptoSuite::Sm2Sm3);
    let fifth = candidate(CryptoSuite::Sm2Sm3);
    net.send(&net.propose(0, Action::AddMember(fifth), 0))
        .await
        .unwrap();
    net.send(&net.vote(1, 1, false, 0)).await.unwrap();

    let server = Server::builder().build("127.0.0.1:0").await.unwrap();
    let addr = server.local_addr().unwrap();
    let handle = server.start(KaimengRpc::methods(net.consortium.clone()));
    let client = HttpClientBuilder::default()
        .build(format!("http://{addr}"))
        .unwrap();

    let state = net.consortium.finalized_state();
    assert_eq!(client.members().await.unwrap(), state.members_view());
    assert_eq!(client.epoch().await.unwrap(), state.epoch_view());
    assert_eq!(
        client.proposals(None).await.unwrap(),
        state.proposals_view(None)
    );
    let one = client.proposal(1).await.unwrap().unwrap();
    assert_eq!((one.tally.approvals, one.tally.rejections), (1, 1));
    assert_eq!(
        client
            .governance_nonce("dev-member-1".into())
            .await
            .unwrap(),
        1
    );
    let domain = client.governance_domain().await.unwrap();
    assert_eq!(domain.domain(), net.domain());

    let vote = net.vote(2, 1, true, 0);
    let id = client
        .send_governance_transaction(Bytes::from(vote.encode()))
        .await
        .unwrap();
    assert_eq!(id, vote.id(kaimeng_crypto::CryptoSuite::Sm2Sm3));
    match client
        .send_governance_transaction(Bytes::from(vote.encode()))
        .await
    {
        Err(ClientError::Call(object)) => {
            assert_eq!(object.code(), -32000);
            assert!(
                object.message().contains("replayed"),
                "{}",
                object.message()
            );
        }
        other => panic!("a replayed vote must be refused: {other:?}"),
    }

    // Raw JSON, as any HTTP client sends it: field names are the documented ones.
    let raw: serde_json::Value = serde_json::to_value(client.proposal(1).await.unwrap()).unwrap();
    assert_eq!(raw["status"], json!("open"));
    assert_eq!(raw["tally"]["needed"], json!(3));
    assert_eq!(
        raw["action"]["add-member"]["organisation"],
        json!("dev-member-4")
    );

    handle.stop().unwrap();
}
