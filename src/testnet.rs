//! `kaimeng testnet`: generates a network of N members (fresh keys in SM4 keystores, a
//! genesis naming them, one config file per member) and runs each member's validator as its
//! own `kaimeng node --config` process on loopback.
//!
//! Layout of the directory:
//! ```text
//! genesis.json
//! member-<i>/config.toml     the node's config (see docs/operations.md)
//! member-<i>/consensus.json  consensus key keystore      member-<i>/admin.json  admin key keystore
//! member-<i>/vrf.json        VRF key keystore           member-<i>/password    keystore password
//! member-<i>/node.key        libp2p identity
//! member-<i>/data/           chain data                  member-<i>/node.log    the process's log
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use alloy_primitives::B256;
use anyhow::Context;
use kaimeng_crypto::keystore::{Keystore, save_keystore};
use kaimeng_crypto::{CryptoSuite, SecretKey};
use kaimeng_genesis::{DevOptions, GenesisSpec, HexBytes, Member};
use kaimeng_network::NodeKey;

use crate::config::{
    ConfigFile, MetricsSection, OneOrMany, P2pSection, RoleName, RpcSection, StorageSection,
    ValidatorSection, write_node_key_file,
};

/// The keystores of a member's consensus, admin and VRF keys, in its directory.
pub const CONSENSUS_KEYSTORE: &str = "consensus.json";
pub const ADMIN_KEYSTORE: &str = "admin.json";
pub const VRF_KEYSTORE: &str = "vrf.json";

/// What to generate.
#[derive(Clone, Debug)]
pub struct TestnetPlan {
    pub dir: PathBuf,
    pub validators: u32,
    pub chain_id: u64,
    pub suite: kaimeng_genesis::CryptoSuite,
    /// Member `i` listens for peers on `p2p_port + i`.
    pub p2p_port: u16,
    /// Member `i` serves shard `s`'s JSON-RPC on `rpc_port + i * shards + s`.
    pub rpc_port: u16,
    /// Execution shards.
    pub shards: u32,
    /// Members per shard committee; `None`: every member validates every shard.
    pub committee_size: Option<u32>,
    /// Member `i` serves metrics on `metrics_port + i`.
    pub metrics_port: u16,
    /// Keystore key-derivation iterations (lower only for tests).
    pub kdf_iterations: u32,
    /// Genesis block time: an idle leader proposes an empty block after this long, and the
    /// consensus base timeout is twice it.
    pub block_time_ms: u64,
    /// Blocks per epoch.
    pub epoch_length: u64,
}

/// A generated network: where each member's config is.
pub struct Testnet {
    pub genesis: PathBuf,
    pub configs: Vec<PathBuf>,
    pub rpc_urls: Vec<String>,
}

/// The genesis encoding of a public key: compressed secp256k1, uncompressed SM2.
fn genesis_key(key: &SecretKey) -> HexBytes {
    let public = key.public_key();
    HexBytes(match key.suite() {
        CryptoSuite::Secp256k1Keccak => public.to_bytes().to_vec(),
        CryptoSuite::Sm2Sm3 => public.to_uncompressed().to_vec(),
    })
}

/// The RFC 9381 public key of a VRF secret kept as a suite key's 32 bytes.
pub fn vrf_public_key(key: &SecretKey) -> HexBytes {
    HexBytes(
        kaimeng_crypto::vrf::VrfSecretKey::from_bytes(&key.to_bytes())
            .public_key()
            .to_bytes()
            .to_vec(),
    )
}

/// Writes keys, genesis and configs under `plan.dir` (which must not hold a testnet yet).
pub fn generate(plan: &TestnetPlan) -> anyhow::Result<Testnet> {
    if plan.validators == 0 {
        anyhow::bail!("--validators 0: a network needs at least one validator");
    }
    let genesis_path = plan.dir.join("genesis.json");
    if genesis_path.exists() {
        anyhow::bail!(
            "{} already holds a testnet; pick another --dir or remove it",
            plan.dir.display()
        );
    }
    std::fs::create_dir_all(&plan.dir)
        .with_context(|| format!("cannot create {}", plan.dir.display()))?;
    let suite = crate::consensus_suite(plan.suite);
    let mut genesis = GenesisSpec::dev(&DevOptions {
        validators: plan.validators,
        chain_id_base: plan.chain_id,
        crypto_suite: plan.suite,
        block_time_ms: plan.block_time_ms,
        ..DevOptions::default()
    });
    genesis.epoch_length = plan.epoch_length;
    genesis.shard_count = plan.shards.max(1);
    genesis.committee_size = plan.committee_size;
    let mut node_secrets = Vec::new();
    let mut members = Vec::new();
    for i in 0..plan.validators {
        let dir = member_dir(&plan.dir, i);
        std::fs::create_dir_all(&dir)?;
        let password = hex::encode(B256::random());
        std::fs::write(dir.join("password"), &password)?;
        let consensus = suite.generate();
        let admin = suite.generate();
        let vrf = suite.generate();
        // Every secret the genesis names a public key for is kept, SM4-encrypted under the
        // member's password. The VRF secret is 32 random bytes (generated as a suite key so
        // that one keystore format serves all three); its public key is the RFC 9381 one.
        for (file, key) in [
            (CONSENSUS_KEYSTORE, &consensus),
            (ADMIN_KEYSTORE, &admin),
            (VRF_KEYSTORE, &vrf),
        ] {
            let keystore = Keystore::encrypt_with_iterations(
                key.to_bytes().as_slice(),
                &password,
                suite,
                plan.kdf_iterations,
            )?;
            save_keystore(&dir.join(file), &keystore, false)?;
        }
        let node_secret = loop {
            let candidate = B256::random();
            if let Ok(key) = NodeKey::from_secret_bytes(candidate.0) {
                break (candidate.0, key);
            }
        };
        write_node_key_file(&dir.join("node.key"), &node_secret.0)
            .context("writing the node key")?;
        let template = &genesis.members[i as usize];
        members.push(Member {
            organisation: format!("member-{i}"),
            admin_key: genesis_key(&admin),
            consensus_key: genesis_key(&consensus),
            vrf_key: vrf_public_key(&vrf),
            peer_id: node_secret.1.peer_id().to_string(),
            fee_recipient: template.fee_recipient,
            weight: 1,
        });
        node_secrets.push(node_secret.1);
    }
    genesis.members = members;
    genesis.validate().context("generated genesis")?;
    std::fs::write(&genesis_path, genesis.to_json_pretty())?;

    let mut configs = Vec::new();
    let mut rpc_urls = Vec::new();
    for i in 0..plan.validators {
        let dir = member_dir(&plan.dir, i);
        let port = |base: u16| -> anyhow::Result<u16> {
            base.checked_add(i as u16).context("port out of range")
        };
        let rpc_port = u16::try_from(i * plan.shards.max(1))
            .ok()
            .and_then(|offset| plan.rpc_port.checked_add(offset))
            .context("RPC port out of range")?;
        let bootnodes = (0..plan.validators)
            .filter(|other| *other != i)
            .map(|other| {
                Ok(format!(
                    "/ip4/127.0.0.1/tcp/{}/p2p/{}",
                    plan.p2p_port
                        .checked_add(other as u16)
                        .context("port out of range")?,
                    node_secrets[other as usize].peer_id()
                ))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let file = ConfigFile {
            data_dir: "data".into(),
            genesis: "../genesis.json".into(),
            role: RoleName::Validator,
            log_level: Some("info,kaimeng_network=warn".into()),
            validator: Some(ValidatorSection {
                organisation: format!("member-{i}"),
                keystore: CONSENSUS_KEYSTORE.into(),
                vrf_keystore: Some(VRF_KEYSTORE.into()),
                password_file: Some("password".into()),
            }),
            p2p: P2pSection {
                listen: Some(OneOrMany::One(format!(
                    "/ip4/127.0.0.1/tcp/{}",
                    port(plan.p2p_port)?
                ))),
                bootnodes,
                node_key_file: Some("node.key".into()),
                max_inbound_connections: None,
            },
            rpc: Some(RpcSection {
                listen: format!("127.0.0.1:{rpc_port}"),
                requests_per_second: None,
                max_connections: None,
                max_request_bytes: None,
                max_batch_len: None,
                read_threads: None,
                read_queue: None,
            }),
            metrics: Some(MetricsSection {
                listen: format!("127.0.0.1:{}", port(plan.metrics_port)?),
            }),
            storage: StorageSection::default(),
            sync: Default::default(),
            shards: Default::default(),
            // Member 0 serves the explorer; the others leave the CPU to consensus (an
            // operator turns it on in their own config).
            explorer: crate::config::ExplorerSection {
                enabled: (i != 0).then_some(false),
                ..Default::default()
            },
        };
        let path = dir.join("config.toml");
        std::fs::write(&path, file.to_toml())?;
        configs.push(path);
        rpc_urls.push(format!("http://127.0.0.1:{rpc_port}"));
    }
    Ok(Testnet {
        genesis: genesis_path,
        configs,
        rpc_urls,
    })
}

/// Member `i`'s directory in a testnet directory.
pub fn member_dir(dir: &Path, i: u32) -> PathBuf {
    dir.join(format!("member-{i}"))
}

/// Launches `kaimeng node --config` for every member, logging to `member-<i>/node.log`.
pub fn launch(testnet: &Testnet) -> anyhow::Result<Vec<Option<Child>>> {
    let exe = std::env::current_exe().context("locating the kaimeng binary")?;
    let mut children = Vec::new();
    for config in &testnet.configs {
        let log = std::fs::File::create(config.with_file_name("node.log"))?;
        let child = Command::new(&exe)
            .args(["node", "--config"])
            .arg(config)
            .stdout(log.try_clone()?)
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting the node of {}", config.display()))?;
        children.push(Some(child));
    }
    Ok(children)
}

/// Waits for Ctrl-C or SIGTERM, reaping any member process that exits meanwhile and saying so
/// on stderr (with its exit status and the command that restarts it). Members are not
/// restarted: a testnet is where faults are tried, and a crash should stay visible.
pub async fn supervise(children: &mut [Option<Child>], configs: &[PathBuf]) {
    let shutdown = crate::dev::wait_for_shutdown();
    tokio::pin!(shutdown);
    let mut poll = tokio::time::interval(std::time::Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = poll.tick() => {}
        }
        for (i, slot) in children.iter_mut().enumerate() {
            let Some(child) = slot else { continue };
            match child.try_wait() {
                Ok(Some(status)) => {
                    eprintln!(
                        "member {i} (pid {}) exited: {status}; not restarted (restart it with: kaimeng node --config {})",
                        child.id(),
                        configs[i].display()
                    );
                    *slot = None;
                }
                Ok(None) => {}
                Err(error) => eprintln!("member {i}: cannot check its process: {error}"),
            }
        }
    }
}

#[cfg(test)]
#[path = "testnet_tests.rs"]
mod tests;
