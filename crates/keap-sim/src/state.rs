//! The simulator's shared state: configuration, clock, the accounts with their records and hooks,
//! OAuth grants, rate limiter, faults and counters. One `Arc<Sim>` is handed to every handler.
//!
//! Locks are `std::sync::Mutex`: every critical section is short and never awaits, so an async
//! mutex would only add cost (the reasoning of mini-redis's `db.rs`).

use crate::api_keys::ApiKeys;
use crate::clock::Clock;
use crate::config::SimConfig;
use crate::faults::FaultTable;
use crate::hooks::HookRegistry;
use crate::rate_limit::RateLimiter;
use crate::records::Records;
use crate::rest_v2::request_bodies::RequestBodies;
use crate::seed;
use crate::tokens::{Grants, Lifetimes};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use tokio::sync::Notify;

/// One vendor account (tenant) and everything it owns.
#[derive(Debug)]
pub struct Account {
    pub host: String,
    pub encrypted_key: String,
    pub records: Records,
    pub hooks: HookRegistry,
    /// When each tag was applied to each contact: (contact id, tag id) → epoch seconds.
    pub tag_applied: BTreeMap<(u64, u64), i64>,
}

/// Everything behind the big lock: accounts, OAuth grants and API keys.
#[derive(Debug, Default)]
pub struct World {
    pub accounts: HashMap<String, Account>,
    pub grants: Grants,
    pub api_keys: ApiKeys,
}

/// Counters for `/__sim/stats`.
#[derive(Debug, Default)]
pub struct Stats {
    pub grants_authorization_code: AtomicU64,
    pub grants_refresh_token: AtomicU64,
    pub api_calls: AtomicU64,
    pub throttled: AtomicU64,
    pub unauthorized: AtomicU64,
    pub faults_injected: AtomicU64,
    pub hook_verifications: AtomicU64,
    pub hook_deliveries_ok: AtomicU64,
    pub hook_deliveries_failed: AtomicU64,
    /// Calls by `METHOD /path/with/{id}`.
    pub by_route: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The running simulator.
#[derive(Debug)]
pub struct Sim {
    pub config: SimConfig,
    pub clock: Clock,
    pub world: Mutex<World>,
    /// Per-OAuth-client limits, keyed by client id.
    pub limiter: Mutex<RateLimiter>,
    /// Per-API-key limits, keyed by the key's client id (`api-key-N`).
    pub api_key_limiter: Mutex<RateLimiter>,
    /// Per-account limits, keyed by account host.
    pub tenant_limiter: Mutex<RateLimiter>,
    pub faults: Mutex<FaultTable>,
    pub stats: Stats,
    /// Wakes the hook delivery task when events are queued or the clock moves.
    pub hook_wake: Notify,
    /// Client for hook verification and delivery calls.
    pub http: reqwest::Client,
    /// The simulator's own base URL (`http://127.0.0.1:PORT`), known once it is bound; used in
    /// hook payloads' `apiUrl`.
    pub base_url: OnceLock<String>,
    /// Key that makes page tokens unforgeable.
    pub page_secret: u64,
    /// The v2 request bodies as the vendor's document declares them.
    pub request_bodies: RequestBodies,
}

impl Sim {
    /// Builds the state from a configuration, generating each account's demo data.
    pub fn new(config: SimConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(config.hook_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        let sim = Sim {
            limiter: Mutex::new(RateLimiter::new(config.limits)),
            api_key_limiter: Mutex::new(RateLimiter::new(config.api_key_limits)),
            tenant_limiter: Mutex::new(RateLimiter::new(config.tenant_limits)),
            config,
            clock: Clock::default(),
            world: Mutex::new(World::default()),
            faults: Mutex::new(FaultTable::default()),
            stats: Stats::default(),
            hook_wake: Notify::new(),
            http,
            base_url: OnceLock::new(),
            page_secret: rand::random(),
            request_bodies: RequestBodies::load(),
        };
        sim.reset();
        sim
    }

    /// Back to the configured initial state: fresh demo data, the configured API keys only, no
    /// grants, hooks, faults or counts, configured limits, wall-clock time.
    pub fn reset(&self) {
        self.clock.reset();
        let now = self.clock.now_secs();
        let accounts = self
            .config
            .accounts
            .iter()
            .map(|a| {
                let mut counts = if a.seed_demo_data { seed::SeedCounts::demo() } else { seed::SeedCounts::empty() };
                if a.seed_demo_data {
                    counts.contacts = a.demo_contacts.unwrap_or(counts.contacts);
                }
                let records = Records::from_seed(seed::generate(self.config.demo_seed, now, &counts));
                let tag_applied = seeded_tag_applications(&records);
                let account = Account {
                    host: a.host.clone(),
                    encrypted_key: a.encrypted_key.clone(),
                    records,
                    hooks: HookRegistry::default(),
                    tag_applied,
                };
                (a.host.clone(), account)
            })
            .collect();
        let api_keys = ApiKeys::configured(&self.config.accounts);
        *self.world() = World { accounts, grants: Grants::default(), api_keys };
        *self.limiter.lock().unwrap_or_else(|e| e.into_inner()) = RateLimiter::new(self.config.limits);
        *self.api_key_limiter.lock().unwrap_or_else(|e| e.into_inner()) = RateLimiter::new(self.config.api_key_limits);
        *self.tenant_limiter.lock().unwrap_or_else(|e| e.into_inner()) = RateLimiter::new(self.config.tenant_limits);
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).clear();
        let stats = &self.stats;
        for counter in [
            &stats.grants_authorization_code,
            &stats.grants_refresh_token,
            &stats.api_calls,
            &stats.throttled,
            &stats.unauthorized,
            &stats.faults_injected,
            &stats.hook_verifications,
            &stats.hook_deliveries_ok,
            &stats.hook_deliveries_failed,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
        stats.by_route.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The big lock. A panic while holding it cannot leave records half-written (every mutation
    /// is a single map operation), so a poisoned lock is still safe to use.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn lifetimes(&self) -> Lifetimes {
        Lifetimes {
            access: self.config.access_token_ttl_secs,
            refresh: self.config.refresh_token_ttl_secs,
            code: self.config.code_ttl_secs,
        }
    }

    /// The base URL for links in hook payloads.
    pub fn base_url(&self) -> &str {
        self.base_url.get().map(String::as_str).unwrap_or("http://127.0.0.1")
    }
}

/// The seed data's contact `tag_ids` as tag applications, dated at the contact's creation.
fn seeded_tag_applications(records: &Records) -> BTreeMap<(u64, u64), i64> {
    let mut applied = BTreeMap::new();
    for contact in records.collection("contacts").iter() {
        let id = crate::rest_v2::query::id_of(contact);
        let created = contact
            .get("create_time")
            .and_then(serde_json::Value::as_str)
            .and_then(crate::clock::parse_iso)
            .map_or(0, |t| t.timestamp());
        let tags = contact.get("tag_ids").and_then(serde_json::Value::as_array).into_iter().flatten();
        for tag in tags.filter_map(|t| t.as_str().and_then(crate::records::parse_id)) {
            applied.insert((id, tag), created);
        }
    }
    applied
}
