//! The SQL of [`crate::ResourceStore`]: puts, reads, listings and deletes of common resources, and
//! the generation nodes poll. The values are in `crate::resources`; the tables, and the triggers
//! that bump the generation with every row written or deleted, are in the `common_resources`
//! migration.
//!
//! Every query names a document by `organization_id` first, so another organization's documents are
//! never matched, and compares the scope columns as the unique index reads them
//! (`coalesce(element_key, '')`, `coalesce(instance_id, 0)`), so the index finds them.

/// The condition a row matches one document under: `$1` the organization, then `$2`..`$6` the
/// kind, scope, element key or '', instance id or 0, and name key.
pub(crate) const ONE_DOCUMENT: &str = "organization_id = $1 AND kind = $2 AND scope = $3 \
     AND coalesce(element_key, '') = $4 AND coalesce(instance_id, 0) = $5 AND name_key = $6";

/// A condition matching any of `count` scopes, bound from placeholder `$first` on as three values
/// each (scope, element key or '', instance id or 0). `FALSE` for none.
pub(crate) fn any_scope(count: usize, first: usize) -> String {
    if count == 0 {
        return "FALSE".into();
    }
    let each: Vec<String> = (0..count)
        .map(|i| {
            let at = first + 3 * i;
            format!(
                "(scope = ${} AND coalesce(element_key, '') = ${} AND coalesce(instance_id, 0) = ${})",
                at,
                at + 1,
                at + 2
            )
        })
        .collect();
    format!("({})", each.join(" OR "))
}

/// Expanded by `implement_store!` into the implementation's module, whose imports, `Db` type and
/// helpers it uses.
macro_rules! implement_resource_store {
    ($store:ident) => {
        fn raw_resource(row: &<Db as sqlx::Database>::Row) -> Result<resources::RawResource> {
            Ok(resources::RawResource {
                kind: row.try_get("kind")?,
                scope: row.try_get("scope")?,
                element_key: row.try_get("element_key")?,
                instance_id: row.try_get("instance_id")?,
                name: row.try_get("name")?,
                document: row.try_get("document")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        impl $store {
            /// Inserts a new document, or with `upsert` replaces the document (and `updated_at`) of an
            /// existing one, keeping its name and `created_at`. One statement: the instance check,
            /// the write and the generation's bump (by trigger) are atomic. `None` when an
            /// instance scope names no instance of `organization`.
            async fn insert_resource(
                &self,
                organization: OrganizationId,
                kind: ResourceKind,
                scope: &ResourceScope,
                name: &str,
                document: &serde_json::Value,
                upsert: bool,
            ) -> Result<Option<ResourceDocument>> {
                // ON CONFLICT names the unique index's columns and expressions. INSERT ... SELECT,
                // not VALUES, so the instance check is part of the statement; SQLite needs the
                // SELECT's WHERE to tell its ON CONFLICT from a join's ON.
                let on_conflict = if upsert {
                    "ON CONFLICT (organization_id, kind, scope, (coalesce(element_key, '')), \
                     (coalesce(instance_id, 0)), name_key) \
                     DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at "
                } else {
                    ""
                };
                let sql = format!(
                    "INSERT INTO common_resources (organization_id, kind, scope, element_key, instance_id, name, \
                     name_key, document, created_at, updated_at) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $9 \
                     WHERE $5 IS NULL OR EXISTS (SELECT 1 FROM instances WHERE id = $5 AND organization_id = $1) \
                     {on_conflict}RETURNING {}",
                    resources::RESOURCE_COLUMNS
                );
                let columns = scope.columns();
                let row = sqlx::query(&sql)
                    .bind(organization.get())
                    .bind(kind.as_str())
                    .bind(columns.scope)
                    .bind(columns.element_key)
                    .bind(columns.instance_id)
                    .bind(name)
                    .bind(resources::name_key(name))
                    .bind(document.to_string())
                    .bind(now())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(on_insert("common resource"))?;
                row.map(|row| raw_resource(&row)?.into_document()).transpose()
            }

            /// Replaces the document (and `updated_at`) of an existing one; `None` when there is none.
            async fn replace_resource(
                &self,
                organization: OrganizationId,
                kind: ResourceKind,
                scope: &ResourceScope,
                name: &str,
                document: &serde_json::Value,
            ) -> Result<Option<ResourceDocument>> {
                let sql = format!(
                    "UPDATE common_resources SET document = $7, updated_at = $8 WHERE {} RETURNING {}",
                    crate::resource_sql::ONE_DOCUMENT,
                    resources::RESOURCE_COLUMNS
                );
                let columns = scope.columns();
                let row = sqlx::query(&sql)
                    .bind(organization.get())
                    .bind(kind.as_str())
                    .bind(columns.scope)
                    .bind(columns.element_key_or_empty())
                    .bind(columns.instance_id_or_zero())
                    .bind(resources::name_key(name))
                    .bind(document.to_string())
                    .bind(now())
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|row| raw_resource(&row)?.into_document()).transpose()
            }
        }

        #[async_trait]
        impl ResourceStore for $store {
            async fn put_resource(
                &self,
                organization: OrganizationId,
                kind: ResourceKind,
                scope: &ResourceScope,
                name: &str,
                document: &serde_json::Value,
                mode: PutMode,
            ) -> Result<ResourceDocument> {
                let stored = match mode {
                    PutMode::Create => self.insert_resource(organization, kind, scope, name, document, false).await?,
                    PutMode::Upsert => self.insert_resource(organization, kind, scope, name, document, true).await?,
                    PutMode::Replace => self.replace_resource(organization, kind, scope, name, document).await?,
                };
                stored.ok_or(StoreError::NotFound)
            }

            async fn resource(
                &self,
                organization: OrganizationId,
                kind: ResourceKind,
                scope: &ResourceScope,
                name: &str,
            ) -> Result<Option<ResourceDocument>> {
                let sql = format!(
                    "SELECT {} FROM common_resources WHERE {}",
                    resources::RESOURCE_COLUMNS,
                    crate::resource_sql::ONE_DOCUMENT
                );
                let columns = scope.columns();
                let row = sqlx::query(&sql)
                    .bind(organization.get())
                    .bind(kind.as_str())
                    .bind(columns.scope)
                    .bind(columns.element_key_or_empty())
                    .bind(columns.instance_id_or_zero())
                    .bind(resources::name_key(name))
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(|row| raw_resource(&row)?.into_document()).transpose()
            }

            async fn resources(
                &self,
                organization: OrganizationId,
                kind: Option<ResourceKind>,
                scopes: &[ResourceScope],
            ) -> Result<Vec<ResourceDocument>> {
                if scopes.is_empty() {
                    return Ok(Vec::new());
                }
                // Scopes in the order of `ResourceScope`'s variants (general to specific), not
                // alphabetically by their stored names.
                let sql = format!(
                    "SELECT {} FROM common_resources WHERE organization_id = $1 AND ($2 IS NULL OR kind = $2) \
                     AND {} ORDER BY kind, \
                     CASE scope WHEN 'organization' THEN 0 WHEN 'element' THEN 1 ELSE 2 END, \
                     coalesce(element_key, ''), coalesce(instance_id, 0), name_key",
                    resources::RESOURCE_COLUMNS,
                    crate::resource_sql::any_scope(scopes.len(), 3)
                );
                let mut query = sqlx::query(&sql).bind(organization.get()).bind(kind.map(ResourceKind::as_str));
                for scope in scopes {
                    let columns = scope.columns();
                    query = query
                        .bind(columns.scope)
                        .bind(columns.element_key_or_empty())
                        .bind(columns.instance_id_or_zero());
                }
                let rows = query.fetch_all(&self.pool).await?;
                rows.iter().map(|row| raw_resource(row)?.into_document()).collect()
            }

            async fn delete_resource(
                &self,
                organization: OrganizationId,
                kind: ResourceKind,
                scope: &ResourceScope,
                name: &str,
            ) -> Result<bool> {
                let sql = format!("DELETE FROM common_resources WHERE {}", crate::resource_sql::ONE_DOCUMENT);
                let columns = scope.columns();
                let done = sqlx::query(&sql)
                    .bind(organization.get())
                    .bind(kind.as_str())
                    .bind(columns.scope)
                    .bind(columns.element_key_or_empty())
                    .bind(columns.instance_id_or_zero())
                    .bind(resources::name_key(name))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn resources_generation(&self) -> Result<i64> {
                let generation: i64 =
                    sqlx::query_scalar("SELECT generation FROM common_resource_generation WHERE id = 1")
                        .fetch_one(&self.pool)
                        .await?;
                Ok(generation)
            }
        }
    };
}

pub(crate) use implement_resource_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_scope_binds_three_placeholders_per_scope_from_the_first() {
        assert_eq!(any_scope(0, 3), "FALSE");
        assert_eq!(
            any_scope(2, 3),
            "((scope = $3 AND coalesce(element_key, '') = $4 AND coalesce(instance_id, 0) = $5) OR \
             (scope = $6 AND coalesce(element_key, '') = $7 AND coalesce(instance_id, 0) = $8))"
        );
    }
}
