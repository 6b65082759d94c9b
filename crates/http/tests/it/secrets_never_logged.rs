//! Captures every log line of a full flow and looks for every secret in it.
//!
//! The capture is a process-wide subscriber, so that it sees the platform, the store, the connector
//! and the simulator on every thread (sqlx's SQLite worker threads too, which a thread-scoped
//! subscriber would miss). In this shared test binary it would also see, and slow down, every
//! other test, so the test runs the flow in a child process of this binary that runs this one
//! test alone (`in_own_process`); there it is the only test, as it was in a binary of its own.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::Value;
use store::{ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY};

use crate::common::{self, Stack, CLIENT_SECRET, ENCRYPTED_KEY};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Set in the child process that runs the flow (see the module's documentation).
const CHILD: &str = "JUNCTION_TEST_SECRETS_NEVER_LOGGED_CHILD";

/// Runs this module's test `name` alone in a child process of this test binary, with `CHILD` set,
/// and fails unless it ran and passed there.
async fn in_own_process(name: &str) {
    let (_, module) = module_path!().split_once("::").expect("a module of the test crate");
    let test = format!("{module}::{name}");
    let output = tokio::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([test.as_str(), "--exact", "--test-threads", "1"])
        .env(CHILD, "1")
        .kill_on_drop(true)
        .output()
        .await
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{test} in its own process: {}\n{stdout}\n{stderr}",
        output.status
    );
}

#[tokio::test]
async fn no_secret_appears_in_the_logs_of_a_full_flow() {
    if std::env::var_os(CHILD).is_none() {
        return in_own_process("no_secret_appears_in_the_logs_of_a_full_flow").await;
    }
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let stack = Stack::start().await;
    let mut secrets = vec![
        stack.user_secret.expose().to_string(),
        stack.org_secret.expose().to_string(),
        CLIENT_SECRET.to_string(),
        ENCRYPTED_KEY.to_string(),
    ];
    let answer = stack
        .http
        .get(stack.api("/elements/infusionsoftcrm/oauth/url"))
        .query(&[("apiKey", common::CLIENT_ID), ("apiSecret", CLIENT_SECRET), ("callbackUrl", common::CALLBACK)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let code = stack.consent(common::CALLBACK).await;
    secrets.push(code.clone());
    let instance: Value = stack.post_instance(&stack.crm_body(&code)).await.json().await.unwrap();
    let id = instance["id"].as_i64().unwrap();
    let mut token = instance["token"].as_str().unwrap().to_string();
    secrets.push(token.clone());
    let remember_vendor_tokens = async |secrets: &mut Vec<String>| {
        let record = stack.store.get_instance(stack.organization_id, store::InstanceId::new(id)).await.unwrap();
        for key in [ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY] {
            secrets.push(record.secrets.get(key).unwrap().expose().to_string());
        }
    };
    remember_vendor_tokens(&mut secrets).await;

    assert_eq!(stack.hub_contacts(&token).await.status(), 200);
    stack.expire_access_tokens().await;
    assert_eq!(stack.hub_contacts(&token).await.status(), 200);
    remember_vendor_tokens(&mut secrets).await;
    assert_eq!(stack.platform(Method::PUT, &format!("/instances/{id}/tokens/refresh")).await.status(), 200);
    remember_vendor_tokens(&mut secrets).await;
    let renewed: Value = stack.platform(Method::PUT, &format!("/instances/{id}/token")).await.json().await.unwrap();
    token = renewed["token"].as_str().unwrap().to_string();
    secrets.push(token.clone());
    assert_eq!(stack.hub_contacts(&token).await.status(), 200);
    // Failures log too: a wrong secret, a reused code.
    let wrong = stack.http.get(stack.api("/instances")).header("authorization", stack.hub_auth(&token)).send().await;
    assert_eq!(wrong.unwrap().status(), 401);
    assert_eq!(stack.post_instance(&stack.crm_body(&code)).await.status(), 409);
    assert_eq!(stack.platform(Method::DELETE, &format!("/instances/{id}")).await.status(), 200);

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    assert!(logs.contains("instance created"), "the flow was logged");
    assert!(logs.contains("token refresh"), "the refresh was logged");
    for secret in &secrets {
        assert!(secret.len() >= 8, "a real secret");
        assert!(!logs.contains(secret.as_str()), "a secret appears in the logs");
    }
}
