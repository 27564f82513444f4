//! Shared helpers for Kaimeng's benchmarks.
