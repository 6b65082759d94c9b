//! Whole objects, page by page: what bulk exports, the event poller and the SQL driver read.
//! Each step is one vendor page; the [`Position`] after it is plain data a job can store and
//! resume from after a restart. There is no cap on the number of records (a list's sorted and
//! counted reads stop at [`crate::list::MAX_SORTED_ROWS`]; a scan does not sort).
//!
//! A `where` is planned as for a list: the vendor filters what it can, the rest is applied here,
//! so a selective scan reads only the vendor pages that may match.

use ceql::Expr;
use mapping::Operation;
use serde_json::{Map, Value};

use crate::cursor::Position;
use crate::list::{advance, matching, vendor_page_of, Source};
use crate::objects::{allow, object as resolve_object};
use crate::{Hub, HubError, Session};

/// One step of a scan: the matching records of one vendor page (null fields kept), and where the
/// next step starts (`None`: the scan is complete).
#[derive(Debug, Clone, Default)]
pub struct ScanPage {
    pub records: Vec<Map<String, Value>>,
    /// The rows of the vendor page read, matching or not (what `--explain` counts as read).
    pub read: usize,
    pub next: Option<Position>,
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
        let resolved = resolve_object(session, object)?;
        let definition = resolved.definition;
        allow(resolved.name, definition, Operation::List)?;
        let bad = |error: ceql::QueryError| HubError::BadRequest(error.to_string());
        let where_: Option<Expr> = match where_.map(str::trim).filter(|text| !text.is_empty()) {
            Some(text) => Some(ceql::check(&ceql::parse(text).map_err(bad)?, definition).map_err(bad)?),
            None => None,
        };
        let plan = ceql::plan(where_.as_ref(), definition);
        let Some(vendor_query) = plan.queries.get(from.query) else {
            return Ok(ScanPage::default());
        };
        let source = Source { definition, collection: definition.resource.clone(), embedded: None };
        let vendor_page = page_size.clamp(1, definition.max_page_size as usize);
        let (page, next_token) = vendor_page_of(self, session, &source, vendor_query, None, vendor_page, from).await?;
        let read = page.len().saturating_sub(from.skip);
        let records = page
            .iter()
            .skip(from.skip)
            .filter_map(|row| matching(definition, where_.as_ref(), vendor_query, row))
            .map(|row| resolved.present_fields(row))
            .collect();
        Ok(ScanPage { records, read, next: advance(from, next_token, plan.queries.len()) })
    }
}
