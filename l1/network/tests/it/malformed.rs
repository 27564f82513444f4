//! Raw bytes on the request protocol, from a bare libp2p client: malformed and oversized
//! requests are refused (`Refused(Malformed)`, counted) and the node keeps serving.

use std::io;
use std::sync::Arc;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use kaimeng_network::wire::{self, Request, Response};
use kaimeng_network::{BlockSource, Chain, NetworkId, NodeKey, Refusal};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, StreamProtocol, Swarm, SwarmBuilder, noise, tcp, yamux};

use crate::harness::{GENESIS, Node, config, until, within};

/// Writes requests as given and reads responses as they come.
#[derive(Clone, Default)]
struct RawCodec;

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        io.read_to_end(&mut bytes).await?;
        Ok(bytes)
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        io.read_to_end(&mut bytes).await?;
        if bytes.is_empty() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no response"));
        }
        Ok(bytes)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Vec<u8>,
    ) -> io::Result<()> {
        io.write_all(&request).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Vec<u8>,
    ) -> io::Result<()> {
        io.write_all(&response).await
    }
}

type RawClient = Swarm<request_response::Behaviour<RawCodec>>;

fn raw_client() -> RawClient {
    let protocol =
        StreamProtocol::try_from_owned(NetworkId::from_genesis_hash(&GENESIS).request_protocol())
            .unwrap();
    SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                RawCodec,
                [(protocol, ProtocolSupport::Outbound)],
                request_response::Config::default(),
            )
        })
        .unwrap()
        .build()
}

/// Sends `bytes` and returns the response bytes, or the failure.
async fn exchange(
    client: &mut RawClient,
    server: &libp2p::PeerId,
    bytes: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let id: OutboundRequestId = client.behaviour_mut().send_request(server, bytes);
    within("a response or a failure", async {
        loop {
            if let SwarmEvent::Behaviour(event) = client.select_next_some().await {
                match event {
                    request_response::Event::Message {
                        message:
                            request_response::Message::Response {
                                request_id,
                                response,
                            },
                        ..
                    } if request_id == id => return Ok(response),
                    request_response::Event::OutboundFailure {
                        request_id, error, ..
                    } if request_id == id => {
                        return Err(error.to_string());
                    }
                    _ => {}
                }
            }
        }
    })
    .await
}

struct Two;

impl BlockSource for Two {
    fn block(&self, _: Chain, height: u64) -> Option<Vec<u8>> {
        (height < 2).then(|| vec![height as u8])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_without_harm() {
    let mut server_config = config(NodeKey::generate(), vec![], vec![]);
    server_config.block_source = Some(Arc::new(Two));
    let server = Node::start(server_config).await;
    let server_id: libp2p::PeerId = server.id().to_string().parse().unwrap();
    let addr: Multiaddr = server.addr().parse().unwrap();

    let mut client = raw_client();
    client.dial(addr).unwrap();

    // A well-formed request over the raw client works: the test speaks the real protocol.
    let valid = wire::encode_request(&Request::GetBlocks {
        chain: Chain::Beacon,
        from: 0,
        to: 5,
    });
    let answer = exchange(&mut client, &server_id, valid.clone())
        .await
        .unwrap();
    assert_eq!(
        wire::decode_response(&answer, 128),
        Ok(Response::Blocks(vec![vec![0], vec![1]]))
    );

    let mut trailing = valid.clone();
    trailing.push(0);
    let oversized = {
        let mut bytes = wire::encode_request(&Request::Direct {
            topic: kaimeng_network::Topic::Blocks(Chain::Beacon),
            data: Vec::new(),
        });
        bytes.resize(8 << 20, 0xab);
        bytes
    };
    let malformed: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("version only", vec![1]),
        ("unknown version", vec![7, 0, 0]),
        ("unknown tag", vec![1, 42]),
        ("truncated range", valid[..valid.len() - 3].to_vec()),
        ("trailing byte", trailing),
        (
            "unknown chain",
            vec![1, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        ),
        ("8 MiB frame", oversized),
    ];
    let refused = Ok(wire::encode_response(&Response::Refused(
        Refusal::Malformed,
    )));
    for (what, bytes) in &malformed {
        let result = exchange(&mut client, &server_id, bytes.clone()).await;
        if bytes.len() > 1 << 20 {
            // The server stops reading at its cap; the client, still writing, may see its
            // stream reset before it reads the refusal.
            assert!(result.is_err() || result == refused, "{what}: {result:?}");
        } else {
            assert_eq!(result, refused, "{what}");
        }
    }
    let handle = server.handle.clone();
    let count = malformed.len() as u64;
    until("every malformed request to be counted", || {
        let handle = handle.clone();
        async move { handle.stats().malformed_requests >= count }
    })
    .await;
    let stats = server.handle.stats();
    assert_eq!(stats.malformed_requests, count);
    assert_eq!(stats.sync_served, 1);

    // The server is unharmed: the raw client and a regular node are both still served.
    assert!(exchange(&mut client, &server_id, valid).await.is_ok());
    let mut node = Node::start(config(NodeKey::generate(), vec![server.addr()], vec![])).await;
    node.wait_connected(server.id()).await;
    let blocks = node
        .handle
        .request_blocks(server.id(), Chain::Beacon, 0, 9)
        .await
        .unwrap();
    assert_eq!(blocks, vec![vec![0], vec![1]]);
    node.handle.shutdown().await;
    server.handle.shutdown().await;
}
