//! The template model against the platforms' example formulas and every refused case.

use formulas::template::{
    resolve_string, resolve_value, Formula, LoadError, ProblemKind, ScheduleError, Severity, MAX_STEPS,
};
use proptest::prelude::*;
use serde_json::{json, Value};

const EXAMPLES: [(&str, &str); 4] = [
    ("event_filter_request", include_str!("formulas/event_filter_request.json")),
    ("manual", include_str!("formulas/manual.json")),
    ("scheduled", include_str!("formulas/scheduled.json")),
    ("loop", include_str!("formulas/loop.json")),
];

fn example(name: &str) -> Value {
    let (_, text) = EXAMPLES.iter().find(|(n, _)| *n == name).unwrap();
    serde_json::from_str(text).unwrap()
}

/// Every problem of `formula` as `(path, kind)`, errors only.
fn errors(formula: Value) -> Vec<(String, ProblemKind)> {
    Formula::from_value(formula).unwrap().validate().errors().map(|p| (p.path.clone(), p.kind.clone())).collect()
}

/// `v` with the member at `pointer` set (added when its parent object lacks it).
fn set(mut v: Value, pointer: &str, new: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match v.pointer_mut(parent).unwrap_or_else(|| panic!("{pointer}")) {
        Value::Object(map) => {
            map.insert(key.to_owned(), new);
        }
        Value::Array(items) => items[key.parse::<usize>().unwrap()] = new,
        _ => panic!("{pointer}"),
    }
    v
}

#[test]
fn the_platforms_examples_load_unchanged_and_validate() {
    for (name, text) in EXAMPLES {
        let formula = Formula::from_slice(text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let validation = formula.validate();
        assert!(validation.problems.is_empty(), "{name}: {:?}", validation.problems);
        let original: Value = serde_json::from_str(text).unwrap();
        assert_eq!(formula.to_value(), original, "{name}: the round trip changed it");
    }
}

#[test]
fn unknown_fields_survive_a_round_trip() {
    let formula = Formula::from_value(example("manual")).unwrap();
    assert_eq!(formula.extra["id"], json!(4211));
    assert_eq!(formula.extra["createdDate"], json!("2019-03-14T17:21:05Z"));
    assert_eq!(formula.triggers()[0].extra["async"], json!(true));
    assert_eq!(formula.steps()[0].extra["id"], json!(373));
    assert_eq!(formula.slots()[0].extra["description"], json!("The CRM to read"));
    let text = serde_json::to_string(&formula).unwrap();
    let again = Formula::from_slice(text.as_bytes()).unwrap();
    assert_eq!(again, formula);
}

#[test]
fn a_step_type_junction_does_not_run_is_refused_naming_step_and_type() {
    for kind in ["amqpRequest", "request", "elementRequestStream", "retryFormulaExecution"] {
        let f = set(example("event_filter_request"), "/steps/1/type", json!(kind));
        let e = Formula::from_value(f).unwrap_err();
        assert_eq!(e, LoadError::UnsupportedStepType { step: "step2".into(), kind: kind.into() });
        assert!(e.to_string().contains(&format!("step 'step2' has type '{kind}'")), "{e}");
    }
    let f = set(example("event_filter_request"), "/steps/0/type", json!("teleport"));
    let e = Formula::from_value(f).unwrap_err();
    assert!(e.to_string().contains("step 'step1' has an unknown type 'teleport'"), "{e}");
    let f = set(example("event_filter_request"), "/triggers/0/type", json!("webhook"));
    let e = Formula::from_value(f).unwrap_err();
    assert!(e.to_string().contains("trigger 0 has an unknown type 'webhook'"), "{e}");
}

#[test]
fn malformed_json_names_where() {
    let e = Formula::from_slice(b"{\"name\": 3}").unwrap_err();
    assert!(matches!(&e, LoadError::Shape { path, .. } if path == "name"), "{e}");
    let e = Formula::from_slice(b"{\"name\": \"x\", \"steps\": [{\"name\": \"a\"}]}").unwrap_err();
    assert!(e.to_string().contains("type"), "{e}");
    let e = Formula::from_slice(b"not json").unwrap_err();
    assert!(matches!(e, LoadError::Shape { .. }), "{e}");
    let big = vec![b' '; formulas::template::MAX_FORMULA_BYTES + 1];
    assert!(matches!(Formula::from_slice(&big), Err(LoadError::TooLarge { .. })));
}

#[test]
fn an_unknown_step_in_on_success_or_on_failure_is_named() {
    let f = set(example("event_filter_request"), "/steps/0/onFailure", json!(["step9"]));
    let f = set(f, "/triggers/0/onSuccess", json!(["step1", "nope"]));
    let errs = errors(f);
    assert!(
        errs.contains(&("/steps/0/onFailure/0".into(), ProblemKind::UnknownStep { name: "step9".into() })),
        "{errs:?}"
    );
    assert!(
        errs.contains(&("/triggers/0/onSuccess/1".into(), ProblemKind::UnknownStep { name: "nope".into() })),
        "{errs:?}"
    );
}

#[test]
fn a_cycle_names_its_steps_but_a_loop_back_is_not_one() {
    let f = set(example("event_filter_request"), "/steps/1/onSuccess", json!(["step1"]));
    let errs = errors(f);
    assert_eq!(errs, vec![("/steps/0".into(), ProblemKind::Cycle { steps: vec!["step1".into(), "step2".into()] })]);
    assert_eq!(errs[0].1.to_string(), "the steps step1 → step2 → step1 form a cycle with no loop step on it");
    let f = set(example("event_filter_request"), "/steps/1/onSuccess", json!(["step2"]));
    assert_eq!(errors(f)[0].1, ProblemKind::Cycle { steps: vec!["step2".into()] });
    // loop.json: write-note goes back to each-contact, the loop step.
    assert!(errors(example("loop")).is_empty());
}

#[test]
fn a_reference_to_a_missing_slot_or_step_is_named() {
    let f = set(example("manual"), "/steps/0/properties/api", json!("/hubs/crm/${config.hub}/x"));
    let f = set(f, "/steps/2/properties/body/formula", json!("${steps.nowhere.body}"));
    let f = set(f, "/steps/2/properties/url", json!("https://x.example.com/${tenant}"));
    let errs = errors(f);
    assert!(
        errs.iter().any(|(p, k)| p == "/steps/0/properties/api"
            && matches!(k, ProblemKind::UnknownSlot { reference, .. } if reference == "config.hub")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|(p, k)| p == "/steps/2/properties/body/formula"
            && matches!(k, ProblemKind::UnknownStepReference { reference } if reference == "steps.nowhere.body")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|(p, k)| p == "/steps/2/properties/url"
            && k.to_string() == "`${tenant}` names no configuration slot (the formula has: crm)"),
        "{errs:?}"
    );
    assert_eq!(errs.len(), 3, "{errs:?}");
}

#[test]
fn a_script_body_is_javascript_not_a_template() {
    // `${c.id}` in loop.json's build-note is a template literal: no problem reported.
    let f = Formula::from_value(example("loop")).unwrap();
    assert!(f.step("build-note").unwrap().str_property("body").unwrap().contains("${c.id}"));
    assert!(f.validate().problems.is_empty());
}

#[test]
fn an_element_instance_id_must_name_an_element_instance_slot() {
    let f = set(example("event_filter_request"), "/triggers/0/properties/elementInstanceId", json!("${crn}"));
    let errs = errors(f);
    assert_eq!(errs[0].0, "/triggers/0/properties/elementInstanceId");
    assert_eq!(
        errs[0].1.to_string(),
        "elementInstanceId '${crn}' must name an elementInstance slot, as ${config.<slot>} or ${<slot>} (the formula has: crm)"
    );
    let f =
        set(example("event_filter_request"), "/triggers/0/properties/elementInstanceId", json!("${config.valueName}"));
    assert_eq!(
        errors(f),
        vec![(
            "/triggers/0/properties/elementInstanceId".into(),
            ProblemKind::NotAnInstanceSlot { slot: "valueName".into() }
        )]
    );
    let f = set(example("event_filter_request"), "/steps/1/properties/elementInstanceId", json!("42"));
    assert_eq!(errors(f)[0].0, "/steps/1/properties/elementInstanceId");
}

#[test]
fn a_bad_or_too_frequent_cron_is_refused() {
    let f = set(example("scheduled"), "/triggers/1/properties/cron", json!("0 0 25 * * ?"));
    let errs = errors(f);
    assert!(
        matches!(&errs[..], [(p, ProblemKind::Schedule(ScheduleError::Invalid { .. }))] if p == "/triggers/1/properties/cron"),
        "{errs:?}"
    );
    let f = set(example("scheduled"), "/triggers/0/properties/cron", json!("0 0/5 * * * ?"));
    let errs = errors(f);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].0, "/triggers/0/properties/cron");
    assert_eq!(
        errs[0].1.to_string(),
        "'0 0/5 * * * ?' runs every 5 minutes; schedules may run at most every 15 minutes"
    );
    let f = set(example("scheduled"), "/triggers/0/properties", json!({}));
    let errs = errors(f);
    assert_eq!(errs[0].1.to_string(), "A scheduled trigger needs the property 'cron'");
}

#[test]
fn duplicate_step_names_are_refused() {
    let f = set(example("event_filter_request"), "/steps/1/name", json!("step1"));
    let errs = errors(f);
    assert!(errs.contains(&("/steps/1/name".into(), ProblemKind::DuplicateStep { name: "step1".into() })), "{errs:?}");
}

#[test]
fn an_unreachable_step_is_a_warning() {
    let mut f = example("event_filter_request");
    f["steps"].as_array_mut().unwrap().push(json!(
        {"name": "aside", "type": "script", "properties": {"body": "done(1)"}}
    ));
    let validation = Formula::from_value(f).unwrap().validate();
    assert!(validation.is_valid());
    let warnings: Vec<_> = validation.warnings().collect();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].path, "/steps/2");
    assert_eq!(warnings[0].severity, Severity::Warning);
    assert_eq!(warnings[0].to_string(), "/steps/2: step 'aside' is not reached from any trigger, so it never runs");
}

#[test]
fn each_step_type_needs_its_properties() {
    let f = set(example("event_filter_request"), "/steps/1/properties", json!({"elementInstanceId": "${crm}"}));
    let errs = errors(f);
    let messages: Vec<String> = errs.iter().map(|(p, k)| format!("{p}: {k}")).collect();
    assert_eq!(
        messages,
        vec![
            "/steps/1/properties: An elementRequest step needs the property 'method'",
            "/steps/1/properties: An elementRequest step needs the property 'api'",
        ]
    );
    let f = set(example("loop"), "/steps/2/properties", json!({}));
    assert_eq!(errors(f)[0].1.to_string(), "A loop step needs the property 'list'");
    let f = set(example("loop"), "/steps/0/properties/body", json!("  "));
    assert_eq!(errors(f)[0].1.to_string(), "A filter step needs the property 'body'");
    let f = set(example("manual"), "/steps/0/properties/method", json!("FETCH"));
    assert_eq!(errors(f)[0].0, "/steps/0/properties/method");
}

#[test]
fn oversized_formulas_are_refused_naming_the_limit() {
    let mut f = example("event_filter_request");
    let steps = f["steps"].as_array_mut().unwrap();
    for i in 0..MAX_STEPS {
        steps.push(json!({"name": format!("s{i}"), "type": "script", "properties": {"body": "done(1)"}}));
    }
    let errs = errors(f);
    assert_eq!(errs[0].0, "/steps");
    assert_eq!(errs[0].1.to_string(), format!("the number of steps is {}; at most {MAX_STEPS} allowed", MAX_STEPS + 2));
    let body = format!("done(1);{}", " ".repeat(formulas::template::MAX_SCRIPT_BYTES));
    let f = set(example("event_filter_request"), "/steps/0/properties/body", json!(body));
    let errs = errors(f);
    assert_eq!(errs[0].0, "/steps/0/properties/body");
    assert!(
        errs[0].1.to_string().starts_with("step 'step1''s script is 102408; at most 102400 allowed"),
        "{}",
        errs[0].1
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let f = json!({
        "name": "",
        "configuration": [{"key": "a", "type": "value"}, {"key": "a", "type": "value"}],
        "triggers": [{"type": "scheduled", "properties": {"cron": "* * * * * ?"}, "onSuccess": ["x"]}],
        "steps": [
            {"name": "s", "type": "loop", "properties": {}},
            {"name": "s", "type": "elementRequest", "properties": {"elementInstanceId": "${a}", "method": "GET", "api": "/x"}}
        ]
    });
    let problems = Formula::from_value(f).unwrap().validate().into_result().unwrap_err();
    let text = problems.to_string();
    for part in [
        "/name",
        "/configuration/1/key",
        "/triggers/0/properties/cron",
        "/triggers/0/onSuccess/0",
        "/steps/0/properties",
        "/steps/1/name",
        "/steps/1/properties/elementInstanceId",
    ] {
        assert!(text.contains(&format!("{part}: ")), "{part} missing from {text}");
    }
}

#[test]
fn element_instance_ids_name_their_slot_in_every_form_the_platforms_used() {
    let f = Formula::from_value(example("scheduled")).unwrap();
    for id in ["${config.crm}", "${crm}", "${crm.instance.id}", "${config.crm.instance.id}"] {
        assert_eq!(f.slot_named_by(id).map(|s| s.key.as_str()), Some("crm"), "{id}");
    }
    assert_eq!(f.slot_named_by("${config.max.count}").map(|s| s.key.as_str()), Some("max.count"));
    for id in ["12", "${crm.other}", "x${crm}", "${steps.crm}", "${nope}"] {
        assert!(f.slot_named_by(id).is_none(), "{id}");
    }
}

#[test]
fn a_step_s_properties_resolve_against_an_execution_context() {
    let f = Formula::from_value(example("scheduled")).unwrap();
    let context = json!({
        "config": {"crm": 31, "max.count": "50", "tag.id": "7"},
        "steps": {"get-changed": {"response": {"body": [{"id": 1001}]}}},
        "trigger": {"scheduledTime": "2026-12-07T12:00:00Z"},
        "info": {"formulaId": 5}
    });
    let step = f.step("tag-them").unwrap();
    let props = resolve_value(&Value::Object(step.properties().clone()), &context).unwrap();
    assert_eq!(
        props,
        json!({"elementInstanceId": 31, "method": "POST", "api": "/hubs/crm/contacts/1001/tags", "body": {"id": "7"}})
    );
    let step = f.step("get-changed").unwrap();
    let id = resolve_string(step.str_property("elementInstanceId").unwrap(), &context).unwrap();
    assert_eq!(id, json!(31));
    let e = resolve_string("${steps.tag-them.response}", &context).unwrap_err();
    assert_eq!(e.to_string(), "`${steps.tag-them.response}` names nothing: `steps` has no `tag-them`");
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z${}.\\[\\]0-9 ]{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "filter",
            "script",
            "loop",
            "elementRequest",
            "event",
            "scheduled",
            "manual",
            "${config.crm}",
            "${crm}",
            "${steps.a.b[0]}",
            "${",
            "${}",
            "${steps.}",
            "0 0/5 * * * ?",
            "a",
            "b",
            "elementInstance",
            "value",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "name",
                    "type",
                    "key",
                    "steps",
                    "triggers",
                    "configuration",
                    "properties",
                    "onSuccess",
                    "onFailure",
                    "body",
                    "list",
                    "cron",
                    "elementInstanceId",
                    "api",
                    "method",
                    "x",
                ])
                .prop_map(String::from),
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_the_loader_or_validator(v in arb_json()) {
        if let Ok(f) = Formula::from_value(v) {
            let _ = f.validate();
            // Loading what was exported gives the same formula (an explicit `null` for an
            // optional field is not kept: it reads as absent).
            prop_assert_eq!(Formula::from_value(f.to_value()).ok(), Some(f));
        }
    }

    #[test]
    fn mutated_examples_never_panic(
        which in 0..4usize,
        pointer in prop::sample::select(vec![
            "/steps/0/onSuccess", "/steps/0/properties", "/steps/1/name", "/triggers/0/properties",
            "/triggers/0/onSuccess", "/configuration/0/key", "/steps/0/properties/body", "/name",
        ]),
        new in arb_json(),
    ) {
        let mut v = example(EXAMPLES[which].0);
        if let Some(slot) = v.pointer_mut(pointer) {
            *slot = new;
        }
        if let Ok(f) = Formula::from_value(v) {
            let _ = f.validate().into_result();
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = Formula::from_slice(&bytes).map(|f| f.validate());
    }
}
