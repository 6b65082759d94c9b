//! The one store of vendor records every protocol reads and writes: per account, named collections
//! of JSON objects in the vendor's REST v2 shape (string ids, `create_time`/`update_time`, ...).
//! REST v1 is a view over the same objects, so a write through one protocol is visible through the
//! other at once.
//!
//! Why JSON values and not a struct per resource: the simulator's job is to echo the vendor's wire
//! shapes, and v2 filters, `fields`, `order_by` and `update_mask` all address fields by their wire
//! names; typed structs would add a serde round trip per field name without catching anything the
//! request validation does not already catch.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Records of one collection, by numeric id. Ids are assigned in increasing order and never reused.
#[derive(Debug, Default, Clone)]
pub struct Collection {
    rows: BTreeMap<u64, Value>,
    next_id: u64,
}

impl Collection {
    /// All records, by increasing id.
    pub fn iter(&self) -> impl Iterator<Item = &Value> {
        self.rows.values()
    }

    pub fn get(&self, id: u64) -> Option<&Value> {
        self.rows.get(&id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Value> {
        self.rows.get_mut(&id)
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Stores `record` under the next id, written into its `"id"` field as a string; returns the id.
    pub fn insert(&mut self, mut record: Map<String, Value>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        record.insert("id".into(), Value::String(id.to_string()));
        self.rows.insert(id, Value::Object(record));
        id
    }

    /// Stores a record that already carries its id (seed data); later inserts continue after it.
    pub fn insert_with_id(&mut self, record: Value) {
        let Some(id) = record.get("id").and_then(Value::as_str).and_then(|s| s.parse::<u64>().ok()) else {
            return;
        };
        self.next_id = self.next_id.max(id);
        self.rows.insert(id, record);
    }

    pub fn remove(&mut self, id: u64) -> Option<Value> {
        self.rows.remove(&id)
    }
}

/// All collections of one account.
#[derive(Debug, Default, Clone)]
pub struct Records {
    collections: BTreeMap<&'static str, Collection>,
}

impl Records {
    /// Builds the records of an account from seed data (collection name → records with ids).
    pub fn from_seed(seed: BTreeMap<&'static str, Vec<Value>>) -> Self {
        let mut records = Records::default();
        for (name, rows) in seed {
            let collection = records.collection_mut(name);
            for row in rows {
                collection.insert_with_id(row);
            }
        }
        records
    }

    /// The named collection (empty when nothing was ever stored in it).
    pub fn collection(&self, name: &'static str) -> &Collection {
        static EMPTY: std::sync::OnceLock<Collection> = std::sync::OnceLock::new();
        self.collections.get(name).unwrap_or_else(|| EMPTY.get_or_init(Collection::default))
    }

    pub fn collection_mut(&mut self, name: &'static str) -> &mut Collection {
        self.collections.entry(name).or_default()
    }

    /// Record counts by collection (for `/__sim/stats`).
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        self.collections.iter().map(|(k, v)| (*k, v.len())).collect()
    }
}

/// Parses a vendor id as the API receives it: decimal digits only, no sign, no leading `+`.
pub fn parse_id(raw: &str) -> Option<u64> {
    if raw.is_empty() || raw.len() > 19 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse().ok()
}
