//! One record read alone (`GET /hubs/{hub}/{object}/{id}`), written as the hub's JSON straight from
//! the vendor's JSON text: the same bytes as [`mapping::to_hub`], then [`crate::shape::shape`], then
//! serialized, without the vendor's record built as a tree nor the hub's.
//!
//! The vendor's record is read as its top-level keys and the text of each value, borrowed from the
//! answer. A field read as the vendor has it (one key, no money, no conversion, a value already of
//! the field's type and written as serde_json would write it again: a string without escapes, an
//! integer, `true` or `false`) is copied as that text. A field two steps down (`company.id`,
//! `addresses[field=BILLING].line1`) is found the same way one level further: a top-level value
//! only such fields read is read as keys and text in the same pass as the answer, once for all the
//! fields under it. Every other field parses only the value of its top-level key and goes through
//! [`mapping::read::hub_value_of`], the tree path's own code. An answer that is not a JSON object,
//! or that has a key written with escapes where it is read as keys, is left to the tree path
//! ([`write`] returns `None`).

use std::fmt;

use mapping::path::{selector_matches, Step};
use mapping::read::hub_value_of;
use mapping::{FieldType, ObjectDef};
use serde::de::{Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::shape::GENERIC_ID;

/// The hub record of `vendor`'s JSON text as JSON text, shaped as a record read alone is: the id
/// also under `id`, and null fields dropped when `drop_nulls`. `None` when `vendor` is not a JSON
/// object or has a key written with escapes where it is read as keys.
pub fn write(object: &ObjectDef, vendor: &[u8], drop_nulls: bool) -> Option<Vec<u8>> {
    // Checked as UTF-8 once, so that the keys and values borrowed from it are not each checked again.
    let text = std::str::from_utf8(vendor).ok()?;
    let nested = nested_only_keys(object);
    let record = RawRecord::parse(text, &nested)?;
    let mut parsed = ParsedKeys::default();
    let mut values: Vec<(&str, Out<'_>)> = Vec::with_capacity(object.fields.len());
    for field in &object.fields {
        let out = match field.path.single_key() {
            Some(key) if field.money.is_none() && field.conversion.is_none() => match record.raw(key)? {
                None => Out::Null,
                Some(raw) if copies_as_is(field.field_type, raw.get()) => Out::Text(raw.get()),
                Some(raw) => Out::of(hub_value_of(field, &serde_json::from_str(raw.get()).ok()?)),
            },
            _ => match record.leaf(field.path.steps()) {
                Some(None) => Out::Null,
                Some(Some(raw))
                    if field.money.is_none()
                        && field.conversion.is_none()
                        && copies_as_is(field.field_type, raw.get()) =>
                {
                    Out::Text(raw.get())
                }
                Some(Some(raw)) => Out::of(hub_value_of(field, &serde_json::from_str(raw.get()).ok()?)),
                None => match parsed.top(&record, field.path.top_key())? {
                    None => Out::Null,
                    Some(top) => {
                        Out::of(field.path.get_from_top(top).map_or(Value::Null, |value| hub_value_of(field, value)))
                    }
                },
            },
        };
        values.push((field.name.as_str(), out));
    }
    // As `to_hub` collects into a map: ordered by name, the last of a name kept.
    let order = object.fields_by_name();
    let mut fields: Vec<(&str, &Out<'_>)> = Vec::with_capacity(order.len() + 1);
    for (position, &at) in order.iter().enumerate() {
        let (name, out) = &values[at];
        if order.get(position + 1).is_none_or(|&next| values[next].0 != *name) {
            fields.push((name, out));
        }
    }
    add_generic_id(&mut fields, &object.id_field);
    if drop_nulls {
        fields.retain(|(_, out)| !out.is_null());
    }
    Some(written(&fields))
}

/// A field's value on its way out: the vendor's own text, or a value to serialize.
#[derive(Debug)]
enum Out<'a> {
    Null,
    Text(&'a str),
    Value(Value),
}

impl Out<'_> {
    fn of(value: Value) -> Self {
        match value {
            Value::Null => Out::Null,
            value => Out::Value(value),
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Out::Null)
    }
}

/// [`crate::shape::shape`]'s `id`: the id field's value, when not null, also under `id`.
fn add_generic_id<'b>(fields: &mut Vec<(&str, &'b Out<'b>)>, id_field: &str) {
    if id_field == GENERIC_ID {
        return;
    }
    let Ok(at) = fields.binary_search_by(|(name, _)| (*name).cmp(id_field)) else { return };
    let id = fields[at].1;
    if id.is_null() {
        return;
    }
    match fields.binary_search_by(|(name, _)| (*name).cmp(GENERIC_ID)) {
        Ok(existing) => fields[existing].1 = id,
        Err(position) => fields.insert(position, (GENERIC_ID, id)),
    }
}

/// Whether the vendor's text of a value is what the hub writes for a field of `field_type`.
fn copies_as_is(field_type: FieldType, text: &str) -> bool {
    match field_type {
        // Escapes are written back as serde_json writes them, which may not be as the vendor did.
        FieldType::String => text.starts_with('"') && !text.contains('\\'),
        FieldType::Number => is_plain_integer(text),
        FieldType::Boolean => text == "true" || text == "false",
        // A date is made UTC: always through the conversion.
        FieldType::Date => false,
    }
}

/// An integer serde_json reads as one and writes back alike: no sign on a zero, no leading zeros,
/// and few enough digits to be an `i64`.
fn is_plain_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let plain = !digits.is_empty() && digits.len() <= 18 && digits.bytes().all(|byte| byte.is_ascii_digit());
    plain && (digits == "0" && digits.len() == text.len() || !digits.starts_with('0'))
}

/// A field's name as serde_json writes a string: as it is between quotes unless it holds a quote,
/// a backslash or a control character, which only serde_json's escaping writes alike.
fn write_name(out: &mut Vec<u8>, name: &str) {
    if name.bytes().all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\') {
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
    } else {
        // Writing to a vector fails only on a value serde_json cannot write, which a `str` is not.
        let _ = serde_json::to_writer(&mut *out, name);
    }
}

fn written(fields: &[(&str, &Out<'_>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024);
    out.push(b'{');
    for (index, (name, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_name(&mut out, name);
        out.push(b':');
        match value {
            Out::Null => out.extend_from_slice(b"null"),
            Out::Text(text) => out.extend_from_slice(text.as_bytes()),
            Out::Value(value) => {
                // Fails only on a value serde_json cannot write, which a `Value` is not.
                let _ = serde_json::to_writer(&mut out, value);
            }
        }
    }
    out.push(b'}');
    out
}

/// The top-level values a field reads through a longer path, parsed once each.
#[derive(Default)]
struct ParsedKeys<'k> {
    values: Vec<(&'k str, Option<Value>)>,
}

impl<'k> ParsedKeys<'k> {
    /// The parsed value of `key` in `record` (`Some(None)`: the record has no such key); `None`
    /// when its text does not parse, which the parse of the whole answer would not have allowed.
    fn top(&mut self, record: &RawRecord<'_>, key: &'k str) -> Option<Option<&Value>> {
        let at = match self.values.iter().position(|(known, _)| *known == key) {
            Some(at) => at,
            None => {
                let value = match record.raw(key)? {
                    Some(raw) => Some(serde_json::from_str(raw.get()).ok()?),
                    None => None,
                };
                self.values.push((key, value));
                self.values.len() - 1
            }
        };
        Some(self.values[at].1.as_ref())
    }
}

/// The first key of `steps` when they are a two-step path this reader follows: `key.leaf` (a key
/// of the object under `key`) or `key[property=value].leaf` (a key of the array's selected
/// element), as the nested fields of contacts are (`addresses[field=BILLING].line1`, `company.id`).
fn two_step_top(steps: &[Step]) -> Option<&str> {
    match steps {
        [Step::Key(key) | Step::Select { key, .. }, Step::Key(_)] => Some(key),
        _ => None,
    }
}

/// The top-level keys `object`'s fields read only through two-step paths. Their values are read
/// as keys and text one level down while the answer is read, rather than skipped as text and read
/// again: parsing them (into trees first, then twice) was the largest cost of a mapped read.
fn nested_only_keys(object: &ObjectDef) -> Vec<&str> {
    let mut nested: Vec<&str> = Vec::new();
    let mut whole: Vec<&str> = Vec::with_capacity(object.fields.len());
    for field in &object.fields {
        match two_step_top(field.path.steps()) {
            Some(key) if !nested.contains(&key) => nested.push(key),
            Some(_) => {}
            None => whole.push(field.path.top_key()),
        }
    }
    nested.retain(|key| !whole.contains(key));
    nested
}

/// The vendor's record as its top-level keys: each value as its text, or, for the keys only
/// two-step paths read, as keys and text one level down.
struct RawRecord<'a> {
    entries: Vec<(&'a str, Entry<'a>)>,
}

/// A top-level value.
enum Entry<'a> {
    Text(&'a RawValue),
    Nested(Nested<'a>),
}

/// A top-level value as two-step paths see it.
enum Nested<'a> {
    Object(RawObject<'a>),
    /// Each element, when it is an object.
    Array(Vec<Option<RawObject<'a>>>),
    /// Neither: no key under it.
    Other,
}

impl<'a> RawRecord<'a> {
    /// `text` read as an object, the values of `nested` keys one level down; `None` when it is
    /// not an object or has a key written with escapes at either level.
    fn parse(text: &'a str, nested: &[&str]) -> Option<Self> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let entries = RecordSeed { nested }.deserialize(&mut deserializer).ok()?;
        deserializer.end().ok()?;
        Some(RawRecord { entries })
    }

    /// The value of `key`; of the last one, when the vendor repeated it (as a parse into a map
    /// keeps). Found by equality, which most keys fail on their length alone.
    fn get(&self, key: &str) -> Option<&Entry<'a>> {
        self.entries.iter().rev().find(|(name, _)| *name == key).map(|(_, entry)| entry)
    }

    /// The text of `key`'s value (`Some(None)`: no such key); `None` when it was read one level
    /// down, which only fields that read it so do.
    fn raw(&self, key: &str) -> Option<Option<&'a RawValue>> {
        match self.get(key) {
            None => Some(None),
            Some(Entry::Text(raw)) => Some(Some(*raw)),
            Some(Entry::Nested(_)) => None,
        }
    }

    /// The text at a two-step path (`Some(None)`: nothing there, as [`VendorPath::get_from_top`]
    /// finds nothing), or `None` when this reader cannot tell and the tree must: another path, or
    /// a top-level value read as text because another field reads it whole.
    fn leaf(&self, steps: &[Step]) -> Option<Option<&'a RawValue>> {
        let key = two_step_top(steps)?;
        let [first, Step::Key(leaf)] = steps else { return None };
        let nested = match self.get(key) {
            None => return Some(None),
            Some(Entry::Text(_)) => return None,
            Some(Entry::Nested(nested)) => nested,
        };
        match (nested, first) {
            (Nested::Object(object), Step::Key(_)) => Some(object.get(leaf)),
            (Nested::Array(elements), Step::Select { property, value, .. }) => {
                let chosen = elements
                    .iter()
                    .flatten()
                    .find(|element| element.get(property).is_some_and(|found| property_is(found, value)));
                Some(chosen.and_then(|element| element.get(leaf)))
            }
            _ => Some(None),
        }
    }
}

/// Whether a selector property written as `found` is `value`, as [`mapping::path::selector_matches`]
/// decides on the parsed value.
fn property_is(found: &RawValue, value: &str) -> bool {
    let text = found.get();
    match text.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) {
        Some(plain) if !plain.contains('\\') => plain == value,
        _ => serde_json::from_str::<Value>(text).is_ok_and(|found| selector_matches(&found, value)),
    }
}

/// A JSON object's keys and the text of their values, borrowed from the answer. A key written with
/// escapes cannot be borrowed: such an object fails to read here and takes the tree path.
struct RawObject<'a> {
    entries: Vec<(&'a str, &'a RawValue)>,
}

impl<'a> RawObject<'a> {
    /// The value of `key`; of the last one, when the vendor repeated it (as a parse into a map keeps).
    fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.entries.iter().rev().find(|(name, _)| *name == key).map(|(_, value)| *value)
    }
}

/// Reads the answer's object for [`RawRecord::parse`]: the `nested` keys' values one level down,
/// the others as text.
struct RecordSeed<'p> {
    nested: &'p [&'p str],
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Vec<(&'de str, Entry<'de>)>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Vec<(&'de str, Entry<'de>)>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(32));
        while let Some(key) = map.next_key::<&'de str>()? {
            let entry = match self.nested.contains(&key) {
                true => Entry::Nested(map.next_value()?),
                false => Entry::Text(map.next_value()?),
            };
            entries.push((key, entry));
        }
        Ok(entries)
    }
}

impl<'de> Deserialize<'de> for Nested<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NestedVisitor { elements: true })
    }
}

/// An object as its keys and text; an array, when `elements`, as its elements (`None` for an
/// element that is not an object), else skipped; anything else as [`Nested::Other`].
struct NestedVisitor {
    elements: bool,
}

impl<'de> Visitor<'de> for NestedVisitor {
    type Value = Nested<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        RawObjectVisitor.visit_map(map).map(Nested::Object)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if !self.elements {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Nested::Other);
        }
        let mut elements = Vec::with_capacity(seq.size_hint().unwrap_or(4));
        while let Some(AnElement(element)) = seq.next_element()? {
            elements.push(element);
        }
        Ok(Nested::Array(elements))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Nested::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Nested::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Nested::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Nested::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Nested::Other)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Nested::Other)
    }
}

impl<'de> Deserialize<'de> for RawObject<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RawObjectVisitor)
    }
}

/// An array's element: an object read as keys and text, or `None` for any other value, skipped.
struct AnElement<'a>(Option<RawObject<'a>>);

impl<'de> Deserialize<'de> for AnElement<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_any(NestedVisitor { elements: false })? {
            Nested::Object(object) => Ok(AnElement(Some(object))),
            _ => Ok(AnElement(None)),
        }
    }
}

struct RawObjectVisitor;

impl<'de> Visitor<'de> for RawObjectVisitor {
    type Value = RawObject<'de>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(32));
        while let Some(entry) = map.next_entry::<&'de str, &'de RawValue>()? {
            entries.push(entry);
        }
        Ok(RawObject { entries })
    }
}

#[cfg(test)]
mod tests {
    use mapping::{to_hub, ObjectCatalog};

    use super::*;
    use crate::shape::shape;

    /// What the tree path answers: the vendor's text parsed, mapped, shaped and serialized.
    fn through_the_tree(object: &ObjectDef, vendor: &[u8], drop_nulls: bool) -> Vec<u8> {
        let vendor: Value = serde_json::from_slice(vendor).unwrap();
        serde_json::to_vec(&shape(to_hub(object, &vendor), &object.id_field, drop_nulls, None)).unwrap()
    }

    /// Values of every kind, escapes, offsets and edge numbers among them.
    fn samples() -> Vec<Value> {
        serde_json::from_str(
            r#"["plain", "a \"quoted\" \\ word\n", "caf\u00e9 ☕", 42, -7, 0, 1.5, 12345678901234567890, -0.0,
                1e3, true, false, "true", "FALSE", null, "2026-03-04T05:06:07Z", "2026-03-04T05:06:07+02:00",
                "2026-03-04", " 2026-03-04T05:06:07Z", "12.50", "0042", {"nested": [1, 2]}, [], "",
                {"amount": 1250, "currency": "USD"}]"#,
        )
        .unwrap()
    }

    fn objects() -> Vec<(String, &'static ObjectDef)> {
        let catalog = ObjectCatalog::builtin();
        ["infusionsoftcrm", "infusionsofterp"]
            .into_iter()
            .flat_map(|element| {
                catalog.objects(element).map(move |(name, object)| (format!("{element}/{name}"), object))
            })
            .collect()
    }

    #[test]
    fn every_object_and_every_kind_of_value_reads_as_the_tree_path_writes_it() {
        let samples = samples();
        let mut compared = 0;
        for (name, object) in objects() {
            for round in 0..samples.len() {
                let mut vendor = Value::Object(Default::default());
                for (index, field) in object.fields.iter().enumerate() {
                    let value = samples[(index + round) % samples.len()].clone();
                    field.path.insert(&mut vendor, value);
                }
                let text = serde_json::to_vec(&vendor).unwrap();
                for drop_nulls in [true, false] {
                    let fast = write(object, &text, drop_nulls).expect("an object");
                    let tree = through_the_tree(object, &text, drop_nulls);
                    assert_eq!(
                        String::from_utf8_lossy(&fast),
                        String::from_utf8_lossy(&tree),
                        "{name}, round {round}, nulls dropped: {drop_nulls}"
                    );
                    compared += 1;
                }
            }
        }
        assert!(compared > 100, "{compared} records compared");
    }

    #[test]
    fn a_value_read_whole_by_one_field_and_one_level_down_by_others_reads_as_the_tree_path_writes_it() {
        let (_, contacts) = ObjectCatalog::builtin().object("infusionsoftcrm", "contacts").unwrap();
        let mut object = contacts.clone();
        for (name, path) in [("CompanyWhole", "company"), ("FirstEmail", "email_addresses[0].email")] {
            let field = serde_json::json!({"name": name, "type": "string", "path": path});
            object.fields.push(serde_json::from_value(field).unwrap());
        }
        let text = r#"{"id": 7, "company": {"company_name": "Acme", "id": "12"},
            "email_addresses": [{"field": "EMAIL2", "email": "b@x"}, {"field": "EMAIL1", "email": "a@x"}]}"#;
        let fast = write(&object, text.as_bytes(), true).expect("an object");
        let tree = through_the_tree(&object, text.as_bytes(), true);
        assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&tree));
        for expected in [r#""CompanyID":12"#, r#""Company":"Acme""#, r#""Email":"a@x""#, r#""FirstEmail":"b@x""#] {
            assert!(fast.windows(expected.len()).any(|window| window == expected.as_bytes()), "{expected} in {fast:?}");
        }
    }

    #[test]
    fn the_vendors_own_spelling_of_a_record_reads_as_the_tree_path_writes_it() {
        let (_, contacts) = ObjectCatalog::builtin().object("infusionsoftcrm", "contacts").unwrap();
        let texts = [
            // Spaces, a repeated key (the last one counts), escaped values.
            r#" { "id" : 7 , "given_name" : "Ada" , "given_name" : "Grace", "family_name": "Hopper",
                "email_addresses": [ {"field": "EMAIL1", "email": "a\u0040b.c"} ] } "#,
            r#"{"id": "7", "given_name": null, "date_created": "2026-01-02T03:04:05.678Z"}"#,
            // Escapes serde_json would write otherwise.
            r#"{"id": 7, "given_name": "Ren\u00e9e \/ R\u00E9", "family_name": "\t"}"#,
            r#"{}"#,
            r#"{"id": 00}"#,
            // Nested fields: repeated keys (the last counts) and selectors (the first element
            // that matches counts).
            r#"{"id": 7, "email_addresses": [{"field": "EMAIL2", "email": "b@x"},
                {"field": "EMAIL1", "email": "a@x", "email": "last@x"}, {"field": "EMAIL1", "email": "no@x"},
                {"field": "EMAIL2", "field": "EMAIL3", "email": "c@x"}]}"#,
            // Elements that are not objects, arrays that are objects, objects that are not.
            r#"{"id": 7, "email_addresses": [null, 5, "EMAIL1", [], {"field": "EMAIL1", "email": "a@x"}],
                "phone_numbers": {"field": "PHONE1", "number": "1"}, "company": 5, "addresses": null,
                "fax_numbers": []}"#,
            // Selector properties escaped, numeric, boolean; leaves escaped and repeated.
            r#"{"id": 7, "email_addresses": [{"field": "EMAIL\u0031", "email": "esc@x"}],
                "phone_numbers": [{"field": 1, "number": "n"}, {"field": true, "number": "t"}],
                "company": {"company_name": "A\"B\u00e9", "id": "12", "id": 13}}"#,
            // Elements of every kind before the selected one.
            r#"{"id": 7, "email_addresses": ["a\"b", 1.5, -3, 18446744073709551616, true, false, null,
                [[1], {"a": 2}], {}, {"field": "EMAIL1", "email": {"deep": [1, {"x": null}]}}]}"#,
            // Leaves of every kind.
            r#"{"id": 7, "addresses": [{"field": "SHIPPING", "line1": {"a": 1}, "line2": [1], "locality": true,
                "region": 12, "postal_code": null, "country_code": -0}]}"#,
        ];
        for text in texts {
            if serde_json::from_str::<Value>(text).is_err() {
                assert!(write(contacts, text.as_bytes(), true).is_none(), "not JSON: {text}");
                continue;
            }
            for drop_nulls in [true, false] {
                let fast = write(contacts, text.as_bytes(), drop_nulls).expect("an object");
                let tree = through_the_tree(contacts, text.as_bytes(), drop_nulls);
                assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&tree), "{text}");
            }
        }
    }

    #[test]
    fn an_answer_that_is_not_an_object_or_has_a_key_written_with_escapes_is_left_to_the_tree_path() {
        let (_, contacts) = ObjectCatalog::builtin().object("infusionsoftcrm", "contacts").unwrap();
        let escaped_nested_key = r#"{"id": 7, "addresses": [{"field": "BILLING", "line\u0031": "x"}]}"#;
        let escaped_key = r#"{"id": 7, "family\u005fname": "Hopper"}"#;
        for text in
            ["[]", "null", "", "7", "{\"id\": 7", "{\"id\": tru}", "{\"id\": 7} 8", escaped_key, escaped_nested_key]
        {
            assert!(write(contacts, text.as_bytes(), true).is_none(), "{text}");
        }
    }

    #[test]
    fn names_are_written_as_serde_json_writes_them() {
        for name in ["Id", "", "a b", "caf\u{e9} \u{2615}", "quo\"te", "back\\slash", "tab\t", "nul\u{0}", "del\u{7f}"]
        {
            let mut out = Vec::new();
            write_name(&mut out, name);
            assert_eq!(out, serde_json::to_vec(name).unwrap(), "{name:?}");
        }
    }

    #[test]
    fn integers_are_copied_only_when_written_back_alike() {
        for (text, plain) in [("0", true), ("42", true), ("-7", true), ("-0", false), ("007", false), ("1.0", false)] {
            assert_eq!(is_plain_integer(text), plain, "{text}");
        }
        assert!(!is_plain_integer("1234567890123456789"), "past 18 digits");
    }
}
