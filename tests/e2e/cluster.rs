//! A `kaimeng testnet` of separate `kaimeng node --config` processes on loopback, with the
//! controls fault tests need: kill -9, restart, and reading every member's chain.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::node::{http_post, path_str, rpc_at};

/// Clusters run one at a time: four processes each are already a full load for two cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub struct Cluster {
    _turn: std::sync::MutexGuard<'static, ()>,
    /// Keeps the testnet directory alive until the cluster is dropped.
    _dir: tempfile::TempDir,
    pub configs: Vec<PathBuf>,
    /// The testnet directory (`genesis.json`, `member-i/`).
    pub net: PathBuf,
    pub p2p_ports: Vec<u16>,
    pub rpc_ports: Vec<u16>,
    pub metrics_ports: Vec<u16>,
    /// Shards per member.
    pub shards: u16,
    nodes: Vec<Option<Child>>,
}

/// `count` consecutive free ports, three times (p2p, RPC, metrics), from a random start below
/// the ephemeral range.
pub fn free_port_ranges(count: u16) -> [u16; 3] {
    let seed = std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64;
    // Below Linux's ephemeral range (32768+), where other tests' port-0 listeners and outgoing
    // connections land: a restarted member must get its ports back.
    let mut start = 10_000 + (seed.wrapping_mul(2654435761) % 20_000) as u16;
    let mut ranges = Vec::new();
    while ranges.len() < 3 {
        if (start..start + count).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            ranges.push(start);
        }
        start += count + 7;
    }
    [ranges[0], ranges[1], ranges[2]]
}

impl Cluster {
    /// Generates an `n`-member testnet (keys, genesis, configs) and starts every member.
    pub fn start(n: u16, suite: &str) -> Cluster {
        Cluster::start_with(n, suite, &[])
    }

    /// Like [`Cluster::start`], with extra `kaimeng testnet` arguments.
    pub fn start_with(n: u16, suite: &str, extra: &[&str]) -> Cluster {
        Cluster::start_configured(n, suite, extra, "")
    }

    /// Like [`Cluster::start_with`], with `config` (TOML) appended to every member's config.
    pub fn start_configured(n: u16, suite: &str, extra: &[&str], config: &str) -> Cluster {
        let turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let dir = tempfile::tempdir().unwrap();
        // Member i serves shard s's RPC on rpc + i * shards + s.
        let shards: u16 = extra
            .iter()
            .position(|a| *a == "--shards")
            .and_then(|i| extra.get(i + 1))
            .map_or(1, |s| s.parse().unwrap());
        let [p2p, rpc, metrics] = free_port_ranges(n * shards);
        let net = dir.path().join("net");
        let output = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
            .args(["testnet", "--generate-only", "--kdf-iterations", "1000"])
            .args(["--validators", &n.to_string(), "--crypto-suite", suite])
            .args(["--dir", path_str(&net)])
            .args([
                "--p2p-port",
                &p2p.to_string(),
                "--rpc-port",
                &rpc.to_string(),
            ])
            .args(["--metrics-port", &metrics.to_string()])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "testnet generation failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let configs = (0..n)
            .map(|i| net.join(format!("member-{i}")).join("config.toml"))
            .collect();
        let mut cluster = Cluster {
            _turn: turn,
            _dir: dir,
            configs,
            net: net.clone(),
            p2p_ports: (0..n).map(|i| p2p + i).collect(),
            rpc_ports: (0..n).map(|i| rpc + i * shards).collect(),
            metrics_ports: (0..n).map(|i| metrics + i).collect(),
            shards,
            nodes: (0..n).map(|_| None).collect(),
        };
        for i in 0..n as usize {
            if !config.is_empty() {
                let path = &cluster.configs[i];
                let mut text = std::fs::read_to_string(path).unwrap();
                text.push_str(&format!("\n{config}\n"));
                std::fs::write(path, text).unwrap();
            }
        }
        for i in 0..n as usize {
            cluster.start_member(i);
        }
        cluster
    }

    pub fn start_member(&mut self, i: usize) {
        assert!(self.nodes[i].is_none(), "member {i} is running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.configs[i].with_file_name("node.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kaimeng"))
            .args(["node", "--config", path_str(&self.configs[i])])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.nodes[i] = Some(child);
        self.wait_until(i, Duration::from_secs(30), "answer RPC", |c| {
            c.height(i).is_some()
        });
    }

    /// SIGKILL: no chance to flush or say goodbye.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A call to member `i`'s RPC; `None` when it does not answer.
    pub fn call(&self, i: usize, method: &str, params: Value) -> Option<Value> {
        let port = self.rpc_ports[i];
        std::net::TcpStream::connect_timeout(
            &([127, 0, 0, 1], port).into(),
            Duration::from_secs(1),
        )
        .ok()?;
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response: Value =
            serde_json::from_str(&http_post(port, body.to_string().as_bytes())).ok()?;
        response.get("result").cloned()
    }

    pub fn height(&self, i: usize) -> Option<u64> {
        let hex = self.call(i, "eth_blockNumber", json!([]))?;
        u64::from_str_radix(hex.as_str()?.trim_start_matches("0x"), 16).ok()
    }

    pub fn block(&self, i: usize, number: u64) -> Value {
        self.call(
            i,
            "eth_getBlockByNumber",
            json!([format!("0x{number:x}"), false]),
        )
        .unwrap_or(Value::Null)
    }

    /// Polls (bounded by `limit`) until `done` holds; panics naming `what` otherwise.
    pub fn wait_until(
        &self,
        member: usize,
        limit: Duration,
        what: &str,
        done: impl Fn(&Cluster) -> bool,
    ) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "member {member} did not {what} within {limit:?}; log:\n{}",
                self.log_tail(member)
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until member `i` has finalized `height`.
    pub fn wait_for_height(&self, i: usize, height: u64) {
        self.wait_until(
            i,
            Duration::from_secs(60),
            &format!("reach height {height}"),
            |c| c.height(i).is_some_and(|h| h >= height),
        );
    }

    /// Block hash and state root of every listed member at `height` are the same.
    pub fn assert_same_block(&self, members: &[usize], height: u64) {
        let reference = self.block(members[0], height);
        assert!(
            !reference.is_null(),
            "member {} has no block {height}",
            members[0]
        );
        for &i in &members[1..] {
            let block = self.block(i, height);
            assert_eq!(
                block["hash"], reference["hash"],
                "hash of {height} on member {i}"
            );
            assert_eq!(
                block["stateRoot"], reference["stateRoot"],
                "state root of {height} on member {i}"
            );
        }
    }

    /// The Prometheus text member `i` serves.
    pub fn scrape(&self, i: usize) -> String {
        use std::io::{Read, Write};
        let mut stream =
            std::net::TcpStream::connect(("127.0.0.1", self.metrics_ports[i])).unwrap();
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    pub fn log_tail(&self, i: usize) -> String {
        let text =
            std::fs::read_to_string(self.configs[i].with_file_name("node.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

impl Cluster {
    /// Writes the config of a full node named `name` that dials every member (with `extra`
    /// TOML appended) and starts it.
    pub fn full_node(&self, name: &str, extra: &str) -> FullNode {
        let shards = self.shards;
        let [p2p, rpc, _] = free_port_ranges(shards);
        let spec: Value =
            serde_json::from_str(&std::fs::read_to_string(self.net.join("genesis.json")).unwrap())
                .unwrap();
        let bootnodes: Vec<String> = spec["members"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&self.p2p_ports)
            .map(|(m, port)| {
                format!(
                    "/ip4/127.0.0.1/tcp/{port}/p2p/{}",
                    m["peer_id"].as_str().unwrap()
                )
            })
            .collect();
        let config = self.net.join(name).join("config.toml");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(
            &config,
            format!(
                "data_dir = \"data\"\ngenesis = \"../genesis.json\"\nrole = \"full\"\n\n[p2p]\nlisten = \"/ip4/127.0.0.1/tcp/{p2p}\"\nbootnodes = {}\n\n[rpc]\nlisten = \"127.0.0.1:{rpc}\"\n\n{extra}",
                serde_json::to_string(&bootnodes).unwrap()
            ),
        )
        .unwrap();
        let mut node = FullNode {
            child: None,
            config,
            rpc,
        };
        node.start();
        node
    }
}

/// A non-member node (`role = "full"`) of a cluster, its own process.
pub struct FullNode {
    child: Option<Child>,
    config: std::path::PathBuf,
    /// Shard `s` serves RPC on `rpc + s`.
    pub rpc: u16,
}

impl FullNode {
    pub fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.config.with_file_name("full.log"))
            .unwrap();
        self.child = Some(
            Command::new(env!("CARGO_BIN_EXE_kaimeng"))
                .args(["node", "--config", path_str(&self.config)])
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn height(&self) -> Option<u64> {
        self.height_of(0)
    }

    /// Shard `shard`'s head height on this node.
    pub fn height_of(&self, shard: u16) -> Option<u64> {
        let port = self.rpc + shard;
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        let result = rpc_at(port, "eth_blockNumber", json!([]));
        u64::from_str_radix(result["result"].as_str()?.trim_start_matches("0x"), 16).ok()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.config.with_file_name("full.log")).unwrap_or_default()
    }

    pub fn wait_for_height(&self, height: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.height().is_none_or(|h| h < height) {
            assert!(
                Instant::now() < deadline,
                "the full node did not reach height {height} within {limit:?} (at {:?}); log:\n{}",
                self.height(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for FullNode {
    fn drop(&mut self) {
        self.kill();
    }
}
