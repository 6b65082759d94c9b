//! Keap's API keys: personal access tokens and service account keys, which a script sends in an
//! `X-Keap-API-Key` header instead of an OAuth bearer token.
//!
//! Owns only the keys the simulator has issued and whom each speaks for. At the vendor a user
//! creates them on the app's "API Settings" page; here the test control `POST /__sim/api-keys`
//! does (none exist at start). They do not expire and are forgotten on `/__sim/reset`. Checking
//! them at the gateway is `gateway.rs`'s job.
//!
//! Not modelled yet: the vendor's own, lower limits for keys (10/s, 240/min, 30,000/day per key,
//! the developer portal's throttling page says); a key here gets a bucket of its own under the
//! configured client limits.

use crate::tokens::{random_token, Principal};
use std::collections::HashMap;

/// The most keys one simulator holds, so a test control called in a loop cannot grow it without
/// bound.
pub const MAX_API_KEYS: usize = 1000;

/// The vendor's prefix of a personal access token.
const PREFIX: &str = "KeapAK-";

/// Every key issued since the last reset.
#[derive(Debug, Default)]
pub struct ApiKeys {
    keys: HashMap<String, Principal>,
}

impl ApiKeys {
    /// Issues a key for `username` on `account`, or `None` past [`MAX_API_KEYS`].
    ///
    /// The key's principal gets a client id of its own (`api-key-N`), so each key has its own
    /// rate-limit bucket as at the vendor, and `/__sim/stats` can show the bucket without showing
    /// the key.
    pub fn create(&mut self, account: &str, username: &str) -> Option<String> {
        if self.keys.len() >= MAX_API_KEYS {
            return None;
        }
        let key = format!("{PREFIX}{}", random_token(48));
        let client_id = format!("api-key-{}", self.keys.len() + 1);
        let principal = Principal { client_id, account: account.into(), username: username.into() };
        self.keys.insert(key.clone(), principal);
        Some(key)
    }

    /// Whom `key` speaks for, if the simulator issued it.
    pub fn check(&self, key: &str) -> Option<Principal> {
        self.keys.get(key).cloned()
    }

    /// How many keys exist (for `/__sim/stats`).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_key_speaks_for_its_account_with_a_bucket_of_its_own() {
        let mut keys = ApiKeys::default();
        let first = keys.create("a.infusionsoft.com", "u").unwrap();
        let second = keys.create("a.infusionsoft.com", "u").unwrap();
        assert!(first.starts_with("KeapAK-") && first != second);
        let principal = keys.check(&first).unwrap();
        assert_eq!((principal.account.as_str(), principal.client_id.as_str()), ("a.infusionsoft.com", "api-key-1"));
        assert_eq!(keys.check(&second).unwrap().client_id, "api-key-2");
        assert_eq!(keys.check("KeapAK-unknown"), None);
    }

    #[test]
    fn issuing_stops_at_the_bound() {
        let mut keys = ApiKeys::default();
        for _ in 0..MAX_API_KEYS {
            assert!(keys.create("a", "u").is_some());
        }
        assert_eq!(keys.create("a", "u"), None);
    }
}
