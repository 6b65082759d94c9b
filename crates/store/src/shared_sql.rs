//! The SQL both implementations share, written once and instantiated per database by
//! `implement_store!`: here the dialect, the helpers every area uses and the store-wide methods;
//! each area's queries in its own module (`instance_sql`, `identity_sql`, `console_sql`,
//! `trace_sql`, `coordination_sql`, `event_sql`, `resource_sql`).
//!
//! Why a macro: the queries are the same text on SQLite and PostgreSQL (both accept `$1`
//! placeholders, `RETURNING`, `ON CONFLICT`), but sqlx's executors are typed per database, and a
//! function generic over `sqlx::Database` needs a wall of higher-ranked bounds for every bound and
//! decoded type. `sqlx::Any` would erase the types we need (timestamps) and was ruled out. What
//! differs between the dialects is a [`Dialect`] value, not an `if` at every query.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::records::InstanceId;
use crate::repository::{Result, StoreError};

/// The few SQL fragments that differ between SQLite and PostgreSQL.
#[derive(Debug)]
pub(crate) struct Dialect {
    /// Starts a transaction that will write. SQLite: `BEGIN IMMEDIATE` takes the write lock at once,
    /// so a read-then-write transaction can neither deadlock on lock upgrade nor see data that
    /// changes before it writes. PostgreSQL: a plain `BEGIN`; rows are locked with `FOR UPDATE`.
    pub begin_write: &'static str,
    /// Appended to a `SELECT` that reads rows about to be rewritten.
    pub for_update: &'static str,
    /// A condition true when `instances.tags` (JSON text) contains every tag of `$3` (a JSON array).
    pub tags_contain_all: &'static str,
    /// Whether the vendor's token endpoint is called outside the write transaction, under a
    /// per-instance lease row. SQLite: yes, its one write lock would otherwise stall every writer
    /// for as long as the vendor takes. PostgreSQL: no, the row lock held across the call already
    /// excludes other nodes and locks nothing else.
    pub refresh_before_transaction: bool,
    /// The database's clock, now, as an expression comparable with stored timestamps. Leases and
    /// jobs are timed by it rather than by the node's clock, so nodes whose clocks disagree still
    /// agree on when a lease ends. PostgreSQL: the statement's start (one value per statement).
    /// SQLite: `'now'` (one value per statement too) in the RFC 3339 text the timestamps are stored
    /// as, to the millisecond.
    pub now: &'static str,
    /// [`Dialect::now`] plus `{millis}` milliseconds, `{millis}` standing for a placeholder; see
    /// [`Dialect::millis_from_now`].
    pub now_plus_millis: &'static str,
    /// Appended to the `SELECT` that picks jobs to claim. PostgreSQL: lock the picked rows and skip
    /// rows another claim has locked, so concurrent claimers never wait for or pick the same job.
    /// SQLite: nothing; the claim statement holds the database's single write lock.
    pub skip_locked: &'static str,
}

impl Dialect {
    /// The database's clock `placeholder` (a bound number of milliseconds, see [`millis`]) from now.
    pub fn millis_from_now(&self, placeholder: &str) -> String {
        self.now_plus_millis.replace("{millis}", placeholder)
    }
}

/// A TTL in whole milliseconds, as [`Dialect::millis_from_now`] expects it bound. A TTL too long for
/// the database to add to its clock fails as a database error rather than wrapping.
pub(crate) fn millis(ttl: std::time::Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

/// How long a refresh lease (SQLite) lasts: longer than all a refresh can wait for (a pooled
/// connection, the token endpoint's 30 s, a busy database, the storing retries).
pub(crate) const REFRESH_LEASE_SECS: i64 = 300;
/// Retries of storing a refresh outcome after a database error (the vendor has already rotated).
pub(crate) const STORE_REFRESH_RETRIES: u32 = 3;

/// Maximum page size of `list_instances`.
pub(crate) const MAX_PAGE_SIZE: u32 = 1000;

/// Rows re-sealed per transaction by a key rotation: small enough that a refresh waiting on a row
/// lock waits milliseconds, large enough to keep round trips few.
pub(crate) const ROTATION_BATCH: i64 = 100;

/// Encodes a paging cursor: the last id returned, base64url (opaque, but not secret).
pub(crate) fn encode_cursor(last_id: InstanceId) -> String {
    URL_SAFE_NO_PAD.encode(format!("after:{last_id}"))
}

/// Decodes a cursor made by [`encode_cursor`] into the id to list after, as bound in SQL; `None`
/// means the first page (after 0, below every id).
pub(crate) fn decode_cursor(cursor: Option<&str>) -> Result<i64> {
    let Some(cursor) = cursor.filter(|c| !c.is_empty()) else { return Ok(0) };
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    text.strip_prefix("after:").and_then(|id| id.parse().ok()).ok_or(StoreError::InvalidCursor)
}

/// A `LIKE` pattern matching `text` anywhere, lower-cased, with `\`, `%` and `_` escaped (used with
/// `ESCAPE '\'`); the empty string when there is nothing to search.
pub(crate) fn like_pattern(text: Option<&str>) -> String {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else { return String::new() };
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Maps the errors of an insert: a missing referenced row (foreign key) to [`StoreError::NotFound`],
/// a unique-constraint violation to [`StoreError::Conflict`] naming `what`.
pub(crate) fn on_insert(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e.as_database_error() {
        Some(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        _ => on_unique(what)(e),
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`] naming `what`.
pub(crate) fn on_unique(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match e.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(e),
    }
}

/// Implements [`crate::Store`] and its area traits, the connect-time key check and `enqueue_in` for
/// `$store`, which must have fields `pool: sqlx::Pool<$db>`, `keys: KeyState`, `locks: InstanceLocks`,
/// `dialect: &'static Dialect`.
///
/// This macro holds what every area shares (the imports, the `Db` and `Tx` types, the user row
/// reader, the keyring canary, write transactions) and the store-wide methods; each area's SQL is
/// in a macro of its own module (`instance_sql`, `identity_sql`, `console_sql`, `trace_sql`,
/// `coordination_sql`, `event_sql`, `resource_sql`), expanded here into the same module.
macro_rules! implement_store {
    ($store:ident, $db:ty) => {
        use async_trait::async_trait;
        use chrono::{DateTime, Utc};
        use sqlx::Row;

        use crate::authorization_codes::{self, ClaimedCode, CodeClaim};
        use crate::bulk::{
            self, BulkFinish, BulkJob, BulkRowError, BulkStatus, BulkStep, NewBulkJob, ResultChunk, StoredChunk,
        };
        use crate::crypto::{self, Keyring, LookupKey, Sealed, CANARY_AAD};
        use crate::events::{
            self, ChangeKind, DeliveryResult, EventCounts, EventQuery, EventStatus, ObjectPoll, PollCommit, StoredEvent,
        };
        use crate::leases;
        use crate::queue::{self, Job, JobState, NewJob, RawJob};
        use crate::records::{
            CurrentTokens, InstanceId, InstancePatch, InstanceQuery, InstanceRecord, NewInstance, Organization,
            OrganizationId, Page, PendingAuthorization, PendingTake, RefreshDecision, RefreshOutcome, RefreshResult,
            Secret, TokenEvent, TokenPair, User, UserId, VendorCall, ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY,
            VENDOR_CALLS_KEPT,
        };
        use crate::repository::{
            BulkStore, ConsoleStore, CoordinationStore, EventStore, IdentityStore, InstanceStore, ObjectWatermark,
            RefreshFn, ResourceStore, Result, Store, StoreError, TraceStore,
        };
        use crate::resources::{self, PutMode, ResourceDocument, ResourceKind, ResourceScope};
        use crate::sealing::{
            config_json, micros, now, pending_authorization_aad, secrets_equal, tags_json, texts_equal, Keys,
            RawInstance, AUTHORIZATION_CODE_PURPOSE, CONSOLE_SESSION_PURPOSE, INSTANCE_COLUMNS, INSTANCE_TOKEN_PURPOSE,
            OAUTH_STATE_PURPOSE, ORGANIZATION_PURPOSE, USER_PURPOSE,
        };
        use crate::shared_sql::{
            decode_cursor, encode_cursor, like_pattern, millis, on_insert, on_unique, MAX_PAGE_SIZE,
            REFRESH_LEASE_SECS, ROTATION_BATCH, STORE_REFRESH_RETRIES,
        };
        use std::collections::BTreeMap;

        type Db = $db;
        type Tx = sqlx::Transaction<'static, Db>;

        /// A user and their organization from a `users u JOIN organizations o` row.
        fn user_and_organization(row: &<Db as sqlx::Database>::Row) -> Result<(User, Organization)> {
            let organization_id = OrganizationId::new(row.try_get("organization_id")?);
            let user = User {
                id: UserId::new(row.try_get("id")?),
                organization_id,
                email: row.try_get("email")?,
                is_admin: row.try_get("is_admin")?,
                created_at: row.try_get("created_at")?,
            };
            let org = Organization {
                id: organization_id,
                name: row.try_get("org_name")?,
                created_at: row.try_get("org_created_at")?,
            };
            Ok((user, org))
        }

        impl $store {
            /// Opens (or, on a new database, creates) the keyring canary and returns the keys.
            /// A keyring that cannot open it is [`StoreError::WrongMasterKey`].
            async fn load_keys(pool: &sqlx::Pool<Db>, dialect: &Dialect, ring: Keyring) -> Result<Keys> {
                let select = format!("SELECT key_version FROM keyring_canary WHERE id = 1{}", dialect.for_update);
                let mut tx = pool.begin_with(dialect.begin_write).await?;
                let existing = sqlx::query(&select).fetch_optional(&mut *tx).await?;
                if existing.is_none() {
                    let lookup = LookupKey::generate();
                    let sealed = ring.seal(lookup.as_bytes(), CANARY_AAD);
                    // ON CONFLICT: two PostgreSQL nodes may start on an empty database at once;
                    // the loser re-reads the winner's canary below.
                    sqlx::query(
                        "INSERT INTO keyring_canary (id, key_version, payload) VALUES (1, $1, $2) \
                         ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(sealed.key_version)
                    .bind(sealed.encode_payload())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                let canary = Self::read_canary(pool).await?;
                let plain = ring.check(&canary).map_err(StoreError::WrongMasterKey)?;
                Ok(Keys { ring, lookup: LookupKey::from_bytes(&plain).map_err(StoreError::WrongMasterKey)? })
            }

            async fn read_canary(pool: &sqlx::Pool<Db>) -> Result<Sealed> {
                let row =
                    sqlx::query("SELECT key_version, payload FROM keyring_canary WHERE id = 1").fetch_one(pool).await?;
                let payload: String = row.try_get("payload")?;
                Ok(Sealed::decode_payload(row.try_get("key_version")?, &payload)?)
            }

            async fn begin_write(&self) -> Result<Tx> {
                Ok(self.pool.begin_with(self.dialect.begin_write).await?)
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            fn keyed_hash(&self, purpose: &str, data: &str) -> String {
                self.keys.get().lookup.lookup_hash(purpose, data)
            }

            fn vendor_budget(&self) -> Option<crate::vendor_budget::VendorBudgetTable> {
                self.vendor_budget_table()
            }

            async fn rotate_master_key(&self, keyring: Keyring) -> Result<u64> {
                let canary = Self::read_canary(&self.pool).await?;
                // The new keyring must still read what is stored, or the rotation would strand it.
                keyring.check(&canary).map_err(StoreError::WrongMasterKey)?;
                let lookup = self.keys.get().lookup.clone();
                let target = keyring.current_version();
                self.keys.set(Keys { ring: keyring, lookup });
                let select = format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances WHERE key_version <> $1 ORDER BY id LIMIT $2{}",
                    self.dialect.for_update
                );
                // Console sessions hold no sealed data, and pending authorizations live minutes: the
                // older key stays in the keyring during a rotation, so they are left to expire.
                let mut resealed = 0u64;
                loop {
                    let mut tx = self.begin_write().await?;
                    let rows = sqlx::query(&select).bind(target).bind(ROTATION_BATCH).fetch_all(&mut *tx).await?;
                    if rows.is_empty() {
                        tx.commit().await?;
                        break;
                    }
                    for row in &rows {
                        let record = self.keys.get().open_instance(raw_instance(row)?)?;
                        self.write_instance(&mut tx, &record).await?;
                        resealed += 1;
                    }
                    tx.commit().await?;
                }
                // The canary goes last: until every row is re-sealed, a restart with only the new key
                // fails the startup check instead of finding unreadable rows.
                let keys = self.keys.get();
                let sealed = keys.ring.seal(keys.lookup.as_bytes(), CANARY_AAD);
                sqlx::query("UPDATE keyring_canary SET key_version = $1, payload = $2 WHERE id = 1")
                    .bind(sealed.key_version)
                    .bind(sealed.encode_payload())
                    .execute(&self.pool)
                    .await?;
                Ok(resealed)
            }
        }

        crate::instance_sql::implement_instance_store!($store);
        crate::identity_sql::implement_identity_store!($store);
        crate::console_sql::implement_console_store!($store);
        crate::trace_sql::implement_trace_store!($store);
        crate::coordination_sql::implement_coordination_store!($store);
        crate::event_sql::implement_event_store!($store);
        crate::resource_sql::implement_resource_store!($store);
        crate::bulk_sql::implement_bulk_store!($store);
        crate::formula_sql::implement_formula_store!($store);
        crate::formula_run_sql::implement_formula_run_store!($store);
    };
}

pub(crate) use implement_store;
