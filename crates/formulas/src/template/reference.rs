//! `${...}` references in a formula's string properties, and the resolver that replaces them with
//! values from an execution's context. No evaluation: a reference is a path, nothing more.
//!
//! The context is one JSON object: `{"config": {...}, "steps": {...}, "trigger": {...},
//! "info": {...}}`, built by whoever runs the execution. A reference is `${root.a.b[0].c}`:
//!
//! - `config.<slot>...`: a configuration slot. Slot keys may hold dots (`max.count`), so the
//!   longest slot key that the path starts with wins; the same holds for step names under `steps`.
//! - `steps.<name>...`: an earlier step's output; `trigger...` and `info...` as named.
//! - any other first name is the platforms' shorter form of `config.<name>` (`${crm}`).
//! - the platforms' legacy `${<slot>.instance.id}` reads as the slot's value itself.
//!
//! Resolving a string that is exactly one reference gives the value with its JSON type (an object
//! stays an object); a string with text around references gives a string, each reference replaced
//! by its string value as is and any other value as JSON text (`null`, `12`, `{"a":1}`). A `${`
//! with no closing `}` is literal text. A reference to nothing is an error, never an empty string.

use serde_json::{Map, Value};

/// A part of a reference's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    /// `.name` (or the first name).
    Key(&'a str),
    /// `[n]`.
    Index(usize),
}

/// Which part of the context a reference starts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceRoot {
    /// `${config...}`: the formula instance's slot values.
    Config,
    /// `${steps...}`: earlier steps' outputs by name.
    Steps,
    /// `${trigger...}`: what started the execution.
    Trigger,
    /// `${info...}`: the formula, instance and execution ids.
    Info,
    /// `${<slot>...}`: the shorter form of `${config.<slot>...}`.
    Shorthand,
}

/// One `${...}` found in a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    /// The text between `${` and `}`.
    pub text: &'a str,
    /// Byte range of the whole `${...}` in the string searched.
    pub span: std::ops::Range<usize>,
}

impl<'a> Reference<'a> {
    /// Every `${...}` in `s`, in order.
    pub fn find_all(s: &'a str) -> Vec<Reference<'a>> {
        let mut found = Vec::new();
        let mut from = 0;
        while let Some(start) = s[from..].find("${").map(|i| i + from) {
            let Some(len) = s[start + 2..].find('}') else {
                break;
            };
            let end = start + 2 + len + 1;
            found.push(Reference { text: &s[start + 2..end - 1], span: start..end });
            from = end;
        }
        found
    }

    /// Where the reference starts.
    pub fn root(&self) -> ReferenceRoot {
        match self.text.split(['.', '[']).next().unwrap_or_default().trim() {
            "config" => ReferenceRoot::Config,
            "steps" => ReferenceRoot::Steps,
            "trigger" => ReferenceRoot::Trigger,
            "info" => ReferenceRoot::Info,
            _ => ReferenceRoot::Shorthand,
        }
    }

    /// The path after the root (`config.crm.x` → `crm.x`; a shorthand's whole text), or `None`
    /// when nothing follows the root (`${config}`).
    pub fn rest(&self) -> Option<&'a str> {
        let text = self.text.trim();
        match self.root() {
            ReferenceRoot::Shorthand => (!text.is_empty()).then_some(text),
            _ => {
                let root_len = text.find(['.', '[']).unwrap_or(text.len());
                let rest = text[root_len..].trim_start_matches('.');
                (!rest.is_empty()).then_some(rest)
            }
        }
    }
}

/// The slot an `elementInstanceId` names: `${config.<slot>}`, `${<slot>}`, or the legacy
/// `${<slot>.instance.id}`; gives the path text, to be matched against slot keys with
/// [`match_key`]. `None` when the value is not one whole reference.
pub fn slot_reference(value: &str) -> Option<&str> {
    let refs = Reference::find_all(value);
    let [only] = refs.as_slice() else {
        return None;
    };
    if only.span != (0..value.len()) {
        return None;
    }
    match only.root() {
        ReferenceRoot::Config | ReferenceRoot::Shorthand => only.rest(),
        _ => None,
    }
}

/// The longest of `keys` that `path` starts with (as a whole name: followed by nothing, `.` or
/// `[`), and the rest of the path after it.
pub fn match_key<'k, 'p>(path: &'p str, keys: impl IntoIterator<Item = &'k str>) -> Option<(&'k str, &'p str)> {
    keys.into_iter()
        .filter(|k| path.strip_prefix(*k).is_some_and(|r| r.is_empty() || r.starts_with('.') || r.starts_with('[')))
        .max_by_key(|k| k.len())
        .map(|k| (k, path[k.len()..].trim_start_matches('.')))
}

/// Why a reference could not be resolved.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    /// The path leads to no value in the context.
    #[error("`${{{reference}}}` names nothing: {reason}")]
    Missing { reference: String, reason: String },
    /// The reference's text is not a path.
    #[error("`${{{reference}}}` is not a path (expected names separated by '.', or [n])")]
    BadPath { reference: String },
}

/// Resolves every reference in `template` against `context` (see the module docs for the rules).
pub fn resolve_string(template: &str, context: &Value) -> Result<Value, ResolveError> {
    let refs = Reference::find_all(template);
    if let [only] = refs.as_slice() {
        if only.span == (0..template.len()) {
            return lookup(only, context).cloned();
        }
    }
    let mut out = String::with_capacity(template.len());
    let mut at = 0;
    for r in &refs {
        out.push_str(&template[at..r.span.start]);
        match lookup(r, context)? {
            Value::String(s) => out.push_str(s),
            other => out.push_str(&other.to_string()),
        }
        at = r.span.end;
    }
    out.push_str(&template[at..]);
    Ok(Value::String(out))
}

/// Resolves every string inside `value` (object keys are left alone).
pub fn resolve_value(value: &Value, context: &Value) -> Result<Value, ResolveError> {
    Ok(match value {
        Value::String(s) => resolve_string(s, context)?,
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve_value(v, context)).collect::<Result<_, _>>()?),
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, v)| Ok((k.clone(), resolve_value(v, context)?))).collect::<Result<Map<_, _>, _>>()?,
        ),
        other => other.clone(),
    })
}

fn lookup<'c>(r: &Reference<'_>, context: &'c Value) -> Result<&'c Value, ResolveError> {
    let missing = |reason: String| ResolveError::Missing { reference: r.text.to_owned(), reason };
    let root_name = match r.root() {
        ReferenceRoot::Config | ReferenceRoot::Shorthand => "config",
        ReferenceRoot::Steps => "steps",
        ReferenceRoot::Trigger => "trigger",
        ReferenceRoot::Info => "info",
    };
    let root = context.get(root_name).ok_or_else(|| missing(format!("the context has no `{root_name}`")))?;
    let Some(rest) = r.rest() else {
        return Ok(root);
    };
    // Under `config` and `steps` the first name may hold dots: match the longest key.
    let (start, rest) = match (r.root(), root.as_object()) {
        (ReferenceRoot::Trigger | ReferenceRoot::Info, _) | (_, None) => (root, rest),
        (_, Some(map)) => {
            let (key, rest) = match_key(rest, map.keys().map(String::as_str))
                .ok_or_else(|| missing(format!("`{root_name}` has no `{}`", first_name(rest))))?;
            let value = &map[key];
            // The platforms' legacy `${<slot>.instance.id}`: the slot holds the instance id itself.
            if r.root() != ReferenceRoot::Steps && rest == "instance.id" && !value.is_object() {
                return Ok(value);
            }
            (value, rest)
        }
    };
    walk(start, rest).map_err(|e| match e {
        Walk::BadPath => ResolveError::BadPath { reference: r.text.to_owned() },
        Walk::Missing(at) => missing(format!("nothing at `{at}`")),
    })
}

fn first_name(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

enum Walk {
    BadPath,
    Missing(String),
}

fn walk<'c>(mut value: &'c Value, path: &str) -> Result<&'c Value, Walk> {
    for segment in parse_path(path).ok_or(Walk::BadPath)? {
        let next = match (segment, value) {
            (Segment::Key(k), Value::Object(map)) => map.get(k),
            (Segment::Index(i), Value::Array(items)) => items.get(i),
            (Segment::Index(i), Value::Object(map)) => map.get(&i.to_string()),
            _ => None,
        };
        value = next.ok_or_else(|| Walk::Missing(path.to_owned()))?;
    }
    Ok(value)
}

/// `a.b[0].c` → `[Key(a), Key(b), Index(0), Key(c)]`; `None` for an empty name or a bad index.
pub fn parse_path(path: &str) -> Option<Vec<Segment<'_>>> {
    let mut segments = Vec::new();
    if path.is_empty() {
        return Some(segments);
    }
    for part in path.split('.') {
        let (name, mut indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            segments.push(Segment::Key(name));
        } else if indexes.is_empty() {
            return None;
        }
        while !indexes.is_empty() {
            let close = indexes.find(']')?;
            let index = indexes.get(1..close)?.trim().parse().ok()?;
            segments.push(Segment::Index(index));
            indexes = &indexes[close + 1..];
            if !indexes.is_empty() && !indexes.starts_with('[') {
                return None;
            }
        }
    }
    Some(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> Value {
        json!({
            "config": {"crm": 12, "max.count": "5", "target": {"id": 3}},
            "steps": {"get-contact": {"response": {"body": {"id": 7, "emails": ["a@b.c"]}}}},
            "trigger": {"event": {"objectId": "99", "eventType": "UPDATED"}},
            "info": {"formulaId": 1}
        })
    }

    #[test]
    fn a_whole_reference_keeps_its_json_type() {
        let v = resolve_string("${steps.get-contact.response.body}", &ctx()).unwrap();
        assert_eq!(v, json!({"id": 7, "emails": ["a@b.c"]}));
        assert_eq!(resolve_string("${config.crm}", &ctx()).unwrap(), json!(12));
        assert_eq!(resolve_string("${crm}", &ctx()).unwrap(), json!(12));
        assert_eq!(resolve_string("${crm.instance.id}", &ctx()).unwrap(), json!(12));
        assert_eq!(resolve_string("${config.max.count}", &ctx()).unwrap(), json!("5"));
        assert_eq!(resolve_string("${config.target.id}", &ctx()).unwrap(), json!(3));
    }

    #[test]
    fn text_around_references_makes_a_string() {
        let v = resolve_string(
            "/contacts/${trigger.event.objectId}?n=${config.crm}&e=${steps.get-contact.response.body.emails[0]}",
            &ctx(),
        )
        .unwrap();
        assert_eq!(v, json!("/contacts/99?n=12&e=a@b.c"));
        assert_eq!(resolve_string("no refs ${ here", &ctx()).unwrap(), json!("no refs ${ here"));
    }

    #[test]
    fn a_reference_to_nothing_is_an_error_naming_it() {
        let e = resolve_string("${steps.nope.body}", &ctx()).unwrap_err();
        assert_eq!(e.to_string(), "`${steps.nope.body}` names nothing: `steps` has no `nope`");
        let e = resolve_string("x ${trigger.event.missing}", &ctx()).unwrap_err();
        assert!(e.to_string().contains("trigger.event.missing"), "{e}");
        let e = resolve_string("${trigger.event[x]}", &ctx()).unwrap_err();
        assert!(matches!(e, ResolveError::BadPath { .. }), "{e}");
    }

    #[test]
    fn values_resolve_deeply() {
        let v =
            resolve_value(&json!({"id": "${trigger.event.objectId}", "list": ["${crm}", 1, null]}), &ctx()).unwrap();
        assert_eq!(v, json!({"id": "99", "list": [12, 1, null]}));
    }

    #[test]
    fn slot_references_in_element_instance_ids() {
        assert_eq!(slot_reference("${config.crm}"), Some("crm"));
        assert_eq!(slot_reference("${crm}"), Some("crm"));
        assert_eq!(slot_reference("${crm.instance.id}"), Some("crm.instance.id"));
        assert_eq!(slot_reference("12"), None);
        assert_eq!(slot_reference("x${crm}"), None);
        assert_eq!(slot_reference("${steps.a}"), None);
        assert_eq!(match_key("max.count", ["max", "max.count"]), Some(("max.count", "")));
        assert_eq!(match_key("crm.instance.id", ["crm"]), Some(("crm", "instance.id")));
        assert_eq!(match_key("crmx", ["crm"]), None);
    }
}
