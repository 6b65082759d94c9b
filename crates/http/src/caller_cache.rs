//! Hub callers recently authenticated, so that a busy instance does not cost two database reads
//! and a decryption on every hub call: the user (and organization) secret and the instance token of
//! a call map to the instance record read for them, for at most [`TTL`].
//!
//! Staleness is bounded and safe: this node forgets everything after any write to an instance
//! through the platform API ([`forget_on_instance_writes`]) and forgets an instance when it
//! refreshes its tokens; another node's change is seen within [`TTL`]. A cached access token that
//! another node has already replaced costs one vendor 401, after which the refresh path finds the
//! stored pair newer and uses it without asking the vendor. Keys are SHA-256 digests of the
//! credentials, so the map holds no secret in the clear.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use store::{Id, InstanceRecord};

use crate::state::AppState;

/// How long an authenticated caller is trusted without asking the store again.
pub const TTL: Duration = Duration::from_secs(2);
/// Entries kept at most; the map is emptied when it would grow past this.
const CAPACITY: usize = 10_000;

/// The digest of a call's credentials.
type Key = [u8; 32];

/// The cache; one per process, shared through [`AppState`].
#[derive(Debug, Default)]
pub struct CallerCache {
    /// When each entry was read from the store, and what was read.
    entries: Mutex<HashMap<Key, (Instant, Arc<InstanceRecord>)>>,
}

impl CallerCache {
    /// The key of a call's credentials.
    pub fn key(user_secret: &str, org_secret: Option<&str>, instance_token: &str) -> Key {
        let mut digest = Sha256::new();
        for part in [user_secret, org_secret.unwrap_or(""), instance_token] {
            digest.update(part.as_bytes());
            digest.update([0]);
        }
        digest.finalize().into()
    }

    /// The instance cached for `key`, if it is younger than [`TTL`].
    pub fn get(&self, key: &Key) -> Option<Arc<InstanceRecord>> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.get(key).filter(|(at, _)| at.elapsed() < TTL).map(|(_, instance)| Arc::clone(instance))
    }

    pub fn put(&self, key: Key, instance: Arc<InstanceRecord>) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, (Instant::now(), instance));
    }

    /// Forgets instance `id` (its tokens changed).
    pub fn forget_instance(&self, id: Id) {
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.retain(|_, (_, instance)| instance.id != id);
    }

    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }
}

/// Middleware: after any request that may have changed an instance (a write under `/instances`),
/// this node's cache is emptied, so a deleted, disabled or reconfigured instance is seen at once.
pub async fn forget_on_instance_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let writes_instances = request.method() != Method::GET
        && request.method() != Method::HEAD
        && request.uri().path().contains("/instances");
    let response = next.run(request).await;
    if writes_instances {
        state.callers.clear();
    }
    response
}
