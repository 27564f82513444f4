//! What peers send us: gossip messages and requests, each passed through the per-peer
//! limiter before the node sees it. Dropped messages are not forwarded by gossipsub either.

use std::time::Instant;

use libp2p::gossipsub::{self, MessageAcceptance};
use libp2p::request_response::{self, ResponseChannel};

use super::Service;
use crate::handle::{GossipId, NetworkEvent, Validation};
use crate::limits::Verdict;
use crate::peer::PeerId;
use crate::protocol::Received;
use crate::serve::{check_range, read_blocks};
use crate::topic::Topic;
use crate::wire::{self, Refusal, Request, Response};

/// Why a message was not accepted.
enum Dropped {
    Oversized,
    RateLimited,
}

impl Service {
    pub(super) fn on_gossipsub(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => self.on_gossip(propagation_source, message_id, message),
            gossipsub::Event::SlowPeer { peer_id, .. } => {
                tracing::debug!(peer = %peer_id, "gossip peer too slow to keep up");
            }
            _ => {}
        }
    }

    fn on_gossip(
        &mut self,
        from: libp2p::PeerId,
        id: gossipsub::MessageId,
        message: gossipsub::Message,
    ) {
        let topic = self
            .network
            .parse_topic_name(message.topic.as_str())
            .filter(|topic| self.topics.contains(topic));
        let Some(topic) = topic else {
            // Not a topic we carry (gossipsub only delivers subscribed ones; be strict anyway).
            self.report(&id, &from, MessageAcceptance::Reject);
            return;
        };
        match self.admit(from, topic, message.data.len()) {
            Ok(()) => {
                if !self.node_validation {
                    self.report(&id, &from, MessageAcceptance::Accept);
                }
                self.emit(NetworkEvent::Gossip {
                    from: PeerId(from),
                    topic,
                    data: message.data,
                    id: GossipId { message: id, from },
                });
            }
            // Oversized messages are invalid; rate-limited ones merely unwanted.
            Err(Dropped::Oversized) => self.report(&id, &from, MessageAcceptance::Reject),
            Err(Dropped::RateLimited) => self.report(&id, &from, MessageAcceptance::Ignore),
        }
    }

    /// The node's verdict on a message it was handed (node validation on).
    pub(super) fn on_validation(&mut self, id: GossipId, validation: Validation) {
        if !self.node_validation {
            return;
        }
        let acceptance = match validation {
            Validation::Accept => MessageAcceptance::Accept,
            Validation::Ignore => MessageAcceptance::Ignore,
            Validation::Reject => {
                self.stats(|s| s.rejected_by_node += 1);
                if self.limiter.strike(&id.from, Instant::now()) == Verdict::Ban {
                    self.ban(id.from);
                }
                MessageAcceptance::Reject
            }
        };
        self.report(&id.message, &id.from, acceptance);
    }

    fn report(
        &mut self,
        id: &gossipsub::MessageId,
        from: &libp2p::PeerId,
        acceptance: MessageAcceptance,
    ) {
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, from, acceptance);
    }

    /// Runs one message (gossip or direct) through the size cap and the limiter, counting it.
    fn admit(&mut self, from: libp2p::PeerId, topic: Topic, len: usize) -> Result<(), Dropped> {
        let oversized = len > self.limits.class(topic.class()).max_message_bytes;
        // Messages a banned peer had in flight before its connections closed.
        let verdict = if self.bans.contains_key(&from) {
            Verdict::Drop
        } else {
            self.limiter
                .check_message(&from, topic.class(), len, Instant::now())
        };
        if verdict == Verdict::Accept {
            self.stats(|s| {
                let t = s.topic(topic);
                t.messages_in += 1;
                t.bytes_in += len as u64;
            });
            return Ok(());
        }
        self.stats(|s| {
            s.topic(topic).dropped += 1;
            if oversized {
                s.dropped_oversized += 1;
            } else {
                s.dropped_rate_limited += 1;
            }
        });
        if verdict == Verdict::Ban {
            self.ban(from);
        }
        if oversized {
            Err(Dropped::Oversized)
        } else {
            Err(Dropped::RateLimited)
        }
    }

    pub(super) fn on_request_event(&mut self, event: request_response::Event<Received, Response>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.on_request(peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => self.on_response(request_id, response),
            },
            request_response::Event::OutboundFailure {
                request_id, error, ..
            } => self.on_outbound_failure(request_id, error),
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, %error, "inbound request failed");
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    fn respond(&mut self, channel: ResponseChannel<Response>, response: Response) {
        // Fails only if the requester has gone already.
        let _ = self
            .swarm
            .behaviour_mut()
            .requests
            .send_response(channel, response);
    }

    fn on_request(
        &mut self,
        peer: libp2p::PeerId,
        request: Received,
        channel: ResponseChannel<Response>,
    ) {
        let request = match request {
            Received::Valid(request) => request,
            Received::Malformed(reason) => {
                tracing::debug!(%peer, %reason, "malformed request");
                self.stats(|s| s.malformed_requests += 1);
                if self.limiter.strike(&peer, Instant::now()) == Verdict::Ban {
                    self.ban(peer);
                }
                self.respond(channel, Response::Refused(Refusal::Malformed));
                return;
            }
        };
        match request {
            Request::GetBlocks { chain, from, to } => {
                let admitted = self.admit_sync(peer, from, to, false);
                self.serve_read(channel, admitted, move |source, max_bytes| {
                    read_blocks(source, chain, from, to, max_bytes)
                });
            }
            Request::GetSnapshot {
                chain,
                height,
                part,
            } => {
                let admitted = self.admit_sync(peer, height, height, true);
                self.serve_read(channel, admitted, move |source, max_bytes| {
                    one_item(source.snapshot_part(chain, height, part), max_bytes)
                });
            }
            Request::GetMessages {
                source,
                destination,
                from,
            } => {
                let admitted = self.admit_sync(peer, from, from, true);
                self.serve_read(channel, admitted, move |block_source, max_bytes| {
                    one_item(block_source.messages(source, destination, from), max_bytes)
                });
            }
            Request::GetTransactions { chain, hashes } => {
                let count = hashes.len() as u64;
                let admitted = self.admit_sync(peer, 1, count.max(1), false);
                self.serve_read(channel, admitted, move |source, max_bytes| {
                    fitting(source.transactions(chain, &hashes), max_bytes)
                });
            }
            Request::Direct { topic, data } => {
                let response = if !self.topics.contains(&topic) {
                    Response::Refused(Refusal::NotAccepted)
                } else {
                    match self.admit(peer, topic, data.len()) {
                        Ok(()) => {
                            self.emit(NetworkEvent::Direct {
                                from: PeerId(peer),
                                topic,
                                data,
                            });
                            Response::Ack
                        }
                        Err(Dropped::Oversized) => Response::Refused(Refusal::NotAccepted),
                        Err(Dropped::RateLimited) => Response::Refused(Refusal::RateLimited),
                    }
                };
                self.respond(channel, response);
            }
        }
    }

    /// Answers an admitted read of the block source on a blocking thread (counted against
    /// the concurrent reads), or the refusal at once.
    fn serve_read(
        &mut self,
        channel: ResponseChannel<Response>,
        admitted: Result<std::sync::Arc<dyn crate::BlockSource>, Refusal>,
        read: impl FnOnce(&dyn crate::BlockSource, usize) -> Response + Send + 'static,
    ) {
        match admitted {
            Err(refusal) => {
                self.stats(|s| s.sync_refused += 1);
                self.respond(channel, Response::Refused(refusal));
            }
            Ok(source) => {
                self.block_reads += 1;
                self.stats(|s| s.sync_served += 1);
                let done = self.reads_done_tx.clone();
                let max_bytes = self.limits.max_response_bytes;
                tokio::task::spawn_blocking(move || {
                    let _ = done.send((channel, read(&*source, max_bytes)));
                });
            }
        }
    }

    /// Whether to serve a block range (or a snapshot part) now; the block source to read it
    /// from if so.
    fn admit_sync(
        &mut self,
        peer: libp2p::PeerId,
        from: u64,
        to: u64,
        snapshot: bool,
    ) -> Result<std::sync::Arc<dyn crate::BlockSource>, Refusal> {
        let verdict = if self.bans.contains_key(&peer) {
            Verdict::Drop
        } else if snapshot {
            self.limiter.check_snapshot_request(&peer, Instant::now())
        } else {
            self.limiter.check_sync_request(&peer, Instant::now())
        };
        match verdict {
            Verdict::Accept => {}
            verdict => {
                self.stats(|s| s.dropped_rate_limited += 1);
                if verdict == Verdict::Ban {
                    self.ban(peer);
                }
                return Err(Refusal::RateLimited);
            }
        }
        check_range(from, to, self.limits.max_blocks_per_request)?;
        let source = self.block_source.clone().ok_or(Refusal::NoBlockSource)?;
        if self.block_reads >= self.limits.max_concurrent_block_reads {
            return Err(Refusal::Busy);
        }
        Ok(source)
    }
}

/// As many of `items` as fit one response, in order.
fn fitting(items: Vec<Vec<u8>>, max_bytes: usize) -> Response {
    let mut total = wire::blocks_response_len([]);
    let items = items
        .into_iter()
        .take_while(|item| {
            total += item.len() + 4;
            total <= max_bytes
        })
        .collect();
    Response::Blocks(items)
}

/// A one-item answer (a snapshot part, a batch of messages), or an empty one when the source
/// has none or it does not fit a response.
fn one_item(item: Option<Vec<u8>>, max_bytes: usize) -> Response {
    let item = item.filter(|i| wire::blocks_response_len([i.len()]) <= max_bytes);
    Response::Blocks(item.into_iter().collect())
}
