//! The SQLite implementation of [`crate::Store`]: the single-node default (`sqlite://junction.db`).
//!
//! Owns the SQLite connection settings and dialect; the queries themselves are in `shared_sql`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::instance_locks::InstanceLocks;
use crate::sealing::KeyState;
use crate::shared_sql::{implement_store, Dialect};

static SQLITE: Dialect = Dialect {
    begin_write: "BEGIN IMMEDIATE",
    // SQLite has no row locks: `BEGIN IMMEDIATE` already holds the database's single write lock.
    for_update: "",
    tags_contain_all: "NOT EXISTS (SELECT 1 FROM json_each($3) AS wanted \
         WHERE wanted.value NOT IN (SELECT have.value FROM json_each(instances.tags) AS have))",
    refresh_before_transaction: true,
    now: "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')",
    // `||` binds tighter than `/` in SQLite, hence the parentheses around the division.
    now_plus_millis: "strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', (({millis}) / 1000.0) || ' seconds')",
    skip_locked: "",
};

/// Migrations for SQLite, embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The store on one SQLite file, in WAL mode.
///
/// Timestamps are stored as RFC 3339 text in UTC (sqlx's chrono encoding): readable in the `sqlite3`
/// shell, and, being all `+00:00`, they sort and compare correctly as text.
#[derive(Debug)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
    keys: KeyState,
    locks: InstanceLocks,
    dialect: &'static Dialect,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://PATH` or `sqlite::memory:`), runs
    /// the migrations, and checks `keyring` against the database's canary.
    pub async fn connect(url: &str, keyring: crate::Keyring) -> crate::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss, and the last
            // commit may be the only copy of a rotated refresh token.
            .synchronous(SqliteSynchronous::Full)
            // Writers queue on `BEGIN IMMEDIATE` (short transactions: a token refresh calls the
            // vendor under its instance's lease, not the write lock).
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        if !url.contains(":memory:") {
            create_private(options.get_filename())?;
        }
        // Each connection to `:memory:` is a database of its own, so an in-memory store gets exactly one.
        let max = if url.contains(":memory:") { 1 } else { 8 };
        // No ping before each query: the database is a local file, and the ping was 5 % of the event
        // poller's CPU (BENCHMARKS.md, "Events").
        let pool =
            SqlitePoolOptions::new().max_connections(max).test_before_acquire(false).connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        let keys = Self::load_keys(&pool, &SQLITE, keyring).await?;
        Ok(Self { pool, keys: KeyState::new(keys), locks: InstanceLocks::default(), dialect: &SQLITE })
    }

    /// No shared vendor budget: one node keeps its limits in memory (`Store::vendor_budget`).
    fn vendor_budget_table(&self) -> Option<crate::vendor_budget::VendorBudgetTable> {
        None
    }

    /// The pool, for tests that inspect raw rows.
    pub fn pool(&self) -> &sqlx::SqlitePool {
        &self.pool
    }
}

/// Creates the database file readable by its owner only (0600, like the master key file beside
/// it): it holds sealed secrets, and their hashes and metadata are nobody else's business. SQLite
/// gives its `-wal` and `-shm` files the database file's mode. An existing file is left as it is.
fn create_private(path: &std::path::Path) -> crate::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(crate::StoreError::Database(sqlx::Error::Io(error))),
    }
}

implement_store!(SqliteStore, sqlx::Sqlite);
