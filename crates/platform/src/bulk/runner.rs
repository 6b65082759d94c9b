//! The bulk loops every node runs ([`run`]): one claims jobs from the durable queue and runs each
//! step by step, one sends end-of-job notifications, and a periodic job prunes jobs past their
//! retention and refreshes the job gauges.
//!
//! A runner holds its job's queue claim while it runs, renewing it every third of
//! [`BulkConfig::claim_ttl`](super::BulkConfig); a node that dies stops renewing, and the job is
//! claimed again elsewhere once the claim expires. Each step commits only if the job is still at
//! the step its runner read (`store::BulkStore::commit_bulk_step`), so a runner that lost its
//! claim, or whose job was cancelled, stops at its next commit and writes nothing twice. A runner
//! closes the queue row only when its job is over; one that stopped for another runner leaves the
//! row to it (or to its claim's expiry), so a job is never left RUNNING with nobody to run it.
//!
//! Steps: an export reads one vendor page (the largest the vendor gives) and commits its records
//! with the next position. An upload commits each row's outcome with the position after it; a
//! plain create first commits that the row is in flight, so a row interrupted between the
//! vendor's answer and the commit is reported as uncertain instead of being created twice (an
//! upsert finds the row's record again, and just redoes it).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use connector::rate_limit::Priority;
use connector::{CallObserver, VendorError, VendorRequest};
use hub::{HubError, ListParams, Position, ScanQuery, Session, Target};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use store::{BulkFinish, BulkJob, BulkKind, BulkRowError, BulkStep, Job, StoreError, BULK_NOTIFY_QUEUE, BULK_QUEUE};

use super::upload::{self, FilePosition, Row};
use super::{output, status_json, BulkError, QueryRequest, UploadRequest, BACKGROUND_WAIT};
use crate::callback::{check_url, Delivery};
use crate::events::delivery::SIGNATURE_KEY;
use crate::jobs::{run_periodic, run_queue, ClaimHeartbeat, PeriodicJob, QueueWorkers};
use crate::{Platform, PlatformError};

/// Rows of an upload read from the store at a time.
const UPLOAD_BATCH: usize = 200;

/// Runs the bulk loops on `platform` until `shutdown` resolves.
pub async fn run(platform: Platform, shutdown: impl Future<Output = ()>) {
    let workers = QueueWorkers {
        queue: BULK_QUEUE,
        concurrency: platform.bulk.concurrency,
        claim_ttl: platform.bulk.claim_ttl,
        tick: platform.bulk.tick,
    };
    let jobs = run_queue(platform.clone(), workers, |platform, job| async move { run_claimed(&platform, job).await });
    let notifications = notify_loop(platform.clone());
    let housekeeping = run_periodic(platform.clone(), &Housekeeping, Duration::from_secs(60), std::future::pending());
    tokio::select! {
        () = jobs => {}
        () = notifications => {}
        () = housekeeping => {}
        () = shutdown => tracing::info!("bulk runners stopped"),
    }
}

/// Runs one claimed queue job while renewing its claim, then completes or fails it.
async fn run_claimed(platform: &Platform, job: Job) {
    let owner = platform.node_id.as_ref();
    let Some(bulk_id) = job.payload.get("bulkJob").and_then(Value::as_i64) else {
        let _ = platform.store.fail_job(job.id, owner, "not a bulk job payload", None).await;
        return;
    };
    let heartbeat = ClaimHeartbeat::start(platform, job.id, platform.bulk.claim_ttl);
    let outcome = run_job(platform, bulk_id, heartbeat.lost()).await;
    drop(heartbeat);
    let finished = match outcome {
        Ok(()) if !job_ended(platform, bulk_id).await => {
            // Stopped for another runner (the claim lapsed and was taken again, here or
            // elsewhere): the queue row is that runner's to close, and closing it here would
            // leave the job RUNNING with nobody to run it.
            tracing::info!(job = bulk_id, "a bulk runner stopped for another; the job is left to it");
            Ok(())
        }
        Ok(()) => platform.store.complete_job(job.id, owner).await.map(drop),
        Err(error) => {
            tracing::warn!(job = bulk_id, %error, "a bulk job run failed; it resumes from its last step");
            let retry = Utc::now() + TimeDelta::seconds(5);
            platform.store.fail_job(job.id, owner, &error.to_string(), Some(retry)).await.map(drop)
        }
    };
    if let Err(error) = finished {
        tracing::warn!(job = bulk_id, %error, "a bulk job's claim was not closed; it expires by itself");
    }
}

/// Whether bulk job `id` is over (final, or gone). When that cannot be read the queue row is left
/// as it is: its claim expires and the job is looked at again.
async fn job_ended(platform: &Platform, id: i64) -> bool {
    match platform.store.bulk_job(None, id).await {
        Ok(job) => job.status.is_final(),
        Err(StoreError::NotFound) => true,
        Err(error) => {
            tracing::warn!(job = id, %error, "a bulk job's state could not be read after its run");
            false
        }
    }
}

/// Runs job `id` from its last committed step until it ends, is cancelled or the claim is lost.
/// `Err` only for failures of this node (the store); the job's own failures are committed.
async fn run_job(platform: &Platform, id: i64, lost: &AtomicBool) -> Result<(), BulkError> {
    let job = match platform.store.start_bulk_run(id).await {
        Ok(job) => job,
        Err(StoreError::NotFound) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    if job.status.is_final() {
        return Ok(());
    }
    let instance = match platform.store.instance_by_id(job.instance_id).await {
        Ok(instance) => instance,
        Err(StoreError::NotFound) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    let common = platform.common_objects(&instance).await?;
    let call = platform.instance_call(&instance).with_common(common);
    let mut session = call.session(Priority::Background, Some(BACKGROUND_WAIT));
    let calls = CountingObserver { inner: session.call.observer, count: AtomicU64::new(0) };
    session.call.observer = Some(&calls);
    let mut run = Run { platform, job: &job, session, calls: &calls, lost, step: job.step };
    match job.kind {
        BulkKind::Query => run.export().await,
        BulkKind::Upload => run.upload().await,
    }
}

/// Counts a job's vendor calls (retries included) and passes each on.
struct CountingObserver<'a> {
    inner: Option<&'a dyn CallObserver>,
    count: AtomicU64,
}

impl CallObserver for CountingObserver<'_> {
    fn attempted(&self, request: &VendorRequest, status: Option<u16>, took: Duration) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(inner) = self.inner {
            inner.attempted(request, status, took);
        }
    }
}

/// Where an upload is: the next row, and the row sent without its outcome committed yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UploadPosition {
    file: FilePosition,
    in_flight: Option<u64>,
}

/// One running job.
struct Run<'a> {
    platform: &'a Platform,
    job: &'a BulkJob,
    session: Session<'a>,
    calls: &'a CountingObserver<'a>,
    lost: &'a AtomicBool,
    /// The next step to commit.
    step: i64,
}

/// What a step's vendor work came to.
enum Attempted<T> {
    Done(T),
    /// The input was refused (a row's error); the job goes on.
    Refused(HubError),
    /// The vendor kept failing; the job fails with this.
    GaveUp(String),
}

impl Run<'_> {
    async fn export(&mut self) -> Result<(), BulkError> {
        let request: QueryRequest = serde_json::from_value(self.job.request.clone())
            .map_err(|_| BulkError::Store(StoreError::Corrupt("bulk job request")))?;
        let position: Position = self.position()?.unwrap_or_default();
        let query = ScanQuery { where_: request.where_.as_deref(), order_by: request.order_by.as_deref() };
        let object = self.job.object_name.clone();
        let mut page = self.read_page(&object, query, &position).await;
        loop {
            if self.lost.load(Ordering::Relaxed) {
                return Ok(());
            }
            let page_now = match page {
                Attempted::Done(page) => page,
                Attempted::Refused(error) => return self.fail(format!("the export stopped: {error}")).await,
                Attempted::GaveUp(error) => return self.fail(error).await,
            };
            let records: Vec<Map<String, Value>> =
                page_now.records.into_iter().map(|record| self.shaped(record, request.fields.as_deref())).collect();
            let count = records.len() as u64;
            let finish = page_now.next.is_none().then_some(BulkFinish::Completed);
            let step = BulkStep {
                position: serde_json::to_value(page_now.next.as_ref().unwrap_or(&position)).unwrap_or_default(),
                records: Some(output::render(&records, &request.columns)),
                expected_count: if self.step == 0 { page_now.vendor_count } else { None },
                finish,
                ..self.step_base()
            };
            let Some(next) = page_now.next else {
                self.commit(step).await?;
                self.platform.metrics.record_bulk_records("query", count);
                return Ok(());
            };
            // The next page is read while this one is committed: the vendor's latency overlaps
            // the store's. A page read for a job that then stops (cancelled, taken over) is dropped.
            let commit = self.platform.store.commit_bulk_step(&step);
            let (committed, read) = tokio::join!(commit, self.read_page(&object, query, &next));
            if !self.committed(&step, committed?).await? {
                return Ok(());
            }
            self.platform.metrics.record_bulk_records("query", count);
            page = read;
        }
    }

    /// One page of the export at `from`, with the retries of [`Run::attempt`].
    async fn read_page(&self, object: &str, query: ScanQuery<'_>, from: &Position) -> Attempted<hub::ScanPage> {
        let hub = &self.platform.hub;
        let session = self.session;
        self.attempt(|| async { hub.scan_query(&session, object, query, from, usize::MAX).await }).await
    }

    /// A scanned record as the result holds it: the selected fields only, nulls dropped when the
    /// instance drops them.
    fn shaped(&self, mut record: Map<String, Value>, fields: Option<&[String]>) -> Map<String, Value> {
        if let Some(fields) = fields {
            record.retain(|key, _| {
                fields.iter().any(|field| {
                    field == key || field.strip_prefix(key.as_str()).is_some_and(|rest| rest.starts_with(['.', '[']))
                })
            });
        }
        if self.session.drop_nulls {
            record.retain(|_, value| !value.is_null());
        }
        record
    }

    async fn upload(&mut self) -> Result<(), BulkError> {
        let request: UploadRequest = serde_json::from_value(self.job.request.clone())
            .map_err(|_| BulkError::Store(StoreError::Corrupt("bulk job request")))?;
        let file = request.file.clone().ok_or(BulkError::Store(StoreError::Corrupt("bulk job request")))?;
        let store = self.platform.store.as_ref();
        let mut position: UploadPosition =
            self.position()?.unwrap_or(UploadPosition { file: file.start, in_flight: None });
        loop {
            let rows = upload::read_rows(
                store,
                self.job.id,
                request.format,
                file.header.as_deref(),
                position.file,
                UPLOAD_BATCH,
            )
            .await;
            let rows = match rows {
                Ok(rows) => rows,
                // The file was checked before it was queued; a row that does not read now is damage.
                Err(BulkError::BadFile(message)) => {
                    return self.fail(format!("the file could not be read: {message}")).await
                }
                Err(error) => return Err(error),
            };
            let mut start = position.file;
            for row in &rows.rows {
                if self.lost.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let end = FilePosition { offset: row.end_offset, row: row.number };
                let Some(next) = self.write_row(&request, row, start, end, position.in_flight).await? else {
                    return Ok(());
                };
                position = next;
                start = end;
            }
            if rows.end {
                let step = BulkStep {
                    position: serde_json::to_value(position).unwrap_or_default(),
                    finish: Some(BulkFinish::Completed),
                    ..self.step_base()
                };
                self.commit(step).await?;
                return Ok(());
            }
            position.file = rows.next;
        }
    }

    /// Writes one row and commits its outcome with the position after it (`end`). `None`: the
    /// job stopped (cancelled, taken over, or failed).
    async fn write_row(
        &mut self,
        request: &UploadRequest,
        row: &Row,
        start: FilePosition,
        end: FilePosition,
        in_flight: Option<u64>,
    ) -> Result<Option<UploadPosition>, BulkError> {
        let after = UploadPosition { file: end, in_flight: None };
        let definition = hub::objects::object(&self.session, &self.job.object_name)?.definition;
        let csv = request.format == upload::FileFormat::Csv;
        let identifier = request.identifier_field_name.as_deref();
        let outcome: Result<(), BulkRowError> = if in_flight == Some(row.number) && identifier.is_none() {
            Err(BulkRowError {
                row: row.number,
                field: None,
                message: "the job was interrupted while this row was being written: it may or may not have been \
                          created, so it was not sent again; check for it before uploading it again"
                    .into(),
            })
        } else {
            match upload::row_body(row, definition, csv) {
                Err(error) => Err(error),
                Ok(body) => {
                    if identifier.is_none() {
                        let marker = BulkStep {
                            position: serde_json::to_value(UploadPosition { file: start, in_flight: Some(row.number) })
                                .unwrap_or_default(),
                            ..self.step_base()
                        };
                        if !self.commit(marker).await? {
                            return Ok(None);
                        }
                    }
                    let hub = &self.platform.hub;
                    let session = self.session;
                    let object = self.job.object_name.as_str();
                    let id_field = definition.id_field.as_str();
                    let attempted = self
                        .attempt(|| {
                            let body = body.clone();
                            async move { write_one(hub, &session, object, id_field, identifier, body).await }
                        })
                        .await;
                    match attempted {
                        Attempted::Done(()) => Ok(()),
                        Attempted::Refused(error) => Err(row_error(row, &error)),
                        Attempted::GaveUp(error) => {
                            self.fail(format!("the upload stopped at row {}: {error}", row.number)).await?;
                            return Ok(None);
                        }
                    }
                }
            }
        };
        let written = u64::from(outcome.is_ok());
        let step = BulkStep {
            position: serde_json::to_value(after).unwrap_or_default(),
            written,
            errors: outcome.err().into_iter().collect(),
            ..self.step_base()
        };
        if !self.commit(step).await? {
            return Ok(None);
        }
        self.platform.metrics.record_bulk_records("upload", 1);
        Ok(Some(after))
    }

    /// Runs `work` until it succeeds, fails on its input, or has failed transiently
    /// [`BulkConfig::step_attempts`](super::BulkConfig) times (waiting longer after each).
    async fn attempt<T, F, Fut>(&self, mut work: F) -> Attempted<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, HubError>>,
    {
        let config = &self.platform.bulk;
        let mut wait = config.retry_base;
        for attempt in 1..=config.step_attempts.max(1) {
            match work().await {
                Ok(done) => return Attempted::Done(done),
                Err(error) if !is_transient(&error) => return Attempted::Refused(error),
                Err(error) if attempt == config.step_attempts.max(1) => {
                    return Attempted::GaveUp(format!("the vendor kept failing ({attempt} attempts): {error}"));
                }
                Err(error) => {
                    let hinted = match &error {
                        HubError::Vendor(VendorError::LimitReached { retry_after }) => Some(*retry_after),
                        HubError::Vendor(VendorError::Throttled { retry_after }) => *retry_after,
                        _ => None,
                    };
                    tracing::info!(job = self.job.id, attempt, %error, "a bulk step failed; retrying");
                    tokio::time::sleep(hinted.unwrap_or(wait).max(wait)).await;
                    wait *= 2;
                }
            }
        }
        Attempted::GaveUp("no attempt was made".into())
    }

    /// The job's stored position, if it has one.
    fn position<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, BulkError> {
        self.job
            .position
            .clone()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|_| BulkError::Store(StoreError::Corrupt("bulk job position")))
    }

    /// A step of this job at the current step number, carrying the calls made since the last one.
    fn step_base(&self) -> BulkStep {
        BulkStep {
            job_id: self.job.id,
            step: self.step,
            vendor_calls: self.calls.count.swap(0, Ordering::Relaxed),
            ..BulkStep::default()
        }
    }

    /// Commits `step`; false when the job moved on without this runner (cancelled, taken over).
    async fn commit(&mut self, step: BulkStep) -> Result<bool, BulkError> {
        let committed = self.platform.store.commit_bulk_step(&step).await?;
        self.committed(&step, committed).await
    }

    /// Takes note of `step`'s commit (`committed`: whether the store took it).
    async fn committed(&mut self, step: &BulkStep, committed: bool) -> Result<bool, BulkError> {
        let finished = step.finish.is_some();
        if committed {
            self.step += 1;
            if finished {
                let job = self.platform.store.bulk_job(None, self.job.id).await?;
                self.platform.metrics.record_bulk_job_end(job.vendor_calls);
            }
        } else {
            tracing::info!(
                job = self.job.id,
                step = step.step,
                "bulk job moved on (cancelled or taken over); stopping"
            );
        }
        Ok(committed)
    }

    /// Ends the job as FAILED with `error`.
    async fn fail(&mut self, error: String) -> Result<(), BulkError> {
        let position = self.job.position.clone().unwrap_or(Value::Null);
        let step = BulkStep { position, finish: Some(BulkFinish::Failed(error)), ..self.step_base() };
        self.commit(step).await.map(drop)
    }
}

/// Creates the row's record, or with an identifier field updates the record it finds by it.
async fn write_one(
    hub: &hub::Hub,
    session: &Session<'_>,
    object: &str,
    id_field: &str,
    identifier: Option<&str>,
    body: Value,
) -> Result<(), HubError> {
    let found = match identifier.and_then(|field| Some((field, body.get(field)?))) {
        Some((field, value)) if !value.is_null() => {
            let params = ListParams {
                where_: Some(format!("{field} = {}", ceql_literal(value))),
                page_size: Some("2".into()),
                ..ListParams::default()
            };
            let page = hub.list(session, Target::Object(object), &params).await?;
            page.records.into_iter().next().and_then(|record| match record.get(id_field) {
                Some(Value::String(id)) => Some(id.clone()),
                Some(Value::Number(id)) => Some(id.to_string()),
                _ => None,
            })
        }
        _ => None,
    };
    match found {
        Some(id) => hub.update(session, object, &id, body).await.map(drop),
        None => hub.create(session, Target::Object(object), body).await.map(drop),
    }
}

/// `value` as a CEQL literal: text quoted (quotes doubled), numbers and booleans as they are.
fn ceql_literal(value: &Value) -> String {
    match value {
        Value::String(text) => format!("'{}'", text.replace('\'', "''")),
        other => other.to_string(),
    }
}

/// Whether a failure may pass by itself (the vendor's limits, availability, a token being
/// renewed), as opposed to the vendor refusing this input.
fn is_transient(error: &HubError) -> bool {
    match error {
        HubError::Vendor(vendor) => match vendor {
            VendorError::Status { status, .. } => *status >= 500 || matches!(status, 401 | 408 | 429),
            VendorError::InvalidPath => false,
            _ => true,
        },
        HubError::BadRequest(_) | HubError::NotFound(_) | HubError::NotAllowed(_) | HubError::Incomplete { .. } => {
            false
        }
    }
}

/// A refused row's error: the hub's message (with the vendor's own text), and the row's field it
/// names, when it names one.
fn row_error(row: &Row, error: &HubError) -> BulkRowError {
    let message = match error {
        HubError::Vendor(VendorError::Status { status, provider_message }) => match provider_message {
            Some(text) => format!("the vendor refused the row (HTTP {status}): {text}"),
            None => format!("the vendor refused the row (HTTP {status})"),
        },
        HubError::Incomplete { message, provider_message: Some(text) } => format!("{message} (vendor: {text})"),
        other => other.to_string(),
    };
    let lower = message.to_ascii_lowercase();
    let names = |name: &String| {
        let name = name.to_ascii_lowercase();
        lower.contains(&format!("'{name}'"))
            || lower.contains(&format!("\"{name}\""))
            || lower
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|word| word == name || word.replace('_', "") == name)
    };
    let field = row.values.keys().find(|name| names(name)).cloned();
    BulkRowError { row: row.number, field, message }
}

/// Sends the end-of-job notifications queued with the jobs' last steps.
async fn notify_loop(platform: Platform) {
    let tick = platform.bulk.tick;
    loop {
        let owner = platform.node_id.as_ref();
        let jobs = platform.store.claim_jobs(BULK_NOTIFY_QUEUE, owner, Duration::from_secs(60), 8).await;
        for job in jobs.unwrap_or_else(|error| {
            tracing::warn!(%error, "bulk notifications could not be claimed");
            Vec::new()
        }) {
            let outcome = notify(&platform, &job).await;
            let closed = match outcome {
                Ok(()) => platform.store.complete_job(job.id, owner).await.map(drop),
                Err(error) => {
                    let retry = Utc::now() + TimeDelta::seconds(10 << job.attempts.min(10));
                    platform.store.fail_job(job.id, owner, &error, Some(retry)).await.map(drop)
                }
            };
            if let Err(error) = closed {
                tracing::warn!(job = job.id, %error, "a bulk notification's claim was not closed");
            }
        }
        tokio::time::sleep(tick).await;
    }
}

/// POSTs the job's status to its callback URL, signed like event notifications.
async fn notify(platform: &Platform, job: &Job) -> Result<(), String> {
    let id = job.payload.get("bulkJob").and_then(Value::as_i64).ok_or("not a bulk notification payload")?;
    let bulk = match platform.store.bulk_job(None, id).await {
        Ok(bulk) => bulk,
        Err(StoreError::NotFound) => return Ok(()),
        Err(error) => return Err(error.to_string()),
    };
    let Some(url) = bulk.callback_url.as_deref() else { return Ok(()) };
    let instance = platform.store.instance_by_id(bulk.instance_id).await.map_err(|error| error.to_string())?;
    let url = check_url(url, &platform.events.callbacks.policy()).map_err(|error| error.to_string())?;
    // Signed with the instance's events key, as its event notifications are.
    let key = instance.secrets.get(SIGNATURE_KEY).map(|key| key.expose().as_bytes().to_vec());
    let webhook_id = format!("bulk-{id}");
    let delivery = Delivery { webhook_id: &webhook_id, signature_key: key.as_deref() };
    let body = status_json(&bulk).to_string();
    match platform.events.callbacks.post_json(&url, body.as_bytes(), &delivery).await {
        Ok(outcome) if outcome.is_delivered() => Ok(()),
        Ok(outcome) => Err(outcome.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

/// Prunes jobs past the retention, and sets the job gauges.
struct Housekeeping;

#[async_trait]
impl PeriodicJob for Housekeeping {
    fn name(&self) -> &'static str {
        "bulk-housekeeping"
    }

    async fn run_once(&self, platform: &Platform) -> Result<bool, PlatformError> {
        let retention = TimeDelta::from_std(platform.bulk.retention).unwrap_or(TimeDelta::MAX);
        let before = Utc::now().checked_sub_signed(retention).unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
        let pruned = platform.store.prune_bulk_jobs(before).await?;
        if pruned > 0 {
            tracing::info!(pruned, "bulk jobs past their retention deleted");
        }
        platform.metrics.set_bulk_jobs(&platform.store.bulk_job_counts().await?);
        Ok(false)
    }
}
