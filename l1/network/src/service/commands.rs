//! The handle's commands: publish, direct sends, block sync requests (checked before they
//! leave), subscriptions, priority and added peers.

use std::time::Instant;

use libp2p::request_response::{self, OutboundRequestId};
use libp2p::{Multiaddr, gossipsub};
use tokio::sync::oneshot;

use super::{MAX_ADDRESSES_PER_PEER, Pending, Service};
use crate::handle::{Command, PublishError, RequestFailure, SendError, SyncError};
use crate::peer::PeerId;
use crate::protocol::Received;
use crate::serve::check_range;
use crate::topic::{Chain, Topic};
use crate::wire::{Refusal, Request, Response};

impl Service {
    pub(super) fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, data, reply } => {
                let _ = reply.send(self.publish(topic, data));
            }
            Command::SendTo {
                peer,
                topic,
                data,
                reply,
            } => self.send_to(peer.0, topic, data, reply),
            Command::RequestBlocks {
                peer,
                chain,
                from,
                to,
                reply,
            } => self.request_blocks(peer.0, chain, from, to, reply),
            Command::RequestMessages {
                peer,
                source,
                destination,
                from,
                reply,
            } => {
                let request = Request::GetMessages {
                    source,
                    destination,
                    from,
                };
                self.request_one(peer.0, request, reply);
            }
            Command::RequestTransactions {
                peer,
                chain,
                hashes,
                reply,
            } => self.request_transactions(peer.0, chain, hashes, reply),
            Command::RequestSnapshotPart {
                peer,
                chain,
                height,
                part,
                reply,
            } => {
                let request = Request::GetSnapshot {
                    chain,
                    height,
                    part,
                };
                self.request_one(peer.0, request, reply);
            }
            Command::Subscribe { topic, reply } => {
                self.subscribe(topic);
                let _ = reply.send(());
            }
            Command::Unsubscribe { topic, reply } => {
                let hash = gossipsub::IdentTopic::new(self.network.topic_name(topic));
                self.swarm.behaviour_mut().gossipsub.unsubscribe(&hash);
                self.topics.remove(&topic);
                let _ = reply.send(());
            }
            Command::Validate { id, validation } => self.on_validation(id, validation),
            Command::MeshPeers { topic, reply } => {
                let hash = self.topic_hash(topic);
                let peers = self
                    .swarm
                    .behaviour()
                    .gossipsub
                    .mesh_peers(&hash)
                    .map(|peer| PeerId(*peer))
                    .collect();
                let _ = reply.send(peers);
            }
            Command::KnownAddresses { peer, reply } => {
                let addresses = self.addresses.get(&peer.0).into_iter().flatten();
                let _ = reply.send(addresses.map(|a| format!("{a}/p2p/{peer}")).collect());
            }
            Command::SetPriorityPeers { peers, reply } => {
                self.set_priority_peers(&peers);
                let _ = reply.send(());
            }
            Command::AddPeer { peer, addr, reply } => {
                self.add_peer(peer, addr);
                let _ = reply.send(());
            }
            Command::Block { peer, reply } => {
                self.block(peer.0);
                let _ = reply.send(());
            }
            Command::Unblock { peer, reply } => {
                self.unblock(peer.0);
                let _ = reply.send(());
            }
            // Handled by the loop itself.
            Command::Shutdown { reply } => {
                let _ = reply.send(());
            }
        }
    }

    fn publish(&mut self, topic: Topic, data: Vec<u8>) -> Result<(), PublishError> {
        let max = self.limits.class(topic.class()).max_message_bytes;
        let len = data.len();
        if len > max {
            return Err(PublishError::TooLarge { topic, len, max });
        }
        let hash = self.topic_hash(topic);
        match self.swarm.behaviour_mut().gossipsub.publish(hash, data) {
            Ok(_) => {
                self.stats(|s| {
                    let t = s.topic(topic);
                    t.messages_out += 1;
                    t.bytes_out += len as u64;
                });
                Ok(())
            }
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {
                Err(PublishError::NoPeers(topic))
            }
            Err(gossipsub::PublishError::AllQueuesFull(_)) => Err(PublishError::QueuesFull),
            Err(gossipsub::PublishError::MessageTooLarge) => {
                Err(PublishError::TooLarge { topic, len, max })
            }
            Err(other) => Err(PublishError::Other(other.to_string())),
        }
    }

    pub(super) fn subscribe(&mut self, topic: Topic) {
        let hash = gossipsub::IdentTopic::new(self.network.topic_name(topic));
        // Fails only under a subscription filter, and this stack has none.
        if let Err(e) = self.swarm.behaviour_mut().gossipsub.subscribe(&hash) {
            tracing::warn!(%topic, error = %e, "subscribe failed");
            return;
        }
        self.topics.insert(topic);
    }

    /// Sends a request, dialling the peer from its known addresses if it is not connected.
    fn send_request(&mut self, peer: libp2p::PeerId, request: Request) -> OutboundRequestId {
        let addresses = if self.swarm.is_connected(&peer) {
            Vec::new()
        } else {
            self.addresses.get(&peer).cloned().unwrap_or_default()
        };
        self.swarm
            .behaviour_mut()
            .requests
            .send_request_with_addresses(&peer, Received::Valid(request), addresses)
    }

    fn send_to(
        &mut self,
        peer: libp2p::PeerId,
        topic: Topic,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<(), SendError>>,
    ) {
        let max = self.limits.class(topic.class()).max_message_bytes;
        let len = data.len();
        if len > max {
            let _ = reply.send(Err(SendError::TooLarge { topic, len, max }));
            return;
        }
        let id = self.send_request(peer, Request::Direct { topic, data });
        self.stats(|s| {
            let t = s.topic(topic);
            t.messages_out += 1;
            t.bytes_out += len as u64;
        });
        self.pending.insert(id, Pending::Direct { reply });
    }

    fn request_blocks(
        &mut self,
        peer: libp2p::PeerId,
        chain: Chain,
        from: u64,
        to: u64,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, SyncError>>,
    ) {
        let max = self.limits.max_blocks_per_request;
        let requested = match check_range(from, to, max) {
            Ok(count) => count,
            Err(Refusal::InvalidRange) => {
                let _ = reply.send(Err(SyncError::InvalidRange { from, to }));
                return;
            }
            Err(_) => {
                let _ = reply.send(Err(SyncError::RangeTooLarge { from, to, max }));
                return;
            }
        };
        let id = self.send_request(peer, Request::GetBlocks { chain, from, to });
        self.stats(|s| s.sync_requested += 1);
        self.pending
            .insert(id, Pending::Blocks { requested, reply });
    }

    /// Sends a request answered with at most one item (a snapshot part, a batch of messages).
    fn request_one(
        &mut self,
        peer: libp2p::PeerId,
        request: Request,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, SyncError>>,
    ) {
        let id = self.send_request(peer, request);
        self.stats(|s| s.sync_requested += 1);
        self.pending.insert(
            id,
            Pending::Blocks {
                requested: 1,
                reply,
            },
        );
    }

    fn request_transactions(
        &mut self,
        peer: libp2p::PeerId,
        chain: Chain,
        hashes: Vec<[u8; 32]>,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, SyncError>>,
    ) {
        let requested = hashes.len() as u64;
        let max = self.limits.max_blocks_per_request;
        if requested == 0 {
            let _ = reply.send(Ok(Vec::new()));
            return;
        }
        if requested > max {
            let _ = reply.send(Err(SyncError::RangeTooLarge {
                from: 1,
                to: requested,
                max,
            }));
            return;
        }
        let id = self.send_request(peer, Request::GetTransactions { chain, hashes });
        self.stats(|s| s.sync_requested += 1);
        self.pending
            .insert(id, Pending::Blocks { requested, reply });
    }

    pub(super) fn on_response(&mut self, id: OutboundRequestId, response: Response) {
        match (self.pending.remove(&id), response) {
            (None, _) => {}
            (Some(Pending::Blocks { requested, reply }), Response::Blocks(blocks)) => {
                let got = blocks.len() as u64;
                let result = if got > requested {
                    Err(SyncError::TooManyBlocks { requested, got })
                } else {
                    Ok(blocks)
                };
                self.reply_sync(reply, result);
            }
            (Some(Pending::Blocks { reply, .. }), Response::Refused(refusal)) => {
                self.reply_sync(reply, Err(SyncError::Refused(refusal)));
            }
            (Some(Pending::Blocks { reply, .. }), Response::Ack) => {
                self.reply_sync(reply, Err(SyncError::UnexpectedResponse));
            }
            (Some(Pending::Direct { reply }), Response::Ack) => {
                let _ = reply.send(Ok(()));
            }
            (Some(Pending::Direct { reply }), Response::Refused(refusal)) => {
                let _ = reply.send(Err(SendError::Refused(refusal)));
            }
            (Some(Pending::Direct { reply }), Response::Blocks(_)) => {
                let _ = reply.send(Err(SendError::UnexpectedResponse));
            }
        }
    }

    pub(super) fn on_outbound_failure(
        &mut self,
        id: OutboundRequestId,
        error: request_response::OutboundFailure,
    ) {
        let failure = match error {
            request_response::OutboundFailure::DialFailure => RequestFailure::DialFailure,
            request_response::OutboundFailure::Timeout => RequestFailure::Timeout,
            request_response::OutboundFailure::ConnectionClosed => RequestFailure::ConnectionClosed,
            request_response::OutboundFailure::UnsupportedProtocols => {
                RequestFailure::UnsupportedProtocol
            }
            request_response::OutboundFailure::Io(e) => RequestFailure::Io(e.to_string()),
        };
        match self.pending.remove(&id) {
            Some(Pending::Blocks { reply, .. }) => {
                self.reply_sync(reply, Err(SyncError::Failed(failure)))
            }
            Some(Pending::Direct { reply }) => {
                let _ = reply.send(Err(SendError::Failed(failure)));
            }
            None => {}
        }
    }

    fn reply_sync(
        &self,
        reply: oneshot::Sender<Result<Vec<Vec<u8>>, SyncError>>,
        result: Result<Vec<Vec<u8>>, SyncError>,
    ) {
        if result.is_err() {
            self.stats(|s| s.sync_failed += 1);
        }
        let _ = reply.send(result);
    }

    pub(super) fn set_priority_peers(&mut self, peers: &[PeerId]) {
        let now = Instant::now();
        let new: std::collections::HashSet<libp2p::PeerId> = peers.iter().map(|p| p.0).collect();
        for old in self.priority.difference(&new).copied().collect::<Vec<_>>() {
            self.swarm
                .behaviour_mut()
                .connection_limits
                .remove_peer_id(&old);
            if !self.bootstrap.contains(&old) {
                self.redial.unwant(&old);
            }
        }
        for peer in &new {
            if *peer == self.local_peer_id {
                continue;
            }
            self.swarm
                .behaviour_mut()
                .connection_limits
                .bypass_peer_id(peer);
            if self.bans.remove(peer).is_some() && !self.blocked.contains(peer) {
                self.swarm.behaviour_mut().banned.unblock_peer(*peer);
                self.limiter.forget(peer);
            }
            let connected = self.swarm.is_connected(peer);
            self.redial.want(*peer, connected, now);
        }
        self.priority = new;
        self.priority.remove(&self.local_peer_id);
        let banned = self.bans.len() as u64;
        self.stats(|s| s.banned_peers = banned);
    }

    pub(super) fn add_peer(&mut self, peer: libp2p::PeerId, addr: Multiaddr) {
        if peer == self.local_peer_id {
            return;
        }
        self.remember_address(peer, addr, true);
        self.bootstrap.insert(peer);
        let connected = self.swarm.is_connected(&peer);
        self.redial.want(peer, connected, Instant::now());
    }

    /// Keeps up to [`MAX_ADDRESSES_PER_PEER`] addresses; configured ones go first.
    pub(super) fn remember_address(
        &mut self,
        peer: libp2p::PeerId,
        addr: Multiaddr,
        configured: bool,
    ) {
        let known = self.addresses.entry(peer).or_default();
        if known.contains(&addr) {
            return;
        }
        if configured {
            known.insert(0, addr);
            known.truncate(MAX_ADDRESSES_PER_PEER);
        } else if known.len() < MAX_ADDRESSES_PER_PEER {
            known.push(addr);
        }
    }
}
