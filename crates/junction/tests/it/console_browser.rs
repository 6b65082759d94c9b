//! The web console end to end, in a real headless Chromium (driven through chromedriver) against
//! `junction serve --sandbox`: sign in, authenticate an Infusionsoft CRM instance through the
//! simulator's real login and consent page, see it listed, test the connection, refresh, trace,
//! disable, try a call from the API docs, delete; the deny path; a tampered state; a formula run
//! from its Run now button, read step by step once it ends.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Screenshots of each
//! main page are written to `target/console-screenshots/` (CI artifacts, not committed).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::process::{Child, Command};

use crate::common;

const USER_SECRET: &str = "console-e2e-user-secret-0123456789abcdef";
const ORG_SECRET: &str = "console-e2e-org-secret-0123456789abcdef";

struct Processes {
    _junction: Child,
    _driver: Child,
    base: String,
}

fn temp_dir() -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let dir = std::env::temp_dir().join(format!("junction-console-e2e-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn find_program(names: &[&str]) -> PathBuf {
    for name in names {
        for dir in std::env::var("PATH").unwrap_or_default().split(':').chain(["/usr/bin", "/usr/lib/chromium"]) {
            let path = Path::new(dir).join(name);
            if path.is_file() {
                return path;
            }
        }
    }
    panic!("{names:?} not found: install Debian's chromium and chromium-driver (.ci/run does)");
}

/// Starts `junction serve --sandbox` on free ports and waits until it listens.
async fn start_junction(dir: &Path) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_junction"));
    command
        .args(["serve", "--sandbox", "--bind", "127.0.0.1:0", "--sandbox-bind", "127.0.0.1:0"])
        .env("JUNCTION_DATABASE_URL", format!("sqlite://{}", dir.join("junction.db").display()))
        .env("JUNCTION_BOOTSTRAP_USER_SECRET", USER_SECRET)
        .env("JUNCTION_BOOTSTRAP_ORG_SECRET", ORG_SECRET)
        .env("RUST_LOG", "info")
        .env_remove("JUNCTION_MASTER_KEY")
        .stdout(Stdio::null());
    common::start_listening(command).await
}

/// Starts chromedriver on a free port and waits until it answers.
async fn start_driver() -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(find_program(&["chromedriver"]))
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return (child, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {port}");
}

async fn start() -> (Processes, Client) {
    let (junction, base) = start_junction(&temp_dir()).await;
    let (driver, driver_url) = start_driver().await;
    let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--no-first-run", "--disable-dev-shm-usage", "--window-size=1280,1000"],
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector)
        .capabilities(capabilities)
        .connect(&driver_url)
        .await
        .expect("a Chromium session through chromedriver");
    (Processes { _junction: junction, _driver: driver, base }, client)
}

async fn shot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
}

async fn text_of(client: &Client, css: &str) -> String {
    client.wait().for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap()
}

async fn fill(client: &Client, css: &str, value: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// Clicks what `locator` finds (a link or a submit button) and waits until the next page replaced
/// the current one: reading right after a click could otherwise still see the old page.
async fn navigate_by(client: &Client, locator: Locator<'_>, what: &str) {
    let old_page = client.find(Locator::Css("html")).await.unwrap();
    client.find(locator).await.unwrap_or_else(|e| panic!("{what}: {e}")).click().await.unwrap();
    for _ in 0..200 {
        if old_page.tag_name().await.is_err() {
            // Stale: a new document is loading; the next command waits for it to load.
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("clicking {what} did not open another page within 10 s");
}

async fn click(client: &Client, css: &str) {
    navigate_by(client, Locator::Css(css), css).await;
}

/// Clicks the button or link whose text is `label`.
async fn press(client: &Client, label: &str) {
    let xpath = format!("//button[normalize-space(.)='{label}'] | //a[normalize-space(.)='{label}']");
    navigate_by(client, Locator::XPath(&xpath), label).await;
}

async fn page_text(client: &Client) -> String {
    client.find(Locator::Css("main")).await.unwrap().text().await.unwrap()
}

async fn sign_in(client: &Client, base: &str) {
    client.goto(&format!("{base}/")).await.unwrap();
    assert!(client.current_url().await.unwrap().path().starts_with("/sign-in"), "signed out → sign-in page");
    shot(client, "01-sign-in").await;
    fill(client, "#user_secret", USER_SECRET).await;
    fill(client, "#org_secret", ORG_SECRET).await;
    press(client, "Sign in").await;
    client.wait().for_element(Locator::Css("ul.cards")).await.unwrap();
}

/// From the catalog, fills the CRM Authenticate form and submits it: the browser is then on the
/// simulator's login and consent page.
async fn start_authentication(client: &Client, base: &str, name: &str) {
    client.goto(&format!("{base}/")).await.unwrap();
    click(client, "li[data-element=infusionsoftcrm] a.primary").await;
    client.wait().for_element(Locator::Css("#f-name")).await.unwrap();
    fill(client, "#f-name", name).await;
    fill(client, "#f-tags", "e2e, demo").await;
    press(client, "Create instance").await;
    client.wait().for_element(Locator::Css("input[name=username]")).await.expect("the vendor's login page");
}

async fn vendor_login(client: &Client, decision: &str) {
    fill(client, "input[name=username]", "demo@example.com").await;
    fill(client, "input[name=password]", "demo").await;
    click(client, &format!("button[value={decision}]")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_authenticates_uses_and_deletes_an_instance_in_the_browser() {
    let (processes, client) = start().await;
    let base = processes.base.clone();
    sign_in(&client, &base).await;
    shot(&client, "02-catalog").await;
    let cards = client.find_all(Locator::Css("li.card")).await.unwrap();
    assert_eq!(cards.len(), 2, "a card for each Infusionsoft element");

    click(&client, "li[data-element=infusionsoftcrm] a[href='/catalog/infusionsoftcrm']").await;
    let details = page_text(&client).await;
    assert!(details.contains("Infusionsoft Server") && details.contains("contacts"), "details: {details}");
    shot(&client, "03-element-details").await;

    // Validation is inline and keeps what was typed.
    client.goto(&format!("{base}/catalog/infusionsoftcrm/authenticate")).await.unwrap();
    shot(&client, "04-authenticate-form").await;
    fill(&client, "#f-name", "").await;
    fill(&client, "#f-infusionsoft-server", "evil.example.com").await;
    press(&client, "Create instance").await;
    let problems = client.find_all(Locator::Css(".problem")).await.unwrap();
    assert!(problems.len() >= 2, "a message beside the name and the server");
    shot(&client, "05-authenticate-validation").await;

    start_authentication(&client, &base, "E2E CRM").await;
    shot(&client, "06-vendor-consent").await;
    vendor_login(&client, "allow").await;
    let token = text_of(&client, "#instance-token").await;
    assert!(token.len() >= 32, "the instance token is shown once");
    assert!(page_text(&client).await.contains("created"), "a created notice");
    assert!(
        client.current_url().await.unwrap().path().starts_with("/instances/"),
        "the spent callback URL is replaced"
    );
    shot(&client, "07-instance-created").await;

    client.goto(&format!("{base}/instances")).await.unwrap();
    let list = page_text(&client).await;
    assert!(list.contains("E2E CRM") && list.contains("Infusionsoft") && list.contains("e2e"), "listed: {list}");
    shot(&client, "08-instances").await;
    client.goto(&format!("{base}/instances?tag=nomatch")).await.unwrap();
    assert!(page_text(&client).await.contains("No instance matches"), "an empty filter says so");
    client.goto(&format!("{base}/instances?q=e2e")).await.unwrap();
    press(&client, "E2E CRM").await;

    press(&client, "Start trace logging").await;
    assert!(page_text(&client).await.contains("Trace logging on"));
    press(&client, "Test connection").await;
    assert!(text_of(&client, ".notice").await.contains("Connection works"), "test connection succeeds");
    let trace = text_of(&client, "section[aria-labelledby=trace]").await;
    assert!(trace.contains("GET /v2/users"), "the traced vendor call is listed: {trace}");
    let secrets = text_of(&client, "section[aria-labelledby=configuration]").await;
    assert!(secrets.contains("********") && !secrets.contains("sandbox-client-secret"), "secrets are masked");
    let events = text_of(&client, "section[aria-labelledby=events]").await;
    assert!(events.contains("Events are not enabled"), "the events panel renders: {events}");
    shot(&client, "09-instance").await;

    press(&client, "Refresh tokens").await;
    assert!(text_of(&client, ".notice").await.contains("Tokens refreshed"));
    press(&client, "Disable").await;
    assert!(text_of(&client, ".title-row").await.contains("disabled"));
    press(&client, "Test connection").await;
    assert!(text_of(&client, ".notice.error").await.contains("disabled"), "a disabled instance cannot be used");
    press(&client, "Enable").await;
    assert!(text_of(&client, ".title-row").await.contains("enabled"));

    press(&client, "API docs").await;
    client.wait().for_element(Locator::Css("details.operation")).await.expect("the operations are listed");
    shot(&client, "10-api-docs").await;
    fill(&client, "#try-path", "/hubs/crm/contacts?pageSize=2").await;
    press(&client, "Send").await;
    let answer = text_of(&client, "#answer").await;
    assert!(answer.contains("200") && answer.contains("FirstName"), "a real answer: {answer}");
    shot(&client, "11-api-docs-answer").await;

    client.goto(&format!("{base}/instances?q=e2e")).await.unwrap();
    press(&client, "E2E CRM").await;
    press(&client, "Delete…").await;
    shot(&client, "12-delete-confirm").await;
    press(&client, "Delete instance").await;
    let after = page_text(&client).await;
    assert!(after.contains("deleted") && after.contains("No instances yet"), "deleted: {after}");

    press(&client, "Sign out").await;
    assert!(page_text(&client).await.contains("signed out"));
    client.goto(&format!("{base}/instances")).await.unwrap();
    assert!(client.current_url().await.unwrap().path().starts_with("/sign-in"), "signed out for real");
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_consent_or_a_tampered_state_creates_nothing() {
    let (processes, client) = start().await;
    let base = processes.base.clone();
    sign_in(&client, &base).await;

    start_authentication(&client, &base, "Denied CRM").await;
    vendor_login(&client, "deny").await;
    let denied = text_of(&client, "main").await;
    assert!(denied.contains("Access was denied") && denied.contains("no instance was created"), "{denied}");
    shot(&client, "13-consent-denied").await;

    start_authentication(&client, &base, "Tampered CRM").await;
    // The state travels through the vendor's page in a hidden field; alter it there.
    client.execute("document.querySelector('input[name=state]').value += 'x'; return null;", vec![]).await.unwrap();
    vendor_login(&client, "allow").await;
    let tampered = text_of(&client, "main").await;
    assert!(tampered.contains("was not issued by Junction, or was altered"), "{tampered}");
    shot(&client, "14-tampered-state").await;

    client.goto(&format!("{base}/instances")).await.unwrap();
    assert!(page_text(&client).await.contains("No instances yet"), "nothing was created");
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_runs_a_formula_and_reads_its_steps_in_the_browser() {
    let (processes, client) = start().await;
    let base = processes.base.clone();
    sign_in(&client, &base).await;
    start_authentication(&client, &base, "Formula CRM").await;
    vendor_login(&client, "allow").await;
    let replace = client.wait().for_element(Locator::Css("[data-replace-url]")).await.expect("the new instance's page");
    let instance_path = replace.attr("data-replace-url").await.unwrap().expect("the instance's path");
    let element_instance: i64 = instance_path.trim_start_matches("/instances/").parse().unwrap();

    // Formulas are made through the platform API, as the page says.
    let http = reqwest::Client::new();
    let auth = format!("User {USER_SECRET}, Organization {ORG_SECRET}");
    let template = json!({
        "name": "E2E reader",
        "configuration": [{"key": "crm", "type": "elementInstance"}],
        "triggers": [{"type": "manual", "onSuccess": ["read"]}],
        "steps": [{"name": "read", "type": "elementRequest",
                   "properties": {"elementInstanceId": "${config.crm}", "method": "GET", "api": "/contacts",
                                  "query": {"pageSize": "${trigger.args.pageSize}"}}}]
    });
    let api = format!("{base}/elements/api-v2/formulas");
    let answer = http.post(&api).header("authorization", &auth).json(&template).send().await.unwrap();
    let formula: serde_json::Value = answer.error_for_status().unwrap().json().await.unwrap();
    let body = json!({"name": "Nightly read", "configuration": {"crm": element_instance}});
    let path = format!("{api}/{}/instances", formula["id"]);
    http.post(&path).header("authorization", &auth).json(&body).send().await.unwrap().error_for_status().unwrap();

    client.goto(&format!("{base}/formulas")).await.unwrap();
    let list = page_text(&client).await;
    assert!(list.contains("E2E reader") && list.contains("triggers: manual"), "listed: {list}");
    shot(&client, "15-formulas").await;
    press(&client, "Nightly read").await;
    fill(&client, "#run-args", r#"{"pageSize": 2}"#).await;
    press(&client, "Run now").await;
    assert!(text_of(&client, ".notice").await.contains("queued"), "a queued notice");
    shot(&client, "16-formula-instance").await;
    let link = client.find(Locator::Css("section[aria-labelledby=executions] tbody a")).await.unwrap();
    let execution_path = link.attr("href").await.unwrap().expect("a link to the execution");

    // The page reloads itself until the run ends; reload it here too, to read it once ended.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        client.goto(&format!("{base}{execution_path}")).await.unwrap();
        let status = match client.find(Locator::Css(".title-row")).await {
            Ok(row) => row.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if status.contains("success") {
            break;
        }
        assert!(!status.contains("failed"), "the run failed: {}", page_text(&client).await);
        assert!(std::time::Instant::now() < deadline, "the run did not end: {status}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let input = text_of(&client, "#step-0-input").await;
    assert!(input.contains("\"pageSize\": 2"), "the step's input: {input}");
    let output = text_of(&client, "#step-0-output").await;
    assert!(output.contains("\"code\": 200"), "the step's output: {output}");
    shot(&client, "17-formula-execution").await;
    client.close().await.unwrap();
}
