//! Evaluating a resolved `where` over one hub row (a JSON object keyed by canonical field names).
//!
//! Semantics:
//! - The comparison is chosen by the literal, except on `DateTime` fields (field type set by
//!   `check`), where both sides are read as instants; a row value that is not a date-time makes the
//!   comparison false.
//! - Strings compare ASCII case-insensitively: equality with `eq_ignore_ascii_case`, ordering on the
//!   ASCII-lowercased text; `LIKE` too. The vendor's own filters ignore case, and a pushed-down
//!   filter must return a superset of what the hub keeps. Numbers and booleans in the row are read as
//!   their JSON text for string comparisons.
//! - Numbers compare numerically; a JSON string holding a finite number counts as that number (ids
//!   may arrive as strings).
//! - Booleans: JSON `true`/`false`, or the strings `true`/`false` in any case; `false < true`.
//! - Any comparison with a null or absent value is false, `!=`, `NOT LIKE` and `NOT IN` included.
//!   `IS NULL` holds for null or absent. `NOT` is plain negation of its operand's result.

use crate::ast::{CmpOp, Expr, ExprKind, FieldRef, Lit, Literal};
use crate::instant::parse_instant;
use crate::like::like_matches;
use crate::schema::FieldType;
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// Whether `row` satisfies `expr`.
pub fn matches(expr: &Expr, row: &Map<String, Value>) -> bool {
    match &expr.kind {
        ExprKind::Compare { field, op, value } => compare_field(row, field, *op, value),
        ExprKind::Like { field, pattern, negated } => like_field(row, field, pattern, *negated),
        ExprKind::In { field, values, negated } => in_field(row, field, values, *negated),
        ExprKind::IsNull { field, negated } => value_of(row, field).is_none() != *negated,
        ExprKind::Not(operand) => !matches(operand, row),
        ExprKind::And(operands) => operands.iter().all(|operand| matches(operand, row)),
        ExprKind::Or(operands) => operands.iter().any(|operand| matches(operand, row)),
    }
}

/// The row's value for `field`, `None` when absent or null.
fn value_of<'r>(row: &'r Map<String, Value>, field: &FieldRef) -> Option<&'r Value> {
    row.get(&field.name).filter(|value| !value.is_null())
}

fn compare_field(row: &Map<String, Value>, field: &FieldRef, op: CmpOp, lit: &Lit) -> bool {
    let Some(value) = value_of(row, field) else { return false };
    ordering(value, field.ty, &lit.value).is_some_and(|order| op_accepts(op, order))
}

fn in_field(row: &Map<String, Value>, field: &FieldRef, values: &[Lit], negated: bool) -> bool {
    let Some(value) = value_of(row, field) else { return false };
    let found = values.iter().any(|lit| ordering(value, field.ty, &lit.value) == Some(Ordering::Equal));
    found != negated
}

fn like_field(row: &Map<String, Value>, field: &FieldRef, pattern: &Lit, negated: bool) -> bool {
    let (Some(value), Literal::Str(pattern)) = (value_of(row, field), &pattern.value) else { return false };
    let Some(text) = as_text(value) else { return false };
    like_matches(&text, pattern) != negated
}

/// How the row value orders against the literal, `None` when they cannot be compared.
fn ordering(value: &Value, ty: Option<FieldType>, lit: &Literal) -> Option<Ordering> {
    match lit {
        Literal::Str(wanted) if ty == Some(FieldType::DateTime) => {
            let have = parse_instant(value.as_str()?)?;
            Some(have.cmp(&parse_instant(wanted)?))
        }
        Literal::Str(wanted) => Some(compare_text(&as_text(value)?, wanted)),
        Literal::Num(wanted) => as_number(value)?.partial_cmp(wanted),
        Literal::Bool(wanted) => Some(as_bool(value)?.cmp(wanted)),
    }
}

fn op_accepts(op: CmpOp, order: Ordering) -> bool {
    match op {
        CmpOp::Eq => order == Ordering::Equal,
        CmpOp::Ne => order != Ordering::Equal,
        CmpOp::Lt => order == Ordering::Less,
        CmpOp::Le => order != Ordering::Greater,
        CmpOp::Gt => order == Ordering::Greater,
        CmpOp::Ge => order != Ordering::Less,
    }
}

fn compare_text(have: &str, wanted: &str) -> Ordering {
    if have.eq_ignore_ascii_case(wanted) {
        return Ordering::Equal;
    }
    have.to_ascii_lowercase().cmp(&wanted.to_ascii_lowercase())
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn as_number(value: &Value) -> Option<f64> {
    let number = match value {
        Value::Number(number) => number.as_f64()?,
        Value::String(text) => text.parse::<f64>().ok()?,
        _ => return None,
    };
    number.is_finite().then_some(number)
}

fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) if text.eq_ignore_ascii_case("true") => Some(true),
        Value::String(text) if text.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}
