//! The values of [`crate::ResourceStore`]: an organization's common resources, i.e. the object
//! definitions it declares and the transformations (field mappings) from vendor objects to them.
//!
//! A document is stored as the caller gave it (JSON); what is inside a definition or a
//! transformation is the mapping crate's business, not the store's. The store knows only which
//! document it is: its [`ResourceKind`], where it applies ([`ResourceScope`]) and its name, unique
//! ignoring ASCII case within the organization, kind and scope.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::records::InstanceId;
use crate::repository::{Result, StoreError};

/// Which kind of document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// An object definition: the fields of an organization's common object.
    Definition,
    /// A transformation: how a vendor object's fields map to a definition's.
    Transformation,
}

impl ResourceKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Definition => "definition",
            Self::Transformation => "transformation",
        }
    }

    /// The kind stored as `text`, or `None`.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Definition, Self::Transformation].into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Where a document applies: to the whole organization, to every instance of one element, or to one
/// instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceScope {
    Organization,
    /// Every instance of the element with this key (e.g. `infusionsoftcrm`).
    Element(String),
    /// One instance, which must be the organization's.
    Instance(InstanceId),
}

/// The columns a [`ResourceScope`] is stored in: `scope`, `element_key`, `instance_id`.
pub(crate) struct ScopeColumns<'a> {
    pub scope: &'static str,
    pub element_key: Option<&'a str>,
    pub instance_id: Option<i64>,
}

impl<'a> ScopeColumns<'a> {
    /// `element_key` as the unique index sees it (`coalesce(element_key, '')`), for lookups that
    /// should use that index.
    pub fn element_key_or_empty(&self) -> &'a str {
        self.element_key.unwrap_or_default()
    }

    /// `instance_id` as the unique index sees it (`coalesce(instance_id, 0)`; ids start at 1).
    pub fn instance_id_or_zero(&self) -> i64 {
        self.instance_id.unwrap_or_default()
    }
}

impl ResourceScope {
    pub(crate) fn columns(&self) -> ScopeColumns<'_> {
        match self {
            Self::Organization => ScopeColumns { scope: "organization", element_key: None, instance_id: None },
            Self::Element(key) => ScopeColumns { scope: "element", element_key: Some(key), instance_id: None },
            Self::Instance(id) => ScopeColumns { scope: "instance", element_key: None, instance_id: Some(id.get()) },
        }
    }

    /// The scope stored in these columns; `None` when they do not describe one (the table's CHECK
    /// makes that impossible for rows the store wrote).
    fn from_columns(scope: &str, element_key: Option<String>, instance_id: Option<i64>) -> Option<Self> {
        match (scope, element_key, instance_id) {
            ("organization", None, None) => Some(Self::Organization),
            ("element", Some(key), None) => Some(Self::Element(key)),
            ("instance", None, Some(id)) => Some(Self::Instance(InstanceId::new(id))),
            _ => None,
        }
    }
}

/// How a put treats an existing document of the same kind, scope and name (ignoring ASCII case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutMode {
    /// Only a new one: [`StoreError::Conflict`] (`"common resource"`) if one exists.
    Create,
    /// Only an existing one: [`StoreError::NotFound`] if none exists.
    Replace,
    /// Either.
    Upsert,
}

/// One stored document.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDocument {
    pub kind: ResourceKind,
    pub scope: ResourceScope,
    /// As the caller first wrote it; later puts under another spelling keep this one.
    pub name: String,
    pub document: Value,
    /// When the document was first stored; replacing it keeps this.
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The key a name is unique under: names differ only if they differ ignoring ASCII case. Computed
/// here, not by the databases' `lower()`, which disagree beyond ASCII.
pub(crate) fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// A `common_resources` row as stored.
pub(crate) struct RawResource {
    pub kind: String,
    pub scope: String,
    pub element_key: Option<String>,
    pub instance_id: Option<i64>,
    pub name: String,
    pub document: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RawResource {
    pub fn into_document(self) -> Result<ResourceDocument> {
        Ok(ResourceDocument {
            kind: ResourceKind::parse(&self.kind).ok_or(StoreError::Corrupt("common resource kind"))?,
            scope: ResourceScope::from_columns(&self.scope, self.element_key, self.instance_id)
                .ok_or(StoreError::Corrupt("common resource scope"))?,
            name: self.name,
            document: serde_json::from_str(&self.document)
                .map_err(|_| StoreError::Corrupt("common resource document"))?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The columns [`RawResource`] is read from.
pub(crate) const RESOURCE_COLUMNS: &str =
    "kind, scope, element_key, instance_id, name, document, created_at, updated_at";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_stored_names() {
        for kind in [ResourceKind::Definition, ResourceKind::Transformation] {
            assert_eq!(ResourceKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ResourceKind::parse("Definition"), None);
    }

    #[test]
    fn scopes_round_trip_through_their_columns() {
        for scope in [
            ResourceScope::Organization,
            ResourceScope::Element("infusionsoftcrm".into()),
            ResourceScope::Instance(InstanceId::new(7)),
        ] {
            let columns = scope.columns();
            let back = ResourceScope::from_columns(
                columns.scope,
                columns.element_key.map(str::to_string),
                columns.instance_id,
            );
            assert_eq!(back, Some(scope));
        }
        assert_eq!(ResourceScope::from_columns("element", None, None), None);
        assert_eq!(ResourceScope::from_columns("organization", None, Some(7)), None);
    }

    #[test]
    fn names_are_keyed_ignoring_ascii_case_only() {
        assert_eq!(name_key("MyContact"), name_key("mycontact"));
        // Beyond ASCII the spelling is the key: `É` and `é` are two names.
        assert_ne!(name_key("Élan"), name_key("élan"));
    }
}
