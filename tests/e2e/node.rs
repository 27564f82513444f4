//! Starting and talking to a `kaimeng dev` process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use serde_json::{Value, json};

pub const DEV_KEY_0: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

pub struct DevNode {
    pub child: Child,
    pub url: String,
    pub port: u16,
    /// RPC ports of the in-process validators (validator 0's is `port`); empty with one.
    pub validator_ports: Vec<u16>,
    /// RPC ports of standby nodes (`--standby`): followers until governance admits them.
    pub standby_ports: Vec<u16>,
    /// Node 0's RPC port of each shard, by shard number (shard 0's is `port`).
    pub shard_ports: Vec<u16>,
    /// The rollup sequencer's RPC port, when it runs (`--sequencer-port` given).
    pub sequencer_port: Option<u16>,
}

impl DevNode {
    /// Starts `kaimeng dev` on a free port with extra arguments, waiting for its RPC URL. The
    /// rollup sequencer runs only if `extra` sets `--sequencer-port` (it deposits to its fee
    /// account at start, which other tests need not see).
    pub fn start(extra: &[&str]) -> DevNode {
        let with_sequencer = extra.contains(&"--sequencer-port");
        let mut child = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
            .args(["dev", "--port", "0"])
            .args(if with_sequencer {
                &[][..]
            } else {
                &["--no-sequencer"][..]
            })
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kaimeng dev");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut validator_ports = Vec::new();
        let mut standby_ports = Vec::new();
        let mut shard_ports = Vec::new();
        let mut sequencer_port = None;
        let port_of = |line: &str| -> u16 {
            line.split("RPC http://")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("unexpected node line: {line}"))
        };
        let url = loop {
            assert!(
                Instant::now() < deadline,
                "kaimeng dev did not print its URL"
            );
            match lines.next() {
                Some(Ok(line)) => {
                    if line.starts_with("Validator ") {
                        validator_ports.push(port_of(&line));
                    }
                    if line.starts_with("Standby ") {
                        standby_ports.push(port_of(&line));
                    }
                    if line.starts_with("Shard ") {
                        shard_ports.push(port_of(&line));
                    }
                    if line.starts_with("Rollup sequencer") {
                        sequencer_port = Some(port_of(&line));
                    }
                    if let Some(url) = line.strip_prefix("Listening on ") {
                        break url.trim().to_string();
                    }
                }
                _ => {
                    let mut err = String::new();
                    child.stderr.take().unwrap().read_to_string(&mut err).ok();
                    panic!("kaimeng dev exited early: {err}");
                }
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let port = url.rsplit(':').next().unwrap().parse().unwrap();
        DevNode {
            child,
            url,
            port,
            validator_ports,
            standby_ports,
            shard_ports,
            sequencer_port,
        }
    }

    pub fn rpc(&self, method: &str, params: Value) -> Value {
        rpc_at(self.port, method, params)
    }

    pub fn result(&self, method: &str, params: Value) -> Value {
        result_at(self.port, method, params)
    }

    /// POSTs `body` and returns the response body.
    pub fn raw(&self, body: &str) -> String {
        http_post(self.port, body.as_bytes())
    }

    /// Waits (bounded) for a receipt.
    pub fn receipt(&self, hash: &str) -> Value {
        receipt_at(self.port, hash, Duration::from_secs(30))
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then asserts a clean exit: status 0, not an abort from a thread still
    /// writing while the process tears down.
    pub fn terminate(&mut self) {
        let status = self
            .sigterm_and_wait(Duration::from_secs(30))
            .expect("kaimeng dev did not stop on SIGTERM");
        assert!(
            status.success(),
            "kaimeng dev exited with {status} on SIGTERM"
        );
    }

    /// Sends SIGTERM and waits up to `within` for the exit status.
    fn sigterm_and_wait(&mut self, within: Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for DevNode {
    /// SIGTERM first, so `kaimeng dev` removes its temporary data directory (RocksDB
    /// preallocates its logs: a few hundred MB per 4-validator network); SIGKILL if it lingers.
    fn drop(&mut self) {
        if self.sigterm_and_wait(Duration::from_secs(10)).is_none() {
            self.kill();
        }
    }
}

/// A JSON-RPC call to the server on `port`; the whole response object.
/// Waits (at most `limit`) for the receipt of `hash` at `port`.
pub fn receipt_at(port: u16, hash: &str, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let r = result_at(port, "eth_getTransactionReceipt", json!([hash]));
        if !r.is_null() {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "no receipt for {hash} at port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn rpc_at(port: u16, method: &str, params: Value) -> Value {
    let response = http_post(
        port,
        json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
            .to_string()
            .as_bytes(),
    );
    serde_json::from_str(&response)
        .unwrap_or_else(|e| panic!("bad JSON from {method}: {e}: {response}"))
}

/// The `result` of a JSON-RPC call to the server on `port`; panics on an error response.
pub fn result_at(port: u16, method: &str, params: Value) -> Value {
    let response = rpc_at(port, method, params);
    match response.get("result") {
        Some(result) => result.clone(),
        None => panic!("{method} failed: {response}"),
    }
}

pub fn http_post(port: u16, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let _ = stream.write_all(body);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(text)
}

pub fn signed_transfer(chain_id: u64, nonce: u64, to: Address, value: u64) -> String {
    signed_transfer_of(chain_id, nonce, to, U256::from(value))
}

/// An EIP-1559 transfer of `value` wei from dev account 0, hex-encoded for eth_sendRawTransaction.
pub fn signed_transfer_of(chain_id: u64, nonce: u64, to: Address, value: U256) -> String {
    signed_call(chain_id, nonce, to, value, Vec::new(), 21_000)
}

/// An EIP-1559 call from dev account 0 with `value` and `input`, hex-encoded.
pub fn signed_call(
    chain_id: u64,
    nonce: u64,
    to: Address,
    value: U256,
    input: Vec<u8>,
    gas_limit: u64,
) -> String {
    signed_call_from(DEV_KEY_0, chain_id, nonce, to, value, input, gas_limit)
}

/// [`signed_call`] signed by the key `key` (hex).
pub fn signed_call_from(
    key: &str,
    chain_id: u64,
    nonce: u64,
    to: Address,
    value: U256,
    input: Vec<u8>,
    gas_limit: u64,
) -> String {
    let key: PrivateKeySigner = key.parse().unwrap();
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: 20_000_000_000,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input: Bytes::from(input),
    };
    let sig = key.sign_hash_sync(&tx.signature_hash()).unwrap();
    format!(
        "0x{}",
        alloy_primitives::hex::encode(TxEnvelope::from(tx.into_signed(sig)).encoded_2718())
    )
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}
