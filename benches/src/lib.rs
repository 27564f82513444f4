//! Shared helpers for Kaimeng's benchmarks.

pub mod calibration;
