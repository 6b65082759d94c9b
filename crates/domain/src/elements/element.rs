//! The wire shape of one element (connector definition) and its configuration entries.
//!
//! Owns the field names and their order exactly as the vendor documentation pages show them
//! (camelCase, `authentication: {"type": "oauth2"}`, `configuration` entries with `defaultValue`,
//! `hideFromConsole`, ...). It does not own where elements come from (see [`super::Catalog`]) nor
//! how configuration values are validated (see [`crate::instance_config`]).

use super::metadata::EventMetadata;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A connector definition, as served by `GET /elements/{keyOrId}`.
///
/// Invariants (checked by the catalog's tests): `key` and `id` are unique in the catalog, every
/// configuration `key` and `id` is unique within the element. `resources`, `objects`, `models` and
/// `hooks` are opaque JSON and currently empty: the hub objects are described by the mappings, not
/// by element resources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Element {
    pub id: u64,
    pub name: String,
    pub hook_name: String,
    pub key: String,
    pub description: String,
    pub image: String,
    pub logo: String,
    pub active: bool,
    pub deleted: bool,
    pub type_oauth: bool,
    pub trial_account: bool,
    pub configuration: Vec<ConfigEntry>,
    pub resources: Vec<Value>,
    pub objects: Vec<Value>,
    pub models: Vec<Value>,
    pub transformations_enabled: bool,
    pub bulk_download_enabled: bool,
    pub bulk_upload_enabled: bool,
    pub cloneable: bool,
    pub extendable: bool,
    pub beta: bool,
    pub authentication: Authentication,
    pub hooks: Vec<Value>,
    pub extended: bool,
    pub use_models_for_metadata: bool,
    pub hub: String,
    pub protocol_type: String,
    pub parameters: Vec<Value>,
    pub private: bool,
    /// Served by `GET /elements/{keyOrId}/metadata`, not as part of the element object.
    #[serde(skip_serializing)]
    pub events: EventMetadata,
}

impl Element {
    /// The declared configuration entry for `key`, if any.
    pub fn config_entry(&self, key: &str) -> Option<&ConfigEntry> {
        self.configuration.iter().find(|entry| entry.key == key)
    }

    /// Whether `key` holds a secret: declared with type `PASSWORD`. Secrets are masked as
    /// `"********"` in every response and encrypted at rest. Undeclared keys are not secrets.
    pub fn is_secret(&self, key: &str) -> bool {
        self.config_entry(key).is_some_and(|entry| entry.kind == ConfigType::Password)
    }

    /// The element as embedded in an instance response (the seed's field set, no configuration).
    pub fn summary(&self) -> ElementSummary<'_> {
        ElementSummary {
            id: self.id,
            name: &self.name,
            hook_name: &self.hook_name,
            key: &self.key,
            description: &self.description,
            image: &self.image,
            active: self.active,
            deleted: self.deleted,
            type_oauth: self.type_oauth,
            trial_account: self.trial_account,
            bulk_download_enabled: self.bulk_download_enabled,
            bulk_upload_enabled: self.bulk_upload_enabled,
            cloneable: self.cloneable,
            extendable: self.extendable,
            beta: self.beta,
            authentication: &self.authentication,
            extended: self.extended,
            hub: &self.hub,
            protocol_type: &self.protocol_type,
            parameters: &self.parameters,
        }
    }
}

/// `{"type": "oauth2"}`: how instances of the element authenticate with the vendor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authentication {
    #[serde(rename = "type")]
    pub kind: String,
}

/// One configuration key an instance of the element understands.
///
/// Invariant: `required` entries have no `default_value` (a default would make them never missing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigEntry {
    pub id: u64,
    pub name: String,
    pub key: String,
    pub description: String,
    /// Filled in when an instance does not supply the key; `null` on the wire when absent.
    pub default_value: Option<String>,
    pub reseller_config: bool,
    pub company_config: bool,
    pub active: bool,
    /// Kept by the platform (tokens, refresh bookkeeping) rather than typed by a person.
    pub internal: bool,
    pub group_control: bool,
    pub display_order: u32,
    #[serde(rename = "type")]
    pub kind: ConfigType,
    pub hide_from_console: bool,
    pub required: bool,
}

/// The input type of a configuration entry; bounds the value's length and, for `Boolean`, its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigType {
    #[serde(rename = "TEXTFIELD_32")]
    TextField32,
    #[serde(rename = "TEXTFIELD_128")]
    TextField128,
    #[serde(rename = "TEXTFIELD_1000")]
    TextField1000,
    #[serde(rename = "TEXTAREA")]
    TextArea,
    #[serde(rename = "BOOLEAN")]
    Boolean,
    #[serde(rename = "PASSWORD")]
    Password,
}

impl ConfigType {
    /// The longest value accepted, in characters. Text fields take their size from their name;
    /// passwords allow long vendor tokens.
    pub fn max_len(self) -> usize {
        match self {
            ConfigType::TextField32 => 32,
            ConfigType::TextField128 => 128,
            ConfigType::TextField1000 => 1000,
            ConfigType::TextArea => 64 * 1024,
            ConfigType::Boolean => 5,
            ConfigType::Password => 4096,
        }
    }
}

/// The element object embedded in an instance (`POST /instances` response), field for field as the
/// seed's example shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ElementSummary<'a> {
    pub id: u64,
    pub name: &'a str,
    pub hook_name: &'a str,
    pub key: &'a str,
    pub description: &'a str,
    pub image: &'a str,
    pub active: bool,
    pub deleted: bool,
    pub type_oauth: bool,
    pub trial_account: bool,
    pub bulk_download_enabled: bool,
    pub bulk_upload_enabled: bool,
    pub cloneable: bool,
    pub extendable: bool,
    pub beta: bool,
    pub authentication: &'a Authentication,
    pub extended: bool,
    pub hub: &'a str,
    pub protocol_type: &'a str,
    pub parameters: &'a [Value],
}
