//! The durable job queue: its values ([`NewJob`], [`Job`], [`JobState`]) and the SQL behind
//! [`crate::CoordinationStore::enqueue`], the store types' `enqueue_in` (inside a caller's
//! transaction), [`crate::CoordinationStore::claim_jobs`], [`crate::CoordinationStore::extend_job_lease`],
//! [`crate::CoordinationStore::complete_job`], [`crate::CoordinationStore::fail_job`] and
//! [`crate::CoordinationStore::dead_jobs`].
//!
//! A job is one row of `jobs`, moving `ready` → `running` (claimed: leased to one owner until
//! `lease_until`) → `done`, or back to `ready` on a failure with a retry time, or to `dead` (the
//! dead letters) once it fails without one or runs out of attempts. A `running` job whose lease has
//! expired is claimable again: that is how the work of a node that died moves to another node. An
//! expired claim counts as a failed attempt, so a job that kills its worker every time dies after
//! `max_attempts` claims instead of being retried forever. So a job runs at least once, and more
//! than once only after a failure or when a lease expires under a slow or dead worker: handlers must
//! be idempotent.
//!
//! Claiming is two statements on both databases, each atomic on its own: one buries the jobs whose
//! expired claim was their last attempt, then a CTE picks the due jobs and an `UPDATE ... FROM`
//! leases them, returning the rows. On PostgreSQL both picks are `FOR UPDATE SKIP LOCKED`, so
//! concurrent claimers lock disjoint rows without waiting on each other; on SQLite each statement
//! holds the database's single write lock, so claims simply run one after another.
//!
//! Time is the database's clock (`Dialect::now`), like `crate::leases`; only `run_at` and a
//! failure's retry time come from the caller.
//!
//! What this module does not own: what a payload means (callers' JSON), how often a worker polls, and
//! pruning `done` rows (they are kept as a record of what ran).

use std::fmt;

use chrono::{DateTime, Utc};

use crate::repository::{Result, StoreError};
use crate::shared_sql::Dialect;

/// Attempts a job gets when its [`NewJob`] does not say otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// A job to enqueue.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    /// Which workers take it; claims name one queue.
    pub queue: String,
    /// What the worker needs, as JSON (stored as text).
    pub payload: serde_json::Value,
    /// Not claimable before this time; `None` means now by the database's clock.
    pub run_at: Option<DateTime<Utc>>,
    /// Failures (expired claims included) after which the job is dead even when a retry time is
    /// given. At least 1 in effect: 0 behaves like 1.
    pub max_attempts: u32,
}

impl NewJob {
    /// A job on `queue` to run now, with [`DEFAULT_MAX_ATTEMPTS`].
    pub fn new(queue: impl Into<String>, payload: serde_json::Value) -> Self {
        Self { queue: queue.into(), payload, run_at: None, max_attempts: DEFAULT_MAX_ATTEMPTS }
    }
}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Waiting for `run_at`, then for a claim.
    Ready,
    /// Claimed: leased to `lease_owner` until `lease_until` (claimable again after).
    Running,
    /// Completed by its lease holder. Final.
    Done,
    /// Failed for good (no retry time, or attempts exhausted): a dead letter, kept for inspection.
    /// Final.
    Dead,
}

impl JobState {
    /// The value stored in `jobs.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
        }
    }

    /// The state stored as `stored`; anything else is [`StoreError::Corrupt`].
    pub(crate) fn parse(stored: &str) -> Result<Self> {
        match stored {
            "ready" => Ok(Self::Ready),
            "running" => Ok(Self::Running),
            "done" => Ok(Self::Done),
            "dead" => Ok(Self::Dead),
            _ => Err(StoreError::Corrupt("job state")),
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored job, as a claim or the dead-letter list returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    /// The job's row id (job ids stay plain integers: only the queue's callers pass them around).
    pub id: i64,
    pub queue: String,
    pub payload: serde_json::Value,
    pub state: JobState,
    /// Failures so far, counting claims that expired (their worker died or stalled).
    pub attempts: u32,
    pub max_attempts: u32,
    /// When the job became (or becomes) claimable: enqueue time, or the retry time of its last failure.
    pub run_at: DateTime<Utc>,
    /// The claim's holder and its end; set exactly while the job is [`JobState::Running`].
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// The error text of the last failure.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A `jobs` row as stored: state and payload still text, counters still database integers.
pub(crate) struct RawJob {
    pub id: i64,
    pub queue: String,
    pub payload: String,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RawJob {
    /// Parses the stored row; a column that does not parse is [`StoreError::Corrupt`].
    pub fn into_job(self) -> Result<Job> {
        let count = |n: i32, what| u32::try_from(n).map_err(|_| StoreError::Corrupt(what));
        Ok(Job {
            id: self.id,
            queue: self.queue,
            payload: serde_json::from_str(&self.payload).map_err(|_| StoreError::Corrupt("job payload"))?,
            state: JobState::parse(&self.state)?,
            attempts: count(self.attempts, "job attempts")?,
            max_attempts: count(self.max_attempts, "job max_attempts")?,
            run_at: self.run_at,
            lease_owner: self.lease_owner,
            lease_until: self.lease_until,
            last_error: self.last_error,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The columns [`RawJob`] is read from, shared by every query that returns jobs.
pub(crate) const JOB_COLUMNS: &str = "jobs.id, jobs.queue, jobs.payload, jobs.state, jobs.attempts, \
     jobs.max_attempts, jobs.run_at, jobs.lease_owner, jobs.lease_until, jobs.last_error, jobs.created_at, \
     jobs.updated_at";

/// Inserts a ready job: queue `$1`, payload `$2`, run at `$3` (or now when null), `$4` max attempts.
/// Returns its id.
pub(crate) fn enqueue_sql(dialect: &Dialect) -> String {
    format!(
        "INSERT INTO jobs (queue, payload, state, attempts, max_attempts, run_at, created_at, updated_at) \
         VALUES ($1, $2, 'ready', 0, $4, COALESCE($3, {now}), {now}, {now}) RETURNING id",
        now = dialect.now,
    )
}

/// Buries the jobs of queue `$1` whose claim expired with their last attempt: a re-claim would count
/// one more attempt and reach `max_attempts`, so they go to `dead` instead of to another worker (a
/// job that kills its worker every time must not be retried forever). Runs just before each claim,
/// as a statement of its own: burying is idempotent, and a job it misses still fails the claim's
/// pick and is buried by the next claim.
///
/// PostgreSQL: `SKIP LOCKED`, so a burial never waits for another claimer's burial of the same job.
pub(crate) fn bury_sql(dialect: &Dialect) -> String {
    format!(
        "WITH doomed AS MATERIALIZED ( \
             SELECT id FROM jobs WHERE queue = $1 AND state = 'running' AND lease_until <= {now} \
             AND attempts + 1 >= max_attempts{skip_locked} \
         ) \
         UPDATE jobs SET state = 'dead', attempts = jobs.attempts + 1, last_error = {expired}, \
         lease_owner = NULL, lease_until = NULL, updated_at = {now} \
         FROM doomed WHERE jobs.id = doomed.id",
        now = dialect.now,
        skip_locked = dialect.skip_locked,
        expired = LEASE_EXPIRED_ERROR,
    )
}

/// The `last_error` of a job whose claim expired (its worker died or stalled), as an SQL expression
/// of the row before the update: e.g. `lease of worker-a expired (attempt 2 of 5)`.
const LEASE_EXPIRED_ERROR: &str = "'lease of ' || jobs.lease_owner || ' expired (attempt ' \
     || CAST(jobs.attempts + 1 AS TEXT) || ' of ' || CAST(jobs.max_attempts AS TEXT) || ')'";

/// Leases up to `$4` due jobs of queue `$1` to owner `$2` for `$3` milliseconds, oldest `run_at`
/// first, and returns them. Due: ready with `run_at` passed, or running with an expired lease and
/// an attempt left ([`bury_sql`] runs first and takes the others). Re-claiming an expired claim
/// counts an attempt and records the expiry as the last error: the worker that held it died or
/// stalled, which is a failure like any other.
///
/// `MATERIALIZED` makes the pick run exactly once (PostgreSQL would otherwise be free to inline it
/// into the join and re-run it, locking more rows than `$4`); SQLite accepts the keyword too. The
/// `CASE`s read the row as it was before the update (both databases evaluate `SET` that way).
pub(crate) fn claim_sql(dialect: &Dialect) -> String {
    format!(
        "WITH picked AS MATERIALIZED ( \
             SELECT id FROM jobs WHERE queue = $1 \
             AND ((state = 'ready' AND run_at <= {now}) \
                  OR (state = 'running' AND lease_until <= {now} AND attempts + 1 < max_attempts)) \
             ORDER BY run_at, id LIMIT $4{skip_locked} \
         ) \
         UPDATE jobs SET state = 'running', lease_owner = $2, lease_until = {until}, updated_at = {now}, \
         attempts = CASE WHEN jobs.state = 'running' THEN jobs.attempts + 1 ELSE jobs.attempts END, \
         last_error = CASE WHEN jobs.state = 'running' THEN {expired} ELSE jobs.last_error END \
         FROM picked WHERE jobs.id = picked.id \
         RETURNING {JOB_COLUMNS}",
        now = dialect.now,
        until = dialect.millis_from_now("$3"),
        skip_locked = dialect.skip_locked,
        expired = LEASE_EXPIRED_ERROR,
    )
}

/// Extends job `$1`'s lease to `$3` milliseconds from now if owner `$2` holds it.
///
/// Like a lease renewal (`crate::leases`), an expired claim nobody has re-claimed can still be
/// extended (and completed, and failed) by its owner: nobody else ran the job in between.
pub(crate) fn extend_sql(dialect: &Dialect) -> String {
    format!(
        "UPDATE jobs SET lease_until = {until}, updated_at = {now} \
         WHERE id = $1 AND state = 'running' AND lease_owner = $2",
        now = dialect.now,
        until = dialect.millis_from_now("$3"),
    )
}

/// Marks job `$1` done if owner `$2` holds its claim.
pub(crate) fn complete_sql(dialect: &Dialect) -> String {
    format!(
        "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, updated_at = {now} \
         WHERE id = $1 AND state = 'running' AND lease_owner = $2",
        now = dialect.now,
    )
}

/// Records a failure of job `$1` by claim holder `$2` with error `$3`: one more attempt, then back to
/// ready at `$4` when a retry time is given and attempts remain, dead otherwise. Returns the new state.
pub(crate) fn fail_sql(dialect: &Dialect) -> String {
    format!(
        "UPDATE jobs SET attempts = attempts + 1, last_error = $3, \
         state = CASE WHEN $4 IS NOT NULL AND attempts + 1 < max_attempts THEN 'ready' ELSE 'dead' END, \
         run_at = COALESCE($4, run_at), lease_owner = NULL, lease_until = NULL, updated_at = {now} \
         WHERE id = $1 AND state = 'running' AND lease_owner = $2 \
         RETURNING state",
        now = dialect.now,
    )
}

/// Up to `$2` dead jobs of queue `$1`, most recently failed first.
pub(crate) fn dead_jobs_sql() -> String {
    format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE queue = $1 AND state = 'dead' \
         ORDER BY updated_at DESC, id DESC LIMIT $2"
    )
}

/// A stored counter of attempts: the database column is a 32-bit integer.
pub(crate) fn attempts_column(attempts: u32) -> i32 {
    i32::try_from(attempts).unwrap_or(i32::MAX)
}
