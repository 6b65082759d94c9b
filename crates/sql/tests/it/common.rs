//! The simulator, an access token from its consent form, and a driver on it.

use std::sync::Arc;
use std::time::Duration;

use connector::endpoints::VendorEndpoints;
use connector::rate_limit::VendorRateLimiter;
use connector::{CallContext, StaticTokens, VendorClient};
use domain::vendor_limits::VendorLimits;
use domain::Secret;
use hub::{CursorSigner, Hub, ListParams, Session, Target};
use keap_sim::{Limits, SimConfig};
use serde_json::Value;

pub const CLIENT_ID: &str = "sandbox-client-id";
const REDIRECT: &str = "https://app.example.com/callback";

/// A running simulator and what the tests compare the driver with.
pub struct Sim {
    pub runtime: tokio::runtime::Runtime,
    pub sim: keap_sim::RunningSim,
    pub token: Secret,
    hub: Hub,
}

impl Sim {
    /// The simulator with the demo data (`contacts` of them) and no rate limits.
    pub fn start(contacts: Option<usize>) -> Sim {
        let mut config = SimConfig {
            limits: Limits::none(),
            api_key_limits: Limits::none(),
            tenant_limits: Limits::none(),
            ..SimConfig::sandbox()
        };
        config.accounts[0].demo_contacts = contacts;
        Sim::start_with(config)
    }

    /// The simulator with `config`.
    pub fn start_with(config: SimConfig) -> Sim {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let sim = runtime.block_on(keap_sim::spawn(config, "127.0.0.1:0")).unwrap();
        let token = runtime.block_on(access_token(&sim.url()));
        let endpoints = VendorEndpoints::simulator(&url::Url::parse(&sim.url()).unwrap()).unwrap();
        let limiter = Arc::new(VendorRateLimiter::new(VendorLimits::OFF, Duration::from_secs(5), 100));
        let vendor = VendorClient::new(endpoints, limiter, Duration::from_secs(30)).unwrap();
        let hub = Hub::new(Arc::new(vendor), Arc::new(TestSigner));
        Sim { runtime, sim, token, hub }
    }

    /// The connection string of `InitiateOAuth=OFF` with the test's token.
    pub fn connection_string(&self, extra: &str) -> String {
        format!(
            "AuthScheme=OAuth;InitiateOAuth=OFF;OAuthAccessToken={};VendorURL={};{extra}",
            self.token.expose(),
            self.sim.url()
        )
    }

    pub fn connection(&self, extra: &str) -> sql::Connection {
        sql::Connection::open(&self.connection_string(extra)).unwrap()
    }

    /// Every record of `object` the hub's list returns for `where_` (all pages).
    pub fn hub_list(&self, element: &str, object: &str, where_: &str) -> Vec<Value> {
        let tokens = StaticTokens::new(self.token.clone());
        let session = Session {
            instance_id: None,
            element_key: element,
            drop_nulls: false,
            common: None,
            call: CallContext::interactive(CLIENT_ID, &tokens),
        };
        let mut records = Vec::new();
        let mut next = None;
        loop {
            let params = ListParams {
                where_: Some(where_.to_string()).filter(|text| !text.is_empty()),
                page_size: Some("500".into()),
                next_page: next.take(),
                ..ListParams::default()
            };
            let page = self.runtime.block_on(self.hub.list(&session, Target::Object(object), &params)).unwrap();
            records.extend(page.records);
            match page.next_page {
                Some(cursor) => next = Some(cursor),
                None => return records,
            }
        }
    }

    /// The simulator's `/__sim/stats`.
    pub fn stats(&self) -> Value {
        let url = format!("{}/__sim/stats", self.sim.url());
        self.runtime.block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    }

    /// A simulator REST v2 call with the test's token.
    pub fn vendor(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.runtime.block_on(async {
            let mut request = reqwest::Client::new()
                .request(method, format!("{}/crm/rest/{path}", self.sim.url()))
                .bearer_auth(self.token.expose());
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(Value::Null))
        })
    }
}

struct TestSigner;

impl CursorSigner for TestSigner {
    fn sign(&self, text: &str) -> String {
        format!("{}", text.len())
    }
}

/// An access token for the demo account, through the simulator's consent form and token endpoint.
pub async fn access_token(base: &str) -> Secret {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = [
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("username", "demo@example.com"),
        ("password", "demo"),
        ("decision", "allow"),
    ];
    let consent = http.post(format!("{base}/app/oauth/authorize")).form(&form).send().await.unwrap();
    let location = consent.headers()["location"].to_str().unwrap().to_string();
    let code = url::Url::parse(&location).unwrap().query_pairs().find(|(key, _)| key == "code").unwrap().1.to_string();
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", CLIENT_ID),
        ("client_secret", "sandbox-client-secret"),
    ];
    let token: Value = http.post(format!("{base}/token")).form(&grant).send().await.unwrap().json().await.unwrap();
    Secret::new(token["access_token"].as_str().unwrap())
}
