//! What a hub object is, as data: the vendor resource behind it and, per hub field, its type, its
//! path in the vendor's JSON, whether clients may write it, how a condition on it is pushed down to
//! the vendor's `filter`, and the vendor's `order_by` name for it.
//!
//! Definitions are deserialized from the catalog files (`objects/*.json`) and checked once by
//! [`ObjectDef::validate`]; the engine ([`crate::read`], [`crate::write`]) trusts a validated one.

use serde::{Deserialize, Serialize};

use crate::path::VendorPath;

/// A hub field's type as clients see it (`GET /hubs/{hub}/objects/{object}/metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Number,
    Boolean,
    /// An ISO 8601 date-time in UTC.
    Date,
}

/// How the vendor stores a value whose hub type differs: REST v2 ids are strings (`"id": "12"`)
/// while the hub shows numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VendorType {
    String,
    Number,
    /// A calendar date (`2026-03-04`, a subscription's `start_date`): the hub shows midnight UTC
    /// and writes the date part of what the client sends.
    Date,
}

/// Where a default comes from: the first record of a vendor collection.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VendorLookup {
    /// The vendor collection (`v2/opportunities/stages`).
    pub resource: String,
    /// The key of its records in the vendor's answer (`stages`).
    pub list_key: String,
    /// The value's path in the first record (`id`).
    pub path: VendorPath,
}

/// One vendor filter a hub field's conditions can be pushed down to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilterDef {
    /// The vendor's filter name (`email`, `given_name`, `ids`).
    pub name: String,
    /// How the vendor evaluates it (the vendor documents these per resource).
    pub kind: ceql::PushKind,
}

/// One hub field.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldDef {
    /// The name clients use (`FirstName`).
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Where the value lives in the vendor's record (`given_name`, `email_addresses[field=EMAIL1].email`).
    pub path: VendorPath,
    /// Where a write puts the value when that is not where the vendor returns it (the vendor takes
    /// `contact_id` and answers with `contact.id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_path: Option<VendorPath>,
    /// How the vendor stores it when that differs from `field_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_type: Option<VendorType>,
    /// An amount of money: shown in currency units, kept by the vendor as [`crate::Money`] says
    /// (an order item's price reads back in cents, `price_per_unit.amount`, and is written in
    /// dollars, `price_per_unit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub money: Option<crate::Money>,
    /// Whether create and update requests may carry it.
    #[serde(default)]
    pub writable: bool,
    /// Vendor filters a condition on this field can be pushed down to (none: evaluated by Junction).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<FilterDef>,
    /// The vendor's `order_by` name for this field, when the vendor can sort by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// A value written on create when the request leaves this field out: a template where
    /// `{Field}` stands for another hub field of the request (`{FirstName} {LastName}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_default: Option<String>,
    /// A value read from the vendor on create when the request leaves this field out: the first
    /// record of a vendor collection (an opportunity's stage: the account's first pipeline stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_default_from: Option<VendorLookup>,
    /// Set when the vendor refuses a record without this field: what to send, for the 400 that
    /// names it beside the vendor's own text (which names only its own field). Such a field is
    /// required in the documented create body (unless a default fills it) and cannot be cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_on_create: Option<String>,
    /// What the vendor accepts for the field beyond its type, as the element's API document
    /// declares it (the vendor enforces it; Junction passes its 400 on).
    #[serde(default, skip_serializing_if = "Accepts::is_any")]
    pub accepts: Accepts,
    /// What the field holds, for the metadata endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Set on a common resource's field when its type or date format differs from the hub field
    /// it is composed from: `field_type` is then the common type, and the rest of the definition
    /// (path, vendor type, money, filters) the hub field's. Never in the catalog files: a
    /// composition sets it.
    #[serde(skip)]
    pub conversion: Option<crate::Conversion>,
}

/// The values the vendor accepts for a field, beyond the field's type: each a JSON Schema keyword
/// in the element's API document. Empty: any value of the type.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Accepts {
    /// A JSON Schema `format` the vendor checks (`email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The most characters the vendor keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// The only values the vendor takes (`CRITICAL`, `ESSENTIAL`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// The id of a record of this kind (`users`), which must exist: a whole number from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<f64>,
    /// Values are multiples of this (`0.01`: whole cents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiple_of: Option<f64>,
    /// Other fields that must be written with this one (a phone's type needs its number).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub written_with: Vec<String>,
}

impl Accepts {
    /// Whether any value of the field's type is accepted.
    pub fn is_any(&self) -> bool {
        *self == Accepts::default()
    }
}

/// What clients may do with an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    List,
    Get,
    Create,
    Update,
    Delete,
}

/// One hub object: a vendor resource and its fields.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectDef {
    /// The vendor collection under the REST base (`v2/contacts`); a child object's path holds
    /// `{parentId}` (`v2/orders/{parentId}/payments`).
    pub resource: String,
    /// The key of the record array in the vendor's list answers (`contacts`).
    pub list_key: String,
    /// The largest `page_size` the vendor accepts for this resource.
    #[serde(default = "default_vendor_page_size")]
    pub max_page_size: u32,
    /// The hub field holding the record's id (`Id`).
    pub id_field: String,
    /// When set, a child list is read from this array of the parent's record rather than from
    /// `resource` (`order_items` of an order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedded_in: Option<String>,
    pub operations: Vec<Operation>,
    pub fields: Vec<FieldDef>,
    /// Fields of which a create must set at least one (the vendor refuses a contact with no
    /// email address, phone number or address).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub create_needs_one_of: Vec<String>,
    /// Child objects by name (`/orders/{id}/payments`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub children: std::collections::BTreeMap<String, ObjectDef>,
    /// [`ObjectDef::fields_by_name`], worked out once.
    #[serde(skip)]
    pub by_name: std::sync::OnceLock<Vec<usize>>,
}

impl ObjectDef {
    /// Indices of `fields` ordered by field name (as a hub record's keys are), equal names in
    /// definition order. Worked out on first use and kept; checked against `fields` on every use,
    /// so that a definition changed since (or cloned and changed) gets its own order.
    pub fn fields_by_name(&self) -> std::borrow::Cow<'_, [usize]> {
        let kept = self.by_name.get_or_init(|| order_by_name(&self.fields));
        let name = |at: usize| self.fields[at].name.as_str();
        let still_sorts = kept.len() == self.fields.len()
            && kept.windows(2).all(|pair| (name(pair[0]), pair[0]) < (name(pair[1]), pair[1]));
        match still_sorts {
            true => std::borrow::Cow::Borrowed(kept),
            false => std::borrow::Cow::Owned(order_by_name(&self.fields)),
        }
    }
}

fn order_by_name(fields: &[FieldDef]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..fields.len()).collect();
    order.sort_by(|&a, &b| fields[a].name.cmp(&fields[b].name));
    order
}

fn default_vendor_page_size() -> u32 {
    1000
}

impl FieldDef {
    /// The type of the hub field under this one: what the vendor's value is converted to on read
    /// and what a write must be before it goes to the vendor (`field_type` without a conversion).
    pub fn hub_type(&self) -> FieldType {
        self.conversion.as_ref().map_or(self.field_type, |conversion| conversion.hub_type)
    }

    /// Where writes of this field go.
    pub fn write_target(&self) -> &VendorPath {
        self.write_path.as_ref().unwrap_or(&self.path)
    }
}

impl ObjectDef {
    /// The field named `name`: exact first, then ignoring ASCII case (clients are not consistent).
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields
            .iter()
            .find(|field| field.name == name)
            .or_else(|| self.fields.iter().find(|field| field.name.eq_ignore_ascii_case(name)))
    }

    /// The writable field named `name` (exactly as defined).
    fn writable(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|field| field.name == name && field.writable)
    }

    /// The id field's definition.
    pub fn id(&self) -> Option<&FieldDef> {
        self.field(&self.id_field)
    }

    /// Whether clients may `operation` this object.
    pub fn allows(&self, operation: Operation) -> bool {
        self.operations.contains(&operation)
    }

    /// Checks what the engine relies on: unique field names, parseable paths, an id field, and
    /// `{Field}` templates naming real fields. The error names the object and field.
    pub fn validate(&self, object: &str) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for field in &self.fields {
            if !seen.insert(field.name.to_ascii_lowercase()) {
                return Err(format!("{object}: field {} is defined twice", field.name));
            }
            if let Some(template) = &field.create_default {
                for name in template_names(template) {
                    self.field(name).ok_or_else(|| format!("{object}.{}: default names unknown {name}", field.name))?;
                }
            }
            for name in &field.accepts.written_with {
                self.writable(name).ok_or_else(|| format!("{object}.{}: written with unknown {name}", field.name))?;
            }
        }
        for name in &self.create_needs_one_of {
            self.writable(name).ok_or_else(|| format!("{object}: createNeedsOneOf names unknown {name}"))?;
        }
        if self.id().is_none() {
            return Err(format!("{object}: id field {} is not among its fields", self.id_field));
        }
        for (name, child) in &self.children {
            child.validate(&format!("{object}/{name}"))?;
        }
        Ok(())
    }
}

/// The `{Field}` names of a default template.
pub(crate) fn template_names(template: &str) -> impl Iterator<Item = &str> {
    template.split('{').skip(1).filter_map(|part| part.split_once('}').map(|(name, _)| name))
}

#[cfg(test)]
mod tests {
    use crate::ObjectCatalog;

    #[test]
    fn fields_by_name_follows_the_fields_even_after_they_change() {
        let (_, contacts) = ObjectCatalog::builtin().object("infusionsoftcrm", "contacts").unwrap();
        let mut object = contacts.clone();
        let names = |object: &super::ObjectDef| -> Vec<String> {
            object.fields_by_name().iter().map(|&at| object.fields[at].name.clone()).collect()
        };
        let mut sorted: Vec<String> = object.fields.iter().map(|field| field.name.clone()).collect();
        sorted.sort();
        assert_eq!(names(&object), sorted);
        // Renamed in place after the order was kept: the same length, another order.
        let last = object.fields.len() - 1;
        object.fields[last].name = "AAA".into();
        object.fields[0].name = "zzz".into();
        let mut renamed: Vec<String> = object.fields.iter().map(|field| field.name.clone()).collect();
        renamed.sort();
        assert_eq!(names(&object), renamed);
        object.fields.truncate(3);
        assert_eq!(object.fields_by_name().len(), 3);
    }
}
