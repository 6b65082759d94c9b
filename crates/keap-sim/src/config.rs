//! The simulator's configuration: registered OAuth clients, login users, vendor accounts (tenants),
//! token lifetimes, rate limits, hook delivery timing and demo data. Loaded from a TOML or JSON file
//! or built in code; [`SimConfig::sandbox`] holds the binding sandbox defaults of the spec.
//!
//! It does not own any runtime state: the running simulator copies what it needs at start and on
//! `/__sim/reset`.

use serde::{Deserialize, Serialize};
use std::path::Path;

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
    /// How many contacts the demo data holds (default 300): benchmarks and the SQL driver's tests
    /// read tens of thousands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demo_contacts: Option<usize>,
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
            }],
            access_token_ttl_secs: 86_400,
            refresh_token_ttl_secs: 45 * 86_400,
            code_ttl_secs: 600,
            limits: Limits::vendor(),
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
        let config: SimConfig = parsed.map_err(|e| format!("invalid simulator config {}: {e}", path.display()))?;
        config.validate()?;
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
}
