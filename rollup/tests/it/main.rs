//! Integration tests of the L2 state model.

mod bridge_calls;
mod rebuild;
mod stf;
