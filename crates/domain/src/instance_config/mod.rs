//! Validation and normalization of an instance's `configuration` against its element.
//!
//! Owns the rules a configuration must satisfy before anything is stored or sent to the vendor:
//! declared keys only, required keys present, defaults filled in, each value in its key's form
//! (`infusionsoft.server` through the SSRF guard of `server_host`, intervals as positive
//! integers, booleans as `true`/`false`), and the masking of secrets in responses. It does not own
//! storage, encryption, or whether a client may set the platform-kept token keys (the instance
//! flow decides that, e.g. `externalAuthentication: "initial"`).
//!
//! Decisions where the spec is silent:
//! - Values are strings on the wire; JSON booleans and numbers are accepted and stringified,
//!   `null` and blank strings mean "not given" (the ERP seed sends `"oauth.user.refresh_token":
//!   null`), arrays and objects are refused. Values are trimmed.
//! - Keys the element does not declare are refused, all named at once. The platform-kept keys
//!   (`oauth.user.token`, `oauth.user.refresh_token`, `oauth.user.refresh_time`) are declared, so
//!   they are accepted.
//! - `oauth.callback.url` is not checked as a URL: the vendor compares it byte for byte with the
//!   authorize request's `redirect_uri` (the CRM seed itself sends `https;//mycoolapp.com`).

mod server_host;

pub use server_host::{ServerPolicy, VENDOR_DOMAINS};

use crate::absolute_url::parse_absolute_http_url;
use crate::elements::{ConfigEntry, ConfigType, Element};
use crate::error::DomainError;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What every secret value is replaced with in responses.
pub const MASK: &str = "********";

/// The key that turns an instance's events on (`"true"`).
pub const EVENTS_ENABLED: &str = "event.notification.enabled";

/// A validated, normalized configuration: declared keys only, non-empty trimmed values.
///
/// Invariant: built only by [`validate`] (or [`Configuration::from_stored`] for values that were
/// validated when written), so a `Configuration` in hand satisfies the element's rules.
/// `Debug` shows the keys only: the values include vendor secrets and tokens.
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Configuration(BTreeMap<String, String>);

impl std::fmt::Debug for Configuration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Configuration").field(&self.0.keys().collect::<Vec<_>>()).finish()
    }
}

impl Configuration {
    /// Re-wraps values read back from the store, which validated them when they were written.
    pub fn from_stored(values: BTreeMap<String, String>) -> Self {
        Self(values)
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// Every key and value, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// The plain map, for the store.
    pub fn into_inner(self) -> BTreeMap<String, String> {
        self.0
    }
}

/// Validates `input` (the request's `configuration` object) against `element`.
///
/// Fills in declared defaults, normalizes every value, and fails on the first unknown key set
/// (all unknown keys named), then on the first missing or invalid key in declaration order.
pub fn validate(
    element: &Element,
    input: &Map<String, Value>,
    policy: &ServerPolicy,
) -> Result<Configuration, DomainError> {
    reject_unknown_keys(element, input)?;
    let mut values = BTreeMap::new();
    for entry in &element.configuration {
        let given = input.get(&entry.key).unwrap_or(&Value::Null);
        if let Some(value) = validate_entry(entry, given, policy)? {
            values.insert(entry.key.clone(), value);
        }
    }
    Ok(Configuration(values))
}

/// Validates one value for `key` (e.g. `PATCH /instances/{id}/configuration/{configId}`).
///
/// Returns the normalized value, the default when `value` is null or blank, or `None` when the
/// key is optional, has no default and was cleared.
pub fn validate_value(
    element: &Element,
    key: &str,
    value: &Value,
    policy: &ServerPolicy,
) -> Result<Option<String>, DomainError> {
    let entry = element.config_entry(key).ok_or_else(|| DomainError::UnknownConfiguration(vec![key.to_string()]))?;
    validate_entry(entry, value, policy)
}

/// A copy of `config` with every secret value (see [`Element::is_secret`]) replaced by [`MASK`].
pub fn mask(element: &Element, config: &Configuration) -> Configuration {
    let masked = config
        .iter()
        .map(|(key, value)| {
            let shown = if element.is_secret(key) { MASK } else { value };
            (key.to_string(), shown.to_string())
        })
        .collect();
    Configuration(masked)
}

/// Replaces secret values a client sent back masked (`"********"`, e.g. a `PUT` of the instance it
/// just read) with the values in `previous`, so that re-sending a read body never stores the mask.
pub fn restore_masked(
    element: &Element,
    mut input: Map<String, Value>,
    previous: &Configuration,
) -> Map<String, Value> {
    for (key, value) in input.iter_mut() {
        let is_mask = value.as_str() == Some(MASK);
        if is_mask && element.is_secret(key) {
            *value = previous.get(key).map_or(Value::Null, |kept| Value::String(kept.to_string()));
        }
    }
    input
}

/// Keys the platforms reserved for themselves (basic-auth `username` and `password`, the
/// `provisioning` mode) that existing clients send with every instance they provision. They are
/// accepted and ignored: never stored, never echoed, never logged.
pub const PLATFORM_RESERVED_KEYS: [&str; 3] = ["username", "password", "provisioning"];

/// Whether `key` is one of [`PLATFORM_RESERVED_KEYS`].
pub fn is_reserved(key: &str) -> bool {
    PLATFORM_RESERVED_KEYS.contains(&key)
}

fn reject_unknown_keys(element: &Element, input: &Map<String, Value>) -> Result<(), DomainError> {
    let unknown: Vec<String> =
        input.keys().filter(|key| !is_reserved(key) && element.config_entry(key).is_none()).cloned().collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(DomainError::UnknownConfiguration(unknown))
    }
}

fn validate_entry(entry: &ConfigEntry, value: &Value, policy: &ServerPolicy) -> Result<Option<String>, DomainError> {
    let invalid = |reason: String| DomainError::InvalidConfiguration { key: entry.key.clone(), reason };
    let Some(text) = wire_text(value).map_err(|reason| invalid(reason.into()))? else {
        return default_or_missing(entry);
    };
    if text.chars().count() > entry.kind.max_len() {
        return Err(invalid(format!("must be at most {} characters", entry.kind.max_len())));
    }
    normalize(entry, &text, policy).map(Some).map_err(invalid)
}

/// The string a wire value stands for; `None` for null or blank.
fn wire_text(value: &Value) -> Result<Option<String>, &'static str> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(text) => text.trim().to_string(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => number.to_string(),
        Value::Array(_) | Value::Object(_) => return Err("must be a string"),
    };
    Ok(Some(text).filter(|text| !text.is_empty()))
}

fn default_or_missing(entry: &ConfigEntry) -> Result<Option<String>, DomainError> {
    if entry.required {
        return Err(DomainError::MissingConfiguration(entry.key.clone()));
    }
    Ok(entry.default_value.clone())
}

/// The per-key rule; keys without one keep their (trimmed) text.
fn normalize(entry: &ConfigEntry, text: &str, policy: &ServerPolicy) -> Result<String, String> {
    match entry.key.as_str() {
        "infusionsoft.server" => policy.normalize(text),
        "oauth.user.refresh_interval" => positive_integer(text, "seconds"),
        "event.poller.refresh_interval" => positive_integer(text, "minutes"),
        "oauth.user.refresh_time" => epoch_millis(text),
        "event.vendor.type" => one_of(text, &["polling", "webhook"]),
        "event.notification.callback.url" => parse_absolute_http_url(text).map(String::from),
        "event.poller.configuration" => json_text(text),
        _ if entry.kind == ConfigType::Boolean => one_of(text, &["true", "false"]),
        _ => Ok(text.to_string()),
    }
}

fn positive_integer(text: &str, unit: &str) -> Result<String, String> {
    match text.parse::<u32>() {
        Ok(number) if number > 0 && text.bytes().all(|b| b.is_ascii_digit()) => Ok(number.to_string()),
        _ => Err(format!("must be a positive whole number of {unit}")),
    }
}

fn epoch_millis(text: &str) -> Result<String, String> {
    match text.parse::<u64>() {
        Ok(millis) if text.bytes().all(|b| b.is_ascii_digit()) => Ok(millis.to_string()),
        _ => Err("must be a time in milliseconds since the Unix epoch".into()),
    }
}

fn one_of(text: &str, allowed: &[&str]) -> Result<String, String> {
    let lower = text.to_ascii_lowercase();
    if allowed.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(format!("must be one of {}", allowed.join(", ")))
    }
}

fn json_text(text: &str) -> Result<String, String> {
    serde_json::from_str::<Value>(text).map(|_| text.to_string()).map_err(|_| "must be a JSON document".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elements::Catalog;
    use serde_json::json;

    fn crm() -> &'static Element {
        Catalog::builtin().get("infusionsoftcrm").expect("crm")
    }

    fn erp() -> &'static Element {
        Catalog::builtin().get("infusionsofterp").expect("erp")
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().expect("object").clone()
    }

    /// The CRM seed's `configuration`, byte for byte.
    fn crm_seed() -> Map<String, Value> {
        object(json!({
            "oauth.callback.url": "https;//mycoolapp.com",
            "oauth.api.key": "xxxxxxxxxxxxxxxxxx",
            "oauth.api.secret": "xxxxxxxxxxxxxxxxxxxxxxxx",
            "infusionsoft.server": "dt123.infusionsoft.com",
            "infusionsoft.private.key": "47dxxxxxxxxxxxxxxxxxxxx"
        }))
    }

    fn check(element: &Element, input: Map<String, Value>) -> Result<Configuration, DomainError> {
        validate(element, &input, &ServerPolicy::vendor_only())
    }

    fn with(key: &str, value: Value) -> Map<String, Value> {
        let mut input = crm_seed();
        input.insert(key.to_string(), value);
        input
    }

    fn invalid_key(result: Result<Configuration, DomainError>) -> String {
        match result {
            Err(DomainError::InvalidConfiguration { key, .. }) => key,
            other => panic!("expected InvalidConfiguration, got {other:?}"),
        }
    }

    #[test]
    fn debug_output_names_keys_but_never_values() {
        let config = Configuration::from_stored([("oauth.api.secret".to_string(), "s3cr3t".to_string())].into());
        let printed = format!("{config:?}");
        assert!(printed.contains("oauth.api.secret") && !printed.contains("s3cr3t"), "{printed}");
    }

    #[test]
    fn crm_seed_configuration_is_accepted_with_defaults() {
        let config = check(crm(), crm_seed()).expect("valid");
        assert_eq!(config.get("infusionsoft.server"), Some("dt123.infusionsoft.com"));
        assert_eq!(config.get("oauth.user.refresh_interval"), Some("3600"));
        assert_eq!(config.get("filter.response.nulls"), Some("true"));
        assert_eq!(config.get("event.vendor.type"), Some("polling"));
        assert_eq!(config.get("oauth.user.token"), None);
    }

    #[test]
    fn erp_seed_configuration_with_nulls_is_accepted() {
        let input = object(json!({
            "oauth.api.secret": "xxxxxxxxxxxx",
            "filter.response.nulls": "true",
            "infusionsoft.private.key": "xxxxxxxxxxxxxxx",
            "oauth.callback.url": "https://auth.cloudelements.io/oauth",
            "infusionsoft.server": "xxxx.infusionsoft.com",
            "event.vendor.type": "polling",
            "oauth.api.key": "xxxxxxxxxxx",
            "oauth.user.refresh_time": null,
            "oauth.user.refresh_token": null
        }));
        let config = check(erp(), input).expect("valid");
        assert_eq!(config.get("oauth.user.refresh_token"), None);
        assert_eq!(config.get("infusionsoft.server"), Some("xxxx.infusionsoft.com"));
    }

    #[test]
    fn each_missing_required_key_is_named() {
        for key in ["oauth.api.key", "oauth.api.secret", "oauth.callback.url"] {
            let mut input = crm_seed();
            input.remove(key);
            assert_eq!(check(crm(), input).unwrap_err(), DomainError::MissingConfiguration(key.into()));
            assert_eq!(
                check(crm(), with(key, json!("  "))).unwrap_err(),
                DomainError::MissingConfiguration(key.into())
            );
            assert_eq!(
                check(crm(), with(key, Value::Null)).unwrap_err(),
                DomainError::MissingConfiguration(key.into())
            );
        }
    }

    #[test]
    fn unknown_keys_are_all_named() {
        let mut input = with("zeta.key", json!("1"));
        input.insert("alpha.key".into(), json!("2"));
        assert_eq!(
            check(crm(), input).unwrap_err(),
            DomainError::UnknownConfiguration(vec!["alpha.key".into(), "zeta.key".into()])
        );
    }

    #[test]
    fn server_is_stored_as_the_bare_host() {
        let config =
            check(crm(), with("infusionsoft.server", json!("https://DT123.infusionsoft.com/"))).expect("valid");
        assert_eq!(config.get("infusionsoft.server"), Some("dt123.infusionsoft.com"));
    }

    #[test]
    fn server_outside_the_vendor_is_refused() {
        for server in ["evil.com", "http://169.254.169.254", "dt123.infusionsoft.com:8080", "a@dt1.keap.com"] {
            assert_eq!(invalid_key(check(crm(), with("infusionsoft.server", json!(server)))), "infusionsoft.server");
        }
    }

    #[test]
    fn sandbox_host_is_accepted_only_when_configured() {
        let input = with("infusionsoft.server", json!("http://127.0.0.1:8091"));
        let sandbox = ServerPolicy::with_sandbox_host("127.0.0.1:8091");
        let config = validate(crm(), &input, &sandbox).expect("valid");
        assert_eq!(config.get("infusionsoft.server"), Some("127.0.0.1:8091"));
        assert!(check(crm(), input).is_err());
    }

    #[test]
    fn refresh_interval_must_be_positive_seconds() {
        let table = [
            ("7200", Some("7200")),
            ("0", None),
            ("-5", None),
            ("1.5", None),
            ("+60", None),
            ("abc", None),
            ("99999999999", None),
        ];
        for (given, expected) in table {
            let result = check(crm(), with("oauth.user.refresh_interval", json!(given)));
            match expected {
                Some(value) => assert_eq!(result.expect(given).get("oauth.user.refresh_interval"), Some(value)),
                None => assert_eq!(invalid_key(result), "oauth.user.refresh_interval", "{given}"),
            }
        }
        let numeric = check(crm(), with("oauth.user.refresh_interval", json!(60))).expect("number accepted");
        assert_eq!(numeric.get("oauth.user.refresh_interval"), Some("60"));
    }

    #[test]
    fn booleans_are_true_or_false() {
        let config = check(crm(), with("filter.response.nulls", json!("FALSE"))).expect("valid");
        assert_eq!(config.get("filter.response.nulls"), Some("false"));
        let config = check(crm(), with("event.notification.enabled", json!(true))).expect("valid");
        assert_eq!(config.get("event.notification.enabled"), Some("true"));
        for bad in ["yes", "1", "truee"] {
            assert_eq!(invalid_key(check(crm(), with("filter.response.nulls", json!(bad)))), "filter.response.nulls");
        }
    }

    #[test]
    fn event_settings_are_checked() {
        assert_eq!(invalid_key(check(crm(), with("event.vendor.type", json!("push")))), "event.vendor.type");
        assert_eq!(
            invalid_key(check(crm(), with("event.poller.refresh_interval", json!("0")))),
            "event.poller.refresh_interval"
        );
        assert_eq!(
            invalid_key(check(crm(), with("event.notification.callback.url", json!("not a url")))),
            "event.notification.callback.url"
        );
        assert_eq!(
            invalid_key(check(crm(), with("event.poller.configuration", json!("{oops")))),
            "event.poller.configuration"
        );
        let config = check(crm(), with("event.vendor.type", json!("Webhook"))).expect("valid");
        assert_eq!(config.get("event.vendor.type"), Some("webhook"));
    }

    #[test]
    fn structured_and_oversized_values_are_refused() {
        assert_eq!(invalid_key(check(crm(), with("oauth.api.key", json!({"a": 1})))), "oauth.api.key");
        assert_eq!(invalid_key(check(crm(), with("infusionsoft.server", json!(["x"])))), "infusionsoft.server");
        assert_eq!(
            invalid_key(check(crm(), with("oauth.user.refresh_interval", json!("1".repeat(33))))),
            "oauth.user.refresh_interval"
        );
        assert_eq!(invalid_key(check(crm(), with("oauth.api.secret", json!("s".repeat(5000))))), "oauth.api.secret");
    }

    #[test]
    fn errors_never_repeat_a_secret_value() {
        let error = check(crm(), with("oauth.api.secret", json!("TOPSECRET".repeat(600)))).unwrap_err();
        assert!(!error.to_string().contains("TOPSECRET"), "{error}");
    }

    #[test]
    fn values_are_trimmed() {
        let config = check(crm(), with("oauth.api.key", json!("  id  "))).expect("valid");
        assert_eq!(config.get("oauth.api.key"), Some("id"));
    }

    #[test]
    fn mask_hides_every_secret_and_keeps_the_rest() {
        let mut input = with("oauth.user.refresh_token", json!("rt"));
        input.insert("oauth.user.token".into(), json!("at"));
        input.insert("event.notification.signature.key".into(), json!("sig"));
        let masked = mask(crm(), &check(crm(), input).expect("valid"));
        for key in [
            "oauth.api.key",
            "oauth.api.secret",
            "infusionsoft.private.key",
            "oauth.user.token",
            "oauth.user.refresh_token",
            "event.notification.signature.key",
        ] {
            assert_eq!(masked.get(key), Some(MASK), "{key}");
        }
        assert_eq!(masked.get("infusionsoft.server"), Some("dt123.infusionsoft.com"));
        assert_eq!(masked.get("oauth.callback.url"), Some("https;//mycoolapp.com"));
    }

    #[test]
    fn masked_values_sent_back_keep_the_stored_secret() {
        let stored = check(crm(), crm_seed()).expect("valid");
        let echoed = serde_json::to_value(mask(crm(), &stored)).expect("serializes");
        let restored = restore_masked(crm(), object(echoed), &stored);
        assert_eq!(check(crm(), restored).expect("valid"), stored);
    }

    #[test]
    fn single_value_validation_for_patch() {
        let policy = ServerPolicy::vendor_only();
        assert_eq!(validate_value(crm(), "filter.response.nulls", &json!("False"), &policy), Ok(Some("false".into())));
        assert_eq!(validate_value(crm(), "filter.response.nulls", &Value::Null, &policy), Ok(Some("true".into())));
        assert_eq!(validate_value(crm(), "infusionsoft.private.key", &json!(""), &policy), Ok(None));
        assert_eq!(
            validate_value(crm(), "oauth.api.key", &json!(""), &policy),
            Err(DomainError::MissingConfiguration("oauth.api.key".into()))
        );
        assert_eq!(
            validate_value(crm(), "nope", &json!("x"), &policy),
            Err(DomainError::UnknownConfiguration(vec!["nope".into()]))
        );
    }

    #[test]
    fn configuration_serializes_as_a_string_map() {
        let config = check(crm(), crm_seed()).expect("valid");
        let wire = serde_json::to_value(&config).expect("serializes");
        assert!(wire.as_object().expect("object").values().all(Value::is_string));
    }
}
