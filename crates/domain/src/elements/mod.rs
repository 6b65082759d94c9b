//! The element catalog: the connectors Junction offers, as data compiled into the binary.
//!
//! Owns loading `elements/*.json` (one file per element) and looking elements up by key or numeric
//! id. `infusionsoftcrm` has id 191 as in the vendor documentation; `infusionsofterp` has id 192
//! (the documentation shows only a placeholder). It does not own per-organization element state nor
//! the HTTP routes that serve the catalog.

mod element;
mod metadata;

pub use element::{Authentication, ConfigEntry, ConfigType, Element, ElementSummary};
pub use metadata::{ElementMetadata, EventMetadata, HookedObject, PolledObject};

use crate::error::DomainError;
use std::sync::OnceLock;

/// The element definitions compiled into the binary, in catalog order.
const BUILTIN_SOURCES: [(&str, &str); 2] = [
    ("infusionsoftcrm.json", include_str!("../../elements/infusionsoftcrm.json")),
    ("infusionsofterp.json", include_str!("../../elements/infusionsofterp.json")),
];

/// An immutable list of elements.
///
/// Invariant: keys and ids are unique, so a key-or-id lookup has at most one answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    elements: Vec<Element>,
}

impl Catalog {
    /// The built-in catalog, parsed once on first use.
    ///
    /// The data is part of the binary, so a parse failure is a build defect, not bad input: the
    /// tests parse every file, and a broken file panics here at the first request rather than
    /// serving a partial catalog.
    pub fn builtin() -> &'static Catalog {
        static BUILTIN: OnceLock<Catalog> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let parsed = BUILTIN_SOURCES.iter().map(|(name, text)| parse_element(name, text)).collect();
            Catalog::new(parsed).unwrap_or_else(|problem| panic!("built-in element catalog: {problem}"))
        })
    }

    /// A catalog of `elements`, or a description of the first duplicate key or id.
    pub fn new(elements: Vec<Element>) -> Result<Catalog, String> {
        for (index, element) in elements.iter().enumerate() {
            let earlier = &elements[..index];
            if earlier.iter().any(|other| other.key == element.key || other.id == element.id) {
                return Err(format!("element '{}' (id {}) is defined twice", element.key, element.id));
            }
        }
        Ok(Catalog { elements })
    }

    /// The element whose key is `key_or_id` (exact, as the platforms did), or whose id is
    /// `key_or_id` written as a decimal number.
    pub fn get(&self, key_or_id: &str) -> Option<&Element> {
        let id = key_or_id.parse::<u64>().ok();
        self.elements.iter().find(|element| element.key == key_or_id || Some(element.id) == id)
    }

    /// Like [`Catalog::get`], with the error the API reports.
    pub fn find(&self, key_or_id: &str) -> Result<&Element, DomainError> {
        self.get(key_or_id).ok_or_else(|| DomainError::ElementNotFound(key_or_id.to_string()))
    }

    /// Every element, in catalog order (`GET /elements`).
    pub fn list(&self) -> &[Element] {
        &self.elements
    }

    /// Every element key, in catalog order (`GET /elements/keys`).
    pub fn keys(&self) -> Vec<&str> {
        self.elements.iter().map(|element| element.key.as_str()).collect()
    }
}

fn parse_element(name: &str, text: &str) -> Element {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("built-in element {name}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::collections::HashSet;

    /// Every configuration key SPEC.md "Elements" declares.
    const SPEC_KEYS: [&str; 16] = [
        "oauth.api.key",
        "oauth.api.secret",
        "oauth.callback.url",
        "infusionsoft.server",
        "infusionsoft.private.key",
        "oauth.user.refresh_interval",
        "oauth.user.token",
        "oauth.user.refresh_token",
        "oauth.user.refresh_time",
        "filter.response.nulls",
        "event.notification.enabled",
        "event.vendor.type",
        "event.poller.refresh_interval",
        "event.poller.configuration",
        "event.notification.callback.url",
        "event.notification.signature.key",
    ];

    fn crm() -> &'static Element {
        Catalog::builtin().get("infusionsoftcrm").expect("crm element")
    }

    #[test]
    fn builtin_catalog_has_both_infusionsoft_elements() {
        assert_eq!(Catalog::builtin().keys(), ["infusionsoftcrm", "infusionsofterp"]);
        assert_eq!(Catalog::builtin().list().len(), 2);
    }

    #[test]
    fn lookup_by_key_or_numeric_id() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.get("191").map(|element| element.key.as_str()), Some("infusionsoftcrm"));
        assert_eq!(catalog.get("192").map(|element| element.key.as_str()), Some("infusionsofterp"));
        assert_eq!(catalog.get("infusionsofterp").map(|element| element.id), Some(192));
    }

    #[test]
    fn unknown_element_is_not_found() {
        let catalog = Catalog::builtin();
        for key in ["", "salesforce", "INFUSIONSOFTCRM", "0191x", "-191", "99999999999999999999999"] {
            assert!(catalog.get(key).is_none(), "{key}");
        }
        assert_eq!(catalog.find("nope").unwrap_err(), DomainError::ElementNotFound("nope".into()));
    }

    #[test]
    fn crm_element_serializes_the_seed_fields() {
        let wire = serde_json::to_value(crm()).expect("serializes");
        let expected = json!({
            "id": 191, "name": "Infusionsoft", "hookName": "Infusionsoft", "key": "infusionsoftcrm",
            "active": true, "deleted": false, "typeOauth": false, "trialAccount": false,
            "bulkDownloadEnabled": false, "bulkUploadEnabled": false, "cloneable": true,
            "extendable": true, "beta": true, "authentication": {"type": "oauth2"}, "extended": false,
            "hub": "crm", "protocolType": "http", "parameters": []
        });
        for (field, value) in expected.as_object().expect("object") {
            assert_eq!(&wire[field], value, "{field}");
        }
        for field in ["description", "image", "configuration", "resources", "objects"] {
            assert!(wire.get(field).is_some(), "{field}");
        }
        assert!(wire.get("events").is_none(), "events belong to /metadata");
    }

    #[test]
    fn erp_element_carries_the_seed_values() {
        let erp = Catalog::builtin().get("infusionsofterp").expect("erp");
        let wire = serde_json::to_value(erp).expect("serializes");
        let expected = json!({
            "name": "Infusionsoft ERP by Keap", "hookName": "Infusionsoft", "key": "infusionsofterp", "logo": "infusionsoft",
            "transformationsEnabled": true, "bulkDownloadEnabled": true, "bulkUploadEnabled": true, "beta": false,
            "useModelsForMetadata": true, "hub": "erp", "protocolType": "http", "private": false,
            "authentication": {"type": "oauth2"}, "hooks": [], "models": []
        });
        for (field, value) in expected.as_object().expect("object") {
            assert_eq!(&wire[field], value, "{field}");
        }
    }

    #[test]
    fn summary_is_exactly_the_seed_instance_element() {
        let wire = serde_json::to_value(crm().summary()).expect("serializes");
        let mut keys: Vec<&str> = wire.as_object().expect("object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        let mut expected = vec![
            "id",
            "name",
            "hookName",
            "key",
            "description",
            "image",
            "active",
            "deleted",
            "typeOauth",
            "trialAccount",
            "bulkDownloadEnabled",
            "bulkUploadEnabled",
            "cloneable",
            "extendable",
            "beta",
            "authentication",
            "extended",
            "hub",
            "protocolType",
            "parameters",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
    }

    #[test]
    fn every_element_declares_every_spec_configuration_key() {
        for element in Catalog::builtin().list() {
            let keys: Vec<&str> = element.configuration.iter().map(|entry| entry.key.as_str()).collect();
            assert_eq!(keys, SPEC_KEYS, "{}", element.key);
        }
    }

    #[test]
    fn configuration_entries_carry_every_wire_field() {
        let entry = serde_json::to_value(&crm().configuration[0]).expect("serializes");
        for field in [
            "id",
            "name",
            "key",
            "description",
            "defaultValue",
            "type",
            "required",
            "hideFromConsole",
            "displayOrder",
            "active",
            "internal",
        ] {
            assert!(entry.get(field).is_some(), "{field}");
        }
    }

    #[test]
    fn configuration_ids_are_unique_across_the_catalog() {
        let mut seen = HashSet::new();
        for entry in Catalog::builtin().list().iter().flat_map(|element| &element.configuration) {
            assert!(seen.insert(entry.id), "duplicate configuration id {}", entry.id);
        }
    }

    #[test]
    fn required_keys_are_the_oauth_app_and_callback() {
        let required: Vec<&str> =
            crm().configuration.iter().filter(|entry| entry.required).map(|entry| entry.key.as_str()).collect();
        assert_eq!(required, ["oauth.api.key", "oauth.api.secret", "oauth.callback.url"]);
        assert!(crm().configuration.iter().filter(|entry| entry.required).all(|entry| entry.default_value.is_none()));
    }

    #[test]
    fn defaults_match_the_spec() {
        let default = |key: &str| crm().config_entry(key).and_then(|entry| entry.default_value.clone());
        assert_eq!(default("oauth.user.refresh_interval").as_deref(), Some("3600"));
        assert_eq!(default("filter.response.nulls").as_deref(), Some("true"));
        assert_eq!(default("event.vendor.type").as_deref(), Some("polling"));
    }

    #[test]
    fn platform_kept_keys_are_hidden_and_internal() {
        for key in ["oauth.user.token", "oauth.user.refresh_token", "oauth.user.refresh_time"] {
            let entry = crm().config_entry(key).expect("declared");
            assert!(entry.hide_from_console && entry.internal, "{key}");
        }
    }

    #[test]
    fn secrets_are_the_password_typed_keys() {
        let secrets: Vec<&str> =
            crm().configuration.iter().map(|entry| entry.key.as_str()).filter(|key| crm().is_secret(key)).collect();
        assert_eq!(
            secrets,
            [
                "oauth.api.key",
                "oauth.api.secret",
                "infusionsoft.private.key",
                "oauth.user.token",
                "oauth.user.refresh_token",
                "event.notification.signature.key",
            ]
        );
        assert!(!crm().is_secret("no.such.key"));
    }

    #[test]
    fn metadata_lists_events_methods_and_pollable_objects() {
        let wire = serde_json::to_value(crm().metadata()).expect("serializes");
        assert_eq!(wire["key"], "infusionsoftcrm");
        assert_eq!(wire["events"]["supported"], true);
        assert_eq!(wire["events"]["methods"], json!(["polling", "webhook"]));
        assert!(wire["events"]["polling"]["contacts"]["pollUrl"].as_str().is_some_and(|url| url.contains("${date}")));
        assert!(crm().pollable_objects().any(|object| object == "contacts"));
    }

    #[test]
    fn webhook_objects_are_also_pollable() {
        for element in Catalog::builtin().list() {
            for object in element.events.webhook.keys() {
                assert!(element.events.polling.contains_key(object), "{} {object}", element.key);
            }
        }
    }

    #[test]
    fn element_json_round_trips_through_the_wire_names() {
        let original: Value = serde_json::from_str(BUILTIN_SOURCES[0].1).expect("json");
        let mut wire = serde_json::to_value(crm()).expect("serializes");
        wire["events"] = original["events"].clone();
        assert_eq!(wire, original);
    }

    #[test]
    fn duplicate_elements_are_refused() {
        let element = crm().clone();
        assert!(Catalog::new(vec![element.clone(), element]).is_err());
    }
}
