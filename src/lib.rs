//! Kaimeng (开盟): the composition root. It wires genesis, storage, shards and RPC into a node;
//! `cli` maps the `kaimeng` subcommands onto it.

pub mod cli;
pub mod config;
pub mod dev;
pub mod gov;
pub mod metrics;
pub mod node;
pub mod node_command;
pub mod testnet;
pub mod validator;
