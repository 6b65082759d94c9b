//! Starting the `junction` binary in tests.

pub mod cluster;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, Command};

const CLIENT_ID: &str = "sandbox-client-id";
const CLIENT_SECRET: &str = "sandbox-client-secret";
const CALLBACK: &str = "https://app.example.com/callback";

/// Spawns `command` (a `junction serve ...` the caller has configured, stdout included), waits for
/// its "junction listening" log line, and returns the process with its base URL. Its stderr is
/// drained from then on, so the process never blocks on a full pipe; it is killed when dropped.
pub async fn start_listening(command: Command) -> (Child, String) {
    let (child, base, _, mut stderr) = spawn_until_listening(command).await;
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    (child, base)
}

/// Every line a process wrote to stderr so far, collected as they come.
#[derive(Clone, Default)]
pub struct StderrLines(Arc<Mutex<Vec<String>>>);

impl StderrLines {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("not poisoned").clone()
    }
}

/// [`start_listening`], keeping every stderr line (those before the listening line too).
pub async fn start_keeping_stderr(command: Command) -> (Child, String, StderrLines) {
    let (child, base, before, mut stderr) = spawn_until_listening(command).await;
    let kept = StderrLines(Arc::new(Mutex::new(before)));
    let sink = kept.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            sink.0.lock().expect("not poisoned").push(line);
        }
    });
    (child, base, kept)
}

/// Spawns `command` and reads its stderr up to the "junction listening" line (text or JSON): the
/// process, its base URL, the lines read, and the rest of its stderr.
async fn spawn_until_listening(mut command: Command) -> (Child, String, Vec<String>, Lines<BufReader<ChildStderr>>) {
    let mut child = command.stderr(Stdio::piped()).kill_on_drop(true).spawn().expect("the junction binary starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut before = Vec::new();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.expect("stderr line") {
            let listening = line.contains("junction listening").then(|| listening_addr(&line));
            before.push(line);
            if let Some(addr) = listening {
                return format!("http://{addr}");
            }
        }
        panic!("junction exited before listening");
    })
    .await
    .expect("listening within 30 s");
    (child, base, before, stderr)
}

/// The `addr` of the listening line: `addr=...` in text, `"fields":{"addr":...}` in JSON.
fn listening_addr(line: &str) -> String {
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(line) {
        return json["fields"]["addr"].as_str().expect("an addr field").to_string();
    }
    line.split("addr=").nth(1).unwrap().split_whitespace().next().unwrap().to_string()
}

/// An access token of the simulator's demo account, through its consent form and token endpoint
/// (as the sandbox client, which accepts any redirect URI).
pub async fn vendor_access_token(sim_url: &str) -> String {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let redirect = "https://app.example.com/callback";
    let form = [
        ("client_id", "sandbox-client-id"),
        ("redirect_uri", redirect),
        ("response_type", "code"),
        ("username", "demo@example.com"),
        ("password", "demo"),
        ("decision", "allow"),
    ];
    let consent = http.post(format!("{sim_url}/app/oauth/authorize")).form(&form).send().await.unwrap();
    let location = url::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    let code = location.query_pairs().find(|(key, _)| key == "code").unwrap().1.into_owned();
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("client_id", "sandbox-client-id"),
        ("client_secret", "sandbox-client-secret"),
    ];
    let token: serde_json::Value =
        http.post(format!("{sim_url}/token")).form(&grant).send().await.unwrap().json().await.unwrap();
    token["access_token"].as_str().unwrap().to_string()
}

/// `username` consents on the simulator at `sim_url` (the sandbox's OAuth client): the
/// authorization code the consent form redirects with.
pub async fn consent_code(sim_url: &str, username: &str, password: &str) -> String {
    consent_code_for(sim_url, CLIENT_ID, username, password).await
}

/// [`consent_code`] for the OAuth client `client_id`.
pub async fn consent_code_for(sim_url: &str, client_id: &str, username: &str, password: &str) -> String {
    let form = [
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("scope", "full"),
        ("state", "infusionsoftcrm"),
        ("username", username),
        ("password", password),
        ("decision", "allow"),
    ];
    let consent = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let answer = consent.post(format!("{sim_url}/app/oauth/authorize")).form(&form).send().await.unwrap();
    assert_eq!(answer.status(), 302, "the consent form redirects");
    let location = url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
    location.query_pairs().find(|(key, _)| key == "code").expect("a code").1.into_owned()
}

/// The body of `POST /instances` exchanging `code` for an instance named `name` on the account
/// `server` (whose private key is `private_key`), with the sandbox's OAuth client.
pub fn instance_body(code: &str, server: &str, private_key: &str, name: &str) -> Value {
    json!({
        "element": {"key": "infusionsoftcrm"},
        "providerData": {"code": code},
        "configuration": {
            "oauth.callback.url": CALLBACK,
            "oauth.api.key": CLIENT_ID,
            "oauth.api.secret": CLIENT_SECRET,
            "infusionsoft.server": server,
            "infusionsoft.private.key": private_key
        },
        "name": name
    })
}

/// Whether `body` carries the `Elements-Webhook-Signature` of an event callback signed with `key`.
pub fn signed_with(key: &str, headers: &axum::http::HeaderMap, body: &[u8]) -> bool {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    let expected = format!("sha256={}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    headers.get("elements-webhook-signature").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

/// Consents on the simulator at `sim_url` as the demo user and creates an instance through the
/// Junction API at `api` (`.../elements/api-v2`) as `platform_auth`: its id and token.
pub async fn create_instance(http: &reqwest::Client, sim_url: &str, api: &str, platform_auth: &str) -> (i64, String) {
    let code = consent_code(sim_url, "demo@example.com", "demo").await;
    let body = instance_body(&code, "sandbox.infusionsoft.com", "sandbox-encrypted-key", "multi-node");
    let answer =
        http.post(format!("{api}/instances")).header("authorization", platform_auth).json(&body).send().await.unwrap();
    assert_eq!(answer.status(), 200, "instance created");
    let instance: Value = answer.json().await.unwrap();
    (instance["id"].as_i64().unwrap(), instance["token"].as_str().unwrap().to_string())
}
