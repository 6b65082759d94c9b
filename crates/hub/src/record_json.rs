//! One record read alone (`GET /hubs/{hub}/{object}/{id}`), written as the hub's JSON straight from
//! the vendor's JSON text: the same bytes as [`mapping::to_hub`], then [`crate::shape::shape`], then
//! serialized, without the vendor's record built as a tree nor the hub's.
//!
//! The vendor's record is read as the text of each top-level value a field reads, borrowed from
//! the answer; other values are skipped. A field read as the vendor has it (one key, no money, no
//! conversion, a value already of the field's type and written as serde_json would write it
//! again: a string without escapes, an integer, `true` or `false`) is copied as that text. A field
//! two steps down (`company.id`, `addresses[field=BILLING].line1`) is found the same way one level
//! further: a top-level value only such fields read is read as keys and text in the same pass as
//! the answer, once for all the fields under it, and each selection (`[field=BILLING]`) is made
//! once. Every other field parses only the value of its top-level key and goes through
//! [`mapping::read::hub_value_of`], the tree path's own code. Which keys are read how and where
//! each field finds its value is the object's [`ReadPlan`], kept for the objects of the built-in
//! catalog: a read looks each of the answer's keys up once, rather than each field searching the
//! answer's keys. An answer that is not a JSON object, or that has a key written with escapes where
//! it is read as keys, is left to the tree path ([`write`] returns `None`).

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use foldhash::fast::RandomState;
use mapping::path::{selector_matches, Step};
use mapping::read::hub_value_of;
use mapping::{FieldDef, FieldType, ObjectCatalog, ObjectDef};
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
    let owned;
    let plan = match ReadPlan::kept(object) {
        Some(plan) => plan,
        None => {
            owned = ReadPlan::new(object);
            &owned
        }
    };
    let values = RawRecord::parse(text, plan)?;
    let chosen: Vec<Option<&RawObject<'_>>> =
        plan.selections.iter().map(|selection| values.select(selection)).collect();
    let mut parsed: Vec<Option<Option<Value>>> = Vec::new();
    let mut outs: Vec<Out<'_>> = Vec::with_capacity(object.fields.len());
    for (field, source) in object.fields.iter().zip(&plan.sources) {
        let out = match *source {
            Source::Whole { slot } => match values.raw(slot)? {
                None => Out::Null,
                Some(raw) => copied(field, raw)?,
            },
            Source::Leaf { slot, selection, leaf, copies } => {
                match values.leaf(slot, selection.map(|at| chosen[at]), leaf) {
                    None => Out::Null,
                    Some(raw) if copies => copied(field, raw)?,
                    Some(raw) => Out::of(hub_value_of(field, &serde_json::from_str(raw.get()).ok()?)),
                }
            }
            Source::Tree { slot } => match values.parsed(slot, &mut parsed)? {
                None => Out::Null,
                Some(top) => {
                    Out::of(field.path.get_from_top(top).map_or(Value::Null, |value| hub_value_of(field, value)))
                }
            },
        };
        outs.push(out);
    }
    // As `to_hub` collects into a map: ordered by name, the last of a name kept.
    let mut fields: Vec<(&str, &Out<'_>)> = Vec::with_capacity(plan.order.len() + 1);
    fields.extend(plan.order.iter().map(|&at| (object.fields[at].name.as_str(), &outs[at])));
    add_generic_id(&mut fields, &object.id_field);
    if drop_nulls {
        fields.retain(|(_, out)| !out.is_null());
    }
    Some(written(&fields))
}

/// A field's value as the vendor's text when that is what the hub writes, else through
/// [`hub_value_of`]; `None` when the text does not parse.
fn copied<'a>(field: &FieldDef, raw: &'a RawValue) -> Option<Out<'a>> {
    match copies_as_is(field.field_type, raw.get()) {
        true => Some(Out::Text(raw.get())),
        false => serde_json::from_str(raw.get()).ok().map(|value| Out::of(hub_value_of(field, &value))),
    }
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

/// How the records of one object are read: each top-level key a field reads, each selection
/// two-step paths make, where each field's value comes from, and the fields' order in the answer.
/// Worked out once for each object of the built-in catalog ([`ReadPlan::kept`]), which never
/// changes, and on every call for any other object, which may.
struct ReadPlan<'o> {
    /// The top-level keys some field reads, each to its slot.
    slots: HashMap<&'o str, usize, RandomState>,
    /// By slot: whether only two-step paths read the key, so that its value is read as keys and
    /// text one level down while the answer is read, rather than skipped as text and read again.
    nested: Vec<bool>,
    /// The selections two-step paths make (`addresses[field=BILLING]`), each made once per record.
    selections: Vec<Selection<'o>>,
    /// By field, in definition order.
    sources: Vec<Source<'o>>,
    /// The fields in the answer's order: by name, the last field of a name.
    order: Vec<usize>,
}

/// `key[property=value]`: the first element of the array under the key `slot` names whose
/// `property` is `value`.
struct Selection<'o> {
    slot: usize,
    property: &'o str,
    value: &'o str,
}

/// Where a field's value comes from.
#[derive(Clone, Copy)]
enum Source<'o> {
    /// A top-level key's whole value: the vendor's text when it is what the hub writes, else
    /// through [`hub_value_of`].
    Whole { slot: usize },
    /// `key.leaf`, or `key[property=value].leaf` (`selection`), under a key only such paths read:
    /// the vendor's text when `copies` (no money, no conversion) and it is what the hub writes.
    Leaf { slot: usize, selection: Option<usize>, leaf: &'o str, copies: bool },
    /// Any other path, or one with money or a conversion: the top-level value parsed once, and the
    /// tree path's own code.
    Tree { slot: usize },
}

impl<'o> ReadPlan<'o> {
    /// `object`'s plan, when it is an object of the built-in catalog.
    fn kept(object: &ObjectDef) -> Option<&'static ReadPlan<'static>> {
        static BUILTIN: OnceLock<HashMap<usize, ReadPlan<'static>>> = OnceLock::new();
        let builtin = BUILTIN.get_or_init(|| {
            let every = ObjectCatalog::builtin().every_object();
            every.into_iter().map(|object| (address(object), ReadPlan::new(object))).collect()
        });
        // The catalog is never freed nor changed: no other object has one of its addresses.
        builtin.get(&address(object))
    }

    fn new(object: &'o ObjectDef) -> Self {
        let nested = nested_only_keys(object);
        let mut plan = ReadPlan {
            slots: HashMap::with_capacity_and_hasher(object.fields.len(), RandomState::default()),
            nested: Vec::new(),
            selections: Vec::new(),
            sources: Vec::with_capacity(object.fields.len()),
            order: Vec::with_capacity(object.fields.len()),
        };
        for field in &object.fields {
            let top = field.path.top_key();
            let slot = match plan.slots.get(top) {
                Some(&slot) => slot,
                None => {
                    plan.slots.insert(top, plan.nested.len());
                    plan.nested.push(nested.contains(&top));
                    plan.nested.len() - 1
                }
            };
            let copies = field.money.is_none() && field.conversion.is_none();
            let source = match (field.path.steps(), plan.nested[slot]) {
                ([Step::Key(_)], _) if copies => Source::Whole { slot },
                ([Step::Key(_), Step::Key(leaf)], true) => Source::Leaf { slot, selection: None, leaf, copies },
                ([Step::Select { property, value, .. }, Step::Key(leaf)], true) => {
                    let known = plan.selections.iter().position(|selection| {
                        selection.slot == slot && selection.property == property && selection.value == value
                    });
                    let selection = known.unwrap_or_else(|| {
                        plan.selections.push(Selection { slot, property, value });
                        plan.selections.len() - 1
                    });
                    Source::Leaf { slot, selection: Some(selection), leaf, copies }
                }
                _ => Source::Tree { slot },
            };
            plan.sources.push(source);
        }
        let by_name = object.fields_by_name();
        for (position, &at) in by_name.iter().enumerate() {
            let name = &object.fields[at].name;
            if by_name.get(position + 1).is_none_or(|&next| object.fields[next].name != *name) {
                plan.order.push(at);
            }
        }
        plan
    }
}

/// Where an object is: the built-in catalog's plans are kept by it.
fn address(object: &ObjectDef) -> usize {
    std::ptr::from_ref(object) as usize
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

/// The top-level keys `object`'s fields read only through two-step paths.
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

/// The vendor's record as the values of the plan's keys, by slot: each as its text, or, for the
/// keys only two-step paths read, as keys and text one level down. A key repeated keeps its last
/// value, as a parse into a map does.
struct RawRecord<'a> {
    values: Vec<Option<Entry<'a>>>,
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
    /// `text` read as an object by `plan`; `None` when it is not an object or has a key written
    /// with escapes at either level.
    fn parse(text: &'a str, plan: &ReadPlan<'_>) -> Option<Self> {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let values = RecordSeed { plan }.deserialize(&mut deserializer).ok()?;
        deserializer.end().ok()?;
        Some(RawRecord { values })
    }

    /// The text of the value in `slot` (`Some(None)`: no such key); `None` when it was read one
    /// level down, which the plan gives only to two-step paths.
    fn raw(&self, slot: usize) -> Option<Option<&'a RawValue>> {
        match &self.values[slot] {
            None => Some(None),
            Some(Entry::Text(raw)) => Some(Some(*raw)),
            Some(Entry::Nested(_)) => None,
        }
    }

    /// The value in `slot` parsed (`Some(None)`: no such key), parsed once for all the fields that
    /// read it; `None` when its text does not parse, which the parse of the whole answer would not
    /// have allowed.
    fn parsed<'p>(&self, slot: usize, parsed: &'p mut Vec<Option<Option<Value>>>) -> Option<Option<&'p Value>> {
        if parsed.len() <= slot {
            parsed.resize_with(self.values.len(), || None);
        }
        if parsed[slot].is_none() {
            let value = match self.raw(slot)? {
                Some(raw) => Some(serde_json::from_str(raw.get()).ok()?),
                None => None,
            };
            parsed[slot] = Some(value);
        }
        parsed[slot].as_ref().map(Option::as_ref)
    }

    /// The element `selection` picks, if any.
    fn select(&self, selection: &Selection<'_>) -> Option<&RawObject<'a>> {
        let Some(Entry::Nested(Nested::Array(elements))) = &self.values[selection.slot] else { return None };
        elements
            .iter()
            .flatten()
            .find(|element| element.get(selection.property).is_some_and(|found| property_is(found, selection.value)))
    }

    /// The text at a two-step path under `slot` (`None`: nothing there, as
    /// [`VendorPath::get_from_top`] finds nothing): `leaf` of the object under the key, or of the
    /// element `chosen` when the path selects one (`chosen` is `Some`).
    fn leaf(&self, slot: usize, chosen: Option<Option<&RawObject<'a>>>, leaf: &str) -> Option<&'a RawValue> {
        match (&self.values[slot], chosen) {
            (Some(Entry::Nested(Nested::Object(object))), None) => object.get(leaf),
            (Some(Entry::Nested(Nested::Array(_))), Some(element)) => element.and_then(|element| element.get(leaf)),
            _ => None,
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

/// Reads the answer's object for [`RawRecord::parse`]: the values of the plan's keys into their
/// slots, one level down for its nested keys, and every other value skipped.
struct RecordSeed<'p, 'o> {
    plan: &'p ReadPlan<'o>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_> {
    type Value = Vec<Option<Entry<'de>>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_, '_> {
    type Value = Vec<Option<Entry<'de>>>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values: Vec<Option<Entry<'de>>> = Vec::with_capacity(self.plan.nested.len());
        values.resize_with(self.plan.nested.len(), || None);
        while let Some(key) = map.next_key::<&'de str>()? {
            match self.plan.slots.get(key) {
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(&slot) if self.plan.nested[slot] => values[slot] = Some(Entry::Nested(map.next_value()?)),
                Some(&slot) => values[slot] = Some(Entry::Text(map.next_value()?)),
            }
        }
        Ok(values)
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

    /// Every object of both catalogs, and their children.
    fn objects() -> Vec<(String, &'static ObjectDef)> {
        let catalog = ObjectCatalog::builtin();
        let mut objects: Vec<(String, &'static ObjectDef)> = ["infusionsoftcrm", "infusionsofterp"]
            .into_iter()
            .flat_map(|element| {
                catalog.objects(element).map(move |(name, object)| (format!("{element}/{name}"), object))
            })
            .collect();
        let mut next = 0;
        while let Some((name, object)) = objects.get(next).cloned() {
            objects.extend(object.children.iter().map(|(child, object)| (format!("{name}/{child}"), object)));
            next += 1;
        }
        objects
    }

    #[test]
    fn the_plans_of_the_builtin_objects_are_kept_and_any_other_objects_are_not() {
        let objects = objects();
        assert!(objects.iter().any(|(name, _)| name.matches('/').count() == 2), "children among them");
        for (name, object) in &objects {
            assert!(ReadPlan::kept(object).is_some(), "{name}");
            let copy = (*object).clone();
            assert!(ReadPlan::kept(&copy).is_none(), "{name}: a copy may be changed");
        }
    }

    #[test]
    fn a_copy_of_a_builtin_object_changed_afterwards_is_read_by_its_own_fields() {
        let (_, contacts) = ObjectCatalog::builtin().object("infusionsoftcrm", "contacts").unwrap();
        let text = br#"{"id": 7, "given_name": "Ada", "family_name": "Lovelace", "company": {"id": 3}}"#;
        let mut changed = contacts.clone();
        for field in &mut changed.fields {
            match field.name.as_str() {
                "FirstName" => field.path = mapping::VendorPath::parse("family_name").unwrap(),
                "CompanyID" => field.name = "Employer".into(),
                _ => {}
            }
        }
        let fast = String::from_utf8(write(&changed, text, true).unwrap()).unwrap();
        assert_eq!(fast, String::from_utf8(through_the_tree(&changed, text, true)).unwrap());
        assert!(fast.contains(r#""Employer":3"#) && fast.contains(r#""FirstName":"Lovelace""#), "{fast}");
        let builtin = String::from_utf8(write(contacts, text, true).unwrap()).unwrap();
        assert!(builtin.contains(r#""CompanyID":3"#) && builtin.contains(r#""FirstName":"Ada""#), "{builtin}");
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
