//! A hand-driven engine and helpers to sign what other validators would send it.

use kaimeng_consensus::signing::signing_bytes;
use kaimeng_consensus::sim::{MockScheme, MockSigner};
use kaimeng_consensus::{
    Anchor, Certificate, Config, Digest, Effect, Engine, Input, Justification, Message, Parent,
    Proposal, ProposalMessage, Rejection, SignedVote, Signer, TimeoutConfig, ValidatorIndex, View,
    Vote,
};
use std::time::Duration;

pub const NAMESPACE: &[u8] = b"kaimeng/test";
pub const ANCHOR: Anchor = Anchor {
    height: 100,
    digest: Digest([0xa0; 32]),
};
pub const BASE: Duration = Duration::from_millis(100);
pub const MAX: Duration = Duration::from_millis(1_000);

pub struct Harness {
    pub scheme: MockScheme,
    pub engine: Engine<MockSigner, MockScheme>,
}

pub fn config(scheme: &MockScheme, me: Option<ValidatorIndex>) -> Config {
    let mut config = Config::new(NAMESPACE.to_vec(), 0, scheme.validator_set(), me, ANCHOR);
    config.timeouts = TimeoutConfig {
        base: BASE,
        max: MAX,
    };
    config
}

impl Harness {
    /// Validator `me` of `n`, started fresh; returns the start effects too.
    pub fn new(n: usize, me: Option<ValidatorIndex>) -> (Self, Vec<Effect>) {
        Self::with_config(n, me, |_| {})
    }

    pub fn with_config(
        n: usize,
        me: Option<ValidatorIndex>,
        edit: impl FnOnce(&mut Config),
    ) -> (Self, Vec<Effect>) {
        let scheme = MockScheme::new(n);
        let mut config = config(&scheme, me);
        edit(&mut config);
        let signer = scheme.signer(me.unwrap_or(0) as usize);
        let mut engine = Engine::new(config, signer, scheme.clone());
        let effects = engine.start(Vec::new());
        (Self { scheme, engine }, effects)
    }

    pub fn apply(&mut self, input: Input) -> Result<Vec<Effect>, Rejection> {
        self.engine.apply(input)
    }

    pub fn deliver(&mut self, message: Message) -> Result<Vec<Effect>, Rejection> {
        self.engine.apply(Input::Message(message))
    }
}

pub fn sign(scheme: &MockScheme, signer: ValidatorIndex, vote: Vote) -> SignedVote {
    let signature = scheme
        .signer(signer as usize)
        .sign(&signing_bytes(NAMESPACE, &vote));
    SignedVote {
        vote,
        signer,
        signature,
    }
}

pub fn certificate(scheme: &MockScheme, signers: &[ValidatorIndex], vote: Vote) -> Certificate {
    let signatures = signers
        .iter()
        .map(|s| (*s, sign(scheme, *s, vote).signature))
        .collect();
    Certificate { vote, signatures }
}

pub fn payload(tag: u8) -> Digest {
    Digest([tag; 32])
}

/// A proposal at `view` extending the anchor.
pub fn on_anchor(view: View, tag: u8) -> Proposal {
    Proposal {
        epoch: 0,
        view,
        height: ANCHOR.height + 1,
        parent: Parent {
            view: 0,
            digest: ANCHOR.digest,
        },
        payload: payload(tag),
    }
}

pub fn proposal_message(
    scheme: &MockScheme,
    leader: ValidatorIndex,
    proposal: Proposal,
    justification: Justification,
) -> Message {
    Message::Proposal(ProposalMessage {
        vote: sign(scheme, leader, Vote::Notarize(proposal)),
        justification,
    })
}

pub fn nullify(view: View) -> Vote {
    Vote::Nullify { epoch: 0, view }
}

/// The votes this node broadcast in `effects`.
pub fn broadcast_votes(effects: &[Effect]) -> Vec<Vote> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Broadcast(Message::Vote(signed)) => Some(signed.vote),
            Effect::Broadcast(Message::Proposal(proposal)) => Some(proposal.vote.vote),
            _ => None,
        })
        .collect()
}

pub fn timeouts(effects: &[Effect]) -> Vec<Duration> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::ScheduleTimeout { after, .. } => Some(*after),
            _ => None,
        })
        .collect()
}
