//! The engine's signer and verifier over the chain's consensus suite (kept in `kaimeng-l1`,
//! which checks crosslink certificates with the same code).

pub use kaimeng_l1::signing::{SuiteSigner, SuiteVerifier};
