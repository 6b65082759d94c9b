//! Helpers shared by the CEQL integration tests: a compact rendering of trees for assertions and a
//! small contact schema.

use ceql::{CmpOp, Expr, ExprKind, FieldInfo, FieldType, Lit, Literal, PushKind, Pushdown};
use std::collections::BTreeMap;

/// Renders a tree as a fully parenthesised s-expression, e.g. `(and (= Email 'a') (null X))`.
pub fn show(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Compare { field, op, value } => format!("({} {} {})", op_text(*op), field.name, lit(value)),
        ExprKind::Like { field, pattern, negated } => {
            format!("({} {} {})", if *negated { "notlike" } else { "like" }, field.name, lit(pattern))
        }
        ExprKind::In { field, values, negated } => {
            let values: Vec<String> = values.iter().map(lit).collect();
            format!("({} {} {})", if *negated { "notin" } else { "in" }, field.name, values.join(" "))
        }
        ExprKind::IsNull { field, negated } => {
            format!("({} {})", if *negated { "notnull" } else { "null" }, field.name)
        }
        ExprKind::Not(operand) => format!("(not {})", show(operand)),
        ExprKind::And(operands) => format!("(and {})", operands.iter().map(show).collect::<Vec<_>>().join(" ")),
        ExprKind::Or(operands) => format!("(or {})", operands.iter().map(show).collect::<Vec<_>>().join(" ")),
    }
}

fn op_text(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

fn lit(lit: &Lit) -> String {
    match &lit.value {
        Literal::Str(text) => format!("'{text}'"),
        Literal::Num(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
    }
}

/// Parses and renders, panicking with the error on failure.
pub fn parsed(input: &str) -> String {
    match ceql::parse(input) {
        Ok(expr) => show(&expr),
        Err(error) => panic!("{input:?} did not parse: {error}"),
    }
}

/// The error text `parse` gives for `input`, panicking if it parses.
pub fn parse_error(input: &str) -> String {
    match ceql::parse(input) {
        Ok(expr) => panic!("{input:?} parsed as {}", show(&expr)),
        Err(error) => error.to_string(),
    }
}

fn info(ty: FieldType, pushdowns: &[(&str, PushKind)]) -> FieldInfo {
    FieldInfo {
        ty,
        pushdowns: pushdowns
            .iter()
            .map(|(filter, kind)| Pushdown { filter: filter.to_string(), kind: *kind })
            .collect(),
    }
}

/// The contact object as the tests see it. `Email` is the first of the vendor's addresses, while the
/// vendor's `email` filter matches any of them.
pub fn contact_schema() -> BTreeMap<String, FieldInfo> {
    let mut schema = BTreeMap::new();
    schema.insert("Id".into(), info(FieldType::Number, &[("ids", PushKind::IdSet), ("contact_id", PushKind::Number)]));
    schema.insert("Email".into(), info(FieldType::String, &[("email", PushKind::Prefix)]));
    schema.insert("LastName".into(), info(FieldType::String, &[("family_name", PushKind::Text)]));
    schema.insert("City".into(), info(FieldType::String, &[]));
    schema.insert("Code".into(), info(FieldType::String, &[("code", PushKind::Exact)]));
    schema.insert("Score".into(), info(FieldType::Number, &[("score", PushKind::Number)]));
    schema.insert("Level".into(), info(FieldType::Number, &[("level", PushKind::Exact)]));
    schema.insert(
        "UpdatedAt".into(),
        info(FieldType::DateTime, &[("since", PushKind::Since), ("until", PushKind::Until)]),
    );
    schema.insert("Active".into(), info(FieldType::Boolean, &[("active", PushKind::Bool)]));
    schema.insert("First Name".into(), info(FieldType::String, &[]));
    schema
}
