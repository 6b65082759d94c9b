//! The file-backed token source against the real simulator: a due pair is refreshed once and the
//! rotated pair replaces the file, a 401 on a replaced token costs no vendor call, the vendor's
//! refusals and outages come back typed, a broken file is a clear error, the file is private, and
//! two processes sharing one file refresh once between them.

use crate::common::{consent, oauth_client, sandbox_client, REDIRECT};
use connector::token_file::{FileTokens, TokenPair};
use connector::{AccessToken, TokenError, TokenSource};
use domain::token_rules::{RefreshOutcome, TokenGrant, TransientCause};
use domain::Secret;
use keap_sim::{Limits, RunningSim, SimConfig};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, SystemTime};

/// The simulator with its rate limits lifted (these tests count token grants, not calls).
struct Vendor {
    sim: RunningSim,
    http: reqwest::Client,
}

impl Vendor {
    async fn start() -> Vendor {
        let config = SimConfig { limits: Limits::none(), tenant_limits: Limits::none(), ..SimConfig::sandbox() };
        let sim = keap_sim::spawn(config, "127.0.0.1:0").await.expect("simulator starts");
        Vendor { sim, http: reqwest::Client::new() }
    }

    fn tokens(&self, path: &Path) -> FileTokens {
        FileTokens::new(path, oauth_client(&self.sim.url()), sandbox_client())
    }

    /// A fresh grant of the demo user, exchanged behind the token file's back.
    async fn grant(&self) -> TokenGrant {
        let code = consent(&self.sim).await;
        match oauth_client(&self.sim.url()).exchange_code(&sandbox_client(), &code, REDIRECT).await {
            RefreshOutcome::Refreshed(grant) => grant,
            other => panic!("expected tokens, got {other:?}"),
        }
    }

    /// Spends `refresh_token` at the vendor, as another holder of it would.
    async fn refresh(&self, refresh_token: &Secret) -> RefreshOutcome {
        oauth_client(&self.sim.url()).refresh(&sandbox_client(), refresh_token).await
    }

    /// How many refresh grants the vendor has answered.
    async fn refresh_grants(&self) -> u64 {
        let stats: Value =
            self.http.get(format!("{}/__sim/stats", self.sim.url())).send().await.unwrap().json().await.unwrap();
        stats["token_grants"]["refresh_token"].as_u64().expect("a refresh grant count")
    }

    async fn control(&self, path: &str, body: Value) {
        let answer = self.http.post(format!("{}{path}", self.sim.url())).json(&body).send().await.unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
    }

    /// The vendor's status for a REST call with `token`.
    async fn call_with(&self, token: &Secret) -> u16 {
        let url = format!("{}/crm/rest/v2/contacts?page_size=1", self.sim.url());
        self.http.get(url).bearer_auth(token.expose()).send().await.unwrap().status().as_u16()
    }
}

/// A directory of the test's own, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let name = format!("junction-token-file-{}-{:016x}", std::process::id(), rand::random::<u64>());
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("tokens.json")
    }

    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The token file as JSON.
fn on_disk(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `grant`'s pair with an expiry already past: due for a refresh at the first `current()`.
fn due(grant: &TokenGrant) -> TokenPair {
    TokenPair {
        access_token: Some(grant.access_token.clone()),
        refresh_token: grant.refresh_token.clone(),
        expires_at: Some(SystemTime::now() - Duration::from_secs(60)),
    }
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64
}

#[tokio::test]
async fn a_due_token_is_refreshed_once_and_the_rotated_pair_replaces_the_file() {
    let vendor = Vendor::start().await;
    let scratch = Scratch::new();
    let tokens = vendor.tokens(&scratch.file());
    let grant = vendor.grant().await;
    let old_refresh = grant.refresh_token.clone().expect("a refresh token");
    assert_eq!(tokens.store(due(&grant)).await.unwrap(), 1);

    let fresh = tokens.current().await.unwrap();
    assert_eq!(fresh.generation, 2);
    assert_ne!(fresh.secret.expose(), grant.access_token.expose());
    assert_eq!(vendor.refresh_grants().await, 1);

    let file = on_disk(&scratch.file());
    assert_eq!(file["access_token"], fresh.secret.expose());
    assert_eq!(file["generation"], 2);
    let new_refresh = file["refresh_token"].as_str().expect("a refresh token on disk");
    assert_ne!(new_refresh, old_refresh.expose());
    assert!(file["expires_at"].as_i64().unwrap() > now_secs() + 3_600, "{file}");
    assert!(file["refreshed_at"].as_i64().is_some());

    let again = tokens.current().await.unwrap();
    assert_eq!((again.generation, again.secret.expose()), (2, fresh.secret.expose()));
    assert_eq!(vendor.refresh_grants().await, 1, "a fresh pair is not refreshed again");
    assert_eq!(vendor.call_with(&fresh.secret).await, 200);
    assert!(
        matches!(vendor.refresh(&old_refresh).await, RefreshOutcome::InvalidGrant { .. }),
        "the vendor retired the refresh token the file held before"
    );
}

#[tokio::test]
async fn a_token_the_vendor_let_expire_is_refreshed_after_its_401() {
    let vendor = Vendor::start().await;
    let scratch = Scratch::new();
    let tokens = vendor.tokens(&scratch.file());
    let code = consent(&vendor.sim).await;
    let first = tokens.exchange_code(&code, REDIRECT).await.unwrap();
    assert_eq!(first.generation, 1);
    assert_eq!(tokens.current().await.unwrap().secret.expose(), first.secret.expose());
    assert_eq!(vendor.refresh_grants().await, 0, "a fresh grant is used as it is");

    vendor.control("/__sim/clock/advance", json!({"seconds": 86_400 + 60})).await;
    assert_eq!(vendor.call_with(&first.secret).await, 401);
    let fresh = tokens.refresh_after_401(&first).await.unwrap().expect("a refreshed token");
    assert_eq!(fresh.generation, 2);
    assert_eq!(vendor.call_with(&fresh.secret).await, 200);
    assert_eq!(vendor.refresh_grants().await, 1);
    assert_eq!(on_disk(&scratch.file())["access_token"], fresh.secret.expose());
}

#[tokio::test]
async fn a_401_on_a_replaced_token_uses_the_stored_one_without_a_vendor_call() {
    let vendor = Vendor::start().await;
    let scratch = Scratch::new();
    let grant = vendor.grant().await;
    let tokens = vendor.tokens(&scratch.file());
    tokens.store(due(&grant)).await.unwrap();
    let fresh = tokens.current().await.unwrap();
    assert_eq!(vendor.refresh_grants().await, 1);

    let stale = AccessToken { secret: grant.access_token.clone(), generation: 1 };
    let retry = tokens.refresh_after_401(&stale).await.unwrap().expect("the stored token");
    assert_eq!((retry.generation, retry.secret.expose()), (2, fresh.secret.expose()));
    // Another process's source: no shared memory, only the file.
    let elsewhere = vendor.tokens(&scratch.file()).refresh_after_401(&stale).await.unwrap().expect("the stored token");
    assert_eq!((elsewhere.generation, elsewhere.secret.expose()), (2, fresh.secret.expose()));
    assert_eq!(vendor.refresh_grants().await, 1, "no vendor call for a token already replaced");
}

#[tokio::test]
async fn a_retired_refresh_token_is_an_invalid_grant_and_the_file_is_kept() {
    let vendor = Vendor::start().await;
    let scratch = Scratch::new();
    let grant = vendor.grant().await;
    let tokens = vendor.tokens(&scratch.file());
    tokens.store(due(&grant)).await.unwrap();
    let spent = vendor.refresh(grant.refresh_token.as_ref().unwrap()).await;
    assert!(matches!(spent, RefreshOutcome::Refreshed(_)), "spent behind the file's back");

    match tokens.current().await {
        Err(TokenError::Invalid { instance_id: None, provider_message }) => {
            assert_eq!(provider_message.as_deref(), Some("Invalid refresh token"))
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }
    assert!(matches!(
        tokens.refresh_after_401(&AccessToken { secret: grant.access_token.clone(), generation: 1 }).await,
        Err(TokenError::Invalid { .. })
    ));
    let file = on_disk(&scratch.file());
    assert_eq!(file["generation"], 1);
    assert_eq!(file["refresh_token"], grant.refresh_token.as_ref().unwrap().expose());
}

#[tokio::test]
async fn a_vendor_outage_is_transient_and_the_refresh_token_survives_it() {
    let vendor = Vendor::start().await;
    let scratch = Scratch::new();
    let grant = vendor.grant().await;
    let tokens = vendor.tokens(&scratch.file());
    tokens.store(due(&grant)).await.unwrap();

    vendor.control("/__sim/faults", json!({"path_prefix": "/token", "status": 503})).await;
    assert!(matches!(tokens.current().await, Err(TokenError::Transient(TransientCause::VendorStatus(503)))));
    assert_eq!(on_disk(&scratch.file())["generation"], 1);
    let fresh = tokens.current().await.expect("refreshed once the vendor is back");
    assert_eq!(fresh.generation, 2);
}

#[tokio::test]
async fn a_vendor_outage_near_expiry_keeps_using_the_unexpired_token() {
    let vendor = Vendor::start().await;
    let scratch = Scratch::new();
    let grant = vendor.grant().await;
    let tokens = vendor.tokens(&scratch.file());
    // Inside the ten-minute margin, so due, but not yet expired.
    let expiring = TokenPair { expires_at: Some(SystemTime::now() + Duration::from_secs(120)), ..due(&grant) };
    tokens.store(expiring).await.unwrap();

    vendor.control("/__sim/faults", json!({"path_prefix": "/token", "status": 503, "count": 2})).await;
    let token = tokens.current().await.expect("the unexpired token");
    assert_eq!((token.generation, token.secret.expose()), (1, grant.access_token.expose()));
    let after_401 = tokens.refresh_after_401(&token).await;
    assert!(matches!(after_401, Err(TokenError::Transient(_))), "a 401 is not answered with the refused token");
}

#[tokio::test]
async fn a_missing_file_has_no_token_and_a_broken_one_is_a_storage_error_naming_the_problem() {
    let scratch = Scratch::new();
    let path = scratch.file();
    let tokens = FileTokens::new(&path, oauth_client("http://127.0.0.1:9"), sandbox_client());
    let stale = AccessToken { secret: Secret::new("x"), generation: 1 };
    assert!(matches!(tokens.current().await, Err(TokenError::NoAccessToken)));
    assert!(matches!(tokens.refresh_after_401(&stale).await, Err(TokenError::NoAccessToken)));

    let cases = [
        ("{\"access_token\": \"s3cret-at\", ", "not valid JSON"),
        (r#"{"access_token": "s3cret-at", "refresh_token": "s3cret-rt", "generation": "two"}"#, "generation"),
        (r#"{"access_token": "s3cret-at", "expires_at": "tomorrow"}"#, "expires_at"),
        (r#""s3cret-at""#, "not a JSON object"),
    ];
    for (body, problem) in cases {
        std::fs::write(&path, body).unwrap();
        for outcome in [tokens.current().await.err(), tokens.refresh_after_401(&stale).await.err()] {
            let Some(TokenError::Storage(message)) = outcome else { panic!("{body}: expected a storage error") };
            assert!(message.contains(problem), "{message}");
            assert!(message.contains("tokens.json"), "{message}");
            assert!(!message.contains("s3cret"), "{message}");
        }
    }

    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let Err(TokenError::Storage(message)) = tokens.current().await else { panic!("a directory is no token file") };
    assert!(message.contains("token file"), "{message}");

    let nowhere =
        FileTokens::new(scratch.0.join("missing/tokens.json"), oauth_client("http://127.0.0.1:9"), sandbox_client());
    let pair = TokenPair { access_token: Some(Secret::new("s3cret-at")), refresh_token: None, expires_at: None };
    let Err(TokenError::Storage(message)) = nowhere.store(pair).await else { panic!("no directory to write in") };
    assert!(!message.contains("s3cret"), "{message}");
}

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let scratch = Scratch::new();
    let tokens = FileTokens::new(scratch.file(), oauth_client("http://127.0.0.1:9"), sandbox_client());
    let pair = TokenPair {
        access_token: Some(Secret::new("s3cret-at")),
        refresh_token: Some(Secret::new("s3cret-rt")),
        expires_at: None,
    };
    let shown = format!("{tokens:?} {pair:?}");
    assert!(!shown.contains("s3cret") && !shown.contains(crate::common::CLIENT_SECRET), "{shown}");
}

#[cfg(unix)]
#[tokio::test]
async fn the_token_file_and_its_lock_are_private_and_no_temporary_file_is_left() {
    use std::os::unix::fs::PermissionsExt;
    let vendor = Vendor::start().await;
    let scratch = Scratch::new();
    let grant = vendor.grant().await;
    let tokens = vendor.tokens(&scratch.file());
    let mode = |name: &str| std::fs::metadata(scratch.0.join(name)).unwrap().permissions().mode() & 0o777;

    tokens.store(due(&grant)).await.unwrap();
    assert_eq!(mode("tokens.json"), 0o600);
    tokens.current().await.unwrap();
    assert_eq!(mode("tokens.json"), 0o600, "the refreshed file too");
    assert_eq!(mode("tokens.json.lock"), 0o600);
    assert_eq!(scratch.entries(), ["tokens.json", "tokens.json.lock"]);
}

/// Tells [`worker_process`] which token file to use (and that it is a worker).
const WORKER_FILE: &str = "JUNCTION_TEST_TOKEN_FILE";
/// Tells [`worker_process`] where the vendor is.
const WORKER_VENDOR: &str = "JUNCTION_TEST_TOKEN_VENDOR";
const READY: &str = "worker-ready";
const RESULT: &str = "worker-token";
/// `current()` calls per worker, half through each of two sources (the in-process mutex and,
/// between the two sources, the OS lock).
const CALLS_PER_WORKER: usize = 4;

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_sharing_a_token_file_refresh_once() {
    let vendor = Vendor::start().await;
    let scratch = Scratch::new();
    let grant = vendor.grant().await;
    vendor.tokens(&scratch.file()).store(due(&grant)).await.unwrap();

    let (path, url) = (scratch.file(), vendor.sim.url());
    let results = tokio::task::spawn_blocking(move || run_workers(&path, &url, 3)).await.unwrap();

    assert_eq!(vendor.refresh_grants().await, 1, "one refresh among all processes");
    assert_eq!(results.len(), 3 * CALLS_PER_WORKER);
    let file = on_disk(&scratch.file());
    let stored = file["access_token"].as_str().unwrap();
    for (generation, token) in &results {
        assert_eq!(*generation, 2);
        assert_eq!(*token, fingerprint(stored), "every call got the stored token");
    }
    assert_eq!(file["generation"], 2);
    assert_eq!(vendor.call_with(&Secret::new(stored)).await, 200);
    assert!(matches!(vendor.refresh(grant.refresh_token.as_ref().unwrap()).await, RefreshOutcome::InvalidGrant { .. }));
    let rotated = Secret::new(file["refresh_token"].as_str().unwrap());
    assert!(matches!(vendor.refresh(&rotated).await, RefreshOutcome::Refreshed(_)), "the file holds the live pair");
}

/// One worker of [`two_processes_sharing_a_token_file_refresh_once`], run in a child process of
/// this test binary; does nothing when run any other way.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a child process of two_processes_sharing_a_token_file_refresh_once"]
async fn worker_process() {
    let (Ok(path), Ok(url)) = (std::env::var(WORKER_FILE), std::env::var(WORKER_VENDOR)) else { return };
    let sources = [0, 1].map(|_| FileTokens::new(&path, oauth_client(&url), sandbox_client()));
    println!("{READY}");
    let go = tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await.unwrap();
    go.expect("the parent says go");
    let calls: Vec<_> = (0..CALLS_PER_WORKER)
        .map(|i| {
            let tokens = sources[i % 2].clone();
            tokio::spawn(async move { tokens.current().await })
        })
        .collect();
    for call in calls {
        let token = call.await.unwrap().expect("a token");
        // A fingerprint, not the token: the parent compares it with the stored token's.
        let print = fingerprint(token.secret.expose());
        println!("{RESULT} {} {print}", token.generation);
    }
}

/// Starts `count` workers on `path`, lets them all call at once, and returns their tokens
/// (generation, fingerprint).
fn run_workers(path: &Path, vendor: &str, count: usize) -> Vec<(i64, u64)> {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut workers: Vec<(Child, BufReader<ChildStdout>)> = (0..count)
        .map(|_| {
            let mut child = Command::new(&exe)
                .args(["--exact", "token_file::worker_process", "--include-ignored", "--nocapture"])
                .env(WORKER_FILE, path)
                .env(WORKER_VENDOR, vendor)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("a worker starts");
            let stdout = BufReader::new(child.stdout.take().unwrap());
            (child, stdout)
        })
        .collect();
    for (child, stdout) in &mut workers {
        let mut line = String::new();
        while !line.contains(READY) {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                panic!("a worker ended before it was ready: {}", stderr_of(child));
            }
        }
    }
    for (child, _) in &mut workers {
        writeln!(child.stdin.as_mut().unwrap(), "go").unwrap();
    }
    let mut results = Vec::new();
    for (mut child, mut stdout) in workers {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "a worker failed: {out}\n{}", stderr_of(&mut child));
        results.extend(out.lines().filter_map(|line| {
            let (_, result) = line.split_once(RESULT)?;
            let (generation, token) = result.trim().split_once(' ')?;
            Some((generation.parse().unwrap(), token.parse().unwrap()))
        }));
    }
    results
}

/// A token's fingerprint, the same in every process of this test binary (SipHash with fixed keys).
fn fingerprint(token: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    token.hash(&mut hasher);
    hasher.finish()
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut text);
    }
    text
}
