//! The SQL of [`crate::TraceStore`]: the per-instance log of traced vendor calls, pruned to the
//! newest [`crate::VENDOR_CALLS_KEPT`] on every write.

/// Expanded by `implement_store!` into the implementation's module, whose imports, `Db` and `Tx`
/// types, and row readers it uses.
macro_rules! implement_trace_store {
    ($store:ident) => {
        #[async_trait]
        impl TraceStore for $store {
            async fn record_vendor_call(&self, instance_id: InstanceId, call: &VendorCall) -> Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO vendor_calls (instance_id, at, method, path, status, duration_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(instance_id.get())
                .bind(micros(call.at))
                .bind(&call.method)
                .bind(&call.path)
                .bind(i32::from(call.status))
                .bind(i64::from(call.duration_ms))
                .execute(&mut *tx)
                .await
                .map_err(on_insert("vendor call"))?;
                // Everything at or below the newest row beyond the kept ones (none while fewer are
                // stored: the comparison with NULL is never true).
                sqlx::query(
                    "DELETE FROM vendor_calls WHERE instance_id = $1 AND id <= \
                     (SELECT id FROM vendor_calls WHERE instance_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
                )
                .bind(instance_id.get())
                .bind(i64::from(VENDOR_CALLS_KEPT))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_vendor_calls(&self, instance_id: InstanceId, limit: u32) -> Result<Vec<VendorCall>> {
                let rows = sqlx::query(
                    "SELECT at, method, path, status, duration_ms FROM vendor_calls WHERE instance_id = $1 \
                     ORDER BY id DESC LIMIT $2",
                )
                .bind(instance_id.get())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        let status: i32 = row.try_get("status")?;
                        let duration_ms: i64 = row.try_get("duration_ms")?;
                        Ok(VendorCall {
                            at: row.try_get("at")?,
                            method: row.try_get("method")?,
                            path: row.try_get("path")?,
                            status: u16::try_from(status).map_err(|_| StoreError::Corrupt("vendor call status"))?,
                            duration_ms: u32::try_from(duration_ms)
                                .map_err(|_| StoreError::Corrupt("vendor call duration"))?,
                        })
                    })
                    .collect()
            }
        }
    };
}

pub(crate) use implement_trace_store;
