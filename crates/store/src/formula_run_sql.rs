//! The SQL of [`crate::FormulaRunStore`]: formula instances, executions (each created with its
//! queue job in one transaction) and their step records. The values are in `crate::formula_runs`;
//! the tables are in the `formula_runs` migration.
//!
//! Every read and write an organization makes names the organization as well as the id, so another
//! organization's rows are never matched. The runner's writes (`start_execution`, the step records,
//! `finish_execution`) name only the execution: the runner holds its queue claim. Each of them
//! changes a row only while the execution has not ended, so a cancelled run stops at its next write.

/// Expanded by `implement_store!` into the implementation's module, whose imports, `Db` type and
/// helpers (`now`, `on_insert`, `begin_write`, `enqueue_in`) it uses.
macro_rules! implement_formula_run_store {
    ($store:ident) => {
        use crate::formula_runs::{
            ExecutionRecord, ExecutionStatus, ExecutionStep, FormulaInstanceRecord, NewExecution, NewFormulaInstance,
            RawExecution, RawFormulaInstance, RawStep, StepFinish, StepStatus, EXECUTION_COLUMNS,
            FORMULA_INSTANCE_COLUMNS, FORMULA_MAX_ATTEMPTS, FORMULA_QUEUE, MAX_EXECUTIONS_LISTED, STEP_COLUMNS,
        };

        fn formula_instance_row(row: &<Db as sqlx::Database>::Row) -> Result<FormulaInstanceRecord> {
            RawFormulaInstance {
                id: row.try_get("id")?,
                organization_id: row.try_get("organization_id")?,
                formula_id: row.try_get("formula_id")?,
                name: row.try_get("name")?,
                active: row.try_get("active")?,
                configuration: row.try_get("configuration")?,
                settings: row.try_get("settings")?,
                event_cursor: row.try_get("event_cursor")?,
                schedule_cursor: row.try_get("schedule_cursor")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            }
            .into_record()
        }

        fn execution_row(row: &<Db as sqlx::Database>::Row) -> Result<ExecutionRecord> {
            RawExecution {
                id: row.try_get("id")?,
                organization_id: row.try_get("organization_id")?,
                formula_instance_id: row.try_get("formula_instance_id")?,
                formula_id: row.try_get("formula_id")?,
                status: row.try_get("status")?,
                trigger: row.try_get("trigger_data")?,
                template: row.try_get("template")?,
                config: row.try_get("config")?,
                error: row.try_get("error")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                finished_at: row.try_get("finished_at")?,
            }
            .into_record()
        }

        fn step_row(row: &<Db as sqlx::Database>::Row) -> Result<ExecutionStep> {
            RawStep {
                execution_id: row.try_get("execution_id")?,
                seq: row.try_get("seq")?,
                step_name: row.try_get("step_name")?,
                step_type: row.try_get("step_type")?,
                status: row.try_get("status")?,
                next_branch: row.try_get("next_branch")?,
                input: row.try_get("input")?,
                output: row.try_get("output")?,
                error: row.try_get("error")?,
                attempts: row.try_get("attempts")?,
                started_at: row.try_get("started_at")?,
                finished_at: row.try_get("finished_at")?,
            }
            .into_step()
        }

        /// The SQL condition "the execution has not ended".
        const OPEN_EXECUTION: &str = "status IN ('queued', 'pending')";

        #[async_trait]
        impl crate::repository::FormulaRunStore for $store {
            async fn create_formula_instance(&self, new: &NewFormulaInstance) -> Result<FormulaInstanceRecord> {
                // The template must be the organization's: the SELECT finds nothing otherwise.
                let sql = format!(
                    "INSERT INTO formula_instances (organization_id, formula_id, name, active, configuration, settings, \
                     schedule_cursor, created_at, updated_at) \
                     SELECT $1, id, $3, $4, $5, $6, $7, $7, $7 FROM formulas WHERE organization_id = $1 AND id = $2 \
                     RETURNING {FORMULA_INSTANCE_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(new.organization_id.get())
                    .bind(new.formula_id)
                    .bind(&new.name)
                    .bind(new.active)
                    .bind(new.configuration.to_string())
                    .bind(new.settings.to_string())
                    .bind(now())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(on_insert("formula instance"))?;
                formula_instance_row(&row.ok_or(StoreError::NotFound)?)
            }

            async fn formula_instance(
                &self,
                organization: OrganizationId,
                id: i64,
            ) -> Result<Option<FormulaInstanceRecord>> {
                let sql = format!(
                    "SELECT {FORMULA_INSTANCE_COLUMNS} FROM formula_instances WHERE organization_id = $1 AND id = $2"
                );
                let row = sqlx::query(&sql).bind(organization.get()).bind(id).fetch_optional(&self.pool).await?;
                row.map(|row| formula_instance_row(&row)).transpose()
            }

            async fn list_formula_instances(
                &self,
                organization: OrganizationId,
                formula_id: Option<i64>,
            ) -> Result<Vec<FormulaInstanceRecord>> {
                let sql = format!(
                    "SELECT {FORMULA_INSTANCE_COLUMNS} FROM formula_instances \
                     WHERE organization_id = $1 AND ($2 IS NULL OR formula_id = $2) ORDER BY id LIMIT 1000"
                );
                let rows = sqlx::query(&sql).bind(organization.get()).bind(formula_id).fetch_all(&self.pool).await?;
                rows.iter().map(formula_instance_row).collect()
            }

            async fn set_formula_instance_active(
                &self,
                organization: OrganizationId,
                id: i64,
                active: bool,
            ) -> Result<Option<FormulaInstanceRecord>> {
                let sql = format!(
                    "UPDATE formula_instances SET active = $3, updated_at = $4 \
                     WHERE organization_id = $1 AND id = $2 RETURNING {FORMULA_INSTANCE_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(organization.get())
                    .bind(id)
                    .bind(active)
                    .bind(now())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|row| formula_instance_row(&row)).transpose()
            }

            async fn delete_formula_instance(&self, organization: OrganizationId, id: i64) -> Result<bool> {
                let done = sqlx::query("DELETE FROM formula_instances WHERE organization_id = $1 AND id = $2")
                    .bind(organization.get())
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn active_formula_instances(
                &self,
                after: i64,
                limit: u32,
            ) -> Result<Vec<(FormulaInstanceRecord, serde_json::Value)>> {
                let columns = FORMULA_INSTANCE_COLUMNS
                    .split(", ")
                    .map(|column| format!("i.{column}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "SELECT {columns}, f.template AS formula_template FROM formula_instances i \
                     JOIN formulas f ON f.id = i.formula_id WHERE i.active AND i.id > $1 ORDER BY i.id LIMIT $2"
                );
                let rows = sqlx::query(&sql).bind(after).bind(i64::from(limit)).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| {
                        let template: String = row.try_get("formula_template")?;
                        let template =
                            serde_json::from_str(&template).map_err(|_| StoreError::Corrupt("formula template"))?;
                        Ok((formula_instance_row(row)?, template))
                    })
                    .collect()
            }

            async fn advance_formula_triggers(
                &self,
                id: i64,
                event_cursor: Option<i64>,
                schedule_cursor: Option<DateTime<Utc>>,
            ) -> Result<()> {
                sqlx::query(
                    "UPDATE formula_instances SET event_cursor = COALESCE($2, event_cursor), \
                     schedule_cursor = COALESCE($3, schedule_cursor) WHERE id = $1",
                )
                .bind(id)
                .bind(event_cursor)
                .bind(schedule_cursor.map(micros))
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn create_execution(&self, new: &NewExecution) -> Result<Option<ExecutionRecord>> {
                let mut tx = self.begin_write().await?;
                let sql = format!(
                    "INSERT INTO formula_executions (organization_id, formula_instance_id, formula_id, status, \
                     trigger_data, template, config, dedupe_key, created_at, updated_at) \
                     SELECT organization_id, id, $3, 'queued', $4, $5, $6, $7, $8, $8 FROM formula_instances \
                     WHERE organization_id = $1 AND id = $2 \
                     ON CONFLICT (formula_instance_id, dedupe_key) DO NOTHING RETURNING {EXECUTION_COLUMNS}"
                );
                let row = sqlx::query(&sql)
                    .bind(new.organization_id.get())
                    .bind(new.formula_instance_id)
                    .bind(new.formula_id)
                    .bind(new.trigger.to_string())
                    .bind(new.template.to_string())
                    .bind(new.config.to_string())
                    .bind(new.dedupe_key.as_deref())
                    .bind(now())
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    // A duplicate, or the formula instance is gone: tell them apart for the caller.
                    let exists: Option<i64> = sqlx::query_scalar(
                        "SELECT id FROM formula_instances WHERE organization_id = $1 AND id = $2",
                    )
                    .bind(new.organization_id.get())
                    .bind(new.formula_instance_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    return if exists.is_some() { Ok(None) } else { Err(StoreError::NotFound) };
                };
                let execution = execution_row(&row)?;
                let mut job = NewJob::new(FORMULA_QUEUE, serde_json::json!({ "execution": execution.id }));
                job.max_attempts = FORMULA_MAX_ATTEMPTS;
                self.enqueue_in(&mut tx, &job).await?;
                tx.commit().await?;
                Ok(Some(execution))
            }

            async fn execution(
                &self,
                organization: Option<OrganizationId>,
                id: i64,
            ) -> Result<Option<ExecutionRecord>> {
                let sql = format!(
                    "SELECT {EXECUTION_COLUMNS} FROM formula_executions \
                     WHERE id = $1 AND ($2 IS NULL OR organization_id = $2)"
                );
                let row = sqlx::query(&sql)
                    .bind(id)
                    .bind(organization.map(OrganizationId::get))
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|row| execution_row(&row)).transpose()
            }

            async fn list_executions(
                &self,
                organization: OrganizationId,
                formula_instance_id: i64,
                before: Option<i64>,
                limit: u32,
            ) -> Result<Vec<ExecutionRecord>> {
                let sql = format!(
                    "SELECT {EXECUTION_COLUMNS} FROM formula_executions WHERE organization_id = $1 \
                     AND formula_instance_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4"
                );
                let rows = sqlx::query(&sql)
                    .bind(organization.get())
                    .bind(formula_instance_id)
                    .bind(before.unwrap_or(i64::MAX))
                    .bind(i64::from(limit.clamp(1, MAX_EXECUTIONS_LISTED)))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(execution_row).collect()
            }

            async fn execution_steps(&self, execution_id: i64) -> Result<Vec<ExecutionStep>> {
                let sql =
                    format!("SELECT {STEP_COLUMNS} FROM formula_execution_steps WHERE execution_id = $1 ORDER BY seq");
                let rows = sqlx::query(&sql).bind(execution_id).fetch_all(&self.pool).await?;
                rows.iter().map(step_row).collect()
            }

            async fn start_execution(&self, id: i64) -> Result<Option<ExecutionRecord>> {
                sqlx::query(&format!(
                    "UPDATE formula_executions SET status = 'pending', updated_at = $2 WHERE id = $1 AND {OPEN_EXECUTION}"
                ))
                .bind(id)
                .bind(now())
                .execute(&self.pool)
                .await?;
                self.execution(None, id).await
            }

            async fn begin_execution_step(
                &self,
                execution_id: i64,
                seq: i64,
                name: &str,
                step_type: &str,
                input: &serde_json::Value,
            ) -> Result<bool> {
                let sql = format!(
                    "INSERT INTO formula_execution_steps (execution_id, seq, step_name, step_type, status, input, \
                     attempts, started_at) SELECT id, $2, $3, $4, 'started', $5, 0, $6 FROM formula_executions \
                     WHERE id = $1 AND status = 'pending' \
                     ON CONFLICT (execution_id, seq) DO UPDATE SET step_name = excluded.step_name, \
                     step_type = excluded.step_type, status = 'started', next_branch = NULL, input = excluded.input, \
                     output = NULL, error = NULL, started_at = excluded.started_at, finished_at = NULL"
                );
                let done = sqlx::query(&sql)
                    .bind(execution_id)
                    .bind(seq)
                    .bind(name)
                    .bind(step_type)
                    .bind(input.to_string())
                    .bind(now())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn finish_execution_step(
                &self,
                execution_id: i64,
                seq: i64,
                finish: &StepFinish<'_>,
            ) -> Result<bool> {
                debug_assert!(finish.status != StepStatus::Started, "a finish is success or failed");
                let done = sqlx::query(
                    "UPDATE formula_execution_steps SET status = $3, next_branch = $4, output = $5, error = $6, \
                     attempts = $7, finished_at = $8 WHERE execution_id = $1 AND seq = $2 AND status = 'started' \
                     AND EXISTS (SELECT 1 FROM formula_executions e WHERE e.id = $1 AND e.status = 'pending')",
                )
                .bind(execution_id)
                .bind(seq)
                .bind(finish.status.as_str())
                .bind(finish.next_branch)
                .bind(finish.output.to_string())
                .bind(finish.error)
                .bind(finish.attempts)
                .bind(now())
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn finish_execution(&self, id: i64, status: ExecutionStatus, error: Option<&str>) -> Result<bool> {
                let at = now();
                let done = sqlx::query(&format!(
                    "UPDATE formula_executions SET status = $2, error = $3, updated_at = $4, finished_at = $4 \
                     WHERE id = $1 AND {OPEN_EXECUTION}"
                ))
                .bind(id)
                .bind(status.as_str())
                .bind(error)
                .bind(at)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn cancel_execution(
                &self,
                organization: OrganizationId,
                id: i64,
            ) -> Result<Option<ExecutionRecord>> {
                let at = now();
                sqlx::query(&format!(
                    "UPDATE formula_executions SET status = 'cancelled', updated_at = $3, finished_at = $3 \
                     WHERE organization_id = $1 AND id = $2 AND {OPEN_EXECUTION}"
                ))
                .bind(organization.get())
                .bind(id)
                .bind(at)
                .execute(&self.pool)
                .await?;
                self.execution(Some(organization), id).await
            }

            async fn prune_executions(&self, before: DateTime<Utc>) -> Result<u64> {
                let done = sqlx::query("DELETE FROM formula_executions WHERE finished_at < $1")
                    .bind(micros(before))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use implement_formula_run_store;
