//! The SQL of [`crate::InstanceStore`]: instance rows (inserted, read, listed, patched, deleted,
//! re-sealed), the refresh critical section on both databases (the SQLite lease path and the
//! PostgreSQL row-lock path), and the token events written with them.
//!
//! What this module does not own: how rows are sealed (`crate::sealing`), the dialect (`Dialect`
//! in `crate::shared_sql`), and the key rotation loop (`implement_store!`, which uses this module's
//! `write_instance`).

/// Expanded by `implement_store!` into the implementation's module, whose imports, `Db` and `Tx`
/// types, and row readers it uses.
macro_rules! implement_instance_store {
    ($store:ident) => {
        fn raw_instance(row: &<Db as sqlx::Database>::Row) -> Result<RawInstance> {
            Ok(RawInstance {
                id: InstanceId::new(row.try_get("id")?),
                organization_id: OrganizationId::new(row.try_get("organization_id")?),
                element_key: row.try_get("element_key")?,
                name: row.try_get("name")?,
                tags: row.try_get("tags")?,
                configuration: row.try_get("configuration")?,
                secrets: row.try_get("secrets")?,
                token_sealed: row.try_get("token_sealed")?,
                key_version: row.try_get("key_version")?,
                valid: row.try_get("valid")?,
                disabled: row.try_get("disabled")?,
                trace_logging: row.try_get("trace_logging")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                access_expires_at: row.try_get("access_expires_at")?,
                refreshed_at: row.try_get("refreshed_at")?,
                refresh_generation: row.try_get("refresh_generation")?,
                vendor_account: row.try_get("vendor_account")?,
            })
        }

        impl $store {
            /// Reads and locks one instance row inside `tx`; `organization_id` of `None` skips the tenant check
            /// (internal callers that hold only an instance id).
            async fn lock_instance(&self, tx: &mut Tx, organization_id: Option<OrganizationId>, id: InstanceId) -> Result<InstanceRecord> {
                let sql = format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances WHERE id = $1 AND ($2 OR organization_id = $3){}",
                    self.dialect.for_update
                );
                let row = sqlx::query(&sql)
                    .bind(id.get())
                    .bind(organization_id.is_none())
                    .bind(organization_id.map_or(0, OrganizationId::get))
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                self.keys.get().open_instance(raw_instance(&row)?)
            }

            /// Takes instance `id`'s refresh lease (SQLite) for `owner`, waiting while another
            /// process holds it. A lease outlives everything a refresh can wait for (pool, token
            /// endpoint, busy database), so one left by a crashed process expires on its own.
            async fn take_refresh_lease(&self, id: InstanceId, owner: &str) -> Result<()> {
                loop {
                    let until = now() + chrono::TimeDelta::seconds(REFRESH_LEASE_SECS);
                    let mut tx = self.begin_write().await?;
                    let taken = sqlx::query(
                        "UPDATE instances SET refresh_lease_until = $1, refresh_lease_owner = $2 \
                         WHERE id = $3 AND (refresh_lease_until IS NULL OR refresh_lease_until < $4)",
                    )
                    .bind(micros(until))
                    .bind(owner)
                    .bind(id.get())
                    .bind(micros(now()))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    tx.commit().await?;
                    if taken == 1 {
                        return Ok(());
                    }
                    self.read_instance(id).await?; // NotFound ends the wait
                    tokio::time::sleep(std::time::Duration::from_millis(25)).await;
                }
            }

            /// Releases `owner`'s lease on instance `id` (a lease taken over after expiry is left alone).
            async fn release_refresh_lease(&self, id: InstanceId, owner: &str) {
                let released = sqlx::query(
                    "UPDATE instances SET refresh_lease_until = NULL, refresh_lease_owner = NULL \
                     WHERE id = $1 AND refresh_lease_owner = $2",
                )
                .bind(id.get())
                .bind(owner)
                .execute(&self.pool)
                .await;
                if let Err(error) = released {
                    tracing::warn!(instance_id = id.get(), %error, "refresh lease not released; it expires on its own");
                }
            }

            /// The refresh of instance `id` once its lease is held: the vendor is asked with no
            /// transaction open, then the outcome is stored in one. The vendor has already rotated
            /// the pair by then, so storing it is retried on database errors before giving up.
            async fn refresh_under_lease(&self, id: InstanceId, refresh: RefreshFn) -> Result<RefreshResult> {
                let seen = self.read_instance(id).await?;
                let before = current_tokens(&seen);
                let decision = refresh(before.clone()).await;
                if matches!(decision, RefreshDecision::Unchanged) {
                    // Nothing to store (another worker's pair is used): no write transaction.
                    return Ok(RefreshResult { outcome: RefreshOutcome::Unchanged, current: before });
                }
                let mut attempt = 0u32;
                loop {
                    match self.store_refresh(id, &before, decision.clone()).await {
                        Err(StoreError::Database(error)) if attempt < STORE_REFRESH_RETRIES => {
                            attempt += 1;
                            tracing::warn!(instance_id = id.get(), attempt, %error, "storing a refresh failed; retrying");
                            tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt))).await;
                        }
                        Err(error) => {
                            if matches!(decision, RefreshDecision::Refreshed(_)) {
                                tracing::error!(instance_id = id.get(), %error, "a refreshed token pair could not be stored");
                            }
                            return Err(error);
                        }
                        Ok(result) => return Ok(result),
                    }
                }
            }

            /// Stores `decision` unless the row changed while the vendor was asked: a
            /// re-authentication (or anything else that moved the pair or its validity) wins, and
            /// the decision, made on the older pair, is dropped.
            async fn store_refresh(&self, id: InstanceId, before: &CurrentTokens, decision: RefreshDecision) -> Result<RefreshResult> {
                let mut tx = self.begin_write().await?;
                let record = self.lock_instance(&mut tx, None, id).await?;
                if record.refresh_generation != before.refresh_generation || record.valid != before.valid {
                    tracing::warn!(instance_id = id.get(), "the token pair changed during a refresh; keeping the stored one");
                    tx.rollback().await?;
                    return Ok(RefreshResult { outcome: RefreshOutcome::Unchanged, current: current_tokens(&record) });
                }
                self.apply_refresh(tx, record, before.clone(), decision).await
            }

            /// Reads one instance without locking it (the refresh path on SQLite).
            async fn read_instance(&self, id: InstanceId) -> Result<InstanceRecord> {
                let sql = format!("SELECT {INSTANCE_COLUMNS} FROM instances WHERE id = $1");
                let row = sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
                self.keys.get().open_instance(raw_instance(&row)?)
            }

            /// Stores a refresh decision on the locked `record` and commits: a new pair (failures
            /// reset), the instance marked invalid, or a transient failure (the next background
            /// attempt backed off). The commit is the durability point: only after it does the
            /// caller get the new pair.
            async fn apply_refresh(
                &self,
                mut tx: Tx,
                mut record: InstanceRecord,
                before: CurrentTokens,
                decision: RefreshDecision,
            ) -> Result<RefreshResult> {
                let instance_id = record.id;
                let (outcome, kind, detail) = match decision {
                    RefreshDecision::Unchanged => {
                        tx.rollback().await?;
                        return Ok(RefreshResult { outcome: RefreshOutcome::Unchanged, current: before });
                    }
                    RefreshDecision::Refreshed(pair) => {
                        record.secrets.insert(ACCESS_TOKEN_KEY, pair.access_token);
                        record.secrets.insert(REFRESH_TOKEN_KEY, pair.refresh_token);
                        record.access_expires_at = pair.access_expires_at.map(micros);
                        record.refreshed_at = Some(now());
                        record.refresh_generation += 1;
                        record.valid = true;
                        record.vendor_account = pair.vendor_account.or(record.vendor_account);
                        (RefreshOutcome::Refreshed, "refreshed", String::new())
                    }
                    RefreshDecision::Invalid { detail } => {
                        record.valid = false;
                        (RefreshOutcome::Invalid, "invalid_grant", detail)
                    }
                    RefreshDecision::Failed { detail } => (RefreshOutcome::Failed, "failed", detail),
                };
                if outcome == RefreshOutcome::Failed {
                    Self::back_off_refresh(&mut tx, instance_id).await?;
                } else {
                    record.updated_at = now();
                    self.write_instance(&mut tx, &record).await?;
                    sqlx::query("UPDATE instances SET refresh_failures = 0, refresh_retry_at = NULL WHERE id = $1")
                        .bind(instance_id.get())
                        .execute(&mut *tx)
                        .await?;
                }
                Self::insert_event(&mut tx, instance_id, "refresh", kind, &detail).await?;
                tx.commit().await?;
                Ok(RefreshResult { outcome, current: current_tokens(&record) })
            }

            /// Counts a transient refresh failure and sets when the background refresher may try
            /// again (`domain::token_rules::backoff_delay`: 2 s doubling, capped at 5 min).
            async fn back_off_refresh(tx: &mut Tx, instance_id: InstanceId) -> Result<()> {
                let failures: i32 = sqlx::query_scalar("SELECT refresh_failures FROM instances WHERE id = $1")
                    .bind(instance_id.get())
                    .fetch_one(&mut **tx)
                    .await?;
                let failures = failures.saturating_add(1);
                let delay = domain::token_rules::backoff_delay(u32::try_from(failures).unwrap_or(u32::MAX));
                let retry_at = now() + chrono::TimeDelta::from_std(delay).unwrap_or_default();
                sqlx::query("UPDATE instances SET refresh_failures = $1, refresh_retry_at = $2 WHERE id = $3")
                    .bind(failures)
                    .bind(micros(retry_at))
                    .bind(instance_id.get())
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Writes every mutable column of `record` (re-sealed under the current key) inside `tx`.
            async fn write_instance(&self, tx: &mut Tx, record: &InstanceRecord) -> Result<()> {
                let sealed = self.keys.get().seal_instance(record.id, &record.secrets, &record.token);
                let token_lookup = self.keys.get().lookup(INSTANCE_TOKEN_PURPOSE, &record.token);
                sqlx::query(
                    "UPDATE instances SET name = $2, tags = $3, configuration = $4, secrets = $5, token_lookup = $6, \
                     token_sealed = $7, key_version = $8, valid = $9, disabled = $10, trace_logging = $11, \
                     updated_at = $12, access_expires_at = $13, refreshed_at = $14, refresh_generation = $15, \
                     vendor_account = $16 WHERE id = $1",
                )
                .bind(record.id.get())
                .bind(&record.name)
                .bind(tags_json(&record.tags))
                .bind(config_json(&record.configuration))
                .bind(sealed.secrets)
                .bind(token_lookup)
                .bind(sealed.token)
                .bind(sealed.key_version)
                .bind(record.valid)
                .bind(record.disabled)
                .bind(record.trace_logging)
                .bind(record.updated_at)
                .bind(record.access_expires_at)
                .bind(record.refreshed_at)
                .bind(record.refresh_generation)
                .bind(&record.vendor_account)
                .execute(&mut **tx)
                .await?;
                Ok(())
            }

            /// Appends a token event inside `tx`, so it commits (or not) with the change it describes.
            async fn insert_event(tx: &mut Tx, instance_id: InstanceId, kind: &str, outcome: &str, detail: &str) -> Result<()> {
                const INSERT: &str =
                    "INSERT INTO token_events (instance_id, at, kind, outcome, detail) VALUES ($1, $2, $3, $4, $5)";
                sqlx::query(INSERT)
                    .bind(instance_id.get())
                    .bind(now())
                    .bind(kind)
                    .bind(outcome)
                    .bind(detail)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Inserts `new` with a fresh instance token inside `tx` and returns the record.
            async fn insert_instance_in(&self, tx: &mut Tx, new: NewInstance) -> Result<InstanceRecord> {
                let keys = self.keys.get();
                let token = Secret::new(crypto::generate_secret());
                let created_at = now();
                // The sealed columns are bound to the row id, which the database assigns: insert with
                // empty sealed columns, then seal and fill them in the same transaction.
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO instances (organization_id, element_key, name, tags, configuration, secrets, \
                     token_lookup, token_sealed, key_version, valid, disabled, trace_logging, created_at, updated_at, \
                     access_expires_at, \
                     refreshed_at, refresh_generation, vendor_account) \
                     VALUES ($1, $2, $3, $4, $5, '', $6, '', $7, $8, $9, $9, $10, $10, $11, $10, 0, $12) RETURNING id",
                )
                .bind(new.organization_id.get())
                .bind(&new.element_key)
                .bind(&new.name)
                .bind(tags_json(&new.tags))
                .bind(config_json(&new.configuration))
                .bind(keys.lookup(INSTANCE_TOKEN_PURPOSE, &token))
                .bind(keys.ring.current_version())
                .bind(true)
                .bind(false)
                .bind(created_at)
                .bind(new.access_expires_at.map(micros))
                .bind(&new.vendor_account)
                .fetch_one(&mut **tx)
                .await
                .map_err(on_insert("instance token"))?;
                let id = InstanceId::new(id);
                let sealed = keys.seal_instance(id, &new.secrets, &token);
                sqlx::query("UPDATE instances SET secrets = $2, token_sealed = $3, key_version = $4 WHERE id = $1")
                    .bind(id.get())
                    .bind(sealed.secrets)
                    .bind(sealed.token)
                    .bind(sealed.key_version)
                    .execute(&mut **tx)
                    .await?;
                let record = InstanceRecord {
                    id,
                    organization_id: new.organization_id,
                    element_key: new.element_key,
                    name: new.name,
                    tags: new.tags,
                    configuration: new.configuration,
                    secrets: new.secrets,
                    token,
                    valid: true,
                    disabled: false,
                    trace_logging: false,
                    created_at,
                    updated_at: created_at,
                    access_expires_at: new.access_expires_at.map(micros),
                    refreshed_at: Some(created_at),
                    refresh_generation: 0,
                    vendor_account: new.vendor_account,
                };
                Self::sync_event_poller(tx, self.dialect, &record).await?;
                Ok(record)
            }
        }

        #[async_trait]
        impl InstanceStore for $store {
            async fn insert_instance(&self, new: NewInstance) -> Result<InstanceRecord> {
                let mut tx = self.begin_write().await?;
                let record = self.insert_instance_in(&mut tx, new).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn insert_instance_with_code(&self, new: NewInstance, claim: &ClaimedCode) -> Result<InstanceRecord> {
                let organization_id = new.organization_id;
                let mut tx = self.begin_write().await?;
                let record = self.insert_instance_in(&mut tx, new).await?;
                let bound = sqlx::query(authorization_codes::BIND_NEW_INSTANCE)
                    .bind(record.id.get())
                    .bind(&claim.lookup)
                    .bind(&claim.ticket)
                    .bind(organization_id.get())
                    .execute(&mut *tx)
                    .await?;
                if bound.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Err(StoreError::Conflict("authorization code"));
                }
                tx.commit().await?;
                Ok(record)
            }

            async fn get_instance(&self, organization_id: OrganizationId, id: InstanceId) -> Result<InstanceRecord> {
                let sql = format!("SELECT {INSTANCE_COLUMNS} FROM instances WHERE organization_id = $1 AND id = $2");
                let row = sqlx::query(&sql)
                    .bind(organization_id.get())
                    .bind(id.get())
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                self.keys.get().open_instance(raw_instance(&row)?)
            }

            async fn instance_by_id(&self, id: InstanceId) -> Result<InstanceRecord> {
                let sql = format!("SELECT {INSTANCE_COLUMNS} FROM instances WHERE id = $1");
                let row = sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await?.ok_or(StoreError::NotFound)?;
                self.keys.get().open_instance(raw_instance(&row)?)
            }

            async fn find_instance_by_token(&self, token: &Secret) -> Result<Option<InstanceRecord>> {
                let keys = self.keys.get();
                let sql = format!("SELECT {INSTANCE_COLUMNS} FROM instances WHERE token_lookup = $1");
                let row = sqlx::query(&sql)
                    .bind(keys.lookup(INSTANCE_TOKEN_PURPOSE, token))
                    .fetch_optional(&self.pool)
                    .await?;
                let Some(row) = row else { return Ok(None) };
                let record = keys.open_instance(raw_instance(&row)?)?;
                Ok(secrets_equal(&record.token, token).then_some(record))
            }

            async fn list_instances(&self, organization_id: OrganizationId, query: &InstanceQuery) -> Result<Page<InstanceRecord>> {
                let after = decode_cursor(query.next_page.as_deref())?;
                let page_size = query.page_size.clamp(1, MAX_PAGE_SIZE);
                let sql = format!(
                    "SELECT {INSTANCE_COLUMNS} FROM instances WHERE organization_id = $1 AND id > $2 \
                     AND ($3 = '[]' OR {}) \
                     AND ($4 = '' OR LOWER(name) LIKE $4 ESCAPE '\\') \
                     ORDER BY id LIMIT $5",
                    self.dialect.tags_contain_all
                );
                // One row more than asked tells whether another page exists.
                let rows = sqlx::query(&sql)
                    .bind(organization_id.get())
                    .bind(after)
                    .bind(tags_json(&query.tags_all_of))
                    .bind(like_pattern(query.search_text.as_deref()))
                    .bind(i64::from(page_size) + 1)
                    .fetch_all(&self.pool)
                    .await?;
                let keys = self.keys.get();
                let mut items = rows
                    .iter()
                    .map(|row| keys.open_instance(raw_instance(row)?))
                    .collect::<Result<Vec<_>>>()?;
                let more = items.len() > page_size as usize;
                items.truncate(page_size as usize);
                let next_page = if more { items.last().map(|i| encode_cursor(i.id)) } else { None };
                Ok(Page { items, next_page })
            }

            async fn update_instance(
                &self,
                organization_id: OrganizationId,
                id: InstanceId,
                patch: InstancePatch,
            ) -> Result<InstanceRecord> {
                let mut tx = self.begin_write().await?;
                let mut record = self.lock_instance(&mut tx, Some(organization_id), id).await?;
                if let Some(name) = patch.name {
                    record.name = name;
                }
                if let Some(tags) = patch.tags {
                    record.tags = tags;
                }
                for (key, value) in patch.configuration {
                    match value {
                        Some(value) => record.configuration.insert(key, value),
                        None => record.configuration.remove(&key),
                    };
                }
                let new_tokens = patch.secrets.keys().any(|k| k == ACCESS_TOKEN_KEY || k == REFRESH_TOKEN_KEY);
                for (key, value) in patch.secrets {
                    match value {
                        Some(value) => record.secrets.0.insert(key, value),
                        None => record.secrets.0.remove(&key),
                    };
                }
                if new_tokens {
                    record.refresh_generation += 1;
                    record.refreshed_at = Some(now());
                }
                record.disabled = patch.disabled.unwrap_or(record.disabled);
                record.trace_logging = patch.trace_logging.unwrap_or(record.trace_logging);
                record.valid = patch.valid.unwrap_or(record.valid);
                if let Some(at) = patch.access_expires_at {
                    record.access_expires_at = at.map(micros);
                }
                if let Some(account) = patch.vendor_account {
                    record.vendor_account = Some(account);
                }
                record.updated_at = now();
                self.write_instance(&mut tx, &record).await?;
                Self::sync_event_poller(&mut tx, self.dialect, &record).await?;
                if new_tokens {
                    Self::insert_event(&mut tx, id, "reauthenticate", "stored", "").await?;
                }
                tx.commit().await?;
                Ok(record)
            }

            async fn count_instances(&self, organization_id: OrganizationId) -> Result<u64> {
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM instances WHERE organization_id = $1")
                    .bind(organization_id.get())
                    .fetch_one(&self.pool)
                    .await?;
                Ok(u64::try_from(count).unwrap_or_default())
            }

            async fn delete_instance(&self, organization_id: OrganizationId, id: InstanceId) -> Result<()> {
                let done = sqlx::query("DELETE FROM instances WHERE organization_id = $1 AND id = $2")
                    .bind(organization_id.get())
                    .bind(id.get())
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                Ok(())
            }

            async fn reissue_instance_token(&self, organization_id: OrganizationId, id: InstanceId) -> Result<Secret> {
                let mut tx = self.begin_write().await?;
                let mut record = self.lock_instance(&mut tx, Some(organization_id), id).await?;
                record.token = Secret::new(crypto::generate_secret());
                record.updated_at = now();
                self.write_instance(&mut tx, &record).await?;
                Self::insert_event(&mut tx, id, "instance-token", "reissued", "").await?;
                tx.commit().await?;
                Ok(record.token)
            }

            async fn record_token_event(&self, instance_id: InstanceId, kind: &str, outcome: &str, detail: &str) -> Result<()> {
                let mut tx = self.pool.begin().await?;
                Self::insert_event(&mut tx, instance_id, kind, outcome, detail).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_token_events(&self, instance_id: InstanceId, limit: u32) -> Result<Vec<TokenEvent>> {
                let rows = sqlx::query(
                    "SELECT id, instance_id, at, kind, outcome, detail FROM token_events WHERE instance_id = $1 \
                     ORDER BY id DESC LIMIT $2",
                )
                .bind(instance_id.get())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok(TokenEvent {
                            id: row.try_get("id")?,
                            instance_id: InstanceId::new(row.try_get("instance_id")?),
                            at: row.try_get("at")?,
                            kind: row.try_get("kind")?,
                            outcome: row.try_get("outcome")?,
                            detail: row.try_get("detail")?,
                        })
                    })
                    .collect()
            }

            async fn instances_due_for_refresh(
                &self,
                expires_before: DateTime<Utc>,
                refreshed_before: DateTime<Utc>,
                now: DateTime<Utc>,
                limit: u32,
            ) -> Result<Vec<InstanceId>> {
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT id FROM instances WHERE valid = $1 AND disabled = $2 \
                     AND ((access_expires_at IS NOT NULL AND access_expires_at < $3) \
                          OR COALESCE(refreshed_at, created_at) < $4) \
                     AND (refresh_retry_at IS NULL OR refresh_retry_at <= $5) \
                     ORDER BY COALESCE(access_expires_at, created_at), id LIMIT $6",
                )
                .bind(true)
                .bind(false)
                .bind(micros(expires_before))
                .bind(micros(refreshed_before))
                .bind(micros(now))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(ids.into_iter().map(InstanceId::new).collect())
            }

            async fn refresh_tokens(&self, instance_id: InstanceId, refresh: RefreshFn) -> Result<RefreshResult> {
                // In-process queue first (see `instance_locks`), then the database lock that also
                // excludes other processes and nodes.
                let _queued = self.locks.lock(instance_id).await;
                if self.dialect.refresh_before_transaction {
                    // The in-process queue above already orders this process's callers; the lease
                    // orders processes sharing the file.
                    let owner = crypto::generate_secret();
                    self.take_refresh_lease(instance_id, &owner).await?;
                    let result = self.refresh_under_lease(instance_id, refresh).await;
                    self.release_refresh_lease(instance_id, &owner).await;
                    return result;
                }
                let mut tx = self.begin_write().await?;
                let record = self.lock_instance(&mut tx, None, instance_id).await?;
                let before = current_tokens(&record);
                let decision = refresh(before.clone()).await;
                self.apply_refresh(tx, record, before, decision).await
            }
        }

        fn current_tokens(record: &InstanceRecord) -> CurrentTokens {
            let pair = record.secrets.token_pair().map(|(access_token, refresh_token)| TokenPair {
                access_token,
                refresh_token,
                access_expires_at: record.access_expires_at,
                vendor_account: record.vendor_account.clone(),
            });
            CurrentTokens {
                instance_id: record.id,
                pair,
                refresh_generation: record.refresh_generation,
                refreshed_at: record.refreshed_at,
                valid: record.valid,
                secrets: record.secrets.clone(),
            }
        }
    };
}

pub(crate) use implement_instance_store;
