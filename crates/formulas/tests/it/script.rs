//! The sandboxed engine: the platforms' globals, done(), console, limits, and no way out.

use std::time::{Duration, Instant};

use formulas::script::{Limits, Sandbox, ScriptContext, ScriptError};
use proptest::prelude::*;
use serde_json::{json, Value};

fn event(event_type: &str, object_type: &str) -> ScriptContext {
    ScriptContext {
        trigger: json!({"event": {"eventType": event_type, "objectType": object_type, "objectId": "12"}}),
        ..ScriptContext::default()
    }
}

fn run(body: &str) -> Result<Value, ScriptError> {
    Sandbox::default().run(body, &ScriptContext::default()).result
}

fn short(time_ms: u64) -> Sandbox {
    Sandbox::new(Limits { time: Duration::from_millis(time_ms), ..Limits::default() })
}

const FACTS_FILTER: &str = "done(trigger.event.eventType === 'UPDATED' && trigger.event.objectType === 'Contact');";

#[test]
fn the_platforms_filter_sees_the_trigger() {
    let sandbox = Sandbox::default();
    assert_eq!(sandbox.run(FACTS_FILTER, &event("UPDATED", "Contact")).filter_result(), Ok(true));
    assert_eq!(sandbox.run(FACTS_FILTER, &event("CREATED", "Contact")).filter_result(), Ok(false));
    let e = sandbox.run("done('yes')", &ScriptContext::default()).filter_result().unwrap_err();
    assert_eq!(e.to_string(), "a filter must call done(true) or done(false), not done(\"yes\")");
}

#[test]
fn a_script_sees_steps_config_and_info_and_returns_json() {
    let context = ScriptContext {
        steps: json!({"get-contacts": {"response": {"body": [{"id": 1}, {"id": 2}]}}}),
        config: json!({"crm": 7, "max.count": "5"}),
        info: json!({"formulaId": 3, "formulaExecutionId": 99}),
        ..ScriptContext::default()
    };
    let body = "const c = steps['get-contacts'].response.body;\n\
                return done({ n: c.length, ids: c.map(x => x.id), crm: config.crm,\n\
                              max: Number(config['max.count']), exec: info.formulaExecutionId });";
    let run = Sandbox::default().run(body, &context);
    assert_eq!(run.result, Ok(json!({"n": 2, "ids": [1, 2], "crm": 7, "max": 5, "exec": 99})));
}

#[test]
fn done_twice_keeps_the_first_and_says_so() {
    let run = Sandbox::default().run("done(1); done(2);", &ScriptContext::default());
    assert_eq!(run.result, Ok(json!(1)));
    assert_eq!(run.logs, vec!["done() called again; the first call's value is kept"]);
}

#[test]
fn ending_without_done_is_an_error_that_says_so() {
    let e = run("let x = 1 + 1; x").unwrap_err();
    assert_eq!(e, ScriptError::DoneNotCalled);
    assert!(e.to_string().contains("without calling done(value)"));
}

#[test]
fn promises_settle_before_the_result_is_read() {
    assert_eq!(run("Promise.resolve(5).then(done);"), Ok(json!(5)));
    assert_eq!(run("(async () => { const v = await Promise.resolve({a: 1}); done(v); })();"), Ok(json!({"a": 1})));
}

#[test]
fn an_exception_is_reported_with_its_message_and_line() {
    let e = run("const a = 1;\nnull.x;\ndone(a);").unwrap_err();
    let ScriptError::Thrown { message } = &e else { panic!("{e:?}") };
    assert!(message.starts_with("TypeError: "), "{message}");
    assert!(message.ends_with("(at line 2)"), "{message}");
    assert_eq!(run("throw {code: 4}").unwrap_err(), ScriptError::Thrown { message: "{\"code\":4}".into() });
    let e = run("done(1); throw new Error('after')").unwrap_err();
    assert!(e.to_string().contains("Error: after"), "{e}");
}

#[test]
fn non_json_values_come_back_as_json_stringify_makes_them() {
    assert_eq!(run("done()"), Ok(Value::Null));
    assert_eq!(run("done(undefined)"), Ok(Value::Null));
    assert_eq!(run("done(NaN)"), Ok(Value::Null));
    assert_eq!(run("done(() => 1)"), Ok(Value::Null));
    assert_eq!(
        run("done({f() {}, u: undefined, x: 1, d: new Date(0)})"),
        Ok(json!({"x": 1, "d": "1970-01-01T00:00:00.000Z"}))
    );
    assert_eq!(run("done([1, undefined, Infinity])"), Ok(json!([1, null, null])));
    let e = run("done(10n)").unwrap_err();
    assert!(e.to_string().contains("TypeError"), "{e}");
    let e = run("const o = {}; o.o = o; done(o)").unwrap_err();
    assert!(e.to_string().contains("TypeError"), "{e}");
}

#[test]
fn numbers_cross_as_javascript_has_them() {
    // One number type: 1.0 comes back as 1, integers past 2^53 lose precision.
    assert_eq!(run("done([1.0, 0.5, -0, 9007199254740993])"), Ok(json!([1, 0.5, 0, 9007199254740992u64])));
}

#[test]
fn a_thrown_null_reads_as_the_memory_limit() {
    // QuickJS throws null when it cannot allocate even its out-of-memory error (module docs).
    assert!(matches!(run("throw null"), Err(ScriptError::MemoryLimit { .. })));
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-(1i64 << 53)..(1i64 << 53)).prop_map(Value::from),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn json_values_cross_both_ways_unchanged(value in arb_json()) {
        let context = ScriptContext { trigger: json!({"args": value.clone()}), ..ScriptContext::default() };
        let run = Sandbox::default().run("done(trigger.args)", &context);
        prop_assert_eq!(run.result, Ok(value));
    }
}

#[test]
fn the_context_is_a_copy() {
    let context = event("UPDATED", "Contact");
    let run = Sandbox::default().run("trigger.event.eventType = 'X'; done(trigger.event.eventType)", &context);
    assert_eq!(run.result, Ok(json!("X")));
    assert_eq!(context.trigger["event"]["eventType"], json!("UPDATED"));
}

#[test]
fn console_lines_are_captured_and_bounded() {
    let run = Sandbox::default().run(
        "console.log('a', 1, {b: [2]}, null, undefined); console.error(new TypeError('t')); done(true)",
        &ScriptContext::default(),
    );
    assert_eq!(run.logs, vec!["a 1 {\"b\":[2]} null undefined", "TypeError: t"]);

    let run = Sandbox::default().run(
        "for (let i = 0; i < 1000; i++) console.log('line ' + i); console.log('x'.repeat(5000)); done(1)",
        &ScriptContext::default(),
    );
    assert_eq!(run.logs.len(), 101);
    assert_eq!(run.logs[0], "line 0");
    assert_eq!(run.logs[100], "(901 more console lines not kept)");

    let run = Sandbox::default().run("console.log('é'.repeat(3000)); done(1)", &ScriptContext::default());
    assert!(run.logs[0].len() <= 2_000 + " …(cut)".len(), "{}", run.logs[0].len());
    assert!(run.logs[0].ends_with("…(cut)"));
}

#[test]
fn logs_are_kept_when_the_script_fails() {
    let run = Sandbox::default().run("console.log('before'); throw new Error('x')", &ScriptContext::default());
    assert!(run.result.is_err());
    assert_eq!(run.logs, vec!["before"]);
}

#[test]
fn there_is_no_network_file_or_process_access() {
    let body = "done([typeof require, typeof fetch, typeof std, typeof os, typeof process,
                      typeof XMLHttpRequest, typeof WebSocket, typeof Deno, typeof scriptArgs])";
    assert_eq!(run(body), Ok(Value::from(vec!["undefined"; 9])));
    let body = "import('os').then(() => done('loaded'), e => done('refused: ' + e));";
    let result = run(body).unwrap();
    assert!(result.as_str().unwrap().starts_with("refused: "), "{result}");
    let body = "import('./secrets.json').then(() => done('loaded'), e => done('refused'));";
    assert_eq!(run(body), Ok(json!("refused")));
    // A static import is a syntax error in a script.
    assert!(matches!(run("import * as os from 'os'; done(1)"), Err(ScriptError::Thrown { .. })));
}

#[test]
fn a_runaway_loop_is_stopped_at_the_time_limit_and_the_thread_goes_on() {
    let sandbox = short(300);
    let started = Instant::now();
    let run = sandbox.run("while (true) {}", &ScriptContext::default());
    assert_eq!(run.result, Err(ScriptError::TimeLimit { limit: Duration::from_millis(300) }));
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    assert!(run.result.unwrap_err().to_string().contains("time limit of 300ms"));
    // A catch does not swallow it.
    let run = sandbox.run("while (true) { try { while (true) {} } catch (e) {} }", &ScriptContext::default());
    assert!(matches!(run.result, Err(ScriptError::TimeLimit { .. })), "{:?}", run.result);
    // Nor does an endless chain of promise jobs escape it.
    let run = sandbox.run("function f() { Promise.resolve().then(f) } f();", &ScriptContext::default());
    assert!(matches!(run.result, Err(ScriptError::TimeLimit { .. })), "{:?}", run.result);
    // Catastrophic backtracking in the regular-expression engine is interrupted too.
    let run = sandbox.run("done(/(a+)+b/.test('a'.repeat(40)))", &ScriptContext::default());
    assert!(matches!(run.result, Err(ScriptError::TimeLimit { .. })), "{:?}", run.result);
    assert_eq!(sandbox.run(FACTS_FILTER, &event("UPDATED", "Contact")).filter_result(), Ok(true));
}

#[test]
fn the_default_time_limit_is_five_seconds() {
    assert_eq!(Limits::default().time, Duration::from_secs(5));
    assert_eq!(Limits::default().memory_bytes, 64 * 1024 * 1024);
}

#[test]
fn a_runaway_allocation_is_stopped_at_the_memory_limit_and_the_thread_goes_on() {
    let sandbox = Sandbox::default();
    let started = Instant::now();
    let run = sandbox.run("let a = []; while (true) a.push(new Array(1e6));", &ScriptContext::default());
    assert_eq!(
        run.result,
        Err(ScriptError::MemoryLimit { limit_bytes: 64 * 1024 * 1024 }),
        "after {:?}",
        started.elapsed()
    );
    assert_eq!(
        run.result.unwrap_err().to_string(),
        "the script used more than its memory limit of 64 MiB and was stopped"
    );
    let run = sandbox
        .run("const m = new Map(); for (let i = 0; ; i++) m.set(i, 'x'.repeat(1000) + i);", &ScriptContext::default());
    assert!(matches!(run.result, Err(ScriptError::MemoryLimit { .. })), "{:?}", run.result);
    assert_eq!(sandbox.run(FACTS_FILTER, &event("UPDATED", "Contact")).filter_result(), Ok(true));
}

#[test]
fn deep_recursion_is_an_error_in_the_script_not_a_crash() {
    let e = run("function f(n) { return f(n + 1) + 1 } f(0); done(1)").unwrap_err();
    let ScriptError::Thrown { message } = &e else { panic!("{e:?}") };
    assert!(message.contains("stack"), "{message}");
    assert_eq!(run("done(1)"), Ok(json!(1)));
}

#[test]
fn oversized_scripts_are_refused_before_running() {
    let body = format!("done(1);{}", " ".repeat(formulas::template::MAX_SCRIPT_BYTES));
    assert!(matches!(run(&body), Err(ScriptError::TooLarge { .. })));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_runaway_scripts_in_parallel_are_all_stopped() {
    let sandbox = short(500);
    let started = Instant::now();
    let runs: Vec<_> = (0..20)
        .map(|i| {
            let body = if i % 2 == 0 { "while (true) {}" } else { "for (;;) { Math.random(); }" };
            tokio::spawn(async move { sandbox.run_async(body.to_owned(), ScriptContext::default()).await })
        })
        .collect();
    for run in runs {
        let run = run.await.unwrap();
        assert!(matches!(run.result, Err(ScriptError::TimeLimit { .. })), "{:?}", run.result);
    }
    // Wall-clock deadlines: all twenty end near 500 ms even on two cores.
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let after = sandbox.run_async(FACTS_FILTER.to_owned(), event("UPDATED", "Contact")).await;
    assert_eq!(after.filter_result(), Ok(true));
}

/// `cargo test -p junction-formulas fresh_context_cost -- --nocapture` prints the figure.
#[test]
fn fresh_context_cost() {
    let sandbox = Sandbox::default();
    let context = event("UPDATED", "Contact");
    let runs = 1_000;
    let started = Instant::now();
    for _ in 0..runs {
        assert_eq!(sandbox.run(FACTS_FILTER, &context).filter_result(), Ok(true));
    }
    let mean = started.elapsed() / runs;
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    println!("fresh runtime + context + trivial filter: mean {mean:?} over {runs} runs ({profile} build)");
    assert!(mean < Duration::from_millis(50), "{mean:?}");
}
