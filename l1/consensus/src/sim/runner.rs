//! The simulation's event loop and its host: it performs each engine's effects the way a real
//! node would (persist to a simulated disk, send through the simulated network, schedule
//! timers, answer payload requests) and injects the scenario's faults.

use super::SIM_NAMESPACE;
use super::byzantine::{INVALID_PAYLOAD_MARK, rewrite, valid_payload};
use super::mock_crypto::{MockScheme, MockSigner};
use super::monitor::Monitor;
use super::network::Network;
use super::outcome::{NodeReport, Outcome};
use super::rng::SimRng;
use super::scenario::{Behaviour, EpochPlan, Fault, Millis, NodeId, Scenario};
use crate::codec::{decode_message, decode_record, encode_message, encode_record};
use crate::engine::{Anchor, Config, Effect, Engine, Input, Rejection, Timer};
use crate::finality::{FinalityClaim, FinalityError, verify_finality};
use crate::messages::{Certificate, Message, Record, SignedVote, Vote};
use crate::signing::{Signer, signing_bytes};
use crate::types::{Digest, Epoch, Height, Proposal, ValidatorIndex, View};
use std::collections::BTreeMap;
use std::rc::Rc;

type SimEngine = Engine<MockSigner, MockScheme>;

const GENESIS: Anchor = Anchor {
    height: 0,
    digest: Digest([0x6e; 32]),
};

enum Event {
    Deliver {
        to: NodeId,
        bytes: Rc<Vec<u8>>,
    },
    Timer {
        node: NodeId,
        incarnation: u64,
        epoch: Epoch,
        timer: Timer,
    },
    App {
        node: NodeId,
        incarnation: u64,
        epoch: Epoch,
        input: Box<Input>,
    },
    Fault(Fault),
}

struct Node {
    key: usize,
    behaviour: Behaviour,
    /// Shares its key with another node: its votes may legitimately conflict.
    twinned: bool,
    up: bool,
    incarnation: u64,
    crash_mid_effects: bool,
    /// The engines of the current epoch and the one before (kept to help laggards).
    engines: BTreeMap<Epoch, SimEngine>,
    /// Durable host state: the current epoch, the anchors of started epochs, the records.
    epoch: Epoch,
    anchors: BTreeMap<Epoch, Anchor>,
    disk: Vec<(Epoch, View, Vec<u8>)>,
    finalized: BTreeMap<Height, (Digest, Millis)>,
    rejections: BTreeMap<&'static str, u64>,
    faults_reported: u64,
}

pub(super) struct Simulation {
    scenario: Scenario,
    plans: Vec<EpochPlan>,
    scheme: MockScheme,
    rng: SimRng,
    network: Network,
    now: Millis,
    sequence: u64,
    queue: BTreeMap<(Millis, u64), Event>,
    nodes: Vec<Node>,
    /// Each epoch's last block with the certificate it ended with, as the first node to end
    /// the epoch reported them: what block sync serves to a node that missed the end.
    epoch_ends: BTreeMap<Epoch, (Proposal, Certificate)>,
    monitor: Monitor,
    trace: TraceHash,
    events: u64,
    delivered: u64,
    highest: Height,
}

impl Simulation {
    pub fn new(scenario: Scenario) -> Self {
        let node_count = scenario.node_count();
        let scheme = MockScheme::new(node_count.max(1));
        let plans = if scenario.epochs.is_empty() {
            vec![EpochPlan {
                members: (0..scenario.validators).collect(),
                last_height: None,
            }]
        } else {
            scenario.epochs.clone()
        };
        let mut nodes = Vec::with_capacity(node_count);
        for id in 0..node_count {
            let twin_of = id
                .checked_sub(scenario.validators)
                .and_then(|i| scenario.twins.get(i))
                .copied();
            let key = twin_of.unwrap_or(id);
            let twinned = twin_of.is_some() || scenario.twins.contains(&id);
            nodes.push(Node {
                key,
                behaviour: scenario
                    .behaviours
                    .get(&id)
                    .copied()
                    .unwrap_or(Behaviour::Honest),
                twinned,
                up: true,
                incarnation: 0,
                crash_mid_effects: false,
                engines: BTreeMap::new(),
                epoch: 0,
                anchors: BTreeMap::from([(0, GENESIS)]),
                disk: Vec::new(),
                finalized: BTreeMap::new(),
                rejections: BTreeMap::new(),
                faults_reported: 0,
            });
        }
        let rng = SimRng::new(scenario.seed);
        let network = Network::new(scenario.latency, scenario.loss_ppm);
        Self {
            plans,
            scheme,
            rng,
            network,
            now: 0,
            sequence: 0,
            queue: BTreeMap::new(),
            nodes,
            epoch_ends: BTreeMap::new(),
            monitor: Monitor::default(),
            trace: TraceHash::default(),
            events: 0,
            delivered: 0,
            highest: 0,
            scenario,
        }
    }

    pub fn run(mut self, duration: Millis) -> Outcome {
        for (at, fault) in self.scenario.faults.clone() {
            self.schedule(at, Event::Fault(fault));
        }
        for node in 0..self.nodes.len() {
            self.boot(node);
        }
        while let Some(entry) = self.queue.first_entry() {
            let (time, _) = *entry.key();
            if time > duration {
                break;
            }
            let event = entry.remove();
            self.now = time;
            self.events += 1;
            self.handle(event);
            if self
                .scenario
                .stop_at_height
                .is_some_and(|h| self.highest >= h)
            {
                break;
            }
        }
        self.finish(duration)
    }

    fn finish(self, duration: Millis) -> Outcome {
        let nodes = self
            .nodes
            .into_iter()
            .map(|node| NodeReport {
                behaviour: node.behaviour,
                up: node.up,
                finalized: node.finalized,
                rejections: node.rejections,
                faults_reported: node.faults_reported,
                epoch: node.epoch,
            })
            .collect();
        Outcome {
            seed: self.scenario.seed,
            trace_hash: self.trace.finish(),
            nodes,
            violations: self.monitor.violations,
            events: self.events,
            messages_delivered: self.delivered,
            end: duration,
        }
    }

    fn schedule(&mut self, at: Millis, event: Event) {
        self.sequence += 1;
        self.queue.insert((at, self.sequence), event);
    }

    fn trace(&mut self, tag: u8, node: NodeId, data: &[u8]) {
        self.trace.word(self.now);
        self.trace.word(u64::from(tag) << 32 | node as u64);
        self.trace.bytes(data);
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Deliver { to, bytes } => {
                if !self.nodes[to].up {
                    return;
                }
                self.delivered += 1;
                self.trace(1, to, &bytes);
                match decode_message(&bytes) {
                    Ok(message) => {
                        let epoch = message.epoch();
                        self.feed(to, epoch, Input::Message(message));
                    }
                    Err(_) => *self.nodes[to].rejections.entry("undecodable").or_default() += 1,
                }
            }
            Event::Timer {
                node,
                incarnation,
                epoch,
                timer,
            } => {
                if self.nodes[node].incarnation == incarnation && self.nodes[node].up {
                    self.trace(2, node, &timer.view.to_le_bytes());
                    self.feed(node, epoch, Input::Timeout(timer));
                }
            }
            Event::App {
                node,
                incarnation,
                epoch,
                input,
            } => {
                if self.nodes[node].incarnation == incarnation && self.nodes[node].up {
                    self.trace(3, node, &[]);
                    self.feed(node, epoch, *input);
                }
            }
            Event::Fault(fault) => self.inject(fault),
        }
    }

    fn inject(&mut self, fault: Fault) {
        match fault {
            Fault::Crash { node, mid_effects } if node < self.nodes.len() => {
                self.trace(4, node, &[u8::from(mid_effects)]);
                if mid_effects {
                    self.nodes[node].crash_mid_effects = true;
                } else {
                    self.crash(node);
                }
            }
            Fault::Restart { node } if node < self.nodes.len() => {
                self.trace(5, node, &[]);
                if self.nodes[node].up {
                    // A mid-effects crash that has not happened yet: crash now, then restart.
                    self.crash(node);
                }
                self.nodes[node].crash_mid_effects = false;
                self.nodes[node].up = true;
                self.boot(node);
            }
            Fault::Partition(groups) => {
                self.trace(6, 0, &[]);
                self.network.partition(self.nodes.len(), &groups);
            }
            Fault::Heal => {
                self.trace(7, 0, &[]);
                self.network.heal();
            }
            Fault::Loss { parts_per_million } => {
                self.trace(8, 0, &parts_per_million.to_le_bytes());
                self.network.loss_ppm = parts_per_million;
            }
            Fault::Crash { .. } | Fault::Restart { .. } => {}
        }
    }

    fn crash(&mut self, node: NodeId) {
        let state = &mut self.nodes[node];
        state.up = false;
        state.incarnation += 1;
        state.crash_mid_effects = false;
        state.engines.clear();
    }

    /// Starts (or restarts) a node's engine for its current epoch from its disk alone.
    fn boot(&mut self, node: NodeId) {
        let epoch = self.nodes[node].epoch;
        self.start_epoch(node, epoch);
    }

    fn start_epoch(&mut self, node: NodeId, epoch: Epoch) {
        let Some(mut engine) = self.make_engine(node, epoch) else {
            return;
        };
        let records: Vec<Record> = self.nodes[node]
            .disk
            .iter()
            .filter(|(e, _, _)| *e == epoch)
            .filter_map(|(_, _, bytes)| decode_record(bytes).ok())
            .collect();
        let effects = engine.start(records);
        let state = &mut self.nodes[node];
        state.epoch = epoch;
        state.engines.insert(epoch, engine);
        state.engines.retain(|e, _| *e + 1 >= epoch);
        self.perform(node, epoch, effects);
    }

    fn make_engine(&self, node: NodeId, epoch: Epoch) -> Option<SimEngine> {
        let plan = self.plans.get(epoch as usize)?;
        let state = &self.nodes[node];
        let anchor = *state.anchors.get(&epoch)?;
        let validators = self.scheme.validator_subset(&plan.members);
        let me = plan
            .members
            .iter()
            .position(|key| *key == state.key)
            .map(|i| i as ValidatorIndex);
        let mut config = Config::new(SIM_NAMESPACE.to_vec(), epoch, validators, me, anchor);
        config.timeouts = self.scenario.timeouts;
        config.last_height = plan.last_height;
        Some(Engine::new(
            config,
            self.scheme.signer(state.key),
            self.scheme.clone(),
        ))
    }

    /// Records that `node` finalized `proposal`, checking it against every other final block.
    fn record_final(&mut self, node: NodeId, proposal: Proposal) {
        self.trace(9, node, &proposal.payload.0);
        let state = &mut self.nodes[node];
        let previous = state
            .finalized
            .get(&(proposal.height.wrapping_sub(1)))
            .map(|(digest, _)| *digest);
        match state.finalized.get(&proposal.height) {
            Some((digest, _)) if *digest != proposal.payload => {
                self.monitor.violations.push(format!(
                    "node {node} finalized two blocks at height {}",
                    proposal.height
                ))
            }
            Some(_) => {}
            None => {
                state
                    .finalized
                    .insert(proposal.height, (proposal.payload, self.now));
                self.highest = self.highest.max(proposal.height);
                self.monitor.finalized(node, &proposal, previous);
            }
        }
    }

    /// Whether the certificate an epoch ended with proves its last block final to anyone
    /// holding only the epoch's validator set: what crosslinks and block sync rely on.
    fn proves_final(
        &self,
        epoch: Epoch,
        last: &Proposal,
        certificate: &Certificate,
    ) -> Result<(), FinalityError> {
        let members = self
            .plans
            .get(epoch as usize)
            .map_or(&[][..], |plan| &plan.members);
        let claim = FinalityClaim {
            epoch,
            height: last.height,
            payload: last.payload,
        };
        let validators = self.scheme.validator_subset(members);
        verify_finality(certificate, claim, SIM_NAMESPACE, &validators, &self.scheme)
    }

    /// What block sync does for a node that hears of a later epoch than its own: for each
    /// epoch it missed the end of, it takes the last block with its certificate from a peer,
    /// checks the certificate and starts the next epoch on that block. A certificate that does
    /// not check leaves the node where it is.
    fn catch_up(&mut self, node: NodeId, target: Epoch) {
        while self.nodes[node].epoch < target && self.nodes[node].up {
            let epoch = self.nodes[node].epoch;
            let Some((last, certificate)) = self.epoch_ends.get(&epoch).cloned() else {
                return;
            };
            if epoch + 1 >= self.plans.len() as Epoch {
                return;
            }
            if self.proves_final(epoch, &last, &certificate).is_err() {
                *self.nodes[node]
                    .rejections
                    .entry("epoch end not proven final")
                    .or_default() += 1;
                return;
            }
            self.trace(10, node, &last.payload.0);
            self.record_final(node, last);
            self.nodes[node].anchors.insert(
                epoch + 1,
                Anchor {
                    height: last.height,
                    digest: last.payload,
                },
            );
            self.start_epoch(node, epoch + 1);
        }
    }

    fn feed(&mut self, node: NodeId, epoch: Epoch, input: Input) {
        if epoch > self.nodes[node].epoch {
            self.catch_up(node, epoch);
        }
        let Some(engine) = self.nodes[node].engines.get_mut(&epoch) else {
            *self.nodes[node]
                .rejections
                .entry("no engine for epoch")
                .or_default() += 1;
            return;
        };
        match engine.apply(input) {
            Ok(effects) => self.perform(node, epoch, effects),
            Err(rejection) => {
                *self.nodes[node]
                    .rejections
                    .entry(rejection_name(&rejection))
                    .or_default() += 1
            }
        }
    }

    /// Performs effects in order, as a host must; a pending mid-effects crash cuts the list at
    /// a random point.
    fn perform(&mut self, node: NodeId, epoch: Epoch, effects: Vec<Effect>) {
        let cut = if self.nodes[node].crash_mid_effects {
            Some(self.rng.range(0, effects.len() as u64) as usize)
        } else {
            None
        };
        for (index, effect) in effects.into_iter().enumerate() {
            if cut == Some(index) {
                self.crash(node);
                return;
            }
            self.perform_one(node, epoch, effect);
            if !self.nodes[node].up {
                return;
            }
        }
        if cut.is_some() {
            self.crash(node);
        }
    }

    fn perform_one(&mut self, node: NodeId, epoch: Epoch, effect: Effect) {
        let incarnation = self.nodes[node].incarnation;
        match effect {
            Effect::Persist(record) => {
                let view = record.view();
                self.nodes[node]
                    .disk
                    .push((epoch, view, encode_record(&record)));
            }
            Effect::Prune { below_view } => {
                self.nodes[node]
                    .disk
                    .retain(|(e, view, _)| *e > epoch || (*e == epoch && *view >= below_view));
            }
            Effect::Broadcast(message) => {
                let recipients = (0..self.nodes.len())
                    .filter(|other| *other != node)
                    .collect();
                self.send(node, recipients, message);
            }
            Effect::SendTo { to, message } => {
                let key = self
                    .plans
                    .get(epoch as usize)
                    .and_then(|plan| plan.members.get(to as usize))
                    .copied();
                let recipients = (0..self.nodes.len())
                    .filter(|other| *other != node && Some(self.nodes[*other].key) == key)
                    .collect();
                self.send(node, recipients, message);
            }
            Effect::ScheduleTimeout { timer, after } => {
                let at = self.now + after.as_millis() as Millis;
                self.schedule(
                    at,
                    Event::Timer {
                        node,
                        incarnation,
                        epoch,
                        timer,
                    },
                );
            }
            Effect::RequestPayload { view, .. } => {
                let key = self.nodes[node].key as u64;
                let mut payload = valid_payload(&[
                    &self.scenario.seed.to_le_bytes(),
                    &key.to_le_bytes(),
                    &view.to_le_bytes(),
                ]);
                if self.nodes[node].behaviour == Behaviour::InvalidProposer {
                    payload.0[0] = INVALID_PAYLOAD_MARK;
                }
                let at = self.now + self.scenario.app_delay;
                self.schedule(
                    at,
                    Event::App {
                        node,
                        incarnation,
                        epoch,
                        input: Box::new(Input::PayloadReady { view, payload }),
                    },
                );
            }
            Effect::VerifyPayload { proposal } => {
                let valid = proposal.payload.0[0] != INVALID_PAYLOAD_MARK;
                let input = Input::PayloadVerified {
                    view: proposal.view,
                    payload: proposal.payload,
                    valid,
                };
                let at = self.now + self.scenario.app_delay;
                self.schedule(
                    at,
                    Event::App {
                        node,
                        incarnation,
                        epoch,
                        input: Box::new(input),
                    },
                );
            }
            Effect::Finalized {
                proposal,
                certificate: _,
            } => self.record_final(node, proposal),
            Effect::EpochEnded { last, certificate } => {
                if let Err(error) = self.proves_final(epoch, &last, &certificate) {
                    self.monitor.violations.push(format!(
                        "node {node}: epoch {epoch} ends at height {} with a certificate \
                         that does not prove it final: {error}",
                        last.height
                    ));
                }
                self.epoch_ends.entry(epoch).or_insert((last, certificate));
                let next = epoch + 1;
                if (next as usize) < self.plans.len() && self.nodes[node].epoch == epoch {
                    self.nodes[node].anchors.insert(
                        next,
                        Anchor {
                            height: last.height,
                            digest: last.payload,
                        },
                    );
                    self.start_epoch(node, next);
                }
            }
            Effect::Fault(_) => self.nodes[node].faults_reported += 1,
        }
    }

    /// Sends through the node's behaviour and the network.
    fn send(&mut self, from: NodeId, recipients: Vec<NodeId>, message: Message) {
        let behaviour = self.nodes[from].behaviour;
        let signer = self.scheme.signer(self.nodes[from].key);
        let forge = |vote: Vote| -> SignedVote {
            let signature = signer.sign(&signing_bytes(SIM_NAMESPACE, &vote));
            let signer_index = match &message {
                Message::Proposal(p) => p.vote.signer,
                Message::Vote(v) => v.signer,
                Message::Certificate(_) => 0,
            };
            SignedVote {
                vote,
                signer: signer_index,
                signature,
            }
        };
        let outgoing = rewrite(behaviour, message.clone(), recipients, &forge);
        let honest = behaviour == Behaviour::Honest && !self.nodes[from].twinned;
        for (targets, message) in outgoing {
            if honest {
                self.monitor.sent_by_honest(self.nodes[from].key, &message);
            }
            let bytes = Rc::new(encode_message(&message));
            for to in targets {
                if let Some(delay) = self.network.route(&mut self.rng, from, to) {
                    self.schedule(
                        self.now + delay,
                        Event::Deliver {
                            to,
                            bytes: Rc::clone(&bytes),
                        },
                    );
                }
            }
        }
    }
}

/// A short name per rejection, for the per-node tallies in [`NodeReport`].
fn rejection_name(rejection: &Rejection) -> &'static str {
    match rejection {
        Rejection::NotStarted => "not started",
        Rejection::WrongEpoch { .. } => "wrong epoch",
        Rejection::UnknownSigner(_) => "unknown signer",
        Rejection::BadSignature(_) => "bad signature",
        Rejection::StaleView { .. } => "stale view",
        Rejection::ViewTooFarAhead { .. } => "view too far ahead",
        Rejection::NotLeader { .. } => "not leader",
        Rejection::MalformedProposal(_) => "malformed proposal",
        Rejection::HeightMismatch { .. } => "height mismatch",
        Rejection::ParentBeforeFinalized { .. } => "parent before finalized",
        Rejection::UnknownParent { .. } => "unknown parent",
        Rejection::MissingNullification { .. } => "missing nullification",
        Rejection::NotEnoughSigners { .. } => "not enough signers",
        Rejection::UnsortedSigners => "unsorted signers",
        Rejection::ConflictingCertificate { .. } => "conflicting certificate",
        Rejection::UnexpectedPayload { .. } => "unexpected payload",
        Rejection::EmptyPayload => "empty payload",
    }
}

/// A fast, non-cryptographic hash of the event trace (two independent 64-bit lanes). It only
/// has to tell two runs apart, not resist an adversary.
struct TraceHash {
    lanes: [u64; 2],
}

impl Default for TraceHash {
    fn default() -> Self {
        Self {
            lanes: [0x243f_6a88_85a3_08d3, 0x1319_8a2e_0370_7344],
        }
    }
}

impl TraceHash {
    fn word(&mut self, word: u64) {
        self.lanes[0] = (self.lanes[0].rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
        self.lanes[1] = (self.lanes[1] ^ word)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.word(u64::from_le_bytes(word));
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.word(u64::from_le_bytes(tail) ^ (bytes.len() as u64) << 56);
    }

    fn finish(&self) -> u128 {
        u128::from(self.lanes[0]) << 64 | u128::from(self.lanes[1])
    }
}
