//! Delivery of an instance's notifications from the outbox to its callback URL: oldest first, one
//! at a time, each written as DISPATCHED before it is sent; a failure holds back the instance's
//! later notifications until it is retried (so a callback sees them in order), with exponential
//! backoff (`retry_base`, × 4 each time: 4 s, 16 s, … by default) until `max_attempts`, then the
//! notification is FAILED and kept, and the next one goes.
//!
//! The caller holds the instance's delivery lease. The body is built from what the outbox stored,
//! so every attempt of a notification sends the same bytes, signed with the instance's
//! `event.notification.signature.key` when it has one.

use std::time::Instant;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;
use store::{DeliveryResult, EventStatus, InstanceRecord, StoredEvent};

use super::settings::EventSettings;
use super::{EventsError, DELIVERY_BATCH};
use crate::callback::{check_url, Delivery, DeliveryOutcome};
use crate::Platform;

/// The configuration key of the signature key (a secret of the instance).
pub(crate) const SIGNATURE_KEY: &str = "event.notification.signature.key";

/// The exact body POSTed for `event` of `instance` (the platforms' `{"message": …}`).
pub fn message_body(instance: &InstanceRecord, event: &StoredEvent) -> Vec<u8> {
    let message = json!({
        "message": {
            "eventId": event.id,
            "instanceId": instance.id.get(),
            "elementKey": instance.element_key,
            "events": event.changes,
            "raw": event.raw,
        }
    });
    message.to_string().into_bytes()
}

/// Delivers `instance`'s due notifications, oldest first, stopping at the first failure; returns
/// how many were delivered.
pub async fn deliver(platform: &Platform, instance: &InstanceRecord) -> Result<usize, EventsError> {
    let mut notified = 0;
    let pending = platform.store.pending_events(instance.id, DELIVERY_BATCH).await?;
    let settings = EventSettings::of(instance).ok();
    for event in pending {
        if event.next_attempt_at > Utc::now() {
            break;
        }
        let outcome = attempt(platform, instance, settings.as_ref(), &event).await;
        let delivered = matches!(outcome, DeliveryResult::Notified { .. });
        let status = platform.store.record_delivery(event.id, &outcome).await?;
        if delivered {
            notified += 1;
            platform.metrics.record_notification(true, (Utc::now() - event.created_at).to_std().unwrap_or_default());
        } else {
            platform.metrics.record_notification(false, std::time::Duration::ZERO);
            if status == Some(EventStatus::Failed) {
                tracing::warn!(instance_id = instance.id.get(), event_id = event.id, "notification failed for good");
                continue;
            }
            break;
        }
    }
    Ok(notified)
}

/// One attempt of `event`: its outcome as the outbox records it.
async fn attempt(
    platform: &Platform,
    instance: &InstanceRecord,
    settings: Option<&EventSettings>,
    event: &StoredEvent,
) -> DeliveryResult {
    let config = &platform.events.config;
    let failed = |status: Option<u16>, error: String| DeliveryResult::Failed {
        status,
        error,
        retry_at: retry_at(event.attempts + 1, config.max_attempts, config.retry_base, Utc::now()),
    };
    let Some(url) = settings.and_then(|settings| settings.callback_url.clone()) else {
        return failed(None, "the instance has no event.notification.callback.url".into());
    };
    let url = match check_url(&url, &platform.events.callbacks.policy()) {
        Ok(url) => url,
        Err(error) => return failed(None, error.to_string()),
    };
    if let Err(error) = platform.store.mark_dispatched(event.id).await {
        return failed(None, format!("not sent: {error}"));
    }
    let key = instance.secrets.get(SIGNATURE_KEY).map(|key| key.expose().as_bytes().to_vec());
    let webhook_id = event.id.to_string();
    let delivery = Delivery { webhook_id: &webhook_id, signature_key: key.as_deref() };
    let body = message_body(instance, event);
    let started = Instant::now();
    let result = platform.events.callbacks.post_json(&url, &body, &delivery).await;
    tracing::debug!(instance_id = instance.id.get(), event_id = event.id, took = ?started.elapsed(), "notification sent");
    match result {
        Ok(DeliveryOutcome::Delivered { status }) => DeliveryResult::Notified { status: status.as_u16() },
        Ok(outcome @ DeliveryOutcome::Failed { .. }) => failed(Some(outcome.status().as_u16()), outcome.to_string()),
        Err(error) => failed(None, error.to_string()),
    }
}

/// When a notification that has now failed `attempts` times is tried again: `base` × 4^(attempts −
/// 1) from `now`, or `None` (FAILED for good) once `attempts` reaches `max_attempts`.
pub fn retry_at(
    attempts: u32,
    max_attempts: u32,
    base: std::time::Duration,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if attempts >= max_attempts {
        return None;
    }
    let factor = 4u32.checked_pow(attempts.saturating_sub(1)).unwrap_or(u32::MAX);
    let delay = base.checked_mul(factor).unwrap_or(std::time::Duration::from_secs(7 * 24 * 3600));
    Some(now + TimeDelta::from_std(delay).unwrap_or(TimeDelta::days(7)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retries_back_off_four_times_longer_each_time_then_stop() {
        let now = Utc::now();
        let base = Duration::from_secs(4);
        let delays: Vec<i64> =
            (1..9).map(|attempt| (retry_at(attempt, 9, base, now).unwrap() - now).num_seconds()).collect();
        assert_eq!(delays, [4, 16, 64, 256, 1024, 4096, 16384, 65536]);
        assert_eq!(retry_at(9, 9, base, now), None, "the ninth failure is final");
    }
}
