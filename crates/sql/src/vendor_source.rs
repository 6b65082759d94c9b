//! Vendor mode's [`Source`]: the hub engine in this process, calling the vendor with the
//! connection's own credentials. Every read and write is one engine call ([`hub::Hub`]): the
//! mappings, CEQL planning and push-down, paging and the vendor's rate limits are the same as the
//! server's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use connector::{CallContext, CallObserver, VendorError, VendorRequest};
use hub::{Hub, HubError, ListParams, Position, Session, Target};
use serde_json::Value;

use crate::auth::VendorAccess;
use crate::error::SqlError;
use crate::source::{Record, ScanRequest, Source, SourceCursor, SourcePage};
use crate::tables::TableDef;

/// Counts the vendor calls a connection makes (every attempt, retries and refreshes included).
#[derive(Debug, Default)]
pub struct CallCounter {
    calls: AtomicU64,
}

impl CallCounter {
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl CallObserver for CallCounter {
    fn attempted(&self, _request: &VendorRequest, _status: Option<u16>, _took: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

/// The hub engine with one vendor authorization.
pub struct VendorSource {
    pub hub: Hub,
    /// The signed-in authorization: its token source, client id and where its pair is kept.
    pub access: VendorAccess,
    pub counter: Arc<CallCounter>,
}

impl VendorSource {
    fn session<'a>(&'a self, table: &'a TableDef) -> Session<'a> {
        Session {
            instance_id: None,
            element_key: &table.element,
            drop_nulls: false,
            common: None,
            call: CallContext {
                observer: Some(self.counter.as_ref()),
                ..CallContext::interactive(&self.access.client_id, self.access.tokens.as_ref())
            },
        }
    }

    fn error(&self, table: &TableDef, error: HubError) -> SqlError {
        match error {
            HubError::Vendor(VendorError::Token(token)) => SqlError::SignIn(self.access.explain(&token)),
            HubError::Vendor(VendorError::Status { status: 401, .. }) => SqlError::SignIn(
                "the vendor refused the access token (HTTP 401): give a new OAuthAccessToken or APIKey, or let the \
                 driver refresh with InitiateOAuth=GETANDREFRESH or REFRESH"
                    .into(),
            ),
            other => SqlError::Source(format!("{}: {other}", table.name)),
        }
    }
}

#[async_trait]
impl Source for VendorSource {
    async fn read(&self, table: &TableDef, request: &ScanRequest) -> Result<SourcePage, SqlError> {
        let session = self.session(table);
        let listed = match (&table.child, &request.order_by) {
            (None, None) => {
                let from = match &request.from {
                    Some(SourceCursor::Position(position)) => position.clone(),
                    _ => Position::default(),
                };
                let where_ = request.where_.as_deref();
                let page = self.hub.scan(&session, &table.object, where_, &from, request.page_size).await;
                let page = page.map_err(|error| self.error(table, error))?;
                return Ok(SourcePage {
                    records: page.records,
                    read: Some(page.read),
                    next: page.next.map(SourceCursor::Position),
                });
            }
            (Some(child), _) => {
                let Some(parent_id) = request.parent_id.as_deref() else {
                    return Err(SqlError::Source(format!("{}: a read needs the parent's id", table.name)));
                };
                let target = Target::Child { object: &table.object, parent_id, child };
                self.hub.list(&session, target, &list_params(request)).await
            }
            (None, Some(_)) => self.hub.list(&session, Target::Object(&table.object), &list_params(request)).await,
        };
        let page = listed.map_err(|error| self.error(table, error))?;
        let records = page
            .records
            .into_iter()
            .filter_map(|record| match record {
                Value::Object(record) => Some(record),
                _ => None,
            })
            .collect();
        Ok(SourcePage { records, read: None, next: page.next_page.map(SourceCursor::NextPage) })
    }

    async fn create(&self, table: &TableDef, record: Record) -> Result<Record, SqlError> {
        let session = self.session(table);
        let created = self.hub.create(&session, Target::Object(&table.object), Value::Object(record)).await;
        match created.map_err(|error| self.error(table, error))? {
            Value::Object(record) => Ok(record),
            _ => Ok(Record::new()),
        }
    }

    async fn update(&self, table: &TableDef, id: &str, changes: Record) -> Result<(), SqlError> {
        let session = self.session(table);
        let updated = self.hub.update(&session, &table.object, id, Value::Object(changes)).await;
        updated.map(drop).map_err(|error| self.error(table, error))
    }

    async fn delete(&self, table: &TableDef, id: &str) -> Result<(), SqlError> {
        let session = self.session(table);
        let deleted = self.hub.delete(&session, Target::Object(&table.object), id).await;
        deleted.map_err(|error| self.error(table, error))
    }

    fn vendor_filters(&self, table: &TableDef, where_: Option<&str>) -> Option<Vec<String>> {
        let (_, object) = hub::objects::resolve(&table.element, &table.object).ok()?;
        let definition = match &table.child {
            Some(child) => object.children.get(child)?,
            None => object,
        };
        let where_ = match where_ {
            Some(text) => Some(ceql::check(&ceql::parse(text).ok()?, definition).ok()?),
            None => None,
        };
        Some(ceql::plan(where_.as_ref(), definition).queries.iter().map(|query| query.filter_string()).collect())
    }
}

/// A hub list's parameters for one page of `request`.
fn list_params(request: &ScanRequest) -> ListParams {
    ListParams {
        where_: request.where_.clone(),
        order_by: request.order_by.clone(),
        page_size: Some(request.page_size.to_string()),
        next_page: match &request.from {
            Some(SourceCursor::NextPage(cursor)) => Some(cursor.clone()),
            _ => None,
        },
        ..ListParams::default()
    }
}
