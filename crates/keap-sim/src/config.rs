//! The simulator's configuration: registered OAuth clients, login users, vendor accounts (tenants)
//! with their API keys, token lifetimes, rate limits, hook delivery timing and demo data. Loaded
//! from a TOML or JSON file or built in code; [`SimConfig::sandbox`] holds the binding sandbox
//! defaults of the spec.
//!
//! It does not own any runtime state: the running simulator copies what it needs at start and on
//! `/__sim/reset`.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// The prefix of every Keap API key, personal access token and service account key alike (the
/// vendor's PHP SDK recognises keys by it; the keys seen in the wild are `KeapAK-` and 50 hex
/// digits).
pub const API_KEY_PREFIX: &str = "KeapAK-";

/// The most demo contacts one account may ask for: about 6.5 kB of memory each, so this bound
/// keeps a mistyped count from exhausting the machine (100,000 take ~650 MB, and ~4 s to generate
/// in a debug build).
pub const MAX_DEMO_CONTACTS: usize = 250_000;

/// An OAuth application registered with the vendor (its developer-portal client id and secret).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    pub client_secret: String,
    /// Redirect URIs matched exactly; `"*"` accepts any absolute http(s) URI (the sandbox client).
    pub redirect_uris: Vec<String>,
}

/// A person who can sign in on the authorize page.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub username: String,
    pub password: String,
    /// Hosts of the accounts this user may grant access to; the first one is granted.
    pub accounts: Vec<String>,
}

/// A vendor account (tenant, "app"), e.g. `sandbox.infusionsoft.com`, with its own records.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub host: String,
    /// The legacy "Encrypted Key" (API passphrase key) of the account.
    pub encrypted_key: String,
    /// Whether the account starts with the generated demo records.
    #[serde(default = "yes")]
    pub seed_demo_data: bool,
    /// How many contacts the demo data holds (default 300, at most [`MAX_DEMO_CONTACTS`]): the
    /// large-account option of benchmarks and the SQL driver's tests, which read tens of
    /// thousands. The same `demo_seed` gives the same contacts; only the other collections'
    /// references to contacts change with the count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demo_contacts: Option<usize>,
    /// The Keap API keys the account starts with, as if its users had created them on the app's
    /// "API Settings" page; they survive `/__sim/reset`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_keys: Vec<ApiKeyConfig>,
}

/// The vendor's two kinds of API key. Both are sent as `X-Keap-API-Key` and share one set of
/// per-key limits; at the vendor a personal access token acts with its user's permissions and a
/// service account key with an administrator's. The simulator has no per-user permissions, so
/// the kind changes nothing yet beyond what the configuration says.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyKind {
    /// A personal access token.
    Personal,
    /// A service account key.
    ServiceAccount,
}

/// One configured API key of an account.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    /// The key itself: [`API_KEY_PREFIX`] and then ASCII letters, digits, `-` or `_`.
    pub key: String,
    pub kind: ApiKeyKind,
    /// The username of the configured user who created the key and whom it speaks for; that user
    /// must have access to the account.
    pub user: String,
}

impl ApiKeyConfig {
    /// The key shortened for error messages, so a configuration error does not print a secret
    /// whole.
    fn label(&self) -> String {
        let shown: String = self.key.chars().take(API_KEY_PREFIX.len() + 4).collect();
        if shown.len() < self.key.len() {
            format!("{shown}…")
        } else {
            shown
        }
    }
}

fn yes() -> bool {
    true
}

/// Vendor rate limits per OAuth client across all its accounts; `None` lifts a window.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub per_second: Option<u64>,
    pub per_minute: Option<u64>,
    pub per_day: Option<u64>,
}

impl Limits {
    /// The vendor's documented OAuth limits: 25/s spike, 1,500/min, 150,000/day.
    pub fn vendor() -> Self {
        Limits { per_second: Some(25), per_minute: Some(1500), per_day: Some(150_000) }
    }

    /// The vendor's limits per API key (personal access token or service account key): 10/s,
    /// 240/min, 30,000/day.
    pub fn vendor_api_key() -> Self {
        Limits { per_second: Some(10), per_minute: Some(240), per_day: Some(30_000) }
    }

    /// The vendor's per-account limits (2026-06-08 on): 10,000/min and 250,000/day.
    pub fn vendor_tenant() -> Self {
        Limits { per_second: None, per_minute: Some(10_000), per_day: Some(250_000) }
    }

    /// No limit at all (benchmarks, tests that are not about limits).
    pub fn none() -> Self {
        Limits { per_second: None, per_minute: None, per_day: None }
    }
}

/// Everything the simulator can be told at start.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    pub clients: Vec<ClientConfig>,
    pub users: Vec<UserConfig>,
    pub accounts: Vec<AccountConfig>,
    /// `expires_in` of access tokens (the vendor: 24 h).
    pub access_token_ttl_secs: i64,
    /// Lifetime of refresh tokens (the vendor: 45 days).
    pub refresh_token_ttl_secs: i64,
    /// Lifetime of authorization codes (10 minutes).
    pub code_ttl_secs: i64,
    pub limits: Limits,
    /// Limits per API key, each key on its own (the vendor: 10/s, 240/min, 30,000/day); a key's
    /// calls count against these instead of `limits`, and against `tenant_limits` as well.
    pub api_key_limits: Limits,
    /// Limits per account (tenant) across all clients; the vendor's since 2026-06-08: 10,000/min
    /// and 250,000/day.
    pub tenant_limits: Limits,
    /// Delay between a record change and its first REST hook delivery attempt (the vendor: 30–60 s),
    /// on the simulator's clock.
    pub hook_delivery_delay_secs: i64,
    /// How long a hook receiver may take to answer before the attempt counts as failed (30 s).
    pub hook_timeout_ms: u64,
    /// Seed of the demo data generator: the same seed gives the same records.
    pub demo_seed: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig::sandbox()
    }
}

impl SimConfig {
    /// The sandbox of the spec: client `sandbox-client-id`/`sandbox-client-secret` accepting any
    /// redirect URI, login `demo@example.com`/`demo`, account `sandbox.infusionsoft.com` with
    /// Encrypted Key `sandbox-encrypted-key`, demo data, the vendor's lifetimes and limits.
    pub fn sandbox() -> Self {
        SimConfig {
            clients: vec![ClientConfig {
                client_id: "sandbox-client-id".into(),
                client_secret: "sandbox-client-secret".into(),
                redirect_uris: vec!["*".into()],
            }],
            users: vec![UserConfig {
                username: "demo@example.com".into(),
                password: "demo".into(),
                accounts: vec!["sandbox.infusionsoft.com".into()],
            }],
            accounts: vec![AccountConfig {
                host: "sandbox.infusionsoft.com".into(),
                encrypted_key: "sandbox-encrypted-key".into(),
                seed_demo_data: true,
                demo_contacts: None,
                api_keys: Vec::new(),
            }],
            access_token_ttl_secs: 86_400,
            refresh_token_ttl_secs: 45 * 86_400,
            code_ttl_secs: 600,
            limits: Limits::vendor(),
            api_key_limits: Limits::vendor_api_key(),
            tenant_limits: Limits::vendor_tenant(),
            hook_delivery_delay_secs: 30,
            hook_timeout_ms: 30_000,
            demo_seed: 42,
        }
    }

    /// Reads a configuration file: `.json` as JSON, anything else as TOML. Missing keys take the
    /// sandbox defaults.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read simulator config {}: {e}", path.display()))?;
        let parsed = if path.extension().is_some_and(|ext| ext == "json") {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            toml::from_str(&text).map_err(|e| e.to_string())
        };
        let invalid = |e: String| format!("invalid simulator config {}: {e}", path.display());
        let config: SimConfig = parsed.map_err(invalid)?;
        config.validate().map_err(invalid)?;
        Ok(config)
    }

    /// Checks the cross references a file can get wrong.
    pub fn validate(&self) -> Result<(), String> {
        for user in &self.users {
            for host in &user.accounts {
                if !self.accounts.iter().any(|a| &a.host == host) {
                    return Err(format!("user {} names unknown account {host}", user.username));
                }
            }
            if user.accounts.is_empty() {
                return Err(format!("user {} has no account", user.username));
            }
        }
        if self.access_token_ttl_secs <= 0 || self.refresh_token_ttl_secs <= 0 || self.code_ttl_secs <= 0 {
            return Err("token and code lifetimes must be positive".into());
        }
        for account in &self.accounts {
            if account.demo_contacts.is_some_and(|n| n > MAX_DEMO_CONTACTS) {
                return Err(format!("account {}: demo_contacts may be at most {MAX_DEMO_CONTACTS}", account.host));
            }
        }
        self.validate_api_keys()
    }

    /// Each key has the vendor's prefix, names a user of its account, and appears once.
    fn validate_api_keys(&self) -> Result<(), String> {
        let mut seen: HashMap<&str, &str> = HashMap::new();
        for account in &self.accounts {
            let host = account.host.as_str();
            for key in &account.api_keys {
                let label = key.label();
                let rest = key.key.strip_prefix(API_KEY_PREFIX).unwrap_or_default();
                if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                    return Err(format!(
                        "account {host}: API key {label} is not a Keap key: it must be {API_KEY_PREFIX} followed by \
                         ASCII letters, digits, '-' or '_'"
                    ));
                }
                let user = self.users.iter().find(|u| u.username == key.user);
                if !user.is_some_and(|u| u.accounts.iter().any(|a| a == host)) {
                    let why = if user.is_some() {
                        "who has no access to this account"
                    } else {
                        "who is not a configured user"
                    };
                    return Err(format!("account {host}: API key {label} names user {}, {why}", key.user));
                }
                if let Some(first) = seen.insert(&key.key, host) {
                    return Err(format!(
                        "account {host}: API key {label} is configured twice (first under account {first})"
                    ));
                }
            }
        }
        Ok(())
    }

    /// Replaces the demo data switch of every account (e.g. `junction sandbox --no-demo-data`).
    pub fn with_demo_data(mut self, on: bool) -> Self {
        for account in &mut self.accounts {
            account.seed_demo_data = on;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("keap-sim-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn toml_and_json_files_override_the_sandbox_defaults() {
        let toml = write(
            "c.toml",
            "access_token_ttl_secs = 60\nlimits = { per_second = 5, per_minute = 10 }\n\n[[accounts]]\nhost = \"ab1.infusionsoft.com\"\nencrypted_key = \"k\"\n\n[[users]]\nusername = \"u\"\npassword = \"p\"\naccounts = [\"ab1.infusionsoft.com\"]\n",
        );
        let config = SimConfig::from_file(&toml).unwrap();
        assert_eq!(config.access_token_ttl_secs, 60);
        assert_eq!(config.limits, Limits { per_second: Some(5), per_minute: Some(10), per_day: None });
        assert_eq!(config.clients[0].client_id, "sandbox-client-id", "unset keys keep the sandbox defaults");
        assert!(config.accounts[0].seed_demo_data);
        let json = write("c.json", r#"{"code_ttl_secs": 5}"#);
        assert_eq!(SimConfig::from_file(&json).unwrap().code_ttl_secs, 5);
    }

    #[test]
    fn files_with_unknown_keys_or_dangling_accounts_are_refused() {
        let unknown = write("u.toml", "acess_token_ttl_secs = 60\n");
        assert!(SimConfig::from_file(&unknown).unwrap_err().contains("acess_token_ttl_secs"));
        let dangling = write(
            "d.json",
            r#"{"users": [{"username": "u", "password": "p", "accounts": ["nowhere.infusionsoft.com"]}]}"#,
        );
        assert!(SimConfig::from_file(&dangling).unwrap_err().contains("nowhere.infusionsoft.com"));
    }

    /// The sandbox's account and user, with `keys` (TOML inline tables) as the account's API keys
    /// and a second user without access to it.
    fn with_keys(name: &str, keys: &str) -> Result<SimConfig, String> {
        let text = format!(
            "[[users]]\nusername = \"demo@example.com\"\npassword = \"demo\"\naccounts = [\"sandbox.infusionsoft.com\"]\n\n\
             [[users]]\nusername = \"other@example.com\"\npassword = \"p\"\naccounts = [\"other.infusionsoft.com\"]\n\n\
             [[accounts]]\nhost = \"sandbox.infusionsoft.com\"\nencrypted_key = \"k\"\napi_keys = [{keys}]\n\n\
             [[accounts]]\nhost = \"other.infusionsoft.com\"\nencrypted_key = \"k2\"\n"
        );
        SimConfig::from_file(&write(name, &text))
    }

    #[test]
    fn accounts_take_personal_and_service_account_keys_of_their_users() {
        let config = with_keys(
            "keys.toml",
            r#"{ key = "KeapAK-0123abcd", kind = "personal", user = "demo@example.com" },
               { key = "KeapAK-4567_ef-gh", kind = "service_account", user = "demo@example.com" }"#,
        )
        .unwrap();
        let kinds: Vec<ApiKeyKind> = config.accounts[0].api_keys.iter().map(|k| k.kind).collect();
        assert_eq!(kinds, [ApiKeyKind::Personal, ApiKeyKind::ServiceAccount]);
        assert_eq!(config.api_key_limits, Limits::vendor_api_key(), "unset, the vendor's per-key limits");
    }

    #[test]
    fn a_config_with_a_bad_key_is_refused_with_a_message_naming_it() {
        let refused = |keys: &str| with_keys("bad-key.toml", keys).unwrap_err();
        let unknown_user =
            refused(r#"{ key = "KeapAK-abcdef123456", kind = "personal", user = "nobody@example.com" }"#);
        assert!(
            unknown_user.ends_with("API key KeapAK-abcd… names user nobody@example.com, who is not a configured user"),
            "{unknown_user}"
        );
        assert!(unknown_user.contains("account sandbox.infusionsoft.com"), "{unknown_user}");
        let no_access = refused(r#"{ key = "KeapAK-abcdef", kind = "personal", user = "other@example.com" }"#);
        assert!(no_access.contains("names user other@example.com, who has no access to this account"), "{no_access}");
        let twice = refused(
            r#"{ key = "KeapAK-same", kind = "personal", user = "demo@example.com" },
               { key = "KeapAK-same", kind = "service_account", user = "demo@example.com" }"#,
        );
        assert!(twice.contains("API key KeapAK-same is configured twice"), "{twice}");
        for not_keap in ["abc123", "KeapAK-", "KeapAK-has space", "keapak-lower"] {
            let message =
                refused(&format!(r#"{{ key = "{not_keap}", kind = "personal", user = "demo@example.com" }}"#));
            assert!(message.contains("is not a Keap key: it must be KeapAK- followed by"), "{not_keap}: {message}");
        }
        let kind = refused(r#"{ key = "KeapAK-abc", kind = "legacy", user = "demo@example.com" }"#);
        assert!(kind.contains("unknown variant `legacy`, expected `personal` or `service_account`"), "{kind}");
    }

    #[test]
    fn demo_contacts_are_read_from_the_file_and_bounded() {
        let large = write(
            "large.toml",
            "users = []\n\n[[accounts]]\nhost = \"a.infusionsoft.com\"\nencrypted_key = \"k\"\ndemo_contacts = 20000\n",
        );
        let config = SimConfig::from_file(&large).unwrap();
        assert_eq!(config.accounts[0].demo_contacts, Some(20_000));
        let huge = write(
            "huge.json",
            r#"{"users": [], "accounts": [{"host": "a", "encrypted_key": "k", "demo_contacts": 250001}]}"#,
        );
        let message = SimConfig::from_file(&huge).unwrap_err();
        assert!(message.ends_with("huge.json: account a: demo_contacts may be at most 250000"), "{message}");
    }
}
