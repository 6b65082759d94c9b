//! Starting the `junction` binary in tests.

pub mod cluster;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Spawns `command` (a `junction serve ...` the caller has configured, stdout included), waits for
/// its "junction listening" log line, and returns the process with its base URL. Its stderr is
/// drained from then on, so the process never blocks on a full pipe; it is killed when dropped.
pub async fn start_listening(mut command: Command) -> (Child, String) {
    let mut child = command.stderr(Stdio::piped()).kill_on_drop(true).spawn().expect("the junction binary starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let base = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.expect("stderr line") {
            if line.contains("junction listening") {
                let addr = line.split("addr=").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
                return format!("http://{addr}");
            }
        }
        panic!("junction exited before listening");
    })
    .await
    .expect("listening within 30 s");
    tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
    (child, base)
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
