//! Vendor REST hooks as an event source (`event.vendor.type=webhook`).
//!
//! - **Subscriptions** ([`ensure`], run by each poll of a webhook instance): for every configured
//!   object the vendor has hooks for, `<noun>.add`, `.edit` and `.delete` point at the instance's
//!   receiving URL; missing ones are created (the vendor verifies them at once through the
//!   `X-Hook-Secret` handshake the HTTP layer answers), Inactive or Unverified ones verified again,
//!   and ones no longer wanted removed. [`remove`] deletes them all (events turned off, instance
//!   deleted).
//! - **The receiving URL** ([`hook_path`]): `/elements/api-v2/events/{elementKey}/{instanceId}.{mac}`,
//!   the MAC keyed with the store's key, so only Junction can make one; the vendor signs nothing.
//! - **Deliveries** are hints: they carry ids only. [`enqueue`] stores one as a durable job at once
//!   (the HTTP layer answers the vendor then); [`process`] fetches the records by id through the
//!   hub engine and commits them as changes (`*.delete` ids as DELETED) under the instance's poll
//!   claim. A forged delivery can cause at most [`MAX_IDS`] fetches; it cannot inject data.
//!
//! The periodic poll keeps running beside the hooks: the vendor's deliveries can be lost.

use connector::rate_limit::Priority;
use connector::reqwest::Method;
use hub::{HubError, Session, Target};
use serde::Deserialize;
use serde_json::{json, Value};
use store::{InstanceId, InstanceRecord, NewJob, ObjectPoll, PollCommit, StoreError};

use super::settings::EventSettings;
use super::EventsError;
use crate::Platform;

/// The job queue of received deliveries.
pub const QUEUE: &str = "event-hooks";
/// The most ids one delivery may name (the vendor batches up to 1,000).
pub const MAX_IDS: usize = 1000;
/// Changes per notification from webhooks (the platforms: 20).
pub const MAX_PER_NOTIFICATION: usize = 20;
/// The store keyed-hash purpose of receiving paths.
const PATH_PURPOSE: &str = "event-hook-path";

/// The vendor's hook noun of a hub object, if it has hooks.
pub fn noun(object: &str) -> Option<&'static str> {
    Some(match object {
        "contacts" | "customers" => "contact",
        "accounts" => "company",
        "opportunities" => "opportunity",
        "notes" => "note",
        "tasks" => "task",
        "orders" => "order",
        "products" => "product",
        "subscriptions" => "subscription",
        _ => return None,
    })
}

/// The event keys an instance's configured objects subscribe to.
pub fn event_keys(settings: &EventSettings) -> Vec<String> {
    let mut keys: Vec<String> = settings
        .objects
        .iter()
        .filter_map(|object| noun(&object.name))
        .flat_map(|noun| ["add", "edit", "delete"].map(|verb| format!("{noun}.{verb}")))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The last segment of the instance's receiving URL: `{instanceId}.{mac}`.
pub fn hook_path(platform: &Platform, instance_id: InstanceId) -> String {
    let id = instance_id.get();
    format!("{id}.{}", platform.store.keyed_hash(PATH_PURPOSE, &id.to_string()))
}

/// The instance a receiving path belongs to, if the path is one Junction made (checked in constant
/// time).
pub fn instance_of_path(platform: &Platform, path: &str) -> Option<InstanceId> {
    let (id, _) = path.split_once('.')?;
    let id: i64 = id.parse().ok().filter(|id| *id > 0)?;
    let expected = hook_path(platform, InstanceId::new(id));
    let same = expected.len() == path.len()
        && expected.bytes().zip(path.bytes()).fold(0u8, |diff, (a, b)| diff | (a ^ b)) == 0;
    same.then(|| InstanceId::new(id))
}

/// The full receiving URL of `instance`, under the public URL the operator configured.
fn hook_url(platform: &Platform, instance: &InstanceRecord) -> Result<String, EventsError> {
    let base = platform.events.config.public_url.as_deref().ok_or_else(|| {
        EventsError::Settings("webhooks need the server's public URL (--public-url) for the vendor to call".into())
    })?;
    Ok(format!("{base}/elements/api-v2/events/{}/{}", instance.element_key, hook_path(platform, instance.id)))
}

/// A hook as the vendor lists it.
#[derive(Debug, Deserialize)]
struct VendorHook {
    key: Value,
    #[serde(rename = "eventKey")]
    event_key: String,
    #[serde(rename = "hookUrl")]
    hook_url: String,
    #[serde(default)]
    status: String,
}

async fn vendor_json(
    platform: &Platform,
    session: &Session<'_>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, EventsError> {
    let bytes = body.map(|body| body.to_string().into_bytes()).unwrap_or_default();
    let reply = platform.hub.raw(session, method, path, Vec::new(), bytes.into(), None).await?;
    if !(200..300).contains(&reply.status) {
        let message = format!("the vendor answered {} to {path}", reply.status);
        return Err(EventsError::Hub(HubError::BadRequest(message)));
    }
    Ok(serde_json::from_slice(&reply.body).unwrap_or(Value::Null))
}

/// The vendor's hooks pointing at `url`.
async fn hooks_to(platform: &Platform, session: &Session<'_>, url: &str) -> Result<Vec<VendorHook>, EventsError> {
    let listed = vendor_json(platform, session, Method::GET, "v1/hooks", None).await?;
    let hooks: Vec<VendorHook> = serde_json::from_value(listed).unwrap_or_default();
    Ok(hooks.into_iter().filter(|hook| hook.hook_url == url).collect())
}

fn key_text(key: &Value) -> String {
    key.as_str().map_or_else(|| key.to_string(), str::to_string)
}

/// Makes the vendor's hooks for `instance` match its settings; returns how many were created or
/// verified again.
pub async fn ensure(
    platform: &Platform,
    session: &Session<'_>,
    instance: &InstanceRecord,
    settings: &EventSettings,
) -> Result<usize, EventsError> {
    let url = hook_url(platform, instance)?;
    let existing = hooks_to(platform, session, &url).await?;
    let wanted = event_keys(settings);
    let mut changed = 0;
    for hook in &existing {
        let key = key_text(&hook.key);
        if !wanted.contains(&hook.event_key) {
            vendor_json(platform, session, Method::DELETE, &format!("v1/hooks/{key}"), None).await?;
        } else if !hook.status.eq_ignore_ascii_case("verified") {
            vendor_json(platform, session, Method::POST, &format!("v1/hooks/{key}/verify"), None).await?;
            changed += 1;
        }
    }
    for event_key in wanted.iter().filter(|key| !existing.iter().any(|hook| &hook.event_key == *key)) {
        let body = json!({ "eventKey": event_key, "hookUrl": url });
        vendor_json(platform, session, Method::POST, "v1/hooks", Some(body)).await?;
        changed += 1;
    }
    Ok(changed)
}

/// Deletes every vendor hook pointing at `instance`; returns how many.
pub async fn remove(platform: &Platform, instance: &InstanceRecord) -> Result<usize, EventsError> {
    let Ok(url) = hook_url(platform, instance) else { return Ok(0) };
    let call = platform.instance_call(instance);
    let session = call.session(Priority::Interactive, None);
    let existing = hooks_to(platform, &session, &url).await?;
    for hook in &existing {
        let key = key_text(&hook.key);
        vendor_json(platform, &session, Method::DELETE, &format!("v1/hooks/{key}"), None).await?;
    }
    Ok(existing.len())
}

/// A vendor delivery as it arrives: `{event_key, object_keys: [{id, ...}]}`.
#[derive(Debug, Deserialize)]
pub struct Delivery {
    pub event_key: String,
    #[serde(default)]
    pub object_keys: Vec<ObjectKey>,
}

#[derive(Debug, Deserialize)]
pub struct ObjectKey {
    pub id: Value,
}

/// Why a delivery was refused (a 400 naming the problem).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("the delivery is not the vendor's hook payload: {0}")]
    Shape(String),
    #[error("the delivery names more than {MAX_IDS} objects")]
    TooMany,
    #[error("event_key {0} is not one this instance subscribes to")]
    UnknownEvent(String),
}

/// Checks a delivery for `instance` and stores it as a job; returns once the job is durable.
pub async fn enqueue(platform: &Platform, instance: &InstanceRecord, body: &[u8]) -> Result<i64, EventsError> {
    let delivery: Delivery =
        serde_json::from_slice(body).map_err(|error| EventsError::Delivery(DeliveryError::Shape(error.to_string())))?;
    if delivery.object_keys.len() > MAX_IDS {
        return Err(EventsError::Delivery(DeliveryError::TooMany));
    }
    let settings = EventSettings::of(instance).map_err(|error| EventsError::Settings(error.to_string()))?;
    if !event_keys(&settings).contains(&delivery.event_key) {
        return Err(EventsError::Delivery(DeliveryError::UnknownEvent(delivery.event_key.chars().take(60).collect())));
    }
    let mut ids = Vec::new();
    for key in &delivery.object_keys {
        match &key.id {
            Value::Number(id) if id.as_u64().is_some() => ids.push(id.to_string()),
            Value::String(id) if !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) => {
                ids.push(id.clone())
            }
            _ => {
                return Err(EventsError::Delivery(DeliveryError::Shape("an object key's id is not a record id".into())))
            }
        }
    }
    let payload = json!({ "instance": instance.id.get(), "event_key": delivery.event_key, "ids": ids });
    // Many attempts: a job whose instance is being polled waits for the claim, a few seconds apart.
    Ok(platform.store.enqueue(&NewJob { max_attempts: 50, ..NewJob::new(QUEUE, payload) }).await?)
}

/// A stored delivery, as [`process`] reads it back.
#[derive(Debug, Deserialize)]
struct Job {
    instance: i64,
    event_key: String,
    ids: Vec<String>,
}

/// Fetches the records a stored delivery names and commits them as changes, under `owner`'s poll
/// claim of the instance (taken here). `Ok(false)` when the claim is busy (the job is retried).
pub async fn process(platform: &Platform, owner: &str, payload: &Value) -> Result<bool, EventsError> {
    let job: Job = serde_json::from_value(payload.clone())
        .map_err(|_| EventsError::Settings("a stored hook delivery is unreadable".into()))?;
    let instance = match platform.store.instance_by_id(InstanceId::new(job.instance)).await {
        Ok(instance) => instance,
        Err(StoreError::NotFound) => return Ok(true),
        Err(error) => return Err(error.into()),
    };
    let settings = EventSettings::of(&instance).map_err(|error| EventsError::Settings(error.to_string()))?;
    let (hook_noun, verb) = job.event_key.split_once('.').unwrap_or((&job.event_key, ""));
    let Some(object) = settings.objects.iter().find(|object| noun(&object.name) == Some(hook_noun)) else {
        return Ok(true);
    };
    if !settings.enabled || !platform.store.claim_poll(instance.id, owner, platform.events.config.claim_ttl).await? {
        return Ok(!settings.enabled);
    }
    let call = platform.instance_call(&instance);
    let session = call.session(Priority::Background, Some(platform.events.config.background_wait));
    let mut poll = ObjectPoll {
        object: object.name.clone(),
        seen: Vec::new(),
        complete: false,
        baseline: false,
        watermark: None,
        backfill_since: None,
        deleted: Vec::new(),
    };
    if verb == "delete" {
        poll.deleted = job.ids;
    } else {
        for id in &job.ids {
            match platform.hub.get(&session, Target::Object(&object.name), id).await {
                Ok(Value::Object(record)) => {
                    poll.seen.extend(super::poller::seen_record(object, record, session.drop_nulls))
                }
                Ok(_) => {}
                // Deleted since the delivery was sent: the delete's own delivery reports it.
                Err(HubError::Vendor(connector::VendorError::Status { status: 404, .. })) => {}
                // An object the vendor cannot read by id (notes): the next poll reports it.
                Err(HubError::NotAllowed(_)) => break,
                Err(error) => return Err(error.into()),
            }
        }
    }
    let commit = PollCommit {
        instance_id: instance.id,
        owner: owner.to_string(),
        element_key: instance.element_key.clone(),
        hub_key: platform.catalog.get(&instance.element_key).map(|element| element.hub.clone()).unwrap_or_default(),
        poll_date: chrono::Utc::now(),
        objects: vec![poll],
        max_per_event: MAX_PER_NOTIFICATION,
        source: "webhook",
        next_poll_at: None,
    };
    let recorded = platform.store.commit_poll(&commit).await?;
    if recorded.as_ref().is_some_and(|events| !events.is_empty()) {
        platform.events.deliveries_due.notify_one();
    }
    let changes = recorded.iter().flatten().map(super::poller::changes).sum();
    platform.metrics.record_events_detected("webhook", changes);
    Ok(true)
}
