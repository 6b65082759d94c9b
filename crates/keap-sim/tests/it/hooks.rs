//! REST hooks as the vendor runs them: subscribe, the `X-Hook-Secret` handshake (immediate or
//! delayed), batched deliveries of changed object keys, retries on failure, deactivation after four
//! failures or at once on 410.

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::IntoResponse;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;

/// How the test receiver answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// 200, echoing `X-Hook-Secret` when present.
    Echo,
    /// 200 without echoing the secret (the receiver will verify later).
    Silent,
    /// 500 for deliveries (verification still echoes).
    Fail,
    /// 410 for deliveries.
    Gone,
}

#[derive(Default)]
struct Received {
    secrets: Vec<String>,
    deliveries: Vec<Value>,
}

struct Receiver {
    url: String,
    mode: Arc<Mutex<Mode>>,
    received: Arc<Mutex<Received>>,
}

impl Receiver {
    async fn start(mode: Mode) -> Receiver {
        let mode = Arc::new(Mutex::new(mode));
        let received = Arc::new(Mutex::new(Received::default()));
        let (m, r) = (mode.clone(), received.clone());
        let handler = move |headers: HeaderMap, body: String| {
            let (m, r) = (m.clone(), r.clone());
            async move {
                let mode = *m.lock().unwrap();
                if let Some(secret) = headers.get("x-hook-secret").and_then(|v| v.to_str().ok()) {
                    r.lock().unwrap().secrets.push(secret.to_string());
                    return match mode {
                        Mode::Silent => AxumStatus::OK.into_response(),
                        _ => (AxumStatus::OK, [("X-Hook-Secret", secret.to_string())]).into_response(),
                    };
                }
                r.lock().unwrap().deliveries.push(serde_json::from_str(&body).unwrap_or(Value::Null));
                match mode {
                    Mode::Fail => AxumStatus::INTERNAL_SERVER_ERROR.into_response(),
                    Mode::Gone => AxumStatus::GONE.into_response(),
                    _ => AxumStatus::OK.into_response(),
                }
            }
        };
        let app = axum::Router::new().route("/hook", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, mode, received }
    }

    fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn deliveries(&self) -> Vec<Value> {
        self.received.lock().unwrap().deliveries.clone()
    }

    /// Waits (up to 5 s real time) until `n` deliveries have arrived.
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..250 {
            if self.deliveries().len() >= n {
                return self.deliveries();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("expected {n} deliveries, got {}", self.deliveries().len());
    }
}

async fn subscribe(h: &Harness, token: &str, event: &str, url: &str) -> Value {
    let body = json!({"eventKey": event, "hookUrl": url});
    json_with(h.send_json(Method::POST, token, "/crm/rest/v1/hooks", &body).await, StatusCode::OK).await
}

async fn create_contact(h: &Harness, token: &str, email: &str) -> String {
    let body = json!({"given_name": "Hook", "email_addresses": [{"email": email, "field": "EMAIL1"}]});
    let created =
        json_with(h.send_json(Method::POST, token, "/crm/rest/v2/contacts", &body).await, StatusCode::CREATED).await;
    created["id"].as_str().unwrap().to_string()
}

async fn advance(h: &Harness, seconds: i64) {
    assert_eq!(h.control("/__sim/clock/advance", &json!({"seconds": seconds})).await.status(), StatusCode::OK);
}

async fn hook_status(h: &Harness, token: &str, key: &str) -> String {
    let hook = json_with(h.get(token, &format!("/crm/rest/v1/hooks/{key}")).await, StatusCode::OK).await;
    hook["status"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn event_keys_list_the_vendor_events() {
    let h = start().await;
    let token = h.bearer().await;
    let keys = json_with(h.get(&token, "/crm/rest/v1/hooks/event_keys").await, StatusCode::OK).await;
    let keys: Vec<&str> = keys.as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    for key in ["contact.add", "contact.edit", "contact.delete", "opportunity.stage_move", "invoice.payment.add"] {
        assert!(keys.contains(&key), "{key}");
    }
}

#[tokio::test]
async fn subscription_is_verified_when_the_receiver_echoes_the_secret() {
    let h = start().await;
    let token = h.bearer().await;
    let receiver = Receiver::start(Mode::Echo).await;
    let hook = subscribe(&h, &token, "contact.add", &receiver.url).await;
    assert_eq!(hook["status"], "Verified");
    assert_eq!(hook["eventKey"], "contact.add");
    assert_eq!(hook["hookUrl"], receiver.url);
    assert_eq!(receiver.received.lock().unwrap().secrets.len(), 1);
    let listed = json_with(h.get(&token, "/crm/rest/v1/hooks").await, StatusCode::OK).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_receiver_that_does_not_echo_stays_unverified_until_delayed_verify() {
    let h = start().await;
    let token = h.bearer().await;
    let receiver = Receiver::start(Mode::Silent).await;
    let hook = subscribe(&h, &token, "contact.add", &receiver.url).await;
    assert_eq!(hook["status"], "Unverified");
    let key = hook["key"].as_str().unwrap().to_string();
    create_contact(&h, &token, "unverified@example.com").await;
    advance(&h, 120).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(receiver.deliveries().is_empty(), "no events before verification");

    let path = h.url(&format!("/crm/rest/v1/hooks/{key}/delayedVerify"));
    let wrong = h.http.post(&path).bearer_auth(&token).header("X-Hook-Secret", "nope").send().await.unwrap();
    assert_eq!(wrong.status(), StatusCode::BAD_REQUEST);
    let secret = receiver.received.lock().unwrap().secrets[0].clone();
    let right = h.http.post(&path).bearer_auth(&token).header("X-Hook-Secret", secret).send().await.unwrap();
    assert_eq!(json_with(right, StatusCode::OK).await["status"], "Verified");
}

#[tokio::test]
async fn changes_through_v1_and_v2_are_delivered_as_one_batch_of_object_keys() {
    let h = start().await;
    let token = h.bearer().await;
    let receiver = Receiver::start(Mode::Echo).await;
    subscribe(&h, &token, "contact.add", &receiver.url).await;
    let first = create_contact(&h, &token, "one@example.com").await;
    let v1 = json!({"given_name": "Two", "email_addresses": [{"email": "two@example.com", "field": "EMAIL1"}]});
    let second =
        json_with(h.send_json(Method::POST, &token, "/crm/rest/v1/contacts", &v1).await, StatusCode::CREATED).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.deliveries().is_empty(), "nothing before the vendor's delay");
    advance(&h, 31).await;
    let deliveries = receiver.wait_for(1).await;
    assert_eq!(deliveries.len(), 1, "one batch");
    let batch = &deliveries[0];
    assert_eq!(batch["event_key"], "contact.add");
    assert_eq!(batch["object_type"], "contact");
    let keys = batch["object_keys"].as_array().unwrap();
    let ids: Vec<String> = keys.iter().map(|k| k["id"].to_string()).collect();
    assert_eq!(ids, vec![first.clone(), second["id"].to_string()]);
    assert_eq!(keys[0]["apiUrl"], format!("{}/crm/rest/v1/contacts/{first}", h.sim.url()));
    assert!(keys[0]["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(batch.get("payload").is_none() && keys[0].get("given_name").is_none(), "no object payload");
}

#[tokio::test]
async fn batches_hold_at_most_a_thousand_object_keys() {
    let h = start().await;
    let token = h.bearer().await;
    let receiver = Receiver::start(Mode::Echo).await;
    subscribe(&h, &token, "contact.edit", &receiver.url).await;
    let contacts = json_with(h.get(&token, "/crm/rest/v2/contacts?page_size=300").await, StatusCode::OK).await;
    let ids: Vec<String> =
        contacts["contacts"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect();
    for round in 0..4 {
        for id in &ids {
            let body = json!({"job_title": format!("Round {round}")});
            let response = h.send_json(Method::PATCH, &token, &format!("/crm/rest/v2/contacts/{id}"), &body).await;
            assert_eq!(response.status(), StatusCode::OK);
        }
    }
    advance(&h, 31).await;
    let deliveries = receiver.wait_for(2).await;
    let sizes: Vec<usize> = deliveries.iter().map(|d| d["object_keys"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, vec![1000, 200]);
}

#[tokio::test]
async fn failed_deliveries_are_retried_and_the_hook_goes_inactive_after_four_attempts() {
    let h = start().await;
    let token = h.bearer().await;
    let receiver = Receiver::start(Mode::Fail).await;
    let key = subscribe(&h, &token, "contact.add", &receiver.url).await["key"].as_str().unwrap().to_string();
    create_contact(&h, &token, "retry@example.com").await;
    advance(&h, 31).await;
    receiver.wait_for(1).await;
    // The vendor retries 30-60 s, 5 min and 30 min after failures.
    for (attempt, wait) in [(2, 61), (3, 301), (4, 1801)] {
        // The simulated clock also moves with real time, hence the 10 s margin.
        advance(&h, wait - 10).await;
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(receiver.deliveries().len(), attempt - 1, "not before the retry delay");
        advance(&h, 10).await;
        receiver.wait_for(attempt).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hook_status(&h, &token, &key).await, "Inactive");
    create_contact(&h, &token, "after@example.com").await;
    advance(&h, 3600).await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(receiver.deliveries().len(), 4, "an inactive hook receives nothing");

    receiver.set_mode(Mode::Echo);
    let verify =
        h.http.post(h.url(&format!("/crm/rest/v1/hooks/{key}/verify"))).bearer_auth(&token).send().await.unwrap();
    assert_eq!(json_with(verify, StatusCode::OK).await["status"], "Verified", "verify reactivates");
}

#[tokio::test]
async fn a_410_deactivates_the_hook_at_once() {
    let h = start().await;
    let token = h.bearer().await;
    let receiver = Receiver::start(Mode::Gone).await;
    let key = subscribe(&h, &token, "contact.add", &receiver.url).await["key"].as_str().unwrap().to_string();
    create_contact(&h, &token, "gone@example.com").await;
    advance(&h, 31).await;
    receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hook_status(&h, &token, &key).await, "Inactive");
}

#[tokio::test]
async fn a_recovered_receiver_gets_the_queued_batch_on_retry() {
    let h = start().await;
    let token = h.bearer().await;
    let receiver = Receiver::start(Mode::Fail).await;
    subscribe(&h, &token, "contact.add", &receiver.url).await;
    let id = create_contact(&h, &token, "later@example.com").await;
    advance(&h, 31).await;
    receiver.wait_for(1).await;
    receiver.set_mode(Mode::Echo);
    advance(&h, 61).await;
    let deliveries = receiver.wait_for(2).await;
    assert_eq!(deliveries[1]["object_keys"][0]["id"].to_string(), id);
    advance(&h, 4000).await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(receiver.deliveries().len(), 2, "delivered once, not again");
}

#[tokio::test]
async fn hooks_can_be_updated_and_deleted() {
    let h = start().await;
    let token = h.bearer().await;
    let receiver = Receiver::start(Mode::Echo).await;
    let key = subscribe(&h, &token, "contact.add", &receiver.url).await["key"].as_str().unwrap().to_string();
    let path = format!("/crm/rest/v1/hooks/{key}");
    let update = json!({"eventKey": "contact.edit", "hookUrl": receiver.url});
    let updated = json_with(h.send_json(Method::PUT, &token, &path, &update).await, StatusCode::OK).await;
    assert_eq!(updated["eventKey"], "contact.edit");
    assert_eq!(updated["status"], "Verified");
    let deleted = h.http.delete(h.url(&path)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(h.get(&token, &path).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hooks_belong_to_their_account() {
    let mut config = unlimited();
    config.accounts.push(keap_sim::config::AccountConfig {
        host: "other.infusionsoft.com".into(),
        encrypted_key: "k2".into(),
        seed_demo_data: false,
        demo_contacts: None,
        api_keys: Vec::new(),
    });
    config.users.push(keap_sim::config::UserConfig {
        username: "other@example.com".into(),
        password: "pw".into(),
        accounts: vec!["other.infusionsoft.com".into()],
    });
    let h = start_with(config).await;
    let token = h.bearer().await;
    let receiver = Receiver::start(Mode::Echo).await;
    let key = subscribe(&h, &token, "contact.add", &receiver.url).await["key"].as_str().unwrap().to_string();
    let location = h.decide_as("other@example.com", "pw", "allow", "s").await;
    assert_eq!(query_param(&location, "scope").as_deref(), Some("full|other.infusionsoft.com"));
    let other = h.tokens_as("other@example.com", "pw").await;
    assert_eq!(h.get(&other.access, &format!("/crm/rest/v1/hooks/{key}")).await.status(), StatusCode::NOT_FOUND);
    let contacts = json_with(h.get(&other.access, "/crm/rest/v2/contacts").await, StatusCode::OK).await;
    assert!(contacts["contacts"].as_array().unwrap().is_empty(), "records are per account");
}

#[tokio::test]
async fn stage_moves_and_task_completion_raise_their_own_events() {
    let h = start().await;
    let token = h.bearer().await;
    let receiver = Receiver::start(Mode::Echo).await;
    subscribe(&h, &token, "opportunity.stage_move", &receiver.url).await;
    subscribe(&h, &token, "task.complete", &receiver.url).await;
    let patch = |path: &'static str, body: Value| {
        let (h, token) = (&h, &token);
        async move { assert_eq!(h.send_json(Method::PATCH, token, path, &body).await.status(), StatusCode::OK) }
    };
    let opportunity = json_with(h.get(&token, "/crm/rest/v2/opportunities/1").await, StatusCode::OK).await;
    let other_stage = if opportunity["stage"]["id"] == "2" { "3" } else { "2" };
    patch("/crm/rest/v2/opportunities/1", json!({"opportunity_notes": "no move"})).await;
    patch("/crm/rest/v2/opportunities/1", json!({"stage_id": other_stage})).await;
    patch("/crm/rest/v2/tasks/1", json!({"completed": false})).await;
    patch("/crm/rest/v2/tasks/1", json!({"completed": true})).await;
    advance(&h, 31).await;
    let deliveries = receiver.wait_for(2).await;
    let mut keys: Vec<String> = deliveries.iter().map(|d| d["event_key"].as_str().unwrap().to_string()).collect();
    keys.sort();
    assert_eq!(keys, vec!["opportunity.stage_move", "task.complete"]);
    assert!(deliveries.iter().all(|d| d["object_keys"].as_array().unwrap().len() == 1));
}
