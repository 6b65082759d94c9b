//! The values of [`crate::FormulaRunStore`]: formula instances (a template's slots bound to an
//! organization's instances and values), executions (one run each, queued on the durable job
//! queue) and their step records.
//!
//! What a formula instance's configuration or an execution's steps mean is the platform's
//! business; the store keeps them as JSON and keeps the rules that make runs survive a crash: an
//! execution is created with its queue job in one transaction (never triggered and lost), at most
//! once per cause (`dedupe_key`), with copies of the template and configuration it runs; each step
//! run is recorded as started before it runs and as finished after, in order.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::records::OrganizationId;
use crate::repository::{Result, StoreError};

/// The queue executions are claimed from (payload `{"execution": id}`).
pub const FORMULA_QUEUE: &str = "formula";
/// Claims of one execution before its queue job is dead: a run killed this many times is marked
/// failed by the runner's housekeeping instead of being tried again.
pub const FORMULA_MAX_ATTEMPTS: u32 = 10;
/// The most rows one listing returns.
pub const MAX_EXECUTIONS_LISTED: u32 = 200;

/// A formula instance to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFormulaInstance {
    pub organization_id: OrganizationId,
    pub formula_id: i64,
    pub name: String,
    pub active: bool,
    /// Slot key → bound value (an element instance id or a value), a JSON object.
    pub configuration: Value,
    /// The platforms' `settings` object, kept as sent.
    pub settings: Value,
}

/// One stored formula instance.
#[derive(Debug, Clone, PartialEq)]
pub struct FormulaInstanceRecord {
    pub id: i64,
    pub organization_id: OrganizationId,
    pub formula_id: i64,
    pub name: String,
    pub active: bool,
    pub configuration: Value,
    pub settings: Value,
    /// The last event of the bound instance turned into executions; `None`: none yet.
    pub event_cursor: Option<i64>,
    /// Scheduled triggers have fired up to this time.
    pub schedule_cursor: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where an execution is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    /// Created, waiting for a node to claim it.
    Queued,
    /// A node runs it (or ran it and died; another resumes it).
    Pending,
    /// Every step ran, and no failure was left unhandled. Final.
    Success,
    /// A step failed with no `onFailure`, or the run could not go on. Final.
    Failed,
    /// Cancelled before it ended. Final.
    Cancelled,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Pending => "pending",
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Queued, Self::Pending, Self::Success, Self::Failed, Self::Cancelled]
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Whether the execution is over.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Success | Self::Failed | Self::Cancelled)
    }
}

/// An execution to create (and queue).
#[derive(Debug, Clone, PartialEq)]
pub struct NewExecution {
    pub organization_id: OrganizationId,
    pub formula_instance_id: i64,
    pub formula_id: i64,
    /// What started it, as the run's `trigger` sees it.
    pub trigger: Value,
    /// The template as it was when triggered.
    pub template: Value,
    /// The instance's configuration as it was when triggered.
    pub config: Value,
    /// The cause, unique per formula instance (`event:12:0`, `scheduled:0:2026-12-05T12:00:00Z`);
    /// `None` for a manual run.
    pub dedupe_key: Option<String>,
}

/// One stored execution.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    pub id: i64,
    pub organization_id: OrganizationId,
    pub formula_instance_id: i64,
    pub formula_id: i64,
    pub status: ExecutionStatus,
    pub trigger: Value,
    pub template: Value,
    pub config: Value,
    /// Why it failed (no secret).
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Where a step run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepStatus {
    /// Recorded before it ran; still so after a crash during it.
    Started,
    Success,
    Failed,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Success => "success",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::Started, Self::Success, Self::Failed].into_iter().find(|status| status.as_str() == text)
    }
}

/// One step run of an execution, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionStep {
    pub execution_id: i64,
    /// Its place in the execution's order of step runs, from 0.
    pub seq: i64,
    pub step_name: String,
    pub step_type: String,
    pub status: StepStatus,
    /// The branch taken after it (`onSuccess` or `onFailure`); `None` while started.
    pub next_branch: Option<String>,
    /// What it ran with (resolved properties).
    pub input: Value,
    /// What it gave (`steps.<name>` for the steps after it).
    pub output: Option<Value>,
    pub error: Option<String>,
    /// Tries of the step (retries included).
    pub attempts: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A step run's end, to record.
#[derive(Debug, Clone, PartialEq)]
pub struct StepFinish<'a> {
    pub status: StepStatus,
    pub next_branch: &'a str,
    pub output: &'a Value,
    pub error: Option<&'a str>,
    pub attempts: i64,
}

/// A `formula_instances` row as stored.
pub(crate) struct RawFormulaInstance {
    pub id: i64,
    pub organization_id: i64,
    pub formula_id: i64,
    pub name: String,
    pub active: bool,
    pub configuration: String,
    pub settings: String,
    pub event_cursor: Option<i64>,
    pub schedule_cursor: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RawFormulaInstance {
    pub fn into_record(self) -> Result<FormulaInstanceRecord> {
        Ok(FormulaInstanceRecord {
            id: self.id,
            organization_id: OrganizationId::new(self.organization_id),
            formula_id: self.formula_id,
            name: self.name,
            active: self.active,
            configuration: json(&self.configuration, "formula instance configuration")?,
            settings: json(&self.settings, "formula instance settings")?,
            event_cursor: self.event_cursor,
            schedule_cursor: self.schedule_cursor,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The columns [`RawFormulaInstance`] is read from.
pub(crate) const FORMULA_INSTANCE_COLUMNS: &str = "id, organization_id, formula_id, name, active, configuration, \
     settings, event_cursor, schedule_cursor, created_at, updated_at";

/// A `formula_executions` row as stored.
pub(crate) struct RawExecution {
    pub id: i64,
    pub organization_id: i64,
    pub formula_instance_id: i64,
    pub formula_id: i64,
    pub status: String,
    pub trigger: String,
    pub template: String,
    pub config: String,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl RawExecution {
    pub fn into_record(self) -> Result<ExecutionRecord> {
        Ok(ExecutionRecord {
            id: self.id,
            organization_id: OrganizationId::new(self.organization_id),
            formula_instance_id: self.formula_instance_id,
            formula_id: self.formula_id,
            status: ExecutionStatus::parse(&self.status).ok_or(StoreError::Corrupt("execution status"))?,
            trigger: json(&self.trigger, "execution trigger")?,
            template: json(&self.template, "execution template")?,
            config: json(&self.config, "execution config")?,
            error: self.error,
            created_at: self.created_at,
            updated_at: self.updated_at,
            finished_at: self.finished_at,
        })
    }
}

/// The columns [`RawExecution`] is read from.
pub(crate) const EXECUTION_COLUMNS: &str = "id, organization_id, formula_instance_id, formula_id, status, \
     trigger_data, template, config, error, created_at, updated_at, finished_at";

/// A `formula_execution_steps` row as stored.
pub(crate) struct RawStep {
    pub execution_id: i64,
    pub seq: i64,
    pub step_name: String,
    pub step_type: String,
    pub status: String,
    pub next_branch: Option<String>,
    pub input: String,
    pub output: Option<String>,
    pub error: Option<String>,
    pub attempts: i64,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl RawStep {
    pub fn into_step(self) -> Result<ExecutionStep> {
        Ok(ExecutionStep {
            execution_id: self.execution_id,
            seq: self.seq,
            step_name: self.step_name,
            step_type: self.step_type,
            status: StepStatus::parse(&self.status).ok_or(StoreError::Corrupt("execution step status"))?,
            next_branch: self.next_branch,
            input: json(&self.input, "execution step input")?,
            output: self.output.as_deref().map(|text| json(text, "execution step output")).transpose()?,
            error: self.error,
            attempts: self.attempts,
            started_at: self.started_at,
            finished_at: self.finished_at,
        })
    }
}

/// The columns [`RawStep`] is read from.
pub(crate) const STEP_COLUMNS: &str = "execution_id, seq, step_name, step_type, status, next_branch, input, output, \
     error, attempts, started_at, finished_at";

fn json(text: &str, what: &'static str) -> Result<Value> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(what))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_as_written() {
        for status in [
            ExecutionStatus::Queued,
            ExecutionStatus::Pending,
            ExecutionStatus::Success,
            ExecutionStatus::Failed,
            ExecutionStatus::Cancelled,
        ] {
            assert_eq!(ExecutionStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ExecutionStatus::parse("unknown"), None);
        for status in [StepStatus::Started, StepStatus::Success, StepStatus::Failed] {
            assert_eq!(StepStatus::parse(status.as_str()), Some(status));
        }
    }
}
