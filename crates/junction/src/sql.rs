//! `junction sql`: SQL over Infusionsoft from a connection string — one query, a script (`-f FILE`,
//! or stdin when it is not a terminal), or an interactive shell — with the results printed as a
//! table, CSV, JSON or JSON lines on stdout, and everything else (progress, `--explain`, errors) on
//! stderr.
//!
//! Wiring only: the connection strings, the tables and the SQL engine are the driver's (the
//! `junction-sql` crate, `::sql` here, not to be confused with this module). Its connections
//! block on vendor calls, so they are used from a blocking thread, never a Tokio worker.
//!
//! - [`script`]: cutting SQL text into statements;
//! - [`output`]: the formats;
//! - [`progress`]: the progress bar;
//! - [`shell`]: the interactive shell.

mod output;
mod progress;
mod script;
mod shell;

use std::io::{self, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use ::sql::{Connection, Driver, Outcome, SqlError};
use anyhow::{anyhow, bail};
use clap::Args;

use self::output::Format;
use self::progress::Progress;
use self::script::Statement;

/// `junction sql`'s command line. Not `Debug`: the connection string holds credentials.
#[derive(Args)]
pub struct SqlArgs {
    /// The connection string, e.g.
    /// `AuthScheme=OAuth;InitiateOAuth=OFF;OAuthAccessToken=…;VendorURL=http://127.0.0.1:8091`.
    /// It holds credentials: prefer the environment variable, which stays out of `ps` and shell
    /// history.
    #[arg(long, env = "JUNCTION_SQL_CONNECTION", hide_env_values = true, value_name = "STRING")]
    connection: String,
    /// The SQL to run: one statement, or several separated by `;`. Without it and without `-f`,
    /// an interactive shell (or, when stdin is not a terminal, stdin read as a script).
    #[arg(value_name = "SQL", conflicts_with = "file")]
    query: Option<String>,
    /// A file of `;`-separated statements, run in order; the first that fails stops the run.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// How rows are printed on stdout. `table` whether or not stdout is a terminal: the output
    /// does not change when piped, and programs ask for `csv`, `json` or `jsonl` by name.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// After each statement, print on stderr what it cost: the conditions handed to the vendor,
    /// the vendor calls, the rows read, filtered and returned.
    #[arg(long)]
    explain: bool,
    /// Serve the tables over the PostgreSQL wire protocol at this address (`127.0.0.1:5433`)
    /// instead of running SQL: `psql`, `psycopg` and BI tools connect with no driver installed.
    #[arg(long, value_name = "ADDR", conflicts_with_all = ["query", "file", "explain"])]
    listen: Option<std::net::SocketAddr>,
    /// With `--listen`: a file holding the password clients must give (its first line). Without
    /// it, only loopback clients are accepted, whatever user and database they name.
    #[arg(long, value_name = "FILE", requires = "listen")]
    password_file: Option<PathBuf>,
}

/// Runs `junction sql`: 0 when every statement succeeded; otherwise one `error: …` line on stderr
/// and a failure code.
pub async fn run(args: SqlArgs) -> ExitCode {
    match run_checked(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The top message only: every error here already holds its cause's text (the driver's
            // `connection string: …` would otherwise repeat its source).
            note(&format!("error: {error}"));
            ExitCode::FAILURE
        }
    }
}

/// Where the statements come from.
enum Input {
    /// A query argument, a file or stdin, already cut into statements (at least one).
    Script {
        statements: Vec<Statement>,
        several: bool,
    },
    Shell,
}

async fn run_checked(args: SqlArgs) -> anyhow::Result<()> {
    // The input is checked before connecting: an unreadable file should not cost a sign-in.
    let settings = ::sql::parse(&args.connection).map_err(SqlError::from)?;
    if let Some(address) = args.listen {
        return listen(address, args.password_file.as_deref(), settings).await;
    }
    let input = read_input(&args)?;
    let driver = Driver::connect(settings).await?;
    let options = Options { format: args.format, explain: args.explain };
    tokio::task::spawn_blocking(move || session(&driver, input, options))
        .await
        .map_err(|failure| anyhow!("the statement's thread failed: {failure}"))?
}

/// `--listen`: binds, signs in, then serves until the process is stopped.
async fn listen(
    address: std::net::SocketAddr,
    password_file: Option<&std::path::Path>,
    settings: ::sql::ConnectionSettings,
) -> anyhow::Result<()> {
    let password = match password_file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|error| anyhow!("cannot read {}: {error}", path.display()))?;
            let first = text.lines().next().unwrap_or_default().trim_end_matches('\r');
            if first.is_empty() {
                bail!("{} holds no password on its first line", path.display());
            }
            Some(::sql::Secret::new(first))
        }
        None => None,
    };
    let listener =
        tokio::net::TcpListener::bind(address).await.map_err(|error| anyhow!("cannot listen on {address}: {error}"))?;
    let driver = Driver::connect(settings).await?;
    let bound = listener.local_addr().map_err(|error| anyhow!("cannot listen on {address}: {error}"))?;
    note(&format!("junction sql listening for PostgreSQL clients on {bound}"));
    ::sql::pgwire::serve(listener, driver, password).await.map_err(|error| anyhow!("the endpoint stopped: {error}"))
}

fn read_input(args: &SqlArgs) -> anyhow::Result<Input> {
    let (text, origin) = match (&args.query, &args.file) {
        (Some(query), _) => (query.clone(), "the query"),
        (None, Some(path)) => {
            let text =
                std::fs::read_to_string(path).map_err(|error| anyhow!("cannot read {}: {error}", path.display()))?;
            (text, "the file")
        }
        (None, None) if io::stdin().is_terminal() => return Ok(Input::Shell),
        (None, None) => {
            let mut text = String::new();
            io::stdin().read_to_string(&mut text).map_err(|error| anyhow!("cannot read stdin: {error}"))?;
            (text, "stdin")
        }
    };
    let statements = script::split(&text).into_statements();
    if statements.is_empty() {
        bail!("{origin} holds no SQL statement");
    }
    Ok(Input::Script { several: statements.len() > 1, statements })
}

/// What the command line says about printing.
#[derive(Clone, Copy)]
struct Options {
    format: Format,
    explain: bool,
}

/// Runs the input on a new connection. Blocks: call it on a blocking thread.
fn session(driver: &Driver, input: Input, options: Options) -> anyhow::Result<()> {
    let connection = driver.connection()?;
    let runner = Runner { progress: Progress::attach(&connection), connection, options };
    match input {
        Input::Shell => shell::run(&runner),
        Input::Script { statements, several } => {
            for statement in statements {
                match runner.run(&statement.text) {
                    Ok(()) => {}
                    // The reader went away (`| head`): stop quietly, as a program killed by
                    // SIGPIPE would.
                    Err(RunError::Output(error)) if error.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
                    Err(error) if several => return Err(anyhow!("line {}: {error}", statement.line)),
                    Err(error) => return Err(error.into()),
                }
            }
            Ok(())
        }
    }
}

/// Why one statement did not complete.
#[derive(Debug, thiserror::Error)]
enum RunError {
    /// The driver refused or failed it (its message is meant for the user as it is).
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// Its result could not be written.
    #[error("cannot write the result: {0}")]
    Output(#[from] io::Error),
}

/// Runs statements on one connection and prints their results.
struct Runner {
    connection: Connection,
    progress: Option<Arc<Progress>>,
    options: Options,
}

impl Runner {
    /// Runs one statement and prints its result on stdout (a write's count on stderr when the
    /// format is for programs), then its cost with `--explain`.
    fn run(&self, sql: &str) -> Result<(), RunError> {
        if let Some(progress) = &self.progress {
            progress.start();
        }
        let outcome = self.connection.run(sql, &[]);
        if let Some(progress) = &self.progress {
            progress.clear();
        }
        match outcome? {
            Outcome::Rows(rows) => {
                let mut out = io::stdout().lock();
                output::write_rows(&mut out, self.options.format, &rows)?;
                out.flush()?;
            }
            Outcome::Affected(count) if self.options.format.is_machine_readable() => note(&output::affected(count)),
            Outcome::Affected(count) => {
                let mut out = io::stdout().lock();
                writeln!(out, "{}", output::affected(count))?;
                out.flush()?;
            }
        }
        if self.options.explain {
            note(&self.connection.explain().to_string());
        }
        Ok(())
    }

    fn connection(&self) -> &Connection {
        &self.connection
    }
}

/// Writes a line on stderr. A closed stderr is no reason to fail (`eprintln!` would panic).
fn note(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}
