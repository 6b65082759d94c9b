//! The PostgreSQL endpoint with real clients: `psql` and Python's psycopg (installed by `.ci/run`)
//! query the driver's tables over the simulator through `sql::pgwire::serve`.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use domain::Secret;
use keap_sim::{Limits, SimConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The simulator, a driver on it, and the endpoint serving that driver.
struct Endpoint {
    sim: keap_sim::RunningSim,
    token: String,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn start(password: Option<&str>) -> Endpoint {
    let config = SimConfig { limits: Limits::none(), tenant_limits: Limits::none(), ..SimConfig::sandbox() };
    let sim = keap_sim::spawn(config, "127.0.0.1:0").await.unwrap();
    let token = access_token(&sim).await;
    let connection_string =
        format!("AuthScheme=OAuth;InitiateOAuth=OFF;OAuthAccessToken={token};VendorURL={}", sim.url());
    let driver = sql::Driver::connect(sql::parse(&connection_string).unwrap()).await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(sql::pgwire::serve(listener, driver, password.map(Secret::new)));
    Endpoint { sim, token, addr, server }
}

/// An access token for the demo account, through the simulator's consent form.
async fn access_token(sim: &keap_sim::RunningSim) -> String {
    crate::common::access_token(&sim.url()).await.expose().to_string()
}

/// What a client program printed and whether it succeeded.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `program` with `args` and `env`, or `None` when it is not installed outside CI (in CI a
/// missing client fails the test: `.ci/run` installs them).
async fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Option<Run> {
    let mut command = tokio::process::Command::new(program);
    command.args(args).envs(env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let child = match command.spawn() {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: {program} is not installed (run .ci/run once to install the PostgreSQL clients)");
            return None;
        }
        Err(error) => panic!("cannot run {program}: {error}; .ci/run installs it"),
    };
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{program} finishes within a minute"))
        .unwrap();
    Some(Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// `psql -c sql` against the endpoint, unaligned and tuples only (`-A -t`), with no psqlrc.
async fn psql(endpoint: &Endpoint, sql: &str, password: Option<&str>) -> Option<Run> {
    let port = endpoint.addr.port().to_string();
    let args = ["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port, "-U", "anyone", "-d", "anydb", "-c", sql];
    let mut env = vec![("PGCONNECT_TIMEOUT", "10")];
    if let Some(password) = password {
        env.push(("PGPASSWORD", password));
    }
    run("psql", &args, &env).await
}

fn python() -> String {
    std::env::var("JUNCTION_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Contact `id` as the simulator's own API serves it.
async fn contact_at_simulator(endpoint: &Endpoint, id: u64) -> Value {
    let url = format!("{}/crm/rest/v2/contacts/{id}", endpoint.sim.url());
    let response = reqwest::Client::new().get(url).bearer_auth(&endpoint.token).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psql_counts_contacts_and_reads_typed_columns() {
    let endpoint = start(None).await;
    let Some(count) = psql(&endpoint, "select count(*) from contacts", None).await else { return };
    assert!(count.success, "{}", count.stderr);
    assert_eq!(count.stdout.trim(), "300", "the simulator seeds 300 contacts");

    // Several statements in one simple query, session commands among them.
    let sql =
        "BEGIN; SET datestyle = ISO; select Id, FirstName from contacts where Id = 1; SHOW server_version; COMMIT";
    let session = psql(&endpoint, sql, None).await.unwrap();
    assert!(session.success, "{}", session.stderr);
    let lines: Vec<&str> = session.stdout.lines().collect();
    assert!(lines.iter().any(|line| line.starts_with("1|")), "{}", session.stdout);
    assert!(lines.contains(&"16.6"), "{}", session.stdout);

    let version = psql(&endpoint, "select version()", None).await.unwrap();
    assert!(version.stdout.starts_with("PostgreSQL 16.6"), "{}", version.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_psql_reaches_the_simulator() {
    let endpoint = start(None).await;
    let Some(update) = psql(&endpoint, "update contacts set LastName = 'Wireprotocol' where Id = 1", None).await else {
        return;
    };
    assert!(update.success, "{}", update.stderr);
    assert_eq!(contact_at_simulator(&endpoint, 1).await["family_name"], "Wireprotocol");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syntax_error_is_an_error_response_and_the_session_goes_on() {
    let endpoint = start(None).await;
    // psql stops a -c script at the first error, so the session's survival is shown by psycopg
    // below; here the error response itself: SQLSTATE, SQLite's message, and the position.
    let port = endpoint.addr.port().to_string();
    let args = ["-X", "-A", "-t", "-v", "VERBOSITY=verbose", "-h", "127.0.0.1", "-p", &port, "-U", "u", "-d", "d"];
    let sql = ["-c", "selec 1"];
    let Some(bad) = run("psql", &[&args[..], &sql[..]].concat(), &[]).await else { return };
    assert!(!bad.success);
    assert!(bad.stderr.contains("42601") && bad.stderr.contains("syntax error"), "{}", bad.stderr);
    let missing = psql(&endpoint, "select * from no_such_table", None).await.unwrap();
    assert!(missing.stderr.contains("no such table"), "{}", missing.stderr);
    let catalog = psql(&endpoint, "select relname from pg_catalog.pg_class", None).await.unwrap();
    assert!(!catalog.success && catalog.stderr.contains("ERROR"), "{}", catalog.stderr);
    // After all of that, the endpoint still serves.
    let count = psql(&endpoint, "select count(*) from contacts", None).await.unwrap();
    assert_eq!(count.stdout.trim(), "300", "{}", count.stderr);
}

const PSYCOPG_SCRIPT: &str = r#"
import sys, psycopg
port, password = int(sys.argv[1]), (sys.argv[2] if len(sys.argv) > 2 else None)
with psycopg.connect(host="127.0.0.1", port=port, user="anyone", dbname="anydb", password=password) as conn:
    with conn.cursor() as cursor:
        cursor.execute("select FirstName from contacts where Id = %s", (1,))
        first = cursor.fetchone()[0]
        assert isinstance(first, str) and first, first
        cursor.execute("select count(*) from contacts where Id <= %s", (5,))
        assert cursor.fetchone()[0] == 5
        cursor.execute("select Id, FirstName from contacts where Id in (%s, %s) order by Id", (2, 3))
        assert [row[0] for row in cursor.fetchall()] == [2, 3]
        try:
            cursor.execute("selec 1")
            raise SystemExit("a syntax error was accepted")
        except psycopg.errors.SyntaxError as error:
            assert error.sqlstate == "42601", error.sqlstate
        conn.rollback()
        cursor.execute("select 1 + %s", (41,))
        assert cursor.fetchone()[0] == 42
        cursor.execute("show standard_conforming_strings")
        assert cursor.fetchone()[0] == "on"
print("psycopg ok", first)
"#;

async fn psycopg(endpoint: &Endpoint, password: Option<&str>) -> Option<Run> {
    let port = endpoint.addr.port().to_string();
    let mut args = vec!["-c", PSYCOPG_SCRIPT, &port];
    args.extend(password);
    let python = python();
    let check = run(&python, &["-c", "import psycopg"], &[]).await?;
    if !check.success && std::env::var_os("CI").is_none() {
        eprintln!("SKIPPED: psycopg is not installed for {python} (run .ci/run, or set JUNCTION_PYTHON)");
        return None;
    }
    run(&python, &args, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psycopg_binds_parameters_and_survives_a_syntax_error() {
    let endpoint = start(None).await;
    let Some(script) = psycopg(&endpoint, None).await else { return };
    assert!(script.success && script.stdout.contains("psycopg ok"), "{}\n{}", script.stdout, script.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_password_is_required_and_checked() {
    let endpoint = start(Some("s3cret pass")).await;
    let Some(none) = psql(&endpoint, "select 1", None).await else { return };
    assert!(!none.success, "no password was accepted: {}", none.stdout);
    let wrong = psql(&endpoint, "select 1", Some("wrong")).await.unwrap();
    assert!(!wrong.success && wrong.stderr.contains("password authentication failed"), "{}", wrong.stderr);
    let right = psql(&endpoint, "select count(*) from contacts", Some("s3cret pass")).await.unwrap();
    assert_eq!(right.stdout.trim(), "300", "{}", right.stderr);
    if let Some(script) = psycopg(&endpoint, Some("s3cret pass")).await {
        assert!(script.success, "{}\n{}", script.stdout, script.stderr);
    }
}

/// Reads whatever the server sends until it closes (or a few seconds pass).
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received)).await;
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_an_error_and_a_close_and_other_clients_are_unaffected() {
    let endpoint = start(None).await;

    // Not PostgreSQL at all.
    let mut http = TcpStream::connect(endpoint.addr).await.unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answer = read_to_close(&mut http).await;
    assert_eq!(answer.first(), Some(&b'E'), "an error response: {answer:?}");
    assert!(String::from_utf8_lossy(&answer).contains("08P01"), "{answer:?}");

    // A valid startup, then a query message announcing a gigabyte.
    let mut greedy = TcpStream::connect(endpoint.addr).await.unwrap();
    greedy.write_all(&startup_message()).await.unwrap();
    greedy.write_all(&[b'Q', 0x3f, 0xff, 0xff, 0xff]).await.unwrap();
    let answer = String::from_utf8_lossy(&read_to_close(&mut greedy).await).into_owned();
    assert!(answer.contains("over this server's limit"), "{answer}");

    // Random bytes after a valid startup.
    let mut noisy = TcpStream::connect(endpoint.addr).await.unwrap();
    noisy.write_all(&startup_message()).await.unwrap();
    noisy.write_all(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 9, 1, 2, 3, 4, 5]).await.unwrap();
    let _ = read_to_close(&mut noisy).await;

    assert!(!endpoint.server.is_finished(), "the endpoint still accepts");
    if let Some(count) = psql(&endpoint, "select count(*) from contacts", None).await {
        assert_eq!(count.stdout.trim(), "300", "{}", count.stderr);
    }
}

/// A protocol 3.0 startup message for user `raw`.
fn startup_message() -> Vec<u8> {
    let mut body = 196_608u32.to_be_bytes().to_vec();
    body.extend_from_slice(b"user\0raw\0\0");
    let mut message = (body.len() as u32 + 4).to_be_bytes().to_vec();
    message.extend(body);
    message
}
