//! Config file tests: a good validator and full node config, and one test per way a config,
//! keystore or key file can be wrong, each checking the error names the file and the field.

use std::path::{Path, PathBuf};

use kaimeng_crypto::keystore::{Keystore, KeystoreError, save_keystore};
use kaimeng_genesis::{CryptoSuite, DevKeyRole, DevOptions, GenesisSpec, dev_member_secret};

use super::*;

const PASSWORD: &str = "correct horse";
const SUITE: CryptoSuite = CryptoSuite::Sm2Sm3;

/// A directory with a 4-member sm2-sm3 genesis, member 1's keystore, password file and node
/// key, laid out as an operator would: `genesis.json`, `keys/...`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        let genesis = GenesisSpec::dev(&DevOptions {
            validators: 4,
            crypto_suite: SUITE,
            ..DevOptions::default()
        });
        std::fs::write(dir.path().join("genesis.json"), genesis.to_json_pretty()).unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        let fixture = Fixture { dir };
        let secret = dev_member_secret(1, DevKeyRole::Consensus, SUITE);
        fixture.keystore("keys/consensus.json", &secret.0, PASSWORD);
        std::fs::write(fixture.path("keys/password"), format!("{PASSWORD}\n")).unwrap();
        let p2p = dev_member_secret(1, DevKeyRole::P2p, SUITE);
        write_node_key_file(&fixture.path("keys/node.key"), &p2p.0).unwrap();
        fixture
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes a keystore of `secret` (a key of the genesis suite) at `relative`.
    fn keystore(&self, relative: &str, secret: &[u8; 32], password: &str) {
        let suite = kaimeng_crypto::CryptoSuite::Sm2Sm3;
        let keystore = Keystore::encrypt_with_iterations(secret, password, suite, 16).unwrap();
        save_keystore(&self.path(relative), &keystore, true).unwrap();
    }

    fn write_config(&self, text: &str) -> PathBuf {
        let path = self.path("config.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load(&self, text: &str) -> Result<NodeConfig, ConfigError> {
        NodeConfig::load(&self.write_config(text))
    }

    fn load_err(&self, text: &str) -> ConfigError {
        match self.load(text) {
            Ok(config) => panic!("expected an error, loaded {config:?}"),
            Err(error) => error,
        }
    }
}

/// The validator config of the operator guide, for member 1.
fn validator_file() -> ConfigFile {
    ConfigFile {
        data_dir: "data".into(),
        genesis: "genesis.json".into(),
        role: RoleName::Validator,
        log_level: Some("info,kaimeng_consensus=debug".into()),
        validator: Some(ValidatorSection {
            organisation: "dev-member-1".into(),
            keystore: "keys/consensus.json".into(),
            vrf_keystore: None,
            password_file: Some("keys/password".into()),
        }),
        p2p: P2pSection {
            listen: Some(OneOrMany::One("/ip4/0.0.0.0/tcp/30334".into())),
            bootnodes: vec![format!(
                "/ip4/10.0.0.1/tcp/30333/p2p/{}",
                kaimeng_genesis::dev_member_peer_id(0)
            )],
            node_key_file: Some("keys/node.key".into()),
            max_inbound_connections: Some(64),
        },
        rpc: Some(RpcSection {
            listen: "127.0.0.1:8545".into(),
            requests_per_second: Some(500),
            max_connections: None,
            max_request_bytes: None,
            max_batch_len: Some(100),
            read_threads: Some(3),
            read_queue: Some(0),
        }),
        metrics: Some(MetricsSection {
            listen: "127.0.0.1:9615".into(),
        }),
        storage: StorageSection {
            cache_mb: Some(64),
            sync_writes: None,
        },
        sync: SyncSection {
            snapshot_min_gap: Some(4096),
        },
        shards: ShardsSection {
            hold: Some(HoldShards::All),
        },
        explorer: ExplorerSection {
            enabled: Some(true),
            index: Some(true),
            internal_calls: Some(false),
        },
    }
}

fn validator_toml() -> String {
    validator_file().to_toml()
}

fn full_toml() -> &'static str {
    "data_dir = \"full-data\"\ngenesis = \"genesis.json\"\nrole = \"full\"\n"
}

/// The error's text starts with the config file and contains every one of `parts`.
fn assert_message(error: &ConfigError, file: &Path, parts: &[&str]) {
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("{}: ", file.display())),
        "does not name the file: {text}"
    );
    for part in parts {
        assert!(text.contains(part), "{text:?} lacks {part:?}");
    }
}

#[test]
fn a_validator_config_round_trips_and_opens_its_key() {
    let fixture = Fixture::new();
    let file = validator_file();
    let text = file.to_toml();
    assert_eq!(toml::from_str::<ConfigFile>(&text).unwrap(), file);
    let config = fixture.load(&text).expect("a good config loads");

    assert_eq!(config.source, fixture.path("config.toml"));
    assert_eq!(config.data_dir, fixture.path("data"));
    assert_eq!(config.genesis_file, fixture.path("genesis.json"));
    assert_eq!(config.genesis.members.len(), 4);
    assert_eq!(config.log_level, "info,kaimeng_consensus=debug");
    let validator = config.validator().expect("a validator");
    assert_eq!(validator.organisation, "dev-member-1");
    assert_eq!(validator.keystore, fixture.path("keys/consensus.json"));
    assert_eq!(config.p2p.listen, vec!["/ip4/0.0.0.0/tcp/30334".to_owned()]);
    assert_eq!(config.p2p.node_key_file, fixture.path("keys/node.key"));
    let rpc = config.rpc.as_ref().expect("rpc");
    assert_eq!(rpc.listen, "127.0.0.1:8545".parse().unwrap());
    assert_eq!(rpc.limits.requests_per_second_per_client, 500);
    assert_eq!(rpc.limits.max_batch_len, 100);
    assert_eq!(rpc.limits.read_threads, 3);
    assert_eq!(rpc.limits.read_queue, 0, "a queue of 0 is allowed");
    assert_eq!(
        rpc.limits.max_connections,
        RpcLimits::default().max_connections
    );
    assert_eq!(config.metrics, Some("127.0.0.1:9615".parse().unwrap()));
    assert_eq!(config.storage.block_cache_bytes, 64 << 20);
    assert!(config.storage.sync_writes, "fsync is on unless turned off");

    let key = config.open_validator_key().expect("the member's key opens");
    let member = &config.genesis.members[1];
    let expected =
        kaimeng_crypto::PublicKey::from_bytes(key.suite(), member.consensus_key.as_slice())
            .unwrap();
    assert_eq!(key.public_key(), expected);

    let node_key = config
        .load_or_create_node_key()
        .expect("the member's node key");
    assert_eq!(node_key.peer_id().to_string(), member.peer_id);
    let network = config.network_config(node_key);
    assert_eq!(network.listen, config.p2p.listen);
    assert_eq!(network.bootstrap, config.p2p.bootnodes);
    assert_eq!(network.max_inbound_connections, 64);
    assert_eq!(network.genesis_hash, config.genesis.hash().0);
    assert_eq!(network.priority_peers.len(), 4);
}

#[test]
fn a_full_node_gets_defaults_and_a_new_node_key() {
    let fixture = Fixture::new();
    let config = fixture
        .load(full_toml())
        .expect("a minimal full node config");
    assert_eq!(config.role, Role::Full);
    assert_eq!(config.log_level, DEFAULT_LOG_LEVEL);
    assert_eq!(config.p2p.listen, vec!["/ip4/0.0.0.0/tcp/30333".to_owned()]);
    assert!(config.p2p.bootnodes.is_empty());
    assert_eq!(config.p2p.node_key_file, fixture.path("full-data/node.key"));
    assert!(config.rpc.is_none() && config.metrics.is_none());

    let first = config.load_or_create_node_key().expect("created");
    let second = config.load_or_create_node_key().expect("read back");
    assert_eq!(first.peer_id(), second.peer_id(), "the key is kept");

    let error = config.open_validator_key().unwrap_err();
    assert!(matches!(error, ConfigError::Role { .. }), "{error}");
}

#[test]
fn the_explorer_is_on_unless_switched_off_and_its_keys_are_checked() {
    let fixture = Fixture::new();
    let config = fixture.load(full_toml()).unwrap();
    assert_eq!(config.explorer, ExplorerSettings::default());
    assert!(config.explorer.enabled && config.explorer.index && config.explorer.internal_calls);
    let text = format!(
        "{}[explorer]
index = false
",
        full_toml()
    );
    let config = fixture.load(&text).unwrap();
    assert!(config.explorer.enabled && !config.explorer.index);
    let error = fixture.load_err(&format!(
        "{}[explorer]
indexes = false
",
        full_toml()
    ));
    assert_message(
        &error,
        &fixture.path("config.toml"),
        &["line 5", "unknown field `indexes`", "`index`"],
    );
    let error = fixture.load_err(&format!(
        "{}[explorer]
enabled = \"yes\"\n",
        full_toml()
    ));
    assert_message(&error, &fixture.path("config.toml"), &["line 5", "bool"]);
}

#[test]
fn listen_may_be_a_list() {
    let fixture = Fixture::new();
    let text = format!(
        "{}[p2p]\nlisten = [\"/ip4/0.0.0.0/tcp/1\", \"/ip6/::/tcp/1\"]\n",
        full_toml()
    );
    let config = fixture.load(&text).unwrap();
    assert_eq!(config.p2p.listen.len(), 2);
}

#[test]
fn a_missing_field_is_named() {
    let fixture = Fixture::new();
    let error = fixture.load_err("data_dir = \"d\"\nrole = \"full\"\n");
    assert!(matches!(error, ConfigError::Syntax { .. }), "{error}");
    assert_message(
        &error,
        &fixture.path("config.toml"),
        &["missing field `genesis`"],
    );
}

#[test]
fn unknown_keys_are_refused_with_their_line() {
    let fixture = Fixture::new();
    let file = fixture.path("config.toml");
    let top = fixture.load_err(&format!("{}colour = \"blue\"\n", full_toml()));
    assert_message(&top, &file, &["line 4", "unknown field `colour`"]);

    let nested = fixture.load_err(&format!(
        "{}[p2p]\nlisen = \"/ip4/0.0.0.0/tcp/1\"\n",
        full_toml()
    ));
    assert_message(
        &nested,
        &file,
        &["line 5", "unknown field `lisen`", "`listen`"],
    );

    let table = fixture.load_err(&format!("{}[consensus]\ntimeout = 1\n", full_toml()));
    assert_message(&table, &file, &["unknown field `consensus`"]);
}

#[test]
fn a_bad_role_is_refused() {
    let fixture = Fixture::new();
    let error =
        fixture.load_err("data_dir = \"d\"\ngenesis = \"genesis.json\"\nrole = \"leader\"\n");
    assert_message(&error, &fixture.path("config.toml"), &["line 3", "leader"]);
}

#[test]
fn bad_multiaddrs_are_named() {
    let fixture = Fixture::new();
    let file = fixture.path("config.toml");
    let listen = fixture.load_err(&format!("{}[p2p]\nlisten = \"abc\"\n", full_toml()));
    assert!(matches!(
        listen,
        ConfigError::Field {
            field: "p2p.listen",
            ..
        }
    ));
    assert_message(&listen, &file, &["p2p.listen: \"abc\" is not a multiaddr"]);

    let udp = fixture.load_err(&format!(
        "{}[p2p]\nlisten = \"/ip4/0.0.0.0/udp/1\"\n",
        full_toml()
    ));
    assert_message(&udp, &file, &["p2p.listen", "/tcp/"]);

    let no_peer = fixture.load_err(&format!(
        "{}[p2p]\nbootnodes = [\"/ip4/10.0.0.2/tcp/30333\"]\n",
        full_toml()
    ));
    assert_message(&no_peer, &file, &["p2p.bootnodes", "/p2p/<peer id>"]);
}

#[test]
fn bad_socket_addresses_are_named() {
    let fixture = Fixture::new();
    let file = fixture.path("config.toml");
    let rpc = fixture.load_err(&format!(
        "{}[rpc]\nlisten = \"localhost:8545\"\n",
        full_toml()
    ));
    assert!(matches!(
        rpc,
        ConfigError::Field {
            field: "rpc.listen",
            ..
        }
    ));
    assert_message(
        &rpc,
        &file,
        &["rpc.listen: \"localhost:8545\" is not a socket address"],
    );

    let metrics = fixture.load_err(&format!("{}[metrics]\nlisten = \"9615\"\n", full_toml()));
    assert_message(&metrics, &file, &["metrics.listen", "\"9615\""]);

    let zero = fixture.load_err(&format!(
        "{}[rpc]\nlisten = \"127.0.0.1:1\"\nmax_connections = 0\n",
        full_toml()
    ));
    assert_message(&zero, &file, &["rpc.max_connections: must be at least 1"]);
    let no_threads = fixture.load_err(&format!(
        "{}[rpc]\nlisten = \"127.0.0.1:1\"\nread_threads = 0\n",
        full_toml()
    ));
    assert_message(
        &no_threads,
        &file,
        &["rpc.read_threads: must be at least 1"],
    );

    let negative = fixture.load_err(&format!(
        "{}[rpc]\nlisten = \"127.0.0.1:1\"\nmax_connections = -1\n",
        full_toml()
    ));
    assert_message(&negative, &file, &["line 6"]);
}

#[test]
fn role_and_validator_table_must_agree() {
    let fixture = Fixture::new();
    let file = fixture.path("config.toml");
    let bare = "data_dir = \"d\"\ngenesis = \"genesis.json\"\nrole = \"validator\"\n";
    let missing = fixture.load_err(bare);
    assert!(matches!(missing, ConfigError::Role { .. }));
    assert_message(
        &missing,
        &file,
        &["role = \"validator\" needs a [validator] table"],
    );

    let text = validator_toml().replace("role = \"validator\"", "role = \"full\"");
    let extra = fixture.load_err(&text);
    assert_message(
        &extra,
        &file,
        &["role = \"full\" takes no [validator] table"],
    );
}

#[test]
fn a_missing_genesis_is_named() {
    let fixture = Fixture::new();
    let error = fixture.load_err(&full_toml().replace("genesis.json", "nowhere.json"));
    assert!(matches!(error, ConfigError::Genesis { .. }), "{error}");
    assert_message(
        &error,
        &fixture.path("config.toml"),
        &["genesis: ", "nowhere.json"],
    );
}

#[test]
fn a_missing_keystore_is_named() {
    let fixture = Fixture::new();
    let text = validator_toml().replace("keys/consensus.json", "keys/other.json");
    let error = fixture.load_err(&text);
    assert!(
        matches!(
            &error,
            ConfigError::Keystore {
                source: KeystoreError::Io { .. },
                ..
            }
        ),
        "{error}"
    );
    assert_message(
        &error,
        &fixture.path("config.toml"),
        &["validator.keystore", "keys/other.json"],
    );
}

#[test]
fn a_corrupt_keystore_is_refused_at_load() {
    let fixture = Fixture::new();
    std::fs::write(fixture.path("keys/consensus.json"), "{\"version\": 1}").unwrap();
    let error = fixture.load_err(&validator_toml());
    assert!(matches!(error, ConfigError::Keystore { .. }), "{error}");
    assert_message(
        &error,
        &fixture.path("config.toml"),
        &["validator.keystore", "keystore field"],
    );
}

#[test]
fn a_keystore_of_another_suite_is_refused_at_load() {
    let fixture = Fixture::new();
    let secp = kaimeng_crypto::CryptoSuite::Secp256k1Keccak;
    let secret = secp.generate().to_bytes();
    let keystore = Keystore::encrypt_with_iterations(&secret[..], PASSWORD, secp, 16).unwrap();
    save_keystore(&fixture.path("keys/consensus.json"), &keystore, true).unwrap();
    let error = fixture.load_err(&validator_toml());
    assert_message(
        &error,
        &fixture.path("config.toml"),
        &["validator.keystore", "secp256k1-keccak key", "sm2-sm3"],
    );
}

#[test]
fn a_missing_password_file_is_named() {
    let fixture = Fixture::new();
    let text = validator_toml().replace("keys/password", "keys/nope");
    let error = fixture.load_err(&text);
    assert_message(
        &error,
        &fixture.path("config.toml"),
        &["validator.password_file", "keys/nope"],
    );
}

#[test]
fn a_wrong_password_is_a_clear_error() {
    let fixture = Fixture::new();
    std::fs::write(fixture.path("keys/password"), "not the password\n").unwrap();
    let config = fixture
        .load(&validator_toml())
        .expect("loads: the keystore is not decrypted yet");
    let error = config.open_validator_key().unwrap_err();
    assert!(
        matches!(
            &error,
            ConfigError::Keystore {
                source: KeystoreError::WrongPassword,
                ..
            }
        ),
        "{error}"
    );
    assert_message(
        &error,
        &fixture.path("config.toml"),
        &["validator.keystore", "wrong password"],
    );

    std::fs::write(fixture.path("keys/password"), "\n").unwrap();
    let empty = config.open_validator_key().unwrap_err();
    assert_message(
        &empty,
        &fixture.path("config.toml"),
        &["validator.password_file", "empty"],
    );
}

#[test]
fn a_key_that_is_not_the_members_is_refused() {
    let fixture = Fixture::new();
    // Member 2's key in member 1's keystore.
    let other = dev_member_secret(2, DevKeyRole::Consensus, SUITE);
    fixture.keystore("keys/consensus.json", &other.0, PASSWORD);
    let config = fixture.load(&validator_toml()).unwrap();
    let error = config.open_validator_key().unwrap_err();
    assert!(
        matches!(error, ConfigError::NotTheMembersKey { .. }),
        "{error}"
    );
    assert_message(
        &error,
        &fixture.path("config.toml"),
        &["not the consensus key of member \"dev-member-1\""],
    );
}

#[test]
fn an_organisation_outside_the_membership_is_refused() {
    let fixture = Fixture::new();
    let text = validator_toml().replace("dev-member-1", "member-z");
    let config = fixture
        .load(&text)
        .expect("loads; membership is checked on opening the key");
    let error = config.open_validator_key().unwrap_err();
    assert!(matches!(error, ConfigError::NotAMember { .. }), "{error}");
    assert_message(
        &error,
        &fixture.path("config.toml"),
        &["\"member-z\" is not a genesis member", "\"dev-member-0\""],
    );

    // A member admitted after genesis: checked against the membership the caller gives.
    let secret = dev_member_secret(1, DevKeyRole::Consensus, SUITE);
    let public =
        kaimeng_crypto::SecretKey::from_bytes(kaimeng_crypto::CryptoSuite::Sm2Sm3, &secret.0)
            .unwrap()
            .public_key()
            .to_bytes();
    let key = config
        .open_validator_key_among([("member-z", &public[..])])
        .expect("member-z is in the current membership");
    assert_eq!(key.public_key().to_bytes(), public);
}

#[test]
fn a_validators_node_key_must_match_genesis() {
    let fixture = Fixture::new();
    let config = fixture.load(&validator_toml()).unwrap();
    std::fs::remove_file(fixture.path("keys/node.key")).unwrap();
    let missing = config.load_or_create_node_key().unwrap_err();
    assert_message(
        &missing,
        &fixture.path("config.toml"),
        &["p2p.node_key_file", "missing", "peer id"],
    );
    assert!(
        !fixture.path("keys/node.key").exists(),
        "no key is made up for a member"
    );

    let other = dev_member_secret(3, DevKeyRole::P2p, SUITE);
    write_node_key_file(&fixture.path("keys/node.key"), &other.0).unwrap();
    let wrong = config.load_or_create_node_key().unwrap_err();
    assert_message(
        &wrong,
        &fixture.path("config.toml"),
        &["p2p.node_key_file", "genesis records peer id"],
    );

    std::fs::write(fixture.path("keys/node.key"), "zz\n").unwrap();
    let garbage = config.load_or_create_node_key().unwrap_err();
    assert_message(
        &garbage,
        &fixture.path("config.toml"),
        &["not 64 hex digits"],
    );
}

#[test]
fn other_bad_values_are_named() {
    let fixture = Fixture::new();
    let file = fixture.path("config.toml");
    let log = fixture.load_err(&format!("log_level = \"kaimeng=loud\"\n{}", full_toml()));
    assert_message(&log, &file, &["log_level"]);

    let cache = fixture.load_err(&format!("{}[storage]\ncache_mb = 0\n", full_toml()));
    assert_message(&cache, &file, &["storage.cache_mb"]);

    std::fs::write(fixture.path("a-file"), "x").unwrap();
    let data = fixture.load_err(&full_toml().replace("full-data", "a-file"));
    assert_message(&data, &file, &["data_dir", "not a directory"]);

    let missing = NodeConfig::load(&fixture.path("absent.toml")).unwrap_err();
    assert!(matches!(missing, ConfigError::Read { .. }));
    assert_message(&missing, &fixture.path("absent.toml"), &["cannot read"]);

    let not_toml = fixture.load_err("this is = = not toml");
    assert_message(&not_toml, &file, &["line 1"]);
}
