//! Load generator for the platform, in one process with the simulator (limits lifted) and the
//! platform router over SQLite in a temporary directory. Every case is measured side by side in one
//! run so that its ratio is comparable even on a noisy machine:
//!
//! 1. instances created per second through the real flow (consent on the simulator's form, then
//!    `POST /instances` with the CRM seed's body), sequential and with 8 concurrent clients;
//! 2. hub reads, `GET /hubs/crm/contacts?pageSize=50` through Junction against
//!    `GET /crm/rest/v2/contacts?page_size=50` straight to the simulator with the same access token;
//! 3. one record by id, `GET /hubs/crm/contacts/7` against `GET /crm/rest/v2/contacts/7`, 64
//!    concurrent clients, limits lifted on both sides: throughput ratio and added p50/p99, and the
//!    same vendor call through nginx as a plain reverse proxy (the floor of one proxy hop) when
//!    nginx is installed;
//! 4. the same page through a common resource (`myContacts`, nine fields with nested paths and a
//!    converted date) against the built-in object and the simulator straight;
//! 5. refresh storms: N concurrent hub calls on an instance whose access token the simulator's clock
//!    has just expired (exactly one refresh expected) against the same storm on a fresh instance,
//!    for N in {50, 200}, each storm a fresh client's N connections released by one barrier.
//!
//! 6. the SQL driver (vendor mode) against the same work through the hub's HTTP API, on a simulator
//!    holding 20,000 contacts: a selective query, `COUNT(*)` over every contact, and orders joined
//!    with their items; vendor calls (the simulator's count) and wall time of each.
//!
//! 7. bulk exports of 20,000 contacts: records per second against the quota bound at the vendor's
//!    default limits (the simulator keeping them too, so any 429 shows), with an interactive call
//!    every 100 ms while one runs; and with the limits lifted against a plain paging loop straight
//!    to the simulator.
//!
//! Run: `cargo bench -p junction-http --bench platform` (options: `-- --seconds N --clients N
//! --storms N`, the last the rounds of each refresh storm; `--only record` runs case 3 alone,
//! `--only common` case 4, `--only driver` case 6, `--only bulk` case 7).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::instance_config::ServerPolicy;
use domain::Secret;
use keap_sim::{Limits, SimConfig};
use serde_json::{json, Value};
use store::{Keyring, MasterKey, Store, ACCESS_TOKEN_KEY};

/// The allocator the `junction` binary runs with, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIENT_ID: &str = "sandbox-client-id";
const CLIENT_SECRET: &str = "sandbox-client-secret";
const CALLBACK: &str = "https://app.example.com/callback";
const CREATE_CLIENTS: usize = 8;
const STORMS: [usize; 2] = [50, 200];
/// Contacts in the simulator of the driver case.
const DRIVER_CONTACTS: usize = 20_000;
/// Concurrent clients of the one-record case.
const RECORD_CLIENTS: usize = 64;

struct Options {
    /// Only this case (`record`), for profiling; all cases by default.
    only: Option<String>,
    seconds: u64,
    clients: usize,
    storms: usize,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let only = args.iter().position(|a| a == "--only").and_then(|i| args.get(i + 1)).cloned();
    Options {
        only,
        seconds: value("--seconds", 5),
        clients: value("--clients", 16).max(1) as usize,
        storms: value("--storms", 5).max(1) as usize,
    }
}

struct Bench {
    sim: keap_sim::RunningSim,
    base: String,
    store: Arc<dyn Store>,
    organization_id: store::OrganizationId,
    user_secret: Secret,
    org_secret: Secret,
    http: reqwest::Client,
    dir: PathBuf,
}

impl Drop for Bench {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

impl Bench {
    /// The platform on a simulator with the demo data (`contacts` of them: 300 by default), its
    /// vendor rate limits lifted.
    async fn start(contacts: Option<usize>) -> Bench {
        Bench::start_limited(contacts, domain::vendor_limits::VendorLimits::OFF).await
    }

    /// [`Bench::start`] with the platform counting vendor calls against `vendor_limits`.
    async fn start_limited(contacts: Option<usize>, vendor_limits: domain::vendor_limits::VendorLimits) -> Bench {
        Bench::start_full(contacts, vendor_limits, false, None).await
    }

    /// The platform on a simulator of `contacts` contacts, Junction keeping `vendor_limits`, the
    /// simulator its vendor limits too when `sim_limits` (its 429s are then counted), and bulk
    /// runners with background work given `bulk_share` of each limit when set.
    async fn start_full(
        contacts: Option<usize>,
        vendor_limits: domain::vendor_limits::VendorLimits,
        sim_limits: bool,
        bulk_share: Option<f64>,
    ) -> Bench {
        let mut config = SimConfig { limits: Limits::none(), tenant_limits: Limits::none(), ..SimConfig::sandbox() };
        if sim_limits {
            config.limits = Limits::vendor();
        }
        config.accounts[0].demo_contacts = contacts;
        let sim = keap_sim::spawn(config, "127.0.0.1:0").await.expect("simulator");
        let unique = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let dir = std::env::temp_dir().join(format!("junction-bench-{}-{unique}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}", dir.join("junction.db").display());
        let store = store::connect(&url, Keyring::new(MasterKey::generate())).await.expect("store");
        let (organization, org_secret) = store.create_organization("default").await.expect("organization");
        let (_, user_secret) = store.create_user(organization.id, "admin", true).await.expect("user");

        let sim_base = url::Url::parse(&sim.url()).expect("sim url");
        let endpoints = connector::endpoints::VendorEndpoints::simulator(&sim_base).expect("endpoints");
        let policy = ServerPolicy::with_sandbox_host(&sim.addr().to_string());
        // Limits lifted on both sides unless asked: this measures Junction, not the vendor's limits.
        let config = platform::PlatformConfig {
            vendor_limits,
            background_share: bulk_share.unwrap_or(platform::DEFAULT_BACKGROUND_SHARE),
            bulk: platform::bulk::BulkConfig {
                tick: Duration::from_millis(20),
                ..platform::bulk::BulkConfig::default()
            },
            ..platform::PlatformConfig::new(Arc::clone(&store), endpoints, policy, true)
        };
        let platform = platform::Platform::build(config).expect("platform");
        if bulk_share.is_some() {
            tokio::spawn(platform::bulk::runner::run(platform.clone(), std::future::pending()));
        }
        let state = http_api::AppState::new(platform);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, axum::ServiceExt::into_make_service(http_api::app(state))).await;
        });
        Bench {
            sim,
            base: format!("http://{addr}"),
            store,
            organization_id: organization.id,
            user_secret,
            org_secret,
            http: client(),
            dir,
        }
    }

    fn api(&self, path: &str) -> String {
        format!("{}/elements/api-v2{path}", self.base)
    }

    fn platform_auth(&self) -> String {
        format!("User {}, Organization {}", self.user_secret.expose(), self.org_secret.expose())
    }

    fn hub_auth(&self, instance_token: &str) -> String {
        format!("User {}, Element {instance_token}", self.user_secret.expose())
    }

    async fn sim_post(&self, path: &str, body: Value) {
        let answer = self.http.post(format!("{}{path}", self.sim.url())).json(&body).send().await.expect("sim control");
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
    }

    async fn refresh_grants(&self) -> u64 {
        let stats: Value = self
            .http
            .get(format!("{}/__sim/stats", self.sim.url()))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON");
        stats["token_grants"]["refresh_token"].as_u64().expect("a refresh count")
    }

    /// Creates an instance through the real flow; returns its id and token.
    async fn create_instance(&self) -> (i64, String) {
        self.create_instance_of("infusionsoftcrm").await
    }

    /// Creates an instance of `element` through the real flow; returns its id and token.
    async fn create_instance_of(&self, element: &str) -> (i64, String) {
        let instances = self.api("/instances");
        let (_, answer) = create_once(&self.http, &self.sim.url(), &instances, &self.platform_auth(), element)
            .await
            .expect("instance created");
        (answer["id"].as_i64().expect("id"), answer["token"].as_str().expect("token").to_string())
    }

    /// The vendor access token the platform holds for an instance.
    async fn access_token(&self, id: i64) -> String {
        let record = self.store.get_instance(self.organization_id, store::InstanceId::new(id)).await.expect("instance");
        record.secrets.get(ACCESS_TOKEN_KEY).expect("an access token").expose().to_string()
    }
}

/// Consent on the simulator's form, then `POST /instances` with the CRM seed's body (for
/// `element`); returns the latency of the POST alone and the answer.
async fn create_once(
    http: &reqwest::Client,
    sim: &str,
    instances: &str,
    auth: &str,
    element: &str,
) -> Result<(Duration, Value), String> {
    let form = [
        ("client_id", CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("response_type", "code"),
        ("scope", "full"),
        ("state", element),
        ("username", "demo@example.com"),
        ("password", "demo"),
        ("decision", "allow"),
    ];
    let answer = http.post(format!("{sim}/app/oauth/authorize")).form(&form).send().await.map_err(|e| e.to_string())?;
    let location = answer
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| url::Url::parse(value).ok())
        .ok_or_else(|| format!("consent answered {}", answer.status()))?;
    let code = location.query_pairs().find(|(key, _)| key == "code").ok_or("no code")?.1.into_owned();
    let body = json!({
        "element": {"key": element},
        "providerData": {"code": code},
        "configuration": {
            "oauth.callback.url": CALLBACK,
            "oauth.api.key": CLIENT_ID,
            "oauth.api.secret": CLIENT_SECRET,
            "infusionsoft.server": "sandbox.infusionsoft.com",
            "infusionsoft.private.key": "sandbox-encrypted-key"
        },
        "tags": ["Docs"],
        "name": "API Instance"
    });
    let started = Instant::now();
    let answer =
        http.post(instances).header("authorization", auth).json(&body).send().await.map_err(|e| e.to_string())?;
    let status = answer.status();
    let json: Value = answer.json().await.map_err(|e| e.to_string())?;
    let latency = started.elapsed();
    if status != 200 {
        return Err(format!("POST /instances answered {status}: {json}"));
    }
    Ok((latency, json))
}

/// Throughput and latency of one measured case.
struct Run {
    rate: f64,
    ok: usize,
    failed: usize,
    latencies: Vec<Duration>,
}

impl Run {
    fn from(mut latencies: Vec<Duration>, failed: usize, elapsed: Duration) -> Run {
        latencies.sort();
        Run { rate: latencies.len() as f64 / elapsed.as_secs_f64(), ok: latencies.len(), failed, latencies }
    }

    fn p(&self, percentile: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((percentile / 100.0) * self.latencies.len() as f64).ceil() as usize;
        self.latencies[rank.clamp(1, self.latencies.len()) - 1].as_secs_f64() * 1000.0
    }
}

/// `clients` concurrent loops creating instances until the deadline.
async fn create_rate(bench: &Bench, clients: usize, seconds: u64) -> Run {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (sim, instances, auth) = (bench.sim.url(), bench.api("/instances"), bench.platform_auth());
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (sim, instances, auth) = (sim.clone(), instances.clone(), auth.clone());
        tasks.spawn(async move {
            let http = client();
            let (mut latencies, mut failed, mut first_error) = (Vec::new(), 0, None);
            while Instant::now() < deadline {
                match create_once(&http, &sim, &instances, &auth, "infusionsoftcrm").await {
                    Ok((latency, _)) => latencies.push(latency),
                    Err(error) => {
                        failed += 1;
                        first_error.get_or_insert(error);
                    }
                }
            }
            (latencies, failed, first_error)
        });
    }
    collect(tasks, started).await
}

/// `clients` concurrent keep-alive GET loops on `url` with the `authorization` header until the
/// deadline.
async fn read_rate(url: String, authorization: String, clients: usize, seconds: u64) -> Run {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (url, authorization) = (url.clone(), authorization.clone());
        tasks.spawn(async move {
            let http = client();
            let (mut latencies, mut failed, mut first_error) = (Vec::new(), 0, None);
            while Instant::now() < deadline {
                let sent = Instant::now();
                match http.get(&url).header("authorization", &authorization).send().await {
                    Ok(answer) if answer.status().is_success() => {
                        if answer.bytes().await.is_ok() {
                            latencies.push(sent.elapsed());
                        } else {
                            failed += 1;
                        }
                    }
                    Ok(answer) => {
                        failed += 1;
                        first_error.get_or_insert(format!("{url} answered {}", answer.status()));
                    }
                    Err(error) => {
                        failed += 1;
                        first_error.get_or_insert(error.to_string());
                    }
                }
            }
            (latencies, failed, first_error)
        });
    }
    collect(tasks, started).await
}

type TaskResult = (Vec<Duration>, usize, Option<String>);

async fn collect(tasks: tokio::task::JoinSet<TaskResult>, started: Instant) -> Run {
    let mut latencies = Vec::new();
    let mut failed = 0;
    for (mut task_latencies, task_failed, first_error) in tasks.join_all().await {
        latencies.append(&mut task_latencies);
        failed += task_failed;
        if let Some(error) = first_error {
            eprintln!("  first failure: {error}");
        }
    }
    Run::from(latencies, failed, started.elapsed())
}

/// A storm's outcome: every call fired at once from its own task.
struct Storm {
    run: Run,
    wall: Duration,
    refreshes: u64,
}

/// Fires `n` concurrent hub calls at once (released together by a barrier) with one instance token.
async fn storm(bench: &Bench, instance_token: &str, n: usize) -> Storm {
    let url = format!("{}?pageSize=50", bench.api("/hubs/crm/contacts"));
    let authorization = bench.hub_auth(instance_token);
    let http = client();
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let before = bench.refresh_grants().await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let request = http.get(&url).header("authorization", &authorization);
        let barrier = Arc::clone(&barrier);
        tasks.spawn(async move {
            barrier.wait().await;
            let sent = Instant::now();
            let ok = match request.send().await {
                Ok(answer) => answer.status().is_success() && answer.bytes().await.is_ok(),
                Err(_) => false,
            };
            (sent, Instant::now(), ok)
        });
    }
    let results = tasks.join_all().await;
    let first = results.iter().map(|(sent, _, _)| *sent).min().expect("calls");
    let last = results.iter().map(|(_, done, _)| *done).max().expect("calls");
    let latencies: Vec<Duration> =
        results.iter().filter(|(_, _, ok)| *ok).map(|(sent, done, _)| *done - *sent).collect();
    let failed = n - latencies.len();
    let wall = last - first;
    let refreshes = bench.refresh_grants().await - before;
    Storm { run: Run::from(latencies, failed, wall), wall, refreshes }
}

fn main() {
    let opts = options();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        if opts.only.as_deref() == Some("driver") {
            // The driver honours the vendor's limits (25 calls/s at peak) as it must against the
            // real vendor; the platform is given the same ones, so that both do the same work.
            let limits = domain::vendor_limits::VendorLimits::DEFAULT;
            driver_case(&Bench::start_limited(Some(DRIVER_CONTACTS), limits).await).await;
            return;
        }
        if opts.only.as_deref() == Some("bulk") {
            bulk_case().await;
            return;
        }
        let bench = Bench::start(None).await;
        println!(
            "platform benchmark: {} s per timed case, {} read clients, {} cores, load generator in-process",
            opts.seconds,
            opts.clients,
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );

        if opts.only.as_deref() == Some("record") {
            let (id, token) = bench.create_instance().await;
            record_case(&bench, &token, &bench.access_token(id).await, opts.seconds).await;
            return;
        }
        if opts.only.as_deref() == Some("common") {
            let (id, token) = bench.create_instance().await;
            common_case(&bench, &token, &bench.access_token(id).await, opts.clients, opts.seconds).await;
            return;
        }

        // 1. Instances created per second.
        println!();
        println!("| Instances created (consent + POST /instances) | instances/s | POST p50 ms | POST p99 ms | failed |");
        println!("|---|---:|---:|---:|---:|");
        let mut rates = Vec::new();
        for clients in [1, CREATE_CLIENTS] {
            let run = create_rate(&bench, clients, opts.seconds).await;
            let name = if clients == 1 { "sequential (1 client)".to_string() } else { format!("{clients} concurrent clients") };
            println!("| {name} | {:.1} | {:.2} | {:.2} | {} |", run.rate, run.p(50.0), run.p(99.0), run.failed);
            rates.push(run.rate);
        }
        println!("ratio {CREATE_CLIENTS} clients / sequential: {:.2}", rates[1] / rates[0]);

        // 2. Hub reads through Junction against the simulator straight, same access token.
        let (id, token) = bench.create_instance().await;
        let access_token = bench.access_token(id).await;
        let hub = read_rate(
            format!("{}?pageSize=50", bench.api("/hubs/crm/contacts")),
            bench.hub_auth(&token),
            opts.clients,
            opts.seconds,
        )
        .await;
        let direct = read_rate(
            format!("{}/crm/rest/v2/contacts?page_size=50", bench.sim.url()),
            format!("Bearer {access_token}"),
            opts.clients,
            opts.seconds,
        )
        .await;
        println!();
        println!("| Contacts page of 50, {} clients | req/s | p50 ms | p99 ms | failed | ratio |", opts.clients);
        println!("|---|---:|---:|---:|---:|---:|");
        println!(
            "| simulator straight `GET /crm/rest/v2/contacts?page_size=50` | {:.0} | {:.2} | {:.2} | {} | 1.00 |",
            direct.rate,
            direct.p(50.0),
            direct.p(99.0),
            direct.failed
        );
        println!(
            "| through Junction `GET /hubs/crm/contacts?pageSize=50` | {:.0} | {:.2} | {:.2} | {} | {:.2} |",
            hub.rate,
            hub.p(50.0),
            hub.p(99.0),
            hub.failed,
            hub.rate / direct.rate
        );

        // 3. One record by id, 64 concurrent clients.
        record_case(&bench, &token, &access_token, opts.seconds).await;

        // 4. The same page through a common resource.
        common_case(&bench, &token, &access_token, opts.clients, opts.seconds).await;

        // 5. Refresh storms: an instance whose access token just expired against a fresh instance.
        // Each N is stormed `--storms` rounds (order alternating); latencies are pooled over the
        // rounds, the wall time is the median round's.
        println!();
        println!(
            "| Refresh storm ({} rounds each) | calls/storm | ok | refreshes/storm | wall ms (median) | p50 ms | p99 ms | p50 ratio | p99 ratio |",
            opts.storms
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for n in STORMS {
            let (mut expired, mut baseline) = (Vec::new(), Vec::new());
            for round in 0..opts.storms {
                // 24 h and a minute: the stormed instance's access token is expired at the vendor;
                // the baseline instance is created after the jump, so its token is fresh.
                bench.sim_post("/__sim/clock/advance", json!({"seconds": 86_400 + 60})).await;
                let (_, baseline_token) = bench.create_instance().await;
                if round % 2 == 0 {
                    expired.push(storm(&bench, &token, n).await);
                    baseline.push(storm(&bench, &baseline_token, n).await);
                } else {
                    baseline.push(storm(&bench, &baseline_token, n).await);
                    expired.push(storm(&bench, &token, n).await);
                }
            }
            let expired = Pooled::from(expired);
            let baseline = Pooled::from(baseline);
            for (name, s) in [("expired token", &expired), ("baseline, fresh token", &baseline)] {
                println!(
                    "| N={n}, {name} | {n} | {}/{} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} |",
                    s.run.ok,
                    s.run.ok + s.run.failed,
                    s.refreshes,
                    s.wall.as_secs_f64() * 1000.0,
                    s.run.p(50.0),
                    s.run.p(99.0),
                    s.run.p(50.0) / baseline.run.p(50.0),
                    s.run.p(99.0) / baseline.run.p(99.0),
                );
            }
        }

        // 6. The driver against the hub API, on a simulator of its own (20,000 contacts).
        let limits = domain::vendor_limits::VendorLimits::DEFAULT;
        driver_case(&Bench::start_limited(Some(DRIVER_CONTACTS), limits).await).await;

        // 7. Bulk exports of 20,000 contacts.
        bulk_case().await;
    });
}

/// The simulator's count of 429 answers so far.
async fn vendor_throttled(bench: &Bench) -> u64 {
    sim_stats(bench).await["throttled"].as_u64().expect("a 429 count")
}

/// One export of every contact through a bulk job: its wall time (creation to COMPLETED), records
/// and vendor calls, and the latencies of the interactive calls made while it ran (one every
/// 100 ms when `interactive`).
async fn bulk_export(bench: &Bench, token: &str, interactive: bool) -> (Duration, u64, u64, Vec<Duration>) {
    let auth = bench.hub_auth(token);
    let started = Instant::now();
    let created: Value = bench
        .http
        .post(bench.api("/hubs/crm/bulk/query"))
        .query(&[("q", "select * from contacts")])
        .header("authorization", &auth)
        .send()
        .await
        .expect("bulk job")
        .json()
        .await
        .expect("JSON");
    let id = created["id"].as_str().expect("a job id").to_string();
    let mut latencies = Vec::new();
    loop {
        if interactive {
            let call = Instant::now();
            let answer = bench
                .http
                .get(bench.api("/hubs/crm/contacts/7"))
                .header("authorization", &auth)
                .send()
                .await
                .expect("get");
            assert!(answer.status().is_success(), "interactive call: {}", answer.status());
            latencies.push(call.elapsed());
        }
        let status: Value = bench
            .http
            .get(bench.api(&format!("/hubs/crm/bulk/{id}/status")))
            .header("authorization", &auth)
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("JSON");
        match status["status"].as_str() {
            Some("COMPLETED") => {
                let records = status["recordsCount"].as_u64().expect("records");
                return (started.elapsed(), records, status["vendorCalls"].as_u64().expect("calls"), latencies);
            }
            Some("CREATED" | "RUNNING") => {}
            _ => panic!("bulk export ended {status}"),
        }
        tokio::time::sleep(Duration::from_millis(if interactive { 100 } else { 10 })).await;
    }
}

/// Case 7: a bulk export of 20,000 contacts at the vendor's default limits (the simulator keeping
/// them too, so any 429 is counted), with background work given the whole quota and the default
/// half; then with the limits lifted, against a plain paging loop straight to the simulator.
async fn bulk_case() {
    use domain::vendor_limits::VendorLimits;
    println!();
    println!("| Bulk export of {DRIVER_CONTACTS} contacts | records | vendor calls | wall ms | records/s | bound records/s | ratio | vendor 429s | interactive call p50 / max ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for share in [1.0, platform::DEFAULT_BACKGROUND_SHARE] {
        let bench = Bench::start_full(Some(DRIVER_CONTACTS), VendorLimits::DEFAULT, true, Some(share)).await;
        let (_, token) = bench.create_instance().await;
        let throttled = vendor_throttled(&bench).await;
        let (wall, records, calls, mut latencies) = bulk_export(&bench, &token, share < 1.0).await;
        let per_second = records as f64 / wall.as_secs_f64();
        // The quota bound: the calls background work may make per second, each a full vendor page.
        let page = records.div_ceil(calls.max(1)).max(1);
        let bound = 25.0 * share * page as f64;
        latencies.sort();
        let interactive = match (latencies.get(latencies.len() / 2), latencies.last()) {
            (Some(p50), Some(max)) => format!("{:.0} / {:.0}", p50.as_secs_f64() * 1000.0, max.as_secs_f64() * 1000.0),
            _ => "-".into(),
        };
        println!(
            "| default limits (25/s), background share {share} | {records} | {calls} | {:.0} | {per_second:.0} | {bound:.0} | {:.2} | {} | {interactive} |",
            wall.as_secs_f64() * 1000.0,
            per_second / bound,
            vendor_throttled(&bench).await - throttled,
        );
    }

    let bench = Bench::start_full(Some(DRIVER_CONTACTS), VendorLimits::OFF, false, Some(1.0)).await;
    let (id, token) = bench.create_instance().await;
    let access_token = bench.access_token(id).await;
    let mut exports = Vec::new();
    let mut loops = Vec::new();
    for _ in 0..3 {
        let (wall, records, _, _) = bulk_export(&bench, &token, false).await;
        exports.push((wall, records));
        let started = Instant::now();
        let mut read = 0u64;
        let mut page_token: Option<String> = None;
        loop {
            let mut request = bench
                .http
                .get(format!("{}/crm/rest/v2/contacts", bench.sim.url()))
                .bearer_auth(&access_token)
                .query(&[("page_size", "1000")]);
            if let Some(token) = &page_token {
                request = request.query(&[("page_token", token)]);
            }
            let page: Value = request.send().await.expect("vendor page").json().await.expect("JSON");
            let contacts = page["contacts"].as_array().map_or(0, Vec::len);
            read += contacts as u64;
            page_token = page["next_page_token"].as_str().filter(|t| !t.is_empty() && contacts > 0).map(str::to_string);
            if page_token.is_none() {
                break;
            }
        }
        loops.push((started.elapsed(), read));
    }
    exports.sort();
    loops.sort();
    let (export_wall, export_records) = exports[1];
    let (loop_wall, loop_records) = loops[1];
    let export_rate = export_records as f64 / export_wall.as_secs_f64();
    let loop_rate = loop_records as f64 / loop_wall.as_secs_f64();
    println!(
        "| limits lifted: bulk job (median of 3) | {export_records} | - | {:.0} | {export_rate:.0} | - | - | - | - |",
        export_wall.as_secs_f64() * 1000.0
    );
    println!(
        "| limits lifted: paging loop straight to the simulator (median of 3) | {loop_records} | - | {:.0} | {loop_rate:.0} | - | {:.2} (job ÷ loop) | - | - |",
        loop_wall.as_secs_f64() * 1000.0,
        export_rate / loop_rate,
    );
}

/// A page of 50 contacts through a common resource (`myContacts`: nine fields, nested paths, a
/// date shown as `yyyy-MM-dd`) against the same page of the built-in object and the simulator
/// straight, measured one after the other in the same run: what composing the mapping costs.
async fn common_case(bench: &Bench, token: &str, access_token: &str, clients: usize, seconds: u64) {
    let definition = json!({"fields": [
        {"path": "id", "type": "number"}, {"path": "name.first", "type": "string"},
        {"path": "name.last", "type": "string"}, {"path": "email", "type": "string"},
        {"path": "phones[0].number", "type": "string"}, {"path": "address.city", "type": "string"},
        {"path": "address.zip", "type": "string"}, {"path": "born", "type": "date", "mask": "yyyy-MM-dd"},
        {"path": "updated", "type": "date"},
    ]});
    let transformation = json!({"vendorName": "contacts", "fields": [
        {"path": "id", "vendorPath": "Id"}, {"path": "name.first", "vendorPath": "FirstName"},
        {"path": "name.last", "vendorPath": "LastName"}, {"path": "email", "vendorPath": "Email"},
        {"path": "phones[0].number", "vendorPath": "Phone1"}, {"path": "address.city", "vendorPath": "City"},
        {"path": "address.zip", "vendorPath": "PostalCode"}, {"path": "born", "vendorPath": "Birthday"},
        {"path": "updated", "vendorPath": "LastUpdated"},
    ]});
    for (path, body) in [
        ("/organizations/objects/myContacts/definitions", definition),
        ("/organizations/elements/infusionsoftcrm/transformations/myContacts", transformation),
    ] {
        let answer =
            bench.http.put(bench.api(path)).header("authorization", bench.platform_auth()).json(&body).send().await;
        let status = answer.expect("defined").status();
        if status == 404 {
            let answer = bench.http.post(bench.api(path)).header("authorization", bench.platform_auth()).json(&body);
            assert!(answer.send().await.expect("defined").status().is_success(), "{path}");
        }
    }
    let direct = read_rate(
        format!("{}/crm/rest/v2/contacts?page_size=50", bench.sim.url()),
        format!("Bearer {access_token}"),
        clients,
        seconds,
    )
    .await;
    let builtin =
        read_rate(format!("{}?pageSize=50", bench.api("/hubs/crm/contacts")), bench.hub_auth(token), clients, seconds)
            .await;
    let common = read_rate(
        format!("{}?pageSize=50", bench.api("/hubs/crm/myContacts")),
        bench.hub_auth(token),
        clients,
        seconds,
    )
    .await;
    println!();
    println!("| Contacts page of 50 through a common resource, {clients} clients | req/s | p50 ms | p99 ms | failed | ratio |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, run) in [
        ("simulator straight `GET /crm/rest/v2/contacts?page_size=50`", &direct),
        ("built-in object `GET /hubs/crm/contacts?pageSize=50`", &builtin),
        ("common resource `GET /hubs/crm/myContacts?pageSize=50`", &common),
    ] {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} | {:.2} |",
            run.rate,
            run.p(50.0),
            run.p(99.0),
            run.failed,
            run.rate / direct.rate
        );
    }
    println!("ratio common resource / built-in object: {:.2}", common.rate / builtin.rate);
}

/// One record by id, 64 concurrent clients (the hub issue's benchmark): the added cost of one
/// Junction hop (auth, token, limiter, mapping) over the vendor call it makes.
async fn record_case(bench: &Bench, token: &str, access_token: &str, seconds: u64) {
    let direct_url = format!("{}/crm/rest/v2/contacts/7", bench.sim.url());
    let bearer = format!("Bearer {access_token}");
    let direct = read_rate(direct_url, bearer.clone(), RECORD_CLIENTS, seconds).await;
    let hub = read_rate(bench.api("/hubs/crm/contacts/7"), bench.hub_auth(token), RECORD_CLIENTS, seconds).await;
    // The floor one proxy hop costs: Debian's nginx as a plain reverse proxy, when installed.
    let nginx = match Nginx::start(bench.sim.addr()) {
        Some(nginx) => {
            let url = format!("http://{}/crm/rest/v2/contacts/7", nginx.addr);
            Some(read_rate(url, bearer, RECORD_CLIENTS, seconds).await)
        }
        None => None,
    };
    println!();
    println!("| One contact by id, {RECORD_CLIENTS} clients | req/s | p50 ms | p99 ms | failed | ratio | added p50 ms | added p99 ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let row = |name: &str, run: &Run| {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {} | {:.2} | {:+.2} | {:+.2} |",
            run.rate,
            run.p(50.0),
            run.p(99.0),
            run.failed,
            run.rate / direct.rate,
            run.p(50.0) - direct.p(50.0),
            run.p(99.0) - direct.p(99.0)
        )
    };
    row("simulator straight `GET /crm/rest/v2/contacts/7`", &direct);
    row("through Junction `GET /hubs/crm/contacts/7`", &hub);
    match &nginx {
        Some(run) => row("through nginx (plain reverse proxy, keep-alive upstream)", run),
        None => println!("(nginx not installed: `apt-get install nginx-light` adds the proxy-hop floor)"),
    }
}

/// Debian's nginx proxying to the simulator, in a temporary prefix; stopped on drop.
struct Nginx {
    addr: std::net::SocketAddr,
    child: std::process::Child,
    dir: PathBuf,
}

impl Nginx {
    fn start(upstream: std::net::SocketAddr) -> Option<Nginx> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().ok()?;
        let dir = std::env::temp_dir().join(format!("junction-bench-nginx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let conf = format!(
            "worker_processes auto; daemon off; pid {dir}/nginx.pid; error_log {dir}/error.log;\n\
             events {{ worker_connections 4096; }}\n\
             http {{ access_log off; upstream sim {{ server {upstream}; keepalive 128; }}\n\
             server {{ listen {addr}; location / {{ proxy_pass http://sim; proxy_http_version 1.1;\n\
             proxy_set_header Connection \"\"; }} }} }}\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), conf).ok()?;
        let child = std::process::Command::new("nginx")
            .args(["-p", &dir.display().to_string(), "-c", &dir.join("nginx.conf").display().to_string()])
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let nginx = Nginx { addr, child, dir };
        for _ in 0..50 {
            if std::net::TcpStream::connect(addr).is_ok() {
                return Some(nginx);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM lets the master stop its workers (SIGKILL would orphan them).
        let _ = std::process::Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Several storms of one kind, latencies pooled.
struct Pooled {
    run: Run,
    wall: Duration,
    /// The refreshes of each storm: "1" when every storm refreshed once, else the list.
    refreshes: String,
}

impl Pooled {
    fn from(storms: Vec<Storm>) -> Pooled {
        let counts: Vec<u64> = storms.iter().map(|s| s.refreshes).collect();
        let refreshes =
            if counts.windows(2).all(|w| w[0] == w[1]) { counts[0].to_string() } else { format!("{counts:?}") };
        let mut walls: Vec<Duration> = storms.iter().map(|s| s.wall).collect();
        walls.sort();
        let wall = walls[walls.len() / 2];
        let total: Duration = walls.iter().sum();
        let failed = storms.iter().map(|s| s.run.failed).sum();
        let latencies = storms.into_iter().flat_map(|s| s.run.latencies).collect();
        Pooled { run: Run::from(latencies, failed, total), wall, refreshes }
    }
}

/// The simulator's count of REST calls so far.
async fn vendor_calls(bench: &Bench) -> u64 {
    sim_stats(bench).await["api_calls"].as_u64().expect("a call count")
}

/// The simulator's `/__sim/stats`.
async fn sim_stats(bench: &Bench) -> Value {
    let answer = bench.http.get(format!("{}/__sim/stats", bench.sim.url())).send().await.expect("stats");
    answer.json().await.expect("JSON")
}

/// A hub list through Junction, every page; returns the records.
async fn hub_pages(bench: &Bench, token: &str, path: &str, query: &[(&str, &str)]) -> Vec<Value> {
    let mut records = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut request = bench.http.get(bench.api(path)).header("authorization", bench.hub_auth(token)).query(query);
        if let Some(cursor) = &next {
            request = request.query(&[("nextPage", cursor)]);
        }
        let answer = request.send().await.expect("hub list");
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        next = answer.headers().get("elements-next-page-token").and_then(|v| v.to_str().ok()).map(str::to_string);
        let page: Vec<Value> = answer.json().await.expect("a JSON page");
        records.extend(page);
        if next.is_none() {
            return records;
        }
    }
}

/// The driver against the hub's HTTP API (case 6): the same three pieces of work, each measured in vendor
/// calls and wall time, one after the other in one run.
async fn driver_case(bench: &Bench) {
    let (crm_id, crm) = bench.create_instance().await;
    let (_, erp) = bench.create_instance_of("infusionsofterp").await;
    let access_token = bench.access_token(crm_id).await;
    let connection_string =
        format!("AuthScheme=OAuth;InitiateOAuth=OFF;OAuthAccessToken={access_token};VendorURL={}", bench.sim.url());
    let driver = tokio::task::spawn_blocking(move || sql::Connection::open(&connection_string).expect("driver"));
    let connection = std::sync::Arc::new(std::sync::Mutex::new(driver.await.expect("opened")));
    let email = hub_pages(bench, &crm, "/hubs/crm/contacts", &[("where", "Id = 12345")]).await[0]["Email"]
        .as_str()
        .expect("an email")
        .to_string();
    let selective_where = format!("Email = '{email}'");

    println!();
    println!("Both at the vendor's default rate limits (25 calls/s, 1,500/min); the simulator's lifted.");
    println!("| Driver vs hub HTTP API ({DRIVER_CONTACTS} contacts) | driver: vendor calls | driver ms | hub API: vendor calls | hub API ms | rows |");
    println!("|---|---:|---:|---:|---:|---:|");
    let cases = [
        ("selective: contacts by email", format!("SELECT * FROM Contacts WHERE {selective_where}")),
        ("COUNT(*) over every contact", "SELECT count(*) FROM Contacts".to_string()),
        (
            "orders joined with their items",
            "SELECT o.Id, i.ItemName, i.Qty FROM Orders o JOIN OrderItems i ON i.OrderId = o.Id".to_string(),
        ),
    ];
    for (index, (name, statement)) in cases.into_iter().enumerate() {
        let before = vendor_calls(bench).await;
        let started = Instant::now();
        let shared = connection.clone();
        let rows = tokio::task::spawn_blocking(move || {
            let connection = shared.lock().expect("connection");
            connection.query(&statement).expect("query").rows
        })
        .await
        .expect("driver query");
        let driver_ms = started.elapsed().as_secs_f64() * 1000.0;
        let driver_calls = vendor_calls(bench).await - before;

        let before = vendor_calls(bench).await;
        let started = Instant::now();
        let hub_rows = match index {
            0 => hub_pages(bench, &crm, "/hubs/crm/contacts", &[("where", &selective_where), ("pageSize", "500")])
                .await
                .len(),
            1 => {
                let answer = bench
                    .http
                    .get(bench.api("/hubs/crm/contacts"))
                    .header("authorization", bench.hub_auth(&crm))
                    .query(&[("returnCount", "true"), ("pageSize", "1")])
                    .send()
                    .await
                    .expect("count");
                let total =
                    answer.headers().get("elements-total-count").and_then(|v| v.to_str().ok()).map(str::to_string);
                total.and_then(|t| t.parse().ok()).unwrap_or(0)
            }
            _ => {
                let orders = hub_pages(bench, &erp, "/hubs/erp/orders", &[("pageSize", "1000")]).await;
                let mut items = 0;
                for order in &orders {
                    let path = format!("/hubs/erp/orders/{}/items", order["Id"]);
                    items += hub_pages(bench, &erp, &path, &[("pageSize", "1000")]).await.len();
                }
                items
            }
        };
        let hub_ms = started.elapsed().as_secs_f64() * 1000.0;
        let hub_calls = vendor_calls(bench).await - before;
        let driver_rows = if index == 1 {
            match rows.first().and_then(|row| row.first()) {
                Some(sql::Cell::Integer(count)) => *count as usize,
                _ => 0,
            }
        } else {
            rows.len()
        };
        assert_eq!(driver_rows, hub_rows, "{name}: the driver and the hub API agree");
        println!("| {name} | {driver_calls} | {driver_ms:.0} | {hub_calls} | {hub_ms:.0} | {driver_rows} |");
    }
}
