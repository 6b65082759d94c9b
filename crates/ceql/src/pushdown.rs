//! Translating one leaf condition into vendor filters, per [`PushKind`]. A filter is produced only
//! when every row satisfying the condition is certainly matched by the vendor (the superset rule),
//! and only with values that survive the vendor's `name<op>value;...` syntax unchanged.
//!
//! Decisions worth knowing:
//! - `Exact` compares case-sensitively while the hub ignores ASCII case, so a string is pushed to an
//!   `Exact` filter only when it has no ASCII letter (then both agree).
//! - Integers are rendered without `.0` and pushed only below 2^53, where `f64` is still exact.
//! - `Prefix` wildcards are pushed only for ASCII prefixes: a vendor that lowercases with Unicode
//!   rules (final sigma) could otherwise miss rows the hub keeps.
//! - A `DateTime` `=` becomes both a `Since` and an `Until` filter when the field has both.

use crate::ast::{CmpOp, Literal};
use crate::instant::{parse_instant, render_instant};
use crate::like::{exact_text, literal_prefix};
use crate::schema::{FieldInfo, FieldType, PushKind, Pushdown};
use std::collections::BTreeSet;
use std::fmt;

/// 2^53. Integers are pushed only strictly below it in magnitude: a literal such as
/// `9007199254740993` reads as the float 2^53, which would render as a different id than the row's.
/// Below it, a row's id equals the literal as floats exactly when it equals the rendered integer.
const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;

/// An operator as the vendor's filter syntax writes it (`==`, `>=`, ...).
fn vendor_symbol(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "==",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}

/// One `name<op>value` clause of the vendor's `filter` parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorFilter {
    pub name: String,
    pub op: CmpOp,
    /// Never empty, never padded with whitespace; contains no `;`, and no `,` or `*` except in an
    /// id list or as the trailing prefix wildcard.
    pub value: String,
}

impl fmt::Display for VendorFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.name, vendor_symbol(self.op), self.value)
    }
}

/// A filter on its way into a query. Id sets are kept as sets so that an `OR` can unite them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Candidate {
    Plain(VendorFilter),
    Ids { name: String, ids: BTreeSet<u64> },
}

impl Candidate {
    pub(crate) fn name(&self) -> &str {
        match self {
            Candidate::Plain(filter) => &filter.name,
            Candidate::Ids { name, .. } => name,
        }
    }

    pub(crate) fn into_filter(self) -> VendorFilter {
        match self {
            Candidate::Plain(filter) => filter,
            Candidate::Ids { name, ids } => {
                let value = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
                VendorFilter { name, op: CmpOp::Eq, value }
            }
        }
    }
}

/// What a leaf condition asks of a field, in the planner's terms.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Condition<'a> {
    Compare(CmpOp, &'a Literal),
    /// `LIKE` with its pattern.
    Like(&'a str),
    /// `IN` with its values.
    In(&'a [Literal]),
}

/// The filters to push for `condition` on a field described by `info`: the best single pushdown,
/// or a `Since` and an `Until` together for a date-time equality. Empty when nothing is safe.
pub(crate) fn filters_for(info: &FieldInfo, condition: Condition) -> Vec<Candidate> {
    let mut found: Vec<(u8, Candidate)> = info
        .pushdowns
        .iter()
        .filter_map(|pushdown| candidate(pushdown, info.ty, condition).map(|c| (rank(pushdown.kind), c)))
        .collect();
    found.sort_by_key(|(rank, _)| *rank);
    let Some((best, _)) = found.first() else { return Vec::new() };
    let keep_both_bounds = *best == rank(PushKind::Since);
    let best = *best;
    let mut chosen: Vec<Candidate> = Vec::new();
    for (rank, candidate) in found {
        let wanted = if keep_both_bounds { rank == best } else { chosen.is_empty() };
        if wanted && !chosen.iter().any(|c| c.name() == candidate.name()) {
            chosen.push(candidate);
        }
    }
    chosen
}

/// Preference among pushdowns able to serve a condition: id sets first (an `OR` can unite them),
/// then the most selective kinds.
fn rank(kind: PushKind) -> u8 {
    match kind {
        PushKind::IdSet => 0,
        PushKind::Exact => 1,
        PushKind::Number => 2,
        PushKind::Bool => 3,
        PushKind::Text => 4,
        PushKind::Prefix => 5,
        PushKind::Since | PushKind::Until => 6,
    }
}

fn candidate(pushdown: &Pushdown, ty: FieldType, condition: Condition) -> Option<Candidate> {
    let plain =
        |op: CmpOp, value: String| Some(Candidate::Plain(VendorFilter { name: pushdown.filter.clone(), op, value }));
    match (pushdown.kind, condition) {
        (PushKind::IdSet, _) => {
            let ids = id_set(ty, condition)?;
            Some(Candidate::Ids { name: pushdown.filter.clone(), ids })
        }
        (PushKind::Text | PushKind::Prefix, Condition::Compare(CmpOp::Eq, Literal::Str(text))) => {
            plain(CmpOp::Eq, safe_text(text, ty)?)
        }
        (PushKind::Text | PushKind::Prefix, Condition::Like(pattern)) if exact_text(pattern).is_some() => {
            plain(CmpOp::Eq, safe_text(pattern, ty)?)
        }
        (PushKind::Prefix, Condition::Like(pattern)) => {
            let prefix = literal_prefix(pattern).filter(|prefix| prefix.is_ascii())?;
            plain(CmpOp::Eq, format!("{}*", safe_text(prefix, ty)?))
        }
        (PushKind::Exact, Condition::Compare(CmpOp::Eq, literal)) => plain(CmpOp::Eq, exact_value(literal, ty)?),
        (PushKind::Number, Condition::Compare(op, Literal::Num(n))) if ty == FieldType::Number => {
            plain(op, n.to_string())
        }
        (PushKind::Bool, Condition::Compare(op, Literal::Bool(b))) if ty == FieldType::Boolean => match op {
            CmpOp::Eq => plain(CmpOp::Eq, b.to_string()),
            CmpOp::Ne => plain(CmpOp::Eq, (!b).to_string()),
            _ => None,
        },
        (PushKind::Since, Condition::Compare(CmpOp::Eq | CmpOp::Ge | CmpOp::Gt, Literal::Str(text))) => {
            plain(CmpOp::Eq, instant_value(text, ty)?)
        }
        (PushKind::Until, Condition::Compare(CmpOp::Eq | CmpOp::Le | CmpOp::Lt, Literal::Str(text))) => {
            plain(CmpOp::Eq, instant_value(text, ty)?)
        }
        _ => None,
    }
}

/// The ids an `=` or `IN` of non-negative integers allows.
fn id_set(ty: FieldType, condition: Condition) -> Option<BTreeSet<u64>> {
    if ty != FieldType::Number {
        return None;
    }
    match condition {
        Condition::Compare(CmpOp::Eq, literal) => Some(BTreeSet::from([id_value(literal)?])),
        Condition::In(literals) => literals.iter().map(id_value).collect(),
        _ => None,
    }
}

fn id_value(literal: &Literal) -> Option<u64> {
    let Literal::Num(n) = literal else { return None };
    let integer = exact_integer(*n)?;
    u64::try_from(integer).ok()
}

fn exact_integer(n: f64) -> Option<i64> {
    // The range check makes the cast lossless.
    let in_range = n.fract() == 0.0 && n.abs() < EXACT_INTEGER_LIMIT;
    in_range.then_some(n as i64)
}

/// The text for an `Exact` filter: an integer, or a string in which case cannot matter.
fn exact_value(literal: &Literal, ty: FieldType) -> Option<String> {
    match (literal, ty) {
        (Literal::Num(n), FieldType::Number) => exact_integer(*n).map(|i| i.to_string()),
        (Literal::Str(text), FieldType::String) if !text.bytes().any(|b| b.is_ascii_alphabetic()) => {
            safe_text(text, ty)
        }
        _ => None,
    }
}

fn instant_value(text: &str, ty: FieldType) -> Option<String> {
    (ty == FieldType::DateTime).then_some(())?;
    parse_instant(text).map(render_instant)
}

/// `text` if it is a string field's value that the vendor's filter syntax carries unchanged.
fn safe_text(text: &str, ty: FieldType) -> Option<String> {
    let unsafe_char = |c: char| matches!(c, ';' | ',' | '*') || c.is_control();
    let starts_like_operator = text.starts_with(['=', '!', '<', '>']);
    let padded = text.trim() != text;
    let ok = ty == FieldType::String && !text.is_empty() && !padded && !starts_like_operator;
    (ok && !text.contains(unsafe_char)).then(|| text.to_string())
}
