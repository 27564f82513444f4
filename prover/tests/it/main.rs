//! Integration tests of the rollup prover.

mod support;

mod attacks;
mod batch_call;
mod deferred;
mod forge;
mod mock;
mod property;
mod roundtrip;
mod worker;
