//! Each table as an SQLite virtual table: SQLite plans and runs the statement (joins, aggregates,
//! `GROUP BY`, window functions, CTEs) and asks this module for rows; this module hands the
//! conditions it can to the hub and reads one source page at a time.
//!
//! # Push-down
//! [`best_index`](HubTable::best_index) takes every usable condition the column allows
//! ([`ColumnDef::pushable`]): `=`, ranges, `LIKE`, `IS [NOT] NULL`, a child table's parent id,
//! `LIMIT`/`OFFSET` (as the size of the first page) and one `ORDER BY` on a column the vendor
//! sorts by. SQLite still checks every condition it handed over (`omit` is never set), so the hub
//! may return more than asked, never less: an `IN (…)` arrives as one `=` per value. The chosen
//! conditions travel to [`filter`](HubCursor::filter) in `idx_str` (`column:op` per argument).
//!
//! # Writes
//! `INSERT`, `UPDATE` and `DELETE` go to the source's create, update and delete. SQLite finds the
//! rows to change by reading them first; an `UPDATE` or `DELETE` whose read did not name the
//! record's `Id` is refused at its first row, before anything is written.
//!
//! # Why `unsafe` is allowed here
//! rusqlite's `VTab` and `VTabCursor` are `unsafe` traits: SQLite owns the memory of the table and
//! cursor, so each implementing struct must be `#[repr(C)]` with SQLite's base struct first. This is
//! the only place the crate relaxes the workspace's `unsafe_code` lint, and no `unsafe` block is
//! written here; the implementations below only promise that layout.
#![allow(unsafe_code)]

use std::collections::{HashMap, VecDeque};
use std::os::raw::c_int;
use std::sync::{Arc, Mutex};

use rusqlite::types::ValueRef;
use rusqlite::vtab::{
    sqlite3_vtab, sqlite3_vtab_cursor, Context, CreateVTab, IndexConstraintOp, IndexInfo, UpdateVTab, VTab,
    VTabConnection, VTabCursor, VTabKind, Values,
};
use serde_json::Value;

use crate::engine::{ReadKey, Shared, TablePlan};
use crate::rows::ColumnKind;
use crate::source::{Record, ScanRequest, SourceCursor};
use crate::tables::{ColumnDef, Op, TableDef};

/// A record as SQLite's rows hold it: shared, so that a read kept for the statement costs no copy.
pub(crate) type Row = Arc<Record>;

/// What each table's module is registered with.
pub(crate) type Aux = (Arc<Shared>, Arc<TableDef>);

/// Costs SQLite compares plans by: roughly, vendor pages read.
const FULL_SCAN_COST: f64 = 1_000_000.0;
const FILTERED_COST: f64 = 1_000.0;
const ONE_RECORD_COST: f64 = 10.0;
/// A child table read without its parent's id walks every parent: the last resort.
const EVERY_PARENT_COST: f64 = 1e12;

/// The virtual table of one [`TableDef`].
#[repr(C)]
pub(crate) struct HubTable {
    base: sqlite3_vtab,
    shared: Arc<Shared>,
    table: Arc<TableDef>,
}

unsafe impl<'vtab> VTab<'vtab> for HubTable {
    type Aux = Aux;
    type Cursor = HubCursor;

    fn connect(_db: &mut VTabConnection, aux: Option<&Aux>, _args: &[&[u8]]) -> rusqlite::Result<(String, Self)> {
        let Some((shared, table)) = aux else {
            return Err(rusqlite::Error::ModuleError("the table was registered without its definition".into()));
        };
        let columns: Vec<String> = table
            .columns
            .iter()
            .map(|column| format!("\"{}\" {}", column.name.replace('"', "\"\""), column.kind.declared()))
            .collect();
        let schema = format!("CREATE TABLE x({})", columns.join(", "));
        Ok((schema, HubTable { base: sqlite3_vtab::default(), shared: shared.clone(), table: table.clone() }))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<()> {
        let mut plan = Vec::new();
        let (mut has_key, mut has_vendor_filter, mut has_parent) = (false, false, false);
        let mut argv = 0;
        let constraints: Vec<(c_int, IndexConstraintOp, bool)> =
            info.constraints().map(|c| (c.column(), c.operator(), c.is_usable())).collect();
        for (index, (column_index, operator, usable)) in constraints.into_iter().enumerate() {
            if !usable {
                continue;
            }
            let pushed = match operator {
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LIMIT => Some("L".to_string()),
                IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_OFFSET => Some("O".to_string()),
                operator => {
                    let column = usize::try_from(column_index).ok().and_then(|i| self.table.columns.get(i));
                    match (column, op_of(&operator)) {
                        (Some(column), Some(op)) if column.pushable(op) => {
                            has_key |= column.key && op == Op::Eq;
                            has_parent |= column.parent_id;
                            has_vendor_filter |= column.vendor_filter && op != Op::IsNotNull;
                            Some(format!("{column_index}:{}", op_code(op)))
                        }
                        _ => None,
                    }
                }
            };
            if let Some(code) = pushed {
                argv += 1;
                info.constraint_usage(index).set_argv_index(argv);
                plan.push(code);
            }
        }
        let order: Vec<(c_int, bool)> = info.order_bys().map(|o| (o.column(), o.is_order_by_desc())).collect();
        if let [(column_index, desc)] = order.as_slice() {
            let column = usize::try_from(*column_index).ok().and_then(|i| self.table.columns.get(i));
            // Only the record's id: the vendor sorts text ignoring case and puts nulls last, and
            // SQLite also asks for an order to group or deduplicate by, so any other column's
            // vendor order could split a group or misplace a row. SQLite sorts those itself.
            if column.is_some_and(|column| column.sortable && column.key) && self.table.child.is_none() {
                plan.push(format!("S{column_index}:{}", if *desc { "d" } else { "a" }));
                info.set_order_by_consumed(true);
            }
        }
        let (cost, rows) = if self.table.child.is_some() && !has_parent {
            (EVERY_PARENT_COST, 1_000_000)
        } else if has_key {
            (ONE_RECORD_COST, 1)
        } else if has_vendor_filter || has_parent {
            (FILTERED_COST, 100)
        } else {
            (FULL_SCAN_COST, 100_000)
        };
        info.set_estimated_cost(cost);
        info.set_estimated_rows(rows);
        info.set_idx_str(&plan.join(","));
        Ok(())
    }

    fn open(&'vtab mut self) -> rusqlite::Result<HubCursor> {
        Ok(HubCursor::new(self.shared.clone(), self.table.clone()))
    }
}

impl CreateVTab<'_> for HubTable {
    const KIND: VTabKind = VTabKind::EponymousOnly;
}

impl UpdateVTab<'_> for HubTable {
    fn delete(&mut self, rowid: ValueRef<'_>) -> rusqlite::Result<()> {
        let id = self.id_to_write(rowid)?;
        if !self.table.writes.delete {
            return Err(read_only(&self.table, "DELETE FROM"));
        }
        self.shared.run(self.shared.engine.source.delete(&self.table, &id)).map_err(module_error)
    }

    fn insert(&mut self, args: &Values<'_>) -> rusqlite::Result<i64> {
        if !self.table.writes.insert {
            return Err(read_only(&self.table, "INSERT INTO"));
        }
        if !matches!(args.iter().nth(1), None | Some(ValueRef::Null)) {
            return Err(rusqlite::Error::ModuleError(format!(
                "INSERT INTO {}: the vendor chooses the record's id (leave rowid out); nothing was inserted",
                self.table.name
            )));
        }
        let mut record = Record::new();
        let mut refused = Vec::new();
        for (column, value) in self.table.columns.iter().zip(args.iter().skip(2)) {
            if matches!(value, ValueRef::Null) {
                continue;
            }
            if !column.writable {
                refused.push(column.name.as_str());
                continue;
            }
            record.insert(column.name.clone(), json_of(column, value));
        }
        if !refused.is_empty() {
            return Err(rusqlite::Error::ModuleError(format!(
                "{} cannot be set on {}: {} (the vendor sets them); nothing was inserted",
                plural("column", refused.len()),
                self.table.name,
                refused.join(", ")
            )));
        }
        let created = self.shared.run(self.shared.engine.source.create(&self.table, record)).map_err(module_error)?;
        self.shared.note_write();
        Ok(key_of(&self.table, &created).and_then(|id| id.parse().ok()).unwrap_or(0))
    }

    fn update(&mut self, args: &Values<'_>) -> rusqlite::Result<()> {
        let old = args.iter().next().unwrap_or(ValueRef::Null);
        let id = self.id_to_write(old)?;
        if args.iter().nth(1) != Some(old) {
            return Err(rusqlite::Error::ModuleError(format!(
                "UPDATE {}: a record's id cannot be changed; nothing was updated",
                self.table.name
            )));
        }
        if !self.table.writes.update {
            return Err(read_only(&self.table, "UPDATE"));
        }
        let before =
            self.shared.state(&self.table.name).read_for_write.lock().ok().and_then(|rows| rows.get(&id).cloned());
        let mut changes = Record::new();
        let mut refused = Vec::new();
        for (column, value) in self.table.columns.iter().zip(args.iter().skip(2)) {
            let value = json_of(column, value);
            let unchanged = before.as_ref().is_some_and(|before| same(column, before.get(&column.name), &value));
            if unchanged {
                continue;
            }
            if !column.writable {
                refused.push(column.name.as_str());
                continue;
            }
            changes.insert(column.name.clone(), value);
        }
        if !refused.is_empty() {
            return Err(rusqlite::Error::ModuleError(format!(
                "{} of {} cannot be changed: {}; nothing was updated",
                plural("column", refused.len()),
                self.table.name,
                refused.join(", ")
            )));
        }
        if changes.is_empty() {
            return Ok(());
        }
        self.shared.run(self.shared.engine.source.update(&self.table, &id, changes)).map_err(module_error)?;
        self.shared.note_write();
        Ok(())
    }
}

impl HubTable {
    /// The id of the record an `UPDATE` or `DELETE` reached, provided the statement named it.
    fn id_to_write(&self, rowid: ValueRef<'_>) -> rusqlite::Result<String> {
        let state = self.shared.state(&self.table.name);
        let named = state.key_named.lock().map(|named| *named).unwrap_or(false);
        if !named || self.table.child.is_some() {
            return Err(needs_key(&self.table));
        }
        match rowid {
            ValueRef::Integer(id) => Ok(id.to_string()),
            ValueRef::Text(text) => Ok(String::from_utf8_lossy(text).into_owned()),
            _ => Err(rusqlite::Error::ModuleError(format!("{}: the record has no id", self.table.name))),
        }
    }
}

/// A read of one table: the conditions of one `filter` call, the page being served and where the
/// next starts.
#[repr(C)]
pub(crate) struct HubCursor {
    base: sqlite3_vtab_cursor,
    shared: Arc<Shared>,
    table: Arc<TableDef>,
    request: ScanRequest,
    /// The plan's report, counted into as pages arrive.
    report: Option<usize>,
    rows: VecDeque<Row>,
    current: Option<Row>,
    /// No page after the buffered rows (the read is complete).
    exhausted: bool,
    /// Serves rows of a child table for one parent after another, when no parent id was given.
    parents: Option<ParentWalk>,
    /// A running row number, for records without an integer id.
    row_number: i64,
    /// Rows served so far, against `limit`.
    served: u64,
    /// The read's key and the records read so far, while it may still be kept for the statement.
    collecting: Option<(ReadKey, Vec<Row>)>,
}

/// The parents a child table's read walks through: their ids not yet read, and the parent read's
/// next page.
struct ParentWalk {
    pending: VecDeque<String>,
    next: Option<SourceCursor>,
    started: bool,
}

impl HubCursor {
    fn new(shared: Arc<Shared>, table: Arc<TableDef>) -> Self {
        HubCursor {
            base: sqlite3_vtab_cursor::default(),
            shared,
            table,
            request: ScanRequest::default(),
            report: None,
            rows: VecDeque::new(),
            current: None,
            exhausted: true,
            parents: None,
            row_number: 0,
            served: 0,
            collecting: None,
        }
    }

    /// Moves to the next row, reading pages (and, for a parent walk, parents) until there is one
    /// or the read is complete.
    fn advance(&mut self) -> rusqlite::Result<()> {
        loop {
            if let Some(row) = self.rows.pop_front() {
                self.current = Some(row);
                self.row_number += 1;
                self.served += 1;
                return Ok(());
            }
            if !self.exhausted {
                self.read_page()?;
                continue;
            }
            if !self.next_parent()? {
                self.current = None;
                return Ok(());
            }
        }
    }

    /// Reads the next page of the current read into `rows`.
    fn read_page(&mut self) -> rusqlite::Result<()> {
        let source = self.shared.engine.source.clone();
        let (page, calls) = self.shared.run_counted(source.read(&self.table, &self.request)).map_err(module_error)?;
        self.exhausted = page.next.is_none();
        self.request.from = page.next;
        // A `LIMIT` sized the first page; if SQLite wants more (its other conditions dropped rows),
        // the rest is read in full pages.
        self.request.page_size = self.shared.engine.page_size;
        let matched = page.records.len();
        if let Some(report) = self.report {
            self.shared.count_page(report, calls, page.read.unwrap_or(matched), matched);
        }
        let mut records = page.records;
        if let (Some(_), Some(parent_id)) = (&self.table.child, &self.request.parent_id) {
            let id = parent_id.parse::<i64>().map_or(Value::String(parent_id.clone()), Value::from);
            for record in &mut records {
                record.insert(self.table.columns[0].name.clone(), id.clone());
            }
        }
        let records: Vec<Row> = records.into_iter().map(Arc::new).collect();
        self.collect(&records);
        self.remember_for_write(&records);
        self.rows.extend(records);
        Ok(())
    }

    /// Adds a page's records to the read being collected; keeps the read once it is complete.
    fn collect(&mut self, records: &[Row]) {
        let Some((_, collected)) = self.collecting.as_mut() else { return };
        if !self.shared.may_cache(collected.len() + records.len()) {
            self.collecting = None;
            return;
        }
        collected.extend(records.iter().cloned());
        if self.exhausted {
            if let Some((key, collected)) = self.collecting.take() {
                self.shared.cache_read(key, collected);
            }
        }
    }

    /// Starts the read of the next parent's children; `false` when there is none.
    fn next_parent(&mut self) -> rusqlite::Result<bool> {
        let Some(walk) = self.parents.as_mut() else { return Ok(false) };
        loop {
            if let Some(parent_id) = walk.pending.pop_front() {
                self.request.parent_id = Some(parent_id);
                self.request.from = None;
                self.exhausted = false;
                return Ok(true);
            }
            if walk.started && walk.next.is_none() {
                return Ok(false);
            }
            walk.started = true;
            let parent = Arc::new(TableDef { child: None, ..(*self.table).clone() });
            let request = ScanRequest {
                from: walk.next.take(),
                page_size: self.shared.engine.page_size,
                ..ScanRequest::default()
            };
            let source = self.shared.engine.source.clone();
            let (page, calls) = self.shared.run_counted(source.read(&parent, &request)).map_err(module_error)?;
            if let Some(report) = self.report {
                self.shared.count_page(report, calls, page.read.unwrap_or(page.records.len()), 0);
            }
            walk.next = page.next;
            walk.pending.extend(page.records.iter().filter_map(|record| match record.get("Id") {
                Some(Value::Number(id)) => Some(id.to_string()),
                Some(Value::String(id)) => Some(id.clone()),
                _ => None,
            }));
        }
    }

    /// Keeps the rows of a read that named the record's id, so that an `UPDATE` sends only the
    /// columns it changes.
    fn remember_for_write(&self, records: &[Row]) {
        if !self.table.writes.update {
            return;
        }
        let state = self.shared.state(&self.table.name);
        let named = state.key_named.lock().map(|named| *named).unwrap_or(false);
        if !named {
            return;
        }
        let Ok(mut rows) = state.read_for_write.lock() else { return };
        for record in records {
            if let Some(id) = key_of(&self.table, record) {
                rows.insert(id, record.clone());
            }
        }
    }
}

unsafe impl VTabCursor for HubCursor {
    fn filter(&mut self, _idx_num: c_int, idx_str: Option<&str>, args: &Values<'_>) -> rusqlite::Result<()> {
        let mut conditions = Vec::new();
        let mut template = Vec::new();
        let (mut parent_id, mut order_by, mut limit, mut offset) = (None, None, None, None);
        let mut key_named = false;
        let mut impossible = false;
        let mut values = args.iter();
        for code in idx_str.unwrap_or_default().split(',').filter(|code| !code.is_empty()) {
            if let Some(sort) = code.strip_prefix('S') {
                order_by = sort_of(&self.table, sort);
                continue;
            }
            let Some(value) = values.next() else { break };
            match code {
                "L" => limit = integer(value),
                "O" => offset = integer(value),
                code => {
                    let Some((column, op)) = decode(&self.table, code) else { continue };
                    if column.parent_id {
                        match value {
                            ValueRef::Integer(id) => parent_id = Some(id.to_string()),
                            ValueRef::Text(text) => parent_id = Some(String::from_utf8_lossy(text).into_owned()),
                            _ => impossible = true,
                        }
                        template.push(format!("{} = ?", column.name));
                        continue;
                    }
                    match condition(column, op, value) {
                        Condition::Ceql(text) => {
                            key_named |= column.key && op == Op::Eq;
                            template.push(shape(column, op));
                            conditions.push(text);
                        }
                        Condition::Never => impossible = true,
                        Condition::Keep => {}
                    }
                }
            }
        }
        if !key_named && self.shared.is_write_target(&self.table.name) {
            return Err(needs_key(&self.table));
        }
        let state = self.shared.state(&self.table.name);
        if let Ok(mut named) = state.key_named.lock() {
            *named = key_named;
        }
        let page_size = self.shared.engine.page_size;
        let wanted = limit.map(|limit| limit.saturating_add(offset.unwrap_or(0)));
        self.request = ScanRequest {
            where_: (!conditions.is_empty()).then(|| conditions.join(" AND ")),
            order_by,
            parent_id: parent_id.clone(),
            from: None,
            page_size: wanted
                .map_or(page_size, |wanted| usize::try_from(wanted).unwrap_or(page_size).clamp(1, page_size)),
        };
        self.rows.clear();
        self.current = None;
        self.served = 0;
        let plan = TablePlan {
            table: self.table.name.clone(),
            conditions: template,
            order_by: self.request.order_by.clone(),
            vendor_filters: self.shared.engine.source.vendor_filters(&self.table, self.request.where_.as_deref()),
        };
        self.report = Some(self.shared.plan_scan(plan));
        if impossible {
            self.exhausted = true;
            self.parents = None;
            return Ok(());
        }
        let key = ReadKey {
            table: self.table.name.clone(),
            where_: self.request.where_.clone(),
            order_by: self.request.order_by.clone(),
            parent_id: self.request.parent_id.clone(),
        };
        if let Some(records) = self.shared.cached_read(&key) {
            self.remember_for_write(&records);
            self.rows = records.iter().cloned().collect();
            self.exhausted = true;
            self.parents = None;
            self.collecting = None;
            return self.advance();
        }
        self.exhausted = self.table.child.is_some() && parent_id.is_none();
        self.parents = self.exhausted.then(|| ParentWalk { pending: VecDeque::new(), next: None, started: false });
        // A parent walk's rows are not one read of the source: they are not kept.
        self.collecting = (!self.exhausted).then(|| (key, Vec::new()));
        self.advance()
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.advance()
    }

    fn eof(&self) -> bool {
        self.current.is_none()
    }

    fn column(&self, ctx: &mut Context, i: c_int) -> rusqlite::Result<()> {
        let column = usize::try_from(i).ok().and_then(|i| self.table.columns.get(i));
        let (Some(column), Some(row)) = (column, self.current.as_ref()) else {
            return ctx.set_result(&rusqlite::types::Null);
        };
        set_cell(ctx, column, row.get(&column.name))
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        let id = self.current.as_ref().and_then(|row| key_of(&self.table, row)).and_then(|id| id.parse().ok());
        Ok(id.unwrap_or(self.row_number))
    }
}

/// What a condition handed to a table becomes.
enum Condition {
    /// A CEQL condition for the hub.
    Ceql(String),
    /// No row can match (a comparison with NULL).
    Never,
    /// Not expressible in CEQL the same way: left to SQLite alone.
    Keep,
}

fn condition(column: &ColumnDef, op: Op, value: ValueRef<'_>) -> Condition {
    let field = format!("`{}`", column.name.replace('`', "``"));
    match op {
        Op::IsNull => return Condition::Ceql(format!("{field} IS NULL")),
        Op::IsNotNull => return Condition::Ceql(format!("{field} IS NOT NULL")),
        _ => {}
    }
    if matches!(value, ValueRef::Null) {
        return Condition::Never;
    }
    let Some(literal) = literal(column.kind, value) else { return Condition::Keep };
    if column.kind == ColumnKind::DateTime && op != Op::Eq {
        return date_range(&field, op, value);
    }
    let operator = match op {
        Op::Eq => "=",
        Op::Like => "LIKE",
        Op::Ge => ">=",
        Op::Le => "<=",
        Op::Gt => ">",
        Op::Lt => "<",
        Op::IsNull | Op::IsNotNull => return Condition::Keep,
    };
    Condition::Ceql(format!("{field} {operator} {literal}"))
}

/// A range on a date-time, widened by a day. CEQL compares instants and SQLite compares text, and
/// the two disagree near the bound (`…:00Z` and `…:00.000Z`, a literal with a zone offset); a day
/// more on the open side covers every such case, and SQLite's own check gives the exact answer.
fn date_range(field: &str, op: Op, value: ValueRef<'_>) -> Condition {
    let ValueRef::Text(text) = value else { return Condition::Keep };
    let Some(instant) = std::str::from_utf8(text).ok().and_then(ceql::instant::parse_instant) else {
        return Condition::Keep;
    };
    let day = chrono::Duration::days(1);
    let (operator, bound) = match op {
        Op::Gt | Op::Ge => (">=", instant - day),
        Op::Lt | Op::Le => ("<=", instant + day),
        _ => return Condition::Keep,
    };
    Condition::Ceql(format!("{field} {operator} '{}'", ceql::instant::render_instant(bound)))
}

/// `value` as a CEQL literal for a column of `kind`, when CEQL reads it as SQLite compares it.
fn literal(kind: ColumnKind, value: ValueRef<'_>) -> Option<String> {
    let quote = |text: &str| format!("'{}'", text.replace('\'', "''"));
    match (kind, value) {
        (ColumnKind::Integer | ColumnKind::Real, ValueRef::Integer(number)) => Some(number.to_string()),
        (ColumnKind::Integer | ColumnKind::Real, ValueRef::Real(number)) => {
            number.is_finite().then(|| number.to_string())
        }
        (ColumnKind::Integer | ColumnKind::Real, ValueRef::Text(text)) => {
            let number: f64 = std::str::from_utf8(text).ok()?.trim().parse().ok()?;
            number.is_finite().then(|| number.to_string())
        }
        (ColumnKind::Boolean, ValueRef::Integer(0)) => Some("false".into()),
        (ColumnKind::Boolean, ValueRef::Integer(1)) => Some("true".into()),
        (ColumnKind::Text, ValueRef::Text(text)) => Some(quote(std::str::from_utf8(text).ok()?)),
        (ColumnKind::Text, ValueRef::Integer(number)) => Some(quote(&number.to_string())),
        (ColumnKind::DateTime, ValueRef::Text(text)) => {
            let text = std::str::from_utf8(text).ok()?;
            ceql::instant::parse_instant(text).is_some().then(|| quote(text))
        }
        _ => None,
    }
}

fn op_of(operator: &IndexConstraintOp) -> Option<Op> {
    Some(match operator {
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ => Op::Eq,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GT => Op::Gt,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_GE => Op::Ge,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LT => Op::Lt,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LE => Op::Le,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LIKE => Op::Like,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_ISNULL => Op::IsNull,
        IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_ISNOTNULL => Op::IsNotNull,
        _ => return None,
    })
}

const OPS: [(Op, &str); 8] = [
    (Op::Eq, "eq"),
    (Op::Gt, "gt"),
    (Op::Ge, "ge"),
    (Op::Lt, "lt"),
    (Op::Le, "le"),
    (Op::Like, "like"),
    (Op::IsNull, "null"),
    (Op::IsNotNull, "notnull"),
];

fn op_code(op: Op) -> &'static str {
    OPS.iter().find(|(known, _)| *known == op).map_or("eq", |(_, code)| code)
}

/// The column and operator of a `column:op` code of `idx_str`.
fn decode<'t>(table: &'t TableDef, code: &str) -> Option<(&'t ColumnDef, Op)> {
    let (column, op) = code.split_once(':')?;
    let column = table.columns.get(column.parse::<usize>().ok()?)?;
    let op = OPS.iter().find(|(_, name)| *name == op)?.0;
    Some((column, op))
}

/// The hub's `orderBy` for an `S<column>:<a|d>` code.
fn sort_of(table: &TableDef, code: &str) -> Option<String> {
    let (column, direction) = code.split_once(':')?;
    let column = table.columns.get(column.parse::<usize>().ok()?)?;
    Some(format!("{} {}", column.name, if direction == "d" { "desc" } else { "asc" }))
}

/// A condition as `--explain` shows it, without its value (`Email = ?`).
fn shape(column: &ColumnDef, op: Op) -> String {
    let operator = match op {
        Op::Eq => "= ?",
        Op::Gt => "> ?",
        Op::Ge => ">= ?",
        Op::Lt => "< ?",
        Op::Le => "<= ?",
        Op::Like => "LIKE ?",
        Op::IsNull => "IS NULL",
        Op::IsNotNull => "IS NOT NULL",
    };
    format!("{} {operator}", column.name)
}

fn integer(value: ValueRef<'_>) -> Option<u64> {
    match value {
        ValueRef::Integer(number) => u64::try_from(number).ok(),
        _ => None,
    }
}

/// Sets the SQLite value of `column` from the record's JSON.
fn set_cell(ctx: &mut Context, column: &ColumnDef, value: Option<&Value>) -> rusqlite::Result<()> {
    match value {
        None | Some(Value::Null) => ctx.set_result(&rusqlite::types::Null),
        Some(Value::Bool(flag)) => ctx.set_result(&i64::from(*flag)),
        Some(Value::Number(number)) => match (column.kind, number.as_i64()) {
            (ColumnKind::Real, _) | (_, None) => ctx.set_result(&number.as_f64()),
            (_, Some(whole)) => ctx.set_result(&whole),
        },
        Some(Value::String(text)) => match column.kind {
            ColumnKind::Integer => match text.parse::<i64>() {
                Ok(whole) => ctx.set_result(&whole),
                Err(_) => ctx.set_result(text),
            },
            ColumnKind::Boolean if text == "true" || text == "false" => ctx.set_result(&i64::from(text == "true")),
            _ => ctx.set_result(text),
        },
        Some(other) => ctx.set_result(&other.to_string()),
    }
}

/// The JSON a write sends for an SQLite value in `column`.
fn json_of(column: &ColumnDef, value: ValueRef<'_>) -> Value {
    match (column.kind, value) {
        (_, ValueRef::Null) => Value::Null,
        (ColumnKind::Boolean, ValueRef::Integer(number)) => Value::Bool(number != 0),
        (_, ValueRef::Integer(number)) => Value::from(number),
        (_, ValueRef::Real(number)) => serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number),
        (ColumnKind::Boolean, ValueRef::Text(text)) if text.eq_ignore_ascii_case(b"true") => Value::Bool(true),
        (ColumnKind::Boolean, ValueRef::Text(text)) if text.eq_ignore_ascii_case(b"false") => Value::Bool(false),
        (_, ValueRef::Text(text)) => Value::String(String::from_utf8_lossy(text).into_owned()),
        (_, ValueRef::Blob(bytes)) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// Whether a value an `UPDATE` passes is the one read (SQLite passes every column).
fn same(column: &ColumnDef, before: Option<&Value>, after: &Value) -> bool {
    match (before.unwrap_or(&Value::Null), after) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::Number(b)) if column.kind == ColumnKind::Integer => {
            a.parse::<f64>().ok() == b.as_f64()
        }
        (a, b) => a == b,
    }
}

fn key_of(table: &TableDef, record: &Record) -> Option<String> {
    let key = table.columns.iter().find(|column| column.key)?;
    match record.get(&key.name)? {
        Value::Number(id) => Some(id.to_string()),
        Value::String(id) => Some(id.clone()),
        _ => None,
    }
}

fn needs_key(table: &TableDef) -> rusqlite::Error {
    let key = table.columns.iter().find(|column| column.key).map_or("Id", |column| column.name.as_str());
    rusqlite::Error::ModuleError(format!(
        "UPDATE and DELETE on {table} need {key} in the WHERE clause (e.g. WHERE {key} = 12, or {key} IN (12, 13)); nothing was \
         changed",
        table = table.name
    ))
}

fn read_only(table: &TableDef, verb: &str) -> rusqlite::Error {
    rusqlite::Error::ModuleError(format!("{verb} {}: the table is read-only", table.name))
}

fn plural(word: &str, count: usize) -> String {
    if count == 1 {
        format!("the {word}")
    } else {
        format!("the {word}s")
    }
}

fn module_error(error: crate::SqlError) -> rusqlite::Error {
    rusqlite::Error::ModuleError(error.to_string())
}

/// Per table, per connection: what the last read named, for the writes that follow it.
#[derive(Debug, Default)]
pub(crate) struct TableState {
    /// Whether the last read had `Id = …` among its conditions.
    pub(crate) key_named: Mutex<bool>,
    /// The records that read returned, by id.
    pub(crate) read_for_write: Mutex<HashMap<String, Row>>,
}
