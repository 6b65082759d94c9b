//! The state every handler receives, built once at startup.

use std::sync::Arc;
use std::time::Duration;

use connector::endpoints::VendorEndpoints;
use connector::oauth::OAuthClient;
use connector::rate_limit::VendorRateLimiter;
use domain::elements::Catalog;
use domain::instance_config::ServerPolicy;
use domain::vendor_limits::VendorLimits;
use store::Store;

use crate::caller_cache::CallerCache;
use crate::metrics::Metrics;

/// How long one vendor REST call may take before the caller gets a 504.
pub const VENDOR_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a hub call may queue for the vendor's rate limit before it gets a 429.
pub const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(5);
/// How many calls may queue per OAuth client before further ones get a 429 at once.
pub const MAX_RATE_LIMIT_QUEUE: usize = 1000;

/// The base URL of `junction serve` with its default bind address.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

/// Everything a handler needs; cheap to clone (every field is shared).
#[derive(Clone, Debug)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub catalog: &'static Catalog,
    /// The vendor's token endpoint client (code exchange, refresh).
    pub oauth: Arc<OAuthClient>,
    /// Where the vendor lives (the real Infusionsoft, or the simulator under `--sandbox`).
    pub endpoints: Arc<VendorEndpoints>,
    /// Which `infusionsoft.server` hosts instances may name.
    pub policy: Arc<ServerPolicy>,
    /// The client for vendor REST calls; never follows redirects (they could carry the token away).
    pub vendor_http: reqwest::Client,
    /// The vendor's rate limits per OAuth client, enforced before every hub call.
    pub limiter: Arc<VendorRateLimiter>,
    /// Hub callers recently authenticated (see [`crate::caller_cache`]).
    pub callers: Arc<CallerCache>,
    /// True when the vendor is the simulator.
    pub sandbox: bool,
    /// The process's metrics (`GET /metrics`).
    pub metrics: Arc<Metrics>,
    /// The externally visible base URL (`--public-url`), without a trailing slash: the console's
    /// OAuth callback, its cookies' `Secure` flag, and the API documents' server.
    pub public_url: Arc<str>,
}

impl AppState {
    /// The state for `store`, the built-in catalog and the vendor at `endpoints`.
    pub fn new(store: Arc<dyn Store>, endpoints: VendorEndpoints, policy: ServerPolicy, sandbox: bool) -> Self {
        AppState {
            store,
            catalog: Catalog::builtin(),
            oauth: Arc::new(OAuthClient::new(endpoints.clone())),
            endpoints: Arc::new(endpoints),
            policy: Arc::new(policy),
            vendor_http: vendor_client(VENDOR_TIMEOUT),
            limiter: Arc::new(VendorRateLimiter::new(VendorLimits::DEFAULT, MAX_RATE_LIMIT_WAIT, MAX_RATE_LIMIT_QUEUE)),
            callers: Arc::default(),
            sandbox,
            metrics: Arc::new(Metrics::new()),
            public_url: Arc::from(DEFAULT_PUBLIC_URL),
        }
    }

    /// The same state served at `public_url` (`--public-url`).
    pub fn with_public_url(mut self, public_url: &str) -> Self {
        self.public_url = Arc::from(public_url.trim_end_matches('/'));
        self
    }

    /// The same state with other vendor rate limits (`--vendor-limits`).
    pub fn with_vendor_limits(self, limits: VendorLimits) -> Self {
        self.with_rate_limiter(limits, MAX_RATE_LIMIT_WAIT, MAX_RATE_LIMIT_QUEUE)
    }

    /// The same state with other vendor rate limits, longest wait and queue bound per OAuth client.
    pub fn with_rate_limiter(mut self, limits: VendorLimits, max_wait: Duration, max_queue: usize) -> Self {
        self.limiter = Arc::new(VendorRateLimiter::new(limits, max_wait, max_queue));
        self
    }

    /// The same state with another vendor call timeout (`--vendor-timeout`; tests use short ones).
    pub fn with_vendor_timeout(mut self, timeout: Duration) -> Self {
        self.vendor_http = vendor_client(timeout);
        self
    }
}

/// The client for vendor REST calls: connection reuse, a whole-call timeout, and no redirects
/// (they could carry the instance's token to another host).
fn vendor_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none()).build().unwrap_or_default()
}
