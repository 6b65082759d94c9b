//! What the hub knows about the fields of one object: their types and how the vendor can filter
//! them. The element definitions implement [`Schema`]; this module only states the contract and the
//! name resolution rule (exact name first, then ASCII case-insensitive).

use std::collections::{BTreeMap, HashMap};

/// The type of a hub field. Ids are `Number`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    String,
    Number,
    Boolean,
    /// An instant; literals are quoted RFC 3339, `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS` (UTC).
    DateTime,
}

impl FieldType {
    /// The type as it reads in error messages (`a number`).
    pub fn described(self) -> &'static str {
        match self {
            FieldType::String => "a string",
            FieldType::Number => "a number",
            FieldType::Boolean => "true or false",
            FieldType::DateTime => "a date-time",
        }
    }
}

/// How the vendor's list endpoint can filter on a value (mirrors the simulator's filter kinds).
/// Object definitions name it in their data files (`"kind": "Prefix"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum PushKind {
    /// `name==value`: ASCII case-insensitive equality with any of the values at the path.
    Text,
    /// Like `Text`, plus `name==abc*`: ASCII case-insensitive prefix match.
    Prefix,
    /// `name==value`: exact string equality (ids, enum values).
    Exact,
    /// `==`, `!=`, `<`, `<=`, `>`, `>=` on numbers.
    Number,
    /// `name==1,2,3`: the id is one of these.
    IdSet,
    /// `name==<RFC 3339>`: the record's time is at or after the value.
    Since,
    /// `name==<RFC 3339>`: the record's time is at or before the value.
    Until,
    /// `name==true|false`.
    Bool,
}

/// One vendor filter that reads the same value as a hub field.
///
/// Invariant (what makes push-down sound): for every record, the hub field's value is one of the
/// values this filter reads, in the vendor's canonical rendering (integers without `.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushdown {
    /// The vendor's filter name, e.g. `email`.
    pub filter: String,
    pub kind: PushKind,
}

/// What the hub knows about one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    pub ty: FieldType,
    /// The vendor filters able to narrow this field, possibly none.
    pub pushdowns: Vec<Pushdown>,
}

/// The fields of one hub object.
pub trait Schema {
    /// The field named exactly `name`.
    fn field(&self, name: &str) -> Option<FieldInfo>;
    /// Every field's canonical name (used for the case-insensitive fallback).
    fn field_names(&self) -> Vec<String>;
}

/// Resolves `name` to its canonical name: exact match first, then the first ASCII case-insensitive
/// match in `field_names` order.
pub fn resolve(schema: &dyn Schema, name: &str) -> Option<(String, FieldInfo)> {
    if let Some(info) = schema.field(name) {
        return Some((name.to_string(), info));
    }
    let canonical = schema.field_names().into_iter().find(|candidate| candidate.eq_ignore_ascii_case(name))?;
    let info = schema.field(&canonical)?;
    Some((canonical, info))
}

impl Schema for BTreeMap<String, FieldInfo> {
    fn field(&self, name: &str) -> Option<FieldInfo> {
        self.get(name).cloned()
    }

    fn field_names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

impl Schema for HashMap<String, FieldInfo> {
    fn field(&self, name: &str) -> Option<FieldInfo> {
        self.get(name).cloned()
    }

    fn field_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.keys().cloned().collect();
        names.sort();
        names
    }
}
