//! The in-memory token source against the real simulator: it follows the same rotation rules as
//! the token file (a due pair is refreshed once, however many tasks ask at the same moment, and
//! the rotated pair replaces it), and a retired refresh token is an invalid grant.

use crate::common::{consent, oauth_client, sandbox_client, REDIRECT};
use connector::{MemoryTokens, TokenError, TokenPair, TokenSource};
use domain::token_rules::RefreshOutcome;
use keap_sim::{Limits, RunningSim, SimConfig};
use serde_json::Value;
use std::time::{Duration, SystemTime};

async fn start() -> RunningSim {
    let config = SimConfig { limits: Limits::none(), tenant_limits: Limits::none(), ..SimConfig::sandbox() };
    keap_sim::spawn(config, "127.0.0.1:0").await.expect("simulator starts")
}

async fn refresh_grants(sim: &RunningSim) -> u64 {
    let stats: Value = reqwest::get(format!("{}/__sim/stats", sim.url())).await.unwrap().json().await.unwrap();
    stats["token_grants"]["refresh_token"].as_u64().expect("a refresh grant count")
}

/// A source holding a fresh grant of the demo user, made due for a refresh.
async fn due_source(sim: &RunningSim) -> (MemoryTokens, TokenPair) {
    let code = consent(sim).await;
    let grant = match oauth_client(&sim.url()).exchange_code(&sandbox_client(), &code, REDIRECT).await {
        RefreshOutcome::Refreshed(grant) => grant,
        other => panic!("expected tokens, got {other:?}"),
    };
    let pair = TokenPair {
        access_token: Some(grant.access_token),
        refresh_token: grant.refresh_token,
        expires_at: Some(SystemTime::now() - Duration::from_secs(60)),
    };
    let tokens = MemoryTokens::new("test", oauth_client(&sim.url()), sandbox_client());
    assert_eq!(tokens.store(pair.clone()).await.unwrap(), 1);
    (tokens, pair)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_due_pair_in_memory_is_refreshed_once_by_many_tasks() {
    let sim = start().await;
    let (tokens, stored) = due_source(&sim).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let tokens = tokens.clone();
            tokio::spawn(async move { tokens.current().await })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        let token = task.await.unwrap().expect("a token");
        seen.push((token.generation, token.secret.expose().to_string()));
    }
    seen.dedup();
    assert_eq!(seen.len(), 1, "every task got the same refreshed token");
    assert_eq!(seen[0].0, 2);
    assert_ne!(Some(seen[0].1.as_str()), stored.access_token.as_ref().map(|t| t.expose()));
    assert_eq!(refresh_grants(&sim).await, 1);
}

#[tokio::test]
async fn a_retired_refresh_token_in_memory_is_an_invalid_grant() {
    let sim = start().await;
    let (tokens, stored) = due_source(&sim).await;
    let spent = stored.refresh_token.clone().expect("a refresh token");
    let other = oauth_client(&sim.url()).refresh(&sandbox_client(), &spent).await;
    assert!(matches!(other, RefreshOutcome::Refreshed(_)), "someone else spends the refresh token");
    let refused = tokens.current().await;
    assert!(matches!(refused, Err(TokenError::Invalid { .. })), "{refused:?}");
}
