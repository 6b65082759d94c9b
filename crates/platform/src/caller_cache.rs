//! Hub callers recently authenticated, so that a busy instance does not cost two database reads
//! and a decryption on every hub call: the user (and organization) secret and the instance token of
//! a call map to the instance record read for them, for at most [`TTL`].
//!
//! Staleness is bounded and safe: this node forgets everything after any write to an instance
//! through the platform API (the HTTP layer clears it after every write under `/instances`, also when that request is cancelled)
//! and forgets an instance when it refreshes its tokens; a record read before such a forget is
//! never cached after it (an epoch guards `put`); another node's change is seen within [`TTL`]. A cached access token that
//! another node has already replaced costs one vendor 401, after which the refresh path finds the
//! stored pair newer and uses it without asking the vendor. Keys are SHA-256 digests of the
//! credentials, so the map holds no secret in the clear.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use store::{InstanceId, InstanceRecord};

/// How long an authenticated caller is trusted without asking the store again.
pub const TTL: Duration = Duration::from_secs(2);
/// Entries kept at most; the map is emptied when it would grow past this.
const CAPACITY: usize = 10_000;

/// The digest of a call's credentials.
type Key = [u8; 32];

/// The cache; one per process, shared through [`crate::Platform`].
#[derive(Debug, Default)]
pub struct CallerCache {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// Bumped by every forget: a record read before a forget is never put back after it.
    epoch: u64,
    /// When each entry was read from the store, and what was read.
    map: HashMap<Key, (Instant, Arc<InstanceRecord>)>,
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

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The instance cached for `key`, if it is younger than [`TTL`].
    pub fn get(&self, key: &Key) -> Option<Arc<InstanceRecord>> {
        let entries = self.entries();
        entries.map.get(key).filter(|(at, _)| at.elapsed() < TTL).map(|(_, instance)| Arc::clone(instance))
    }

    /// The current epoch: read it before reading the store, hand it to [`CallerCache::put`].
    pub fn epoch(&self) -> u64 {
        self.entries().epoch
    }

    /// Caches `instance` for `key`, unless something was forgotten since `epoch` was read (the
    /// record may be older than that forget).
    pub fn put(&self, key: Key, instance: Arc<InstanceRecord>, epoch: u64) {
        let mut entries = self.entries();
        if entries.epoch != epoch {
            return;
        }
        if entries.map.len() >= CAPACITY {
            entries.map.clear();
        }
        entries.map.insert(key, (Instant::now(), instance));
    }

    /// Forgets instance `id` (its tokens changed).
    pub fn forget_instance(&self, id: InstanceId) {
        let mut entries = self.entries();
        entries.epoch += 1;
        entries.map.retain(|_, (_, instance)| instance.id != id);
    }

    pub fn clear(&self) {
        let mut entries = self.entries();
        entries.epoch += 1;
        entries.map.clear();
    }
}
