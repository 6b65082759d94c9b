//! An object definition as CEQL sees it: each hub field's type and the vendor filters a
//! condition on it can be pushed down to.

use crate::definition::{FieldType, FilterKind, ObjectDef};

impl ceql::Schema for ObjectDef {
    fn field(&self, name: &str) -> Option<ceql::FieldInfo> {
        let field = self.fields.iter().find(|field| field.name == name)?;
        let ty = match field.field_type {
            FieldType::String => ceql::FieldType::String,
            FieldType::Number => ceql::FieldType::Number,
            FieldType::Boolean => ceql::FieldType::Boolean,
            FieldType::Date => ceql::FieldType::DateTime,
        };
        let pushdowns = field
            .filters
            .iter()
            .map(|filter| ceql::Pushdown { filter: filter.name.clone(), kind: push_kind(filter.kind) })
            .collect();
        Some(ceql::FieldInfo { ty, pushdowns })
    }

    fn field_names(&self) -> Vec<String> {
        self.fields.iter().map(|field| field.name.clone()).collect()
    }
}

fn push_kind(kind: FilterKind) -> ceql::PushKind {
    match kind {
        FilterKind::Text => ceql::PushKind::Text,
        FilterKind::Prefix => ceql::PushKind::Prefix,
        FilterKind::Exact => ceql::PushKind::Exact,
        FilterKind::Number => ceql::PushKind::Number,
        FilterKind::IdSet => ceql::PushKind::IdSet,
        FilterKind::Since => ceql::PushKind::Since,
        FilterKind::Until => ceql::PushKind::Until,
        FilterKind::Bool => ceql::PushKind::Bool,
    }
}
