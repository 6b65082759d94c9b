//! The library API: a [`Driver`] opened from a connection string, and [`Connection`]s on it that
//! run SQL.
//!
//! A driver holds the source (the hub engine with the connection string's vendor authorization,
//! or a running Junction's hub API) and the tables; a connection is an in-memory SQLite database in
//! which every table is an eponymous virtual table ([`crate::vtab`]) plus the metadata views
//! `sys_tables` and `sys_tablecolumns`. Connections are cheap: the PostgreSQL endpoint opens one
//! per client. A connection's methods block; call them from a thread that is not a Tokio worker
//! (see [`crate::engine`]).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use connector::endpoints::VendorEndpoints;
use connector::rate_limit::VendorRateLimiter;
use connector::VendorClient;
use domain::vendor_limits::VendorLimits;
use hub::{CursorSigner, Hub};
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::ValueRef;
use serde_json::{json, Value};

use crate::auth::{sign_in, SignInOptions};
use crate::connection_string::{self, ConnectionSettings, Mode, VendorAuth};
use crate::engine::{Engine, ProgressCallback, Shared};
use crate::error::SqlError;
use crate::explain::Explain;
use crate::instance_source::InstanceSource;
use crate::rows::{Cell, Column, ColumnKind, Outcome, Rows};
use crate::tables::{self, TableDef};
use crate::vendor_source::{CallCounter, VendorSource};
use crate::vtab::HubTable;

/// Records per page when the connection string names no `Pagesize`.
const DEFAULT_PAGE_SIZE: usize = 1000;

/// An opened connection string: the source and its tables. Cheap to clone.
#[derive(Clone)]
pub struct Driver {
    engine: Arc<Engine>,
    /// The runtime the driver made for itself when opened outside one ([`Driver::open`]).
    _runtime: Option<Arc<OwnRuntime>>,
}

/// A runtime the driver owns. Dropped without waiting for its blocking threads, so that a driver
/// (or a connection) may be dropped anywhere, an async context included, where a plain
/// `Runtime`'s drop would panic.
struct OwnRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("tables", &self.engine.tables.len()).finish_non_exhaustive()
    }
}

impl Driver {
    /// Opens `connection_string` from a plain thread: the driver runs its own Tokio runtime.
    pub fn open(connection_string: &str) -> Result<Driver, SqlError> {
        let settings = connection_string::parse(connection_string)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("junction-sql")
            .enable_all()
            .build()
            .map_err(|error| SqlError::Startup(error.to_string()))?;
        let mut driver = runtime.block_on(Driver::connect(settings))?;
        driver._runtime = Some(Arc::new(OwnRuntime(Some(runtime))));
        Ok(driver)
    }

    /// Opens `settings` on the current Tokio runtime, signing in to the vendor as the settings say
    /// (a browser sign-in prints its URL on stderr). Its connections must then be used from
    /// blocking threads of that runtime.
    pub async fn connect(settings: ConnectionSettings) -> Result<Driver, SqlError> {
        Driver::connect_with(settings, &SignInOptions::default()).await
    }

    /// [`Driver::connect`], with how a browser sign-in is shown and how long it may take.
    pub async fn connect_with(
        settings: ConnectionSettings,
        sign_in_options: &SignInOptions,
    ) -> Result<Driver, SqlError> {
        let runtime = tokio::runtime::Handle::current();
        let page_size = settings.page_size.map_or(DEFAULT_PAGE_SIZE, |size| size as usize);
        let (source, vendor_calls, tables): (Arc<dyn crate::source::Source>, _, Vec<TableDef>) = match &settings.mode {
            Mode::Vendor { auth, vendor_url, .. } => {
                let endpoints = match vendor_url {
                    Some(url) => {
                        VendorEndpoints::simulator(url).map_err(|_| SqlError::ConnectionString(invalid_vendor_url()))?
                    }
                    None => VendorEndpoints::infusionsoft(),
                };
                let access = sign_in(auth, &endpoints, sign_in_options)
                    .await
                    .map_err(|error| SqlError::SignIn(error.to_string()))?;
                // A key has its own, lower limits at the vendor: paced at the OAuth client's 25/s,
                // a quick run of queries would meet the vendor's 429 instead of waiting its turn.
                let limits = match auth {
                    VendorAuth::OAuth(_) => VendorLimits::DEFAULT,
                    VendorAuth::ApiKey(_) => VendorLimits::API_KEY,
                };
                let limiter = Arc::new(VendorRateLimiter::new(limits, settings.timeout, 1000));
                let client = VendorClient::new(endpoints, limiter, settings.timeout)
                    .map_err(|error| SqlError::Startup(error.to_string()))?;
                let counter = Arc::new(CallCounter::default());
                let source = VendorSource {
                    hub: Hub::new(Arc::new(client), Arc::new(LocalSigner)),
                    access,
                    counter: counter.clone(),
                };
                let count: Arc<dyn Fn() -> u64 + Send + Sync> = Arc::new(move || counter.calls());
                (Arc::new(source), Some(count), tables::vendor_tables())
            }
            Mode::Instance { url, user, element } => {
                let source = InstanceSource::new(url, user, element, settings.timeout)?;
                let tables = source.tables().await?;
                (Arc::new(source), None, tables)
            }
        };
        let tables = tables.into_iter().map(Arc::new).collect();
        let engine = Engine { source, tables, runtime, page_size, max_rows: settings.max_rows, vendor_calls };
        Ok(Driver { engine: Arc::new(engine), _runtime: None })
    }

    /// A new connection: its own SQLite database over the driver's tables.
    pub fn connection(&self) -> Result<Connection, SqlError> {
        let db = rusqlite::Connection::open_in_memory()?;
        let shared = Arc::new(Shared::new(self.engine.clone()));
        for table in &self.engine.tables {
            let module = rusqlite::vtab::update_module::<HubTable>();
            db.create_module(table.name.as_str(), module, Some((shared.clone(), table.clone())))?;
        }
        db.execute_batch(&metadata_views(&self.engine.tables))?;
        let targets = shared.clone();
        db.authorizer(Some(move |context: AuthContext<'_>| {
            match context.action {
                AuthAction::Update { table_name, .. } | AuthAction::Delete { table_name } => {
                    targets.add_write_target(table_name)
                }
                _ => {}
            }
            Authorization::Allow
        }));
        Ok(Connection { db, shared, _driver: self.clone() })
    }
}

/// One SQLite database over a driver's tables. Not `Sync`: one statement at a time.
pub struct Connection {
    db: rusqlite::Connection,
    shared: Arc<Shared>,
    _driver: Driver,
}

/// What a statement will answer, known before it runs (the PostgreSQL endpoint's `Describe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementInfo {
    /// The columns of its rows (empty for a write).
    pub columns: Vec<Column>,
    /// The number of `?`/`$n` parameters it takes.
    pub parameters: usize,
}

impl Connection {
    /// Opens `connection_string` and a connection on it (a driver of its own).
    pub fn open(connection_string: &str) -> Result<Connection, SqlError> {
        Driver::open(connection_string)?.connection()
    }

    /// Runs a query and returns its rows.
    pub fn query(&self, sql: &str) -> Result<Rows, SqlError> {
        match self.run(sql, &[])? {
            Outcome::Rows(rows) => Ok(rows),
            Outcome::Affected(_) => Ok(Rows::default()),
        }
    }

    /// Runs a write and returns the number of records it changed.
    pub fn execute(&self, sql: &str) -> Result<usize, SqlError> {
        match self.run(sql, &[])? {
            Outcome::Affected(count) => Ok(count),
            Outcome::Rows(rows) => Ok(rows.rows.len()),
        }
    }

    /// Runs one statement with `parameters` bound to its `?`/`$n` in order.
    pub fn run(&self, sql: &str, parameters: &[Cell]) -> Result<Outcome, SqlError> {
        self.shared.clear_write_targets();
        let mut statement = self.db.prepare(sql)?;
        self.run_prepared(&mut statement, parameters)
    }

    /// Runs every statement of `sql` in order (a script, `junction sql -f`), stopping at the first
    /// that fails; returns each one's outcome.
    pub fn run_script(&self, sql: &str) -> Result<Vec<Outcome>, SqlError> {
        let mut batch = rusqlite::Batch::new(&self.db, sql);
        let mut outcomes = Vec::new();
        loop {
            self.shared.clear_write_targets();
            let Some(mut statement) = batch.next()? else { break };
            outcomes.push(self.run_prepared(&mut statement, &[])?);
        }
        Ok(outcomes)
    }

    /// The columns and parameters of a statement, without running it.
    pub fn describe(&self, sql: &str) -> Result<StatementInfo, SqlError> {
        let statement = self.db.prepare(sql)?;
        Ok(StatementInfo { columns: columns_of(&statement), parameters: statement.parameter_count() })
    }

    /// What the last statement cost at the source.
    pub fn explain(&self) -> Explain {
        self.shared.explain()
    }

    /// Calls `progress` after every page read, with the running statement's totals (the CLI's
    /// progress bar); `None` stops it.
    pub fn on_progress(&self, progress: Option<ProgressCallback>) {
        self.shared.set_progress(progress);
    }

    fn run_prepared(&self, statement: &mut rusqlite::Statement<'_>, parameters: &[Cell]) -> Result<Outcome, SqlError> {
        self.shared.begin_statement();
        for (index, cell) in parameters.iter().enumerate() {
            statement.raw_bind_parameter(index + 1, to_sql(cell))?;
        }
        if statement.column_count() == 0 {
            let changed = statement.raw_execute()?;
            return Ok(Outcome::Affected(changed));
        }
        let mut columns = columns_of(statement);
        let max_rows = self.shared.engine.max_rows.unwrap_or(u64::MAX);
        let mut rows = Vec::new();
        let mut results = statement.raw_query();
        while (rows.len() as u64) < max_rows {
            let Some(row) = results.next()? else { break };
            let cells = (0..columns.len()).map(|i| row.get_ref(i).map(cell_of)).collect::<Result<Vec<_>, _>>()?;
            rows.push(cells);
        }
        for (index, column) in columns.iter_mut().enumerate() {
            if column.kind == ColumnKind::Unknown {
                column.kind = kind_of_cells(rows.iter().map(|row| &row[index]));
            }
        }
        let returned = rows.len() as u64;
        self.shared.count_returned(returned);
        Ok(Outcome::Rows(Rows { columns, rows }))
    }
}

fn columns_of(statement: &rusqlite::Statement<'_>) -> Vec<Column> {
    statement
        .columns()
        .iter()
        .map(|column| Column {
            name: column.name().to_string(),
            kind: column.decl_type().map_or(ColumnKind::Unknown, ColumnKind::from_declared),
        })
        .collect()
}

/// The kind of a computed column, from the first value in it.
fn kind_of_cells<'a>(mut cells: impl Iterator<Item = &'a Cell>) -> ColumnKind {
    match cells.find(|cell| !matches!(cell, Cell::Null)) {
        Some(Cell::Integer(_)) => ColumnKind::Integer,
        Some(Cell::Real(_)) => ColumnKind::Real,
        Some(Cell::Blob(_)) => ColumnKind::Blob,
        _ => ColumnKind::Text,
    }
}

fn cell_of(value: ValueRef<'_>) -> Cell {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(number) => Cell::Integer(number),
        ValueRef::Real(number) => Cell::Real(number),
        ValueRef::Text(text) => Cell::Text(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => Cell::Blob(bytes.to_vec()),
    }
}

fn to_sql(cell: &Cell) -> rusqlite::types::Value {
    match cell {
        Cell::Null => rusqlite::types::Value::Null,
        Cell::Integer(number) => rusqlite::types::Value::Integer(*number),
        Cell::Real(number) => rusqlite::types::Value::Real(*number),
        Cell::Text(text) => rusqlite::types::Value::Text(text.clone()),
        Cell::Blob(bytes) => rusqlite::types::Value::Blob(bytes.clone()),
    }
}

/// `sys_tables` and `sys_tablecolumns`, as read-only views over the table definitions.
fn metadata_views(tables: &[Arc<TableDef>]) -> String {
    let table_rows: Vec<Value> = tables
        .iter()
        .map(|table| {
            json!({
                "name": table.name,
                "description": table.description,
                "updateable": table.writes.insert || table.writes.update || table.writes.delete,
            })
        })
        .collect();
    let column_rows: Vec<Value> = tables
        .iter()
        .flat_map(|table| {
            table.columns.iter().enumerate().map(move |(ordinal, column)| {
                json!({
                    "table": table.name,
                    "column": column.name,
                    "type": column.kind.type_name(),
                    "ordinal": ordinal,
                    "readonly": !column.writable,
                    "key": column.key,
                    "filter": column.vendor_filter,
                    "sort": column.sortable,
                    "description": column.description,
                })
            })
        })
        .collect();
    let quote = |value: &Vec<Value>| Value::Array(value.clone()).to_string().replace('\'', "''");
    format!(
        "CREATE TEMP VIEW sys_tables AS SELECT 'Infusionsoft' AS CatalogName, 'Infusionsoft' AS SchemaName, \
           value->>'name' AS TableName, 'TABLE' AS TableType, value->>'description' AS Description, \
           value->>'updateable' AS IsUpdateable FROM json_each('{tables}');
         CREATE TEMP VIEW sys_tablecolumns AS SELECT 'Infusionsoft' AS CatalogName, 'Infusionsoft' AS SchemaName, \
           value->>'table' AS TableName, value->>'column' AS ColumnName, value->>'type' AS DataTypeName, \
           value->>'ordinal' AS Ordinal, value->>'readonly' AS IsReadOnly, value->>'key' AS IsKey, \
           1 AS IsNullable, value->>'filter' AS IsFilterableAtVendor, value->>'sort' AS IsSortableAtVendor, \
           value->>'description' AS Description FROM json_each('{columns}');",
        tables = quote(&table_rows),
        columns = quote(&column_rows),
    )
}

fn invalid_vendor_url() -> connection_string::ConnectionStringError {
    connection_string::ConnectionStringError::InvalidUrl { property: "VendorURL", reason: "is not a base URL" }
}

/// Signs list cursors. They never leave the process, so any stable hash will do: the signature
/// only tells a cursor of one query from another's.
struct LocalSigner;

impl CursorSigner for LocalSigner {
    fn sign(&self, text: &str) -> String {
        let mut hasher = DefaultHasher::new();
        text.hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }
}
