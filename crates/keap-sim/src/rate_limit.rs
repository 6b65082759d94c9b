//! The vendor's rate limits: per OAuth client across all its accounts (a per-second spike limit, a
//! per-minute throttle and a daily quota resetting at 00:00 UTC), per API key (the same three
//! windows, lower), and, since 2026-06-08, per account (tenant) whatever the client or key. Each
//! is a fixed window on the simulator's clock, reported in the `x-keap-product-*` (client or key)
//! and `x-keap-tenant-*` throttle and quota headers. Refused calls do not count against the
//! windows (the vendor's gateway behaves the same way). One [`RateLimiter`] holds one set of
//! limits for all its keys; the gateway decides which limiter a call counts against.

use crate::config::Limits;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use std::collections::HashMap;

/// Calls counted in one fixed window.
#[derive(Debug, Default, Clone, Copy, Serialize)]
struct Window {
    start: i64,
    used: u64,
}

impl Window {
    fn used_at(&self, start: i64) -> u64 {
        if self.start == start {
            self.used
        } else {
            0
        }
    }

    fn count(&mut self, start: i64) {
        if self.start != start {
            *self = Window { start, used: 0 };
        }
        self.used += 1;
    }
}

/// One client's windows.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    second: Window,
    minute: Window,
    day: Window,
}

/// What a call saw: the windows after counting it (or, if refused, without it).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Snapshot {
    pub allowed: bool,
    pub minute_limit: Option<u64>,
    pub minute_used: u64,
    pub day_limit: Option<u64>,
    pub day_used: u64,
    /// Epoch milliseconds of the next 00:00 UTC, when the daily quota resets.
    pub day_expiry_ms: i64,
}

/// The usage of every client (OAuth client id, API key or account) under one set of limits.
#[derive(Debug)]
pub struct RateLimiter {
    limits: Limits,
    clients: HashMap<String, Usage>,
}

impl RateLimiter {
    pub fn new(limits: Limits) -> Self {
        RateLimiter { limits, clients: HashMap::new() }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// New limits apply to the current windows at once; usage so far is kept.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Counts a call by `key` (a client id or an account) at `now_ms` if every window has room.
    pub fn check(&mut self, key: &str, now_ms: i64) -> Snapshot {
        let snapshot = self.peek(key, now_ms);
        if !snapshot.allowed {
            return snapshot;
        }
        self.count(key, now_ms);
        // The usage after counting this call, which was admitted even if it filled a window.
        Snapshot { allowed: true, ..self.peek(key, now_ms) }
    }

    /// What a call by `key` would see now, without counting it.
    pub fn peek(&self, key: &str, now_ms: i64) -> Snapshot {
        let limits = self.limits;
        let usage = self.clients.get(key).copied().unwrap_or_default();
        let (second, minute, day) = window_starts(now_ms);
        let within = |limit: Option<u64>, used: u64| limit.is_none_or(|l| used < l);
        Snapshot {
            allowed: within(limits.per_second, usage.second.used_at(second))
                && within(limits.per_minute, usage.minute.used_at(minute))
                && within(limits.per_day, usage.day.used_at(day)),
            minute_limit: limits.per_minute,
            minute_used: usage.minute.used_at(minute),
            day_limit: limits.per_day,
            day_used: usage.day.used_at(day),
            day_expiry_ms: (day + 86_400) * 1000,
        }
    }

    /// Counts a call by `key` in every window.
    pub fn count(&mut self, key: &str, now_ms: i64) {
        let usage = self.clients.entry(key.to_string()).or_default();
        let (second, minute, day) = window_starts(now_ms);
        usage.second.count(second);
        usage.minute.count(minute);
        usage.day.count(day);
    }

    /// Current usage of every client (for `/__sim/stats`).
    pub fn state(&self, now_ms: i64) -> serde_json::Value {
        let (second, minute, day) = window_starts(now_ms);
        let clients: serde_json::Map<_, _> = self
            .clients
            .iter()
            .map(|(id, u)| {
                let usage = serde_json::json!({
                    "second": u.second.used_at(second),
                    "minute": u.minute.used_at(minute),
                    "day": u.day.used_at(day),
                });
                (id.clone(), usage)
            })
            .collect();
        serde_json::json!({"limits": self.limits, "clients": clients})
    }
}

/// Start (epoch seconds) of the current second, minute and UTC day.
fn window_starts(now_ms: i64) -> (i64, i64, i64) {
    let secs = now_ms.div_euclid(1000);
    (secs, secs - secs.rem_euclid(60), secs - secs.rem_euclid(86_400))
}

/// Which family of vendor headers a snapshot is reported in.
#[derive(Debug, Clone, Copy)]
pub enum HeaderFamily {
    /// `x-keap-product-*`: the OAuth client's limits.
    Product,
    /// `x-keap-tenant-*`: the account's limits (in force since 2026-06-08).
    Tenant,
}

impl Snapshot {
    /// Writes the vendor's throttle (per minute) and quota (per day) headers of `family`.
    pub fn write_headers(&self, headers: &mut HeaderMap, family: HeaderFamily) {
        let prefix = match family {
            HeaderFamily::Product => "x-keap-product",
            HeaderFamily::Tenant => "x-keap-tenant",
        };
        if let Some(limit) = self.minute_limit {
            put(headers, &format!("{prefix}-throttle-limit"), limit.to_string());
            put(headers, &format!("{prefix}-throttle-time-unit"), "minute".into());
            put(headers, &format!("{prefix}-throttle-interval"), "1".into());
            put(headers, &format!("{prefix}-throttle-available"), limit.saturating_sub(self.minute_used).to_string());
            put(headers, &format!("{prefix}-throttle-used"), self.minute_used.to_string());
        }
        if let Some(limit) = self.day_limit {
            put(headers, &format!("{prefix}-quota-limit"), limit.to_string());
            put(headers, &format!("{prefix}-quota-time-unit"), "day".into());
            put(headers, &format!("{prefix}-quota-interval"), "1".into());
            put(headers, &format!("{prefix}-quota-available"), limit.saturating_sub(self.day_used).to_string());
            put(headers, &format!("{prefix}-quota-used"), self.day_used.to_string());
            put(headers, &format!("{prefix}-quota-expiry-time"), self.day_expiry_ms.to_string());
        }
    }
}

fn put(headers: &mut HeaderMap, name: &str, value: String) {
    if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(s: u64, m: u64, d: u64) -> Limits {
        Limits { per_second: Some(s), per_minute: Some(m), per_day: Some(d) }
    }

    #[test]
    fn spike_limit_refuses_within_the_second_and_resets_after() {
        let mut limiter = RateLimiter::new(limits(2, 100, 1000));
        assert!(limiter.check("c", 1_000).allowed);
        assert!(limiter.check("c", 1_500).allowed);
        assert!(!limiter.check("c", 1_999).allowed);
        assert!(limiter.check("c", 2_000).allowed);
        assert!(limiter.check("other", 1_999).allowed, "limits are per client");
    }

    #[test]
    fn daily_quota_resets_at_midnight_utc() {
        let mut limiter = RateLimiter::new(limits(100, 100, 1));
        let before_midnight = 86_400_000 - 1;
        assert!(limiter.check("c", before_midnight - 5_000).allowed);
        let refused = limiter.check("c", before_midnight);
        assert!(!refused.allowed);
        assert_eq!(refused.day_expiry_ms, 86_400_000);
        assert!(limiter.check("c", 86_400_000).allowed);
    }

    #[test]
    fn refused_calls_do_not_count() {
        let mut limiter = RateLimiter::new(limits(1, 100, 1000));
        limiter.check("c", 0);
        limiter.check("c", 10);
        limiter.check("c", 20);
        assert_eq!(limiter.check("c", 1_000).minute_used, 2);
    }
}
