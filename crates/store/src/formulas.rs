//! The values of [`crate::FormulaStore`]: an organization's formula templates as stored.
//!
//! A template is kept as the JSON its author sent; what is inside it (slots, triggers, steps) and
//! whether it is valid is the `formulas` crate's business, checked by the platform before every
//! write. The store knows a template's id, organization, name (unique ignoring ASCII case within
//! the organization) and times. Formula instances and executions are not here.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::records::OrganizationId;
use crate::repository::{Result, StoreError};

/// One stored formula template.
#[derive(Debug, Clone, PartialEq)]
pub struct FormulaRecord {
    /// Assigned by the store, increasing; unique across organizations.
    pub id: i64,
    pub organization_id: OrganizationId,
    /// The template's `name`, as last written.
    pub name: String,
    /// The template as its author sent it, without the fields the server owns.
    pub template: Value,
    /// When it was created; replacing it keeps this.
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The key a formula's name is unique under within its organization: names differ only if they
/// differ ignoring ASCII case. Computed here, not by the databases' `lower()`, which disagree beyond
/// ASCII.
pub(crate) fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// A `formulas` row as stored.
pub(crate) struct RawFormula {
    pub id: i64,
    pub organization_id: i64,
    pub name: String,
    pub template: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RawFormula {
    pub fn into_record(self) -> Result<FormulaRecord> {
        Ok(FormulaRecord {
            id: self.id,
            organization_id: OrganizationId::new(self.organization_id),
            name: self.name,
            template: serde_json::from_str(&self.template).map_err(|_| StoreError::Corrupt("formula template"))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The columns [`RawFormula`] is read from.
pub(crate) const FORMULA_COLUMNS: &str = "id, organization_id, name, template, created_at, updated_at";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_keyed_ignoring_ascii_case_only() {
        assert_eq!(name_key("Sync Contacts"), name_key("sync contacts"));
        assert_ne!(name_key("Élan"), name_key("élan"));
    }
}
