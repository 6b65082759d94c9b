//! The built-in hub objects of each element, compiled in from `objects/definitions.json` (object
//! definitions by name) and `objects/elements.json` (which definitions each element exposes, under
//! which hub name: the ERP's `customers` are the CRM's `contacts`). Both files are validated when
//! first used; a bad file fails the crate's tests, never a request.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::definition::ObjectDef;

const DEFINITIONS: &str = include_str!("../objects/definitions.json");
const ELEMENTS: &str = include_str!("../objects/elements.json");

/// Every element's hub objects, by element key and hub object name.
#[derive(Debug)]
pub struct ObjectCatalog {
    elements: BTreeMap<String, BTreeMap<String, ObjectDef>>,
}

impl ObjectCatalog {
    /// The catalog built into the binary.
    pub fn builtin() -> &'static ObjectCatalog {
        static BUILTIN: OnceLock<ObjectCatalog> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            ObjectCatalog::from_json(DEFINITIONS, ELEMENTS)
                .unwrap_or_else(|error| unreachable!("the built-in object catalog is checked by tests: {error}"))
        })
    }

    /// A catalog from the two files' text; the error names the file part that is wrong.
    pub fn from_json(definitions: &str, elements: &str) -> Result<ObjectCatalog, String> {
        let definitions: BTreeMap<String, ObjectDef> =
            serde_json::from_str(definitions).map_err(|error| format!("definitions: {error}"))?;
        for (name, definition) in &definitions {
            definition.validate(name)?;
        }
        let listing: BTreeMap<String, BTreeMap<String, String>> =
            serde_json::from_str(elements).map_err(|error| format!("elements: {error}"))?;
        let mut catalog = BTreeMap::new();
        for (element, objects) in listing {
            let mut resolved = BTreeMap::new();
            for (hub_name, definition) in objects {
                let found = definitions
                    .get(&definition)
                    .ok_or_else(|| format!("elements: {element}.{hub_name} names unknown definition {definition}"))?;
                resolved.insert(hub_name, found.clone());
            }
            catalog.insert(element, resolved);
        }
        Ok(ObjectCatalog { elements: catalog })
    }

    /// The hub objects of element `element_key`, by name (empty for an element without any).
    pub fn objects(&self, element_key: &str) -> impl Iterator<Item = (&str, &ObjectDef)> {
        self.elements.get(element_key).into_iter().flatten().map(|(name, object)| (name.as_str(), object))
    }

    /// Element `element_key`'s object `name`; names match ignoring ASCII case.
    pub fn object(&self, element_key: &str, name: &str) -> Option<(&str, &ObjectDef)> {
        self.objects(element_key).find(|(object, _)| object.eq_ignore_ascii_case(name))
    }

    /// Every object of every element and their children, at any depth.
    pub fn every_object(&self) -> Vec<&ObjectDef> {
        let mut every: Vec<&ObjectDef> = self.elements.values().flat_map(BTreeMap::values).collect();
        let mut next = 0;
        while let Some(object) = every.get(next) {
            every.extend(object.children.values());
            next += 1;
        }
        every
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_builtin_catalog_is_valid_and_lists_every_spec_object() {
        let catalog = ObjectCatalog::builtin();
        let names = |element| catalog.objects(element).map(|(name, _)| name.to_string()).collect::<Vec<_>>();
        for object in
            ["contacts", "accounts", "opportunities", "notes", "tasks", "tags", "users", "campaigns", "products"]
        {
            assert!(names("infusionsoftcrm").contains(&object.to_string()), "crm {object}");
        }
        for object in [
            "customers",
            "accounts",
            "products",
            "orders",
            "subscriptions",
            "transactions",
            "notes",
            "users",
            "opportunities",
        ] {
            assert!(names("infusionsofterp").contains(&object.to_string()), "erp {object}");
        }
        assert!(catalog.object("infusionsoftcrm", "CONTACTS").is_some(), "names ignore case");
        assert!(catalog.object("nope", "contacts").is_none());
    }

    #[test]
    fn every_object_lists_each_elements_objects_and_their_children() {
        fn with_children<'a>(object: &'a ObjectDef, into: &mut Vec<&'a ObjectDef>) {
            into.push(object);
            for child in object.children.values() {
                with_children(child, into);
            }
        }
        let catalog = ObjectCatalog::builtin();
        let mut expected = Vec::new();
        for element in ["infusionsoftcrm", "infusionsofterp"] {
            for (_, object) in catalog.objects(element) {
                with_children(object, &mut expected);
            }
        }
        let children = expected.iter().map(|object| object.children.len()).sum::<usize>();
        assert!(children > 0, "the catalog has child objects");
        let every = catalog.every_object();
        assert_eq!(every.len(), expected.len());
        for object in expected {
            assert!(every.iter().any(|found| std::ptr::eq(*found, object)), "{}", object.resource);
        }
    }

    #[test]
    fn a_vendor_contact_reads_as_the_platforms_fields() {
        let (_, contacts) = ObjectCatalog::builtin().object("infusionsoftcrm", "contacts").unwrap();
        let hub = crate::to_hub(
            contacts,
            &json!({
                "id": "12", "given_name": "Ada", "family_name": "Lovelace",
                "email_addresses": [{"field": "EMAIL2", "email": "b@x.io"}, {"field": "EMAIL1", "email": "a@x.io"}],
                "company": {"id": "3", "company_name": "Analytical"},
                "create_time": "2026-01-02T03:04:05Z",
            }),
        );
        assert_eq!(hub["Id"], json!(12));
        assert_eq!(hub["FirstName"], json!("Ada"));
        assert_eq!(hub["Email"], json!("a@x.io"));
        assert_eq!(hub["EmailAddress2"], json!("b@x.io"));
        assert_eq!(hub["Company"], json!("Analytical"));
        assert_eq!(hub["CompanyID"], json!(3));
        assert_eq!(hub["Phone1"], json!(null));
        assert_eq!(hub["DateCreated"], json!("2026-01-02T03:04:05Z"));
        assert_eq!(hub.len(), contacts.fields.len(), "every field, null where the vendor has nothing");
    }

    #[test]
    fn broken_definitions_are_refused_with_their_place() {
        let field = r#"{"name": "Id", "type": "number", "path": "id"}"#;
        let object = |fields: &str| {
            format!(
                r#"{{"x": {{"resource": "v2/x", "listKey": "x", "idField": "Id", "operations": ["list"], "fields": [{fields}]}}}}"#
            )
        };
        let elements = r#"{"e": {"x": "x"}}"#;
        assert!(ObjectCatalog::from_json(&object(field), elements).is_ok());
        let twice = ObjectCatalog::from_json(&object(&format!("{field},{field}")), elements).unwrap_err();
        assert!(twice.contains("x: field Id is defined twice"), "{twice}");
        let bad_path =
            ObjectCatalog::from_json(&object(r#"{"name": "Id", "type": "number", "path": "a[b"}"#), elements);
        assert!(bad_path.unwrap_err().contains("a[b"));
        let missing = ObjectCatalog::from_json(&object(field), r#"{"e": {"x": "y"}}"#).unwrap_err();
        assert!(missing.contains("unknown definition y"), "{missing}");
    }
}
