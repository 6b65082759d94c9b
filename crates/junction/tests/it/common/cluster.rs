//! A cluster of real `junction serve` processes for the tests: a PostgreSQL database of the test's
//! own (dropped afterwards, also when the test panics), one shared simulator, the master key and the
//! bootstrap secrets every node shares, and helpers to start nodes and provision instances.
//!
//! Each database is created through `JUNCTION_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`).

use std::process::Stdio;

use keap_sim::{Limits, SimConfig};
use serde_json::{json, Value};
use sqlx::Connection;
use store::{crypto, MasterKey};
use tokio::process::{Child, Command};

pub fn postgres_admin_url() -> String {
    std::env::var("JUNCTION_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database of this test's own, dropped `WITH (FORCE)` when the guard is dropped (on panic too).
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let unique = crypto::generate_secret().replace(['-', '_'], "").to_lowercase();
        let name = format!("junction_multi_node_{}", &unique[..16]);
        let mut admin = sqlx::PgConnection::connect(&postgres_admin_url()).await.expect("PostgreSQL test server");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create database");
        admin.close().await.expect("close");
        let admin_url = postgres_admin_url();
        let server = admin_url.rsplit_once('/').map(|(server, _)| server.to_string()).expect("a database URL");
        TestDatabase { url: format!("{server}/{name}"), name }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime (or while unwinding from it): use a runtime of its own
        // on another thread.
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let mut admin = sqlx::PgConnection::connect(&postgres_admin_url()).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

/// What every node of a cluster shares: the database, the master key, the bootstrap secrets and
/// the simulator.
pub struct Cluster {
    pub database: TestDatabase,
    pub sim: keap_sim::RunningSim,
    pub master_key: String,
    pub user_secret: String,
    pub org_secret: String,
    pub http: reqwest::Client,
}

pub struct Node {
    pub child: Child,
    pub base: String,
}

impl Cluster {
    pub async fn new() -> Self {
        Cluster::with_contacts(None).await
    }

    /// A cluster whose vendor account holds `contacts` demo contacts (300 when `None`).
    pub async fn with_contacts(contacts: Option<usize>) -> Self {
        // No vendor rate limits: the storm fires 200 calls at once.
        let mut config = SimConfig { limits: Limits::none(), tenant_limits: Limits::none(), ..SimConfig::sandbox() };
        config.accounts[0].demo_contacts = contacts;
        Cluster::with_sim_config(config).await
    }

    /// A cluster whose simulator enforces the vendor's own limits (25 calls a second per client).
    pub async fn at_vendor_limits() -> Self {
        Cluster::with_sim_config(SimConfig::sandbox()).await
    }

    /// A cluster whose simulator runs `config` (its limits, token lifetimes, accounts and users).
    pub async fn with_sim_config(config: SimConfig) -> Self {
        let sim = keap_sim::spawn(config, "127.0.0.1:0").await.expect("simulator");
        Cluster {
            database: TestDatabase::create().await,
            sim,
            master_key: MasterKey::generate().to_base64(),
            user_secret: crypto::generate_secret(),
            org_secret: crypto::generate_secret(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(256)
                .build()
                .expect("client"),
        }
    }

    /// Starts a node without the background refresh and waits for its "listening" log line.
    pub async fn start_node(&self) -> Node {
        self.start_node_with(&["--refresh-period", "0"]).await
    }

    /// Starts a node with `extra` flags and waits for its "listening" log line.
    pub async fn start_node_with(&self, extra: &[&str]) -> Node {
        let mut command = Command::new(env!("CARGO_BIN_EXE_junction"));
        command
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(extra)
            .args(["--database", &self.database.url, "--sandbox-url", &self.sim.url()])
            .env("JUNCTION_MASTER_KEY", &self.master_key)
            .env("JUNCTION_BOOTSTRAP_USER_SECRET", &self.user_secret)
            .env("JUNCTION_BOOTSTRAP_ORG_SECRET", &self.org_secret)
            .env("RUST_LOG", "info")
            .env_remove("JUNCTION_MASTER_KEY_FILE")
            .env_remove("JUNCTION_REFRESH_PERIOD")
            .stdout(Stdio::null());
        let (child, base) = super::start_listening(command).await;
        Node { child, base }
    }

    pub fn api(&self, node: &Node, path: &str) -> String {
        format!("{}/elements/api-v2{path}", node.base)
    }

    pub fn platform_auth(&self) -> String {
        format!("User {}, Organization {}", self.user_secret, self.org_secret)
    }

    pub fn hub_auth(&self, instance_token: &str) -> String {
        format!("User {}, Element {instance_token}", self.user_secret)
    }

    /// Consents on the simulator as the demo user and creates an instance through `node`.
    pub async fn create_instance(&self, node: &Node) -> (i64, String) {
        super::create_instance(&self.http, &self.sim.url(), &self.api(node, ""), &self.platform_auth()).await
    }

    pub fn hub_call(&self, node: &Node, instance_token: &str) -> reqwest::RequestBuilder {
        self.http
            .get(self.api(node, "/hubs/crm/contacts"))
            .query(&[("pageSize", "2")])
            .header("authorization", self.hub_auth(instance_token))
    }

    pub async fn hub_status(&self, node: &Node, instance_token: &str) -> u16 {
        self.hub_call(node, instance_token).send().await.expect("hub call").status().as_u16()
    }

    /// The simulator's counters (`GET /__sim/stats`).
    pub async fn sim_stats(&self) -> Value {
        self.http.get(format!("{}/__sim/stats", self.sim.url())).send().await.unwrap().json().await.unwrap()
    }

    pub async fn refresh_grants(&self) -> u64 {
        let stats: Value =
            self.http.get(format!("{}/__sim/stats", self.sim.url())).send().await.unwrap().json().await.unwrap();
        stats["token_grants"]["refresh_token"].as_u64().expect("a count")
    }

    /// Moves the vendor's clock past the access tokens' 24 h lifetime.
    pub async fn expire_access_tokens(&self) {
        let answer = self
            .http
            .post(format!("{}/__sim/clock/advance", self.sim.url()))
            .json(&json!({"seconds": 86_400 + 60}))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
    }

    /// An access token of the demo account straight from the simulator (consent form and token
    /// endpoint), for changing the vendor's data without Junction.
    pub async fn vendor_token(&self) -> String {
        super::vendor_access_token(&self.sim.url()).await
    }
}
