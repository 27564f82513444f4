//! Integration tests of `kaimeng-rpc`.

mod debug;
mod fuzz_params;
mod kaimeng;
mod limits;
mod methods;
mod read_pool;
mod receipts;
mod spec_schema;
