//! `/hubs/{hub}/bulk/...`: the platforms' bulk jobs over HTTP. Query jobs
//! (`POST /bulk/query?q=`), uploads (`POST /bulk/{object}`, multipart `file` and `metaData`), the
//! instance's jobs (`GET /bulk/jobs`), a job's status, cancel and errors, and its result as JSON
//! lines or CSV with `Range` (`GET /bulk/{id}/{object}`). The work is `platform::bulk`'s; this
//! module reads requests and writes answers.

use axum::body::Body;
use axum::extract::{Multipart, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use platform::bulk::upload::FileFormat;
use platform::bulk::{self, output, BulkError, QueryRequest};
use serde::Deserialize;
use serde_json::{json, Value};
use store::{BulkJob, BulkKind, InstanceRecord};

use crate::auth::HubAuth;
use crate::error::ApiError;
use crate::json_body::{QueryParams, RawBody};
use crate::path_param::PathParam;
use crate::state::AppState;

use super::response::HubResponse;

/// The header naming where the end of a job is notified.
const CALLBACK_HEADER: &str = "elements-async-callback-url";
/// Jobs listed at most.
const JOBS_LISTED: u32 = 200;
/// Result chunks read from the store per step of a download.
const CHUNKS_PER_READ: u32 = 8;
/// The largest `metaData` part.
const MAX_METADATA_BYTES: usize = 64 * 1024;
/// What a multipart body may hold besides the file: boundaries, part headers, `metaData`.
const MAX_FRAMING_BYTES: u64 = 2 * MAX_METADATA_BYTES as u64;

#[derive(Deserialize)]
pub struct QueryJobParams {
    q: Option<String>,
}

/// `POST /hubs/{hub}/bulk/query?q=...` (or `{"q": ...}` as a JSON body).
pub async fn create_query(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    QueryParams(params): QueryParams<QueryJobParams>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> HubResponse {
    let result = async {
        // A body, when there is one, must be right whether or not the query string has `q` too
        // (which wins).
        let q = match (params.q, query_in_body(&body)?) {
            (Some(q), _) | (None, Some(q)) => q,
            (None, None) => {
                return Err(ApiError::BadRequest(
                    "Missing parameter 'q': a bulk query job needs `q=select ... from ...`".into(),
                ))
            }
        };
        let callback = callback_url(&headers)?;
        let job = bulk::create_query_job(&state.platform, &instance, &q, callback.as_deref()).await?;
        Ok((StatusCode::OK, Json(json!({"id": job.id.to_string(), "status": job.status.as_str()}))).into_response())
    }
    .await;
    HubResponse::new(&instance, result)
}

/// The `q` of a JSON body `{"q": "..."}`; `None` without a body or without `q` in it.
fn query_in_body(body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|error| ApiError::BadRequest(format!("Malformed JSON body: {error}")))?;
    let Value::Object(fields) = value else {
        return Err(ApiError::BadRequest("The request body must be a JSON object: {\"q\": \"select ...\"}".into()));
    };
    match fields.get("q") {
        None => Ok(None),
        Some(Value::String(q)) => Ok(Some(q.clone())),
        Some(_) => Err(ApiError::BadRequest("Invalid field 'q': expected a string".into())),
    }
}

fn callback_url(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get(CALLBACK_HEADER) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|url| Some(url.to_string()))
            .map_err(|_| ApiError::BadRequest("Elements-Async-Callback-Url: not a valid URL".into())),
    }
}

/// `GET /hubs/{hub}/bulk/jobs`: the instance's jobs, newest first.
pub async fn list_jobs(State(state): State<AppState>, HubAuth { instance }: HubAuth) -> HubResponse {
    let result = async {
        let jobs = state.platform.store.list_bulk_jobs(instance.id, JOBS_LISTED).await?;
        let statuses: Vec<Value> = jobs.iter().map(bulk::status_json).collect();
        Ok(Json(statuses).into_response())
    }
    .await;
    HubResponse::new(&instance, result)
}

/// `GET /hubs/{hub}/bulk/{id}/status`.
pub async fn status(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, id)): PathParam<(String, String)>,
) -> HubResponse {
    let result = async {
        let job = job_of(&state, &instance, &id).await?;
        Ok(Json(bulk::status_json(&job)).into_response())
    }
    .await;
    HubResponse::new(&instance, result)
}

/// `PUT /hubs/{hub}/bulk/{id}/cancel`: a job not yet ended is CANCELLED (its runner stops at its
/// next step); an ended one is answered as it is.
pub async fn cancel(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, id)): PathParam<(String, String)>,
) -> HubResponse {
    let result = async {
        let id = job_id(&id)?;
        let job = state.platform.store.cancel_bulk_job(instance.id, id).await.map_err(BulkError::from)?;
        Ok(Json(bulk::status_json(&job)).into_response())
    }
    .await;
    HubResponse::new(&instance, result)
}

#[derive(Deserialize)]
pub struct ErrorParams {
    page: Option<String>,
    #[serde(rename = "pageSize")]
    page_size: Option<String>,
}

/// `GET /hubs/{hub}/bulk/{id}/errors?page=&pageSize=`: refused rows in row order.
pub async fn errors(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, id)): PathParam<(String, String)>,
    QueryParams(params): QueryParams<ErrorParams>,
) -> HubResponse {
    let result = async {
        let job = job_of(&state, &instance, &id).await?;
        let page = positive(params.page.as_deref(), "page")?.unwrap_or(1);
        let page_size = positive(params.page_size.as_deref(), "pageSize")?.unwrap_or(200);
        if page_size > 1000 {
            return Err(ApiError::BadRequest("Invalid parameter 'pageSize': at most 1000".into()));
        }
        let offset = (page - 1).saturating_mul(page_size);
        let errors = state.platform.store.bulk_errors(job.id, offset, page_size as u32).await?;
        let body: Vec<Value> = errors
            .iter()
            .map(|error| json!({"row": error.row, "field": error.field, "message": error.message}))
            .collect();
        let mut response = Json(body).into_response();
        response.headers_mut().insert("elements-total-count", HeaderValue::from(job.failed_count));
        Ok(response)
    }
    .await;
    HubResponse::new(&instance, result)
}

fn positive(text: Option<&str>, name: &str) -> Result<Option<u64>, ApiError> {
    match text.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(Some)
            .ok_or_else(|| ApiError::BadRequest(format!("Invalid parameter '{name}': expected a positive integer"))),
    }
}

/// `GET /hubs/{hub}/bulk/{id}/{objectName}`: the result so far, as JSON lines (`Accept:
/// application/json` or `application/x-ndjson`, the default) or CSV (`text/csv`), or as
/// `?format=csv|jsonl` says.
pub async fn result(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, id, object)): PathParam<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> HubResponse {
    let result = async {
        let job = job_of(&state, &instance, &id).await?;
        if !job.object_name.eq_ignore_ascii_case(&object) {
            let shown: String = object.chars().take(64).collect();
            return Err(ApiError::NotFound(format!(
                "Bulk job {} reads {}, not {shown}: its result is at /bulk/{}/{}",
                job.id, job.object_name, job.id, job.object_name
            )));
        }
        let format = ResultFormat::wanted(query.as_deref(), &headers)?;
        result_response(&state, &job, format, headers.get(header::RANGE))
    }
    .await;
    HubResponse::new(&instance, result)
}

/// A job's id from its path segment; anything else is a 404 (as an unknown id is).
fn job_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| ApiError::NotFound(BulkError::NotFound.to_string()))
}

async fn job_of(state: &AppState, instance: &InstanceRecord, id: &str) -> Result<BulkJob, ApiError> {
    let id = job_id(id)?;
    Ok(state.platform.store.bulk_job(Some(instance.id), id).await.map_err(BulkError::from)?)
}

/// The two formats of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    JsonLines,
    Csv,
}

impl ResultFormat {
    /// `?format=` when given, else the `Accept` header (JSON lines unless it prefers CSV).
    pub fn wanted(query: Option<&str>, headers: &HeaderMap) -> Result<Self, ApiError> {
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|_| ApiError::BadRequest("The query string is not valid URL encoding".into()))?;
        if let Some((_, format)) = params.iter().find(|(name, _)| name == "format") {
            return match format.to_ascii_lowercase().as_str() {
                "csv" => Ok(Self::Csv),
                "json" | "jsonl" | "ndjson" => Ok(Self::JsonLines),
                _ => Err(ApiError::BadRequest("Invalid parameter 'format': expected csv or jsonl".into())),
            };
        }
        let accept = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok()).unwrap_or("");
        let csv =
            accept.split(',').next().is_some_and(|first| first.trim().to_ascii_lowercase().starts_with("text/csv"));
        Ok(if csv { Self::Csv } else { Self::JsonLines })
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::JsonLines => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// The job's result in `format` as it stands now, whole or the `range` asked for (one `bytes=`
/// range), streamed from the store chunk by chunk. A running job's result is what is committed
/// when the request arrives; its length is that of the snapshot.
pub fn result_response(
    state: &AppState,
    job: &BulkJob,
    format: ResultFormat,
    range: Option<&HeaderValue>,
) -> Result<Response, ApiError> {
    if job.kind != BulkKind::Query {
        return Err(ApiError::NotFound(format!(
            "Bulk job {} is an upload: it has no result to download; read /bulk/{}/status and /bulk/{}/errors",
            job.id, job.id, job.id
        )));
    }
    let header = match format {
        ResultFormat::JsonLines => String::new(),
        ResultFormat::Csv => {
            let request: QueryRequest = serde_json::from_value(job.request.clone())
                .map_err(|_| ApiError::Store(store::StoreError::Corrupt("bulk job request")))?;
            output::csv_header(&request.columns)
        }
    };
    let body_bytes = match format {
        ResultFormat::JsonLines => job.json_bytes,
        ResultFormat::Csv => job.csv_bytes,
    };
    let total = header.len() as u64 + body_bytes;
    let (start, end) = match range {
        None => (0, total),
        Some(value) => byte_range(value, total)?,
    };
    let reader = ResultReader {
        store: std::sync::Arc::clone(&state.platform.store),
        job_id: job.id,
        csv: format == ResultFormat::Csv,
        header: header.into_bytes(),
        at: start,
        end,
    };
    let stream = futures_util::stream::try_unfold(reader, |mut reader| async move {
        match reader.next_bytes().await {
            Ok(Some(bytes)) => Ok(Some((bytes, reader))),
            Ok(None) => Ok(None),
            Err(error) => {
                tracing::warn!(%error, "a bulk result download stopped: the store failed");
                Err(std::io::Error::other("the store failed"))
            }
        }
    });
    let status = if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let mut response = (status, Body::from_stream(stream)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert("elements-bulk-status", HeaderValue::from_static(job.status.as_str()));
    if range.is_some() {
        let complete = if job.status.is_final() { total.to_string() } else { "*".to_string() };
        let value = format!("bytes {start}-{}/{complete}", end.saturating_sub(1));
        headers.insert(header::CONTENT_RANGE, HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("")));
    }
    Ok(response)
}

/// The `[start, end)` of `Range: bytes=a-b` (or `a-`, or `-n`, the last n) over `total` bytes.
fn byte_range(value: &HeaderValue, total: u64) -> Result<(u64, u64), ApiError> {
    let bad = || ApiError::BadRequest("Invalid Range header: expected one range, bytes=START-[END]".into());
    let text = value.to_str().map_err(|_| bad())?.trim();
    let spec = text.strip_prefix("bytes=").ok_or_else(bad)?;
    if spec.contains(',') {
        return Err(ApiError::BadRequest("Invalid Range header: only one range is served per request".into()));
    }
    let (first, last) = spec.split_once('-').ok_or_else(bad)?;
    let number = |text: &str| {
        let digits = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
        digits.then(|| text.parse::<u64>().ok()).flatten().ok_or_else(bad)
    };
    if !first.is_empty() && !last.is_empty() && number(last)? < number(first)? {
        return Err(ApiError::RangeNotSatisfiable("The range ends before it starts".into()));
    }
    let (start, end) = match (first.is_empty(), last.is_empty()) {
        (true, false) => (total.saturating_sub(number(last)?), total),
        (false, true) => (number(first)?, total),
        (false, false) => (number(first)?, number(last)?.saturating_add(1).min(total)),
        (true, true) => return Err(bad()),
    };
    if start >= total || start >= end {
        return Err(ApiError::RangeNotSatisfiable(format!(
            "The range starts at or after the end of the result ({total} bytes so far)"
        )));
    }
    Ok((start, end))
}

/// Reads `[at, end)` of a result: the CSV header's bytes, then the stored chunks'.
struct ResultReader {
    store: std::sync::Arc<dyn store::Store>,
    job_id: i64,
    csv: bool,
    header: Vec<u8>,
    at: u64,
    end: u64,
}

impl ResultReader {
    async fn next_bytes(&mut self) -> Result<Option<Vec<u8>>, store::StoreError> {
        if self.at >= self.end {
            return Ok(None);
        }
        let header_len = self.header.len() as u64;
        if self.at < header_len {
            let slice = self.header[self.at as usize..self.end.min(header_len) as usize].to_vec();
            self.at += slice.len() as u64;
            return Ok(Some(slice));
        }
        let from = self.at - header_len;
        let chunks = self.store.bulk_results(self.job_id, from, self.csv, CHUNKS_PER_READ).await?;
        let mut out = Vec::new();
        for stored in chunks {
            let (start, text) =
                if self.csv { (stored.csv_start, stored.chunk.csv) } else { (stored.json_start, stored.chunk.json) };
            let absolute = header_len + start;
            let skip = self.at.saturating_sub(absolute) as usize;
            let take = (self.end - absolute).min(text.len() as u64) as usize;
            if skip < take {
                out.extend_from_slice(&text.as_bytes()[skip..take]);
                self.at = absolute + take as u64;
            }
            if self.at >= self.end {
                break;
            }
        }
        if out.is_empty() {
            // The snapshot said more bytes were there; none are (pruned meanwhile): stop.
            self.end = self.at;
            return Ok(None);
        }
        Ok(Some(out))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MetaData {
    identifier_field_name: Option<String>,
}

/// `POST /hubs/{hub}/bulk/{objectName}`: a multipart upload of `file` (CSV or JSON lines) with
/// optional `metaData` (`{"identifierFieldName": "Email"}` for an upsert), received into the store
/// part by part, checked whole, then queued.
pub async fn upload(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, object)): PathParam<(String, String)>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> HubResponse {
    let result = async {
        // A declared size over the limit (plus room for the multipart framing) is refused before a
        // byte is read or stored; a body without one is cut off at the limit as it streams.
        let limit = state.platform.bulk.max_upload_bytes;
        let declared = headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit.saturating_add(MAX_FRAMING_BYTES)) {
            return Err(ApiError::PayloadTooLarge(usize::try_from(limit).unwrap_or(usize::MAX)));
        }
        let mut multipart = multipart.map_err(|_| {
            ApiError::UnsupportedMediaType(
                "A bulk upload is multipart/form-data with a `file` part (CSV or JSON lines) and an optional \
                 `metaData` part"
                    .into(),
            )
        })?;
        let callback = callback_url(&headers)?;
        let platform = &state.platform;
        let too_large = |error| multipart_error(error, platform.bulk.max_upload_bytes);
        let mut identifier: Option<String> = None;
        let mut started: Option<(bulk::Upload, u64)> = None;
        let outcome: Result<(), ApiError> = async {
            while let Some(mut field) = multipart.next_field().await.map_err(&too_large)? {
                match field.name().unwrap_or("") {
                    "metaData" | "metadata" => {
                        let mut text = Vec::new();
                        while let Some(bytes) = field.chunk().await.map_err(&too_large)? {
                            text.extend_from_slice(&bytes);
                            if text.len() > MAX_METADATA_BYTES {
                                return Err(ApiError::BadRequest("metaData is larger than 64 KB".into()));
                            }
                        }
                        let meta: MetaData = serde_json::from_slice(&text)
                            .map_err(|error| ApiError::BadRequest(format!("Invalid metaData: {error}")))?;
                        identifier = meta.identifier_field_name;
                        if let Some((upload, _)) = started.as_mut() {
                            upload.identify(platform, &instance, identifier.as_deref()).await?;
                        }
                    }
                    "file" => {
                        if started.is_some() {
                            return Err(ApiError::BadRequest("Only one `file` part is accepted per upload".into()));
                        }
                        let declared = FileFormat::declared(field.content_type(), field.file_name());
                        let first = field.chunk().await.map_err(&too_large)?.unwrap_or_default();
                        let format = declared.unwrap_or_else(|| FileFormat::sniffed(&first));
                        let upload = bulk::begin_upload(
                            platform,
                            &instance,
                            &object,
                            format,
                            identifier.as_deref(),
                            callback.as_deref(),
                        )
                        .await?;
                        let mut writer = upload.writer(platform);
                        started = Some((upload, 0));
                        writer.write(&first).await?;
                        while let Some(bytes) = field.chunk().await.map_err(&too_large)? {
                            writer.write(&bytes).await?;
                        }
                        let size = writer.finish().await?;
                        if let Some(started) = started.as_mut() {
                            started.1 = size;
                        }
                    }
                    _ => {
                        // Other parts are read and dropped, within the same size limit as the file.
                        let mut seen = 0usize;
                        while let Some(bytes) = field.chunk().await.map_err(&too_large)? {
                            seen += bytes.len();
                            if seen > MAX_METADATA_BYTES {
                                return Err(ApiError::BadRequest(
                                    "Unknown multipart part: only `file` and `metaData` are read".into(),
                                ));
                            }
                        }
                    }
                }
            }
            Ok(())
        }
        .await;
        let Some((upload, size)) = started else {
            outcome?;
            return Err(ApiError::BadRequest("The upload has no `file` part".into()));
        };
        if let Err(error) = outcome {
            upload.abandon(platform).await;
            return Err(error);
        }
        if size == 0 {
            upload.abandon(platform).await;
            return Err(BulkError::BadFile("the file is empty".into()).into());
        }
        let job = bulk::finish_upload(platform, &instance, upload).await?;
        Ok(Json(json!({"id": job.id.to_string(), "status": job.status.as_str()})).into_response())
    }
    .await;
    HubResponse::new(&instance, result)
}

/// A multipart stream that breaks off: over the size limit, or not multipart at all.
fn multipart_error(error: axum::extract::multipart::MultipartError, limit: u64) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::PayloadTooLarge(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    ApiError::BadRequest(format!("The multipart body could not be read: {}", error.body_text()))
}

/// Any other method or path under `/hubs/{hub}/bulk`.
pub async fn unknown(HubAuth { instance }: HubAuth) -> HubResponse {
    let message = "No such bulk resource: POST /bulk/query, POST /bulk/{object}, GET /bulk/jobs, \
                   GET /bulk/{id}/status, PUT /bulk/{id}/cancel, GET /bulk/{id}/errors, GET /bulk/{id}/{object}";
    HubResponse::new(&instance, Err(ApiError::NotFound(message.into())))
}
