//! Integration tests of `kaimeng-genesis`: one binary, a module per concern.

mod cli;
mod dev;
mod examples;
mod fee_split;
mod hash;
mod parsing;
mod support;
mod validation;
