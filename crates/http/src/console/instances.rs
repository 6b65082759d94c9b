//! The console's instance pages: `GET /instances` (list, filtered by tag and text) and
//! `GET /instances/{id}` (configuration with secrets masked, token status, actions, traced vendor
//! calls, token activity, events, bulk jobs, the common resources it can call). The actions themselves are in [`super::instance_actions`]; the
//! events panel and its buttons in [`super::events_panel`] and [`super::event_actions`]; the bulk jobs panel and page in
//! [`super::bulk_jobs`].

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use domain::elements::{ConfigType, Element};
use maud::{html, Markup};
use serde::Deserialize;
use store::{InstanceId, InstanceQuery, InstanceRecord, TokenEvent, VendorCall};

use super::page::{ConsoleError, Notice, Page, Section};
use super::session::Session;
use crate::path_param::PathParam;
use crate::provisioning::PLATFORM_KEPT;
use crate::state::AppState;

/// Instances per page of the list.
const PAGE_SIZE: u32 = 50;
/// Rows of traced vendor calls and of token activity shown.
const RECENT: u32 = 20;

/// The non-secret settings the instance page lets a person edit (besides name and tags).
pub const EDITABLE: [&str; 6] = [
    "infusionsoft.server",
    "filter.response.nulls",
    "event.notification.enabled",
    "event.vendor.type",
    "event.poller.refresh_interval",
    "event.notification.callback.url",
];

pub async fn list(State(state): State<AppState>, session: Session, RawQuery(raw): RawQuery) -> Response {
    let mut query = InstanceQuery { page_size: PAGE_SIZE, ..InstanceQuery::default() };
    let mut done = None;
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let value = value.trim().to_string();
        match key.as_ref() {
            "tag" if !value.is_empty() => query.tags_all_of.push(value),
            "q" if !value.is_empty() => query.search_text = Some(value),
            "page" if !value.is_empty() => query.next_page = Some(value),
            "done" if value == "deleted" => done = Some(Notice::Success("The instance was deleted.".into())),
            _ => {}
        }
    }
    let page = match state.platform.store.list_instances(session.organization.id, &query).await {
        Ok(page) => page,
        Err(store::StoreError::InvalidCursor) => {
            return ConsoleError::bad_request("That page link is not valid any more.")
                .next(html! { a href="/instances" { "Back to the first page" } })
                .page(&state, Some(&session))
        }
        Err(error) => return ConsoleError::from(error).page(&state, Some(&session)),
    };
    let filtered = !query.tags_all_of.is_empty() || query.search_text.is_some();
    let body = html! {
        h1 { "Instances" }
        form.filters method="get" action="/instances" role="search" {
            div.field {
                label for="q" { "Name contains" }
                input #q type="search" name="q" value=[query.search_text.as_deref()] maxlength="255";
            }
            div.field {
                label for="tag" { "Tag" }
                input #tag type="text" name="tag" value=[query.tags_all_of.first()] maxlength="128";
            }
            button type="submit" { "Filter" }
            @if filtered { a href="/instances" { "Clear" } }
        }
        @if page.items.is_empty() {
            div.empty {
                @if filtered {
                    p { "No instance matches this filter." }
                    p { a href="/instances" { "Show all instances" } }
                } @else {
                    p { "No instances yet. An instance connects one Infusionsoft account." }
                    p { a.button.primary href="/" { "Authenticate an element from the catalog" } }
                }
            }
        } @else {
            div.table-wrap {
                table.instances {
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "Element" } th scope="col" { "Tags" }
                        th scope="col" { "Status" } th scope="col" { "Created" } th scope="col" { "Token expires" }
                    } }
                    tbody {
                        @for record in &page.items { (row(&state, record)) }
                    }
                }
            }
            @if let Some(next) = &page.next_page {
                p { a href={ "/instances?" (next_page_query(&query, next)) } { "Next page" } }
            }
        }
    };
    Page { title: "Instances", section: Section::Instances, session: Some(&session), notice: done, body }
        .respond(&state, StatusCode::OK)
}

fn next_page_query(query: &InstanceQuery, next: &str) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for tag in &query.tags_all_of {
        serializer.append_pair("tag", tag);
    }
    if let Some(text) = &query.search_text {
        serializer.append_pair("q", text);
    }
    serializer.append_pair("page", next).finish()
}

fn row(state: &AppState, record: &InstanceRecord) -> Markup {
    let element =
        state.platform.catalog.get(&record.element_key).map_or(record.element_key.as_str(), |e| e.name.as_str());
    html! {
        tr {
            td { a href={ "/instances/" (record.id) } { (record.name) } }
            td { (element) }
            td { (tag_links(&record.tags)) }
            td { (status_badges(record)) }
            td { (when(Some(record.created_at))) }
            td { (when(record.access_expires_at)) }
        }
    }
}

fn tag_links(tags: &[String]) -> Markup {
    html! {
        @for tag in tags {
            a.tag href={ "/instances?tag=" (url::form_urlencoded::byte_serialize(tag.as_bytes()).collect::<String>()) } { (tag) } " "
        }
    }
}

fn status_badges(record: &InstanceRecord) -> Markup {
    html! {
        @if record.valid { span.badge.ok { "valid" } } @else { span.badge.bad title="The vendor refused its refresh token: re-authenticate." { "invalid" } }
        " "
        @if record.disabled { span.badge.bad { "disabled" } } @else { span.badge.ok { "enabled" } }
    }
}

/// A time for people: UTC, to the minute, with the exact instant in `<time datetime>`.
pub(super) fn when(at: Option<DateTime<Utc>>) -> Markup {
    match at {
        Some(at) => html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M UTC")) } },
        None => html! { span.muted { "—" } },
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
    ms: Option<f64>,
    /// How many notifications a poll recorded or a retry queued.
    n: Option<u64>,
}

/// What a finished action left to say (fixed texts: nothing from the URL is echoed).
fn done_notice(query: &DoneQuery) -> Option<Notice> {
    let text = match query.done.as_deref()? {
        "connected" => match query.ms {
            Some(ms) if ms.is_finite() && ms >= 0.0 => {
                format!("Connection works: Infusionsoft answered in {ms:.0} ms.")
            }
            _ => "Connection works.".to_string(),
        },
        "refreshed" => "Tokens refreshed.".into(),
        "enabled" => "Instance enabled.".into(),
        "disabled" => "Instance disabled: hub calls with its token are refused until it is enabled.".into(),
        "trace-on" => "Trace logging on: vendor calls are recorded below.".into(),
        "trace-off" => "Trace logging off.".into(),
        "saved" => "Settings saved.".into(),
        "polled" => match query.n {
            Some(0) | None => "Polled: no change since the last poll.".into(),
            Some(1) => "Polled: 1 new notification recorded.".into(),
            Some(n) => format!("Polled: {n} new notifications recorded."),
        },
        "retried" => match query.n {
            Some(0) | None => "No failed notification to retry.".into(),
            Some(1) => "1 notification queued for delivery again.".into(),
            Some(n) => format!("{n} notifications queued for delivery again."),
        },
        _ => return None,
    };
    Some(Notice::Success(text))
}

pub async fn show(
    State(state): State<AppState>,
    session: Session,
    PathParam(id): PathParam<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let notice = done_notice(&super::form::query(raw.as_deref()));
    let result = async {
        let record = owned_instance(&state, &session, &id).await?;
        instance_page(&state, &session, record, notice, false).await
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

/// The session's organization's instance `id`, or a 404 page.
pub async fn owned_instance(state: &AppState, session: &Session, id: &str) -> Result<InstanceRecord, ConsoleError> {
    let id = InstanceId::parse(id).ok_or_else(ConsoleError::no_instance)?;
    match state.platform.store.get_instance(session.organization.id, id).await {
        Ok(record) => Ok(record),
        Err(store::StoreError::NotFound) => Err(ConsoleError::no_instance()),
        Err(error) => Err(error.into()),
    }
}

/// The instance page; `show_token` shows the instance token (right after creation or a reset).
pub async fn instance_page(
    state: &AppState,
    session: &Session,
    record: InstanceRecord,
    notice: Option<Notice>,
    show_token: bool,
) -> Result<Response, ConsoleError> {
    instance_page_with_status(state, session, record, notice, show_token, StatusCode::OK).await
}

/// [`instance_page`] with another status (a failed action answers its own status).
pub async fn instance_page_with_status(
    state: &AppState,
    session: &Session,
    record: InstanceRecord,
    notice: Option<Notice>,
    show_token: bool,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let element = state.platform.catalog.find(&record.element_key)?;
    let calls = match record.trace_logging {
        true => state.platform.store.list_vendor_calls(record.id, RECENT).await?,
        false => Vec::new(),
    };
    let events = state.platform.store.list_token_events(record.id, RECENT).await?;
    let events_panel = super::events_panel::panel(state, session, &record).await?;
    let bulk_panel = super::bulk_jobs::panel(state, &record).await?;
    let common_panel = super::mapping_view::panel(state, &record).await;
    let body = html! {
        p.crumbs { a href="/instances" { "Instances" } " / " (record.name) }
        div.title-row {
            h1 { (record.name) }
            div { (status_badges(&record)) }
        }
        p.muted { (element.name) " · instance " (record.id) " · tags: " @if record.tags.is_empty() { "none" } @else { (tag_links(&record.tags)) } }
        @if show_token { (token_box(&record)) }
        (actions(session, &record, &super::instance_actions::token_fingerprint(state, &record)))
        section.panel aria-labelledby="token-status" {
            h2 #token-status { "Token status" }
            dl.facts {
                dt { "Access token expires" } dd { (when(record.access_expires_at)) }
                dt { "Last refreshed" } dd { (when(record.refreshed_at)) }
                dt { "Vendor authorization" } dd { @if record.valid { "valid" } @else { "refused by the vendor: authenticate again" } }
                dt { "Created" } dd { (when(Some(record.created_at))) }
                dt { "Updated" } dd { (when(Some(record.updated_at))) }
            }
        }
        (settings_form(session, element, &record))
        (configuration_table(element, &record))
        (vendor_calls(&record, &calls))
        (token_activity(&events))
        (events_panel)
        (bulk_panel)
        (common_panel)
    };
    let page = Page { title: &record.name, section: Section::Instances, session: Some(session), notice, body };
    Ok(page.respond(state, status))
}

fn token_box(record: &InstanceRecord) -> Markup {
    html! {
        section.panel.token aria-labelledby="token-title" {
            h2 #token-title { "Instance token" }
            p { "Shown this once. Send it as " code { "Authorization: User <user secret>, Organization <organization secret>, Element <instance token>" } "." }
            pre #instance-token tabindex="0" data-copy { (record.token.expose()) }
            div hidden data-replace-url={ "/instances/" (record.id) } {}
        }
    }
}

fn action_form(session: &Session, id: InstanceId, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form method="post" action={ "/instances/" (id) "/" (action) } {
            input type="hidden" name="csrf" value=(session.csrf);
            button class=(class) type="submit" { (label) }
        }
    }
}

/// The instance's buttons; `token_fingerprint` makes a resubmitted reset form a no-op.
fn actions(session: &Session, record: &InstanceRecord, token_fingerprint: &str) -> Markup {
    let id = record.id;
    html! {
        div.action-bar role="group" aria-label="Instance actions" {
            (action_form(session, id, "test", "Test connection", "primary"))
            (action_form(session, id, "refresh", "Refresh tokens", ""))
            @if record.disabled { (action_form(session, id, "enable", "Enable", "")) }
            @else { (action_form(session, id, "disable", "Disable", "")) }
            @if record.trace_logging { (action_form(session, id, "trace-off", "Stop trace logging", "")) }
            @else { (action_form(session, id, "trace-on", "Start trace logging", "")) }
            form method="post" action={ "/instances/" (id) "/token" } {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="current" value=(token_fingerprint);
                button type="submit" { "Reset instance token" }
            }
            a.button href={ "/instances/" (id) "/api-docs" } { "API docs" }
            a.button.danger href={ "/instances/" (id) "/delete" } { "Delete…" }
        }
    }
}

fn settings_form(session: &Session, element: &Element, record: &InstanceRecord) -> Markup {
    let entries = EDITABLE.iter().filter_map(|key| element.config_entry(key));
    html! {
        section.panel aria-labelledby="settings" {
            h2 #settings { "Settings" }
            form.stack method="post" action={ "/instances/" (record.id) "/settings" } {
                input type="hidden" name="csrf" value=(session.csrf);
                div.field {
                    label for="s-name" { "Name" }
                    input #s-name type="text" name="name" value=(record.name) required maxlength="255";
                }
                div.field {
                    label for="s-tags" { "Tags" }
                    input #s-tags type="text" name="tags" value=(record.tags.join(", ")) aria-describedby="s-tags-help" maxlength="1000";
                    p.help #s-tags-help { "Separated by commas." }
                }
                @for entry in entries {
                    @let id = format!("s-{}", entry.key.replace('.', "-"));
                    @let value = record.configuration.get(&entry.key).map(String::as_str).unwrap_or("");
                    @if entry.kind == ConfigType::Boolean {
                        div.field.check {
                            input id=(id) type="checkbox" name=(entry.key) value="true" checked[value == "true"];
                            label for=(id) { (entry.name) }
                        }
                    } @else {
                        div.field {
                            label for=(id) { (entry.name) }
                            input id=(id) type="text" name=(entry.key) value=(value) maxlength="1000";
                        }
                    }
                }
                p.help { "Secrets (client secret, Encrypted Key, signature key) are changed through the API; they are never shown." }
                button type="submit" { "Save settings" }
            }
        }
    }
}

fn configuration_table(element: &Element, record: &InstanceRecord) -> Markup {
    let entries = element.configuration.iter().filter(|entry| !PLATFORM_KEPT.contains(&entry.key.as_str()));
    html! {
        section.panel aria-labelledby="configuration" {
            h2 #configuration { "Configuration" }
            div.table-wrap { table {
                thead { tr { th scope="col" { "Setting" } th scope="col" { "Key" } th scope="col" { "Value" } } }
                tbody {
                    @for entry in entries {
                        tr {
                            td { (entry.name) }
                            td { code { (entry.key) } }
                            td {
                                @if element.is_secret(&entry.key) {
                                    @if record.secrets.get(&entry.key).is_some() { span.masked { "********" } } @else { span.muted { "not set" } }
                                } @else if let Some(value) = record.configuration.get(&entry.key) {
                                    (value)
                                } @else { span.muted { "not set" } }
                            }
                        }
                    }
                }
            } }
        }
    }
}

fn vendor_calls(record: &InstanceRecord, calls: &[VendorCall]) -> Markup {
    html! {
        section.panel aria-labelledby="trace" {
            h2 #trace { "Recent vendor calls" }
            @if !record.trace_logging {
                p.muted { "Trace logging is off. Start trace logging to record this instance's calls to Infusionsoft (method, path, status, time)." }
            } @else if calls.is_empty() {
                p.muted { "Trace logging is on; no vendor call since. Use Test connection or the API docs to make one." }
            } @else {
                div.table-wrap { table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "Call" } th scope="col" { "Status" } th scope="col" { "Time" } } }
                    tbody { @for call in calls { tr {
                        td { (when(Some(call.at))) }
                        td { code { (call.method) " " (call.path) } }
                        td { @if call.status == 0 { "no answer" } @else { (call.status) } }
                        td { (call.duration_ms) " ms" }
                    } } }
                } }
            }
        }
    }
}

fn token_activity(events: &[TokenEvent]) -> Markup {
    html! {
        section.panel aria-labelledby="activity" {
            h2 #activity { "Token activity" }
            @if events.is_empty() { p.muted { "No token activity yet." } }
            @else {
                div.table-wrap { table {
                    thead { tr { th scope="col" { "When" } th scope="col" { "What" } th scope="col" { "Outcome" } th scope="col" { "Detail" } } }
                    tbody { @for event in events { tr {
                        td { (when(Some(event.at))) } td { (event.kind) } td { (event.outcome) } td { (event.detail) }
                    } } }
                } }
            }
        }
    }
}
