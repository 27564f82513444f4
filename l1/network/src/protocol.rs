//! The request-response codec: reads one frame per stream under a size cap and decodes it with
//! [`crate::wire`]. A request that is too large or malformed is handed to the service as
//! [`Received::Malformed`] (libp2p would otherwise drop the stream without telling anyone), so
//! the service can count it, charge the sender a strike and answer `Refused(Malformed)`.
//! A bad response fails the stream with `io::ErrorKind::InvalidData`.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use libp2p::request_response;

use crate::wire::{self, Request, Response};

/// An inbound request as read from the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Received {
    Valid(Request),
    /// What was wrong with it.
    Malformed(String),
}

/// Encoding overhead of a request around its payload (version, tags, chain).
const REQUEST_OVERHEAD: usize = 16;

#[derive(Clone, Debug)]
pub(crate) struct RequestCodec {
    /// Largest request frame read.
    pub(crate) max_request_bytes: usize,
    /// Largest response frame read.
    pub(crate) max_response_bytes: usize,
    /// Most blocks accepted in one response.
    pub(crate) max_blocks: u64,
}

impl RequestCodec {
    pub(crate) fn new(max_payload: usize, max_response_bytes: usize, max_blocks: u64) -> Self {
        RequestCodec {
            max_request_bytes: max_payload + REQUEST_OVERHEAD,
            max_response_bytes,
            max_blocks,
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads the whole stream; `Ok(Err(reason))` once it exceeds `max` bytes.
async fn read_frame<T>(io: &mut T, max: usize, what: &str) -> io::Result<Result<Vec<u8>, String>>
where
    T: AsyncRead + Unpin + Send,
{
    let mut frame = Vec::new();
    io.take(max as u64 + 1).read_to_end(&mut frame).await?;
    if frame.len() > max {
        return Ok(Err(format!("{what} exceeds {max} bytes")));
    }
    Ok(Ok(frame))
}

impl request_response::Codec for RequestCodec {
    type Protocol = StreamProtocol;
    type Request = Received;
    type Response = Response;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Received>
    where
        T: AsyncRead + Unpin + Send,
    {
        Ok(
            match read_frame(io, self.max_request_bytes, "request").await? {
                Ok(frame) => match wire::decode_request(&frame) {
                    Ok(request) => Received::Valid(request),
                    Err(e) => Received::Malformed(e.to_string()),
                },
                Err(too_large) => Received::Malformed(too_large),
            },
        )
    }

    async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        let frame = read_frame(io, self.max_response_bytes, "response")
            .await?
            .map_err(invalid)?;
        wire::decode_response(&frame, self.max_blocks)
            .map_err(|e| invalid(format!("malformed response: {e}")))
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: Received,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match request {
            Received::Valid(request) => io.write_all(&wire::encode_request(&request)).await,
            Received::Malformed(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "refusing to send a malformed request",
            )),
        }
    }

    async fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&wire::encode_response(&response)).await
    }
}
