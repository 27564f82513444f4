//! Integration tests of `kaimeng-rpc`.

mod debug;
mod fuzz_params;
mod kaimeng;
mod limits;
mod read_pool;
mod receipts;
