//! The documents an organization writes to define a common resource: a [`Definition`] (the
//! object's own fields and their types) and a [`Transformation`] (which field of which element
//! object each one maps to, with conversions and per-direction removal), in the platforms' wire
//! shapes. Parsing checks the shapes; [`Definition::check`] and [`Transformation::check`] check
//! the limits and the paths, naming each problem. Whether a transformation fits an element's object
//! is [`super::compose`]'s question.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::date_format::DateFormat;
use crate::definition::FieldType;
use crate::path::VendorPath;

/// The most fields a definition or a transformation may hold.
pub const MAX_FIELDS: usize = 500;
/// The longest object name.
pub const MAX_NAME_LENGTH: usize = 64;

/// A common resource's fields: `{"fields": [{"path": "address.city", "type": "string"}]}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub fields: Vec<DefinedField>,
    /// Echoed by the platforms' clients when they write back what they read; the level is where
    /// the document is stored, not what it says.
    #[serde(default, skip_serializing)]
    level: Option<Value>,
}

/// One field of a common resource.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DefinedField {
    /// Where the field sits in the common record: keys and array positions (`emails[0].value`).
    pub path: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// For dates: how the common record shows them (`yyyy-MM-dd`, `epochMilliseconds`); ISO 8601
    /// in UTC when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
}

/// How a common resource maps onto one element object (`vendorName`), field by field.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Transformation {
    /// The element's object (`contacts`). An instance-level transformation may leave it to the
    /// organization level's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_name: Option<String>,
    #[serde(default)]
    pub fields: Vec<MappedField>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configuration: Vec<Configuration>,
    /// The platforms ran JavaScript here; Junction does not (yet), and says so rather than ignore it.
    #[serde(default, skip_serializing)]
    script: Option<Value>,
    #[serde(default, skip_serializing)]
    level: Option<Value>,
    #[serde(default, skip_serializing)]
    start_date: Option<Value>,
    #[serde(default, skip_serializing)]
    object_name: Option<Value>,
}

/// One common field mapped to the vendor side.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MappedField {
    /// The common field (a path of the definition).
    pub path: String,
    /// A field of the element object (`Email`), or a path in the vendor's own record for what the
    /// object does not flatten (`email_addresses[field=EMAIL3].email`, `addresses[0].locality`).
    pub vendor_path: String,
    /// The common type, as the platforms repeat it here; must agree with the definition.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub field_type: Option<FieldType>,
    /// What the vendor side holds, when it differs from the element field's type (a date kept in
    /// a text field: `date` with a `mask`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_type: Option<FieldType>,
    /// For a date on the vendor side: its format (`dd/MM/yyyy`, `epochSeconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configuration: Vec<Configuration>,
}

/// A transformation's or a field's options.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum Configuration {
    /// On a transformation: the element object's unmapped fields pass through under their own
    /// names, when reading (`fromVendor`) and writing (`toVendor`).
    PassThrough {
        #[serde(default)]
        properties: Directions,
    },
    /// On a field: left out of records read (`fromVendor`), and dropped from writes (`toVendor`).
    Remove {
        #[serde(default)]
        properties: Directions,
    },
    /// The platforms' console option; every common resource is documented.
    AddToDocumentation {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        properties: Option<Value>,
    },
}

/// Which directions an option applies to; both when left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Directions {
    #[serde(default = "yes")]
    pub from_vendor: bool,
    #[serde(default = "yes")]
    pub to_vendor: bool,
}

impl Default for Directions {
    fn default() -> Self {
        Directions { from_vendor: true, to_vendor: true }
    }
}

fn yes() -> bool {
    true
}

/// A common resource's name: a letter, then letters, digits, `_` or `-`, at most
/// [`MAX_NAME_LENGTH`]; the error says what is wrong.
pub fn check_name(name: &str) -> Result<(), String> {
    let shown: String = name.chars().take(MAX_NAME_LENGTH).flat_map(char::escape_debug).collect();
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if name.len() > MAX_NAME_LENGTH {
        return Err(format!("Object name '{shown}…' is longer than {MAX_NAME_LENGTH} characters"));
    }
    if !starts_with_letter || !valid {
        return Err(format!(
            "Object name '{shown}' must start with a letter and hold only letters, digits, '_' and '-'"
        ));
    }
    Ok(())
}

/// A common path: keys and array positions, no selectors.
pub fn common_path(text: &str) -> Result<VendorPath, String> {
    let path = VendorPath::parse(text).map_err(|problem| format!("path '{}': {problem}", shown(text)))?;
    if path.has_selectors() {
        return Err(format!("path '{}': a common path holds keys and positions only", shown(text)));
    }
    Ok(path)
}

/// A mask, parsed; the error names the field.
pub(crate) fn mask(field: &str, mask: Option<&str>) -> Result<Option<DateFormat>, String> {
    mask.map(|mask| DateFormat::parse(mask).map_err(|problem| format!("field {}: mask: {problem}", shown(field))))
        .transpose()
}

/// At most 80 characters of `text`, control characters escaped: safe to put in an error.
pub(crate) fn shown(text: &str) -> String {
    text.chars().take(80).flat_map(char::escape_debug).collect()
}

impl Definition {
    /// A definition of `fields`.
    pub fn new(fields: Vec<DefinedField>) -> Self {
        Definition { fields, level: None }
    }

    /// The limits, each path, masks, and that no path is defined twice or both a value and a
    /// prefix of another (`address` and `address.city`). Returns every problem found.
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.fields.is_empty() {
            problems.push("a definition needs at least one field".to_string());
        }
        if self.fields.len() > MAX_FIELDS {
            return Err(vec![format!("{} fields: at most {MAX_FIELDS}", self.fields.len())]);
        }
        let mut seen: Vec<String> = Vec::new();
        for field in &self.fields {
            if let Err(problem) = common_path(&field.path) {
                problems.push(problem);
                continue;
            }
            if let Err(problem) = mask(&field.path, field.mask.as_deref()) {
                problems.push(problem);
            }
            if field.mask.is_some() && field.field_type != FieldType::Date {
                problems.push(format!("field {}: a mask is for date fields", shown(&field.path)));
            }
            let key = field.path.to_ascii_lowercase();
            if let Some(other) = seen.iter().find(|other| nests(other, &key) || nests(&key, other)) {
                problems.push(format!("field {} clashes with {}", shown(&field.path), shown(other)));
            }
            seen.push(key);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The field at `path`, matched ignoring ASCII case.
    pub fn field(&self, path: &str) -> Option<&DefinedField> {
        self.fields.iter().find(|field| field.path.eq_ignore_ascii_case(path))
    }

    /// This definition with `overrides`' fields in place of same-path ones, and its new ones added
    /// (an instance's definition over its organization's).
    pub fn overlaid(&self, overrides: &Definition) -> Definition {
        let mut fields = self.fields.clone();
        for field in &overrides.fields {
            match fields.iter_mut().find(|mine| mine.path.eq_ignore_ascii_case(&field.path)) {
                Some(mine) => *mine = field.clone(),
                None => fields.push(field.clone()),
            }
        }
        Definition::new(fields)
    }
}

/// Whether `a` is `b` or one holds the other (`address` and `address.city`, `emails` and `emails[0]`).
fn nests(a: &str, b: &str) -> bool {
    a == b || b.strip_prefix(a).is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

impl Transformation {
    /// The limits, field paths and masks, unique paths; `script` refused. Returns every problem.
    pub fn check(&self) -> Result<(), Vec<String>> {
        if self.fields.len() > MAX_FIELDS {
            return Err(vec![format!("{} fields: at most {MAX_FIELDS}", self.fields.len())]);
        }
        let mut problems = Vec::new();
        if self.script.is_some() {
            problems.push("script: transformation scripts are not supported; map fields with vendorPath".to_string());
        }
        if let Some(name) = &self.vendor_name {
            if name.trim().is_empty() || name.len() > MAX_NAME_LENGTH {
                problems.push(format!("vendorName '{}' is not an object name", shown(name)));
            }
        }
        let mut seen = Vec::new();
        for field in &self.fields {
            if let Err(problem) = common_path(&field.path) {
                problems.push(problem);
            }
            if let Err(problem) = VendorPath::parse(&field.vendor_path) {
                problems.push(format!(
                    "field {}: vendorPath '{}': {problem}",
                    shown(&field.path),
                    shown(&field.vendor_path)
                ));
            }
            if let Err(problem) = mask(&field.path, field.mask.as_deref()) {
                problems.push(problem);
            }
            if field.configuration.iter().any(|option| matches!(option, Configuration::PassThrough { .. })) {
                problems.push(format!("field {}: passThrough applies to the whole transformation", shown(&field.path)));
            }
            let key = field.path.to_ascii_lowercase();
            if seen.contains(&key) {
                problems.push(format!("field {} is mapped twice", shown(&field.path)));
            }
            seen.push(key);
        }
        if self.configuration.iter().any(|option| matches!(option, Configuration::Remove { .. })) {
            problems.push("configuration: remove applies to a field".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// This (organization-level) transformation with `overrides`' fields in place of same-path
    /// ones and its new ones added; its `vendorName` and `configuration` win when it has them.
    pub fn overlaid(&self, overrides: &Transformation) -> Transformation {
        let mut merged = self.clone();
        if overrides.vendor_name.is_some() {
            merged.vendor_name.clone_from(&overrides.vendor_name);
        }
        if !overrides.configuration.is_empty() {
            merged.configuration.clone_from(&overrides.configuration);
        }
        for field in &overrides.fields {
            match merged.fields.iter_mut().find(|mine| mine.path.eq_ignore_ascii_case(&field.path)) {
                Some(mine) => *mine = field.clone(),
                None => merged.fields.push(field.clone()),
            }
        }
        merged
    }

    /// The pass-through directions (none when not configured).
    pub fn pass_through(&self) -> Option<Directions> {
        self.configuration.iter().find_map(|option| match option {
            Configuration::PassThrough { properties } => Some(*properties),
            _ => None,
        })
    }
}

impl MappedField {
    /// The directions this field is removed in (none when not configured).
    pub fn removed(&self) -> Directions {
        let removed = self.configuration.iter().find_map(|option| match option {
            Configuration::Remove { properties } => Some(*properties),
            _ => None,
        });
        removed.unwrap_or(Directions { from_vendor: false, to_vendor: false })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn definition(value: Value) -> Result<Definition, String> {
        serde_json::from_value(value).map_err(|error| error.to_string())
    }

    #[test]
    fn a_definition_reads_the_platforms_shape_and_echoes_it_without_the_level() {
        let parsed = definition(json!({"fields": [
            {"path": "id", "type": "string"}, {"path": "address.city", "type": "string"},
            {"path": "birthday", "type": "date", "mask": "yyyy-MM-dd"}
        ], "level": "organization"}))
        .unwrap();
        assert!(parsed.check().is_ok());
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            json!({"fields": [
                {"path": "id", "type": "string"}, {"path": "address.city", "type": "string"},
                {"path": "birthday", "type": "date", "mask": "yyyy-MM-dd"}
            ]})
        );
    }

    #[test]
    fn bad_definitions_name_each_problem() {
        let unknown_type = definition(json!({"fields": [{"path": "a", "type": "money"}]})).unwrap_err();
        assert!(unknown_type.contains("money"), "{unknown_type}");
        let unknown_key = definition(json!({"fields": [], "extra": 1})).unwrap_err();
        assert!(unknown_key.contains("extra"), "{unknown_key}");
        let problems = definition(json!({"fields": [
            {"path": "a", "type": "string"}, {"path": "A", "type": "number"},
            {"path": "address", "type": "string"}, {"path": "address.city", "type": "string"},
            {"path": "x[field=Y].z", "type": "string"}, {"path": "bad\u{1}key", "type": "string"},
            {"path": "n", "type": "number", "mask": "yyyy"}
        ]}))
        .unwrap()
        .check()
        .unwrap_err();
        let text = problems.join("\n");
        for expected in [
            "field A clashes with a",
            "address.city clashes with address",
            "positions only",
            "bad\\u{1}key",
            "a mask is for date fields",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        let many: Vec<Value> =
            (0..10_000).map(|index| json!({"path": format!("f{index}"), "type": "string"})).collect();
        let too_many = definition(json!({"fields": many})).unwrap().check().unwrap_err();
        assert_eq!(too_many, ["10000 fields: at most 500"]);
    }

    #[test]
    fn names_are_letters_digits_and_dashes_with_control_characters_shown_escaped() {
        assert!(check_name("myContacts").is_ok() && check_name("my-contacts_2").is_ok());
        assert!(check_name("").is_err() && check_name("1abc").is_err());
        let control = check_name("a\u{7}b").unwrap_err();
        assert!(control.contains("a\\u{7}b"), "{control}");
        assert!(check_name(&"a".repeat(65)).unwrap_err().contains("longer than 64"));
    }

    #[test]
    fn an_instance_transformation_overrides_the_organizations_field_by_field() {
        let organization: Transformation = serde_json::from_value(json!({
            "vendorName": "contacts",
            "fields": [{"path": "email", "vendorPath": "Email"}, {"path": "name", "vendorPath": "FirstName"}],
            "configuration": [{"type": "passThrough", "properties": {"fromVendor": true, "toVendor": false}}]
        }))
        .unwrap();
        let instance: Transformation = serde_json::from_value(json!({
            "fields": [{"path": "name", "vendorPath": "LastName"}, {"path": "phone", "vendorPath": "Phone1"}]
        }))
        .unwrap();
        let merged = organization.overlaid(&instance);
        assert_eq!(merged.vendor_name.as_deref(), Some("contacts"));
        let mapped: Vec<(&str, &str)> =
            merged.fields.iter().map(|field| (field.path.as_str(), field.vendor_path.as_str())).collect();
        assert_eq!(mapped, [("email", "Email"), ("name", "LastName"), ("phone", "Phone1")]);
        assert_eq!(merged.pass_through(), Some(Directions { from_vendor: true, to_vendor: false }));
    }

    #[test]
    fn transformation_options_default_to_both_directions_and_scripts_are_refused() {
        let parsed: Transformation = serde_json::from_value(json!({
            "vendorName": "contacts",
            "fields": [{"path": "a", "vendorPath": "Email", "configuration": [{"type": "remove"}]}],
            "configuration": [{"type": "passThrough"}],
            "script": {"body": "done(transformedObject)"}
        }))
        .unwrap();
        assert_eq!(parsed.fields[0].removed(), Directions { from_vendor: true, to_vendor: true });
        assert_eq!(parsed.pass_through(), Some(Directions::default()));
        assert!(parsed.check().unwrap_err()[0].contains("scripts are not supported"));
        let unknown: Result<Transformation, _> =
            serde_json::from_value(json!({"fields": [], "configuration": [{"type": "explode"}]}));
        assert!(unknown.unwrap_err().to_string().contains("explode"));
    }
}
