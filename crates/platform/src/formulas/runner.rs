//! The formula loops every node runs ([`run`]): one claims executions from the durable queue and
//! runs each, the trigger job turns events and schedules into executions
//! ([`super::triggers`]), one keeps the node's table of `elementRequest` triggers current
//! ([`super::request_triggers`]), and a housekeeping job deletes executions past their retention.
//!
//! An execution runs as a walk of its template's step graph, depth first, from the trigger's
//! `onSuccess` steps: each step run takes the next number (`seq`) and is recorded as started
//! (with its resolved input) before it runs and as finished (output, branch taken) after, so the
//! record is the execution's history and its resume point. A run claimed again after its node died
//! walks the same graph with the same recorded outputs: finished steps are replayed from their
//! records, not run, so it arrives at the step the dead node was running. That step runs again if it
//! has no effect outside Junction (a script, a filter, a loop, a GET); one that may have had one (a
//! write to the vendor, a POST to a URL, a notification) is recorded as failed, "interrupted", and
//! its `onFailure` branch taken: never made twice. The walk is deterministic given the records
//! because the template and configuration are the copies taken when the execution was triggered.
//!
//! A step that fails with no `onFailure` steps ends the execution `failed`; one with `onFailure`
//! steps is handled by them. A filter's `done(false)` and a finished loop take `onFailure` without
//! failing. `onSuccess` and `onFailure` lists run in order, one after another (the platforms ran
//! them in parallel; a formula that depended on that still runs, one branch at a time).
//!
//! A runner holds its queue claim while it runs, renewed every third of
//! [`FormulaConfig::claim_ttl`](super::FormulaConfig); one that loses it stops before its next step.
//! Each record is written only while the execution is pending, so a cancelled run stops at its next
//! step. A run interrupted [`MAX_INTERRUPTIONS`] times is failed instead of tried again.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use formulas::template::{Formula, StepKind, TriggerKind};
use serde_json::{json, Value};
use store::{ExecutionRecord, ExecutionStatus, ExecutionStep, Job, StepFinish, StepStatus, StoreError, FORMULA_QUEUE};

use super::instances::bound_instance_id;
use super::request_triggers;
use super::steps::{self, Branch, StepEnd};
use super::triggers::FormulaTriggers;
use crate::jobs::{run_periodic, run_queue, ClaimHeartbeat, PeriodicJob, QueueWorkers};
use crate::{Platform, PlatformError};

/// Claims of one execution after which it is failed instead of run again (its node died during it
/// each time).
pub const MAX_INTERRUPTIONS: u32 = 5;

/// The error of a step that may have had its effect when its node died.
pub const INTERRUPTED: &str = "interrupted: the node running this step stopped during it; the step is not run again \
                               because its effect (a write, a call, a notification) may already have happened";

/// Why a run stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The execution was cancelled or deleted, or this runner lost its claim: another runner (or
    /// nobody) carries on; nothing more is written.
    #[error("the run was stopped (cancelled, deleted, or claimed by another node)")]
    Stopped,
    /// The records do not match the template (a store edited by hand): the run cannot resume.
    #[error("the execution's step records do not match its template at step run {0}")]
    Diverged(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs the formula loops on `platform` until `shutdown` resolves.
pub async fn run(platform: Platform, shutdown: impl Future<Output = ()>) {
    let workers = QueueWorkers {
        queue: FORMULA_QUEUE,
        concurrency: platform.formulas.concurrency,
        claim_ttl: platform.formulas.claim_ttl,
        tick: platform.formulas.tick,
    };
    let executions = async {
        if workers.concurrency == 0 {
            // This node runs none; its API still queues them, and its hub requests still trigger.
            return std::future::pending().await;
        }
        run_queue(platform.clone(), workers, |platform, job| async move { run_claimed(&platform, job).await }).await
    };
    let request_triggers = refresh_request_triggers(platform.clone());
    let period = platform.formulas.trigger_period;
    let triggers = run_periodic(platform.clone(), &FormulaTriggers, period, std::future::pending());
    let housekeeping =
        run_periodic(platform.clone(), &PruneExecutions, Duration::from_secs(3600), std::future::pending());
    tokio::select! {
        () = executions => {}
        () = request_triggers => {}
        () = triggers => {}
        () = housekeeping => {}
        () = shutdown => tracing::info!("formula runners stopped"),
    }
}

/// Keeps this node's table of `elementRequest` triggers current (every node: each answers hub
/// requests).
async fn refresh_request_triggers(platform: Platform) {
    loop {
        if let Err(error) = request_triggers::refresh(&platform).await {
            tracing::warn!(%error, "the elementRequest triggers could not be read");
        }
        tokio::time::sleep(platform.formulas.trigger_period).await;
    }
}

/// Runs one claimed queue job while renewing its claim, then completes or fails it.
async fn run_claimed(platform: &Platform, job: Job) {
    let owner = platform.node_id.as_ref();
    let Some(execution_id) = job.payload.get("execution").and_then(Value::as_i64) else {
        let _ = platform.store.fail_job(job.id, owner, "not a formula execution payload", None).await;
        return;
    };
    if job.attempts >= MAX_INTERRUPTIONS {
        let error =
            format!("the execution was interrupted {} times (its node stopped each time); not run again", job.attempts);
        let ended = platform.store.finish_execution(execution_id, ExecutionStatus::Failed, Some(&error)).await;
        if let Err(error) = ended.and(platform.store.complete_job(job.id, owner).await.map(drop)) {
            tracing::warn!(execution = execution_id, %error, "an interrupted execution could not be failed");
        }
        return;
    }
    let heartbeat = ClaimHeartbeat::start(platform, job.id, platform.formulas.claim_ttl);
    let outcome = run_execution(platform, execution_id, heartbeat.lost()).await;
    let lost = heartbeat.lost().load(Ordering::Relaxed);
    drop(heartbeat);
    let closed = match outcome {
        Ok(()) => platform.store.complete_job(job.id, owner).await.map(drop),
        // Another runner has the claim: the queue row is its to close.
        Err(RunError::Stopped) if lost => Ok(()),
        Err(RunError::Stopped) => platform.store.complete_job(job.id, owner).await.map(drop),
        Err(error @ RunError::Diverged(_)) => {
            let message = error.to_string();
            let ended = platform.store.finish_execution(execution_id, ExecutionStatus::Failed, Some(&message)).await;
            ended.and(platform.store.complete_job(job.id, owner).await.map(drop))
        }
        Err(RunError::Store(error)) => {
            tracing::warn!(execution = execution_id, %error, "a formula execution stopped on a store error; it resumes");
            let retry = Utc::now() + TimeDelta::seconds(5);
            platform.store.fail_job(job.id, owner, &error.to_string(), Some(retry)).await.map(drop)
        }
    };
    if let Err(error) = closed {
        tracing::warn!(execution = execution_id, %error, "a formula execution's queue job was not closed");
    }
}

/// Runs (or resumes) execution `id` to its end, unless `lost` is set or it is stopped.
pub async fn run_execution(platform: &Platform, id: i64, lost: &AtomicBool) -> Result<(), RunError> {
    let Some(execution) = platform.store.start_execution(id).await? else {
        return Ok(());
    };
    if execution.status.is_final() {
        return Ok(());
    }
    let formula = match Formula::from_value(execution.template.clone()) {
        Ok(formula) => formula,
        Err(error) => {
            let message = format!("the execution's template does not load: {error}");
            platform.store.finish_execution(id, ExecutionStatus::Failed, Some(&message)).await?;
            return Ok(());
        }
    };
    let records = platform.store.execution_steps(id).await?;
    let mut context = json!({
        "config": execution.config,
        "trigger": execution.trigger,
        "info": {
            "formulaId": execution.formula_id,
            "formulaInstanceId": execution.formula_instance_id,
            "formulaExecutionId": execution.id,
        },
        "steps": {},
    });
    let start = start_steps(&formula, &execution.trigger);
    let mut walk = Walk { platform, execution: &execution, records, seq: 0, lost };
    let unhandled = walk.walk(&formula, start, &mut context, String::new(), 0).await?;
    let (status, error) = match &unhandled {
        None => (ExecutionStatus::Success, None),
        Some(error) => (ExecutionStatus::Failed, Some(error.as_str())),
    };
    if platform.store.finish_execution(id, status, error).await? {
        platform.metrics.record_formula_execution(status.as_str());
    }
    Ok(())
}

/// The steps a trigger of the kind `trigger` names starts with: its first trigger of that kind
/// (a sub-formula's: its manual trigger), else its first trigger.
fn start_steps(formula: &Formula, trigger: &Value) -> Vec<String> {
    let kind = match trigger.get("type").and_then(Value::as_str).unwrap_or("manual") {
        "formula" => "manual",
        other => other,
    };
    let kind = TriggerKind::from(kind.to_owned());
    let triggers = formula.triggers();
    triggers
        .iter()
        .find(|t| t.kind == kind)
        .or_else(|| triggers.first())
        .map(|t| t.on_success().to_vec())
        .unwrap_or_default()
}

/// One run's walk through the step graph, numbering step runs as it goes.
struct Walk<'a> {
    platform: &'a Platform,
    execution: &'a ExecutionRecord,
    /// What earlier runs of this execution recorded, by `seq`.
    records: Vec<ExecutionStep>,
    seq: i64,
    lost: &'a AtomicBool,
}

type WalkFuture<'w> = Pin<Box<dyn Future<Output = Result<Option<String>, RunError>> + Send + 'w>>;

impl<'a> Walk<'a> {
    /// Walks `formula` from `start`; `Ok(Some(error))` when a step failed with no `onFailure`.
    /// Step names are recorded with `prefix` (a sub-formula's steps: `<step>.<its step>`).
    fn walk<'w>(
        &'w mut self,
        formula: &'w Formula,
        start: Vec<String>,
        context: &'w mut Value,
        prefix: String,
        depth: usize,
    ) -> WalkFuture<'w> {
        Box::pin(async move {
            let mut pending: Vec<String> = start.into_iter().rev().collect();
            while let Some(name) = pending.pop() {
                if self.lost.load(Ordering::Relaxed) {
                    return Err(RunError::Stopped);
                }
                let max = self.platform.formulas.max_step_runs;
                if usize::try_from(self.seq).unwrap_or(usize::MAX) >= max {
                    return Ok(Some(format!("the execution ran {max} steps and was stopped (a loop without end?)")));
                }
                let Some(step) = formula.step(&name) else {
                    return Ok(Some(format!("no step named '{prefix}{name}'")));
                };
                let full = format!("{prefix}{name}");
                let end = if step.kind == StepKind::Formula {
                    self.sub_formula(step, &full, context, depth).await?
                } else {
                    self.visit(step, &full, context).await?
                };
                context["steps"][name.as_str()] = end.output.clone();
                let next = match end.branch {
                    Branch::OnSuccess => step.on_success(),
                    Branch::OnFailure => step.on_failure(),
                };
                if let Some(error) = &end.error {
                    if next.is_empty() {
                        return Ok(Some(format!("step '{full}' failed: {error}")));
                    }
                }
                pending.extend(next.iter().rev().cloned());
            }
            Ok(None)
        })
    }

    /// The record of step run `seq` made by an earlier run, if it is one of `name`.
    fn recorded(&self, seq: i64, name: &str) -> Result<Option<&ExecutionStep>, RunError> {
        match usize::try_from(seq).ok().and_then(|i| self.records.get(i)) {
            Some(record) if record.step_name != name => Err(RunError::Diverged(seq)),
            other => Ok(other),
        }
    }

    /// Runs (or replays) one step that is not a sub-formula.
    async fn visit(
        &mut self,
        step: &formulas::template::Step,
        full: &str,
        context: &Value,
    ) -> Result<StepEnd, RunError> {
        let seq = self.next_seq();
        let interrupted = match self.recorded(seq, full)? {
            Some(record) if record.status != StepStatus::Started => return Ok(replayed(record)),
            Some(_) => true,
            None => false,
        };
        let input = match steps::resolve_input(step, context) {
            Ok(input) => input,
            Err(error) => {
                let end = StepEnd::failure(Value::Null, error);
                self.record(seq, full, step, &json!({}), &end).await?;
                return Ok(end);
            }
        };
        if interrupted && steps::has_side_effect(step, &input) {
            let end = StepEnd::failure(Value::Null, INTERRUPTED);
            self.record(seq, full, step, &steps::recorded_input(&input), &end).await?;
            return Ok(end);
        }
        let recorded_input = steps::recorded_input(&input);
        if !self.begin(seq, full, step, &recorded_input).await? {
            return Err(RunError::Stopped);
        }
        let end = steps::run(self.platform, self.execution, step, &input, context, seq).await;
        self.finish(seq, step, &end).await?;
        Ok(end)
    }

    /// Runs a `formula` step: the sub-formula's steps (recorded as `<step>.<name>`), then the
    /// step's own record.
    async fn sub_formula(
        &mut self,
        step: &formulas::template::Step,
        full: &str,
        context: &Value,
        depth: usize,
    ) -> Result<StepEnd, RunError> {
        let loaded = self.load_sub_formula(step, context, depth).await;
        let (end, input) = match loaded {
            Err(error) => (StepEnd::failure(Value::Null, error), json!({})),
            Ok((sub, input)) => {
                let args = input.get("args").cloned().unwrap_or_else(|| json!({}));
                let mut sub_context = json!({
                    "config": context["config"],
                    "trigger": {"type": "formula", "args": args},
                    "info": context["info"],
                    "steps": {},
                });
                sub_context["info"]["parentStep"] = full.into();
                let start = start_steps(&sub, &sub_context["trigger"]);
                let unhandled = self.walk(&sub, start, &mut sub_context, format!("{full}."), depth + 1).await?;
                let output = json!({"steps": sub_context["steps"]});
                let end = match unhandled {
                    None => StepEnd { output, branch: Branch::OnSuccess, error: None, attempts: 1 },
                    Some(error) => StepEnd::failure(output, error),
                };
                (end, input)
            }
        };
        let seq = self.next_seq();
        if let Some(record) = self.recorded(seq, full)? {
            if record.status != StepStatus::Started {
                return Ok(replayed(record));
            }
        }
        self.record(seq, full, step, &input, &end).await?;
        Ok(end)
    }

    async fn load_sub_formula(
        &self,
        step: &formulas::template::Step,
        context: &Value,
        depth: usize,
    ) -> Result<(Formula, Value), String> {
        if depth + 1 > self.platform.formulas.max_depth {
            return Err(format!("sub-formulas nest deeper than {}", self.platform.formulas.max_depth));
        }
        let input = steps::resolve_input(step, context)?;
        let id =
            input.get("formulaId").and_then(bound_instance_id).ok_or("properties.formulaId is not a formula id")?;
        let record = self
            .platform
            .store
            .formula(self.execution.organization_id, id)
            .await
            .map_err(|error| format!("the sub-formula could not be read: {error}"))?
            .ok_or_else(|| format!("no formula {id} in this organization"))?;
        let sub =
            Formula::from_value(record.template).map_err(|error| format!("formula {id} does not load: {error}"))?;
        Ok((sub, input))
    }

    fn next_seq(&mut self) -> i64 {
        let seq = self.seq;
        self.seq += 1;
        seq
    }

    async fn begin(
        &self,
        seq: i64,
        full: &str,
        step: &formulas::template::Step,
        input: &Value,
    ) -> Result<bool, RunError> {
        let store = &self.platform.store;
        Ok(store.begin_execution_step(self.execution.id, seq, full, step.kind.as_str(), input).await?)
    }

    async fn finish(&self, seq: i64, step: &formulas::template::Step, end: &StepEnd) -> Result<(), RunError> {
        let status = if end.error.is_some() { StepStatus::Failed } else { StepStatus::Success };
        let finish = StepFinish {
            status,
            next_branch: end.branch.as_str(),
            output: &end.output,
            error: end.error.as_deref(),
            attempts: end.attempts,
        };
        if self.platform.store.finish_execution_step(self.execution.id, seq, &finish).await? {
            self.platform.metrics.record_formula_step(step.kind.as_str(), status.as_str());
            Ok(())
        } else {
            Err(RunError::Stopped)
        }
    }

    /// Records a step run that ended without running (begun and finished at once).
    async fn record(
        &self,
        seq: i64,
        full: &str,
        step: &formulas::template::Step,
        input: &Value,
        end: &StepEnd,
    ) -> Result<(), RunError> {
        if !self.begin(seq, full, step, input).await? {
            return Err(RunError::Stopped);
        }
        self.finish(seq, step, end).await
    }
}

/// A finished step run as its record gives it back.
fn replayed(record: &ExecutionStep) -> StepEnd {
    StepEnd {
        output: record.output.clone().unwrap_or(Value::Null),
        branch: record.next_branch.as_deref().and_then(Branch::parse).unwrap_or(Branch::OnFailure),
        error: record.error.clone().or_else(|| (record.status == StepStatus::Failed).then(|| "failed".to_owned())),
        attempts: record.attempts,
    }
}

/// Deletes executions that ended more than the retention ago.
struct PruneExecutions;

#[async_trait]
impl PeriodicJob for PruneExecutions {
    fn name(&self) -> &'static str {
        "formula-retention"
    }

    async fn run_once(&self, platform: &Platform) -> Result<bool, PlatformError> {
        let retention = TimeDelta::from_std(platform.formulas.retention).unwrap_or(TimeDelta::days(30));
        let pruned = platform.store.prune_executions(Utc::now() - retention).await?;
        if pruned > 0 {
            tracing::info!(pruned, "formula executions past their retention deleted");
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_starts_at_the_steps_of_its_triggers_kind() {
        let formula = Formula::from_value(json!({
            "name": "f",
            "triggers": [
                {"type": "scheduled", "properties": {"cron": "0 0 12 * * ?"}, "onSuccess": ["nightly"]},
                {"type": "manual", "onSuccess": ["by-hand", "then"]}
            ],
            "steps": []
        }))
        .unwrap();
        assert_eq!(start_steps(&formula, &json!({"type": "manual"})), ["by-hand", "then"]);
        assert_eq!(start_steps(&formula, &json!({"type": "formula"})), ["by-hand", "then"]);
        assert_eq!(start_steps(&formula, &json!({"type": "scheduled"})), ["nightly"]);
        assert_eq!(start_steps(&formula, &json!({"type": "event"})), ["nightly"], "else the first trigger");
    }
}
