//! Bulk jobs: query exports and CSV/JSON-lines uploads that run in the background, on any node,
//! through the hub engine.
//!
//! - this module: what a job is asked to do ([`QueryRequest`], [`UploadRequest`]), creating jobs
//!   ([`create_query_job`], [`begin_upload`] then [`finish_upload`]), the status document
//!   ([`status_json`]) and [`BulkError`];
//! - [`query`]: the `q` text; [`output`]: the result's JSON lines and CSV;
//! - [`upload`]: an uploaded file's parts, checks, rows and bodies;
//! - [`runner`]: the loops that claim jobs from the durable queue and run them step by step,
//!   notify callback URLs, and prune old jobs.
//!
//! A job's state lives in the store (`store::bulk`): its runner commits each step (a vendor page
//! of an export, a row of an upload) with the next position, so a job interrupted anywhere resumes
//! from its last commit on whichever node claims it next, without duplicates or gaps.

pub mod output;
pub mod query;
pub mod runner;
pub mod upload;

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use connector::rate_limit::Priority;
use hub::{HubError, ScanQuery};
use mapping::Operation;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use store::{BulkJob, BulkKind, InstanceRecord, NewBulkJob, StoreError};

use crate::Platform;
use upload::{CheckedFile, FileFormat, UploadWriter};

/// How bulk jobs run on this node.
#[derive(Debug, Clone)]
pub struct BulkConfig {
    /// How long a final job's status, results and errors are kept (`--bulk-retention`).
    pub retention: Duration,
    /// The largest upload accepted (`--bulk-max-upload`).
    pub max_upload_bytes: u64,
    /// Jobs one node runs at once.
    pub concurrency: usize,
    /// A runner's claim on a job; renewed while it runs, so a dead node's jobs move on after it.
    pub claim_ttl: Duration,
    /// How often idle runners look for jobs.
    pub tick: Duration,
    /// Tries of one step against transient vendor failures before the job fails.
    pub step_attempts: u32,
    /// The first retry's wait; each next one doubles it.
    pub retry_base: Duration,
}

impl Default for BulkConfig {
    fn default() -> Self {
        BulkConfig {
            retention: Duration::from_secs(7 * 24 * 3600),
            max_upload_bytes: 1024 * 1024 * 1024,
            concurrency: 4,
            claim_ttl: Duration::from_secs(15),
            tick: Duration::from_secs(1),
            step_attempts: 6,
            retry_base: Duration::from_secs(1),
        }
    }
}

/// How long a bulk call may queue for the vendor's rate limit: background work waits its turn.
pub const BACKGROUND_WAIT: Duration = Duration::from_secs(600);

/// Why a bulk request could not be done.
#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    /// The request is wrong (the message names what).
    #[error("{0}")]
    BadRequest(String),
    /// The uploaded file is not what it must be (the message names the row and the problem).
    #[error("The uploaded file was refused: {0}")]
    BadFile(String),
    /// The upload is larger than the limit (bytes).
    #[error("The uploaded file is larger than the limit of {0} bytes")]
    TooLarge(u64),
    #[error("No bulk job with this id for this instance")]
    NotFound,
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for BulkError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => BulkError::NotFound,
            other => BulkError::Store(other),
        }
    }
}

/// What a query job reads, as stored with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryRequest {
    pub q: String,
    /// The selected fields as the object spells them (`None`: all).
    pub fields: Option<Vec<String>>,
    #[serde(rename = "where")]
    pub where_: Option<String>,
    pub order_by: Option<String>,
    /// The CSV header.
    pub columns: Vec<String>,
}

/// What an upload job writes, as stored with it once its file is checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadRequest {
    pub format: FileFormat,
    /// Upsert: the field a row is found by (as the object spells it).
    pub identifier_field_name: Option<String>,
    /// Set once the file is checked.
    pub file: Option<CheckedFile>,
}

/// Creates a query job of `instance` for `q` (checked against the object, without calling the
/// vendor), ending with a notification to `callback_url` when given.
pub async fn create_query_job(
    platform: &Platform,
    instance: &InstanceRecord,
    q: &str,
    callback_url: Option<&str>,
) -> Result<BulkJob, BulkError> {
    let parsed = query::parse(q).map_err(BulkError::BadRequest)?;
    let common = platform.common_objects(instance).await?;
    let call = platform.instance_call(instance).with_common(common);
    let session = call.session(Priority::Background, None);
    let scan = ScanQuery { where_: parsed.where_.as_deref(), order_by: parsed.order_by.as_deref() };
    let (object, all_fields) = platform.hub.check_scan(&session, &parsed.object, scan)?;
    let resolved = hub::objects::object(&session, &object)?;
    let fields = match &parsed.fields {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|name| {
                    resolved.definition.field(name).map(|field| field.name.clone()).ok_or_else(|| {
                        let shown: String = name.chars().take(64).collect();
                        BulkError::BadRequest(format!("Invalid parameter 'q': '{shown}' is not a field of {object}"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let columns = fields.clone().unwrap_or(all_fields);
    let request =
        QueryRequest { q: q.trim().to_string(), fields, where_: parsed.where_, order_by: parsed.order_by, columns };
    let callback_url = checked_callback(platform, callback_url)?;
    let new = NewBulkJob {
        organization_id: instance.organization_id,
        instance_id: instance.id,
        kind: BulkKind::Query,
        object_name: object,
        request: serde_json::to_value(&request).unwrap_or_default(),
        callback_url,
    };
    let id = platform.store.create_bulk_job(&new, false).await?;
    Ok(platform.store.bulk_job(Some(instance.id), id).await?)
}

/// An upload being received: the job exists (invisible until [`finish_upload`]) and its file is
/// written through [`Upload::writer`].
pub struct Upload {
    pub job_id: i64,
    object: String,
    request: UploadRequest,
}

/// Starts an upload job of `instance` writing `object`: checks the object takes creates (and
/// updates, for an upsert by `identifier`) and the callback URL, and creates the job.
pub async fn begin_upload(
    platform: &Platform,
    instance: &InstanceRecord,
    object: &str,
    format: FileFormat,
    identifier: Option<&str>,
    callback_url: Option<&str>,
) -> Result<Upload, BulkError> {
    let common = platform.common_objects(instance).await?;
    let resolved = hub::objects::lookup(&instance.element_key, Some(&common), object)?;
    hub::objects::allow(resolved.name, resolved.definition, Operation::Create)?;
    let identifier = identifier_field(platform, instance, resolved.name, identifier).await?;
    let callback_url = checked_callback(platform, callback_url)?;
    let request = UploadRequest { format, identifier_field_name: identifier, file: None };
    let new = NewBulkJob {
        organization_id: instance.organization_id,
        instance_id: instance.id,
        kind: BulkKind::Upload,
        object_name: resolved.name.to_string(),
        request: serde_json::to_value(&request).unwrap_or_default(),
        callback_url,
    };
    let job_id = platform.store.create_bulk_job(&new, true).await?;
    Ok(Upload { job_id, object: resolved.name.to_string(), request })
}

/// The field an upsert finds rows by, as `object` spells it; the object must take updates and lists.
async fn identifier_field(
    platform: &Platform,
    instance: &InstanceRecord,
    object: &str,
    name: Option<&str>,
) -> Result<Option<String>, BulkError> {
    let Some(name) = name.map(str::trim).filter(|name| !name.is_empty()) else { return Ok(None) };
    let common = platform.common_objects(instance).await?;
    let resolved = hub::objects::lookup(&instance.element_key, Some(&common), object)?;
    hub::objects::allow(resolved.name, resolved.definition, Operation::Update)?;
    hub::objects::allow(resolved.name, resolved.definition, Operation::List)?;
    let field = resolved.definition.field(name).ok_or_else(|| {
        let shown: String = name.chars().take(64).collect();
        BulkError::BadRequest(format!(
            "Invalid metaData: identifierFieldName '{shown}' is not a field of {}",
            resolved.name
        ))
    })?;
    Ok(Some(field.name.clone()))
}

impl Upload {
    /// Sets the upsert's identifier field (a `metaData` part that came after the file).
    pub async fn identify(
        &mut self,
        platform: &Platform,
        instance: &InstanceRecord,
        name: Option<&str>,
    ) -> Result<(), BulkError> {
        self.request.identifier_field_name = identifier_field(platform, instance, &self.object, name).await?;
        Ok(())
    }
    /// Where the file's bytes go.
    pub fn writer<'a>(&self, platform: &'a Platform) -> UploadWriter<'a> {
        UploadWriter::new(platform.store.as_ref(), self.job_id, platform.bulk.max_upload_bytes)
    }

    /// Deletes the job and what arrived of its file (the upload was refused).
    pub async fn abandon(self, platform: &Platform) {
        if let Err(error) = platform.store.delete_bulk_job(self.job_id).await {
            tracing::warn!(job = self.job_id, %error, "a refused upload was not deleted; the retention will");
        }
    }
}

/// Checks the whole received file of `upload` and queues the job; a malformed file deletes the
/// job and is [`BulkError::BadFile`], before any vendor call.
pub async fn finish_upload(
    platform: &Platform,
    instance: &InstanceRecord,
    upload: Upload,
) -> Result<BulkJob, BulkError> {
    let common = platform.common_objects(instance).await?;
    let checked = match hub::objects::lookup(&instance.element_key, Some(&common), &upload.object) {
        Ok(resolved) => {
            upload::check_file(platform.store.as_ref(), upload.job_id, upload.request.format, resolved.definition).await
        }
        Err(error) => Err(error.into()),
    };
    let checked = match checked {
        Ok(checked) => checked,
        Err(error) => {
            upload.abandon(platform).await;
            return Err(error);
        }
    };
    let rows = checked.rows;
    let request = UploadRequest { file: Some(checked), ..upload.request.clone() };
    let request = serde_json::to_value(&request).unwrap_or_default();
    Ok(platform.store.queue_uploaded_bulk_job(upload.job_id, &request, rows).await?)
}

/// The callback URL checked against the outbound-address policy (as event callbacks are).
fn checked_callback(platform: &Platform, url: Option<&str>) -> Result<Option<String>, BulkError> {
    let Some(url) = url.map(str::trim).filter(|url| !url.is_empty()) else { return Ok(None) };
    crate::callback::check_url(url, &platform.events.callbacks.policy())
        .map_err(|error| BulkError::BadRequest(format!("Elements-Async-Callback-Url: {error}")))?;
    Ok(Some(url.to_string()))
}

/// The status document of `job` (`GET /hubs/{hub}/bulk/{id}/status`, the callback's body).
pub fn status_json(job: &BulkJob) -> Value {
    let time = |at: Option<DateTime<Utc>>| at.map(|at| at.to_rfc3339_opts(SecondsFormat::Millis, true));
    let mut status = json!({
        "id": job.id.to_string(),
        "status": job.status.as_str(),
        "type": job.kind.as_str(),
        "objectName": job.object_name,
        "recordsCount": job.records_count,
        "recordsFailedCount": job.failed_count,
        "vendorCalls": job.vendor_calls,
        "createdDate": time(Some(job.created_at)),
        "startedDate": time(job.started_at),
        "completedDate": time(job.completed_at),
        "estimatedCompletion": time(estimated_completion(job, Utc::now())),
    });
    if let Some(expected) = job.expected_count {
        status["expectedRecordsCount"] = json!(expected);
    }
    if let Some(request) = job.request.get("q") {
        status["query"] = request.clone();
    }
    if let Some(error) = &job.error {
        status["error"] = json!(error);
    }
    status
}

/// When a running job will end at its rate so far, when the expected count is known.
pub fn estimated_completion(job: &BulkJob, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if job.status.is_final() {
        return job.completed_at;
    }
    let started = job.started_at?;
    let expected = job.expected_count?;
    let done = job.records_count + job.failed_count;
    let elapsed = (now - started).num_milliseconds().max(1) as f64;
    if done == 0 {
        return None;
    }
    let left = expected.saturating_sub(done) as f64;
    let millis = (left * elapsed / done as f64).min(1e12) as i64;
    Some(now + chrono::TimeDelta::milliseconds(millis))
}
