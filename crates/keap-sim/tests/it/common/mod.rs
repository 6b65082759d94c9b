//! Shared set-up for the simulator's integration tests: start a simulator on a free port, walk the
//! real OAuth flow to get tokens, and make HTTP calls that do not follow redirects.

use keap_sim::{Limits, RunningSim, SimConfig};
use reqwest::header::LOCATION;
use reqwest::{Client, Response, StatusCode};
use serde_json::Value;

pub const CLIENT_ID: &str = "sandbox-client-id";
pub const CLIENT_SECRET: &str = "sandbox-client-secret";
pub const REDIRECT: &str = "https://app.example.com/callback";

/// A running simulator and a client for it.
pub struct Harness {
    pub sim: RunningSim,
    pub http: Client,
}

/// The sandbox configuration without rate limits, so tests that are not about limits never trip them.
pub fn unlimited() -> SimConfig {
    SimConfig {
        limits: Limits::none(),
        api_key_limits: Limits::none(),
        tenant_limits: Limits::none(),
        ..SimConfig::sandbox()
    }
}

pub async fn start() -> Harness {
    start_with(unlimited()).await
}

pub async fn start_with(config: SimConfig) -> Harness {
    let sim = keap_sim::spawn(config, "127.0.0.1:0").await.expect("simulator starts");
    let http = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Harness { sim, http }
}

/// Tokens from a `/token` answer.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access: String,
    pub refresh: String,
    pub body: Value,
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.url())
    }

    /// Submits the authorize form as the demo user and returns the redirect's `Location`.
    pub async fn decide(&self, decision: &str, state: &str) -> reqwest::Url {
        self.decide_as("demo@example.com", "demo", decision, state).await
    }

    /// Submits the authorize form as `username` and returns the redirect's `Location`.
    pub async fn decide_as(&self, username: &str, password: &str, decision: &str, state: &str) -> reqwest::Url {
        let form = [
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "full"),
            ("state", state),
            ("username", username),
            ("password", password),
            ("decision", decision),
        ];
        let response = self.http.post(self.url("/app/oauth/authorize")).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FOUND, "the decision redirects");
        let location = response.headers()[LOCATION].to_str().unwrap();
        reqwest::Url::parse(location).unwrap()
    }

    /// A fresh authorization code for the demo user.
    pub async fn code(&self) -> String {
        let location = self.decide("allow", "s").await;
        query_param(&location, "code").expect("code in the redirect")
    }

    /// Posts a form to `/token`.
    pub async fn token_call(&self, form: &[(&str, &str)]) -> Response {
        self.http.post(self.url("/token")).form(form).send().await.unwrap()
    }

    /// Exchanges `code` with form credentials, sending `redirect_uri` and `client_secret` as given.
    pub async fn exchange(&self, code: &str, redirect_uri: &str, client_secret: &str) -> Response {
        self.token_call(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", CLIENT_ID),
            ("client_secret", client_secret),
        ])
        .await
    }

    /// Runs the whole flow for the demo user: consent, code exchange with form credentials.
    pub async fn tokens(&self) -> Tokens {
        self.tokens_as("demo@example.com", "demo").await
    }

    /// Runs the whole flow for another user of the configuration.
    pub async fn tokens_as(&self, username: &str, password: &str) -> Tokens {
        let location = self.decide_as(username, password, "allow", "s").await;
        let code = query_param(&location, "code").expect("code in the redirect");
        let response = self.exchange(&code, REDIRECT, CLIENT_SECRET).await;
        assert_eq!(response.status(), StatusCode::OK);
        tokens_of(response.json().await.unwrap())
    }

    pub async fn bearer(&self) -> String {
        self.tokens().await.access
    }

    pub async fn get(&self, token: &str, path: &str) -> Response {
        self.http.get(self.url(path)).bearer_auth(token).send().await.unwrap()
    }

    pub async fn send_json(&self, method: reqwest::Method, token: &str, path: &str, body: &Value) -> Response {
        self.http.request(method, self.url(path)).bearer_auth(token).json(body).send().await.unwrap()
    }

    pub async fn control(&self, path: &str, body: &Value) -> Response {
        self.http.post(self.url(path)).json(body).send().await.unwrap()
    }

    pub async fn stats(&self) -> Value {
        self.http.get(self.url("/__sim/stats")).send().await.unwrap().json().await.unwrap()
    }
}

pub fn tokens_of(body: Value) -> Tokens {
    Tokens {
        access: body["access_token"].as_str().unwrap().to_string(),
        refresh: body["refresh_token"].as_str().unwrap().to_string(),
        body,
    }
}

pub fn query_param(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Reads a JSON body, asserting the status first.
pub async fn json_with(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}
