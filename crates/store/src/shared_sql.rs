//! The SQL both implementations share, written once and instantiated per database by
//! `implement_store!`.
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

/// Implements [`crate::Store`], the connect-time key check and `enqueue_in` for `$store`, which must
/// have fields `pool: sqlx::Pool<$db>`, `keys: KeyState`, `locks: InstanceLocks`,
/// `dialect: &'static Dialect`.
macro_rules! implement_store {
    ($store:ident, $db:ty) => {
        use async_trait::async_trait;
        use chrono::{DateTime, Utc};
        use sqlx::Row;

        use crate::authorization_codes::{self, ClaimedCode, CodeClaim};
        use crate::crypto::{self, Keyring, LookupKey, Sealed, CANARY_AAD};
        use crate::records::{
            CurrentTokens, InstanceId, InstancePatch, InstanceQuery, InstanceRecord, NewInstance, Organization,
            OrganizationId, Page, PendingAuthorization, PendingTake, RefreshDecision, RefreshOutcome, RefreshResult, Secret, TokenEvent,
            TokenPair, User, UserId, VendorCall, ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY, VENDOR_CALLS_KEPT,
        };
        use crate::repository::{
            ConsoleStore, CoordinationStore, IdentityStore, InstanceStore, RefreshFn, Result, Store, StoreError,
            TraceStore,
        };
        use crate::sealing::{
            config_json, micros, now, pending_authorization_aad, secrets_equal, tags_json, texts_equal, Keys,
            RawInstance, AUTHORIZATION_CODE_PURPOSE, CONSOLE_SESSION_PURPOSE, INSTANCE_COLUMNS, INSTANCE_TOKEN_PURPOSE,
            OAUTH_STATE_PURPOSE, ORGANIZATION_PURPOSE, USER_PURPOSE,
        };
        use crate::leases;
        use crate::queue::{self, Job, JobState, NewJob, RawJob};
        use crate::shared_sql::{
            decode_cursor, encode_cursor, like_pattern, millis, on_insert, on_unique, MAX_PAGE_SIZE, REFRESH_LEASE_SECS,
            ROTATION_BATCH, STORE_REFRESH_RETRIES,
        };

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

        fn raw_instance(row: &<Db as sqlx::Database>::Row) -> Result<RawInstance> {
            Ok(RawInstance {
                id: InstanceId::new(row.try_get("id")?),
                organization_id: OrganizationId::new(row.try_get("organization_id")?),
                element_key: row.try_get("element_key")?,
                name: row.try_get("name")?,
                tags: row.try_get("tags")?,
                configuration: row.try_get("configuration")?,
                secrets: row.try_get("secrets")?,
                token_sealed: row.try_get("token_sealed")?,
                key_version: row.try_get("key_version")?,
                valid: row.try_get("valid")?,
                disabled: row.try_get("disabled")?,
                trace_logging: row.try_get("trace_logging")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                access_expires_at: row.try_get("access_expires_at")?,
                refreshed_at: row.try_get("refreshed_at")?,
                refresh_generation: row.try_get("refresh_generation")?,
            })
        }

        fn raw_job(row: &<Db as sqlx::Database>::Row) -> Result<RawJob> {
            Ok(RawJob {
                id: row.try_get("id")?,
                queue: row.try_get("queue")?,
                payload: row.try_get("payload")?,
                state: row.try_get("state")?,
                attempts: row.try_get("attempts")?,
                max_attempts: row.try_get("max_attempts")?,
                run_at: row.try_get("run_at")?,
                lease_owner: row.try_get("lease_owner")?,
                lease_until: row.try_get("lease_until")?,
                last_error: row.try_get("last_error")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        impl $store {
            /// Enqueues `job` inside the caller's transaction `tx` and returns its id: the job exists
            /// if and only if `tx` commits. This is how a write and the job that follows it up are
            /// made atomic: a store method that writes its own row calls this before committing.
            ///
            /// On SQLite, begin `tx` with the write lock (`BEGIN IMMEDIATE`, as the store's own
            /// writes do) when it reads before it writes.
            pub async fn enqueue_in(&self, tx: &mut sqlx::Transaction<'_, Db>, job: &NewJob) -> Result<i64> {
                Ok(sqlx::query_scalar(&queue::enqueue_sql(self.dialect))
                    .bind(&job.queue)
                    .bind(job.payload.to_string())
                    .bind(job.run_at.map(micros))
                    .bind(queue::attempts_column(job.max_attempts))
                    .fetch_one(&mut **tx)
                    .await?)
            }
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
                let row = sqlx::query("SELECT key_version, payload FROM keyring_canary WHERE id = 1")
                    .fetch_one(pool)
                    .await?;
                let payload: String = row.try_get("payload")?;
                Ok(Sealed::decode_payload(row.try_get("key_version")?, &payload)?)
            }

            async fn begin_write(&self) -> Result<Tx> {
                Ok(self.pool.begin_with(self.dialect.begin_write).await?)
            }

            /// Reads and locks one instance row inside `tx`; `organization_id` of `None` skips the tenant check
            /// (internal callers that hold only an instance id).
            async fn lock_instance(&self, tx: &mut Tx, organization_id: Option<OrganizationId>, id: InstanceId) -> Result<InstanceRecord> {
                let sql = format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances WHERE id = $1 AND ($2 OR organization_id = $3){}",
                    self.dialect.for_update
                );
                let row = sqlx::query(&sql)
                    .bind(id.get())
                    .bind(organization_id.is_none())
                    .bind(organization_id.map_or(0, OrganizationId::get))
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                self.keys.get().open_instance(raw_instance(&row)?)
            }

            /// Takes instance `id`'s refresh lease (SQLite) for `owner`, waiting while another
            /// process holds it. A lease outlives everything a refresh can wait for (pool, token
            /// endpoint, busy database), so one left by a crashed process expires on its own.
            async fn take_refresh_lease(&self, id: InstanceId, owner: &str) -> Result<()> {
                loop {
                    let until = now() + chrono::TimeDelta::seconds(REFRESH_LEASE_SECS);
                    let mut tx = self.begin_write().await?;
                    let taken = sqlx::query(
                        "UPDATE instances SET refresh_lease_until = $1, refresh_lease_owner = $2 \
                         WHERE id = $3 AND (refresh_lease_until IS NULL OR refresh_lease_until < $4)",
                    )
                    .bind(micros(until))
                    .bind(owner)
                    .bind(id.get())
                    .bind(micros(now()))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    tx.commit().await?;
                    if taken == 1 {
                        return Ok(());
                    }
                    self.read_instance(id).await?; // NotFound ends the wait
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
            }

            /// Releases `owner`'s lease on instance `id` (a lease taken over after expiry is left alone).
            async fn release_refresh_lease(&self, id: InstanceId, owner: &str) {
                let released = sqlx::query(
                    "UPDATE instances SET refresh_lease_until = NULL, refresh_lease_owner = NULL \
                     WHERE id = $1 AND refresh_lease_owner = $2",
                )
                .bind(id.get())
                .bind(owner)
                .execute(&self.pool)
                .await;
                if let Err(error) = released {
                    tracing::warn!(instance_id = id.get(), %error, "refresh lease not released; it expires on its own");
                }
            }

            /// The refresh of instance `id` once its lease is held: the vendor is asked with no
            /// transaction open, then the outcome is stored in one. The vendor has already rotated
            /// the pair by then, so storing it is retried on database errors before giving up.
            async fn refresh_under_lease(&self, id: InstanceId, refresh: RefreshFn) -> Result<RefreshResult> {
                let seen = self.read_instance(id).await?;
                let before = current_tokens(&seen);
                let decision = refresh(before.clone()).await;
                if matches!(decision, RefreshDecision::Unchanged) {
                    // Nothing to store (another worker's pair is used): no write transaction.
                    return Ok(RefreshResult { outcome: RefreshOutcome::Unchanged, current: before });
                }
                let mut attempt = 0u32;
                loop {
                    match self.store_refresh(id, &before, decision.clone()).await {
                        Err(StoreError::Database(error)) if attempt < STORE_REFRESH_RETRIES => {
                            attempt += 1;
                            tracing::warn!(instance_id = id.get(), attempt, %error, "storing a refresh failed; retrying");
                            tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt))).await;
                        }
                        Err(error) => {
                            if matches!(decision, RefreshDecision::Refreshed(_)) {
                                tracing::error!(instance_id = id.get(), %error, "a refreshed token pair could not be stored");
                            }
                            return Err(error);
                        }
                        Ok(result) => return Ok(result),
                    }
                }
            }

            /// Stores `decision` unless the row changed while the vendor was asked: a
            /// re-authentication (or anything else that moved the pair or its validity) wins, and
            /// the decision, made on the older pair, is dropped.
            async fn store_refresh(&self, id: InstanceId, before: &CurrentTokens, decision: RefreshDecision) -> Result<RefreshResult> {
                let mut tx = self.begin_write().await?;
                let record = self.lock_instance(&mut tx, None, id).await?;
                if record.refresh_generation != before.refresh_generation || record.valid != before.valid {
                    tracing::warn!(instance_id = id.get(), "the token pair changed during a refresh; keeping the stored one");
                    tx.rollback().await?;
                    return Ok(RefreshResult { outcome: RefreshOutcome::Unchanged, current: current_tokens(&record) });
                }
                self.apply_refresh(tx, record, before.clone(), decision).await
            }

            /// Reads one instance without locking it (the refresh path on SQLite).
            async fn read_instance(&self, id: InstanceId) -> Result<InstanceRecord> {
                let sql = format!("SELECT {INSTANCE_COLUMNS} FROM instances WHERE id = $1");
                let row = sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
                self.keys.get().open_instance(raw_instance(&row)?)
            }

            /// Stores a refresh decision on the locked `record` and commits: a new pair (failures
            /// reset), the instance marked invalid, or a transient failure (the next background
            /// attempt backed off). The commit is the durability point: only after it does the
            /// caller get the new pair.
            async fn apply_refresh(
                &self,
                mut tx: Tx,
                mut record: InstanceRecord,
                before: CurrentTokens,
                decision: RefreshDecision,
            ) -> Result<RefreshResult> {
                let instance_id = record.id;
                let (outcome, kind, detail) = match decision {
                    RefreshDecision::Unchanged => {
                        tx.rollback().await?;
                        return Ok(RefreshResult { outcome: RefreshOutcome::Unchanged, current: before });
                    }
                    RefreshDecision::Refreshed(pair) => {
                        record.secrets.insert(ACCESS_TOKEN_KEY, pair.access_token);
                        record.secrets.insert(REFRESH_TOKEN_KEY, pair.refresh_token);
                        record.access_expires_at = pair.access_expires_at.map(micros);
                        record.refreshed_at = Some(now());
                        record.refresh_generation += 1;
                        record.valid = true;
                        (RefreshOutcome::Refreshed, "refreshed", String::new())
                    }
                    RefreshDecision::Invalid { detail } => {
                        record.valid = false;
                        (RefreshOutcome::Invalid, "invalid_grant", detail)
                    }
                    RefreshDecision::Failed { detail } => (RefreshOutcome::Failed, "failed", detail),
                };
                if outcome == RefreshOutcome::Failed {
                    Self::back_off_refresh(&mut tx, instance_id).await?;
                } else {
                    record.updated_at = now();
                    self.write_instance(&mut tx, &record).await?;
                    sqlx::query("UPDATE instances SET refresh_failures = 0, refresh_retry_at = NULL WHERE id = $1")
                        .bind(instance_id.get())
                        .execute(&mut *tx)
                        .await?;
                }
                Self::insert_event(&mut tx, instance_id, "refresh", kind, &detail).await?;
                tx.commit().await?;
                Ok(RefreshResult { outcome, current: current_tokens(&record) })
            }

            /// Counts a transient refresh failure and sets when the background refresher may try
            /// again (`domain::token_rules::backoff_delay`: 2 s doubling, capped at 5 min).
            async fn back_off_refresh(tx: &mut Tx, instance_id: InstanceId) -> Result<()> {
                let failures: i32 = sqlx::query_scalar("SELECT refresh_failures FROM instances WHERE id = $1")
                    .bind(instance_id.get())
                    .fetch_one(&mut **tx)
                    .await?;
                let failures = failures.saturating_add(1);
                let delay = domain::token_rules::backoff_delay(u32::try_from(failures).unwrap_or(u32::MAX));
                let retry_at = now() + chrono::TimeDelta::from_std(delay).unwrap_or_default();
                sqlx::query("UPDATE instances SET refresh_failures = $1, refresh_retry_at = $2 WHERE id = $3")
                    .bind(failures)
                    .bind(micros(retry_at))
                    .bind(instance_id.get())
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Writes every mutable column of `record` (re-sealed under the current key) inside `tx`.
            async fn write_instance(&self, tx: &mut Tx, record: &InstanceRecord) -> Result<()> {
                let sealed = self.keys.get().seal_instance(record.id, &record.secrets, &record.token);
                let token_lookup = self.keys.get().lookup(INSTANCE_TOKEN_PURPOSE, &record.token);
                sqlx::query(
                    "UPDATE instances SET name = $2, tags = $3, configuration = $4, secrets = $5, token_lookup = $6, \
                     token_sealed = $7, key_version = $8, valid = $9, disabled = $10, trace_logging = $11, \
                     updated_at = $12, access_expires_at = $13, refreshed_at = $14, refresh_generation = $15 \
                     WHERE id = $1",
                )
                .bind(record.id.get())
                .bind(&record.name)
                .bind(tags_json(&record.tags))
                .bind(config_json(&record.configuration))
                .bind(sealed.secrets)
                .bind(token_lookup)
                .bind(sealed.token)
                .bind(sealed.key_version)
                .bind(record.valid)
                .bind(record.disabled)
                .bind(record.trace_logging)
                .bind(record.updated_at)
                .bind(record.access_expires_at)
                .bind(record.refreshed_at)
                .bind(record.refresh_generation)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Appends a token event inside `tx`, so it commits (or not) with the change it describes.
            async fn insert_event(tx: &mut Tx, instance_id: InstanceId, kind: &str, outcome: &str, detail: &str) -> Result<()> {
                const INSERT: &str =
                    "INSERT INTO token_events (instance_id, at, kind, outcome, detail) VALUES ($1, $2, $3, $4, $5)";
                sqlx::query(INSERT)
                    .bind(instance_id.get())
                    .bind(now())
                    .bind(kind)
                    .bind(outcome)
                    .bind(detail)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Inserts `new` with a fresh instance token inside `tx` and returns the record.
            async fn insert_instance_in(&self, tx: &mut Tx, new: NewInstance) -> Result<InstanceRecord> {
                let keys = self.keys.get();
                let token = Secret::new(crypto::generate_secret());
                let created_at = now();
                // The sealed columns are bound to the row id, which the database assigns: insert with
                // empty sealed columns, then seal and fill them in the same transaction.
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO instances (organization_id, element_key, name, tags, configuration, secrets, \
                     token_lookup, token_sealed, key_version, valid, disabled, trace_logging, created_at, updated_at, \
                     access_expires_at, \
                     refreshed_at, refresh_generation) \
                     VALUES ($1, $2, $3, $4, $5, '', $6, '', $7, $8, $9, $9, $10, $10, $11, $10, 0) RETURNING id",
                )
                .bind(new.organization_id.get())
                .bind(&new.element_key)
                .bind(&new.name)
                .bind(tags_json(&new.tags))
                .bind(config_json(&new.configuration))
                .bind(keys.lookup(INSTANCE_TOKEN_PURPOSE, &token))
                .bind(keys.ring.current_version())
                .bind(true)
                .bind(false)
                .bind(created_at)
                .bind(new.access_expires_at.map(micros))
                .fetch_one(&mut **tx)
                .await
                .map_err(on_insert("instance token"))?;
                let id = InstanceId::new(id);
                let sealed = keys.seal_instance(id, &new.secrets, &token);
                sqlx::query("UPDATE instances SET secrets = $2, token_sealed = $3, key_version = $4 WHERE id = $1")
                    .bind(id.get())
                    .bind(sealed.secrets)
                    .bind(sealed.token)
                    .bind(sealed.key_version)
                    .execute(&mut **tx)
                    .await?;
                Ok(InstanceRecord {
                    id,
                    organization_id: new.organization_id,
                    element_key: new.element_key,
                    name: new.name,
                    tags: new.tags,
                    configuration: new.configuration,
                    secrets: new.secrets,
                    token,
                    valid: true,
                    disabled: false,
                    trace_logging: false,
                    created_at,
                    updated_at: created_at,
                    access_expires_at: new.access_expires_at.map(micros),
                    refreshed_at: Some(created_at),
                    refresh_generation: 0,
                })
            }

            async fn insert_organization(&self, tx: &mut Tx, name: &str, secret: &Secret) -> Result<Organization> {
                let (salt, hash) = crypto::hash_secret(secret.expose());
                let lookup = self.keys.get().lookup(ORGANIZATION_PURPOSE, secret);
                let created_at = now();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO organizations (name, secret_salt, secret_hash, secret_lookup, created_at) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(name)
                .bind(salt)
                .bind(hash)
                .bind(lookup)
                .bind(created_at)
                .fetch_one(&mut **tx)
                .await
                .map_err(on_unique("organization"))?;
                Ok(Organization { id: OrganizationId::new(id), name: name.to_owned(), created_at })
            }

            async fn insert_user(
                &self,
                tx: &mut Tx,
                organization_id: OrganizationId,
                email: &str,
                is_admin: bool,
                secret: &Secret,
            ) -> Result<User> {
                let (salt, hash) = crypto::hash_secret(secret.expose());
                let lookup = self.keys.get().lookup(USER_PURPOSE, secret);
                let created_at = now();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO users (organization_id, email, is_admin, secret_salt, secret_hash, secret_lookup, \
                     created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                )
                .bind(organization_id.get())
                .bind(email)
                .bind(is_admin)
                .bind(salt)
                .bind(hash)
                .bind(lookup)
                .bind(created_at)
                .fetch_one(&mut **tx)
                .await
                .map_err(on_insert("user"))?;
                Ok(User { id: UserId::new(id), organization_id, email: email.to_owned(), is_admin, created_at })
            }
        }

        #[async_trait]
        impl InstanceStore for $store {
            async fn insert_instance(&self, new: NewInstance) -> Result<InstanceRecord> {
                let mut tx = self.begin_write().await?;
                let record = self.insert_instance_in(&mut tx, new).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn insert_instance_with_code(&self, new: NewInstance, claim: &ClaimedCode) -> Result<InstanceRecord> {
                let organization_id = new.organization_id;
                let mut tx = self.begin_write().await?;
                let record = self.insert_instance_in(&mut tx, new).await?;
                let bound = sqlx::query(authorization_codes::BIND_NEW_INSTANCE)
                    .bind(record.id.get())
                    .bind(&claim.lookup)
                    .bind(&claim.ticket)
                    .bind(organization_id.get())
                    .execute(&mut *tx)
                    .await?;
                if bound.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Err(StoreError::Conflict("authorization code"));
                }
                tx.commit().await?;
                Ok(record)
            }

            async fn get_instance(&self, organization_id: OrganizationId, id: InstanceId) -> Result<InstanceRecord> {
                let sql = format!("SELECT {INSTANCE_COLUMNS} FROM instances WHERE organization_id = $1 AND id = $2");
                let row = sqlx::query(&sql)
                    .bind(organization_id.get())
                    .bind(id.get())
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                self.keys.get().open_instance(raw_instance(&row)?)
            }

            async fn find_instance_by_token(&self, token: &Secret) -> Result<Option<InstanceRecord>> {
                let keys = self.keys.get();
                let sql = format!("SELECT {INSTANCE_COLUMNS} FROM instances WHERE token_lookup = $1");
                let row = sqlx::query(&sql)
                    .bind(keys.lookup(INSTANCE_TOKEN_PURPOSE, token))
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let record = keys.open_instance(raw_instance(&row)?)?;
                Ok(secrets_equal(&record.token, token).then_some(record))
            }

            async fn list_instances(&self, organization_id: OrganizationId, query: &InstanceQuery) -> Result<Page<InstanceRecord>> {
                let after = decode_cursor(query.next_page.as_deref())?;
                let page_size = query.page_size.clamp(1, MAX_PAGE_SIZE);
                let sql = format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances WHERE organization_id = $1 AND id > $2 \
                     AND ($3 = '[]' OR {}) \
                     AND ($4 = '' OR LOWER(name) LIKE $4 ESCAPE '\\') \
                     ORDER BY id LIMIT $5",
                    self.dialect.tags_contain_all
                );
                // One row more than asked tells whether another page exists.
                let rows = sqlx::query(&sql)
                    .bind(organization_id.get())
                    .bind(after)
                    .bind(tags_json(&query.tags_all_of))
                    .bind(like_pattern(query.search_text.as_deref()))
                    .bind(i64::from(page_size) + 1)
                    .fetch_all(&self.pool)
                    .await?;
                let keys = self.keys.get();
                let mut items = rows
                    .iter()
                    .map(|row| keys.open_instance(raw_instance(row)?))
                    .collect::<Result<Vec<_>>>()?;
                let more = items.len() > page_size as usize;
                items.truncate(page_size as usize);
                let next_page = if more { items.last().map(|i| encode_cursor(i.id)) } else { None };
                Ok(Page { items, next_page })
            }

            async fn update_instance(
                &self,
                organization_id: OrganizationId,
                id: InstanceId,
                patch: InstancePatch,
            ) -> Result<InstanceRecord> {
                let mut tx = self.begin_write().await?;
                let mut record = self.lock_instance(&mut tx, Some(organization_id), id).await?;
                if let Some(name) = patch.name {
                    record.name = name;
                }
                if let Some(tags) = patch.tags {
                    record.tags = tags;
                }
                for (key, value) in patch.configuration {
                    match value {
                        Some(value) => record.configuration.insert(key, value),
                        None => record.configuration.remove(&key),
                    };
                }
                let new_tokens = patch.secrets.keys().any(|k| k == ACCESS_TOKEN_KEY || k == REFRESH_TOKEN_KEY);
                for (key, value) in patch.secrets {
                    match value {
                        Some(value) => record.secrets.0.insert(key, value),
                        None => record.secrets.0.remove(&key),
                    };
                }
                if new_tokens {
                    record.refresh_generation += 1;
                    record.refreshed_at = Some(now());
                }
                record.disabled = patch.disabled.unwrap_or(record.disabled);
                record.trace_logging = patch.trace_logging.unwrap_or(record.trace_logging);
                record.valid = patch.valid.unwrap_or(record.valid);
                if let Some(at) = patch.access_expires_at {
                    record.access_expires_at = at.map(micros);
                }
                record.updated_at = now();
                self.write_instance(&mut tx, &record).await?;
                if new_tokens {
                    Self::insert_event(&mut tx, id, "reauthenticate", "stored", "").await?;
                }
                tx.commit().await?;
                Ok(record)
            }

            async fn delete_instance(&self, organization_id: OrganizationId, id: InstanceId) -> Result<()> {
                let done = sqlx::query("DELETE FROM instances WHERE organization_id = $1 AND id = $2")
                    .bind(organization_id.get())
                    .bind(id.get())
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn reissue_instance_token(&self, organization_id: OrganizationId, id: InstanceId) -> Result<Secret> {
                let mut tx = self.begin_write().await?;
                let mut record = self.lock_instance(&mut tx, Some(organization_id), id).await?;
                record.token = Secret::new(crypto::generate_secret());
                record.updated_at = now();
                self.write_instance(&mut tx, &record).await?;
                Self::insert_event(&mut tx, id, "instance-token", "reissued", "").await?;
                tx.commit().await?;
                Ok(record.token)
            }

            async fn record_token_event(&self, instance_id: InstanceId, kind: &str, outcome: &str, detail: &str) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                Self::insert_event(&mut tx, instance_id, kind, outcome, detail).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_token_events(&self, instance_id: InstanceId, limit: u32) -> Result<Vec<TokenEvent>> {
                let rows = sqlx::query(
                    "SELECT id, instance_id, at, kind, outcome, detail FROM token_events WHERE instance_id = $1 \
                     ORDER BY id DESC LIMIT $2",
                )
                .bind(instance_id.get())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(TokenEvent {
                            id: row.try_get("id")?,
                            instance_id: InstanceId::new(row.try_get("instance_id")?),
                            at: row.try_get("at")?,
                            kind: row.try_get("kind")?,
                            outcome: row.try_get("outcome")?,
                            detail: row.try_get("detail")?,
                        })
                    })
                    .collect()
            }

            async fn instances_due_for_refresh(
                &self,
                expires_before: DateTime<Utc>,
                refreshed_before: DateTime<Utc>,
                now: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<InstanceId>> {
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT id FROM instances WHERE valid = $1 AND disabled = $2 \
                     AND ((access_expires_at IS NOT NULL AND access_expires_at < $3) \
                          OR COALESCE(refreshed_at, created_at) < $4) \
                     AND (refresh_retry_at IS NULL OR refresh_retry_at <= $5) \
                     ORDER BY COALESCE(access_expires_at, created_at), id LIMIT $6",
                )
                .bind(true)
                .bind(false)
                .bind(micros(expires_before))
                .bind(micros(refreshed_before))
                .bind(micros(now))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(ids.into_iter().map(InstanceId::new).collect())
            }

            async fn refresh_tokens(&self, instance_id: InstanceId, refresh: RefreshFn) -> Result<RefreshResult> {
                // In-process queue first (see `instance_locks`), then the database lock that also
                // excludes other processes and nodes.
                let _queued = self.locks.lock(instance_id).await;
                if self.dialect.refresh_before_transaction {
                    // The in-process queue above already orders this process's callers; the lease
                    // orders processes sharing the file.
                    let owner = crypto::generate_secret();
                    self.take_refresh_lease(instance_id, &owner).await?;
                    let result = self.refresh_under_lease(instance_id, refresh).await;
                    self.release_refresh_lease(instance_id, &owner).await;
                    return result;
                }
                let mut tx = self.begin_write().await?;
                let record = self.lock_instance(&mut tx, None, instance_id).await?;
                let before = current_tokens(&record);
                let decision = refresh(before.clone()).await;
                self.apply_refresh(tx, record, before, decision).await
            }
        }

        #[async_trait]
        impl IdentityStore for $store {
            async fn is_empty(&self) -> Result<bool> {
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations").fetch_one(&self.pool).await?;
                Ok(count == 0)
            }

            async fn create_organization(&self, name: &str) -> Result<(Organization, Secret)> {
                let secret = Secret::new(crypto::generate_secret());
                Ok((self.create_organization_with_secret(name, &secret).await?, secret))
            }

            async fn create_organization_with_secret(&self, name: &str, secret: &Secret) -> Result<Organization> {
                let mut tx = self.begin_write().await?;
                let organization = self.insert_organization(&mut tx, name, secret).await?;
                tx.commit().await?;
                Ok(organization)
            }

            async fn create_organization_with_admin(
                &self,
                name: &str,
                org_secret: &Secret,
                email: &str,
                user_secret: &Secret,
            ) -> Result<(Organization, User)> {
                let mut tx = self.begin_write().await?;
                let organization = self.insert_organization(&mut tx, name, org_secret).await?;
                let user = self.insert_user(&mut tx, organization.id, email, true, user_secret).await?;
                tx.commit().await?;
                Ok((organization, user))
            }

            async fn create_user(&self, organization_id: OrganizationId, email: &str, is_admin: bool) -> Result<(User, Secret)> {
                let secret = Secret::new(crypto::generate_secret());
                Ok((self.create_user_with_secret(organization_id, email, is_admin, &secret).await?, secret))
            }

            async fn create_user_with_secret(
                &self,
                organization_id: OrganizationId,
                email: &str,
                is_admin: bool,
                secret: &Secret,
            ) -> Result<User> {
                let mut tx = self.begin_write().await?;
                let user = self.insert_user(&mut tx, organization_id, email, is_admin, secret).await?;
                tx.commit().await?;
                Ok(user)
            }

            async fn authenticate(
                &self,
                user_secret: &Secret,
                org_secret: &Secret,
            ) -> Result<Option<(User, Organization)>> {
                let keys = self.keys.get();
                let row = sqlx::query(
                    "SELECT u.id, u.organization_id, u.email, u.is_admin, u.created_at, u.secret_salt, u.secret_hash, \
                     o.name AS org_name, o.created_at AS org_created_at, \
                     o.secret_salt AS org_salt, o.secret_hash AS org_hash \
                     FROM users u JOIN organizations o ON o.id = u.organization_id \
                     WHERE u.secret_lookup = $1 AND o.secret_lookup = $2",
                )
                .bind(keys.lookup(USER_PURPOSE, user_secret))
                .bind(keys.lookup(ORGANIZATION_PURPOSE, org_secret))
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                // Both verifications always run (`&`, not `&&`): the time taken does not tell which failed.
                let (salt, hash): (&str, &str) = (row.try_get("secret_salt")?, row.try_get("secret_hash")?);
                let user_ok = crypto::verify_secret(user_secret.expose(), salt, hash);
                let (salt, hash): (&str, &str) = (row.try_get("org_salt")?, row.try_get("org_hash")?);
                let org_ok = crypto::verify_secret(org_secret.expose(), salt, hash);
                if !(user_ok & org_ok) {
                    return Ok(None);
                }
                user_and_organization(&row).map(Some)
            }

            async fn authenticate_user(&self, user_secret: &Secret) -> Result<Option<(User, Organization)>> {
                let keys = self.keys.get();
                let row = sqlx::query(
                    "SELECT u.id, u.organization_id, u.email, u.is_admin, u.created_at, u.secret_salt, u.secret_hash, \
                     o.name AS org_name, o.created_at AS org_created_at \
                     FROM users u JOIN organizations o ON o.id = u.organization_id \
                     WHERE u.secret_lookup = $1",
                )
                .bind(keys.lookup(USER_PURPOSE, user_secret))
                .fetch_optional(&self.pool)
                .await?;
                let Some(row) = row else { return Ok(None) };
                let (salt, hash): (&str, &str) = (row.try_get("secret_salt")?, row.try_get("secret_hash")?);
                if !crypto::verify_secret(user_secret.expose(), salt, hash) {
                    return Ok(None);
                }
                user_and_organization(&row).map(Some)
            }
        }

        #[async_trait]
        impl ConsoleStore for $store {
            async fn create_console_session(&self, user_id: UserId, expires_at: DateTime<Utc>) -> Result<Secret> {
                let session = Secret::new(crypto::generate_secret());
                let created_at = now();
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1")
                    .bind(created_at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO console_sessions (session_lookup, user_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(self.keys.get().lookup(CONSOLE_SESSION_PURPOSE, &session))
                .bind(user_id.get())
                .bind(created_at)
                .bind(micros(expires_at))
                .execute(&mut *tx)
                .await
                .map_err(on_insert("console session"))?;
                tx.commit().await?;
                Ok(session)
            }

            async fn find_console_session(
                &self,
                session: &Secret,
                now: DateTime<Utc>,
            ) -> Result<Option<(User, Organization)>> {
                let row = sqlx::query(
                    "SELECT u.id, u.organization_id, u.email, u.is_admin, u.created_at, \
                     o.name AS org_name, o.created_at AS org_created_at \
                     FROM console_sessions s JOIN users u ON u.id = s.user_id \
                     JOIN organizations o ON o.id = u.organization_id \
                     WHERE s.session_lookup = $1 AND s.expires_at > $2",
                )
                .bind(self.keys.get().lookup(CONSOLE_SESSION_PURPOSE, session))
                .bind(micros(now))
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(user_and_organization).transpose()
            }

            async fn delete_console_session(&self, session: &Secret) -> Result<()> {
                sqlx::query("DELETE FROM console_sessions WHERE session_lookup = $1")
                    .bind(self.keys.get().lookup(CONSOLE_SESSION_PURPOSE, session))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn save_pending_authorization(
                &self,
                state: &Secret,
                session: &Secret,
                pending: &PendingAuthorization,
            ) -> Result<()> {
                let keys = self.keys.get();
                let state_lookup = keys.lookup(OAUTH_STATE_PURPOSE, state);
                let aad = pending_authorization_aad(&state_lookup, pending.organization_id, pending.user_id);
                let sealed = keys.ring.seal(pending.request.expose().as_bytes(), &aad);
                let created_at = now();
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM pending_authorizations WHERE expires_at < $1")
                    .bind(created_at)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO pending_authorizations (state_lookup, session_lookup, organization_id, user_id, \
                     request_sealed, key_version, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&state_lookup)
                .bind(keys.lookup(CONSOLE_SESSION_PURPOSE, session))
                .bind(pending.organization_id.get())
                .bind(pending.user_id.get())
                .bind(sealed.encode_payload())
                .bind(sealed.key_version)
                .bind(created_at)
                .bind(micros(pending.expires_at))
                .execute(&mut *tx)
                .await
                .map_err(on_insert("pending authorization"))?;
                tx.commit().await?;
                Ok(())
            }

            async fn take_pending_authorization(
                &self,
                state: &Secret,
                session: &Secret,
                now: DateTime<Utc>,
            ) -> Result<PendingTake> {
                let keys = self.keys.get();
                let state_lookup = keys.lookup(OAUTH_STATE_PURPOSE, state);
                // One statement removes and reads: of concurrent takes, the others find no row
                // (PostgreSQL: they wait on the row lock, then see it gone). `fetch_all`, so the
                // statement runs to completion before the commit.
                let mut tx = self.begin_write().await?;
                let rows = sqlx::query(
                    "DELETE FROM pending_authorizations WHERE state_lookup = $1 \
                     RETURNING session_lookup, organization_id, user_id, request_sealed, key_version, expires_at",
                )
                .bind(&state_lookup)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let Some(row) = rows.first() else { return Ok(PendingTake::Unknown) };
                let stored_session: String = row.try_get("session_lookup")?;
                if !texts_equal(&stored_session, &keys.lookup(CONSOLE_SESSION_PURPOSE, session)) {
                    return Ok(PendingTake::OtherSession);
                }
                let expires_at: DateTime<Utc> = row.try_get("expires_at")?;
                if expires_at <= micros(now) {
                    return Ok(PendingTake::Expired);
                }
                let organization_id = OrganizationId::new(row.try_get("organization_id")?);
                let user_id = UserId::new(row.try_get("user_id")?);
                let payload: String = row.try_get("request_sealed")?;
                // The row's own key version: it may predate a rotation (see `rotate_master_key`).
                let sealed = Sealed::decode_payload(row.try_get("key_version")?, &payload)?;
                let aad = pending_authorization_aad(&state_lookup, organization_id, user_id);
                let request = String::from_utf8(keys.ring.open(&sealed, &aad)?)
                    .map_err(|_| StoreError::Corrupt("pending authorization request"))?;
                Ok(PendingTake::Found(PendingAuthorization {
                    organization_id,
                    user_id,
                    request: Secret::new(request),
                    expires_at,
                }))
            }
        }

        #[async_trait]
        impl TraceStore for $store {
            async fn record_vendor_call(&self, instance_id: InstanceId, call: &VendorCall) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO vendor_calls (instance_id, at, method, path, status, duration_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(instance_id.get())
                .bind(micros(call.at))
                .bind(&call.method)
                .bind(&call.path)
                .bind(i32::from(call.status))
                .bind(i64::from(call.duration_ms))
                .execute(&mut *tx)
                .await
                .map_err(on_insert("vendor call"))?;
                // Everything at or below the newest row beyond the kept ones (none while fewer are
                // stored: the comparison with NULL is never true).
                sqlx::query(
                    "DELETE FROM vendor_calls WHERE instance_id = $1 AND id <= \
                     (SELECT id FROM vendor_calls WHERE instance_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                )
                .bind(instance_id.get())
                .bind(i64::from(VENDOR_CALLS_KEPT))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_vendor_calls(&self, instance_id: InstanceId, limit: u32) -> Result<Vec<VendorCall>> {
                let rows = sqlx::query(
                    "SELECT at, method, path, status, duration_ms FROM vendor_calls WHERE instance_id = $1 \
                     ORDER BY id DESC LIMIT $2",
                )
                .bind(instance_id.get())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let status: i32 = row.try_get("status")?;
                        let duration_ms: i64 = row.try_get("duration_ms")?;
                        Ok(VendorCall {
                            at: row.try_get("at")?,
                            method: row.try_get("method")?,
                            path: row.try_get("path")?,
                            status: u16::try_from(status).map_err(|_| StoreError::Corrupt("vendor call status"))?,
                            duration_ms: u32::try_from(duration_ms)
                                .map_err(|_| StoreError::Corrupt("vendor call duration"))?,
                        })
                    })
                    .collect()
            }
        }

        #[async_trait]
        impl CoordinationStore for $store {
            // Coordination: leases and the job queue. The SQL and its reasoning are in `leases` and
            // `queue`; each operation is one statement outside any transaction (a claim: two, each
            // atomic on its own). Statements with `RETURNING` use `fetch_all`, so they run to
            // completion whatever they return.

            async fn try_lease(&self, kind: &str, key: &str, owner: &str, ttl: std::time::Duration) -> Result<bool> {
                let taken = sqlx::query(&leases::take_sql(self.dialect))
                    .bind(kind)
                    .bind(key)
                    .bind(owner)
                    .bind(millis(ttl))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(!taken.is_empty())
            }

            async fn renew_lease(&self, kind: &str, key: &str, owner: &str, ttl: std::time::Duration) -> Result<bool> {
                let renewed = sqlx::query(&leases::renew_sql(self.dialect))
                    .bind(kind)
                    .bind(key)
                    .bind(owner)
                    .bind(millis(ttl))
                    .execute(&self.pool)
                    .await?;
                Ok(renewed.rows_affected() == 1)
            }

            async fn release_lease(&self, kind: &str, key: &str, owner: &str) -> Result<()> {
                sqlx::query(leases::RELEASE).bind(kind).bind(key).bind(owner).execute(&self.pool).await?;
                Ok(())
            }

            async fn enqueue(&self, job: &NewJob) -> Result<i64> {
                let mut tx = self.begin_write().await?;
                let id = self.enqueue_in(&mut tx, job).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn claim_jobs(
                &self,
                queue: &str,
                owner: &str,
                lease_ttl: std::time::Duration,
                limit: u32,
            ) -> Result<Vec<Job>> {
                sqlx::query(&queue::bury_sql(self.dialect)).bind(queue).execute(&self.pool).await?;
                let rows = sqlx::query(&queue::claim_sql(self.dialect))
                    .bind(queue)
                    .bind(owner)
                    .bind(millis(lease_ttl))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                let mut jobs = rows.iter().map(|row| raw_job(row)?.into_job()).collect::<Result<Vec<_>>>()?;
                // `RETURNING` follows no `ORDER BY`: restore the pick order.
                jobs.sort_by_key(|job| (job.run_at, job.id));
                Ok(jobs)
            }

            async fn extend_job_lease(&self, job_id: i64, owner: &str, lease_ttl: std::time::Duration) -> Result<bool> {
                let extended = sqlx::query(&queue::extend_sql(self.dialect))
                    .bind(job_id)
                    .bind(owner)
                    .bind(millis(lease_ttl))
                    .execute(&self.pool)
                    .await?;
                Ok(extended.rows_affected() == 1)
            }

            async fn complete_job(&self, job_id: i64, owner: &str) -> Result<bool> {
                let completed = sqlx::query(&queue::complete_sql(self.dialect))
                    .bind(job_id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(completed.rows_affected() == 1)
            }

            async fn fail_job(
                &self,
                job_id: i64,
                owner: &str,
                error: &str,
                retry_at: Option<DateTime<Utc>>,
            ) -> Result<Option<JobState>> {
                let states: Vec<String> = sqlx::query_scalar(&queue::fail_sql(self.dialect))
                    .bind(job_id)
                    .bind(owner)
                    .bind(error)
                    .bind(retry_at.map(micros))
                    .fetch_all(&self.pool)
                    .await?;
                states.first().map(|state| JobState::parse(state)).transpose()
            }

            async fn dead_jobs(&self, queue: &str, limit: u32) -> Result<Vec<Job>> {
                let rows = sqlx::query(&queue::dead_jobs_sql())
                    .bind(queue)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|row| raw_job(row)?.into_job()).collect()
            }

            // The registry of exchanged authorization codes; the SQL and its reasoning are in
            // `authorization_codes`.

            async fn claim_authorization_code(
                &self,
                code: &Secret,
                organization_id: OrganizationId,
                ttl: std::time::Duration,
            ) -> Result<CodeClaim> {
                sqlx::query(&authorization_codes::prune_sql(self.dialect)).execute(&self.pool).await?;
                let lookup = self.keys.get().lookup(AUTHORIZATION_CODE_PURPOSE, code);
                let ticket = crypto::generate_secret();
                let row = sqlx::query(&authorization_codes::claim_sql(self.dialect))
                    .bind(&lookup)
                    .bind(organization_id.get())
                    .bind(&ticket)
                    .bind(millis(ttl))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(on_insert("authorization code"))?;
                let holder = OrganizationId::new(row.try_get("organization_id")?);
                let held_under: String = row.try_get("claim_ticket")?;
                if held_under == ticket {
                    return Ok(CodeClaim::Claimed(ClaimedCode { lookup, ticket, organization_id }));
                }
                let instance_id: Option<i64> = row.try_get("instance_id")?;
                Ok(CodeClaim::Replayed { organization_id: holder, instance_id: instance_id.map(InstanceId::new) })
            }

            async fn bind_authorization_code(&self, claim: &ClaimedCode, instance_id: InstanceId) -> Result<bool> {
                let bound = sqlx::query(authorization_codes::BIND_EXISTING_INSTANCE)
                    .bind(instance_id.get())
                    .bind(&claim.lookup)
                    .bind(&claim.ticket)
                    .execute(&self.pool)
                    .await?;
                Ok(bound.rows_affected() == 1)
            }

            async fn release_authorization_code(&self, claim: &ClaimedCode) -> Result<()> {
                sqlx::query(authorization_codes::RELEASE)
                    .bind(&claim.lookup)
                    .bind(&claim.ticket)
                    .execute(&self.pool)
                    .await?;
                Ok(())
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

        fn current_tokens(record: &InstanceRecord) -> CurrentTokens {
            let pair = record.secrets.token_pair().map(|(access_token, refresh_token)| TokenPair {
                access_token,
                refresh_token,
                access_expires_at: record.access_expires_at,
            });
            CurrentTokens {
                instance_id: record.id,
                pair,
                refresh_generation: record.refresh_generation,
                refreshed_at: record.refreshed_at,
                valid: record.valid,
                secrets: record.secrets.clone(),
            }
        }
    };
}

pub(crate) use implement_store;
