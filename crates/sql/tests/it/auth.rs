//! Signing in to the vendor from a connection string, against the real simulator: the browser
//! sign-in of `GETANDREFRESH` (the test plays the user on the simulator's consent form, which
//! redirects to the driver's loopback listener), reuse of the kept pair with no prompt, refresh
//! of an expired token with the rotated pair persisted, one refresh for two sign-ins on one file,
//! `REFRESH`, `OFF`, `APIKey`, `memory://` sharing, and every way the sign-in fails clearly.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector::endpoints::VendorEndpoints;
use connector::oauth::{ClientCredentials, OAuthClient};
use connector::rate_limit::VendorRateLimiter;
use connector::{CallContext, TokenError, VendorClient, VendorError, VendorRequest};
use domain::token_rules::{RefreshOutcome, TokenGrant};
use domain::vendor_limits::VendorLimits;
use domain::Secret;
use keap_sim::{Limits, RunningSim, SimConfig};
use reqwest::Method;
use serde_json::{json, Value};
use sql::auth::{sign_in, AuthError, SignInOptions, SignInPrompt, VendorAccess};
use sql::{Mode, VendorAuth};
use url::Url;

const CLIENT_ID: &str = "sandbox-client-id";
const CLIENT_SECRET: &str = "sandbox-client-secret";

/// The simulator (limits lifted: these tests count token grants, not calls) and a vendor client
/// of it.
struct Vendor {
    sim: RunningSim,
    endpoints: VendorEndpoints,
    client: VendorClient,
    http: reqwest::Client,
}

impl Vendor {
    async fn start() -> Vendor {
        let config = SimConfig {
            limits: Limits::none(),
            api_key_limits: Limits::none(),
            tenant_limits: Limits::none(),
            ..SimConfig::sandbox()
        };
        let sim = keap_sim::spawn(config, "127.0.0.1:0").await.expect("simulator starts");
        let endpoints = VendorEndpoints::simulator(&Url::parse(&sim.url()).unwrap()).unwrap();
        let limiter = Arc::new(VendorRateLimiter::new(VendorLimits::OFF, Duration::from_secs(5), 100));
        let client = VendorClient::new(endpoints.clone(), limiter, Duration::from_secs(10)).unwrap();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Vendor { sim, endpoints, client, http }
    }

    /// The vendor part of a connection string: `AuthScheme=OAuth;…;VendorURL=<the simulator>`.
    fn auth(&self, properties: &str) -> VendorAuth {
        let text = format!("{properties};VendorURL={}", self.sim.url());
        match sql::parse(&text).expect("the connection string parses").mode {
            Mode::Vendor { auth, .. } => auth,
            other => panic!("expected vendor mode, got {other:?}"),
        }
    }

    async fn sign_in(&self, properties: &str, options: &SignInOptions) -> Result<VendorAccess, AuthError> {
        sign_in(&self.auth(properties), &self.endpoints, options).await
    }

    /// `GET v2/contacts?page_size=1` with `access`'s tokens.
    async fn call(&self, access: &VendorAccess) -> Result<Value, VendorError> {
        let context = CallContext::interactive(&access.client_id, access.tokens.as_ref());
        let request = VendorRequest::new(Method::GET, "v2/contacts").query("page_size", "1");
        self.client.send_json(&context, &request).await
    }

    /// The user's side of the sign-in: logs in on the consent form the authorize URL names,
    /// chooses `decision`, and follows the vendor's redirect to the driver's listener like a
    /// browser. Returns the listener's status and page.
    async fn user_signs_in(&self, authorize: &Url, decision: &str) -> (u16, String) {
        let mut form: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
        form.extend(
            [("username", "demo@example.com"), ("password", "demo"), ("decision", decision)]
                .map(|(key, value)| (key.to_string(), value.to_string())),
        );
        let consent = self.http.post(format!("{}/app/oauth/authorize", self.sim.url())).form(&form).send().await;
        let consent = consent.expect("the consent form answers");
        assert_eq!(consent.status().as_u16(), 302, "the consent form redirects");
        let location = consent.headers()["location"].to_str().unwrap().to_string();
        self.browse(&location).await
    }

    /// A browser's `GET` of `url`.
    async fn browse(&self, url: &str) -> (u16, String) {
        let answer = self.http.get(url).send().await.expect("the driver's listener answers");
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    /// A grant of the demo user, obtained behind the driver's back (a refresh token to give it).
    async fn grant(&self) -> TokenGrant {
        let redirect = "https://app.example.com/callback";
        let form = [
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("username", "demo@example.com"),
            ("password", "demo"),
            ("decision", "allow"),
        ];
        let consent = self.http.post(format!("{}/app/oauth/authorize", self.sim.url())).form(&form).send().await;
        let location = Url::parse(consent.unwrap().headers()["location"].to_str().unwrap()).unwrap();
        let code = location.query_pairs().find(|(key, _)| key == "code").expect("a code").1.into_owned();
        match self.oauth().exchange_code(&client(), &Secret::new(code), redirect).await {
            RefreshOutcome::Refreshed(grant) => grant,
            other => panic!("expected tokens, got {other:?}"),
        }
    }

    fn oauth(&self) -> OAuthClient {
        OAuthClient::new(self.endpoints.clone()).unwrap()
    }

    async fn refresh_grants(&self) -> u64 {
        let stats: Value =
            self.http.get(format!("{}/__sim/stats", self.sim.url())).send().await.unwrap().json().await.unwrap();
        stats["token_grants"]["refresh_token"].as_u64().expect("a refresh grant count")
    }

    /// Moves the vendor's clock: its access tokens expire, the driver's clock does not move.
    async fn advance_clock(&self, seconds: i64) {
        let url = format!("{}/__sim/clock/advance", self.sim.url());
        let answer = self.http.post(url).json(&json!({ "seconds": seconds })).send().await.unwrap();
        assert!(answer.status().is_success());
    }

    async fn api_key(&self) -> String {
        let answer = self.http.post(format!("{}/__sim/api-keys", self.sim.url())).send().await.unwrap();
        let body: Value = answer.json().await.unwrap();
        body["key"].as_str().expect("a key").to_string()
    }
}

fn client() -> ClientCredentials {
    ClientCredentials { client_id: CLIENT_ID.into(), client_secret: Secret::new(CLIENT_SECRET) }
}

/// Records every authorize URL the driver shows instead of printing it or opening a browser.
#[derive(Default)]
struct Prompts {
    shown: Mutex<Vec<Url>>,
    notify: tokio::sync::Notify,
}

impl SignInPrompt for Prompts {
    fn show(&self, authorize_url: &Url) {
        self.shown.lock().unwrap().push(authorize_url.clone());
        self.notify.notify_one();
    }
}

impl Prompts {
    fn count(&self) -> usize {
        self.shown.lock().unwrap().len()
    }

    /// The next authorize URL shown (waits for it).
    async fn next(&self, seen: usize) -> Url {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(url) = self.shown.lock().unwrap().get(seen).cloned() {
                    return url;
                }
                self.notify.notified().await;
            }
        })
        .await
        .expect("the driver shows an authorize URL")
    }
}

fn options(prompts: &Arc<Prompts>, callback_wait: Duration) -> SignInOptions {
    SignInOptions { prompt: prompts.clone(), callback_wait }
}

/// A free loopback port for the callback listener.
fn free_callback() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
}

/// A directory of the test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let name = format!("junction-sql-auth-{}-{:016x}", std::process::id(), rand::random::<u64>());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("tokens.json")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn on_disk(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `GETANDREFRESH` with the sandbox client, keeping the pair at `location`, listening on
/// `callback`.
fn get_and_refresh(location: &str, callback: &str) -> String {
    format!(
        "AuthScheme=OAuth;InitiateOAuth=GETANDREFRESH;OAuthClientId={CLIENT_ID};OAuthClientSecret={CLIENT_SECRET};\
         OAuthSettingsLocation={location};CallbackURL={callback}"
    )
}

fn refresh_from(location: &str, refresh_token: Option<&Secret>) -> String {
    let given = refresh_token.map(|token| format!(";OAuthRefreshToken={}", token.expose())).unwrap_or_default();
    format!(
        "AuthScheme=OAuth;InitiateOAuth=REFRESH;OAuthClientId={CLIENT_ID};OAuthClientSecret={CLIENT_SECRET};\
         OAuthSettingsLocation={location}{given}"
    )
}

/// The whole browser sign-in: starts `sign_in`, plays the user, and returns the driver's access.
async fn browser_sign_in(vendor: &Arc<Vendor>, properties: &str) -> VendorAccess {
    let prompts = Arc::new(Prompts::default());
    let signing_in = {
        let (vendor, properties, options) = (vendor.clone(), properties.to_string(), options(&prompts, secs(30)));
        tokio::spawn(async move { vendor.sign_in(&properties, &options).await })
    };
    let authorize = prompts.next(0).await;
    let (status, _) = vendor.user_signs_in(&authorize, "allow").await;
    assert_eq!(status, 200);
    signing_in.await.unwrap().expect("the sign-in completes")
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

#[tokio::test(flavor = "multi_thread")]
async fn get_and_refresh_without_a_token_file_signs_in_through_the_browser_then_reuses_the_file() {
    let vendor = Arc::new(Vendor::start().await);
    let scratch = Scratch::new();
    let callback = free_callback();
    let properties = get_and_refresh(&scratch.file().display().to_string(), &callback);

    let prompts = Arc::new(Prompts::default());
    let signing_in = {
        let (vendor, properties, options) = (vendor.clone(), properties.clone(), options(&prompts, secs(30)));
        tokio::spawn(async move { vendor.sign_in(&properties, &options).await })
    };
    let authorize = prompts.next(0).await;
    assert!(authorize.as_str().starts_with(&format!("{}/app/oauth/authorize?", vendor.sim.url())), "{authorize}");
    let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["client_id"], CLIENT_ID);
    assert_eq!(query["redirect_uri"], callback);
    assert_eq!((query["response_type"].as_str(), query["scope"].as_str()), ("code", "full"));
    assert!(query["state"].len() >= 32, "a random state");

    let (status, page) = vendor.user_signs_in(&authorize, "allow").await;
    assert_eq!(status, 200);
    assert!(page.contains("You may close this tab"), "{page}");
    let access = signing_in.await.unwrap().expect("the sign-in completes");
    assert_eq!(access.client_id, CLIENT_ID);
    let page = vendor.call(&access).await.expect("a vendor call with the new tokens works");
    assert_eq!(page["contacts"].as_array().map(Vec::len), Some(1));

    let file = on_disk(&scratch.file());
    assert!(file["access_token"].is_string() && file["refresh_token"].is_string(), "the pair is kept");
    #[cfg(unix)]
    assert_eq!(mode(&scratch.file()), 0o600);

    let again = vendor.sign_in(&properties, &options(&prompts, secs(1))).await.expect("the file is reused");
    assert_eq!(prompts.count(), 1, "no second prompt");
    vendor.call(&again).await.expect("the kept tokens work");
    assert_eq!(vendor.refresh_grants().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_access_token_is_refreshed_and_the_rotated_pair_persisted() {
    let vendor = Arc::new(Vendor::start().await);
    let scratch = Scratch::new();
    let access =
        browser_sign_in(&vendor, &get_and_refresh(&scratch.file().display().to_string(), &free_callback())).await;
    let before = on_disk(&scratch.file());

    vendor.advance_clock(25 * 3600).await;
    vendor.call(&access).await.expect("the expired token is refreshed after the vendor's 401");

    assert_eq!(vendor.refresh_grants().await, 1);
    let after = on_disk(&scratch.file());
    assert_eq!(after["generation"].as_i64(), before["generation"].as_i64().map(|g| g + 1));
    assert_ne!(after["refresh_token"], before["refresh_token"], "the rotated refresh token is kept");
    assert_ne!(after["access_token"], before["access_token"]);
    #[cfg(unix)]
    assert_eq!(mode(&scratch.file()), 0o600);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sign_ins_on_one_token_file_refresh_once() {
    let vendor = Arc::new(Vendor::start().await);
    let scratch = Scratch::new();
    let location = scratch.file().display().to_string();
    browser_sign_in(&vendor, &get_and_refresh(&location, &free_callback())).await;
    let prompts = Arc::new(Prompts::default());
    let first = vendor.sign_in(&refresh_from(&location, None), &options(&prompts, secs(1))).await.unwrap();
    let second = vendor.sign_in(&refresh_from(&location, None), &options(&prompts, secs(1))).await.unwrap();

    vendor.advance_clock(25 * 3600).await;
    let (a, b) = tokio::join!(vendor.call(&first), vendor.call(&second));
    a.expect("the first source's call works");
    b.expect("the second source's call works");
    assert_eq!(vendor.refresh_grants().await, 1, "one refresh between them");
    assert_eq!(prompts.count(), 0);
}

#[tokio::test]
async fn refresh_starts_from_the_given_refresh_token_and_then_keeps_the_rotated_one() {
    let vendor = Arc::new(Vendor::start().await);
    let scratch = Scratch::new();
    let location = scratch.file().display().to_string();
    let given = vendor.grant().await.refresh_token.expect("a refresh token");
    let prompts = Arc::new(Prompts::default());

    let access = vendor.sign_in(&refresh_from(&location, Some(&given)), &options(&prompts, secs(1))).await.unwrap();
    vendor.call(&access).await.expect("a call with the refreshed token works");
    assert_eq!(vendor.refresh_grants().await, 1);
    let kept = on_disk(&scratch.file());
    assert_ne!(kept["refresh_token"].as_str(), Some(given.expose()), "the given token was spent and rotated");

    // The same connection string again: the retired token it names must not replace the kept pair.
    let again = vendor.sign_in(&refresh_from(&location, Some(&given)), &options(&prompts, secs(1))).await.unwrap();
    vendor.call(&again).await.expect("the kept pair still works");
    assert_eq!(vendor.refresh_grants().await, 1, "the kept pair was not refreshed again");
    assert_eq!(prompts.count(), 0, "REFRESH never prompts");
}

#[tokio::test]
async fn refresh_with_no_token_given_or_kept_is_a_clear_error() {
    let vendor = Arc::new(Vendor::start().await);
    let scratch = Scratch::new();
    let location = scratch.file().display().to_string();
    let prompts = Arc::new(Prompts::default());
    let error = vendor.sign_in(&refresh_from(&location, None), &options(&prompts, secs(1))).await.unwrap_err();
    assert!(matches!(error, AuthError::NothingStored { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&location) && message.contains("InitiateOAuth=REFRESH never prompts"), "{message}");
    assert_eq!(prompts.count(), 0);
}

#[tokio::test]
async fn a_used_up_refresh_token_says_to_sign_in_again() {
    let vendor = Arc::new(Vendor::start().await);
    let scratch = Scratch::new();
    let location = scratch.file().display().to_string();
    let given = vendor.grant().await.refresh_token.expect("a refresh token");
    let spent = vendor.oauth().refresh(&client(), &given).await;
    assert!(matches!(spent, RefreshOutcome::Refreshed(_)), "someone else spends it first");

    let prompts = Arc::new(Prompts::default());
    let error = vendor.sign_in(&refresh_from(&location, Some(&given)), &options(&prompts, secs(1))).await.unwrap_err();
    assert!(matches!(error, AuthError::SignInAgain { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with("the vendor no longer accepts the stored refresh token"), "{message}");
    assert!(message.contains(&format!("sign in again with InitiateOAuth=GETANDREFRESH (remove {location} first)")));
    assert!(!message.contains(given.expose()), "no secret in the message");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_token_revoked_mid_session_is_explained_as_sign_in_again() {
    let vendor = Arc::new(Vendor::start().await);
    let scratch = Scratch::new();
    let access =
        browser_sign_in(&vendor, &get_and_refresh(&scratch.file().display().to_string(), &free_callback())).await;
    let kept = Secret::new(on_disk(&scratch.file())["refresh_token"].as_str().unwrap());
    assert!(matches!(vendor.oauth().refresh(&client(), &kept).await, RefreshOutcome::Refreshed(_)));

    vendor.advance_clock(25 * 3600).await;
    let error = vendor.call(&access).await.unwrap_err();
    let VendorError::Token(token_error @ TokenError::Invalid { .. }) = &error else { panic!("{error:?}") };
    let message = access.explain(token_error);
    assert!(message.contains("sign in again with InitiateOAuth=GETANDREFRESH"), "{message}");
    assert!(message.contains(&scratch.file().display().to_string()), "{message}");
}

#[tokio::test]
async fn off_uses_the_access_token_as_given_and_its_401_is_final() {
    let vendor = Arc::new(Vendor::start().await);
    let token = vendor.grant().await.access_token;
    let prompts = Arc::new(Prompts::default());
    let off = |token: &str| format!("AuthScheme=OAuth;InitiateOAuth=OFF;OAuthAccessToken={token}");

    let access = vendor.sign_in(&off(token.expose()), &options(&prompts, secs(1))).await.unwrap();
    vendor.call(&access).await.expect("the given token works");
    let dead = vendor.sign_in(&off("not-a-token"), &options(&prompts, secs(1))).await.unwrap();
    let refused = vendor.call(&dead).await;
    assert!(matches!(refused, Err(VendorError::Status { status: 401, .. })), "{refused:?}");
    assert_eq!(vendor.refresh_grants().await, 0);
    assert_eq!(prompts.count(), 0);
}

#[tokio::test]
async fn an_api_key_signs_in_with_the_keap_header() {
    let vendor = Arc::new(Vendor::start().await);
    let key = vendor.api_key().await;
    let prompts = Arc::new(Prompts::default());
    let access = vendor.sign_in(&format!("AuthScheme=APIKey;APIKey={key}"), &options(&prompts, secs(1))).await.unwrap();
    assert_eq!(access.client_id, "api-key");
    vendor.call(&access).await.expect("the key is accepted");
}

#[tokio::test]
async fn a_callback_that_never_comes_times_out_with_a_clear_message() {
    let vendor = Arc::new(Vendor::start().await);
    let scratch = Scratch::new();
    let callback = free_callback();
    let prompts = Arc::new(Prompts::default());
    let properties = get_and_refresh(&scratch.file().display().to_string(), &callback);
    let error = vendor.sign_in(&properties, &options(&prompts, secs(1))).await.unwrap_err();
    assert!(matches!(error, AuthError::CallbackTimeout { .. }), "{error:?}");
    assert!(error.to_string().starts_with(&format!("no sign-in redirect reached {callback} within 1 s; ")), "{error}");
    assert_eq!(prompts.count(), 1, "the URL was shown");
    assert!(!scratch.file().exists(), "nothing was kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_with_a_wrong_state_is_refused_and_the_sign_in_keeps_waiting() {
    let vendor = Arc::new(Vendor::start().await);
    let scratch = Scratch::new();
    let callback = free_callback();
    let prompts = Arc::new(Prompts::default());
    let signing_in = {
        let properties = get_and_refresh(&scratch.file().display().to_string(), &callback);
        let (vendor, options) = (vendor.clone(), options(&prompts, secs(30)));
        tokio::spawn(async move { vendor.sign_in(&properties, &options).await })
    };
    let authorize = prompts.next(0).await;

    let (status, page) = vendor.browse(&format!("{callback}/?code=forged&state=not-ours")).await;
    assert_eq!(status, 400);
    assert!(page.contains("state does not match"), "{page}");
    let (status, _) = vendor.browse(&format!("{callback}/?error=access_denied")).await;
    assert_eq!(status, 400, "an error without our state is refused too");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!signing_in.is_finished(), "the sign-in still waits");
    assert!(!scratch.file().exists());

    let (status, _) = vendor.user_signs_in(&authorize, "allow").await;
    assert_eq!(status, 200);
    let access = signing_in.await.unwrap().expect("the real redirect completes the sign-in");
    vendor.call(&access).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_denied_sign_in_names_the_vendors_error() {
    let vendor = Arc::new(Vendor::start().await);
    let scratch = Scratch::new();
    let prompts = Arc::new(Prompts::default());
    let signing_in = {
        let properties = get_and_refresh(&scratch.file().display().to_string(), &free_callback());
        let (vendor, options) = (vendor.clone(), options(&prompts, secs(30)));
        tokio::spawn(async move { vendor.sign_in(&properties, &options).await })
    };
    let authorize = prompts.next(0).await;
    let (status, _) = vendor.user_signs_in(&authorize, "deny").await;
    assert_eq!(status, 200);
    let error = signing_in.await.unwrap().unwrap_err();
    assert!(matches!(&error, AuthError::Refused { error, .. } if error == "access_denied"), "{error:?}");
    assert!(error.to_string().contains("access_denied"), "{error}");
}

#[tokio::test]
async fn a_callback_port_in_use_is_an_error_naming_the_callback_url() {
    let vendor = Arc::new(Vendor::start().await);
    let scratch = Scratch::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let callback = format!("http://127.0.0.1:{}", taken.local_addr().unwrap().port());
    let prompts = Arc::new(Prompts::default());
    let properties = get_and_refresh(&scratch.file().display().to_string(), &callback);
    let error = vendor.sign_in(&properties, &options(&prompts, secs(5))).await.unwrap_err();
    assert!(matches!(error, AuthError::CallbackUnavailable { .. }), "{error:?}");
    assert!(error.to_string().contains(&callback), "{error}");
    assert_eq!(prompts.count(), 0, "no URL is shown when nothing can receive the redirect");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_location_shares_one_pair_between_connections_of_the_same_name() {
    let vendor = Arc::new(Vendor::start().await);
    let name = format!("memory://shared-{:016x}", rand::random::<u64>());
    let first = browser_sign_in(&vendor, &get_and_refresh(&name, &free_callback())).await;

    let prompts = Arc::new(Prompts::default());
    let second = vendor.sign_in(&get_and_refresh(&name, &free_callback()), &options(&prompts, secs(1))).await;
    let second = second.expect("the pair kept under the name is reused");
    assert_eq!(prompts.count(), 0);
    let (a, b) = (first.tokens.current().await.unwrap(), second.tokens.current().await.unwrap());
    assert_eq!((a.secret.expose(), a.generation), (b.secret.expose(), b.generation), "one pair");

    vendor.advance_clock(25 * 3600).await;
    let (a, b) = tokio::join!(vendor.call(&first), vendor.call(&second));
    a.unwrap();
    b.unwrap();
    assert_eq!(vendor.refresh_grants().await, 1, "one refresh for both connections");

    let other = format!("memory://other-{:016x}", rand::random::<u64>());
    let error = vendor.sign_in(&get_and_refresh(&other, &free_callback()), &options(&prompts, secs(1))).await;
    assert!(matches!(error, Err(AuthError::CallbackTimeout { .. })), "another name holds no pair: {error:?}");
}
