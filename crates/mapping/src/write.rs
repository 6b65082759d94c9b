//! Hub → vendor: a create or update request in hub fields becomes the vendor's request body and
//! `update_mask`. Unknown and read-only fields are refused by name, values are checked against the
//! field's type (a common resource's field is first converted to the hub field's value,
//! [`crate::Conversion::to_hub`]), and arrays the hub flattens (`Email` is
//! `email_addresses[field=EMAIL1].email`) are rebuilt from the vendor's current record so that a
//! write never drops what it does not name.

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::conversion::{number, number_text};
use crate::definition::{template_names, FieldDef, FieldType, ObjectDef, VendorType};

/// Whether a request creates a record or changes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Create,
    Update,
}

/// A vendor request body and the top-level vendor fields it sets.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorWrite {
    pub body: Value,
    /// Sorted, without duplicates: the vendor's `update_mask`.
    pub update_mask: Vec<String>,
}

/// Why a hub write cannot become a vendor write. Each names every field concerned.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WriteError {
    #[error("Unknown field(s) for {object}: {}", .fields.join(", "))]
    UnknownFields { object: String, fields: Vec<String> },
    #[error("Read-only field(s) of {object} cannot be written: {}", .fields.join(", "))]
    ReadOnlyFields { object: String, fields: Vec<String> },
    /// The value is not of the field's type or format; `expected` says what it must be ("a number",
    /// "a date in the format dd/MM/yyyy").
    #[error("Field {field} must be {expected}")]
    WrongType { field: String, expected: String },
    #[error("Field {field} cannot be written into the vendor's record")]
    Unwritable { field: String },
    #[error("Field {field} cannot be cleared: the vendor requires {what}")]
    Required { field: String, what: String },
}

/// Whether writing these hub fields needs the vendor's current record first (a field inside an
/// array or object the vendor holds whole: `Email` in `email_addresses`, `City` in `address`).
pub fn needs_current(object: &ObjectDef, hub: &Map<String, Value>) -> bool {
    hub.keys().filter_map(|name| object.field(name)).any(|field| field.write_target().writes_part())
}

/// The vendor write for the hub fields `hub`. `current` is the vendor's record on update (see
/// [`needs_current`]); on create, fields left out get their `createDefault`.
pub fn to_vendor(
    object_name: &str,
    object: &ObjectDef,
    hub: &Map<String, Value>,
    mode: WriteMode,
    current: Option<&Value>,
) -> Result<VendorWrite, WriteError> {
    let fields = resolve(object_name, object, hub)?;
    let mut body = Value::Object(Map::new());
    let mut touched = BTreeSet::new();
    for (field, value) in &fields {
        // `null` clears a field, but not one the vendor requires: it would keep a record it
        // refuses to create (a tag without a name).
        if let (WriteMode::Update, Value::Null, Some(what)) = (mode, value, &field.required_on_create) {
            return Err(WriteError::Required { field: field.name.clone(), what: what.clone() });
        }
        let target = field.write_target();
        let top = target.top_key();
        if touched.insert(top.to_string()) {
            if let Some(existing) = current.and_then(|record| record.get(top)) {
                set_top(&mut body, top, existing.clone());
            }
        }
        let vendor_value = vendor_value(field, value)?;
        // `null` on a field inside a selected array element (`Email`, `Phone1`) removes that entry:
        // the vendor refuses an element without its value.
        if vendor_value.is_null() && target.remove_selected(&mut body) {
            continue;
        }
        // Likewise `null` on a reference held in an object (`company.id`) clears the object: the
        // vendor refuses a reference without its id.
        if vendor_value.is_null() && field.accepts.id_of.is_some() && target.writes_part() && !target.has_selectors() {
            set_top(&mut body, top, Value::Null);
            continue;
        }
        if !target.set(&mut body, vendor_value) {
            return Err(WriteError::Unwritable { field: field.name.clone() });
        }
    }
    if mode == WriteMode::Create {
        apply_defaults(object, hub, &mut body, &mut touched);
    }
    drop_empty_elements(&mut body);
    // The vendor's document makes no field nullable: an update clears a field by naming it in
    // `update_mask` and leaving it out of the body (a part of an object, by leaving it out of the
    // object the mask names), and a create leaves out what it does not set.
    drop_nulls(&mut body);
    Ok(VendorWrite { body, update_mask: touched.into_iter().collect() })
}

/// Removes every `null` member of every object in `value`, at any depth.
fn drop_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, member| !member.is_null());
            map.values_mut().for_each(drop_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Each requested name resolved to its field; unknown and read-only names are errors.
fn resolve<'a>(
    object_name: &str,
    object: &'a ObjectDef,
    hub: &'a Map<String, Value>,
) -> Result<Vec<(&'a FieldDef, &'a Value)>, WriteError> {
    let unknown: Vec<String> = hub.keys().filter(|name| object.field(name).is_none()).cloned().collect();
    if !unknown.is_empty() {
        return Err(WriteError::UnknownFields { object: object_name.into(), fields: unknown });
    }
    let resolved: Vec<_> =
        hub.iter().filter_map(|(name, value)| object.field(name).map(|field| (field, value))).collect();
    let read_only: Vec<String> =
        resolved.iter().filter(|(field, _)| !field.writable).map(|(field, _)| field.name.clone()).collect();
    if !read_only.is_empty() {
        return Err(WriteError::ReadOnlyFields { object: object_name.into(), fields: read_only });
    }
    Ok(resolved)
}

/// `value`, as the client wrote it, checked and converted to how the vendor stores it: first to
/// the hub field's value when the field carries a conversion, then as [`hub_to_vendor`] does.
fn vendor_value(field: &FieldDef, value: &Value) -> Result<Value, WriteError> {
    let Some(conversion) = &field.conversion else { return hub_to_vendor(field, value) };
    let hub = conversion
        .to_hub(field.field_type, value)
        .map_err(|expected| WriteError::WrongType { field: field.name.clone(), expected })?;
    hub_to_vendor(field, &hub)
}

/// The hub value `value` checked against the hub field's type and converted to how the vendor
/// stores it.
fn hub_to_vendor(field: &FieldDef, value: &Value) -> Result<Value, WriteError> {
    let wrong = |expected: &str| WriteError::WrongType { field: field.name.clone(), expected: expected.to_string() };
    let checked = match (field.hub_type(), value) {
        (_, Value::Null) => return Ok(Value::Null),
        (FieldType::String, Value::String(_)) | (FieldType::Boolean, Value::Bool(_)) => value.clone(),
        (FieldType::Date, Value::String(text)) if crate::read::utc(text).is_some() => value.clone(),
        (FieldType::Number, Value::Number(_)) => value.clone(),
        (FieldType::Number, Value::String(text)) => number(text).ok_or_else(|| wrong("a number"))?,
        (FieldType::String, _) => return Err(wrong("a string")),
        (FieldType::Number, _) => return Err(wrong("a number")),
        (FieldType::Boolean, _) => return Err(wrong("true or false")),
        (FieldType::Date, _) => return Err(wrong("an ISO 8601 date-time string")),
    };
    let checked = match &field.money {
        Some(money) => money.to_vendor(&checked).ok_or_else(|| wrong("an amount with at most two decimal places"))?,
        None => checked,
    };
    Ok(match (field.vendor_type, &checked) {
        (Some(VendorType::String), Value::Number(number)) => Value::String(number_text(number)),
        (Some(VendorType::Number), Value::String(text)) => number(text).unwrap_or(checked),
        // `utc` accepted it above, so it starts with the calendar date.
        (Some(VendorType::Date), Value::String(text)) => Value::String(text.trim().chars().take(10).collect()),
        _ => checked,
    })
}

fn set_top(body: &mut Value, key: &str, value: Value) {
    if let Some(object) = body.as_object_mut() {
        object.insert(key.to_string(), value);
    }
}

/// Fills writable fields the create request left out from their `createDefault` templates. A
/// default is the hub field's (a composed field keeps it), so it is typed and written as a hub
/// value, without the field's conversion.
fn apply_defaults(object: &ObjectDef, hub: &Map<String, Value>, body: &mut Value, touched: &mut BTreeSet<String>) {
    let given = |name: &str| hub.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value);
    for field in &object.fields {
        let Some(template) = &field.create_default else { continue };
        if given(&field.name).is_some_and(|value| !value.is_null()) {
            continue;
        }
        let mut text = template.clone();
        for name in template_names(template) {
            let value = given(name).map(display).unwrap_or_default();
            text = text.replace(&format!("{{{name}}}"), &value);
        }
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            continue;
        }
        // A template is text; a boolean or number field's default (`true`) is written as one.
        let typed = match field.hub_type() {
            FieldType::Boolean | FieldType::Number => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            FieldType::String | FieldType::Date => Value::String(text),
        };
        let Ok(value) = hub_to_vendor(field, &typed) else { continue };
        if field.write_target().set(body, value) {
            touched.insert(field.write_target().top_key().to_string());
        }
    }
}

fn display(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Removes array elements left holding nothing but their selector and nulls (a field set to null
/// removes the vendor's entry: `Phone1: null` drops the PHONE1 number).
fn drop_empty_elements(body: &mut Value) {
    let Some(object) = body.as_object_mut() else { return };
    for value in object.values_mut() {
        if let Value::Array(elements) = value {
            elements.retain(|element| {
                element
                    .as_object()
                    .is_none_or(|fields| fields.iter().any(|(key, value)| key != "field" && !value.is_null()))
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ObjectCatalog;

    fn contacts() -> &'static ObjectDef {
        ObjectCatalog::builtin().object("infusionsoftcrm", "contacts").unwrap().1
    }

    fn hub(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn flat_fields_build_the_vendors_arrays() {
        let write = to_vendor(
            "contacts",
            contacts(),
            &hub(json!({"FirstName": "Ada", "Email": "ada@x.io", "Phone1": "555", "CompanyID": 7})),
            WriteMode::Create,
            None,
        )
        .unwrap();
        assert_eq!(
            write.body,
            json!({
                "given_name": "Ada",
                "email_addresses": [{"field": "EMAIL1", "email": "ada@x.io"}],
                "phone_numbers": [{"field": "PHONE1", "number": "555"}],
                "company": {"id": "7"},
            })
        );
        assert_eq!(write.update_mask, ["company", "email_addresses", "given_name", "phone_numbers"]);
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name_and_null_removes_an_entry() {
        let current = json!({"email_addresses": [
            {"field": "EMAIL1", "email": "old@x.io", "email_opt_status": "SINGLE_OPT_IN"},
            {"field": "EMAIL2", "email": "two@x.io"},
        ]});
        let changes = hub(json!({"Email": "new@x.io", "EmailAddress2": null}));
        assert!(needs_current(contacts(), &changes));
        let write = to_vendor("contacts", contacts(), &changes, WriteMode::Update, Some(&current)).unwrap();
        assert_eq!(
            write.body,
            json!({"email_addresses": [{"field": "EMAIL1", "email": "new@x.io", "email_opt_status": "SINGLE_OPT_IN"}]})
        );
        assert_eq!(write.update_mask, ["email_addresses"]);
    }

    #[test]
    fn null_removes_a_vendor_entry_that_carries_more_than_its_value() {
        let current = json!({"phone_numbers": [
            {"field": "PHONE1", "number": "555", "type": "Work"},
            {"field": "PHONE2", "number": "556", "type": "Mobile"},
        ]});
        let write = to_vendor("contacts", contacts(), &hub(json!({"Phone1": null})), WriteMode::Update, Some(&current))
            .unwrap();
        assert_eq!(write.body, json!({"phone_numbers": [{"field": "PHONE2", "number": "556", "type": "Mobile"}]}));
    }

    #[test]
    fn unknown_read_only_and_mistyped_fields_are_named() {
        let unknown = to_vendor("contacts", contacts(), &hub(json!({"Nope": 1, "Zip": 2})), WriteMode::Create, None);
        assert_eq!(unknown.unwrap_err().to_string(), "Unknown field(s) for contacts: Nope, Zip");
        let read_only =
            to_vendor("contacts", contacts(), &hub(json!({"Id": 4, "DateCreated": "x"})), WriteMode::Update, None);
        assert_eq!(
            read_only.unwrap_err().to_string(),
            "Read-only field(s) of contacts cannot be written: DateCreated, Id"
        );
        let mistyped = to_vendor("contacts", contacts(), &hub(json!({"FirstName": 5})), WriteMode::Create, None);
        assert_eq!(mistyped.unwrap_err().to_string(), "Field FirstName must be a string");
        let mistyped = to_vendor("contacts", contacts(), &hub(json!({"CompanyID": "seven"})), WriteMode::Create, None);
        assert_eq!(mistyped.unwrap_err().to_string(), "Field CompanyID must be a number");
        let mistyped = to_vendor("contacts", contacts(), &hub(json!({"Birthday": "soon"})), WriteMode::Create, None);
        assert_eq!(mistyped.unwrap_err().to_string(), "Field Birthday must be an ISO 8601 date-time string");
    }

    #[test]
    fn null_clears_a_field_unless_the_vendor_requires_it() {
        let tags = ObjectCatalog::builtin().object("infusionsoftcrm", "tags").unwrap().1;
        let cleared = to_vendor("tags", tags, &hub(json!({"GroupDescription": null})), WriteMode::Update, None);
        let cleared = cleared.unwrap();
        assert_eq!(cleared.body, json!({}), "the mask clears it");
        assert_eq!(cleared.update_mask, ["description"]);
        let required = to_vendor("tags", tags, &hub(json!({"GroupName": null})), WriteMode::Update, None);
        assert_eq!(
            required.unwrap_err().to_string(),
            "Field GroupName cannot be cleared: the vendor requires the tag's name"
        );
        // On create, a null required field is left to its default or to the vendor's refusal.
        let created = to_vendor("tags", tags, &hub(json!({"GroupName": null})), WriteMode::Create, None);
        assert!(created.is_ok());
    }

    #[test]
    fn null_on_a_reference_held_in_an_object_clears_the_object() {
        let tags = ObjectCatalog::builtin().object("infusionsoftcrm", "tags").unwrap().1;
        let current = json!({"id": "4", "name": "T", "category": {"id": "2", "name": "Leads"}});
        let write =
            to_vendor("tags", tags, &hub(json!({"GroupCategoryId": null})), WriteMode::Update, Some(&current)).unwrap();
        assert_eq!(write.body, json!({}), "the mask clears it");
        assert_eq!(write.update_mask, ["category"]);
        let write = to_vendor("tags", tags, &hub(json!({"GroupCategoryId": 3})), WriteMode::Update, Some(&current));
        assert_eq!(write.unwrap().body, json!({"category": {"id": "3", "name": "Leads"}}));
    }

    #[test]
    fn a_whole_number_written_with_a_decimal_point_is_the_vendors_whole_number() {
        let write = to_vendor("contacts", contacts(), &hub(json!({"OwnerID": 7.0})), WriteMode::Create, None).unwrap();
        assert_eq!(write.body, json!({"owner_id": "7"}));
        let write = to_vendor("contacts", contacts(), &hub(json!({"OwnerID": 7.5})), WriteMode::Create, None).unwrap();
        assert_eq!(write.body, json!({"owner_id": "7.5"}));
    }

    #[test]
    fn a_create_fills_defaults_from_other_fields_and_write_paths_differ_from_read_paths() {
        let accounts = ObjectCatalog::builtin().object("infusionsoftcrm", "accounts").unwrap().1;
        let write = to_vendor(
            "accounts",
            accounts,
            &hub(json!({"FirstName": "Ada", "LastName": "Byron"})),
            WriteMode::Create,
            None,
        )
        .unwrap();
        assert_eq!(write.body, json!({"first_name": "Ada", "last_name": "Byron", "company_name": "Ada Byron"}));
        let opportunities = ObjectCatalog::builtin().object("infusionsoftcrm", "opportunities").unwrap().1;
        let write =
            to_vendor("opportunities", opportunities, &hub(json!({"ContactID": 3})), WriteMode::Update, None).unwrap();
        assert_eq!(write.body, json!({"contact_id": "3"}));
    }

    #[test]
    fn money_typed_defaults_and_calendar_dates_are_written_as_the_vendor_takes_them() {
        let catalog = ObjectCatalog::builtin();
        let orders = catalog.object("infusionsofterp", "orders").unwrap().1;
        let items = &orders.children["items"];
        let write = to_vendor("items", items, &hub(json!({"PPU": 19.99, "Qty": 2})), WriteMode::Create, None).unwrap();
        assert_eq!(write.body, json!({"price_per_unit": 19.99, "quantity": 2}));
        let products = catalog.object("infusionsoftcrm", "products").unwrap().1;
        let write = to_vendor("products", products, &hub(json!({"ProductPrice": 59.99})), WriteMode::Update, None);
        assert_eq!(write.unwrap().body, json!({"price": 5999}), "units in, the vendor's cents out");
        let refused = to_vendor("products", products, &hub(json!({"ProductPrice": 1.005})), WriteMode::Update, None);
        assert!(refused.unwrap_err().to_string().contains("at most two decimal places"));
        let read = crate::to_hub(products, &json!({"price": {"amount": 5999, "currency_code": "USD"}}));
        assert_eq!(read["ProductPrice"].to_string(), "59.99");
        let payments = &orders.children["payments"];
        let write = to_vendor("payments", payments, &hub(json!({"Amt": 5})), WriteMode::Create, None).unwrap();
        assert_eq!(write.body, json!({"payment_amount": 5, "apply_to_commissions": true}));
        let subscriptions = catalog.object("infusionsofterp", "subscriptions").unwrap().1;
        let write = to_vendor(
            "subscriptions",
            subscriptions,
            &hub(json!({"StartDate": "2030-05-06T07:08:09Z"})),
            WriteMode::Update,
            None,
        )
        .unwrap();
        assert_eq!(write.body, json!({"start_date": "2030-05-06"}));
        let read = crate::to_hub(
            subscriptions,
            &json!({"start_date": "2030-05-06", "modification_time": "2030-05-06T09:00:00+02:00"}),
        );
        assert_eq!(read["StartDate"], "2030-05-06T00:00:00Z");
        assert_eq!(read["LastUpdated"], "2030-05-06T07:00:00Z");
    }

    /// Contacts as an organization's common resource: each field a hub field under another name,
    /// type and date format.
    fn common_contacts() -> ObjectDef {
        let hub = contacts();
        let field = |name: &str, hub_name: &str, field_type: FieldType, conversion: Option<crate::Conversion>| {
            let mut field = hub.field(hub_name).unwrap().clone();
            field.name = name.into();
            field.field_type = field_type;
            field.conversion = conversion;
            field
        };
        let conversion = |hub_type, format: Option<&str>| crate::Conversion {
            hub_type,
            hub_format: None,
            format: format.map(|mask| crate::DateFormat::parse(mask).unwrap()),
        };
        let mut object = hub.clone();
        object.id_field = "id".into();
        object.create_needs_one_of.clear();
        object.fields = vec![
            field("id", "Id", FieldType::Number, None),
            field("email", "Email", FieldType::String, None),
            field("birthDate", "Birthday", FieldType::String, Some(conversion(FieldType::Date, Some("dd/MM/yyyy")))),
            field("owner", "OwnerID", FieldType::String, Some(conversion(FieldType::Number, None))),
            field("createdAt", "DateCreated", FieldType::Number, Some(conversion(FieldType::Date, Some("millis")))),
        ];
        object
    }

    #[test]
    fn a_converted_field_reads_in_its_own_type_and_format() {
        let vendor = json!({
            "id": "12",
            "email_addresses": [{"field": "EMAIL1", "email": "a@x.io"}],
            "birth_date": "1990-12-25",
            "owner_id": "7",
            "create_time": "2026-01-02T03:04:05.250+01:00",
        });
        let record = crate::to_hub(&common_contacts(), &vendor);
        assert_eq!(
            Value::Object(record),
            json!({
                "id": 12,
                "email": "a@x.io",
                "birthDate": "25/12/1990",
                "owner": "7",
                "createdAt": 1767319445250i64,
            })
        );
    }

    #[test]
    fn a_converted_field_is_written_as_the_hub_field_and_a_bad_value_is_named() {
        let object = common_contacts();
        let write = to_vendor(
            "people",
            &object,
            &hub(json!({"email": "a@x.io", "birthDate": "25/12/1990", "owner": "7"})),
            WriteMode::Create,
            None,
        )
        .unwrap();
        assert_eq!(
            write.body,
            json!({
                "email_addresses": [{"field": "EMAIL1", "email": "a@x.io"}],
                "birth_date": "1990-12-25T00:00:00Z",
                "owner_id": "7",
            }),
            "the owner is the hub's number, then the vendor's text"
        );
        for (changes, message) in [
            (json!({"birthDate": "1990-12-25"}), "Field birthDate must be a date in the format dd/MM/yyyy"),
            (json!({"birthDate": 19901225}), "Field birthDate must be a date in the format dd/MM/yyyy"),
            (json!({"owner": "seven"}), "Field owner must be a number"),
            (json!({"owner": 7}), "Field owner must be a string"),
        ] {
            let error = to_vendor("people", &object, &hub(changes.clone()), WriteMode::Update, None).unwrap_err();
            assert_eq!(error.to_string(), message, "{changes}");
        }
        let cleared = to_vendor("people", &object, &hub(json!({"birthDate": null})), WriteMode::Update, None);
        let cleared = cleared.unwrap();
        assert_eq!(cleared.body, json!({}), "the mask clears it");
        assert_eq!(cleared.update_mask, ["birth_date"]);
    }
}
