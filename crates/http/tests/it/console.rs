//! The web console over real HTTP (the browser flows themselves run in Chromium in
//! `crates/junction/tests/it/console_browser.rs`): sessions, CSRF, the OAuth `state` (single use,
//! bound to its session, signed), hostile and malformed input, and the pages' security headers.

use std::collections::BTreeMap;

use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};

use crate::common::{self, Stack};

/// A browser without JavaScript: a cookie jar and the last page's CSRF token.
struct Browser<'a> {
    stack: &'a Stack,
    cookies: BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(stack: &'a Stack) -> Self {
        Browser { stack, cookies: BTreeMap::new() }
    }

    fn keep_cookies(&mut self, response: &Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let (pair, attributes) = text.split_once(';').unwrap_or((text, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("; ")
    }

    async fn get(&mut self, path: &str) -> Response {
        let response = self
            .stack
            .http
            .get(format!("{}{path}", self.stack.base))
            .header(COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let response = self
            .stack
            .http
            .post(format!("{}{path}", self.stack.base))
            .header(COOKIE, self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        response
    }

    async fn sign_in(&mut self) {
        let page = self.get("/sign-in").await.text().await.unwrap();
        let token = hidden(&page, "token");
        let user = self.stack.user_secret.expose().to_string();
        let org = self.stack.org_secret.expose().to_string();
        let answer = self
            .post("/sign-in", &[("token", &token), ("next", "/"), ("user_secret", &user), ("org_secret", &org)])
            .await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "signed in");
        assert!(self.cookies.contains_key("junction_session"));
    }

    /// The CSRF token of the current session, read from a page's form.
    async fn csrf(&mut self) -> String {
        hidden(&self.get("/").await.text().await.unwrap(), "csrf")
    }

    /// Submits the CRM Authenticate form and returns the vendor authorize URL it redirects to.
    async fn start_authentication(&mut self, name: &str) -> url::Url {
        let csrf = self.csrf().await;
        let form = [
            ("csrf", csrf.as_str()),
            ("name", name),
            ("infusionsoft.server", "sandbox.infusionsoft.com"),
            ("oauth.api.key", common::CLIENT_ID),
            ("oauth.api.secret", "sandbox-client-secret"),
            ("tags", "a, b"),
            ("event.vendor.type", "polling"),
        ];
        let answer = self.post("/catalog/infusionsoftcrm/authenticate", &form).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", answer.text().await.unwrap());
        url::Url::parse(answer.headers()[LOCATION].to_str().unwrap()).unwrap()
    }
}

/// The value of the hidden input `name` in `page`.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page.find(&marker).unwrap_or_else(|| panic!("no {name} field in {page}")) + marker.len();
    page[start..].split('"').next().unwrap().to_string()
}

fn query_value(url: &url::Url, name: &str) -> String {
    url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned()).unwrap_or_default()
}

/// Consents at the simulator for an authorize URL; returns Junction's callback path and query.
async fn consent(stack: &Stack, authorize: &url::Url, decision: &str) -> String {
    let mut form: Vec<(String, String)> =
        authorize.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    form.extend(
        [("username", "demo@example.com"), ("password", "demo"), ("decision", decision)]
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let answer = stack.http.post(format!("{}/app/oauth/authorize", stack.sim.url())).form(&form).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let back = url::Url::parse(answer.headers()[LOCATION].to_str().unwrap()).unwrap();
    assert!(back.as_str().starts_with(&stack.base), "the vendor sends the browser back to Junction: {back}");
    format!("{}?{}", back.path(), back.query().unwrap_or(""))
}

async fn instance_count(stack: &Stack) -> usize {
    stack.store.list_instances(stack.organization_id, &store::InstanceQuery::default()).await.unwrap().items.len()
}

#[tokio::test]
async fn pages_without_a_session_send_the_browser_to_sign_in() {
    let stack = Stack::start().await;
    let mut browser = Browser::new(&stack);
    for path in ["/", "/instances", "/instances/1", "/catalog/infusionsoftcrm", "/oauth/callback?state=x"] {
        let answer = browser.get(path).await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{path}");
        let location = answer.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(location.starts_with("/sign-in?next="), "{path} → {location}");
    }
    let answer = browser.post("/instances/1/disable", &[("csrf", "x")]).await;
    assert_eq!(answer.headers()[LOCATION], "/sign-in", "a form posted without a session goes to sign-in");
    browser.cookies.insert("junction_session".into(), "forged-session-id".into());
    assert_eq!(browser.get("/").await.status(), StatusCode::SEE_OTHER, "an unknown session id is no session");
}

#[tokio::test]
async fn sign_in_sets_an_http_only_same_site_session_cookie_and_sign_out_ends_it() {
    let stack = Stack::start().await;
    let mut browser = Browser::new(&stack);
    let page = browser.get("/sign-in").await.text().await.unwrap();
    let token = hidden(&page, "token");
    let (user, org) = (stack.user_secret.expose().to_string(), stack.org_secret.expose().to_string());
    let answer = browser
        .post("/sign-in", &[("token", &token), ("next", "/instances"), ("user_secret", &user), ("org_secret", &org)])
        .await;
    assert_eq!(answer.headers()[LOCATION], "/instances", "back to the page asked for");
    let cookie = answer
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("junction_session="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "Secure only when the public URL is HTTPS");
    let home = browser.get("/").await;
    assert_eq!(home.status(), StatusCode::OK);
    let home = home.text().await.unwrap();
    for key in ["infusionsoftcrm", "infusionsofterp"] {
        assert!(home.contains(&format!("href=\"/catalog/{key}/authenticate\"")), "a card for {key}");
    }
    assert!(!home.contains(&user) && !home.contains(&org), "no secret in a page");

    let first_session = browser.cookies["junction_session"].clone();
    browser.sign_in().await;
    let old_session = browser.cookies["junction_session"].clone();
    assert_ne!(first_session, old_session, "a new session id at every sign-in");
    let mut stale = Browser::new(&stack);
    stale.cookies.insert("junction_session".into(), first_session);
    assert_eq!(
        stale.get("/").await.status(),
        StatusCode::SEE_OTHER,
        "signing in again ends the browser's previous session"
    );
    let csrf = hidden(&browser.get("/").await.text().await.unwrap(), "csrf");
    let answer = browser.post("/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(answer.headers()[LOCATION], "/sign-in?signedOut=1");
    browser.cookies.insert("junction_session".into(), old_session);
    assert_eq!(browser.get("/").await.status(), StatusCode::SEE_OTHER, "the old session id no longer works");
}

#[tokio::test]
async fn sign_in_refuses_wrong_secrets_a_missing_form_token_and_a_foreign_next() {
    let stack = Stack::start().await;
    let mut browser = Browser::new(&stack);
    let token = hidden(&browser.get("/sign-in").await.text().await.unwrap(), "token");
    let org = stack.org_secret.expose().to_string();
    let wrong = browser.post("/sign-in", &[("token", &token), ("user_secret", "nope"), ("org_secret", &org)]).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("do not match"), "says the secrets are wrong, not which one");
    assert!(!browser.cookies.contains_key("junction_session"));

    let user = stack.user_secret.expose().to_string();
    let mut other = Browser::new(&stack);
    let forged = other.post("/sign-in", &[("token", &token), ("user_secret", &user), ("org_secret", &org)]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "a sign-in form from another browser (login CSRF) is refused");
    assert!(!other.cookies.contains_key("junction_session"));

    // Every sign-in page sets a fresh form token.
    let token = hidden(&browser.get("/sign-in").await.text().await.unwrap(), "token");
    let empty = browser.post("/sign-in", &[("token", &token)]).await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST, "missing secrets");
    let token = hidden(&browser.get("/sign-in").await.text().await.unwrap(), "token");
    let huge = "x".repeat(10_000);
    let oversized = browser.post("/sign-in", &[("token", &token), ("user_secret", &huge), ("org_secret", &huge)]).await;
    assert_eq!(oversized.status(), StatusCode::UNAUTHORIZED);

    let token = hidden(&browser.get("/sign-in").await.text().await.unwrap(), "token");
    let answer = browser
        .post(
            "/sign-in",
            &[("token", &token), ("next", "//evil.example/x"), ("user_secret", &user), ("org_secret", &org)],
        )
        .await;
    assert_eq!(answer.headers()[LOCATION], "/", "next is only ever a local path");
}

#[tokio::test]
async fn a_form_without_this_sessions_csrf_token_changes_nothing() {
    let stack = Stack::start().await;
    let created = stack.create_instance().await;
    let id = created["id"].as_i64().unwrap();
    let mut alice = Browser::new(&stack);
    alice.sign_in().await;
    let mut bob = Browser::new(&stack);
    bob.sign_in().await;
    let bobs_token = bob.csrf().await;
    for form in [vec![], vec![("csrf", "")], vec![("csrf", "forged")], vec![("csrf", bobs_token.as_str())]] {
        let answer = alice.post(&format!("/instances/{id}/disable"), &form).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{form:?}");
        assert!(answer.text().await.unwrap().contains("Nothing was changed"));
    }
    let record = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert!(!record.disabled, "still enabled");
    let token = alice.csrf().await;
    let answer = alice.post(&format!("/instances/{id}/disable"), &[("csrf", &token)]).await;
    assert_eq!(answer.headers()[LOCATION], format!("/instances/{id}?done=disabled").as_str());
    assert!(
        stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap().disabled,
        "with the token it works"
    );
}

#[tokio::test]
async fn the_oauth_state_creates_one_instance_once_in_the_session_that_started_it() {
    let stack = Stack::start().await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let authorize = browser.start_authentication("Console CRM").await;
    assert_eq!(query_value(&authorize, "redirect_uri"), format!("{}/oauth/callback", stack.base));
    assert_eq!(query_value(&authorize, "client_id"), common::CLIENT_ID);
    assert!(!authorize.as_str().contains("sandbox-client-secret"), "the client secret never goes in the URL");
    let state = query_value(&authorize, "state");
    assert!(state.len() > 60 && state.contains('.'), "a signed random state: {state}");

    let callback = consent(&stack, &authorize, "allow").await;
    let page = browser.get(&callback).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("Console CRM") && page.contains("instance-token"), "the new instance with its token");
    let instances = stack.store.list_instances(stack.organization_id, &store::InstanceQuery::default()).await.unwrap();
    assert_eq!(instances.items.len(), 1);
    assert_eq!(instances.items[0].tags, ["a", "b"]);
    assert!(page.contains(instances.items[0].token.expose()), "the token is shown once, here");

    let replay = browser.get(&callback).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(replay.text().await.unwrap().contains("already used"));
    assert_eq!(instance_count(&stack).await, 1, "a replayed state creates nothing");

    // A state started in one browser and finished in another (leaked, or a login CSRF attempt).
    let authorize = browser.start_authentication("Leaked CRM").await;
    let callback = consent(&stack, &authorize, "allow").await;
    let mut other = Browser::new(&stack);
    other.sign_in().await;
    let answer = other.get(&callback).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    assert!(answer.text().await.unwrap().contains("another browser session"));
    let retry = browser.get(&callback).await;
    assert!(retry.text().await.unwrap().contains("already used"), "and it was consumed");
    assert_eq!(instance_count(&stack).await, 1);
}

#[tokio::test]
async fn a_denied_consent_a_tampered_or_missing_state_and_a_missing_code_create_nothing() {
    let stack = Stack::start().await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;

    let authorize = browser.start_authentication("Denied").await;
    let callback = consent(&stack, &authorize, "deny").await;
    let denied = browser.get(&callback).await;
    assert_eq!(denied.status(), StatusCode::BAD_REQUEST);
    assert!(denied.text().await.unwrap().contains("Access was denied"));

    let authorize = browser.start_authentication("Tampered").await;
    let state = query_value(&authorize, "state");
    let (nonce, signature) = state.split_once('.').unwrap();
    let tampered = [
        format!("{nonce}x.{signature}"),
        format!("{nonce}.{signature}x"),
        nonce.to_string(),
        format!(".{signature}"),
        "<script>alert(1)</script>".to_string(),
        "a".repeat(20_000),
    ];
    for bad in &tampered {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("code", "c")
            .append_pair("state", bad)
            .finish();
        let answer = browser.get(&format!("/oauth/callback?{query}")).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{}", &bad[..bad.len().min(40)]);
        let text = answer.text().await.unwrap();
        assert!(text.contains("was not issued by Junction, or was altered"), "{text}");
        assert!(!text.contains("<script>alert"), "never echoed unescaped");
    }
    let missing = browser.get("/oauth/callback?code=abc").await;
    assert_eq!(missing.status(), StatusCode::BAD_REQUEST);
    assert!(missing.text().await.unwrap().contains("carries no state"));
    let no_code = browser.get(&format!("/oauth/callback?state={state}")).await;
    assert_eq!(no_code.status(), StatusCode::BAD_REQUEST);
    assert!(no_code.text().await.unwrap().contains("no authorization code"));
    assert_eq!(instance_count(&stack).await, 0, "nothing was created");
}

#[tokio::test]
async fn the_authenticate_form_names_each_bad_field_and_escapes_what_was_typed() {
    let stack = Stack::start().await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let csrf = browser.csrf().await;
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "<script>alert('x')</script>"),
        ("infusionsoft.server", "evil.example.com"),
        ("oauth.api.key", ""),
        ("oauth.api.secret", ""),
        ("event.poller.refresh_interval", "often"),
    ];
    let answer = browser.post("/catalog/infusionsoftcrm/authenticate", &form).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let page = answer.text().await.unwrap();
    assert!(
        page.contains("&lt;script&gt;alert('x')&lt;/script&gt;") || page.contains("&lt;script&gt;alert(&#39;x&#39;)"),
        "escaped"
    );
    assert!(!page.contains("<script>alert"), "never raw");
    assert!(page.matches("class=\"problem\"").count() >= 3, "a message beside the server, the client id and secret");
    assert!(page.contains("aria-invalid=\"true\""));
    assert_eq!(instance_count(&stack).await, 0);

    let unknown = browser.post("/catalog/nope/authenticate", &[("csrf", &csrf)]).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn malformed_oversized_and_hostile_requests_get_clear_4xx_pages() {
    let stack = Stack::start().await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let created = stack.create_instance().await;
    let id = created["id"].as_i64().unwrap();
    let url = format!("{}/instances/{id}/refresh", stack.base);
    let cookie = browser.cookie_header();

    let json = stack
        .http
        .post(&url)
        .header(COOKIE, &cookie)
        .header(CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = "a=".to_string() + &"x".repeat(2 * 1024 * 1024);
    let form = reqwest::header::HeaderValue::from_static("application/x-www-form-urlencoded");
    let oversized = stack
        .http
        .post(&url)
        .header(COOKIE, &cookie)
        .header(CONTENT_TYPE, form.clone())
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let binary = stack
        .http
        .post(&url)
        .header(COOKIE, &cookie)
        .header(CONTENT_TYPE, form)
        .body(vec![0xff, 0xfe, 0x00])
        .send()
        .await
        .unwrap();
    assert_eq!(binary.status(), StatusCode::BAD_REQUEST);

    for path in
        ["/instances/abc", "/instances/0", "/instances/99999999999999999999999", "/instances/-1", "/instances/999999"]
    {
        let answer = browser.get(path).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(answer.text().await.unwrap().contains("No such instance"));
    }
    let csrf = browser.csrf().await;
    let answer = browser.post(&format!("/instances/{id}/explode"), &[("csrf", &csrf)]).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND, "an unknown action");
    assert_eq!(browser.get("/catalog/%3Cscript%3E").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(browser.get("/assets/..%2Fsecret").await.status(), StatusCode::NOT_FOUND);
    let listing = browser.get("/instances?page=not-a-cursor").await;
    assert_eq!(listing.status(), StatusCode::BAD_REQUEST);
    let hostile = browser.get("/instances?q=%3Cscript%3E&tag=%00%27").await;
    assert_eq!(hostile.status(), StatusCode::OK);
    assert!(!hostile.text().await.unwrap().contains("<script>"));
}

#[tokio::test]
async fn another_organizations_instance_does_not_exist_in_the_console() {
    let stack = Stack::start().await;
    let created = stack.create_instance().await;
    let id = created["id"].as_i64().unwrap();
    let (other_org, other_org_secret) = stack.store.create_organization("other").await.unwrap();
    let (_, other_user_secret) = stack.store.create_user(other_org.id, "eve", true).await.unwrap();
    let mut eve = Browser::new(&stack);
    let token = hidden(&eve.get("/sign-in").await.text().await.unwrap(), "token");
    let answer = eve
        .post(
            "/sign-in",
            &[
                ("token", &token),
                ("user_secret", other_user_secret.expose()),
                ("org_secret", other_org_secret.expose()),
            ],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let csrf = eve.csrf().await;
    assert_eq!(eve.get(&format!("/instances/{id}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(eve.get(&format!("/instances/{id}/api-docs")).await.status(), StatusCode::NOT_FOUND);
    for action in ["disable", "token", "delete", "test"] {
        let answer = eve.post(&format!("/instances/{id}/{action}"), &[("csrf", &csrf)]).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{action}");
    }
    let try_call = eve
        .post(
            &format!("/instances/{id}/api-docs"),
            &[("csrf", &csrf), ("method", "GET"), ("path", "/hubs/crm/contacts")],
        )
        .await;
    assert_eq!(try_call.status(), StatusCode::NOT_FOUND);
    assert!(!eve.get("/instances").await.text().await.unwrap().contains(created["name"].as_str().unwrap()));
    let record = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert!(!record.disabled, "untouched");
}

#[tokio::test]
async fn the_instance_page_masks_secrets_and_its_actions_work() {
    let stack = Stack::start().await;
    let created = stack.create_instance().await;
    let id = created["id"].as_i64().unwrap();
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let page = browser.get(&format!("/instances/{id}")).await;
    for header in ["content-security-policy", "x-content-type-options", "referrer-policy"] {
        assert!(page.headers().contains_key(header), "{header}");
    }
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert_eq!(page.headers()["x-frame-options"], "DENY", "no framing, for browsers without frame-ancestors");
    let page = page.text().await.unwrap();
    let record = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert!(!page.contains("sandbox-client-secret") && page.contains("********"), "secrets masked");
    assert!(!page.contains(record.token.expose()), "the instance token is not shown again");
    let csrf = hidden(&page, "csrf");

    let test = browser.post(&format!("/instances/{id}/test"), &[("csrf", &csrf)]).await;
    let location = test.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(location.starts_with(&format!("/instances/{id}?done=connected&ms=")), "{location}");
    let before = stack.refresh_grants().await;
    let refresh = browser.post(&format!("/instances/{id}/refresh"), &[("csrf", &csrf)]).await;
    assert_eq!(refresh.headers()[LOCATION], format!("/instances/{id}?done=refreshed").as_str());
    assert_eq!(stack.refresh_grants().await, before + 1, "one vendor refresh");

    let current = hidden(&page, "current");
    let reset = browser.post(&format!("/instances/{id}/token"), &[("csrf", &csrf), ("current", &current)]).await;
    let reset = reset.text().await.unwrap();
    let renewed = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert_ne!(renewed.token.expose(), record.token.expose());
    assert!(reset.contains(renewed.token.expose()), "the new token shown once");
    let again = browser.post(&format!("/instances/{id}/token"), &[("csrf", &csrf), ("current", &current)]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "a resubmitted reset form (a reload) resets nothing");
    let unchanged = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert_eq!(unchanged.token.expose(), renewed.token.expose());

    let settings =
        [("csrf", csrf.as_str()), ("name", "Renamed"), ("tags", "x, y"), ("infusionsoft.server", "evil.example.com")];
    let refused = browser.post(&format!("/instances/{id}/settings"), &settings).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("infusionsoft.server"), "names the setting");
    let settings = [("csrf", csrf.as_str()), ("name", "Renamed"), ("tags", "x, y"), ("filter.response.nulls", "true")];
    let saved = browser.post(&format!("/instances/{id}/settings"), &settings).await;
    assert_eq!(saved.headers()[LOCATION], format!("/instances/{id}?done=saved").as_str());
    let renamed = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.tags.clone()), ("Renamed", vec!["x".to_string(), "y".to_string()]));
    assert_eq!(
        renamed.secrets.get("oauth.api.secret").map(|s| s.expose().to_string()).as_deref(),
        Some("sandbox-client-secret"),
        "secrets kept"
    );

    let try_call = [("csrf", csrf.as_str()), ("method", "GET"), ("path", "/hubs/crm/contacts?pageSize=1")];
    let answer = browser.post(&format!("/instances/{id}/api-docs"), &try_call).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.text().await.unwrap().contains("FirstName"), "the hub's answer");
    for (method, path, problem) in [
        ("GET", "/elements/api-v2/instances", "/hubs/"),
        ("TRACE", "/hubs/crm/contacts", "Choose a method"),
        ("POST", "/hubs/crm/contacts", ""),
    ] {
        let form = [("csrf", csrf.as_str()), ("method", method), ("path", path), ("body", "{not json")];
        let answer = browser.post(&format!("/instances/{id}/api-docs"), &form).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{method} {path}");
        assert!(answer.text().await.unwrap().contains(if problem.is_empty() { "not valid JSON" } else { problem }));
    }

    let delete = browser.post(&format!("/instances/{id}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(delete.headers()[LOCATION], "/instances?done=deleted");
    assert_eq!(instance_count(&stack).await, 0);
}

/// Turns instance `id`'s events on (polling contacts, a public callback that is never called in
/// these tests: no delivery worker runs in the in-process stack) and takes the baseline poll.
async fn enable_events(stack: &Stack, id: i64, callback_url: &str) {
    let configuration = serde_json::json!({
        "event.notification.enabled": "true",
        "event.notification.callback.url": callback_url,
        "event.notification.signature.key": "sig-key-never-shown",
        "event.poller.configuration": "{\"contacts\": {}}",
    });
    let answer = stack
        .http
        .patch(stack.api(&format!("/instances/{id}")))
        .header("authorization", stack.platform_auth())
        .json(&serde_json::json!({ "configuration": configuration }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK, "{}", answer.text().await.unwrap());
    let baseline = stack.platform(reqwest::Method::PUT, &format!("/instances/{id}/events/poll")).await;
    assert_eq!(baseline.status(), StatusCode::OK, "the first poll sets the watermark");
}

/// Creates a contact through the hub API with instance `id`'s token; returns its id.
async fn create_contact(stack: &Stack, id: i64, first_name: &str) -> String {
    let record = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
    let body = serde_json::json!({"FirstName": first_name, "Email": format!("{first_name}@example.com")});
    let answer = stack.hub(reqwest::Method::POST, record.token.expose(), "/hubs/crm/contacts", Some(body)).await;
    assert!(answer.status().is_success(), "contact created");
    answer.json::<serde_json::Value>().await.unwrap()["id"].to_string()
}

/// An instance with events on and one CREATED notification recorded (through the API); returns the
/// instance id, the notification id and the contact's id.
async fn instance_with_a_notification(stack: &Stack) -> (i64, i64, String) {
    let id = stack.create_instance().await["id"].as_i64().unwrap();
    enable_events(stack, id, "https://hooks.example.com/x").await;
    let contact = create_contact(stack, id, "Grace").await;
    let poll: serde_json::Value =
        stack.platform(reqwest::Method::PUT, &format!("/instances/{id}/events/poll")).await.json().await.unwrap();
    let event_id = poll["events"][0]["id"].as_i64().unwrap_or_else(|| panic!("one notification: {poll}"));
    (id, event_id, contact)
}

/// Records a failed last attempt of notification `event_id`, as the delivery worker would.
async fn fail_delivery(stack: &Stack, event_id: i64, error: &str) {
    let result = store::DeliveryResult::Failed { status: Some(500), error: error.into(), retry_at: None };
    assert_eq!(stack.store.record_delivery(event_id, &result).await.unwrap(), Some(store::EventStatus::Failed));
}

async fn event_status(stack: &Stack, id: i64, event_id: i64) -> store::EventStatus {
    stack.store.get_event(store::InstanceId::new(id), event_id).await.unwrap().status
}

/// The events panel of an instance page (from its heading to the end of its section).
fn events_panel(page: &str) -> &str {
    let start = page.find("id=\"events\"").unwrap_or_else(|| panic!("an events panel in {page}"));
    let end = page[start..].find("</section>").map_or(page.len(), |end| start + end);
    &page[start..end]
}

#[tokio::test]
async fn the_events_panel_says_when_events_are_not_enabled_and_poll_now_explains_why_it_cannot() {
    let stack = Stack::start().await;
    let id = stack.create_instance().await["id"].as_i64().unwrap();
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let page = browser.get(&format!("/instances/{id}")).await.text().await.unwrap();
    let panel = events_panel(&page);
    assert!(panel.contains("not enabled"), "{panel}");
    assert!(!panel.contains("not built"), "the placeholder is gone");
    assert!(!panel.contains("/events/poll"), "no Poll now button while events are off");

    let csrf = hidden(&page, "csrf");
    let answer = browser.post(&format!("/instances/{id}/events/poll"), &[("csrf", &csrf)]).await;
    assert_eq!(answer.status(), StatusCode::CONFLICT, "a Poll now form from an older page");
    let page = answer.text().await.unwrap();
    assert!(page.contains("Not polled: events are not enabled for this instance"), "says why: {page}");
}

#[tokio::test]
async fn the_events_panel_shows_the_settings_counts_and_newest_notifications_and_poll_now_records_more() {
    let stack = Stack::start().await;
    let (id, event_id, contact) = instance_with_a_notification(&stack).await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let page = browser.get(&format!("/instances/{id}")).await.text().await.unwrap();
    assert!(!page.contains("sig-key-never-shown"), "the signature key is never shown");
    let panel = events_panel(&page);
    for expected in [
        "Enabled",
        "polling",
        "every 15 minutes",
        "https://hooks.example.com/x",
        "Signature key",
        "contacts",
        "CREATED",
        &contact,
        "NEW",
        &format!(">{event_id}<"),
    ] {
        assert!(panel.contains(expected), "{expected} in {panel}");
    }
    assert!(panel.contains("1 waiting"), "one notification not yet delivered: {panel}");
    assert!(!panel.contains("Retry all failed"), "nothing failed yet");

    // Poll now, from the console: the next contact is recorded and the page says how many.
    let second = create_contact(&stack, id, "Ada").await;
    let csrf = hidden(&page, "csrf");
    let answer = browser.post(&format!("/instances/{id}/events/poll"), &[]).await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN, "Poll now needs the CSRF token");
    let answer = browser.post(&format!("/instances/{id}/events/poll"), &[("csrf", &csrf)]).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let location = answer.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(location, format!("/instances/{id}?done=polled&n=1"));
    let page = browser.get(&location).await.text().await.unwrap();
    assert!(page.contains("1 new notification recorded"), "the notice says how many");
    assert!(events_panel(&page).contains(&second), "the new contact is listed");
}

#[tokio::test]
async fn a_failed_notification_is_retried_from_the_console_only_with_the_csrf_token() {
    let stack = Stack::start().await;
    let (id, event_id, _) = instance_with_a_notification(&stack).await;
    fail_delivery(&stack, event_id, "callback answered 500").await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let page = browser.get(&format!("/instances/{id}")).await.text().await.unwrap();
    let panel = events_panel(&page);
    for expected in ["FAILED", "callback answered 500", "500", "Retry all failed", "0%", "1 failed"] {
        assert!(panel.contains(expected), "{expected} in {panel}");
    }
    let retry = format!("/instances/{id}/events/{event_id}/retry");
    assert!(panel.contains(&format!("action=\"{retry}\"")), "a Retry form for the failed notification");

    for form in [vec![], vec![("csrf", "forged")]] {
        let answer = browser.post(&retry, &form).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{form:?}");
        let answer = browser.post(&format!("/instances/{id}/events/retry"), &form).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{form:?}");
    }
    assert_eq!(event_status(&stack, id, event_id).await, store::EventStatus::Failed, "nothing changed");

    let csrf = hidden(&page, "csrf");
    let answer = browser.post(&retry, &[("csrf", &csrf)]).await;
    assert_eq!(answer.headers()[LOCATION], format!("/instances/{id}?done=retried&n=1").as_str());
    assert_eq!(event_status(&stack, id, event_id).await, store::EventStatus::New, "queued again");
    let page = browser.get(&format!("/instances/{id}?done=retried&n=1")).await.text().await.unwrap();
    assert!(page.contains("1 notification queued for delivery again"));

    fail_delivery(&stack, event_id, "callback answered 500").await;
    let answer = browser.post(&format!("/instances/{id}/events/retry"), &[("csrf", &csrf)]).await;
    assert_eq!(answer.headers()[LOCATION], format!("/instances/{id}?done=retried&n=1").as_str());
    assert_eq!(event_status(&stack, id, event_id).await, store::EventStatus::New, "retry all failed");

    for path in [
        format!("/instances/{id}/events/999999/retry"),
        format!("/instances/{id}/events/abc/retry"),
        format!("/instances/{id}/events/-1/retry"),
    ] {
        let answer = browser.post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn another_organization_cannot_poll_or_retry_an_instances_events() {
    let stack = Stack::start().await;
    let (id, event_id, _) = instance_with_a_notification(&stack).await;
    fail_delivery(&stack, event_id, "callback answered 500").await;
    let (other_org, other_org_secret) = stack.store.create_organization("other").await.unwrap();
    let (_, other_user_secret) = stack.store.create_user(other_org.id, "eve", true).await.unwrap();
    let mut eve = Browser::new(&stack);
    let token = hidden(&eve.get("/sign-in").await.text().await.unwrap(), "token");
    let form = [
        ("token", token.as_str()),
        ("user_secret", other_user_secret.expose()),
        ("org_secret", other_org_secret.expose()),
    ];
    assert_eq!(eve.post("/sign-in", &form).await.status(), StatusCode::SEE_OTHER);
    let csrf = eve.csrf().await;
    for path in [
        format!("/instances/{id}/events/poll"),
        format!("/instances/{id}/events/retry"),
        format!("/instances/{id}/events/{event_id}/retry"),
    ] {
        let answer = eve.post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(answer.text().await.unwrap().contains("No such instance"));
    }
    assert_eq!(event_status(&stack, id, event_id).await, store::EventStatus::Failed, "untouched");
}

#[tokio::test]
async fn the_events_panel_escapes_hostile_values_and_shows_a_bad_poller_configuration() {
    let stack = Stack::start().await;
    let id = stack.create_instance().await["id"].as_i64().unwrap();
    enable_events(&stack, id, "https://hooks.example.com/x").await;
    create_contact(&stack, id, "Mallory").await;
    let poll: serde_json::Value =
        stack.platform(reqwest::Method::PUT, &format!("/instances/{id}/events/poll")).await.json().await.unwrap();
    let event_id = poll["events"][0]["id"].as_i64().unwrap();
    let long_tail = "y".repeat(5000);
    fail_delivery(&stack, event_id, &format!("<img src=x onerror=alert(2)> {long_tail}")).await;
    // The API normalizes a callback URL (`<` percent-encoded): write a raw one behind its back.
    let mut patch = store::InstancePatch::default();
    let hostile = "https://hooks.example.com/<script>alert(1)</script>";
    patch.configuration.insert("event.notification.callback.url".into(), Some(hostile.into()));
    stack.store.update_instance(stack.organization_id, store::InstanceId::new(id), patch).await.unwrap();
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let page = browser.get(&format!("/instances/{id}")).await.text().await.unwrap();
    let panel = events_panel(&page);
    assert!(!page.contains("<script>alert") && !page.contains("<img src=x"), "never raw");
    assert!(panel.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the callback URL, escaped: {panel}");
    assert!(panel.contains("&lt;img src=x onerror=alert(2)&gt;"), "the last error, escaped");
    assert!(!panel.contains(&long_tail), "a long error is truncated");

    // A configuration the poller cannot read (written behind the API's checks) is named, not hidden.
    let mut patch = store::InstancePatch::default();
    patch.configuration.insert("event.poller.configuration".into(), Some("{oops <b>".into()));
    stack.store.update_instance(stack.organization_id, store::InstanceId::new(id), patch).await.unwrap();
    let page = browser.get(&format!("/instances/{id}")).await.text().await.unwrap();
    let panel = events_panel(&page);
    assert!(panel.contains("event.poller.configuration: not JSON"), "{panel}");
    assert!(panel.contains("FAILED"), "the notifications are still listed");
}

// ---------------------------------------------------------------------------------------------
// Common resources

/// A platform API call with a JSON body that must answer 200.
async fn platform_json(
    stack: &Stack,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let answer = stack
        .http
        .request(method.clone(), stack.api(path))
        .header("authorization", stack.platform_auth())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or_default()
}

/// An instance with `myContacts` defined and mapped onto the CRM's contacts; returns its id.
async fn instance_with_my_contacts(stack: &Stack) -> i64 {
    let id = stack.create_instance().await["id"].as_i64().unwrap();
    let definition = serde_json::json!({"fields": [
        {"path": "name.first", "type": "string"},
        {"path": "name.last", "type": "string"},
        {"path": "email", "type": "string"},
        {"path": "born", "type": "date", "mask": "yyyy-MM-dd"},
    ]});
    platform_json(stack, reqwest::Method::POST, "/organizations/objects/myContacts/definitions", definition).await;
    let transformation = serde_json::json!({"vendorName": "contacts", "fields": [
        {"path": "name.first", "vendorPath": "FirstName"},
        {"path": "name.last", "vendorPath": "LastName"},
        {"path": "email", "vendorPath": "Email"},
        {"path": "born", "vendorPath": "Birthday", "vendorType": "date"},
    ]});
    let path = "/organizations/elements/infusionsoftcrm/transformations/myContacts";
    platform_json(stack, reqwest::Method::POST, path, transformation).await;
    id
}

/// `text` as maud writes it in a page (`&`, `<`, `>` and `"` escaped).
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The text of the element with id `id` (a `<pre>` or `<textarea>`), unescaped.
fn element_text(page: &str, id: &str) -> String {
    let start = page.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id} in {page}"));
    let start = start + page[start..].find('>').unwrap() + 1;
    let end = start + page[start..].find("</").unwrap();
    page[start..end].replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

#[tokio::test]
async fn the_common_resources_page_lists_each_definition_with_its_fields_and_what_maps_it() {
    let stack = Stack::start().await;
    let id = instance_with_my_contacts(&stack).await;
    let path = format!("/instances/{id}/transformations/myContacts");
    let body = serde_json::json!({"fields": [{"path": "email", "vendorPath": "Email"}]});
    platform_json(&stack, reqwest::Method::POST, &path, body).await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let home = browser.get("/").await.text().await.unwrap();
    assert!(home.contains("href=\"/common-resources\""), "in the navigation");

    let page = browser.get("/common-resources").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let panel = &page[page.find("data-resource=\"myContacts\"").expect("a panel for myContacts")..];
    let panel = &panel[..panel.find("</section>").unwrap()];
    for expected in ["name.first", "name.last", "born", "yyyy-MM-dd", "date", "string", "crm hub", "contacts"] {
        assert!(panel.contains(expected), "{expected} in {panel}");
    }
    assert!(
        panel.contains(&format!("href=\"/instances/{id}/mappings/myContacts\"")),
        "the overriding instance: {panel}"
    );
    assert!(panel.contains("transformation"), "{panel}");

    // Defining one from the page: refused text comes back as typed, then it is stored.
    let csrf = hidden(&page, "csrf");
    let bad = "{\"fields\": [{\"path\": \"a\", \"type\": \"money\"}]}";
    let answer = browser.post("/common-resources", &[("csrf", &csrf), ("name", "myDeals"), ("definition", bad)]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let page = answer.text().await.unwrap();
    assert_eq!(element_text(&page, "new-definition"), bad, "the text as submitted");
    assert!(page.contains("money"), "names the problem: {page}");
    let good = "{\"fields\": [{\"path\": \"title\", \"type\": \"string\"}]}";
    let answer = browser.post("/common-resources", &[("csrf", &csrf), ("name", "myDeals"), ("definition", good)]).await;
    assert_eq!(answer.headers()[LOCATION], "/common-resources/myDeals?done=definition");
    let again = browser.post("/common-resources", &[("csrf", &csrf), ("name", "MYDEALS"), ("definition", good)]).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "a name taken is not replaced from the list");
    let forged =
        browser.post("/common-resources", &[("csrf", "forged"), ("name", "other"), ("definition", good)]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let list = browser.get("/common-resources").await.text().await.unwrap();
    assert!(list.contains("data-resource=\"myDeals\"") && !list.contains("data-resource=\"other\""));
}

#[tokio::test]
async fn saving_an_invalid_transformation_shows_the_submitted_text_and_the_error_and_stores_nothing() {
    let stack = Stack::start().await;
    instance_with_my_contacts(&stack).await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let page = browser.get("/common-resources/myContacts").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let stored = element_text(&page, "transformation-infusionsoftcrm");
    assert!(stored.contains("\"vendorPath\": \"FirstName\""), "the stored transformation, editable: {stored}");
    assert!(element_text(&page, "definition").contains("name.first"));
    let csrf = hidden(&page, "csrf");
    let action = "/common-resources/myContacts/transformations/infusionsoftcrm";

    let typed = "{\"vendorName\": \"contacts\",\n \"fields\": [{\"path\": \"name.first\", \"vendorPath\": \"NoSuchField\"}]}\n<é>";
    let answer = browser.post(action, &[("csrf", &csrf), ("document", typed)]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "not JSON");
    let page = answer.text().await.unwrap();
    assert_eq!(element_text(&page, "transformation-infusionsoftcrm"), typed, "the text as submitted");
    assert!(page.contains("not valid JSON"), "{page}");
    assert!(!page.contains("<é>"), "escaped");

    let typed =
        "{\"vendorName\": \"contacts\",\n  \"fields\": [{\"path\": \"name.first\", \"vendorPath\": \"NoSuchField\"}]}";
    let answer = browser.post(action, &[("csrf", &csrf), ("document", typed)]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let page = answer.text().await.unwrap();
    assert!(page.contains(&escaped(typed)), "the text as submitted, in the textarea: {page}");
    assert!(page.contains("unknown vendor field") && page.contains("NoSuchField"), "the API's message: {page}");
    assert!(page.contains("role=\"alert\""));
    assert!(element_text(&page, "definition").contains("name.first"), "the other editors keep the stored documents");
    let read = stack
        .platform(reqwest::Method::GET, "/organizations/elements/infusionsoftcrm/transformations/myContacts")
        .await;
    let read: serde_json::Value = read.json().await.unwrap();
    assert_eq!(read["fields"][0]["vendorPath"], "FirstName", "nothing stored");

    let forged = browser.post(action, &[("csrf", "forged"), ("document", typed)]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "CSRF checked");

    // An invalid definition: one that would break the transformation.
    let breaking = "{\"fields\": [{\"path\": \"email\", \"type\": \"string\"}]}";
    let answer =
        browser.post("/common-resources/myContacts/definition", &[("csrf", &csrf), ("document", breaking)]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let page = answer.text().await.unwrap();
    assert_eq!(element_text(&page, "definition"), breaking);
    assert!(page.contains("would break"), "{page}");

    // A valid one is saved (as the API's upsert), and the page says so.
    let fixed =
        "{\"vendorName\": \"contacts\", \"fields\": [{\"path\": \"name.first\", \"vendorPath\": \"Nickname\"}]}";
    let answer = browser.post(action, &[("csrf", &csrf), ("document", fixed)]).await;
    assert_eq!(answer.headers()[LOCATION], "/common-resources/myContacts?done=transformation");
    let read = stack
        .platform(reqwest::Method::GET, "/organizations/elements/infusionsoftcrm/transformations/myContacts")
        .await;
    let read: serde_json::Value = read.json().await.unwrap();
    assert_eq!(read["fields"][0]["vendorPath"], "Nickname");
    let page = browser.get("/common-resources/myContacts?done=transformation").await.text().await.unwrap();
    assert!(page.contains("Transformation saved."));
    let erp = "/common-resources/myContacts/transformations/infusionsofterp";
    let mapped = "{\"vendorName\": \"customers\", \"fields\": [{\"path\": \"email\", \"vendorPath\": \"Email\"}]}";
    let answer = browser.post(erp, &[("csrf", &csrf), ("document", mapped)]).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", answer.text().await.unwrap());
    assert_eq!(
        browser
            .post("/common-resources/myContacts/transformations/nope", &[("csrf", &csrf), ("document", mapped)])
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(browser.get("/common-resources/noSuchThing").await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_mapping_view_shows_field_pairs_and_one_record_from_the_simulator_both_ways() {
    let stack = Stack::start().await;
    let id = instance_with_my_contacts(&stack).await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let instance_page = browser.get(&format!("/instances/{id}")).await.text().await.unwrap();
    assert!(
        instance_page.contains(&format!("href=\"/instances/{id}/mappings/myContacts\"")),
        "linked from the instance"
    );

    let page = browser.get(&format!("/instances/{id}/mappings/myContacts")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    let row = |field: &str| {
        let start =
            page.find(&format!("data-field=\"{field}\"")).unwrap_or_else(|| panic!("a row for {field}: {page}"));
        page[start..start + page[start..].find("</tr>").unwrap()].to_string()
    };
    let first = row("name.first");
    assert!(first.contains("FirstName") && first.contains("given_name") && first.contains("string"), "{first}");
    assert!(first.contains("pushed down") || first.contains("evaluated by Junction"), "{first}");
    let born = row("born");
    assert!(born.contains("Birthday") && born.contains("yyyy-MM-dd"), "a conversion: {born}");
    assert!(row("Id").contains("hidden"), "the element's id, kept out of records");

    let vendor: serde_json::Value = serde_json::from_str(&element_text(&page, "preview-vendor")).expect("JSON");
    let common: serde_json::Value = serde_json::from_str(&element_text(&page, "preview-common")).expect("JSON");
    assert!(vendor["FirstName"].is_string(), "the element object's record: {vendor}");
    assert_eq!(common["name"]["first"], vendor["FirstName"], "the same record, in the common shape: {common}");
    assert_eq!(common["id"], vendor["Id"]);
    assert!(common.get("FirstName").is_none());

    // The console's API docs page reads the instance's document: the resource can be tried there.
    let docs = browser.get(&format!("/instances/{id}/api-docs")).await.text().await.unwrap();
    assert!(docs.contains("/hubs/crm/myContacts"), "the common resource in the API docs");
    let csrf = hidden(&docs, "csrf");
    let form = [("csrf", csrf.as_str()), ("method", "GET"), ("path", "/hubs/crm/myContacts?pageSize=1")];
    let answer = browser.post(&format!("/instances/{id}/api-docs"), &form).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(answer.text().await.unwrap().contains("&quot;first&quot;"), "the common record");

    assert_eq!(browser.get(&format!("/instances/{id}/mappings/noSuchThing")).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_organizations_common_resources_do_not_exist_in_the_console() {
    let stack = Stack::start().await;
    let id = instance_with_my_contacts(&stack).await;
    let (other_org, other_org_secret) = stack.store.create_organization("other").await.unwrap();
    let (_, other_user_secret) = stack.store.create_user(other_org.id, "eve", true).await.unwrap();
    let mut eve = Browser::new(&stack);
    let token = hidden(&eve.get("/sign-in").await.text().await.unwrap(), "token");
    let form = [
        ("token", token.as_str()),
        ("user_secret", other_user_secret.expose()),
        ("org_secret", other_org_secret.expose()),
    ];
    assert_eq!(eve.post("/sign-in", &form).await.status(), StatusCode::SEE_OTHER);
    let list = eve.get("/common-resources").await.text().await.unwrap();
    assert!(!list.contains("myContacts") && !list.contains("data-resource"), "not listed");
    assert_eq!(eve.get("/common-resources/myContacts").await.status(), StatusCode::NOT_FOUND);
    let answer = eve.get(&format!("/instances/{id}/mappings/myContacts")).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    assert!(answer.text().await.unwrap().contains("No such instance"));
    // Saving under the same name makes eve's own resource; the first organization's is untouched.
    let csrf = eve.csrf().await;
    let mapping =
        "{\"vendorName\": \"contacts\", \"fields\": [{\"path\": \"name.first\", \"vendorPath\": \"LastName\"}]}";
    let action = "/common-resources/myContacts/transformations/infusionsoftcrm";
    let answer = eve.post(action, &[("csrf", &csrf), ("document", mapping)]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "eve has no definition of myContacts");
    assert!(answer.text().await.unwrap().contains("There is no definition of myContacts"));
    let read = stack
        .platform(reqwest::Method::GET, "/organizations/elements/infusionsoftcrm/transformations/myContacts")
        .await;
    let read: serde_json::Value = read.json().await.unwrap();
    assert_eq!(read["fields"][0]["vendorPath"], "FirstName", "untouched");
}

/// A browser signed in to a new organization of the stack (not the one that owns its instances).
async fn other_organizations_browser(stack: &Stack) -> Browser<'_> {
    let (other_org, other_org_secret) = stack.store.create_organization("other").await.unwrap();
    let (_, other_user_secret) = stack.store.create_user(other_org.id, "eve", true).await.unwrap();
    let mut eve = Browser::new(stack);
    let token = hidden(&eve.get("/sign-in").await.text().await.unwrap(), "token");
    let form = [
        ("token", token.as_str()),
        ("user_secret", other_user_secret.expose()),
        ("org_secret", other_org_secret.expose()),
    ];
    assert_eq!(eve.post("/sign-in", &form).await.status(), StatusCode::SEE_OTHER);
    eve
}

/// Instance `id`'s bulk job `job` as the store holds it.
async fn bulk_job(stack: &Stack, id: i64, job: &str) -> store::BulkJob {
    stack.store.bulk_job(Some(store::InstanceId::new(id)), job.parse().unwrap()).await.unwrap()
}

/// Waits until bulk job `job` of instance `id` is RUNNING.
async fn running(stack: &Stack, id: i64, job: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while bulk_job(stack, id, job).await.status != store::BulkStatus::Running {
        assert!(std::time::Instant::now() < deadline, "job {job} did not start");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_bulk_jobs_page_lists_a_finished_export_whose_downloads_are_the_hub_apis_bytes() {
    let stack = Stack::start_with(common::StackOptions {
        bulk: Some(crate::bulk::quick_bulk()),
        ..common::StackOptions::default()
    })
    .await;
    let created = stack.create_instance().await;
    let (id, token) = (created["id"].as_i64().unwrap(), created["token"].as_str().unwrap().to_string());
    let q = "select Id, Email from contacts where Id < 20";
    let job = crate::bulk::export(&stack, &token, q).await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;

    let instance_page = browser.get(&format!("/instances/{id}")).await.text().await.unwrap();
    assert!(instance_page.contains(&format!("href=\"/instances/{id}/bulk\"")), "the instance page links to its jobs");
    assert!(instance_page.contains("No job running"), "nothing runs");

    let page = browser.get(&format!("/instances/{id}/bulk")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let page = page.text().await.unwrap();
    let records = bulk_job(&stack, id, &job).await.records_count;
    assert!(records > 0, "the export found contacts");
    for expected in [
        format!(">{job}<"),
        "query".to_string(),
        "COMPLETED".to_string(),
        "select Id, Email from contacts where Id &lt; 20".to_string(),
        format!("<td>{records} records</td>"),
        "records/s".to_string(),
        format!("href=\"/instances/{id}/bulk/{job}/download?format=jsonl\""),
        format!("href=\"/instances/{id}/bulk/{job}/download?format=csv\""),
        "/hubs/crm/bulk/query?q=".to_string(),
    ] {
        assert!(page.contains(&expected), "{expected} in {page}");
    }
    assert!(!page.contains("http-equiv=\"refresh\""), "a page of finished jobs stays still");
    assert!(!page.contains(&format!("/bulk/{job}/cancel")), "no Cancel for a finished job");

    for (format, accept, extension) in [("jsonl", "application/x-ndjson", "jsonl"), ("csv", "text/csv", "csv")] {
        let console = browser.get(&format!("/instances/{id}/bulk/{job}/download?format={format}")).await;
        assert_eq!(console.status(), StatusCode::OK, "{format}");
        let disposition = console.headers()["content-disposition"].to_str().unwrap().to_string();
        assert_eq!(disposition, format!("attachment; filename=\"bulk-{job}-contacts.{extension}\""));
        let console = console.text().await.unwrap();
        let (status, api) = crate::bulk::download(&stack, &token, &job, "contacts", accept).await;
        assert_eq!(status, 200);
        assert_eq!(console, api, "{format}: the console serves the hub API's bytes");
        assert_eq!(console.lines().count() as u64, records + u64::from(format == "csv"), "{format}");
    }
}

#[tokio::test]
async fn a_running_upload_is_cancelled_from_the_console_only_with_the_csrf_token() {
    // Two vendor calls a second: an upload of 100 rows runs for most of a minute.
    let stack = Stack::start_with(common::StackOptions {
        bulk: Some(crate::bulk::quick_bulk()),
        vendor_limits: domain::vendor_limits::VendorLimits { per_second: Some(2), per_minute: None, per_day: None },
        ..common::StackOptions::default()
    })
    .await;
    let created = stack.create_instance().await;
    let (id, token) = (created["id"].as_i64().unwrap(), created["token"].as_str().unwrap().to_string());
    let csv = "Email\n".to_string() + &(1..=100).map(|n| format!("console{n}@example.com\n")).collect::<String>();
    let answer = crate::bulk::upload(&stack, &token, "contacts", csv.into_bytes(), "x.csv", None).await;
    let job = answer.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    running(&stack, id, &job).await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;

    let instance_page = browser.get(&format!("/instances/{id}")).await.text().await.unwrap();
    assert!(instance_page.contains("1 running, 0 waiting"), "the instance page counts it");
    let page = browser.get(&format!("/instances/{id}/bulk")).await.text().await.unwrap();
    let cancel = format!("/instances/{id}/bulk/{job}/cancel");
    for expected in [
        "RUNNING",
        "upload",
        "max=\"100\"",
        "<meta http-equiv=\"refresh\" content=\"5\">",
        &format!("action=\"{cancel}\""),
    ] {
        assert!(page.contains(expected), "{expected} in {page}");
    }
    assert!(!page.contains("download?format"), "an upload has nothing to download");

    for form in [vec![], vec![("csrf", "forged")]] {
        let answer = browser.post(&cancel, &form).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{form:?}");
    }
    assert_eq!(bulk_job(&stack, id, &job).await.status, store::BulkStatus::Running, "still running");

    let csrf = hidden(&page, "csrf");
    let answer = browser.post(&cancel, &[("csrf", &csrf)]).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let location = answer.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(location, format!("/instances/{id}/bulk?done=cancelled&job={job}"));
    let cancelled = bulk_job(&stack, id, &job).await;
    assert_eq!(cancelled.status, store::BulkStatus::Cancelled);
    assert!(cancelled.records_count < 100, "stopped before the end: {}", cancelled.records_count);
    let page = browser.get(&location).await.text().await.unwrap();
    assert!(page.contains(&format!("Job {job} cancelled")), "the notice says so");
    assert!(!page.contains("http-equiv=\"refresh\""), "nothing left to watch");

    let again = browser.post(&cancel, &[("csrf", &csrf)]).await;
    assert_eq!(again.headers()[LOCATION], format!("/instances/{id}/bulk?done=ended&job={job}").as_str());
}

#[tokio::test]
async fn the_errors_page_shows_each_refused_row_with_its_field_and_message_escaped() {
    let stack = Stack::start_with(common::StackOptions {
        bulk: Some(crate::bulk::quick_bulk()),
        ..common::StackOptions::default()
    })
    .await;
    let created = stack.create_instance().await;
    let (id, token) = (created["id"].as_i64().unwrap(), created["token"].as_str().unwrap().to_string());
    let csv = "Email,FirstName\nok1@example.com,A\nnot-an-email-<b>2</b>,B\nok3@example.com,C\n";
    let answer = crate::bulk::upload(&stack, &token, "contacts", csv.as_bytes().to_vec(), "x.csv", None).await;
    let job = answer.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    let done = crate::bulk::finished(&stack, &token, &job).await;
    assert_eq!((done["recordsCount"].as_u64(), done["recordsFailedCount"].as_u64()), (Some(2), Some(1)), "{done}");
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;

    let page = browser.get(&format!("/instances/{id}/bulk")).await.text().await.unwrap();
    let errors = format!("/instances/{id}/bulk/{job}/errors");
    assert!(page.contains(&format!("href=\"{errors}\">1 refused<")), "a link to the refused rows: {page}");

    let page = browser.get(&errors).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    for expected in ["<td>2</td>", "<code>Email</code>", "not-an-email-&lt;b&gt;2&lt;/b&gt;"] {
        assert!(page.contains(expected), "{expected} in {page}");
    }
    assert!(!page.contains("<b>2</b>"), "what the file held is escaped");
}

#[tokio::test]
async fn bulk_jobs_of_another_organization_an_unknown_job_and_a_malformed_id_are_not_found() {
    // No runners: the job stays CREATED, so a cancel that went through would show.
    let stack = Stack::start().await;
    let created = stack.create_instance().await;
    let (id, token) = (created["id"].as_i64().unwrap(), created["token"].as_str().unwrap().to_string());
    let answer = crate::bulk::post_query(&stack, &token, "select Id from contacts").await;
    let job = answer.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();

    let mut eve = other_organizations_browser(&stack).await;
    let csrf = eve.csrf().await;
    for path in [
        format!("/instances/{id}/bulk"),
        format!("/instances/{id}/bulk/{job}/download?format=csv"),
        format!("/instances/{id}/bulk/{job}/errors"),
    ] {
        let answer = eve.get(&path).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(answer.text().await.unwrap().contains("No such instance"), "{path}");
    }
    let answer = eve.post(&format!("/instances/{id}/bulk/{job}/cancel"), &[("csrf", &csrf)]).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    assert_eq!(bulk_job(&stack, id, &job).await.status, store::BulkStatus::Created, "untouched");

    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let page = browser.get(&format!("/instances/{id}/bulk")).await.text().await.unwrap();
    assert!(page.contains("<meta http-equiv=\"refresh\""), "a waiting job's page reloads itself");
    let csrf = hidden(&page, "csrf");
    let other = stack.create_instance().await["id"].as_i64().unwrap();
    for path in [
        format!("/instances/{id}/bulk/999999/errors"),
        format!("/instances/{id}/bulk/abc/download"),
        format!("/instances/{id}/bulk/-1/errors"),
        format!("/instances/{other}/bulk/{job}/errors"),
        format!("/instances/{other}/bulk/{job}/download?format=jsonl"),
        "/instances/abc/bulk".to_string(),
    ] {
        assert_eq!(browser.get(&path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    for path in [format!("/instances/{id}/bulk/999999/cancel"), format!("/instances/{other}/bulk/{job}/cancel")] {
        let answer = browser.post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(answer.text().await.unwrap().contains("No such bulk job"), "{path}");
    }
    assert_eq!(bulk_job(&stack, id, &job).await.status, store::BulkStatus::Created, "untouched");
}

// ---------------------------------------------------------------------------------------------
// Formulas

/// A formula with a manual trigger reading contacts through its `crm` slot, `pageSize` from the
/// run's arguments.
fn contacts_formula(name: &str) -> serde_json::Value {
    serde_json::json!({
        "name": name,
        "configuration": [{"key": "crm", "type": "elementInstance"}],
        "triggers": [{"type": "manual", "onSuccess": ["read"]}],
        "steps": [{"name": "read", "type": "elementRequest",
                   "properties": {"elementInstanceId": "${config.crm}", "method": "GET", "api": "/contacts",
                                  "query": {"pageSize": "${trigger.args.pageSize}"}}}]
    })
}

/// Creates [`contacts_formula`] `name` and a formula instance of it bound to a new element
/// instance, through the platform API; returns the formula, formula instance and element instance ids.
async fn formula_instance(stack: &Stack, name: &str) -> (i64, i64, i64) {
    let formula = platform_json(stack, reqwest::Method::POST, "/formulas", contacts_formula(name)).await;
    let formula_id = formula["id"].as_i64().unwrap();
    let element_instance = stack.create_instance().await["id"].as_i64().unwrap();
    let body = serde_json::json!({"name": format!("{name} instance"), "configuration": {"crm": element_instance}});
    let path = format!("/formulas/{formula_id}/instances");
    let created = platform_json(stack, reqwest::Method::POST, &path, body).await;
    (formula_id, created["id"].as_i64().unwrap(), element_instance)
}

/// Formula instance `id`'s executions, newest first, as the store holds them.
async fn executions(stack: &Stack, id: i64) -> Vec<store::ExecutionRecord> {
    stack.store.list_executions(stack.organization_id, id, None, 100).await.unwrap()
}

/// Waits (at most 60 s) until execution `id` has ended.
async fn execution_ended(stack: &Stack, id: i64) -> store::ExecutionRecord {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let execution = stack.store.execution(Some(stack.organization_id), id).await.unwrap().unwrap();
        if execution.status.is_final() {
            return execution;
        }
        assert!(std::time::Instant::now() < deadline, "execution {id} did not end: {:?}", execution.status);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_formulas_page_lists_each_template_with_its_instances_and_the_instance_page_its_bindings() {
    let stack = Stack::start().await;
    let (formula_id, id, element_instance) = formula_instance(&stack, "Contacts <reader>").await;
    let mut stranger = Browser::new(&stack);
    let answer = stranger.get("/formulas").await;
    assert_eq!(answer.headers()[LOCATION], "/sign-in?next=%2Fformulas", "signed out → sign-in");
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;

    let home = browser.get("/").await.text().await.unwrap();
    assert!(home.contains("<a href=\"/formulas\">Formulas</a>"), "the navigation links to the formulas");
    let page = browser.get("/formulas").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let page = page.text().await.unwrap();
    for expected in [
        "Contacts &lt;reader&gt;".to_string(),
        format!("formula {formula_id} · 1 step · triggers: manual"),
        format!("href=\"/formulas/instances/{id}\">Contacts &lt;reader&gt; instance</a>"),
        "<span class=\"badge ok\">active</span>".to_string(),
        format!("<code>crm</code> = {element_instance}"),
        "aria-current=\"page\">Formulas</a>".to_string(),
    ] {
        assert!(page.contains(&expected), "{expected} in {page}");
    }
    assert!(!page.contains("<reader>"), "the template's name is escaped");

    let page = browser.get(&format!("/formulas/instances/{id}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    for expected in [
        format!("href=\"/instances/{element_instance}\">instance {element_instance}</a>"),
        "<td>elementInstance</td>".to_string(),
        format!("action=\"/formulas/instances/{id}/run\""),
        "name=\"args\"".to_string(),
        "No execution yet.".to_string(),
    ] {
        assert!(page.contains(&expected), "{expected} in {page}");
    }
    assert!(!page.contains("http-equiv=\"refresh\""), "nothing to watch");
}

#[tokio::test]
async fn run_now_queues_a_run_whose_page_shows_each_steps_masked_input_and_output() {
    let formulas = platform::formulas::FormulaConfig {
        tick: std::time::Duration::from_millis(20),
        ..platform::formulas::FormulaConfig::default()
    };
    let stack = Stack::start_with(common::StackOptions { formulas: Some(formulas), ..Default::default() }).await;
    let (_, id, _) = formula_instance(&stack, "reader").await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let page = browser.get(&format!("/formulas/instances/{id}")).await.text().await.unwrap();
    let csrf = hidden(&page, "csrf");

    let args = r#"{"pageSize": 2, "apiKey": "hush-hush-0123"}"#;
    let answer = browser.post(&format!("/formulas/instances/{id}/run"), &[("csrf", &csrf), ("args", args)]).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER, "{}", answer.text().await.unwrap());
    let queued = executions(&stack, id).await;
    assert_eq!(queued.len(), 1, "one run queued");
    let execution = queued[0].id;
    let location = answer.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(location, format!("/formulas/instances/{id}?done=queued&execution={execution}"));
    let page = browser.get(&location).await.text().await.unwrap();
    assert!(page.contains(&format!("Execution {execution} queued")), "the notice says so: {page}");
    assert!(page.contains(&format!("href=\"/formulas/executions/{execution}\"")), "the run is listed");

    let ended = execution_ended(&stack, execution).await;
    assert_eq!(ended.status, store::ExecutionStatus::Success, "{:?}", ended.error);
    let page = browser.get(&format!("/formulas/instances/{id}")).await.text().await.unwrap();
    assert!(page.contains("<span class=\"badge ok\">success</span>"), "{page}");
    assert!(!page.contains("http-equiv=\"refresh\""), "an ended run's page keeps still");

    let page = browser.get(&format!("/formulas/executions/{execution}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(!page.contains("hush-hush-0123"), "a secret-looking argument is masked: {page}");
    assert!(!page.contains("http-equiv=\"refresh\""), "it has ended");
    let trigger: serde_json::Value = serde_json::from_str(&element_text(&page, "trigger-json")).unwrap();
    assert_eq!(trigger, serde_json::json!({"type": "manual", "args": {"pageSize": 2, "apiKey": "********"}}));
    for expected in ["1. read", "(elementRequest)", "<code>onSuccess</code>", "<dd>1</dd>"] {
        assert!(page.contains(expected), "{expected} in {page}");
    }
    let input: serde_json::Value = serde_json::from_str(&element_text(&page, "step-0-input")).unwrap();
    assert_eq!(input["query"], serde_json::json!({"pageSize": 2}), "the input as resolved: {input}");
    assert_eq!(input["api"], "/contacts");
    let output: serde_json::Value = serde_json::from_str(&element_text(&page, "step-0-output")).unwrap();
    assert_eq!(output["response"]["code"], 200, "{output}");
    assert_eq!(output["response"]["body"].as_array().map(Vec::len), Some(2), "two contacts read: {output}");
}

#[tokio::test]
async fn a_run_without_the_csrf_token_with_bad_arguments_or_of_an_inactive_instance_queues_nothing() {
    // No formula runner: a queued run stays queued, so its pages keep reloading.
    let stack = Stack::start().await;
    let (formula_id, id, _) = formula_instance(&stack, "reader").await;
    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let run = format!("/formulas/instances/{id}/run");
    for form in [vec![("args", "{}")], vec![("csrf", "forged"), ("args", "{}")]] {
        let answer = browser.post(&run, &form).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN, "{form:?}");
        assert!(answer.text().await.unwrap().contains("This form has expired"));
    }
    assert!(executions(&stack, id).await.is_empty(), "nothing queued");

    let csrf = browser.csrf().await;
    let answer = browser.post(&run, &[("csrf", &csrf), ("args", "{pageSize: <3>")]).await;
    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    let page = answer.text().await.unwrap();
    for expected in [
        "The arguments are not valid JSON: key must be a string at line 1 column 2",
        "aria-invalid=\"true\"",
        "{pageSize: &lt;3&gt;</textarea>",
    ] {
        assert!(page.contains(expected), "{expected} in {page}");
    }
    assert!(!page.contains("http-equiv=\"refresh\""), "the page keeps what was typed");
    assert!(executions(&stack, id).await.is_empty(), "nothing queued");

    let path = format!("/formulas/{formula_id}/instances/{id}/active");
    platform_json(&stack, reqwest::Method::DELETE, &path, serde_json::json!({})).await;
    let page = browser.get(&format!("/formulas/instances/{id}")).await.text().await.unwrap();
    assert!(page.contains("is not active: a run is refused"), "the page warns: {page}");
    let answer = browser.post(&run, &[("csrf", &csrf), ("args", "")]).await;
    assert_eq!(answer.status(), StatusCode::CONFLICT);
    let page = answer.text().await.unwrap();
    assert!(page.contains(&format!("Formula instance {id} is not active")), "the platform's reason: {page}");
    assert!(executions(&stack, id).await.is_empty(), "nothing queued");

    platform_json(&stack, reqwest::Method::PUT, &path, serde_json::json!({})).await;
    let answer = browser.post(&run, &[("csrf", &csrf), ("args", "")]).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let queued = executions(&stack, id).await;
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].trigger, serde_json::json!({"type": "manual", "args": {}}), "no arguments: {{}}");
    let execution = queued[0].id;
    let page = browser.get(&format!("/formulas/instances/{id}")).await.text().await.unwrap();
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"), "a queued run's instance page reloads");
    assert!(page.contains("<span class=\"badge\">queued</span>"), "{page}");
    let page = browser.get(&format!("/formulas/executions/{execution}")).await.text().await.unwrap();
    assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"), "and so does its page");
    assert!(page.contains("No step has run yet."), "{page}");
}

#[tokio::test]
async fn another_organizations_formulas_unknown_ids_and_malformed_ids_are_not_found() {
    // No formula runner: the run queued below stays queued, so another one would show.
    let stack = Stack::start().await;
    let (_, id, _) = formula_instance(&stack, "Private reader").await;
    let path = format!("/formulas/instances/{id}/executions");
    let execution = platform_json(&stack, reqwest::Method::POST, &path, serde_json::json!({})).await;
    let execution = execution["id"].as_i64().unwrap();

    let mut eve = other_organizations_browser(&stack).await;
    let list = eve.get("/formulas").await.text().await.unwrap();
    assert!(!list.contains("Private reader") && list.contains("No formula yet"), "another organization's: {list}");
    let csrf = eve.csrf().await;
    for (path, title) in [
        (format!("/formulas/instances/{id}"), "No such formula instance"),
        (format!("/formulas/executions/{execution}"), "No such execution"),
    ] {
        let answer = eve.get(&path).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(answer.text().await.unwrap().contains(title), "{path}");
    }
    let answer = eve.post(&format!("/formulas/instances/{id}/run"), &[("csrf", &csrf), ("args", "{}")]).await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    assert_eq!(executions(&stack, id).await.len(), 1, "eve queued nothing");

    let mut browser = Browser::new(&stack);
    browser.sign_in().await;
    let csrf = browser.csrf().await;
    let huge = "123456789012345678901234567890";
    for bad in ["abc", "0", "-1", huge, "999999999", "1.5", "%20"] {
        for (path, title) in [
            (format!("/formulas/instances/{bad}"), "No such formula instance"),
            (format!("/formulas/executions/{bad}"), "No such execution"),
        ] {
            let answer = browser.get(&path).await;
            assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{path}");
            let page = answer.text().await.unwrap();
            assert!(page.contains(title), "{path}: {page}");
        }
        let answer = browser.post(&format!("/formulas/instances/{bad}/run"), &[("csrf", &csrf), ("args", "{}")]).await;
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{bad}");
    }
    assert_eq!(executions(&stack, id).await.len(), 1, "nothing more queued");
}
