//! The vendor's limits shared by every node (SPEC "Scaling out"), as one node takes part in them:
//! the [`SharedBudget`] trait a store implements (PostgreSQL: one statement per lease), and
//! `SharedLeases`, which leases small batches of calls through it for the limiter so that the
//! database stays off the per-call path. The design and its guarantees are described in
//! [`crate::rate_limit`] ("Several Junction nodes"); the values exchanged are in
//! [`domain::shared_budget`].

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use domain::shared_budget::{Caps, Lease, LeaseRequest, Unused, WindowCount, DAY_MS, MINUTE_MS, SECOND_MS};
use tokio::time::Instant;

use crate::rate_limit::{Priority, Throttled};

/// The most calls one lease of a client's asks for: a node's batch never holds much of the
/// second's 25.
pub const LEASE_BATCH_MAX: u64 = 5;

/// The most calls one lease of an account's asks for. An account has no window of a second, and
/// its minute (10,000) is far above what a node sends in one, so its batches may be larger (at
/// most a hundredth of the minute).
pub const ACCOUNT_LEASE_BATCH_MAX: u64 = 25;

/// The end of each second in which no shared call is leased or sent, at least: a call leased
/// earlier still has to get its token, be written and be scheduled on a busy node's CPU before it
/// leaves, and then cross the network. At 50 ms (the network jitter alone) a loaded 2-core node
/// sent calls that reached the vendor in the next second; 200 ms costs nothing at the limit (25
/// calls fit in the first 800 ms) and delays a call that arrives in it to the next second.
pub const SEND_MARGIN: Duration = Duration::from_millis(200);

/// How long a node keeps to its own limits after the shared budget failed, before trying it again.
const FALLBACK_PERIOD: Duration = Duration::from_secs(1);

/// The budget every node shares, kept where all of them can reach it (the store's database).
#[async_trait]
pub trait SharedBudget: Send + Sync + fmt::Debug {
    /// Leases up to `request.want` calls of the current second, atomically across nodes, and
    /// applies what the request gives back or reports (unused calls, the vendor's counts, a block).
    async fn lease(&self, request: &LeaseRequest) -> Result<Lease, BudgetError>;

    /// Holds every node back from `key`'s calls until `until_ms` (epoch ms, the budget's clock).
    async fn block(&self, key: &str, until_ms: i64) -> Result<(), BudgetError>;
}

/// The shared budget could not be reached or failed; the node keeps to its own limits meanwhile.
#[derive(Debug, thiserror::Error)]
#[error("the shared vendor budget failed: {0}")]
pub struct BudgetError(pub String);

/// One node's part in the shared budget: per OAuth client and per vendor account, the batches of
/// calls it holds, what it will give back or report with its next lease, and at most one lease
/// under way.
pub(crate) struct SharedLeases {
    budget: Arc<dyn SharedBudget>,
    margin: Duration,
    /// Per OAuth client (by id) and per vendor account (by tenant id).
    clients: Mutex<HashMap<String, Arc<SharedParty>>>,
    accounts: Mutex<HashMap<String, Arc<SharedParty>>>,
    /// Until when the node keeps to its own limits after a failed lease.
    fallback_until: Mutex<Option<Instant>>,
    /// Leases taken (statements run), for the measurements.
    leases: AtomicU64,
}

impl fmt::Debug for SharedLeases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedLeases").field("budget", &self.budget).field("margin", &self.margin).finish()
    }
}

/// Whom a shared budget counts calls against: an OAuth client (or API key) by id, or a vendor
/// account by tenant id. Each has a row of its own (`client:<id>`, `account:<id>`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Party<'a> {
    Client(&'a str),
    Account(&'a str),
}

/// The shared budget of one [`Party`] as this node takes part in it.
struct SharedParty {
    key: String,
    /// An account's (larger batches), or a client's.
    account: bool,
    held: Mutex<Held>,
    /// One lease at a time per party; the callers behind it usually find its batch.
    leasing: tokio::sync::Mutex<()>,
    /// Callers waiting for a shared call, per priority (sizes the next lease).
    waiting: [AtomicU64; 2],
}

#[derive(Default)]
struct Held {
    /// The current batch leased by interactive and by background callers.
    batches: [Option<Batch>; 2],
    /// Calls of expired batches never sent, to give back with the next lease.
    unused: Vec<Unused>,
    vendor_minute: Option<WindowCount>,
    vendor_day: Option<WindowCount>,
    blocked_until_ms: i64,
    /// After a lease that granted nothing, per priority (a refused background lease does not hold
    /// interactive callers back): no new lease before this.
    retry_not_before: [Option<Instant>; 2],
    /// Calls taken from the batches, per priority of the callers.
    pace: [Pace; 2],
}

/// How many calls a node's callers of one priority took of a party's batches in the last second:
/// the next lease asks for that many, not only for the callers waiting, so that at a steady rate
/// below the limit most calls find a call held instead of each taking a lease of its own (one
/// round trip to the database). Calls not sent go back with the next lease.
#[derive(Default, Clone, Copy)]
struct Pace {
    /// When the current second of counting began.
    since: Option<Instant>,
    this_second: u64,
    last_second: u64,
}

impl Pace {
    fn roll(&mut self, now: Instant) {
        match self.since {
            Some(since) if now < since + Duration::from_secs(1) => {}
            Some(since) => {
                let recent = now < since + Duration::from_secs(2);
                self.last_second = if recent { self.this_second } else { 0 };
                self.this_second = 0;
                self.since = Some(now);
            }
            None => self.since = Some(now),
        }
    }

    fn count(&mut self, now: Instant) {
        self.roll(now);
        self.this_second += 1;
    }

    fn last_second(&mut self, now: Instant) -> u64 {
        self.roll(now);
        self.last_second
    }
}

#[derive(Clone, Copy)]
struct Batch {
    remaining: u64,
    /// The last instant a call of the batch may be sent and still reach the vendor in its second.
    usable_until: Instant,
    minute: i64,
    day: i64,
}

fn slot(priority: Priority) -> usize {
    match priority {
        Priority::Interactive => 0,
        Priority::Background => 1,
    }
}

impl Held {
    /// Takes a call from a batch `priority` may use (interactive callers may use background
    /// batches too, not the other way round); expired batches go to `unused`.
    fn take(&mut self, priority: Priority, now: Instant) -> bool {
        for batch in &mut self.batches {
            if let Some(b) = batch {
                if b.usable_until <= now {
                    if b.remaining > 0 {
                        self.unused.push(Unused { minute: b.minute, day: b.day, count: b.remaining });
                    }
                    *batch = None;
                }
            }
        }
        let usable: &[usize] = match priority {
            Priority::Interactive => &[0, 1],
            Priority::Background => &[1],
        };
        for &i in usable {
            if let Some(batch) = self.batches[i].as_mut().filter(|b| b.remaining > 0) {
                batch.remaining -= 1;
                self.pace[slot(priority)].count(now);
                return true;
            }
        }
        false
    }
}

impl SharedLeases {
    pub(crate) fn new(budget: Arc<dyn SharedBudget>, margin: Duration) -> Self {
        SharedLeases {
            budget,
            margin: margin.max(SEND_MARGIN),
            clients: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
            fallback_until: Mutex::new(None),
            leases: AtomicU64::new(0),
        }
    }

    pub(crate) fn leases_taken(&self) -> u64 {
        self.leases.load(Ordering::Relaxed)
    }

    fn party(&self, party: Party<'_>) -> Arc<SharedParty> {
        let (map, prefix, id, account) = match party {
            Party::Client(id) => (&self.clients, "client", id, false),
            Party::Account(id) => (&self.accounts, "account", id, true),
        };
        let mut map = lock(map);
        if let Some(shared) = map.get(id) {
            return shared.clone();
        }
        let shared = Arc::new(SharedParty {
            key: format!("{prefix}:{id}"),
            account,
            held: Mutex::new(Held::default()),
            leasing: tokio::sync::Mutex::new(()),
            waiting: [AtomicU64::new(0), AtomicU64::new(0)],
        });
        map.insert(id.to_string(), shared.clone());
        shared
    }

    fn in_fallback(&self, now: Instant) -> bool {
        lock(&self.fallback_until).is_some_and(|until| until > now)
    }

    fn fall_back(&self, now: Instant, why: &str) {
        let mut until = lock(&self.fallback_until);
        if until.is_none_or(|u| u <= now) {
            tracing::warn!(
                error = why,
                "shared vendor budget unavailable; this node keeps to its own limits for {FALLBACK_PERIOD:?}"
            );
        }
        *until = Some(now + FALLBACK_PERIOD);
    }

    /// Waits for a call of the shared budget of `party` within `caps`, leasing a batch when the
    /// node holds none; [`Throttled`] when none can be had by `deadline`. When the budget fails
    /// the call goes on the node's own limits (the caller's local log), with a warning.
    pub(crate) async fn take(
        &self,
        party: Party<'_>,
        priority: Priority,
        caps: Caps,
        deadline: Instant,
    ) -> Result<(), Throttled> {
        let entry = self.party(party);
        let waiting = &entry.waiting[slot(priority)];
        waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = scopeguard(|| {
            waiting.fetch_sub(1, Ordering::Relaxed);
        });
        loop {
            let now = Instant::now();
            if lock(&entry.held).take(priority, now) || self.in_fallback(now) {
                return Ok(());
            }
            let retry_not_before = lock(&entry.held).retry_not_before[slot(priority)];
            if let Some(at) = retry_not_before.filter(|at| *at > now) {
                if at > deadline {
                    return Err(Throttled::after(at - now));
                }
                tokio::time::sleep_until(at).await;
                continue;
            }
            let _leasing = match tokio::time::timeout_at(deadline, entry.leasing.lock()).await {
                Ok(guard) => guard,
                Err(_) => return Err(Throttled::after(Duration::ZERO)),
            };
            let now = Instant::now();
            if lock(&entry.held).take(priority, now) {
                return Ok(());
            }
            if lock(&entry.held).retry_not_before[slot(priority)].is_some_and(|at| at > now) {
                continue;
            }
            let request = self.request(&entry, priority, caps);
            let sent = Instant::now();
            self.leases.fetch_add(1, Ordering::Relaxed);
            // A slow lease is waited for, up to the caller's deadline: a busy database is not a
            // reason to send more than the limit. Only a failed one puts the node on its own.
            let answer = tokio::time::timeout_at(deadline, self.budget.lease(&request)).await;
            let now = Instant::now();
            match answer {
                Ok(Ok(lease)) => self.record(&entry, priority, &caps, &lease, sent, now),
                Ok(Err(error)) => {
                    self.fall_back(now, &error.to_string());
                    return Ok(());
                }
                Err(_) => return Err(Throttled::after(Duration::ZERO)),
            }
        }
    }

    /// The next lease for `entry`: as many calls as its callers of `priority` wait for, or took in
    /// the last second if more ([`Pace`]; an account's: at most a hundredth of its minute), at
    /// most [`LEASE_BATCH_MAX`] ([`ACCOUNT_LEASE_BATCH_MAX`] for an account), with everything held
    /// to give back or report.
    fn request(&self, entry: &SharedParty, priority: Priority, caps: Caps) -> LeaseRequest {
        let waiting = entry.waiting[slot(priority)].load(Ordering::Relaxed);
        let mut held = lock(&entry.held);
        let pace = held.pace[slot(priority)].last_second(Instant::now());
        LeaseRequest {
            key: entry.key.clone(),
            want: if entry.account {
                let ahead = pace.min(caps.minute.map_or(u64::MAX, |minute| minute / 100));
                waiting.max(ahead).clamp(1, ACCOUNT_LEASE_BATCH_MAX)
            } else {
                waiting.max(pace).clamp(1, LEASE_BATCH_MAX)
            },
            caps,
            margin_ms: self.margin.as_millis() as i64,
            unused: std::mem::take(&mut held.unused),
            vendor_minute: held.vendor_minute.take(),
            vendor_day: held.vendor_day.take(),
            blocked_until_ms: held.blocked_until_ms,
        }
    }

    /// Keeps a lease's batch, usable until the margin before its second ends on the budget's
    /// clock (measured from before the statement was sent: never later than the truth), or, if it
    /// granted nothing, when to try again (from after the answer: never earlier).
    fn record(&self, entry: &SharedParty, priority: Priority, caps: &Caps, lease: &Lease, sent: Instant, now: Instant) {
        let millis = |ms: i64| Duration::from_millis(u64::try_from(ms).unwrap_or(0));
        let mut held = lock(&entry.held);
        if lease.granted > 0 {
            let second_end = (lease.now_ms.div_euclid(SECOND_MS) + 1) * SECOND_MS;
            let batch = Batch {
                remaining: lease.granted,
                usable_until: sent + millis(second_end - self.margin.as_millis() as i64 - lease.now_ms),
                minute: lease.now_ms.div_euclid(MINUTE_MS),
                day: lease.now_ms.div_euclid(DAY_MS),
            };
            if let Some(old) = held.batches[slot(priority)].replace(batch) {
                if old.remaining > 0 {
                    held.unused.push(Unused { minute: old.minute, day: old.day, count: old.remaining });
                }
            }
            held.retry_not_before[slot(priority)] = None;
        } else {
            held.retry_not_before[slot(priority)] = Some(now + millis(lease.retry_at_ms(caps) - lease.now_ms));
        }
    }

    /// Notes what the vendor's headers said its minute and day hold (`used`, by window number on
    /// this node's clock), for the next lease to raise the shared counts to.
    pub(crate) fn vendor_counts(&self, party: Party<'_>, minute: Option<WindowCount>, day: Option<WindowCount>) {
        let entry = self.party(party);
        let mut held = lock(&entry.held);
        let higher = |old: Option<WindowCount>, new: Option<WindowCount>| match (old, new) {
            (Some(old), Some(new)) if old.window == new.window => {
                Some(WindowCount { used: old.used.max(new.used), ..new })
            }
            (old, new) => new.or(old),
        };
        held.vendor_minute = higher(held.vendor_minute, minute);
        held.vendor_day = higher(held.vendor_day, day);
    }

    /// Holds every node back from `party`'s calls until `until_ms` (epoch ms): recorded for the
    /// next lease, and written at once in a task of its own (the caller does not wait for it).
    pub(crate) fn block(&self, party: Party<'_>, until_ms: i64) {
        let entry = self.party(party);
        {
            let mut held = lock(&entry.held);
            held.blocked_until_ms = held.blocked_until_ms.max(until_ms);
            // Batches already held would still send: drop them (their calls count as sent).
            held.batches = [None, None];
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let budget = self.budget.clone();
        let key = entry.key.clone();
        runtime.spawn(async move {
            if let Err(error) = budget.block(&key, until_ms).await {
                tracing::warn!(%error, "could not share a vendor block with the other nodes");
            }
        });
    }
}

/// Runs `f` when dropped.
fn scopeguard<F: FnOnce()>(f: F) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
