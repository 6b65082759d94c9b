//! Checking against a schema (unknown fields, literal types, name resolution) and evaluating over
//! rows (case rules, numbers in strings, instants, nulls).

use ceql::{check, matches, parse, ExprKind};
use serde_json::{json, Map, Value};

use crate::common::contact_schema;

fn checked(input: &str) -> Result<ceql::Expr, String> {
    let expr = parse(input).map_err(|e| e.to_string())?;
    check(&expr, &contact_schema()).map_err(|e| e.to_string())
}

fn row(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn holds(input: &str, row_value: Value) -> bool {
    let expr = checked(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    matches(&expr, &row(row_value))
}

#[test]
fn unknown_fields_are_reported_with_their_column() {
    assert_eq!(checked("Id = 1 AND Nope = 2"), Err("Error parsing query: unknown field 'Nope' at column 12".into()));
}

#[test]
fn literals_must_suit_the_field_type() {
    let cases = [
        ("Id = 'x'", "expected a number for field 'Id' at column 6"),
        ("Email = 5", "expected a string for field 'Email' at column 9"),
        ("Active = 'yes'", "expected true or false for field 'Active' at column 10"),
        ("UpdatedAt > 'yesterday'", "expected a date-time for field 'UpdatedAt' at column 13"),
        ("Id IN (1, 'two')", "expected a number for field 'Id' at column 11"),
        ("Id LIKE '1%'", "LIKE needs a text field, not 'Id' at column 1"),
    ];
    for (input, expected) in cases {
        assert_eq!(checked(input), Err(format!("Error parsing query: {expected}")), "for {input}");
    }
    assert!(checked("UpdatedAt >= '2026-01-02'").is_ok());
    assert!(checked("UpdatedAt >= '2026-01-02T03:04:05'").is_ok());
    assert!(checked("UpdatedAt >= '2026-01-02T03:04:05+02:00'").is_ok());
}

#[test]
fn field_names_resolve_exactly_then_ignoring_case() {
    let expr = checked("email = 'a' AND `first name` IS NULL").expect("checks");
    let ExprKind::And(operands) = &expr.kind else { panic!("not an AND") };
    let names: Vec<&str> = operands.iter().filter_map(|o| o.field()).map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["Email", "First Name"]);
    assert!(holds("email = 'A'", json!({"Email": "a"})));
}

#[test]
fn strings_compare_ignoring_ascii_case_only() {
    assert!(holds("Email = 'A@B.com'", json!({"Email": "a@b.COM"})));
    assert!(!holds("Email = 'É'", json!({"Email": "é"})));
    assert!(holds("Email != 'x'", json!({"Email": "y"})));
    assert!(!holds("Email != 'X'", json!({"Email": "x"})));
    assert!(holds("LastName < 'b'", json!({"LastName": "A"})));
    assert!(holds("LastName >= 'B'", json!({"LastName": "b"})));
    assert!(holds("LastName LIKE 'dij%'", json!({"LastName": "Dijkstra"})));
    assert!(holds("LastName NOT LIKE 'x%'", json!({"LastName": "Dijkstra"})));
    assert!(holds("LastName IN ('x', 'DIJKSTRA')", json!({"LastName": "Dijkstra"})));
}

#[test]
fn numbers_compare_numerically_even_inside_strings() {
    assert!(holds("Id = 7", json!({"Id": 7})));
    assert!(holds("Id = 7", json!({"Id": "7"})));
    assert!(holds("Score >= 10.5", json!({"Score": 10.5})));
    assert!(!holds("Score > 10.5", json!({"Score": 10.5})));
    assert!(holds("Score < -1", json!({"Score": -2})));
    assert!(holds("Id IN (1, 2, 3)", json!({"Id": 2})));
    assert!(holds("Id NOT IN (1, 3)", json!({"Id": 2})));
    assert!(!holds("Id = 7", json!({"Id": "seven"})));
    assert!(!holds("Id = 7", json!({"Id": "NaN"})));
}

#[test]
fn booleans_compare_as_booleans() {
    assert!(holds("Active = true", json!({"Active": true})));
    assert!(holds("Active = TRUE", json!({"Active": "True"})));
    assert!(holds("Active != true", json!({"Active": false})));
    assert!(!holds("Active = true", json!({"Active": 1})));
}

#[test]
fn date_times_compare_as_instants() {
    let at = json!({"UpdatedAt": "2026-01-02T01:00:00+02:00"});
    assert!(holds("UpdatedAt = '2026-01-01T23:00:00Z'", at.clone()));
    assert!(holds("UpdatedAt < '2026-01-02'", at.clone()));
    assert!(holds("UpdatedAt >= '2026-01-01T23:00:00'", at.clone()));
    assert!(!holds("UpdatedAt > '2026-01-01T23:00:00'", at));
    assert!(!holds("UpdatedAt < '2026-01-02'", json!({"UpdatedAt": "not a date"})));
    assert!(!holds("UpdatedAt != '2026-01-02'", json!({"UpdatedAt": "not a date"})));
}

#[test]
fn nulls_fail_every_comparison_but_is_null() {
    for absent in [json!({}), json!({"Email": null})] {
        assert!(!holds("Email = 'a'", absent.clone()));
        assert!(!holds("Email != 'a'", absent.clone()));
        assert!(!holds("Email NOT LIKE 'a%'", absent.clone()));
        assert!(!holds("Email NOT IN ('a')", absent.clone()));
        assert!(holds("Email IS NULL", absent.clone()));
        assert!(!holds("Email IS NOT NULL", absent.clone()));
        assert!(holds("NOT Email = 'a'", absent));
    }
}

#[test]
fn boolean_structure_combines_results() {
    let r = json!({"Id": 2, "Email": "a", "Score": 3});
    assert!(holds("Id = 1 OR Email = 'a' AND Score = 3", r.clone()));
    assert!(!holds("(Id = 1 OR Email = 'a') AND Score = 4", r.clone()));
    assert!(holds("NOT (Id = 1 OR Score = 4)", r));
}
