//! `junction serve --sandbox` as a process: bootstrap secrets printed once to stdout, the key file
//! beside the database, the API answering with them, graceful shutdown on SIGTERM, a restart
//! on the same database that prints nothing, and the log lines of a request in both formats.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common;

struct Server {
    child: Child,
    base: String,
    stdout: Vec<String>,
}

fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let dir = std::env::temp_dir().join(format!("junction-serve-test-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts the binary and waits for its "listening" log line.
async fn start(dir: &Path) -> Server {
    start_with(dir, &[]).await.0
}

/// Starts the binary with `extra` flags, waits for its "listening" log line, and keeps its stderr.
async fn start_with(dir: &Path, extra: &[&str]) -> (Server, common::StderrLines) {
    start_logging(dir, extra, "info").await
}

/// [`start_with`], its log filtered by `rust_log`.
async fn start_logging(dir: &Path, extra: &[&str], rust_log: &str) -> (Server, common::StderrLines) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_junction"));
    command
        .args(["serve", "--sandbox", "--bind", "127.0.0.1:0", "--sandbox-bind", "127.0.0.1:0"])
        .args(extra)
        .env("JUNCTION_DATABASE_URL", format!("sqlite://{}", dir.join("junction.db").display()))
        .env("RUST_LOG", rust_log)
        .env_remove("JUNCTION_MASTER_KEY")
        .env_remove("JUNCTION_BOOTSTRAP_USER_SECRET")
        .env_remove("JUNCTION_BOOTSTRAP_ORG_SECRET")
        .env_remove("JUNCTION_LOG_FORMAT")
        .stdout(Stdio::piped());
    let (mut child, base, stderr) = common::start_keeping_stderr(command).await;
    let mut stdout_lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = Vec::new();
    // The bootstrap lines are printed before the listening line, so they are already buffered.
    while let Ok(Ok(Some(line))) = tokio::time::timeout(Duration::from_millis(300), stdout_lines.next_line()).await {
        stdout.push(line);
    }
    (Server { child, base, stdout }, stderr)
}

async fn terminate(mut server: Server) {
    let pid = server.child.id().expect("running").to_string();
    let status = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(15), server.child.wait()).await.expect("exits").unwrap();
    assert!(exit.success(), "graceful shutdown exits 0: {exit:?}");
}

fn secret_after(lines: &[String], label: &str) -> String {
    let line = lines.iter().find(|line| line.contains(label)).unwrap_or_else(|| panic!("{label} printed: {lines:?}"));
    line.split_whitespace().last().unwrap().to_string()
}

#[tokio::test]
async fn serve_bootstraps_once_answers_and_shuts_down_gracefully() {
    let dir = temp_dir();
    let server = start(&dir).await;
    let user = secret_after(&server.stdout, "User secret:");
    let org = secret_after(&server.stdout, "Organization secret:");
    let key_file = dir.join("junction.db.key");
    assert!(key_file.exists(), "the master key file is created beside the database");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
        // The database holds sealed secrets too: created readable by its owner only.
        let database = dir.join("junction.db");
        assert_eq!(std::fs::metadata(&database).unwrap().permissions().mode() & 0o777, 0o600);
    }

    let http = reqwest::Client::new();
    let answer = http
        .get(format!("{}/elements/api-v2/instances", server.base))
        .header("authorization", format!("User {user}, Organization {org}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer.headers().contains_key("elements-request-id"));
    assert_eq!(http.get(format!("{}/readyz", server.base)).send().await.unwrap().status(), 200);
    terminate(server).await;

    // Same database, same key file: nothing new is printed, and the old secrets still work.
    let server = start(&dir).await;
    assert!(server.stdout.iter().all(|line| !line.contains("secret:")), "printed once only: {:?}", server.stdout);
    let answer = http
        .get(format!("{}/elements/api-v2/instances", server.base))
        .header("authorization", format!("User {user}, Organization {org}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    terminate(server).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_second_server_on_a_port_in_use_exits_non_zero_instead_of_sharing_its_traffic() {
    let dir = temp_dir();
    let (server, _stderr) = start_with(&dir, &["--http-threads", "2"]).await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let other = temp_dir();
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(env!("CARGO_BIN_EXE_junction"))
            .args(["serve", "--sandbox", "--sandbox-bind", "127.0.0.1:0", "--http-threads", "2", "--bind", &addr])
            .env("JUNCTION_DATABASE_URL", format!("sqlite://{}", other.join("junction.db").display()))
            .env_remove("JUNCTION_MASTER_KEY")
            .stdin(Stdio::null())
            // A server that wrongly started is not left running when the wait times out.
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("exits")
    .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
    terminate(server).await;
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&other);
}

#[test]
fn bad_event_share_and_thread_flags_exit_non_zero_naming_the_flag() {
    for args in [
        ["--background-share", "0"],
        ["--background-share", "1.5"],
        ["--background-share", "half"],
        ["--event-retry-base-ms", "-1"],
        ["--event-max-attempts", "many"],
        ["--event-claim-ttl", "1e9"],
        ["--event-reconcile-minutes", "0"],
        ["--http-threads", "0"],
        ["--http-threads", "5000"],
        ["--http-threads", "many"],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_junction"))
            .arg("serve")
            .arg(format!("{}={}", args[0], args[1]))
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs");
        assert!(!output.status.success(), "{args:?} refused");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(args[0]), "{args:?}: {stderr}");
    }
}

/// What a server started with `flags` and `RUST_LOG=rust_log` logged about one hub call (`GET
/// /hubs/crm/contacts`): every stderr line until it stopped, the call's request id, and its
/// instance id.
async fn a_hub_call_logged(flags: &[&str], rust_log: &str) -> (Vec<String>, String, i64) {
    let dir = temp_dir();
    let (server, stderr) = start_logging(&dir, flags, rust_log).await;
    let platform_auth = format!(
        "User {}, Organization {}",
        secret_after(&server.stdout, "User secret:"),
        secret_after(&server.stdout, "Organization secret:")
    );
    // The simulator's address, from its start line, in either format.
    let sim_url = stderr
        .lines()
        .iter()
        .filter(|line| line.contains("simulator"))
        .find_map(|line| {
            let url = &line[line.find("http://")?..];
            Some(url[..url.find(['"', ' ']).unwrap_or(url.len())].to_string())
        })
        .expect("the simulator's URL is logged")
        .trim_end_matches('/')
        .to_string();

    let http = reqwest::Client::new();
    let api = format!("{}/elements/api-v2", server.base);
    let (instance_id, token) = common::create_instance(&http, &sim_url, &api, &platform_auth).await;
    let user = secret_after(&server.stdout, "User secret:");
    let answer = http
        .get(format!("{api}/hubs/crm/contacts"))
        .query(&[("pageSize", "2")])
        .header("authorization", format!("User {user}, Element {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let request_id = answer.headers()["elements-request-id"].to_str().unwrap().to_string();
    terminate(server).await;
    let _ = std::fs::remove_dir_all(&dir);
    (stderr.lines(), request_id, instance_id)
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_the_instance_id_on_every_line_of_a_hub_call() {
    let (lines, request_id, instance_id) = a_hub_call_logged(&["--log-format", "json"], "info").await;
    let lines: Vec<Value> =
        lines.iter().map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"))).collect();
    for line in &lines {
        for key in ["timestamp", "level", "target"] {
            assert!(line[key].is_string(), "{key} in {line}");
        }
        assert!(line["fields"]["message"].is_string(), "a message in {line}");
    }
    let of_the_call: Vec<&Value> =
        lines.iter().filter(|line| line["span"]["request_id"].as_str() == Some(request_id.as_str())).collect();
    assert!(
        of_the_call.iter().any(|line| line["fields"]["message"] == "request" && line["fields"]["status"] == 200),
        "the request line names the response's request id: {lines:?}"
    );
    for line in &of_the_call {
        assert_eq!(line["span"]["instance_id"], instance_id, "every line of the hub call names its instance: {line}");
        assert_eq!(line["span"]["name"], "request", "{line}");
        assert_eq!(line["spans"][0]["request_id"], request_id.as_str(), "the enclosing spans are listed: {line}");
    }
}

#[tokio::test]
async fn text_logs_name_the_request_and_its_instance_before_the_target() {
    let (lines, request_id, instance_id) = a_hub_call_logged(&[], "info").await;
    let span = format!(" INFO request{{request_id={request_id} instance_id={instance_id}}}: http_api::request_id: ");
    let line = lines.iter().find(|line| line.contains(&span)).unwrap_or_else(|| panic!("{span} in {lines:#?}"));
    // `2026-12-06T01:02:03.456789Z  INFO request{...}: target: message fields`
    let (timestamp, rest) = line.split_once(' ').unwrap();
    assert!(timestamp.len() == 27 && timestamp.ends_with('Z'), "{line}");
    assert!(rest.starts_with(&span), "{line}");
    let fields = &rest[span.len()..];
    assert!(
        fields.starts_with("request method=GET path=/elements/api-v2/hubs/crm/contacts status=200 latency_ms="),
        "{line}"
    );
    assert!(!line.contains("pageSize"), "no query string: {line}");
    let outside = lines.iter().find(|line| line.contains("junction listening")).expect("the listening line");
    assert!(!outside.contains("request{"), "a line outside a request names none: {outside}");
}

#[tokio::test]
async fn request_lines_are_filtered_by_rust_log_as_any_other_line() {
    for format in ["text", "json"] {
        let (lines, request_id, _) =
            a_hub_call_logged(&["--log-format", format], "info,http_api::request_id=warn").await;
        assert!(lines.iter().any(|line| line.contains("junction listening")), "{format}: {lines:#?}");
        let of_the_call = lines.iter().find(|line| line.contains(&request_id));
        assert!(of_the_call.is_none(), "{format}: no request line: {of_the_call:?}");
    }
}

#[test]
fn an_unknown_log_format_exits_non_zero_naming_the_accepted_ones() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_junction"))
        .args(["serve", "--log-format", "xml"])
        .env_remove("JUNCTION_LOG_FORMAT")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--log-format") && stderr.contains("text") && stderr.contains("json"), "{stderr}");
}
