//! Whole objects, page by page: what bulk exports, the event poller and the SQL driver read.
//! Each step is one vendor page; the [`Position`] after it is plain data a job can store and
//! resume from after a restart. There is no cap on the number of records (a list's sorted and
//! counted reads stop at [`crate::list::MAX_SORTED_ROWS`]; a scan does not sort).
//!
//! A `where` is planned as for a list: the vendor filters what it can, the rest is applied here,
//! so a selective scan reads only the vendor pages that may match. An `orderBy` is taken only when
//! the vendor can sort by it alone (one sortable field, one vendor query): a scan never holds more
//! than a page.

use ceql::Expr;
use mapping::Operation;
use serde_json::{Map, Value};

use crate::cursor::Position;
use crate::list::{advance, matching, vendor_page_of, Source};
use crate::objects::{allow, object as resolve_object, Resolved};
use crate::{Hub, HubError, Session};

/// What a scan reads: which records (`where`, CEQL) in which order (`orderBy`, one field the vendor
/// sorts by).
#[derive(Debug, Clone, Copy, Default)]
pub struct ScanQuery<'q> {
    pub where_: Option<&'q str>,
    pub order_by: Option<&'q str>,
}

/// One step of a scan: the matching records of one vendor page (null fields kept), and where the
/// next step starts (`None`: the scan is complete).
#[derive(Debug, Clone, Default)]
pub struct ScanPage {
    pub records: Vec<Map<String, Value>>,
    /// The rows of the vendor page read, matching or not (what `--explain` counts as read).
    pub read: usize,
    pub next: Option<Position>,
    /// How many records the vendor says match its filter, when its answer says (REST v1 does).
    pub vendor_count: Option<u64>,
}

/// A checked scan: the object, the `where` and the vendor's order.
struct Planned<'a> {
    resolved: Resolved<'a>,
    where_: Option<Expr>,
    plan: ceql::Plan,
    vendor_order: Option<String>,
}

impl Hub {
    /// Reads the vendor page of `object` at `from` (at most `page_size` rows, capped by the
    /// vendor's own page limit) and returns its records that match `where_`.
    pub async fn scan(
        &self,
        session: &Session<'_>,
        object: &str,
        where_: Option<&str>,
        from: &Position,
        page_size: usize,
    ) -> Result<ScanPage, HubError> {
        self.scan_query(session, object, ScanQuery { where_, order_by: None }, from, page_size).await
    }

    /// [`Hub::scan`] of a [`ScanQuery`].
    pub async fn scan_query(
        &self,
        session: &Session<'_>,
        object: &str,
        query: ScanQuery<'_>,
        from: &Position,
        page_size: usize,
    ) -> Result<ScanPage, HubError> {
        let Planned { resolved, where_, plan, vendor_order } = planned(session, object, query)?;
        let definition = resolved.definition;
        let Some(vendor_query) = plan.queries.get(from.query) else {
            return Ok(ScanPage::default());
        };
        let source = Source { definition, collection: definition.resource.clone(), embedded: None };
        let vendor_page = page_size.clamp(1, definition.max_page_size as usize);
        let order = vendor_order.as_deref();
        let (page, next_token, vendor_count) =
            vendor_page_of(self, session, &source, vendor_query, order, vendor_page, from).await?;
        let read = page.len().saturating_sub(from.skip);
        let records = page
            .iter()
            .skip(from.skip)
            .filter_map(|row| matching(definition, where_.as_ref(), vendor_query, row))
            .map(|row| resolved.present_fields(row))
            .collect();
        let vendor_count = vendor_count.filter(|_| plan.queries.len() == 1);
        Ok(ScanPage { records, read, next: advance(from, next_token, plan.queries.len()), vendor_count })
    }

    /// Checks a scan without calling the vendor (an unknown object or field, a bad `where`, an
    /// order the vendor cannot apply are the errors the scan would give) and returns the object's
    /// name as the catalog spells it, with its field names in catalog order.
    pub fn check_scan(
        &self,
        session: &Session<'_>,
        object: &str,
        query: ScanQuery<'_>,
    ) -> Result<(String, Vec<String>), HubError> {
        let Planned { resolved, .. } = planned(session, object, query)?;
        let fields = resolved.definition.fields.iter().map(|field| field.name.clone()).collect();
        Ok((resolved.name.to_string(), fields))
    }
}

fn planned<'a>(session: &Session<'a>, object: &str, query: ScanQuery<'_>) -> Result<Planned<'a>, HubError> {
    let resolved = resolve_object(session, object)?;
    let definition = resolved.definition;
    allow(resolved.name, definition, Operation::List)?;
    let bad = |error: ceql::QueryError| HubError::BadRequest(error.to_string());
    let where_: Option<Expr> = match query.where_.map(str::trim).filter(|text| !text.is_empty()) {
        Some(text) => Some(ceql::check(&ceql::parse(text).map_err(bad)?, definition).map_err(bad)?),
        None => None,
    };
    let plan = ceql::plan(where_.as_ref(), definition);
    let vendor_order = match query.order_by.map(str::trim).filter(|text| !text.is_empty()) {
        None => None,
        Some(text) => {
            let terms = ceql::parse_order_by(text).map_err(bad)?;
            let [term] = terms.as_slice() else {
                return Err(HubError::BadRequest("Invalid orderBy: a scan is ordered by one field at most".into()));
            };
            let field = crate::list::order_field(definition, term)?;
            let sort =
                definition.field(&field.0).and_then(|field| field.sort.as_ref()).filter(|_| plan.queries.len() == 1);
            let Some(sort) = sort else {
                return Err(HubError::BadRequest(format!(
                    "Invalid orderBy: the vendor cannot order {} by '{}'{}; order by a sortable field or leave \
                     orderBy out",
                    resolved.name,
                    field.0,
                    if plan.queries.len() == 1 { "" } else { " under this where (it needs several vendor queries)" },
                )));
            };
            Some(format!("{sort} {}", if field.1 { "desc" } else { "asc" }))
        }
    };
    Ok(Planned { resolved, where_, plan, vendor_order })
}
