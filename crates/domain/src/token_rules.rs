//! The token lifecycle rules of SPEC.md "Token lifecycle", as pure functions.
//!
//! Owns *when* an instance's vendor tokens must be refreshed, *what* a token-endpoint answer
//! means for the instance, *how long* to wait before retrying, and what to do after waiting for
//! another worker's refresh. It does not own locking, storage or HTTP: the connector and the store
//! call these functions while holding the instance's lock.
//!
//! Infusionsoft access tokens live `expires_in` seconds (24 h); refresh tokens rotate on every
//! refresh and lapse after 45 days unused. Hence three proactive deadlines: shortly before expiry,
//! at `oauth.user.refresh_interval`, and at least every 30 days.

use crate::secret::Secret;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use std::time::Duration;

/// How long before the access token's expiry a proactive refresh becomes due. Larger than the
/// background scan period, so a token is refreshed before any call can see it expired. A token
/// that lives less than twice this is due after half its life instead ([`expiry_margin`]).
pub const EXPIRY_MARGIN: TimeDelta = TimeDelta::minutes(10);

/// The longest a refresh token is left unused (the vendor retires it after 45 days).
pub const MAX_REFRESH_AGE: TimeDelta = TimeDelta::days(30);

/// The first retry delay after a transient failure; each further attempt doubles it.
pub const BACKOFF_BASE: Duration = Duration::from_secs(2);

/// The longest retry delay: a vendor outage is retried at this pace for as long as it lasts.
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);

/// What is known about an instance's stored token pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTimes {
    /// When the access token expires; `None` when there is no access token (e.g. an instance
    /// provisioned from a refresh token alone), which makes a refresh due at once.
    pub expires_at: Option<DateTime<Utc>>,
    /// When the current pair was obtained (code exchange or last refresh).
    pub refreshed_at: DateTime<Utc>,
    /// `oauth.user.refresh_interval`; zero or negative means "no interval".
    pub refresh_interval: TimeDelta,
}

/// Why a proactive refresh is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshReason {
    /// There is no access token to use.
    NoAccessToken,
    /// The access token expires within [`expiry_margin`] of its lifetime.
    NearExpiry,
    /// `oauth.user.refresh_interval` has elapsed since the last refresh.
    IntervalElapsed,
    /// [`MAX_REFRESH_AGE`] has elapsed: refresh so the refresh token never lapses.
    RefreshTokenAge,
}

/// How long before its expiry a token that lives `lifetime` (from its refresh to its expiry) is
/// due for a proactive refresh: [`EXPIRY_MARGIN`], or half its life when that is shorter. Without
/// the second rule a token living under 10 minutes would be due from the moment it was issued and
/// every call would refresh it (the 3-node soak, with 60-second tokens, refreshed on 3 of 4 calls).
pub fn expiry_margin(lifetime: TimeDelta) -> TimeDelta {
    EXPIRY_MARGIN.min(lifetime / 2).max(TimeDelta::zero())
}

/// [`expiry_margin`] in whole seconds, for callers that keep epoch seconds.
pub fn expiry_margin_secs(lifetime_secs: i64) -> i64 {
    (lifetime_secs / 2).clamp(0, EXPIRY_MARGIN.num_seconds())
}

/// The earliest moment a proactive refresh is due, and why (the hub refreshes before a call from
/// then on; the background job polls the store for instances near expiry). Ties go to the first
/// reason in declaration order.
pub fn next_refresh(times: &TokenTimes) -> (DateTime<Utc>, RefreshReason) {
    let Some(expires_at) = times.expires_at else {
        return (times.refreshed_at, RefreshReason::NoAccessToken);
    };
    let margin = expiry_margin(expires_at - times.refreshed_at);
    let interval = (times.refresh_interval > TimeDelta::zero())
        .then(|| (times.refreshed_at + times.refresh_interval, RefreshReason::IntervalElapsed));
    // The earliest deadline; of equal ones, the first named here.
    [
        Some((expires_at - margin, RefreshReason::NearExpiry)),
        interval,
        Some((times.refreshed_at + MAX_REFRESH_AGE, RefreshReason::RefreshTokenAge)),
    ]
    .into_iter()
    .flatten()
    .min_by_key(|(at, _)| *at)
    .unwrap_or((times.refreshed_at, RefreshReason::NoAccessToken))
}

/// Whether a proactive refresh is due at `now`, and why.
pub fn refresh_due(times: &TokenTimes, now: DateTime<Utc>) -> Option<RefreshReason> {
    let (at, reason) = next_refresh(times);
    (now >= at).then_some(reason)
}

/// Whether a vendor answer to an API call should trigger a reactive refresh: only a 401, and only
/// once per call (the call is retried once with the new token; a second 401 is returned).
pub fn reactive_refresh_allowed(vendor_status: u16, already_refreshed_for_this_call: bool) -> bool {
    vendor_status == 401 && !already_refreshed_for_this_call
}

/// The tokens of a successful token-endpoint answer.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: Secret,
    /// The rotated refresh token. `None` when the vendor sent none (RFC 6749 §6 allows it): the
    /// caller then keeps the one it used.
    pub refresh_token: Option<Secret>,
    /// Seconds the access token lives, when the vendor said.
    pub expires_in: Option<i64>,
    /// What the grant covers: Keap writes `full|<the account's host>` ([`TokenGrant::account`]).
    pub scope: Option<String>,
}

impl TokenGrant {
    /// The vendor account (the Keap app's host, `ab123.infusionsoft.com`) the grant covers, as its
    /// `scope` names it (`full|ab123.infusionsoft.com`): the app the user chose on the consent
    /// page, which the vendor counts the token's calls against (the `x-keap-tenant-id` of its
    /// answers). `None` when the scope names no account or names it in any other form than a host.
    pub fn account(&self) -> Option<&str> {
        let (_, host) = self.scope.as_deref()?.split_once('|')?;
        let host = host.trim();
        let is_host = (1..=253).contains(&host.len())
            && host.bytes().all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.')
            && !host.starts_with(['.', '-'])
            && !host.ends_with(['.', '-'])
            && !host.contains("..");
        is_host.then_some(host)
    }

    /// The expiry instant for a grant received at `received_at`; `None` when unknown.
    pub fn expires_at(&self, received_at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.expires_in.and_then(TimeDelta::try_seconds).and_then(|lifetime| received_at.checked_add_signed(lifetime))
    }
}

/// What a token-endpoint answer means for the instance.
#[derive(Debug, Clone)]
pub enum RefreshOutcome {
    /// New tokens: persist them durably before using or returning them.
    Refreshed(TokenGrant),
    /// The vendor rejected the refresh token (`invalid_grant`): after re-reading the stored pair
    /// (see [`on_invalid_grant`]) the instance becomes `valid: false`.
    InvalidGrant { description: Option<String> },
    /// Anything else: the instance stays valid; the background job retries after
    /// [`backoff_delay`] of its failure count.
    Transient(TransientCause),
}

/// Why a refresh failed without invalidating the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransientCause {
    /// No answer: connection refused or dropped.
    Transport,
    /// No answer within the token endpoint's timeout.
    Timeout,
    /// A 5xx, 408, or a 4xx without an OAuth error body.
    VendorStatus(u16),
    /// 429 from the vendor.
    RateLimited,
    /// A 2xx whose body is not a token response.
    MalformedSuccess,
    /// An OAuth error other than `invalid_grant` (e.g. `invalid_client` after the app's secret
    /// changed). The refresh token is still good, so the instance stays valid, but retrying will
    /// not help until the configuration changes.
    Refused { error: String, description: Option<String> },
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    scope: Option<String>,
}

/// Classifies the token endpoint's answer (`status`, raw `body`) to a refresh. A request that got
/// no answer at all is `RefreshOutcome::Transient(TransientCause::Transport)` (or `Timeout`).
pub fn classify(status: u16, body: &str) -> RefreshOutcome {
    match status {
        200..=299 => parse_grant(body)
            .map_or(RefreshOutcome::Transient(TransientCause::MalformedSuccess), RefreshOutcome::Refreshed),
        429 => RefreshOutcome::Transient(TransientCause::RateLimited),
        400..=499 if status != 408 => classify_refusal(status, body),
        _ => RefreshOutcome::Transient(TransientCause::VendorStatus(status)),
    }
}

fn parse_grant(body: &str) -> Option<TokenGrant> {
    let parsed: TokenBody = serde_json::from_str(body).ok()?;
    let access_token = parsed.access_token.filter(|token| !token.is_empty())?;
    Some(TokenGrant {
        access_token: Secret::new(access_token),
        refresh_token: parsed.refresh_token.filter(|token| !token.is_empty()).map(Secret::new),
        expires_in: parsed.expires_in.as_ref().and_then(seconds),
        scope: parsed.scope,
    })
}

/// `expires_in` as a number or a numeric string (both are seen in the wild); zero or negative is
/// treated as unknown, or every pass would find the token due again at once.
fn seconds(value: &serde_json::Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str().and_then(|text| text.trim().parse().ok())).filter(|s| *s > 0)
}

/// Reads the RFC 6749 `error` (and `error_description` when it is text) leniently: a vendor body
/// with odd extra fields must still be recognised as `invalid_grant`, or the instance would be
/// retried forever instead of being marked invalid.
fn classify_refusal(status: u16, body: &str) -> RefreshOutcome {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |name: &str| parsed.as_ref().and_then(|v| v.get(name)).and_then(|v| v.as_str()).map(str::to_string);
    let Some(error) = field("error") else {
        return RefreshOutcome::Transient(TransientCause::VendorStatus(status));
    };
    let description = field("error_description");
    if error == "invalid_grant" {
        return RefreshOutcome::InvalidGrant { description };
    }
    RefreshOutcome::Transient(TransientCause::Refused { error, description })
}

/// The delay before retry number `attempt` (1-based) of a failed refresh: 2 s, 4 s, 8 s, ...
/// capped at [`BACKOFF_CAP`]. Attempt 0 is treated as 1.
pub fn backoff_delay(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_CAP)
}

/// What a worker does once it holds the instance's refresh lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterLock {
    /// Another worker refreshed while this one waited: use the stored pair, do not refresh.
    UseStored,
    /// The stored pair is the one this worker saw: refresh it.
    Refresh,
}

/// Decides after taking the lock, from the pair's version (a counter the store increments on
/// every stored refresh; counters, unlike clocks, agree across nodes).
pub fn after_lock(seen_version: u64, stored_version: u64) -> AfterLock {
    if stored_version > seen_version {
        AfterLock::UseStored
    } else {
        AfterLock::Refresh
    }
}

/// What to do when the vendor answered `invalid_grant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidGrantAction {
    /// The stored pair changed since the refresh token was read (a concurrent refresh won): use it.
    UseStored,
    /// The refresh token that was rejected is still the stored one: mark the instance invalid.
    MarkInvalid,
}

/// Decides after re-reading the stored pair's version once more.
pub fn on_invalid_grant(used_version: u64, stored_version: u64) -> InvalidGrantAction {
    if stored_version > used_version {
        InvalidGrantAction::UseStored
    } else {
        InvalidGrantAction::MarkInvalid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_grants_account_is_the_host_its_scope_names() {
        let grant = |scope: Option<&str>| TokenGrant {
            access_token: Secret::new("a"),
            refresh_token: None,
            expires_in: None,
            scope: scope.map(str::to_string),
        };
        let account = |scope| grant(scope).account().map(str::to_string);
        assert_eq!(account(Some("full|ab123.infusionsoft.com")).as_deref(), Some("ab123.infusionsoft.com"));
        assert_eq!(account(Some("full| zt119.infusionsoft.com ")).as_deref(), Some("zt119.infusionsoft.com"));
        assert_eq!(account(Some("full|sandbox.infusionsoft.com")).as_deref(), Some("sandbox.infusionsoft.com"));
        for unnamed in [None, Some("full"), Some("full|"), Some("full| "), Some("")] {
            assert_eq!(account(unnamed), None, "{unnamed:?}");
        }
        let long = format!("full|{}.com", "a".repeat(250));
        for hostile in [
            "full|ab 123.infusionsoft.com",
            "full|https://ab123.infusionsoft.com",
            "full|ab123.infusionsoft.com/x",
            "full|.infusionsoft.com",
            "full|ab123..com",
            "full|ab123.com.",
            "full|-ab123.com",
            "full|ab123.com|x",
            "full|ab\u{e9}.com",
            "full|ab123\ncom",
            long.as_str(),
        ] {
            assert_eq!(account(Some(hostile)), None, "{hostile}");
        }
    }

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("valid date") + TimeDelta::hours(hours)
    }

    /// A 24 h token obtained at hour 0, with the given refresh interval in hours.
    fn day_token(interval_hours: i64) -> TokenTimes {
        TokenTimes { expires_at: Some(at(24)), refreshed_at: at(0), refresh_interval: TimeDelta::hours(interval_hours) }
    }

    #[test]
    fn invalid_grant_is_recognised_in_a_lenient_body_and_nonpositive_lifetimes_are_unknown() {
        let odd = r#"{"error":"invalid_grant","error_description":{"text":"x"},"extra":1}"#;
        assert!(matches!(classify(400, odd), RefreshOutcome::InvalidGrant { description: None }));
        match classify(200, r#"{"access_token":"a","expires_in":0}"#) {
            RefreshOutcome::Refreshed(grant) => assert_eq!(grant.expires_in, None),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn proactive_refresh_table() {
        let minutes = TimeDelta::minutes;
        let cases = [
            ("fresh token, hourly interval", day_token(1), at(0) + minutes(30), None),
            ("hourly interval elapsed", day_token(1), at(1), Some(RefreshReason::IntervalElapsed)),
            ("no interval, far from expiry", day_token(0), at(12), None),
            ("no interval, inside margin", day_token(0), at(24) - minutes(9), Some(RefreshReason::NearExpiry)),
            ("no interval, just outside margin", day_token(0), at(24) - minutes(11), None),
            ("interval longer than token life", day_token(48), at(24) - minutes(5), Some(RefreshReason::NearExpiry)),
            ("already expired", day_token(0), at(30), Some(RefreshReason::NearExpiry)),
            (
                "no access token",
                TokenTimes { expires_at: None, ..day_token(1) },
                at(0),
                Some(RefreshReason::NoAccessToken),
            ),
            (
                "long-lived token, 30 days unused",
                TokenTimes { expires_at: Some(at(24 * 60)), refreshed_at: at(0), refresh_interval: TimeDelta::zero() },
                at(24 * 30),
                Some(RefreshReason::RefreshTokenAge),
            ),
            (
                "long-lived token, 29 days unused",
                TokenTimes { expires_at: Some(at(24 * 60)), refreshed_at: at(0), refresh_interval: TimeDelta::zero() },
                at(24 * 29),
                None,
            ),
            (
                "negative interval is ignored",
                TokenTimes { refresh_interval: TimeDelta::hours(-1), ..day_token(0) },
                at(1),
                None,
            ),
        ];
        for (name, times, now, expected) in cases {
            assert_eq!(refresh_due(&times, now), expected, "{name}");
        }
    }

    #[test]
    fn a_token_living_under_twice_the_margin_is_due_after_half_its_life() {
        let issued = at(0);
        let minute_token = TokenTimes {
            expires_at: Some(issued + TimeDelta::seconds(60)),
            refreshed_at: issued,
            refresh_interval: TimeDelta::zero(),
        };
        assert_eq!(next_refresh(&minute_token), (issued + TimeDelta::seconds(30), RefreshReason::NearExpiry));
        assert_eq!(refresh_due(&minute_token, issued + TimeDelta::seconds(29)), None, "not due when issued");
        assert_eq!(expiry_margin(TimeDelta::hours(24)), EXPIRY_MARGIN);
        assert_eq!(expiry_margin(TimeDelta::seconds(-5)), TimeDelta::zero());
        assert_eq!(expiry_margin_secs(60), 30);
        assert_eq!(expiry_margin_secs(86_400), EXPIRY_MARGIN.num_seconds());
        assert_eq!(expiry_margin_secs(i64::MIN), 0);
    }

    #[test]
    fn next_refresh_is_the_earliest_deadline() {
        assert_eq!(next_refresh(&day_token(1)), (at(1), RefreshReason::IntervalElapsed));
        assert_eq!(next_refresh(&day_token(0)), (at(24) - EXPIRY_MARGIN, RefreshReason::NearExpiry));
    }

    #[test]
    fn refresh_deadline_never_exceeds_thirty_days() {
        let times =
            TokenTimes { expires_at: Some(at(24 * 365)), refreshed_at: at(0), refresh_interval: TimeDelta::days(90) };
        assert_eq!(next_refresh(&times), (at(0) + MAX_REFRESH_AGE, RefreshReason::RefreshTokenAge));
    }

    #[test]
    fn classify_table() {
        let success = r#"{"access_token":"at","token_type":"bearer","expires_in":86400,"refresh_token":"rt","scope":"full|x.infusionsoft.com"}"#;
        let cases: [(u16, &str, &str); 12] = [
            (200, success, "refreshed"),
            (200, r#"{"access_token":"at","expires_in":"3600"}"#, "refreshed"),
            (200, "<html>maintenance</html>", "malformed"),
            (200, r#"{"access_token":""}"#, "malformed"),
            (400, r#"{"error":"invalid_grant","error_description":"Invalid refresh token"}"#, "invalid_grant"),
            (401, r#"{"error":"invalid_grant"}"#, "invalid_grant"),
            (401, r#"{"error":"invalid_client","error_description":"Invalid client credentials"}"#, "refused"),
            (400, "not json", "status"),
            (408, r#"{"error":"invalid_grant"}"#, "status"),
            (429, "", "rate_limited"),
            (500, r#"{"error":"invalid_grant"}"#, "status"),
            (503, "", "status"),
        ];
        for (status, body, expected) in cases {
            let kind = match classify(status, body) {
                RefreshOutcome::Refreshed(_) => "refreshed",
                RefreshOutcome::InvalidGrant { .. } => "invalid_grant",
                RefreshOutcome::Transient(TransientCause::MalformedSuccess) => "malformed",
                RefreshOutcome::Transient(TransientCause::Refused { .. }) => "refused",
                RefreshOutcome::Transient(TransientCause::VendorStatus(_)) => "status",
                RefreshOutcome::Transient(TransientCause::RateLimited) => "rate_limited",
                RefreshOutcome::Transient(TransientCause::Transport | TransientCause::Timeout) => "transport",
            };
            assert_eq!(kind, expected, "{status} {body}");
        }
    }

    #[test]
    fn refreshed_grant_carries_the_rotated_pair_and_expiry() {
        let body = r#"{"access_token":"new-at","expires_in":86400,"refresh_token":"new-rt","scope":"full"}"#;
        let RefreshOutcome::Refreshed(grant) = classify(200, body) else { panic!("expected a grant") };
        assert_eq!(grant.access_token.expose(), "new-at");
        assert_eq!(grant.refresh_token.as_ref().map(Secret::expose), Some("new-rt"));
        assert_eq!(grant.expires_at(at(0)), Some(at(24)));
        assert_eq!(grant.scope.as_deref(), Some("full"));
    }

    #[test]
    fn grant_without_refresh_token_or_expiry_is_still_a_grant() {
        let RefreshOutcome::Refreshed(grant) = classify(200, r#"{"access_token":"a","expires_in":null}"#) else {
            panic!("expected a grant")
        };
        assert!(grant.refresh_token.is_none());
        assert_eq!(grant.expires_at(at(0)), None);
    }

    #[test]
    fn absurd_expiry_does_not_overflow() {
        let RefreshOutcome::Refreshed(grant) =
            classify(200, r#"{"access_token":"a","expires_in":9223372036854775807}"#)
        else {
            panic!("expected a grant")
        };
        assert_eq!(grant.expires_at(at(0)), None);
    }

    #[test]
    fn invalid_grant_keeps_the_vendor_description() {
        let outcome = classify(400, r#"{"error":"invalid_grant","error_description":"Invalid refresh token"}"#);
        assert!(
            matches!(outcome, RefreshOutcome::InvalidGrant { description: Some(ref text) } if text == "Invalid refresh token")
        );
    }

    #[test]
    fn backoff_schedule_doubles_up_to_the_cap() {
        let seconds: Vec<u64> = (0..=12).map(|attempt| backoff_delay(attempt).as_secs()).collect();
        assert_eq!(seconds, [2, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300, 300]);
        assert_eq!(backoff_delay(u32::MAX), BACKOFF_CAP);
    }

    #[test]
    fn reactive_refresh_happens_once_and_only_on_401() {
        let table =
            [(401, false, true), (401, true, false), (403, false, false), (500, false, false), (200, false, false)];
        for (status, already, expected) in table {
            assert_eq!(reactive_refresh_allowed(status, already), expected, "{status} {already}");
        }
    }

    #[test]
    fn waiting_worker_uses_a_pair_refreshed_meanwhile() {
        assert_eq!(after_lock(3, 4), AfterLock::UseStored);
        assert_eq!(after_lock(3, 3), AfterLock::Refresh);
    }

    #[test]
    fn invalid_grant_marks_invalid_only_if_nobody_refreshed() {
        assert_eq!(on_invalid_grant(7, 8), InvalidGrantAction::UseStored);
        assert_eq!(on_invalid_grant(7, 7), InvalidGrantAction::MarkInvalid);
    }
}
