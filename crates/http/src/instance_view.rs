//! An instance as the seeds show it on the wire (the CRM seed's "Example Response"), field for field.
//!
//! Owns the response shape and the masking of every secret configuration value as `"********"`
//! (including the platform-kept OAuth tokens). Decisions where the spec is silent:
//! - `user.id` is the calling user: the store does not record which user created an instance;
//! - `externalAuthentication` is `"none"` on reads (the store does not keep the provisioning mode);
//!   the create response echoes the mode that was asked for;
//! - `eventsEnabled` mirrors `event.notification.enabled`; caching is not implemented, so
//!   `cachingEnabled` is `false` and `maxCacheSize`/`cacheTimeToLive` are `0` as in the seed;
//! - an instance that enables events without a callback URL gets a `warnings` entry saying its
//!   notifications are only recorded in its event log (absent otherwise), rather than silently
//!   never being notified.

use std::collections::BTreeMap;

use domain::elements::{Element, ElementSummary};
use domain::instance_config::{self, Configuration};
use serde::Serialize;
use store::{InstanceId, InstanceRecord, UserId};

/// `{"id": ...}` of the instance's user.
#[derive(Serialize)]
pub struct UserRef {
    pub id: UserId,
}

/// The instance response body.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceView<'a> {
    pub id: InstanceId,
    pub name: &'a str,
    pub created_date: String,
    pub token: &'a str,
    pub element: ElementSummary<'a>,
    pub element_id: u64,
    pub tags: &'a [String],
    /// Always empty: Junction records no provisioning interactions.
    pub provision_interactions: [(); 0],
    pub valid: bool,
    pub disabled: bool,
    pub max_cache_size: u64,
    pub cache_time_to_live: u64,
    pub configuration: Configuration,
    pub events_enabled: bool,
    pub trace_logging_enabled: bool,
    pub caching_enabled: bool,
    pub external_authentication: &'a str,
    pub user: UserRef,
    /// What the instance asks for that this server does not do; absent when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<&'static str>,
}

/// The warning of an instance with `event.notification.enabled=true` and no callback URL.
pub const EVENTS_WITHOUT_CALLBACK: &str = "event.notification.enabled is true but no \
    event.notification.callback.url is set: changes are recorded in the instance's event log \
    (GET /instances/{id}/events) and sent nowhere";

/// The view of `record` (of `element`) for the caller `user_id`.
pub fn view<'a>(
    record: &'a InstanceRecord,
    element: &'a Element,
    user_id: UserId,
    external_authentication: &'a str,
) -> InstanceView<'a> {
    let mut all: BTreeMap<String, String> = record.configuration.clone();
    // Only the keys of secrets go out: every value is replaced by the mask below.
    for key in record.secrets.0.keys() {
        all.insert(key.clone(), instance_config::MASK.to_string());
    }
    let configuration = instance_config::mask(element, &Configuration::from_stored(all));
    let events_enabled = configuration.get("event.notification.enabled") == Some("true");
    let no_callback = configuration.get("event.notification.callback.url").is_none_or(|url| url.trim().is_empty());
    InstanceView {
        id: record.id,
        name: &record.name,
        created_date: record.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        token: record.token.expose(),
        element: element.summary(),
        element_id: element.id,
        tags: &record.tags,
        provision_interactions: [],
        valid: record.valid,
        disabled: record.disabled,
        max_cache_size: 0,
        cache_time_to_live: 0,
        events_enabled,
        configuration,
        trace_logging_enabled: record.trace_logging,
        caching_enabled: false,
        external_authentication,
        user: UserRef { id: user_id },
        warnings: if events_enabled && no_callback { vec![EVENTS_WITHOUT_CALLBACK] } else { Vec::new() },
    }
}
