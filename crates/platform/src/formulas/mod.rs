//! Formulas (issue 17): organizations' workflow templates, their instances and their executions.
//!
//! - [`templates`]: templates created, read, listed, replaced, merge-patched, deleted, exported,
//!   each write validated by the `formulas` crate;
//! - [`instances`]: formula instances, a template's slots bound to the organization's element
//!   instances and values, activated and deactivated;
//! - [`executions`]: runs created (a manual run here; the other triggers in [`triggers`]), read,
//!   listed and cancelled, and the JSON they are answered as;
//! - [`runner`]: the loop every node runs, claiming executions from the durable queue and running
//!   them step by step, resumable after a crash, and the retention housekeeping;
//! - [`steps`]: what each step type does, with its retries;
//! - [`hub_request`]: an `elementRequest`'s hub path and method turned into a hub engine call, as
//!   the slot's instance, answered as a client of the hub API would be;
//! - [`triggers`]: the periodic jobs that turn an instance's events and the cron schedules into
//!   executions, each at most once;
//! - [`request_triggers`]: the `elementRequest` trigger, each node's table of the hub requests
//!   that start runs.

pub mod executions;
pub mod hub_request;
pub mod instances;
pub mod request_triggers;
pub mod runner;
pub mod steps;
pub mod templates;
pub mod triggers;

use std::time::Duration;

use formulas::script::Limits;
use formulas::template::{InvalidFormula, LoadError, Problem};
use store::StoreError;

pub use templates::{export, merge_patch, view, SavedFormula, MAX_PAGE_SIZE, SERVER_FIELDS};

/// How formula executions run; the defaults suit production, the tests shorten the waits.
#[derive(Debug, Clone)]
pub struct FormulaConfig {
    /// Executions one node runs at once.
    pub concurrency: usize,
    /// How long a node's claim of an execution lasts without renewal: a dead node's runs move to
    /// another node after this.
    pub claim_ttl: Duration,
    /// How often the runner looks for queued executions when it found none.
    pub tick: Duration,
    /// How often the trigger jobs read new events and check the schedules.
    pub trigger_period: Duration,
    /// How long ended executions (and their step records) are kept (`--formula-retention`).
    pub retention: Duration,
    /// The limits of each `filter` and `script` step.
    pub script_limits: Limits,
    /// Step runs one execution may make (loops included) before it is failed as runaway.
    pub max_step_runs: usize,
    /// How deep `formula` steps may nest.
    pub max_depth: usize,
}

impl Default for FormulaConfig {
    fn default() -> Self {
        FormulaConfig {
            concurrency: 8,
            claim_ttl: Duration::from_secs(60),
            tick: Duration::from_millis(500),
            trigger_period: Duration::from_secs(5),
            retention: Duration::from_secs(30 * 24 * 3600),
            script_limits: Limits::default(),
            max_step_runs: 10_000,
            max_depth: 5,
        }
    }
}

/// Why a formula request failed; each names what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum FormulaError {
    /// A 400: the body is not what the endpoint takes; the message names the field.
    #[error("{0}")]
    BadRequest(String),
    /// A 400: the template does not load (not a template's shape, or a step or trigger type
    /// Junction does not run).
    #[error("Invalid formula: {0}")]
    Load(#[from] LoadError),
    /// A 400: the template loads but breaks rules; the message lists every problem with its path.
    #[error("{}", invalid_message(.0))]
    Invalid(InvalidFormula),
    /// A 404: no such template, formula instance or execution in the caller's organization.
    #[error("{0}")]
    NotFound(String),
    /// A 409: the organization has another template of this name.
    #[error("A formula named '{0}' already exists in this organization (names are unique ignoring case)")]
    NameTaken(String),
    /// A 409: the request does not fit the resource's state (a manual run of an inactive
    /// instance, a template with no manual trigger).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

fn invalid_message(invalid: &InvalidFormula) -> String {
    let problems: Vec<String> = invalid.0.iter().map(Problem::to_string).collect();
    format!("Invalid formula: {}", problems.join("; "))
}

/// The 404 of `what` (`formula`, `formula instance`, `execution`) named by the client's `text`.
pub(crate) fn not_found(what: &str, text: &str) -> FormulaError {
    let shown: String = text.chars().take(32).collect();
    FormulaError::NotFound(format!("No {what} found with id '{shown}'"))
}

/// An id from the path: a positive integer, else no such `what`.
pub(crate) fn path_id(what: &str, text: &str) -> Result<i64, FormulaError> {
    text.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| not_found(what, text))
}

/// RFC 3339 with milliseconds, as every formula answer writes times.
pub(crate) fn date(at: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true).into()
}
