//! An object definition as CEQL sees it: each hub field's type and the vendor filters a
//! condition on it can be pushed down to.

use crate::definition::{FieldType, ObjectDef};

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
            .map(|filter| ceql::Pushdown { filter: filter.name.clone(), kind: filter.kind })
            .collect();
        Some(ceql::FieldInfo { ty, pushdowns })
    }

    fn field_names(&self) -> Vec<String> {
        self.fields.iter().map(|field| field.name.clone()).collect()
    }
}
