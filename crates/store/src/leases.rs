//! Leases: named, expiring, exclusive claims shared by every node on one database ("this node runs
//! the refresher for the next 30 s"), and the SQL behind [`crate::CoordinationStore::try_lease`],
//! [`crate::CoordinationStore::renew_lease`] and [`crate::CoordinationStore::release_lease`].
//!
//! A lease is one row of `leases`, keyed by `(kind, key)`, naming its `owner` and when it
//! `expires_at`. Each operation is one statement, so two nodes racing for a lease are ordered by the
//! database (PostgreSQL: the primary key's row lock; SQLite: its write lock), and at most one owner
//! holds an unexpired lease at any moment.
//!
//! Time is the database's clock (`Dialect::now`), never the node's: nodes whose clocks disagree
//! still agree on when a lease ends. A lease is not a fence: a holder paused for longer than its TTL
//! may still be acting when another owner takes over, so work guarded by a lease must be safe to
//! repeat or be checked again under a row lock.
//!
//! What this module does not own: choosing owners (callers pass a unique id per process or task) and
//! deciding TTLs (callers renew well before expiry, e.g. every third of the TTL).

use crate::shared_sql::Dialect;

/// Takes the lease `(kind, key) = ($1, $2)` for owner `$3` until `$4` milliseconds from now: inserts it
/// when absent, and takes it over when it has expired or `$3` already holds it (which extends it).
/// Returns the owner's row when taken, nothing when another owner holds it.
pub(crate) fn take_sql(dialect: &Dialect) -> String {
    format!(
        "INSERT INTO leases (kind, key, owner, expires_at) VALUES ($1, $2, $3, {until}) \
         ON CONFLICT (kind, key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
         WHERE leases.expires_at <= {now} OR leases.owner = excluded.owner \
         RETURNING owner",
        until = dialect.millis_from_now("$4"),
        now = dialect.now,
    )
}

/// Extends the lease `($1, $2)` to `$4` milliseconds from now if owner `$3` still holds it.
///
/// An expired lease nobody has taken since is still its owner's row, so renewing it succeeds: no
/// other owner held it in between, so exclusivity was never broken. Once another owner has taken it,
/// the row names that owner and the renewal changes nothing.
pub(crate) fn renew_sql(dialect: &Dialect) -> String {
    format!(
        "UPDATE leases SET expires_at = {until} WHERE kind = $1 AND key = $2 AND owner = $3",
        until = dialect.millis_from_now("$4"),
    )
}

/// Removes the lease `($1, $2)` if owner `$3` holds it; a lease another owner has taken is left alone.
pub(crate) const RELEASE: &str = "DELETE FROM leases WHERE kind = $1 AND key = $2 AND owner = $3";
