//! The connector against the real simulator over HTTP: code exchange, refresh rotation, and the
//! classification of the vendor's refusals and failures.

use crate::common::{consent, oauth_client, sandbox_client, REDIRECT};
use connector::endpoints::VendorEndpoints;
use connector::oauth::{ClientCredentials, OAuthClient};
use domain::token_rules::{RefreshOutcome, TransientCause};
use domain::Secret;
use keap_sim::{Limits, SimConfig};
use serde_json::json;

struct Setup {
    sim: keap_sim::RunningSim,
    oauth: OAuthClient,
    client: ClientCredentials,
}

async fn setup() -> Setup {
    let config = SimConfig { limits: Limits::none(), tenant_limits: Limits::none(), ..SimConfig::sandbox() };
    let sim = keap_sim::spawn(config, "127.0.0.1:0").await.unwrap();
    let oauth = oauth_client(&sim.url());
    Setup { sim, oauth, client: sandbox_client() }
}

fn granted(outcome: RefreshOutcome) -> domain::token_rules::TokenGrant {
    match outcome {
        RefreshOutcome::Refreshed(grant) => grant,
        other => panic!("expected tokens, got {other:?}"),
    }
}

#[tokio::test]
async fn a_code_is_exchanged_for_a_rotating_token_pair() {
    let s = setup().await;
    let code = consent(&s.sim).await;
    let grant = granted(s.oauth.exchange_code(&s.client, &code, REDIRECT).await);
    assert_eq!(grant.expires_in, Some(86_400));
    assert_eq!(grant.scope.as_deref(), Some("full|sandbox.infusionsoft.com"));
    let first_refresh = grant.refresh_token.expect("a refresh token");
    let rotated = granted(s.oauth.refresh(&s.client, &first_refresh).await);
    let second_refresh = rotated.refresh_token.expect("a new refresh token");
    assert_ne!(second_refresh.expose(), first_refresh.expose());
    assert!(matches!(s.oauth.refresh(&s.client, &first_refresh).await, RefreshOutcome::InvalidGrant { .. }));
    assert!(matches!(s.oauth.refresh(&s.client, &second_refresh).await, RefreshOutcome::Refreshed(_)));
}

#[tokio::test]
async fn a_reused_code_is_an_invalid_grant_with_the_vendor_description() {
    let s = setup().await;
    let code = consent(&s.sim).await;
    granted(s.oauth.exchange_code(&s.client, &code, REDIRECT).await);
    match s.oauth.exchange_code(&s.client, &code, REDIRECT).await {
        RefreshOutcome::InvalidGrant { description } => {
            assert!(description.unwrap().contains("already been used"))
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_but_not_an_invalid_grant() {
    let s = setup().await;
    let code = consent(&s.sim).await;
    let wrong = ClientCredentials { client_id: "sandbox-client-id".into(), client_secret: Secret::new("nope") };
    match s.oauth.exchange_code(&wrong, &code, REDIRECT).await {
        RefreshOutcome::Transient(TransientCause::Refused { error, .. }) => assert_eq!(error, "invalid_client"),
        other => panic!("expected invalid_client, got {other:?}"),
    }
}

#[tokio::test]
async fn vendor_outages_and_dropped_connections_are_transient() {
    let s = setup().await;
    let code = consent(&s.sim).await;
    let grant = granted(s.oauth.exchange_code(&s.client, &code, REDIRECT).await);
    let refresh = grant.refresh_token.unwrap();
    let http = reqwest::Client::new();
    let fault = |body: serde_json::Value| http.post(format!("{}/__sim/faults", s.sim.url())).json(&body).send();
    fault(json!({"path_prefix": "/token", "status": 503})).await.unwrap();
    assert!(matches!(
        s.oauth.refresh(&s.client, &refresh).await,
        RefreshOutcome::Transient(TransientCause::VendorStatus(503))
    ));
    fault(json!({"path_prefix": "/token", "drop_connection": true})).await.unwrap();
    assert!(matches!(s.oauth.refresh(&s.client, &refresh).await, RefreshOutcome::Transient(TransientCause::Transport)));
    assert!(
        matches!(s.oauth.refresh(&s.client, &refresh).await, RefreshOutcome::Refreshed(_)),
        "the refresh token survived the outage"
    );
}

#[tokio::test]
async fn an_unreachable_vendor_is_transient() {
    let endpoints = VendorEndpoints::simulator(&url::Url::parse("http://127.0.0.1:9").unwrap()).unwrap();
    let client = ClientCredentials { client_id: "x".into(), client_secret: Secret::new("y") };
    let outcome =
        OAuthClient::new(endpoints).expect("the token client builds").refresh(&client, &Secret::new("z")).await;
    assert!(matches!(outcome, RefreshOutcome::Transient(TransientCause::Transport)));
}
