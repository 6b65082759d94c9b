//! The simulator's clock: wall time plus an offset that `/__sim/clock/advance` moves forward.
//! Token expiry, code expiry, rate-limit windows and hook delivery times all read this clock, so a
//! test can jump a day ahead without waiting.

use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::atomic::{AtomicI64, Ordering};

/// How far ahead of wall time the clock may run in total: 100 years.
pub const MAX_OFFSET_SECS: i64 = 100 * 366 * 86_400;

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

    /// Moves the clock forward by `seconds`, unless that would take it more than
    /// [`MAX_OFFSET_SECS`] ahead of wall time in total; returns whether it moved.
    pub fn advance(&self, seconds: i64) -> bool {
        let step = seconds.saturating_mul(1000);
        self.offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |offset| {
                offset.checked_add(step).filter(|total| (0..=MAX_OFFSET_SECS * 1000).contains(total))
            })
            .is_ok()
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
