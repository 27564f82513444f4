//! How values are written on pages: amounts with their decimals, ages, short hashes.

use alloy_dyn_abi::DynSolValue;
use alloy_primitives::U256;

/// `value` in units of 10^-`decimals`, as a decimal without trailing zeros.
pub fn units(value: U256, decimals: u8) -> String {
    let text = value.to_string();
    let decimals = decimals as usize;
    if decimals == 0 {
        return text;
    }
    let padded = format!("{text:0>width$}", width = decimals + 1);
    let (whole, fraction) = padded.split_at(padded.len() - decimals);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        whole.to_string()
    } else {
        format!("{whole}.{fraction}")
    }
}

/// Wei as ether.
pub fn ether(wei: U256) -> String {
    units(wei, 18)
}

/// Wei as gwei.
pub fn gwei(wei: u128) -> String {
    units(U256::from(wei), 9)
}

/// `0x1234…abcd` for long hex strings.
pub fn short(hex: &str) -> String {
    if hex.len() <= 14 {
        return hex.to_string();
    }
    format!("{}…{}", &hex[..8], &hex[hex.len() - 4..])
}

/// How long ago `then` (seconds since the epoch) was, as `now - then` seconds.
pub fn age_seconds(then: u64) -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    now.saturating_sub(then)
}

/// A UTC time for a block timestamp.
pub fn utc(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rem = seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm, public domain).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// A decoded ABI value as text.
pub fn abi_value(value: &DynSolValue) -> String {
    match value {
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::Int(i, _) => i.to_string(),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::FixedBytes(w, size) => format!("0x{}", hex::encode(&w[..*size])),
        DynSolValue::Address(a) => a.to_string(),
        DynSolValue::Function(f) => format!("0x{}", hex::encode(f.as_slice())),
        DynSolValue::Bytes(b) => format!("0x{}", hex::encode(b)),
        DynSolValue::String(s) => s.clone(),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) => {
            format!(
                "[{}]",
                items.iter().map(abi_value).collect::<Vec<_>>().join(", ")
            )
        }
        DynSolValue::Tuple(items) => {
            format!(
                "({})",
                items.iter().map(abi_value).collect::<Vec<_>>().join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_keep_their_digits() {
        assert_eq!(ether(U256::from(1_500_000_000_000_000_000u128)), "1.5");
        assert_eq!(ether(U256::from(1u64)), "0.000000000000000001");
        assert_eq!(ether(U256::ZERO), "0");
        assert_eq!(units(U256::from(1234), 2), "12.34");
        assert_eq!(units(U256::from(1200), 2), "12");
        assert_eq!(units(U256::from(7), 0), "7");
        assert_eq!(gwei(1_000_000_000), "1");
    }

    #[test]
    fn times_are_civil_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_796_541_503), "2026-12-06 07:18:23 UTC");
        assert_eq!(short("0x1234567890abcdef"), "0x123456…cdef");
    }
}
