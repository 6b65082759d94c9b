//! The console's bulk jobs of an instance (issue 15): what its jobs are doing and what they did,
//! with their buttons, each on the signed-in organization's instance only (another
//! organization's, an unknown job and a malformed id are 404 pages, like every console page):
//! - `GET /instances/{id}/bulk`: the jobs, newest first, with progress, rate, time left, vendor
//!   calls and refused rows; the page reloads itself while a job is unfinished;
//! - `POST /instances/{id}/bulk/{job}/cancel`: cancels a job (CSRF-checked);
//! - `GET /instances/{id}/bulk/{job}/download?format=csv|jsonl`: a query job's result, as an
//!   attachment;
//! - `GET /instances/{id}/bulk/{job}/errors`: an upload's first refused rows;
//! - [`panel`]: the instance page's summary and link.
//!
//! Jobs are created through the hub API only (the page says how): an export or an upload belongs
//! to an application, not to a person at a browser. The jobs' work and their status are
//! `platform::bulk`'s, and a download is the hub API's own [`result_response`], so what the console
//! shows and serves is what the API answers.

use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, RANGE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, TimeDelta, Utc};
use maud::{html, Markup};
use platform::bulk::estimated_completion;
use serde::Deserialize;
use store::{BulkJob, BulkKind, BulkRowError, BulkStatus, InstanceRecord};

use super::events_panel::truncated;
use super::form::FormFields;
use super::instances::{owned_instance, when};
use super::page::{ConsoleError, Notice, Page, Section};
use super::session::Session;
use crate::hub::bulk::{result_response, ResultFormat};
use crate::path_param::PathParam;
use crate::state::AppState;

/// Jobs listed on the page, newest first.
const JOBS_LISTED: u32 = 100;
/// Refused rows shown on a job's errors page; the API pages through all of them.
const ERRORS_SHOWN: u32 = 500;
/// How often a page with an unfinished job reloads itself.
const REFRESH_SECONDS: u32 = 5;
/// Newest jobs the instance page's summary counts the unfinished among. A bound, so the instance
/// page stays one cheap read: a job still waiting behind this many newer ones is not counted
/// there (the jobs page lists it).
const SUMMARY_SCAN: u32 = 50;

/// `GET /instances/{id}/bulk`.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    PathParam(id): PathParam<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let notice = done_notice(&super::form::query(raw.as_deref()));
    let result = async {
        let record = owned_instance(&state, &session, &id).await?;
        let jobs = state.platform.store.list_bulk_jobs(record.id, JOBS_LISTED).await?;
        jobs_page(&state, &session, &record, &jobs, notice)
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

#[derive(Debug, Default, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
    job: Option<i64>,
}

/// What a cancel left to say (fixed texts around a number: nothing from the URL is echoed).
fn done_notice(query: &DoneQuery) -> Option<Notice> {
    let job = query.job?;
    match query.done.as_deref()? {
        "cancelled" => Some(Notice::Success(format!(
            "Job {job} cancelled: it stops before its next step, and what it did so far is kept."
        ))),
        "ended" => Some(Notice::Error(format!("Job {job} had already ended: there was nothing to cancel."))),
        _ => None,
    }
}

fn jobs_page(
    state: &AppState,
    session: &Session,
    record: &InstanceRecord,
    jobs: &[BulkJob],
    notice: Option<Notice>,
) -> Result<Response, ConsoleError> {
    let element = state.platform.catalog.find(&record.element_key)?;
    let now = Utc::now();
    let body = html! {
        p.crumbs { a href="/instances" { "Instances" } " / " a href={ "/instances/" (record.id) } { (record.name) } " / Bulk jobs" }
        h1 { "Bulk jobs: " (record.name) }
        @if jobs.is_empty() {
            div.empty { p { "No bulk job yet for this instance. Jobs are created through the hub API, as below." } }
        } @else {
            div.table-wrap { table.bulk-jobs {
                thead { tr {
                    th scope="col" { "Job" } th scope="col" { "What" } th scope="col" { "Status" }
                    th scope="col" { "Progress" } th scope="col" { "Rate" } th scope="col" { "Time left" }
                    th scope="col" { "Vendor calls" } th scope="col" { "Failed rows" } th scope="col" { "Created" }
                    th scope="col" { "Completed" } th scope="col" { span.muted { "Actions" } }
                } }
                tbody { @for job in jobs { (job_row(session, record, job, now)) } }
            } }
        }
        (how_to(&element.hub))
    };
    let page = Page { title: "Bulk jobs", section: Section::Instances, session: Some(session), notice, body };
    Ok(if jobs.iter().any(|job| !job.status.is_final()) {
        page.respond_refreshing(state, StatusCode::OK, REFRESH_SECONDS)
    } else {
        page.respond(state, StatusCode::OK)
    })
}

fn job_row(session: &Session, record: &InstanceRecord, job: &BulkJob, now: DateTime<Utc>) -> Markup {
    let base = format!("/instances/{}/bulk/{}", record.id, job.id);
    html! {
        tr {
            td { (job.id) }
            td {
                span.badge { (job.kind.as_str()) } " " code { (job.object_name) }
                @if let Some(q) = job.request.get("q").and_then(|q| q.as_str()) { br; code.query { (q) } }
            }
            td {
                (status_badge(job.status))
                @if let Some(error) = &job.error { br; span.problem { (truncated(error)) } }
            }
            td { (progress(job)) }
            td {
                @match rate(job, now) {
                    Some(rate) => { (rate_text(rate)) },
                    None => span.muted { "—" },
                }
            }
            td { (time_left(job, now)) }
            td { (job.vendor_calls) }
            td {
                @if job.failed_count > 0 { a href={ (base) "/errors" } { (job.failed_count) " refused" } }
                @else { "0" }
            }
            td { (when(Some(job.created_at))) }
            td { (when(job.completed_at)) }
            td { div.actions {
                @if job.kind == BulkKind::Query {
                    a.button href={ (base) "/download?format=jsonl" } aria-label={ "Download job " (job.id) " as JSON lines" } { "JSON lines" }
                    a.button href={ (base) "/download?format=csv" } aria-label={ "Download job " (job.id) " as CSV" } { "CSV" }
                }
                @if !job.status.is_final() {
                    form method="post" action={ (base) "/cancel" } {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button type="submit" aria-label={ "Cancel job " (job.id) } { "Cancel" }
                    }
                }
            } }
        }
    }
}

fn status_badge(status: BulkStatus) -> Markup {
    match status {
        BulkStatus::Completed => html! { span.badge.ok { (status.as_str()) } },
        BulkStatus::Failed => html! { span.badge.bad { (status.as_str()) } },
        _ => html! { span.badge { (status.as_str()) } },
    }
}

/// A bar of the rows done (written and refused) out of those expected when the count is known,
/// an indeterminate bar while the job waits or runs without one, and the records as text.
fn progress(job: &BulkJob) -> Markup {
    let done = job.records_count + job.failed_count;
    let label = format!("Progress of job {}", job.id);
    html! {
        @match job.expected_count {
            Some(expected) if expected > 0 => {
                progress value=(done.min(expected)) max=(expected) aria-label=(label) {}
                br;
            },
            _ if !job.status.is_final() => {
                progress aria-label=(label) {}
                br;
            },
            _ => {},
        }
        (job.records_count) " records"
        @if let Some(expected) = job.expected_count { " of " (expected) }
    }
}

/// Rows per second (written and refused) since the job started: until now while it runs, until
/// its end once it is final; none before it starts.
fn rate(job: &BulkJob, now: DateTime<Utc>) -> Option<f64> {
    let started = job.started_at?;
    let until = if job.status.is_final() { job.completed_at? } else { now };
    let seconds = (until - started).num_milliseconds() as f64 / 1000.0;
    if seconds <= 0.0 {
        return None;
    }
    Some((job.records_count + job.failed_count) as f64 / seconds)
}

fn rate_text(rate: f64) -> String {
    if rate < 10.0 {
        format!("{rate:.1} records/s")
    } else {
        format!("{rate:.0} records/s")
    }
}

fn time_left(job: &BulkJob, now: DateTime<Utc>) -> Markup {
    if job.status.is_final() {
        return html! { span.muted { "—" } };
    }
    match estimated_completion(job, now) {
        Some(at) => html! { "about " (duration_text(at - now)) },
        None => html! { span.muted { "not known yet" } },
    }
}

/// A duration for people: seconds under a minute, minutes and seconds under an hour, then hours
/// and minutes, and days from two days on.
fn duration_text(left: TimeDelta) -> String {
    let seconds = left.num_seconds().max(0);
    match seconds {
        0 => "under a second".into(),
        1..=59 => format!("{seconds} s"),
        60..=3599 => format!("{} min {} s", seconds / 60, seconds % 60),
        3600..=172_799 => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
        _ => format!("{} days", seconds / 86_400),
    }
}

/// How jobs are made: the hub API's two calls, with this instance's hub.
fn how_to(hub: &str) -> Markup {
    let api = format!("/elements/api-v2/hubs/{hub}/bulk");
    html! {
        section.panel aria-labelledby="bulk-how" {
            h2 #bulk-how { "Creating jobs" }
            p { "Bulk jobs are created through the hub API, with this instance's credentials (" code { "Authorization: User …, Element <instance token>" } "):" }
            ul {
                li {
                    code { "POST " (api) "/query?q=select * from contacts where …" }
                    ": exports the records of a query, downloadable as JSON lines or CSV while it runs and once it ends."
                }
                li {
                    code { "POST " (api) "/{object}" }
                    ": writes the rows of a file sent as " code { "multipart/form-data" } " with a " code { "file" }
                    " part (CSV or JSON lines) and an optional " code { "metaData" } " part ("
                    code { "{\"identifierFieldName\": \"Email\"}" } " updates the record with that value instead of creating one). "
                    "Refused rows are listed with their row and field; the others are written."
                }
            }
            p.muted {
                "A job's status, cancel, refused rows and result are also at " code { "GET " (api) "/{id}/status" } ", "
                code { "PUT " (api) "/{id}/cancel" } ", " code { "GET " (api) "/{id}/errors" } " and "
                code { "GET " (api) "/{id}/{object}" } "; an " code { "Elements-Async-Callback-Url" }
                " header on the creating call has the final status posted there."
            }
        }
    }
}

/// `POST /instances/{id}/bulk/{job}/cancel`: a waiting or running job is CANCELLED (its runner
/// stops at its next step); an ended one is left as it is, and the notice says so.
pub async fn cancel(
    State(state): State<AppState>,
    session: Session,
    PathParam((id, job)): PathParam<(String, String)>,
    form: FormFields,
) -> Response {
    let result = async {
        form.check_csrf(&session)?;
        let record = owned_instance(&state, &session, &id).await?;
        let before = owned_job(&state, &record, &job).await?;
        let job =
            state.platform.store.cancel_bulk_job(record.id, before.id).await.map_err(|e| job_error(e, &record))?;
        // From both reads: a job that ended on its own between them was not cancelled.
        let done = if !before.status.is_final() && job.status == BulkStatus::Cancelled { "cancelled" } else { "ended" };
        tracing::info!(instance_id = record.id.get(), job = job.id, status = %job.status, "bulk job cancel through the console");
        Ok(Redirect::to(&format!("/instances/{}/bulk?done={done}&job={}", record.id, job.id)).into_response())
    };
    result.await.unwrap_or_else(|error: ConsoleError| error.page(&state, Some(&session)))
}

/// `GET /instances/{id}/bulk/{job}/download?format=csv|jsonl` (JSON lines without `format`): the
/// query job's result as committed now, as the hub API serves it (a `Range` is honoured, so a
/// browser can resume), named `bulk-{job}-{object}.{csv|jsonl}`.
pub async fn download(
    State(state): State<AppState>,
    session: Session,
    PathParam((id, job)): PathParam<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let record = owned_instance(&state, &session, &id).await?;
        let job = owned_job(&state, &record, &job).await?;
        if job.kind != BulkKind::Query {
            return Err(ConsoleError::new(
                StatusCode::NOT_FOUND,
                "Nothing to download",
                format!("Job {} is an upload: it has no result to download, only its refused rows.", job.id),
            )
            .next(
                html! { a href={ "/instances/" (record.id) "/bulk/" (job.id) "/errors" } { "See its refused rows" } },
            ));
        }
        // Only the link's `format` chooses: a browser's `Accept` says nothing about the file wanted.
        let format = ResultFormat::wanted(raw.as_deref(), &HeaderMap::new())?;
        let mut response = result_response(&state, &job, format, headers.get(RANGE))?;
        let extension = match format {
            ResultFormat::Csv => "csv",
            ResultFormat::JsonLines => "jsonl",
        };
        let name = format!("bulk-{}-{}.{extension}", job.id, file_name_part(&job.object_name));
        let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
        let response_headers = response.headers_mut();
        response_headers.insert(CONTENT_DISPOSITION, disposition);
        // The organization's records: kept by no cache, and never read as anything but a file.
        response_headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response_headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        Ok(response)
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

/// An object name as a safe part of a file name (letters, digits, `-` and `_`).
fn file_name_part(object: &str) -> String {
    let safe: String = object
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(64)
        .collect();
    if safe.is_empty() {
        "result".into()
    } else {
        safe
    }
}

/// `GET /instances/{id}/bulk/{job}/errors`: the first refused rows, in row order.
pub async fn errors(
    State(state): State<AppState>,
    session: Session,
    PathParam((id, job)): PathParam<(String, String)>,
) -> Response {
    let result = async {
        let record = owned_instance(&state, &session, &id).await?;
        let job = owned_job(&state, &record, &job).await?;
        let errors = state.platform.store.bulk_errors(job.id, 0, ERRORS_SHOWN).await?;
        errors_page(&state, &session, &record, &job, &errors)
    };
    result.await.unwrap_or_else(|error| error.page(&state, Some(&session)))
}

fn errors_page(
    state: &AppState,
    session: &Session,
    record: &InstanceRecord,
    job: &BulkJob,
    errors: &[BulkRowError],
) -> Result<Response, ConsoleError> {
    let element = state.platform.catalog.find(&record.element_key)?;
    let title = format!("Refused rows of job {}", job.id);
    let body = html! {
        p.crumbs {
            a href="/instances" { "Instances" } " / " a href={ "/instances/" (record.id) } { (record.name) } " / "
            a href={ "/instances/" (record.id) "/bulk" } { "Bulk jobs" } " / Job " (job.id)
        }
        h1 { (title) }
        p.muted {
            (job.kind.as_str()) " of " code { (job.object_name) } " · " (status_badge(job.status)) " · "
            (job.records_count) " records · " (job.failed_count) " refused"
        }
        @if let Some(error) = &job.error { p.warning { (error) } }
        @if errors.is_empty() {
            div.empty { p { "No refused row." } }
        } @else {
            @if job.failed_count > errors.len() as u64 {
                p {
                    "The first " (errors.len()) " of " (job.failed_count) " are shown. All of them are at "
                    code { "GET /elements/api-v2/hubs/" (element.hub) "/bulk/" (job.id) "/errors?page=1&pageSize=1000" } "."
                }
            }
            div.table-wrap { table {
                thead { tr { th scope="col" { "Row" } th scope="col" { "Field" } th scope="col" { "Message" } } }
                tbody { @for error in errors { tr {
                    // Row 0 is the job's own failure (an export's), not a row of a file.
                    td { @if error.row == 0 { span.muted { "—" } } @else { (error.row) } }
                    td { @if let Some(field) = &error.field { code { (field) } } @else { span.muted { "—" } } }
                    td { (error.message) }
                } } }
            } }
        }
    };
    let page = Page { title: &title, section: Section::Instances, session: Some(session), notice: None, body };
    Ok(page.respond(state, StatusCode::OK))
}

/// Job `text` of the instance, or the 404 page for it.
async fn owned_job(state: &AppState, record: &InstanceRecord, text: &str) -> Result<BulkJob, ConsoleError> {
    let id = text.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| no_job(record))?;
    state.platform.store.bulk_job(Some(record.id), id).await.map_err(|error| job_error(error, record))
}

fn job_error(error: store::StoreError, record: &InstanceRecord) -> ConsoleError {
    match error {
        store::StoreError::NotFound => no_job(record),
        other => other.into(),
    }
}

/// A 404 for a job that is not the instance's (or does not exist).
fn no_job(record: &InstanceRecord) -> ConsoleError {
    ConsoleError::new(StatusCode::NOT_FOUND, "No such bulk job", "This instance has no bulk job with that id.")
        .next(html! { a href={ "/instances/" (record.id) "/bulk" } { "See the instance's bulk jobs" } })
}

/// The instance page's bulk jobs panel: how many of its jobs wait or run, and the link to them.
pub async fn panel(state: &AppState, record: &InstanceRecord) -> Result<Markup, ConsoleError> {
    let jobs = state.platform.store.list_bulk_jobs(record.id, SUMMARY_SCAN).await?;
    let count = |status: BulkStatus| jobs.iter().filter(|job| job.status == status).count();
    let (running, waiting) = (count(BulkStatus::Running), count(BulkStatus::Created));
    Ok(html! {
        section.panel aria-labelledby="bulk-jobs" {
            h2 #bulk-jobs { "Bulk jobs" }
            p {
                @if jobs.is_empty() { "No bulk job yet. " }
                @else if running + waiting == 0 { "No job running. " }
                @else { (running) " running, " (waiting) " waiting. " }
                a href={ "/instances/" (record.id) "/bulk" } { "Bulk jobs: exports and uploads" }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(status: BulkStatus, records: u64, failed: u64) -> BulkJob {
        let created = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z").unwrap().with_timezone(&Utc);
        BulkJob {
            id: 7,
            organization_id: store::OrganizationId::new(1),
            instance_id: store::InstanceId::new(2),
            kind: BulkKind::Upload,
            object_name: "contacts".into(),
            request: serde_json::json!({}),
            callback_url: None,
            status,
            step: 0,
            position: None,
            records_count: records,
            failed_count: failed,
            vendor_calls: 0,
            expected_count: Some(100),
            json_bytes: 0,
            csv_bytes: 0,
            error: None,
            created_at: created,
            started_at: Some(created + TimeDelta::seconds(10)),
            completed_at: status.is_final().then(|| created + TimeDelta::seconds(30)),
            updated_at: created,
        }
    }

    #[test]
    fn a_running_jobs_rate_counts_written_and_refused_rows_until_now() {
        let running = job(BulkStatus::Running, 30, 10);
        let now = running.started_at.unwrap() + TimeDelta::seconds(8);
        assert_eq!(rate(&running, now), Some(5.0));
    }

    #[test]
    fn a_finished_jobs_rate_stops_at_its_end() {
        let done = job(BulkStatus::Completed, 90, 10);
        let much_later = done.created_at + TimeDelta::days(1);
        assert_eq!(rate(&done, much_later), Some(5.0), "100 rows in the 20 s it ran");
    }

    #[test]
    fn a_job_that_has_not_started_has_no_rate() {
        let waiting = BulkJob { started_at: None, ..job(BulkStatus::Created, 0, 0) };
        assert_eq!(rate(&waiting, Utc::now()), None);
    }

    #[test]
    fn durations_read_in_seconds_minutes_hours_and_days() {
        assert_eq!(duration_text(TimeDelta::milliseconds(300)), "under a second");
        assert_eq!(duration_text(TimeDelta::seconds(-4)), "under a second");
        assert_eq!(duration_text(TimeDelta::seconds(42)), "42 s");
        assert_eq!(duration_text(TimeDelta::seconds(200)), "3 min 20 s");
        assert_eq!(duration_text(TimeDelta::minutes(125)), "2 h 5 min");
        assert_eq!(duration_text(TimeDelta::days(3)), "3 days");
    }

    #[test]
    fn rates_keep_a_decimal_only_when_small() {
        assert_eq!(rate_text(2.345), "2.3 records/s");
        assert_eq!(rate_text(123.6), "124 records/s");
    }

    #[test]
    fn object_names_become_safe_file_names() {
        assert_eq!(file_name_part("contacts"), "contacts");
        assert_eq!(file_name_part("my object\"; x=.."), "my_object___x___");
        assert_eq!(file_name_part(""), "result");
    }

    #[test]
    fn the_cancel_notice_names_only_the_job_number() {
        let cancelled = DoneQuery { done: Some("cancelled".into()), job: Some(12) };
        assert!(matches!(done_notice(&cancelled), Some(Notice::Success(text)) if text.starts_with("Job 12 cancelled")));
        let unknown = DoneQuery { done: Some("<script>".into()), job: Some(12) };
        assert!(done_notice(&unknown).is_none());
        assert!(done_notice(&DoneQuery { done: Some("cancelled".into()), job: None }).is_none());
    }
}
