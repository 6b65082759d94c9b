//! An object definition as CEQL sees it: each field's type (a common resource's field: the common
//! type) and the vendor filters a condition on it can be pushed down to (none when the field's
//! values are converted from the hub field's).

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
        // The vendor compares its own values: a condition on a converted field (a date shown in
        // another format, a number shown as text) would be compared with values it does not hold.
        let converted = field.conversion.as_ref().is_some_and(|conversion| !conversion.is_identity(field.field_type));
        let filters = if converted { &[][..] } else { &field.filters[..] };
        let pushdowns =
            filters.iter().map(|filter| ceql::Pushdown { filter: filter.name.clone(), kind: filter.kind }).collect();
        Some(ceql::FieldInfo { ty, pushdowns })
    }

    fn field_names(&self) -> Vec<String> {
        self.fields.iter().map(|field| field.name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use ceql::Schema;

    use crate::{Conversion, DateFormat, FieldType, ObjectCatalog};

    #[test]
    fn a_converted_field_has_the_common_type_and_pushes_nothing_down() {
        let mut contacts = ObjectCatalog::builtin().object("infusionsoftcrm", "contacts").unwrap().1.clone();
        let updated = contacts.fields.iter_mut().find(|field| field.name == "LastUpdated").unwrap();
        updated.conversion = Some(Conversion { hub_type: FieldType::Date, hub_format: None, format: None });
        let info = Schema::field(&contacts, "LastUpdated").unwrap();
        assert_eq!(info.pushdowns.len(), 2, "an identity conversion pushes down as the hub field does");
        let updated = contacts.fields.iter_mut().find(|field| field.name == "LastUpdated").unwrap();
        updated.field_type = FieldType::Number;
        updated.conversion.as_mut().unwrap().format = Some(DateFormat::EpochMilliseconds);
        let info = Schema::field(&contacts, "LastUpdated").unwrap();
        assert_eq!(info.ty, ceql::FieldType::Number);
        assert!(info.pushdowns.is_empty());
    }
}
