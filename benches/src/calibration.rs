//! Timing helpers for gas calibration: ratios of two operations measured in short interleaved
//! rounds, so that load from other processes hits both alike.

use std::hint::black_box;
use std::time::Instant;

/// Mean time of one call of `op`, over `calls` calls, in seconds.
pub fn time_per_call<T>(calls: u32, mut op: impl FnMut() -> T) -> f64 {
    let start = Instant::now();
    for _ in 0..calls {
        black_box(op());
    }
    start.elapsed().as_secs_f64() / f64::from(calls)
}

/// The median of `values` (the upper one of an even count).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
