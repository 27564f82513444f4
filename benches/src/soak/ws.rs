//! A bare WebSocket client over one TCP stream: the opening handshake, masked text frames out,
//! and an incremental decoder for the server's frames. The soak needs clients that stop
//! reading at the socket, which a client library (reading in the background) cannot be.

use anyhow::{Context, bail, ensure};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// An open WebSocket connection.
pub struct RawWs {
    pub stream: TcpStream,
}

impl RawWs {
    /// Connects to `url` (`ws://host:port[/path]`) and completes the handshake, reading nothing
    /// past the server's answer.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, None).await
    }

    /// As [`RawWs::connect`], with the socket's receive buffer fixed at `receive_buffer` bytes
    /// when given (the kernel then does not grow it to megabytes as it would for a loopback
    /// stream, so a client that stops reading holds little in its socket).
    pub async fn connect_with(url: &str, receive_buffer: Option<u32>) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("ws://")
            .with_context(|| format!("{url}: expected ws://host:port"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let mut stream = tcp_connect(authority, receive_buffer)
            .await
            .with_context(|| format!("connecting to {authority}"))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: a2FpbWVuZy1zb2FrLWtleQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            ensure!(head.len() < 8192, "handshake answer too long");
            head.push(stream.read_u8().await.context("reading the handshake")?);
        }
        let head = String::from_utf8_lossy(&head);
        if !head.starts_with("HTTP/1.1 101") {
            bail!(
                "WebSocket handshake refused: {}",
                head.lines().next().unwrap_or("")
            );
        }
        Ok(Self { stream })
    }

    /// Sends one masked text frame.
    pub async fn send_text(&mut self, text: &str) -> anyhow::Result<()> {
        self.stream
            .write_all(&client_frame(text.as_bytes()))
            .await?;
        Ok(())
    }
}

async fn tcp_connect(authority: &str, receive_buffer: Option<u32>) -> anyhow::Result<TcpStream> {
    let Some(bytes) = receive_buffer else {
        return Ok(TcpStream::connect(authority).await?);
    };
    let address = tokio::net::lookup_host(authority)
        .await?
        .next()
        .context("the host resolves to no address")?;
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Set before connecting, so the window the handshake announces already fits it.
    socket.set_recv_buffer_size(bytes)?;
    Ok(socket.connect(address).await?)
}

/// A client-to-server text frame (clients must mask; any mask will do).
pub fn client_frame(payload: &[u8]) -> Vec<u8> {
    let mask = [0x6b, 0x61, 0x69, 0x6d];
    let mut frame = vec![0x81];
    match payload.len() {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Splits the server's byte stream into frames (servers do not mask).
#[derive(Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
}

/// One decoded frame.
pub struct Frame {
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl FrameDecoder {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, if the bytes so far hold one.
    pub fn next_frame(&mut self) -> Option<Frame> {
        let b = &self.buf;
        if b.len() < 2 {
            return None;
        }
        let (len, header) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 if b.len() >= 10 => (
                u64::from_be_bytes(b[2..10].try_into().expect("8 bytes")) as usize,
                10,
            ),
            126 | 127 => return None,
            n => (n as usize, 2),
        };
        if b.len() < header + len {
            return None;
        }
        let opcode = b[0] & 0x0f;
        let payload = b[header..header + len].to_vec();
        self.buf.drain(..header + len);
        Some(Frame { opcode, payload })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_frame(payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0x81];
        match payload.len() {
            n @ 0..=125 => frame.push(n as u8),
            n @ 126..=0xffff => {
                frame.push(126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(payload);
        frame
    }

    #[test]
    fn frames_of_every_length_form_come_out_whole_whatever_the_chunking() {
        let payloads = [vec![b'a'; 5], vec![b'b'; 300], vec![b'c'; 70_000]];
        let stream: Vec<u8> = payloads.iter().flat_map(|p| server_frame(p)).collect();
        for chunk in [1, 7, 4096, stream.len()] {
            let mut decoder = FrameDecoder::default();
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                decoder.push(piece);
                while let Some(frame) = decoder.next_frame() {
                    assert_eq!(frame.opcode, 1);
                    got.push(frame.payload);
                }
            }
            assert_eq!(got, payloads, "chunks of {chunk}");
        }
    }

    #[test]
    fn client_frames_are_masked_text_frames() {
        let frame = client_frame(b"hello");
        assert_eq!(frame[0], 0x81);
        assert_eq!(frame[1], 0x80 | 5);
        let mask = &frame[2..6];
        let unmasked: Vec<u8> = frame[6..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        assert_eq!(unmasked, b"hello");
    }
}
