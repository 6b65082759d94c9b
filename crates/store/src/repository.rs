//! The `Store` trait: every read and write of the platform's state, by area ([`InstanceStore`],
//! [`IdentityStore`], [`ConsoleStore`], [`TraceStore`], [`CoordinationStore`], [`EventStore`],
//! [`ResourceStore`], [`BulkStore`], [`FormulaStore`]) under one supertrait, and the store's error
//! type.
//!
//! Two implementations ([`crate::SqliteStore`], [`crate::PostgresStore`]), one conformance suite
//! (`tests/conformance.rs`) run against both. No SQL outside this crate.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::authorization_codes::{ClaimedCode, CodeClaim};
use crate::bulk::{BulkJob, BulkRowError, BulkStatus, BulkStep, NewBulkJob, StoredChunk};
use crate::crypto::{CryptoError, Keyring};
use crate::events::{DeliveryResult, EventCounts, EventQuery, EventStatus, PollCommit, StoredEvent};
use crate::formula_runs::{
    ExecutionRecord, ExecutionStatus, ExecutionStep, FormulaInstanceRecord, NewExecution, NewFormulaInstance,
    StepFinish,
};
use crate::formulas::FormulaRecord;
use crate::queue::{Job, JobState, NewJob};
use crate::records::{
    CurrentTokens, InstanceId, InstancePatch, InstanceQuery, InstanceRecord, NewInstance, Organization, OrganizationId,
    Page, PendingAuthorization, PendingTake, RefreshDecision, RefreshResult, Secret, TokenEvent, User, UserId,
    VendorCall,
};
use crate::resources::{PutMode, ResourceDocument, ResourceKind, ResourceScope};

/// Errors of the store. No message ever contains a secret: sqlx errors carry no bound values, and
/// the crypto errors name only key versions.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist, or belongs to another organization (callers answer 404 either way).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken; names the rule, e.g. `organization name`.
    #[error("conflict: {0} already exists")]
    Conflict(&'static str),
    /// The configured master key cannot open this database's canary: a startup error.
    #[error("the master key does not match this database (was it created with another key?): {0}")]
    WrongMasterKey(CryptoError),
    /// A stored sealed value failed to open or parse.
    #[error("stored secret unreadable: {0}")]
    Crypto(#[from] CryptoError),
    /// A stored row does not parse (names the column, never its content).
    #[error("stored {0} unreadable")]
    Corrupt(&'static str),
    /// A `next_page` cursor this store did not issue.
    #[error("invalid nextPage cursor")]
    InvalidCursor,
    /// The database URL names no supported database.
    #[error("unsupported database URL (expected sqlite://PATH or postgres://...): {0}")]
    UnsupportedUrl(String),
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// Shorthand for the store's results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A boxed, sendable future (the refresher's return type, kept dyn-compatible).
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The refresher called inside the refresh critical section: it receives the state re-read under the
/// lock and decides what to store. It may call the vendor; the lock is held meanwhile.
pub type RefreshFn = Box<dyn FnOnce(CurrentTokens) -> BoxFuture<RefreshDecision> + Send>;

/// Instances: their records, configuration and tokens, the refresh critical section, and the audit of
/// token events.
///
/// Invariants: an organization sees only its own instances (other organizations' rows are
/// [`StoreError::NotFound`]); instance tokens and secret configuration are sealed under the current
/// master key; at most one refresh critical section runs per instance at a time, across connections
/// and nodes.
#[async_trait]
pub trait InstanceStore: Send + Sync {
    /// Stores a new instance with a fresh instance token, returned with the record.
    async fn insert_instance(&self, new: NewInstance) -> Result<InstanceRecord>;

    /// Like [`InstanceStore::insert_instance`] for an instance created by exchanging a claimed authorization
    /// code: inserts it and binds `claim` to it in one transaction, so a replay of the code is
    /// answered with this instance from the moment it exists. [`StoreError::Conflict`]
    /// (`"authorization code"`), and no instance, when `claim` no longer holds the code (released,
    /// bound already, or expired and taken over) or belongs to another organization than `new`.
    async fn insert_instance_with_code(&self, new: NewInstance, claim: &ClaimedCode) -> Result<InstanceRecord>;

    /// How many instances `organization_id` has.
    async fn count_instances(&self, organization_id: OrganizationId) -> Result<u64>;

    /// The instance `id` of `organization_id`; [`StoreError::NotFound`] for another organization's.
    async fn get_instance(&self, organization_id: OrganizationId, id: InstanceId) -> Result<InstanceRecord>;

    /// The instance `id` of whichever organization: for background work that holds only an id (a
    /// claimed poll, a due delivery), never for a caller's request. [`StoreError::NotFound`] once
    /// deleted.
    async fn instance_by_id(&self, id: InstanceId) -> Result<InstanceRecord>;

    /// The instance whose token this is (any organization), or `None` (unknown, deleted or reissued).
    async fn find_instance_by_token(&self, token: &Secret) -> Result<Option<InstanceRecord>>;

    /// A page of the organization's instances in id order.
    async fn list_instances(
        &self,
        organization_id: OrganizationId,
        query: &InstanceQuery,
    ) -> Result<Page<InstanceRecord>>;

    /// Applies `patch` under the row lock and returns the updated record.
    async fn update_instance(
        &self,
        organization_id: OrganizationId,
        id: InstanceId,
        patch: InstancePatch,
    ) -> Result<InstanceRecord>;

    /// Deletes the instance; its token stops working at once. Token events are kept as audit.
    async fn delete_instance(&self, organization_id: OrganizationId, id: InstanceId) -> Result<()>;

    /// Issues a new instance token; the old one stops working at once.
    async fn reissue_instance_token(&self, organization_id: OrganizationId, id: InstanceId) -> Result<Secret>;

    /// Appends an audit entry. `detail` must not contain a secret.
    async fn record_token_event(&self, instance_id: InstanceId, kind: &str, outcome: &str, detail: &str) -> Result<()>;

    /// The newest `limit` token events of an instance, newest first.
    async fn list_token_events(&self, instance_id: InstanceId, limit: u32) -> Result<Vec<TokenEvent>>;

    /// Ids of valid, enabled instances whose access token expires before `expires_before`, or that
    /// were last refreshed (or created) before `refreshed_before`; soonest expiry first. An instance
    /// whose last refresh failed transiently is left out until its backoff has passed at `now`
    /// (2 s doubling up to 5 min, `domain::token_rules::backoff_delay`), so failing instances cannot
    /// starve the others.
    async fn instances_due_for_refresh(
        &self,
        expires_before: DateTime<Utc>,
        refreshed_before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<InstanceId>>;

    /// The refresh critical section of one instance.
    ///
    /// Takes the instance's lock (in process; on PostgreSQL also `SELECT ... FOR UPDATE`, held
    /// across the vendor call), re-reads the stored pair, calls `refresh` with it, and applies its
    /// decision in one transaction (on SQLite the write lock is taken only after the vendor
    /// answered, so a slow token endpoint stalls no other writer): a new pair is committed before this returns, so the store
    /// never holds only a refresh token the vendor has retired. Records a token event for every
    /// decision except `Unchanged`.
    async fn refresh_tokens(&self, instance_id: InstanceId, refresh: RefreshFn) -> Result<RefreshResult>;
}

/// Organizations, users, and the authentication of their secrets.
///
/// Invariant: user and organization secrets are never stored in clear, only as salted hashes plus a
/// keyed lookup hash.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// True when no organization exists yet (first start: bootstrap `default`).
    async fn is_empty(&self) -> Result<bool>;

    /// Creates an organization with a generated secret, returned once and stored only hashed.
    async fn create_organization(&self, name: &str) -> Result<(Organization, Secret)>;

    /// Like [`IdentityStore::create_organization`] with a caller-chosen secret (bootstrap from the environment).
    async fn create_organization_with_secret(&self, name: &str, secret: &Secret) -> Result<Organization>;

    /// Creates organization `name` and its first admin user `email` in one transaction: both exist
    /// afterwards, or neither (bootstrap and `POST /organizations` with a user).
    async fn create_organization_with_admin(
        &self,
        name: &str,
        org_secret: &Secret,
        email: &str,
        user_secret: &Secret,
    ) -> Result<(Organization, User)>;

    /// Creates a user in `organization_id` with a generated secret, returned once.
    async fn create_user(&self, organization_id: OrganizationId, email: &str, is_admin: bool)
        -> Result<(User, Secret)>;

    /// Like [`IdentityStore::create_user`] with a caller-chosen secret (bootstrap from the environment).
    async fn create_user_with_secret(
        &self,
        organization_id: OrganizationId,
        email: &str,
        is_admin: bool,
        secret: &Secret,
    ) -> Result<User>;

    /// The user and organization both secrets belong to, or `None`: unknown secret, wrong hash, or a
    /// user of another organization. Found by keyed hash, verified against the salted hash in
    /// constant time.
    async fn authenticate(&self, user_secret: &Secret, org_secret: &Secret) -> Result<Option<(User, Organization)>>;

    /// The organization's users, oldest first, at most `limit`; never a secret.
    async fn list_users(&self, organization_id: OrganizationId, limit: u32) -> Result<Vec<User>>;

    /// User `id` of `organization_id`; [`StoreError::NotFound`] for another organization's.
    async fn get_user(&self, organization_id: OrganizationId, id: UserId) -> Result<User>;

    /// Deletes user `id` of `organization_id`: their secret stops authenticating at once, and their
    /// console sessions go with them. [`StoreError::NotFound`] for another organization's.
    async fn delete_user(&self, organization_id: OrganizationId, id: UserId) -> Result<()>;

    /// The user a user secret belongs to, with their organization, or `None`; for hub calls, which
    /// carry `User` and `Element` but not always `Organization`. Verified like [`IdentityStore::authenticate`].
    async fn authenticate_user(&self, user_secret: &Secret) -> Result<Option<(User, Organization)>>;
}

/// The web console's server-side state: sign-in sessions, and the authorizations it started that wait
/// for the vendor's redirect back. Both are found by keyed hashes, never stored in clear.
#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// Starts a web console session for `user_id` that ends at `expires_at`, and returns its id (the
    /// cookie value: 256 random bits), stored only as a keyed hash. Expired sessions are pruned here.
    async fn create_console_session(&self, user_id: UserId, expires_at: DateTime<Utc>) -> Result<Secret>;

    /// The user and organization of a console session that is still live at `now`, or `None`
    /// (unknown, signed out, expired, or its user deleted).
    async fn find_console_session(&self, session: &Secret, now: DateTime<Utc>) -> Result<Option<(User, Organization)>>;

    /// Ends a console session (sign-out); an unknown session is not an error.
    async fn delete_console_session(&self, session: &Secret) -> Result<()>;

    /// Remembers an authorization started by console `session` under `state` (the random part of the
    /// OAuth `state` parameter), keyed by hashes of both; the request is sealed. Expired pending
    /// authorizations are pruned here.
    async fn save_pending_authorization(
        &self,
        state: &Secret,
        session: &Secret,
        pending: &PendingAuthorization,
    ) -> Result<()>;

    /// Removes the pending authorization of `state` and returns it if `session` started it and it is
    /// live at `now`. Removal and read are one statement, so of two concurrent takes at most one
    /// finds it (single use, across nodes).
    async fn take_pending_authorization(
        &self,
        state: &Secret,
        session: &Secret,
        now: DateTime<Utc>,
    ) -> Result<PendingTake>;
}

/// The trace log of an instance's vendor calls (while its trace logging is on).
#[async_trait]
pub trait TraceStore: Send + Sync {
    /// Appends a vendor call to the instance's trace log, keeping only its newest
    /// [`crate::VENDOR_CALLS_KEPT`] entries.
    async fn record_vendor_call(&self, instance_id: InstanceId, call: &VendorCall) -> Result<()>;

    /// The newest `limit` traced vendor calls of an instance, newest first.
    async fn list_vendor_calls(&self, instance_id: InstanceId, limit: u32) -> Result<Vec<VendorCall>>;
}

/// Coordination between nodes sharing the database: leases (`crate::leases`), the durable job queue
/// (`crate::queue`) and the registry of exchanged authorization codes (`crate::authorization_codes`).
/// Every expiry is judged by the database's clock, not the caller's.
///
/// Invariants: at most one owner holds an unexpired lease, a job is leased to at most one owner at a
/// time, and of concurrent claims of an authorization code exactly one succeeds.
#[async_trait]
pub trait CoordinationStore: Send + Sync {
    /// Takes the lease `(kind, key)` for `owner` for `ttl` and returns true, if it is free, expired,
    /// or already `owner`'s (then it is extended); returns false while another owner holds it. Of
    /// any number of concurrent takers, across connections and nodes, at most one succeeds.
    async fn try_lease(&self, kind: &str, key: &str, owner: &str, ttl: Duration) -> Result<bool>;

    /// Extends `owner`'s lease `(kind, key)` to `ttl` from now and returns true, if `owner` still holds
    /// it. An expired lease no other owner has taken since can still be renewed (nobody else held it
    /// in between); once taken over, or released, it cannot (false).
    async fn renew_lease(&self, kind: &str, key: &str, owner: &str, ttl: Duration) -> Result<bool>;

    /// Gives up `owner`'s lease `(kind, key)` so another owner can take it at once. Does nothing when
    /// `owner` does not hold it (never held, released, or taken over after expiry).
    async fn release_lease(&self, kind: &str, key: &str, owner: &str) -> Result<()>;

    /// Stores `job` as ready (claimable from its `run_at`, or at once) and returns its id. To enqueue
    /// atomically with another write, use the store type's `enqueue_in` inside that write's
    /// transaction instead.
    async fn enqueue(&self, job: &NewJob) -> Result<i64>;

    /// Leases up to `limit` due jobs of `queue` to `owner` for `lease_ttl` and returns them, oldest
    /// `run_at` first. Due: ready and past its `run_at`, or running under an expired lease (the
    /// worker died or stalled; the old owner can then no longer complete it). Re-claiming an expired
    /// claim counts as a failed attempt (`last_error` says whose lease expired); a job for which that
    /// would be its `max_attempts`-th failure goes to dead instead of to `owner`. Concurrent claims,
    /// across connections and nodes, never return the same job while its lease lasts.
    async fn claim_jobs(&self, queue: &str, owner: &str, lease_ttl: Duration, limit: u32) -> Result<Vec<Job>>;

    /// Extends `owner`'s claim on job `job_id` to `lease_ttl` from now (a long job's heartbeat); false
    /// when `owner` no longer holds it (re-claimed by another owner, or no longer running).
    async fn extend_job_lease(&self, job_id: i64, owner: &str, lease_ttl: Duration) -> Result<bool>;

    /// Marks job `job_id` done; true if `owner` held its claim, false (and nothing changes) otherwise.
    async fn complete_job(&self, job_id: i64, owner: &str) -> Result<bool>;

    /// Records a failure of job `job_id` by its claim holder `owner`: one more attempt and
    /// `error` kept as its last error. With `retry_at` and attempts left, the job is ready again from
    /// `retry_at`; without `retry_at`, or once `max_attempts` failures are reached, it is dead. Returns
    /// the new state, or `None` (and nothing changes) when `owner` does not hold the claim.
    async fn fail_job(
        &self,
        job_id: i64,
        owner: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<Option<JobState>>;

    /// Up to `limit` dead jobs of `queue` (the dead letters), most recently failed first.
    async fn dead_jobs(&self, queue: &str, limit: u32) -> Result<Vec<Job>>;

    /// Claims the OAuth authorization `code` for `organization_id` for `ttl`, before it is exchanged
    /// with the vendor: [`CodeClaim::Claimed`] if no unexpired claim holds it, else
    /// [`CodeClaim::Replayed`] naming the holder's organization and, once bound, the instance it
    /// created. Of any number of concurrent claims of a code no unexpired claim holds, across
    /// connections and nodes, exactly one is `Claimed`. Only the code's keyed hash is stored. `ttl`
    /// must outlast the exchange and should outlast the code ([`crate::AUTHORIZATION_CODE_TTL`]); it
    /// is judged by the database's clock. Expired claims are pruned here. An organization that does
    /// not exist is [`StoreError::NotFound`].
    async fn claim_authorization_code(
        &self,
        code: &Secret,
        organization_id: OrganizationId,
        ttl: Duration,
    ) -> Result<CodeClaim>;

    /// Binds `claim` to the existing instance `instance_id` (a re-authentication of it); true when
    /// bound, false (nothing changes) when `claim` no longer holds the code, is bound already, or the
    /// instance is not one of the claim's organization. New instances use
    /// [`InstanceStore::insert_instance_with_code`] instead, which binds atomically.
    async fn bind_authorization_code(&self, claim: &ClaimedCode, instance_id: InstanceId) -> Result<bool>;

    /// Gives up `claim` after a failed exchange, so the code can be claimed again. Does nothing when
    /// the claim is bound (a code that created an instance stays recorded) or no longer holds the
    /// code.
    async fn release_authorization_code(&self, claim: &ClaimedCode) -> Result<()>;
}

/// How far the polls of one object of an instance have read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectWatermark {
    /// The newest vendor change time a poll has seen (RFC 3339, UTC); `None` before the first poll.
    pub watermark: Option<String>,
    /// When the object's ids were last read in full (deletes are found then).
    pub reconciled_at: Option<DateTime<Utc>>,
}

/// Events: the schedule and claims of instance polls, what a poll commits (changes, watermarks and
/// the notifications they make, in one transaction), and the durable outbox the notifications are
/// delivered from, which is also the event log (`crate::events`).
///
/// Invariants: an instance has a poller exactly while its configuration enables events (kept in
/// step by the instance writes); a poll commits only while its owner holds the instance's poll
/// claim, so two nodes never both record one poll; a change is recorded once (a re-read of the same
/// change time is a duplicate); a notification's content never changes once recorded.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Claims for `owner`, for `ttl` by the database's clock, up to `limit` instances whose poll is
    /// due and not claimed by another owner (or whose claim expired), soonest due first.
    async fn claim_due_polls(&self, owner: &str, ttl: Duration, limit: u32) -> Result<Vec<InstanceId>>;

    /// Claims the poll of `instance_id` for `owner` for `ttl`, due or not (a "poll now"): false while
    /// another owner's claim holds it; [`StoreError::NotFound`] when the instance has no poller
    /// (events disabled).
    async fn claim_poll(&self, instance_id: InstanceId, owner: &str, ttl: Duration) -> Result<bool>;

    /// How far each object of the instance has been polled.
    async fn watermarks(&self, instance_id: InstanceId) -> Result<BTreeMap<String, ObjectWatermark>>;

    /// Commits a poll in one transaction if `commit.owner` still holds the claim: classifies the
    /// records read (`crate::events::classify`), records the new ones as notifications (status NEW,
    /// due now), the deletes of complete reads, the watermarks, the next poll time, and releases
    /// the claim. Returns the notifications recorded, or `None` (nothing written) when the claim
    /// was lost.
    async fn commit_poll(&self, commit: &PollCommit) -> Result<Option<Vec<StoredEvent>>>;

    /// Gives up `owner`'s claim after a failed poll, due again at `next_poll_at`, keeping `error`
    /// (no secret) as the poller's last error.
    async fn release_poll(
        &self,
        instance_id: InstanceId,
        owner: &str,
        next_poll_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<()>;

    /// Up to `limit` instances whose oldest undelivered notification is due now.
    async fn instances_with_due_events(&self, limit: u32) -> Result<Vec<InstanceId>>;

    /// The instance's undelivered notifications (NEW or DISPATCHED), oldest first.
    async fn pending_events(&self, instance_id: InstanceId, limit: u32) -> Result<Vec<StoredEvent>>;

    /// Marks a notification DISPATCHED: an attempt is about to be made.
    async fn mark_dispatched(&self, event_id: i64) -> Result<()>;

    /// Records the outcome of a delivery attempt; returns the new status, or `None` when the
    /// notification was not pending any more.
    async fn record_delivery(&self, event_id: i64, result: &DeliveryResult) -> Result<Option<EventStatus>>;

    /// The instance's notifications matching `query` (see [`EventQuery`]).
    async fn list_events(&self, instance_id: InstanceId, query: &EventQuery) -> Result<Vec<StoredEvent>>;

    /// One notification of the instance; [`StoreError::NotFound`] for another instance's.
    async fn get_event(&self, instance_id: InstanceId, event_id: i64) -> Result<StoredEvent>;

    /// Makes notification `event_id` (any status), or without one every FAILED notification of the
    /// instance, NEW and due now with its attempts reset. Returns how many.
    async fn retry_events(&self, instance_id: InstanceId, event_id: Option<i64>) -> Result<u64>;

    /// Notifications per status, and the age of the oldest undelivered one, for one instance or all.
    async fn event_counts(&self, instance_id: Option<InstanceId>) -> Result<EventCounts>;

    /// Deletes delivered and failed notifications recorded before `before` (the retention); pending
    /// ones are kept. Returns how many.
    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// Common resources: each organization's object definitions and transformations, JSON documents
/// at organization, element or instance scope (`crate::resources`), and the generation that tells
/// nodes when to forget the documents they cached.
///
/// Invariants: an organization sees and writes only its own documents, and an instance-scoped one
/// only for its own instances (another organization's are absent, [`StoreError::NotFound`] on a
/// put); names are unique ignoring ASCII case within (organization, kind, scope), and keep the
/// spelling they were created with; every change of any document, including the deletion of an
/// instance's documents with the instance, increases the generation in the same transaction.
#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// Stores `document` under (organization, kind, scope, name), as `mode` allows:
    /// [`PutMode::Create`] is [`StoreError::Conflict`] (`"common resource"`) when one exists,
    /// [`PutMode::Replace`] [`StoreError::NotFound`] when none does. Replacing keeps the existing
    /// document's `created_at` and name spelling. An instance scope must name an instance of
    /// `organization`, else [`StoreError::NotFound`]. Bumps the generation in the same transaction.
    async fn put_resource(
        &self,
        organization: OrganizationId,
        kind: ResourceKind,
        scope: &ResourceScope,
        name: &str,
        document: &serde_json::Value,
        mode: PutMode,
    ) -> Result<ResourceDocument>;

    /// One document, its name matched ignoring ASCII case; `None` when absent (or another
    /// organization's).
    async fn resource(
        &self,
        organization: OrganizationId,
        kind: ResourceKind,
        scope: &ResourceScope,
        name: &str,
    ) -> Result<Option<ResourceDocument>>;

    /// The organization's documents of `kind` (`None`: both kinds) in any of `scopes` (none for no
    /// scopes), ordered by kind, scope (organization, element, instance), then name ignoring ASCII
    /// case.
    async fn resources(
        &self,
        organization: OrganizationId,
        kind: Option<ResourceKind>,
        scopes: &[ResourceScope],
    ) -> Result<Vec<ResourceDocument>>;

    /// Deletes one document, its name matched ignoring ASCII case; false when there was none (or it
    /// is another organization's). Bumps the generation when it deleted.
    async fn delete_resource(
        &self,
        organization: OrganizationId,
        kind: ResourceKind,
        scope: &ResourceScope,
        name: &str,
    ) -> Result<bool>;

    /// A number that increases with every change of any organization's documents, including an
    /// instance's documents deleted with it, and with nothing else. Nodes poll it (about once a
    /// second) to forget their cached documents when it moves: one primary-key read of a one-row
    /// table.
    async fn resources_generation(&self) -> Result<i64>;
}

/// Bulk jobs (`crate::bulk`): the jobs of each instance, the steps their runners commit, their
/// results, refused rows and uploaded files.
///
/// Invariants: a job is read, listed and cancelled only through its own instance (another
/// instance's is [`StoreError::NotFound`]); a step commits only while the job is RUNNING at the
/// step its runner read, with its records or row outcomes, counters and next position in one
/// transaction; a job leaves CREATED or RUNNING once; a job ending with a callback URL queues one
/// notification in the transaction that ends it; an instance's jobs go with it.
#[async_trait]
pub trait BulkStore: Send + Sync {
    /// Creates a job and returns its id: queued (CREATED) at once, or with `uploading` held in
    /// UPLOADING, invisible, until [`BulkStore::queue_uploaded_bulk_job`].
    async fn create_bulk_job(&self, new: &NewBulkJob, uploading: bool) -> Result<i64>;

    /// Stores part `seq` of an uploading job's file.
    async fn put_bulk_file_part(&self, job_id: i64, seq: i64, data: &[u8]) -> Result<()>;

    /// Up to `limit` parts of a job's file from part `from_seq` on, in order.
    async fn bulk_file_parts(&self, job_id: i64, from_seq: i64, limit: u32) -> Result<Vec<(i64, Vec<u8>)>>;

    /// Queues an UPLOADING job whose file holds `rows` data rows, with its `request` as the file's
    /// check completed it; [`StoreError::NotFound`] when it is not uploading.
    async fn queue_uploaded_bulk_job(&self, job_id: i64, request: &serde_json::Value, rows: u64) -> Result<BulkJob>;

    /// Deletes a job with its results, errors and file (an upload refused before it was queued).
    async fn delete_bulk_job(&self, job_id: i64) -> Result<()>;

    /// One job, of `instance_id` when given (else [`StoreError::NotFound`]); never an UPLOADING one.
    async fn bulk_job(&self, instance_id: Option<InstanceId>, id: i64) -> Result<BulkJob>;

    /// The instance's jobs, newest first.
    async fn list_bulk_jobs(&self, instance_id: InstanceId, limit: u32) -> Result<Vec<BulkJob>>;

    /// Cancels a CREATED or RUNNING job of the instance (a final one is left as it is) and returns it.
    async fn cancel_bulk_job(&self, instance_id: InstanceId, id: i64) -> Result<BulkJob>;

    /// Moves a CREATED job to RUNNING (its start time set once) and returns the job as it is.
    async fn start_bulk_run(&self, id: i64) -> Result<BulkJob>;

    /// Commits one step (see the trait's invariants); false, with nothing written, when the job
    /// is not RUNNING at `step.step` any more (cancelled, or another runner went on).
    async fn commit_bulk_step(&self, step: &BulkStep) -> Result<bool>;

    /// Up to `limit` chunks of a job's result, in order, from the one holding byte `from` of the
    /// JSON lines (or, with `csv`, of the CSV rows).
    async fn bulk_results(&self, job_id: i64, from: u64, csv: bool, limit: u32) -> Result<Vec<StoredChunk>>;

    /// A job's refused rows in row order, `limit` from `offset`.
    async fn bulk_errors(&self, job_id: i64, offset: u64, limit: u32) -> Result<Vec<BulkRowError>>;

    /// How many jobs there are in each status (metrics).
    async fn bulk_job_counts(&self) -> Result<Vec<(BulkStatus, u64)>>;

    /// Deletes the jobs final before `finished_before` with everything they hold, and uploads
    /// abandoned for a day. Returns how many.
    async fn prune_bulk_jobs(&self, finished_before: DateTime<Utc>) -> Result<u64>;
}

/// Formula templates (`crate::formulas`): an organization's templates, each a JSON document with a
/// name.
///
/// Invariants: an organization reads, lists, replaces and deletes only its own templates (another
/// organization's are absent: `None`, [`StoreError::NotFound`] or `false`, never a hint they exist);
/// names are unique ignoring ASCII case within an organization ([`StoreError::Conflict`]
/// `"formula"`); an organization's templates go with it. The store does not validate templates.
#[async_trait]
pub trait FormulaStore: Send + Sync {
    /// Stores a new template named `name`; [`StoreError::Conflict`] (`"formula"`) when the
    /// organization has one of that name (ignoring ASCII case).
    async fn create_formula(
        &self,
        organization: OrganizationId,
        name: &str,
        template: &serde_json::Value,
    ) -> Result<FormulaRecord>;

    /// The organization's template `id`; `None` when absent or another organization's.
    async fn formula(&self, organization: OrganizationId, id: i64) -> Result<Option<FormulaRecord>>;

    /// One page of the organization's templates in id order: at most `page_size` (1 to 1000) after
    /// the page `next_page` (the previous page's cursor; [`StoreError::InvalidCursor`] for one the
    /// store did not issue).
    async fn list_formulas(
        &self,
        organization: OrganizationId,
        page_size: u32,
        next_page: Option<&str>,
    ) -> Result<Page<FormulaRecord>>;

    /// Replaces template `id`'s name and document, keeping its `created_at`;
    /// [`StoreError::NotFound`] when absent or another organization's, [`StoreError::Conflict`]
    /// (`"formula"`) when another template of the organization has the name.
    async fn replace_formula(
        &self,
        organization: OrganizationId,
        id: i64,
        name: &str,
        template: &serde_json::Value,
    ) -> Result<FormulaRecord>;

    /// Deletes template `id`; false when there was none (or it is another organization's).
    async fn delete_formula(&self, organization: OrganizationId, id: i64) -> Result<bool>;
}

/// Formula instances and executions (`crate::formula_runs`).
///
/// Invariants: an organization reads and changes only its own formula instances and executions
/// (another organization's are absent); a formula instance belongs to a template of its
/// organization and goes with it; an execution is created together with its queue job
/// ([`crate::formula_runs::FORMULA_QUEUE`]) in one transaction, at most once per formula instance
/// and `dedupe_key`; a final execution never changes again; step records are kept in `seq` order
/// and go with their execution.
#[async_trait]
pub trait FormulaRunStore: Send + Sync {
    /// Creates a formula instance; [`StoreError::NotFound`] when the template is absent or another
    /// organization's.
    async fn create_formula_instance(&self, new: &NewFormulaInstance) -> Result<FormulaInstanceRecord>;

    /// The organization's formula instance `id`.
    async fn formula_instance(&self, organization: OrganizationId, id: i64) -> Result<Option<FormulaInstanceRecord>>;

    /// The organization's formula instances of template `formula_id` (all its templates' when
    /// `None`), in id order, at most 1000.
    async fn list_formula_instances(
        &self,
        organization: OrganizationId,
        formula_id: Option<i64>,
    ) -> Result<Vec<FormulaInstanceRecord>>;

    /// Activates or deactivates formula instance `id`; `None` when absent.
    async fn set_formula_instance_active(
        &self,
        organization: OrganizationId,
        id: i64,
        active: bool,
    ) -> Result<Option<FormulaInstanceRecord>>;

    /// Deletes formula instance `id` with its executions; false when there was none.
    async fn delete_formula_instance(&self, organization: OrganizationId, id: i64) -> Result<bool>;

    /// Every active formula instance of every organization, with its template's JSON, in id order
    /// after `after`, at most `limit` (the trigger jobs' listing).
    async fn active_formula_instances(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<(FormulaInstanceRecord, serde_json::Value)>>;

    /// Moves a formula instance's trigger cursors (each only when given).
    async fn advance_formula_triggers(
        &self,
        id: i64,
        event_cursor: Option<i64>,
        schedule_cursor: Option<DateTime<Utc>>,
    ) -> Result<()>;

    /// Creates an execution, status queued, with its queue job; `None` (nothing written) when the
    /// formula instance already has an execution with the same `dedupe_key`;
    /// [`StoreError::NotFound`] when the formula instance is gone.
    async fn create_execution(&self, new: &NewExecution) -> Result<Option<ExecutionRecord>>;

    /// Execution `id`, of `organization` when given.
    async fn execution(&self, organization: Option<OrganizationId>, id: i64) -> Result<Option<ExecutionRecord>>;

    /// The formula instance's executions, newest first, ids below `before` when given, at most
    /// `limit` (up to [`crate::formula_runs::MAX_EXECUTIONS_LISTED`]).
    async fn list_executions(
        &self,
        organization: OrganizationId,
        formula_instance_id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ExecutionRecord>>;

    /// The execution's step records in `seq` order.
    async fn execution_steps(&self, execution_id: i64) -> Result<Vec<ExecutionStep>>;

    /// Marks a queued or pending execution pending (a node runs it) and returns it; a final one is
    /// returned unchanged.
    async fn start_execution(&self, id: i64) -> Result<Option<ExecutionRecord>>;

    /// Records step run `seq` as started with its input (again, when a run killed during it is
    /// resumed); false, with nothing written, when the execution is not pending.
    async fn begin_execution_step(
        &self,
        execution_id: i64,
        seq: i64,
        name: &str,
        step_type: &str,
        input: &serde_json::Value,
    ) -> Result<bool>;

    /// Records how step run `seq` ended; false when it was not started or the execution is not
    /// pending any more.
    async fn finish_execution_step(&self, execution_id: i64, seq: i64, finish: &StepFinish<'_>) -> Result<bool>;

    /// Ends a queued or pending execution with `status` (final); false when it had ended already.
    async fn finish_execution(&self, id: i64, status: ExecutionStatus, error: Option<&str>) -> Result<bool>;

    /// Cancels the organization's execution `id` if it has not ended; `None` when absent.
    async fn cancel_execution(&self, organization: OrganizationId, id: i64) -> Result<Option<ExecutionRecord>>;

    /// Deletes executions that ended before `before`, with their steps. Returns how many.
    async fn prune_executions(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// Every operation on the platform's persistent state: the area traits, plus what concerns the store
/// as a whole. Callers hold an `Arc<dyn Store>`, on which the area traits' methods are callable
/// without importing them (a trait object has its supertraits' methods); code holding a concrete
/// store type, or generic over one, imports the area traits it calls.
///
/// One trait per area keeps each one readable and each implementation's SQL in one module per area;
/// the supertrait keeps one object to pass around. Every implementation keeps the invariants stated
/// on each area trait (checked by the conformance suite).
#[async_trait]
pub trait Store:
    InstanceStore
    + IdentityStore
    + ConsoleStore
    + TraceStore
    + CoordinationStore
    + EventStore
    + ResourceStore
    + BulkStore
    + FormulaStore
    + FormulaRunStore
    + Send
    + Sync
    + std::fmt::Debug
{
    /// `Ok` when the database answers (readiness probe).
    async fn ping(&self) -> Result<()>;

    /// A MAC of `data` for `purpose` under the key every node sharing this database holds (hub page
    /// cursors are signed with it, so any node can check a cursor another node issued).
    fn keyed_hash(&self, purpose: &str, data: &str) -> String;

    /// The vendor's rate limits shared by every node on this database, where there can be several
    /// nodes (PostgreSQL); `None` on SQLite, whose one node keeps its limits in memory.
    fn vendor_budget(&self) -> Option<crate::vendor_budget::VendorBudgetTable>;

    /// Re-seals every sealed value under `keyring`'s current key, in batches, while serving: rows not
    /// yet re-sealed stay readable through `keyring`'s older keys, which must include the key in use.
    /// Returns how many instances were re-sealed. Another node still holding only the old key must be
    /// restarted with the new keyring.
    async fn rotate_master_key(&self, keyring: Keyring) -> Result<u64>;
}
