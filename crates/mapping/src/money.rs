//! Amounts of money, converted exactly between the hub and the vendor. The platforms' field names
//! (`ProductPrice`, `InvoiceTotal`, `PPU`) are the Data Service's, whose amounts are in currency
//! units (`59.99`); the vendor's REST v2 keeps most amounts as integers in minor units (`5999`
//! cents) and takes some in units. A field's [`Money`] says which, and the conversion goes through
//! the decimal text of the number, never through a float multiplication: `59.99` is 5,999 cents,
//! `0.1 + 0.2` never enters.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Decimal places of the minor unit (cents).
const MINOR_DIGITS: usize = 2;
/// The largest amount converted, in minor units: beyond it a JSON number (an `f64`) no longer
/// holds every cent exactly.
const MAX_MINOR: i64 = 1 << 53;

/// How the vendor keeps an amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AmountUnit {
    /// An integer number of cents (`5999`).
    Cents,
    /// Currency units (`59.99`), as the hub shows them.
    Units,
}

/// A money field: the hub shows currency units; the vendor returns the amount in `read` and takes
/// it in `write` (the same as `read` when not given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    pub read: AmountUnit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<AmountUnit>,
}

impl Money {
    /// The hub value of the vendor's `value`: cents become units; anything unreadable is kept.
    pub fn to_hub(&self, value: &Value) -> Value {
        match self.read {
            AmountUnit::Units => value.clone(),
            AmountUnit::Cents => minor_of(value, 0).map_or_else(|| value.clone(), units),
        }
    }

    /// The vendor value of the hub amount `value` (a number or a numeric string, at most two
    /// decimal places); `None` when it is not one.
    pub fn to_vendor(&self, value: &Value) -> Option<Value> {
        let minor = minor_of(value, MINOR_DIGITS)?;
        Some(match self.write.unwrap_or(self.read) {
            AmountUnit::Cents => Value::from(minor),
            AmountUnit::Units => units(minor),
        })
    }
}

/// `minor` cents as a JSON number of units, exact: the shortest decimal that reads back as the
/// same `f64` is the one written here.
fn units(minor: i64) -> Value {
    let sign = if minor < 0 { "-" } else { "" };
    let (whole, cents) = (minor.unsigned_abs() / 100, minor.unsigned_abs() % 100);
    if cents == 0 {
        return Value::from(minor / 100);
    }
    serde_json::from_str(&format!("{sign}{whole}.{cents:02}")).unwrap_or(Value::Null)
}

/// The amount `value` in minor units, read from its decimal text with at most `decimals`
/// decimal places (0: an integer of minor units already).
fn minor_of(value: &Value, decimals: usize) -> Option<i64> {
    let text = match value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.trim().to_string(),
        _ => return None,
    };
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let fraction = fraction.trim_end_matches('0');
    let plain = |part: &str| part.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() || !plain(whole) || !plain(fraction) || fraction.len() > decimals {
        return None;
    }
    let scale = 10i64.pow(decimals as u32);
    let fraction_value = format!("{fraction:0<decimals$}").parse::<i64>().unwrap_or(0);
    let minor = whole.parse::<i64>().ok()?.checked_mul(scale)?.checked_add(fraction_value)?;
    (minor <= MAX_MINOR).then_some(if negative { -minor } else { minor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CENTS: Money = Money { read: AmountUnit::Cents, write: None };
    const CENTS_IN_UNITS_OUT: Money = Money { read: AmountUnit::Cents, write: Some(AmountUnit::Units) };

    #[test]
    fn cents_read_as_units_exactly() {
        for (cents, shown) in [(5999, "59.99"), (10, "0.1"), (1, "0.01"), (100, "1"), (0, "0"), (-250, "-2.5")] {
            assert_eq!(CENTS.to_hub(&json!(cents)).to_string(), shown, "{cents}");
        }
        assert_eq!(CENTS.to_hub(&json!("5999")).to_string(), "59.99", "a numeric string too");
        assert_eq!(CENTS.to_hub(&json!("n/a")), json!("n/a"), "kept when unreadable");
        // Every cent up to a million round-trips through the hub's number.
        for cents in (0..100_000_000i64).step_by(9_973) {
            let shown = CENTS.to_hub(&json!(cents));
            assert_eq!(CENTS.to_vendor(&shown), Some(json!(cents)), "{cents} shown as {shown}");
        }
    }

    #[test]
    fn units_are_written_exactly_and_more_than_two_decimals_are_refused() {
        assert_eq!(CENTS.to_vendor(&json!(59.99)), Some(json!(5999)));
        assert_eq!(CENTS.to_vendor(&json!(0.29)), Some(json!(29)), "0.29 * 100 is 28.999… in floats");
        assert_eq!(CENTS.to_vendor(&json!(12)), Some(json!(1200)));
        assert_eq!(CENTS.to_vendor(&json!("19.90")), Some(json!(1990)));
        assert_eq!(CENTS_IN_UNITS_OUT.to_vendor(&json!(19.9)).map(|value| value.to_string()), Some("19.9".into()));
        for bad in [json!(1.005), json!("1e3"), json!("12,50"), json!(true), json!(""), json!("."), json!(1e300)] {
            assert_eq!(CENTS.to_vendor(&bad), None, "{bad}");
        }
    }
}
