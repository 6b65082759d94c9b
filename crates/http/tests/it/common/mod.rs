//! The stack every integration test talks to: the vendor simulator and the platform router, both
//! in-process on free ports, over a SQLite database in a private temporary directory.

pub mod hub;
pub mod lists;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use domain::instance_config::ServerPolicy;
use domain::vendor_limits::VendorLimits;
use domain::Secret;
use keap_sim::{Limits, SimConfig};
use serde_json::{json, Value};
use store::{Keyring, MasterKey, Store};

pub const CLIENT_ID: &str = "sandbox-client-id";
pub const CLIENT_SECRET: &str = "sandbox-client-secret";
pub const ENCRYPTED_KEY: &str = "sandbox-encrypted-key";
pub const CALLBACK: &str = "https://app.example.com/callback";

pub struct Stack {
    pub sim: keap_sim::RunningSim,
    /// The platform the server runs (for calling its jobs directly).
    pub platform: platform::Platform,
    /// `http://ADDR` of the platform.
    pub base: String,
    pub store: Arc<dyn Store>,
    pub organization_id: store::OrganizationId,
    pub user_secret: Secret,
    pub org_secret: Secret,
    pub http: reqwest::Client,
    dir: PathBuf,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn temp_dir() -> PathBuf {
    let unique: u64 = rand_u64();
    let dir = std::env::temp_dir().join(format!("junction-http-test-{}-{unique:016x}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish()
}

/// How a test's stack differs from the default one.
pub struct StackOptions {
    /// The simulator's limits per OAuth client and per account.
    pub sim_limits: Limits,
    pub sim_tenant_limits: Limits,
    /// The limits Junction enforces before calling the vendor, per OAuth client and per account.
    pub vendor_limits: VendorLimits,
    pub account_limits: VendorLimits,
    /// How long a hub call may queue for the rate limit, and how many may queue, before a 429.
    pub rate_limit_wait: Duration,
    pub rate_limit_queue: usize,
    /// How long a vendor call may take before a 504.
    pub vendor_timeout: Duration,
    /// The origins allowed to call the API from a browser (`--cors-origins`).
    pub cors_origins: http_api::cors::CorsOrigins,
    /// Runs the bulk job runners with this configuration (none by default).
    pub bulk: Option<platform::bulk::BulkConfig>,
    /// The share of each vendor limit background work may use.
    pub background_share: f64,
    /// Callbacks may reach loopback (`--allow-private-callbacks`).
    pub allow_private_callbacks: bool,
    /// Runs the formula executions with this configuration (none by default: runs stay queued).
    pub formulas: Option<platform::formulas::FormulaConfig>,
}

impl Default for StackOptions {
    /// No vendor rate limits on either side (the concurrency tests fire more than 25 calls in a
    /// second), and a short vendor timeout so that the timeout tests are quick.
    fn default() -> Self {
        StackOptions {
            sim_limits: Limits::none(),
            sim_tenant_limits: Limits::none(),
            vendor_limits: VendorLimits::OFF,
            account_limits: VendorLimits::ACCOUNT,
            rate_limit_wait: platform::MAX_RATE_LIMIT_WAIT,
            rate_limit_queue: platform::MAX_RATE_LIMIT_QUEUE,
            vendor_timeout: Duration::from_secs(3),
            cors_origins: http_api::cors::CorsOrigins::None,
            bulk: None,
            background_share: platform::DEFAULT_BACKGROUND_SHARE,
            allow_private_callbacks: false,
            formulas: None,
        }
    }
}

impl Stack {
    pub async fn start() -> Stack {
        Stack::start_with(StackOptions::default()).await
    }

    pub async fn start_with(options: StackOptions) -> Stack {
        let config =
            SimConfig { limits: options.sim_limits, tenant_limits: options.sim_tenant_limits, ..SimConfig::sandbox() };
        let sim = keap_sim::spawn(config, "127.0.0.1:0").await.expect("simulator");
        let dir = temp_dir();
        let url = format!("sqlite://{}", dir.join("junction.db").display());
        let store = store::connect(&url, Keyring::new(MasterKey::generate())).await.expect("store");
        let (organization, org_secret) = store.create_organization("default").await.expect("organization");
        let (_, user_secret) = store.create_user(organization.id, "admin", true).await.expect("user");

        let base = url::Url::parse(&sim.url()).expect("sim url");
        let endpoints = connector::endpoints::VendorEndpoints::simulator(&base).expect("endpoints");
        let policy = ServerPolicy::with_sandbox_host(&sim.addr().to_string());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let config = platform::PlatformConfig {
            vendor_limits: options.vendor_limits,
            account_limits: options.account_limits,
            rate_limit_wait: options.rate_limit_wait,
            rate_limit_queue: options.rate_limit_queue,
            vendor_timeout: options.vendor_timeout,
            background_share: options.background_share,
            bulk: options.bulk.clone().unwrap_or_default(),
            formulas: options.formulas.clone().unwrap_or_default(),
            events: platform::events::EventsConfig {
                allow_private_callbacks: options.allow_private_callbacks,
                ..platform::events::EventsConfig::default()
            },
            ..platform::PlatformConfig::new(Arc::clone(&store), endpoints, policy, true)
        };
        let platform = platform::Platform::build(config).expect("platform");
        let runners = options
            .bulk
            .is_some()
            .then(|| tokio::spawn(platform::bulk::runner::run(platform.clone(), std::future::pending())));
        let formula_runners = options
            .formulas
            .is_some()
            .then(|| tokio::spawn(platform::formulas::runner::run(platform.clone(), std::future::pending())));
        let state = http_api::AppState::new(platform.clone())
            .with_public_url(&format!("http://{addr}"))
            .with_cors_origins(options.cors_origins);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, axum::ServiceExt::into_make_service(http_api::app(state))).await;
            drop(runners);
            drop(formula_runners);
        });
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Stack {
            sim,
            platform,
            base: format!("http://{addr}"),
            store,
            organization_id: organization.id,
            user_secret,
            org_secret,
            http,
            dir,
            server,
        }
    }

    /// The full URL of an API path (under `/elements/api-v2`).
    pub fn api(&self, path: &str) -> String {
        format!("{}/elements/api-v2{path}", self.base)
    }

    pub fn platform_auth(&self) -> String {
        format!("User {}, Organization {}", self.user_secret.expose(), self.org_secret.expose())
    }

    pub fn hub_auth(&self, instance_token: &str) -> String {
        format!("User {}, Element {instance_token}", self.user_secret.expose())
    }

    /// Consents on the simulator's form as the demo user for `redirect_uri` and returns the code.
    pub async fn consent(&self, redirect_uri: &str) -> String {
        let form = [
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", "full"),
            ("state", "infusionsoftcrm"),
            ("username", "demo@example.com"),
            ("password", "demo"),
            ("decision", "allow"),
        ];
        let answer = self
            .http
            .post(format!("{}/app/oauth/authorize", self.sim.url()))
            .form(&form)
            .send()
            .await
            .expect("consent");
        assert_eq!(answer.status(), 302, "the consent form redirects");
        let location = url::Url::parse(answer.headers()["location"].to_str().expect("ascii")).expect("location");
        location.query_pairs().find(|(key, _)| key == "code").expect("a code").1.into_owned()
    }

    /// The CRM seed's body, with the sandbox's credentials and `code`.
    pub fn crm_body(&self, code: &str) -> Value {
        json!({
            "element": {"key": "infusionsoftcrm"},
            "providerData": {"code": code},
            "configuration": {
                "oauth.callback.url": CALLBACK,
                "oauth.api.key": CLIENT_ID,
                "oauth.api.secret": CLIENT_SECRET,
                "infusionsoft.server": "sandbox.infusionsoft.com",
                "infusionsoft.private.key": ENCRYPTED_KEY
            },
            "tags": ["Docs"],
            "name": "API Instance"
        })
    }

    pub async fn post_instance(&self, body: &Value) -> reqwest::Response {
        self.http
            .post(self.api("/instances"))
            .header("authorization", self.platform_auth())
            .json(body)
            .send()
            .await
            .expect("POST /instances")
    }

    /// Consents and creates an instance from the CRM seed body; returns the instance JSON.
    pub async fn create_instance(&self) -> Value {
        let code = self.consent(CALLBACK).await;
        let response = self.post_instance(&self.crm_body(&code)).await;
        assert_eq!(response.status(), 200, "instance created");
        response.json().await.expect("instance JSON")
    }

    /// A hub call with the instance's credentials (`path` under `/hubs/...`, e.g. `/hubs/crm/contacts`).
    pub async fn hub(
        &self,
        method: reqwest::Method,
        instance_token: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request =
            self.http.request(method, self.api(path)).header("authorization", self.hub_auth(instance_token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("hub call")
    }

    /// A vendor GET straight to the simulator with instance `id`'s stored access token (to check
    /// what the vendor holds after a hub write).
    pub async fn vendor_get(&self, id: i64, path: &str) -> reqwest::Response {
        let record = self.store.get_instance(self.organization_id, store::InstanceId::new(id)).await.unwrap();
        let token = record.secrets.get(store::ACCESS_TOKEN_KEY).unwrap().expose().to_string();
        self.http
            .get(format!("{}/crm/rest/{path}", self.sim.url()))
            .bearer_auth(token)
            .send()
            .await
            .expect("vendor call")
    }

    pub async fn hub_contacts(&self, instance_token: &str) -> reqwest::Response {
        self.http
            .get(self.api("/hubs/crm/contacts"))
            .header("authorization", self.hub_auth(instance_token))
            .send()
            .await
            .expect("hub call")
    }

    pub async fn platform(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.http
            .request(method, self.api(path))
            .header("authorization", self.platform_auth())
            .send()
            .await
            .expect("call")
    }

    pub async fn sim_stats(&self) -> Value {
        self.http
            .get(format!("{}/__sim/stats", self.sim.url()))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("json")
    }

    /// How many refresh grants the simulator has seen (granted or refused).
    pub async fn refresh_grants(&self) -> u64 {
        self.sim_stats().await["token_grants"]["refresh_token"].as_u64().expect("a count")
    }

    pub async fn sim_post(&self, path: &str, body: Value) {
        let answer = self.http.post(format!("{}{path}", self.sim.url())).json(&body).send().await.expect("sim control");
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
    }

    /// Refreshes instance `id`'s stored refresh token directly at the vendor, behind the
    /// platform's back: the vendor retires the token the platform holds, which is returned.
    pub async fn retire_refresh_token_elsewhere(&self, id: i64) -> String {
        let record = self.store.get_instance(self.organization_id, store::InstanceId::new(id)).await.unwrap();
        let refresh_token = record.secrets.get(store::REFRESH_TOKEN_KEY).unwrap().expose().to_string();
        let answer = self
            .http
            .post(format!("{}/token", self.sim.url()))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        refresh_token
    }

    /// Moves the vendor's clock past the access token's 24 h lifetime.
    pub async fn expire_access_tokens(&self) {
        self.sim_post("/__sim/clock/advance", json!({"seconds": 86_400 + 60})).await;
    }
}

/// Asserts the platform's error shape and returns the message.
pub async fn error_message(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "status");
    assert!(response.headers().contains_key("elements-request-id"), "request id header");
    let body: Value = response.json().await.expect("a JSON error body");
    assert!(body["requestId"].is_string(), "requestId in {body}");
    assert!(body["message"].is_string(), "message in {body}");
    body
}
