//! The `where`, `orderBy` and `fields` grammars: every operator, precedence, quoting, the limits,
//! every error message with its column, and no panics on arbitrary input.

use ceql::{parse, parse_fields, parse_order_by, ExprKind, OrderTerm, Span};
use proptest::prelude::*;

use crate::common::{parse_error, parsed, show};

#[test]
fn every_comparison_operator_parses() {
    assert_eq!(parsed("Email = 'a@b.com'"), "(= Email 'a@b.com')");
    assert_eq!(parsed("Score != 1"), "(!= Score 1)");
    assert_eq!(parsed("Score <> 1"), "(!= Score 1)");
    assert_eq!(parsed("Score < 1"), "(< Score 1)");
    assert_eq!(parsed("Score <= 1"), "(<= Score 1)");
    assert_eq!(parsed("Score > 1"), "(> Score 1)");
    assert_eq!(parsed("Score >= 1"), "(>= Score 1)");
    assert_eq!(parsed("Score>=1"), "(>= Score 1)");
}

#[test]
fn like_in_and_null_tests_parse_with_their_negations() {
    assert_eq!(parsed("LastName LIKE 'Dij%'"), "(like LastName 'Dij%')");
    assert_eq!(parsed("LastName NOT LIKE '_ij%'"), "(notlike LastName '_ij%')");
    assert_eq!(parsed("Id IN (1, 2,3)"), "(in Id 1 2 3)");
    assert_eq!(parsed("Id NOT IN ('a')"), "(notin Id 'a')");
    assert_eq!(parsed("Email IS NULL"), "(null Email)");
    assert_eq!(parsed("Email IS NOT NULL"), "(notnull Email)");
}

#[test]
fn literals_cover_strings_numbers_and_booleans() {
    assert_eq!(parsed("a = 'it''s'"), "(= a 'it's')");
    assert_eq!(parsed("a = ''"), "(= a '')");
    assert_eq!(parsed("a = ''''"), "(= a ''')");
    assert_eq!(parsed("a = -12"), "(= a -12)");
    assert_eq!(parsed("a = 10.5"), "(= a 10.5)");
    assert_eq!(parsed("a = -0.25"), "(= a -0.25)");
    assert_eq!(parsed("a = TRUE"), "(= a true)");
    assert_eq!(parsed("a = False"), "(= a false)");
}

#[test]
fn keywords_ignore_case() {
    assert_eq!(
        parsed("a like 'x' and b is not null or not c in (1)"),
        "(or (and (like a 'x') (notnull b)) (not (in c 1)))"
    );
    assert_eq!(parsed("a Is Null"), "(null a)");
}

#[test]
fn field_names_may_be_bare_or_back_quoted() {
    assert_eq!(parsed("`First Name` IS NOT NULL"), "(notnull First Name)");
    assert_eq!(parsed("`a``b` = 1"), "(= a`b 1)");
    assert_eq!(parsed("_x.y_1 = 1"), "(= _x.y_1 1)");
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_override() {
    assert_eq!(parsed("a = 1 OR b = 2 AND c = 3"), "(or (= a 1) (and (= b 2) (= c 3)))");
    assert_eq!(parsed("(a = 1 OR b = 2) AND c = 3"), "(and (or (= a 1) (= b 2)) (= c 3))");
    assert_eq!(
        parsed("LastName LIKE 'Dij%' AND (Id IN (1, 2, 3) OR Score >= 10.5)"),
        "(and (like LastName 'Dij%') (or (in Id 1 2 3) (>= Score 10.5)))"
    );
    assert_eq!(parsed("NOT a = 1 AND b = 2"), "(and (not (= a 1)) (= b 2))");
    assert_eq!(parsed("NOT (a = 1 OR b = 2)"), "(not (or (= a 1) (= b 2)))");
    assert_eq!(parsed("a = 1 AND b = 2 AND c = 3"), "(and (= a 1) (= b 2) (= c 3))");
}

#[test]
fn nodes_field_references_and_literals_carry_spans() {
    let expr = parse("a = 1 AND  `b c` = 'x'").expect("parses");
    let ExprKind::And(operands) = &expr.kind else { panic!("not an AND: {}", show(&expr)) };
    let ExprKind::Compare { field, value, .. } = &operands[1].kind else { panic!("not a comparison") };
    assert_eq!(field.span, Span { offset: 11, column: 12 });
    assert_eq!(value.span, Span { offset: 19, column: 20 });
    assert_eq!(operands[1].span.column, 12);
}

#[test]
fn columns_count_characters_not_bytes() {
    assert_eq!(parse_error("a = 'é' b"), "Error parsing query: expected end of query at column 9");
}

#[test]
fn syntax_errors_say_what_was_expected_and_where() {
    let cases = [
        ("", "expected a condition at column 1"),
        ("   ", "expected a condition at column 4"),
        ("a = 'abc", "expected closing quote at column 9"),
        ("a = ", "expected value at column 5"),
        ("a = -", "expected value at column 5"),
        ("a = .5", "expected value at column 5"),
        ("a 1", "expected operator at column 3"),
        ("a", "expected operator at column 2"),
        ("(a = 1", "expected ')' at column 7"),
        ("a = 1)", "expected end of query at column 6"),
        ("a = 1 b = 2", "expected end of query at column 7"),
        ("a = 1 AND", "expected a condition at column 10"),
        ("a = 1 OR OR b = 1", "expected a condition at column 10"),
        ("= 1", "expected a condition at column 1"),
        ("`a b = 1", "expected closing backquote at column 9"),
        ("`` = 1", "expected field name at column 1"),
        ("a IS 1", "expected NULL or NOT NULL at column 6"),
        ("a IS NOT 1", "expected NULL at column 10"),
        ("a NOT = 1", "expected LIKE or IN at column 7"),
        ("a LIKE 1", "expected a quoted pattern at column 8"),
        ("a IN 1", "expected '(' at column 6"),
        ("a IN ()", "expected value at column 7"),
        ("a IN (1 2)", "expected ',' or ')' at column 9"),
        ("a IN (1,)", "expected value at column 9"),
        ("a = tru", "expected value at column 5"),
        ("()", "expected a condition at column 2"),
    ];
    for (input, expected) in cases {
        assert_eq!(parse_error(input), format!("Error parsing query: {expected}"), "for {input:?}");
    }
}

#[test]
fn numbers_too_large_for_a_float_are_rejected() {
    let input = format!("a = {}", "9".repeat(400));
    assert_eq!(parse_error(&input), "Error parsing query: number out of range at column 5");
}

#[test]
fn nesting_is_limited_to_64_levels() {
    let ok = format!("{}a = 1{}", "(".repeat(64), ")".repeat(64));
    assert!(parse(&ok).is_ok());
    let too_deep = format!("{}a = 1{}", "(".repeat(65), ")".repeat(65));
    assert_eq!(parse_error(&too_deep), "Error parsing query: nesting deeper than 64 levels at column 65");
    let nots = format!("{}a = 1", "NOT ".repeat(65));
    assert_eq!(parse_error(&nots), "Error parsing query: nesting deeper than 64 levels at column 257");
}

#[test]
fn ten_thousand_parentheses_fail_without_overflowing_a_normal_stack() {
    let result = std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let deep = format!("{}a = 1{}", "(".repeat(10_000), ")".repeat(10_000));
            let nots = format!("{}a = 1", "NOT ".repeat(10_000));
            (parse(&deep).map_err(|e| e.to_string()), parse(&nots).map_err(|e| e.to_string()))
        })
        .expect("thread starts")
        .join()
        .expect("no panic or overflow");
    assert_eq!(result.0, Err("Error parsing query: nesting deeper than 64 levels at column 65".to_string()));
    assert!(result.1.is_err());
}

#[test]
fn long_flat_chains_parse_without_recursion() {
    let chain = vec!["a = 1"; 5000].join(" OR ");
    let ExprKind::Or(operands) = parse(&chain).expect("parses").kind else { panic!("not an OR") };
    assert_eq!(operands.len(), 5000);
}

#[test]
fn queries_over_64_kib_are_rejected() {
    let huge = format!("a = '{}'", "x".repeat(1024 * 1024));
    let expected = "Error parsing query: the query is longer than 65536 bytes";
    assert_eq!(parse_error(&huge), expected);
    assert_eq!(parse_order_by(&huge).map_err(|e| e.to_string()), Err(expected.to_string()));
    assert_eq!(parse_fields(&huge).map_err(|e| e.to_string()), Err(expected.to_string()));
}

#[test]
fn order_by_takes_directions_and_back_quoted_names() {
    let terms = parse_order_by("LastName desc, `First Name`, Id ASC").expect("parses");
    let summary: Vec<(&str, bool)> = terms.iter().map(|t| (t.field.as_str(), t.descending)).collect();
    assert_eq!(summary, [("LastName", true), ("First Name", false), ("Id", false)]);
    assert_eq!(
        parse_order_by(" Id "),
        Ok(vec![OrderTerm { field: "Id".into(), descending: false, span: Span { offset: 1, column: 2 } }])
    );
}

#[test]
fn order_by_errors_point_at_the_problem() {
    let error = |input: &str| parse_order_by(input).map_err(|e| e.to_string()).expect_err("should fail");
    assert_eq!(error(""), "Error parsing query: expected field name at column 1");
    assert_eq!(error("Id sideways"), "Error parsing query: expected ',' or end of list at column 4");
    assert_eq!(error("Id,"), "Error parsing query: expected field name at column 4");
    assert_eq!(error("`Id"), "Error parsing query: expected closing backquote at column 4");
}

#[test]
fn fields_are_comma_separated_names() {
    assert_eq!(parse_fields("Id, Email,`First Name`"), Ok(vec!["Id".into(), "Email".into(), "First Name".into()]));
    let error = |input: &str| parse_fields(input).map_err(|e| e.to_string()).expect_err("should fail");
    assert_eq!(error("Id,,Email"), "Error parsing query: expected field name at column 4");
    assert_eq!(error("Id Email"), "Error parsing query: expected ',' or end of list at column 4");
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("(".to_string()),
        Just(")".to_string()),
        Just(" AND ".to_string()),
        Just(" or ".to_string()),
        Just("NOT ".to_string()),
        Just(" LIKE ".to_string()),
        Just(" IN ".to_string()),
        Just(" IS ".to_string()),
        Just("NULL".to_string()),
        Just(",".to_string()),
        Just("=".to_string()),
        Just("!=".to_string()),
        Just("<>".to_string()),
        Just("<=".to_string()),
        Just(">".to_string()),
        Just("'".to_string()),
        Just("`".to_string()),
        Just("true".to_string()),
        Just(" desc".to_string()),
        "[A-Za-z_][A-Za-z0-9_.]{0,4}",
        "-?[0-9]{1,3}(\\.[0-9]{1,2})?",
        "'[^']{0,4}'",
        "`[^`]{0,4}`",
        "[ \\t\\n]{0,2}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(input in ".{0,64}") {
        let _ = parse(&input);
        let _ = parse_order_by(&input);
        let _ = parse_fields(&input);
    }

    #[test]
    fn arbitrary_token_soup_never_panics(tokens in prop::collection::vec(token(), 0..24)) {
        let input = tokens.concat();
        if let Err(error) = parse(&input) {
            prop_assert!(error.column.is_some_and(|c| c >= 1 && c <= input.chars().count() + 1));
        }
        let _ = parse_order_by(&input);
        let _ = parse_fields(&input);
    }
}
