//! Paths into JSON records, as the mappings write them: keys joined by `.`; `key[field=VALUE]` (or
//! JSONPath's `key[?(@.field=='VALUE')]`) to pick the element of an array whose `field` property is
//! `VALUE` (`email_addresses[field=EMAIL1].email`); `key[0]` for an element by position.
//!
//! Reading follows a path and yields nothing where it leads nowhere. Writing ([`VendorPath::set`])
//! creates what is missing on the way (objects, and array elements carrying their selector) and
//! leaves siblings untouched, so a write of `Email` keeps `EMAIL2` and `EMAIL3` as the vendor holds
//! them. [`VendorPath::insert`] also creates array elements by position, to build a nested record
//! (a common resource's `emails[0].value`) from nothing.
//!
//! Paths are bounded (steps, length, index) since organizations write them too, and an index is
//! padded with nulls up to it on insert.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An object key.
    Key(String),
    /// An object key holding an array, and the element whose `property` equals `value` (as text: a
    /// number or boolean property matches its JSON text, `4` matches `[id=4]`).
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

/// The most steps a path has.
const MAX_STEPS: usize = 32;
/// The longest path text, in bytes.
const MAX_LENGTH: usize = 512;
/// The largest array index in a path: [`VendorPath::insert`] pads an array up to it.
const MAX_INDEX: usize = 1000;

/// A parsed vendor path; never empty, at most 32 steps and 512 characters. (De)serialized as its
/// text, so definitions hold parsed paths.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct VendorPath {
    steps: Vec<Step>,
}

impl VendorPath {
    /// Parses `a.b[field=X].c` (or `a.b[?(@.field=='X')].c`); the error says what is wrong with the
    /// text, including a path too long to be one.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() > MAX_LENGTH {
            return Err(format!("a path is at most {MAX_LENGTH} characters long"));
        }
        let parts = split_steps(text);
        if parts.len() > MAX_STEPS {
            return Err(format!("`{text}`: a path has at most {MAX_STEPS} steps"));
        }
        let steps = parts.into_iter().map(parse_step).collect::<Result<Vec<_>, _>>()?;
        Ok(VendorPath { steps })
    }

    /// The steps, first to last.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// How many steps the path has (`a.b[0].c`: 3).
    pub fn depth(&self) -> usize {
        self.steps.len()
    }

    /// Whether following this path crosses an array selector (a write must then start from the
    /// vendor's current array, or it would drop the elements it does not name).
    pub fn has_selectors(&self) -> bool {
        self.steps.iter().any(|step| matches!(step, Step::Select { .. }))
    }

    /// Whether a write through this path sets only part of its top-level vendor field (an element
    /// of an array, or a key of an object such as a company's `address.locality`): an update must
    /// then start from the vendor's current value, since the vendor replaces the field whole.
    pub fn writes_part(&self) -> bool {
        self.steps.len() > 1 || self.has_selectors()
    }

    /// The key of the first step: the top-level vendor field a write touches (for `update_mask`).
    pub fn top_key(&self) -> &str {
        self.steps[0].key()
    }

    /// The key, when the path is that one key and nothing more (`given_name`).
    pub fn single_key(&self) -> Option<&str> {
        match self.steps.as_slice() {
            [Step::Key(key)] => Some(key),
            _ => None,
        }
    }

    /// The value at this path in `record`, if the path leads somewhere.
    pub fn get<'a>(&self, record: &'a Value) -> Option<&'a Value> {
        self.get_from_top(record.get(self.top_key())?)
    }

    /// The value at this path in a record whose value under [`VendorPath::top_key`] is `top`: a
    /// reader that holds that value alone, not the record.
    pub fn get_from_top<'a>(&self, top: &'a Value) -> Option<&'a Value> {
        let (first, rest) = self.steps.split_first()?;
        let start = match first {
            Step::Key(_) => top,
            Step::Select { property, value, .. } => {
                top.as_array()?.iter().find(|element| selected(element, property, value))?
            }
            Step::Index { index, .. } => top.get(*index)?,
        };
        rest.iter().try_fold(start, |node, step| match step {
            Step::Key(key) => node.get(key),
            Step::Select { key, property, value } => {
                node.get(key)?.as_array()?.iter().find(|element| selected(element, property, value))
            }
            Step::Index { key, index } => node.get(key)?.get(*index),
        })
    }

    /// Writes `value` at this path in `record` (an object), creating objects and selected array
    /// elements on the way. Returns false when something in the way is not an object or array, or
    /// when an indexed element does not exist.
    pub fn set(&self, record: &mut Value, value: Value) -> bool {
        self.write(record, value, Creating::Selected)
    }

    /// Like [`VendorPath::set`], and an indexed element is created too: the array is padded with
    /// `null` up to the index, and a `null` on the way to a deeper step becomes an object. Builds a
    /// nested record from flat values (`emails[0].value`, `address.city`).
    pub fn insert(&self, record: &mut Value, value: Value) -> bool {
        self.write(record, value, Creating::Everything)
    }

    fn write(&self, record: &mut Value, value: Value, creating: Creating) -> bool {
        let mut node = record;
        for step in &self.steps {
            let Some(next) = descend(node, step, creating) else { return false };
            node = next;
        }
        *node = value;
        true
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
            let Some(next) = descend(node, step, Creating::Selected) else { return false };
            node = next;
        }
        if let Some(Value::Array(elements)) = node.get_mut(key) {
            elements.retain(|element| !selected(element, property, value));
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

/// `text` cut at the dots between steps (not those inside a selector's brackets or quotes).
fn split_steps(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut depth, mut quote) = (0, 0usize, None);
    for (at, c) in text.char_indices() {
        match (quote, c) {
            (Some(open), _) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') if depth > 0 => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => depth = depth.saturating_sub(1),
            (None, '.') if depth == 0 => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_step(text: &str) -> Result<Step, String> {
    let Some((key, selector)) = text.split_once('[') else {
        return if valid_name(text) { Ok(Step::Key(text.into())) } else { Err(format!("`{text}` is not a key")) };
    };
    let selector = selector.strip_suffix(']').ok_or_else(|| format!("`{text}`: expected `]` at the end"))?;
    if !valid_name(key) {
        return Err(format!("`{text}` is not a key"));
    }
    if let Ok(index) = selector.parse::<usize>() {
        if index > MAX_INDEX {
            return Err(format!("`{text}`: an index is at most {MAX_INDEX}"));
        }
        return Ok(Step::Index { key: key.into(), index });
    }
    let (property, value) = match selector.strip_prefix("?(") {
        Some(filter) => parse_filter(filter).ok_or_else(|| format!("`{text}`: expected key[?(@.property==VALUE)]"))?,
        None => selector.split_once('=').ok_or_else(|| format!("`{text}`: expected [property=VALUE]"))?,
    };
    // Brackets and quotes would not survive the short form the path is written back in.
    let valid_value = !value.is_empty() && !value.contains(['[', ']', '\'', '"']);
    if !valid_name(property) || !valid_value {
        return Err(format!("`{text}`: expected key[property=VALUE]"));
    }
    Ok(Step::Select { key: key.into(), property: property.into(), value: value.into() })
}

/// The property and value of a JSONPath filter's inside, `@.property==VALUE)`, the value possibly
/// in single or double quotes.
fn parse_filter(filter: &str) -> Option<(&str, &str)> {
    let (property, value) = filter.strip_suffix(')')?.trim().strip_prefix("@.")?.split_once("==")?;
    let value = value.trim();
    let unquoted = ['\'', '"'].iter().find_map(|quote| value.strip_prefix(*quote)?.strip_suffix(*quote));
    Some((property.trim(), unquoted.unwrap_or(value)))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `element` is the one a `[property=value]` selector picks: its property is `value`, or a
/// number or boolean written as `value` (ids the vendor keeps as numbers).
fn selected(element: &Value, property: &str, value: &str) -> bool {
    element.get(property).is_some_and(|found| selector_matches(found, value))
}

/// Whether an element whose selector property holds `found` is the one `[property=value]` picks.
pub fn selector_matches(found: &Value, value: &str) -> bool {
    match found {
        Value::String(text) => text == value,
        Value::Number(number) => number.to_string() == value,
        Value::Bool(flag) => flag.to_string() == value,
        _ => false,
    }
}

/// What a write creates on its way besides objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Creating {
    /// Array elements named by a selector only: [`VendorPath::set`], which writes into the
    /// vendor's records, where an index names an element the vendor has.
    Selected,
    /// Elements named by an index too: [`VendorPath::insert`], which builds a record.
    Everything,
}

/// The child of `node` that `step` names, created if missing (an empty object, an array element
/// carrying the selector's property, and when `creating` everything, indexed elements).
fn descend<'a>(node: &'a mut Value, step: &Step, creating: Creating) -> Option<&'a mut Value> {
    if creating == Creating::Everything && node.is_null() {
        *node = Value::Object(Map::new());
    }
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
            let elements = array(object, key)?;
            let index = match elements.iter().position(|element| selected(element, property, value)) {
                Some(index) => index,
                None => {
                    // Created as text even when the value reads as a number: the vendor's selector
                    // properties (`field`: `EMAIL1`) are text.
                    let mut element = Map::new();
                    element.insert(property.clone(), Value::String(value.clone()));
                    elements.push(Value::Object(element));
                    elements.len() - 1
                }
            };
            elements.get_mut(index)
        }
        // An index only reaches an element that exists: a write into the vendor's record cannot
        // invent the ones before it.
        Step::Index { key, index } if creating == Creating::Selected => {
            object.get_mut(key)?.as_array_mut()?.get_mut(*index)
        }
        Step::Index { key, index } => {
            let elements = array(object, key)?;
            if elements.len() <= *index {
                elements.resize(*index + 1, Value::Null);
            }
            elements.get_mut(*index)
        }
    }
}

/// The array at `key` of `object`, created when missing or null; `None` when it is something else.
fn array<'a>(object: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Vec<Value>> {
    let array = object.entry(key.to_string()).or_insert_with(|| Value::Array(Vec::new()));
    if array.is_null() {
        *array = Value::Array(Vec::new());
    }
    array.as_array_mut()
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
        for bad in ["a[field=x]y]", "a[field=x[y]", "a[?(@.field=='x')", "a[?(field=='x')]", "a[?(@.field='x')]"] {
            assert!(VendorPath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_selector_matches_a_number_or_boolean_by_its_text() {
        let mut record = json!({"order_items": [
            {"id": 3, "name": "Tea", "gift": false},
            {"id": 4, "name": "Cake", "gift": true},
        ]});
        assert_eq!(path("order_items[id=4].name").get(&record), Some(&json!("Cake")));
        assert_eq!(path("order_items[gift=false].name").get(&record), Some(&json!("Tea")));
        assert_eq!(path("order_items[id=5].name").get(&record), None);
        assert!(path("order_items[id=4].name").set(&mut record, json!("Pie")));
        assert_eq!(record["order_items"][1], json!({"id": 4, "name": "Pie", "gift": true}), "changed, not added");
        assert!(path("order_items[id=3].name").remove_selected(&mut record));
        assert_eq!(record["order_items"], json!([{"id": 4, "name": "Pie", "gift": true}]));
    }

    #[test]
    fn a_missing_selected_element_is_created_with_its_property_as_text() {
        let mut record = json!({"order_items": [{"id": 4, "name": "Cake"}]});
        assert!(path("order_items[id=7].name").set(&mut record, json!("Jam")));
        assert_eq!(record["order_items"][1], json!({"id": "7", "name": "Jam"}));
    }

    #[test]
    fn the_jsonpath_filter_form_is_the_same_selector() {
        let short = path("email_addresses[field=EMAIL1].email");
        for long in [
            "email_addresses[?(@.field==EMAIL1)].email",
            "email_addresses[?(@.field=='EMAIL1')].email",
            "email_addresses[?(@.field==\"EMAIL1\")].email",
            "email_addresses[?( @.field == 'EMAIL1' )].email",
        ] {
            assert_eq!(path(long), short, "{long}");
            assert_eq!(path(long).to_string(), "email_addresses[field=EMAIL1].email", "written in the short form");
        }
        let dotted = path("items[?(@.sku=='a.b')].qty");
        assert_eq!(dotted.depth(), 2, "a dot inside quotes is part of the value");
        assert_eq!(path(&dotted.to_string()), dotted);
        assert_eq!(dotted.get(&json!({"items": [{"sku": "a.b", "qty": 2}]})), Some(&json!(2)));
    }

    #[test]
    fn insert_builds_nested_records_padding_arrays_with_null() {
        let mut record = Value::Null;
        assert!(path("emails[2].value").insert(&mut record, json!("c@x.io")));
        assert!(path("emails[0].value").insert(&mut record, json!("a@x.io")));
        assert!(path("address.city").insert(&mut record, json!("Paris")));
        assert!(path("tags[1]").insert(&mut record, json!("vip")));
        assert_eq!(
            record,
            json!({
                "emails": [{"value": "a@x.io"}, null, {"value": "c@x.io"}],
                "address": {"city": "Paris"},
                "tags": [null, "vip"],
            })
        );
        let mut scalar = json!({"emails": ["a@x.io"]});
        assert!(!path("emails[0].value").insert(&mut scalar, json!("b@x.io")), "a scalar is not clobbered");
        let mut vendor = json!({"emails": []});
        assert!(!path("emails[0].value").set(&mut vendor, json!("b@x.io")), "set does not invent elements");
        assert_eq!(vendor, json!({"emails": []}));
    }

    #[test]
    fn depth_and_selectors_are_reported_for_validation() {
        assert_eq!(path("a").depth(), 1);
        assert_eq!(path("a.b[0].c").depth(), 3);
        assert!(!path("a.b[0].c").has_selectors());
        assert!(path("a[field=X].c").has_selectors());
    }

    #[test]
    fn paths_are_bounded() {
        let deep = vec!["a"; 33].join(".");
        assert!(VendorPath::parse(&deep).unwrap_err().contains("at most 32 steps"));
        assert_eq!(path(&vec!["a"; 32].join(".")).depth(), 32);
        let long = "a".repeat(513);
        assert!(VendorPath::parse(&long).unwrap_err().contains("at most 512 characters"));
        assert!(VendorPath::parse(&"a".repeat(512)).is_ok());
        assert!(VendorPath::parse("a[1001]").unwrap_err().contains("at most 1000"));
        assert!(VendorPath::parse("a[1000]").is_ok());
    }
}
