//! The answer of `GET /elements/{keyOrId}/metadata`: which change events an element supports.
//!
//! Owns the wire shape `{id, key, name, description, events: {supported, methods, polling,
//! webhook}}`. The per-element values are data in the element files; this module does not decide
//! how polling or webhooks run.

use super::element::Element;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The events an element supports. Invariant: every object in `webhook` is also in `polling`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventMetadata {
    pub supported: bool,
    /// The `event.vendor.type` values an instance may choose: `polling`, `webhook`.
    pub methods: Vec<String>,
    /// Pollable hub objects, by name.
    pub polling: BTreeMap<String, PolledObject>,
    /// Objects for which the vendor's REST hooks report changes, by hub object name.
    pub webhook: BTreeMap<String, HookedObject>,
}

/// How one hub object is polled for changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolledObject {
    /// `CREATED`, `UPDATED`, `DELETED`.
    pub event_types: Vec<String>,
    /// Hub path with a `${date}` placeholder for the last watermark.
    pub poll_url: String,
}

/// The change events the vendor pushes for one hub object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HookedObject {
    pub event_types: Vec<String>,
}

/// The body of `GET /elements/{keyOrId}/metadata`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ElementMetadata<'a> {
    pub id: u64,
    pub key: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    pub events: &'a EventMetadata,
}

impl Element {
    /// The element's metadata document.
    pub fn metadata(&self) -> ElementMetadata<'_> {
        ElementMetadata {
            id: self.id,
            key: &self.key,
            name: &self.name,
            description: &self.description,
            events: &self.events,
        }
    }

    /// The hub objects that can be polled for changes, in name order.
    pub fn pollable_objects(&self) -> impl Iterator<Item = &str> {
        self.events.polling.keys().map(String::as_str)
    }
}
