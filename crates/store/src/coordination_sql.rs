//! The calls behind [`crate::CoordinationStore`] and the store types' `enqueue_in`: leases, the job
//! queue and the registry of authorization codes. Their SQL text and its reasoning live in
//! `crate::leases`, `crate::queue` and `crate::authorization_codes`; this module binds and runs it.

/// Expanded by `implement_store!` into the implementation's module, whose imports, `Db` and `Tx`
/// types, and row readers it uses.
macro_rules! implement_coordination_store {
    ($store:ident) => {
        fn raw_job(row: &<Db as sqlx::Database>::Row) -> Result<RawJob> {
            Ok(RawJob {
                id: row.try_get("id")?,
                queue: row.try_get("queue")?,
                payload: row.try_get("payload")?,
                state: row.try_get("state")?,
                attempts: row.try_get("attempts")?,
                max_attempts: row.try_get("max_attempts")?,
                run_at: row.try_get("run_at")?,
                lease_owner: row.try_get("lease_owner")?,
                lease_until: row.try_get("lease_until")?,
                last_error: row.try_get("last_error")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        impl $store {
            /// Enqueues `job` inside the caller's transaction `tx` and returns its id: the job exists
            /// if and only if `tx` commits. This is how a write and the job that follows it up are
            /// made atomic: a store method that writes its own row calls this before committing.
            ///
            /// On SQLite, begin `tx` with the write lock (`BEGIN IMMEDIATE`, as the store's own
            /// writes do) when it reads before it writes.
            pub async fn enqueue_in(&self, tx: &mut sqlx::Transaction<'_, Db>, job: &NewJob) -> Result<i64> {
                Ok(sqlx::query_scalar(&queue::enqueue_sql(self.dialect))
                    .bind(&job.queue)
                    .bind(job.payload.to_string())
                    .bind(job.run_at.map(micros))
                    .bind(queue::attempts_column(job.max_attempts))
                    .fetch_one(&mut **tx)
                    .await?)
            }
        }

        #[async_trait]
        impl CoordinationStore for $store {
            // Coordination: leases and the job queue. The SQL and its reasoning are in `leases` and
            // `queue`; each operation is one statement outside any transaction (a claim: two, each
            // atomic on its own). Statements with `RETURNING` use `fetch_all`, so they run to
            // completion whatever they return.

            async fn try_lease(&self, kind: &str, key: &str, owner: &str, ttl: std::time::Duration) -> Result<bool> {
                let taken = sqlx::query(&leases::take_sql(self.dialect))
                    .bind(kind)
                    .bind(key)
                    .bind(owner)
                    .bind(millis(ttl))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(!taken.is_empty())
            }

            async fn renew_lease(&self, kind: &str, key: &str, owner: &str, ttl: std::time::Duration) -> Result<bool> {
                let renewed = sqlx::query(&leases::renew_sql(self.dialect))
                    .bind(kind)
                    .bind(key)
                    .bind(owner)
                    .bind(millis(ttl))
                    .execute(&self.pool)
                    .await?;
                Ok(renewed.rows_affected() == 1)
            }

            async fn release_lease(&self, kind: &str, key: &str, owner: &str) -> Result<()> {
                sqlx::query(leases::RELEASE).bind(kind).bind(key).bind(owner).execute(&self.pool).await?;
                Ok(())
            }

            async fn enqueue(&self, job: &NewJob) -> Result<i64> {
                let mut tx = self.begin_write().await?;
                let id = self.enqueue_in(&mut tx, job).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn claim_jobs(
                &self,
                queue: &str,
                owner: &str,
                lease_ttl: std::time::Duration,
                limit: u32,
            ) -> Result<Vec<Job>> {
                sqlx::query(&queue::bury_sql(self.dialect)).bind(queue).execute(&self.pool).await?;
                let rows = sqlx::query(&queue::claim_sql(self.dialect))
                    .bind(queue)
                    .bind(owner)
                    .bind(millis(lease_ttl))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                let mut jobs = rows.iter().map(|row| raw_job(row)?.into_job()).collect::<Result<Vec<_>>>()?;
                // `RETURNING` follows no `ORDER BY`: restore the pick order.
                jobs.sort_by_key(|job| (job.run_at, job.id));
                Ok(jobs)
            }

            async fn extend_job_lease(&self, job_id: i64, owner: &str, lease_ttl: std::time::Duration) -> Result<bool> {
                let extended = sqlx::query(&queue::extend_sql(self.dialect))
                    .bind(job_id)
                    .bind(owner)
                    .bind(millis(lease_ttl))
                    .execute(&self.pool)
                    .await?;
                Ok(extended.rows_affected() == 1)
            }

            async fn complete_job(&self, job_id: i64, owner: &str) -> Result<bool> {
                let completed = sqlx::query(&queue::complete_sql(self.dialect))
                    .bind(job_id)
                    .bind(owner)
                    .execute(&self.pool)
                    .await?;
                Ok(completed.rows_affected() == 1)
            }

            async fn fail_job(
                &self,
                job_id: i64,
                owner: &str,
                error: &str,
                retry_at: Option<DateTime<Utc>>,
            ) -> Result<Option<JobState>> {
                let states: Vec<String> = sqlx::query_scalar(&queue::fail_sql(self.dialect))
                    .bind(job_id)
                    .bind(owner)
                    .bind(error)
                    .bind(retry_at.map(micros))
                    .fetch_all(&self.pool)
                    .await?;
                states.first().map(|state| JobState::parse(state)).transpose()
            }

            async fn dead_jobs(&self, queue: &str, limit: u32) -> Result<Vec<Job>> {
                let rows = sqlx::query(&queue::dead_jobs_sql())
                    .bind(queue)
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(|row| raw_job(row)?.into_job()).collect()
            }

            // The registry of exchanged authorization codes; the SQL and its reasoning are in
            // `authorization_codes`.

            async fn claim_authorization_code(
                &self,
                code: &Secret,
                organization_id: OrganizationId,
                ttl: std::time::Duration,
            ) -> Result<CodeClaim> {
                sqlx::query(&authorization_codes::prune_sql(self.dialect)).execute(&self.pool).await?;
                let lookup = self.keys.get().lookup(AUTHORIZATION_CODE_PURPOSE, code);
                let ticket = crypto::generate_secret();
                let row = sqlx::query(&authorization_codes::claim_sql(self.dialect))
                    .bind(&lookup)
                    .bind(organization_id.get())
                    .bind(&ticket)
                    .bind(millis(ttl))
                    .fetch_one(&self.pool)
                    .await
                    .map_err(on_insert("authorization code"))?;
                let holder = OrganizationId::new(row.try_get("organization_id")?);
                let held_under: String = row.try_get("claim_ticket")?;
                if held_under == ticket {
                    return Ok(CodeClaim::Claimed(ClaimedCode { lookup, ticket, organization_id }));
                }
                let instance_id: Option<i64> = row.try_get("instance_id")?;
                Ok(CodeClaim::Replayed { organization_id: holder, instance_id: instance_id.map(InstanceId::new) })
            }

            async fn bind_authorization_code(&self, claim: &ClaimedCode, instance_id: InstanceId) -> Result<bool> {
                let bound = sqlx::query(authorization_codes::BIND_EXISTING_INSTANCE)
                    .bind(instance_id.get())
                    .bind(&claim.lookup)
                    .bind(&claim.ticket)
                    .execute(&self.pool)
                    .await?;
                Ok(bound.rows_affected() == 1)
            }

            async fn release_authorization_code(&self, claim: &ClaimedCode) -> Result<()> {
                sqlx::query(authorization_codes::RELEASE)
                    .bind(&claim.lookup)
                    .bind(&claim.ticket)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use implement_coordination_store;
