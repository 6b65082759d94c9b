//! Formula templates: an organization's templates created, read, listed,
//! replaced, merge-patched, deleted and exported, each write validated by `formulas::template`.
//!
//! Owns the rules of a template's life, not its shape (the `formulas` crate) nor its storage (the
//! store): every write loads the template (refusing step and trigger types Junction does not run)
//! and validates it, and a template with any error is refused naming every problem with its JSON
//! pointer; the name is unique per organization ignoring ASCII case; another organization's
//! template does not exist for the caller.
//!
//! What is stored is the JSON the author sent, unknown fields kept, minus [`SERVER_FIELDS`]: the
//! template's `id` and dates are this deployment's and are answered from the store's columns. The
//! same rule makes import work: an exported template, or one from another platform (whose `id`,
//! `createdDate` and `updatedDate` mean nothing here), is created with `POST /formulas` unchanged.
//!
//! `PATCH` is a JSON merge patch (RFC 7396) of the stored template: objects merge member by member,
//! `null` removes a member, anything else (arrays included: `steps`, `triggers`) replaces; the
//! result is validated like any write.

use formulas::template::{Formula, Problem};
use serde_json::{Map, Value};
use store::{FormulaRecord, OrganizationId, Page, StoreError};

use super::{date, not_found, path_id, FormulaError};
use crate::Platform;

/// The fields of a template the server owns: answered from the store, never stored in the
/// template, left out of an export, and ignored (another deployment's) in a body written.
pub const SERVER_FIELDS: [&str; 3] = ["id", "createdDate", "updatedDate"];

/// The most templates one page of a listing holds.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// A template as a write stored it, with the warnings its validation found (a step no trigger
/// reaches: usable, but worth telling the author).
#[derive(Debug, Clone)]
pub struct SavedFormula {
    pub record: FormulaRecord,
    pub warnings: Vec<Problem>,
}

/// A template checked for storing: its name, the JSON to store, and its warnings.
struct Checked {
    name: String,
    template: Value,
    warnings: Vec<Problem>,
}

/// Loads and validates a body as a template to store: an object, [`SERVER_FIELDS`] dropped, that
/// loads and has no validation error, with a name fit for a column.
fn check(body: Value) -> Result<Checked, FormulaError> {
    let Value::Object(mut fields) = body else {
        return Err(FormulaError::BadRequest("The formula must be a JSON object".into()));
    };
    for field in SERVER_FIELDS {
        fields.remove(field);
    }
    let template = Value::Object(fields);
    let formula = Formula::from_value(template.clone())?;
    let warnings = formula.validate().into_result().map_err(FormulaError::Invalid)?;
    // A control character (NUL above all, which PostgreSQL's text refuses) has no place in a name
    // people pick from a list.
    if formula.name.chars().any(char::is_control) {
        return Err(FormulaError::BadRequest(
            "Invalid formula: /name: the name may not hold control characters".into(),
        ));
    }
    Ok(Checked { name: formula.name, template, warnings })
}

/// The template's id from the path: a positive integer, else no such template.
fn formula_id(text: &str) -> Result<i64, FormulaError> {
    path_id("formula", text)
}

/// A store error of a write of template `name`: a name clash is the client's.
fn on_write(name: &str) -> impl FnOnce(StoreError) -> FormulaError + '_ {
    move |error| match error {
        StoreError::Conflict(_) => FormulaError::NameTaken(name.to_owned()),
        other => FormulaError::Store(other),
    }
}

/// The template as the API answers it: the stored JSON with the server's `id`, `createdDate` and
/// `updatedDate`.
pub fn view(record: &FormulaRecord) -> Value {
    let mut fields = match &record.template {
        Value::Object(fields) => fields.clone(),
        _ => Map::new(),
    };
    fields.insert("id".into(), record.id.into());
    fields.insert("createdDate".into(), date(record.created_at));
    fields.insert("updatedDate".into(), date(record.updated_at));
    Value::Object(fields)
}

/// The template as another deployment imports it (`POST /formulas`): the stored JSON, without
/// this deployment's id and dates.
pub fn export(record: &FormulaRecord) -> Value {
    let mut template = record.template.clone();
    if let Value::Object(fields) = &mut template {
        for field in SERVER_FIELDS {
            fields.remove(field);
        }
    }
    template
}

/// Applies `patch` to `target` as a JSON merge patch (RFC 7396).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(changes) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(fields) = target else { return };
    for (key, change) in changes {
        if change.is_null() {
            fields.remove(key);
        } else {
            merge_patch(fields.entry(key.clone()).or_insert(Value::Null), change);
        }
    }
}

impl Platform {
    /// Creates a template from `body` (an export, or the platforms' JSON, imports this way).
    pub async fn create_formula(
        &self,
        organization: OrganizationId,
        body: Value,
    ) -> Result<SavedFormula, FormulaError> {
        let checked = check(body)?;
        let record = self
            .store
            .create_formula(organization, &checked.name, &checked.template)
            .await
            .map_err(on_write(&checked.name))?;
        Ok(SavedFormula { record, warnings: checked.warnings })
    }

    /// The organization's template `id` (the path's text).
    pub async fn formula(&self, organization: OrganizationId, id: &str) -> Result<FormulaRecord, FormulaError> {
        let numeric = formula_id(id)?;
        self.store
            .formula(organization, numeric)
            .await
            .map_err(FormulaError::Store)?
            .ok_or_else(|| not_found("formula", id))
    }

    /// One page of the organization's templates, in id order.
    pub async fn formulas(
        &self,
        organization: OrganizationId,
        page_size: u32,
        next_page: Option<&str>,
    ) -> Result<Page<FormulaRecord>, StoreError> {
        self.store.list_formulas(organization, page_size.clamp(1, MAX_PAGE_SIZE), next_page).await
    }

    /// Replaces template `id` with `body` (`PUT`).
    pub async fn replace_formula(
        &self,
        organization: OrganizationId,
        id: &str,
        body: Value,
    ) -> Result<SavedFormula, FormulaError> {
        let numeric = formula_id(id)?;
        let checked = check(body)?;
        self.store_replacement(organization, numeric, id, checked).await
    }

    /// Merges `patch` into template `id` (RFC 7396) and stores the result if it is valid (`PATCH`).
    ///
    /// Two patches at once may both read the same template; the later write wins whole (no lost
    /// member is detected). Acceptable for templates edited by people; an `If-Match` would close it.
    pub async fn patch_formula(
        &self,
        organization: OrganizationId,
        id: &str,
        patch: &Value,
    ) -> Result<SavedFormula, FormulaError> {
        if !patch.is_object() {
            return Err(FormulaError::BadRequest("A merge patch of a formula must be a JSON object".into()));
        }
        let current = self.formula(organization, id).await?;
        let mut template = current.template;
        merge_patch(&mut template, patch);
        let checked = check(template)?;
        self.store_replacement(organization, current.id, id, checked).await
    }

    async fn store_replacement(
        &self,
        organization: OrganizationId,
        numeric: i64,
        id: &str,
        checked: Checked,
    ) -> Result<SavedFormula, FormulaError> {
        let stored = self.store.replace_formula(organization, numeric, &checked.name, &checked.template).await;
        let record = match stored {
            Err(StoreError::NotFound) => return Err(not_found("formula", id)),
            other => other.map_err(on_write(&checked.name))?,
        };
        Ok(SavedFormula { record, warnings: checked.warnings })
    }

    /// Deletes template `id`.
    pub async fn delete_formula(&self, organization: OrganizationId, id: &str) -> Result<(), FormulaError> {
        let numeric = formula_id(id)?;
        match self.store.delete_formula(organization, numeric).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(not_found("formula", id)),
            Err(error) => Err(FormulaError::Store(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_merge_patch_merges_objects_removes_nulls_and_replaces_the_rest() {
        // RFC 7396's own example (appendix A, abridged).
        let mut target = json!({"title": "Goodbye!", "author": {"givenName": "John", "familyName": "Doe"},
            "tags": ["example", "sample"], "content": "This will be unchanged"});
        let patch = json!({"title": "Hello!", "phoneNumber": "+01-123-456-7890",
            "author": {"familyName": null}, "tags": ["example"]});
        merge_patch(&mut target, &patch);
        assert_eq!(
            target,
            json!({"title": "Hello!", "author": {"givenName": "John"}, "tags": ["example"],
                "content": "This will be unchanged", "phoneNumber": "+01-123-456-7890"})
        );
    }

    #[test]
    fn the_server_fields_are_not_stored_and_not_exported() {
        let checked = check(json!({"name": "n", "id": 7, "createdDate": "x", "updatedDate": "y", "userId": 3}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(checked.template, json!({"name": "n", "userId": 3}), "another platform's userId is the author's");
    }

    #[test]
    fn ids_that_are_not_positive_integers_name_no_formula() {
        for id in ["0", "-1", "abc", "1.5", "99999999999999999999"] {
            assert!(matches!(formula_id(id), Err(FormulaError::NotFound(_))), "{id}");
        }
        assert_eq!(formula_id("42").ok(), Some(42));
    }
}
