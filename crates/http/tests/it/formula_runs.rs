//! Formula instances and executions over HTTP, in process against the simulator: binding slots
//! (and every refusal, naming the slot), tenant isolation, manual runs recorded step by step, a
//! loop, retries, runaway scripts stopped, scheduled triggers fired once per time, hub calls served
//! while 100 executions run, and bad input on every route. Events and `kill -9` are tested with
//! real processes in `crates/junction/tests/it/formulas.rs`.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{error_message, Stack, StackOptions};

async fn send(stack: &Stack, method: Method, path: &str, body: Option<&Value>) -> reqwest::Response {
    send_as(stack, &stack.platform_auth(), method, path, body).await
}

async fn send_as(stack: &Stack, auth: &str, method: Method, path: &str, body: Option<&Value>) -> reqwest::Response {
    let mut request = stack.http.request(method, stack.api(path)).header("authorization", auth);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

async fn ok(answer: reqwest::Response) -> Value {
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// Creates `template` and an instance of it binding `crm` to a new element instance; returns the
/// formula id, the formula instance id and the element instance's token.
async fn formula_instance(stack: &Stack, template: Value) -> (i64, i64, String) {
    let formula = ok(send(stack, Method::POST, "/formulas", Some(&template)).await).await;
    let formula_id = formula["id"].as_i64().unwrap();
    let element_instance = stack.create_instance().await;
    let body = json!({"name": "bound", "configuration": {"crm": element_instance["id"]}});
    let path = format!("/formulas/{formula_id}/instances");
    let created = ok(send(stack, Method::POST, &path, Some(&body)).await).await;
    (formula_id, created["id"].as_i64().unwrap(), element_instance["token"].as_str().unwrap().to_owned())
}

/// A manual formula reading contacts, then summarizing them in a script.
fn reader(name: &str) -> Value {
    json!({
        "name": name,
        "configuration": [{"key": "crm", "type": "elementInstance"}],
        "triggers": [{"type": "manual", "onSuccess": ["read"]}],
        "steps": [
            {"name": "read", "type": "elementRequest",
             "properties": {"elementInstanceId": "${config.crm}", "method": "GET", "api": "/hubs/crm/contacts",
                            "query": {"pageSize": "${trigger.args.pageSize}"}},
             "onSuccess": ["count"]},
            {"name": "count", "type": "script",
             "properties": {"body": "done({count: steps.read.response.body.length, first: steps.read.response.body[0].Id});"}}
        ]
    })
}

async fn run(stack: &Stack, instance: i64, args: &Value) -> Value {
    let path = format!("/formulas/instances/{instance}/executions");
    ok(send(stack, Method::POST, &path, Some(args)).await).await
}

/// Waits (at most 60 s) until execution `id` has ended, and returns it.
async fn ended(stack: &Stack, id: i64) -> Value {
    let started = Instant::now();
    loop {
        let execution = ok(send(stack, Method::GET, &format!("/formulas/instances/executions/{id}"), None).await).await;
        if !matches!(execution["status"].as_str(), Some("queued" | "pending")) {
            return execution;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "execution {id} did not end: {execution}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn steps(stack: &Stack, id: i64) -> Vec<Value> {
    let steps = ok(send(stack, Method::GET, &format!("/formulas/instances/executions/{id}/steps"), None).await).await;
    steps.as_array().unwrap().clone()
}

fn running() -> StackOptions {
    let formulas = platform::formulas::FormulaConfig {
        tick: Duration::from_millis(20),
        trigger_period: Duration::from_millis(50),
        ..Default::default()
    };
    StackOptions { formulas: Some(formulas), ..StackOptions::default() }
}

#[tokio::test]
async fn a_manual_run_calls_the_hub_as_the_slots_instance_and_records_every_step() {
    let stack = Stack::start_with(running()).await;
    let (formula_id, instance, _) = formula_instance(&stack, reader("reader")).await;
    let queued = run(&stack, instance, &json!({"pageSize": 3})).await;
    assert_eq!(queued["formulaId"], formula_id);
    assert_eq!(queued["trigger"], json!({"type": "manual", "args": {"pageSize": 3}}));
    let execution = ended(&stack, queued["id"].as_i64().unwrap()).await;
    assert_eq!(execution["status"], "success", "{execution}");
    assert!(execution["finishedDate"].is_string());
    let steps = steps(&stack, queued["id"].as_i64().unwrap()).await;
    let names: Vec<&str> = steps.iter().map(|s| s["stepName"].as_str().unwrap()).collect();
    assert_eq!(names, ["read", "count"]);
    let read = &steps[0];
    assert_eq!(read["input"]["query"], json!({"pageSize": 3}), "the input is resolved");
    assert_eq!(read["output"]["response"]["code"], 200);
    assert_eq!(read["output"]["response"]["headers"]["elements-returned-count"], 3);
    assert_eq!(steps[1]["output"]["count"], 3, "{:?}", steps[1]);
    assert_eq!(steps[1]["output"]["first"], read["output"]["response"]["body"][0]["Id"]);
    let metrics = stack.http.get(format!("{}/metrics", stack.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("junction_formula_executions_total{status=\"success\"} 1"), "{metrics}");
    assert!(
        metrics.contains("junction_formula_steps_total{kind=\"elementRequest\",status=\"success\"} 1"),
        "{metrics}"
    );
    // The same listing a client of the hub API gets.
    let listed = ok(send(&stack, Method::GET, &format!("/formulas/instances/{instance}/executions"), None).await).await;
    assert_eq!(listed[0]["id"], queued["id"]);
}

#[tokio::test]
async fn a_loop_runs_its_body_once_per_item_then_its_on_failure_steps() {
    let stack = Stack::start_with(running()).await;
    let template = json!({
        "name": "looper",
        "configuration": [{"key": "crm", "type": "elementInstance"}],
        "triggers": [{"type": "manual", "onSuccess": ["each"]}],
        "steps": [
            {"name": "each", "type": "loop", "properties": {"list": "${trigger.args.items}"},
             "onSuccess": ["double"], "onFailure": ["total"]},
            {"name": "double", "type": "script",
             "properties": {"body": "done({value: steps.each.entry * 2, sum: ((steps.double || {}).sum || 0) + steps.each.entry * 2});"},
             "onSuccess": ["each"]},
            {"name": "total", "type": "script", "properties": {"body": "done({count: steps.each.index, sum: steps.double.sum});"}}
        ]
    });
    let (_, instance, _) = formula_instance(&stack, template).await;
    let queued = run(&stack, instance, &json!({"items": [1, 2, 3]})).await;
    let execution = ended(&stack, queued["id"].as_i64().unwrap()).await;
    assert_eq!(execution["status"], "success", "{execution}");
    let steps = steps(&stack, queued["id"].as_i64().unwrap()).await;
    let names: Vec<&str> = steps.iter().map(|s| s["stepName"].as_str().unwrap()).collect();
    assert_eq!(names, ["each", "double", "each", "double", "each", "double", "each", "total"]);
    assert_eq!(steps[6]["next"], "onFailure", "the list is done");
    assert_eq!(steps[7]["output"], json!({"count": 3, "sum": 12}));
}

#[tokio::test]
async fn a_failed_step_takes_its_on_failure_branch_or_fails_the_execution() {
    let stack = Stack::start_with(running()).await;
    let template = json!({
        "name": "failing",
        "configuration": [{"key": "crm", "type": "elementInstance"}],
        "triggers": [{"type": "manual", "onSuccess": ["missing"]}],
        "steps": [
            {"name": "missing", "type": "elementRequest",
             "properties": {"elementInstanceId": "${crm}", "method": "GET", "api": "/contacts/999999999",
                            "retry": "true", "retryAttempts": "2", "retryDelay": "10", "retryStatusCodes": "404"},
             "onFailure": ["explain"]},
            {"name": "explain", "type": "script", "properties": {"body": "done({code: steps.missing.response.code});"},
             "onSuccess": ["spin"]},
            {"name": "spin", "type": "script", "properties": {"body": "while (true) {}"}}
        ]
    });
    let (_, instance, _) = formula_instance(&stack, template).await;
    let queued = run(&stack, instance, &json!({})).await;
    let execution = ended(&stack, queued["id"].as_i64().unwrap()).await;
    assert_eq!(execution["status"], "failed");
    let error = execution["error"].as_str().unwrap();
    assert!(error.contains("step 'spin' failed") && error.contains("time limit"), "{error}");
    let steps = steps(&stack, queued["id"].as_i64().unwrap()).await;
    assert_eq!(steps[0]["status"], "failed");
    assert_eq!(steps[0]["attempts"], 3, "one try and two retries of a retryable status");
    assert_eq!(steps[1]["output"], json!({"code": 404}), "the failed step's output is the next one's input");
    // The node goes on serving.
    assert_eq!(run(&stack, instance, &json!({})).await["status"], "queued");
}

#[tokio::test]
async fn scheduled_triggers_fire_once_per_time_however_often_the_job_passes() {
    let stack = Stack::start().await;
    let mut template = reader("nightly");
    template["triggers"] =
        json!([{"type": "scheduled", "properties": {"cron": "0 0/15 * * * ?"}, "onSuccess": ["read"]}]);
    let (_, instance, _) = formula_instance(&stack, template).await;
    let path = format!("/formulas/instances/{instance}/executions");
    let count = |listed: Value| listed.as_array().unwrap().len();
    let now = chrono::Utc::now();
    platform::formulas::triggers::fire_due(&stack.platform, now).await.unwrap();
    let before = count(ok(send(&stack, Method::GET, &path, None).await).await);
    let later = now + chrono::TimeDelta::minutes(16);
    for _ in 0..3 {
        platform::formulas::triggers::fire_due(&stack.platform, later).await.unwrap();
    }
    let listed = ok(send(&stack, Method::GET, &path, None).await).await;
    assert_eq!(count(listed.clone()), before + 1, "one run for the time passed: {listed}");
    assert_eq!(listed[0]["trigger"]["type"], "scheduled");
    assert_eq!(listed[0]["trigger"]["cron"], "0 0/15 * * * ?");
    assert_eq!(listed[0]["status"], "queued", "no runner in this stack");
    // Deactivated, it does not fire.
    let formula_id = listed[0]["formulaId"].as_i64().unwrap();
    send(&stack, Method::DELETE, &format!("/formulas/{formula_id}/instances/{instance}/active"), None).await;
    platform::formulas::triggers::fire_due(&stack.platform, later + chrono::TimeDelta::hours(2)).await.unwrap();
    assert_eq!(count(ok(send(&stack, Method::GET, &path, None).await).await), before + 1);
}

#[tokio::test]
async fn hub_calls_are_served_while_a_hundred_executions_run() {
    let stack = Stack::start_with(running()).await;
    let (_, instance, token) = formula_instance(&stack, reader("busy")).await;
    let started = Instant::now();
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(run(&stack, instance, &json!({"pageSize": 5})).await["id"].as_i64().unwrap());
    }
    let mut waits = Vec::new();
    for _ in 0..20 {
        let call = Instant::now();
        assert_eq!(stack.hub_contacts(&token).await.status(), 200);
        waits.push(call.elapsed());
    }
    for id in ids {
        assert_eq!(ended(&stack, id).await["status"], "success");
    }
    // Figures for the record (no timing assertion: the machines are noisy).
    waits.sort();
    eprintln!(
        "100 executions (a hub GET and a script each) ended in {:?}; hub calls meanwhile: median {:?}, max {:?}",
        started.elapsed(),
        waits[10],
        waits[19]
    );
}

#[tokio::test]
async fn slots_bind_only_the_organizations_instances_and_each_refusal_names_the_slot() {
    let stack = Stack::start().await;
    let formula = ok(send(&stack, Method::POST, "/formulas", Some(&reader("bind"))).await).await;
    let path = format!("/formulas/{}/instances", formula["id"]);
    let mine = stack.create_instance().await["id"].as_i64().unwrap();
    // Another organization, with an instance of its own.
    let (other, other_secret) = stack.store.create_organization("other").await.unwrap();
    let user = stack.store.create_user(other.id, "intruder", true).await.unwrap().1;
    let intruder = format!("User {}, Organization {}", user.expose(), other_secret.expose());
    let code = stack.consent(crate::common::CALLBACK).await;
    let foreign = ok(send_as(&stack, &intruder, Method::POST, "/instances", Some(&stack.crm_body(&code))).await).await;
    let foreign_id = foreign["id"].as_i64().unwrap();
    for (body, needle) in [
        (json!({"configuration": {"crm": mine}}), "'name'"),
        (json!({"name": "x"}), "configuration.crm"),
        (json!({"name": "x", "configuration": {"crm": "nope"}}), "configuration.crm"),
        (json!({"name": "x", "configuration": {"crm": foreign_id}}), "no instance"),
        (json!({"name": "x", "configuration": {"crm": mine, "extra": 1}}), "configuration.extra"),
        (json!({"name": "x", "configuration": [mine]}), "'configuration'"),
        (json!({"name": "x", "configuration": {"crm": mine}, "active": "on"}), "'active'"),
        (json!({"name": "x", "configuration": {"crm": mine}, "settings": "s"}), "'settings'"),
        (json!("x"), "JSON object"),
    ] {
        let answer = send(&stack, Method::POST, &path, Some(&body)).await;
        let message = error_message(answer, 400).await["message"].as_str().unwrap().to_owned();
        assert!(message.contains(needle), "{body}: {message}");
    }
    let created =
        ok(send(&stack, Method::POST, &path, Some(&json!({"name": "x", "configuration": {"crm": mine}}))).await).await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["formula"]["id"], formula["id"]);
    // The other organization sees none of it.
    for (method, path) in [
        (Method::GET, format!("/formulas/{}/instances", formula["id"])),
        (Method::GET, format!("/formulas/{}/instances/{id}", formula["id"])),
        (Method::DELETE, format!("/formulas/{}/instances/{id}", formula["id"])),
        (Method::PUT, format!("/formulas/{}/instances/{id}/active", formula["id"])),
        (Method::POST, format!("/formulas/instances/{id}/executions")),
        (Method::GET, format!("/formulas/instances/{id}/executions")),
    ] {
        let answer = send_as(&stack, &intruder, method.clone(), &path, None).await;
        assert_eq!(answer.status(), 404, "{method} {path}");
    }
    // Deleting the instance takes it away; a second delete is a 404.
    let one = format!("/formulas/{}/instances/{id}", formula["id"]);
    assert_eq!(send(&stack, Method::DELETE, &one, None).await.status(), 200);
    assert_eq!(send(&stack, Method::DELETE, &one, None).await.status(), 404);
}

#[tokio::test]
async fn manual_runs_need_an_active_instance_and_a_manual_trigger() {
    let stack = Stack::start().await;
    let (formula_id, instance, _) = formula_instance(&stack, reader("manual")).await;
    let off =
        ok(send(&stack, Method::DELETE, &format!("/formulas/{formula_id}/instances/{instance}/active"), None).await)
            .await;
    assert_eq!(off["active"], false);
    let answer = send(&stack, Method::POST, &format!("/formulas/instances/{instance}/executions"), None).await;
    assert!(error_message(answer, 409).await["message"].as_str().unwrap().contains("not active"));
    ok(send(&stack, Method::PUT, &format!("/formulas/{formula_id}/instances/{instance}/active"), None).await).await;
    // No body is `{}` as trigger.args.
    let queued =
        ok(send(&stack, Method::POST, &format!("/formulas/instances/{instance}/executions"), None).await).await;
    assert_eq!(queued["trigger"]["args"], json!({}));
    // Cancelled while queued (no runner here): it ends cancelled, and stays so.
    let path = format!("/formulas/instances/{instance}/executions/{}", queued["id"]);
    assert_eq!(ok(send(&stack, Method::DELETE, &path, None).await).await["status"], "cancelled");
    assert_eq!(ok(send(&stack, Method::GET, &path, None).await).await["status"], "cancelled");

    let mut scheduled = reader("only scheduled");
    scheduled["triggers"] =
        json!([{"type": "scheduled", "properties": {"cron": "0 0 12 * * ?"}, "onSuccess": ["read"]}]);
    let (_, instance, _) = formula_instance(&stack, scheduled).await;
    let answer = send(&stack, Method::POST, &format!("/formulas/instances/{instance}/executions"), None).await;
    assert!(error_message(answer, 409).await["message"].as_str().unwrap().contains("no manual trigger"));
}

#[tokio::test]
async fn bad_ids_bodies_and_parameters_are_4xx_json_errors_naming_the_problem() {
    let stack = Stack::start().await;
    let (formula_id, instance, _) = formula_instance(&stack, reader("bad input")).await;
    for path in [
        "/formulas/0/instances".to_owned(),
        "/formulas/abc/instances".to_owned(),
        format!("/formulas/{formula_id}/instances/999999"),
        format!("/formulas/{formula_id}/instances/-1"),
        format!("/formulas/{}/instances/{instance}", formula_id + 1000),
        "/formulas/instances/999999/executions".to_owned(),
        "/formulas/instances/executions/999999".to_owned(),
        "/formulas/instances/executions/x/steps".to_owned(),
        format!("/formulas/instances/{instance}/executions/99999999999999999999999"),
    ] {
        let answer = send(&stack, Method::GET, &path, None).await;
        let body = error_message(answer, 404).await;
        assert!(body["message"].as_str().unwrap().starts_with("No "), "{path}: {body}");
    }
    let executions = format!("/formulas/instances/{instance}/executions");
    for query in ["?pageSize=0", "?pageSize=abc", "?pageSize=100000", "?before=x"] {
        let answer = send(&stack, Method::GET, &format!("{executions}{query}"), None).await;
        let message = error_message(answer, 400).await["message"].as_str().unwrap().to_owned();
        assert!(message.contains("pageSize") || message.contains("before"), "{query}: {message}");
    }
    // Malformed, wrongly typed and oversized bodies.
    let raw = |body: &'static str, content_type: &'static str| {
        stack
            .http
            .post(stack.api(&executions))
            .header("authorization", stack.platform_auth())
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    assert_eq!(raw("{oops", "application/json").await.unwrap().status(), 400);
    assert_eq!(raw("a=b", "text/plain").await.unwrap().status(), 415);
    let huge = json!({"blob": "x".repeat(300 * 1024)});
    let answer = send(&stack, Method::POST, &executions, Some(&huge)).await;
    assert!(error_message(answer, 400).await["message"].as_str().unwrap().contains("trigger.args"));
    let answer = send_as(&stack, "User nope, Organization nope", Method::GET, &executions, None).await;
    assert_eq!(answer.status(), 401);
}

const MANUAL_EXAMPLE: &str = include_str!("../../../formulas/tests/it/formulas/manual.json");
const LOOP_EXAMPLE: &str = include_str!("../../../formulas/tests/it/formulas/loop.json");

#[tokio::test]
async fn the_platforms_example_formulas_run_unchanged() {
    let stack = Stack::start_with(running()).await;
    // The manual example: its query comes from trigger.args, its script ends with `return done(...)`.
    let manual: Value = serde_json::from_str(MANUAL_EXAMPLE).unwrap();
    let (_, instance, _) = formula_instance(&stack, manual).await;
    let queued = run(&stack, instance, &json!({"where": "FirstName like 'A%'", "pageSize": 2})).await;
    let execution = ended(&stack, queued["id"].as_i64().unwrap()).await;
    assert_eq!(execution["status"], "success", "{execution}");
    let first = steps(&stack, queued["id"].as_i64().unwrap()).await;
    assert_eq!(first[0]["input"]["query"], json!({"where": "FirstName like 'A%'", "pageSize": 2}));
    let read = first[0]["output"]["response"]["body"].as_array().unwrap().clone();
    assert!(!read.is_empty() && read.len() <= 2, "{read:?}");
    assert!(read.iter().all(|c| c["FirstName"].as_str().unwrap().starts_with('A')), "the where reached the hub");
    assert_eq!(first[1]["output"]["count"], read.len());

    // The loop example, started as its event trigger starts it (the trigger job itself is tested
    // with real events in crates/junction/tests/it/formulas.rs): a contact changed at `source`. Its
    // note step fails (the hub has no contact notes) and takes onFailure, back to the loop, so the
    // run ends with the loop's count.
    let looped: Value = serde_json::from_str(LOOP_EXAMPLE).unwrap();
    let formula = ok(send(&stack, Method::POST, "/formulas", Some(&looped)).await).await;
    let crm = stack.create_instance().await["id"].as_i64().unwrap();
    let body = json!({"name": "notes", "configuration": {"crm": crm, "source": crm}});
    let bound =
        ok(send(&stack, Method::POST, &format!("/formulas/{}/instances", formula["id"]), Some(&body)).await).await;
    let contact = read[0]["Id"].clone();
    let trigger = json!({"type": "event", "eventId": 1, "instanceId": crm,
        "event": {"eventType": "UPDATED", "objectType": "contacts", "objectId": contact.to_string()}});
    let new = store::NewExecution {
        organization_id: stack.organization_id,
        formula_instance_id: bound["id"].as_i64().unwrap(),
        formula_id: formula["id"].as_i64().unwrap(),
        trigger,
        template: looped,
        config: bound["configuration"].clone(),
        dedupe_key: Some("event:1:0".into()),
    };
    let created = stack.store.create_execution(&new).await.unwrap().unwrap();
    let execution = ended(&stack, created.id).await;
    let ran = steps(&stack, created.id).await;
    assert_eq!(execution["status"], "success", "{execution} {ran:?}");
    let names: Vec<&str> = ran.iter().map(|s| s["stepName"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["is-contact", "get-contacts", "each-contact", "build-note", "write-note", "each-contact", "finished"]
    );
    assert!(ran[3]["output"]["body"].as_str().unwrap().starts_with(&format!("emails of {contact}")), "{:?}", ran[3]);
    assert_eq!(ran[4]["status"], "failed");
    assert_eq!(ran[4]["input"]["api"], format!("/hubs/crm/contacts/{contact}/notes"));
    assert_eq!(ran[6]["output"], json!({"count": 1}));
}

#[tokio::test]
async fn a_hub_request_a_formula_watches_starts_a_run_with_the_answer() {
    let stack = Stack::start_with(running()).await;
    let template = json!({
        "name": "on create",
        "configuration": [{"key": "crm", "type": "elementInstance"}],
        "triggers": [{"type": "elementRequest", "onSuccess": ["seen"],
            "properties": {"elementInstanceId": "${crm}", "method": "POST", "api": "/hubs/crm/contacts"}}],
        "steps": [{"name": "seen", "type": "script",
            "properties": {"body": "done({id: trigger.response.body.Id, code: trigger.response.code, method: trigger.method});"}}]
    });
    let (_, instance, token) = formula_instance(&stack, template).await;
    let other = stack.create_instance().await["token"].as_str().unwrap().to_owned();
    // The node's table is read every 50 ms here.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let body = json!({"FirstName": "Watched", "Email": "watched@example.com"});
    let created = stack.hub(Method::POST, &token, "/hubs/crm/contacts", Some(body.clone())).await;
    assert_eq!(created.status(), 200);
    let created: Value = created.json().await.unwrap();
    // Neither a read, nor the same write through an instance the formula does not watch, nor a
    // refused write starts a run.
    assert_eq!(stack.hub(Method::GET, &token, "/hubs/crm/contacts", None).await.status(), 200);
    let unwatched = json!({"FirstName": "Other", "Email": "other@example.com"});
    assert_eq!(stack.hub(Method::POST, &other, "/hubs/crm/contacts", Some(unwatched)).await.status(), 200);
    assert_eq!(
        stack.hub(Method::POST, &token, "/hubs/crm/contacts", Some(json!({"FirstName": "x"}))).await.status(),
        400
    );

    let path = format!("/formulas/instances/{instance}/executions");
    let started = Instant::now();
    let listed = loop {
        let listed = ok(send(&stack, Method::GET, &path, None).await).await;
        if listed.as_array().unwrap().iter().any(|run| run["status"] == "success") {
            break listed;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no run: {listed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ok(send(&stack, Method::GET, &path, None).await).await.as_array().unwrap().len(), 1, "{listed}");
    let run = &listed[0];
    assert_eq!(run["trigger"]["api"], "/hubs/crm/contacts");
    let ran = steps(&stack, run["id"].as_i64().unwrap()).await;
    assert_eq!(ran[0]["output"], json!({"id": created["Id"], "code": 200, "method": "POST"}));
}
