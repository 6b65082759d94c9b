//! The SQL of [`crate::FormulaStore`]: creates, reads, listings, replaces and deletes of formula
//! templates. The values are in `crate::formulas`; the table is in the `formulas` migration.
//!
//! Every query names a template by `organization_id` as well as by id, so another organization's
//! template is never matched: it reads as absent, and a write to it changes nothing.

/// Expanded by `implement_store!` into the implementation's module, whose imports, `Db` type and
/// helpers (`now`, `on_insert`, `on_unique`, the paging cursor) it uses.
macro_rules! implement_formula_store {
    ($store:ident) => {
        fn raw_formula(row: &<Db as sqlx::Database>::Row) -> Result<crate::formulas::RawFormula> {
            Ok(crate::formulas::RawFormula {
                id: row.try_get("id")?,
                organization_id: row.try_get("organization_id")?,
                name: row.try_get("name")?,
                template: row.try_get("template")?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        #[async_trait]
        impl crate::repository::FormulaStore for $store {
            async fn create_formula(
                &self,
                organization: OrganizationId,
                name: &str,
                template: &serde_json::Value,
            ) -> Result<crate::formulas::FormulaRecord> {
                let sql = format!(
                    "INSERT INTO formulas (organization_id, name, name_key, template, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) RETURNING {}",
                    crate::formulas::FORMULA_COLUMNS
                );
                let row = sqlx::query(&sql)
                    .bind(organization.get())
                    .bind(name)
                    .bind(crate::formulas::name_key(name))
                    .bind(template.to_string())
                    .bind(now())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(on_insert("formula"))?;
                raw_formula(&row)?.into_record()
            }

            async fn formula(
                &self,
                organization: OrganizationId,
                id: i64,
            ) -> Result<Option<crate::formulas::FormulaRecord>> {
                let sql = format!(
                    "SELECT {} FROM formulas WHERE organization_id = $1 AND id = $2",
                    crate::formulas::FORMULA_COLUMNS
                );
                let row = sqlx::query(&sql).bind(organization.get()).bind(id).fetch_optional(&self.pool).await?;
                row.map(|row| raw_formula(&row)?.into_record()).transpose()
            }

            async fn list_formulas(
                &self,
                organization: OrganizationId,
                page_size: u32,
                next_page: Option<&str>,
            ) -> Result<Page<crate::formulas::FormulaRecord>> {
                let after = decode_cursor(next_page)?;
                let page_size = page_size.clamp(1, MAX_PAGE_SIZE);
                let sql = format!(
                    "SELECT {} FROM formulas WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                    crate::formulas::FORMULA_COLUMNS
                );
                // One row more than asked tells whether another page exists.
                let rows = sqlx::query(&sql)
                    .bind(organization.get())
                    .bind(after)
                    .bind(i64::from(page_size) + 1)
                    .fetch_all(&self.pool)
                    .await?;
                let mut items = rows.iter().map(|row| raw_formula(row)?.into_record()).collect::<Result<Vec<_>>>()?;
                let more = items.len() > page_size as usize;
                items.truncate(page_size as usize);
                // The cursor is "after this row id", whatever the table: the instances' encoding.
                let next_page = if more { items.last().map(|f| encode_cursor(InstanceId::new(f.id))) } else { None };
                Ok(Page { items, next_page })
            }

            async fn replace_formula(
                &self,
                organization: OrganizationId,
                id: i64,
                name: &str,
                template: &serde_json::Value,
            ) -> Result<crate::formulas::FormulaRecord> {
                let sql = format!(
                    "UPDATE formulas SET name = $3, name_key = $4, template = $5, updated_at = $6 \
                     WHERE organization_id = $1 AND id = $2 RETURNING {}",
                    crate::formulas::FORMULA_COLUMNS
                );
                let row = sqlx::query(&sql)
                    .bind(organization.get())
                    .bind(id)
                    .bind(name)
                    .bind(crate::formulas::name_key(name))
                    .bind(template.to_string())
                    .bind(now())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(on_unique("formula"))?;
                row.map(|row| raw_formula(&row)?.into_record()).transpose()?.ok_or(StoreError::NotFound)
            }

            async fn delete_formula(&self, organization: OrganizationId, id: i64) -> Result<bool> {
                let done = sqlx::query("DELETE FROM formulas WHERE organization_id = $1 AND id = $2")
                    .bind(organization.get())
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() > 0)
            }
        }
    };
}

pub(crate) use implement_formula_store;
