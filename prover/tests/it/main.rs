//! Integration tests of the rollup prover.

mod support;

mod mock;
