//! Paths into the vendor's JSON, as the mappings write them: keys joined by `.`, and `key[field=VALUE]`
//! to pick the element of an array whose `field` property is `VALUE` (`email_addresses[field=EMAIL1].email`).
//!
//! Reading follows a path and yields nothing where it leads nowhere. Writing creates what is missing on
//! the way (objects, and array elements carrying their selector) and leaves siblings untouched, so a
//! write of `Email` keeps `EMAIL2` and `EMAIL3` as the vendor holds them.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An object key.
    Key(String),
    /// An object key holding an array, and the element whose `property` equals `value`.
    Select { key: String, property: String, value: String },
    /// An object key holding an array, and its element at `index` (`order_ids[0]`).
    Index { key: String, index: usize },
}

impl Step {
    fn key(&self) -> &str {
        match self {
            Step::Key(key) | Step::Select { key, .. } | Step::Index { key, .. } => key,
        }
    }
}

/// A parsed vendor path; never empty. (De)serialized as its text, so definitions hold parsed paths.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct VendorPath {
    steps: Vec<Step>,
}

impl VendorPath {
    /// Parses `a.b[field=X].c`; the error says what is wrong with the text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let steps = text.split('.').map(parse_step).collect::<Result<Vec<_>, _>>()?;
        if steps.is_empty() {
            return Err("a path needs at least one key".into());
        }
        Ok(VendorPath { steps })
    }

    /// Whether following this path crosses an array selector (a write must then start from the
    /// vendor's current array, or it would drop the elements it does not name).
    pub fn selects(&self) -> bool {
        self.steps.iter().any(|step| matches!(step, Step::Select { .. }))
    }

    /// Whether a write through this path sets only part of its top-level vendor field (an element
    /// of an array, or a key of an object such as a company's `address.locality`): an update must
    /// then start from the vendor's current value, since the vendor replaces the field whole.
    pub fn writes_part(&self) -> bool {
        self.steps.len() > 1 || self.selects()
    }

    /// The key of the first step: the top-level vendor field a write touches (for `update_mask`).
    pub fn top_key(&self) -> &str {
        self.steps[0].key()
    }

    /// The value at this path in `record`, if the path leads somewhere.
    pub fn get<'a>(&self, record: &'a Value) -> Option<&'a Value> {
        self.steps.iter().try_fold(record, |node, step| match step {
            Step::Key(key) => node.get(key),
            Step::Select { key, property, value } => node
                .get(key)?
                .as_array()?
                .iter()
                .find(|element| element.get(property).and_then(Value::as_str) == Some(value.as_str())),
            Step::Index { key, index } => node.get(key)?.get(*index),
        })
    }

    /// Writes `value` at this path in `record` (an object), creating objects and selected array
    /// elements on the way. Returns false when something in the way is not an object or array.
    pub fn set(&self, record: &mut Value, value: Value) -> bool {
        let Some((last, inner)) = self.steps.split_last() else { return false };
        let mut node = record;
        for step in inner {
            let Some(next) = descend(node, step) else { return false };
            node = next;
        }
        match last {
            Step::Key(key) => match node.as_object_mut() {
                Some(object) => {
                    object.insert(key.clone(), value);
                    true
                }
                None => false,
            },
            Step::Select { .. } | Step::Index { .. } => match descend(node, last) {
                Some(slot) => {
                    *slot = value;
                    true
                }
                None => false,
            },
        }
    }
}

impl VendorPath {
    /// When this path ends in a value inside a selected array element (`a[field=X].value`),
    /// removes that element from `record` and returns true; otherwise changes nothing.
    pub fn remove_selected(&self, record: &mut Value) -> bool {
        let [parents @ .., Step::Select { key, property, value }, Step::Key(_)] = self.steps.as_slice() else {
            return false;
        };
        let mut node = record;
        for step in parents {
            let Some(next) = descend(node, step) else { return false };
            node = next;
        }
        if let Some(Value::Array(elements)) = node.get_mut(key) {
            elements.retain(|element| element.get(property).and_then(Value::as_str) != Some(value.as_str()));
        }
        true
    }
}

impl TryFrom<String> for VendorPath {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        VendorPath::parse(&text)
    }
}

impl From<VendorPath> for String {
    fn from(path: VendorPath) -> String {
        path.to_string()
    }
}

impl fmt::Display for VendorPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, step) in self.steps.iter().enumerate() {
            if index > 0 {
                f.write_str(".")?;
            }
            match step {
                Step::Key(key) => f.write_str(key)?,
                Step::Select { key, property, value } => write!(f, "{key}[{property}={value}]")?,
                Step::Index { key, index } => write!(f, "{key}[{index}]")?,
            }
        }
        Ok(())
    }
}

fn parse_step(text: &str) -> Result<Step, String> {
    let valid_name = |name: &str| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let Some((key, selector)) = text.split_once('[') else {
        return if valid_name(text) { Ok(Step::Key(text.into())) } else { Err(format!("`{text}` is not a key")) };
    };
    let selector = selector.strip_suffix(']').ok_or_else(|| format!("`{text}`: expected `]` at the end"))?;
    if let Ok(index) = selector.parse::<usize>() {
        return if valid_name(key) {
            Ok(Step::Index { key: key.into(), index })
        } else {
            Err(format!("`{text}` is not a key"))
        };
    }
    let (property, value) = selector.split_once('=').ok_or_else(|| format!("`{text}`: expected [property=VALUE]"))?;
    if !valid_name(key) || !valid_name(property) || value.is_empty() {
        return Err(format!("`{text}`: expected key[property=VALUE]"));
    }
    Ok(Step::Select { key: key.into(), property: property.into(), value: value.into() })
}

/// The child of `node` that `step` names, created if missing (an empty object, or an array element
/// carrying the selector's property).
fn descend<'a>(node: &'a mut Value, step: &Step) -> Option<&'a mut Value> {
    let object: &mut Map<String, Value> = node.as_object_mut()?;
    match step {
        Step::Key(key) => {
            let child = object.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
            if child.is_null() {
                *child = Value::Object(Map::new());
            }
            Some(child)
        }
        Step::Select { key, property, value } => {
            let array = object.entry(key.clone()).or_insert_with(|| Value::Array(Vec::new()));
            if array.is_null() {
                *array = Value::Array(Vec::new());
            }
            let elements = array.as_array_mut()?;
            let found = elements
                .iter()
                .position(|element| element.get(property).and_then(Value::as_str) == Some(value.as_str()));
            let index = match found {
                Some(index) => index,
                None => {
                    let mut element = Map::new();
                    element.insert(property.clone(), Value::String(value.clone()));
                    elements.push(Value::Object(element));
                    elements.len() - 1
                }
            };
            elements.get_mut(index)
        }
        // An index only reaches an element that exists: a write cannot invent the ones before it.
        Step::Index { key, index } => object.get_mut(key)?.as_array_mut()?.get_mut(*index),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(text: &str) -> VendorPath {
        VendorPath::parse(text).unwrap()
    }

    #[test]
    fn reads_keys_and_selected_array_elements() {
        let record = json!({
            "given_name": "Ada",
            "company": {"company_name": "Analytical"},
            "email_addresses": [{"field": "EMAIL2", "email": "b@x.io"}, {"field": "EMAIL1", "email": "a@x.io"}],
        });
        assert_eq!(path("given_name").get(&record), Some(&json!("Ada")));
        assert_eq!(path("company.company_name").get(&record), Some(&json!("Analytical")));
        assert_eq!(path("email_addresses[field=EMAIL1].email").get(&record), Some(&json!("a@x.io")));
        assert_eq!(path("email_addresses[field=EMAIL3].email").get(&record), None);
        assert_eq!(path("company.missing.deeper").get(&record), None);
        assert_eq!(path("email_addresses[0].email").get(&record), Some(&json!("b@x.io")));
        assert_eq!(path("email_addresses[5].email").get(&record), None);
    }

    #[test]
    fn writes_create_what_is_missing_and_keep_siblings() {
        let mut record = json!({"email_addresses": [{"field": "EMAIL2", "email": "b@x.io"}]});
        assert!(path("email_addresses[field=EMAIL1].email").set(&mut record, json!("a@x.io")));
        assert!(path("company.id").set(&mut record, json!("7")));
        assert_eq!(
            record,
            json!({
                "email_addresses": [{"field": "EMAIL2", "email": "b@x.io"}, {"field": "EMAIL1", "email": "a@x.io"}],
                "company": {"id": "7"},
            })
        );
        assert!(path("email_addresses[field=EMAIL2].email").set(&mut record, json!("c@x.io")));
        assert_eq!(path("email_addresses[field=EMAIL2].email").get(&record), Some(&json!("c@x.io")));
    }

    #[test]
    fn a_write_through_a_scalar_fails_instead_of_clobbering_it() {
        let mut record = json!({"company": "Acme"});
        assert!(!path("company.id").set(&mut record, json!("7")));
        assert_eq!(record, json!({"company": "Acme"}));
    }

    #[test]
    fn bad_paths_are_named() {
        for bad in ["", "a..b", "a[field=X", "a[fieldX]", "a[=X]", "a b"] {
            assert!(VendorPath::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(path("a.b[field=X].c").to_string(), "a.b[field=X].c");
        assert_eq!(path("phone_numbers[field=PHONE1].number").top_key(), "phone_numbers");
    }
}
