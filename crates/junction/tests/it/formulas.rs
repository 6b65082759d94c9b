//! Formulas end to end with real `junction serve` processes on PostgreSQL and the simulator: a
//! contact changed at the vendor triggers a formula whose `elementRequest` writes back to it, and
//! executions that write to the vendor survive `kill -9` rounds, each ending `success` or `failed`
//! with no write made twice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::cluster::{Cluster, Node};
use crate::events::{enable_events, events_node, poll_now, tick_vendor_clock, Callback, Vendor};

async fn post(cluster: &Cluster, node: &Node, path: &str, body: &Value) -> Value {
    let answer = cluster
        .http
        .post(cluster.api(node, path))
        .header("authorization", cluster.platform_auth())
        .json(body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let text = answer.text().await.unwrap();
    assert_eq!(status, 200, "POST {path}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn get(cluster: &Cluster, node: &Node, path: &str) -> Value {
    let answer = cluster.http.get(cluster.api(node, path)).header("authorization", cluster.platform_auth()).send();
    let answer = answer.await.unwrap();
    assert_eq!(answer.status(), 200, "GET {path}");
    answer.json().await.unwrap()
}

/// Creates `template` and an instance of it binding its `crm` slot to element instance `crm`.
async fn bind(cluster: &Cluster, node: &Node, template: &Value, crm: i64) -> i64 {
    let formula = post(cluster, node, "/formulas", template).await;
    let path = format!("/formulas/{}/instances", formula["id"]);
    let instance = post(cluster, node, &path, &json!({"name": "bound", "configuration": {"crm": crm}})).await;
    instance["id"].as_i64().unwrap()
}

/// Up to 200 of the formula instance's executions, newest first.
async fn executions(cluster: &Cluster, node: &Node, instance: i64) -> Vec<Value> {
    let listed = get(cluster, node, &format!("/formulas/instances/{instance}/executions?pageSize=200")).await;
    listed.as_array().unwrap().clone()
}

fn open(execution: &Value) -> bool {
    matches!(execution["status"].as_str(), Some("queued" | "pending"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_contact_changed_at_the_vendor_triggers_a_formula_that_writes_the_change_back() {
    let cluster = Cluster::new().await;
    let node = events_node(&cluster, &["--formula-trigger-ms", "200"]).await;
    let (_callback, url) = Callback::start().await;
    let (id, _) = cluster.create_instance(&node).await;
    enable_events(&cluster, &node, id, &url).await;
    poll_now(&cluster, &node, id, false).await;
    let vendor = Vendor::new(&cluster).await;
    // Created before the formula instance: its event does not trigger it.
    let contact = vendor.create_contact("grace").await;
    poll_now(&cluster, &node, id, false).await;

    let template = json!({
        "name": "write back",
        "configuration": [{"key": "crm", "type": "elementInstance"}],
        "triggers": [{"type": "event", "properties": {"elementInstanceId": "${crm}"}, "onSuccess": ["updated"]}],
        "steps": [
            {"name": "updated", "type": "filter",
             "properties": {"body": "done(trigger.event.eventType === 'UPDATED' && trigger.event.objectType === 'contacts');"},
             "onSuccess": ["write"]},
            {"name": "write", "type": "elementRequest",
             "properties": {"elementInstanceId": "${config.crm}", "method": "PATCH",
                            "api": "/hubs/crm/contacts/${trigger.event.objectId}",
                            "body": {"LastName": "Seen ${trigger.event.eventType}"}}}
        ]
    });
    let instance = bind(&cluster, &node, &template, id).await;
    tick_vendor_clock(&cluster).await;
    vendor.rename_contact(&contact, "grace2").await;
    poll_now(&cluster, &node, id, false).await;

    let started = Instant::now();
    let written = loop {
        let contacts = vendor.contacts().await;
        let found =
            contacts.iter().find(|c| c["id"].as_str().map_or_else(|| c["id"].to_string(), str::to_owned) == contact);
        if let Some(found) = found.filter(|c| c["family_name"] == "Seen UPDATED") {
            break found.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the formula did not write back: {found:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(written["given_name"], "grace2", "the vendor's own change is kept");
    let runs = executions(&cluster, &node, instance).await;
    assert_eq!(runs.len(), 1, "one execution: the update, not the earlier create: {runs:?}");
    let run = &runs[0];
    assert_eq!(run["trigger"]["event"]["objectId"].as_str(), Some(contact.as_str()), "{run}");
    assert_eq!(run["trigger"]["body"]["message"]["instanceId"], id, "the platforms' message is trigger.body");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut ended = run.clone();
    while open(&ended) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ended = get(&cluster, &node, &format!("/formulas/instances/executions/{}", run["id"])).await;
    }
    assert_eq!(ended["status"], "success", "{ended}");
    let steps = get(&cluster, &node, &format!("/formulas/instances/executions/{}/steps", run["id"])).await;
    assert_eq!(steps[1]["output"]["response"]["code"], 200, "{steps}");
    assert_eq!(steps[1]["output"]["response"]["body"]["LastName"], "Seen UPDATED", "the hub's mapped answer");
}

/// A node whose dead claims move on within 3 s, running formula executions only.
async fn formula_node(cluster: &Cluster) -> Node {
    cluster.start_node_with(&["--refresh-period", "0", "--formula-claim-ttl", "3"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn executions_killed_mid_run_end_success_or_failed_and_never_write_twice() {
    const RUNS: usize = 60;
    let cluster = Cluster::new().await;
    let mut node = formula_node(&cluster).await;
    let (id, _) = cluster.create_instance(&node).await;
    let contact = |prefix: &str| json!({"FirstName": format!("{prefix}${{trigger.args.n}}"), "Email": format!("{prefix}${{trigger.args.n}}@example.com")});
    let template = json!({
        "name": "two writes",
        "configuration": [{"key": "crm", "type": "elementInstance"}],
        "triggers": [{"type": "manual", "onSuccess": ["first"]}],
        "steps": [
            {"name": "first", "type": "elementRequest", "onSuccess": ["pause"],
             "properties": {"elementInstanceId": "${crm}", "method": "POST", "api": "/contacts", "body": contact("first")}},
            {"name": "pause", "type": "script", "onSuccess": ["second"],
             "properties": {"body": "const t = Date.now(); while (Date.now() - t < 250) {} done({paused: true});"}},
            {"name": "second", "type": "elementRequest",
             "properties": {"elementInstanceId": "${crm}", "method": "POST", "api": "/contacts", "body": contact("second")}}
        ]
    });
    let instance = bind(&cluster, &node, &template, id).await;
    for n in 0..RUNS {
        post(&cluster, &node, &format!("/formulas/instances/{instance}/executions"), &json!({"n": n})).await;
    }
    for round in 1..=4u64 {
        tokio::time::sleep(Duration::from_millis(300 + 170 * round)).await;
        let runs = executions(&cluster, &node, instance).await;
        let pending = runs.iter().filter(|run| run["status"] == "pending").count();
        let ended = runs.iter().filter(|run| !open(run)).count();
        eprintln!("round {round}: kill -9 with {pending} executions pending, {ended} of {RUNS} ended");
        node.child.start_kill().unwrap();
        node.child.wait().await.unwrap();
        node = formula_node(&cluster).await;
    }
    let started = Instant::now();
    let runs = loop {
        let runs = executions(&cluster, &node, instance).await;
        if runs.len() == RUNS && !runs.iter().any(open) {
            break runs;
        }
        assert!(started.elapsed() < Duration::from_secs(180), "executions did not end: {runs:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let vendor = Vendor::new(&cluster).await;
    let mut written: HashMap<String, usize> = HashMap::new();
    for contact in vendor.contacts().await {
        if let Some(name) = contact["given_name"].as_str() {
            *written.entry(name.to_owned()).or_default() += 1;
        }
    }
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    for run in &runs {
        let n = run["trigger"]["args"]["n"].as_u64().unwrap();
        let status = run["status"].as_str().unwrap();
        *outcomes.entry(status.to_owned()).or_default() += 1;
        let (first, second) = (
            written.get(&format!("first{n}")).copied().unwrap_or(0),
            written.get(&format!("second{n}")).copied().unwrap_or(0),
        );
        assert!(first <= 1 && second <= 1, "execution {n} wrote twice: first {first}, second {second}; {run}");
        match status {
            "success" => assert_eq!((first, second), (1, 1), "a successful execution made both writes: {run}"),
            "failed" => {
                let error = run["error"].as_str().unwrap_or_default();
                assert!(error.contains("interrupted"), "a run fails only where a kill interrupted a write: {run}");
            }
            other => panic!("execution {n} ended {other}: {run}"),
        }
    }
    eprintln!("{RUNS} executions after 4 kills: {outcomes:?}");
    // A kill interrupts at most the 8 executions a node runs at once.
    let interrupted_at_most = 4 * 8;
    let succeeded = outcomes.get("success").copied().unwrap_or(0);
    assert!(succeeded >= RUNS - interrupted_at_most, "only interrupted runs fail: {outcomes:?}");
}
