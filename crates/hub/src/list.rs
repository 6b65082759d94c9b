//! Listing through the mappings: a page of an object or of a child object
//! (`contacts/{id}/tags`, `orders/{id}/items`), with `where` (CEQL), `orderBy`, `fields`,
//! `page`/`pageSize`/`nextPage` and `returnCount`.
//!
//! How a page is read: the `where` is planned ([`ceql::plan`]) into vendor queries whose `filter`
//! returns a superset of the matches; each vendor row is mapped to hub fields and the whole `where`
//! is evaluated over it, so the answer is the same whatever was pushed down. Vendor pages are read
//! until the hub page is full; the `nextPage` cursor records the vendor page and how many of its
//! rows were served, so walking all pages serves every match once, also while records are added
//! (the vendor pages by id, and new records come last). A walk in another order (`orderBy=Id
//! desc`) sees a consistent snapshot only while nothing is added: the vendor's page tokens are
//! offsets.
//!
//! An `orderBy` the vendor can apply (one sortable field, one vendor query) is pushed down;
//! otherwise the matches are read whole (up to [`MAX_SORTED_ROWS`]), sorted here and paged by
//! offset. [`crate::scan`] reads whole objects with no such cap.

use std::cmp::Ordering;

use ceql::{Expr, OrderTerm, Plan, VendorQuery};
use connector::reqwest::Method;
use connector::VendorRequest;
use domain::InstanceId;
use mapping::{to_hub, ObjectDef, Operation};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::cursor::{self, Position};
use crate::objects::{allow, object, record_id, resolve, resolve_child, Resolved};
use crate::shape::shape;
use crate::{Hub, HubError, Session, Target};

/// The hub's page size when the client names none, and the largest it may name.
const DEFAULT_PAGE_SIZE: usize = 200;
const MAX_PAGE_SIZE: usize = 5000;
/// The most matches read to sort in Junction, or to count for `returnCount`.
pub const MAX_SORTED_ROWS: usize = 20_000;
/// The smallest vendor page read while filling a hub page (fewer round trips for small pages).
const MIN_VENDOR_PAGE: usize = 100;

/// The list parameters, as the client sent them (text, so that a bad value is reported by name).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListParams {
    #[serde(rename = "where")]
    pub where_: Option<String>,
    #[serde(rename = "orderBy")]
    pub order_by: Option<String>,
    pub fields: Option<String>,
    pub page: Option<String>,
    #[serde(rename = "pageSize")]
    pub page_size: Option<String>,
    #[serde(rename = "nextPage")]
    pub next_page: Option<String>,
    #[serde(rename = "returnCount")]
    pub return_count: Option<String>,
}

/// One list request, checked against the object.
struct ListQuery {
    where_: Option<Expr>,
    plan: Plan,
    order: Vec<(String, bool)>,
    fields: Option<Vec<String>>,
    page_size: usize,
    /// Matches to skip before the page (`page` > 1 without a cursor).
    offset: usize,
    return_count: bool,
    /// Binds cursors to this query (instance, object, where, order).
    fingerprint: String,
}

/// The vendor collection a list reads, and how.
pub(crate) struct Source<'a> {
    pub(crate) definition: &'a ObjectDef,
    /// The vendor collection path (with the parent id filled in for children).
    pub(crate) collection: String,
    /// For children embedded in the parent record: the parent's path and the array key.
    pub(crate) embedded: Option<(String, String)>,
}

/// One page of a list: the records (shaped), the cursor of the next page, and the number of
/// matches when asked for.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    pub records: Vec<Value>,
    /// `Elements-Next-Page-Token`; `None` on the last page.
    pub next_page: Option<String>,
    /// `Elements-Total-Count`, with `returnCount=true`.
    pub total: Option<usize>,
}

impl Hub {
    /// A page of `target` as the list parameters ask.
    pub async fn list(
        &self,
        session: &Session<'_>,
        target: Target<'_>,
        params: &ListParams,
    ) -> Result<ListPage, HubError> {
        match target {
            Target::Object(name) => {
                let resolved = object(session, name)?;
                allow(resolved.name, resolved.definition, Operation::List)?;
                let definition = resolved.definition;
                let source = Source { definition, collection: definition.resource.clone(), embedded: None };
                page(self, session, resolved, &source, params).await
            }
            Target::Child { object, parent_id, child } => {
                let (parent, child_name, definition) = resolve_child(session.element_key, object, child)?;
                allow(child_name, definition, Operation::List)?;
                let parent_id = record_id(parent_id)?.to_string();
                let collection = definition.resource.replace("{parentId}", &parent_id);
                let embedded = definition.embedded_in.as_ref().map(|key| {
                    let (_, parent_definition) = resolve(session.element_key, parent).unwrap_or(("", definition));
                    (format!("{}/{parent_id}", parent_definition.resource), key.clone())
                });
                let source = Source { definition, collection, embedded };
                let name = format!("{parent}/{parent_id}/{child_name}");
                let resolved = Resolved { name: &name, definition, common: None };
                page(self, session, resolved, &source, params).await
            }
        }
    }
}

async fn page(
    hub: &Hub,
    session: &Session<'_>,
    object: Resolved<'_>,
    source: &Source<'_>,
    params: &ListParams,
) -> Result<ListPage, HubError> {
    let query = list_query(session, object.name, source.definition, params)?;
    let start = match params.next_page.as_deref().map(str::trim).filter(|cursor| !cursor.is_empty()) {
        Some(text) => Some(cursor::open(hub.signer.as_ref(), &query.fingerprint, text)?),
        None => None,
    };
    let vendor_order = vendor_order(source.definition, &query);
    // A sorted page has read every match already: its count comes free.
    let (rows, next, known_total) = if source.embedded.is_some() || (!query.order.is_empty() && vendor_order.is_none())
    {
        let (rows, next, total) =
            sorted_page(hub, session, source, &query, start.map(|position| position.skip)).await?;
        (rows, next, Some(total))
    } else {
        let (rows, next) = streamed_page(hub, session, source, &query, vendor_order.as_deref(), start).await?;
        (rows, next, None)
    };
    let next_page = next.map(|position| cursor::issue(hub.signer.as_ref(), &query.fingerprint, &position));
    let total = match (query.return_count, known_total) {
        (false, _) => None,
        (true, Some(total)) => Some(total),
        (true, None) => Some(all_matches(hub, session, source, &query).await?.len()),
    };
    let id_field = &source.definition.id_field;
    let records = rows
        .into_iter()
        .map(|row| object.present(shape(row, id_field, session.drop_nulls, query.fields.as_deref())))
        .collect();
    Ok(ListPage { records, next_page, total })
}

fn list_query(
    session: &Session<'_>,
    name: &str,
    definition: &ObjectDef,
    params: &ListParams,
) -> Result<ListQuery, HubError> {
    let bad = |error: ceql::QueryError| HubError::BadRequest(error.to_string());
    let where_text = params.where_.as_deref().map(str::trim).filter(|text| !text.is_empty());
    let where_ = match where_text {
        Some(text) => Some(ceql::check(&ceql::parse(text).map_err(bad)?, definition).map_err(bad)?),
        None => None,
    };
    let plan = ceql::plan(where_.as_ref(), definition);
    let order = match params.order_by.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        Some(text) => ceql::parse_order_by(text)
            .map_err(bad)?
            .iter()
            .map(|term| order_field(definition, term))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let fields = match params.fields.as_deref().map(str::trim).filter(|text| !text.is_empty()) {
        Some(text) => Some(checked_fields(definition, ceql::parse_fields(text).map_err(bad)?)?),
        None => None,
    };
    let page_size = positive(params.page_size.as_deref(), "pageSize")?.unwrap_or(DEFAULT_PAGE_SIZE);
    if page_size > MAX_PAGE_SIZE {
        return Err(HubError::BadRequest(format!("Invalid parameter 'pageSize': at most {MAX_PAGE_SIZE}")));
    }
    let page = positive(params.page.as_deref(), "page")?.unwrap_or(1);
    let offset = (page - 1).checked_mul(page_size).filter(|offset| *offset <= MAX_SORTED_ROWS).ok_or_else(|| {
        HubError::BadRequest(format!("Invalid parameter 'page': reading past {MAX_SORTED_ROWS} rows needs nextPage"))
    })?;
    let return_count = match params.return_count.as_deref().map(str::trim) {
        None | Some("") | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(HubError::BadRequest("Invalid parameter 'returnCount': expected true or false".into())),
    };
    // No instance binds as 0, which no instance has (ids start at 1).
    let instance = session.instance_id.map_or(0, InstanceId::get);
    let fingerprint = format!("{instance}\n{name}\n{}\n{:?}", where_text.unwrap_or(""), order);
    Ok(ListQuery { where_, plan, order, fields, page_size, offset, return_count, fingerprint })
}

/// A positive integer parameter, or `None` when absent.
fn positive(text: Option<&str>, name: &str) -> Result<Option<usize>, HubError> {
    match text.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|value| *value >= 1)
            .map(Some)
            .ok_or_else(|| HubError::BadRequest(format!("Invalid parameter '{name}': expected a positive integer"))),
    }
}

/// An `orderBy` term resolved to the field's canonical name; unknown fields are a 400.
pub(crate) fn order_field(definition: &ObjectDef, term: &OrderTerm) -> Result<(String, bool), HubError> {
    let field = definition.field(&term.field).ok_or_else(|| {
        let shown: String = term.field.chars().take(64).collect();
        HubError::BadRequest(format!(
            "Error parsing query: unknown field '{shown}' in orderBy at column {}",
            term.span.column
        ))
    })?;
    Ok((field.name.clone(), term.descending))
}

fn checked_fields(definition: &ObjectDef, names: Vec<String>) -> Result<Vec<String>, HubError> {
    let unknown: Vec<&str> = names.iter().filter(|name| definition.field(name).is_none()).map(String::as_str).collect();
    if !unknown.is_empty() {
        let shown: String = unknown.join(", ").chars().take(200).collect();
        return Err(HubError::BadRequest(format!("Invalid parameter 'fields': unknown field(s) {shown}")));
    }
    Ok(names)
}

/// The vendor's `order_by` for the query, when the vendor can sort it alone.
fn vendor_order(definition: &ObjectDef, query: &ListQuery) -> Option<String> {
    let [(name, descending)] = query.order.as_slice() else { return None };
    if query.plan.queries.len() != 1 {
        return None;
    }
    let sort = definition.field(name)?.sort.as_ref()?;
    Some(format!("{sort} {}", if *descending { "desc" } else { "asc" }))
}

/// A hub page read straight from the vendor's pages, from `start` on.
async fn streamed_page(
    hub: &Hub,
    session: &Session<'_>,
    source: &Source<'_>,
    query: &ListQuery,
    vendor_order: Option<&str>,
    start: Option<Position>,
) -> Result<(Vec<Map<String, Value>>, Option<Position>), HubError> {
    // `page` counts from the first match; a cursor already points past the pages before it.
    let mut to_skip = if start.is_some() { 0 } else { query.offset };
    let mut position = start.unwrap_or_default();
    let mut rows = Vec::new();
    // Without a `where` every vendor row is served, so one vendor page of the hub page's size is
    // exact; with one, larger vendor pages mean fewer round trips while the residual filters.
    let wanted = if query.where_.is_none() { query.page_size } else { query.page_size.max(MIN_VENDOR_PAGE) };
    let vendor_page = wanted.min(source.definition.max_page_size as usize);
    while let Some(vendor_query) = query.plan.queries.get(position.query) {
        let (page, next_token, _) =
            vendor_page_of(hub, session, source, vendor_query, vendor_order, vendor_page, &position).await?;
        for (index, vendor_row) in page.iter().enumerate().skip(position.skip) {
            let Some(row) = matching(source.definition, query.where_.as_ref(), vendor_query, vendor_row) else {
                continue;
            };
            if to_skip > 0 {
                to_skip -= 1;
                continue;
            }
            rows.push(row);
            if rows.len() == query.page_size {
                let rest_of_page = index + 1 < page.len();
                let next = if rest_of_page {
                    Some(Position { skip: index + 1, ..position })
                } else {
                    advance(&position, next_token, query.plan.queries.len())
                };
                return Ok((rows, next));
            }
        }
        match advance(&position, next_token, query.plan.queries.len()) {
            Some(next) => position = next,
            None => break,
        }
    }
    Ok((rows, None))
}

/// The position after the vendor page read at `position`: its next page, or the next query.
pub(crate) fn advance(position: &Position, next_token: Option<String>, queries: usize) -> Option<Position> {
    match next_token {
        Some(token) => Some(Position { query: position.query, vendor_token: Some(token), skip: 0 }),
        None if position.query + 1 < queries => {
            Some(Position { query: position.query + 1, vendor_token: None, skip: 0 })
        }
        None => None,
    }
}

/// One vendor page of `vendor_query`, the token of the page after it, and the vendor's count of
/// matches when its answer has one.
pub(crate) async fn vendor_page_of(
    hub: &Hub,
    session: &Session<'_>,
    source: &Source<'_>,
    vendor_query: &VendorQuery,
    vendor_order: Option<&str>,
    page_size: usize,
    position: &Position,
) -> Result<(Vec<Value>, Option<String>, Option<u64>), HubError> {
    let mut request =
        VendorRequest::new(Method::GET, source.collection.clone()).query("page_size", page_size.to_string());
    let filter = vendor_query.filter_string();
    if !filter.is_empty() {
        request = request.query("filter", filter);
    }
    if let Some(order) = vendor_order {
        request = request.query("order_by", order);
    }
    if let Some(token) = &position.vendor_token {
        request = request.query("page_token", token.clone());
    }
    let mut body = hub.vendor.send_json(&session.call, &request).await?;
    let rows = match body.get_mut(&source.definition.list_key).map(Value::take) {
        Some(Value::Array(rows)) => rows,
        _ => Vec::new(),
    };
    let next =
        body.get("next_page_token").and_then(Value::as_str).filter(|token| !token.is_empty() && !rows.is_empty());
    let count = body.get("count").and_then(Value::as_u64);
    Ok((rows, next.map(str::to_string), count))
}

/// The hub row of `vendor_row` if it matches the whole `where` and no earlier query served it.
pub(crate) fn matching(
    definition: &ObjectDef,
    where_: Option<&Expr>,
    vendor_query: &VendorQuery,
    vendor_row: &Value,
) -> Option<Map<String, Value>> {
    let row = to_hub(definition, vendor_row);
    let wanted = where_.is_none_or(|expr| ceql::matches(expr, &row));
    let served_before = vendor_query.exclude.iter().any(|expr| ceql::matches(expr, &row));
    (wanted && !served_before).then_some(row)
}

/// A page of all matches sorted here (or an embedded child list), from offset `start`, and the
/// number of matches.
async fn sorted_page(
    hub: &Hub,
    session: &Session<'_>,
    source: &Source<'_>,
    query: &ListQuery,
    start: Option<usize>,
) -> Result<(Vec<Map<String, Value>>, Option<Position>, usize), HubError> {
    let mut rows = all_matches(hub, session, source, query).await?;
    if !query.order.is_empty() {
        rows.sort_by(|left, right| compare_rows(left, right, &query.order));
    }
    let from = start.unwrap_or(query.offset);
    let page: Vec<_> = rows.iter().skip(from).take(query.page_size).cloned().collect();
    let next =
        (from + page.len() < rows.len()).then(|| Position { query: 0, vendor_token: None, skip: from + page.len() });
    Ok((page, next, rows.len()))
}

/// Every match of the query, up to [`MAX_SORTED_ROWS`] (more is a 400 asking for a narrower `where`).
async fn all_matches(
    hub: &Hub,
    session: &Session<'_>,
    source: &Source<'_>,
    query: &ListQuery,
) -> Result<Vec<Map<String, Value>>, HubError> {
    if let Some((parent_path, key)) = &source.embedded {
        let parent = hub.vendor.send_json(&session.call, &VendorRequest::new(Method::GET, parent_path.clone())).await?;
        let elements = parent.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
        let single = VendorQuery { filters: Vec::new(), exclude: Vec::new() };
        return Ok(elements
            .iter()
            .filter_map(|row| matching(source.definition, query.where_.as_ref(), &single, row))
            .collect());
    }
    let mut rows = Vec::new();
    let mut position = Position::default();
    let vendor_page = source.definition.max_page_size as usize;
    while let Some(vendor_query) = query.plan.queries.get(position.query) {
        let (page, next_token, _) =
            vendor_page_of(hub, session, source, vendor_query, None, vendor_page, &position).await?;
        rows.extend(
            page.iter().filter_map(|row| matching(source.definition, query.where_.as_ref(), vendor_query, row)),
        );
        if rows.len() > MAX_SORTED_ROWS {
            return Err(HubError::BadRequest(format!(
                "More than {MAX_SORTED_ROWS} records match; narrow the where to sort or count them"
            )));
        }
        match advance(&position, next_token, query.plan.queries.len()) {
            Some(next) => position = next,
            None => break,
        }
    }
    Ok(rows)
}

/// Orders rows by the `orderBy` fields: nulls last, numbers numerically, text ignoring ASCII case.
fn compare_rows(left: &Map<String, Value>, right: &Map<String, Value>, order: &[(String, bool)]) -> Ordering {
    for (field, descending) in order {
        let ordering = compare_values(left.get(field), right.get(field));
        let ordering = if *descending { ordering.reverse() } else { ordering };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

fn compare_values(left: Option<&Value>, right: Option<&Value>) -> Ordering {
    fn present(value: Option<&Value>) -> Option<&Value> {
        value.filter(|value| !value.is_null())
    }
    match (present(left), present(right)) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(Value::Number(a)), Some(Value::Number(b))) => {
            a.as_f64().partial_cmp(&b.as_f64()).unwrap_or(Ordering::Equal)
        }
        (Some(Value::String(a)), Some(Value::String(b))) => a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()),
        (Some(a), Some(b)) => a.to_string().cmp(&b.to_string()),
    }
}
