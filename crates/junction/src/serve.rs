//! `junction serve`: configuration (flags and `JUNCTION_*` variables, SPEC "Names and layout"), the
//! master key, the store, the first-start bootstrap, the vendor endpoints (real, `--sandbox` or
//! `--sandbox-url`), and the HTTP server with graceful shutdown. Wiring only.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use connector::endpoints::VendorEndpoints;
use domain::instance_config::ServerPolicy;
use domain::Secret;
use platform::events::EventsConfig;
use platform::{Platform, PlatformConfig};
use store::{Keyring, MasterKey, Store, StoreError};
use url::Url;

use crate::http_threads::{HttpThreads, Listeners};

/// Flags of `junction serve`; each also an environment variable.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "JUNCTION_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Threads serving HTTP, each with its own connections (Linux; one elsewhere); default: one
    /// per CPU. Background work runs on other threads.
    #[arg(long, env = "JUNCTION_HTTP_THREADS", default_value_t = default_http_threads(), value_parser = clap::value_parser!(u64).range(1..=1024))]
    http_threads: u64,
    /// `sqlite://PATH` (created on first start) or `postgres://...`.
    #[arg(long, env = "JUNCTION_DATABASE_URL", default_value = "sqlite://junction.db")]
    database: String,
    /// A file holding the base64 master key (created with mode 0600 if missing). Without it,
    /// `JUNCTION_MASTER_KEY` (base64 of 32 bytes) is used, else a key file beside the SQLite database.
    #[arg(long, env = "JUNCTION_MASTER_KEY_FILE")]
    master_key_file: Option<PathBuf>,
    /// Files of earlier master keys, still accepted for reading while `junction admin rotate-key`
    /// re-seals everything under the current one: start every node with the new key and the old one
    /// here, rotate, then drop the old one at the next restart. No downtime.
    #[arg(long = "previous-master-key-file", env = "JUNCTION_PREVIOUS_MASTER_KEY_FILES", value_delimiter = ',')]
    previous_master_key_files: Vec<PathBuf>,
    /// The externally visible base URL (console callback and links); default `http://<bind>`.
    #[arg(long, env = "JUNCTION_PUBLIC_URL")]
    public_url: Option<String>,
    /// Also start the built-in Infusionsoft simulator and point the connectors at it.
    #[arg(long, conflicts_with = "sandbox_url")]
    sandbox: bool,
    /// Where `--sandbox` starts the simulator.
    #[arg(long, env = "JUNCTION_SANDBOX_BIND", default_value = "127.0.0.1:8091")]
    sandbox_bind: String,
    /// Point the connectors at a simulator already running at this URL (`junction sandbox`).
    #[arg(long, env = "JUNCTION_SANDBOX_URL")]
    sandbox_url: Option<String>,
    /// Vendor rate limits per OAuth client, enforced before every hub call, e.g.
    /// `25/s,1500/min,150000/day`, or `off`. On PostgreSQL all nodes together keep them (see
    /// `--shared-limits`); every node also keeps them on its own.
    #[arg(long, env = "JUNCTION_VENDOR_LIMITS", default_value = "25/s,1500/min,150000/day")]
    vendor_limits: domain::vendor_limits::VendorLimits,
    /// The vendor's rate limits per account (the Keap app, whatever the client or key), in the same
    /// notation: `10000/min,250000/day`, or `off`. `--vendor-limits off` turns these off too.
    #[arg(long, env = "JUNCTION_VENDOR_ACCOUNT_LIMITS", default_value = "10000/min,250000/day")]
    vendor_account_limits: domain::vendor_limits::VendorLimits,
    /// On PostgreSQL, share the vendor limits with every node on the database (each node leases
    /// small batches of calls); `false`: each node keeps them alone. No effect on SQLite.
    #[arg(long, env = "JUNCTION_SHARED_LIMITS", default_value_t = true, action = clap::ArgAction::Set)]
    shared_limits: bool,
    /// Seconds a vendor call may take before the hub answers 504.
    #[arg(long, env = "JUNCTION_VENDOR_TIMEOUT", default_value_t = 30)]
    vendor_timeout: u64,
    /// Origins (comma-separated `scheme://host[:port]`, or `*`) whose browser applications may call
    /// the API (CORS); none by default.
    #[arg(long, env = "JUNCTION_CORS_ORIGINS", default_value = "")]
    cors_origins: String,
    /// Seconds between background token refresh runs (jittered); `0` disables the task.
    #[arg(long, env = "JUNCTION_REFRESH_PERIOD", default_value_t = 60)]
    refresh_period: u64,
    /// The share (0 to 1) of each vendor limit that background work (event polls) may use, so the
    /// calls users wait on always find room.
    #[arg(long, env = "JUNCTION_BACKGROUND_SHARE", default_value_t = platform::DEFAULT_BACKGROUND_SHARE, value_parser = share)]
    background_share: f64,
    /// Lets event callbacks reach loopback, private, link-local and metadata addresses (on-premise
    /// receivers, tests); refused by default.
    #[arg(long, env = "JUNCTION_ALLOW_PRIVATE_CALLBACKS")]
    allow_private_callbacks: bool,
    /// Milliseconds before a failed notification's first retry; each next retry waits four times
    /// longer (9 tries in all).
    #[arg(long, env = "JUNCTION_EVENT_RETRY_BASE_MS", default_value_t = 4000)]
    event_retry_base_ms: u64,
    /// Delivery attempts before a notification is FAILED (kept, and retried on request).
    #[arg(long, env = "JUNCTION_EVENT_MAX_ATTEMPTS", default_value_t = 9)]
    event_max_attempts: u32,
    /// Seconds a node's poll claim and delivery lease last unrenewed: how soon a dead node's
    /// polling and deliveries move to the others.
    #[arg(long, env = "JUNCTION_EVENT_CLAIM_TTL", default_value_t = 20)]
    event_claim_ttl: u64,
    /// Minutes between full reads of each polled object, which find the records deleted at the
    /// vendor (its lists do not show deletes).
    #[arg(long, env = "JUNCTION_EVENT_RECONCILE_MINUTES", default_value_t = 1440, value_parser = clap::value_parser!(u64).range(1..))]
    event_reconcile_minutes: u64,
    /// Milliseconds between the event workers' looks for due polls and deliveries; `0` disables
    /// the event workers on this node (its API still answers).
    #[arg(long, env = "JUNCTION_EVENT_TICK_MS", default_value_t = 1000)]
    event_tick_ms: u64,
    /// Days a finished bulk job's status, result and errors are kept.
    #[arg(long, env = "JUNCTION_BULK_RETENTION_DAYS", default_value_t = 7, value_parser = clap::value_parser!(u64).range(1..))]
    bulk_retention_days: u64,
    /// The largest bulk upload accepted, in megabytes.
    #[arg(long, env = "JUNCTION_BULK_MAX_UPLOAD_MB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    bulk_max_upload_mb: u64,
    /// Bulk jobs this node runs at once; `0` runs none here (its API still takes and serves jobs).
    #[arg(long, env = "JUNCTION_BULK_CONCURRENCY", default_value_t = 4)]
    bulk_concurrency: usize,
    /// Seconds a node's claim on a bulk job lasts unrenewed: how soon a dead node's jobs resume
    /// elsewhere (or on its restart).
    #[arg(long, env = "JUNCTION_BULK_CLAIM_TTL", default_value_t = 15, value_parser = clap::value_parser!(u64).range(3..))]
    bulk_claim_ttl: u64,
    /// Formula executions this node runs at once; `0` runs none here (its API still queues them).
    #[arg(long, env = "JUNCTION_FORMULA_CONCURRENCY", default_value_t = 8)]
    formula_concurrency: usize,
    /// Seconds a node's claim on a formula execution lasts unrenewed: how soon a dead node's runs
    /// resume elsewhere (or on its restart).
    #[arg(long, env = "JUNCTION_FORMULA_CLAIM_TTL", default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..))]
    formula_claim_ttl: u64,
    /// Days ended formula executions (and their step records) are kept.
    #[arg(long, env = "JUNCTION_FORMULA_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650))]
    formula_retention_days: u64,
    /// Milliseconds between two passes of the formula triggers (new events, due schedules).
    #[arg(long, env = "JUNCTION_FORMULA_TRIGGER_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    formula_trigger_ms: u64,
}

/// One HTTP thread per CPU.
fn default_http_threads() -> u64 {
    std::thread::available_parallelism().map_or(1, |cpus| cpus.get() as u64)
}

/// A share: a number from 0 (exclusive) to 1.
fn share(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(share) if share > 0.0 && share <= 1.0 => Ok(share),
        _ => Err(format!("expected a number above 0 and at most 1, got {text:?}")),
    }
}

/// Runs the platform until SIGTERM or SIGINT.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let key = master_key(&args)?;
    let previous = previous_master_keys(&args)?;
    let store =
        store::connect(&args.database, Keyring::with_older(key, previous)).await.map_err(|error| match error {
            StoreError::WrongMasterKey(_) => {
                anyhow::anyhow!("{error}; start with the master key this database was created with")
            }
            other => anyhow::Error::new(other).context("cannot open the database"),
        })?;

    // The simulator must outlive the server: `_sandbox` is dropped (and stopped) at the end of `run`.
    let (endpoints, policy, _sandbox) = vendor(&args).await?;
    let sandbox = args.sandbox || args.sandbox_url.is_some();
    let listeners = Listeners::bind(&args.bind, args.http_threads as usize).await?;
    let addr = listeners.local_addr();
    let public_url = public_url(args.public_url.as_deref(), addr)?;
    let config = PlatformConfig {
        vendor_limits: args.vendor_limits,
        account_limits: args.vendor_account_limits,
        vendor_timeout: std::time::Duration::from_secs(args.vendor_timeout.max(1)),
        background_share: args.background_share,
        shared_limits: args.shared_limits,
        events: EventsConfig {
            allow_private_callbacks: args.allow_private_callbacks,
            retry_base: std::time::Duration::from_millis(args.event_retry_base_ms.max(1)),
            max_attempts: args.event_max_attempts.max(1),
            reconcile_interval: std::time::Duration::from_secs(args.event_reconcile_minutes * 60),
            claim_ttl: std::time::Duration::from_secs(args.event_claim_ttl.max(1)),
            tick: std::time::Duration::from_millis(args.event_tick_ms.max(1)),
            public_url: Some(public_url.clone()),
            ..EventsConfig::default()
        },
        bulk: platform::bulk::BulkConfig {
            retention: std::time::Duration::from_secs(args.bulk_retention_days * 86_400),
            max_upload_bytes: args.bulk_max_upload_mb.saturating_mul(1024 * 1024),
            concurrency: args.bulk_concurrency,
            claim_ttl: std::time::Duration::from_secs(args.bulk_claim_ttl),
            ..platform::bulk::BulkConfig::default()
        },
        formulas: platform::formulas::FormulaConfig {
            concurrency: args.formula_concurrency,
            claim_ttl: std::time::Duration::from_secs(args.formula_claim_ttl),
            retention: std::time::Duration::from_secs(args.formula_retention_days * 86_400),
            trigger_period: std::time::Duration::from_millis(args.formula_trigger_ms),
            ..platform::formulas::FormulaConfig::default()
        },
        ..PlatformConfig::new(Arc::clone(&store), endpoints, policy, sandbox)
    };
    let platform = Platform::build(config).context("cannot start the vendor's HTTP clients")?;
    let cors_origins = http_api::cors::CorsOrigins::parse(&args.cors_origins)
        .map_err(|error| anyhow::anyhow!("--cors-origins: {error}"))?;
    let state = http_api::AppState::new(platform.clone()).with_public_url(&public_url).with_cors_origins(cors_origins);
    // Bootstrap last, once everything that can fail at startup has succeeded, so that printed
    // secrets always belong to a server that started.
    bootstrap(store.as_ref()).await?;
    tracing::info!(%addr, %public_url, sandbox, vendor_limits = ?args.vendor_limits, "junction listening; API under /elements/api-v2");
    // The background token refresh stops when `stop` is dropped: on a shutdown signal, or when the
    // server ends for any other reason.
    let (stop, stopped) = tokio::sync::watch::channel(());
    let refresher = (args.refresh_period > 0).then(|| {
        let period = std::time::Duration::from_secs(args.refresh_period);
        let mut stopped = stopped.clone();
        tokio::spawn(platform::token_refresh_job::run(platform.clone(), period, async move {
            let _ = stopped.changed().await;
        }))
    });
    // Every node forgets its composed common resources when any node changes a document.
    let common_watch = {
        let mut stopped = stopped.clone();
        tokio::spawn(platform::common_resources::watch(platform.clone(), async move {
            let _ = stopped.changed().await;
        }))
    };
    let bulk_runners = (args.bulk_concurrency > 0).then(|| {
        let mut stopped = stopped.clone();
        tokio::spawn(platform::bulk::runner::run(platform.clone(), async move {
            let _ = stopped.changed().await;
        }))
    });
    // Always: a node that runs no formula executions still fires the hub requests' triggers.
    let formula_runners = {
        let mut stopped = stopped.clone();
        Some(tokio::spawn(platform::formulas::runner::run(platform.clone(), async move {
            let _ = stopped.changed().await;
        })))
    };
    let event_workers = (args.event_tick_ms > 0).then(|| {
        let mut stopped = stopped.clone();
        tokio::spawn(platform::events::workers::run(platform, async move {
            let _ = stopped.changed().await;
        }))
    });
    let shutdown = async move {
        crate::shutdown_signal().await;
        drop(stop);
    };
    let mut http = HttpThreads::start(listeners, http_api::app(state)).context("cannot start the HTTP threads")?;
    let served = http.serve_until(shutdown).await;
    drop(stopped);
    // The shutdown future (and `stop` with it) is dropped by now.
    for task in [refresher, event_workers, bulk_runners, formula_runners, Some(common_watch)].into_iter().flatten() {
        let _ = task.await;
    }
    http.join().await;
    served?;
    tracing::info!("shut down");
    Ok(())
}

/// The externally visible base URL, normalized (`https://host[:port]`): `--public-url`, else
/// `http://<bind>`.
fn public_url(configured: Option<&str>, addr: std::net::SocketAddr) -> anyhow::Result<String> {
    let Some(configured) = configured else { return Ok(format!("http://{addr}")) };
    let url = url::Url::parse(configured).with_context(|| format!("--public-url {configured} is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("--public-url must be an absolute http(s) URL, got {configured}");
    }
    // The console's links and the OAuth callback are at the root of this origin.
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        bail!("--public-url must be scheme, host and port only (Junction is served at the root), got {configured}");
    }
    Ok(url.origin().ascii_serialization())
}

/// The master key: `--master-key-file`, else `JUNCTION_MASTER_KEY`, else a key file beside SQLite.
fn master_key(args: &ServeArgs) -> anyhow::Result<MasterKey> {
    if let Some(path) = &args.master_key_file {
        return MasterKey::load_or_create(path).with_context(|| format!("master key file {}", path.display()));
    }
    if let Ok(encoded) = std::env::var("JUNCTION_MASTER_KEY") {
        return MasterKey::from_base64(encoded.trim()).context("JUNCTION_MASTER_KEY must be the base64 of 32 bytes");
    }
    let Some(path) = store::key_file_beside(&args.database) else {
        bail!("a master key is required for this database: set JUNCTION_MASTER_KEY (base64 of 32 bytes) or --master-key-file");
    };
    MasterKey::load_or_create(&path).with_context(|| format!("master key file {}", path.display()))
}

/// The earlier master keys named by `--previous-master-key-file`; each file must exist.
fn previous_master_keys(args: &ServeArgs) -> anyhow::Result<Vec<MasterKey>> {
    args.previous_master_key_files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("previous master key file {}", path.display()))?;
            MasterKey::from_base64(text.trim())
                .with_context(|| format!("previous master key file {} must hold base64 of 32 bytes", path.display()))
        })
        .collect()
}

/// On an empty store: organization `default` with an admin user. Secrets from
/// `JUNCTION_BOOTSTRAP_USER_SECRET` / `JUNCTION_BOOTSTRAP_ORG_SECRET`, else generated and printed
/// once to stdout, the only place a secret is ever printed (never to the log).
async fn bootstrap(store: &dyn Store) -> anyhow::Result<()> {
    if !store.is_empty().await? {
        return Ok(());
    }
    let chosen = |name: &str| std::env::var(name).ok().filter(|secret| !secret.is_empty()).map(Secret::new);
    let generated = || Secret::new(store::crypto::generate_secret());
    // Secrets chosen through the environment are not echoed; generated ones are printed once.
    let (org_secret, org_shown) = match chosen("JUNCTION_BOOTSTRAP_ORG_SECRET") {
        Some(secret) => (secret, false),
        None => (generated(), true),
    };
    let (user_secret, user_shown) = match chosen("JUNCTION_BOOTSTRAP_USER_SECRET") {
        Some(secret) => (secret, false),
        None => (generated(), true),
    };
    // One transaction: a crash cannot leave an organization without its admin (a lockout).
    let organization = match store.create_organization_with_admin("default", &org_secret, "admin", &user_secret).await {
        Ok((organization, _)) => organization,
        // Another node bootstrapped first.
        Err(StoreError::Conflict(_)) => return Ok(()),
        Err(error) => return Err(error).context("cannot create organization `default` and its admin"),
    };
    let user_secret = user_shown.then_some(user_secret);
    let org_secret = org_shown.then_some(org_secret);
    tracing::info!(organization_id = organization.id.get(), "bootstrapped organization `default` with user `admin`");
    print_bootstrap_secrets(user_secret.as_ref(), org_secret.as_ref());
    Ok(())
}

/// The one place a secret leaves the process in clear, as SPEC "Bootstrap" requires: generated
/// bootstrap secrets are written once to stdout for the operator, never to the log (which goes to
/// stderr; `tests/it/serve.rs` checks both). Secrets chosen through the environment are not echoed.
fn print_bootstrap_secrets(user: Option<&Secret>, organization: Option<&Secret>) {
    if user.is_none() && organization.is_none() {
        return;
    }
    let mut out =
        String::from("Junction bootstrap: organization `default`, admin user `admin`. These secrets are shown once:\n");
    if let Some(secret) = user {
        out.push_str(&format!("  User secret:         {}\n", secret.expose()));
    }
    if let Some(secret) = organization {
        out.push_str(&format!("  Organization secret: {}\n", secret.expose()));
    }
    out.push_str("  Authorization: User <user secret>, Organization <organization secret>");
    println!("{out}");
}

/// The vendor endpoints, the `infusionsoft.server` policy, and the in-process simulator if any.
async fn vendor(args: &ServeArgs) -> anyhow::Result<(VendorEndpoints, ServerPolicy, Option<keap_sim::RunningSim>)> {
    if args.sandbox {
        let running = keap_sim::spawn(keap_sim::SimConfig::sandbox(), &args.sandbox_bind)
            .await
            .with_context(|| format!("cannot start the simulator on {}", args.sandbox_bind))?;
        let base = Url::parse(&running.url())?;
        tracing::info!(url = %base, "Infusionsoft simulator (sandbox) listening");
        let policy = ServerPolicy::with_sandbox_host(&running.addr().to_string());
        return Ok((VendorEndpoints::simulator(&base)?, policy, Some(running)));
    }
    if let Some(url) = &args.sandbox_url {
        let base = Url::parse(url).with_context(|| "--sandbox-url must be an absolute URL".to_string())?;
        let host = match (base.host_str(), base.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            _ => bail!("--sandbox-url must name a host"),
        };
        return Ok((VendorEndpoints::simulator(&base)?, ServerPolicy::with_sandbox_host(&host), None));
    }
    Ok((VendorEndpoints::infusionsoft(), ServerPolicy::vendor_only(), None))
}

#[cfg(test)]
mod tests {
    use super::public_url;

    #[test]
    fn the_public_url_is_an_origin_and_defaults_to_the_bound_address() {
        let addr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(public_url(None, addr).unwrap(), "http://127.0.0.1:8080");
        assert_eq!(public_url(Some("HTTPS://Junction.Example.com/"), addr).unwrap(), "https://junction.example.com");
        assert_eq!(public_url(Some("http://host:9000"), addr).unwrap(), "http://host:9000");
        for bad in
            ["junction.example.com", "ftp://host", "https://host/junction", "https://host/?a=1", "https://u@host"]
        {
            assert!(public_url(Some(bad), addr).is_err(), "{bad}");
        }
    }
}
