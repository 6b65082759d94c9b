//! The push-down planner: the shape of plans for typical `where`s, and the property that executing
//! a plan against a model vendor yields exactly the rows the `where` selects, each once.

use ceql::{check, matches, parse, plan, Expr, Plan};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use std::cell::Cell;

use crate::common::{self, contact_schema};

fn planned(input: &str) -> Plan {
    let schema = contact_schema();
    let expr = parse(input).and_then(|e| check(&e, &schema)).unwrap_or_else(|e| panic!("{input}: {e}"));
    plan(Some(&expr), &schema)
}

fn filter_strings(input: &str) -> Vec<String> {
    planned(input).queries.iter().map(|q| q.filter_string()).collect()
}

#[test]
fn no_where_is_one_full_scan() {
    let plan = plan(None, &contact_schema());
    assert_eq!(plan.queries.len(), 1);
    assert_eq!(plan.queries[0].filter_string(), "");
}

#[test]
fn single_conditions_push_by_kind() {
    let cases = [
        ("Email = 'a@b.com'", "email==a@b.com"),
        ("Email LIKE 'Ab%'", "email==Ab*"),
        ("Email LIKE 'ab'", "email==ab"),
        ("LastName = 'Smith'", "family_name==Smith"),
        ("Id = 7", "ids==7"),
        ("Id IN (3, 1, 2)", "ids==1,2,3"),
        ("Id > 5", "contact_id>5"),
        ("Id != 5", "contact_id!=5"),
        ("Id = 1.5", "contact_id==1.5"),
        ("Id = 9007199254740993", "contact_id==9007199254740992"),
        ("Id = 9007199254740991", "ids==9007199254740991"),
        ("Score >= 10.5", "score>=10.5"),
        ("Score < -2", "score<-2"),
        ("Level = 3", "level==3"),
        ("Code = '7-1'", "code==7-1"),
        ("Active = true", "active==true"),
        ("Active != true", "active==false"),
        ("UpdatedAt >= '2026-01-02'", "since==2026-01-02T00:00:00Z"),
        ("UpdatedAt > '2026-01-02T03:04:05+02:00'", "since==2026-01-02T01:04:05Z"),
        ("UpdatedAt <= '2026-01-02T03:04:05'", "until==2026-01-02T03:04:05Z"),
        ("UpdatedAt = '2026-01-02'", "since==2026-01-02T00:00:00Z;until==2026-01-02T00:00:00Z"),
    ];
    for (input, expected) in cases {
        assert_eq!(filter_strings(input), [expected], "for {input}");
    }
}

#[test]
fn unsafe_or_unsupported_conditions_stay_residual() {
    let cases = [
        "Email LIKE '%b'",
        "Email LIKE 'a_b%'",
        "Email LIKE 'a%b%'",
        "Email LIKE 'é%'",
        "Email NOT LIKE 'a%'",
        "Email != 'a'",
        "Email = 'a;b'",
        "Email = 'a,b'",
        "Email = 'a*'",
        "Email = ' a'",
        "Email = 'a '",
        "Email = ''",
        "Email = '==a'",
        "Code = 'a1'",
        "City = 'Paris'",
        "Email IS NULL",
        "NOT Email = 'a'",
        "Id NOT IN (1, 2)",
        "Level = 1.5",
        "Active > false",
        "UpdatedAt != '2026-01-01'",
    ];
    for input in cases {
        assert_eq!(filter_strings(input), [""], "for {input}");
    }
}

#[test]
fn conjuncts_are_all_pushed_once_per_filter_name() {
    assert_eq!(filter_strings("Email = 'a' AND Score > 1 AND Active = false"), ["email==a;score>1;active==false"]);
    assert_eq!(filter_strings("Score > 1 AND Score < 5"), ["score>1"]);
    assert_eq!(filter_strings("City = 'x' AND (Email = 'a' AND Id IN (1, 2))"), ["email==a;ids==1,2"]);
}

#[test]
fn ors_over_ids_become_one_id_set() {
    assert_eq!(filter_strings("Id = 1 OR Id = 2 OR Id IN (3, 1)"), ["ids==1,2,3"]);
    assert_eq!(filter_strings("(Id = 1 AND Email = 'a') OR (Id = 2 AND Email = 'a')"), ["ids==1,2;email==a"]);
}

#[test]
fn ors_of_pushable_disjuncts_fan_out_with_exclusions() {
    let plan = planned("LastName = 'x' AND (Email LIKE 'ab%' OR Score > 3)");
    let filters: Vec<String> = plan.queries.iter().map(|q| q.filter_string()).collect();
    assert_eq!(filters, ["family_name==x;email==ab*", "family_name==x;score>3"]);
    let excluded: Vec<Vec<String>> =
        plan.queries.iter().map(|q| q.exclude.iter().map(common::show).collect()).collect();
    assert_eq!(
        excluded,
        [vec!["(not (like Email 'ab%'))".to_string()], vec!["(like Email 'ab%')".into(), "(not (> Score 3))".into()]]
    );
    assert_eq!(filter_strings("Email IN ('a', 'b')"), ["email==a", "email==b"]);
}

#[test]
fn ors_with_an_unpushable_disjunct_or_too_many_disjuncts_are_one_query() {
    assert_eq!(filter_strings("Active = true AND (Email = 'a' OR City = 'b')"), ["active==true"]);
    let eleven: Vec<String> = (0..11).map(|i| format!("Email = 'e{i}'")).collect();
    assert_eq!(filter_strings(&eleven.join(" OR ")), [""]);
    let ten: Vec<String> = (0..10).map(|i| format!("Email = 'e{i}'")).collect();
    assert_eq!(filter_strings(&ten.join(" OR ")).len(), 10);
}

// ---- the model vendor ------------------------------------------------------------------------

/// A contact as the vendor stores it. The hub's `Email` is the first address; the vendor's `email`
/// filter matches any of them.
#[derive(Debug, Clone)]
struct VendorRecord {
    id: u64,
    id_as_string: bool,
    emails: Vec<String>,
    family_name: Option<String>,
    city: Option<String>,
    code: Option<String>,
    score: Option<f64>,
    level: Option<i64>,
    updated: Option<String>,
    active: Option<bool>,
}

impl VendorRecord {
    fn hub_row(&self) -> Map<String, Value> {
        let mut row = Map::new();
        let id = if self.id_as_string { json!(self.id.to_string()) } else { json!(self.id) };
        row.insert("Id".into(), id);
        let mut put = |name: &str, value: Value| {
            if !value.is_null() {
                row.insert(name.into(), value);
            }
        };
        put("Email", json!(self.emails.first()));
        put("LastName", json!(self.family_name));
        put("City", json!(self.city));
        put("Code", json!(self.code));
        put("Score", json!(self.score));
        put("Level", json!(self.level));
        put("UpdatedAt", json!(self.updated));
        put("Active", json!(self.active));
        row
    }

    /// The texts a vendor filter reads, rendered as the vendor does (JSON numbers as JSON).
    fn values_for(&self, filter: &str) -> Vec<String> {
        let text = |v: Value| match v {
            Value::String(s) => Some(s),
            Value::Null => None,
            other => Some(other.to_string()),
        };
        let one = |v: Value| text(v).into_iter().collect();
        match filter {
            "ids" | "contact_id" => vec![self.id.to_string()],
            "email" => self.emails.clone(),
            "family_name" => one(json!(self.family_name)),
            "code" => one(json!(self.code)),
            "score" => one(json!(self.score)),
            "level" => one(json!(self.level)),
            "since" | "until" => one(json!(self.updated)),
            "active" => one(json!(self.active)),
            other => panic!("the vendor has no filter '{other}'"),
        }
    }
}

/// Parses a `filter` parameter as the vendor does and keeps the matching records. Panics on a filter
/// the vendor would reject, which is a planner bug.
fn vendor_list<'a>(records: &'a [VendorRecord], filter: &str) -> Vec<&'a VendorRecord> {
    let clauses: Vec<(String, String, String)> =
        filter.split(';').map(str::trim).filter(|p| !p.is_empty()).map(split_clause).collect();
    records.iter().filter(|r| clauses.iter().all(|(name, op, value)| clause_holds(r, name, op, value))).collect()
}

fn split_clause(part: &str) -> (String, String, String) {
    const OPS: [&str; 6] = ["==", "!=", ">=", "<=", ">", "<"];
    let (at, op) = part
        .char_indices()
        .find_map(|(i, _)| OPS.iter().find(|op| part[i..].starts_with(**op)).map(|op| (i, *op)))
        .unwrap_or_else(|| panic!("no operator in clause {part:?}"));
    let value = part[at + op.len()..].trim().to_string();
    assert!(!value.is_empty(), "empty value in {part:?}");
    (part[..at].trim().to_string(), op.to_string(), value)
}

fn clause_holds(record: &VendorRecord, name: &str, op: &str, wanted: &str) -> bool {
    let texts = record.values_for(name);
    if !matches!(name, "score" | "contact_id") {
        assert_eq!(op, "==", "{name} only supports ==");
    }
    match name {
        "email" if wanted.ends_with('*') => {
            let prefix = wanted.trim_end_matches('*').to_ascii_lowercase();
            assert!(!prefix.contains(['*', ',']), "bad prefix {wanted}");
            texts.iter().any(|t| t.to_ascii_lowercase().starts_with(&prefix))
        }
        "email" | "family_name" => {
            assert!(!wanted.contains(['*', ',']), "bad text {wanted}");
            texts.iter().any(|t| t.eq_ignore_ascii_case(wanted))
        }
        "code" | "level" | "active" => texts.iter().any(|t| t == wanted),
        "ids" => {
            let ids: Vec<&str> = wanted.split(',').collect();
            assert!(ids.iter().all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())), "bad ids {wanted}");
            ids.iter().any(|id| texts.iter().any(|t| t == id))
        }
        "score" | "contact_id" => {
            let wanted: f64 = wanted.parse().unwrap_or_else(|_| panic!("bad number {wanted}"));
            texts.iter().filter_map(|t| t.parse::<f64>().ok()).any(|have| compare(op, have, wanted))
        }
        "since" | "until" => {
            let wanted = chrono::DateTime::parse_from_rfc3339(wanted).unwrap_or_else(|_| panic!("bad time {wanted}"));
            let have = texts.first().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
            have.is_some_and(|have| if name == "since" { have >= wanted } else { have <= wanted })
        }
        other => panic!("unknown filter {other}"),
    }
}

fn compare(op: &str, have: f64, wanted: f64) -> bool {
    match op {
        "==" => have == wanted,
        "!=" => have != wanted,
        "<" => have < wanted,
        "<=" => have <= wanted,
        ">" => have > wanted,
        ">=" => have >= wanted,
        other => panic!("unknown op {other}"),
    }
}

/// Runs `plan` per the executor contract and returns the emitted ids in order.
fn execute(plan: &Plan, where_: &Expr, records: &[VendorRecord]) -> Vec<u64> {
    let mut emitted = Vec::new();
    for query in &plan.queries {
        for record in vendor_list(records, &query.filter_string()) {
            let row = record.hub_row();
            if matches(where_, &row) && !query.exclude.iter().any(|e| matches(e, &row)) {
                emitted.push(record.id);
            }
        }
    }
    emitted
}

// ---- generators ------------------------------------------------------------------------------

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::select(options).prop_map(str::to_string)
}

fn record(id: u64) -> impl Strategy<Value = VendorRecord> {
    let text = || prop::option::of(pick(&["a", "A", "ab", "aB", "b", "Ba", "é", "É"]));
    (
        any::<bool>(),
        prop::collection::vec(pick(&["x@a", "X@A", "y@a", "x@b", "xy@a", "Y@B"]), 0..4),
        text(),
        text(),
        prop::option::of(pick(&["A1", "a1", "7", "-", "b"])),
        prop::option::of((-6i32..=6).prop_map(|half| f64::from(half) / 2.0)),
        prop::option::of(0i64..4),
        prop::option::of(pick(&[
            "2026-01-01T00:00:00Z",
            "2026-01-01T02:00:00+02:00",
            "2026-01-02T00:00:00Z",
            "2026-01-03T12:30:00Z",
            "garbage",
        ])),
        prop::option::of(any::<bool>()),
    )
        .prop_map(move |(id_as_string, emails, family_name, city, code, score, level, updated, active)| {
            VendorRecord { id, id_as_string, emails, family_name, city, code, score, level, updated, active }
        })
}

fn records() -> impl Strategy<Value = Vec<VendorRecord>> {
    prop::sample::subsequence((1..=60).collect::<Vec<u64>>(), 0..30)
        .prop_flat_map(|ids| ids.into_iter().map(record).collect::<Vec<_>>())
}

fn leaf() -> impl Strategy<Value = String> {
    let id = 1u64..=60;
    let op = || pick(&["=", "!=", "<", "<=", ">", ">="]);
    let email = || pick(&["'x@a'", "'X@A'", "'y@a'", "'xy@a'", "'q'"]);
    let text = || pick(&["'a'", "'A'", "'ab'", "'b'", "'é'"]);
    let date =
        || pick(&["'2026-01-01'", "'2026-01-02T00:00:00'", "'2026-01-01T00:00:00Z'", "'2026-01-03T12:30:00+00:00'"]);
    prop_oneof![
        3 => id.clone().prop_map(|n| format!("Id = {n}")),
        2 => (op(), id.clone()).prop_map(|(op, n)| format!("Id {op} {n}")),
        2 => prop::collection::vec(id, 1..4).prop_map(|ids| format!("Id IN ({})", join(&ids))),
        3 => email().prop_map(|v| format!("Email = {v}")),
        2 => pick(&["'x%'", "'X@%'", "'y%'", "'%a'", "'x_a'", "'xy@a'", "'%'"]).prop_map(|p| format!("Email LIKE {p}")),
        1 => email().prop_map(|v| format!("Email != {v}")),
        1 => (email(), email()).prop_map(|(a, b)| format!("Email IN ({a}, {b})")),
        2 => text().prop_map(|v| format!("LastName = {v}")),
        1 => (op(), text()).prop_map(|(op, v)| format!("LastName {op} {v}")),
        1 => pick(&["'a%'", "'%b'"]).prop_map(|p| format!("LastName NOT LIKE {p}")),
        1 => text().prop_map(|v| format!("City = {v}")),
        2 => pick(&["'A1'", "'a1'", "'7'", "'-'"]).prop_map(|v| format!("Code = {v}")),
        3 => (op(), -6i32..=6).prop_map(|(op, half)| format!("Score {op} {}", f64::from(half) / 2.0)),
        2 => (pick(&["=", ">", "!="]), 0i64..4).prop_map(|(op, n)| format!("Level {op} {n}")),
        3 => (op(), date()).prop_map(|(op, d)| format!("UpdatedAt {op} {d}")),
        2 => (pick(&["=", "!="]), any::<bool>()).prop_map(|(op, b)| format!("Active {op} {b}")),
        1 => (pick(&["Email", "LastName", "Score", "UpdatedAt", "Active", "Id"]), any::<bool>())
            .prop_map(|(f, not)| format!("{f} IS {}NULL", if not { "NOT " } else { "" })),
    ]
}

fn join<T: ToString>(items: &[T]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

fn where_text() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            3 => prop::collection::vec(inner.clone(), 2..4).prop_map(|parts| format!("({})", parts.join(" AND "))),
            3 => prop::collection::vec(inner.clone(), 2..5).prop_map(|parts| format!("({})", parts.join(" or "))),
            1 => inner.prop_map(|part| format!("NOT {part}")),
        ]
    })
}

#[test]
fn executing_a_plan_yields_exactly_the_matching_rows_once() {
    let schema = contact_schema();
    let (pushed, fanned_out, cases) = (Cell::new(0usize), Cell::new(0usize), Cell::new(0usize));
    let mut runner = TestRunner::new(Config { cases: 4000, ..Config::default() });
    let outcome = runner.run(&(records(), where_text()), |(records, text)| {
        let expr =
            parse(&text).and_then(|e| check(&e, &schema)).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let plan = plan(Some(&expr), &schema);
        cases.set(cases.get() + 1);
        pushed.set(pushed.get() + usize::from(plan.queries.iter().any(|q| !q.filters.is_empty())));
        fanned_out.set(fanned_out.get() + usize::from(plan.queries.len() > 1));
        let mut expected: Vec<u64> = records.iter().filter(|r| matches(&expr, &r.hub_row())).map(|r| r.id).collect();
        let mut got = execute(&plan, &expr, &records);
        expected.sort_unstable();
        got.sort_unstable();
        let filters: Vec<String> = plan.queries.iter().map(|q| q.filter_string()).collect();
        prop_assert_eq!(got, expected, "where {} planned as {:?}", text, filters);
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    let (cases, pushed, fanned_out) = (cases.get(), pushed.get(), fanned_out.get());
    assert!(pushed * 10 >= cases * 3, "only {pushed} of {cases} plans pushed a filter");
    assert!(fanned_out * 20 >= cases, "only {fanned_out} of {cases} plans fanned out");
    println!("{cases} cases: {pushed} pushed a filter, {fanned_out} fanned out");
}
