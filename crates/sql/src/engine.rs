//! What every connection of one driver shares ([`Engine`]: the source, the tables, the runtime
//! that runs source calls) and what the tables of one connection share ([`Shared`]: the report of
//! the statement running, the progress callback, each table's state between a read and a write).
//!
//! SQLite calls the virtual tables synchronously; the source is async. [`Shared::run`] blocks the
//! calling thread on the engine's Tokio runtime, so a [`crate::Connection`] is best used from a
//! plain thread or `spawn_blocking` (on a multi-thread runtime's worker it still works, at the cost
//! of that worker).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::error::SqlError;
use crate::explain::{Explain, ScanReport};
use crate::source::Source;
use crate::tables::TableDef;
use crate::vtab::{Row, TableState};

/// The driver's parts, shared by its connections.
pub(crate) struct Engine {
    pub(crate) source: Arc<dyn Source>,
    pub(crate) tables: Vec<Arc<TableDef>>,
    pub(crate) runtime: tokio::runtime::Handle,
    /// Records asked for per page.
    pub(crate) page_size: usize,
    /// The most rows a query returns (`MaxRows`).
    pub(crate) max_rows: Option<u64>,
    /// The vendor calls made so far, when the source counts them (vendor mode).
    pub(crate) vendor_calls: Option<Arc<dyn Fn() -> u64 + Send + Sync>>,
}

/// Told after every page a statement reads: the statement's totals so far.
pub type ProgressCallback = Arc<dyn Fn(&Explain) + Send + Sync>;

/// One connection's view of the engine, shared by its tables.
pub(crate) struct Shared {
    pub(crate) engine: Arc<Engine>,
    explain: Mutex<Explain>,
    progress: Mutex<Option<ProgressCallback>>,
    states: Mutex<HashMap<String, Arc<TableState>>>,
    /// The tables the statement being prepared or run updates or deletes from (SQLite's
    /// authorizer names them while it prepares the statement).
    write_targets: Mutex<Vec<String>>,
    /// The complete reads of the statement running, so that SQLite reading a table again with the
    /// same conditions (a join's inner table, once per outer row) costs no vendor call.
    reads: Mutex<ReadCache>,
}

/// Complete reads by table and conditions, up to [`MAX_CACHED_RECORDS`] records in all.
#[derive(Default)]
struct ReadCache {
    reads: HashMap<ReadKey, Arc<Vec<Row>>>,
    records: usize,
}

/// What makes two reads the same: the table, and the conditions and sort handed to the source.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ReadKey {
    pub(crate) table: String,
    pub(crate) where_: Option<String>,
    pub(crate) order_by: Option<String>,
    pub(crate) parent_id: Option<String>,
}

/// The most records one statement keeps for reads it may repeat (about the memory of a few
/// hundred megabytes of records at the very worst; typically a few megabytes).
pub(crate) const MAX_CACHED_RECORDS: usize = 200_000;

/// A read as `--explain` groups them: a table and its conditions without their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TablePlan {
    pub(crate) table: String,
    pub(crate) conditions: Vec<String>,
    pub(crate) order_by: Option<String>,
    pub(crate) vendor_filters: Option<Vec<String>>,
}

impl Shared {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        Shared {
            engine,
            explain: Mutex::new(Explain::default()),
            progress: Mutex::new(None),
            states: Mutex::new(HashMap::new()),
            write_targets: Mutex::new(Vec::new()),
            reads: Mutex::new(ReadCache::default()),
        }
    }

    /// Runs a source call to completion on the engine's runtime. On a worker of a multi-thread
    /// runtime the worker is first handed back (`block_in_place`), so a caller that forgot
    /// `spawn_blocking` gets its answer rather than a panic; a current-thread runtime cannot do
    /// that, and is refused.
    pub(crate) fn run<T>(&self, call: impl Future<Output = Result<T, SqlError>>) -> Result<T, SqlError> {
        match tokio::runtime::Handle::try_current().map(|current| current.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::CurrentThread) => {
                Err(SqlError::Startup("a connection cannot be used on a current-thread Tokio runtime".into()))
            }
            Ok(_) => tokio::task::block_in_place(|| self.engine.runtime.block_on(call)),
            Err(_) => self.engine.runtime.block_on(call),
        }
    }

    /// [`Shared::run`], and the vendor calls it made.
    pub(crate) fn run_counted<T>(&self, call: impl Future<Output = Result<T, SqlError>>) -> Result<(T, u64), SqlError> {
        let before = self.vendor_calls();
        let result = self.run(call)?;
        Ok((result, self.vendor_calls().saturating_sub(before)))
    }

    fn vendor_calls(&self) -> u64 {
        self.engine.vendor_calls.as_ref().map_or(0, |count| count())
    }

    /// The state of table `name` in this connection.
    pub(crate) fn state(&self, name: &str) -> Arc<TableState> {
        let mut states = self.states.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        states.entry(name.to_string()).or_default().clone()
    }

    /// Forgets the tables the last statement wrote (call before preparing the next).
    pub(crate) fn clear_write_targets(&self) {
        self.write_targets.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }

    /// Notes that the statement being prepared updates or deletes from `table`.
    pub(crate) fn add_write_target(&self, table: &str) {
        let mut targets = self.write_targets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !targets.iter().any(|known| known.eq_ignore_ascii_case(table)) {
            targets.push(table.to_string());
        }
    }

    /// Whether the statement running updates or deletes from `table`.
    pub(crate) fn is_write_target(&self, table: &str) -> bool {
        let targets = self.write_targets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        targets.iter().any(|known| known.eq_ignore_ascii_case(table))
    }

    /// The records of an earlier complete read with the same key in this statement.
    pub(crate) fn cached_read(&self, key: &ReadKey) -> Option<Arc<Vec<Row>>> {
        self.reads.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).reads.get(key).cloned()
    }

    /// Whether `more` records may still be kept (a read stops collecting once this says no).
    pub(crate) fn may_cache(&self, more: usize) -> bool {
        let cache = self.reads.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.records.saturating_add(more) <= MAX_CACHED_RECORDS
    }

    /// Keeps a complete read for the rest of the statement.
    pub(crate) fn cache_read(&self, key: ReadKey, records: Vec<Row>) {
        let mut cache = self.reads.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.records.saturating_add(records.len()) <= MAX_CACHED_RECORDS {
            cache.records += records.len();
            cache.reads.insert(key, Arc::new(records));
        }
    }

    fn forget_reads(&self) {
        *self.reads.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = ReadCache::default();
    }

    /// Starts the report of a new statement; forgets what the last one read.
    pub(crate) fn begin_statement(&self) {
        self.forget_reads();
        *self.explain.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Explain::default();
        let states = self.states.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for state in states.values() {
            if let Ok(mut rows) = state.read_for_write.lock() {
                rows.clear();
            }
            if let Ok(mut named) = state.key_named.lock() {
                *named = false;
            }
        }
    }

    /// The report of the statement running (or last run).
    pub(crate) fn explain(&self) -> Explain {
        self.explain.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub(crate) fn set_progress(&self, callback: Option<ProgressCallback>) {
        *self.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = callback;
    }

    /// Counts one more read of `plan`; returns the index of its report.
    pub(crate) fn plan_scan(&self, plan: TablePlan) -> usize {
        let mut explain = self.explain.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let found = explain.scans.iter().position(|scan| {
            scan.table == plan.table && scan.conditions == plan.conditions && scan.order_by == plan.order_by
        });
        let index = found.unwrap_or_else(|| {
            explain.scans.push(ScanReport {
                table: plan.table,
                conditions: plan.conditions,
                order_by: plan.order_by,
                vendor_filters: plan.vendor_filters,
                ..ScanReport::default()
            });
            explain.scans.len() - 1
        });
        explain.scans[index].reads += 1;
        index
    }

    /// Counts a page of the read reported at `report`.
    pub(crate) fn count_page(&self, report: usize, calls: u64, read: usize, matched: usize) {
        let snapshot = {
            let mut explain = self.explain.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            explain.vendor_calls += calls;
            explain.rows_read += read as u64;
            explain.rows_matched += matched as u64;
            if let Some(scan) = explain.scans.get_mut(report) {
                scan.pages += 1;
                scan.vendor_calls += calls;
                scan.rows_read += read as u64;
                scan.rows_matched += matched as u64;
            }
            explain.clone()
        };
        let progress = self.progress.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        if let Some(progress) = progress {
            progress(&snapshot);
        }
    }

    /// Records the rows a statement returned.
    pub(crate) fn count_returned(&self, rows: u64) {
        self.explain.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).rows_returned = rows;
    }

    /// Counts a record written (and forgets the reads it may have made stale).
    pub(crate) fn note_write(&self) {
        self.forget_reads();
        self.explain.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).records_written += 1;
    }
}
