//! The events benchmark (issue 12): how many instances one node polls per minute and the CPU that
//! costs, and how long a vendor change takes to reach the user's callback, polled or by webhook.
//!
//! One process holds three parts, each on threads of its own, so that their CPU time can be told
//! apart (per-thread `utime + stime` from `/proc/self/task/*/stat`):
//! - the simulator (limits lifted), on a Tokio runtime whose threads are named `bench-sim`; it also
//!   serves the loopback callback receiver (the user's application);
//! - Junction: `Platform::build` over a store and its event workers
//!   (`platform::events::workers::run`), on a runtime named `bench-junction`, plus, on SQLite, the
//!   store's connection threads (`sqlx-sqlite-worker-*`);
//! - the harness: the main thread, which sets up, waits and counts.
//!
//! Junction's CPU is the process's total less the simulator's threads and the main thread (the
//! process total keeps the time of threads that have exited, such as idle blocking threads). On
//! PostgreSQL the database works in other processes: the CPU of the backends connected to the
//! bench's database is read from `/proc/<pid>/stat` and shown apart.
//!
//! 1. **Polls.** N instances are inserted through the store (one token pair from the simulator's
//!    consent form and `/token`, shared by all), events on with `event.poller.configuration`
//!    `{"contacts": {}}`. The event workers run the first (baseline) polls of a sample, which read
//!    the demo account's 300 contacts each; the other instances get a copy of that state in SQL
//!    (every instance reads the same account). Then, per round, every poller is made due at once (raw SQL:
//!    `next_poll_at` in the past, `last_poll_at` cleared), the workers are started and the round
//!    ends when every poller has a committed `last_poll_at`. A regular poll reads the contacts
//!    changed since the watermark less the one-minute overlap: one vendor call that finds the
//!    newest contact again, a duplicate, so no notification is recorded.
//! 2. **Latency.** On a SQLite store of its own, one instance per case with a callback on loopback:
//!    a contact created through the simulator's own REST API, then either
//!    `platform::events::poll_now` (the "poll now" path) or the vendor's REST hook (posted at once:
//!    the simulator's hook delay is 0 s) received as the HTTP layer does and processed by the
//!    workers' hook loop; then the running workers' delivery loop posts the notification. Measured
//!    from just before the vendor write to the callback's receipt, per workers' `tick`.
//!
//! Run: `cargo bench -p junction-platform --bench events` (options after `--`: `--instances N`, or
//! `EVENTS_BENCH_INSTANCES=N`, default 2000; `--rounds N` of regular polls, default 3; `--changes
//! N` per tick in the latency case, default 50; `--postgres URL`, the admin URL the bench's own
//! database is created through and dropped, default `postgres://postgres@127.0.0.1:5432/test`;
//! `--no-postgres`; `--only polls|latency`; `--vendor-delay-ms N`, every vendor call of the regular
//! rounds answered N ms later, for a vendor slower than the simulator).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use connector::endpoints::VendorEndpoints;
use domain::instance_config::ServerPolicy;
use domain::vendor_limits::VendorLimits;
use domain::Secret;
use keap_sim::{Limits, SimConfig};
use platform::events::{hooks, workers, EventsConfig, PollMode};
use platform::{Platform, PlatformConfig};
use serde_json::{json, Value};
use store::{Keyring, MasterKey, NewInstance, SecretMap, Store, ACCESS_TOKEN_KEY, REFRESH_TOKEN_KEY};
use tokio::sync::{mpsc, oneshot};

/// The allocator the `junction` binary runs with, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CLIENT_ID: &str = "sandbox-client-id";
const CLIENT_SECRET: &str = "sandbox-client-secret";
const REDIRECT: &str = "https://app.example.com/callback";
const SIGNATURE_KEY: &str = "bench-signing-key";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Instances whose baseline (first) poll runs through the workers; the others copy its result.
const BASELINE_SAMPLE: usize = 200;
/// The polls case records no notification; its instances still need a callback URL.
const UNUSED_CALLBACK: &str = "http://127.0.0.1:9/never-called";
/// The issue's goal: this many instances polled a minute...
const GOAL_PER_MINUTE: f64 = 10_000.0;
/// ...at most this share of one core.
const GOAL_CORE_SHARE: f64 = 0.25;
/// `/proc`'s clock ticks per second (`getconf CLK_TCK`; 100 on every Linux this runs on).
const TICKS_PER_SECOND: f64 = 100.0;
/// Thread-name prefixes: the simulator's runtime and Junction's.
const SIM_THREADS: &str = "bench-sim";
const JUNCTION_THREADS: &str = "bench-junction";

struct Options {
    instances: usize,
    rounds: usize,
    changes: usize,
    postgres: Option<String>,
    only: Option<String>,
    /// A delay the simulator adds to every vendor REST call in the regular rounds (0: none).
    vendor_delay_ms: u64,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let number = |name: &str, default: usize| value(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let instances = std::env::var("EVENTS_BENCH_INSTANCES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let postgres = if args.iter().any(|a| a == "--no-postgres") {
        None
    } else {
        Some(value("--postgres").unwrap_or_else(|| DEFAULT_POSTGRES.to_string()))
    };
    Options {
        instances: number("--instances", instances).max(1),
        rounds: number("--rounds", 3).max(1),
        changes: number("--changes", 50).max(1),
        postgres,
        only: value("--only"),
        vendor_delay_ms: value("--vendor-delay-ms").and_then(|v| v.parse().ok()).unwrap_or(0),
    }
}

fn main() {
    let opts = options();
    let sim_runtime = runtime(SIM_THREADS);
    let junction_runtime = runtime(JUNCTION_THREADS);
    // Limits lifted; hooks posted at once (the vendor waits 30-60 s), so that the webhook latency
    // measured is Junction's.
    let config = SimConfig {
        limits: Limits::none(),
        tenant_limits: Limits::none(),
        hook_delivery_delay_secs: 0,
        ..SimConfig::sandbox()
    };
    let sim = sim_runtime.block_on(keap_sim::spawn(config, "127.0.0.1:0")).expect("simulator");
    let sim_handle = sim_runtime.handle().clone();
    junction_runtime.block_on(async {
        let args: Vec<String> = std::env::args().skip(1).filter(|arg| arg != "--bench").collect();
        println!("command: cargo bench -p junction-platform --bench events -- {}", args.join(" "));
        println!(
            "events benchmark: {} instances, {} rounds, {} changes per tick, {} cores, simulator and harness in-process",
            opts.instances,
            opts.rounds,
            opts.changes,
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        let vendor = Vendor::new(&sim).await;
        if opts.only.as_deref().is_none_or(|only| only == "polls") {
            polls_case(&opts, &sim, &vendor).await;
        }
        if opts.only.as_deref().is_none_or(|only| only == "latency") {
            latency_case(&opts, &sim, &vendor, &sim_handle).await;
        }
    });
    drop(sim);
}

fn runtime(name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().thread_name(name).enable_all().build().expect("runtime")
}

// ----- CPU accounting -----

/// CPU seconds (user + system) used so far by the process and by its threads of each role.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    process: f64,
    sim: f64,
    harness: f64,
}

impl Cpu {
    fn now() -> Cpu {
        let pid = std::process::id().to_string();
        let process = read_ticks("/proc/self/stat").unwrap_or(0);
        let (mut sim, mut harness) = (0, 0);
        for entry in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
            let dir = entry.path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            let ticks = read_ticks(&dir.join("stat").display().to_string()).unwrap_or(0);
            if entry.file_name().to_str() == Some(pid.as_str()) {
                harness += ticks;
            } else if comm.starts_with(SIM_THREADS) {
                sim += ticks;
            }
        }
        let seconds = |ticks: u64| ticks as f64 / TICKS_PER_SECOND;
        Cpu { process: seconds(process), sim: seconds(sim), harness: seconds(harness) }
    }

    /// Junction's share: the process less the simulator and the harness.
    fn junction(&self) -> f64 {
        self.process - self.sim - self.harness
    }

    fn since(&self, before: &Cpu) -> Cpu {
        Cpu {
            process: self.process - before.process,
            sim: self.sim - before.sim,
            harness: self.harness - before.harness,
        }
    }
}

/// `utime + stime` of a `/proc` stat file, in clock ticks.
fn read_ticks(path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name is in parentheses and may hold spaces: count fields after its end.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

// ----- the vendor: the simulator's own API -----

/// The simulator's demo account as another application sees it: one token pair from the consent
/// form and `/token`.
struct Vendor {
    base: String,
    http: reqwest::Client,
    access: String,
    refresh: String,
}

impl Vendor {
    async fn new(sim: &keap_sim::RunningSim) -> Vendor {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        let form = [
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("username", "demo@example.com"),
            ("password", "demo"),
            ("decision", "allow"),
        ];
        let consent =
            http.post(format!("{}/app/oauth/authorize", sim.url())).form(&form).send().await.expect("consent");
        let location = consent.headers()["location"].to_str().expect("location").to_string();
        let code = url::Url::parse(&location)
            .expect("url")
            .query_pairs()
            .find(|(k, _)| k == "code")
            .expect("code")
            .1
            .into_owned();
        let grant = [
            ("grant_type", "authorization_code"),
            ("code", &*code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ];
        let token: Value = http
            .post(format!("{}/token", sim.url()))
            .form(&grant)
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token JSON");
        let text = |key: &str| token[key].as_str().expect("a token").to_string();
        Vendor { base: sim.url(), http, access: text("access_token"), refresh: text("refresh_token") }
    }

    /// Creates a contact; returns its id.
    async fn create_contact(&self, name: &str) -> String {
        let body = json!({"given_name": name, "email_addresses": [{"email": format!("{name}@example.com"), "field": "EMAIL1"}]});
        let answer = self
            .http
            .post(format!("{}/crm/rest/v2/contacts", self.base))
            .bearer_auth(&self.access)
            .json(&body)
            .send()
            .await
            .expect("create contact");
        let contact: Value = answer.json().await.expect("contact JSON");
        contact["id"].as_str().map_or_else(|| contact["id"].to_string(), str::to_string)
    }

    /// Every vendor REST call answers `ms` later (a vendor slower than the simulator).
    async fn slow_down(&self, ms: u64) {
        let fault = json!({"path_prefix": "/crm/rest", "delay_ms": ms, "probability": 1.0});
        let answer = self.http.post(format!("{}/__sim/faults", self.base)).json(&fault).send().await.expect("fault");
        assert!(answer.status().is_success(), "fault: {}", answer.status());
    }

    async fn clear_faults(&self) {
        let answer = self.http.delete(format!("{}/__sim/faults", self.base)).send().await.expect("faults cleared");
        assert!(answer.status().is_success(), "faults cleared: {}", answer.status());
    }

    /// Every vendor call the simulator has served.
    async fn calls(&self) -> u64 {
        let stats: Value = self
            .http
            .get(format!("{}/__sim/stats", self.base))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("stats JSON");
        stats["calls_by_route"].as_object().map_or(0, |routes| routes.values().filter_map(Value::as_u64).sum())
    }
}

// ----- the store, the platform, the instances -----

/// The raw SQL the harness needs, on the store's own pool.
#[derive(Clone)]
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    /// Every poller due now, as if its interval had passed, with no poll committed yet.
    async fn make_all_due(&self) {
        let sql = "UPDATE event_pollers SET next_poll_at = '2000-01-01T00:00:00.000+00:00', last_poll_at = NULL";
        match self {
            Raw::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(drop),
            Raw::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(drop),
        }
        .expect("pollers made due");
    }

    /// Gives every poller without a committed poll the state `source`'s baseline poll left: its
    /// watermark, the ids it saw, its poll times. Every instance reads the same vendor account, so
    /// this is the state their own baselines would commit, without reading 300 contacts 2,000 times.
    async fn copy_baseline(&self, source: store::InstanceId) {
        let statements = [
            "INSERT INTO event_watermarks (instance_id, object, watermark, reconciled_at) \
             SELECT p.instance_id, w.object, w.watermark, w.reconciled_at FROM event_pollers p, event_watermarks w \
             WHERE w.instance_id = $1 AND p.last_poll_at IS NULL",
            "INSERT INTO event_known_ids (instance_id, object, object_id, last_change) \
             SELECT p.instance_id, k.object, k.object_id, k.last_change FROM event_pollers p, event_known_ids k \
             WHERE k.instance_id = $1 AND p.last_poll_at IS NULL",
            "UPDATE event_pollers SET \
             next_poll_at = (SELECT s.next_poll_at FROM event_pollers s WHERE s.instance_id = $1), \
             last_poll_at = (SELECT s.last_poll_at FROM event_pollers s WHERE s.instance_id = $1) \
             WHERE last_poll_at IS NULL",
        ];
        for sql in statements {
            match self {
                Raw::Sqlite(pool) => sqlx::query(sql).bind(source.get()).execute(pool).await.map(drop),
                Raw::Postgres(pool) => sqlx::query(sql).bind(source.get()).execute(pool).await.map(drop),
            }
            .expect("baseline copied");
        }
    }

    /// Pollers with a committed poll since [`Raw::make_all_due`].
    async fn polled(&self) -> usize {
        let sql = "SELECT COUNT(*) FROM event_pollers WHERE last_poll_at IS NOT NULL";
        let count: i64 = match self {
            Raw::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            Raw::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .expect("polled count");
        usize::try_from(count).unwrap_or(0)
    }

    /// CPU seconds so far of the PostgreSQL backends connected to the bench's database, by pid
    /// (`None` on SQLite, whose work is in this process).
    async fn database_cpu(&self) -> Option<HashMap<i32, f64>> {
        let Raw::Postgres(pool) = self else { return None };
        let pids: Vec<i32> = sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            .fetch_all(pool)
            .await
            .ok()?;
        let cpu = pids
            .into_iter()
            .filter_map(|pid| Some((pid, read_ticks(&format!("/proc/{pid}/stat"))? as f64 / TICKS_PER_SECOND)))
            .collect::<HashMap<_, _>>();
        (!cpu.is_empty()).then_some(cpu)
    }
}

/// The CPU the backends used between two [`Raw::database_cpu`] readings (a backend started since
/// counts whole).
fn database_delta(before: &Option<HashMap<i32, f64>>, after: &Option<HashMap<i32, f64>>) -> Option<f64> {
    let (before, after) = (before.as_ref()?, after.as_ref()?);
    Some(after.iter().map(|(pid, cpu)| cpu - before.get(pid).copied().unwrap_or(0.0)).sum())
}

/// A store of the bench's own: SQLite in a temporary directory, or a PostgreSQL database created
/// for the run and dropped (`WITH (FORCE)`) when this is dropped.
struct BenchStore {
    store: Arc<dyn Store>,
    raw: Raw,
    organization_id: store::OrganizationId,
    cleanup: Cleanup,
}

enum Cleanup {
    Directory(PathBuf),
    Database { admin_url: String, name: String },
}

impl Drop for BenchStore {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => {
                let (admin_url, database) = (admin_url.clone(), name.clone());
                // Drop may run inside the runtime: a runtime of its own on another thread.
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                    runtime.block_on(async move {
                        use sqlx::Connection;
                        let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
                            .execute(&mut admin)
                            .await?;
                        admin.close().await
                    })
                })
                .join();
                if !matches!(dropped, Ok(Ok(()))) {
                    eprintln!("could not drop the bench database {name}: {dropped:?}");
                }
            }
        }
    }
}

fn unique() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
}

impl BenchStore {
    async fn sqlite() -> BenchStore {
        let dir = std::env::temp_dir().join(format!("junction-bench-events-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let url = format!("sqlite://{}", dir.join("junction.db").display());
        let store = store::SqliteStore::connect(&url, Keyring::new(MasterKey::generate())).await.expect("SQLite store");
        let raw = Raw::Sqlite(store.pool().clone());
        BenchStore::with(Arc::new(store), raw, Cleanup::Directory(dir)).await
    }

    /// `None` when the server cannot be reached (the case is then skipped).
    async fn postgres(admin_url: &str) -> Option<BenchStore> {
        use sqlx::Connection;
        let mut admin = match sqlx::PgConnection::connect(admin_url).await {
            Ok(admin) => admin,
            Err(error) => {
                println!("(PostgreSQL at {admin_url} not reachable, its case skipped: {error})");
                return None;
            }
        };
        let name = format!("junction_bench_events_{}", std::process::id());
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create database");
        admin.close().await.expect("close");
        let server = admin_url.rsplit_once('/').map(|(server, _)| server.to_string()).expect("a database URL");
        let cleanup = Cleanup::Database { admin_url: admin_url.to_string(), name: name.clone() };
        let store = store::PostgresStore::connect(&format!("{server}/{name}"), Keyring::new(MasterKey::generate()))
            .await
            .expect("PostgreSQL store");
        let raw = Raw::Postgres(store.pool().clone());
        Some(BenchStore::with(Arc::new(store), raw, cleanup).await)
    }

    async fn with(store: Arc<dyn Store>, raw: Raw, cleanup: Cleanup) -> BenchStore {
        let (organization, _) = store.create_organization("bench").await.expect("organization");
        BenchStore { store, raw, organization_id: organization.id, cleanup }
    }

    /// An instance of the demo account with the vendor's token pair, events on for contacts,
    /// `vendor_type` `polling` or `webhook`.
    async fn insert_instance(
        &self,
        vendor: &Vendor,
        n: usize,
        callback_url: &str,
        vendor_type: &str,
    ) -> store::InstanceRecord {
        let configuration: BTreeMap<String, String> = [
            ("oauth.api.key", CLIENT_ID),
            ("oauth.callback.url", REDIRECT),
            ("infusionsoft.server", "sandbox.infusionsoft.com"),
            ("event.notification.enabled", "true"),
            ("event.notification.callback.url", callback_url),
            ("event.poller.configuration", r#"{"contacts": {}}"#),
            ("event.vendor.type", vendor_type),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
        let secrets: SecretMap = [
            ("oauth.api.secret", CLIENT_SECRET),
            ("infusionsoft.private.key", "sandbox-encrypted-key"),
            ("event.notification.signature.key", SIGNATURE_KEY),
            (ACCESS_TOKEN_KEY, vendor.access.as_str()),
            (REFRESH_TOKEN_KEY, vendor.refresh.as_str()),
        ]
        .into_iter()
        .map(|(key, value)| (key, Secret::new(value)))
        .collect();
        self.store
            .insert_instance(NewInstance {
                organization_id: self.organization_id,
                element_key: "infusionsoftcrm".into(),
                name: format!("bench {n}"),
                tags: Vec::new(),
                configuration,
                secrets,
                // The token the simulator issued lasts 24 h; no refresh is wanted during the run.
                access_expires_at: Some(Utc::now() + chrono::TimeDelta::days(30)),
                vendor_account: None,
            })
            .await
            .expect("instance")
    }
}

/// The platform over `store` pointed at the simulator, vendor limits off on Junction's side.
fn build_platform(store: &BenchStore, sim: &keap_sim::RunningSim, events: EventsConfig) -> Platform {
    let endpoints = VendorEndpoints::simulator(&url::Url::parse(&sim.url()).expect("sim url")).expect("endpoints");
    let policy = ServerPolicy::with_sandbox_host(&sim.addr().to_string());
    let config = PlatformConfig {
        vendor_limits: VendorLimits::OFF,
        events,
        ..PlatformConfig::new(Arc::clone(&store.store), endpoints, policy, true)
    };
    Platform::build(config).expect("platform")
}

/// The event workers running on `platform` until the handle is stopped.
struct Workers {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Workers {
    fn start(platform: &Platform) -> Workers {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(workers::run(platform.clone(), async move {
            let _ = stopped.await;
        }));
        Workers { stop: Some(stop), task }
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

// ----- 1. polls per minute and their CPU -----

/// One timed run of the workers until every poller has committed a poll.
struct PollRun {
    polls: usize,
    wall: Duration,
    cpu: Cpu,
    database: Option<f64>,
    vendor_calls: u64,
}

impl PollRun {
    fn per_minute(&self) -> f64 {
        self.polls as f64 / self.wall.as_secs_f64() * 60.0
    }

    /// CPU seconds per 1,000 polls.
    fn per_thousand(cpu: f64, polls: usize) -> f64 {
        cpu / polls as f64 * 1000.0
    }

    /// The share of one core `cpu` would take at the goal's 10,000 polls a minute.
    fn core_share(cpu: f64, polls: usize) -> f64 {
        cpu / polls as f64 * GOAL_PER_MINUTE / 60.0
    }
}

/// Starts the workers and waits until all `n` pollers have a committed poll (the pollers must have
/// been made due, `last_poll_at` cleared, before).
async fn timed_run(platform: &Platform, store: &BenchStore, vendor: &Vendor, n: usize) -> PollRun {
    let calls_before = vendor.calls().await;
    let db_before = store.raw.database_cpu().await;
    let cpu_before = Cpu::now();
    let started = Instant::now();
    let workers = Workers::start(platform);
    let mut last_progress = (0, Instant::now());
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let polled = store.raw.polled().await;
        if polled >= n {
            break;
        }
        if polled > last_progress.0 {
            last_progress = (polled, Instant::now());
        }
        assert!(last_progress.1.elapsed() < Duration::from_secs(60), "no poll committed for a minute: {polled}/{n}");
    }
    let wall = started.elapsed();
    let cpu = Cpu::now().since(&cpu_before);
    let db_after = store.raw.database_cpu().await;
    workers.stop().await;
    let vendor_calls = vendor.calls().await - calls_before;
    PollRun { polls: n, wall, cpu, database: database_delta(&db_before, &db_after), vendor_calls }
}

async fn polls_case(opts: &Options, sim: &keap_sim::RunningSim, vendor: &Vendor) {
    println!();
    println!("## Polls: {} instances, each a contacts poller, workers' concurrency 16 (the default)", opts.instances);
    println!();
    println!(
        "| Store, round | polls | wall s | polls/min | vendor calls | Junction CPU s | per 1,000 polls | core share at 10k/min | simulator CPU s | database CPU s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut stores = vec![("SQLite", Some(BenchStore::sqlite().await))];
    if let Some(url) = &opts.postgres {
        stores.push(("PostgreSQL", BenchStore::postgres(url).await));
    }
    let mut verdicts = Vec::new();
    for (name, store) in stores {
        let Some(store) = store else { continue };
        let platform = build_platform(&store, sim, EventsConfig::default());
        // The first polls are the baselines: every contact read and remembered, nothing reported.
        // A sample runs through the workers; the other instances get a copy of its state.
        let sample = opts.instances.min(BASELINE_SAMPLE);
        let mut first = None;
        for n in 0..sample {
            let id = store.insert_instance(vendor, n, UNUSED_CALLBACK, "polling").await.id;
            first.get_or_insert(id);
        }
        let baseline = timed_run(&platform, &store, vendor, sample).await;
        row(&format!("{name}, first (baseline) polls, 300 contacts each"), &baseline);
        let started = Instant::now();
        for n in sample..opts.instances {
            store.insert_instance(vendor, n, UNUSED_CALLBACK, "polling").await;
        }
        store.raw.copy_baseline(first.expect("an instance")).await;
        assert_eq!(store.raw.polled().await, opts.instances, "every poller past its baseline");
        eprintln!(
            "{name}: {} more instances inserted, baselines copied, in {:.1} s",
            opts.instances - sample,
            started.elapsed().as_secs_f64()
        );
        if opts.vendor_delay_ms > 0 {
            vendor.slow_down(opts.vendor_delay_ms).await;
        }
        let (mut shares, mut with_database, mut rates) = (Vec::new(), Vec::new(), Vec::new());
        for round in 1..=opts.rounds {
            store.raw.make_all_due().await;
            let run = timed_run(&platform, &store, vendor, opts.instances).await;
            let delay = match opts.vendor_delay_ms {
                0 => String::new(),
                ms => format!(", vendor +{ms} ms"),
            };
            row(&format!("{name}, regular polls{delay}, round {round}"), &run);
            shares.push(PollRun::core_share(run.cpu.junction(), run.polls));
            with_database.push(PollRun::core_share(run.cpu.junction() + run.database.unwrap_or(0.0), run.polls));
            rates.push(run.per_minute());
        }
        vendor.clear_faults().await;
        // What one regular poll reads: the contacts changed in the overlap before the watermark.
        let instance = store.store.instance_by_id(first.expect("an instance")).await.expect("instance");
        let report = platform::events::poll_now(&platform, &instance, PollMode::Regular).await.expect("poll now");
        let read: usize = report.objects.iter().map(|(_, records, _)| records).sum();
        let (share, rate) = (median(&mut shares), median(&mut rates));
        let database = match store.raw {
            Raw::Postgres(_) => {
                format!(", {:.0}% with the PostgreSQL backends' CPU", median(&mut with_database) * 100.0)
            }
            Raw::Sqlite(_) => String::new(),
        };
        verdicts.push(format!(
            "{name}: median {rate:.0} polls/min on one node; at 10,000 polls/min Junction would use {:.0}% of one \
             core{database} (goal ≤ {:.0}%): {}. A regular poll read {read} record(s) and recorded {} notifications.",
            share * 100.0,
            GOAL_CORE_SHARE * 100.0,
            if share <= GOAL_CORE_SHARE && rate >= GOAL_PER_MINUTE { "met" } else { "NOT met" },
            report.events.len(),
        ));
    }
    println!();
    for verdict in verdicts {
        println!("{verdict}");
    }
}

fn row(name: &str, run: &PollRun) {
    let junction = run.cpu.junction();
    println!(
        "| {name} | {} | {:.2} | {:.0} | {} | {:.2} | {:.3} | {:.1}% | {:.2} | {} |",
        run.polls,
        run.wall.as_secs_f64(),
        run.per_minute(),
        run.vendor_calls,
        junction,
        PollRun::per_thousand(junction, run.polls),
        PollRun::core_share(junction, run.polls) * 100.0,
        run.cpu.sim,
        run.database.map_or_else(|| "in Junction's".to_string(), |cpu| format!("{cpu:.2}")),
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

// ----- 2. latency from a vendor change to the callback -----

/// What the loopback callback received: each notified `(instance id, object id)`, with the time it
/// arrived.
type Arrivals = mpsc::UnboundedSender<(i64, String, Instant)>;

/// The user's application: takes every notification and reports what it carried.
async fn receive(State(arrivals): State<Arrivals>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let Ok(message) = serde_json::from_slice::<Value>(&body) else { return StatusCode::BAD_REQUEST };
    let instance = message["message"]["instanceId"].as_i64().unwrap_or_default();
    for event in message["message"]["events"].as_array().into_iter().flatten() {
        let id = event["objectId"].as_str().map_or_else(|| event["objectId"].to_string(), str::to_string);
        let _ = arrivals.send((instance, id, at));
    }
    StatusCode::OK
}

/// The vendor's hook calls, received as `crates/http/src/event_hooks.rs` does (the HTTP crate
/// depends on this one, so the bench cannot mount its router): the path names the instance, a
/// call with `X-Hook-Secret` is the verification handshake, any other is stored as a durable job
/// by `hooks::enqueue` and answered at once.
async fn hook_receiver(
    State(platform): State<Platform>,
    Path((element_key, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(id) = hooks::instance_of_path(&platform, &path) else { return StatusCode::NOT_FOUND.into_response() };
    let Ok(instance) = platform.store.instance_by_id(id).await else { return StatusCode::NOT_FOUND.into_response() };
    if instance.element_key != element_key {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Some(secret) = headers.get("x-hook-secret") {
        return (StatusCode::OK, [("x-hook-secret", secret.clone())]).into_response();
    }
    match hooks::enqueue(&platform, &instance, &body).await {
        Ok(_) => StatusCode::OK.into_response(),
        Err(error) => (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A poll right after the change (`poll_now`, the "poll now" path).
    PollNow,
    /// The vendor's REST hook (the simulator posts at once: its delivery delay is set to 0 s).
    Webhook,
}

/// Latencies of one source and tick.
struct Latencies {
    source: Source,
    tick: Duration,
    total: Vec<Duration>,
}

async fn latency_case(opts: &Options, sim: &keap_sim::RunningSim, vendor: &Vendor, sim_side: &tokio::runtime::Handle) {
    // The callback receiver is the user's application: on the simulator's side of the process.
    let (arrivals, mut arrived) = mpsc::unbounded_channel();
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(arrivals);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("non-blocking");
    let callback_url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    sim_side.spawn(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        let _ = axum::serve(listener, app).await;
    });

    let store = BenchStore::sqlite().await;
    // Junction's hook receiver, on Junction's runtime, under the public URL the hooks point at.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let public_url = format!("http://{}", listener.local_addr().expect("addr"));
    let events = |tick| EventsConfig {
        allow_private_callbacks: true,
        tick,
        public_url: Some(public_url.clone()),
        ..EventsConfig::default()
    };
    let receiver = build_platform(&store, sim, events(Duration::from_secs(1)));
    let hooks_app = axum::Router::new()
        .route("/elements/api-v2/events/{element_key}/{path}", axum::routing::post(hook_receiver))
        .with_state(receiver);
    tokio::spawn(async move {
        let _ = axum::serve(listener, hooks_app).await;
    });

    let mut results = Vec::new();
    let mut n = 0;
    for source in [Source::PollNow, Source::Webhook] {
        for tick in [Duration::from_secs(1), Duration::from_millis(100)] {
            let platform = build_platform(&store, sim, events(tick));
            n += 1;
            let vendor_type = if source == Source::Webhook { "webhook" } else { "polling" };
            let instance = store.insert_instance(vendor, n, &callback_url, vendor_type).await;
            // The baseline (and, with webhooks, the vendor's hooks subscribed and verified).
            platform::events::poll_now(&platform, &instance, PollMode::Regular).await.expect("baseline poll");
            let workers = Workers::start(&platform);
            let mut latencies = Latencies { source, tick, total: Vec::new() };
            for change in 0..opts.changes {
                // A pause of a random part of a tick, so that changes do not fall in step with the
                // workers' loops.
                tokio::time::sleep(tick.mul_f64(rand::random::<f64>())).await;
                let written = Instant::now();
                let id = vendor.create_contact(&format!("bench{n}x{change}")).await;
                if source == Source::PollNow {
                    let report =
                        platform::events::poll_now(&platform, &instance, PollMode::Regular).await.expect("poll now");
                    assert!(!report.events.is_empty(), "the new contact {id} was found");
                }
                let arrival = tokio::time::timeout(Duration::from_secs(30), async {
                    loop {
                        let (instance_id, object_id, at) = arrived.recv().await.expect("callback running");
                        if instance_id == instance.id.get() && object_id == id {
                            return at;
                        }
                    }
                })
                .await
                .expect("the change reached the callback within 30 s");
                latencies.total.push(arrival - written);
            }
            if source == Source::Webhook {
                // The next instance's hooks would otherwise fire for this one too.
                hooks::remove(&platform, &instance).await.expect("hooks removed");
            }
            // Let the last delivery run release its lease before the workers stop.
            tokio::time::sleep(Duration::from_millis(200)).await;
            workers.stop().await;
            results.push(latencies);
        }
    }
    println!();
    println!("## Latency: vendor write → Junction → loopback callback, {} changes each", opts.changes);
    println!();
    println!("| source | workers' tick | p50 ms | p95 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    for mut latencies in results {
        let (p50, p95, max) = percentiles(&mut latencies.total);
        let source = match latencies.source {
            Source::PollNow => "poll now (`poll_now`) right after the write, then the delivery loop",
            Source::Webhook => "vendor REST hook (simulator's delay 0 s), hook queue, then the delivery loop",
        };
        println!("| {source} | {} ms | {p50:.1} | {p95:.1} | {max:.1} |", latencies.tick.as_millis());
    }
    println!();
    println!(
        "Regular polling adds the wait for the instance's next poll: on average half the interval \
         (event.poller.refresh_interval, default 15 min, at least 1 min). The real vendor posts its hooks \
         30-60 s after the change; the simulator here posts at once, so the webhook rows are Junction's part."
    );
}

/// p50, p95 and the maximum, in milliseconds.
fn percentiles(values: &mut [Duration]) -> (f64, f64, f64) {
    values.sort();
    let at = |p: f64| {
        let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
        values[rank.clamp(1, values.len()) - 1].as_secs_f64() * 1000.0
    };
    (at(50.0), at(95.0), at(100.0))
}
