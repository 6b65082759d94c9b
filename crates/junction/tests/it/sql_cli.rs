//! `junction sql` end to end: the real binary against a real simulator, with an access token got
//! through the simulator's consent form (`InitiateOAuth=OFF`). Outputs are parsed in each format
//! and checked for values and types; bad input must fail with one `error:` line, a non-zero exit
//! code, no panic and nothing written.

use std::process::{Output, Stdio};

use keap_sim::{Limits, RunningSim, SimConfig};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::process::Command;

/// A simulator with the demo tenant (300 contacts) and a connection string for it.
struct Sandbox {
    sim: RunningSim,
    token: String,
    connection: String,
}

async fn sandbox() -> Sandbox {
    let config = SimConfig { limits: Limits::none(), tenant_limits: Limits::none(), ..SimConfig::sandbox() };
    let sim = keap_sim::spawn(config, "127.0.0.1:0").await.expect("the simulator starts");
    let token = access_token(&sim).await;
    let connection = format!("AuthScheme=OAuth;InitiateOAuth=OFF;OAuthAccessToken={token};VendorURL={}", sim.url());
    Sandbox { sim, token, connection }
}

/// An access token for the demo account, through the simulator's consent form.
async fn access_token(sim: &RunningSim) -> String {
    crate::common::vendor_access_token(&sim.url()).await
}

impl Sandbox {
    /// Runs `junction sql ARGS` with the connection string in `JUNCTION_SQL_CONNECTION` and
    /// `stdin` on its standard input (an empty one when `None`, which is not a terminal either).
    async fn sql(&self, args: &[&str], stdin: Option<&str>) -> Run {
        run_sql(Some(&self.connection), args, stdin).await
    }

    /// The contacts the simulator holds, asked of its REST API directly.
    async fn contact_count(&self) -> u64 {
        let body: Value = reqwest::Client::new()
            .get(format!("{}/crm/rest/v1/contacts?limit=1", self.sim.url()))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["count"].as_u64().expect("a v1 list has a count")
    }
}

/// What a run printed.
struct Run {
    output: Output,
    stdout: String,
    stderr: String,
}

impl Run {
    fn succeeded(&self) -> &Self {
        assert!(self.output.status.success(), "exit {:?}; stderr:\n{}", self.output.status, self.stderr);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        self
    }

    /// Fails with one `error: …` line holding `expected` once, a non-zero exit code and no panic.
    fn failed_with(&self, expected: &str) {
        self.failed_mentioning(expected);
        let message = self.stderr.trim();
        assert_eq!(message.lines().count(), 1, "one line: {message:?}");
        assert_eq!(message.matches(expected).count(), 1, "said once: {message:?}");
    }

    /// Fails with a message that starts `error: ` and holds `expected`, a non-zero exit code and
    /// no panic (clap's usage errors add the usage after their first line).
    fn failed_mentioning(&self, expected: &str) {
        assert!(!self.output.status.success(), "should have failed; stdout:\n{}", self.stdout);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let message = self.stderr.trim();
        assert!(message.starts_with("error: "), "{message}");
        assert!(message.contains(expected), "expected {expected:?} in {message:?}");
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|error| panic!("{error}: {}", self.stdout))
    }

    fn json_lines(&self) -> Vec<Value> {
        self.stdout.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
    }
}

async fn run_sql(connection: Option<&str>, args: &[&str], stdin: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_junction"));
    command.arg("sql").args(args).env_remove("RUST_LOG").env_remove("JUNCTION_SQL_CONNECTION");
    if let Some(connection) = connection {
        command.env("JUNCTION_SQL_CONNECTION", connection);
    }
    command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = command.spawn().expect("the junction binary starts");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.unwrap_or_default().as_bytes()).await.expect("stdin written");
    drop(input);
    let output = child.wait_with_output().await.expect("junction sql ends");
    let stdout = String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout");
    let stderr = String::from_utf8(output.stderr.clone()).expect("UTF-8 stderr");
    Run { output, stdout, stderr }
}

#[tokio::test]
async fn json_is_one_array_of_objects_with_typed_values() {
    let sandbox = sandbox().await;
    let run = sandbox.sql(&["--format", "json", "select Id, FirstName from Contacts where Id = 1"], None).await;
    let rows = run.succeeded().json();
    let rows = rows.as_array().expect("one JSON array");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["Id"], json!(1), "ids are numbers");
    assert!(rows[0]["FirstName"].is_string(), "{}", rows[0]);
    assert!(run.stdout.find("\"Id\"") < run.stdout.find("\"FirstName\""), "keys in column order: {}", run.stdout);

    let run =
        sandbox.sql(&["--format", "json", "select count(*) as n, null as absent, 1.5 as x from contacts"], None).await;
    assert_eq!(run.succeeded().json(), json!([{"n": 300, "absent": null, "x": 1.5}]));
}

#[tokio::test]
async fn jsonl_is_one_object_per_line() {
    let sandbox = sandbox().await;
    let run = sandbox.sql(&["--format", "jsonl", "select Id, FirstName from Contacts order by Id limit 3"], None).await;
    let lines = run.succeeded().json_lines();
    assert_eq!(lines.len(), 3);
    let ids: Vec<&Value> = lines.iter().map(|line| &line["Id"]).collect();
    assert!(ids.iter().all(|id| id.is_u64()), "{ids:?}");
    assert!(ids.windows(2).all(|pair| pair[0].as_u64() < pair[1].as_u64()), "ordered by Id: {ids:?}");
}

#[tokio::test]
async fn csv_has_a_header_row_and_rfc_4180_records() {
    let sandbox = sandbox().await;
    let run = sandbox
        .sql(
            &[
                "--format",
                "csv",
                "select Id, FirstName, 'a, \"b\"' as quoted from Contacts where Id in (1, 2) order by Id",
            ],
            None,
        )
        .await;
    run.succeeded();
    assert!(run.stdout.contains("\r\n"), "RFC 4180 ends records with CRLF");
    let mut reader = csv::Reader::from_reader(run.stdout.as_bytes());
    assert_eq!(reader.headers().unwrap(), vec!["Id", "FirstName", "quoted"]);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2);
    assert_eq!((&records[0][0], &records[1][0]), ("1", "2"));
    assert_eq!(&records[0][2], "a, \"b\"");
}

#[tokio::test]
async fn table_is_the_default_and_the_connection_can_be_a_flag() {
    let sandbox = sandbox().await;
    let query = "select count(*) as n from contacts";
    let run = run_sql(None, &["--connection", &sandbox.connection, query], None).await;
    assert_eq!(run.succeeded().stdout, "  n\n---\n300\n(1 row)\n");
}

#[tokio::test]
async fn a_file_runs_every_statement_in_order() {
    let sandbox = sandbox().await;
    let dir = std::env::temp_dir().join(format!("junction-sql-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("two.sql");
    std::fs::write(
        &file,
        "-- two statements\nselect count(*) as n from contacts;\nselect Id from Contacts where Id = 2;\n",
    )
    .unwrap();
    let run = sandbox.sql(&["--format", "jsonl", "-f", file.to_str().unwrap()], None).await;
    assert_eq!(run.succeeded().json_lines(), [json!({"n": 300}), json!({"Id": 2})]);

    // The first failure stops the script, after the results before it were printed; the error
    // names the failing statement's line.
    std::fs::write(&file, "select 1 as one;\nselect * from Nowhere;\nselect 3 as three;\n").unwrap();
    let run = sandbox.sql(&["--format", "jsonl", "-f", file.to_str().unwrap()], None).await;
    run.failed_with("line 2: no such table: Nowhere");
    assert_eq!(run.json_lines(), [json!({"one": 1})]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn stdin_that_is_not_a_terminal_is_read_as_a_script() {
    let sandbox = sandbox().await;
    let run = sandbox.sql(&["--format", "jsonl"], Some("select 1 as one;\nselect 'two' as two\n")).await;
    assert_eq!(run.succeeded().json_lines(), [json!({"one": 1}), json!({"two": "two"})]);
}

#[tokio::test]
async fn explain_goes_to_stderr_and_names_the_vendor_calls() {
    let sandbox = sandbox().await;
    let run = sandbox.sql(&["--format", "json", "--explain", "select Id from Contacts where Id = 1"], None).await;
    assert_eq!(run.succeeded().json(), json!([{"Id": 1}]), "stdout holds the data only");
    assert!(run.stderr.contains("Contacts: handed to the hub"), "{}", run.stderr);
    assert!(run.stderr.contains("vendor call"), "{}", run.stderr);
    assert!(run.stderr.contains("1 rows returned"), "{}", run.stderr);
}

#[tokio::test]
async fn a_delete_by_id_reports_the_rows_affected_and_reaches_the_simulator() {
    let sandbox = sandbox().await;
    let before = sandbox.contact_count().await;
    let run = sandbox.sql(&["delete from Contacts where Id = 7"], None).await;
    assert_eq!(run.succeeded().stdout, "1 row affected\n");
    assert_eq!(sandbox.contact_count().await, before - 1);

    // For programs, stdout stays data only: the count goes to stderr.
    let run = sandbox.sql(&["--format", "json", "delete from Contacts where Id = 8"], None).await;
    assert_eq!((run.succeeded().stdout.as_str(), run.stderr.trim()), ("", "1 row affected"));
}

#[tokio::test]
async fn bad_connection_strings_are_clear_errors() {
    let sandbox = sandbox().await;
    let vendor = sandbox.sim.url();
    let cases = [
        (format!("AuthScheme=OAuth;OAuthAccessToken='abc;VendorURL={vendor}"), "no closing quote"),
        (format!("AuthSchme=OAuth;OAuthAccessToken=abc;VendorURL={vendor}"), "unknown property 'AuthSchme'"),
        (format!("AuthScheme=OAuth;InitiateOAuth=SOMETIMES;VendorURL={vendor}"), "InitiateOAuth must be one of"),
    ];
    for (connection, expected) in cases {
        let run = run_sql(Some(&connection), &["select 1"], None).await;
        run.failed_with(expected);
        assert!(run.stderr.contains("connection string"), "{}", run.stderr);
    }
    let run = run_sql(Some(&format!("AuthSchme=OAuth;VendorURL={vendor}")), &["select 1"], None).await;
    assert!(run.stderr.contains("AuthScheme"), "the nearest known key is suggested: {}", run.stderr);
}

#[tokio::test]
async fn bad_sql_and_bad_input_are_clear_errors() {
    let sandbox = sandbox().await;
    let missing = std::env::temp_dir().join("junction-sql-cli-no-such-file.sql");
    let missing = missing.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["selec Id from Contacts"], "syntax error"),
        (&["select * from NoSuchTable"], "no such table: NoSuchTable"),
        (&["-f", missing], "cannot read"),
        (&[""], "the query holds no SQL statement"),
        (&["  ; -- nothing"], "the query holds no SQL statement"),
    ];
    for (args, expected) in cases {
        sandbox.sql(args, None).await.failed_with(expected);
    }
    sandbox.sql(&["select Id fro Contacts"], None).await.failed_with("at character");
    sandbox.sql(&["select 1", "-f", missing], None).await.failed_mentioning("cannot be used with");
}

#[tokio::test]
async fn a_write_without_id_is_refused_and_changes_nothing() {
    let sandbox = sandbox().await;
    let before = sandbox.contact_count().await;
    let run = sandbox.sql(&["--format", "json", "select FirstName, LastName from Contacts where Id = 1"], None).await;
    let names = run.succeeded().json();
    let (first, last) = (names[0]["FirstName"].as_str().unwrap(), names[0]["LastName"].as_str().unwrap());

    let run = sandbox.sql(&[&format!("DELETE FROM Contacts WHERE FirstName = '{first}'")], None).await;
    run.failed_with("need Id in the WHERE clause");
    let run = sandbox.sql(&[&format!("UPDATE Contacts SET FirstName = 'y' WHERE LastName = '{last}'")], None).await;
    run.failed_with("need Id in the WHERE clause");
    assert_eq!(sandbox.contact_count().await, before);
    let run = sandbox.sql(&["--format", "jsonl", "select FirstName from Contacts where Id = 1"], None).await;
    assert_eq!(run.succeeded().json_lines(), [json!({"FirstName": first})]);
}

/// SPEC: `UPDATE`/`DELETE` need `Id` in the `WHERE`, also when no row matches.
#[tokio::test]
async fn a_write_without_id_that_matches_nothing_is_refused_too() {
    let sandbox = sandbox().await;
    let run = sandbox.sql(&["DELETE FROM Contacts WHERE FirstName = 'x'"], None).await;
    run.failed_with("need Id in the WHERE clause");
}

/// `--listen`: the same tables over the PostgreSQL protocol, for `psql` with no driver of ours.
#[tokio::test]
async fn listen_serves_the_tables_to_psql() {
    if std::process::Command::new("psql").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "psql is installed by .ci/run");
        eprintln!("skipped: psql is not installed");
        return;
    }
    let sandbox = sandbox().await;
    let mut server = Command::new(env!("CARGO_BIN_EXE_junction"));
    server
        .args(["sql", "--listen", "127.0.0.1:0"])
        .env("JUNCTION_SQL_CONNECTION", &sandbox.connection)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut server = server.spawn().expect("junction sql --listen starts");
    let mut stderr = tokio::io::BufReader::new(server.stderr.take().unwrap()).lines();
    let address = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(address) = line.strip_prefix("junction sql listening for PostgreSQL clients on ") {
                return address.to_string();
            }
        }
        panic!("junction sql --listen exited before listening");
    })
    .await
    .expect("listening within 30 s");
    let (host, port) = address.rsplit_once(':').unwrap();
    let psql = Command::new("psql")
        .args([
            "-h",
            host,
            "-p",
            port,
            "-U",
            "anyone",
            "-d",
            "anydb",
            "-A",
            "-t",
            "-c",
            "select count(*) from contacts",
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .await
        .expect("psql runs");
    assert!(psql.status.success(), "{}", String::from_utf8_lossy(&psql.stderr));
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "300");

    let run = run_sql(Some(&sandbox.connection), &["--listen", "127.0.0.1:0", "select 1"], None).await;
    run.failed_mentioning("cannot be used with");
    let run = run_sql(Some(&sandbox.connection), &["--password-file", "/nonexistent"], None).await;
    run.failed_mentioning("--listen");
}
