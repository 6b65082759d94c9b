//! REST hooks (v1): subscriptions per account, the `X-Hook-Secret` verification handshake
//! (immediate, or later through `delayedVerify`), and batched deliveries of changed object keys
//! with the vendor's retry and deactivation rules:
//! - only Verified hooks receive events; a batch carries up to 1,000 `object_keys` of one event;
//! - the first attempt is made `hook_delivery_delay_secs` after the change, retries 60 s, 5 min
//!   and 30 min after a failure (a status outside 200–399 or no answer within the timeout);
//! - after the 4th failed attempt, or at once on a 410, the hook turns Inactive and its queue is
//!   dropped, until it is verified again.
//!
//! Delivery times are on the simulator's clock, so a test advances the clock instead of waiting.

use crate::errors::{ApiError, V1Error};
use crate::gateway::Caller;
use crate::http_util::json_object;
use crate::rest_v2::handlers::with_account;
use crate::state::{Sim, Stats};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use rand::distr::{Alphanumeric, SampleString};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The event keys the vendor lists at `GET /hooks/event_keys`.
pub const EVENT_KEYS: &[&str] = &[
    "appointment.add",
    "appointment.delete",
    "appointment.edit",
    "company.add",
    "company.delete",
    "company.edit",
    "contact.add",
    "contact.delete",
    "contact.edit",
    "contact.redact",
    "contactGroup.add",
    "contactGroup.applied",
    "contactGroup.delete",
    "contactGroup.edit",
    "contactGroup.removed",
    "invoice.add",
    "invoice.delete",
    "invoice.edit",
    "invoice.payment.add",
    "invoice.payment.delete",
    "invoice.payment.edit",
    "leadsource.add",
    "leadsource.delete",
    "leadsource.edit",
    "note.add",
    "note.delete",
    "note.edit",
    "opportunity.add",
    "opportunity.delete",
    "opportunity.edit",
    "opportunity.stage_move",
    "order.add",
    "order.delete",
    "order.edit",
    "product.add",
    "product.delete",
    "product.edit",
    "subscription.add",
    "subscription.delete",
    "subscription.edit",
    "task.add",
    "task.complete",
    "task.delete",
    "task.edit",
    "task.incomplete",
    "user.activate",
    "user.add",
    "user.edit",
];

/// Largest number of object keys in one delivery.
const MAX_BATCH: usize = 1000;
/// Attempts before a hook goes Inactive.
const MAX_ATTEMPTS: u32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookStatus {
    Unverified,
    Verified,
    Inactive,
}

impl HookStatus {
    fn as_str(self) -> &'static str {
        match self {
            HookStatus::Unverified => "Unverified",
            HookStatus::Verified => "Verified",
            HookStatus::Inactive => "Inactive",
        }
    }
}

/// A changed object waiting for delivery.
#[derive(Debug, Clone)]
struct ObjectKey {
    id: u64,
    api_url: String,
    timestamp: String,
}

/// One subscription.
#[derive(Debug)]
pub struct Hook {
    key: u64,
    event_key: String,
    object_type: String,
    hook_url: String,
    status: HookStatus,
    /// The secret of the last verification request, for `delayedVerify`.
    secret: Option<String>,
    pending: Vec<ObjectKey>,
    failures: u32,
    next_attempt_at: Option<i64>,
    in_flight: bool,
}

impl Hook {
    fn to_json(&self) -> Value {
        json!({"key": self.key.to_string(), "eventKey": self.event_key, "hookUrl": self.hook_url, "status": self.status.as_str()})
    }
}

/// The hooks of one account.
#[derive(Debug, Default)]
pub struct HookRegistry {
    hooks: Vec<Hook>,
    next_key: u64,
}

/// A batch taken for delivery.
struct Batch {
    account: String,
    key: u64,
    url: String,
    count: usize,
    payload: Value,
}

impl HookRegistry {
    /// Queues a changed object for every verified hook on `event_key`; true if any hook took it.
    pub fn record(
        &mut self,
        event_key: &str,
        object_type: &str,
        id: u64,
        api_url: String,
        timestamp: String,
        due: i64,
    ) -> bool {
        let mut queued = false;
        for hook in self.hooks.iter_mut().filter(|h| h.status == HookStatus::Verified && h.event_key == event_key) {
            hook.object_type = object_type.to_string();
            hook.pending.push(ObjectKey { id, api_url: api_url.clone(), timestamp: timestamp.clone() });
            hook.next_attempt_at.get_or_insert(due);
            queued = true;
        }
        queued
    }

    /// Per hook: status, queue length and failures (for `/__sim/stats`).
    pub fn summary(&self) -> Value {
        Value::Array(
            self.hooks
                .iter()
                .map(|h| {
                    json!({"key": h.key.to_string(), "eventKey": h.event_key, "status": h.status.as_str(),
                    "pending": h.pending.len(), "failures": h.failures})
                })
                .collect(),
        )
    }

    fn find(&mut self, key: &str) -> Result<&mut Hook, ApiError> {
        let wanted = crate::records::parse_id(key);
        self.hooks
            .iter_mut()
            .find(|h| Some(h.key) == wanted)
            .ok_or_else(|| ApiError::not_found(format!("Hook {key} was not found")))
    }

    fn take_due(&mut self, account: &str, now: i64, out: &mut Vec<Batch>) {
        for hook in &mut self.hooks {
            let due = hook.next_attempt_at.is_some_and(|t| t <= now);
            if hook.status != HookStatus::Verified || hook.in_flight || !due || hook.pending.is_empty() {
                continue;
            }
            hook.in_flight = true;
            let keys: Vec<Value> = hook
                .pending
                .iter()
                .take(MAX_BATCH)
                .map(|k| json!({"id": k.id, "apiUrl": k.api_url, "timestamp": k.timestamp}))
                .collect();
            out.push(Batch {
                account: account.to_string(),
                key: hook.key,
                url: hook.hook_url.clone(),
                count: keys.len(),
                payload: json!({"event_key": hook.event_key, "object_type": hook.object_type, "object_keys": keys}),
            });
        }
    }

    fn finish(&mut self, key: u64, count: usize, outcome: Outcome, now: i64) {
        let Some(hook) = self.hooks.iter_mut().find(|h| h.key == key) else { return };
        hook.in_flight = false;
        match outcome {
            Outcome::Delivered => {
                hook.pending.drain(..count.min(hook.pending.len()));
                hook.failures = 0;
                hook.next_attempt_at = (!hook.pending.is_empty()).then_some(now);
            }
            Outcome::Gone => deactivate(hook),
            Outcome::Failed => {
                hook.failures += 1;
                if hook.failures >= MAX_ATTEMPTS {
                    deactivate(hook);
                } else {
                    hook.next_attempt_at = Some(now + retry_delay(hook.failures));
                }
            }
        }
    }
}

fn deactivate(hook: &mut Hook) {
    hook.status = HookStatus::Inactive;
    hook.pending.clear();
    hook.failures = 0;
    hook.next_attempt_at = None;
}

/// Wait before the next attempt after `failures` failed ones: 60 s, 5 min, 30 min.
fn retry_delay(failures: u32) -> i64 {
    match failures {
        1 => 60,
        2 => 300,
        _ => 1800,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Failed,
    Gone,
}

/// Runs deliveries until the simulator is dropped: wakes on new events, clock moves, or every
/// 250 ms, and posts every due batch.
pub async fn delivery_loop(sim: std::sync::Weak<Sim>) {
    loop {
        let Some(strong) = sim.upgrade() else { return };
        deliver_due(&strong).await;
        let wake = async { strong.hook_wake.notified().await };
        let _ = tokio::time::timeout(Duration::from_millis(250), wake).await;
    }
}

/// Posts every batch that is due now; returns how many were attempted.
pub async fn deliver_due(sim: &Arc<Sim>) -> usize {
    let now = sim.clock.now_secs();
    let mut batches = Vec::new();
    {
        let mut world = sim.world();
        for (host, account) in world.accounts.iter_mut() {
            account.hooks.take_due(host, now, &mut batches);
        }
    }
    let attempted = batches.len();
    for batch in batches {
        let sim = sim.clone();
        tokio::spawn(async move {
            let outcome = post_batch(&sim, &batch).await;
            let counter = if outcome == Outcome::Delivered {
                &sim.stats.hook_deliveries_ok
            } else {
                &sim.stats.hook_deliveries_failed
            };
            Stats::bump(counter);
            let now = sim.clock.now_secs();
            if let Some(account) = sim.world().accounts.get_mut(&batch.account) {
                account.hooks.finish(batch.key, batch.count, outcome, now);
            }
            sim.hook_wake.notify_one();
        });
    }
    attempted
}

async fn post_batch(sim: &Sim, batch: &Batch) -> Outcome {
    match sim.http.post(&batch.url).json(&batch.payload).send().await {
        Ok(r) if r.status().as_u16() == 410 => Outcome::Gone,
        Ok(r) if (200..400).contains(&r.status().as_u16()) => Outcome::Delivered,
        _ => Outcome::Failed,
    }
}

/// POSTs the verification request; true when the receiver answered 200 echoing the secret.
async fn verify_remote(sim: &Sim, url: &str, secret: &str) -> bool {
    Stats::bump(&sim.stats.hook_verifications);
    let sent = sim
        .http
        .post(url)
        .header("X-Hook-Secret", secret)
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await;
    let Ok(response) = sent else { return false };
    let echoed = response.headers().get("x-hook-secret").and_then(|v| v.to_str().ok()) == Some(secret);
    response.status().as_u16() == 200 && echoed
}

// ---- v1 endpoints ----------------------------------------------------------------------------

type V1Result = Result<Response, V1Error>;

/// `GET /crm/rest/v1/hooks/event_keys`.
pub async fn event_keys() -> Json<&'static [&'static str]> {
    Json(EVENT_KEYS)
}

/// `GET /crm/rest/v1/hooks`.
pub async fn list(State(sim): State<Arc<Sim>>, Extension(caller): Extension<Caller>) -> V1Result {
    let hooks =
        with_account(&sim, &caller.0.account, |a| Ok(a.hooks.hooks.iter().map(Hook::to_json).collect::<Vec<_>>()))?;
    Ok(Json(hooks).into_response())
}

/// `GET /crm/rest/v1/hooks/{key}`.
pub async fn get(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> V1Result {
    let hook = with_account(&sim, &caller.0.account, |a| a.hooks.find(&key).map(|h| h.to_json()))?;
    Ok(Json(hook).into_response())
}

/// `POST /crm/rest/v1/hooks` with `{eventKey, hookUrl}`: creates the hook and runs the handshake.
pub async fn create(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> V1Result {
    let (event_key, hook_url) = subscription_request(&headers, body).await?;
    let key = with_account(&sim, &caller.0.account, |a| {
        a.hooks.next_key += 1;
        let key = a.hooks.next_key;
        let object_type = event_key.split('.').next().unwrap_or("").to_string();
        a.hooks.hooks.push(Hook {
            key,
            event_key,
            object_type,
            hook_url,
            status: HookStatus::Unverified,
            secret: None,
            pending: Vec::new(),
            failures: 0,
            next_attempt_at: None,
            in_flight: false,
        });
        Ok(key)
    })?;
    let hook = run_verification(&sim, &caller.0.account, &key.to_string()).await?;
    Ok(Json(hook).into_response())
}

/// `PUT /crm/rest/v1/hooks/{key}` with `{eventKey, hookUrl}`: changes the hook and verifies again.
pub async fn update(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> V1Result {
    let (event_key, hook_url) = subscription_request(&headers, body).await?;
    with_account(&sim, &caller.0.account, |a| {
        let hook = a.hooks.find(&key)?;
        hook.object_type = event_key.split('.').next().unwrap_or("").to_string();
        hook.event_key = event_key;
        hook.hook_url = hook_url;
        hook.status = HookStatus::Unverified;
        hook.pending.clear();
        Ok(())
    })?;
    let hook = run_verification(&sim, &caller.0.account, &key).await?;
    Ok(Json(hook).into_response())
}

/// `DELETE /crm/rest/v1/hooks/{key}`.
pub async fn delete(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> V1Result {
    with_account(&sim, &caller.0.account, |a| {
        let wanted = a.hooks.find(&key)?.key;
        a.hooks.hooks.retain(|h| h.key != wanted);
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /crm/rest/v1/hooks/{key}/verify`: runs the handshake again (reactivates an Inactive hook).
pub async fn verify(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
) -> V1Result {
    let hook = run_verification(&sim, &caller.0.account, &key).await?;
    Ok(Json(hook).into_response())
}

/// `POST /crm/rest/v1/hooks/{key}/delayedVerify` with the secret in the `X-Hook-Secret` header.
pub async fn delayed_verify(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> V1Result {
    let presented = headers.get("x-hook-secret").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let hook = with_account(&sim, &caller.0.account, |a| {
        let hook = a.hooks.find(&key)?;
        let expected = hook.secret.as_deref().unwrap_or("");
        let matches = !expected.is_empty()
            && bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), presented.as_bytes()));
        if !matches {
            return Err(ApiError::bad_request("X-Hook-Secret does not match the verification request"));
        }
        hook.status = HookStatus::Verified;
        hook.secret = None;
        Ok(hook.to_json())
    })?;
    Ok(Json(hook).into_response())
}

async fn subscription_request(headers: &HeaderMap, body: Body) -> Result<(String, String), ApiError> {
    let request = json_object(headers, body).await?;
    if let Some(unknown) = request.keys().find(|k| !matches!(k.as_str(), "eventKey" | "hookUrl" | "key" | "status")) {
        return Err(ApiError::bad_request(format!("Unknown field: {unknown}")));
    }
    let event_key = request.get("eventKey").and_then(Value::as_str).unwrap_or("");
    if !EVENT_KEYS.contains(&event_key) {
        return Err(ApiError::bad_request(format!("Invalid eventKey '{event_key}': see /hooks/event_keys")));
    }
    let hook_url = request.get("hookUrl").and_then(Value::as_str).unwrap_or("");
    let valid_url =
        reqwest::Url::parse(hook_url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
    if !valid_url || hook_url.len() > 2048 {
        return Err(ApiError::bad_request("hookUrl must be an absolute http(s) URL"));
    }
    Ok((event_key.to_string(), hook_url.to_string()))
}

/// Issues a new secret, POSTs it to the hook URL (without holding any lock), and records the result.
async fn run_verification(sim: &Arc<Sim>, account: &str, key: &str) -> Result<Value, ApiError> {
    let secret = Alphanumeric.sample_string(&mut rand::rng(), 40);
    let url = with_account(sim, account, |a| {
        let hook = a.hooks.find(key)?;
        hook.secret = Some(secret.clone());
        Ok(hook.hook_url.clone())
    })?;
    let verified = verify_remote(sim, &url, &secret).await;
    with_account(sim, account, |a| {
        let hook = a.hooks.find(key)?;
        if verified {
            hook.status = HookStatus::Verified;
            hook.secret = None;
            hook.failures = 0;
        } else if hook.status == HookStatus::Inactive {
            hook.status = HookStatus::Unverified;
        }
        Ok(hook.to_json())
    })
}
