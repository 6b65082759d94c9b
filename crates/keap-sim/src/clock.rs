//! The simulator's clock: wall time plus an offset that `/__sim/clock/advance` moves forward.
//! Token expiry, code expiry, rate-limit windows and hook delivery times all read this clock, so a
//! test can jump a day ahead without waiting.

use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::atomic::{AtomicI64, Ordering};

/// Shared simulated clock. The offset only grows (or is reset), so simulated time never runs
/// backwards.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Current simulated time.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Current simulated time in epoch seconds.
    pub fn now_secs(&self) -> i64 {
        self.now().timestamp()
    }

    /// Moves the clock forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.offset_ms.fetch_add(seconds.saturating_mul(1000), Ordering::Relaxed);
    }

    /// Back to wall time.
    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }
}

/// The vendor's timestamp format: ISO 8601 UTC with milliseconds, e.g. `2026-03-04T10:15:30.000Z`.
pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an ISO 8601 timestamp as clients send it (with or without milliseconds, any offset).
pub fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}
