//! The PostgreSQL implementation of [`crate::Store`]: for several nodes sharing one database.
//!
//! Owns the PostgreSQL connection settings and dialect; the queries themselves are in `shared_sql`.

use sqlx::postgres::PgPoolOptions;

use crate::instance_locks::InstanceLocks;
use crate::sealing::KeyState;
use crate::shared_sql::{implement_store, Dialect};

static POSTGRES: Dialect = Dialect {
    begin_write: "BEGIN",
    // Row locks exclude other connections and other nodes until commit.
    for_update: " FOR UPDATE",
    // Tags are JSON text in both schemas (one shape for both); jsonb containment does the work here.
    tags_contain_all: "tags::jsonb @> $3::jsonb",
    refresh_before_transaction: false,
    // Not `now()`: that is the transaction's start, which inside a caller's long transaction
    // (`enqueue_in`) can be far in the past.
    now: "statement_timestamp()",
    now_plus_millis: "(statement_timestamp() + ({millis}) * INTERVAL '1 millisecond')",
    skip_locked: " FOR UPDATE SKIP LOCKED",
};

/// Migrations for PostgreSQL, embedded in the binary.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The store on a PostgreSQL database. Timestamps are `timestamptz`.
#[derive(Debug)]
pub struct PostgresStore {
    pool: sqlx::PgPool,
    keys: KeyState,
    locks: InstanceLocks,
    dialect: &'static Dialect,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://...`), runs the migrations (sqlx serializes concurrent runs with
    /// an advisory lock, so nodes may start together), and checks `keyring` against the canary.
    ///
    /// No TLS: the crate is built without sqlx's TLS features, so `sslmode=require` fails to connect.
    pub async fn connect(url: &str, keyring: crate::Keyring) -> crate::Result<Self> {
        let pool = PgPoolOptions::new().max_connections(16).connect(url).await?;
        MIGRATOR.run(&pool).await?;
        let keys = Self::load_keys(&pool, &POSTGRES, keyring).await?;
        Ok(Self { pool, keys: KeyState::new(keys), locks: InstanceLocks::default(), dialect: &POSTGRES })
    }

    /// The shared vendor budget on this database (`Store::vendor_budget`).
    fn vendor_budget_table(&self) -> Option<crate::vendor_budget::VendorBudgetTable> {
        Some(crate::vendor_budget::VendorBudgetTable::new(self.pool.clone()))
    }

    /// The pool, for tests that inspect raw rows.
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }
}

implement_store!(PostgresStore, sqlx::Postgres);
