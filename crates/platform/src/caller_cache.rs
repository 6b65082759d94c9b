//! Hub callers recently authenticated, so that a busy instance does not cost two database reads
//! and a decryption on every hub call: the `Authorization` header of a call (its user, perhaps
//! organization, secret and its instance token) maps to the instance record read for it, for at
//! most [`TTL`]. A hit needs no parse of the header either: the same text parsed and was admitted
//! when the entry was put (2,000 instructions a hub call, BENCHMARKS.md "The vendor's connections
//! kept per thread").
//!
//! Staleness is bounded and safe: this node forgets everything after any write to an instance
//! through the platform API (the HTTP layer clears it after every write under `/instances`, also when that request is cancelled)
//! and forgets an instance when it refreshes its tokens; a record read before such a forget is
//! never cached after it (an epoch guards `put`); another node's change is seen within [`TTL`]. A cached access token that
//! another node has already replaced costs one vendor 401, after which the refresh path finds the
//! stored pair newer and uses it without asking the vendor.
//!
//! An entry keeps the header it was admitted with, and a hit requires it equal to the call's,
//! compared in constant time ([`Secret::matches`]): the map's key is only a keyed hash of the
//! header (SipHash under this process's random key, which no caller can aim collisions at), a way
//! to find the entry, never a proof. The same credentials written another way (another order,
//! other separators) are another entry. A SHA-256 digest was the key before: a
//! twentieth of a raw passthrough's instructions, for a property the comparison now gives. The
//! price is that the secrets of the callers of the last [`TTL`] stay in this process's memory, as
//! the requests themselves put them there.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::Secret;
use store::{InstanceId, InstanceRecord};

/// How long an authenticated caller is trusted without asking the store again.
pub const TTL: Duration = Duration::from_secs(2);
/// Entries kept at most; the map is emptied when it would grow past this.
const CAPACITY: usize = 10_000;

/// The cache; one per process, shared through [`crate::Platform`].
#[derive(Debug, Default)]
pub struct CallerCache {
    /// The process's random key of the map's hash.
    hasher: RandomState,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// Bumped by every forget: a record read before a forget is never put back after it.
    epoch: u64,
    /// By the keyed hash of the header: when each entry was read from the store, the header it
    /// was read for, and what was read.
    map: HashMap<u64, Entry>,
}

#[derive(Debug)]
struct Entry {
    at: Instant,
    header: Secret,
    instance: Arc<InstanceRecord>,
}

impl CallerCache {
    fn key(&self, header: &str) -> u64 {
        self.hasher.hash_one(header)
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The instance cached for exactly this `Authorization` header (compared in constant time),
    /// if it is younger than [`TTL`].
    pub fn get(&self, header: &str) -> Option<Arc<InstanceRecord>> {
        let key = self.key(header);
        let entries = self.entries();
        let entry = entries.map.get(&key).filter(|entry| entry.at.elapsed() < TTL)?;
        entry.header.matches(header).then(|| Arc::clone(&entry.instance))
    }

    /// The current epoch: read it before reading the store, hand it to [`CallerCache::put`].
    pub fn epoch(&self) -> u64 {
        self.entries().epoch
    }

    /// Caches `instance` for the `Authorization` header it was admitted with, unless something was
    /// forgotten since `epoch` was read (the record may be older than that forget).
    pub fn put(&self, header: &str, instance: Arc<InstanceRecord>, epoch: u64) {
        let key = self.key(header);
        let mut entries = self.entries();
        if entries.epoch != epoch {
            return;
        }
        if entries.map.len() >= CAPACITY {
            entries.map.clear();
        }
        entries.map.insert(key, Entry { at: Instant::now(), header: Secret::new(header), instance });
    }

    /// Forgets instance `id` (its tokens changed).
    pub fn forget_instance(&self, id: InstanceId) {
        let mut entries = self.entries();
        entries.epoch += 1;
        entries.map.retain(|_, entry| entry.instance.id != id);
    }

    pub fn clear(&self) {
        let mut entries = self.entries();
        entries.epoch += 1;
        entries.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance() -> Arc<InstanceRecord> {
        let now = chrono::Utc::now();
        Arc::new(InstanceRecord {
            id: InstanceId::new(7),
            organization_id: store::OrganizationId::new(1),
            element_key: "infusionsoftcrm".into(),
            name: "cached".into(),
            tags: Vec::new(),
            configuration: Default::default(),
            secrets: Default::default(),
            token: Secret::new("t"),
            valid: true,
            disabled: false,
            trace_logging: false,
            created_at: now,
            updated_at: now,
            access_expires_at: None,
            refreshed_at: None,
            refresh_generation: 0,
            vendor_account: None,
        })
    }

    #[test]
    fn a_hit_needs_the_same_header_byte_for_byte() {
        let cache = CallerCache::default();
        cache.put("User u, Organization o, Element t", instance(), cache.epoch());
        assert!(cache.get("User u, Organization o, Element t").is_some());
        for other in [
            "User v, Organization o, Element t",
            "User u, Organization p, Element t",
            "User u, Element t",
            "User u, Organization o, Element s",
            "User u, Organization o, Element t2",
            "User u, Organization o, Element T",
            "Element t, User u, Organization o",
            "User u,Organization o,Element t",
        ] {
            assert!(cache.get(other).is_none(), "{other}");
        }
    }

    #[test]
    fn a_colliding_key_is_not_a_hit() {
        // The map finds an entry by hash only: plant another caller's entry under the key of this
        // header, as a hash collision would.
        let cache = CallerCache::default();
        let presented = "User u, Element t";
        let key = cache.key(presented);
        let planted = Entry { at: Instant::now(), header: Secret::new("User x, Element t"), instance: instance() };
        cache.entries().map.insert(key, planted);
        assert!(cache.get(presented).is_none());
    }

    #[test]
    fn nothing_read_before_a_forget_is_cached_after_it() {
        let cache = CallerCache::default();
        let epoch = cache.epoch();
        cache.forget_instance(InstanceId::new(7));
        cache.put("User u, Element t", instance(), epoch);
        assert!(cache.get("User u, Element t").is_none());
    }
}
