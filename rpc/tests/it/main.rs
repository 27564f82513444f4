//! Integration tests of `kaimeng-rpc`.

mod kaimeng;
mod limits;
