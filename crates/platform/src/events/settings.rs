//! An instance's event settings, read from its configuration each time they are used (so a
//! `PATCH` takes effect at the next poll or delivery, with no restart): whether events are on,
//! polling or webhooks, the interval, the callback and its signature key, and which objects are
//! polled how (`event.poller.configuration`, in the platforms' shape, or each element's default).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use store::InstanceRecord;

/// The interval when `event.poller.refresh_interval` is absent (the platforms' default).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// What an instance's configuration says about its events.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSettings {
    pub enabled: bool,
    /// `event.vendor.type=webhook`.
    pub webhooks: bool,
    pub interval: Duration,
    pub callback_url: Option<String>,
    pub objects: Vec<PolledObject>,
}

/// How one object is polled.
#[derive(Debug, Clone, PartialEq)]
pub struct PolledObject {
    /// The hub object (`contacts`).
    pub name: String,
    /// The CEQL `where` of a poll, with `${gmtDate:…}`, `${date:…}` or `${epoch:s|ms}` standing for
    /// the time the poll reads from.
    pub where_template: String,
    /// The record fields holding the id and the update and creation times (dotted paths).
    pub id_field: String,
    pub updated_field: String,
    pub created_field: Option<String>,
}

/// Why a poller configuration was refused; names the problem, never a value that may be secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event.poller.configuration: {0}")]
pub struct SettingsError(pub String);

impl EventSettings {
    /// The settings of `instance` (its element decides the default objects).
    pub fn of(instance: &InstanceRecord) -> Result<Self, SettingsError> {
        let config = &instance.configuration;
        let flag = |key: &str| config.get(key).is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
        let minutes = config
            .get("event.poller.refresh_interval")
            .and_then(|value| value.trim().parse::<u64>().ok())
            .filter(|minutes| *minutes >= 1);
        let objects = match config.get("event.poller.configuration").map(|text| text.trim()).filter(|t| !t.is_empty()) {
            Some(text) => parse_objects(&instance.element_key, text)?,
            None => default_objects(&instance.element_key),
        };
        Ok(EventSettings {
            enabled: flag(domain::instance_config::EVENTS_ENABLED),
            webhooks: config.get("event.vendor.type").is_some_and(|value| value.trim().eq_ignore_ascii_case("webhook")),
            interval: minutes.map_or(DEFAULT_INTERVAL, |minutes| Duration::from_secs(minutes * 60)),
            callback_url: config.get("event.notification.callback.url").map(|url| url.trim().to_string()),
            objects,
        })
    }
}

/// The objects each element polls by default, with their id and date fields.
pub fn default_objects(element_key: &str) -> Vec<PolledObject> {
    let names: &[&str] = match element_key {
        "infusionsofterp" => {
            &["customers", "accounts", "opportunities", "notes", "orders", "products", "subscriptions", "transactions"]
        }
        _ => &["contacts", "accounts", "opportunities", "tasks", "notes"],
    };
    names
        .iter()
        .map(|name| {
            let (updated, created) = match *name {
                "transactions" => ("TransactionDate", None),
                _ => ("LastUpdated", Some("DateCreated")),
            };
            PolledObject {
                name: (*name).to_string(),
                where_template: format!("{updated} >= '${{gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}}'"),
                id_field: "Id".into(),
                updated_field: updated.into(),
                created_field: created.map(String::from),
            }
        })
        .collect()
}

/// Parses `event.poller.configuration`: `{"<resource>": {"url": "/hubs/crm/contacts?where=…",
/// "idField": "id", "datesConfiguration": {"updatedDateField": …, "createdDateField": …}}}`.
/// A resource without a `url` polls the object named by its key; one without dates uses the
/// element default's fields for that object.
pub fn parse_objects(element_key: &str, text: &str) -> Result<Vec<PolledObject>, SettingsError> {
    let bad = |what: String| SettingsError(what);
    let value: Value = serde_json::from_str(text).map_err(|error| bad(format!("not JSON: {error}")))?;
    let Value::Object(resources) = value else { return Err(bad("must be a JSON object of resources".into())) };
    if resources.is_empty() {
        return Err(bad("names no resource".into()));
    }
    let defaults = default_objects(element_key);
    let mut objects = Vec::new();
    for (key, entry) in &resources {
        let Value::Object(entry) = entry else { return Err(bad(format!("'{key}' must be an object"))) };
        let (name, where_template) = match entry.get("url") {
            Some(Value::String(url)) => object_and_where(url).map_err(|what| bad(format!("'{key}'.url {what}")))?,
            Some(_) => return Err(bad(format!("'{key}'.url must be a string"))),
            None => (key.clone(), None),
        };
        hub::objects::resolve(element_key, &name)
            .map_err(|_| bad(format!("'{key}' names no object of this element: {name}")))?;
        let default = defaults.iter().find(|object| object.name == name);
        let dates = entry.get("datesConfiguration").and_then(Value::as_object);
        let text = |map: Option<&Map<String, Value>>, field: &str| {
            map.and_then(|map| map.get(field)).and_then(Value::as_str).map(str::to_string)
        };
        let Some(updated_field) = text(dates, "updatedDateField").or_else(|| default.map(|d| d.updated_field.clone()))
        else {
            return Err(bad(format!("'{key}' needs datesConfiguration.updatedDateField")));
        };
        let created_field = text(dates, "createdDateField").or_else(|| default.and_then(|d| d.created_field.clone()));
        let where_template = where_template
            .unwrap_or_else(|| format!("{} >= '${{gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}}'", hub_field(&updated_field)));
        objects.push(PolledObject {
            name,
            where_template,
            id_field: text(Some(entry), "idField").unwrap_or_else(|| "Id".into()),
            updated_field,
            created_field,
        });
    }
    Ok(objects)
}

/// The object and the `where` of a poller URL (`/hubs/crm/contacts?where=…`).
fn object_and_where(url: &str) -> Result<(String, Option<String>), &'static str> {
    let parsed =
        url::Url::parse("http://junction.invalid").and_then(|base| base.join(url)).map_err(|_| "is not a URL")?;
    let name = parsed.path_segments().and_then(|mut segments| segments.next_back()).filter(|s| !s.is_empty());
    let name = name.ok_or("names no object")?.to_string();
    let where_ = parsed.query_pairs().find(|(key, _)| key == "where").map(|(_, value)| value.into_owned());
    Ok((name, where_))
}

/// A field of the platforms' configurations (`_info.lastUpdated`, `lastUpdated`) as a hub field
/// name for a generated `where` (its last segment, first letter upper-cased).
fn hub_field(path: &str) -> String {
    let last = path.rsplit('.').next().unwrap_or(path);
    let mut chars = last.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// `template` with its time placeholders replaced by `from`.
pub fn render_where(template: &str, from: DateTime<Utc>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let placeholder = &rest[start + 2..start + end];
        out.push_str(&render_placeholder(placeholder, from).unwrap_or_else(|| format!("${{{placeholder}}}")));
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

fn render_placeholder(placeholder: &str, from: DateTime<Utc>) -> Option<String> {
    let (kind, format) = placeholder.split_once(':')?;
    match kind {
        // The same translation as a common resource's date masks (one reading of Java patterns).
        "gmtDate" | "date" => Some(from.format(&mapping::date_format::java_to_strftime(format)).to_string()),
        "epoch" if format == "ms" => Some(from.timestamp_millis().to_string()),
        "epoch" => Some(from.timestamp().to_string()),
        _ => None,
    }
}

/// The value at a dotted `path` of a record (`LastUpdated`, `_info.lastUpdated`); a last segment
/// not found as written is looked up ignoring case.
pub fn field<'a>(record: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut current = record;
    let mut segments = path.split('.').peekable();
    while let Some(segment) = segments.next() {
        let value = current
            .get(segment)
            .or_else(|| current.iter().find(|(key, _)| key.eq_ignore_ascii_case(segment)).map(|(_, value)| value))?;
        if segments.peek().is_none() {
            return Some(value);
        }
        current = value.as_object()?;
    }
    None
}

/// A vendor time as comparable text: RFC 3339 in UTC to the millisecond (`…T10:00:00.000Z`), so
/// that text order is time order whatever precision the vendor wrote.
pub fn comparable_time(value: &Value) -> Option<String> {
    let text = value.as_str()?;
    let instant = DateTime::parse_from_rfc3339(text.trim()).ok()?.with_timezone(&Utc);
    Some(instant.to_rfc3339_opts(SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn placeholders_take_the_time_in_the_pattern_asked_for() {
        let at = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
        assert_eq!(
            render_where("LastUpdated >= '${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'", at),
            "LastUpdated >= '2026-03-04T05:06:07Z'"
        );
        assert_eq!(render_where("x > ${epoch:s} and ${unknown:x}", at), "x > 1772600767 and ${unknown:x}");
        assert_eq!(render_where("${date:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}", at), "2026-03-04T05:06:07.000Z");
    }

    #[test]
    fn placeholder_patterns_read_as_java_and_any_text_renders() {
        let at = Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap();
        assert_eq!(render_where("${date:d/M/yy}", at), "4/3/26");
        assert_eq!(render_where("${date:yyyy'%'Q}", at), "2026%Q", "a quoted % no longer breaks the format");
        assert_eq!(render_where("${gmtDate:yyyy-MM-dd'T'HH:mm:ssZ}", at), "2026-03-04T05:06:07Z");
    }

    #[test]
    fn the_platforms_configuration_shape_is_read() {
        let text = r#"{"contacts": {"url": "/hubs/crm/contacts?where=lastUpdated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'",
            "idField": "id", "datesConfiguration": {"updatedDateField": "_info.lastUpdated", "updatedDateFormat": "x"}},
            "tasks": {}}"#;
        let objects = parse_objects("infusionsoftcrm", text).unwrap();
        assert_eq!(objects[0].name, "contacts");
        assert_eq!(objects[0].where_template, "lastUpdated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'");
        assert_eq!((objects[0].id_field.as_str(), objects[0].updated_field.as_str()), ("id", "_info.lastUpdated"));
        assert_eq!(objects[1].name, "tasks");
        assert_eq!(objects[1].updated_field, "LastUpdated", "the element default's fields");
    }

    #[test]
    fn a_bad_poller_configuration_names_the_problem() {
        for (text, problem) in [
            ("{oops", "not JSON"),
            ("[]", "JSON object"),
            ("{}", "no resource"),
            (r#"{"widgets": {}}"#, "no object"),
            (r#"{"contacts": {"url": 5}}"#, "must be a string"),
            (r#"{"contacts": 1}"#, "must be an object"),
        ] {
            let error = parse_objects("infusionsoftcrm", text).unwrap_err().to_string();
            assert!(error.contains(problem), "{text}: {error}");
        }
    }

    #[test]
    fn fields_are_found_by_path_and_times_compare_as_text() {
        let record = serde_json::json!({"_info": {"lastUpdated": "2026-01-01T10:00:00Z"}, "LastUpdated": "x"});
        let record = record.as_object().unwrap();
        assert_eq!(field(record, "_info.lastUpdated"), Some(&Value::from("2026-01-01T10:00:00Z")));
        assert_eq!(field(record, "lastupdated"), Some(&Value::from("x")));
        let a = comparable_time(&Value::from("2026-01-01T10:00:00Z")).unwrap();
        let b = comparable_time(&Value::from("2026-01-01T10:00:00.5Z")).unwrap();
        let c = comparable_time(&Value::from("2026-01-01T11:00:00+01:00")).unwrap();
        assert!(a < b && a == c, "{a} {b} {c}");
    }
}
