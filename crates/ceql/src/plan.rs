//! The push-down planner: which vendor list queries to run for a resolved `where`.
//!
//! Contract with the executor: it runs each [`VendorQuery`] in turn, evaluates the whole original
//! `where` over every row returned ([`crate::matches`]), drops the rows matching any expression in
//! that query's `exclude`, and concatenates. The plan guarantees that this yields exactly the rows
//! the `where` selects, each once, provided the vendor honours the [`PushKind`](crate::PushKind)
//! semantics. It does so by:
//! - pushing only filters implied by the `where` (each query returns a superset of its share);
//! - `AND`: every pushable conjunct, at most one filter per vendor filter name;
//! - `OR` (or `IN`) whose disjuncts all imply a common filter (an id set united across disjuncts,
//!   or the same filter in each) is pushed as that filter, in one query;
//! - otherwise the first `OR`/`IN` conjunct whose 2..=10 disjuncts are each pushable is split into
//!   one query per disjunct, all sharing the other conjuncts' filters. Query `k` excludes the
//!   earlier disjuncts *and* `NOT disjunct_k`: the vendor may return rows that do not satisfy
//!   disjunct `k` (an email filter matches any of a contact's addresses), and without that
//!   exclusion such a row would be emitted by query `k` and again by the query of the disjunct it
//!   does satisfy;
//! - everything else (`NOT`, `IS NULL`, `!=` on text, `LIKE '%x'`, unpushable fields) stays residual.

use crate::ast::{CmpOp, Expr, ExprKind, FieldRef, Lit, Literal};
use crate::pushdown::{filters_for, Candidate, Condition, VendorFilter};
use crate::schema::{resolve, Schema};

/// The most queries one `where` may fan out into.
pub const MAX_QUERIES: usize = 10;

/// One vendor list request and the rows to drop from its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct VendorQuery {
    /// Joined with `;` (AND) in the vendor's `filter` parameter; empty means a full scan.
    pub filters: Vec<VendorFilter>,
    /// Rows matching any of these were (or will be) emitted by another query of the plan.
    pub exclude: Vec<Expr>,
}

impl VendorQuery {
    /// The vendor's `filter` parameter, e.g. `email==a@b.com;score>=10`; empty for a full scan.
    pub fn filter_string(&self) -> String {
        self.filters.iter().map(VendorFilter::to_string).collect::<Vec<_>>().join(";")
    }
}

/// The queries that together answer one `where`. Never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub queries: Vec<VendorQuery>,
}

/// Plans `where_` (resolved by [`crate::check`]) for an object described by `schema`; `None` is a
/// single unfiltered query.
pub fn plan(where_: Option<&Expr>, schema: &dyn Schema) -> Plan {
    let Some(expr) = where_ else { return single(Vec::new()) };
    let conjuncts = conjuncts(expr);
    let shared = conjuncts.iter().map(|conjunct| implied(conjunct, schema)).fold(Vec::new(), merge);
    let split = conjuncts.iter().find_map(|conjunct| splittable(conjunct, schema));
    let Some(disjuncts) = split else { return single(shared) };
    let queries = disjuncts
        .iter()
        .enumerate()
        .map(|(k, disjunct)| {
            let filters = merge(shared.clone(), implied(disjunct, schema));
            let mut exclude: Vec<Expr> = disjuncts[..k].to_vec();
            exclude.push(Expr { kind: ExprKind::Not(Box::new(disjunct.clone())), span: disjunct.span });
            VendorQuery { filters: finish(filters), exclude }
        })
        .collect();
    Plan { queries }
}

fn single(filters: Vec<Candidate>) -> Plan {
    Plan { queries: vec![VendorQuery { filters: finish(filters), exclude: Vec::new() }] }
}

fn finish(candidates: Vec<Candidate>) -> Vec<VendorFilter> {
    candidates.into_iter().map(Candidate::into_filter).collect()
}

/// The operands of a top-level `AND`, or the expression itself.
fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    match &expr.kind {
        ExprKind::And(operands) => operands.iter().flat_map(conjuncts).collect(),
        _ => vec![expr],
    }
}

/// The disjuncts of an `OR` (nested `OR`s flattened, `IN` expanded into `=`), if `expr` is worth
/// splitting: it implies no common filter, it has 2..=10 disjuncts, and each implies a filter.
fn splittable(expr: &Expr, schema: &dyn Schema) -> Option<Vec<Expr>> {
    if !implied(expr, schema).is_empty() {
        return None;
    }
    let disjuncts = disjuncts(expr);
    let fits = (2..=MAX_QUERIES).contains(&disjuncts.len());
    (fits && disjuncts.iter().all(|d| !implied(d, schema).is_empty())).then_some(disjuncts)
}

fn disjuncts(expr: &Expr) -> Vec<Expr> {
    match &expr.kind {
        ExprKind::Or(operands) => operands.iter().flat_map(disjuncts).collect(),
        ExprKind::In { field, values, negated: false } => values.iter().map(|value| equality(field, value)).collect(),
        _ => vec![expr.clone()],
    }
}

fn equality(field: &FieldRef, value: &Lit) -> Expr {
    Expr { kind: ExprKind::Compare { field: field.clone(), op: CmpOp::Eq, value: value.clone() }, span: value.span }
}

/// Vendor filters every row satisfying `expr` passes.
fn implied(expr: &Expr, schema: &dyn Schema) -> Vec<Candidate> {
    match &expr.kind {
        ExprKind::Compare { field, op, value } => leaf(field, schema, Condition::Compare(*op, &value.value)),
        ExprKind::Like { field, pattern: Lit { value: Literal::Str(pattern), .. }, negated: false } => {
            leaf(field, schema, Condition::Like(pattern))
        }
        ExprKind::In { field, values, negated: false } => in_filters(field, values, schema),
        ExprKind::And(operands) => operands.iter().map(|operand| implied(operand, schema)).fold(Vec::new(), merge),
        ExprKind::Or(operands) => common_to_all(operands.iter().map(|operand| implied(operand, schema))),
        ExprKind::Like { .. } | ExprKind::In { .. } | ExprKind::IsNull { .. } | ExprKind::Not(_) => Vec::new(),
    }
}

fn leaf(field: &FieldRef, schema: &dyn Schema, condition: Condition) -> Vec<Candidate> {
    match resolve(schema, &field.name) {
        Some((_, info)) => filters_for(&info, condition),
        None => Vec::new(),
    }
}

/// An `IN` is an id set when the field has one, otherwise whatever its `=`s have in common.
fn in_filters(field: &FieldRef, values: &[Lit], schema: &dyn Schema) -> Vec<Candidate> {
    let literals: Vec<Literal> = values.iter().map(|lit| lit.value.clone()).collect();
    let as_set = leaf(field, schema, Condition::In(&literals));
    if !as_set.is_empty() {
        return as_set;
    }
    common_to_all(literals.iter().map(|literal| leaf(field, schema, Condition::Compare(CmpOp::Eq, literal))))
}

/// `AND`: all filters of both, the first one winning when a filter name repeats.
fn merge(mut into: Vec<Candidate>, more: Vec<Candidate>) -> Vec<Candidate> {
    for candidate in more {
        if !into.iter().any(|existing| existing.name() == candidate.name()) {
            into.push(candidate);
        }
    }
    into
}

/// `OR`: the filters every operand implies; id sets of the same name are united.
fn common_to_all(mut operands: impl Iterator<Item = Vec<Candidate>>) -> Vec<Candidate> {
    let Some(first) = operands.next() else { return Vec::new() };
    operands.fold(first, |common, next| common.into_iter().filter_map(|c| weaken(c, &next)).collect())
}

/// The weakest filter implied by `candidate` and by one of `others` with the same name.
fn weaken(candidate: Candidate, others: &[Candidate]) -> Option<Candidate> {
    let other = others.iter().find(|other| other.name() == candidate.name())?;
    match (candidate, other) {
        (Candidate::Ids { name, mut ids }, Candidate::Ids { ids: more, .. }) => {
            ids.extend(more.iter().copied());
            Some(Candidate::Ids { name, ids })
        }
        (candidate, other) => (&candidate == other).then_some(candidate),
    }
}
