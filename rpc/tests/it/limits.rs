//! The server's limits and guards seen from raw HTTP and WebSocket clients: the rate limit per
//! client address over HTTP keep-alive, new HTTP connections and WebSocket alike; -32600 for
//! ids jsonrpsee cannot take and bodies that are not UTF-8; HTTP 413 / -32007 for an oversized
//! body with or without Content-Length.
//!
//! Each test talks from its own loopback address (127.0.0.x), so its budget is its own.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

use jsonrpsee::RpcModule;
use jsonrpsee::server::ServerHandle;
use kaimeng_rpc::{RpcLimits, serve_methods};
use serde_json::{Value, json};

struct TestServer {
    runtime: tokio::runtime::Runtime,
    addr: SocketAddr,
    handle: ServerHandle,
}

impl TestServer {
    /// A server of `eth_blockNumber` and `eth_chainId` with `limits`.
    fn start(limits: RpcLimits) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut module = RpcModule::new(());
        module
            .register_method("eth_blockNumber", |_, _, _| "0x2a")
            .unwrap();
        module
            .register_method("eth_chainId", |_, _, _| "0x7a69")
            .unwrap();
        let (addr, handle) = runtime
            .block_on(serve_methods(
                "127.0.0.1:0".parse().unwrap(),
                &limits,
                module.into(),
            ))
            .unwrap();
        Self {
            runtime,
            addr,
            handle,
        }
    }

    fn with_rate_limit(per_second: u32) -> Self {
        Self::start(RpcLimits {
            requests_per_second_per_client: per_second,
            ..RpcLimits::default()
        })
    }

    /// A TCP connection to the server from the loopback address `127.0.0.<from>`.
    fn connect(&self, from: u8) -> TcpStream {
        let source = SocketAddr::from((Ipv4Addr::new(127, 0, 0, from), 0));
        let stream = self
            .runtime
            .block_on(async {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.bind(source)?;
                socket.connect(self.addr).await
            })
            .expect("connect from a loopback address")
            .into_std()
            .unwrap();
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.handle.stop();
    }
}

fn call(id: u64, method: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": []}).to_string()
}

fn post_head(body_len: usize) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {body_len}\r\n\r\n"
    )
}

/// Reads one HTTP/1.1 response: its status and body (Content-Length or chunked).
fn read_response(reader: &mut impl BufRead) -> (u16, Vec<u8>) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut length = None;
    let mut chunked = false;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let header = line.trim_end().to_ascii_lowercase();
        if header.is_empty() {
            break;
        }
        if let Some(value) = header.strip_prefix("content-length:") {
            length = Some(value.trim().parse::<usize>().unwrap());
        }
        if header.starts_with("transfer-encoding:") && header.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let size = usize::from_str_radix(line.trim(), 16).unwrap();
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).unwrap();
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length.expect("a Content-Length"), 0);
        reader.read_exact(&mut body).unwrap();
    }
    (status, body)
}

fn json_body(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

/// Writes every body as a request on one keep-alive connection before reading any response
/// (HTTP/1.1 pipelining: the calls reach the server as one burst), then reads the responses.
fn pipelined(stream: TcpStream, bodies: &[Vec<u8>]) -> Vec<(u16, Value)> {
    let mut writer = stream.try_clone().unwrap();
    let mut burst = Vec::new();
    for body in bodies {
        burst.extend_from_slice(post_head(body.len()).as_bytes());
        burst.extend_from_slice(body);
    }
    writer.write_all(&burst).unwrap();
    let mut reader = BufReader::new(stream);
    bodies
        .iter()
        .map(|_| {
            let (status, body) = read_response(&mut reader);
            (status, json_body(&body))
        })
        .collect()
}

fn post(stream: TcpStream, body: &[u8]) -> (u16, Value) {
    pipelined(stream, &[body.to_vec()]).pop().unwrap()
}

/// A minimal WebSocket client: handshake, masked text frames out, text frames in.
struct Ws {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Ws {
    fn open(mut stream: TcpStream) -> Self {
        stream
            .write_all(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.contains(" 101 "), "no upgrade: {line}");
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
        }
        Self { stream, reader }
    }

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mask = [0x5a, 0x17, 0xc3, 0x81];
        let mut frame = vec![0x81];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
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

    /// Sends every message in one write.
    fn send_all(&mut self, messages: &[String]) {
        let burst: Vec<u8> = messages
            .iter()
            .flat_map(|m| Self::frame(m.as_bytes()))
            .collect();
        self.stream.write_all(&burst).unwrap();
    }

    fn receive(&mut self) -> Value {
        let mut head = [0u8; 2];
        self.reader.read_exact(&mut head).unwrap();
        assert_eq!(head[0] & 0x0f, 1, "a text frame");
        let len = match head[1] & 0x7f {
            126 => {
                let mut n = [0u8; 2];
                self.reader.read_exact(&mut n).unwrap();
                u16::from_be_bytes(n) as usize
            }
            127 => {
                let mut n = [0u8; 8];
                self.reader.read_exact(&mut n).unwrap();
                u64::from_be_bytes(n) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0; len];
        self.reader.read_exact(&mut payload).unwrap();
        json_body(&payload)
    }
}

const LIMIT: u32 = 10;
const REFUSAL: &str = "rate limit exceeded: at most 10 requests per second per client address";

fn assert_refused(response: &Value) {
    assert_eq!(response["error"]["code"], -32005, "{response}");
    assert_eq!(response["error"]["message"], REFUSAL, "{response}");
}

fn assert_answered(response: &Value) {
    assert_eq!(response["result"], "0x2a", "{response}");
}

#[test]
fn the_rate_limit_holds_over_one_keep_alive_http_connection() {
    let server = TestServer::with_rate_limit(LIMIT);
    let bodies: Vec<Vec<u8>> = (0..=LIMIT as u64)
        .map(|i| call(i, "eth_blockNumber").into_bytes())
        .collect();
    let responses = pipelined(server.connect(2), &bodies);
    for (status, response) in &responses[..LIMIT as usize] {
        assert_eq!(*status, 200);
        assert_answered(response);
    }
    let (status, refused) = &responses[LIMIT as usize];
    assert_eq!(*status, 200);
    assert_refused(refused);
    assert_eq!(refused["id"], LIMIT);

    // Another address has its own budget.
    let (_, other) = post(server.connect(3), call(1, "eth_blockNumber").as_bytes());
    assert_answered(&other);
}

#[test]
fn the_rate_limit_holds_over_a_new_http_connection_per_call() {
    let server = TestServer::with_rate_limit(LIMIT);
    // Connect first, so the calls themselves are a burst.
    let connections: Vec<TcpStream> = (0..=LIMIT).map(|_| server.connect(4)).collect();
    let responses: Vec<Value> = connections
        .into_iter()
        .enumerate()
        .map(|(i, stream)| post(stream, call(i as u64, "eth_blockNumber").as_bytes()).1)
        .collect();
    for response in &responses[..LIMIT as usize] {
        assert_answered(response);
    }
    assert_refused(&responses[LIMIT as usize]);
}

#[test]
fn the_rate_limit_holds_over_websocket() {
    let server = TestServer::with_rate_limit(LIMIT);
    let mut ws = Ws::open(server.connect(5));
    let calls: Vec<String> = (0..=LIMIT as u64)
        .map(|i| call(i, "eth_blockNumber"))
        .collect();
    ws.send_all(&calls);
    // jsonrpsee answers WebSocket calls concurrently, so which one is refused may vary.
    let responses: Vec<Value> = calls.iter().map(|_| ws.receive()).collect();
    let refused: Vec<&Value> = responses
        .iter()
        .filter(|r| r.get("error").is_some())
        .collect();
    assert_eq!(refused.len(), 1, "{responses:?}");
    assert_refused(refused[0]);
}

#[test]
fn http_and_websocket_calls_from_one_address_share_its_budget() {
    let server = TestServer::with_rate_limit(LIMIT);
    let mut ws = Ws::open(server.connect(6));
    let bodies: Vec<Vec<u8>> = (0..6)
        .map(|i| call(i, "eth_blockNumber").into_bytes())
        .collect();
    for (_, response) in pipelined(server.connect(6), &bodies) {
        assert_answered(&response);
    }
    let calls: Vec<String> = (6..=LIMIT as u64)
        .map(|i| call(i, "eth_blockNumber"))
        .collect();
    ws.send_all(&calls);
    let responses: Vec<Value> = calls.iter().map(|_| ws.receive()).collect();
    let refused: Vec<&Value> = responses
        .iter()
        .filter(|r| r.get("error").is_some())
        .collect();
    assert_eq!(refused.len(), 1, "{responses:?}");
    assert_refused(refused[0]);
}

#[test]
fn a_batch_costs_one_token_per_entry() {
    let server = TestServer::with_rate_limit(LIMIT);
    let batch = |n: u64| {
        Value::Array(
            (0..n)
                .map(|i| json!({"jsonrpc": "2.0", "id": i, "method": "eth_chainId"}))
                .collect(),
        )
        .to_string()
        .into_bytes()
    };
    // Larger than the limit: refused whole, whatever the bucket holds.
    let (_, refused) = post(server.connect(7), &batch(LIMIT as u64 + 1));
    assert_refused(&refused);
    let responses = pipelined(
        server.connect(7),
        &[
            batch(LIMIT as u64),
            call(99, "eth_blockNumber").into_bytes(),
        ],
    );
    assert_eq!(responses[0].1.as_array().unwrap().len(), LIMIT as usize);
    assert_refused(&responses[1].1);
}

fn assert_invalid_request(response: &Value) {
    assert_eq!(response["jsonrpc"], "2.0", "{response}");
    assert_eq!(response["error"]["code"], -32600, "{response}");
    assert!(response["id"].is_null(), "{response}");
}

#[test]
fn a_request_with_an_id_jsonrpsee_cannot_take_gets_invalid_request() {
    let server = TestServer::start(RpcLimits::default());
    for id in [json!({}), json!([1]), json!(-1), json!(1.5), json!(true)] {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "eth_blockNumber"}).to_string();
        let (status, response) = post(server.connect(8), body.as_bytes());
        assert_eq!(status, 200);
        assert_invalid_request(&response);
        assert!(
            response["error"]["message"]
                .as_str()
                .unwrap()
                .contains("id must be"),
            "{response}"
        );
    }
    // An escaped member name is still `id`.
    let body = br#"{"jsonrpc":"2.0","\u0069d":{},"method":"eth_blockNumber"}"#;
    assert_invalid_request(&post(server.connect(8), body).1);
    // Good ids are unaffected.
    let (_, response) = post(server.connect(8), call(7, "eth_blockNumber").as_bytes());
    assert_eq!(response["id"], 7);
    assert_answered(&response);
}

#[test]
fn a_body_that_is_not_utf8_gets_invalid_request() {
    let server = TestServer::start(RpcLimits::default());
    let mut body = br#"{"jsonrpc":"2.0","id":"#.to_vec();
    body.extend_from_slice(b"\"\xff\xfe\"");
    body.extend_from_slice(br#","method":"eth_blockNumber"}"#);
    let (status, response) = post(server.connect(9), &body);
    assert_eq!(status, 200);
    assert_invalid_request(&response);
}

#[test]
fn bad_batch_entries_get_their_own_errors_and_good_ones_are_answered() {
    let server = TestServer::start(RpcLimits::default());
    let mut body = Vec::new();
    body.extend_from_slice(br#"[{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"},"#);
    body.extend_from_slice(br#"{"jsonrpc":"2.0","id":{"a":1},"method":"eth_blockNumber"},"#);
    body.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    body.extend_from_slice(b"\"\xff\"");
    body.extend_from_slice(br#","method":"eth_blockNumber"},"#);
    // A true notification: no answer, as JSON-RPC says.
    body.extend_from_slice(br#"{"jsonrpc":"2.0","method":"eth_blockNumber"},"#);
    body.extend_from_slice(br#"{"jsonrpc":"2.0","id":"two","method":"eth_chainId"}]"#);
    let (status, response) = post(server.connect(10), &body);
    assert_eq!(status, 200);
    let entries = response.as_array().unwrap_or_else(|| panic!("{response}"));
    assert_eq!(entries.len(), 4, "{response}");
    let answer = |id: Value| entries.iter().find(|e| e["id"] == id).cloned();
    assert_eq!(answer(json!(1)).unwrap()["result"], "0x2a");
    assert_eq!(answer(json!("two")).unwrap()["result"], "0x7a69");
    let errors: Vec<&Value> = entries.iter().filter(|e| e["id"].is_null()).collect();
    assert_eq!(errors.len(), 2, "{response}");
    for error in errors {
        assert_invalid_request(error);
    }

    // A batch of bad entries only.
    let body = br#"[{"jsonrpc":"2.0","id":{},"method":"eth_blockNumber"}]"#;
    let (_, response) = post(server.connect(10), body);
    assert_eq!(response.as_array().map(Vec::len), Some(1), "{response}");
    assert_invalid_request(&response[0]);
}

const TEN_MB: usize = 10 * 1024 * 1024;

/// Sends `head` and then `body` from another thread (the server may answer before reading it
/// all) and returns the response.
fn send_large(stream: TcpStream, head: String, body: Vec<u8>) -> (u16, Value) {
    let mut writer = stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || {
        // The server may close the connection before the whole body is sent.
        let _ = writer.write_all(head.as_bytes());
        let _ = writer.write_all(&body);
    });
    let (status, body) = read_response(&mut BufReader::new(stream));
    let _ = sending.join();
    (status, json_body(&body))
}

fn assert_too_large(status: u16, response: &Value) {
    assert_eq!(status, 413, "{response}");
    assert_eq!(response["error"]["code"], -32007, "{response}");
    let message = response["error"]["message"].as_str().unwrap();
    assert!(message.contains("5242880 bytes"), "{message}");
}

fn oversized_call() -> Vec<u8> {
    format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"eth_sendRawTransaction","params":["0x{}"]}}"#,
        "00".repeat(TEN_MB / 2)
    )
    .into_bytes()
}

#[test]
fn an_oversized_chunked_body_gets_413_naming_the_limit() {
    let server = TestServer::start(RpcLimits::default());
    let body = oversized_call();
    let mut chunked = Vec::with_capacity(body.len() + 1024);
    for chunk in body.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Transfer-Encoding: chunked\r\n\r\n"
        .to_string();
    let (status, response) = send_large(server.connect(11), head, chunked);
    assert_too_large(status, &response);
}

#[test]
fn an_oversized_body_with_content_length_gets_the_same_413() {
    let server = TestServer::start(RpcLimits::default());
    let body = oversized_call();
    let (status, response) = send_large(server.connect(12), post_head(body.len()), body);
    assert_too_large(status, &response);
}
