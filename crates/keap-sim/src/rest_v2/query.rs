//! The v2 list parameters: `filter` (clauses `field<op>value` joined by `;`, `*` prefix wildcards on
//! the fields that allow them), `order_by` (`field [asc|desc]`), `page_size` and `page_token`.
//! Every problem is a 400 naming the parameter and what is wrong with it.
//!
//! The API is gRPC transcoded, so an empty parameter (and `page_size=0`) is proto3's unset value:
//! not given. The document types `filter` and `order_by` as any string; the simulator keeps the
//! grammar their descriptions state, over the fields each resource implements, and
//! `vendor/readings.yml` says so as a pattern per operation (generated from the fields in
//! `resources.rs` and `tagging.rs`: keep them in step). A `page_token` is opaque: only one the simulator issued for the same query pages
//! on, anything else is a 400 (a refusal no schema can state, excused by name in
//! `.ci/vendor_conformance_hooks.py`).

use super::resources::{FilterField, FilterKind};
use crate::clock::parse_iso;
use crate::errors::ApiError;
use crate::http_util::QueryParams;
use crate::json_path::{as_text, values_at};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

/// A comparison operator of the filter grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// One parsed `field<op>value` clause.
#[derive(Debug, Clone)]
pub struct Clause {
    pub field: &'static FilterField,
    pub op: Op,
    pub value: String,
}

/// A list parameter's value; `None` when absent or empty. The v2 API is gRPC transcoded: in proto3
/// an empty string is the unset default, so `filter=`, `order_by=` and `page_token=` mean "not
/// given" (as `page_size=0` does).
pub fn given<'a>(params: &'a QueryParams, key: &str) -> Option<&'a str> {
    params.get(key).filter(|v| !v.is_empty())
}

/// Parses a `filter` over `filters` (a resource's, or a listing's of its own).
pub fn parse_filter(filters: &'static [FilterField], raw: &str) -> Result<Vec<Clause>, ApiError> {
    let mut clauses = Vec::new();
    for part in raw.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        clauses.push(parse_clause(filters, part)?);
    }
    Ok(clauses)
}

fn parse_clause(filters: &'static [FilterField], part: &str) -> Result<Clause, ApiError> {
    const OPS: [(&str, Op); 6] =
        [("==", Op::Eq), ("!=", Op::Ne), (">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)];
    let found = part
        .char_indices()
        .find_map(|(i, _)| OPS.iter().find(|(s, _)| part[i..].starts_with(s)).map(|(s, op)| (i, *s, *op)));
    let Some((at, symbol, op)) = found else {
        return Err(ApiError::bad_request(format!("Invalid filter '{part}': expected field==value")));
    };
    let name = part[..at].trim();
    let value = part[at + symbol.len()..].trim().to_string();
    let Some(field) = filters.iter().find(|f| f.name == name) else {
        let allowed: Vec<&str> = filters.iter().map(|f| f.name).collect();
        return Err(ApiError::bad_request(format!(
            "Invalid filter field '{name}'. Allowed fields: {}",
            allowed.join(", ")
        )));
    };
    if value.is_empty() {
        return Err(ApiError::bad_request(format!("Invalid filter: {name} needs a value")));
    }
    check_operator(field, op)?;
    check_value(field, &value)?;
    Ok(Clause { field, op, value })
}

fn check_operator(field: &FilterField, op: Op) -> Result<(), ApiError> {
    let comparable = matches!(field.kind, FilterKind::Number);
    if op == Op::Eq || comparable {
        return Ok(());
    }
    Err(ApiError::bad_request(format!("Invalid filter: {} only supports the == operator", field.name)))
}

fn check_value(field: &FilterField, value: &str) -> Result<(), ApiError> {
    let ok = match field.kind {
        FilterKind::Number => value.parse::<f64>().is_ok(),
        FilterKind::IdSet => value.split(',').all(|id| crate::records::parse_id(id.trim()).is_some()),
        FilterKind::Bool | FilterKind::Switch | FilterKind::Present | FilterKind::Paid => {
            value == "true" || value == "false"
        }
        FilterKind::Since | FilterKind::Until => parse_iso(value).is_some(),
        FilterKind::Text | FilterKind::Prefix | FilterKind::Exact | FilterKind::Contains => true,
    };
    if ok {
        return Ok(());
    }
    let expected = match field.kind {
        FilterKind::Number => "a number",
        FilterKind::IdSet => "a comma-separated list of ids",
        FilterKind::Bool => "true or false",
        _ => "an ISO-8601 date-time such as 2026-01-01T00:00:00.000Z",
    };
    Err(ApiError::bad_request(format!("Invalid filter value for {}: expected {expected}", field.name)))
}

/// Whether `record` satisfies every clause.
pub fn matches(record: &Value, clauses: &[Clause]) -> bool {
    clauses.iter().all(|c| clause_matches(record, c))
}

fn clause_matches(record: &Value, clause: &Clause) -> bool {
    let texts: Vec<String> = values_at(record, clause.field.path).into_iter().filter_map(as_text).collect();
    let wanted = clause.value.as_str();
    match clause.field.kind {
        FilterKind::Prefix if wanted.ends_with('*') => {
            let prefix = wanted.trim_end_matches('*').to_lowercase();
            texts.iter().any(|t| t.to_lowercase().starts_with(&prefix))
        }
        FilterKind::Text | FilterKind::Prefix => texts.iter().any(|t| t.eq_ignore_ascii_case(wanted)),
        FilterKind::Contains if wanted.ends_with('*') => {
            let prefix = wanted.trim_end_matches('*').to_lowercase();
            texts.iter().any(|t| t.to_lowercase().starts_with(&prefix))
        }
        FilterKind::Contains => texts.iter().any(|t| t.to_lowercase().contains(&wanted.to_lowercase())),
        FilterKind::Switch => true,
        FilterKind::Present => (wanted == "true") != texts.is_empty(),
        FilterKind::Paid => (wanted == "true") == texts.iter().any(|t| t == "PAID"),
        FilterKind::Exact | FilterKind::Bool => texts.iter().any(|t| t == wanted),
        FilterKind::IdSet => wanted.split(',').any(|id| texts.iter().any(|t| t == id.trim())),
        FilterKind::Number => {
            let Ok(wanted) = wanted.parse::<f64>() else { return false };
            texts.iter().filter_map(|t| t.parse::<f64>().ok()).any(|v| compare(clause.op, v.partial_cmp(&wanted)))
        }
        FilterKind::Since => at_or(texts.first(), wanted, |o| o != Ordering::Less),
        FilterKind::Until => at_or(texts.first(), wanted, |o| o != Ordering::Greater),
    }
}

fn at_or(value: Option<&String>, wanted: &str, accept: impl Fn(Ordering) -> bool) -> bool {
    match (value.and_then(|v| parse_iso(v)), parse_iso(wanted)) {
        (Some(v), Some(w)) => accept(v.cmp(&w)),
        _ => false,
    }
}

fn compare(op: Op, ordering: Option<Ordering>) -> bool {
    let Some(o) = ordering else { return false };
    match op {
        Op::Eq => o == Ordering::Equal,
        Op::Ne => o != Ordering::Equal,
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
    }
}

/// A parsed `order_by`: the record path and whether it is descending.
#[derive(Debug, Clone, Copy)]
pub struct OrderBy {
    pub path: &'static str,
    pub descending: bool,
}

/// Parses `order_by` (`field`, `field asc`, `field desc`; a comma also separates) over `fields`
/// (`order_by` name → record path).
pub fn parse_order_by(fields: &'static [(&'static str, &'static str)], raw: &str) -> Result<OrderBy, ApiError> {
    let mut words = raw.split([' ', ',']).filter(|w| !w.is_empty());
    let field = words.next().unwrap_or("");
    let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!("Invalid order_by direction '{other}': use asc or desc")))
        }
    };
    if words.next().is_some() {
        return Err(ApiError::bad_request("Invalid order_by: expected 'field asc' or 'field desc'"));
    }
    let Some((_, path)) = fields.iter().find(|(name, _)| *name == field) else {
        let allowed: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        return Err(ApiError::bad_request(format!(
            "Invalid order_by field '{field}'. Allowed fields: {}",
            allowed.join(", ")
        )));
    };
    Ok(OrderBy { path, descending })
}

/// Sorts records by `order` (numbers numerically, text case-insensitively, missing values last),
/// ties broken by id so paging is stable. Keys are computed once per record, not per comparison.
pub fn sort(records: &mut Vec<&Value>, order: OrderBy) {
    if order.path == "id" && !order.descending {
        return; // the store already yields records by increasing id
    }
    let mut keyed: Vec<(SortKey, u64, &Value)> =
        records.drain(..).map(|r| (sort_key(r, order.path), id_of(r), r)).collect();
    keyed.sort_by(|(a, a_id, _), (b, b_id, _)| {
        let by_field = match (a, b) {
            // Records without the field come last in either direction.
            (SortKey::Missing, _) | (_, SortKey::Missing) => a.cmp(b),
            _ if order.descending => b.cmp(a),
            _ => a.cmp(b),
        };
        by_field.then_with(|| a_id.cmp(b_id))
    });
    records.extend(keyed.into_iter().map(|(_, _, r)| r));
}

/// A field's value as sortable: numbers before text before missing.
#[derive(Debug)]
enum SortKey {
    Number(f64),
    Text(String),
    Missing,
}

impl SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            SortKey::Number(_) => 0,
            SortKey::Text(_) => 1,
            SortKey::Missing => 2,
        }
    }
}

fn sort_key(record: &Value, path: &str) -> SortKey {
    match values_at(record, path).into_iter().find_map(as_text) {
        None => SortKey::Missing,
        Some(text) => text.parse::<f64>().map(SortKey::Number).unwrap_or_else(|_| SortKey::Text(text.to_lowercase())),
    }
}

pub fn id_of(record: &Value) -> u64 {
    record.get("id").and_then(Value::as_str).and_then(crate::records::parse_id).unwrap_or(0)
}

/// Parses `page_size` against the resource's maximum; absent or empty means the maximum, and so
/// does 0 where `zero_is_default` (proto3's unset value; the document's users list wants 1 or more).
pub fn parse_page_size(raw: Option<&str>, max: usize, zero_is_default: bool) -> Result<usize, ApiError> {
    let Some(raw) = raw.filter(|r| !r.is_empty()) else { return Ok(max) };
    match raw.trim().parse::<i64>() {
        Ok(0) if zero_is_default => Ok(max),
        Ok(n) if n > 0 && n as usize <= max => Ok(n as usize),
        _ => Err(ApiError::bad_request(format!("Invalid page_size '{raw}': must be between 1 and {max}"))),
    }
}

/// Page tokens: the offset of the next page, bound to the query that produced it and signed with
/// the simulator's secret, so a forged or reused-with-another-filter token is a 400.
pub struct PageTokens {
    pub secret: u64,
}

impl PageTokens {
    pub fn issue(&self, query_fingerprint: u64, offset: usize) -> String {
        let payload = format!("{offset}.{query_fingerprint:x}");
        let mac = self.mac(&payload);
        URL_SAFE_NO_PAD.encode(format!("{payload}.{mac:x}"))
    }

    pub fn open(&self, token: &str, query_fingerprint: u64) -> Result<usize, ApiError> {
        let invalid = || ApiError::bad_request("Invalid page_token");
        let decoded = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| invalid())?;
        let text = String::from_utf8(decoded).map_err(|_| invalid())?;
        let (payload, mac) = text.rsplit_once('.').ok_or_else(invalid)?;
        if format!("{:x}", self.mac(payload)) != mac {
            return Err(invalid());
        }
        let (offset, fingerprint) = payload.split_once('.').ok_or_else(invalid)?;
        if fingerprint != format!("{query_fingerprint:x}") {
            return Err(ApiError::bad_request("Invalid page_token: it belongs to a different query"));
        }
        offset.parse().map_err(|_| invalid())
    }

    fn mac(&self, payload: &str) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.secret.hash(&mut hasher);
        payload.hash(&mut hasher);
        hasher.finish()
    }
}

/// Identifies a list query (path, filter, order) so a page token cannot be replayed on another.
pub fn fingerprint(parts: &[&str]) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest_v2::resources::CONTACTS;
    use serde_json::json;

    #[test]
    fn filters_support_wildcards_ids_and_comparisons() {
        let contact =
            json!({"id": "7", "given_name": "Mary", "email_addresses": [{"email": "m@x.com", "field": "EMAIL1"}]});
        let check = |f: &str| matches(&contact, &parse_filter(CONTACTS.filters, f).unwrap());
        assert!(check("given_name==Mar*"));
        assert!(check("given_name==mary"));
        assert!(!check("given_name==Mar"));
        assert!(check("email==m@x.com;given_name==Mary"));
        assert!(check("ids==1,7"));
        assert!(check("contact_id>5"));
        assert!(!check("contact_id<5"));
    }

    #[test]
    fn bad_filters_name_the_problem() {
        let err = |f: &str| parse_filter(CONTACTS.filters, f).unwrap_err().message;
        assert!(err("nickname==x").contains("nickname"));
        assert!(err("given_name>x").contains("=="));
        assert!(err("garbage").contains("expected"));
        assert!(err("ids==1,x").contains("ids"));
        assert!(err("start_update_time==yesterday").contains("ISO-8601"));
    }

    #[test]
    fn page_tokens_reject_forgery_and_other_queries() {
        let tokens = PageTokens { secret: 9 };
        let token = tokens.issue(1, 50);
        assert_eq!(tokens.open(&token, 1).unwrap(), 50);
        assert!(tokens.open(&token, 2).is_err());
        assert!(tokens.open("bm9wZQ", 1).is_err());
        let forged = URL_SAFE_NO_PAD.encode("500.1.0");
        assert!(tokens.open(&forged, 1).is_err());
    }
}
