//! The OAuth 2.0 contract of the simulator, exactly as the spec binds it: authorize page, decision
//! redirects, token grants, client authentication, code and refresh-token rules, RFC 6749 errors.

use base64::Engine;
use keap_sim::config::ClientConfig;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn authorize_page_is_a_login_and_consent_form() {
    let h = start().await;
    let url = format!(
        "{}?client_id={CLIENT_ID}&redirect_uri={REDIRECT}&response_type=code&scope=full&state=abc%22%3E",
        h.url("/app/oauth/authorize")
    );
    let response = h.http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    assert!(page.contains("<form method=\"post\" action=\"/app/oauth/authorize\""));
    for field in ["name=\"username\"", "name=\"password\"", "value=\"allow\"", "value=\"deny\""] {
        assert!(page.contains(field), "missing {field}");
    }
    assert!(page.contains("value=\"abc&quot;&gt;\""), "state is echoed HTML-escaped");
}

#[tokio::test]
async fn unknown_client_or_unregistered_redirect_gets_an_error_page_not_a_redirect() {
    let mut config = unlimited();
    config.clients.push(ClientConfig {
        client_id: "strict".into(),
        client_secret: "s".into(),
        redirect_uris: vec!["https://good.example.com/cb".into()],
    });
    let h = start_with(config).await;
    for query in [
        "client_id=nobody&redirect_uri=https://x.example.com/cb&response_type=code",
        "client_id=strict&redirect_uri=https://evil.example.com/cb&response_type=code",
        "client_id=strict&redirect_uri=https://good.example.com/cb/extra&response_type=code",
        "client_id=sandbox-client-id&redirect_uri=javascript:alert(1)&response_type=code",
    ] {
        let response = h.http.get(format!("{}?{query}", h.url("/app/oauth/authorize"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert!(response.headers().get("location").is_none());
    }
    let ok = "client_id=strict&redirect_uri=https://good.example.com/cb&response_type=code";
    let response = h.http.get(format!("{}?{ok}", h.url("/app/oauth/authorize"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn allow_redirects_with_code_scope_and_state() {
    let h = start().await;
    let location = h.decide("allow", "st8 &x").await;
    assert_eq!(location.as_str().split('?').next().unwrap(), REDIRECT);
    assert!(query_param(&location, "code").is_some_and(|c| c.len() >= 16));
    assert_eq!(query_param(&location, "scope").as_deref(), Some("full|sandbox.infusionsoft.com"));
    assert_eq!(query_param(&location, "state").as_deref(), Some("st8 &x"));
}

#[tokio::test]
async fn deny_redirects_with_access_denied_and_state() {
    let h = start().await;
    let location = h.decide("deny", "xyz").await;
    assert_eq!(query_param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&location, "state").as_deref(), Some("xyz"));
    assert!(query_param(&location, "code").is_none());
}

#[tokio::test]
async fn wrong_password_shows_the_form_again_without_a_code() {
    let h = start().await;
    let form = [
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("username", "demo@example.com"),
        ("password", "wrong"),
        ("decision", "allow"),
    ];
    let response = h.http.post(h.url("/app/oauth/authorize")).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.text().await.unwrap().contains("Invalid email or password"));
}

#[tokio::test]
async fn code_exchange_returns_the_vendor_token_shape() {
    let h = start().await;
    let tokens = h.tokens().await;
    assert_eq!(tokens.body["token_type"], "bearer");
    assert_eq!(tokens.body["expires_in"], 86_400);
    assert_eq!(tokens.body["scope"], "full|sandbox.infusionsoft.com");
    let contacts = h.get(&tokens.access, "/crm/rest/v2/contacts?page_size=1").await;
    assert_eq!(contacts.status(), StatusCode::OK);
    assert_eq!(h.stats().await["token_grants"]["authorization_code"], 1);
}

#[tokio::test]
async fn http_basic_client_authentication_works_for_both_grants() {
    let h = start().await;
    let code = h.code().await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
    let exchange = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", REDIRECT)];
    let response = h
        .http
        .post(h.url("/token"))
        .header("Authorization", format!("Basic {basic}"))
        .form(&exchange)
        .send()
        .await
        .unwrap();
    let tokens = tokens_of(json_with(response, StatusCode::OK).await);
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", tokens.refresh.as_str())];
    let response = h
        .http
        .post(h.url("/token"))
        .header("Authorization", format!("Basic {basic}"))
        .form(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn reused_code_is_rejected_and_revokes_what_it_issued() {
    let h = start().await;
    let code = h.code().await;
    let first = tokens_of(json_with(h.exchange(&code, REDIRECT, CLIENT_SECRET).await, StatusCode::OK).await);
    let again = json_with(h.exchange(&code, REDIRECT, CLIENT_SECRET).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(again["error"], "invalid_grant");
    assert!(again["error_description"].as_str().unwrap().contains("already been used"));
    let revoked = h.get(&first.access, "/crm/rest/v2/contacts").await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn redirect_uri_must_match_the_authorization_request_exactly() {
    let h = start().await;
    let code = h.code().await;
    let body =
        json_with(h.exchange(&code, "https://app.example.com/callback/", CLIENT_SECRET).await, StatusCode::BAD_REQUEST)
            .await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn wrong_client_secret_is_invalid_client() {
    let h = start().await;
    let code = h.code().await;
    let response = h.exchange(&code, REDIRECT, "not-the-secret").await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_with(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["error"], "invalid_client");
    let no_credentials = json_with(
        h.token_call(&[("grant_type", "refresh_token"), ("refresh_token", "x")]).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(no_credentials["error"], "invalid_client");
}

#[tokio::test]
async fn codes_expire_after_ten_minutes() {
    let h = start().await;
    let code = h.code().await;
    h.control("/__sim/clock/advance", &json!({"seconds": 601})).await;
    let body = json_with(h.exchange(&code, REDIRECT, CLIENT_SECRET).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn refresh_rotates_and_the_previous_refresh_token_is_rejected_at_once() {
    let h = start().await;
    let first = h.tokens().await;
    let refresh = |token: String| {
        let h = &h;
        async move {
            h.token_call(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &token),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ])
            .await
        }
    };
    let second = tokens_of(json_with(refresh(first.refresh.clone()).await, StatusCode::OK).await);
    assert_ne!(second.refresh, first.refresh);
    assert_ne!(second.access, first.access);
    let replay = json_with(refresh(first.refresh.clone()).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(replay["error"], "invalid_grant");
    assert_eq!(h.get(&second.access, "/crm/rest/v2/contacts?page_size=1").await.status(), StatusCode::OK);
    assert_eq!(h.stats().await["token_grants"]["refresh_token"], 2);
}

#[tokio::test]
async fn access_tokens_expire_with_the_simulated_clock_and_refresh_tokens_after_45_days() {
    let h = start().await;
    let tokens = h.tokens().await;
    h.control("/__sim/clock/advance", &json!({"seconds": 86_400})).await;
    let expired = json_with(h.get(&tokens.access, "/crm/rest/v2/contacts").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(expired["fault"]["detail"]["errorcode"], "keymanagement.service.access_token_expired");
    h.control("/__sim/clock/advance", &json!({"seconds": 45 * 86_400})).await;
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", tokens.refresh.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    let body = json_with(h.token_call(&form).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn token_endpoint_errors_follow_rfc_6749() {
    let h = start().await;
    let json_body = h.http.post(h.url("/token")).json(&json!({"grant_type": "refresh_token"})).send().await.unwrap();
    let body = json_with(json_body, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["error"], "invalid_request");
    let creds = [("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)];
    let unsupported = h.token_call(&[creds[0], creds[1], ("grant_type", "password")]).await;
    assert_eq!(json_with(unsupported, StatusCode::BAD_REQUEST).await["error"], "unsupported_grant_type");
    let missing_code = h.token_call(&[creds[0], creds[1], ("grant_type", "authorization_code")]).await;
    assert_eq!(json_with(missing_code, StatusCode::BAD_REQUEST).await["error"], "invalid_request");
}

#[tokio::test]
async fn rest_calls_without_a_valid_token_get_the_gateway_fault() {
    let h = start().await;
    let missing = h.http.get(h.url("/crm/rest/v2/contacts")).send().await.unwrap();
    let body = json_with(missing, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body["fault"]["detail"]["errorcode"], "oauth.v2.InvalidAccessToken");
    let bogus = json_with(h.get("bogus", "/crm/rest/v1/contacts").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(bogus["fault"]["detail"]["errorcode"], "keymanagement.service.invalid_access_token");
    let unknown_path = h.get("bogus", "/crm/rest/v2/nothing-here").await;
    assert_eq!(unknown_path.status(), StatusCode::UNAUTHORIZED, "the gateway authenticates before routing");
}
