//! Events end to end (SPEC "Events"): real `junction serve` processes on PostgreSQL, the simulator
//! changed through its own API (never through Junction), and a real callback server on loopback
//! that checks every notification's signature.
//!
//! The nodes run with `--allow-private-callbacks` (the callback is on loopback), short retries,
//! and `PUT /instances/{id}/events/poll` instead of waiting for the polling interval.

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{json, Value};

use crate::common::{
    self,
    cluster::{Cluster, Node},
};

const SIGNATURE_KEY: &str = "callback-signing-key";

/// One notification as the callback received it.
#[derive(Debug, Clone)]
struct Received {
    webhook_id: String,
    body: Vec<u8>,
    message: Value,
}

/// A callback receiver on loopback: records every notification after checking its signature, and
/// answers `status` (200 unless a test says otherwise).
#[derive(Clone, Default)]
pub(crate) struct Callback {
    received: Arc<Mutex<Vec<Received>>>,
    bad_signatures: Arc<AtomicUsize>,
    status: Arc<AtomicU16>,
}

impl Callback {
    pub(crate) async fn start() -> (Self, String) {
        let callback = Callback { status: Arc::new(AtomicU16::new(200)), ..Callback::default() };
        let app = axum::Router::new().route("/hook", post(receive)).with_state(callback.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (callback, url)
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Every `(eventType, objectId)` delivered so far, in delivery order (repeats included).
    fn changes(&self) -> Vec<(String, String)> {
        self.received()
            .iter()
            .flat_map(|received| received.message["message"]["events"].as_array().unwrap().clone())
            .map(|event| (text(&event["eventType"]), text(&event["objectId"])))
            .collect()
    }

    /// Waits until `done` holds for what was received (at most 60 s).
    async fn wait_for(&self, what: &str, done: impl Fn(&Callback) -> bool) {
        let start = Instant::now();
        while !done(self) {
            assert!(start.elapsed() < Duration::from_secs(60), "waited 60 s for {what}; received {:?}", self.changes());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn text(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_string)
}

async fn receive(State(callback): State<Callback>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !common::signed_with(SIGNATURE_KEY, &headers, &body) {
        callback.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return StatusCode::UNAUTHORIZED;
    }
    let status = StatusCode::from_u16(callback.status.load(Ordering::SeqCst)).unwrap();
    if status.is_success() {
        let webhook_id = headers.get("elements-webhook-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
        callback.received.lock().unwrap().push(Received {
            webhook_id: webhook_id.to_string(),
            message: serde_json::from_slice(&body).unwrap(),
            body: body.to_vec(),
        });
    }
    status
}

/// A node that delivers to loopback, retries fast and looks for due work every 100 ms.
pub(crate) async fn events_node(cluster: &Cluster, extra: &[&str]) -> Node {
    let mut flags = vec!["--refresh-period", "0", "--allow-private-callbacks", "--event-tick-ms", "100"];
    flags.extend_from_slice(extra);
    cluster.start_node_with(&flags).await
}

/// Turns the instance's events on with `callback_url`, signed with [`SIGNATURE_KEY`].
pub(crate) async fn enable_events(cluster: &Cluster, node: &Node, id: i64, callback_url: &str) {
    let configuration = json!({
        "event.notification.enabled": "true",
        "event.notification.callback.url": callback_url,
        "event.notification.signature.key": SIGNATURE_KEY,
        "event.poller.configuration": json!({"contacts": {}}).to_string(),
    });
    let answer = cluster
        .http
        .patch(cluster.api(node, &format!("/instances/{id}")))
        .header("authorization", cluster.platform_auth())
        .json(&json!({ "configuration": configuration }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
}

/// `GET url` with the platform credentials, as JSON.
async fn get_json(cluster: &Cluster, url: &str) -> Value {
    let answer = cluster.http.get(url).header("authorization", cluster.platform_auth()).send().await.unwrap();
    answer.json().await.unwrap()
}

/// `PUT /instances/{id}/events/poll[?reconcile=true]` and its answer.
pub(crate) async fn poll_now(cluster: &Cluster, node: &Node, id: i64, reconcile: bool) -> Value {
    let query = if reconcile { "?reconcile=true" } else { "" };
    let answer = cluster
        .http
        .put(cluster.api(node, &format!("/instances/{id}/events/poll{query}")))
        .header("authorization", cluster.platform_auth())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "poll now");
    answer.json().await.unwrap()
}

/// The simulator's own REST API, as another application changing the vendor's data would call it.
pub(crate) struct Vendor<'a> {
    cluster: &'a Cluster,
    token: String,
}

impl<'a> Vendor<'a> {
    pub(crate) async fn new(cluster: &'a Cluster) -> Self {
        Vendor { token: cluster.vendor_token().await, cluster }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/crm/rest/v2{path}", self.cluster.sim.url())
    }

    pub(crate) async fn create_contact(&self, name: &str) -> String {
        let body = json!({"given_name": name, "email_addresses": [{"email": format!("{name}@example.com"), "field": "EMAIL1"}]});
        let answer = self.cluster.http.post(self.url("/contacts")).bearer_auth(&self.token).json(&body).send().await;
        let contact: Value = answer.unwrap().json().await.unwrap();
        contact["id"].as_str().map_or_else(|| contact["id"].to_string(), str::to_string)
    }

    /// Every contact of the account, page by page.
    pub(crate) async fn contacts(&self) -> Vec<Value> {
        let mut contacts = Vec::new();
        let mut token = String::new();
        loop {
            let after = if token.is_empty() { String::new() } else { format!("&page_token={token}") };
            let url = self.url(&format!("/contacts?page_size=1000{after}"));
            let page: Value =
                self.cluster.http.get(url).bearer_auth(&self.token).send().await.unwrap().json().await.unwrap();
            contacts.extend(page["contacts"].as_array().cloned().unwrap_or_default());
            match page["next_page_token"].as_str() {
                Some(next) if !next.is_empty() => token = next.to_owned(),
                _ => return contacts,
            }
        }
    }

    pub(crate) async fn rename_contact(&self, id: &str, name: &str) {
        let answer = self
            .cluster
            .http
            .patch(self.url(&format!("/contacts/{id}")))
            .bearer_auth(&self.token)
            .json(&json!({"given_name": name}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "rename: {}", answer.status());
    }

    async fn delete_contact(&self, id: &str) {
        let answer = self
            .cluster
            .http
            .delete(self.url(&format!("/contacts/{id}")))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "delete: {}", answer.status());
    }
}

/// Lets the simulator's clock move on, so the next change has a later update time.
pub(crate) async fn tick_vendor_clock(cluster: &Cluster) {
    let answer = cluster
        .http
        .post(format!("{}/__sim/clock/advance", cluster.sim.url()))
        .json(&json!({"seconds": 2}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(kind, id)| (kind.to_string(), id.to_string())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_contact_created_updated_and_deleted_at_the_vendor_arrives_signed_as_three_events() {
    let cluster = Cluster::new().await;
    let node = events_node(&cluster, &[]).await;
    let (callback, url) = Callback::start().await;
    let (id, _) = cluster.create_instance(&node).await;
    enable_events(&cluster, &node, id, &url).await;
    let baseline = poll_now(&cluster, &node, id, false).await;
    assert_eq!(baseline["events"], json!([]), "the first poll reports nothing: {baseline}");

    let vendor = Vendor::new(&cluster).await;
    let contact = vendor.create_contact("ada").await;
    let found = poll_now(&cluster, &node, id, false).await;
    assert_eq!(found["events"].as_array().unwrap().len(), 1, "{found}");
    tick_vendor_clock(&cluster).await;
    vendor.rename_contact(&contact, "ada2").await;
    poll_now(&cluster, &node, id, false).await;
    vendor.delete_contact(&contact).await;
    poll_now(&cluster, &node, id, true).await;

    let expected = pairs(&[("CREATED", &contact), ("UPDATED", &contact), ("DELETED", &contact)]);
    callback.wait_for("three events", |callback| callback.changes().len() >= 3).await;
    assert_eq!(callback.changes(), expected);
    assert_eq!(callback.bad_signatures.load(Ordering::SeqCst), 0, "every signature verifies");
    let first = &callback.received()[0];
    let message = &first.message["message"];
    assert_eq!(message["instanceId"], json!(id));
    assert_eq!(message["elementKey"], "infusionsoftcrm");
    assert_eq!(first.webhook_id, text(&message["eventId"]), "Elements-Webhook-Id is the event id");
    let event = &message["events"][0];
    assert_eq!((event["objectType"].as_str(), event["hubKey"].as_str()), (Some("contacts"), Some("crm")));
    assert_eq!(message["raw"][0]["FirstName"], "ada", "raw carries the record");

    // The event log shows them delivered, newest first, and reads in order with `after`.
    // (The callback has them; the log says NOTIFIED once each answer is recorded, a moment later.)
    let start = Instant::now();
    let log = loop {
        let log: Value = get_json(&cluster, &cluster.api(&node, &format!("/instances/{id}/events"))).await;
        let statuses: Vec<&str> =
            log.as_array().unwrap().iter().map(|event| event["status"].as_str().unwrap()).collect();
        if statuses == ["NOTIFIED"; 3] {
            break log;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{statuses:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let oldest = log[2]["id"].as_i64().unwrap();
    let pulled: Value =
        get_json(&cluster, &cluster.api(&node, &format!("/instances/{id}/events?after={oldest}"))).await;
    assert_eq!(pulled.as_array().unwrap().len(), 2);
    assert!(pulled[0]["id"].as_i64().unwrap() < pulled[1]["id"].as_i64().unwrap(), "oldest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_callback_down_for_a_while_loses_nothing_and_a_failed_event_is_delivered_on_retry() {
    let cluster = Cluster::new().await;
    let node = events_node(&cluster, &["--event-retry-base-ms", "100", "--event-max-attempts", "4"]).await;
    let (callback, url) = Callback::start().await;
    let (id, _) = cluster.create_instance(&node).await;
    enable_events(&cluster, &node, id, &url).await;
    poll_now(&cluster, &node, id, false).await;
    let vendor = Vendor::new(&cluster).await;

    // Down for the first attempts (100 ms, 400 ms), back before the fourth.
    callback.answer(500);
    let first = vendor.create_contact("down1").await;
    poll_now(&cluster, &node, id, false).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = vendor.create_contact("down2").await;
    poll_now(&cluster, &node, id, false).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    callback.answer(200);
    callback.wait_for("both events", |callback| callback.changes().len() >= 2).await;
    assert_eq!(callback.changes(), pairs(&[("CREATED", &first), ("CREATED", &second)]), "in order, none lost");

    // Down for good: four attempts, then FAILED and kept; a retry delivers it.
    callback.answer(503);
    let third = vendor.create_contact("down3").await;
    poll_now(&cluster, &node, id, false).await;
    let log_url = cluster.api(&node, &format!("/instances/{id}/events?status=FAILED"));
    let start = Instant::now();
    let failed = loop {
        let log: Value = get_json(&cluster, &log_url).await;
        if let Some(event) = log.as_array().unwrap().first() {
            break event.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no FAILED event after 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(failed["attempts"], 4);
    assert_eq!(failed["lastStatus"], 503);
    assert!(failed["lastError"].as_str().unwrap().contains("503"), "{failed}");
    callback.answer(200);
    let retry = cluster
        .http
        .put(cluster.api(&node, &format!("/instances/{id}/events/{}/retry", failed["id"])))
        .header("authorization", cluster.platform_auth())
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 200);
    callback.wait_for("the retried event", |callback| callback.changes().len() >= 3).await;
    assert_eq!(callback.changes()[2], ("CREATED".to_string(), third));
}

/// Every delivery of one event id carries the same bytes: a notification's content never changes.
fn assert_one_content_per_event_id(callback: &Callback) {
    let mut bodies: std::collections::HashMap<String, Vec<u8>> = std::collections::HashMap::new();
    for received in callback.received() {
        let id = text(&received.message["message"]["eventId"]);
        let first = bodies.entry(id.clone()).or_insert_with(|| received.body.clone());
        assert_eq!(first, &received.body, "event {id} was delivered with two different contents");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_kill_9s_during_polling_and_delivery_lose_no_change() {
    const ROUNDS: usize = 20;
    let cluster = Cluster::new().await;
    let (callback, url) = Callback::start().await;
    let flags = ["--event-retry-base-ms", "50", "--event-claim-ttl", "1"];
    let mut node = events_node(&cluster, &flags).await;
    let (id, _) = cluster.create_instance(&node).await;
    enable_events(&cluster, &node, id, &url).await;
    poll_now(&cluster, &node, id, false).await;
    let vendor = Vendor::new(&cluster).await;
    // The callback is slow to answer now and then, so kills land mid-delivery too.
    let mut created = Vec::new();
    for round in 0..ROUNDS {
        created.push(vendor.create_contact(&format!("k{round}a")).await);
        created.push(vendor.create_contact(&format!("k{round}b")).await);
        // A poll in flight, and the node killed at a different point of it each round.
        let poll = {
            let request = cluster
                .http
                .put(cluster.api(&node, &format!("/instances/{id}/events/poll")))
                .header("authorization", cluster.platform_auth());
            tokio::spawn(async move { request.send().await.map(|answer| answer.status().as_u16()) })
        };
        tokio::time::sleep(Duration::from_millis(((round * 37) % 200) as u64)).await;
        node.child.start_kill().unwrap();
        node.child.wait().await.unwrap();
        let _ = poll.await;
        node = events_node(&cluster, &flags).await;
    }
    // After the last restart: one more poll finds whatever the killed ones did not commit.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    poll_now(&cluster, &node, id, false).await;
    let wanted = created.len();
    callback
        .wait_for("every created contact", |callback| {
            let seen: std::collections::HashSet<String> = callback.changes().into_iter().map(|(_, id)| id).collect();
            created.iter().filter(|id| seen.contains(*id)).count() == wanted
        })
        .await;
    let changes = callback.changes();
    for contact in &created {
        assert!(changes.contains(&("CREATED".to_string(), contact.clone())), "{contact} delivered as CREATED");
    }
    assert_one_content_per_event_id(&callback);
    assert_eq!(callback.bad_signatures.load(Ordering::SeqCst), 0);
}

/// How many times the simulator has served a contacts list.
async fn contact_lists(cluster: &Cluster) -> u64 {
    let stats: Value =
        cluster.http.get(format!("{}/__sim/stats", cluster.sim.url())).send().await.unwrap().json().await.unwrap();
    stats["calls_by_route"]["GET /crm/rest/v2/contacts"].as_u64().unwrap_or(0)
}

/// How many of `ids` have had a poll committed (by any node), read from the shared database.
async fn polled(cluster: &Cluster, ids: &[i64]) -> usize {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(&cluster.database.url).await.unwrap();
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM event_pollers WHERE last_poll_at IS NOT NULL AND instance_id = ANY($1)",
    )
    .bind(ids)
    .fetch_one(&mut db)
    .await
    .unwrap();
    usize::try_from(count).unwrap()
}

async fn wait_until_polled(cluster: &Cluster, ids: &[i64], within: Duration) {
    let start = Instant::now();
    loop {
        let done = polled(cluster, ids).await;
        if done == ids.len() {
            return;
        }
        assert!(start.elapsed() < within, "{done} of {} instances polled after {within:?}", ids.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_instances_on_three_nodes_are_polled_once_each_and_a_killed_nodes_polls_move_on() {
    let cluster = Cluster::new().await;
    // Claims long enough that a slow machine never loses one mid-poll, short enough to move on in 30 s.
    let flags = ["--event-claim-ttl", "10"];
    let mut a = events_node(&cluster, &flags).await;
    let b = events_node(&cluster, &flags).await;
    let c = events_node(&cluster, &flags).await;
    let (_, url) = Callback::start().await;
    let mut ids = Vec::new();
    for n in 0..50 {
        ids.push(cluster.create_instance([&a, &b, &c][n % 3]).await.0);
    }
    // Every contacts list answers slowly, so polls overlap the nodes' looks for due work.
    let slow = json!({"path_prefix": "/crm/rest/v2/contacts", "method": "GET", "delay_ms": 300, "probability": 1.0});
    let answer = cluster.http.post(format!("{}/__sim/faults", cluster.sim.url())).json(&slow).send().await.unwrap();
    assert!(answer.status().is_success());

    // Half the instances with three live nodes: each first poll runs exactly once.
    let (first, second) = ids.split_at(25);
    let before = contact_lists(&cluster).await;
    for id in first {
        enable_events(&cluster, &b, *id, &url).await;
    }
    wait_until_polled(&cluster, first, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(contact_lists(&cluster).await - before, 25, "one contacts read per instance, by one node");

    // The other half while b and c are frozen, so a claims polls; a killed while it holds them: b and
    // c, thawed, take them over once the claims expire.
    signal(&b, "-STOP");
    signal(&c, "-STOP");
    for id in second {
        enable_events(&cluster, &a, *id, &url).await;
    }
    let start = Instant::now();
    while claimed(&cluster).await == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "node a claimed no poll");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    a.child.start_kill().unwrap();
    a.child.wait().await.unwrap();
    let held = claimed(&cluster).await;
    signal(&b, "-CONT");
    signal(&c, "-CONT");
    let killed_at = Instant::now();
    wait_until_polled(&cluster, second, Duration::from_secs(30)).await;
    eprintln!("{held} polls claimed by the killed node were taken over within {:?}", killed_at.elapsed());
}

/// Sends `signal` (`-STOP`, `-CONT`) to a node's process.
fn signal(node: &Node, signal: &str) {
    let pid = node.child.id().expect("running").to_string();
    assert!(std::process::Command::new("kill").args([signal, &pid]).status().unwrap().success());
}

/// How many polls are claimed right now, by any node.
async fn claimed(cluster: &Cluster) -> i64 {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(&cluster.database.url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM event_pollers WHERE claim_owner IS NOT NULL")
        .fetch_one(&mut db)
        .await
        .unwrap()
}

/// Moves the simulator's clock past its hook delivery delay, so the deliveries queued by the
/// changes so far are made now.
async fn let_vendor_hooks_fire(cluster: &Cluster) {
    let answer = cluster
        .http
        .post(format!("{}/__sim/clock/advance", cluster.sim.url()))
        .json(&json!({"seconds": 61}))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
}

/// The vendor's hooks, as its own API lists them.
async fn vendor_hooks(cluster: &Cluster, vendor: &Vendor<'_>) -> Vec<Value> {
    let url = format!("{}/crm/rest/v1/hooks", cluster.sim.url());
    let hooks: Value = cluster.http.get(url).bearer_auth(&vendor.token).send().await.unwrap().json().await.unwrap();
    hooks.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_webhooks_a_contact_created_updated_and_deleted_arrives_from_the_vendors_hooks() {
    let cluster = Cluster::new().await;
    let node = events_node(&cluster, &[]).await;
    let (callback, url) = Callback::start().await;
    let (id, _) = cluster.create_instance(&node).await;
    enable_events(&cluster, &node, id, &url).await;
    let webhook = json!({"configuration": {"event.vendor.type": "webhook"}});
    let answer = cluster
        .http
        .patch(cluster.api(&node, &format!("/instances/{id}")))
        .header("authorization", cluster.platform_auth())
        .json(&webhook)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // The poll subscribes the hooks (the vendor verifies each through the X-Hook-Secret handshake).
    poll_now(&cluster, &node, id, false).await;
    let vendor = Vendor::new(&cluster).await;
    let hooks = vendor_hooks(&cluster, &vendor).await;
    let mut keys: Vec<&str> = hooks.iter().map(|hook| hook["eventKey"].as_str().unwrap()).collect();
    keys.sort();
    assert_eq!(keys, ["contact.add", "contact.delete", "contact.edit"]);
    assert!(hooks.iter().all(|hook| hook["status"] == "Verified"), "{hooks:?}");
    assert!(hooks.iter().all(|hook| hook["hookUrl"].as_str().unwrap().starts_with(&node.base)));

    let contact = vendor.create_contact("hooked").await;
    let_vendor_hooks_fire(&cluster).await;
    callback.wait_for("the CREATED event", |callback| !callback.changes().is_empty()).await;
    vendor.rename_contact(&contact, "hooked2").await;
    let_vendor_hooks_fire(&cluster).await;
    callback.wait_for("the UPDATED event", |callback| callback.changes().len() >= 2).await;
    vendor.delete_contact(&contact).await;
    let_vendor_hooks_fire(&cluster).await;
    callback.wait_for("the DELETED event", |callback| callback.changes().len() >= 3).await;
    assert_eq!(callback.changes(), pairs(&[("CREATED", &contact), ("UPDATED", &contact), ("DELETED", &contact)]));
    assert_eq!(callback.bad_signatures.load(Ordering::SeqCst), 0);
    let log: Value = get_json(&cluster, &cluster.api(&node, &format!("/instances/{id}/events"))).await;
    assert!(log.as_array().unwrap().iter().all(|event| event["source"] == "webhook"), "{log}");

    // A forged delivery to a made-up path is a 404; events turned off remove the vendor's hooks.
    let forged = cluster
        .http
        .post(cluster.api(&node, &format!("/events/infusionsoftcrm/{id}.AAAA")))
        .json(&json!({"event_key": "contact.add", "object_keys": [{"id": 1}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 404);
    let off = json!({"configuration": {"event.notification.enabled": "false"}});
    let answer = cluster
        .http
        .patch(cluster.api(&node, &format!("/instances/{id}")))
        .header("authorization", cluster.platform_auth())
        .json(&off)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(vendor_hooks(&cluster, &vendor).await, Vec::<Value>::new(), "hooks removed");
}
