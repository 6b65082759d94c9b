//! The state every handler receives, built once at startup.

use std::sync::Arc;
use std::time::Duration;

use connector::endpoints::VendorEndpoints;
use connector::oauth::OAuthClient;
use domain::elements::Catalog;
use domain::instance_config::ServerPolicy;
use store::Store;

use crate::metrics::Metrics;

/// How long one vendor REST call may take before the caller gets a 504.
pub const VENDOR_TIMEOUT: Duration = Duration::from_secs(30);

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
    /// True when the vendor is the simulator.
    pub sandbox: bool,
    /// The process's metrics (`GET /metrics`).
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// The state for `store`, the built-in catalog and the vendor at `endpoints`.
    pub fn new(store: Arc<dyn Store>, endpoints: VendorEndpoints, policy: ServerPolicy, sandbox: bool) -> Self {
        let vendor_http = reqwest::Client::builder()
            .timeout(VENDOR_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        AppState {
            store,
            catalog: Catalog::builtin(),
            oauth: Arc::new(OAuthClient::new(endpoints.clone())),
            endpoints: Arc::new(endpoints),
            policy: Arc::new(policy),
            vendor_http,
            sandbox,
            metrics: Arc::new(Metrics::new()),
        }
    }
}
