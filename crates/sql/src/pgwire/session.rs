//! One client's queries ([`Session`]): the simple and extended query protocols over the client's
//! own [`Connection`], answered in text format.
//!
//! A [`Connection`] blocks on the driver's runtime, so every call to it runs on a blocking thread
//! (`spawn_blocking`), holding the client's connection behind a mutex; the client's messages are
//! handled one at a time, so the mutex is never contended.
//!
//! Extended protocol: `Parse` describes the statement with [`Connection::describe`] (nothing
//! runs); `Describe` of a statement answers those columns (a computed column such as `count(*)`,
//! whose type SQLite cannot know before running, as `text`). `Describe` of a bound portal that
//! returns rows runs it there and then, so its columns carry the types of the actual values
//! (`count(*)` as `int8`), and the following `Execute` sends the rows it holds; `Execute` with a
//! row limit suspends the portal and the next `Execute` continues it. Rows are computed in full
//! before the first is sent (the connection's `MaxRows` bounds them).

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use ::pgwire::api::portal::{Format, Portal, PortalExecutionState};
use ::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use ::pgwire::api::results::{
    DataRowEncoder, DescribePortalResponse, FieldFormat, FieldInfo, QueryResponse, Response, Tag,
};
use ::pgwire::api::stmt::QueryParser;
use ::pgwire::api::store::PortalStore;
use ::pgwire::api::{ClientInfo, ClientPortalStore, Type};
use ::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use ::pgwire::messages::PgWireBackendMessage;
use ::pgwire::types::format::FormatOptions;
use async_trait::async_trait;
use futures::sink::Sink;

use crate::connection::{Connection, Driver};
use crate::error::SqlError;
use crate::pgwire::commands::{self, Command};
use crate::pgwire::values::{self, sql_error, user_error};
use crate::rows::{Cell, Column, ColumnKind, Outcome, Rows};

/// A client's SQLite connection, opened on its first statement.
struct Sqlite {
    driver: Driver,
    connection: Arc<Mutex<Option<Connection>>>,
}

impl Sqlite {
    /// Runs `job` on the client's connection on a blocking thread.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Connection) -> Result<T, SqlError> + Send + 'static,
    ) -> Result<T, SqlError> {
        let slot = self.connection.clone();
        let driver = self.driver.clone();
        let work = tokio::task::spawn_blocking(move || {
            let mut guard = match slot.lock() {
                Ok(guard) => guard,
                // A statement panicked mid-way: start the client over on a fresh connection.
                Err(poisoned) => {
                    let mut guard = poisoned.into_inner();
                    *guard = None;
                    slot.clear_poison();
                    guard
                }
            };
            let connection = match guard.take() {
                Some(connection) => connection,
                None => driver.connection()?,
            };
            let result = job(&connection);
            *guard = Some(connection);
            result
        });
        work.await.map_err(|error| SqlError::Source(format!("the statement did not finish: {error}")))?
    }
}

/// A statement as `Parse` left it: how it is answered and, for SQL, what it returns.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    sql: String,
    command: Command,
    /// The columns [`Connection::describe`] gave (SQL only).
    columns: Vec<Column>,
    /// The number of parameters it takes (SQL only).
    parameters: usize,
}

/// Parses statements for the extended protocol (describing SQL on the client's connection).
pub(crate) struct Parser {
    sqlite: Arc<Sqlite>,
}

/// One client's query handlers (simple and extended protocol).
pub(crate) struct Session {
    sqlite: Arc<Sqlite>,
    parser: Arc<Parser>,
}

impl Session {
    /// A session for one client; its connection to `driver` opens on its first statement.
    pub(crate) fn new(driver: Driver) -> Self {
        let sqlite = Arc::new(Sqlite { driver, connection: Arc::new(Mutex::new(None)) });
        Session { parser: Arc::new(Parser { sqlite: sqlite.clone() }), sqlite }
    }

    /// Runs one statement of a simple query (`start` bytes into `text`).
    async fn simple(&self, text: &str, start: usize, sql: &str) -> PgWireResult<Response> {
        match commands::classify(sql)? {
            Command::Sql => {
                let owned = sql.to_string();
                match self.sqlite.run(move |connection| connection.run(&owned, &[])).await {
                    Ok(outcome) => Ok(respond(sql, outcome, None)),
                    Err(error) => Err(sql_error(&error, text, start)),
                }
            }
            command => Ok(answer(command)),
        }
    }

    /// Runs a portal's SQL with its bound parameters; `described` are the columns the client was
    /// told (the rows are sent as those types), or `None` to describe the rows by their values.
    async fn execute(&self, portal: &Portal<Prepared>, described: Option<&[Column]>) -> PgWireResult<Response> {
        let statement = &portal.statement.statement;
        let cells =
            values::parameters(&portal.parameters, &portal.parameter_format, &portal.statement.parameter_types)?;
        if cells.len() != statement.parameters {
            return Err(user_error(
                "08P01",
                format!(
                    "bind message supplies {} parameters, but the statement requires {}",
                    cells.len(),
                    statement.parameters
                ),
            ));
        }
        let sql = statement.sql.clone();
        let outcome = self
            .sqlite
            .run(move |connection| connection.run(&sql, &cells))
            .await
            .map_err(|error| sql_error(&error, &statement.sql, 0))?;
        Ok(respond(&statement.sql, outcome, described))
    }
}

/// The answer to a command the endpoint handles itself.
fn answer(command: Command) -> Response {
    match command {
        Command::Begin => Response::TransactionStart(Tag::new("BEGIN")),
        Command::End { tag } => Response::TransactionEnd(Tag::new(tag)),
        Command::Accepted { tag } => Response::Execution(Tag::new(tag)),
        Command::Value { column, value } => {
            let rows = Rows {
                columns: vec![Column { name: column, kind: ColumnKind::Text }],
                rows: vec![vec![Cell::Text(value)]],
            };
            rows_response(&rows, None)
        }
        Command::Sql => Response::EmptyQuery,
    }
}

/// What a statement's outcome is on the wire.
fn respond(sql: &str, outcome: Outcome, described: Option<&[Column]>) -> Response {
    match outcome {
        Outcome::Rows(rows) => rows_response(&rows, described),
        Outcome::Affected(count) => Response::Execution(write_tag(sql, count)),
    }
}

/// `INSERT 0 n`, `UPDATE n`, `DELETE n`, or the statement's first word.
fn write_tag(sql: &str, count: usize) -> Tag {
    let verb = commands::first_word(sql);
    match verb.as_str() {
        "INSERT" => Tag::new("INSERT").with_oid(0).with_rows(count),
        "UPDATE" | "DELETE" => Tag::new(&verb).with_rows(count),
        _ => Tag::new(&verb),
    }
}

/// Rows in text format, described as `described` (when the client was told) or as `rows` says.
fn rows_response(rows: &Rows, described: Option<&[Column]>) -> Response {
    let columns = match described {
        Some(described) if described.len() == rows.columns.len() => described,
        _ => &rows.columns,
    };
    let kinds: Vec<ColumnKind> = columns.iter().map(|column| column.kind).collect();
    let schema = Arc::new(values::fields(columns));
    let options = FormatOptions::default();
    let mut encoder = DataRowEncoder::new(schema.clone());
    let mut data_rows = Vec::with_capacity(rows.rows.len());
    for row in &rows.rows {
        let encoded = row.iter().zip(&kinds).try_for_each(|(cell, kind)| {
            encoder.encode_field_with_type_and_format(
                &values::text_of(cell, *kind),
                &values::pg_type(*kind),
                FieldFormat::Text,
                &options,
            )
        });
        data_rows.push(encoded.map(|()| encoder.take_row()));
    }
    Response::Query(QueryResponse::new(schema, futures::stream::iter(data_rows)))
}

fn error_response(error: PgWireError) -> Response {
    Response::Error(Box::new(ErrorInfo::from(error)))
}

fn text_only(format: &Format) -> PgWireResult<()> {
    if values::all_text(format) {
        Ok(())
    } else {
        Err(user_error("0A000", "binary result format is not supported; ask for text results"))
    }
}

#[async_trait]
impl SimpleQueryHandler for Session {
    async fn do_query<C>(&self, _client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = commands::split(query);
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        // Like PostgreSQL, the first failing statement ends the query: the rest do not run.
        let mut responses = Vec::with_capacity(statements.len());
        for (start, sql) in statements {
            match self.simple(query, start, sql).await {
                Ok(response) => responses.push(response),
                Err(error) => {
                    responses.push(error_response(error));
                    break;
                }
            }
        }
        Ok(responses)
    }
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(&self, _client: &C, sql: &str, _types: &[Option<Type>]) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if commands::split(sql).len() > 1 {
            return Err(user_error("42601", "cannot insert multiple commands into a prepared statement"));
        }
        let command = commands::classify(sql)?;
        let sql = &commands::positional_parameters(sql);
        let (columns, parameters) = if command == Command::Sql {
            let owned = sql.to_string();
            let info = self
                .sqlite
                .run(move |connection| connection.describe(&owned))
                .await
                .map_err(|error| sql_error(&error, sql, 0))?;
            (info.columns, info.parameters)
        } else {
            (Vec::new(), 0)
        };
        Ok(Some(Prepared { sql: sql.to_string(), command, columns, parameters }))
    }

    fn get_parameter_types(&self, statement: &Prepared) -> PgWireResult<Vec<Type>> {
        // SQLite does not type parameters; `text` is what PostgreSQL infers for an unknown one.
        Ok(vec![Type::TEXT; statement.parameters])
    }

    fn get_result_schema(&self, statement: &Prepared, _format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        Ok(match &statement.command {
            Command::Value { column, .. } => values::fields(&[Column { name: column.clone(), kind: ColumnKind::Text }]),
            Command::Sql => values::fields(&statement.columns),
            _ => Vec::new(),
        })
    }
}

#[async_trait]
impl ExtendedQueryHandler for Session {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        portal: &Portal<Prepared>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        text_only(&portal.result_column_format)?;
        let statement = &portal.statement.statement;
        let runs_now = statement.command == Command::Sql
            && !statement.columns.is_empty()
            && matches!(*portal.state().lock().await, PortalExecutionState::Initial);
        if !runs_now {
            return Ok(DescribePortalResponse::new(self.parser.get_result_schema(statement, None)?));
        }
        match self.execute(portal, None).await? {
            Response::Query(results) => {
                let fields = results.row_schema().as_ref().clone();
                portal.start(results).await;
                Ok(DescribePortalResponse::new(fields))
            }
            _ => Ok(DescribePortalResponse::new(Vec::new())),
        }
    }

    async fn do_query<C>(&self, _client: &mut C, portal: &Portal<Prepared>, _max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        text_only(&portal.result_column_format)?;
        let statement = &portal.statement.statement;
        match &statement.command {
            Command::Sql => self.execute(portal, Some(&statement.columns)).await,
            command => Ok(answer(command.clone())),
        }
    }
}
