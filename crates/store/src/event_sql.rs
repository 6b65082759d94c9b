//! The SQL of [`crate::EventStore`]: poll claims and commits, the outbox's delivery bookkeeping,
//! the event log's reads, retries and pruning. The values and the classification rule are in
//! `crate::events`; the tables are described in the `events` migration.

/// Expanded by `implement_store!` into the implementation's module, whose imports, `Db` and `Tx`
/// types it uses.
macro_rules! implement_event_store {
    ($store:ident) => {
        fn raw_event(row: &<Db as sqlx::Database>::Row) -> Result<events::RawEvent> {
            Ok(events::RawEvent {
                id: row.try_get("id")?,
                instance_id: row.try_get("instance_id")?,
                source: row.try_get("source")?,
                object_type: row.try_get("object_type")?,
                changes: row.try_get("changes")?,
                raw: row.try_get("raw")?,
                status: row.try_get("status")?,
                attempts: row.try_get("attempts")?,
                next_attempt_at: row.try_get("next_attempt_at")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
                notified_at: row.try_get("notified_at")?,
                last_status: row.try_get("last_status")?,
                last_error: row.try_get("last_error")?,
            })
        }

        fn stored_events(rows: &[<Db as sqlx::Database>::Row]) -> Result<Vec<StoredEvent>> {
            rows.iter().map(|row| raw_event(row)?.into_event()).collect()
        }

        impl $store {
            /// Keeps the instance's poller row in step with its configuration, inside the write that
            /// changes it: present (due at once when new) while events are enabled, absent otherwise.
            async fn sync_event_poller(tx: &mut Tx, dialect: &Dialect, record: &InstanceRecord) -> Result<()> {
                let enabled = record
                    .configuration
                    .get(domain::instance_config::EVENTS_ENABLED)
                    .is_some_and(|value| value.eq_ignore_ascii_case("true"));
                if enabled {
                    let insert = format!(
                        "INSERT INTO event_pollers (instance_id, next_poll_at) VALUES ($1, {}) \
                         ON CONFLICT (instance_id) DO NOTHING",
                        dialect.now
                    );
                    sqlx::query(&insert).bind(record.id.get()).execute(&mut **tx)
                    .await?;
                } else {
                    sqlx::query("DELETE FROM event_pollers WHERE instance_id = $1")
                        .bind(record.id.get())
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            }

            /// The change times last reported for the ids of `object` (all of them, or only `ids`).
            async fn known_ids(
                tx: &mut Tx,
                instance_id: InstanceId,
                object: &str,
                ids: Option<&[&str]>,
            ) -> Result<std::collections::HashMap<String, String>> {
                let mut known = std::collections::HashMap::new();
                match ids {
                    None => {
                        let rows = sqlx::query(
                            "SELECT object_id, last_change FROM event_known_ids WHERE instance_id = $1 AND object = $2",
                        )
                        .bind(instance_id.get())
                        .bind(object)
                        .fetch_all(&mut **tx)
                        .await?;
                        for row in rows {
                            known.insert(row.try_get("object_id")?, row.try_get("last_change")?);
                        }
                    }
                    Some(ids) => {
                        const ONE: &str = "SELECT last_change FROM event_known_ids \
                             WHERE instance_id = $1 AND object = $2 AND object_id = $3";
                        for id in ids {
                            let last: Option<String> = sqlx::query_scalar(ONE)
                                .bind(instance_id.get())
                                .bind(object)
                                .bind(*id)
                                .fetch_optional(&mut **tx)
                                .await?;
                            if let Some(last) = last {
                                known.insert((*id).to_string(), last);
                            }
                        }
                    }
                }
                Ok(known)
            }

            /// Records the notifications of one object's `changes` (at most `commit.max_per_event`
            /// each, in order) and returns them.
            async fn insert_notifications(
                tx: &mut Tx,
                dialect: &Dialect,
                commit: &PollCommit,
                object: &str,
                changes: &[events::Change],
            ) -> Result<Vec<StoredEvent>> {
                // Due at once by the database's clock, the one `instances_with_due_events` compares
                // with (the node's may be ahead of it within the same millisecond).
                let insert = format!(
                    "INSERT INTO events (instance_id, source, object_type, changes, raw, status, attempts, \
                     next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'NEW', 0, {now}, $6, $6) \
                     RETURNING {columns}",
                    now = dialect.now,
                    columns = events::EVENT_COLUMNS
                );
                let mut stored = Vec::new();
                for chunk in changes.chunks(commit.max_per_event.max(1)) {
                    let objects: Vec<_> = chunk.iter().map(|change| events::event_object(commit, object, change)).collect();
                    let raw: Vec<_> = chunk.iter().map(|change| change.raw.clone()).collect();
                    let row = sqlx::query(&insert)
                        .bind(commit.instance_id.get())
                        .bind(commit.source)
                        .bind(object)
                        .bind(serde_json::Value::Array(objects).to_string())
                        .bind(serde_json::Value::Array(raw).to_string())
                        .bind(now())
                        .fetch_one(&mut **tx)
                        .await?;
                    stored.push(raw_event(&row)?.into_event()?);
                }
                Ok(stored)
            }

            /// Applies one object's poll inside `tx`: known ids, deletes, watermark, notifications.
            async fn commit_object(
                tx: &mut Tx,
                dialect: &Dialect,
                commit: &PollCommit,
                poll: &ObjectPoll,
            ) -> Result<Vec<StoredEvent>> {
                let instance_id = commit.instance_id;
                let known = if poll.complete {
                    Self::known_ids(tx, instance_id, &poll.object, None).await?
                } else {
                    let ids: Vec<&str> = poll.seen.iter().map(|seen| seen.object_id.as_str()).collect();
                    Self::known_ids(tx, instance_id, &poll.object, Some(&ids)).await?
                };
                let mut changes = Vec::new();
                for seen in &poll.seen {
                    let last = known.get(&seen.object_id).map(String::as_str);
                    let kind = match poll.backfill_since.as_deref() {
                        Some(since) => Some(events::classify_backfill(last, since, seen)),
                        None => events::classify(last, seen),
                    };
                    sqlx::query(
                        "INSERT INTO event_known_ids (instance_id, object, object_id, last_change) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (instance_id, object, object_id) \
                         DO UPDATE SET last_change = excluded.last_change \
                         WHERE event_known_ids.last_change < excluded.last_change",
                    )
                    .bind(instance_id.get())
                    .bind(&poll.object)
                    .bind(&seen.object_id)
                    .bind(&seen.changed_at)
                    .execute(&mut **tx)
                    .await?;
                    if let (Some(kind), false) = (kind, poll.baseline) {
                        changes.push(events::Change {
                            kind,
                            object_id: seen.object_id.clone(),
                            date: seen.changed_at.clone(),
                            raw: seen.record.clone(),
                        });
                    }
                }
                if poll.complete {
                    let present: std::collections::HashSet<&str> =
                        poll.seen.iter().map(|seen| seen.object_id.as_str()).collect();
                    let mut gone: Vec<&String> = known.keys().filter(|id| !present.contains(id.as_str())).collect();
                    gone.sort();
                    for id in gone {
                        sqlx::query("DELETE FROM event_known_ids WHERE instance_id = $1 AND object = $2 AND object_id = $3")
                            .bind(instance_id.get())
                            .bind(&poll.object)
                            .bind(id)
                            .execute(&mut **tx)
                            .await?;
                        if !poll.baseline {
                            changes.push(events::Change {
                                kind: ChangeKind::Deleted,
                                object_id: id.clone(),
                                date: commit.poll_date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                                raw: serde_json::json!({ "id": id }),
                            });
                        }
                    }
                }
                for id in &poll.deleted {
                    sqlx::query("DELETE FROM event_known_ids WHERE instance_id = $1 AND object = $2 AND object_id = $3")
                        .bind(instance_id.get())
                        .bind(&poll.object)
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                    changes.push(events::Change {
                        kind: ChangeKind::Deleted,
                        object_id: id.clone(),
                        date: commit.poll_date.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        raw: serde_json::json!({ "id": id }),
                    });
                }
                let reconciled = poll.complete.then(|| commit.poll_date.to_rfc3339());
                sqlx::query(
                    "INSERT INTO event_watermarks (instance_id, object, watermark, reconciled_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (instance_id, object) DO UPDATE SET \
                     watermark = COALESCE(excluded.watermark, event_watermarks.watermark), \
                     reconciled_at = COALESCE(excluded.reconciled_at, event_watermarks.reconciled_at)",
                )
                .bind(instance_id.get())
                .bind(&poll.object)
                .bind(&poll.watermark)
                .bind(reconciled)
                .execute(&mut **tx)
                .await?;
                Self::insert_notifications(tx, dialect, commit, &poll.object, &changes).await
            }
        }

        #[async_trait]
        impl EventStore for $store {
            async fn claim_due_polls(&self, owner: &str, ttl: std::time::Duration, limit: u32) -> Result<Vec<InstanceId>> {
                let sql = format!(
                    "WITH picked AS MATERIALIZED ( \
                         SELECT instance_id FROM event_pollers WHERE next_poll_at <= {now} \
                         AND (claim_until IS NULL OR claim_until <= {now}) \
                         ORDER BY next_poll_at, instance_id LIMIT $3{skip_locked} \
                     ) \
                     UPDATE event_pollers SET claim_owner = $1, claim_until = {until} \
                     FROM picked WHERE event_pollers.instance_id = picked.instance_id \
                     RETURNING event_pollers.instance_id",
                    now = self.dialect.now,
                    until = self.dialect.millis_from_now("$2"),
                    skip_locked = self.dialect.skip_locked,
                );
                let ids: Vec<i64> = sqlx::query_scalar(&sql)
                    .bind(owner)
                    .bind(millis(ttl))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(ids.into_iter().map(InstanceId::new).collect())
            }

            async fn claim_poll(&self, instance_id: InstanceId, owner: &str, ttl: std::time::Duration) -> Result<bool> {
                let sql = format!(
                    "UPDATE event_pollers SET claim_owner = $2, claim_until = {until} WHERE instance_id = $1 \
                     AND (claim_until IS NULL OR claim_until <= {now} OR claim_owner = $2) RETURNING instance_id",
                    now = self.dialect.now,
                    until = self.dialect.millis_from_now("$3"),
                );
                let claimed = sqlx::query(&sql)
                    .bind(instance_id.get())
                    .bind(owner)
                    .bind(millis(ttl))
                    .fetch_all(&self.pool)
                    .await?;
                if !claimed.is_empty() {
                    return Ok(true);
                }
                let exists: Option<i64> = sqlx::query_scalar("SELECT instance_id FROM event_pollers WHERE instance_id = $1")
                    .bind(instance_id.get())
                    .fetch_optional(&self.pool)
                    .await?;
                exists.map(|_| false).ok_or(StoreError::NotFound)
            }

            async fn watermarks(&self, instance_id: InstanceId) -> Result<BTreeMap<String, ObjectWatermark>> {
                let rows = sqlx::query("SELECT object, watermark, reconciled_at FROM event_watermarks WHERE instance_id = $1")
                    .bind(instance_id.get())
                    .fetch_all(&self.pool)
                    .await?;
                let mut marks = BTreeMap::new();
                for row in rows {
                    let reconciled: Option<String> = row.try_get("reconciled_at")?;
                    let reconciled_at = match reconciled {
                        Some(text) => Some(
                            DateTime::parse_from_rfc3339(&text)
                                .map_err(|_| StoreError::Corrupt("event reconciliation time"))?
                                .with_timezone(&Utc),
                        ),
                        None => None,
                    };
                    marks.insert(row.try_get("object")?, ObjectWatermark { watermark: row.try_get("watermark")?, reconciled_at });
                }
                Ok(marks)
            }

            async fn commit_poll(&self, commit: &PollCommit) -> Result<Option<Vec<StoredEvent>>> {
                let mut tx = self.begin_write().await?;
                let select = format!("SELECT claim_owner FROM event_pollers WHERE instance_id = $1{}", self.dialect.for_update);
                let holder: Option<Option<String>> =
                    sqlx::query_scalar(&select).bind(commit.instance_id.get()).fetch_optional(&mut *tx).await?;
                if holder.flatten().as_deref() != Some(commit.owner.as_str()) {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let mut recorded = Vec::new();
                for poll in &commit.objects {
                    recorded.extend(Self::commit_object(&mut tx, self.dialect, commit, poll).await?);
                }
                // A scheduled poll moves the schedule on; a webhook's changes leave it alone.
                sqlx::query(
                    "UPDATE event_pollers SET next_poll_at = COALESCE($2, next_poll_at), \
                     last_poll_at = CASE WHEN $2 IS NULL THEN last_poll_at ELSE $3 END, \
                     last_error = CASE WHEN $2 IS NULL THEN last_error ELSE NULL END, \
                     claim_owner = NULL, claim_until = NULL WHERE instance_id = $1",
                )
                .bind(commit.instance_id.get())
                .bind(commit.next_poll_at.map(micros))
                .bind(micros(commit.poll_date))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(Some(recorded))
            }

            async fn release_poll(
                &self,
                instance_id: InstanceId,
                owner: &str,
                next_poll_at: DateTime<Utc>,
                error: Option<&str>,
            ) -> Result<()> {
                sqlx::query(
                    "UPDATE event_pollers SET claim_owner = NULL, claim_until = NULL, next_poll_at = $3, \
                     last_error = $4 WHERE instance_id = $1 AND claim_owner = $2",
                )
                .bind(instance_id.get())
                .bind(owner)
                .bind(micros(next_poll_at))
                .bind(error)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn instances_with_due_events(&self, limit: u32) -> Result<Vec<InstanceId>> {
                let sql = format!(
                    "SELECT instance_id FROM events WHERE id IN ( \
                         SELECT MIN(id) FROM events WHERE status IN ('NEW', 'DISPATCHED') GROUP BY instance_id \
                     ) AND next_attempt_at <= {now} ORDER BY next_attempt_at LIMIT $1",
                    now = self.dialect.now
                );
                let ids: Vec<i64> = sqlx::query_scalar(&sql).bind(i64::from(limit)).fetch_all(&self.pool).await?;
                Ok(ids.into_iter().map(InstanceId::new).collect())
            }

            async fn pending_events(&self, instance_id: InstanceId, limit: u32) -> Result<Vec<StoredEvent>> {
                let sql = format!(
                    "SELECT {} FROM events WHERE instance_id = $1 AND status IN ('NEW', 'DISPATCHED') \
                     ORDER BY id LIMIT $2",
                    events::EVENT_COLUMNS
                );
                let rows = sqlx::query(&sql).bind(instance_id.get()).bind(i64::from(limit)).fetch_all(&self.pool).await?;
                stored_events(&rows)
            }

            async fn mark_dispatched(&self, event_id: i64) -> Result<()> {
                sqlx::query(
                    "UPDATE events SET status = 'DISPATCHED', updated_at = $2 \
                     WHERE id = $1 AND status IN ('NEW', 'DISPATCHED')",
                )
                .bind(event_id)
                .bind(now())
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn record_delivery(&self, event_id: i64, result: &DeliveryResult) -> Result<Option<EventStatus>> {
                let at = now();
                let status: Option<String> = match result {
                    DeliveryResult::Notified { status } => {
                        sqlx::query_scalar(
                            "UPDATE events SET status = 'NOTIFIED', notified_at = $2, updated_at = $2, \
                             last_status = $3, last_error = NULL \
                             WHERE id = $1 AND status IN ('NEW', 'DISPATCHED') RETURNING status",
                        )
                        .bind(event_id)
                        .bind(at)
                        .bind(i32::from(*status))
                        .fetch_optional(&self.pool)
                        .await?
                    }
                    DeliveryResult::Failed { status, error, retry_at } => {
                        sqlx::query_scalar(
                            "UPDATE events SET attempts = attempts + 1, last_status = $3, last_error = $4, \
                             status = CASE WHEN $5 IS NULL THEN 'FAILED' ELSE 'NEW' END, \
                             next_attempt_at = COALESCE($5, next_attempt_at), updated_at = $2 \
                             WHERE id = $1 AND status IN ('NEW', 'DISPATCHED') RETURNING status",
                        )
                        .bind(event_id)
                        .bind(at)
                        .bind(status.map(i32::from))
                        .bind(error)
                        .bind(retry_at.map(micros))
                        .fetch_optional(&self.pool)
                        .await?
                    }
                };
                status.map(|text| EventStatus::parse(&text).ok_or(StoreError::Corrupt("event status"))).transpose()
            }

            async fn list_events(&self, instance_id: InstanceId, query: &EventQuery) -> Result<Vec<StoredEvent>> {
                let order = if query.after.is_some() { "ASC" } else { "DESC" };
                let sql = format!(
                    "SELECT {} FROM events WHERE instance_id = $1 \
                     AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR object_type = $3) \
                     AND ($4 IS NULL OR created_at >= $4) AND ($5 IS NULL OR created_at < $5) \
                     AND ($6 IS NULL OR id > $6) ORDER BY id {order} LIMIT $7",
                    events::EVENT_COLUMNS
                );
                let rows = sqlx::query(&sql)
                    .bind(instance_id.get())
                    .bind(query.status.map(EventStatus::as_str))
                    .bind(query.object_type.as_deref())
                    .bind(query.from.map(micros))
                    .bind(query.to.map(micros))
                    .bind(query.after)
                    .bind(i64::from(query.limit.clamp(1, MAX_PAGE_SIZE)))
                    .fetch_all(&self.pool)
                    .await?;
                stored_events(&rows)
            }

            async fn get_event(&self, instance_id: InstanceId, event_id: i64) -> Result<StoredEvent> {
                let sql = format!("SELECT {} FROM events WHERE instance_id = $1 AND id = $2", events::EVENT_COLUMNS);
                let row = sqlx::query(&sql)
                    .bind(instance_id.get())
                    .bind(event_id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StoreError::NotFound)?;
                raw_event(&row)?.into_event()
            }

            async fn retry_events(&self, instance_id: InstanceId, event_id: Option<i64>) -> Result<u64> {
                // One notification: whatever its status (a NOTIFIED one is sent again). All: the FAILED ones.
                let retry = format!(
                    "UPDATE events SET status = 'NEW', attempts = 0, next_attempt_at = {}, updated_at = $3 \
                     WHERE instance_id = $1 AND (($2 IS NULL AND status = 'FAILED') OR id = $2)",
                    self.dialect.now
                );
                let done = sqlx::query(&retry)
                .bind(instance_id.get())
                .bind(event_id)
                .bind(now())
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn event_counts(&self, instance_id: Option<InstanceId>) -> Result<EventCounts> {
                let rows = sqlx::query(
                    "SELECT status, COUNT(*) AS n FROM events WHERE ($1 IS NULL OR instance_id = $1) GROUP BY status",
                )
                .bind(instance_id.map(InstanceId::get))
                .fetch_all(&self.pool)
                .await?;
                let mut counts = EventCounts::default();
                for row in rows {
                    let status: String = row.try_get("status")?;
                    let n = u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or_default();
                    match EventStatus::parse(&status) {
                        Some(EventStatus::New) => counts.new = n,
                        Some(EventStatus::Dispatched) => counts.dispatched = n,
                        Some(EventStatus::Notified) => counts.notified = n,
                        Some(EventStatus::Failed) => counts.failed = n,
                        None => return Err(StoreError::Corrupt("event status")),
                    }
                }
                let oldest = sqlx::query(
                    "SELECT created_at FROM events WHERE ($1 IS NULL OR instance_id = $1) \
                     AND status IN ('NEW', 'DISPATCHED') ORDER BY id LIMIT 1",
                )
                .bind(instance_id.map(InstanceId::get))
                .fetch_optional(&self.pool)
                .await?;
                counts.oldest_pending = oldest.map(|row| row.try_get("created_at")).transpose()?;
                Ok(counts)
            }

            async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64> {
                let done = sqlx::query("DELETE FROM events WHERE created_at < $1 AND status IN ('NOTIFIED', 'FAILED')")
                    .bind(micros(before))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(crate) use implement_event_store;
