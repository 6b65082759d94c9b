//! Keap's API keys: personal access tokens and service account keys, which a script sends in an
//! `X-Keap-API-Key` header instead of an OAuth bearer token.
//!
//! Owns the keys the simulator knows and whom each speaks for. At the vendor a user creates them
//! on the app's "API Settings" page; here they come from the configuration (each account's
//! `api_keys`, which survive `/__sim/reset`) or from the test control `POST /__sim/api-keys`
//! (forgotten on reset). They do not expire. Checking them at the gateway is `gateway.rs`'s job.
//!
//! Each key has a rate-limit bucket of its own (its principal's client id, `api-key-N`) under the
//! vendor's per-key limits (10/s, 240/min, 30,000/day, the configuration's `api_key_limits`), and
//! its calls count against its account's limits like any other; `gateway.rs` does the counting.

use crate::config::{AccountConfig, API_KEY_PREFIX};
use crate::tokens::{random_token, Principal};
use std::collections::HashMap;

/// The most keys the test control issues on top of the configured ones, so a control called in a
/// loop cannot grow the simulator without bound.
pub const MAX_API_KEYS: usize = 1000;

/// The configured keys and every key issued since the last reset.
#[derive(Debug, Default)]
pub struct ApiKeys {
    keys: HashMap<String, Principal>,
    /// How many of `keys` the configuration holds; the rest were issued.
    configured: usize,
}

impl ApiKeys {
    /// The keys of a validated configuration (`SimConfig::validate`), numbered `api-key-1`… in
    /// the order of the accounts and their keys.
    pub fn configured(accounts: &[AccountConfig]) -> Self {
        let mut keys = ApiKeys::default();
        for account in accounts {
            for key in &account.api_keys {
                keys.insert(key.key.clone(), &account.host, &key.user);
            }
        }
        keys.configured = keys.keys.len();
        keys
    }

    /// Issues a key for `username` on `account`, or `None` past [`MAX_API_KEYS`].
    ///
    /// The key's principal gets a client id of its own (`api-key-N`), so each key has its own
    /// rate-limit bucket as at the vendor, and `/__sim/stats` can show the bucket without showing
    /// the key.
    pub fn create(&mut self, account: &str, username: &str) -> Option<String> {
        if self.keys.len() - self.configured >= MAX_API_KEYS {
            return None;
        }
        let key = format!("{API_KEY_PREFIX}{}", random_token(48));
        self.insert(key.clone(), account, username);
        Some(key)
    }

    fn insert(&mut self, key: String, account: &str, username: &str) {
        let client_id = format!("api-key-{}", self.keys.len() + 1);
        let principal = Principal { client_id, account: account.into(), username: username.into() };
        self.keys.insert(key, principal);
    }

    /// Whom `key` speaks for, if it is configured or was issued since the last reset.
    pub fn check(&self, key: &str) -> Option<Principal> {
        self.keys.get(key).cloned()
    }

    /// How many keys exist, configured and issued (for `/__sim/stats`).
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
    fn configured_keys_come_first_and_do_not_count_against_the_issuing_bound() {
        let mut config = crate::config::SimConfig::sandbox();
        let key = |key: &str| crate::config::ApiKeyConfig {
            key: key.into(),
            kind: crate::config::ApiKeyKind::ServiceAccount,
            user: "demo@example.com".into(),
        };
        config.accounts[0].api_keys = vec![key("KeapAK-one"), key("KeapAK-two")];
        let mut keys = ApiKeys::configured(&config.accounts);
        let two = keys.check("KeapAK-two").unwrap();
        assert_eq!((two.client_id.as_str(), two.username.as_str()), ("api-key-2", "demo@example.com"));
        assert_eq!(two.account, "sandbox.infusionsoft.com");
        for _ in 0..MAX_API_KEYS {
            assert!(keys.create("a", "u").is_some());
        }
        assert_eq!(keys.create("a", "u"), None);
        assert_eq!(keys.len(), MAX_API_KEYS + 2);
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
