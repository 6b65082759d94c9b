//! One poll of one instance: for each configured object, read what changed since its watermark
//! (less an overlap window, so a change the vendor shows late is not missed) through the hub
//! engine at background priority, and commit the records read, the new watermarks and the
//! notifications they make in one store transaction (`store::EventStore::commit_poll`), which also
//! drops what was reported before.
//!
//! An object's first poll reads it whole and reports nothing (its records become the baseline). A
//! full read is repeated every reconciliation interval: ids that vanished are reported DELETED
//! (the vendor's lists do not show deletes). A backfill reads from a given time and reports every
//! record found, reported before or not.
//!
//! The caller holds the instance's poll claim; the claim is renewed after every vendor page, and a
//! poll whose claim was taken over (the node stalled past its TTL) commits nothing.

use chrono::{DateTime, TimeDelta, Utc};
use connector::rate_limit::Priority;
use hub::{Position, ScanPage};
use serde_json::{Map, Value};
use store::{InstanceRecord, ObjectPoll, ObjectWatermark, PollCommit, SeenRecord, StoredEvent};

use super::settings::{comparable_time, field, render_where, EventSettings, PolledObject};
use super::{EventsError, POLL_BATCH};
use crate::Platform;

/// How a poll reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollMode {
    /// From each object's watermark, with full reads when a reconciliation is due.
    Regular,
    /// Every object read in full now (a reconciliation: deletes are found).
    Reconcile,
    /// Every object from this time, reporting every record found.
    Backfill(DateTime<Utc>),
}

/// What a poll found and recorded.
#[derive(Debug, Clone, Default)]
pub struct PollReport {
    /// Per object: records read, and whether it was a full read.
    pub objects: Vec<(String, usize, bool)>,
    /// The notifications recorded (already in the outbox).
    pub events: Vec<StoredEvent>,
}

/// Polls `instance` once under `owner`'s claim and commits. `Ok(None)` when the claim was lost.
pub async fn poll(
    platform: &Platform,
    instance: &InstanceRecord,
    owner: &str,
    mode: PollMode,
) -> Result<Option<PollReport>, EventsError> {
    let settings = EventSettings::of(instance).map_err(|error| EventsError::Settings(error.to_string()))?;
    let config = &platform.events.config;
    let poll_date = Utc::now();
    let marks = platform.store.watermarks(instance.id).await?;
    let call = platform.instance_call(instance);
    let session = call.session(Priority::Background, Some(config.background_wait));
    if settings.webhooks && mode == PollMode::Regular {
        // Each poll of a webhook instance keeps its vendor hooks in place (re-verifying any the
        // vendor turned Inactive); a failure is logged and the poll goes on, as the backup it is.
        if let Err(error) = super::hooks::ensure(platform, &session, instance, &settings).await {
            tracing::warn!(instance_id = instance.id.get(), %error, "vendor hooks could not be set up");
        }
    }
    let mut report = PollReport::default();
    let mut objects = Vec::new();
    for object in &settings.objects {
        let mark = marks.get(&object.name).cloned().unwrap_or_default();
        let plan = plan(&mark, mode, poll_date, config);
        let where_ = plan.from.map(|from| render_where(&object.where_template, from));
        let mut seen = Vec::new();
        let mut position = Position::default();
        loop {
            let page: ScanPage =
                platform.hub.scan(&session, &object.name, where_.as_deref(), &position, POLL_BATCH).await?;
            seen.extend(page.records.into_iter().filter_map(|record| seen_record(object, record, session.drop_nulls)));
            let Some(next) = page.next else { break };
            // Renewed before every further page: a long read keeps its claim, a stalled one loses
            // it (the commit checks the claim again, so a one-page poll needs no renewal).
            if !platform.store.claim_poll(instance.id, owner, config.claim_ttl).await? {
                return Ok(None);
            }
            position = next;
        }
        seen.sort_by(|a, b| a.changed_at.cmp(&b.changed_at));
        let newest = seen.iter().map(|record| record.changed_at.clone()).max();
        let watermark = match (newest, mark.watermark.clone()) {
            (Some(newest), Some(old)) if newest <= old => None,
            (newest, None) => Some(newest.unwrap_or_else(|| comparable(poll_date - TimeDelta::days(36500)))),
            (newest, _) => newest,
        };
        report.objects.push((object.name.clone(), seen.len(), plan.complete));
        objects.push(ObjectPoll {
            object: object.name.clone(),
            seen,
            complete: plan.complete,
            baseline: plan.baseline,
            watermark,
            deleted: Vec::new(),
            backfill_since: match mode {
                PollMode::Backfill(since) => Some(comparable(since)),
                PollMode::Regular | PollMode::Reconcile => None,
            },
        });
    }
    let element = platform.catalog.get(&instance.element_key);
    let commit = PollCommit {
        instance_id: instance.id,
        owner: owner.to_string(),
        element_key: instance.element_key.clone(),
        hub_key: element.map(|element| element.hub.clone()).unwrap_or_default(),
        poll_date,
        objects,
        max_per_event: config.max_per_notification,
        source: match mode {
            PollMode::Regular | PollMode::Reconcile => "polling",
            PollMode::Backfill(_) => "backfill",
        },
        next_poll_at: Some(poll_date + TimeDelta::from_std(settings.interval).unwrap_or(TimeDelta::minutes(15))),
    };
    let Some(events) = platform.store.commit_poll(&commit).await? else { return Ok(None) };
    if !events.is_empty() {
        platform.events.deliveries_due.notify_one();
    }
    platform.metrics.record_events_detected(commit.source, events.iter().map(changes).sum());
    report.events = events;
    Ok(Some(report))
}

/// How many changes a notification carries.
pub fn changes(event: &StoredEvent) -> usize {
    event.changes.as_array().map_or(0, Vec::len)
}

/// What one object's read is: from when (`None`: everything), and whether it is complete or the
/// baseline.
struct ReadPlan {
    from: Option<DateTime<Utc>>,
    complete: bool,
    baseline: bool,
}

fn plan(mark: &ObjectWatermark, mode: PollMode, now: DateTime<Utc>, config: &super::EventsConfig) -> ReadPlan {
    if let PollMode::Backfill(since) = mode {
        return ReadPlan { from: Some(since), complete: false, baseline: false };
    }
    let Some(watermark) = mark.watermark.as_deref().and_then(|text| DateTime::parse_from_rfc3339(text).ok()) else {
        return ReadPlan { from: None, complete: true, baseline: true };
    };
    let reconcile_due = mode == PollMode::Reconcile
        || mark
            .reconciled_at
            .is_none_or(|at| now - at >= TimeDelta::from_std(config.reconcile_interval).unwrap_or(TimeDelta::days(1)));
    if reconcile_due {
        return ReadPlan { from: None, complete: true, baseline: false };
    }
    let overlap = TimeDelta::from_std(config.overlap).unwrap_or(TimeDelta::minutes(1));
    ReadPlan { from: Some(watermark.with_timezone(&Utc) - overlap), complete: false, baseline: false }
}

/// A record read as the poll keeps it; `None` for a record without an id.
pub(super) fn seen_record(object: &PolledObject, record: Map<String, Value>, drop_nulls: bool) -> Option<SeenRecord> {
    let object_id = match field(&record, &object.id_field)? {
        Value::String(id) => id.clone(),
        Value::Number(id) => id.to_string(),
        _ => return None,
    };
    let changed_at = field(&record, &object.updated_field).and_then(comparable_time).unwrap_or_default();
    let created_at = object.created_field.as_deref().and_then(|path| field(&record, path)).and_then(comparable_time);
    let record = hub::shape::shape(record, "Id", drop_nulls, None);
    Some(SeenRecord { object_id, changed_at, created_at, record })
}

fn comparable(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
