//! Common resources (the platforms' "virtual data resources"): an organization's own object
//! shapes, mapped onto each element's objects. [`documents`] holds what the organization writes
//! (definitions, transformations); [`compose`] turns a pair into a [`CommonObject`], an ordinary
//! [`ObjectDef`] over the vendor plus what the common shape adds on top: nested paths, fields
//! removed in one direction, pass-through fields that may not be written. The hub engine runs the
//! object like a built-in one and calls [`CommonObject::present`] on each record it returns and
//! [`CommonObject::flatten`] on each body it writes.

pub mod compose;
pub mod documents;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::definition::ObjectDef;
use crate::path::VendorPath;
use crate::write::WriteError;

pub use compose::{compose, ComposeError};
pub use documents::{Definition, Transformation};

/// A common resource composed for one element (and, with instance-level documents, one instance).
#[derive(Debug, Clone)]
pub struct CommonObject {
    /// Its name (`myContacts`).
    pub name: String,
    /// The element object it maps (`contacts`).
    pub vendor_name: String,
    /// The composed object: one field per common field, named by its path.
    pub definition: ObjectDef,
    /// Fields left out of records (removed from the vendor, or pass-through only to the vendor).
    hidden: BTreeSet<String>,
    /// Fields dropped from writes without a word (removed toward the vendor).
    dropped: BTreeSet<String>,
    /// Fields a write may not name (pass-through only from the vendor).
    refused: BTreeSet<String>,
    /// The fields whose path nests (`address.city`, `emails[0].value`), parsed.
    nested: Vec<(String, VendorPath)>,
}

impl CommonObject {
    pub(crate) fn new(
        name: &str,
        vendor_name: &str,
        definition: ObjectDef,
        hidden: BTreeSet<String>,
        dropped: BTreeSet<String>,
        refused: BTreeSet<String>,
    ) -> Self {
        let nested = definition
            .fields
            .iter()
            .filter(|field| field.name.contains(['.', '[']))
            .filter_map(|field| VendorPath::parse(&field.name).ok().map(|path| (field.name.clone(), path)))
            .collect();
        CommonObject {
            name: name.to_string(),
            vendor_name: vendor_name.to_string(),
            definition,
            hidden,
            dropped,
            refused,
            nested,
        }
    }

    /// Whether records show field `name`.
    pub fn shows(&self, name: &str) -> bool {
        !self.hidden.contains(name)
    }

    /// Whether writes may name field `name` (dropped ones are accepted and not written).
    pub fn takes(&self, name: &str) -> bool {
        !self.refused.contains(name)
    }

    /// A record of the composed object (flat, as the engine maps and shapes it) in the common
    /// shape: hidden fields left out, nested paths nested.
    pub fn present(&self, mut flat: Map<String, Value>) -> Map<String, Value> {
        flat.retain(|name, _| !self.hidden.contains(name));
        let mut nested = Value::Object(Map::new());
        for (name, path) in &self.nested {
            if let Some(value) = flat.remove(name) {
                path.insert(&mut nested, value);
            }
        }
        if let Value::Object(nested) = nested {
            for (key, value) in nested {
                flat.entry(key).or_insert(value);
            }
        }
        flat
    }

    /// A body in the common shape (nested, or flat with the paths as keys) as the composed
    /// object's fields: every leaf must be a field; removed ones are dropped; the error names the
    /// unknown ones. `id` passes as is (the engine checks it against the path's).
    pub fn flatten(&self, body: Map<String, Value>) -> Result<Map<String, Value>, WriteError> {
        let mut leaves = Vec::new();
        for (key, value) in body {
            collect_leaves(key, value, &mut leaves);
        }
        let mut flat = Map::new();
        let mut unknown = Vec::new();
        for (path, value) in leaves {
            if path == GENERIC_ID {
                flat.insert(path, value);
                continue;
            }
            match self.definition.field(&path) {
                // A null where fields sit deeper (`emails[0]` in `[null, {"value": …}]`), as
                // records read back: nothing to write.
                None if value.is_null() && self.holds(&path) => {}
                Some(field) if self.dropped.contains(&field.name) => {}
                Some(field) if self.takes(&field.name) => {
                    flat.insert(field.name.clone(), value);
                }
                _ => unknown.push(path),
            }
        }
        if !unknown.is_empty() {
            unknown.truncate(20);
            return Err(WriteError::UnknownFields { object: self.name.clone(), fields: unknown });
        }
        Ok(flat)
    }
}

impl CommonObject {
    /// Whether some field sits under `path` (`emails[1]` holds `emails[1].value`), or under the
    /// array `path` is an element of (records read back pad `emails` with `null` before `[1]`).
    fn holds(&self, path: &str) -> bool {
        let under = |prefix: &str| {
            self.nested.iter().any(|(name, _)| {
                name.get(..prefix.len()).is_some_and(|start| start.eq_ignore_ascii_case(prefix))
                    && matches!(name.as_bytes().get(prefix.len()), Some(b'.' | b'['))
            })
        };
        let array = path.strip_suffix(']').and_then(|rest| rest.rsplit_once('[')).map(|(array, _)| array);
        under(path) || array.is_some_and(under)
    }
}

/// The key generic clients send a record's id under.
const GENERIC_ID: &str = "id";

/// The leaves of `value` at `path`, each with its path (`address.city`, `emails[0].value`); an
/// empty object or array is a leaf.
fn collect_leaves(path: String, value: Value, leaves: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            for (key, value) in fields {
                collect_leaves(format!("{path}.{key}"), value, leaves);
            }
        }
        Value::Array(elements) if !elements.is_empty() => {
            for (index, value) in elements.into_iter().enumerate() {
                collect_leaves(format!("{path}[{index}]"), value, leaves);
            }
        }
        leaf => leaves.push((path, leaf)),
    }
}

/// An instance's common resources by name (matched ignoring ASCII case), and the problems of
/// those that could not be composed (a definition deleted under its transformation).
#[derive(Debug, Clone, Default)]
pub struct CommonObjects {
    objects: BTreeMap<String, Arc<CommonObject>>,
    problems: BTreeMap<String, String>,
}

impl CommonObjects {
    /// Adds `object` (replacing one of the same name).
    pub fn insert(&mut self, object: CommonObject) {
        self.objects.insert(object.name.to_ascii_lowercase(), Arc::new(object));
    }

    /// Records why common resource `name` is not available.
    pub fn broken(&mut self, name: &str, problem: String) {
        self.problems.insert(name.to_string(), problem);
    }

    /// The common resource `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<CommonObject>> {
        self.objects.get(&name.to_ascii_lowercase())
    }

    /// Every common resource, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<CommonObject>> {
        self.objects.values()
    }

    /// The resources that could not be composed, and why.
    pub fn problems(&self) -> &BTreeMap<String, String> {
        &self.problems
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

#[cfg(test)]
mod tests;
