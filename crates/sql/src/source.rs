//! [`Source`]: where a table's records come from and where its writes go — the hub engine in this
//! process (vendor mode, [`crate::vendor_source`]) or a running Junction's hub API (instance
//! mode). The virtual tables ([`crate::vtab`]) call it and know nothing of either.
//!
//! Reads are one page per call, so that SQLite pulls only the pages it needs (a `LIMIT 5` reads
//! one) and a progress bar can count them.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::error::SqlError;
use crate::tables::TableDef;

/// A record, under the hub's field names.
pub type Record = Map<String, Value>;

/// What a read asks of a table.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// The conditions handed to the hub, as CEQL (`Email = 'a@b.com' AND Id >= 10`).
    pub where_: Option<String>,
    /// The vendor sort, as the hub's `orderBy` (`LastUpdated desc`).
    pub order_by: Option<String>,
    /// For a child table: the parent record's id.
    pub parent_id: Option<String>,
    /// Where this page starts (`None`: the first page).
    pub from: Option<SourceCursor>,
    /// Records wanted in this page (the source may return fewer, or cap it).
    pub page_size: usize,
}

/// Where the next page of a read starts; plain data the source alone reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceCursor {
    /// A hub scan's position.
    Position(hub::Position),
    /// A hub list's `nextPage` cursor.
    NextPage(String),
}

/// One page of a read.
#[derive(Debug, Clone, Default)]
pub struct SourcePage {
    /// The records of the page that match the `where` (the hub evaluated it whole).
    pub records: Vec<Record>,
    /// Records the vendor sent for this page, matching or not (`None`: not known).
    pub read: Option<usize>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<SourceCursor>,
}

/// Reads and writes of the tables, one call each.
#[async_trait]
pub trait Source: Send + Sync {
    /// One page of `table`'s records that match `request`.
    async fn read(&self, table: &TableDef, request: &ScanRequest) -> Result<SourcePage, SqlError>;
    /// Creates a record; returns it as stored.
    async fn create(&self, table: &TableDef, record: Record) -> Result<Record, SqlError>;
    /// Changes the given fields of record `id`.
    async fn update(&self, table: &TableDef, id: &str, changes: Record) -> Result<(), SqlError>;
    /// Deletes record `id`.
    async fn delete(&self, table: &TableDef, id: &str) -> Result<(), SqlError>;

    /// The vendor `filter` of each vendor query a read with `where_` makes, for `--explain`
    /// (`None`: the source does not know, as when Junction makes the calls).
    fn vendor_filters(&self, _table: &TableDef, _where_: Option<&str>) -> Option<Vec<String>> {
        None
    }
}
