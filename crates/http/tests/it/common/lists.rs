//! Helpers for the list and vendor-call tests: reading hub lists page by page, reading and writing
//! the vendor straight (with the instance's own token), counting vendor calls, and evaluating a
//! `where` in memory over rows read without one.

use std::collections::HashSet;

use mapping::{to_hub, ObjectCatalog, ObjectDef};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::common::Stack;

/// One hub list page as answered.
pub struct Page {
    pub rows: Vec<Value>,
    pub next: Option<String>,
    pub total: Option<usize>,
}

/// `text` percent-encoded for a query string.
pub fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The CRM element's definition of hub object `name`.
pub fn definition(name: &str) -> &'static ObjectDef {
    ObjectCatalog::builtin().object("infusionsoftcrm", name).expect("a CRM object").1
}

fn header_number(response: &reqwest::Response, name: &str) -> Option<usize> {
    response.headers().get(name).map(|value| value.to_str().expect("ascii").parse().expect("a number"))
}

/// One page of `path` (under `/hubs/...`), asserting a 200 and a consistent returned count.
pub async fn page(stack: &Stack, token: &str, path: &str) -> Page {
    let response = stack.hub(Method::GET, token, path, None).await;
    let status = response.status();
    if status != 200 {
        let body = response.text().await.unwrap_or_default();
        panic!("{path}: HTTP {status}: {body}");
    }
    let next = response.headers().get("elements-next-page-token").map(|v| v.to_str().expect("ascii").to_string());
    let returned = header_number(&response, "elements-returned-count");
    let total = header_number(&response, "elements-total-count");
    let rows: Vec<Value> = response.json::<Value>().await.expect("JSON").as_array().expect("an array").clone();
    assert_eq!(returned, Some(rows.len()), "{path}: Elements-Returned-Count");
    Page { rows, next, total }
}

/// Every page of `path`, following `nextPage`; each page but the last is full when `page_size` is given.
pub async fn walk(stack: &Stack, token: &str, path: &str, page_size: Option<usize>) -> Vec<Value> {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut rows = Vec::new();
    let mut current = page(stack, token, path).await;
    loop {
        let full = current.rows.len();
        rows.append(&mut current.rows);
        let Some(next) = current.next.take() else { break };
        if let Some(size) = page_size {
            assert_eq!(full, size, "{path}: a page followed by another is full");
        }
        assert!(rows.len() <= 100_000, "{path}: runaway paging");
        current = page(stack, token, &format!("{path}{separator}nextPage={}", enc(&next))).await;
    }
    rows
}

/// The `Id`s of hub rows, in order.
pub fn ids(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|row| row["Id"].as_i64().unwrap_or_else(|| panic!("an Id in {row}"))).collect()
}

/// Asserts that `ids` has no duplicates.
pub fn assert_unique(ids: &[i64], context: &str) {
    let mut seen = HashSet::new();
    for id in ids {
        assert!(seen.insert(*id), "{context}: id {id} served twice");
    }
}

/// The instance's stored access token.
pub async fn access_token(stack: &Stack, instance_id: i64) -> String {
    let record =
        stack.store.get_instance(stack.organization_id, store::InstanceId::new(instance_id)).await.expect("instance");
    record.secrets.get(store::ACCESS_TOKEN_KEY).expect("an access token").expose().to_string()
}

/// Creates `count` contacts at the vendor (concurrently), named `{prefix}{n}`.
pub async fn create_contacts(stack: &Stack, instance_id: i64, prefix: &str, count: usize) {
    let token = access_token(stack, instance_id).await;
    let url = format!("{}/crm/rest/v2/contacts", stack.sim.url());
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..count {
        let http = stack.http.clone();
        let (url, token) = (url.clone(), token.clone());
        let body = serde_json::json!({
            "given_name": format!("{prefix}{n}"),
            "family_name": format!("Zed{}", n % 97),
            "email_addresses": [{"email": format!("{prefix}{n}@bulk.example.com"), "field": "EMAIL1"}],
        });
        tasks.spawn(async move {
            let answer = http.post(url).bearer_auth(token).json(&body).send().await.expect("vendor POST");
            assert!(answer.status().is_success(), "create contact: {}", answer.status());
        });
        if tasks.len() >= 32 {
            tasks.join_next().await.expect("a task").expect("created");
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("created");
    }
}

/// Every record of a v2 collection (e.g. `contacts`), read straight from the vendor, as hub rows.
pub async fn vendor_rows(stack: &Stack, instance_id: i64, object: &str) -> Vec<Map<String, Value>> {
    let definition = definition(object);
    let mut rows = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut path = format!("{}?page_size={}", definition.resource, definition.max_page_size);
        if let Some(token) = &token {
            path.push_str(&format!("&page_token={}", enc(token)));
        }
        let answer = stack.vendor_get(instance_id, &path).await;
        assert_eq!(answer.status(), 200, "vendor GET {path}");
        let body: Value = answer.json().await.expect("JSON");
        let page = body[&definition.list_key].as_array().expect("a list").clone();
        rows.extend(page.iter().map(|record| to_hub(definition, record)));
        match body["next_page_token"].as_str().filter(|next| !next.is_empty() && !page.is_empty()) {
            Some(next) => token = Some(next.to_string()),
            None => break,
        }
    }
    rows
}

/// The `where` checked against hub object `object` (panics on a query the test got wrong).
pub fn checked(object: &str, where_: &str) -> ceql::Expr {
    let parsed = ceql::parse(where_).unwrap_or_else(|error| panic!("{where_}: {error}"));
    ceql::check(&parsed, definition(object)).unwrap_or_else(|error| panic!("{where_}: {error}"))
}

/// The ids of `rows` that `where_` selects, evaluated in memory.
pub fn expected_ids(object: &str, where_: &str, rows: &[Map<String, Value>]) -> Vec<i64> {
    let expr = checked(object, where_);
    rows.iter().filter(|row| ceql::matches(&expr, row)).map(|row| row["Id"].as_i64().expect("an Id")).collect()
}

/// The simulator's count of vendor API calls so far.
pub async fn api_calls(stack: &Stack) -> u64 {
    stack.sim_stats().await["api_calls"].as_u64().expect("api_calls")
}

/// The simulator's count of 429s sent so far.
pub async fn throttled(stack: &Stack) -> u64 {
    stack.sim_stats().await["throttled"].as_u64().expect("throttled")
}
