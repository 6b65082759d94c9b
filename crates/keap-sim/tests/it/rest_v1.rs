//! REST v1 over the simulator: `limit`/`offset` paging with `count`/`next`/`previous`, v1 shapes
//! (numeric ids, `date_created`/`last_updated`, product names), v1 query parameters, `{"message"}`
//! errors, and one store shared with REST v2 (writes through either protocol show in the other).

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

const V1: &str = "/crm/rest/v1";
const V2: &str = "/crm/rest/v2";

async fn get_q(h: &Harness, token: &str, path: &str, query: &[(&str, &str)]) -> Response {
    h.http.get(h.url(path)).query(query).bearer_auth(token).send().await.unwrap()
}

async fn get_ok(h: &Harness, token: &str, path: &str, query: &[(&str, &str)]) -> Value {
    json_with(get_q(h, token, path, query).await, StatusCode::OK).await
}

async fn delete(h: &Harness, token: &str, path: &str) -> Response {
    h.http.delete(h.url(path)).bearer_auth(token).send().await.unwrap()
}

fn link(body: &Value, key: &str) -> reqwest::Url {
    let raw = body[key].as_str().unwrap_or_else(|| panic!("{key} missing from {body}"));
    reqwest::Url::parse(raw).unwrap_or_else(|e| panic!("{key} is not an absolute URL ({e}): {raw}"))
}

fn numeric_ids(items: &Value) -> Vec<u64> {
    items.as_array().unwrap().iter().map(|c| c["id"].as_u64().unwrap_or_else(|| panic!("numeric id in {c}"))).collect()
}

fn primary_email(contact: &Value) -> String {
    let list = contact["email_addresses"].as_array().unwrap();
    let email = list.iter().find(|e| e["field"] == "EMAIL1").unwrap();
    email["email"].as_str().unwrap().to_lowercase()
}

/// Asserts a v1 error: the status and a body that is exactly `{"message": ...}`.
async fn v1_error(response: Response, status: StatusCode) -> String {
    let body = json_with(response, status).await;
    let object = body.as_object().unwrap_or_else(|| panic!("an object: {body}"));
    assert_eq!(object.len(), 1, "only message: {body}");
    body["message"].as_str().expect("a message").to_string()
}

#[tokio::test]
async fn contacts_page_with_limit_and_offset_reporting_count_next_and_previous() {
    let h = start().await;
    let t = h.bearer().await;
    let body = get_ok(&h, &t, &format!("{V1}/contacts"), &[("limit", "10"), ("offset", "20")]).await;
    assert_eq!(numeric_ids(&body["contacts"]), (21..=30).collect::<Vec<u64>>());
    assert_eq!(body["count"], 300);
    let next = link(&body, "next");
    assert_eq!(next.scheme(), "http");
    assert_eq!(next.host_str(), Some("127.0.0.1"));
    assert_eq!(next.port(), Some(h.sim.addr().port()));
    assert_eq!(next.path(), "/crm/rest/v1/contacts");
    assert_eq!(query_param(&next, "offset").as_deref(), Some("30"));
    assert_eq!(query_param(&next, "limit").as_deref(), Some("10"));
    let previous = link(&body, "previous");
    assert_eq!(query_param(&previous, "offset").as_deref(), Some("10"));
    assert_eq!(query_param(&previous, "limit").as_deref(), Some("10"));

    let followed =
        json_with(h.get(&t, &format!("{}?{}", next.path(), next.query().unwrap())).await, StatusCode::OK).await;
    assert_eq!(numeric_ids(&followed["contacts"]), (31..=40).collect::<Vec<u64>>());

    let first = get_ok(&h, &t, &format!("{V1}/contacts"), &[("limit", "10")]).await;
    assert!(first.get("previous").is_none(), "the first page has no previous");
    let last = get_ok(&h, &t, &format!("{V1}/contacts"), &[("limit", "10"), ("offset", "290")]).await;
    assert_eq!(numeric_ids(&last["contacts"]).len(), 10);
    assert!(last.get("next").is_none(), "the last page has no next");
}

#[tokio::test]
async fn contacts_have_numeric_ids_and_v1_date_fields() {
    let h = start().await;
    let t = h.bearer().await;
    let v1 = get_ok(&h, &t, &format!("{V1}/contacts/7"), &[]).await;
    let v2 = get_ok(&h, &t, &format!("{V2}/contacts/7"), &[]).await;
    assert_eq!(v1["id"], 7);
    assert_eq!(v1["date_created"], v2["create_time"]);
    assert_eq!(v1["last_updated"], v2["update_time"]);
    assert!(v1.get("create_time").is_none() && v1.get("update_time").is_none(), "{v1}");
    let listed = get_ok(&h, &t, &format!("{V1}/contacts"), &[("limit", "5")]).await;
    for contact in listed["contacts"].as_array().unwrap() {
        assert!(contact["id"].is_u64(), "{contact}");
        assert!(contact["date_created"].is_string() && contact["last_updated"].is_string(), "{contact}");
        if let Some(company) = contact.get("company") {
            assert!(company["id"].is_u64(), "company.id is numeric: {company}");
        }
    }
    let missing = v1_error(get_q(&h, &t, &format!("{V1}/contacts/999999"), &[]).await, StatusCode::NOT_FOUND).await;
    assert!(missing.contains("999999"), "{missing}");
}

#[tokio::test]
async fn email_parameter_filters_contacts() {
    let h = start().await;
    let t = h.bearer().await;
    let wanted = get_ok(&h, &t, &format!("{V1}/contacts/5"), &[]).await;
    let email = primary_email(&wanted);
    let body = get_ok(&h, &t, &format!("{V1}/contacts"), &[("email", &email)]).await;
    assert_eq!(numeric_ids(&body["contacts"]), vec![5]);
    assert_eq!(body["count"], 1);
    assert!(body.get("next").is_none());
}

#[tokio::test]
async fn order_email_descending_sorts_by_email() {
    let h = start().await;
    let t = h.bearer().await;
    let query = [("order", "email"), ("order_direction", "DESCENDING"), ("limit", "1000")];
    let body = get_ok(&h, &t, &format!("{V1}/contacts"), &query).await;
    let emails: Vec<String> = body["contacts"].as_array().unwrap().iter().map(primary_email).collect();
    assert_eq!(emails.len(), 300);
    let mut sorted = emails.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(emails, sorted);
    let bad =
        v1_error(get_q(&h, &t, &format!("{V1}/contacts"), &[("order", "shoe_size")]).await, StatusCode::BAD_REQUEST)
            .await;
    assert!(bad.contains("shoe_size"), "{bad}");
}

#[tokio::test]
async fn non_numeric_limit_is_400_with_a_message_body() {
    let h = start().await;
    let t = h.bearer().await;
    let message =
        v1_error(get_q(&h, &t, &format!("{V1}/contacts"), &[("limit", "abc")]).await, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("limit"), "{message}");
    let message =
        v1_error(get_q(&h, &t, &format!("{V1}/contacts"), &[("offset", "-5")]).await, StatusCode::BAD_REQUEST).await;
    assert!(message.contains("offset"), "{message}");
}

#[tokio::test]

async fn next_link_keeps_the_filters_of_the_query() {
    let h = start().await;
    let t = h.bearer().await;
    let all = get_ok(&h, &t, &format!("{V1}/contacts"), &[("limit", "1000")]).await;
    let contacts = all["contacts"].as_array().unwrap();
    // A given name shared by at least two contacts.
    let name = contacts
        .iter()
        .filter_map(|c| c["given_name"].as_str())
        .find(|n| contacts.iter().filter(|c| c["given_name"] == *n).count() >= 2)
        .expect("a shared given name")
        .to_string();
    let body = get_ok(&h, &t, &format!("{V1}/contacts"), &[("given_name", &name), ("limit", "1")]).await;
    let count = body["count"].as_u64().unwrap();
    assert!(count >= 2);
    let next = link(&body, "next");
    let followed =
        json_with(h.get(&t, &format!("{}?{}", next.path(), next.query().unwrap())).await, StatusCode::OK).await;
    assert_eq!(followed["count"], count, "next pages through the same query");
    assert_eq!(followed["contacts"][0]["given_name"], name.as_str());
}

#[tokio::test]
async fn contact_created_through_v1_is_visible_through_v2_with_string_ids() {
    let h = start().await;
    let t = h.bearer().await;
    let company = get_ok(&h, &t, &format!("{V2}/companies/3"), &[]).await;
    let body = json!({
        "given_name": "Vera",
        "family_name": "One",
        "email_addresses": [{"email": "vera.one@example.com", "field": "EMAIL1"}],
        "company": {"id": 3},
    });
    let created =
        json_with(h.send_json(Method::POST, &t, &format!("{V1}/contacts"), &body).await, StatusCode::CREATED).await;
    let id = created["id"].as_u64().expect("numeric id in v1");
    assert_eq!(created["company"]["id"], 3);
    assert!(created["date_created"].is_string());

    let v2 = get_ok(&h, &t, &format!("{V2}/contacts/{id}"), &[]).await;
    assert_eq!(v2["id"], id.to_string());
    assert_eq!(v2["company"]["id"], "3");
    assert_eq!(v2["company"]["company_name"], company["company_name"]);
    assert_eq!(v2["given_name"], "Vera");
    assert_eq!(v2["email_addresses"], body["email_addresses"]);
    assert_eq!(v2["create_time"], created["date_created"]);
}

#[tokio::test]
async fn v2_patch_is_visible_through_v1() {
    let h = start().await;
    let t = h.bearer().await;
    let patch = json!({"given_name": "Patched", "job_title": "Tester"});
    let response = h.send_json(Method::PATCH, &t, &format!("{V2}/contacts/12"), &patch).await;
    let v2 = json_with(response, StatusCode::OK).await;
    let v1 = get_ok(&h, &t, &format!("{V1}/contacts/12"), &[]).await;
    assert_eq!(v1["given_name"], "Patched");
    assert_eq!(v1["job_title"], "Tester");
    assert_eq!(v1["last_updated"], v2["update_time"]);

    let response = h.send_json(Method::PATCH, &t, &format!("{V1}/contacts/12"), &json!({"family_name": "ViaV1"})).await;
    let patched_v1 = json_with(response, StatusCode::OK).await;
    assert_eq!(patched_v1["id"], 12);
    assert_eq!(get_ok(&h, &t, &format!("{V2}/contacts/12"), &[]).await["family_name"], "ViaV1");
}

#[tokio::test]
async fn v1_delete_makes_the_v2_get_404() {
    let h = start().await;
    let t = h.bearer().await;
    let body = json!({"email_addresses": [{"email": "short.lived@example.com", "field": "EMAIL1"}]});
    let created =
        json_with(h.send_json(Method::POST, &t, &format!("{V1}/contacts"), &body).await, StatusCode::CREATED).await;
    let id = created["id"].as_u64().unwrap();
    let deleted = delete(&h, &t, &format!("{V1}/contacts/{id}")).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let v2 = json_with(get_q(&h, &t, &format!("{V2}/contacts/{id}"), &[]).await, StatusCode::NOT_FOUND).await;
    assert_eq!(v2["code"], 404);
    assert_eq!(v2["status"], "NOT_FOUND");
    v1_error(get_q(&h, &t, &format!("{V1}/contacts/{id}"), &[]).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn v1_opportunity_create_takes_contact_and_stage_objects() {
    let h = start().await;
    let t = h.bearer().await;
    let body = json!({"opportunity_title": "V1 deal", "contact": {"id": 4}, "stage": {"id": 3}});
    let response = h.send_json(Method::POST, &t, &format!("{V1}/opportunities"), &body).await;
    let created = json_with(response, StatusCode::CREATED).await;
    assert_eq!(created["opportunity_title"], "V1 deal");
    assert_eq!(created["contact"]["id"], 4);
    assert_eq!(created["stage"]["id"], 3);
    assert!(created["date_created"].is_string(), "{created}");
    let id = created["id"].as_u64().expect("numeric id");
    let v2 = get_ok(&h, &t, &format!("{V2}/opportunities/{id}"), &[]).await;
    assert_eq!(v2["contact"]["id"], "4");
    assert_eq!(v2["stage"]["id"], "3");
    let listed = get_ok(&h, &t, &format!("{V1}/opportunities"), &[("stage_id", "3"), ("limit", "1000")]).await;
    let opportunities = listed["opportunities"].as_array().unwrap();
    assert!(opportunities.iter().all(|o| o["stage"]["id"] == 3));
    assert!(opportunities.iter().any(|o| o["id"] == id));
    let no_contact = json!({"opportunity_title": "Missing", "stage": {"id": 3}});
    let message = v1_error(
        h.send_json(Method::POST, &t, &format!("{V1}/opportunities"), &no_contact).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("contact_id"), "{message}");
}

#[tokio::test]
async fn v1_orders_and_products_are_read_only() {
    let h = start().await;
    let t = h.bearer().await;
    let order = json!({"order_title": "X", "contact_id": 1});
    let message =
        v1_error(h.send_json(Method::POST, &t, &format!("{V1}/orders"), &order).await, StatusCode::METHOD_NOT_ALLOWED)
            .await;
    assert!(!message.is_empty());
    let product = json!({"product_name": "X", "product_price": 1.0});
    v1_error(h.send_json(Method::POST, &t, &format!("{V1}/products"), &product).await, StatusCode::METHOD_NOT_ALLOWED)
        .await;
    let patch = h.send_json(Method::PATCH, &t, &format!("{V1}/products/1"), &json!({"product_name": "Y"})).await;
    assert_eq!(patch.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(delete(&h, &t, &format!("{V1}/orders/1")).await.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get_ok(&h, &t, &format!("{V1}/orders"), &[("limit", "1")]).await["count"], 200, "nothing was created");
    assert_ne!(
        get_ok(&h, &t, &format!("{V2}/products/1"), &[]).await["name"],
        "Y",
        "the refused PATCH changed nothing"
    );
}

#[tokio::test]
async fn v1_products_show_product_name_and_a_numeric_price() {
    let h = start().await;
    let t = h.bearer().await;
    let body = get_ok(&h, &t, &format!("{V1}/products"), &[("limit", "5")]).await;
    let products = body["products"].as_array().unwrap();
    assert_eq!(products.len(), 5);
    assert_eq!(body["count"], 50);
    for product in products {
        let id = product["id"].as_u64().expect("numeric id");
        let v2 = get_ok(&h, &t, &format!("{V2}/products/{id}"), &[]).await;
        assert_eq!(product["product_name"], v2["name"]);
        assert_eq!(product["product_short_desc"], v2["short_description"]);
        let cents = v2["price"]["amount"].as_i64().unwrap();
        let price = product["product_price"].as_f64().expect("product_price is a number");
        assert!((price * 100.0 - cents as f64).abs() < 1e-6, "{price} vs {cents} cents");
        assert!(product.get("name").is_none() && product.get("price").is_none(), "{product}");
    }
}
