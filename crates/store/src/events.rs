//! The values of [`crate::EventStore`]: what a poll commits ([`PollCommit`]), the notifications of
//! the outbox and event log ([`StoredEvent`], [`EventStatus`]), what a delivery attempt leaves
//! ([`DeliveryResult`]) and how the log is queried ([`EventQuery`]); and the one rule the store
//! applies to a poll's changes, [`classify`]: which are new, which are duplicates.
//!
//! A notification is one row of `events`: up to `max_per_event` changes of one object type, with the
//! vendor's records for them. Its status moves `NEW` (recorded, or waiting for a retry) →
//! `DISPATCHED` (an attempt in flight) → `NOTIFIED` (the callback answered 2xx), or back to `NEW` with
//! a retry time, or `FAILED` once the attempts are used up (kept; a retry makes it `NEW` again). A
//! `DISPATCHED` row found by the next delivery run is one whose sender died mid-attempt: it is sent
//! again (at least once).

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::records::InstanceId;
use crate::repository::{Result, StoreError};

/// Where a notification is in its life (the platforms' names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventStatus {
    New,
    Dispatched,
    Notified,
    Failed,
}

impl EventStatus {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "NEW",
            Self::Dispatched => "DISPATCHED",
            Self::Notified => "NOTIFIED",
            Self::Failed => "FAILED",
        }
    }

    /// The status named `text` (case-insensitive), or `None`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::New, Self::Dispatched, Self::Notified, Self::Failed]
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(text))
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a change (the platforms' `eventType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Updated => "UPDATED",
            Self::Deleted => "DELETED",
        }
    }
}

/// A record a poll saw changed (or, in a full read, saw at all).
#[derive(Clone, Debug, PartialEq)]
pub struct SeenRecord {
    pub object_id: String,
    /// The vendor's update time, RFC 3339 in UTC (compared as text with earlier ones).
    pub changed_at: String,
    /// The vendor's creation time, when the object has one (a backfill tells CREATED by it).
    pub created_at: Option<String>,
    /// The record as the hub shows it (the notification's `raw`).
    pub record: Value,
}

/// What a poll read of one object.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectPoll {
    /// The hub object name (`contacts`), the notification's `objectType`.
    pub object: String,
    /// The records read, oldest change first.
    pub seen: Vec<SeenRecord>,
    /// True when `seen` is every record of the object (a reconciliation): known ids missing from it
    /// were deleted.
    pub complete: bool,
    /// True for the object's first poll: its records become known, and nothing is reported.
    pub baseline: bool,
    /// The object's new watermark (the newest change time read), if it moved.
    pub watermark: Option<String>,
    /// A backfill from this time: every record read is reported, reported before or not; CREATED
    /// when created at or after it.
    pub backfill_since: Option<String>,
    /// Ids the vendor said were deleted (a webhook's `*.delete`): reported DELETED.
    pub deleted: Vec<String>,
}

/// Everything one poll of an instance commits, in one transaction.
#[derive(Clone, Debug)]
pub struct PollCommit {
    pub instance_id: InstanceId,
    /// The poll's claim holder; the commit is refused once another owner has the claim.
    pub owner: String,
    pub element_key: String,
    pub hub_key: String,
    /// When the poll ran (each event's `pollDate`).
    pub poll_date: DateTime<Utc>,
    pub objects: Vec<ObjectPoll>,
    /// Changes per notification (the platforms: 10 from polling).
    pub max_per_event: usize,
    /// The source recorded on the notifications (`polling`, `webhook`, `backfill`).
    pub source: &'static str,
    /// When the instance is next polled; `None` leaves its schedule alone (a webhook's changes).
    pub next_poll_at: Option<DateTime<Utc>>,
}

/// The changes of one object worth reporting, after [`classify`].
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub kind: ChangeKind,
    pub object_id: String,
    pub date: String,
    pub raw: Value,
}

/// Decides what a record seen by a poll is: `None` when already reported (`known` holds a change time
/// at or after `changed_at`: the overlap window read it again), else `Created` for an id never seen
/// and `Updated` for a known one.
pub fn classify(known: Option<&str>, seen: &SeenRecord) -> Option<ChangeKind> {
    match known {
        None => Some(ChangeKind::Created),
        Some(last) if last >= seen.changed_at.as_str() => None,
        Some(_) => Some(ChangeKind::Updated),
    }
}

/// What a backfill from `since` reports for a record: CREATED when it was created at or after
/// `since` (or, without a creation time, when its id was never seen), UPDATED otherwise.
pub fn classify_backfill(known: Option<&str>, since: &str, seen: &SeenRecord) -> ChangeKind {
    match seen.created_at.as_deref() {
        Some(created) if created >= since => ChangeKind::Created,
        Some(_) => ChangeKind::Updated,
        None if known.is_none() => ChangeKind::Created,
        None => ChangeKind::Updated,
    }
}

/// One event object of a notification, in the platforms' shape.
pub fn event_object(commit: &PollCommit, object: &str, change: &Change) -> Value {
    json!({
        "objectType": object,
        "objectId": change.object_id,
        "eventType": change.kind.as_str(),
        "date": change.date,
        "pollDate": commit.poll_date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "elementKey": commit.element_key,
        "hubKey": commit.hub_key,
    })
}

/// A notification of the outbox and event log.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// The notification's id (`eventId`), increasing in the order they were recorded.
    pub id: i64,
    pub instance_id: InstanceId,
    pub source: String,
    pub object_type: String,
    /// The event objects (a JSON array).
    pub changes: Value,
    /// What the vendor gave for them.
    pub raw: Value,
    pub status: EventStatus,
    /// Delivery attempts that failed so far.
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub notified_at: Option<DateTime<Utc>>,
    /// The callback's HTTP status at the last attempt (none when it never answered).
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

/// A `events` row as stored.
pub(crate) struct RawEvent {
    pub id: i64,
    pub instance_id: i64,
    pub source: String,
    pub object_type: String,
    pub changes: String,
    pub raw: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub notified_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
}

impl RawEvent {
    pub fn into_event(self) -> Result<StoredEvent> {
        let json = |text: &str, what| serde_json::from_str(text).map_err(|_| StoreError::Corrupt(what));
        Ok(StoredEvent {
            id: self.id,
            instance_id: InstanceId::new(self.instance_id),
            source: self.source,
            object_type: self.object_type,
            changes: json(&self.changes, "event changes")?,
            raw: json(&self.raw, "event raw")?,
            status: EventStatus::parse(&self.status).ok_or(StoreError::Corrupt("event status"))?,
            attempts: u32::try_from(self.attempts).map_err(|_| StoreError::Corrupt("event attempts"))?,
            next_attempt_at: self.next_attempt_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            notified_at: self.notified_at,
            last_status: self.last_status.and_then(|status| u16::try_from(status).ok()),
            last_error: self.last_error,
        })
    }
}

/// The columns [`RawEvent`] is read from.
pub(crate) const EVENT_COLUMNS: &str = "id, instance_id, source, object_type, changes, raw, status, attempts, \
     next_attempt_at, created_at, updated_at, notified_at, last_status, last_error";

/// What one delivery attempt of a notification came to.
#[derive(Clone, Debug, PartialEq)]
pub enum DeliveryResult {
    /// The callback answered 2xx with this status.
    Notified { status: u16 },
    /// The attempt failed (`status`: the callback's answer, if any); tried again at `retry_at`, or
    /// `FAILED` for good when `retry_at` is `None`.
    Failed { status: Option<u16>, error: String, retry_at: Option<DateTime<Utc>> },
}

/// Which notifications of an instance the event log lists. Newest first, unless `after` is given:
/// then oldest first, from the notification after that id (the pull mode reads the log in order).
#[derive(Clone, Debug, Default)]
pub struct EventQuery {
    pub status: Option<EventStatus>,
    pub object_type: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub after: Option<i64>,
    pub limit: u32,
}

/// Counts for the console and the metrics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventCounts {
    pub new: u64,
    pub dispatched: u64,
    pub notified: u64,
    pub failed: u64,
    /// When the oldest notification not yet delivered was recorded.
    pub oldest_pending: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(at: &str) -> SeenRecord {
        SeenRecord { object_id: "7".into(), changed_at: at.into(), created_at: None, record: Value::Null }
    }

    #[test]
    fn a_change_is_new_once_and_a_reread_is_a_duplicate() {
        assert_eq!(classify(None, &seen("2026-01-01T00:00:00Z")), Some(ChangeKind::Created));
        assert_eq!(classify(Some("2026-01-01T00:00:00Z"), &seen("2026-01-01T00:00:00Z")), None);
        assert_eq!(classify(Some("2026-01-01T00:00:01Z"), &seen("2026-01-01T00:00:00Z")), None);
        assert_eq!(classify(Some("2026-01-01T00:00:00Z"), &seen("2026-01-01T00:00:05Z")), Some(ChangeKind::Updated));
    }

    #[test]
    fn statuses_parse_in_any_case() {
        assert_eq!(EventStatus::parse("failed"), Some(EventStatus::Failed));
        assert_eq!(EventStatus::parse("NOTIFIED"), Some(EventStatus::Notified));
        assert_eq!(EventStatus::parse("DONE"), None);
    }
}
