//! Composition and the common shape, over the built-in contacts object.

use serde_json::{json, Map, Value};

use super::*;
use crate::{to_hub, to_vendor, WriteMode};

fn documents(definition: Value, transformation: Value) -> (Definition, Transformation) {
    (serde_json::from_value(definition).unwrap(), serde_json::from_value(transformation).unwrap())
}

fn my_contacts() -> CommonObject {
    let (definition, transformation) = documents(
        json!({"fields": [
            {"path": "id", "type": "number"},
            {"path": "name.first", "type": "string"},
            {"path": "email", "type": "string"},
            {"path": "emails[1].value", "type": "string"},
            {"path": "company", "type": "string"},
            {"path": "born", "type": "date", "mask": "yyyy-MM-dd"},
            {"path": "created", "type": "date"},
            {"path": "secret", "type": "string"},
            {"path": "city", "type": "string"},
        ]}),
        json!({"vendorName": "contacts", "fields": [
            {"path": "id", "vendorPath": "Id"},
            {"path": "name.first", "vendorPath": "FirstName"},
            {"path": "email", "vendorPath": "Email"},
            {"path": "emails[1].value", "vendorPath": "email_addresses[field=EMAIL2].email"},
            {"path": "company", "vendorPath": "Company", "configuration": [{"type": "remove", "properties": {"fromVendor": false, "toVendor": true}}]},
            {"path": "born", "vendorPath": "Birthday"},
            {"path": "created", "vendorPath": "DateCreated"},
            {"path": "secret", "vendorPath": "Nickname", "configuration": [{"type": "remove", "properties": {"fromVendor": true, "toVendor": false}}]},
            {"path": "city", "vendorPath": "addresses[0].locality"},
        ]}),
    );
    compose("infusionsoftcrm", "myContacts", &definition, &transformation).unwrap()
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().unwrap().clone()
}

#[test]
fn a_vendor_contact_reads_in_the_common_shape() {
    let common = my_contacts();
    let vendor = json!({
        "id": "12", "given_name": "Ada", "preferred_name": "hidden",
        "email_addresses": [{"field": "EMAIL1", "email": "a@x.io"}, {"field": "EMAIL2", "email": "b@x.io"}],
        "company": {"id": "3", "company_name": "Analytical"},
        "birth_date": "1815-12-10T00:00:00Z", "create_time": "2026-01-02T03:04:05Z",
        "addresses": [{"field": "BILLING", "locality": "London"}],
    });
    let record = Value::Object(common.present(to_hub(&common.definition, &vendor)));
    assert_eq!(
        record,
        json!({
            "id": 12, "email": "a@x.io", "company": "Analytical", "born": "1815-12-10",
            "created": "2026-01-02T03:04:05Z", "city": "London",
            "name": {"first": "Ada"}, "emails": [null, {"value": "b@x.io"}],
        })
    );
}

#[test]
fn a_common_write_becomes_the_vendors_body_with_removed_fields_dropped() {
    let common = my_contacts();
    let body = object(json!({
        "name": {"first": "Ada"}, "email": "a@x.io", "born": "1815-12-10", "company": "ignored",
        "secret": "kept", "emails": [null, {"value": "b@x.io"}],
    }));
    let flat = common.flatten(body).unwrap();
    assert!(!flat.contains_key("company"), "removed toward the vendor");
    let write = to_vendor("myContacts", &common.definition, &flat, WriteMode::Create, None).unwrap();
    assert_eq!(write.body["given_name"], "Ada");
    assert_eq!(write.body["preferred_name"], "kept");
    assert_eq!(write.body["birth_date"], "1815-12-10T00:00:00Z");
    assert_eq!(
        write.body["email_addresses"],
        json!([{"field": "EMAIL1", "email": "a@x.io"}, {"field": "EMAIL2", "email": "b@x.io"}])
    );
    let unknown = common.flatten(object(json!({"name": {"last": "x"}, "nope": 1}))).unwrap_err();
    assert_eq!(unknown.to_string(), "Unknown field(s) for myContacts: name.last, nope");
    let mistyped = common.flatten(object(json!({"born": "10/12/1815"}))).unwrap();
    let error = to_vendor("myContacts", &common.definition, &mistyped, WriteMode::Create, None).unwrap_err();
    assert!(error.to_string().contains("born"), "{error}");
}

#[test]
fn a_condition_on_an_unconverted_field_pushes_down_and_a_converted_one_does_not() {
    let common = my_contacts();
    let pushed = ceql::plan(
        Some(&ceql::check(&ceql::parse("email = 'a@x.io'").unwrap(), &common.definition).unwrap()),
        &common.definition,
    );
    assert_eq!(pushed.queries.len(), 1);
    assert!(pushed.queries[0].filter_string().contains("email"), "{}", pushed.queries[0].filter_string());
    let kept = ceql::plan(
        Some(&ceql::check(&ceql::parse("born = '1815-12-10'").unwrap(), &common.definition).unwrap()),
        &common.definition,
    );
    assert!(kept.queries.iter().all(|query| query.filter_string().is_empty()));
    assert!(common.definition.field("born").unwrap().sort.is_none());
}

#[test]
fn the_vendor_id_is_kept_out_of_records_when_not_mapped_and_pass_through_adds_the_rest() {
    let (definition, transformation) = documents(
        json!({"fields": [{"path": "mail", "type": "string"}]}),
        json!({"vendorName": "contacts", "fields": [{"path": "mail", "vendorPath": "Email"}],
               "configuration": [{"type": "passThrough", "properties": {"fromVendor": true, "toVendor": false}}]}),
    );
    let common = compose("infusionsoftcrm", "slim", &definition, &transformation).unwrap();
    assert_eq!(common.definition.id_field, "Id");
    let record = Value::Object(common.present(to_hub(&common.definition, &json!({"id": "5", "given_name": "Ada"}))));
    assert_eq!(record["FirstName"], "Ada", "passed through from the vendor");
    assert!(record.get("Id").is_none() && record.get("Email").is_none(), "{record}");
    let refused = common.flatten(object(json!({"FirstName": "x"}))).unwrap_err();
    assert!(refused.to_string().contains("FirstName"), "not passed toward the vendor");
}

#[test]
fn compositions_that_cannot_work_name_every_problem() {
    let (definition, transformation) = documents(
        json!({"fields": [{"path": "a", "type": "boolean"}, {"path": "b", "type": "number"}, {"path": "c", "type": "string"}]}),
        json!({"vendorName": "contacts", "fields": [
            {"path": "a", "vendorPath": "DateCreated"},
            {"path": "b", "vendorPath": "Nope"},
            {"path": "c", "vendorPath": "Email", "type": "number"},
            {"path": "d", "vendorPath": "Email"},
        ]}),
    );
    let problems = compose("infusionsoftcrm", "broken", &definition, &transformation).unwrap_err().to_string();
    for expected in [
        "field a: type Boolean cannot be mapped onto DateCreated",
        "unknown vendor field 'Nope'",
        "type Number differs",
        "field d is not in the definition",
    ] {
        assert!(problems.contains(expected), "{expected} in {problems}");
    }
    let shadow = compose("infusionsoftcrm", "Contacts", &definition, &transformation).unwrap_err();
    assert!(shadow.to_string().contains("is the name of infusionsoftcrm's object contacts"), "{shadow}");
    let (_, elsewhere) = documents(json!({"fields": []}), json!({"vendorName": "orders", "fields": []}));
    let unknown = compose("infusionsoftcrm", "x", &definition, &elsewhere).unwrap_err();
    assert!(unknown.to_string().contains("'orders' is not an object of infusionsoftcrm"), "{unknown}");
}
