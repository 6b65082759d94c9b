//! Executions seen from the API: a manual run (`POST /formulas/instances/{id}/executions`, its body
//! as `trigger.args`), an instance's executions newest first, one execution, its step records, and
//! cancelling one that has not ended; and the JSON each is answered as.
//!
//! A manual run needs an active formula instance whose template is active and has a `manual`
//! trigger (else a 409 saying which). The run is queued; the runner of some node takes it.

use formulas::template::{Formula, TriggerKind};
use serde_json::{json, Map, Value};
use store::{ExecutionRecord, ExecutionStep, NewExecution, OrganizationId, StoreError};

use super::{date, not_found, path_id, FormulaError};
use crate::Platform;

/// The largest manual run body (`trigger.args`), in bytes of JSON.
pub const MAX_ARGS_BYTES: usize = 256 * 1024;

/// An execution as the API answers it.
pub fn view(execution: &ExecutionRecord) -> Value {
    let mut fields = Map::new();
    fields.insert("id".into(), execution.id.into());
    fields.insert("formulaId".into(), execution.formula_id.into());
    fields.insert("formulaInstanceId".into(), execution.formula_instance_id.into());
    fields.insert("status".into(), execution.status.as_str().into());
    fields.insert("createdDate".into(), date(execution.created_at));
    fields.insert("updatedDate".into(), date(execution.updated_at));
    if let Some(finished) = execution.finished_at {
        fields.insert("finishedDate".into(), date(finished));
    }
    fields.insert("trigger".into(), execution.trigger.clone());
    if let Some(error) = &execution.error {
        fields.insert("error".into(), error.clone().into());
    }
    Value::Object(fields)
}

/// A step record as the API answers it.
pub fn step_view(step: &ExecutionStep) -> Value {
    let mut fields = Map::new();
    fields.insert("seq".into(), step.seq.into());
    fields.insert("stepName".into(), step.step_name.clone().into());
    fields.insert("type".into(), step.step_type.clone().into());
    fields.insert("status".into(), step.status.as_str().into());
    if let Some(next) = &step.next_branch {
        fields.insert("next".into(), next.clone().into());
    }
    fields.insert("input".into(), step.input.clone());
    fields.insert("output".into(), step.output.clone().unwrap_or(Value::Null));
    if let Some(error) = &step.error {
        fields.insert("error".into(), error.clone().into());
    }
    fields.insert("attempts".into(), step.attempts.into());
    fields.insert("startedDate".into(), date(step.started_at));
    if let Some(finished) = step.finished_at {
        fields.insert("finishedDate".into(), date(finished));
    }
    Value::Object(fields)
}

impl Platform {
    /// Queues a manual run of formula instance `id` with `args` as `trigger.args`.
    pub async fn run_formula_instance(
        &self,
        organization: OrganizationId,
        id: &str,
        args: Value,
    ) -> Result<ExecutionRecord, FormulaError> {
        if args.to_string().len() > MAX_ARGS_BYTES {
            return Err(FormulaError::BadRequest(format!(
                "A manual run's body (trigger.args) may be at most {MAX_ARGS_BYTES} bytes of JSON"
            )));
        }
        let instance = self.formula_instance(organization, None, id).await?;
        let formula_record = self
            .store
            .formula(organization, instance.formula_id)
            .await
            .map_err(FormulaError::Store)?
            .ok_or_else(|| not_found("formula instance", id))?;
        let formula = Formula::from_value(formula_record.template.clone())?;
        if !instance.active {
            return Err(FormulaError::Conflict(format!(
                "Formula instance {} is not active; activate it with PUT /formulas/{}/instances/{}/active",
                instance.id, instance.formula_id, instance.id
            )));
        }
        if formula.active == Some(false) {
            return Err(FormulaError::Conflict(format!("Formula {} is not active", formula_record.id)));
        }
        if !formula.triggers().iter().any(|trigger| trigger.kind == TriggerKind::Manual) {
            return Err(FormulaError::Conflict(format!(
                "Formula {} has no manual trigger, so it cannot be run by hand",
                formula_record.id
            )));
        }
        let new = NewExecution {
            organization_id: organization,
            formula_instance_id: instance.id,
            formula_id: instance.formula_id,
            trigger: json!({"type": "manual", "args": args}),
            template: formula_record.template,
            config: instance.configuration,
            dedupe_key: None,
        };
        match self.store.create_execution(&new).await {
            Ok(Some(execution)) => Ok(execution),
            Ok(None) | Err(StoreError::NotFound) => Err(not_found("formula instance", id)),
            Err(error) => Err(FormulaError::Store(error)),
        }
    }

    /// Formula instance `id`'s executions, newest first, below execution `before` when given.
    pub async fn formula_executions(
        &self,
        organization: OrganizationId,
        id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ExecutionRecord>, FormulaError> {
        let instance = self.formula_instance(organization, None, id).await?;
        self.store.list_executions(organization, instance.id, before, limit).await.map_err(FormulaError::Store)
    }

    /// Execution `execution_id` of the organization (of formula instance `instance_id` when given).
    pub async fn formula_execution(
        &self,
        organization: OrganizationId,
        instance_id: Option<&str>,
        execution_id: &str,
    ) -> Result<ExecutionRecord, FormulaError> {
        let numeric = path_id("execution", execution_id)?;
        let execution = self
            .store
            .execution(Some(organization), numeric)
            .await
            .map_err(FormulaError::Store)?
            .ok_or_else(|| not_found("execution", execution_id))?;
        if let Some(instance_id) = instance_id {
            if path_id("formula instance", instance_id)? != execution.formula_instance_id {
                return Err(not_found("execution", execution_id));
            }
        }
        Ok(execution)
    }

    /// The step records of an execution of the organization.
    pub async fn formula_execution_steps(
        &self,
        organization: OrganizationId,
        instance_id: Option<&str>,
        execution_id: &str,
    ) -> Result<Vec<ExecutionStep>, FormulaError> {
        let execution = self.formula_execution(organization, instance_id, execution_id).await?;
        self.store.execution_steps(execution.id).await.map_err(FormulaError::Store)
    }

    /// Cancels an execution that has not ended (one that has is answered as it is).
    pub async fn cancel_formula_execution(
        &self,
        organization: OrganizationId,
        instance_id: Option<&str>,
        execution_id: &str,
    ) -> Result<ExecutionRecord, FormulaError> {
        let execution = self.formula_execution(organization, instance_id, execution_id).await?;
        self.store
            .cancel_execution(organization, execution.id)
            .await
            .map_err(FormulaError::Store)?
            .ok_or_else(|| not_found("execution", execution_id))
    }
}
