//! Instance mode's [`Source`]: a running Junction's hub API over HTTP
//! (`Url=…;User=…;Element=…`). The driver sends CEQL `where`, `orderBy`, `pageSize` and `nextPage`
//! and Junction pushes down what the vendor can do; the vendor tokens never leave Junction. The
//! tables are the instance's objects (common resources included) as `GET /hubs/…/objects` and
//! their metadata describe them, plus the child tables of the built-in objects among them.

use std::time::Duration;

use async_trait::async_trait;
use connector::reqwest::{self, Method};
use domain::Secret;
use mapping::ObjectCatalog;
use serde_json::Value;
use url::Url;

use crate::error::SqlError;
use crate::source::{Record, ScanRequest, Source, SourceCursor, SourcePage};
use crate::tables::{self, TableDef};

/// The hub segment of the paths: the instance token decides the element, not the segment.
const HUB: &str = "crm";

/// The hub API of one instance.
pub struct InstanceSource {
    http: reqwest::Client,
    /// The API base, ending in `/elements/api-v2/`.
    base: Url,
    authorization: Secret,
}

impl InstanceSource {
    /// A source calling Junction at `url` (its base, or its API base) as `user` on the instance of
    /// `element`; each call may take `timeout`.
    pub fn new(url: &Url, user: &Secret, element: &Secret, timeout: Duration) -> Result<Self, SqlError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| SqlError::Startup(error.to_string()))?;
        let mut base = url.clone();
        let path = base.path().trim_end_matches('/').to_string();
        let api =
            if path.ends_with("/elements/api-v2") { format!("{path}/") } else { format!("{path}/elements/api-v2/") };
        base.set_path(&api);
        let authorization = Secret::new(format!("User {}, Element {}", user.expose(), element.expose()));
        Ok(InstanceSource { http, base, authorization })
    }

    /// The instance's tables: one per object it lists, and the child tables of built-in objects.
    pub async fn tables(&self) -> Result<Vec<TableDef>, SqlError> {
        let (listed, _) = self.call(Method::GET, &["hubs", HUB, "objects"], &[], None).await?;
        let names: Vec<String> = match listed {
            Value::Array(names) => names.iter().filter_map(|name| name.as_str().map(str::to_string)).collect(),
            _ => return Err(SqlError::Source("Junction's object list is not an array of names".into())),
        };
        let mut found = Vec::new();
        for name in names {
            let (metadata, _) = self.call(Method::GET, &["hubs", HUB, "objects", &name, "metadata"], &[], None).await?;
            let table = tables::from_metadata(&name, &metadata)
                .ok_or_else(|| SqlError::Source(format!("Junction's metadata of {name} is not understood")))?;
            found.extend(children_of(&table, &metadata));
            found.push(table);
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// One hub call; the JSON answer and its next-page token.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(Value, Option<String>), SqlError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| SqlError::Startup("Url cannot be a base URL".into()))?
            .pop_if_empty()
            .extend(segments);
        let mut request = self
            .http
            .request(method, url)
            .query(query)
            .header(reqwest::header::AUTHORIZATION, self.authorization.expose());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| {
            let what = if error.is_timeout() { "did not answer in time" } else { "could not be reached" };
            SqlError::Source(format!("Junction at {} {what}", self.base))
        })?;
        let status = response.status().as_u16();
        let next = response
            .headers()
            .get("elements-next-page-token")
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .map(str::to_string);
        let bytes = response.bytes().await.map_err(|_| SqlError::Source("Junction's answer was cut short".into()))?;
        let json: Value =
            if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::Null) };
        if (200..300).contains(&status) {
            return Ok((json, next));
        }
        let message = json.get("message").and_then(Value::as_str).unwrap_or("no message").to_string();
        let provider = json.get("providerMessage").and_then(Value::as_str).map(|text| format!(" (vendor: {text})"));
        let message = format!("Junction answered {status}: {message}{}", provider.unwrap_or_default());
        if status == 401 {
            return Err(SqlError::SignIn(format!("{message}; check User and Element")));
        }
        Err(SqlError::Source(message))
    }
}

#[async_trait]
impl Source for InstanceSource {
    async fn read(&self, table: &TableDef, request: &ScanRequest) -> Result<SourcePage, SqlError> {
        let mut query = vec![("pageSize", request.page_size.to_string())];
        if let Some(where_) = &request.where_ {
            query.push(("where", where_.clone()));
        }
        if let Some(order_by) = &request.order_by {
            query.push(("orderBy", order_by.clone()));
        }
        if let Some(SourceCursor::NextPage(cursor)) = &request.from {
            query.push(("nextPage", cursor.clone()));
        }
        let (answer, next) = match (&table.child, &request.parent_id) {
            (Some(child), Some(parent)) => {
                self.call(Method::GET, &["hubs", HUB, &table.object, parent, child], &query, None).await?
            }
            (Some(_), None) => return Err(SqlError::Source(format!("{}: a read needs the parent's id", table.name))),
            (None, _) => self.call(Method::GET, &["hubs", HUB, &table.object], &query, None).await?,
        };
        let Value::Array(records) = answer else {
            return Err(SqlError::Source(format!("{}: Junction's page is not an array", table.name)));
        };
        let records: Vec<Record> = records
            .into_iter()
            .filter_map(|record| match record {
                Value::Object(record) => Some(record),
                _ => None,
            })
            .collect();
        Ok(SourcePage { read: Some(records.len()), records, next: next.map(SourceCursor::NextPage) })
    }

    async fn create(&self, table: &TableDef, record: Record) -> Result<Record, SqlError> {
        let body = Value::Object(record);
        let (created, _) = self.call(Method::POST, &["hubs", HUB, &table.object], &[], Some(&body)).await?;
        Ok(match created {
            Value::Object(record) => record,
            _ => Record::new(),
        })
    }

    async fn update(&self, table: &TableDef, id: &str, changes: Record) -> Result<(), SqlError> {
        let body = Value::Object(changes);
        self.call(Method::PATCH, &["hubs", HUB, &table.object, id], &[], Some(&body)).await.map(drop)
    }

    async fn delete(&self, table: &TableDef, id: &str) -> Result<(), SqlError> {
        self.call(Method::DELETE, &["hubs", HUB, &table.object, id], &[], None).await.map(drop)
    }
}

/// The child tables of a built-in object (the one whose vendor resource the metadata names).
fn children_of(table: &TableDef, metadata: &Value) -> Vec<TableDef> {
    let Some(resource) = metadata.get("vendorResource").and_then(Value::as_str) else { return Vec::new() };
    if metadata.get("commonResource").and_then(Value::as_bool) == Some(true) {
        return Vec::new();
    }
    let catalog = ObjectCatalog::builtin();
    let parent = [tables::CRM, tables::ERP]
        .into_iter()
        .flat_map(|element| catalog.objects(element))
        .find(|(_, definition)| definition.resource == resource);
    let Some((_, parent)) = parent else { return Vec::new() };
    tables::vendor_tables()
        .into_iter()
        .filter(|child| {
            child.child.is_some()
                && catalog
                    .object(&child.element, &child.object)
                    .is_some_and(|(_, known)| known.resource == parent.resource)
        })
        .map(|child| TableDef { element: table.element.clone(), object: table.object.clone(), ..child })
        .collect()
}
