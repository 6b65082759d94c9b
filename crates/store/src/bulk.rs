//! Bulk jobs' values: a job ([`BulkJob`], [`NewBulkJob`]), where it is ([`BulkStatus`]), what one
//! committed step writes ([`BulkStep`]), and what readers get back ([`ResultChunk`],
//! [`BulkRowError`]). The SQL is in `bulk_sql`, the tables in the `bulk` migration.
//!
//! A job moves by committed steps: each step is one vendor page of an export, or one row of an
//! upload, and commits its records (or its row's outcome), its counters and the position of the
//! next step in one transaction, only if the job is still at the step its runner read. So a step is
//! recorded once whatever runners die or overlap, and a resumed job goes on from the last commit.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::records::{InstanceId, OrganizationId};
use crate::repository::{Result, StoreError};

/// The queue bulk jobs are claimed from (`crate::queue`); its payload is `{"bulkJob": id}`.
pub const BULK_QUEUE: &str = "bulk";
/// The queue of end-of-job notifications to the job's callback URL; payload `{"bulkJob": id}`.
pub const BULK_NOTIFY_QUEUE: &str = "bulk-notify";
/// Claims of a job's queue row before it is dead: each restart or node death costs one.
pub const BULK_MAX_ATTEMPTS: u32 = 50;

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkKind {
    /// Exports the records of a query.
    Query,
    /// Writes the rows of an uploaded file.
    Upload,
}

impl BulkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Upload => "upload",
        }
    }

    fn parse(stored: &str) -> Result<Self> {
        match stored {
            "query" => Ok(Self::Query),
            "upload" => Ok(Self::Upload),
            _ => Err(StoreError::Corrupt("bulk job kind")),
        }
    }
}

/// Where a job is in its life, as the API shows it (`UPLOADING` excepted: no listing shows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BulkStatus {
    /// An upload's file is arriving or being checked; not queued yet.
    Uploading,
    Created,
    Running,
    Completed,
    Failed,
    Cancelled,
}

impl BulkStatus {
    pub const ALL: [BulkStatus; 6] =
        [Self::Uploading, Self::Created, Self::Running, Self::Completed, Self::Failed, Self::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Uploading => "UPLOADING",
            Self::Created => "CREATED",
            Self::Running => "RUNNING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub(crate) fn parse(stored: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == stored).ok_or(StoreError::Corrupt("bulk job status"))
    }

    /// COMPLETED, FAILED or CANCELLED: nothing changes any more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for BulkStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewBulkJob {
    pub organization_id: OrganizationId,
    pub instance_id: InstanceId,
    pub kind: BulkKind,
    pub object_name: String,
    /// What the job does, as its runner reads it (JSON).
    pub request: serde_json::Value,
    /// Where the end of the job is notified, already checked against the outbound-address policy.
    pub callback_url: Option<String>,
}

/// A stored job.
#[derive(Clone, Debug, PartialEq)]
pub struct BulkJob {
    pub id: i64,
    pub organization_id: OrganizationId,
    pub instance_id: InstanceId,
    pub kind: BulkKind,
    pub object_name: String,
    pub request: serde_json::Value,
    pub callback_url: Option<String>,
    /// FAILED also when the job's queue row died (every claim of it expired: its runners kept
    /// dying), with that as the error.
    pub status: BulkStatus,
    /// Steps committed so far; the next commit must name this number.
    pub step: i64,
    /// Where the next step starts (`None` before the first).
    pub position: Option<serde_json::Value>,
    /// Records exported, or rows written by an upload.
    pub records_count: u64,
    /// Upload rows refused.
    pub failed_count: u64,
    pub vendor_calls: u64,
    /// The vendor's count of matching records, or an upload's rows, when known.
    pub expected_count: Option<u64>,
    /// The result's size as JSON lines and as CSV rows (without the CSV header).
    pub json_bytes: u64,
    pub csv_bytes: u64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// One refused row of an upload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkRowError {
    /// The 1-based data row of the file (the CSV header is not a data row).
    pub row: u64,
    /// The field at fault, when one is.
    pub field: Option<String>,
    pub message: String,
}

/// One committed step's records, in both of the result's formats.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ResultChunk {
    pub records: u64,
    /// JSON lines, each ending in `\n`.
    pub json: String,
    /// CSV rows (RFC 4180, `\r\n` line ends), without the header.
    pub csv: String,
}

/// A stored chunk with where it sits in the whole result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredChunk {
    pub seq: i64,
    pub json_start: u64,
    pub csv_start: u64,
    pub chunk: ResultChunk,
}

/// How a step ends the job, if it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BulkFinish {
    Completed,
    Failed(String),
}

/// What one step commits.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct BulkStep {
    pub job_id: i64,
    /// The step the runner read ([`BulkJob::step`]); the commit happens only if the job is still there.
    pub step: i64,
    /// Where the next step starts.
    pub position: serde_json::Value,
    /// An export's records of this step.
    pub records: Option<ResultChunk>,
    /// Rows this step wrote (an upload's).
    pub written: u64,
    /// Rows this step refused, with why.
    pub errors: Vec<BulkRowError>,
    pub vendor_calls: u64,
    /// Replaces the expected count when set.
    pub expected_count: Option<u64>,
    pub finish: Option<BulkFinish>,
}

/// A `bulk_jobs` row as stored.
pub(crate) struct RawBulkJob {
    pub id: i64,
    pub organization_id: i64,
    pub instance_id: i64,
    pub kind: String,
    pub object_name: String,
    pub request: String,
    pub callback_url: Option<String>,
    pub status: String,
    pub step: i64,
    pub position: Option<String>,
    pub records_count: i64,
    pub failed_count: i64,
    pub vendor_calls: i64,
    pub expected_count: Option<i64>,
    pub json_bytes: i64,
    pub csv_bytes: i64,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl RawBulkJob {
    pub fn into_job(self) -> Result<BulkJob> {
        let json = |text: &str, what| serde_json::from_str(text).map_err(|_| StoreError::Corrupt(what));
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(BulkJob {
            id: self.id,
            organization_id: OrganizationId::new(self.organization_id),
            instance_id: InstanceId::new(self.instance_id),
            kind: BulkKind::parse(&self.kind)?,
            object_name: self.object_name,
            request: json(&self.request, "bulk job request")?,
            callback_url: self.callback_url,
            status: BulkStatus::parse(&self.status)?,
            step: self.step,
            position: self.position.as_deref().map(|text| json(text, "bulk job position")).transpose()?,
            records_count: count(self.records_count),
            failed_count: count(self.failed_count),
            vendor_calls: count(self.vendor_calls),
            expected_count: self.expected_count.map(count),
            json_bytes: count(self.json_bytes),
            csv_bytes: count(self.csv_bytes),
            error: self.error,
            created_at: self.created_at,
            started_at: self.started_at,
            completed_at: self.completed_at,
            updated_at: self.updated_at,
        })
    }
}

/// The columns [`RawBulkJob`] is read from, over `bulk_jobs b LEFT JOIN jobs q ON q.id =
/// b.queue_job_id`: a live job whose queue row is dead reads as FAILED with the queue's last error.
pub(crate) const BULK_JOB_COLUMNS: &str = "b.id, b.organization_id, b.instance_id, b.kind, b.object_name, \
     b.request, b.callback_url, \
     CASE WHEN b.status IN ('CREATED', 'RUNNING') AND q.state = 'dead' THEN 'FAILED' ELSE b.status END AS status, \
     b.step, b.position, b.records_count, b.failed_count, b.vendor_calls, b.expected_count, b.json_bytes, \
     b.csv_bytes, \
     CASE WHEN b.status IN ('CREATED', 'RUNNING') AND q.state = 'dead' \
          THEN 'the job stopped: ' || COALESCE(q.last_error, 'its runners kept failing') ELSE b.error END AS error, \
     b.created_at, b.started_at, b.completed_at, b.updated_at";

/// `FROM` with the join [`BULK_JOB_COLUMNS`] reads.
pub(crate) const BULK_JOB_FROM: &str = "bulk_jobs b LEFT JOIN jobs q ON q.id = b.queue_job_id";
