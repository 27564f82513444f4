//! Kaimeng (开盟): the composition root. It wires genesis, storage, shards and RPC into a node;
//! `cli` maps the `kaimeng` subcommands onto it.

pub mod bridge_client;
pub mod cli;
pub mod committees_command;
pub mod config;
pub mod dev;
pub mod explorer;
pub mod gov;
pub mod l2_command;
pub mod light;
pub mod metrics;
pub mod node;
pub mod node_command;
pub mod node_status;
pub mod rollup_precompiles;
pub mod rollup_rpc;
pub mod sequencer;
pub mod testnet;
pub mod validator;

/// The crypto library's suite for a genesis suite (the two crates name the same two suites).
pub fn consensus_suite(suite: kaimeng_genesis::CryptoSuite) -> kaimeng_crypto::CryptoSuite {
    match suite {
        kaimeng_genesis::CryptoSuite::Secp256k1Keccak => {
            kaimeng_crypto::CryptoSuite::Secp256k1Keccak
        }
        kaimeng_genesis::CryptoSuite::Sm2Sm3 => kaimeng_crypto::CryptoSuite::Sm2Sm3,
    }
}
