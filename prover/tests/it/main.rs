//! Integration tests of the rollup prover.

mod support;

mod attacks;
mod forge;
mod mock;
mod property;
mod roundtrip;
mod worker;
