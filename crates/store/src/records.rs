//! The values the store reads and writes: organizations, users, instances, token events, and the
//! secret-holding types that keep clear-text secrets out of `Debug` output.
//!
//! Plain data only; the rules that produce these values (which configuration keys are secret, when a
//! token is due) belong to the domain crate.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

/// The ids of organizations, users and instances: the domain's newtypes (database-assigned, never
/// reused). The store binds their number and wraps what it reads. Row ids nobody outside passes
/// around (token events, jobs) stay plain `i64`.
pub use domain::{InstanceId, OrganizationId, UserId};

/// Configuration key under which an instance's OAuth access token is kept (among its sealed secrets).
pub const ACCESS_TOKEN_KEY: &str = "oauth.user.token";
/// Configuration key under which an instance's OAuth refresh token is kept (among its sealed secrets).
pub const REFRESH_TOKEN_KEY: &str = "oauth.user.refresh_token";

/// A secret in clear, in memory only (instance token, user or organization secret, vendor token):
/// the domain's type, whose `Debug` prints `Secret(********)` and which has no `Display`.
pub use domain::Secret;

/// The secret configuration values of an instance (vendor secrets, the Encrypted Key, OAuth
/// tokens), keyed by configuration key. Sealed as one JSON object at rest; `Debug` shows keys only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretMap(pub BTreeMap<String, Secret>);

impl SecretMap {
    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Secret> {
        self.0.get(key)
    }

    /// Sets `key` to `value`.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Secret>) {
        self.0.insert(key.into(), value.into());
    }

    pub(crate) fn to_json(&self) -> String {
        let plain: BTreeMap<&str, &str> = self.0.iter().map(|(k, v)| (k.as_str(), v.expose())).collect();
        serde_json::to_string(&plain).expect("a map of strings always serializes")
    }

    pub(crate) fn from_json(json: &[u8]) -> Option<Self> {
        let plain: BTreeMap<String, String> = serde_json::from_slice(json).ok()?;
        Some(Self(plain.into_iter().map(|(k, v)| (k, Secret::new(v))).collect()))
    }

    /// The stored OAuth pair, when both halves are present.
    pub fn token_pair(&self) -> Option<(Secret, Secret)> {
        Some((self.get(ACCESS_TOKEN_KEY)?.clone(), self.get(REFRESH_TOKEN_KEY)?.clone()))
    }
}

impl fmt::Debug for SecretMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.keys().map(|k| (k, "********"))).finish()
    }
}

impl<K: Into<String>, V: Into<Secret>> FromIterator<(K, V)> for SecretMap {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        Self(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

/// A tenant. Its secret is stored only as a salted hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organization {
    pub id: OrganizationId,
    /// Unique across the store (so two nodes bootstrapping `default` at once cannot both succeed).
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A user of one organization. Its secret is stored only as a salted hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub organization_id: OrganizationId,
    /// Unique within the organization.
    pub email: String,
    pub is_admin: bool,
    pub created_at: DateTime<Utc>,
}

/// What [`crate::InstanceStore::insert_instance`] needs. `configuration` holds only non-secret values;
/// everything secret goes in `secrets` (the domain decides which keys are which).
#[derive(Clone, Debug)]
pub struct NewInstance {
    pub organization_id: OrganizationId,
    pub element_key: String,
    pub name: String,
    pub tags: Vec<String>,
    pub configuration: BTreeMap<String, String>,
    pub secrets: SecretMap,
    pub access_expires_at: Option<DateTime<Utc>>,
    /// The vendor account the grant named, if it named one (see [`InstanceRecord::vendor_account`]).
    pub vendor_account: Option<String>,
}

/// A stored instance, secrets opened.
#[derive(Clone, Debug)]
pub struct InstanceRecord {
    pub id: InstanceId,
    pub organization_id: OrganizationId,
    pub element_key: String,
    pub name: String,
    pub tags: Vec<String>,
    pub configuration: BTreeMap<String, String>,
    pub secrets: SecretMap,
    /// The instance token (sealed at rest, found by its keyed hash).
    pub token: Secret,
    /// False once the vendor rejected the refresh token (`invalid_grant`); never for transient failures.
    pub valid: bool,
    pub disabled: bool,
    pub trace_logging: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Incremented by every stored token pair; lets a refresher tell "someone else refreshed".
    pub refresh_generation: i64,
    /// The vendor account (the Keap app's host, `ab123.infusionsoft.com`) the last grant that named
    /// one named (`domain::token_rules::TokenGrant::account`): the account the vendor counts this
    /// instance's calls against.
    pub vendor_account: Option<String>,
}

/// Changes to an instance; `None` leaves a field alone. Map entries are merged: `Some(v)` sets a
/// key, `None` removes it. Applied under the instance's row lock, so a concurrent refresh is never
/// overwritten with stale tokens.
#[derive(Clone, Debug, Default)]
pub struct InstancePatch {
    pub name: Option<String>,
    /// Replaces the tag list.
    pub tags: Option<Vec<String>>,
    pub configuration: BTreeMap<String, Option<String>>,
    /// Setting either OAuth token key here (re-authentication) counts as a new token generation.
    pub secrets: BTreeMap<String, Option<Secret>>,
    pub disabled: Option<bool>,
    pub trace_logging: Option<bool>,
    pub valid: Option<bool>,
    pub access_expires_at: Option<Option<DateTime<Utc>>>,
    /// A new grant's vendor account (re-authentication); `None` leaves the stored one.
    pub vendor_account: Option<String>,
}

/// Which instances `list_instances` returns, and which page.
#[derive(Clone, Debug)]
pub struct InstanceQuery {
    /// Only instances carrying every one of these tags.
    pub tags_all_of: Vec<String>,
    /// Case-insensitive substring of the name (`%` and `_` match literally).
    pub search_text: Option<String>,
    /// At least 1; the store caps it at 1000.
    pub page_size: u32,
    /// The `next_page` of the previous page, opaque to callers.
    pub next_page: Option<String>,
}

impl Default for InstanceQuery {
    fn default() -> Self {
        Self { tags_all_of: Vec::new(), search_text: None, page_size: 200, next_page: None }
    }
}

/// One page of results; `next_page` is `None` on the last page.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page: Option<String>,
}

/// One audit entry of an instance's token lifecycle. `detail` is free text and must never hold a
/// secret: callers pass the vendor's error code or message, never a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenEvent {
    /// The event's row id: increasing, so newer events have larger ids.
    pub id: i64,
    pub instance_id: InstanceId,
    pub at: DateTime<Utc>,
    /// What happened, e.g. `refresh`, `reauthenticate`, `token-reissued`.
    pub kind: String,
    /// How it ended, e.g. `refreshed`, `invalid_grant`, `failed`.
    pub outcome: String,
    pub detail: String,
}

/// An OAuth token pair as the vendor returned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPair {
    pub access_token: Secret,
    pub refresh_token: Secret,
    pub access_expires_at: Option<DateTime<Utc>>,
    /// The vendor account the grant named; `None` keeps the stored one.
    pub vendor_account: Option<String>,
}

/// What the refresh critical section sees: the state re-read after the lock was taken.
#[derive(Clone, Debug)]
pub struct CurrentTokens {
    pub instance_id: InstanceId,
    /// `None` when the instance holds no token pair (nothing to refresh from).
    pub pair: Option<TokenPair>,
    pub refresh_generation: i64,
    pub refreshed_at: Option<DateTime<Utc>>,
    pub valid: bool,
    /// The instance's secret configuration (client id/secret are needed to call the token endpoint).
    pub secrets: SecretMap,
}

/// What the refresher decided, inside the critical section.
#[derive(Clone, Debug)]
pub enum RefreshDecision {
    /// The vendor issued this pair: store it (committed before `refresh_tokens` returns).
    Refreshed(TokenPair),
    /// Nothing to do (another worker already refreshed). Nothing is written.
    Unchanged,
    /// The vendor rejected the refresh token (`invalid_grant`): mark the instance invalid.
    Invalid { detail: String },
    /// A transient failure: record it, keep the instance valid and the stored pair as it was.
    Failed { detail: String },
}

/// How a refresh critical section ended, and the state it left.
#[derive(Clone, Debug)]
pub struct RefreshResult {
    pub outcome: RefreshOutcome,
    /// The state after the section: the new pair when refreshed, else what was stored.
    pub current: CurrentTokens,
}

/// The kind of [`RefreshDecision`] applied, without its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefreshOutcome {
    Refreshed,
    Unchanged,
    Invalid,
    Failed,
}

/// An authorization the web console started: the Authenticate form as typed, kept server-side from
/// the redirect to the vendor until the vendor redirects back to `/oauth/callback`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingAuthorization {
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    /// The form as JSON. It holds the OAuth client secret and the Encrypted Key, so it is sealed at
    /// rest, bound to its row.
    pub request: Secret,
    pub expires_at: DateTime<Utc>,
}

/// What [`crate::ConsoleStore::take_pending_authorization`] found for a `state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PendingTake {
    /// The authorization, now removed: a second take of the same state finds [`PendingTake::Unknown`].
    Found(PendingAuthorization),
    /// It existed but expired; removed.
    Expired,
    /// It existed but another browser session started it; removed (a state leaked to another
    /// browser must not create an instance in the victim's organization).
    OtherSession,
    /// No such state: never issued, already used, or pruned.
    Unknown,
}

/// How many traced vendor calls an instance keeps.
pub const VENDOR_CALLS_KEPT: u32 = 100;

/// One vendor call made for an instance while its trace logging was on (newest kept, per instance).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VendorCall {
    pub at: DateTime<Utc>,
    pub method: String,
    /// The vendor path and query as sent (no credentials: the token travels in a header).
    pub path: String,
    /// The vendor's HTTP status; 0 when no answer came (timeout, connection refused).
    pub status: u16,
    pub duration_ms: u32,
}
