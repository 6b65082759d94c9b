//! The vendor rate limits Junction enforces per OAuth client (SPEC `--vendor-limits`) and per
//! vendor account (`--vendor-account-limits`): the notation `25/s,1500/min,150000/day` (any
//! subset, any order) or `off`. Only the notation lives here; the limiter that enforces it
//! belongs to the connector.

use std::str::FromStr;

/// Calls allowed per window; `None` is no limit for that window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorLimits {
    pub per_second: Option<u64>,
    pub per_minute: Option<u64>,
    pub per_day: Option<u64>,
}

impl VendorLimits {
    /// The vendor's documented OAuth limits.
    pub const DEFAULT: VendorLimits =
        VendorLimits { per_second: Some(25), per_minute: Some(1500), per_day: Some(150_000) };
    /// The vendor's documented limits per API key (personal access token or service account key).
    pub const API_KEY: VendorLimits =
        VendorLimits { per_second: Some(10), per_minute: Some(240), per_day: Some(30_000) };
    /// The vendor's documented limits per account (tenant, the Keap app), whatever the client or
    /// key, in force since 2026-06-08: 10,000 a minute and 250,000 a UTC day.
    pub const ACCOUNT: VendorLimits =
        VendorLimits { per_second: None, per_minute: Some(10_000), per_day: Some(250_000) };
    /// No limits (benchmarks).
    pub const OFF: VendorLimits = VendorLimits { per_second: None, per_minute: None, per_day: None };
}

impl FromStr for VendorLimits {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(VendorLimits::OFF);
        }
        let mut limits = VendorLimits::OFF;
        for part in text.split(',').map(str::trim) {
            let (count, unit) =
                part.split_once('/').ok_or_else(|| format!("`{part}`: expected COUNT/UNIT, e.g. 25/s"))?;
            let count: u64 = count
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("`{part}`: the count must be a positive integer"))?;
            let slot = match unit.trim() {
                "s" | "sec" | "second" => &mut limits.per_second,
                "min" | "minute" => &mut limits.per_minute,
                "day" | "d" => &mut limits.per_day,
                other => return Err(format!("`{part}`: unknown unit `{other}` (use s, min or day)")),
            };
            if slot.replace(count).is_some() {
                return Err(format!("`{part}`: that window is given twice"));
            }
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_default_notation_and_off() {
        assert_eq!("25/s,1500/min,150000/day".parse(), Ok(VendorLimits::DEFAULT));
        assert_eq!("OFF".parse(), Ok(VendorLimits::OFF));
        assert_eq!(" 100/min ".parse(), Ok(VendorLimits { per_second: None, per_minute: Some(100), per_day: None }));
    }

    #[test]
    fn refuses_malformed_notation_naming_the_part() {
        for bad in ["", "25", "0/s", "-1/s", "25/hour", "25/s,30/s", "x/min"] {
            let error = bad.parse::<VendorLimits>().unwrap_err();
            assert!(error.starts_with('`'), "{bad}: {error}");
        }
    }
}
