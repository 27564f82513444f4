//! End-to-end tests of the `kaimeng` binary: a real `kaimeng dev` process on loopback.

mod bad_input;
mod consensus;
mod node;
mod restart;
mod rpc;
