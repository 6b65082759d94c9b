//! The instance page's events panel: what the instance's configuration says about its events (never
//! the signature key, only whether one is set), how its deliveries are going (success rate, counts,
//! the age of the oldest undelivered notification) and its newest notifications, with the Poll now,
//! Retry and Retry all failed buttons. The buttons themselves are handled in
//! [`super::event_actions`].
//!
//! It reads the same store calls as the event log API (`list_events`, `event_counts`), so what the
//! console shows is what `GET /instances/{id}/events` answers.

use chrono::{TimeDelta, Utc};
use maud::{html, Markup};
use platform::events::settings::EventSettings;
use serde_json::Value;
use store::{EventCounts, EventQuery, EventStatus, InstanceRecord, StoredEvent};

use super::instances::when;
use super::page::ConsoleError;
use super::session::Session;
use crate::state::AppState;

/// Notifications listed, newest first.
const NEWEST: u32 = 20;
/// Changes named per notification (a webhook notification can carry 20).
const CHANGES_SHOWN: usize = 10;
/// Characters of a notification's last error shown (a callback's error can be a whole page).
const ERROR_SHOWN: usize = 200;
/// Where the signature key is kept (a secret of the instance: only its presence is shown).
const SIGNATURE_KEY: &str = "event.notification.signature.key";

/// The panel for `record`, read from the store now.
pub async fn panel(state: &AppState, session: &Session, record: &InstanceRecord) -> Result<Markup, ConsoleError> {
    let store = &state.platform.store;
    let counts = store.event_counts(Some(record.id)).await?;
    let newest = store.list_events(record.id, &EventQuery { limit: NEWEST, ..EventQuery::default() }).await?;
    // An unreadable configuration is shown, not hidden: it is why nothing is polled.
    let settings = EventSettings::of(record).map_err(|error| error.to_string());
    let enabled = settings.as_ref().is_ok_and(|settings| settings.enabled);
    Ok(html! {
        section.panel aria-labelledby="events" {
            h2 #events { "Events" }
            (settings_facts(record, &settings))
            @if enabled || !newest.is_empty() {
                (delivery_facts(&counts))
                (buttons(session, record, enabled, counts.failed))
                (notifications(session, record, &newest))
            }
        }
    })
}

fn settings_facts(record: &InstanceRecord, settings: &Result<EventSettings, String>) -> Markup {
    let settings = match settings {
        Ok(settings) => settings,
        Err(error) => {
            return html! { p.warning { "The event settings cannot be read, so nothing is polled: " (error) } };
        }
    };
    if !settings.enabled {
        return html! {
            p.muted {
                "Events are not enabled for this instance. Tick \u{201c}Events Enabled\u{201d} in the settings \
                 above and give an \u{201c}Event Notification Callback URL\u{201d} to have its changes sent there."
            }
        };
    }
    let minutes = settings.interval.as_secs() / 60;
    html! {
        dl.facts {
            dt { "Events" } dd { span.badge.ok { "Enabled" } }
            dt { "Source" }
            dd {
                @if settings.webhooks { "webhooks (the vendor's REST hooks, with the periodic poll behind them)" }
                @else { "polling" }
            }
            dt { "Polling interval" } dd { @if minutes == 1 { "every minute" } @else { "every " (minutes) " minutes" } }
            dt { "Objects" }
            dd { @for (i, object) in settings.objects.iter().enumerate() { @if i > 0 { ", " } code { (object.name) } } }
            dt { "Callback URL" }
            dd {
                @match &settings.callback_url {
                    Some(url) if !url.is_empty() => code { (url) },
                    _ => span.muted { "not set: deliveries fail until one is" },
                }
            }
            dt { "Signature key" }
            dd {
                @if record.secrets.get(SIGNATURE_KEY).is_some() { "set (never shown)" }
                @else { span.muted { "not set: notifications are sent unsigned" } }
            }
        }
    }
}

fn delivery_facts(counts: &EventCounts) -> Markup {
    let finished = counts.notified + counts.failed;
    let waiting = counts.new + counts.dispatched;
    html! {
        h3 { "Delivery" }
        dl.facts {
            dt { "Success rate" }
            dd {
                @if finished == 0 { span.muted { "no delivery finished yet" } }
                @else { (counts.notified * 100 / finished) "%" }
                " · " (counts.notified) " notified · " (counts.failed) " failed"
            }
            dt { "Waiting" } dd { (waiting) " waiting" }
            dt { "Oldest undelivered" }
            dd {
                @match counts.oldest_pending {
                    Some(at) => { "recorded " (age(Utc::now() - at)) " ago (" (when(Some(at))) ")" },
                    None => span.muted { "none" },
                }
            }
        }
    }
}

/// A duration for people, to the minute (an hour and more also in hours, two days and more in days).
fn age(elapsed: TimeDelta) -> String {
    let minutes = elapsed.num_minutes().max(0);
    match minutes {
        0 => "under a minute".into(),
        1..=59 => format!("{minutes} min"),
        60..=2879 => format!("{} h {} min", minutes / 60, minutes % 60),
        _ => format!("{} days", minutes / (24 * 60)),
    }
}

fn buttons(session: &Session, record: &InstanceRecord, enabled: bool, failed: u64) -> Markup {
    html! {
        div.action-bar role="group" aria-label="Event actions" {
            @if enabled {
                form method="post" action={ "/instances/" (record.id) "/events/poll" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Poll now" }
                }
            }
            @if failed > 0 {
                form method="post" action={ "/instances/" (record.id) "/events/retry" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button type="submit" { "Retry all failed (" (failed) ")" }
                }
            }
        }
    }
}

fn notifications(session: &Session, record: &InstanceRecord, events: &[StoredEvent]) -> Markup {
    if events.is_empty() {
        return html! { p.muted { "No notification yet: the first poll only notes where the vendor's records are; changes after it appear here." } };
    }
    html! {
        h3 { "Newest notifications" }
        div.table-wrap { table {
            thead { tr {
                th scope="col" { "Id" } th scope="col" { "Recorded" } th scope="col" { "Object" }
                th scope="col" { "Changes" } th scope="col" { "Status" } th scope="col" { "Attempts" }
                th scope="col" { "Last status" } th scope="col" { "Last error" } th scope="col" { span.muted { "Action" } }
            } }
            tbody { @for event in events { (notification(session, record, event)) } }
        } }
    }
}

fn notification(session: &Session, record: &InstanceRecord, event: &StoredEvent) -> Markup {
    let changes = event.changes.as_array().map(Vec::as_slice).unwrap_or_default();
    html! {
        tr {
            td { (event.id) }
            td { (when(Some(event.created_at))) }
            td { (event.object_type) br; span.muted { (event.source) } }
            td {
                @for (i, change) in changes.iter().take(CHANGES_SHOWN).enumerate() {
                    @if i > 0 { ", " }
                    (text(change.get("eventType"))) " " (text(change.get("objectId")))
                }
                @if changes.len() > CHANGES_SHOWN { " and " (changes.len() - CHANGES_SHOWN) " more" }
            }
            td { (status_badge(event.status)) }
            td { (event.attempts) }
            td { @if let Some(status) = event.last_status { (status) } @else { span.muted { "—" } } }
            td { @if let Some(error) = &event.last_error { (truncated(error)) } @else { span.muted { "—" } } }
            td {
                @if event.status == EventStatus::Failed {
                    form method="post" action={ "/instances/" (record.id) "/events/" (event.id) "/retry" } {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" aria-label={ "Retry notification " (event.id) } { "Retry" }
                    }
                }
            }
        }
    }
}

/// A JSON value as text: a string as it is, anything else as JSON, nothing as "?".
fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => "?".into(),
    }
}

/// `error` cut to its first characters, for a table cell.
pub(super) fn truncated(error: &str) -> String {
    match error.char_indices().nth(ERROR_SHOWN) {
        Some((end, _)) => format!("{}…", &error[..end]),
        None => error.to_string(),
    }
}

fn status_badge(status: EventStatus) -> Markup {
    match status {
        EventStatus::Notified => html! { span.badge.ok { (status.as_str()) } },
        EventStatus::Failed => html! { span.badge.bad { (status.as_str()) } },
        EventStatus::New | EventStatus::Dispatched => html! { span.badge { (status.as_str()) } },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_minutes_hours_and_days() {
        assert_eq!(age(TimeDelta::seconds(-5)), "under a minute");
        assert_eq!(age(TimeDelta::seconds(59)), "under a minute");
        assert_eq!(age(TimeDelta::minutes(7)), "7 min");
        assert_eq!(age(TimeDelta::minutes(125)), "2 h 5 min");
        assert_eq!(age(TimeDelta::days(3)), "3 days");
    }

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        assert_eq!(truncated("short"), "short");
        let long = "é".repeat(ERROR_SHOWN + 5);
        let cut = truncated(&long);
        assert_eq!(cut.chars().count(), ERROR_SHOWN + 1);
        assert!(cut.ends_with('…'));
    }
}
