//! The SQL of [`crate::BulkStore`]: bulk jobs' rows, their queue rows, the step commits, the
//! results, errors and uploaded files. The values and the step rule are in `crate::bulk`; the
//! tables are described in the `bulk` migration.

/// Expanded by `implement_store!` into the implementation's module, whose imports, `Db` and `Tx`
/// types it uses.
macro_rules! implement_bulk_store {
    ($store:ident) => {
        fn raw_bulk_job(row: &<Db as sqlx::Database>::Row) -> Result<bulk::RawBulkJob> {
            Ok(bulk::RawBulkJob {
                id: row.try_get("id")?,
                organization_id: row.try_get("organization_id")?,
                instance_id: row.try_get("instance_id")?,
                kind: row.try_get("kind")?,
                object_name: row.try_get("object_name")?,
                request: row.try_get("request")?,
                callback_url: row.try_get("callback_url")?,
                status: row.try_get("status")?,
                step: row.try_get("step")?,
                position: row.try_get("position")?,
                records_count: row.try_get("records_count")?,
                failed_count: row.try_get("failed_count")?,
                vendor_calls: row.try_get("vendor_calls")?,
                expected_count: row.try_get("expected_count")?,
                json_bytes: row.try_get("json_bytes")?,
                csv_bytes: row.try_get("csv_bytes")?,
                error: row.try_get("error")?,
                created_at: row.try_get("created_at")?,
                started_at: row.try_get("started_at")?,
                completed_at: row.try_get("completed_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        impl $store {
            /// Queues job `id` (status CREATED, a row in the bulk queue) inside `tx`.
            async fn queue_bulk_job(&self, tx: &mut Tx, id: i64) -> Result<()> {
                let mut job = NewJob::new(bulk::BULK_QUEUE, serde_json::json!({ "bulkJob": id }));
                job.max_attempts = bulk::BULK_MAX_ATTEMPTS;
                let queue_job = self.enqueue_in(tx, &job).await?;
                sqlx::query("UPDATE bulk_jobs SET status = 'CREATED', queue_job_id = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(queue_job)
                    .bind(now())
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Queues the end-of-job notification of job `id` inside `tx` when it has a callback URL.
            async fn queue_bulk_notification(&self, tx: &mut Tx, id: i64, callback_url: Option<&str>) -> Result<()> {
                if callback_url.is_some() {
                    let job = NewJob::new(bulk::BULK_NOTIFY_QUEUE, serde_json::json!({ "bulkJob": id }));
                    self.enqueue_in(tx, &job).await?;
                }
                Ok(())
            }

            async fn read_bulk_job(&self, id: i64, instance_id: Option<InstanceId>) -> Result<BulkJob> {
                let sql = format!(
                    "SELECT {} FROM {} WHERE b.id = $1 AND ($2 IS NULL OR b.instance_id = $2) \
                     AND b.status <> 'UPLOADING'",
                    bulk::BULK_JOB_COLUMNS,
                    bulk::BULK_JOB_FROM
                );
                let row = sqlx::query(&sql)
                    .bind(id)
                    .bind(instance_id.map(InstanceId::get))
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                raw_bulk_job(&row)?.into_job()
            }
        }

        #[async_trait]
        impl BulkStore for $store {
            async fn create_bulk_job(&self, new: &NewBulkJob, uploading: bool) -> Result<i64> {
                let mut tx = self.begin_write().await?;
                let at = now();
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO bulk_jobs (organization_id, instance_id, kind, object_name, request, callback_url, \
                     status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'UPLOADING', $7, $7) RETURNING id",
                )
                .bind(new.organization_id.get())
                .bind(new.instance_id.get())
                .bind(new.kind.as_str())
                .bind(&new.object_name)
                .bind(new.request.to_string())
                .bind(new.callback_url.as_deref())
                .bind(at)
                .fetch_one(&mut *tx)
                .await
                .map_err(on_insert("bulk job"))?;
                if !uploading {
                    self.queue_bulk_job(&mut tx, id).await?;
                }
                tx.commit().await?;
                Ok(id)
            }

            async fn put_bulk_file_part(&self, job_id: i64, seq: i64, data: &[u8]) -> Result<()> {
                sqlx::query("INSERT INTO bulk_files (job_id, seq, data) VALUES ($1, $2, $3)")
                    .bind(job_id)
                    .bind(seq)
                    .bind(data)
                    .execute(&self.pool)
                    .await
                    .map_err(on_insert("bulk file part"))?;
                Ok(())
            }

            async fn bulk_file_parts(&self, job_id: i64, from_seq: i64, limit: u32) -> Result<Vec<(i64, Vec<u8>)>> {
                let rows =
                    sqlx::query("SELECT seq, data FROM bulk_files WHERE job_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3")
                        .bind(job_id)
                        .bind(from_seq)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?;
                rows.iter().map(|row| Ok((row.try_get("seq")?, row.try_get("data")?))).collect()
            }

            async fn queue_uploaded_bulk_job(
                &self,
                job_id: i64,
                request: &serde_json::Value,
                rows: u64,
            ) -> Result<BulkJob> {
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query(
                    "UPDATE bulk_jobs SET expected_count = $2, request = $3 WHERE id = $1 AND status = 'UPLOADING'",
                )
                .bind(job_id)
                .bind(i64::try_from(rows).unwrap_or(i64::MAX))
                .bind(request.to_string())
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                self.queue_bulk_job(&mut tx, job_id).await?;
                tx.commit().await?;
                self.read_bulk_job(job_id, None).await
            }

            async fn delete_bulk_job(&self, job_id: i64) -> Result<()> {
                sqlx::query("DELETE FROM bulk_jobs WHERE id = $1").bind(job_id).execute(&self.pool).await?;
                Ok(())
            }

            async fn bulk_job(&self, instance_id: Option<InstanceId>, id: i64) -> Result<BulkJob> {
                self.read_bulk_job(id, instance_id).await
            }

            async fn list_bulk_jobs(&self, instance_id: InstanceId, limit: u32) -> Result<Vec<BulkJob>> {
                let sql = format!(
                    "SELECT {} FROM {} WHERE b.instance_id = $1 AND b.status <> 'UPLOADING' ORDER BY b.id DESC LIMIT $2",
                    bulk::BULK_JOB_COLUMNS,
                    bulk::BULK_JOB_FROM
                );
                let rows =
                    sqlx::query(&sql).bind(instance_id.get()).bind(i64::from(limit)).fetch_all(&self.pool).await?;
                rows.iter().map(|row| raw_bulk_job(row)?.into_job()).collect()
            }

            async fn cancel_bulk_job(&self, instance_id: InstanceId, id: i64) -> Result<BulkJob> {
                let mut tx = self.begin_write().await?;
                let at = now();
                let cancelled = sqlx::query(
                    "UPDATE bulk_jobs SET status = 'CANCELLED', completed_at = $3, updated_at = $3 \
                     WHERE id = $1 AND instance_id = $2 AND status IN ('CREATED', 'RUNNING') RETURNING callback_url",
                )
                .bind(id)
                .bind(instance_id.get())
                .bind(at)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(row) = cancelled {
                    let callback_url: Option<String> = row.try_get("callback_url")?;
                    self.queue_bulk_notification(&mut tx, id, callback_url.as_deref()).await?;
                }
                tx.commit().await?;
                self.read_bulk_job(id, Some(instance_id)).await
            }

            async fn start_bulk_run(&self, id: i64) -> Result<BulkJob> {
                sqlx::query(
                    "UPDATE bulk_jobs SET status = 'RUNNING', started_at = COALESCE(started_at, $2), updated_at = $2 \
                     WHERE id = $1 AND status = 'CREATED'",
                )
                .bind(id)
                .bind(now())
                .execute(&self.pool)
                .await?;
                self.read_bulk_job(id, None).await
            }

            async fn commit_bulk_step(&self, step: &BulkStep) -> Result<bool> {
                let chunk = step.records.as_ref().filter(|chunk| chunk.records > 0);
                let (json_len, csv_len) = chunk.map_or((0, 0), |chunk| (chunk.json.len(), chunk.csv.len()));
                let (status, error) = match &step.finish {
                    None => ("RUNNING", None),
                    Some(BulkFinish::Completed) => ("COMPLETED", None),
                    Some(BulkFinish::Failed(error)) => ("FAILED", Some(error.as_str())),
                };
                let mut tx = self.begin_write().await?;
                let at = now();
                let big = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                let updated = sqlx::query(
                    "UPDATE bulk_jobs SET step = step + 1, position = $3, records_count = records_count + $4, \
                     failed_count = failed_count + $5, vendor_calls = vendor_calls + $6, \
                     expected_count = COALESCE($7, expected_count), json_bytes = json_bytes + $8, \
                     csv_bytes = csv_bytes + $9, chunks = chunks + $10, status = $11, error = COALESCE($12, error), \
                     completed_at = CASE WHEN $11 = 'RUNNING' THEN completed_at ELSE $13 END, updated_at = $13 \
                     WHERE id = $1 AND step = $2 AND status = 'RUNNING' \
                     RETURNING json_bytes, csv_bytes, chunks, callback_url",
                )
                .bind(step.job_id)
                .bind(step.step)
                .bind(step.position.to_string())
                .bind(big(chunk.map_or(step.written, |chunk| chunk.records)))
                .bind(big(step.errors.len() as u64))
                .bind(big(step.vendor_calls))
                .bind(step.expected_count.map(big))
                .bind(big(json_len as u64))
                .bind(big(csv_len as u64))
                .bind(i64::from(chunk.is_some()))
                .bind(status)
                .bind(error)
                .bind(at)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(row) = updated else { return Ok(false) };
                if let Some(chunk) = chunk {
                    let json_end: i64 = row.try_get("json_bytes")?;
                    let csv_end: i64 = row.try_get("csv_bytes")?;
                    let chunks: i64 = row.try_get("chunks")?;
                    sqlx::query(
                        "INSERT INTO bulk_results (job_id, seq, records, json_start, json_len, json, csv_start, csv_len, \
                         csv) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(step.job_id)
                    .bind(chunks - 1)
                    .bind(big(chunk.records))
                    .bind(json_end - big(json_len as u64))
                    .bind(big(json_len as u64))
                    .bind(&chunk.json)
                    .bind(csv_end - big(csv_len as u64))
                    .bind(big(csv_len as u64))
                    .bind(&chunk.csv)
                    .execute(&mut *tx)
                    .await?;
                }
                for error in &step.errors {
                    sqlx::query(
                        "INSERT INTO bulk_errors (job_id, row_number, field, message) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (job_id, row_number) DO NOTHING",
                    )
                    .bind(step.job_id)
                    .bind(big(error.row))
                    .bind(error.field.as_deref())
                    .bind(&error.message)
                    .execute(&mut *tx)
                    .await?;
                }
                if step.finish.is_some() {
                    let callback_url: Option<String> = row.try_get("callback_url")?;
                    self.queue_bulk_notification(&mut tx, step.job_id, callback_url.as_deref()).await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn bulk_results(&self, job_id: i64, from: u64, csv: bool, limit: u32) -> Result<Vec<StoredChunk>> {
                let sql = if csv {
                    "SELECT * FROM bulk_results WHERE job_id = $1 AND csv_start + csv_len > $2 ORDER BY seq LIMIT $3"
                } else {
                    "SELECT * FROM bulk_results WHERE job_id = $1 AND json_start + json_len > $2 ORDER BY seq LIMIT $3"
                };
                let rows = sqlx::query(sql)
                    .bind(job_id)
                    .bind(i64::try_from(from).unwrap_or(i64::MAX))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                let count = |n: i64| u64::try_from(n).map_err(|_| StoreError::Corrupt("bulk result offset"));
                rows.iter()
                    .map(|row| {
                        Ok(StoredChunk {
                            seq: row.try_get("seq")?,
                            json_start: count(row.try_get("json_start")?)?,
                            csv_start: count(row.try_get("csv_start")?)?,
                            chunk: ResultChunk {
                                records: count(row.try_get("records")?)?,
                                json: row.try_get("json")?,
                                csv: row.try_get("csv")?,
                            },
                        })
                    })
                    .collect()
            }

            async fn bulk_errors(&self, job_id: i64, offset: u64, limit: u32) -> Result<Vec<BulkRowError>> {
                let rows = sqlx::query(
                    "SELECT row_number, field, message FROM bulk_errors WHERE job_id = $1 \
                     ORDER BY row_number LIMIT $2 OFFSET $3",
                )
                .bind(job_id)
                .bind(i64::from(limit))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(BulkRowError {
                            row: u64::try_from(row.try_get::<i64, _>("row_number")?).unwrap_or(0),
                            field: row.try_get("field")?,
                            message: row.try_get("message")?,
                        })
                    })
                    .collect()
            }

            async fn bulk_job_counts(&self) -> Result<Vec<(BulkStatus, u64)>> {
                let sql = format!(
                    "SELECT status, COUNT(*) AS n FROM (SELECT {} FROM {}) AS all_jobs GROUP BY status",
                    bulk::BULK_JOB_COLUMNS,
                    bulk::BULK_JOB_FROM
                );
                let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|row| {
                        let status = BulkStatus::parse(&row.try_get::<String, _>("status")?)?;
                        Ok((status, u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0)))
                    })
                    .collect()
            }

            async fn prune_bulk_jobs(&self, finished_before: DateTime<Utc>) -> Result<u64> {
                // Final jobs (a live one whose queue row died is FAILED), and uploads that never
                // finished arriving (their node died) after a day.
                let done = sqlx::query(
                    "DELETE FROM bulk_jobs WHERE updated_at < $1 AND (status IN ('COMPLETED', 'FAILED', 'CANCELLED') \
                     OR queue_job_id IN (SELECT id FROM jobs WHERE state = 'dead')) \
                     OR (status = 'UPLOADING' AND updated_at < $2)",
                )
                .bind(micros(finished_before))
                .bind(now() - chrono::TimeDelta::days(1))
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use implement_bulk_store;
