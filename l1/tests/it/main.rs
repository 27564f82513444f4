//! Integration tests of kaimeng-l1: consortium membership, governance and fee sharing driven
//! through the public API only.

mod codec;
mod common;
mod consensus;
mod fees;
mod fuzz;
mod fuzz_beacon;
mod membership;
mod parameters;
mod signatures;
mod threshold;
