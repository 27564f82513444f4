//! Connections: who is connected, dialling wanted peers with backoff, bans and their expiry,
//! identify (addresses, and dropping peers of another network) and ping (closing dead links).

use std::time::Instant;

use libp2p::core::ConnectedPoint;
use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionError, ConnectionId, DialError};
use libp2p::{Multiaddr, identify, ping};

use super::Service;
use crate::handle::NetworkEvent;
use crate::peer::PeerId;

impl Service {
    pub(super) fn on_connected(
        &mut self,
        peer: libp2p::PeerId,
        endpoint: &ConnectedPoint,
        connections: u32,
    ) {
        self.redial.connected(&peer);
        if let ConnectedPoint::Dialer { address, .. } = endpoint {
            let mut address = address.clone();
            if matches!(address.iter().last(), Some(Protocol::P2p(_))) {
                address.pop();
            }
            self.remember_address(peer, address, false);
        }
        if connections == 1 {
            tracing::debug!(%peer, "peer connected");
            self.shared.peers.lock().insert(PeerId(peer));
            self.emit(NetworkEvent::PeerConnected(PeerId(peer)));
        }
    }

    pub(super) fn on_disconnected(
        &mut self,
        peer: libp2p::PeerId,
        connection: ConnectionId,
        remaining: u32,
        cause: Option<ConnectionError>,
    ) {
        self.ping_failures.remove(&connection);
        if remaining > 0 {
            return;
        }
        tracing::debug!(%peer, cause = ?cause, "peer disconnected");
        self.shared.peers.lock().remove(&PeerId(peer));
        self.emit(NetworkEvent::PeerDisconnected(PeerId(peer)));
        if self.redial.is_wanted(&peer) {
            if !self.bans.contains_key(&peer) {
                self.redial.disconnected(&peer, Instant::now());
            }
        } else {
            self.addresses.remove(&peer);
        }
    }

    pub(super) fn on_dial_failed(&mut self, peer: Option<libp2p::PeerId>, error: &DialError) {
        let Some(peer) = peer else { return };
        tracing::debug!(%peer, %error, "dial failed");
        if self.redial.is_wanted(&peer) && !self.swarm.is_connected(&peer) {
            self.redial.dial_failed(&peer, Instant::now());
        }
    }

    pub(super) fn dial(&mut self, peer: libp2p::PeerId, now: Instant) {
        if self.bans.contains_key(&peer) {
            // Redialled when the ban ends.
            return;
        }
        if self.swarm.is_connected(&peer) {
            self.redial.connected(&peer);
            return;
        }
        let addresses = self.addresses.get(&peer).cloned().unwrap_or_default();
        if addresses.is_empty() {
            // Perhaps it connects to us, or identify teaches us an address later.
            self.redial.dial_failed(&peer, now);
            return;
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(addresses)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        match self.swarm.dial(opts) {
            Ok(()) => tracing::trace!(%peer, "dialling"),
            // A dial is already under way; its outcome reschedules.
            Err(DialError::DialPeerConditionFalse(_)) => {}
            Err(error) => {
                tracing::debug!(%peer, %error, "cannot dial");
                self.redial.dial_failed(&peer, now);
            }
        }
    }

    /// Closes the peer's connections and refuses new ones for the ban's duration. Priority
    /// peers are never banned (their excess is still dropped).
    pub(super) fn ban(&mut self, peer: libp2p::PeerId) {
        if self.priority.contains(&peer) || self.bans.contains_key(&peer) {
            return;
        }
        let duration = self.limits.ban.duration;
        tracing::warn!(%peer, ?duration, "banning a peer that keeps exceeding its limits");
        self.bans.insert(peer, Instant::now() + duration);
        self.swarm.behaviour_mut().banned.block_peer(peer);
        let banned = self.bans.len() as u64;
        self.stats(|s| {
            s.bans += 1;
            s.banned_peers = banned;
        });
        self.emit(NetworkEvent::PeerBanned {
            peer: PeerId(peer),
            duration,
        });
    }

    /// An operator's block: connections closed and refused until [`Self::unblock`].
    pub(super) fn block(&mut self, peer: libp2p::PeerId) {
        if peer == self.local_peer_id || !self.blocked.insert(peer) {
            return;
        }
        tracing::info!(%peer, "peer blocked by the operator");
        self.redial.unwant(&peer);
        self.swarm.behaviour_mut().banned.block_peer(peer);
    }

    pub(super) fn unblock(&mut self, peer: libp2p::PeerId) {
        if !self.blocked.remove(&peer) {
            return;
        }
        tracing::info!(%peer, "peer unblocked by the operator");
        if !self.bans.contains_key(&peer) {
            self.swarm.behaviour_mut().banned.unblock_peer(peer);
        }
        if self.priority.contains(&peer) || self.bootstrap.contains(&peer) {
            self.redial.want(peer, false, Instant::now());
        }
    }

    pub(super) fn expire_bans(&mut self, now: Instant) {
        let expired: Vec<_> = self
            .bans
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(peer, _)| *peer)
            .collect();
        if expired.is_empty() {
            return;
        }
        for peer in expired {
            tracing::info!(%peer, "ban ended");
            self.bans.remove(&peer);
            if self.blocked.contains(&peer) {
                continue;
            }
            self.swarm.behaviour_mut().banned.unblock_peer(peer);
            self.limiter.forget(&peer);
            self.redial.disconnected(&peer, now);
        }
        let banned = self.bans.len() as u64;
        self.stats(|s| s.banned_peers = banned);
    }

    pub(super) fn on_identify(&mut self, event: identify::Event) {
        let identify::Event::Received { peer_id, info, .. } = event else {
            return;
        };
        if info.protocol_version != self.network.identify_version() {
            tracing::info!(
                peer = %peer_id,
                theirs = %info.protocol_version,
                ours = %self.network.identify_version(),
                "disconnecting a peer of another network"
            );
            self.stats(|s| s.wrong_network += 1);
            self.redial.unwant(&peer_id);
            self.bootstrap.remove(&peer_id);
            let _ = self.swarm.disconnect_peer_id(peer_id);
            return;
        }
        for mut addr in info.listen_addrs {
            if is_dialable(&addr) {
                if matches!(addr.iter().last(), Some(Protocol::P2p(_))) {
                    addr.pop();
                }
                self.remember_address(peer_id, addr, false);
            }
        }
    }

    pub(super) fn on_ping(&mut self, event: ping::Event) {
        match event.result {
            Ok(_) => {
                self.ping_failures.remove(&event.connection);
            }
            Err(ping::Failure::Unsupported) => {}
            Err(failure) => {
                let failures = self.ping_failures.entry(event.connection).or_insert(0);
                *failures += 1;
                if *failures >= self.timing.ping_failures_before_close {
                    tracing::info!(peer = %event.peer, %failure, "closing a connection whose pings fail");
                    self.swarm.close_connection(event.connection);
                }
            }
        }
    }
}

/// An address announced by a peer that we could dial: IP and TCP, not a wildcard.
fn is_dialable(addr: &Multiaddr) -> bool {
    let mut parts = addr.iter();
    let host_ok = match parts.next() {
        Some(Protocol::Ip4(ip)) => !ip.is_unspecified(),
        Some(Protocol::Ip6(ip)) => !ip.is_unspecified(),
        Some(Protocol::Dns(_)) => true,
        _ => false,
    };
    let tcp_ok = matches!(parts.next(), Some(Protocol::Tcp(port)) if port != 0);
    let rest_ok = match parts.next() {
        None => true,
        Some(Protocol::P2p(_)) => parts.next().is_none(),
        _ => false,
    };
    host_ok && tcp_ok && rest_ok
}

#[cfg(test)]
mod tests {
    use super::is_dialable;

    #[test]
    fn only_concrete_tcp_addresses_are_dialable() {
        let ok = |s: &str| is_dialable(&s.parse().unwrap());
        assert!(ok("/ip4/10.0.0.1/tcp/30333"));
        assert!(ok("/ip6/::1/tcp/30333"));
        assert!(!ok("/ip4/0.0.0.0/tcp/30333"));
        assert!(!ok("/ip4/10.0.0.1/tcp/0"));
        assert!(!ok("/ip4/10.0.0.1/udp/30333"));
        assert!(!ok("/ip4/10.0.0.1/tcp/1/ws"));
    }
}
