//! The `junction` binary: parses the command line and hands each subcommand to the crate that owns
//! it. Wiring only.

mod admin;
mod http_threads;
mod log_buffer;
mod logging;
mod serve;
mod sql;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc rather than glibc malloc: the hub allocates per call, and glibc's arena locks and frees
/// cost a fifth of its CPU under load (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "junction", version, about = "Self-hosted connector platform for Infusionsoft (Keap)")]
struct Cli {
    /// How log lines are written to stderr: `text`, or `json` (one object per line, with the
    /// request's `request_id` and `instance_id`) for a log pipeline.
    #[arg(long, global = true, env = "JUNCTION_LOG_FORMAT", value_enum, default_value_t = logging::LogFormat::Text)]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform: the HTTP API under /elements/api-v2 and the hub API.
    Serve(Box<serve::ServeArgs>),
    /// Operator commands on the database: `junction admin rotate-key`.
    Admin(admin::AdminArgs),
    /// Run the Infusionsoft simulator alone (OAuth, REST v1/v2, hooks, rate limits, test controls).
    Sandbox {
        /// Address to listen on.
        #[arg(long, env = "JUNCTION_SANDBOX_BIND", default_value = "127.0.0.1:8091")]
        bind: String,
        /// A TOML or JSON file with clients, users, accounts, lifetimes and limits (defaults: the
        /// sandbox of the spec).
        #[arg(long, env = "JUNCTION_SANDBOX_CONFIG")]
        config: Option<PathBuf>,
        /// Start with empty accounts instead of the generated demo records.
        #[arg(long)]
        no_demo_data: bool,
    },
    /// SQL over Infusionsoft from a connection string: one query, a script (`-f`, or stdin), or an
    /// interactive shell; results as a table, CSV, JSON or JSON lines.
    Sql(sql::SqlArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    // `junction sql` prints results, not a service's log: only warnings unless RUST_LOG asks.
    let default_filter = if matches!(cli.command, Command::Sql(_)) { "warn" } else { "info" };
    let _flush_logs = logging::init(cli.log_format, default_filter);
    let done = match cli.command {
        Command::Serve(args) => serve::run(*args).await,
        Command::Admin(args) => admin::run(args).await,
        Command::Sandbox { bind, config, no_demo_data } => sandbox(&bind, config, no_demo_data).await,
        // It prints its own one-line error and picks its exit code.
        Command::Sql(args) => return Ok(sql::run(args).await),
    };
    done.map(|()| ExitCode::SUCCESS)
}

async fn sandbox(bind: &str, config: Option<PathBuf>, no_demo_data: bool) -> anyhow::Result<()> {
    let config = match config {
        Some(path) => keap_sim::SimConfig::from_file(&path).map_err(anyhow::Error::msg)?,
        None => keap_sim::SimConfig::sandbox(),
    };
    let config = if no_demo_data { config.with_demo_data(false) } else { config };
    let running =
        keap_sim::spawn(config, bind).await.with_context(|| format!("cannot start the simulator on {bind}"))?;
    tracing::info!(url = %running.url(), "Infusionsoft simulator listening; authorize at /app/oauth/authorize");
    shutdown_signal().await;
    tracing::info!("shutting down");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
