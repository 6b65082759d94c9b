//! What the server does that is not HTTP: the stack built once from configuration
//! ([`Platform::build`], used by `junction serve`, the tests' harness and the benchmarks), an
//! instance's store-backed tokens and their one refresh path ([`tokens`]), provisioning and
//! re-authentication with their one code exchange ([`provisioning`]), the context of an
//! instance's hub calls ([`calls`]), the job runner ([`jobs`]) and its first job, the background
//! token refresh ([`token_refresh_job`]), organizations' common resources checked and composed
//! per instance ([`common_resources`]), events polled, recorded and delivered ([`events`]) to
//! user-chosen callback URLs ([`callback`]), bulk exports and uploads ([`bulk`]), the metrics registry ([`metrics`]) and the cache of
//! authenticated hub callers ([`caller_cache`]), and formulas: organizations' templates, their
//! instances, and their executions run from the durable queue ([`formulas`]).
//!
//! The vendor's rate limiter is shared with the other nodes through the store when the store can
//! (PostgreSQL), see `connector::rate_limit`.
//!
//! The HTTP layer calls in here and into `hub`; it never reaches the vendor itself.

pub mod bulk;
pub mod callback;
pub mod caller_cache;
pub mod calls;
pub mod common_resources;
pub mod events;
pub mod formulas;
pub mod jobs;
pub mod metrics;
pub mod provisioning;
pub mod token_refresh_job;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use connector::endpoints::VendorEndpoints;
use connector::oauth::OAuthClient;
use connector::rate_limit::VendorRateLimiter;
use connector::shared_budget::{BudgetError, SharedBudget};
use connector::{TokenError, VendorClient};
use domain::elements::Catalog;
use domain::instance_config::ServerPolicy;
use domain::shared_budget::{Lease, LeaseRequest};
use domain::vendor_limits::VendorLimits;
use hub::{CursorSigner, Hub};
use store::{InstanceRecord, Store, StoreError};

use crate::bulk::BulkConfig;
use crate::caller_cache::CallerCache;
use crate::calls::InstanceCall;
use crate::common_resources::CommonCache;
use crate::events::{Events, EventsConfig};
use crate::formulas::request_triggers::RequestTriggers;
use crate::formulas::FormulaConfig;
use crate::metrics::Metrics;

/// How long one vendor REST call may take before the caller gets a 504.
pub const VENDOR_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a hub call may queue for the vendor's rate limit before it gets a 429.
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(5);
/// How many calls may queue per OAuth client before further ones get a 429 at once.
pub const MAX_RATE_LIMIT_QUEUE: usize = 1000;

/// The share of each vendor limit background calls may use by default: half.
pub const DEFAULT_BACKGROUND_SHARE: f64 = 0.5;

/// What the platform is built from.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    pub store: Arc<dyn Store>,
    /// Where the vendor lives (the real Infusionsoft, or the simulator under `--sandbox`).
    pub endpoints: VendorEndpoints,
    /// Which `infusionsoft.server` hosts instances may name.
    pub policy: ServerPolicy,
    /// True when the vendor is the simulator.
    pub sandbox: bool,
    /// The vendor's rate limits per OAuth client (`--vendor-limits`).
    pub vendor_limits: VendorLimits,
    /// The vendor's rate limits per account (`--vendor-account-limits`).
    pub account_limits: VendorLimits,
    /// The longest a hub call queues for the rate limit, and how many may queue per OAuth client.
    pub rate_limit_wait: Duration,
    pub rate_limit_queue: usize,
    /// How long one vendor REST call may take (`--vendor-timeout`).
    pub vendor_timeout: Duration,
    /// How events are polled and delivered.
    pub events: EventsConfig,
    /// The share of each vendor limit background calls (polls, bulk) may use (`--background-share`).
    pub background_share: f64,
    /// How bulk jobs run.
    pub bulk: BulkConfig,
    /// Whether the vendor limits are shared with the other nodes through the store, where it can
    /// (PostgreSQL; `--shared-limits`). Off: each node keeps them alone.
    pub shared_limits: bool,
    /// How formula executions run.
    pub formulas: FormulaConfig,
}

impl PlatformConfig {
    /// The defaults for `store` and the vendor at `endpoints`.
    pub fn new(store: Arc<dyn Store>, endpoints: VendorEndpoints, policy: ServerPolicy, sandbox: bool) -> Self {
        PlatformConfig {
            store,
            endpoints,
            policy,
            sandbox,
            vendor_limits: VendorLimits::DEFAULT,
            account_limits: VendorLimits::ACCOUNT,
            rate_limit_wait: MAX_RATE_LIMIT_WAIT,
            rate_limit_queue: MAX_RATE_LIMIT_QUEUE,
            vendor_timeout: VENDOR_TIMEOUT,
            events: EventsConfig::default(),
            background_share: DEFAULT_BACKGROUND_SHARE,
            bulk: BulkConfig::default(),
            shared_limits: true,
            formulas: FormulaConfig::default(),
        }
    }
}

/// The platform's failures that are not the hub's: the vendor tokens, the store.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The vendor refused a grant a client gave (`what`: the authorization code, the refresh
    /// token), with its own description.
    #[error("the vendor rejected the {what}")]
    GrantRejected { what: &'static str, provider_message: Option<String> },
    /// The vendor's grant carried no refresh token; `consequence` says what did not happen.
    #[error("the vendor issued no refresh token; the instance {consequence}")]
    NoRefreshToken { consequence: &'static str },
    /// The authorization code was exchanged before: answered without asking the vendor, which
    /// could revoke the tokens the first exchange issued. `instance_id`: the instance it created.
    #[error("the authorization code was already exchanged")]
    CodeReplayed { same_organization: bool, instance_id: Option<store::InstanceId> },
    /// The vendor's HTTP clients could not be built (the TLS backend failed to start).
    #[error("the vendor's HTTP client could not be built: {0}")]
    Client(String),
}

/// The running platform; cheap to clone (every field is shared).
#[derive(Clone, Debug)]
pub struct Platform {
    pub store: Arc<dyn Store>,
    pub catalog: &'static Catalog,
    /// The vendor's token endpoint client (code exchange, refresh).
    pub oauth: Arc<OAuthClient>,
    /// The hub engine, and through it the vendor's REST client and rate limiter.
    pub hub: Hub,
    /// Which `infusionsoft.server` hosts instances may name.
    pub policy: Arc<ServerPolicy>,
    /// Hub callers recently authenticated (see [`caller_cache`]).
    pub callers: Arc<CallerCache>,
    /// True when the vendor is the simulator.
    pub sandbox: bool,
    /// The process's metrics (`GET /metrics`).
    pub metrics: Arc<Metrics>,
    /// This process among the nodes sharing the store: the owner of the leases it takes.
    pub node_id: Arc<str>,
    /// The events configuration and the client of user-chosen callback URLs.
    pub events: Arc<Events>,
    /// The composed common resources of instances, per node (see [`common_resources`]).
    pub common: Arc<CommonCache>,
    /// How bulk jobs run (see [`bulk`]).
    pub bulk: Arc<BulkConfig>,
    /// How formula executions run (see [`formulas`]).
    pub formulas: Arc<FormulaConfig>,
    /// The hub requests that start formula runs, as this node last read them.
    pub request_triggers: Arc<RequestTriggers>,
}

impl Platform {
    /// The platform for `config`. Fails only when an HTTP client cannot be built.
    pub fn build(config: PlatformConfig) -> Result<Self, PlatformError> {
        let client_error = |error: connector::reqwest::Error| PlatformError::Client(error.to_string());
        let limiter = VendorRateLimiter::new(config.vendor_limits, config.rate_limit_wait, config.rate_limit_queue)
            .with_background_share(config.background_share)
            .with_account_limits(config.account_limits);
        let shared = config.store.vendor_budget().filter(|_| config.shared_limits);
        let limiter = Arc::new(match shared {
            Some(table) => limiter.with_shared_budget(Arc::new(StoreBudget(table))),
            None => limiter,
        });
        let vendor = VendorClient::new(config.endpoints.clone(), limiter, config.vendor_timeout)
            .map_err(|error| PlatformError::Client(error.to_string()))?;
        let signer = Arc::new(StoreSigner(Arc::clone(&config.store)));
        let events = Events::new(config.events).map_err(|error| PlatformError::Client(error.to_string()))?;
        Ok(Platform {
            oauth: Arc::new(OAuthClient::new(config.endpoints).map_err(client_error)?),
            hub: Hub::new(Arc::new(vendor), signer),
            store: config.store,
            catalog: Catalog::builtin(),
            policy: Arc::new(config.policy),
            callers: Arc::default(),
            sandbox: config.sandbox,
            metrics: Arc::new(Metrics::new()),
            node_id: Arc::from(format!("node-{:032x}", rand::random::<u128>())),
            events: Arc::new(events),
            common: Arc::default(),
            bulk: Arc::new(config.bulk),
            formulas: Arc::new(config.formulas),
            request_triggers: Arc::default(),
        })
    }

    /// Where the vendor lives.
    pub fn endpoints(&self) -> &VendorEndpoints {
        self.hub.vendor().endpoints()
    }

    /// What `instance`'s hub calls are made with; [`InstanceCall::session`] gives the session.
    /// Its sessions know the element's objects only; see [`InstanceCall::with_common`].
    pub fn instance_call<'a>(&'a self, instance: &'a InstanceRecord) -> InstanceCall<'a> {
        InstanceCall::new(self, instance)
    }
}

/// The vendor limits shared by every node, kept in the store's database.
#[derive(Debug)]
struct StoreBudget(store::VendorBudgetTable);

#[async_trait::async_trait]
impl SharedBudget for StoreBudget {
    async fn lease(&self, request: &LeaseRequest) -> Result<Lease, BudgetError> {
        self.0.lease(request).await.map_err(|error| BudgetError(error.to_string()))
    }

    async fn block(&self, key: &str, until_ms: i64) -> Result<(), BudgetError> {
        self.0.block(key, until_ms).await.map_err(|error| BudgetError(error.to_string()))
    }
}

/// Cursors signed with the store's keyed hash: every node sharing the database holds the key.
struct StoreSigner(Arc<dyn Store>);

impl CursorSigner for StoreSigner {
    fn sign(&self, text: &str) -> String {
        self.0.keyed_hash("hub-cursor", text)
    }
}
