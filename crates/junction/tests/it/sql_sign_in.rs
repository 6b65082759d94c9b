//! `junction sql` with the seed's connection string (`InitiateOAuth=GETANDREFRESH`), end to end as
//! processes: the first run prints the authorize URL and the test plays the user on the
//! simulator's consent form, which redirects to the driver's loopback listener; later runs reuse
//! the token file with no prompt; after the access token expires, two processes on the one file
//! refresh once; a refused refresh token says to sign in again.

use std::process::Stdio;
use std::time::Duration;

use keap_sim::{Limits, SimConfig};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

const CLIENT_ID: &str = "sandbox-client-id";

/// `junction sql --format json --connection <string> <query>`, without a browser to open.
fn junction_sql(connection: &str, query: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_junction"));
    command
        .args(["sql", "--format", "json", "--connection", connection, query])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("BROWSER")
        .env_remove("JUNCTION_SQL_CONNECTION")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs to completion: exit success, stdout as JSON, stderr.
async fn finish(command: &mut Command) -> (bool, Value, String) {
    let output = tokio::time::timeout(Duration::from_secs(60), command.output()).await.expect("done in 60 s").unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    (output.status.success(), serde_json::from_str(&stdout).unwrap_or(Value::Null), stderr)
}

async fn sim_stats(http: &reqwest::Client, sim: &str) -> Value {
    http.get(format!("{sim}/__sim/stats")).send().await.unwrap().json().await.unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seed_connection_string_signs_in_once_then_reuses_and_refreshes_the_token_file() {
    let config = SimConfig { limits: Limits::none(), tenant_limits: Limits::none(), ..SimConfig::sandbox() };
    let sim = keap_sim::spawn(config, "127.0.0.1:0").await.unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let dir = std::env::temp_dir().join(format!("junction-sql-sign-in-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("tokens.json");
    let connection = format!(
        "AuthScheme=OAuth;InitiateOAuth=GETANDREFRESH;OAuthClientId={CLIENT_ID};OAuthClientSecret=sandbox-client-secret;\
         OAuthSettingsLocation={};CallbackURL=http://127.0.0.1:{};VendorURL={}",
        token_file.display(),
        free_port(),
        sim.url()
    );
    let query = "SELECT count(*) AS n FROM Contacts";

    // First run: the authorize URL on stderr; the user allows access on the vendor's form.
    let mut first = junction_sql(&connection, query).spawn().unwrap();
    let mut stderr = BufReader::new(first.stderr.take().unwrap()).lines();
    let authorize = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(at) = line.find("http") {
                if line.contains("/app/oauth/authorize?") {
                    return line[at..].split_whitespace().next().unwrap().to_string();
                }
            }
        }
        panic!("no authorize URL printed");
    })
    .await
    .expect("the authorize URL within 30 s");
    let authorize = url::Url::parse(&authorize).unwrap();
    let mut form: Vec<(String, String)> =
        authorize.query_pairs().map(|(key, value)| (key.into_owned(), value.into_owned())).collect();
    form.extend([
        ("username".into(), "demo@example.com".into()),
        ("password".into(), "demo".into()),
        ("decision".into(), "allow".into()),
    ]);
    let consent = http.post(format!("{}/app/oauth/authorize", sim.url())).form(&form).send().await.unwrap();
    assert_eq!(consent.status(), 302, "the consent form redirects");
    let redirect = consent.headers()["location"].to_str().unwrap().to_string();
    let landed = http.get(&redirect).send().await.unwrap();
    assert!(landed.status().is_success(), "the driver's listener took the code: {}", landed.status());
    let mut stdout = String::new();
    first.stdout.take().unwrap().read_to_string(&mut stdout).await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), first.wait()).await.unwrap().unwrap();
    assert!(status.success());
    assert_eq!(serde_json::from_str::<Value>(&stdout).unwrap(), json!([{"n": 300}]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the token file is private");
    }

    // Second run: the stored pair, no prompt.
    let (ok, answer, stderr) = finish(&mut junction_sql(&connection, query)).await;
    assert!(ok, "{stderr}");
    assert_eq!(answer, json!([{"n": 300}]));
    assert!(!stderr.contains("/app/oauth/authorize"), "no second prompt: {stderr}");
    let stats = sim_stats(&http, &sim.url()).await;
    assert_eq!(stats["token_grants"]["authorization_code"], json!(1));
    assert_eq!(stats["token_grants"]["refresh_token"], json!(0));

    // The access token expires: two processes on the one file refresh once, and the rotated pair
    // is what the file holds.
    let before: Value = serde_json::from_str(&std::fs::read_to_string(&token_file).unwrap()).unwrap();
    let advanced = http
        .post(format!("{}/__sim/clock/advance", sim.url()))
        .json(&json!({"seconds": 86_400 + 60}))
        .send()
        .await
        .unwrap();
    assert!(advanced.status().is_success());
    let (mut first_process, mut second_process) = (junction_sql(&connection, query), junction_sql(&connection, query));
    let (one, two) = tokio::join!(finish(&mut first_process), finish(&mut second_process));
    assert!(one.0 && two.0, "{} / {}", one.2, two.2);
    assert_eq!((one.1, two.1), (json!([{"n": 300}]), json!([{"n": 300}])));
    let stats = sim_stats(&http, &sim.url()).await;
    assert_eq!(stats["token_grants"]["refresh_token"], json!(1), "one refresh for two processes");
    let after: Value = serde_json::from_str(&std::fs::read_to_string(&token_file).unwrap()).unwrap();
    assert_ne!(before["refresh_token"], after["refresh_token"], "the rotated pair was persisted");

    // A refresh token the vendor refuses: a message that says to sign in again, nothing printed.
    let refused = format!(
        "AuthScheme=OAuth;InitiateOAuth=REFRESH;OAuthClientId={CLIENT_ID};OAuthClientSecret=sandbox-client-secret;\
         OAuthRefreshToken=revoked;OAuthSettingsLocation=memory://refused;VendorURL={}",
        sim.url()
    );
    let (ok, answer, stderr) = finish(&mut junction_sql(&refused, query)).await;
    assert!(!ok && answer.is_null(), "{stderr}");
    assert!(stderr.contains("sign in again"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
