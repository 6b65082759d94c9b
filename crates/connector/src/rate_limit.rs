//! The vendor's rate limits as Junction keeps them, per OAuth client id (the vendor counts every
//! call of one client, whichever account or Junction instance makes it) and per vendor account
//! (every call into one Keap app, whichever client or key makes it): a call first waits here for
//! a slot ([`VendorRateLimiter::acquire`], [`VendorRateLimiter::acquire_for`]), and its answer's
//! throttle and quota headers bring the local counts in step with the vendor's
//! ([`VendorRateLimiter::observe_for`]). This module decides *when* a call may go; retrying a
//! refused call and mapping [`Throttled`] to a 429 with `Retry-After` belong to the caller and to
//! the HTTP layer.
//!
//! # What the vendor enforces
//! Fixed windows on its own clock, per OAuth client: the wall-clock second (25 calls, the spike
//! limit), the minute since the epoch (1,500, reported in `x-keap-product-throttle-*`) and the UTC
//! day (150,000, reported in `x-keap-product-quota-*` with the reset time in `quota-expiry-time`,
//! epoch ms). Per account (since 2026-06-08): the minute (10,000) and the UTC day (250,000),
//! reported in `x-keap-tenant-throttle-*` and `x-keap-tenant-quota-*`, the account named in
//! `x-keap-tenant-id`. Refused calls do not count.
//!
//! # Accounts
//! A call's account is the one the vendor last named in an answer to its caller
//! (`x-keap-tenant-id`; the [`crate::VendorClient`] remembers it per instance), else the one the
//! caller expects (for an instance, the account its token grants named, else its
//! `infusionsoft.server`); a call with neither counts against its client alone. A call with a known account is admitted only when both its client's and its
//! account's windows have room, at the same instant; it waits in its client's queue. The account's limits bind only when several OAuth clients or keys call one account (one
//! client's 1,500 a minute is below an account's 10,000), or other applications use it too, which
//! only its headers show. A 429 is laid at the account's door when its headers report an
//! exhausted account window and the client's do not; otherwise at the client's.
//!
//! # Why a sliding-window log and not `governor`
//! A call admitted here reaches the vendor a network delay later, and delays vary, so a limit of
//! `L` per fixed window of length `T` holds at the vendor only if no interval of `T + margin`
//! (margin = the jitter, 50 ms by default) holds more than `L` admissions here. Two ways to get that:
//! - GCRA (`governor`) with burst `B` and rate `R` admits up to `B + R·(T + margin)` calls in such
//!   an interval, so `R ≤ (L − B + 1) / (T + margin)`: for 25/s that is 23.8 calls/s with `B = 1`
//!   (every call after the first in a burst waits 42 ms more: five parallel calls from idle take
//!   168 ms), 20.0/s with `B = 5`, 12.4/s with `B = 13`. Burst and throughput trade one for the
//!   other.
//! - An exact log of the last `L` admission times, admitting a call when the `L`-th latest is
//!   older than `T + margin`, is never looser than any fixed window of length `T` and gives both:
//!   25 calls at once from idle *and* 25 per 1.05 s sustained, 23.8 calls/s (measured by
//!   `sustained_throughput_at_the_default_limits_is_25_per_1_05_s` below). It costs one `Instant`
//!   per call in the window, at most the limit (1,500 for the minute: 24 KB per busy client).
//!
//! The log also lets [`VendorRateLimiter::observe`] tighten the count from the vendor's headers,
//! which `governor`'s state has no operation for, and runs on Tokio's clock so paused-time tests
//! are exact. So the log is hand-written (about 40 lines, `SlidingLog`); the daily quota is a
//! plain counter on the UTC day, as the vendor's.
//!
//! # Cost
//! Measured in a release build, 2M sequential acquire-and-drop on one client: 8 ns per
//! [`VendorRateLimiter::acquire`] with [`VendorLimits::OFF`] (no state at all), 163 ns with every
//! window on but never binding (two locks, a map lookup, three windows).
//!
//! # Several Junction nodes
//! On PostgreSQL every node takes part in one budget per OAuth client
//! ([`with_shared_budget`](VendorRateLimiter::with_shared_budget); the trait is
//! [`crate::shared_budget::SharedBudget`], its table `vendor_budgets` in the store), so that all
//! nodes together keep the vendor's second, minute and day. A call first gets a slot of this
//! node's own log (a node never exceeds the limits on its own), then one call of a batch the node
//! leased from the shared budget:
//! - **Leases, not calls, reach the database.** A node leases as many calls as its callers wait
//!   for, or as many as they took in the last second if more (so that at a steady rate most calls
//!   find one held), at most [`crate::shared_budget::LEASE_BATCH_MAX`] (5), with one atomic
//!   statement; its other callers queue behind that one lease (one at a time per client) and
//!   usually find its batch. Leases are per priority: background leases may fill the shared
//!   windows only up to the background share, interactive ones up to the whole limit, so users'
//!   calls keep their room across nodes.
//! - **The second holds at the vendor.** Windows are fixed and numbered on the database's clock. A
//!   batch is for the second it was leased in and is usable only until a margin before that
//!   second ends (the jitter margin, at least [`crate::shared_budget::SEND_MARGIN`], 200 ms: the
//!   node's own delay before a call leaves counts too) (measured from before the statement was sent, so never later than the
//!   truth); the database grants nothing in the margin itself. A call sent in time arrives within
//!   its second if the network delay is below the margin and the vendor's clock agrees with the
//!   database's (both on NTP), so no second of the vendor's clock gets more than the limit from
//!   all nodes together.
//! - **Unused calls go back** to the minute and the day with the node's next lease (a batch whose
//!   second ended unspent); the second itself is over by then.
//! - **The vendor's headers correct the shared count**: the next lease raises the shared minute and
//!   day to what `throttle-available` and `quota-available` imply (never lowers them). A 429, or a
//!   window the vendor reports exhausted, is written at once as the client's `blocked_until`, which
//!   holds every node back until the reset; the node drops the batches it holds.
//! - **The database failing never fails a call.** A lease that errs (the database cannot be
//!   reached) puts the node on its own log alone for a second (with a warning in the log), then it
//!   tries again: while the database is away, N nodes may send up to N × the limits, as before
//!   sharing. A slow lease is waited for within the caller's wait: a call that cannot get one in
//!   time is [`Throttled`] (a 429 with `Retry-After`), never sent beyond the shared limits.
//!
//! Accounts share their minute and day the same way, with a row of their own: a call with a known
//! account takes a call of the account's batch first, then one of the client's (the client's
//! second is the window that must hold when the call leaves, so its lease is the last wait). An
//! account's batches may be larger (at most a hundredth of its minute, and
//! [`crate::shared_budget::ACCOUNT_LEASE_BATCH_MAX`]).
//!
//! On SQLite (one node) no budget is set and nothing of this runs. What sharing costs per call is
//! in BENCHMARKS.md ("Shared vendor limits").

use crate::shared_budget::{Party, SharedBudget, SharedLeases};
use domain::shared_budget::{Caps, WindowCount};
use domain::vendor_limits::VendorLimits;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Spread of network delays the windows allow for by default: a window of one second is kept as
/// 1.05 s, one of a minute as 60.05 s.
pub const DEFAULT_JITTER_MARGIN: Duration = Duration::from_millis(50);

/// How far the vendor's clock may be from ours when a window reset is computed from the wall
/// clock (the minute from `throttle-available`, the UTC day): we wait this much past our boundary.
const CLOCK_SKEW_MARGIN_MS: i64 = 1_000;

/// How long a 429 blocks the client when neither `Retry-After` nor an exhausted header says.
const DEFAULT_BLOCK: Duration = Duration::from_secs(1);

/// The longest block a vendor header can impose (a day and a bit), against absurd values.
const MAX_BLOCK: Duration = Duration::from_secs(26 * 3600);

/// Above this many known clients, idle ones are dropped when a new one arrives.
const PRUNE_ABOVE: usize = 64;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
/// The header naming the account an answer's call counted against.
const ACCOUNT_ID: &str = "x-keap-tenant-id";

/// The vendor's report of one party's windows.
struct WindowHeaders {
    throttle_available: &'static str,
    quota_available: &'static str,
    quota_expiry: &'static str,
}

/// The OAuth client's (or key's) windows.
const CLIENT_HEADERS: WindowHeaders = WindowHeaders {
    throttle_available: "x-keap-product-throttle-available",
    quota_available: "x-keap-product-quota-available",
    quota_expiry: "x-keap-product-quota-expiry-time",
};

/// The account's windows.
const ACCOUNT_HEADERS: WindowHeaders = WindowHeaders {
    throttle_available: "x-keap-tenant-throttle-available",
    quota_available: "x-keap-tenant-quota-available",
    quota_expiry: "x-keap-tenant-quota-expiry-time",
};

/// The account a vendor answer names (`x-keap-tenant-id`), if any.
pub fn account_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(ACCOUNT_ID)?.to_str().ok().map(str::trim).filter(|id| !id.is_empty())
}

/// Whom the vendor counts a call against: its OAuth client (or API key), and its account when
/// known.
#[derive(Debug, Clone, Copy)]
pub struct CountedAgainst<'a> {
    pub client_id: &'a str,
    pub account: Option<&'a str>,
}

/// Who is waiting: calls made for a user's request go before sync and bulk work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// A user is waiting for the answer; admitted before any [`Priority::Background`] waiter.
    Interactive,
    /// Polling, bulk and retry work.
    Background,
}

/// The call may not go within the caller's bound: the limiter's queue for the client is full, or
/// the slot is further away than `max_wait` (the daily quota, a vendor block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    /// Estimated time until a slot frees up; at least one second.
    pub retry_after: Duration,
}

impl Throttled {
    pub(crate) fn after(wait: Duration) -> Self {
        Throttled { retry_after: wait.max(Duration::from_secs(1)) }
    }

    /// [`Throttled::retry_after`] rounded up to whole seconds (at least 1), for `Retry-After`.
    pub fn retry_after_secs(&self) -> u64 {
        let millis = u64::try_from(self.retry_after.as_millis()).unwrap_or(u64::MAX);
        millis.div_ceil(1000).max(1)
    }
}

impl fmt::Display for Throttled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "vendor rate limit reached; retry after {} s", self.retry_after_secs())
    }
}

impl std::error::Error for Throttled {}

/// A call's admission. Hold it until the vendor's answer has been passed to
/// [`VendorRateLimiter::observe`]: while held, the call counts as in flight, and `observe`
/// subtracts calls in flight from what the vendor reports available (the vendor has not counted
/// them yet). Dropping it gives nothing back; the call stays counted in its windows.
#[must_use = "hold the permit while the call is in flight"]
pub struct Permit {
    client: Option<Arc<Client>>,
    account: Option<Arc<Client>>,
}

impl Permit {
    fn new(client: Arc<Client>, account: Option<Arc<Client>>) -> Self {
        for party in std::iter::once(&client).chain(&account) {
            party.in_flight.fetch_add(1, Ordering::Relaxed);
        }
        Permit { client: Some(client), account }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        for party in self.client.iter().chain(&self.account) {
            party.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit").field("limited", &self.client.is_some()).finish()
    }
}

/// The vendor's limits for every OAuth client Junction calls through and every account it calls
/// into, enforced in this process. Share it in an `Arc`; all methods take `&self`.
///
/// Invariants: for each client (and each account) and each configured window of length `T` and
/// limit `L`, no interval of `T + jitter margin` holds more than `L` admissions; a client's waiters are admitted
/// Interactive first, then in arrival order; no call waits longer than `max_wait` and no more than
/// `max_queue` calls wait per client. With [`VendorLimits::OFF`] it admits everything at once and
/// keeps no state (not even the vendor's headers), for benchmarks.
pub struct VendorRateLimiter {
    limits: VendorLimits,
    max_wait: Duration,
    max_queue: usize,
    jitter_margin: Duration,
    clock: WallClock,
    /// The share of each limit [`Priority::Background`] calls may use (`--background-share`);
    /// `None`: all of it.
    background_share: Option<f64>,
    /// `None` when every window is off: the fast path that does nothing.
    clients: Option<Mutex<HashMap<String, Arc<Client>>>>,
    /// The limits per vendor account ([`VendorLimits::ACCOUNT`] unless set).
    account_limits: VendorLimits,
    /// By tenant id; `None` when the clients' or the accounts' limits are off.
    accounts: Option<Mutex<HashMap<String, Arc<Client>>>>,
    /// The budget shared with the other nodes (PostgreSQL); `None` on one node.
    shared: Option<SharedLeases>,
}

impl fmt::Debug for VendorRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clients = self.clients.as_ref().map(|c| lock(c).len());
        f.debug_struct("VendorRateLimiter")
            .field("limits", &self.limits)
            .field("max_wait", &self.max_wait)
            .field("max_queue", &self.max_queue)
            .field("jitter_margin", &self.jitter_margin)
            .field("clients", &clients)
            .field("account_limits", &self.account_limits)
            .field("shared", &self.shared)
            .finish()
    }
}

impl VendorRateLimiter {
    /// A limiter enforcing `limits` per client; a call waits at most `max_wait` and at most
    /// `max_queue` calls wait per client, beyond which [`acquire`](Self::acquire) answers
    /// [`Throttled`] at once.
    ///
    /// Each account is held to [`VendorLimits::ACCOUNT`] unless
    /// [`with_account_limits`](Self::with_account_limits) says otherwise; [`VendorLimits::OFF`]
    /// turns the accounts' limits off too.
    pub fn new(limits: VendorLimits, max_wait: Duration, max_queue: usize) -> Self {
        let enabled = limits != VendorLimits::OFF;
        VendorRateLimiter {
            limits,
            max_wait,
            max_queue,
            jitter_margin: DEFAULT_JITTER_MARGIN,
            clock: WallClock::now(),
            background_share: None,
            clients: enabled.then(|| Mutex::new(HashMap::new())),
            account_limits: VendorLimits::ACCOUNT,
            accounts: enabled.then(|| Mutex::new(HashMap::new())),
            shared: None,
        }
    }

    /// Holds each vendor account to `limits` (`--vendor-account-limits`); [`VendorLimits::OFF`]:
    /// accounts are not limited, only clients.
    pub fn with_account_limits(mut self, limits: VendorLimits) -> Self {
        self.account_limits = limits;
        if limits == VendorLimits::OFF || self.clients.is_none() {
            self.accounts = None;
        }
        self
    }

    /// Whether calls are counted per account, so that callers should name theirs.
    pub fn limits_accounts(&self) -> bool {
        self.accounts.is_some()
    }

    /// Shares the limits with every other node using `budget`: each call then also takes one of
    /// the calls this node leases from it in small batches (see "Several Junction nodes" above).
    /// Ignored with [`VendorLimits::OFF`]. Set the jitter margin first.
    pub fn with_shared_budget(mut self, budget: Arc<dyn SharedBudget>) -> Self {
        if self.clients.is_some() {
            self.shared = Some(SharedLeases::new(budget, self.jitter_margin));
        }
        self
    }

    /// How many leases this node has taken from the shared budget (database statements).
    pub fn shared_leases_taken(&self) -> u64 {
        self.shared.as_ref().map_or(0, SharedLeases::leases_taken)
    }

    /// Lets [`Priority::Background`] calls use at most `share` (0 to 1) of each limit, so polling
    /// and bulk work leave the rest of the OAuth client's quota to the calls users wait on. Each
    /// scaled limit is at least one call. Interactive calls still count against the whole limit.
    pub fn with_background_share(mut self, share: f64) -> Self {
        let share = if share.is_finite() { share.clamp(0.0, 1.0) } else { 1.0 };
        self.background_share = (share < 1.0).then_some(share);
        self
    }

    /// The share of `limits` background calls may use; `None`: all of it.
    fn background_limits(&self, limits: &VendorLimits) -> Option<VendorLimits> {
        let share = self.background_share?;
        let scale = |limit: Option<u64>| limit.map(|limit| ((limit as f64 * share).floor() as u64).max(1));
        Some(VendorLimits {
            per_second: scale(limits.per_second),
            per_minute: scale(limits.per_minute),
            per_day: scale(limits.per_day),
        })
    }

    /// Allows for `margin` of network jitter instead of [`DEFAULT_JITTER_MARGIN`]: each window is
    /// kept `margin` longer than the vendor's.
    pub fn with_jitter_margin(mut self, margin: Duration) -> Self {
        self.jitter_margin = margin;
        self
    }

    /// The limits being enforced.
    pub fn limits(&self) -> VendorLimits {
        self.limits
    }

    /// Waits until a call for `client_id` may go, or answers [`Throttled`] at once when the slot
    /// is more than `max_wait` away or `max_queue` calls already wait (and later, if Interactive
    /// calls overtaking a Background one push it past `max_wait`). Cancellation-safe: a dropped
    /// future leaves the queue and has consumed nothing.
    pub async fn acquire(&self, client_id: &str, priority: Priority) -> Result<Permit, Throttled> {
        self.acquire_for(CountedAgainst { client_id, account: None }, priority, None).await
    }

    /// [`acquire`](Self::acquire) with the caller's own longest wait instead of `max_wait`:
    /// background work (polling, bulk) waits its turn for minutes where a user's call would rather
    /// get a 429 after seconds.
    pub async fn acquire_within(
        &self,
        client_id: &str,
        priority: Priority,
        max_wait: Duration,
    ) -> Result<Permit, Throttled> {
        self.acquire_for(CountedAgainst { client_id, account: None }, priority, Some(max_wait)).await
    }

    /// [`acquire_within`](Self::acquire_within) for a call counted against its account as well
    /// (see "Accounts" above); `max_wait` `None`: the limiter's own.
    pub async fn acquire_for(
        &self,
        who: CountedAgainst<'_>,
        priority: Priority,
        max_wait: Option<Duration>,
    ) -> Result<Permit, Throttled> {
        let max_wait = max_wait.unwrap_or(self.max_wait);
        let account = who.account.filter(|_| self.accounts.is_some());
        let Some(shared) = &self.shared else {
            return self.acquire_locally(who.client_id, account, priority, max_wait).await;
        };
        let deadline = Instant::now() + max_wait;
        let permit = self.acquire_locally(who.client_id, account, priority, max_wait).await?;
        if let Some(account) = account {
            let caps = self.caps(&self.account_limits, priority);
            shared.take(Party::Account(account), priority, caps, deadline).await?;
        }
        shared.take(Party::Client(who.client_id), priority, self.caps(&self.limits, priority), deadline).await?;
        Ok(permit)
    }

    /// What a call of `priority` may fill the shared windows of `limits` to.
    fn caps(&self, limits: &VendorLimits, priority: Priority) -> Caps {
        let limits = match priority {
            Priority::Background => self.background_limits(limits).unwrap_or(*limits),
            Priority::Interactive => *limits,
        };
        Caps { second: limits.per_second, minute: limits.per_minute, day: limits.per_day }
    }

    /// This node's own windows and queue.
    async fn acquire_locally(
        &self,
        client_id: &str,
        account: Option<&str>,
        priority: Priority,
        max_wait: Duration,
    ) -> Result<Permit, Throttled> {
        let Some(clients) = &self.clients else {
            return Ok(Permit { client: None, account: None });
        };
        let client = self.party(clients, client_id, &self.limits);
        let account = match (&self.accounts, account) {
            (Some(accounts), Some(account)) => Some(self.party(accounts, account, &self.account_limits)),
            _ => None,
        };
        let (key, notify, deadline) = match self.admit_or_enqueue(&client, account.as_deref(), priority, max_wait)? {
            Arrival::Admitted => return Ok(Permit::new(client, account)),
            Arrival::Queued { key, notify, deadline } => (key, notify, deadline),
        };
        let mut ticket = Ticket { client: &client, key, admitted: false };
        loop {
            match self.step(&client, account.as_deref(), key, deadline) {
                Step::Admitted => {
                    ticket.admitted = true;
                    return Ok(Permit::new(client.clone(), account));
                }
                Step::GiveUp(wait) => return Err(Throttled::after(wait)),
                Step::SleepUntil(at) => tokio::time::sleep_until(at).await,
                Step::AwaitTurn => {
                    let _ = tokio::time::timeout_at(deadline, notify.notified()).await;
                }
            }
        }
    }

    /// [`observe_for`](Self::observe_for) a call of `client_id` whose account is not known.
    pub fn observe(&self, client_id: &str, headers: &HeaderMap, status: StatusCode) {
        self.observe_for(CountedAgainst { client_id, account: None }, headers, status);
    }

    /// Brings the counts of the call's client and account (the one the answer names, else
    /// `who.account`) in step with the vendor's answer: what the `throttle-available` (this
    /// minute) and `quota-available` (this UTC day, until `quota-expiry-time`) headers of each
    /// report, less the calls still in flight, caps it until that window ends, if lower than what
    /// the local count allows. A 429 blocks the party it is laid to (see "Accounts" above) for
    /// `Retry-After` seconds if given, else until the window a header reports exhausted ends, else
    /// (the client) for one second.
    pub fn observe_for(&self, who: CountedAgainst<'_>, headers: &HeaderMap, status: StatusCode) {
        let Some(clients) = &self.clients else { return };
        let exhausted = |names: &WindowHeaders| {
            [names.throttle_available, names.quota_available].iter().any(|name| header_u64(headers, name) == Some(0))
        };
        let account_exhausted = exhausted(&ACCOUNT_HEADERS);
        let account_to_blame = account_exhausted && !exhausted(&CLIENT_HEADERS);
        let client = self.party(clients, who.client_id, &self.limits);
        let refused = status == StatusCode::TOO_MANY_REQUESTS;
        let party = Party::Client(who.client_id);
        self.observe_party(&client, party, &self.limits, &CLIENT_HEADERS, headers, refused && !account_to_blame);
        if let (Some(accounts), Some(account)) = (&self.accounts, account_of(headers).or(who.account)) {
            let state = self.party(accounts, account, &self.account_limits);
            let party = Party::Account(account);
            self.observe_party(
                &state,
                party,
                &self.account_limits,
                &ACCOUNT_HEADERS,
                headers,
                refused && account_exhausted,
            );
        }
    }

    /// [`observe_for`](Self::observe_for) for one party (`party` names it to the shared budget),
    /// whose windows `names` reports; `refused`: a 429 laid at its door.
    fn observe_party(
        &self,
        client: &Client,
        party: Party<'_>,
        limits: &VendorLimits,
        names: &WindowHeaders,
        headers: &HeaderMap,
        refused: bool,
    ) {
        let in_flight = client.in_flight.load(Ordering::Relaxed);
        let now = Instant::now();
        let minute = header_u64(headers, names.throttle_available);
        let day = header_u64(headers, names.quota_available);
        let mut state = lock(&client.state);
        state.refresh(now, &self.clock);
        if let Some(available) = minute {
            let until = self.clock.next_boundary(now, MINUTE_MS);
            state.vendor_minute = Budget::tighter(state.vendor_minute, available.saturating_sub(in_flight), until);
        }
        if let Some(available) = day {
            let until = match header_u64(headers, names.quota_expiry).and_then(|ms| i64::try_from(ms).ok()) {
                Some(expiry_ms) => self.clock.instant_at(expiry_ms + CLOCK_SKEW_MARGIN_MS).min(now + MAX_BLOCK),
                None => self.clock.next_boundary(now, DAY_MS),
            };
            state.vendor_day = Budget::tighter(state.vendor_day, available.saturating_sub(in_flight), until);
        }
        if refused {
            let exhausted_window_reported = minute == Some(0) || day == Some(0);
            let block = retry_after(headers).or((!exhausted_window_reported).then_some(DEFAULT_BLOCK));
            if let Some(block) = block {
                let until = now + block.min(MAX_BLOCK);
                state.blocked_until = Some(state.blocked_until.map_or(until, |b| b.max(until)));
            }
        }
        if let Some(shared) = &self.shared {
            // The other nodes learn what this answer said: the counts with the next lease, a block
            // (a 429, or a window reported exhausted) at once.
            let epoch_ms = self.clock.epoch_ms(now);
            let used = |limit: Option<u64>, available: Option<u64>, window: i64| {
                Some(WindowCount { window, used: limit?.saturating_sub(available?) })
            };
            shared.vendor_counts(
                party,
                used(limits.per_minute, minute, epoch_ms.div_euclid(MINUTE_MS)),
                used(limits.per_day, day, epoch_ms.div_euclid(DAY_MS)),
            );
            let exhausted = [(minute, state.vendor_minute), (day, state.vendor_day)]
                .into_iter()
                .filter_map(|(available, budget)| (available == Some(0)).then_some(budget?.until));
            let blocked = refused.then_some(state.blocked_until).flatten();
            if let Some(until) = exhausted.chain(blocked).max() {
                shared.block(party, self.clock.epoch_ms(until));
            }
        }
    }

    /// The state of a client (in `clients`) or an account (in `accounts`) held to `limits`,
    /// created on first use.
    fn party(&self, parties: &Mutex<HashMap<String, Arc<Client>>>, id: &str, limits: &VendorLimits) -> Arc<Client> {
        let mut map = lock(parties);
        if let Some(client) = map.get(id) {
            return client.clone();
        }
        if map.len() >= PRUNE_ABOVE {
            let now = Instant::now();
            map.retain(|_, c| Arc::strong_count(c) > 1 || !lock(&c.state).is_idle(now, &self.clock));
        }
        let background = self.background_limits(limits);
        let client = Arc::new(Client::new(limits, background.as_ref(), self.jitter_margin, &self.clock));
        map.insert(id.to_string(), client.clone());
        client
    }

    /// On arrival: admits at once if nobody waits and every window of the client and the account
    /// has room, refuses if the wait would break a bound, else joins the client's queue.
    fn admit_or_enqueue(
        &self,
        client: &Client,
        account: Option<&Client>,
        priority: Priority,
        max_wait: Duration,
    ) -> Result<Arrival, Throttled> {
        let now = Instant::now();
        let mut state = lock(&client.state);
        state.refresh(now, &self.clock);
        // Always the client's lock first, then the account's: no two callers wait on each other.
        let mut account = account.map(|account| lock(&account.state));
        if let Some(account) = &mut account {
            account.refresh(now, &self.clock);
        }
        let account_slot = |position: usize, account: &Option<MutexGuard<'_, ClientState>>| match account {
            Some(account) => account.estimate(priority, position, now, &self.clock),
            None => now,
        };
        if state.queue.is_empty() && state.next_free(priority, now, &self.clock).max(account_slot(1, &account)) <= now {
            state.admit(priority, now);
            if let Some(account) = &mut account {
                account.admit(priority, now);
            }
            return Ok(Arrival::Admitted);
        }
        let position = state.ahead_of(priority) + 1;
        let slot = state.estimate(priority, position, now, &self.clock).max(account_slot(position, &account));
        let wait = slot.saturating_duration_since(now);
        if state.queue.len() >= self.max_queue || wait > max_wait {
            return Err(Throttled::after(wait));
        }
        let (key, notify) = state.enqueue(priority);
        Ok(Arrival::Queued { key, notify, deadline: now + max_wait })
    }

    /// One look at the queue by a waiter: only the head may take a slot, and only the head sleeps
    /// on the clock; the others sleep until [`ClientState::dequeue`] makes them head.
    fn step(&self, client: &Client, account: Option<&Client>, key: QueueKey, deadline: Instant) -> Step {
        let now = Instant::now();
        let mut state = lock(&client.state);
        state.refresh(now, &self.clock);
        if state.head() != Some(key) {
            if now < deadline {
                return Step::AwaitTurn;
            }
            let position = state.queue.range(..key).count() + 1;
            return Step::GiveUp(state.estimate(key.0, position, now, &self.clock).saturating_duration_since(now));
        }
        // The client's lock first, then the account's, as on arrival.
        let mut account = account.map(|account| lock(&account.state));
        if let Some(account) = &mut account {
            account.refresh(now, &self.clock);
        }
        let account_next = account.as_ref().map_or(now, |account| account.next_free(key.0, now, &self.clock));
        let next = state.next_free(key.0, now, &self.clock).max(account_next);
        if next <= now {
            state.admit(key.0, now);
            if let Some(account) = &mut account {
                account.admit(key.0, now);
            }
            state.dequeue(key);
            Step::Admitted
        } else if next > deadline {
            Step::GiveUp(next - now)
        } else {
            Step::SleepUntil(next)
        }
    }
}

enum Arrival {
    Admitted,
    Queued { key: QueueKey, notify: Arc<Notify>, deadline: Instant },
}

enum Step {
    Admitted,
    GiveUp(Duration),
    SleepUntil(Instant),
    AwaitTurn,
}

/// A waiter's place in its client's queue; dropping it (the `acquire` future dropped, or giving
/// up) leaves the queue, so a cancelled call holds no slot.
struct Ticket<'a> {
    client: &'a Client,
    key: QueueKey,
    admitted: bool,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.admitted {
            lock(&self.client.state).dequeue(self.key);
        }
    }
}

/// Priority first, then arrival order.
type QueueKey = (Priority, u64);

/// One OAuth client's windows and waiters, or one account's windows (its queue stays empty: a
/// call waits in its client's).
struct Client {
    state: Mutex<ClientState>,
    /// Permits handed out and not yet dropped.
    in_flight: AtomicU64,
}

impl Client {
    fn new(limits: &VendorLimits, background: Option<&VendorLimits>, margin: Duration, clock: &WallClock) -> Self {
        let state = ClientState {
            windows: Windows::new(limits, margin, clock),
            background: background.map(|limits| Windows::new(limits, margin, clock)),
            vendor_minute: None,
            vendor_day: None,
            blocked_until: None,
            queue: BTreeMap::new(),
            interactive_waiting: 0,
            next_ticket: 0,
        };
        Client { state: Mutex::new(state), in_flight: AtomicU64::new(0) }
    }
}

/// Everything about one client that changes under its lock. Held only briefly and never across
/// an `.await`, hence a `std::sync::Mutex`.
struct ClientState {
    /// Every call of the client.
    windows: Windows,
    /// Background calls only, against their share of each limit.
    background: Option<Windows>,
    /// What the vendor last said is left of its minute, less our calls since.
    vendor_minute: Option<Budget>,
    /// What the vendor last said is left of its day, less our calls since.
    vendor_day: Option<Budget>,
    /// After a 429: no call before this.
    blocked_until: Option<Instant>,
    /// Waiters, head first; each is woken through its `Notify` when it becomes head.
    queue: BTreeMap<QueueKey, Arc<Notify>>,
    interactive_waiting: usize,
    next_ticket: u64,
}

impl ClientState {
    /// Rolls the day over and forgets vendor caps and blocks that have ended.
    fn refresh(&mut self, now: Instant, clock: &WallClock) {
        self.windows.roll(clock.day(now));
        if let Some(background) = &mut self.background {
            background.roll(clock.day(now));
        }
        for budget in [&mut self.vendor_minute, &mut self.vendor_day] {
            if budget.is_some_and(|b| b.until <= now) {
                *budget = None;
            }
        }
        if self.blocked_until.is_some_and(|b| b <= now) {
            self.blocked_until = None;
        }
    }

    /// The earliest instant the next call of `priority` may go.
    fn next_free(&self, priority: Priority, now: Instant, clock: &WallClock) -> Instant {
        self.estimate(priority, 1, now, clock)
    }

    /// When the `position`-th call from now may go, each window considered alone (exact for one
    /// window, a lower bound when several bind); a background call also within its share.
    fn estimate(&self, priority: Priority, position: usize, now: Instant, clock: &WallClock) -> Instant {
        let position = position as u64;
        let windows = self.windows.slot(position, now, clock);
        let background = match (&self.background, priority) {
            (Some(background), Priority::Background) => background.slot(position, now, clock),
            _ => now,
        };
        let budgets = [self.vendor_minute, self.vendor_day].into_iter().flatten().map(|b| b.slot(position, now));
        budgets.chain(self.blocked_until).fold(windows.max(background), Instant::max)
    }

    /// Counts a call of `priority` admitted at `now` in every window it counts in.
    fn admit(&mut self, priority: Priority, now: Instant) {
        self.windows.record(now);
        if let (Some(background), Priority::Background) = (&mut self.background, priority) {
            background.record(now);
        }
        for budget in [&mut self.vendor_minute, &mut self.vendor_day].into_iter().flatten() {
            budget.remaining = budget.remaining.saturating_sub(1);
        }
    }

    /// Waiters that go before a new one of `priority`.
    fn ahead_of(&self, priority: Priority) -> usize {
        match priority {
            Priority::Interactive => self.interactive_waiting,
            Priority::Background => self.queue.len(),
        }
    }

    fn head(&self) -> Option<QueueKey> {
        self.queue.first_key_value().map(|(key, _)| *key)
    }

    fn enqueue(&mut self, priority: Priority) -> (QueueKey, Arc<Notify>) {
        let key = (priority, self.next_ticket);
        self.next_ticket += 1;
        if priority == Priority::Interactive {
            self.interactive_waiting += 1;
        }
        let notify = Arc::new(Notify::new());
        self.queue.insert(key, notify.clone());
        (key, notify)
    }

    /// Removes a waiter; if it was the head, wakes the next one (`notify_one` keeps the wake-up
    /// for a waiter that is not listening yet).
    fn dequeue(&mut self, key: QueueKey) {
        let was_head = self.head() == Some(key);
        if self.queue.remove(&key).is_some() && key.0 == Priority::Interactive {
            self.interactive_waiting -= 1;
        }
        if was_head {
            if let Some((_, next)) = self.queue.first_key_value() {
                next.notify_one();
            }
        }
    }

    /// Nothing here would change a future decision: safe to forget.
    fn is_idle(&self, now: Instant, clock: &WallClock) -> bool {
        self.queue.is_empty()
            && self.windows.is_clear(now, clock)
            && self.background.as_ref().is_none_or(|background| background.is_clear(now, clock))
            && self.vendor_minute.is_none_or(|b| b.until <= now)
            && self.vendor_day.is_none_or(|b| b.until <= now)
            && self.blocked_until.is_none_or(|b| b <= now)
    }
}

/// A set of windows with their limits: the second and the minute as sliding logs, the UTC day as
/// a counter.
struct Windows {
    second: Option<SlidingLog>,
    minute: Option<SlidingLog>,
    day: Option<DayCount>,
}

impl Windows {
    fn new(limits: &VendorLimits, margin: Duration, clock: &WallClock) -> Self {
        let log = |limit: Option<u64>, window: Duration| limit.map(|l| SlidingLog::new(l, window + margin));
        Windows {
            second: log(limits.per_second, Duration::from_secs(1)),
            minute: log(limits.per_minute, Duration::from_secs(60)),
            day: limits.per_day.map(|limit| DayCount { limit, day: clock.day(Instant::now()), used: 0 }),
        }
    }

    fn roll(&mut self, today: i64) {
        if let Some(day) = &mut self.day {
            day.roll(today);
        }
    }

    /// When the `position`-th call from now fits every window.
    fn slot(&self, position: u64, now: Instant, clock: &WallClock) -> Instant {
        let logs = [&self.second, &self.minute].into_iter().flatten().map(|log| log.nth_slot(position, now));
        let day = self.day.map(|d| if d.used + position <= d.limit { now } else { clock.next_boundary(now, DAY_MS) });
        logs.chain(day).fold(now, Instant::max)
    }

    fn record(&mut self, now: Instant) {
        for log in [&mut self.second, &mut self.minute].into_iter().flatten() {
            log.record(now);
        }
        if let Some(day) = &mut self.day {
            day.used += 1;
        }
    }

    fn is_clear(&self, now: Instant, clock: &WallClock) -> bool {
        let logs_clear = [&self.second, &self.minute].into_iter().flatten().all(|log| log.is_clear(now));
        logs_clear && self.day.is_none_or(|d| d.used == 0 || d.day != clock.day(now))
    }
}

/// The last `limit` admission times in one window of length `window` (the vendor's plus the
/// jitter margin). A call may go when fewer than `limit` admissions lie within the last `window`,
/// i.e. when the oldest of the last `limit` is at least `window` old; so no interval of length
/// `window` ever holds more than `limit` admissions.
struct SlidingLog {
    limit: usize,
    window: Duration,
    admitted: VecDeque<Instant>,
}

impl SlidingLog {
    fn new(limit: u64, window: Duration) -> Self {
        // A limit of 0 would admit nothing ever; the notation refuses it, and here it means 1.
        let limit = usize::try_from(limit).unwrap_or(usize::MAX).max(1);
        SlidingLog { limit, window, admitted: VecDeque::new() }
    }

    /// Logs an admission, dropping those too old to matter: memory follows the actual rate, not
    /// the limit.
    fn record(&mut self, now: Instant) {
        while self.admitted.len() >= self.limit || self.admitted.front().is_some_and(|t| *t + self.window <= now) {
            self.admitted.pop_front();
        }
        self.admitted.push_back(now);
    }

    /// When the `n`-th call from now (1-based) may go if the calls before it go as early as they
    /// can: it must wait until the admission `limit` places before it is `window` old. That one is
    /// either logged, or itself a future call, one `window` earlier in the same cycle.
    fn nth_slot(&self, n: u64, now: Instant) -> Instant {
        let (logged, limit) = (self.admitted.len() as i64, self.limit as i64);
        // 1-based index, in the logged admissions followed by the future ones, of the admission
        // that must leave the window first; ≤ 0 when there is room now.
        let mut index = (n as i64).saturating_add(logged).saturating_sub(limit);
        let mut cycles = 0u32;
        while index > logged {
            index -= limit;
            cycles = cycles.saturating_add(1);
        }
        let base = if index > 0 { now.max(self.admitted[(index - 1) as usize] + self.window) } else { now };
        base + self.window.saturating_mul(cycles)
    }

    fn is_clear(&self, now: Instant) -> bool {
        self.admitted.back().is_none_or(|last| *last + self.window <= now)
    }
}

/// Calls counted in the current UTC day (by our clock, less the skew margin).
#[derive(Debug, Clone, Copy)]
struct DayCount {
    limit: u64,
    day: i64,
    used: u64,
}

impl DayCount {
    fn roll(&mut self, today: i64) {
        if self.day != today {
            *self = DayCount { day: today, used: 0, ..*self };
        }
    }
}

/// At most `remaining` more calls before `until`: the vendor's report of a fixed window.
#[derive(Debug, Clone, Copy)]
struct Budget {
    remaining: u64,
    until: Instant,
}

impl Budget {
    /// The tighter of a known cap and a new report: within one window the lower count wins
    /// (answers arrive out of order); a report for a later window replaces the old one.
    fn tighter(old: Option<Budget>, remaining: u64, until: Instant) -> Option<Budget> {
        Some(match old {
            Some(old) if old.until >= until => Budget { remaining: old.remaining.min(remaining), until: old.until },
            _ => Budget { remaining, until },
        })
    }

    fn slot(&self, n: u64, now: Instant) -> Instant {
        if self.remaining >= n {
            now
        } else {
            self.until
        }
    }
}

/// Wall-clock time derived from Tokio's clock: read once, then advanced by `Instant`s, so the
/// vendor's wall-clock windows line up with the limiter's waits (and paused-time tests can place
/// a minute or a UTC midnight exactly). The vendor's headers correct any drift that matters.
#[derive(Debug, Clone, Copy)]
struct WallClock {
    anchor: Instant,
    anchor_epoch_ms: i64,
}

impl WallClock {
    fn now() -> Self {
        let epoch_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        WallClock { anchor: Instant::now(), anchor_epoch_ms: epoch_ms }
    }

    fn epoch_ms(&self, at: Instant) -> i64 {
        self.anchor_epoch_ms + at.saturating_duration_since(self.anchor).as_millis() as i64
    }

    /// The `Instant` of an epoch time (the anchor if before it).
    fn instant_at(&self, epoch_ms: i64) -> Instant {
        let after_anchor = epoch_ms.saturating_sub(self.anchor_epoch_ms).max(0);
        self.anchor + Duration::from_millis(after_anchor as u64)
    }

    /// The end of the current `period_ms` window on the vendor's clock, assuming it may lag ours
    /// by up to the skew margin: our next boundary after `now − margin`, plus the margin.
    fn next_boundary(&self, now: Instant, period_ms: i64) -> Instant {
        let lagging = self.epoch_ms(now) - CLOCK_SKEW_MARGIN_MS;
        let boundary = (lagging.div_euclid(period_ms) + 1) * period_ms;
        self.instant_at(boundary + CLOCK_SKEW_MARGIN_MS)
    }

    /// The UTC day (days since the epoch) the vendor is in by then, allowing the same skew.
    fn day(&self, at: Instant) -> i64 {
        (self.epoch_ms(at) - CLOCK_SKEW_MARGIN_MS).div_euclid(DAY_MS)
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `Retry-After` in delta-seconds; the HTTP-date form (not seen from this vendor) counts as absent.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header_u64(headers, RETRY_AFTER.as_str()).map(Duration::from_secs)
}

/// Every critical section here leaves the state consistent, so a poisoned lock is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use std::time::Duration as D;

    const CLIENT: &str = "client-a";
    /// An epoch time on a minute boundary (and 30 s before a UTC midnight plus some).
    const ON_A_MINUTE_MS: i64 = 20_000 * DAY_MS - 10 * MINUTE_MS;

    fn limits(second: Option<u64>, minute: Option<u64>, day: Option<u64>) -> VendorLimits {
        VendorLimits { per_second: second, per_minute: minute, per_day: day }
    }

    /// A limiter whose wall clock reads `epoch_ms` now.
    fn limiter_at(limits: VendorLimits, max_wait: D, max_queue: usize, epoch_ms: i64) -> Arc<VendorRateLimiter> {
        let mut limiter = VendorRateLimiter::new(limits, max_wait, max_queue);
        limiter.clock = WallClock { anchor: Instant::now(), anchor_epoch_ms: epoch_ms };
        Arc::new(limiter)
    }

    fn limiter(limits: VendorLimits, max_wait: D, max_queue: usize) -> Arc<VendorRateLimiter> {
        limiter_at(limits, max_wait, max_queue, ON_A_MINUTE_MS)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (reqwest::header::HeaderName::from_static(k), HeaderValue::from_str(v).unwrap()))
            .collect()
    }

    fn queued(limiter: &VendorRateLimiter, client: &str) -> usize {
        let map = lock(limiter.clients.as_ref().unwrap());
        let state = lock(&map[client].state);
        state.queue.len()
    }

    /// Admission instants of `n` concurrent callers, sorted.
    async fn burst(limiter: &Arc<VendorRateLimiter>, n: usize) -> Vec<Instant> {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    let _permit = limiter.acquire(CLIENT, Priority::Background).await.expect("admitted");
                    Instant::now()
                })
            })
            .collect();
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.unwrap());
        }
        times.sort();
        times
    }

    /// The most admissions in any half-open interval of length `window`.
    fn most_in_any(times: &[Instant], window: D) -> usize {
        times
            .iter()
            .enumerate()
            .map(|(i, start)| times[i..].iter().take_while(|t| **t < *start + window).count())
            .max()
            .unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_500_never_puts_more_than_25_calls_in_any_second() {
        let limiter = limiter(VendorLimits::DEFAULT, D::from_secs(60), 1000);
        let start = Instant::now();
        let times = burst(&limiter, 500).await;
        assert_eq!(times.len(), 500);
        // Any second, hence every fixed second of the vendor whatever its alignment, and any
        // second shifted by up to 50 ms of network jitter.
        assert_eq!(most_in_any(&times, D::from_secs(1)), 25);
        assert_eq!(most_in_any(&times, D::from_millis(1050)), 25);
        assert!(most_in_any(&times, D::from_secs(60)) <= 1500);
        assert_eq!(times[24], start, "the first 25 go at once");
        assert_eq!(times[499] - start, D::from_millis(1050) * 19);
    }

    #[tokio::test(start_paused = true)]
    async fn sustained_throughput_at_the_default_limits_is_25_per_1_05_s() {
        let limiter = limiter(VendorLimits::DEFAULT, D::from_secs(60), 10);
        let start = Instant::now();
        let mut last = start;
        for _ in 0..2500 {
            let _permit = limiter.acquire(CLIENT, Priority::Background).await.unwrap();
            last = Instant::now();
        }
        // 100 bursts of 25, 1.05 s apart: the first burst is free, the other 99 take 103.95 s.
        let per_second = 2475.0 / (last - start).as_secs_f64();
        assert!((per_second - 23.81).abs() < 0.01, "{per_second} calls/s");
    }

    #[tokio::test(start_paused = true)]
    async fn the_minute_limit_holds_calls_for_a_minute_and_the_margin() {
        let limiter = limiter(limits(None, Some(5), None), D::from_secs(120), 10);
        let start = Instant::now();
        let times = burst(&limiter, 7).await;
        assert!(times[..5].iter().all(|t| *t == start));
        assert_eq!(times[5] - start, D::from_millis(60_050));
        assert_eq!(times[6] - start, D::from_millis(60_050));
    }

    #[tokio::test(start_paused = true)]
    async fn the_daily_quota_stops_calls_until_utc_midnight() {
        let ten_to_midnight = 20_000 * DAY_MS - 10_000;
        let limiter = limiter_at(limits(None, None, Some(3)), D::from_secs(5), 10, ten_to_midnight);
        for _ in 0..3 {
            let _permit = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap();
        }
        let refused = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap_err();
        assert_eq!(refused.retry_after, D::from_secs(11), "midnight plus the clock-skew margin");
        assert_eq!(refused.retry_after_secs(), 11);
        tokio::time::advance(D::from_secs(11)).await;
        let start = Instant::now();
        let _permit = limiter.acquire(CLIENT, Priority::Interactive).await.expect("a new day");
        assert_eq!(Instant::now(), start);
    }

    #[tokio::test(start_paused = true)]
    async fn off_admits_everything_at_once_and_keeps_no_state() {
        let limiter = limiter(VendorLimits::OFF, D::ZERO, 0);
        let start = Instant::now();
        for _ in 0..10_000 {
            let _permit = limiter.acquire(CLIENT, Priority::Background).await.unwrap();
        }
        limiter.observe(CLIENT, &headers(&[("retry-after", "60")]), StatusCode::TOO_MANY_REQUESTS);
        let _permit = limiter.acquire(CLIENT, Priority::Background).await.expect("OFF ignores the vendor too");
        assert_eq!(Instant::now(), start);
        assert!(limiter.clients.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_left_out_does_not_limit() {
        let limiter = limiter(limits(None, None, Some(1_000_000)), D::ZERO, 0);
        let start = Instant::now();
        assert_eq!(burst(&limiter, 1000).await.last(), Some(&start));
    }

    #[tokio::test(start_paused = true)]
    async fn background_calls_use_only_their_share_and_interactive_ones_the_rest() {
        let mut limiter = VendorRateLimiter::new(limits(Some(4), None, None), D::from_secs(60), 100);
        limiter.clock = WallClock { anchor: Instant::now(), anchor_epoch_ms: ON_A_MINUTE_MS };
        let limiter = Arc::new(limiter.with_background_share(0.5));
        let start = Instant::now();
        let mut background = Vec::new();
        for _ in 0..4 {
            let limiter = limiter.clone();
            background.push(tokio::spawn(async move {
                let _permit = limiter.acquire_within(CLIENT, Priority::Background, D::from_secs(60)).await.unwrap();
                Instant::now() - start
            }));
            tokio::time::sleep(D::from_millis(1)).await;
        }
        // Half of the 4 per second went to background work; a user's calls still get the other half
        // at once, while the background queue waits for its share to come round again.
        for _ in 0..2 {
            let _permit = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap();
            assert!(Instant::now() - start < D::from_millis(10), "interactive calls are not held back");
        }
        let mut admitted = Vec::new();
        for task in background {
            admitted.push(task.await.unwrap());
        }
        assert!(admitted[..2].iter().all(|at| *at < D::from_millis(10)), "{admitted:?}");
        assert!(admitted[2..].iter().all(|at| *at >= D::from_millis(1050)), "{admitted:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn interactive_waiters_go_before_background_ones() {
        let limiter = limiter(limits(Some(1), None, None), D::from_secs(60), 10);
        let start = Instant::now();
        let _first = limiter.acquire(CLIENT, Priority::Background).await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for (name, priority) in
            [("bg-1", Priority::Background), ("bg-2", Priority::Background), ("ui", Priority::Interactive)]
        {
            let (limiter, tx) = (limiter.clone(), tx.clone());
            tokio::spawn(async move {
                let _permit = limiter.acquire(CLIENT, priority).await.unwrap();
                tx.send((name, Instant::now() - start)).unwrap();
            });
            tokio::time::sleep(D::from_millis(1)).await; // let it join the queue
        }
        drop(tx);
        let mut order = Vec::new();
        while let Some(admitted) = rx.recv().await {
            order.push(admitted);
        }
        let second = D::from_millis(1050);
        assert_eq!(order, [("ui", second), ("bg-1", second * 2), ("bg-2", second * 3)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_answers_throttled_at_once() {
        let limiter = limiter(limits(Some(1), None, None), D::from_secs(60), 2);
        let _first = limiter.acquire(CLIENT, Priority::Background).await.unwrap();
        for _ in 0..2 {
            let limiter = limiter.clone();
            tokio::spawn(async move { limiter.acquire(CLIENT, Priority::Background).await.map(drop) });
        }
        tokio::task::yield_now().await;
        assert_eq!(queued(&limiter, CLIENT), 2);
        let start = Instant::now();
        let refused = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap_err();
        assert_eq!(Instant::now(), start, "no waiting");
        // The slot behind the two waiters: three windows from the first call.
        assert_eq!(refused.retry_after, D::from_millis(1050));
        assert_eq!(refused.retry_after_secs(), 2);
        let refused = limiter.acquire(CLIENT, Priority::Background).await.unwrap_err();
        assert_eq!(refused.retry_after, D::from_millis(3150));
        assert_eq!(refused.retry_after_secs(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_beyond_max_wait_answers_throttled_with_the_time_to_it() {
        let limiter = limiter(limits(Some(2), None, None), D::from_millis(500), 10);
        let start = Instant::now();
        let _a = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap();
        let _b = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap();
        let refused = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap_err();
        assert_eq!((refused.retry_after, refused.retry_after_secs()), (D::from_millis(1050), 2));
        tokio::time::advance(D::from_millis(600)).await;
        let _c = limiter.acquire(CLIENT, Priority::Interactive).await.expect("450 ms is within max_wait");
        assert_eq!(Instant::now() - start, D::from_millis(1050));
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_with_a_longer_wait_gets_the_slot_another_would_be_refused() {
        let limiter = limiter(limits(Some(2), None, None), D::from_millis(500), 10);
        let start = Instant::now();
        let _a = limiter.acquire(CLIENT, Priority::Background).await.unwrap();
        let _b = limiter.acquire(CLIENT, Priority::Background).await.unwrap();
        // The next slot is 1,050 ms away: beyond the limiter's 500 ms, within background work's wait.
        assert!(limiter.acquire(CLIENT, Priority::Interactive).await.is_err());
        let _c = limiter.acquire_within(CLIENT, Priority::Background, D::from_secs(60)).await.expect("waits its turn");
        assert_eq!(Instant::now() - start, D::from_millis(1050));
        // And a shorter wait than the limiter's own is honoured too.
        let _d = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap();
        let refused = limiter.acquire_within(CLIENT, Priority::Interactive, D::from_millis(10)).await.unwrap_err();
        assert!(refused.retry_after > D::from_millis(10));
    }

    #[test]
    fn retry_after_is_at_least_a_second_and_rounds_up() {
        assert_eq!(Throttled::after(D::from_millis(200)).retry_after, D::from_secs(1));
        assert_eq!(Throttled::after(D::from_millis(200)).retry_after_secs(), 1);
        assert_eq!(Throttled::after(D::from_secs(3)).retry_after_secs(), 3);
        assert_eq!(Throttled::after(D::from_millis(3001)).retry_after_secs(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn the_vendors_throttle_header_lowers_what_is_left_of_the_minute() {
        let thirty_past = ON_A_MINUTE_MS + 30_000;
        let limiter = limiter_at(VendorLimits::DEFAULT, D::from_secs(5), 10, thirty_past);
        limiter.observe(CLIENT, &headers(&[(CLIENT_HEADERS.throttle_available, "3")]), StatusCode::OK);
        for _ in 0..3 {
            let _permit = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap();
        }
        let refused = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap_err();
        assert_eq!(refused.retry_after, D::from_secs(31), "the vendor's next minute, plus the skew margin");
        // A late answer from earlier in the minute does not raise the count again.
        limiter.observe(CLIENT, &headers(&[(CLIENT_HEADERS.throttle_available, "100")]), StatusCode::OK);
        assert!(limiter.acquire(CLIENT, Priority::Interactive).await.is_err());
        tokio::time::advance(D::from_secs(31)).await;
        assert!(limiter.acquire(CLIENT, Priority::Interactive).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_vendors_quota_header_counts_calls_in_flight_and_holds_until_its_expiry() {
        let limiter = limiter(VendorLimits::DEFAULT, D::from_secs(5), 10);
        let in_flight = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap();
        let expiry = (ON_A_MINUTE_MS + 3_600_000).to_string();
        limiter.observe(
            CLIENT,
            &headers(&[(CLIENT_HEADERS.quota_available, "2"), (CLIENT_HEADERS.quota_expiry, &expiry)]),
            StatusCode::OK,
        );
        let _one = limiter.acquire(CLIENT, Priority::Interactive).await.expect("2 available, 1 in flight");
        let refused = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap_err();
        assert_eq!(refused.retry_after_secs(), 3_601);
        drop(in_flight);
        assert_eq!(lock(limiter.clients.as_ref().unwrap())[CLIENT].in_flight.load(Ordering::Relaxed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_blocks_the_client_until_the_vendors_reset() {
        let limiter = limiter(VendorLimits::DEFAULT, D::from_secs(10), 10);
        limiter.observe(CLIENT, &headers(&[("retry-after", "7")]), StatusCode::TOO_MANY_REQUESTS);
        let start = Instant::now();
        let _permit = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap();
        assert_eq!(Instant::now() - start, D::from_secs(7), "Retry-After");

        limiter.observe(CLIENT, &HeaderMap::new(), StatusCode::TOO_MANY_REQUESTS);
        let start = Instant::now();
        let _permit = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap();
        assert_eq!(Instant::now() - start, D::from_secs(1), "no header: one second");

        let exhausted = headers(&[(CLIENT_HEADERS.throttle_available, "0"), (CLIENT_HEADERS.quota_available, "500")]);
        limiter.observe(CLIENT, &exhausted, StatusCode::TOO_MANY_REQUESTS);
        let refused = limiter.acquire(CLIENT, Priority::Interactive).await.unwrap_err();
        assert_eq!(refused.retry_after, D::from_secs(53), "the minute's end (52 s from here) plus the skew margin");
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_acquire_leaves_the_queue_and_consumes_nothing() {
        let limiter = limiter(limits(Some(1), None, None), D::from_secs(60), 10);
        let start = Instant::now();
        let _first = limiter.acquire(CLIENT, Priority::Background).await.unwrap();
        let gave_up = tokio::time::timeout(D::from_millis(100), limiter.acquire(CLIENT, Priority::Interactive)).await;
        assert!(gave_up.is_err());
        assert_eq!(queued(&limiter, CLIENT), 0);

        // A waiter behind the head dropped: the next caller takes its place.
        let head = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire(CLIENT, Priority::Background).await.map(|_| Instant::now()) }
        });
        let behind = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire(CLIENT, Priority::Background).await.map(|_| Instant::now()) }
        });
        tokio::task::yield_now().await;
        assert_eq!(queued(&limiter, CLIENT), 2);
        behind.abort();
        let _ = behind.await;
        assert_eq!(queued(&limiter, CLIENT), 1);
        let _next = limiter.acquire(CLIENT, Priority::Background).await.unwrap();
        assert_eq!(head.await.unwrap().unwrap() - start, D::from_millis(1050), "the cancelled call took no slot");
        assert_eq!(Instant::now() - start, D::from_millis(2100));
    }

    #[tokio::test(start_paused = true)]
    async fn clients_are_limited_apart_and_idle_ones_are_forgotten() {
        let limiter = limiter(limits(Some(1), None, None), D::ZERO, 0);
        for n in 0..PRUNE_ABOVE + 10 {
            let _permit = limiter.acquire(&format!("client-{n}"), Priority::Background).await.expect("own window");
        }
        tokio::time::advance(D::from_secs(2)).await;
        let _permit = limiter.acquire("one-more", Priority::Background).await.unwrap();
        assert_eq!(lock(limiter.clients.as_ref().unwrap()).len(), 1);
        assert!(format!("{limiter:?}").contains("clients: Some(1)"));
    }

    /// A call of `client` into `account`, as the vendor client makes it.
    fn into(client: &'static str, account: &'static str) -> CountedAgainst<'static> {
        CountedAgainst { client_id: client, account: Some(account) }
    }

    #[tokio::test(start_paused = true)]
    async fn two_clients_calling_one_account_are_held_to_the_accounts_minute_together() {
        let mut limiter = VendorRateLimiter::new(limits(Some(25), Some(100), None), D::from_secs(120), 100)
            .with_account_limits(limits(None, Some(6), None));
        limiter.clock = WallClock { anchor: Instant::now(), anchor_epoch_ms: ON_A_MINUTE_MS };
        let limiter = Arc::new(limiter);
        let start = Instant::now();
        let mut calls = Vec::new();
        for n in 0..8 {
            let limiter = limiter.clone();
            let who = into(if n % 2 == 0 { "client-a" } else { "client-b" }, "ab123.infusionsoft.com");
            calls.push(tokio::spawn(async move {
                let _permit = limiter.acquire_for(who, Priority::Interactive, None).await.expect("admitted");
                Instant::now() - start
            }));
        }
        let mut waited = Vec::new();
        for call in calls {
            waited.push(call.await.unwrap());
        }
        waited.sort();
        assert!(waited[..6].iter().all(|w| w.is_zero()), "6 at once: {waited:?}");
        assert!(waited[6..].iter().all(|w| *w == D::from_millis(60_050)), "the account's minute: {waited:?}");
        // Another account of the same clients, and a call whose account is not known, are not held.
        let _other = limiter.acquire_for(into("client-a", "xy999.infusionsoft.com"), Priority::Interactive, None);
        let _other = _other.await.unwrap();
        let _unknown = limiter.acquire("client-b", Priority::Interactive).await.unwrap();
        assert_eq!(Instant::now() - start, D::from_millis(60_050));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_of_an_exhausted_account_holds_the_account_back_and_not_its_client() {
        let thirty_past = ON_A_MINUTE_MS + 30_000;
        let limiter = limiter_at(VendorLimits::DEFAULT, D::from_secs(5), 10, thirty_past);
        let account = "ab123.infusionsoft.com";
        let answer = headers(&[
            (CLIENT_HEADERS.throttle_available, "1400"),
            (ACCOUNT_HEADERS.throttle_available, "0"),
            ("x-keap-tenant-id", account),
        ]);
        limiter.observe_for(
            CountedAgainst { client_id: CLIENT, account: None },
            &answer,
            StatusCode::TOO_MANY_REQUESTS,
        );
        let refused = limiter.acquire_for(into(CLIENT, account), Priority::Interactive, None).await.unwrap_err();
        assert_eq!(refused.retry_after, D::from_secs(31), "the account's next minute (the answer named it)");
        let other = limiter.acquire_for(into(CLIENT, "xy999.infusionsoft.com"), Priority::Interactive, None);
        assert!(other.await.is_ok(), "the client's other accounts go on");

        // A 429 that no exhausted window explains is the client's.
        limiter.observe_for(into(CLIENT, account), &headers(&[("retry-after", "2")]), StatusCode::TOO_MANY_REQUESTS);
        let start = Instant::now();
        let _permit = limiter.acquire_for(into(CLIENT, "xy999.infusionsoft.com"), Priority::Interactive, None).await;
        assert_eq!(Instant::now() - start, D::from_secs(2));
    }

    #[test]
    fn an_answer_names_its_account_in_x_keap_tenant_id() {
        assert_eq!(
            account_of(&headers(&[("x-keap-tenant-id", " ab123.infusionsoft.com ")])),
            Some("ab123.infusionsoft.com")
        );
        assert_eq!(account_of(&headers(&[("x-keap-tenant-id", "")])), None);
        assert_eq!(account_of(&HeaderMap::new()), None);
    }

    #[tokio::test(start_paused = true)]
    async fn account_limits_off_count_per_client_only() {
        let limiter = VendorRateLimiter::new(VendorLimits::DEFAULT, D::ZERO, 0).with_account_limits(VendorLimits::OFF);
        assert!(!limiter.limits_accounts());
        let off = VendorRateLimiter::new(VendorLimits::OFF, D::ZERO, 0);
        assert!(!off.limits_accounts(), "--vendor-limits off turns the accounts' off too");
        for _ in 0..30 {
            let admitted = off.acquire_for(into(CLIENT, "ab123.infusionsoft.com"), Priority::Interactive, None).await;
            assert!(admitted.is_ok(), "no window at all, not even the account's");
        }
    }

    #[test]
    fn the_limiter_and_its_future_can_cross_threads() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let limiter = VendorRateLimiter::new(VendorLimits::DEFAULT, D::from_secs(1), 1);
        send_sync(&limiter);
        send(&limiter.acquire(CLIENT, Priority::Interactive));
    }

    // The budget shared by several nodes, with an in-memory budget standing in for PostgreSQL.

    use crate::shared_budget::{BudgetError, SharedBudget};
    use domain::shared_budget::{Lease, LeaseRequest};

    /// The shared budget's semantics (those of the PostgreSQL statement) in memory, on the same
    /// paused clock as the limiters; each lease takes a millisecond, like a database round trip.
    #[derive(Debug)]
    struct MemoryBudget {
        anchor: Instant,
        rows: Mutex<HashMap<String, Row>>,
        failing: std::sync::atomic::AtomicBool,
        leases: AtomicU64,
    }

    #[derive(Debug, Default, Clone, Copy)]
    struct Row {
        second: (i64, u64),
        minute: (i64, u64),
        day: (i64, u64),
        blocked_until_ms: i64,
    }

    impl MemoryBudget {
        fn new() -> Arc<Self> {
            Arc::new(MemoryBudget {
                anchor: Instant::now(),
                rows: Mutex::new(HashMap::new()),
                failing: Default::default(),
                leases: AtomicU64::new(0),
            })
        }

        fn now_ms(&self) -> i64 {
            ON_A_MINUTE_MS + (Instant::now() - self.anchor).as_millis() as i64
        }

        fn row(&self) -> Row {
            lock(&self.rows).get(&format!("client:{CLIENT}")).copied().unwrap_or_default()
        }
    }

    #[async_trait::async_trait]
    impl SharedBudget for MemoryBudget {
        async fn lease(&self, request: &LeaseRequest) -> Result<Lease, BudgetError> {
            tokio::time::sleep(D::from_millis(1)).await;
            if self.failing.load(Ordering::Relaxed) {
                return Err(BudgetError("connection refused".into()));
            }
            self.leases.fetch_add(1, Ordering::Relaxed);
            let now = self.now_ms();
            let mut rows = lock(&self.rows);
            let row = rows.entry(request.key.clone()).or_default();
            let in_window = |(window, used): (i64, u64), number: i64| if window == number { used } else { 0 };
            let (s, m, d) = (now / 1000, now / MINUTE_MS, now / DAY_MS);
            let unused = |minute: bool, number: i64| -> u64 {
                request
                    .unused
                    .iter()
                    .filter(|u| (if minute { u.minute } else { u.day }) == number)
                    .map(|u| u.count)
                    .sum()
            };
            let raise =
                |count: Option<WindowCount>, number: i64| count.filter(|c| c.window == number).map_or(0, |c| c.used);
            let second = in_window(row.second, s);
            let minute = in_window(row.minute, m).saturating_sub(unused(true, m)).max(raise(request.vendor_minute, m));
            let day = in_window(row.day, d).saturating_sub(unused(false, d)).max(raise(request.vendor_day, d));
            row.blocked_until_ms = row.blocked_until_ms.max(request.blocked_until_ms);
            let room = |cap: Option<u64>, used: u64| cap.map_or(u64::MAX, |cap| cap.saturating_sub(used));
            let granted = if row.blocked_until_ms > now || now % 1000 >= 1000 - request.margin_ms {
                0
            } else {
                request
                    .want
                    .min(room(request.caps.second, second))
                    .min(room(request.caps.minute, minute))
                    .min(room(request.caps.day, day))
            };
            *row = Row {
                second: (s, second + granted),
                minute: (m, minute + granted),
                day: (d, day + granted),
                blocked_until_ms: row.blocked_until_ms,
            };
            Ok(Lease {
                granted,
                now_ms: now,
                second_used: row.second.1,
                minute_used: row.minute.1,
                day_used: row.day.1,
                blocked_until_ms: row.blocked_until_ms,
            })
        }

        async fn block(&self, key: &str, until_ms: i64) -> Result<(), BudgetError> {
            let mut rows = lock(&self.rows);
            let row = rows.entry(key.to_string()).or_default();
            row.blocked_until_ms = row.blocked_until_ms.max(until_ms);
            Ok(())
        }
    }

    /// A node: its own limiter on the shared `budget`, with the same wall clock.
    fn node(budget: &Arc<MemoryBudget>, limits: VendorLimits, share: f64) -> Arc<VendorRateLimiter> {
        let mut limiter = VendorRateLimiter::new(limits, D::from_secs(10), 1000).with_background_share(share);
        limiter.clock = WallClock { anchor: budget.anchor, anchor_epoch_ms: ON_A_MINUTE_MS };
        Arc::new(limiter.with_shared_budget(budget.clone()))
    }

    /// Admission times (the budget's epoch ms) of `n` concurrent callers of `priority` on `node`.
    fn spawn_calls(
        budget: &Arc<MemoryBudget>,
        node: &Arc<VendorRateLimiter>,
        n: usize,
        priority: Priority,
    ) -> Vec<tokio::task::JoinHandle<i64>> {
        (0..n)
            .map(|_| {
                let (budget, node) = (budget.clone(), node.clone());
                tokio::spawn(async move {
                    let _permit = node.acquire(CLIENT, priority).await.expect("admitted");
                    budget.now_ms()
                })
            })
            .collect()
    }

    async fn times(tasks: Vec<tokio::task::JoinHandle<i64>>) -> Vec<i64> {
        let mut times = Vec::new();
        for task in tasks {
            times.push(task.await.unwrap());
        }
        times
    }

    #[tokio::test(start_paused = true)]
    async fn nodes_sharing_a_budget_never_put_more_than_the_limit_in_a_second_nor_send_in_its_margin() {
        let budget = MemoryBudget::new();
        let nodes = [0, 1, 2].map(|_| node(&budget, VendorLimits::DEFAULT, 1.0));
        let tasks: Vec<_> = nodes.iter().flat_map(|n| spawn_calls(&budget, n, 60, Priority::Interactive)).collect();
        let times = times(tasks).await;
        assert_eq!(times.len(), 180);
        let mut per_second = BTreeMap::new();
        for t in &times {
            *per_second.entry(t / 1000).or_insert(0) += 1;
            assert!(t % 1000 < 950, "sent at {t}: within the jitter margin of the second's end");
        }
        assert!(per_second.values().all(|n| *n <= 25), "{per_second:?}");
        // Alone, each node would have sent 25 in the first second: 75 in all.
        assert_eq!(per_second.values().next(), Some(&25));
        let leases = budget.leases.load(Ordering::Relaxed);
        assert!(leases < 180, "calls are leased in batches: {leases} leases for 180 calls");
    }

    #[tokio::test(start_paused = true)]
    async fn calls_leased_and_never_sent_are_given_back_to_the_minute() {
        let budget = MemoryBudget::new();
        let node = node(&budget, VendorLimits::DEFAULT, 1.0);
        let mut tasks = spawn_calls(&budget, &node, 5, Priority::Interactive);
        // The first caller leases one call (1 ms); the four behind it then lease four together,
        // and three of them give up while that lease is under way.
        tokio::time::sleep(D::from_micros(1500)).await;
        for task in tasks.drain(2..) {
            task.abort();
        }
        assert_eq!(times(tasks).await.len(), 2);
        assert_eq!(budget.row().minute.1, 5, "1 + 4 leased");
        tokio::time::sleep(D::from_secs(1)).await;
        let _permit = node.acquire(CLIENT, Priority::Interactive).await.unwrap();
        assert_eq!(
            budget.row().minute.1,
            4,
            "the 3 never sent came back with the next lease, which took the last second's 2"
        );
        assert_eq!(budget.row().second.1, 2, "a new second");
    }

    #[tokio::test(start_paused = true)]
    async fn a_vendor_429_seen_by_one_node_holds_every_node_back() {
        let budget = MemoryBudget::new();
        let (a, b) = (node(&budget, VendorLimits::DEFAULT, 1.0), node(&budget, VendorLimits::DEFAULT, 1.0));
        a.observe(CLIENT, &headers(&[("retry-after", "3")]), StatusCode::TOO_MANY_REQUESTS);
        tokio::task::yield_now().await; // the block is written in a task of its own
        let start = Instant::now();
        let _permit = b.acquire(CLIENT, Priority::Interactive).await.expect("within 10 s");
        assert!(Instant::now() - start >= D::from_secs(3), "node B waited out A's block");
        assert!(Instant::now() - start < D::from_millis(3100));
    }

    #[tokio::test(start_paused = true)]
    async fn the_vendors_count_raises_the_shared_minute() {
        let budget = MemoryBudget::new();
        let (a, b) = (node(&budget, VendorLimits::DEFAULT, 1.0), node(&budget, VendorLimits::DEFAULT, 1.0));
        let _permit = a.acquire(CLIENT, Priority::Interactive).await.unwrap();
        // Another application on the same client used 1,495 of the minute: 5 left.
        a.observe(CLIENT, &headers(&[(CLIENT_HEADERS.throttle_available, "5")]), StatusCode::OK);
        tokio::time::sleep(D::from_secs(1)).await;
        let _next = a.acquire(CLIENT, Priority::Interactive).await.unwrap();
        assert_eq!(budget.row().minute.1, 1496, "raised to the vendor's count, never lowered");
        let mut admitted = 0;
        for _ in 0..10 {
            match b.acquire(CLIENT, Priority::Interactive).await {
                Ok(_permit) => admitted += 1,
                Err(refused) => assert!(refused.retry_after > D::from_secs(50), "the minute's end: {refused:?}"),
            }
        }
        assert_eq!(admitted, 4, "node B got only what is left of the vendor's minute");
    }

    #[tokio::test(start_paused = true)]
    async fn background_work_of_all_nodes_takes_only_its_share_and_interactive_calls_the_rest() {
        let budget = MemoryBudget::new();
        let limits = limits(Some(4), None, None);
        let (a, b) = (node(&budget, limits, 0.5), node(&budget, limits, 0.5));
        let background: Vec<_> =
            [&a, &b].into_iter().flat_map(|n| spawn_calls(&budget, n, 2, Priority::Background)).collect();
        tokio::time::sleep(D::from_millis(10)).await;
        let interactive = times(spawn_calls(&budget, &b, 2, Priority::Interactive)).await;
        let background = times(background).await;
        let first_second = ON_A_MINUTE_MS / 1000;
        let in_first = |times: &[i64]| times.iter().filter(|t| *t / 1000 == first_second).count();
        assert_eq!(in_first(&background), 2, "half of 4 for background work across both nodes: {background:?}");
        assert_eq!(in_first(&interactive), 2, "the rest for users' calls: {interactive:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn nodes_calling_one_account_through_two_clients_keep_the_accounts_minute_together() {
        let budget = MemoryBudget::new();
        let account_node = || {
            let mut limiter = VendorRateLimiter::new(VendorLimits::DEFAULT, D::from_secs(5), 1000)
                .with_account_limits(limits(None, Some(10), None));
            limiter.clock = WallClock { anchor: budget.anchor, anchor_epoch_ms: ON_A_MINUTE_MS };
            Arc::new(limiter.with_shared_budget(budget.clone()))
        };
        let nodes = [account_node(), account_node()];
        let mut calls = Vec::new();
        for (n, node) in nodes.iter().enumerate() {
            for _ in 0..10 {
                let node = node.clone();
                let who = into(if n == 0 { "client-a" } else { "client-b" }, "ab123.infusionsoft.com");
                calls.push(tokio::spawn(
                    async move { node.acquire_for(who, Priority::Interactive, None).await.is_ok() },
                ));
            }
        }
        let mut admitted = 0;
        for call in calls {
            admitted += usize::from(call.await.unwrap());
        }
        assert_eq!(admitted, 10, "each node alone would have admitted 10");
        let row = lock(&budget.rows)["account:ab123.infusionsoft.com"];
        assert_eq!(row.minute.1, 10, "the account's own row holds the minute of both clients");
    }

    #[tokio::test(start_paused = true)]
    async fn a_node_at_a_steady_rate_leases_its_last_seconds_pace_ahead() {
        let budget = MemoryBudget::new();
        let node = node(&budget, VendorLimits::DEFAULT, 1.0);
        // 10 calls a second, one at a time, for 4 seconds: the first second leases a call per
        // call; afterwards a lease asks for the last second's pace (at most 5).
        for _ in 0..40 {
            let _permit = node.acquire(CLIENT, Priority::Interactive).await.unwrap();
            tokio::time::sleep(D::from_millis(100)).await;
        }
        let leases = budget.leases.load(Ordering::Relaxed);
        assert!(leases <= 20, "{leases} leases for 40 calls");
        assert!(budget.row().minute.1 >= 40, "every call was leased");
        assert!(budget.row().minute.1 <= 45, "at most a batch more than was sent: {}", budget.row().minute.1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_budget_leaves_each_node_to_its_own_limits() {
        let budget = MemoryBudget::new();
        budget.failing.store(true, Ordering::Relaxed);
        let node = node(&budget, limits(Some(2), None, None), 1.0);
        let start = Instant::now();
        let admitted = burst(&node, 3).await;
        assert!(admitted[1] - start < D::from_millis(10), "no error, no wait for the database: {admitted:?}");
        assert!(admitted[2] - start >= D::from_millis(1050), "the node's own limit still holds: {admitted:?}");
        assert_eq!(budget.leases.load(Ordering::Relaxed), 0);
    }
}
