//! Integration tests of the L2 state model.

mod stf;
