//! Checking a parsed `where` against a [`Schema`]: every field must exist and every literal must
//! suit its field's type. Checking also resolves: it returns a copy of the tree in which each field
//! reference carries the canonical hub name (exact match first, then ASCII case-insensitive) and the
//! field's type. The evaluator and the planner expect such a resolved tree.

use crate::ast::{Expr, ExprKind, FieldRef, Lit, Literal};
use crate::error::QueryError;
use crate::instant::parse_instant;
use crate::schema::{resolve, FieldType, Schema};

/// Checks `expr` against `schema` and returns it resolved (canonical names, field types filled in).
pub fn check(expr: &Expr, schema: &dyn Schema) -> Result<Expr, QueryError> {
    let kind = match &expr.kind {
        ExprKind::Compare { field, op, value } => {
            let field = resolve_field(field, schema)?;
            check_literal(&field, value)?;
            ExprKind::Compare { field, op: *op, value: value.clone() }
        }
        ExprKind::Like { field, pattern, negated } => {
            let field = resolve_field(field, schema)?;
            if field.ty != Some(FieldType::String) {
                return Err(QueryError::at(
                    format!("LIKE needs a text field, not '{}'", field.name),
                    field.span.column,
                ));
            }
            ExprKind::Like { field, pattern: pattern.clone(), negated: *negated }
        }
        ExprKind::In { field, values, negated } => {
            let field = resolve_field(field, schema)?;
            values.iter().try_for_each(|value| check_literal(&field, value))?;
            ExprKind::In { field, values: values.clone(), negated: *negated }
        }
        ExprKind::IsNull { field, negated } => {
            ExprKind::IsNull { field: resolve_field(field, schema)?, negated: *negated }
        }
        ExprKind::Not(operand) => ExprKind::Not(Box::new(check(operand, schema)?)),
        ExprKind::And(operands) => ExprKind::And(check_all(operands, schema)?),
        ExprKind::Or(operands) => ExprKind::Or(check_all(operands, schema)?),
    };
    Ok(Expr { kind, span: expr.span })
}

fn check_all(operands: &[Expr], schema: &dyn Schema) -> Result<Vec<Expr>, QueryError> {
    operands.iter().map(|operand| check(operand, schema)).collect()
}

fn resolve_field(field: &FieldRef, schema: &dyn Schema) -> Result<FieldRef, QueryError> {
    let Some((name, info)) = resolve(schema, &field.name) else {
        return Err(QueryError::at(format!("unknown field '{}'", field.name), field.span.column));
    };
    Ok(FieldRef { name, span: field.span, ty: Some(info.ty) })
}

fn check_literal(field: &FieldRef, lit: &Lit) -> Result<(), QueryError> {
    let Some(ty) = field.ty else { return Ok(()) };
    let suits = match (&lit.value, ty) {
        (Literal::Str(_), FieldType::String) => true,
        (Literal::Num(_), FieldType::Number) => true,
        (Literal::Bool(_), FieldType::Boolean) => true,
        (Literal::Str(text), FieldType::DateTime) => parse_instant(text).is_some(),
        _ => false,
    };
    if suits {
        return Ok(());
    }
    Err(QueryError::at(format!("expected {} for field '{}'", ty.described(), field.name), lit.span.column))
}
