//! The values a node and the vendor-limit budget shared by all nodes exchange (SPEC "Scaling out"):
//! what a node asks for when it leases a batch of calls ([`LeaseRequest`]) and what it is granted
//! ([`Lease`]). Only the values live here; the limiter that uses them belongs to the connector and
//! the table that keeps the budget to the store.
//!
//! Windows are fixed and numbered on the budget's clock (the database's): second `s` is
//! `[s·1000, (s+1)·1000)` epoch ms, minute `m` and UTC day `d` likewise.

/// One lease: up to `want` calls of the current second for `key`, within `caps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRequest {
    /// What the budget is kept for: `client:<OAuth client id>` or `account:<tenant id>`.
    pub key: String,
    /// How many calls the node would use now (its waiting callers, capped).
    pub want: u64,
    /// The most the windows may hold once this lease is granted: the whole limits for
    /// interactive calls, the background share for background ones. `None`: no limit.
    pub caps: Caps,
    /// No call is granted in the last `margin_ms` of a second: it could not reach the vendor
    /// within that second.
    pub margin_ms: i64,
    /// Calls leased earlier and never sent, given back to their minute and day windows.
    pub unused: Vec<Unused>,
    /// What the vendor's headers said its windows already hold; the shared counts are raised to
    /// these, never lowered.
    pub vendor_minute: Option<WindowCount>,
    pub vendor_day: Option<WindowCount>,
    /// No call before this (epoch ms), e.g. after a vendor 429; 0 for none. Only ever extended.
    pub blocked_until_ms: i64,
}

/// Window limits as the budget applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub second: Option<u64>,
    pub minute: Option<u64>,
    pub day: Option<u64>,
}

/// `count` calls of a lease made in minute `minute` and day `day` that were never sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unused {
    pub minute: i64,
    pub day: i64,
    pub count: u64,
}

/// A window (by number) and how many calls it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub window: i64,
    pub used: u64,
}

/// What a lease granted, and the budget's state after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Calls granted for second `now_ms / 1000`; 0 when a window is full or the key is blocked.
    pub granted: u64,
    /// The budget's clock when the lease was taken (epoch ms).
    pub now_ms: i64,
    /// Calls the current second, minute and day hold, this lease's included.
    pub second_used: u64,
    pub minute_used: u64,
    pub day_used: u64,
    /// No call before this (epoch ms); 0 or past: not blocked.
    pub blocked_until_ms: i64,
}

pub const SECOND_MS: i64 = 1_000;
pub const MINUTE_MS: i64 = 60_000;
pub const DAY_MS: i64 = 86_400_000;

impl Lease {
    /// When (epoch ms, the budget's clock) a lease that granted nothing is worth trying again:
    /// the end of the block, else of the fullest window that is at its cap, else of the second.
    pub fn retry_at_ms(&self, caps: &Caps) -> i64 {
        let full = |used: u64, cap: Option<u64>| cap.is_some_and(|cap| used >= cap);
        let next = |period: i64| (self.now_ms.div_euclid(period) + 1) * period;
        let window_end = if full(self.day_used, caps.day) {
            next(DAY_MS)
        } else if full(self.minute_used, caps.minute) {
            next(MINUTE_MS)
        } else {
            next(SECOND_MS)
        };
        window_end.max(self.blocked_until_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(now_ms: i64, minute_used: u64, day_used: u64, blocked_until_ms: i64) -> Lease {
        Lease { granted: 0, now_ms, second_used: 25, minute_used, day_used, blocked_until_ms }
    }

    #[test]
    fn a_refused_lease_is_retried_when_its_fullest_window_or_block_ends() {
        let caps = Caps { second: Some(25), minute: Some(1500), day: Some(150_000) };
        assert_eq!(lease(61_250, 10, 10, 0).retry_at_ms(&caps), 62_000, "the next second");
        assert_eq!(lease(61_250, 1500, 10, 0).retry_at_ms(&caps), 120_000, "the next minute");
        assert_eq!(lease(61_250, 1500, 150_000, 0).retry_at_ms(&caps), DAY_MS, "the next day");
        assert_eq!(lease(61_250, 10, 10, 70_000).retry_at_ms(&caps), 70_000, "the block");
    }
}
