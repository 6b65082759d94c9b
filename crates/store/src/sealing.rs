//! How instance rows (and pending authorizations) are sealed and opened: which associated data each
//! sealed column is bound to,
//! the row-level key state shared by both store implementations, and the raw row type.
//!
//! Database-independent: the SQL implementations fetch a [`RawInstance`] and hand it here.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, SubsecRound, Utc};
use subtle::ConstantTimeEq;

use crate::crypto::{Keyring, LookupKey, Sealed};
use crate::records::{InstanceId, InstanceRecord, OrganizationId, Secret, SecretMap, UserId};
use crate::repository::{Result, StoreError};

/// Lookup-hash purposes: a secret of one kind never matches a lookup of another.
pub(crate) const USER_PURPOSE: &str = "user";
pub(crate) const ORGANIZATION_PURPOSE: &str = "organization";
pub(crate) const INSTANCE_TOKEN_PURPOSE: &str = "instance-token";
pub(crate) const CONSOLE_SESSION_PURPOSE: &str = "console-session";
pub(crate) const OAUTH_STATE_PURPOSE: &str = "oauth-state";
pub(crate) const AUTHORIZATION_CODE_PURPOSE: &str = "authorization-code";

/// The keys a store works with. Replaced as a whole by a rotation.
pub(crate) struct Keys {
    pub ring: Keyring,
    pub lookup: LookupKey,
}

/// The current [`Keys`], swappable at run time so a rotation needs no restart.
///
/// A `std` lock around an `Arc`: readers clone the `Arc` and never hold the lock across an `.await`.
pub(crate) struct KeyState(RwLock<Arc<Keys>>);

impl KeyState {
    pub fn new(keys: Keys) -> Self {
        Self(RwLock::new(Arc::new(keys)))
    }

    pub fn get(&self) -> Arc<Keys> {
        Arc::clone(&self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    pub fn set(&self, keys: Keys) {
        *self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(keys);
    }
}

impl std::fmt::Debug for KeyState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("KeyState").field(&self.get().ring).finish()
    }
}

/// Associated data binding an instance's sealed secrets to its row.
fn secrets_aad(id: InstanceId) -> String {
    format!("instance:{id}:secrets")
}

/// Associated data binding an instance's sealed token to its row.
fn token_aad(id: InstanceId) -> String {
    format!("instance:{id}:token")
}

/// Associated data binding a pending authorization's sealed request to its row: its state, and the
/// organization and user it will act for (a request moved to another row or tenant fails to open).
pub(crate) fn pending_authorization_aad(
    state_lookup: &str,
    organization_id: OrganizationId,
    user_id: UserId,
) -> String {
    format!("pending_authorization:{state_lookup}:{organization_id}:{user_id}")
}

/// An instance row as stored: sealed columns still sealed, JSON columns still text.
pub(crate) struct RawInstance {
    pub id: InstanceId,
    pub organization_id: OrganizationId,
    pub element_key: String,
    pub name: String,
    pub tags: String,
    pub configuration: String,
    pub secrets: String,
    pub token_sealed: String,
    pub key_version: i64,
    pub valid: bool,
    pub disabled: bool,
    pub trace_logging: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub access_expires_at: Option<DateTime<Utc>>,
    pub refreshed_at: Option<DateTime<Utc>>,
    pub refresh_generation: i64,
    pub vendor_account: Option<String>,
}

/// The columns [`RawInstance`] is read from, in a fixed order shared by every query.
pub(crate) const INSTANCE_COLUMNS: &str = "id, organization_id, element_key, name, tags, configuration, secrets, \
     token_sealed, key_version, valid, disabled, trace_logging, created_at, updated_at, access_expires_at, \
     refreshed_at, refresh_generation, vendor_account";

/// The two sealed columns of an instance, both under one key version (they are always re-sealed
/// together, so one `key_version` column describes both).
pub(crate) struct SealedInstance {
    pub secrets: String,
    pub token: String,
    pub key_version: i64,
}

impl Keys {
    /// Seals an instance's secrets and token under the current key.
    pub fn seal_instance(&self, id: InstanceId, secrets: &SecretMap, token: &Secret) -> SealedInstance {
        let sealed_secrets = self.ring.seal(secrets.to_json().as_bytes(), &secrets_aad(id));
        let sealed_token = self.ring.seal(token.expose().as_bytes(), &token_aad(id));
        SealedInstance {
            secrets: sealed_secrets.encode_payload(),
            token: sealed_token.encode_payload(),
            key_version: sealed_secrets.key_version,
        }
    }

    /// Opens a stored row into a record.
    pub fn open_instance(&self, raw: RawInstance) -> Result<InstanceRecord> {
        let corrupt = |what| StoreError::Corrupt(what);
        let secrets = self.ring.open(&Sealed::decode_payload(raw.key_version, &raw.secrets)?, &secrets_aad(raw.id))?;
        let token = self.ring.open(&Sealed::decode_payload(raw.key_version, &raw.token_sealed)?, &token_aad(raw.id))?;
        Ok(InstanceRecord {
            id: raw.id,
            organization_id: raw.organization_id,
            element_key: raw.element_key,
            name: raw.name,
            tags: serde_json::from_str(&raw.tags).map_err(|_| corrupt("tags"))?,
            configuration: serde_json::from_str(&raw.configuration).map_err(|_| corrupt("configuration"))?,
            secrets: SecretMap::from_json(&secrets).ok_or(corrupt("secrets"))?,
            token: Secret::new(String::from_utf8(token).map_err(|_| corrupt("token"))?),
            valid: raw.valid,
            disabled: raw.disabled,
            trace_logging: raw.trace_logging,
            created_at: raw.created_at,
            updated_at: raw.updated_at,
            access_expires_at: raw.access_expires_at,
            refreshed_at: raw.refreshed_at,
            refresh_generation: raw.refresh_generation,
            vendor_account: raw.vendor_account,
        })
    }

    /// The keyed lookup hash of a secret of kind `purpose`.
    pub fn lookup(&self, purpose: &str, secret: &Secret) -> String {
        self.lookup.lookup_hash(purpose, secret.expose())
    }
}

/// Constant-time equality of two secrets (the lookup hash already matched; this guards the last step
/// against any future change of the lookup scheme).
pub(crate) fn secrets_equal(a: &Secret, b: &Secret) -> bool {
    texts_equal(a.expose(), b.expose())
}

/// Constant-time equality of two texts derived from secrets (lookup hashes compared in the application).
pub(crate) fn texts_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Now, at microsecond precision: PostgreSQL keeps microseconds, so truncating here makes a value
/// read back equal to the value written on both databases.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Truncates a caller's timestamp the same way as [`now`].
pub(crate) fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// JSON text of a string map (the non-secret configuration).
pub(crate) fn config_json(configuration: &BTreeMap<String, String>) -> String {
    serde_json::to_string(configuration).expect("a map of strings always serializes")
}

/// JSON text of a tag list.
pub(crate) fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).expect("a list of strings always serializes")
}
