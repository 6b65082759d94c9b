//! The background token refresh against the simulator: one run refreshes what is due and only that,
//! a second run finds nothing, `invalid_grant` marks the instance invalid, a vendor 503 leaves it
//! valid and backs off, and the loop runs at once and stops on shutdown.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use domain::instance_config::ServerPolicy;
use platform::token_refresh_job::{self, RunSummary};
use platform::{Platform, PlatformConfig};

use reqwest::Method;
use serde_json::{json, Value};
use store::{CurrentTokens, RefreshDecision};

use crate::common::Stack;

/// A platform like the stack's server's (same store, same simulator).
fn state_of(stack: &Stack) -> Platform {
    let base = url::Url::parse(&stack.sim.url()).unwrap();
    let endpoints = connector::endpoints::VendorEndpoints::simulator(&base).unwrap();
    let policy = ServerPolicy::with_sandbox_host(&stack.sim.addr().to_string());
    Platform::build(PlatformConfig::new(Arc::clone(&stack.store), endpoints, policy, true)).unwrap()
}

/// Creates an instance and returns its id.
async fn instance(stack: &Stack) -> i64 {
    stack.create_instance().await["id"].as_i64().unwrap()
}

/// Rewrites the stored expiry of instance `id`'s access token to five minutes from now (the
/// tokens themselves are kept), so that it is within the expiry margin.
async fn make_near_expiry(stack: &Stack, id: i64) {
    set_expiry(stack, id, Utc::now() + TimeDelta::minutes(5)).await;
}

/// When a run finds a [`make_near_expiry`] token due: three minutes from now it is within the
/// margin and past half its life (stored, as if refreshed, now; a token is never due from the
/// moment it was issued).
fn when_due() -> DateTime<Utc> {
    Utc::now() + TimeDelta::minutes(3)
}

/// Rewrites the stored expiry of instance `id`'s access token (the tokens themselves are kept).
async fn set_expiry(stack: &Stack, id: i64, at: DateTime<Utc>) {
    let refresher: store::RefreshFn = Box::new(move |current: CurrentTokens| {
        Box::pin(async move {
            let mut pair = current.pair.expect("a stored pair");
            pair.access_expires_at = Some(at);
            RefreshDecision::Refreshed(pair)
        })
    });
    stack.store.refresh_tokens(store::InstanceId::new(id), refresher).await.unwrap();
}

async fn generation(stack: &Stack, id: i64) -> i64 {
    stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap().refresh_generation
}

async fn valid(stack: &Stack, id: i64) -> bool {
    let read: Value = stack.platform(Method::GET, &format!("/instances/{id}")).await.json().await.unwrap();
    read["valid"].as_bool().unwrap()
}

#[tokio::test]
async fn one_run_refreshes_the_due_instance_only_and_a_second_run_nothing() {
    let stack = Stack::start().await;
    let state = state_of(&stack);
    let due = instance(&stack).await;
    let fresh = instance(&stack).await;
    make_near_expiry(&stack, due).await;
    let (due_generation, fresh_generation) = (generation(&stack, due).await, generation(&stack, fresh).await);
    let before = stack.refresh_grants().await;

    let summary = token_refresh_job::refresh_due_instances(&state, when_due()).await.unwrap();
    assert_eq!(summary, RunSummary { due: 1, refreshed: 1, ..RunSummary::default() });
    assert_eq!(stack.refresh_grants().await, before + 1);
    assert_eq!(generation(&stack, due).await, due_generation + 1);
    assert_eq!(generation(&stack, fresh).await, fresh_generation, "the instance not due is left alone");

    let summary = token_refresh_job::refresh_due_instances(&state, when_due()).await.unwrap();
    assert_eq!(summary, RunSummary::default());
    assert_eq!(stack.refresh_grants().await, before + 1);
    // The refreshed pair works.
    let token = stack.store.get_instance(stack.organization_id, store::InstanceId::new(due)).await.unwrap().token;
    assert_eq!(stack.hub_contacts(token.expose()).await.status(), 200);
}

#[tokio::test]
async fn the_thirty_day_rule_refreshes_an_instance_whose_access_token_is_far_from_expiry() {
    let stack = Stack::start().await;
    let state = state_of(&stack);
    let id = instance(&stack).await;
    // An access token that would still be good in 60 days: only the pair's age can make it due.
    set_expiry(&stack, id, Utc::now() + TimeDelta::days(60)).await;
    let before = stack.refresh_grants().await;
    let in_29_days = Utc::now() + TimeDelta::days(29);
    assert_eq!(token_refresh_job::refresh_due_instances(&state, in_29_days).await.unwrap(), RunSummary::default());
    let in_31_days = Utc::now() + TimeDelta::days(31);
    let summary = token_refresh_job::refresh_due_instances(&state, in_31_days).await.unwrap();
    assert_eq!(summary, RunSummary { due: 1, refreshed: 1, ..RunSummary::default() });
    assert_eq!(stack.refresh_grants().await, before + 1);
}

#[tokio::test]
async fn invalid_grant_in_a_run_marks_the_instance_invalid() {
    let stack = Stack::start().await;
    let state = state_of(&stack);
    let id = instance(&stack).await;
    make_near_expiry(&stack, id).await;
    // Someone refreshes the stored refresh token behind the platform's back.
    stack.retire_refresh_token_elsewhere(id).await;

    let summary = token_refresh_job::refresh_due_instances(&state, when_due()).await.unwrap();
    assert_eq!(summary, RunSummary { due: 1, invalid: 1, ..RunSummary::default() });
    assert!(!valid(&stack, id).await);
    // An invalid instance is no longer listed.
    assert_eq!(token_refresh_job::refresh_due_instances(&state, when_due()).await.unwrap(), RunSummary::default());
}

#[tokio::test]
async fn a_vendor_503_leaves_the_instance_valid_backs_off_then_recovers() {
    let stack = Stack::start().await;
    let state = state_of(&stack);
    let id = instance(&stack).await;
    // Expired a second ago: due now, so that the backoff (on the real clock) is still running at
    // the second run.
    set_expiry(&stack, id, Utc::now() - TimeDelta::seconds(1)).await;
    stack.sim_post("/__sim/faults", json!({"path_prefix": "/token", "status": 503})).await;
    let before = stack.refresh_grants().await;

    let now = Utc::now();
    let summary = token_refresh_job::refresh_due_instances(&state, now).await.unwrap();
    assert_eq!(summary, RunSummary { due: 1, transient: 1, ..RunSummary::default() });
    assert!(valid(&stack, id).await);

    // Right after: the first backoff has not elapsed; the store does not list it, the vendor is not asked.
    let grants = stack.refresh_grants().await;
    let summary = token_refresh_job::refresh_due_instances(&state, now).await.unwrap();
    assert_eq!(summary, RunSummary::default());
    assert_eq!(stack.refresh_grants().await, grants);

    // After the backoff (the fault is spent): refreshed.
    let summary = token_refresh_job::refresh_due_instances(&state, now + TimeDelta::minutes(2)).await.unwrap();
    assert_eq!(summary, RunSummary { due: 1, refreshed: 1, ..RunSummary::default() });
    assert!(stack.refresh_grants().await > before);
    assert!(valid(&stack, id).await);
}

#[tokio::test]
async fn the_loop_runs_at_once_and_stops_on_shutdown() {
    let stack = Stack::start().await;
    let state = state_of(&stack);
    let id = instance(&stack).await;
    // Expired a second ago: due at the loop's first run, whenever it starts.
    set_expiry(&stack, id, Utc::now() - TimeDelta::seconds(1)).await;
    let generation_before = generation(&stack, id).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(token_refresh_job::run(state, Duration::from_secs(3600), async move {
        let _ = stopped.await;
    }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while generation(&stack, id).await == generation_before {
        assert!(tokio::time::Instant::now() < deadline, "refreshed by the loop's first run");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops on shutdown").unwrap();
}
