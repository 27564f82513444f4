//! Integration tests of `kaimeng-rpc`.

mod kaimeng;
