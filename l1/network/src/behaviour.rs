//! The libp2p stack: TCP + Noise + Yamux under a composed behaviour (ban list, connection
//! limits, gossipsub, request-response, identify, ping), configured from [`NetworkConfig`].

use libp2p::swarm::NetworkBehaviour;
use libp2p::{
    StreamProtocol, Swarm, SwarmBuilder, allow_block_list, connection_limits, gossipsub, identify,
    noise, ping, request_response, tcp, yamux,
};

use crate::config::NetworkConfig;
use crate::protocol::RequestCodec;
use crate::topic::NetworkId;

/// Protobuf framing, topic name and control data around a gossip payload.
const GOSSIP_OVERHEAD: usize = 4 * 1024;

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    pub(crate) banned: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    pub(crate) connection_limits: connection_limits::Behaviour,
    pub(crate) gossipsub: gossipsub::Behaviour,
    pub(crate) requests: request_response::Behaviour<RequestCodec>,
    pub(crate) identify: identify::Behaviour,
    pub(crate) ping: ping::Behaviour,
}

/// Why the libp2p stack could not be built.
#[derive(Debug, thiserror::Error)]
#[error("could not build the libp2p stack: {0}")]
pub struct BuildError(String);

/// The gossip mesh each node keeps per topic: `(D, D_low, D_high, D_out)` in gossipsub's terms
/// (ADR 0118). Members keep one another connected and publish to every subscribed peer
/// (gossipsub's flood publishing), so a message reaches each connected member in one hop and
/// the mesh only forwards it as redundancy: three mesh peers instead of gossipsub's default six
/// send every large message about half as many times.
const GOSSIP_MESH: (usize, usize, usize, usize) = (3, 2, 4, 1);
// gossipsub's builder checks these only for topics configured one by one, not the defaults.
const _: () = {
    let (mesh, low, high, outbound) = GOSSIP_MESH;
    assert!(outbound <= low && low <= mesh && mesh <= high && 2 * outbound <= mesh);
};

fn gossipsub_config(config: &NetworkConfig) -> Result<gossipsub::Config, BuildError> {
    let (mesh, mesh_low, mesh_high, mesh_outbound) = GOSSIP_MESH;
    gossipsub::ConfigBuilder::default()
        .mesh_n(mesh)
        .mesh_n_low(mesh_low)
        .mesh_n_high(mesh_high)
        .mesh_outbound_min(mesh_outbound)
        .flood_publish(true)
        .heartbeat_interval(config.timing.gossip_heartbeat)
        .heartbeat_initial_delay(config.timing.gossip_heartbeat)
        .max_transmit_size(config.limits.max_message_bytes() + GOSSIP_OVERHEAD)
        // Messages reach the node only after the limiter accepted them, and are forwarded
        // only then (see `service::on_gossip`).
        .validate_messages()
        // Unsigned messages with a random sequence number, identified by (author, sequence
        // number), gossipsub's default (ADR 0060): payloads carry their own signatures, and a
        // retransmitted vote gets a fresh id so it is not taken for a duplicate.
        .validation_mode(gossipsub::ValidationMode::Permissive)
        // A publisher tells its mesh at once that it needs no copy back: a rollup verification
        // (hundreds of KB) or a block body would otherwise return to it from every peer that
        // forwards it before its IDONTWANT arrives.
        .idontwant_on_publish(true)
        .build()
        .map_err(|e| BuildError(format!("gossipsub: {e}")))
}

pub(crate) fn build_swarm(
    config: &NetworkConfig,
    network: &NetworkId,
) -> Result<Swarm<Behaviour>, BuildError> {
    let keypair = config.key.keypair();
    let local_peer_id = keypair.public().to_peer_id();
    let gossipsub_config = gossipsub_config(config)?;
    let protocol = StreamProtocol::try_from_owned(network.request_protocol())
        .map_err(|e| BuildError(format!("request protocol name: {e}")))?;
    let codec = RequestCodec::new(
        config.limits.max_message_bytes(),
        config.limits.max_response_bytes,
        config.limits.max_blocks_per_request,
    );
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_established_incoming(Some(config.max_inbound_connections))
        .with_max_pending_incoming(Some(config.max_inbound_connections.clamp(1, 64)))
        .with_max_established_per_peer(Some(2));
    let timing = config.timing;

    let swarm = SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| BuildError(format!("tcp transport: {e}")))?
        .with_behaviour(|key| {
            let gossipsub = gossipsub::Behaviour::new(
                gossipsub::MessageAuthenticity::Author(local_peer_id),
                gossipsub_config,
            )?;
            let requests = request_response::Behaviour::with_codec(
                codec,
                [(protocol, request_response::ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(timing.request_timeout)
                    .with_max_concurrent_streams(64),
            );
            let identify = identify::Behaviour::new(
                identify::Config::new(network.identify_version(), key.public())
                    .with_agent_version(format!("kaimeng/{}", env!("CARGO_PKG_VERSION"))),
            );
            let ping = ping::Behaviour::new(
                ping::Config::new()
                    .with_interval(timing.ping_interval)
                    .with_timeout(timing.ping_timeout),
            );
            Ok(Behaviour {
                banned: allow_block_list::Behaviour::default(),
                connection_limits: connection_limits::Behaviour::new(limits),
                gossipsub,
                requests,
                identify,
                ping,
            })
        })
        .map_err(|e| BuildError(format!("behaviour: {e}")))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(timing.idle_connection_timeout))
        .build();
    Ok(swarm)
}
