//! Junction's persistent state: organizations, users, instances with their sealed secrets and token
//! bookkeeping, the audit of token events, and each organization's common resources, on SQLite (one
//! node) or PostgreSQL (many nodes).
//!
//! # Layout
//! - [`repository`]: the [`Store`] trait every caller uses, made of one trait per area
//!   ([`InstanceStore`], [`IdentityStore`], [`ConsoleStore`], [`TraceStore`], [`CoordinationStore`],
//!   [`EventStore`], [`ResourceStore`]), and [`StoreError`];
//! - [`events`]: the event poller's and outbox's values, and which changes a poll reports;
//! - [`bulk`]: bulk jobs' values, and the step rule that keeps a job's results exact across crashes;
//! - [`formulas`]: the formula templates' values (an organization's templates, by id and name);
//! - [`formula_runs`]: formula instances, executions and their step records;
//! - [`resources`]: the common resources' values (an organization's object definitions and
//!   transformations, and where each applies);
//! - [`records`]: the values it reads and writes, and the [`Secret`] types that cannot be logged;
//! - [`crypto`]: the master key, keyring, AEAD sealing, salted and keyed hashes;
//! - `sealing`: which associated data each sealed column is bound to, and the row type;
//! - `shared_sql`: the SQL both implementations share, with one module per area (`instance_sql`,
//!   `identity_sql`, `console_sql`, `trace_sql`, `coordination_sql`, `event_sql`, `resource_sql`, `bulk_sql`);
//!   [`sqlite`] and [`postgres`]: the implementations, each with its connection settings, dialect
//!   and migrations (`migrations/sqlite`, `migrations/postgres`);
//! - `instance_locks`: the in-process queue in front of the refresh critical section;
//! - `leases` and [`queue`]: coordination between nodes sharing the database, i.e. expiring
//!   exclusive leases and a durable job queue with leased claims and dead letters (their SQL, and
//!   the queue's values);
//! - [`vendor_budget`]: the vendor's rate limits shared by every node on PostgreSQL (leases of
//!   calls, one statement each);
//! - [`authorization_codes`]: the registry of OAuth authorization codes claimed before their
//!   exchange, so a replayed code never reaches the vendor twice.
//!
//! No SQL leaves this crate, and no secret leaves it in clear except through [`Secret::expose`].

pub mod authorization_codes;
pub mod bulk;
mod bulk_sql;
mod console_sql;
mod coordination_sql;
pub mod crypto;
mod event_sql;
pub mod events;
mod formula_run_sql;
pub mod formula_runs;
mod formula_sql;
pub mod formulas;
mod identity_sql;
mod instance_locks;
mod instance_sql;
mod leases;
pub mod postgres;
pub mod queue;
pub mod records;
pub mod repository;
mod resource_sql;
pub mod resources;
mod sealing;
mod shared_sql;
pub mod sqlite;
mod trace_sql;
pub mod vendor_budget;

use std::path::PathBuf;
use std::sync::Arc;

pub use authorization_codes::{ClaimedCode, CodeClaim, AUTHORIZATION_CODE_TTL};
pub use bulk::{
    BulkFinish, BulkJob, BulkKind, BulkRowError, BulkStatus, BulkStep, NewBulkJob, ResultChunk, StoredChunk,
    BULK_NOTIFY_QUEUE, BULK_QUEUE,
};
pub use crypto::{CryptoError, Keyring, MasterKey};
pub use events::{
    ChangeKind, DeliveryResult, EventCounts, EventQuery, EventStatus, ObjectPoll, PollCommit, SeenRecord, StoredEvent,
};
pub use formula_runs::{
    ExecutionRecord, ExecutionStatus, ExecutionStep, FormulaInstanceRecord, NewExecution, NewFormulaInstance,
    StepFinish, StepStatus, FORMULA_QUEUE,
};
pub use formulas::FormulaRecord;
pub use postgres::PostgresStore;
pub use queue::{Job, JobState, NewJob, DEFAULT_MAX_ATTEMPTS};
pub use records::*;
pub use repository::{
    BoxFuture, BulkStore, ConsoleStore, CoordinationStore, EventStore, FormulaRunStore, FormulaStore, IdentityStore,
    InstanceStore, ObjectWatermark, RefreshFn, ResourceStore, Result, Store, StoreError, TraceStore,
};
pub use resources::{PutMode, ResourceDocument, ResourceKind, ResourceScope};
pub use sqlite::SqliteStore;
pub use vendor_budget::VendorBudgetTable;

/// Connects to the store named by `url`, runs its migrations, and checks `keyring` against it:
/// `sqlite://PATH` (created if missing, WAL) or `sqlite::memory:`; `postgres://...` or
/// `postgresql://...`. A keyring that does not match the database is [`StoreError::WrongMasterKey`].
pub async fn connect(url: &str, keyring: Keyring) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(url, keyring).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::connect(url, keyring).await?))
    } else {
        // Only the scheme: the rest of a URL may hold a password.
        let scheme = url.split(':').next().unwrap_or_default();
        Err(StoreError::UnsupportedUrl(format!("{scheme}:")))
    }
}

/// Runs [`InstanceStore::refresh_tokens`] in a task of its own and waits for it.
///
/// Use this from request handlers: if the caller's future is dropped (a client disconnects, a
/// timeout fires) after the vendor has rotated the refresh token but before the commit, the section
/// still runs to its commit instead of being cancelled with the only copy of the new pair.
pub async fn refresh_tokens_detached(
    store: Arc<dyn Store>,
    instance_id: InstanceId,
    refresh: RefreshFn,
) -> Result<RefreshResult> {
    let section = tokio::spawn(async move { store.refresh_tokens(instance_id, refresh).await });
    match section.await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        // Cancelled only when the runtime shuts down: report it instead of panicking.
        Err(_) => Err(StoreError::Database(sqlx::Error::PoolClosed)),
    }
}

/// Where the generated master key file lives for a SQLite URL: beside the database, named
/// `<database file>.key` (e.g. `junction.db.key`). `None` for other databases, where a missing
/// master key is a startup error instead.
pub fn key_file_beside(url: &str) -> Option<PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = path.split('?').next()?;
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(format!("{path}.key")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_sits_beside_the_sqlite_database() {
        assert_eq!(key_file_beside("sqlite://junction.db"), Some(PathBuf::from("junction.db.key")));
        assert_eq!(
            key_file_beside("sqlite:///var/lib/j/db.sqlite?mode=rwc"),
            Some(PathBuf::from("/var/lib/j/db.sqlite.key"))
        );
        assert_eq!(key_file_beside("sqlite::memory:"), None);
        assert_eq!(key_file_beside("postgres://localhost/j"), None);
    }
}
