//! Bad input never panics: every malformed, oversized, mistyped or hostile request gets a 4xx in
//! the vendor's error shape (REST v2 `{code, message, status, details}`, REST v1 `{message}`, RFC
//! 6749 `{error}` at `/token`, an HTML error page at the authorize endpoint), never a 5xx, a
//! dropped connection or a hang.
//!
//! The first half pins one behaviour per test. The second half is a deterministic fuzz run: a
//! fixed-seed xorshift generator mixes methods, real routes, hostile ids, query strings and bodies
//! (`BAD_INPUT_SEED` and `BAD_INPUT_REQUESTS` override the seed and the count). It found the
//! empty 405s, text/plain path rejections, arithmetic overflows and unannounced connection closes
//! that the targeted tests above now pin.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::*;

const V2: &str = "/crm/rest/v2";
const V1: &str = "/crm/rest/v1";

// ---- helpers -----------------------------------------------------------------------------------

/// Reads a JSON error answer: asserts the status and a JSON content type, returns the body.
async fn json_error(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let content_type = response.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap_or("?").to_string());
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert!(
        content_type.as_deref().is_some_and(|c| c.starts_with("application/json")),
        "error is not JSON (Content-Type {content_type:?}): {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("error body is not JSON ({e}): {text}"))
}

/// A REST v2 error: `{code, message, status, details}` with `code` equal to the HTTP status.
/// Returns the message.
async fn v2_error(response: Response, status: StatusCode) -> String {
    let body = json_error(response, status).await;
    assert_eq!(body["code"], status.as_u16(), "v2 error code: {body}");
    assert!(body["status"].is_string() && body["details"].is_array(), "v2 error shape: {body}");
    message_of(&body)
}

/// A REST v1 error: just `{"message": ...}`. Returns the message.
async fn v1_error(response: Response, status: StatusCode) -> String {
    let body = json_error(response, status).await;
    assert!(body.as_object().is_some_and(|o| o.len() == 1), "v1 errors carry only a message: {body}");
    message_of(&body)
}

fn message_of(body: &Value) -> String {
    let message = body["message"].as_str().unwrap_or_else(|| panic!("no message in {body}"));
    assert!(!message.trim().is_empty(), "empty message in {body}");
    message.to_string()
}

/// Asserts that `message` mentions every one of `words` (case-insensitively).
fn assert_names(message: &str, words: &[&str]) {
    let lower = message.to_lowercase();
    for word in words {
        assert!(lower.contains(&word.to_lowercase()), "message {message:?} does not mention {word:?}");
    }
}

async fn send_raw(
    h: &Harness,
    method: Method,
    token: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Response {
    let mut request = h.http.request(method, h.url(path)).bearer_auth(token).body(body);
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    request.send().await.unwrap()
}

async fn post_json(h: &Harness, token: &str, path: &str, body: &Value) -> Response {
    h.send_json(Method::POST, token, path, body).await
}

async fn control_raw(h: &Harness, path: &str, body: &str) -> Response {
    h.http.post(h.url(path)).header(CONTENT_TYPE, "application/json").body(body.to_string()).send().await.unwrap()
}

fn a_contact() -> Value {
    json!({"given_name": "Ada", "email_addresses": [{"email": "ada@example.com", "field": "EMAIL1"}]})
}

// ---- bodies --------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_is_a_400_naming_the_parse_error() {
    let h = start().await;
    let token = h.bearer().await;
    let bodies: [&[u8]; 6] = [
        b"{\"given_name\": ",
        b"{'given_name': 'Ada'}",
        b"{\"given_name\": \"Ada\",}",
        b"not json at all",
        b"\xff\xfe{\x00\"",
        b"{\"a\":1}{\"b\":2}",
    ];
    for body in bodies {
        for (method, path) in [(Method::POST, "/contacts"), (Method::PATCH, "/contacts/1"), (Method::POST, "/tags")] {
            let response =
                send_raw(&h, method.clone(), &token, &format!("{V2}{path}"), Some("application/json"), body.to_vec())
                    .await;
            let message = v2_error(response, StatusCode::BAD_REQUEST).await;
            assert_names(&message, &["malformed json"]);
        }
        let response =
            send_raw(&h, Method::POST, &token, &format!("{V1}/contacts"), Some("application/json"), body.to_vec())
                .await;
        assert_names(&v1_error(response, StatusCode::BAD_REQUEST).await, &["malformed json"]);
    }
}

#[tokio::test]
async fn json_that_is_not_an_object_is_a_400() {
    let h = start().await;
    let token = h.bearer().await;
    for body in ["[]", "[{\"given_name\": \"Ada\"}]", "\"Ada\"", "42", "-1.5e3", "null", "true"] {
        let response =
            send_raw(&h, Method::POST, &token, &format!("{V2}/contacts"), Some("application/json"), body).await;
        assert_names(&v2_error(response, StatusCode::BAD_REQUEST).await, &["json object"]);
        let response = send_raw(&h, Method::POST, &token, &format!("{V1}/hooks"), Some("application/json"), body).await;
        assert_names(&v1_error(response, StatusCode::BAD_REQUEST).await, &["json object"]);
        let response = control_raw(&h, "/__sim/limits", body).await;
        assert_names(&v2_error(response, StatusCode::BAD_REQUEST).await, &["json object"]);
    }
}

#[tokio::test]
async fn deeply_nested_json_is_a_400_not_a_stack_overflow() {
    let h = start().await;
    let token = h.bearer().await;
    let depth_50 = format!("{}1{}", "{\"given_name\":".repeat(50), "}".repeat(50));
    let response =
        send_raw(&h, Method::POST, &token, &format!("{V2}/contacts"), Some("application/json"), depth_50).await;
    assert_names(&v2_error(response, StatusCode::BAD_REQUEST).await, &["given_name"]);
    let depth_100k = "[".repeat(100_000);
    let response =
        send_raw(&h, Method::POST, &token, &format!("{V2}/contacts"), Some("application/json"), depth_100k).await;
    assert_names(&v2_error(response, StatusCode::BAD_REQUEST).await, &["malformed json"]);
}

#[tokio::test]
async fn an_empty_or_blank_post_body_is_a_400_saying_a_body_is_required() {
    let h = start().await;
    let token = h.bearer().await;
    for body in ["", " \r\n\t "] {
        for path in ["/contacts", "/tags/1/contacts:applyTags", "/products/1:adjustInventory", "/orders/1/items"] {
            let response =
                send_raw(&h, Method::POST, &token, &format!("{V2}{path}"), Some("application/json"), body).await;
            assert_names(&v2_error(response, StatusCode::BAD_REQUEST).await, &["body is required"]);
        }
        let response = send_raw(&h, Method::POST, &token, &format!("{V1}/hooks"), None, body).await;
        assert_names(&v1_error(response, StatusCode::BAD_REQUEST).await, &["body is required"]);
        let response = control_raw(&h, "/__sim/clock/advance", body).await;
        assert_names(&v2_error(response, StatusCode::BAD_REQUEST).await, &["body is required"]);
    }
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_a_413_json_error() {
    let h = start().await;
    let token = h.bearer().await;
    let huge = json!({"given_name": "x".repeat(1024 * 1024)}).to_string();
    let response =
        send_raw(&h, Method::POST, &token, &format!("{V2}/contacts"), Some("application/json"), huge.clone()).await;
    assert_names(&v2_error(response, StatusCode::PAYLOAD_TOO_LARGE).await, &["larger than 1048576 bytes"]);
    let response =
        send_raw(&h, Method::PATCH, &token, &format!("{V1}/contacts/1"), Some("application/json"), huge).await;
    assert_names(&v1_error(response, StatusCode::PAYLOAD_TOO_LARGE).await, &["larger than"]);
    let exactly_the_limit = format!("{{\"given_name\":\"{}\"}}", "x".repeat(1024 * 1024 - 17));
    assert_eq!(exactly_the_limit.len(), 1024 * 1024);
    let response =
        send_raw(&h, Method::POST, &token, &format!("{V2}/contacts"), Some("application/json"), exactly_the_limit)
            .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "1 MiB itself is read, then validated");
}

#[tokio::test]
async fn a_body_that_is_not_json_by_content_type_is_a_415_json_error() {
    let h = start().await;
    let token = h.bearer().await;
    let body = a_contact().to_string();
    for content_type in
        ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "application/xml"]
    {
        let response =
            send_raw(&h, Method::POST, &token, &format!("{V2}/contacts"), Some(content_type), body.clone()).await;
        let message = v2_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert_names(&message, &[content_type, "application/json"]);
        let response =
            send_raw(&h, Method::POST, &token, &format!("{V1}/hooks"), Some(content_type), body.clone()).await;
        assert_names(&v1_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await, &["application/json"]);
    }
}

#[tokio::test]
async fn undeclared_and_read_only_v2_fields_are_ignored_and_never_stored() {
    // The vendor's JSON binding ignores what its document does not declare (`id` is not in a
    // create request), so the simulator drops it rather than refusing it, and never echoes it.
    let h = start().await;
    let token = h.bearer().await;
    let mut contact = a_contact();
    contact["favourite_colour"] = json!("blue");
    contact["id"] = json!("5");
    contact["email_addresses"][0]["moon"] = json!(1);
    let created = post_json(&h, &token, &format!("{V2}/contacts"), &contact).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    assert!(created.get("favourite_colour").is_none(), "{created}");
    assert_ne!(created["id"], "5");
    assert!(created["email_addresses"][0].get("moon").is_none(), "{created}");
    let patch = h.send_json(Method::PATCH, &token, &format!("{V2}/contacts/1"), &json!({"nickname": "Ada"})).await;
    assert_eq!(patch.status(), StatusCode::OK);
    assert!(patch.json::<Value>().await.unwrap().get("nickname").is_none());
    let apply =
        post_json(&h, &token, &format!("{V2}/tags/1/contacts:applyTags"), &json!({"contact_ids": ["1"], "extra": 1}))
            .await;
    assert_eq!(apply.status(), StatusCode::OK);
    let adjust = post_json(
        &h,
        &token,
        &format!("{V2}/products/1:adjustInventory"),
        &json!({"type": "INCREASE", "quantity": 1, "why": 1}),
    )
    .await;
    assert!(adjust.json::<Value>().await.unwrap().get("why").is_none());
}

#[tokio::test]
async fn unknown_v1_fields_are_a_400_naming_them() {
    let h = start().await;
    let token = h.bearer().await;
    let hook = post_json(
        &h,
        &token,
        &format!("{V1}/hooks"),
        &json!({"eventKey": "contact.add", "hookUrl": "https://x.example.com", "secret": 1}),
    )
    .await;
    assert_names(&v1_error(hook, StatusCode::BAD_REQUEST).await, &["secret"]);
}

#[tokio::test]
async fn wrongly_typed_fields_are_a_400_naming_the_field_and_the_type() {
    let h = start().await;
    let token = h.bearer().await;
    let cases = [
        ("/contacts", json!({"given_name": 5}), vec!["given_name", "string"]),
        ("/contacts", json!({"email_addresses": "ada@example.com"}), vec!["email_addresses", "array"]),
        ("/contacts", json!({"company": ["1"]}), vec!["company", "object"]),
        (
            "/contacts",
            json!({"email_addresses": [{"email": "ada@example.com", "field": "EMAIL9"}]}),
            vec!["email_addresses[0].field"],
        ),
        ("/contacts", json!({"email_addresses": [{"email": 7, "field": "EMAIL1"}]}), vec!["email_addresses[0].email"]),
        ("/products", json!({"name": "P", "short_description": "p", "price": "10"}), vec!["price", "integer"]),
        ("/products", json!({"name": "P", "short_description": "p", "price": 1.5}), vec!["price", "integer"]),
        (
            "/opportunities/stages",
            json!({"name": "S", "order": 1.5, "probability": 5, "target_number_days": 1}),
            vec!["order", "integer"],
        ),
        ("/tags", json!({"name": ["a"]}), vec!["name", "string"]),
        ("/tags/1/contacts:applyTags", json!({"contact_ids": "1"}), vec!["contact_ids", "array"]),
        ("/tags/1/contacts:applyTags", json!({"contact_ids": [{"id": 1}]}), vec!["contact_ids"]),
        ("/products/1:adjustInventory", json!({"type": "INCREASE", "quantity": "5"}), vec!["quantity", "integer"]),
        ("/products/1:adjustInventory", json!({"type": "SIDEWAYS", "quantity": 5}), vec!["type"]),
    ];
    for (path, body, words) in cases {
        let message =
            v2_error(post_json(&h, &token, &format!("{V2}{path}"), &body).await, StatusCode::BAD_REQUEST).await;
        assert_names(&message, &words);
    }
    let patch = h
        .send_json(Method::PATCH, &token, &format!("{V2}/opportunities/1"), &json!({"next_action_time": "tomorrow"}))
        .await;
    assert_names(&v2_error(patch, StatusCode::BAD_REQUEST).await, &["next_action_time", "iso-8601"]);
    let v1 = h.send_json(Method::PATCH, &token, &format!("{V1}/contacts/1"), &json!({"given_name": false})).await;
    assert_names(&v1_error(v1, StatusCode::BAD_REQUEST).await, &["given_name", "string"]);
}

// ---- list parameters -----------------------------------------------------------------------------

#[tokio::test]
async fn a_filter_without_an_operator_is_a_400() {
    let h = start().await;
    let token = h.bearer().await;
    for filter in ["given_name", "given_name%3DAda", "given_name~~Ada", "%3D%3DAda"] {
        let message =
            v2_error(h.get(&token, &format!("{V2}/contacts?filter={filter}")).await, StatusCode::BAD_REQUEST).await;
        assert_names(&message, &["filter"]);
    }
    let message =
        v2_error(h.get(&token, &format!("{V2}/contacts?filter=given_name")).await, StatusCode::BAD_REQUEST).await;
    assert_names(&message, &["given_name", "expected field==value"]);
}

#[tokio::test]
async fn a_filter_on_an_unknown_field_is_a_400_listing_the_allowed_fields() {
    let h = start().await;
    let token = h.bearer().await;
    let message =
        v2_error(h.get(&token, &format!("{V2}/contacts?filter=nickname%3D%3DAda")).await, StatusCode::BAD_REQUEST)
            .await;
    assert_names(&message, &["nickname", "allowed fields", "given_name"]);
    let message = v2_error(
        h.get(&token, &format!("{V2}/tags?filter=name%3D%3Da%3Bcolour%3D%3Dred")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_names(&message, &["colour"]);
    let message =
        v1_error(h.get(&token, &format!("{V1}/contacts?email=a%3Bgiven_name%3D%3Db")).await, StatusCode::BAD_REQUEST)
            .await;
    assert_names(&message, &["email"]);
}

#[tokio::test]
async fn a_filter_of_only_separators_is_no_filter_or_a_400_never_a_server_error() {
    let h = start().await;
    let token = h.bearer().await;
    let unfiltered = json_with(h.get(&token, &format!("{V2}/contacts?page_size=5")).await, StatusCode::OK).await;
    let response = h.get(&token, &format!("{V2}/contacts?page_size=5&filter=%3B%3B%3B")).await;
    if response.status() == StatusCode::OK {
        let body = json_with(response, StatusCode::OK).await;
        assert_eq!(body["contacts"], unfiltered["contacts"], "';;;' holds no clause, so it selects everything");
    } else {
        assert_names(&v2_error(response, StatusCode::BAD_REQUEST).await, &["filter"]);
    }
}

#[tokio::test]
async fn a_ten_kilobyte_filter_value_is_answered_not_choked_on() {
    let h = start().await;
    let token = h.bearer().await;
    let long = "x".repeat(10 * 1024);
    let text =
        json_with(h.get(&token, &format!("{V2}/contacts?filter=given_name%3D%3D{long}")).await, StatusCode::OK).await;
    assert_eq!(text["contacts"], json!([]), "no contact has a 10 KB name");
    let number =
        v2_error(h.get(&token, &format!("{V2}/contacts?filter=contact_id%3E{long}")).await, StatusCode::BAD_REQUEST)
            .await;
    assert_names(&number, &["contact_id", "a number"]);
    let ids =
        v2_error(h.get(&token, &format!("{V2}/contacts?filter=ids%3D%3D1,{long}")).await, StatusCode::BAD_REQUEST)
            .await;
    assert_names(&ids, &["ids"]);
    let field =
        v2_error(h.get(&token, &format!("{V2}/contacts?filter={long}%3D%3D1")).await, StatusCode::BAD_REQUEST).await;
    assert_names(&field, &["invalid filter field"]);
    let since = v2_error(
        h.get(&token, &format!("{V2}/contacts?filter=start_update_time%3D%3D{long}")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_names(&since, &["start_update_time", "iso-8601"]);
}

#[tokio::test]
async fn an_absurd_page_size_is_a_400_naming_page_size() {
    let h = start().await;
    let token = h.bearer().await;
    for size in ["99999999999999999999", "-1", "1e3", "abc", "1001", "1.0", "0x10", "%00", "%E2%88%9E"] {
        for path in ["/contacts", "/tags", "/contacts/1/tags", "/orders/1/payments", "/notes"] {
            let response = h.get(&token, &format!("{V2}{path}?page_size={size}")).await;
            assert_names(&v2_error(response, StatusCode::BAD_REQUEST).await, &["page_size"]);
        }
    }
    let ok = json_with(h.get(&token, &format!("{V2}/contacts?page_size=1000")).await, StatusCode::OK).await;
    assert!(ok["contacts"].as_array().is_some_and(|c| !c.is_empty()));
}

#[tokio::test]
async fn forged_truncated_garbled_and_foreign_page_tokens_are_a_400() {
    let h = start().await;
    let token = h.bearer().await;
    let first = json_with(h.get(&token, &format!("{V2}/contacts?page_size=2")).await, StatusCode::OK).await;
    let page_token = first["next_page_token"].as_str().expect("more than one page").to_string();
    let second = h.get(&token, &format!("{V2}/contacts?page_size=2&page_token={page_token}")).await;
    assert_eq!(second.status(), StatusCode::OK, "the genuine token works");

    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(&page_token).unwrap()).unwrap();
    let (payload, _mac) = decoded.rsplit_once('.').unwrap();
    let (_offset, fingerprint) = payload.split_once('.').unwrap();
    let forged_offset = URL_SAFE_NO_PAD.encode(format!("0.{fingerprint}.{}", "0".repeat(16)));
    let forged_mac = URL_SAFE_NO_PAD.encode(format!("2.{fingerprint}.deadbeef"));
    let huge_offset = URL_SAFE_NO_PAD.encode(format!("99999999999999999999999.{fingerprint}.0"));
    let truncated = page_token[..page_token.len() - 3].to_string();
    for bad in [
        forged_offset,
        forged_mac,
        huge_offset,
        truncated,
        "!!!not-base64!!!".to_string(),
        "%00".to_string(),
        "%FF%FE".to_string(),
        URL_SAFE_NO_PAD.encode([0xff, 0xfe, 0x00]),
        "a".repeat(10_000),
    ] {
        let response = h.get(&token, &format!("{V2}/contacts?page_size=2&page_token={bad}")).await;
        assert_names(&v2_error(response, StatusCode::BAD_REQUEST).await, &["page_token"]);
    }
    for other_query in [
        format!("{V2}/contacts?page_size=2&filter=given_name%3D%3DA*&page_token={page_token}"),
        format!("{V2}/contacts?page_size=2&order_by=email&page_token={page_token}"),
        format!("{V2}/companies?page_size=2&page_token={page_token}"),
        format!("{V2}/tags/1/contacts?page_size=2&page_token={page_token}"),
    ] {
        let message = v2_error(h.get(&token, &other_query).await, StatusCode::BAD_REQUEST).await;
        assert_names(&message, &["page_token", "different query"]);
    }
}

#[tokio::test]
async fn v1_paging_parameters_that_are_not_counts_are_a_400_message() {
    let h = start().await;
    let token = h.bearer().await;
    for (query, name) in [
        ("limit=-5", "limit"),
        ("limit=abc", "limit"),
        ("limit=1e3", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
    ] {
        for collection in ["contacts", "companies", "orders"] {
            let message =
                v1_error(h.get(&token, &format!("{V1}/{collection}?{query}")).await, StatusCode::BAD_REQUEST).await;
            assert_names(&message, &[name]);
        }
    }
    let message =
        v1_error(h.get(&token, &format!("{V1}/contacts?order=shoe_size")).await, StatusCode::BAD_REQUEST).await;
    assert_names(&message, &["order", "shoe_size"]);
    let message = v1_error(
        h.get(&token, &format!("{V1}/contacts?order=email&order_direction=UP")).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_names(&message, &["order_direction"]);
}

// ---- ids and paths -----------------------------------------------------------------------------

#[tokio::test]
async fn path_ids_that_are_not_digits_are_a_400_naming_the_id() {
    let h = start().await;
    let token = h.bearer().await;
    for id in ["abc", "-1", "1.5", "1e3", "+1", "%201", "0x1F", "%E2%91%A0"] {
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let response =
                send_raw(&h, method.clone(), &token, &format!("{V2}/contacts/{id}"), Some("application/json"), "{}")
                    .await;
            let message = v2_error(response, StatusCode::BAD_REQUEST).await;
            assert_names(&message, &["invalid contact id"]);
        }
        let message = v1_error(h.get(&token, &format!("{V1}/contacts/{id}")).await, StatusCode::BAD_REQUEST).await;
        assert_names(&message, &["invalid contact id"]);
        let message =
            v2_error(h.get(&token, &format!("{V2}/contacts/{id}/notes")).await, StatusCode::BAD_REQUEST).await;
        assert_names(&message, &["invalid contact id"]);
        for path in
            [format!("{V2}/tags/{id}/contacts"), format!("{V2}/orders/{id}/payments"), format!("{V1}/hooks/{id}")]
        {
            let response = h.get(&token, &path).await;
            let status = response.status();
            assert!(status.is_client_error(), "{path}: {status}");
            let body = json_error(response, status).await;
            message_of(&body);
        }
    }
    let message = v2_error(h.get(&token, &format!("{V2}/contacts/99999999")).await, StatusCode::NOT_FOUND).await;
    assert_names(&message, &["99999999"]);
}

/// Digits are an id as the reading in vendor/readings.yml says, however many: more than any id
/// holds names no record, a 404 like any other missing one.
#[tokio::test]
async fn path_ids_of_too_many_digits_name_no_record_and_are_a_404() {
    let h = start().await;
    let token = h.bearer().await;
    for id in ["99999999999999999999999", "18446744073709551616"] {
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            let path = format!("{V2}/contacts/{id}");
            let response = send_raw(&h, method.clone(), &token, &path, Some("application/json"), "{}").await;
            assert_names(&v2_error(response, StatusCode::NOT_FOUND).await, &[id]);
        }
        for path in [
            format!("{V2}/contacts/{id}/notes"),
            format!("{V2}/contacts/1/notes/{id}"),
            format!("{V2}/tags/{id}/contacts"),
            format!("{V2}/orders/{id}/payments"),
            format!("{V2}/orders/1/items/{id}"),
        ] {
            v2_error(h.get(&token, &path).await, StatusCode::NOT_FOUND).await;
        }
        v1_error(h.get(&token, &format!("{V1}/contacts/{id}")).await, StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn path_traversal_looking_ids_are_a_4xx_and_reach_nothing() {
    let h = start().await;
    let token = h.bearer().await;
    for path in [
        format!("{V2}/contacts/..%2F..%2Fetc"),
        format!("{V2}/contacts/..%2F..%2F..%2F__sim%2Freset"),
        format!("{V2}/contacts/%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
        format!("{V2}/contacts/..%5C..%5Cwindows"),
        format!("{V2}/contacts/1%2F..%2F2"),
        format!("{V1}/contacts/..%2F..%2Fv2%2Fcontacts"),
        format!("{V1}/hooks/..%2F..%2Fv2%2Fcontacts"),
        format!("{V2}/contacts/1/notes/..%2F..%2F1"),
    ] {
        for method in [Method::GET, Method::DELETE] {
            let response = h.http.request(method.clone(), h.url(&path)).bearer_auth(&token).send().await.unwrap();
            let status = response.status();
            assert!(status.is_client_error(), "{method} {path}: {status}");
            message_of(&json_error(response, status).await);
        }
    }
    let stats = h.stats().await;
    assert!(stats["records"]["sandbox.infusionsoft.com"]["contacts"].as_u64().unwrap() >= 300, "nothing was deleted");
    assert_eq!(stats["api_calls"], 16, "every call went through the gateway, none reset the simulator");
}

// ---- test controls -----------------------------------------------------------------------------

#[tokio::test]
async fn the_clock_refuses_negative_huge_and_non_integer_seconds() {
    let h = start().await;
    let before = keap_sim::clock::parse_iso(h.stats().await["clock"].as_str().unwrap()).unwrap();
    for body in [
        r#"{"seconds": -1}"#,
        r#"{"seconds": 0}"#,
        r#"{"seconds": -9223372036854775808}"#,
        r#"{"seconds": 316224001}"#,
        r#"{"seconds": 9223372036854775807}"#,
        r#"{"seconds": 18446744073709551616}"#,
        r#"{"seconds": 1e300}"#,
        r#"{"seconds": 1.5}"#,
        r#"{"seconds": "60"}"#,
        r#"{"seconds": null}"#,
        r#"{"seconds": [60]}"#,
        r#"{"minutes": 1}"#,
        r#"{}"#,
    ] {
        let message = v2_error(control_raw(&h, "/__sim/clock/advance", body).await, StatusCode::BAD_REQUEST).await;
        assert_names(&message, &["seconds"]);
    }
    let after = keap_sim::clock::parse_iso(h.stats().await["clock"].as_str().unwrap()).unwrap();
    assert!((after - before).num_seconds() < 60, "the clock did not move: {before} -> {after}");
}

#[tokio::test]
async fn bad_fault_specs_are_a_400_and_arm_nothing() {
    let h = start().await;
    let token = h.bearer().await;
    let cases: [(&str, &[&str]); 12] = [
        (r#"{}"#, &["status", "delay_ms", "drop_connection"]),
        (r#"{"path_prefix": "/"}"#, &["at least one"]),
        (r#"{"status": 700}"#, &["status"]),
        (r#"{"status": 99}"#, &["status"]),
        (r#"{"path_prefix": "crm/rest", "status": 503}"#, &["path_prefix"]),
        (r#"{"status": 503, "probability": 1.5}"#, &["probability"]),
        (r#"{"status": 503, "probability": -0.1}"#, &["probability"]),
        (r#"{"status": 503, "count": 0}"#, &["count"]),
        (r#"{"delay_ms": 600001}"#, &["delay_ms"]),
        (r#"{"status": 503, "colour": "red"}"#, &["colour"]),
        (r#"{"status": "503"}"#, &["invalid type"]),
        (r#"{"status": 503, "count": -1}"#, &["-1"]),
    ];
    for (body, words) in cases {
        let message = v2_error(control_raw(&h, "/__sim/faults", body).await, StatusCode::BAD_REQUEST).await;
        assert_names(&message, words);
    }
    for body in [r#"{"status": 70000}"#, r#"{"delay_ms": -5}"#, r#"{"drop_connection": "yes"}"#, "[]", "{"] {
        v2_error(control_raw(&h, "/__sim/faults", body).await, StatusCode::BAD_REQUEST).await;
    }
    assert_eq!(h.stats().await["faults"], json!([]));
    assert_eq!(h.get(&token, &format!("{V2}/contacts?page_size=1")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_limits_are_a_400_and_change_nothing() {
    let h = start().await;
    let token = h.bearer().await;
    let cases: [(&str, &[&str]); 9] = [
        (r#"{"per_hour": 5}"#, &["unknown field", "per_hour"]),
        (r#"{"per_second": -1}"#, &["per_second", "positive integer"]),
        (r#"{"per_minute": 0}"#, &["per_minute"]),
        (r#"{"per_day": 1.5}"#, &["per_day"]),
        (r#"{"per_day": "10"}"#, &["per_day"]),
        (r#"{"per_second": 18446744073709551616}"#, &["per_second"]),
        (r#"{"per_second": -9223372036854775808}"#, &["per_second"]),
        (r#"{"per_second": [1]}"#, &["per_second"]),
        // The valid `per_minute` must not be applied when a later key is refused.
        (r#"{"per_minute": 1, "per_second": -1}"#, &["per_second"]),
    ];
    for (body, words) in cases {
        let message = v2_error(control_raw(&h, "/__sim/limits", body).await, StatusCode::BAD_REQUEST).await;
        assert_names(&message, words);
    }
    for _ in 0..5 {
        let response = h.get(&token, &format!("{V2}/contacts?page_size=1")).await;
        assert_eq!(response.status(), StatusCode::OK, "the limits are still lifted");
    }
}

// ---- OAuth ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_100_kb_token_form_is_a_400_json_error() {
    let h = start().await;
    let padding = "x".repeat(100 * 1024);
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", padding.as_str()),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    let response = h.token_call(&form).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_error(response, StatusCode::BAD_REQUEST).await;
    assert_eq!(body["error"], "invalid_request");
    assert_names(body["error_description"].as_str().unwrap(), &["too large"]);
    for garbage in [&b"\xff\xfe%%%&&&===="[..], b"grant_type", b"=&=&=", b"grant_type=%ZZ&client_id=%00"] {
        let response = h
            .http
            .post(h.url("/token"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(garbage.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED, "{status}");
        assert!(json_error(response, status).await["error"].is_string());
    }
}

#[tokio::test]
async fn a_garbage_authorize_decision_is_an_html_error_page_without_a_redirect() {
    let h = start().await;
    let bodies: [Vec<u8>; 4] = [
        b"\xff\xfe%%%&&&====".to_vec(),
        b"client_id=%00&redirect_uri=%FF&decision=allow".to_vec(),
        b"not a form at all".to_vec(),
        format!("client_id={CLIENT_ID}&redirect_uri={}", "x".repeat(100 * 1024)).into_bytes(),
    ];
    for body in bodies {
        let response = h
            .http
            .post(h.url("/app/oauth/authorize"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.headers().get(LOCATION).is_none(), "no redirect to an untrusted place");
        assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        let page = response.text().await.unwrap();
        assert!(page.contains("Authorization error"), "{page}");
    }
}

// ---- hooks ---------------------------------------------------------------------------------------

#[tokio::test]
async fn hooks_refuse_a_non_url_hook_url_or_an_unknown_event_key() {
    let h = start().await;
    let token = h.bearer().await;
    for url in [
        "not a url",
        "ftp://files.example.com/hook",
        "javascript:alert(1)",
        "http://",
        "/relative/hook",
        "mailto:a@example.com",
    ] {
        let response =
            post_json(&h, &token, &format!("{V1}/hooks"), &json!({"eventKey": "contact.add", "hookUrl": url})).await;
        assert_names(&v1_error(response, StatusCode::BAD_REQUEST).await, &["hookurl"]);
    }
    let too_long = format!("https://example.com/{}", "a".repeat(3000));
    let response =
        post_json(&h, &token, &format!("{V1}/hooks"), &json!({"eventKey": "contact.add", "hookUrl": too_long})).await;
    assert_names(&v1_error(response, StatusCode::BAD_REQUEST).await, &["hookurl"]);
    for event_key in [json!("contact.explode"), json!(""), json!(5), json!(null), json!(["contact.add"])] {
        let body = json!({"eventKey": event_key, "hookUrl": "https://hooks.example.com/in"});
        let response = post_json(&h, &token, &format!("{V1}/hooks"), &body).await;
        assert_names(&v1_error(response, StatusCode::BAD_REQUEST).await, &["eventkey"]);
    }
    let update =
        h.send_json(Method::PUT, &token, &format!("{V1}/hooks/1"), &json!({"eventKey": "nope", "hookUrl": "x"})).await;
    assert_eq!(update.status(), StatusCode::BAD_REQUEST);
    let delayed =
        h.http.post(h.url(&format!("{V1}/hooks/abc/delayedVerify"))).bearer_auth(&token).send().await.unwrap();
    v1_error(delayed, StatusCode::NOT_FOUND).await;
    assert_eq!(json_with(h.get(&token, &format!("{V1}/hooks")).await, StatusCode::OK).await, json!([]));
    assert_eq!(h.stats().await["hooks"]["verifications"], 0, "no verification request was sent anywhere");
}

// ---- open bugs, reproduced -----------------------------------------------------------------------

#[tokio::test]
async fn a_method_a_rest_route_does_not_take_is_a_json_405() {
    let h = start().await;
    let token = h.bearer().await;
    for (method, path) in [
        (Method::PUT, format!("{V2}/contacts")),
        (Method::PUT, format!("{V2}/contacts/1")),
        (Method::DELETE, format!("{V2}/contacts")),
        (Method::PATCH, format!("{V2}/tags/1/contacts:applyTags")),
        (Method::PUT, format!("{V1}/contacts")),
        (Method::POST, format!("{V1}/hooks/event_keys")),
    ] {
        let response = send_raw(&h, method, &token, &path, Some("application/json"), "{}").await;
        let status = response.status();
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        message_of(&json_error(response, status).await);
    }
}

#[tokio::test]
async fn invalid_utf8_in_a_path_id_is_a_json_400() {
    let h = start().await;
    let token = h.bearer().await;
    for path in [
        format!("{V2}/contacts/%FF"),
        format!("{V2}/contacts/1/notes/%C0%AF"),
        format!("{V2}/tags/%FE/contacts"),
        format!("{V1}/contacts/%FF"),
        format!("{V1}/hooks/%FF"),
    ] {
        let response = h.get(&token, &path).await;
        let status = response.status();
        assert!(status.is_client_error(), "{path}: {status}");
        message_of(&json_error(response, status).await);
    }
}

#[tokio::test]
async fn a_v1_offset_near_usize_max_is_answered_not_a_panic() {
    let h = start().await;
    let token = h.bearer().await;
    for offset in ["18446744073709551615", "18446744073709551000"] {
        let response = h.http.get(h.url(&format!("{V1}/contacts?offset={offset}"))).bearer_auth(&token).send().await;
        let response = response.unwrap_or_else(|e| panic!("offset={offset}: no answer ({e}); the server panicked"));
        let status = response.status();
        assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{status}");
        json_error(response, status).await;
    }
}

#[tokio::test]
async fn an_order_whose_total_overflows_is_a_400_not_a_panic() {
    let h = start().await;
    let token = h.bearer().await;
    let order = |items: Value| json!({"contact_id": "1", "order_time": "2026-01-01T00:00:00Z", "order_title": "Big", "order_type": "ONLINE", "order_items": items});
    for items in [
        json!([{"quantity": 2, "price_per_unit": 1e300}]),
        json!([{"quantity": 9223372036854775807_i64, "price_per_unit": 2}]),
        json!([{"quantity": 1, "price_per_unit": 1e300}, {"quantity": 1, "price_per_unit": 1e300}]),
        json!([{"quantity": 1, "price_per_unit": -1e300}, {"quantity": 1, "price_per_unit": -1}]),
    ] {
        let sent =
            h.http.post(h.url(&format!("{V2}/orders"))).bearer_auth(&token).json(&order(items.clone())).send().await;
        let response = sent.unwrap_or_else(|e| panic!("{items}: no answer ({e}); the server panicked"));
        let status = response.status();
        assert!(status.is_client_error() || status == StatusCode::CREATED, "{items}: {status}");
    }
}

#[tokio::test]
async fn an_inventory_adjustment_that_overflows_is_a_400_not_a_panic() {
    let h = start().await;
    let token = h.bearer().await;
    for _ in 0..2 {
        let body = json!({"type": "INCREASE", "quantity": i64::MAX});
        let sent = h
            .http
            .post(h.url(&format!("{V2}/products/1:adjustInventory")))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await;
        let response = sent.unwrap_or_else(|e| panic!("no answer ({e}); the server panicked"));
        assert!(response.status() == StatusCode::OK || response.status() == StatusCode::BAD_REQUEST);
    }
}

#[tokio::test]
async fn payments_that_overflow_the_paid_total_are_a_400_not_a_panic() {
    let h = start().await;
    let token = h.bearer().await;
    let order =
        json!({"contact_id": "1", "order_time": "2026-01-01T00:00:00Z", "order_title": "Pay", "order_type": "ONLINE"});
    let created = json_with(post_json(&h, &token, &format!("{V2}/orders"), &order).await, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let body = json!({"payment_amount": 1e300, "apply_to_commissions": true});
        let sent =
            h.http.post(h.url(&format!("{V2}/orders/{id}/payments"))).bearer_auth(&token).json(&body).send().await;
        let response = sent.unwrap_or_else(|e| panic!("no answer ({e}); the server panicked"));
        assert!(response.status() == StatusCode::CREATED || response.status() == StatusCode::BAD_REQUEST);
    }
    let item =
        post_json(&h, &token, &format!("{V2}/orders/{id}/items"), &json!({"quantity": 1, "price_per_unit": 1})).await;
    assert!(item.status().is_success() || item.status().is_client_error(), "the order still takes changes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn advancing_the_clock_past_the_calendar_is_refused_not_a_panic() {
    let h = start().await;
    let mut refused = false;
    for step in 0..30_000 {
        let sent = h.http.post(h.url("/__sim/clock/advance")).json(&json!({"seconds": 316_224_000})).send().await;
        let response = sent.unwrap_or_else(|e| panic!("step {step}: no answer ({e}); the server panicked"));
        match response.status() {
            StatusCode::OK => {}
            StatusCode::BAD_REQUEST => {
                refused = true;
                break;
            }
            other => panic!("step {step}: {other}"),
        }
    }
    assert!(refused, "the clock must stop somewhere before the end of the calendar");
    assert_eq!(h.http.get(h.url("/__sim/stats")).send().await.expect("stats answer").status(), StatusCode::OK);
}

#[tokio::test]
async fn an_unread_body_does_not_break_the_next_request_on_the_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = start().await;
    let token = h.bearer().await;
    let big = 2 * 1024 * 1024;
    let mut problems = Vec::new();
    for (method, path, auth) in [
        ("PUT", format!("{V2}/contacts"), true),
        ("POST", format!("{V2}/nothing-here"), true),
        ("POST", format!("{V2}/contacts"), false),
        ("POST", format!("{V2}/contacts"), true),
        ("GET", format!("{V2}/contacts?page_size=1"), true),
    ] {
        let stream = tokio::net::TcpStream::connect(h.sim.addr()).await.unwrap();
        let (mut reader, mut writer) = stream.into_split();
        let auth_line = if auth { format!("Authorization: Bearer {token}\r\n") } else { String::new() };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: sim\r\n{auth_line}Content-Type: application/json\r\nContent-Length: {big}\r\n\r\n"
        );
        let mut request = head.into_bytes();
        request.extend(std::iter::repeat_n(b' ', big));
        let writing = tokio::spawn(async move {
            let _ = writer.write_all(&request).await;
            writer
        });
        let mut answer = Vec::new();
        let mut buf = [0u8; 8192];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => answer.extend_from_slice(&buf[..n]),
                other => {
                    problems.push(format!("{method} {path}: no answer ({other:?})"));
                    break;
                }
            }
        }
        let head = String::from_utf8_lossy(&answer).to_lowercase();
        let status_line = head.lines().next().unwrap_or("").to_string();
        if head.is_empty() || head.contains("connection: close") {
            continue; // announced: a client will not reuse the connection
        }
        let mut writer = tokio::time::timeout(Duration::from_secs(10), writing).await.expect("body written").unwrap();
        let next = format!(
            "GET {V2}/contacts?page_size=1 HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        );
        let sent = writer.write_all(next.as_bytes()).await;
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), reader.read_to_end(&mut rest)).await;
        if sent.is_err() || !String::from_utf8_lossy(&rest).contains("HTTP/1.1 200") {
            problems.push(format!(
                "{method} {path}: answered {status_line:?} with the connection kept open, but the next request on it got {read:?} ({} bytes)",
                rest.len()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---- fuzz ----------------------------------------------------------------------------------------

/// The seed of the fuzz run; `BAD_INPUT_SEED` (decimal or 0x-hex) overrides it.
const DEFAULT_SEED: u64 = 0x5EED_BAD1_4B17;
/// Requests per run; `BAD_INPUT_REQUESTS` overrides it.
const DEFAULT_REQUESTS: usize = 10_000;
/// Requests in flight at once.
const WORKERS: usize = 8;

/// xorshift64* (Vigna): tiny, deterministic, plenty for picking inputs.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

#[rustfmt::skip]
const V2_COLLECTIONS: &[&str] = &[
    "contacts", "companies", "opportunities", "opportunities/stages", "tags", "tasks", "users", "products", "orders",
    "subscriptions", "campaigns",
];
/// Routes below the collections, each with the methods it takes (G=GET P=POST A=PATCH U=PUT
/// D=DELETE); requests mostly use one of those, so that most of them reach a handler.
#[rustfmt::skip]
const V2_NESTED: &[(&str, &str)] = &[
    ("/notes", "G"), ("/contacts/{id}/notes", "GP"), ("/contacts/{id}/notes/{id}", "GAD"), ("/contacts/{id}/tags", "G"),
    ("/tags/{id}/contacts", "G"), ("/tags/{id}/contacts:applyTags", "P"), ("/tags/{id}/contacts:removeTags", "P"),
    ("/orders/{id}/items", "P"), ("/orders/{id}/items/{id}", "GD"), ("/orders/{id}/payments", "GP"),
    ("/products/{id}:adjustInventory", "P"), ("/contacts/{id}:applyTags", "P"), ("/contacts:search", "G"),
    ("/sales/transactions", "G"),
];
const V1_COLLECTIONS: &[&str] =
    &["contacts", "companies", "opportunities", "tags", "tasks", "notes", "orders", "products"];
#[rustfmt::skip]
const V1_HOOKS: &[(&str, &str)] = &[
    ("/hooks", "GP"), ("/hooks/event_keys", "G"), ("/hooks/{id}", "GUD"), ("/hooks/{id}/verify", "P"),
    ("/hooks/{id}/delayedVerify", "P"),
];
/// Every control but `/__sim/reset`, which would wipe the simulator under the run.
const CONTROLS: &[(&str, &str)] =
    &[("/__sim/stats", "G"), ("/__sim/clock/advance", "P"), ("/__sim/faults", "PD"), ("/__sim/limits", "P")];

/// Ids as a path segment: valid, absent, negative, huge, encoded, hostile.
#[rustfmt::skip]
const IDS: &[&str] = &[
    "1", "2", "7", "42", "150", "300", "301", "999999", "0", "00001", "-1", "abc", "1.5", "1e3", "+1", "%201", "%20",
    "99999999999999999999999", "18446744073709551615", "9223372036854775807", "..%2F..%2Fetc", "%2e%2e", "%00",
    "%C3%A9", "%E2%82%AC", "%F0%9F%8E%89", "a%3Bb", "1%3AapplyTags", "%7Bid%7D", "*", "", "%25", "%2F", "1%2C2",
];
/// Ids whose percent-decoding is not UTF-8.
const INVALID_UTF8_IDS: &[&str] = &["%FF", "%C0%AF", "%ED%A0%80"];
#[rustfmt::skip]
const SUFFIXES: &[&str] = &[
    "", "", "", "", "/", "//", "/x", ":applyTags", ":adjustInventory", ":nope", "%00", "%2F", ";jsessionid=1", "~",
    ".json", "/1",
];
#[rustfmt::skip]
const QUERY_KEYS: &[&str] = &[
    "filter", "filter", "page_size", "page_size", "page_token", "page_token", "order_by", "fields", "update_mask",
    "limit", "offset", "order", "order_direction", "duplicate_option", "email", "given_name", "since", "until",
    "contact_id", "client_id", "redirect_uri", "response_type", "scope", "state", "", "filter%5B%5D", "%00", "%C3%A9",
    "a%3Db",
];
#[rustfmt::skip]
const QUERY_VALUES: &[&str] = &[
    "", "0", "1", "2", "-1", "1e3", "abc", "99999999999999999999", "9223372036854775807", "1000", "1001", "%3D%3D",
    "%3B", "%3B%3B%3B", "*", "**", "given_name%3D%3D", "given_name%3D%3DA*", "email%3D%3D*%40*", "contact_id%3E5",
    "contact_id%3E%3Dabc", "contact_id!%3D1", "ids%3D%3D1,2,x", "ids%3D%3D", "start_update_time%3D%3Dyesterday",
    "start_update_time%3D%3D2026-01-01T00:00:00Z", "given_name%3D%3Da%3Bnickname%3D%3Db", "id+desc", "id%20sideways",
    "email,", ",,,", "nope", "true", "%00", "%FF", "%zz", "%", "a%00b", "ASCENDING", "DESCENDING", "sideways", "Email",
    "EmailAndName", "full", "code", "given_name,email_addresses", "id", "%E2%80%AE", "=", "==", "a=b=c",
];
/// Values that once overflowed `offset + limit`.
const OVERFLOWING_QUERY_VALUES: &[&str] = &["18446744073709551615", "18446744073709551000"];
#[rustfmt::skip]
const TEXT_PIECES: &[&str] = &[
    "a", "Z", "0", "9", " ", "-", "_", ".", "~", "é", "ß", "日本", "🎉", "\u{202E}", "\u{200B}", "\u{0}", "\n", "\"", "'",
    "<", ">", "&", "=", ";", "*", "%", "#", "?", "/", "\\", "+", ",", "{", "}", "[", "]", "\u{FEFF}", "\u{1F4A9}",
];
#[rustfmt::skip]
const JSON_KEYS: &[&str] = &[
    "given_name", "family_name", "email_addresses", "phone_numbers", "addresses", "company", "owner_id", "contact_ids",
    "name", "description", "category", "opportunity_title", "contact_id", "stage_id", "user_id", "next_action_time",
    "projected_revenue_low", "price", "quantity", "type", "order_items", "order_time", "order_title", "order_type",
    "payment_amount", "apply_to_commissions", "product_id", "eventKey", "hookUrl", "key", "status", "id", "field",
    "email", "number", "custom_fields", "update_time", "", "é", "__proto__", "constructor", "a.b", "$where",
];
#[rustfmt::skip]
const JSON_STRINGS: &[&str] = &[
    "", "1", "42", "-1", "abc", "Ada", "ada@example.com", "not-an-email", "EMAIL1", "EMAIL9", "PHONE1", "BILLING",
    "INCREASE", "DECREASE", "ONLINE", "OFFLINE", "contact.add", "contact.explode", "2026-01-01T00:00:00Z", "yesterday",
    "true", "null", "http://", "ftp://files.example.com/x", "javascript:alert(1)", "mailto:a@example.com",
    "file:///etc/passwd", "../../etc/passwd", "%00", "\u{0}", "🎉", "\u{202E}gnp.exe", "<script>alert(1)</script>",
    "'; DROP TABLE contacts; --", "{{7*7}}", "${jndi:ldap://x}",
];
#[rustfmt::skip]
const JSON_NUMBERS: &[&str] = &[
    "0", "1", "-1", "42", "300", "1.5", "-0.0", "1e3", "1e300", "-1e300", "5e-324", "9223372036854775807",
    "-9223372036854775808", "18446744073709551615", "18446744073709551616", "123456789012345678901234567890",
];
#[rustfmt::skip]
const CONTENT_TYPES: &[&[u8]] = &[
    b"application/json", b"application/json", b"application/json", b"application/json", b"application/json",
    b"application/json", b"application/json", b"application/json; charset=utf-8", b"text/plain",
    b"application/x-www-form-urlencoded", b"multipart/form-data; boundary=x", b"application/vnd.api+json", b"",
    b"\xc3\xa9/\xc3\xa9", b"application/json; charset=utf-16",
];
#[rustfmt::skip]
const FORM_KEYS: &[&str] = &[
    "grant_type", "code", "redirect_uri", "client_id", "client_secret", "refresh_token", "response_type", "scope",
    "state", "decision", "username", "password", "account", "", "%00",
];
#[rustfmt::skip]
const FORM_VALUES: &[&str] = &[
    "", "authorization_code", "refresh_token", "password", "client_credentials", "sandbox-client-id",
    "sandbox-client-secret", "https://app.example.com/callback", "javascript:alert(1)", "code", "token", "full",
    "full|sandbox.infusionsoft.com", "allow", "deny", "demo@example.com", "demo", "wrong", "sandbox.infusionsoft.com",
    "other.infusionsoft.com", "%00", "%FF", "%zz", "a%26b", "%3D%3D",
];

/// One generated request.
struct FuzzRequest {
    method: Method,
    path: String,
    query: String,
    authorization: Option<Vec<u8>>,
    content_type: Option<Vec<u8>>,
    body: Vec<u8>,
}

impl FuzzRequest {
    fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(300).collect();
        let auth = self.authorization.as_ref().map(|a| String::from_utf8_lossy(a).chars().take(20).collect::<String>());
        let content_type = self.content_type.as_ref().map(|c| String::from_utf8_lossy(c).into_owned());
        format!(
            "{} {}{} (auth {auth:?}, content-type {content_type:?}, {} body bytes: {body:?})",
            self.method,
            self.path,
            self.query.chars().take(300).collect::<String>(),
            self.body.len()
        )
    }
}

/// What the generator may use besides its constants.
struct FuzzContext {
    token: String,
    page_tokens: Vec<String>,
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn random_text(rng: &mut Rng, max_pieces: usize) -> String {
    (0..rng.below(max_pieces + 1)).map(|_| rng.pick(TEXT_PIECES)).collect()
}

/// 1-8 KB, already percent-encoded (the whole URI must stay under the 64 KB `http::Uri` allows).
fn long_text(rng: &mut Rng) -> String {
    let piece = rng.pick(&["x", "9", "%C3%A9", "%3B", "%", "%3D%3D", "%00"]);
    piece.repeat((1000 + rng.below(7000)) / piece.len())
}

fn random_id(rng: &mut Rng) -> String {
    match rng.below(100) {
        0..=59 => rng.pick(IDS).to_string(),
        60..=74 => (1 + rng.below(400)).to_string(),
        75..=82 => (0..1 + rng.below(30)).map(|_| char::from(b'0' + rng.below(10) as u8)).collect(),
        83..=92 => percent_encode(&random_text(rng, 8)),
        93..=95 => "9".repeat(2000 + rng.below(2000)),
        _ if rng.chance(50) => rng.pick(INVALID_UTF8_IDS).to_string(),
        _ => "1".into(),
    }
}

fn fill_ids(rng: &mut Rng, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find("{id}") {
        out.push_str(&rest[..at]);
        out.push_str(&random_id(rng));
        rest = &rest[at + 4..];
    }
    out.push_str(rest);
    out
}

/// A path and the methods it takes (letters as in [`V2_NESTED`]).
fn random_path(rng: &mut Rng) -> (String, &'static str) {
    let (path, methods) = match rng.below(100) {
        0..=21 => (format!("{V2}/{}", rng.pick(V2_COLLECTIONS)), "GP"),
        22..=41 => (format!("{V2}/{}/{}", rng.pick(V2_COLLECTIONS), random_id(rng)), "GAD"),
        42..=53 => {
            let (template, methods) = rng.pick(V2_NESTED);
            (format!("{V2}{}", fill_ids(rng, template)), methods)
        }
        54..=61 => (format!("{V1}/{}", rng.pick(V1_COLLECTIONS)), "GP"),
        62..=68 => (format!("{V1}/{}/{}", rng.pick(V1_COLLECTIONS), random_id(rng)), "GAD"),
        69..=77 => {
            let (template, methods) = rng.pick(V1_HOOKS);
            (format!("{V1}{}", fill_ids(rng, template)), methods)
        }
        78..=84 => ("/token".into(), "P"),
        85..=90 => ("/app/oauth/authorize".into(), "GP"),
        91..=92 => (format!("/crm/rest/{}", rng.pick(&["v3/contacts", "", "v2", "V2/contacts", "v1/"])), "G"),
        _ => {
            let (path, methods) = rng.pick(CONTROLS);
            (path.to_string(), methods)
        }
    };
    if rng.chance(20) {
        (format!("{path}{}", rng.pick(SUFFIXES)), methods)
    } else {
        (path, methods)
    }
}

fn random_query(rng: &mut Rng, ctx: &FuzzContext) -> String {
    let count = match rng.below(10) {
        0..=2 => 0,
        3..=6 => 1,
        7..=8 => 2,
        _ => 3 + rng.below(4),
    };
    let pairs: Vec<String> = (0..count)
        .map(|_| {
            let key = rng.pick(QUERY_KEYS);
            let value = match rng.below(100) {
                0..=59 => rng.pick(QUERY_VALUES).to_string(),
                60..=71 => percent_encode(&random_text(rng, 12)),
                72..=79 => ctx.page_tokens[rng.below(ctx.page_tokens.len())].clone(),
                80..=84 => long_text(rng),
                85..=89 => format!("given_name%3D%3D{}", percent_encode(&random_text(rng, 6))),
                90..=94 => (rng.next() as i64).to_string(),
                _ => rng.pick(OVERFLOWING_QUERY_VALUES).to_string(),
            };
            if rng.chance(5) {
                key.to_string()
            } else {
                format!("{key}={value}")
            }
        })
        .collect();
    match pairs.len() {
        0 if rng.chance(10) => rng.pick(&["?", "?&", "?=", "?&&&", "?%"]).to_string(),
        0 => String::new(),
        _ => format!("?{}", pairs.join(if rng.chance(5) { "&&" } else { "&" })),
    }
}

fn random_number(rng: &mut Rng) -> Value {
    match rng.below(3) {
        0 => json!(rng.next() as i64),
        _ => serde_json::from_str(rng.pick(JSON_NUMBERS)).unwrap(),
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth == 0 { 7 } else { 10 }) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => random_number(rng),
        3 | 4 => json!(rng.pick(JSON_STRINGS)),
        5 => json!(random_text(rng, 12)),
        6 => json!((1 + rng.below(400)).to_string()),
        7 => Value::Array((0..rng.below(5)).map(|_| random_value(rng, depth - 1)).collect()),
        _ => random_object(rng, depth - 1),
    }
}

fn random_object(rng: &mut Rng, depth: usize) -> Value {
    let mut map = serde_json::Map::new();
    for _ in 0..rng.below(6) {
        let key = if rng.chance(85) { rng.pick(JSON_KEYS).to_string() } else { random_text(rng, 6) };
        map.insert(key, random_value(rng, depth));
    }
    Value::Object(map)
}

fn deeply_nested(rng: &mut Rng) -> String {
    let depth = 1 + rng.below(50);
    let leaf = random_value(rng, 0).to_string();
    if rng.chance(50) {
        let key = rng.pick(JSON_KEYS);
        format!("{}{leaf}{}", format!("{{\"{key}\":").repeat(depth), "}".repeat(depth))
    } else {
        format!("{}{leaf}{}", "[".repeat(depth), "]".repeat(depth))
    }
}

/// Bodies shaped like real requests, with random values in the slots.
fn plausible_body(rng: &mut Rng) -> Value {
    let v = |rng: &mut Rng| random_value(rng, 1);
    match rng.below(10) {
        0 => {
            json!({"given_name": v(rng), "email_addresses": [{"email": v(rng), "field": rng.pick(&["EMAIL1", "EMAIL9", "email1"])}]})
        }
        // Valid writes now and then, so later requests also meet records the run created.
        8 => {
            json!({"given_name": random_text(rng, 8), "email_addresses": [{"email": "fuzz@example.com", "field": "EMAIL1"}]})
        }
        9 => json!({"name": random_text(rng, 8), "description": random_text(rng, 20)}),
        1 => json!({"contact_ids": [v(rng), v(rng)]}),
        2 => json!({"type": rng.pick(&["INCREASE", "DECREASE", "UP"]), "quantity": v(rng)}),
        3 => json!({"eventKey": rng.pick(&["contact.add", "contact.explode", ""]), "hookUrl": rng.pick(JSON_STRINGS)}),
        4 => json!({"payment_amount": v(rng), "apply_to_commissions": v(rng)}),
        5 => json!({"quantity": v(rng), "price_per_unit": v(rng)}),
        6 => json!({"name": v(rng), "category": {"id": v(rng)}}),
        _ => json!({"contact_id": v(rng), "opportunity_title": v(rng), "stage_id": v(rng)}),
    }
}

/// A body for the controls that is never a valid fault or restricting limit, and moves the clock
/// by at most a few seconds: the run must not sabotage itself.
fn control_body(rng: &mut Rng, path: &str) -> Value {
    let junk = |rng: &mut Rng| random_value(rng, 1);
    let mut body = match path {
        p if p.starts_with("/__sim/clock") => {
            let seconds = match rng.below(4) {
                0 => json!(1 + rng.below(5)),
                1 => junk(rng),
                _ => serde_json::from_str(rng.pick(&[
                    "-1",
                    "0",
                    "316224001",
                    "1e12",
                    "\"10\"",
                    "1.5",
                    "null",
                    "true",
                    "[]",
                    "{}",
                    "-9223372036854775808",
                    "18446744073709551615",
                ]))
                .unwrap(),
            };
            json!({"seconds": seconds})
        }
        p if p.starts_with("/__sim/faults") => {
            let mut spec = serde_json::Map::new();
            let bad_status = ["0", "99", "600", "65535", "70000", "-1", "\"503\"", "5.5", "true", "null"];
            let bad_delay = ["-1", "600001", "\"5\"", "1.5", "true", "1e20", "null"];
            let no_drop = ["\"yes\"", "1", "null", "false"];
            for (key, values) in [
                ("status", &bad_status[..]),
                ("delay_ms", &bad_delay[..]),
                ("drop_connection", &no_drop[..]),
                ("path_prefix", &["\"x\"", "\"/\"", "\"\"", "\"/crm\"", "5"][..]),
                ("method", &["\"GET\"", "\"\"", "7"][..]),
                ("count", &["0", "-1", "1", "\"2\""][..]),
                ("probability", &["-0.1", "1.5", "\"0.5\"", "0.5"][..]),
            ] {
                if rng.chance(50) {
                    spec.insert(key.into(), serde_json::from_str(rng.pick(values)).unwrap());
                }
            }
            Value::Object(spec)
        }
        _ => {
            let mut limits = serde_json::Map::new();
            for key in ["per_second", "per_minute", "per_day"] {
                if rng.chance(50) {
                    let value = rng.pick(&[
                        "0",
                        "-1",
                        "-5",
                        "\"5\"",
                        "1.5",
                        "1e30",
                        "18446744073709551616",
                        "true",
                        "[]",
                        "{}",
                        "null",
                    ]);
                    limits.insert(key.into(), serde_json::from_str(value).unwrap());
                }
            }
            Value::Object(limits)
        }
    };
    if rng.chance(15) {
        body[random_text(rng, 4)] = junk(rng);
    }
    body
}

fn random_form(rng: &mut Rng) -> Vec<u8> {
    let pairs: Vec<String> = (0..rng.below(9))
        .map(|_| {
            let value = match rng.below(10) {
                0 => percent_encode(&random_text(rng, 10)),
                1 => long_text(rng),
                _ => rng.pick(FORM_VALUES).to_string(),
            };
            format!("{}={value}", rng.pick(FORM_KEYS))
        })
        .collect();
    pairs.join("&").into_bytes()
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    (0..rng.below(256)).map(|_| rng.next() as u8).collect()
}

/// A body and its content type for `path`.
fn random_body(rng: &mut Rng, path: &str) -> (Option<Vec<u8>>, Vec<u8>) {
    let json_type = Some(b"application/json".to_vec());
    if path.starts_with("/__sim/") {
        let body = match rng.below(10) {
            0 => random_bytes(rng),
            1 => Vec::new(),
            2 => {
                let text = control_body(rng, path).to_string();
                text.as_bytes()[..rng.below(text.len() + 1)].to_vec()
            }
            _ => control_body(rng, path).to_string().into_bytes(),
        };
        let content_type = if rng.chance(85) { json_type } else { Some(rng.pick(CONTENT_TYPES).to_vec()) };
        return (content_type, body);
    }
    if (path == "/token" || path.starts_with("/app/oauth")) && rng.chance(80) {
        let content_type = if rng.chance(85) {
            b"application/x-www-form-urlencoded".to_vec()
        } else {
            rng.pick(CONTENT_TYPES).to_vec()
        };
        let body = if rng.chance(5) { "x".repeat(65 * 1024).into_bytes() } else { random_form(rng) };
        return (Some(content_type), body);
    }
    let body = match rng.below(100) {
        0..=9 => Vec::new(),
        10..=14 => b" \r\n\t ".to_vec(),
        15..=44 => {
            let depth = 1 + rng.below(4);
            random_object(rng, depth).to_string().into_bytes()
        }
        45..=59 => plausible_body(rng).to_string().into_bytes(),
        60..=67 => deeply_nested(rng).into_bytes(),
        68..=77 => {
            let text = random_object(rng, 3).to_string();
            text.as_bytes()[..rng.below(text.len() + 1)].to_vec()
        }
        78..=85 => random_bytes(rng),
        86..=98 => random_value(rng, 2).to_string().into_bytes(),
        _ => json!({"given_name": "x".repeat(1024 * 1024)}).to_string().into_bytes(),
    };
    let content_type = match rng.below(100) {
        0..=79 => json_type,
        80..=87 => None,
        _ => Some(rng.pick(CONTENT_TYPES).to_vec()),
    };
    (content_type, body)
}

fn random_request(rng: &mut Rng, ctx: &FuzzContext) -> FuzzRequest {
    let (path, methods) = random_path(rng);
    let letter = if rng.chance(75) { methods.as_bytes()[rng.below(methods.len())] } else { rng.pick(b"GPAUD") };
    let method = match letter {
        b'G' => Method::GET,
        b'P' => Method::POST,
        b'A' => Method::PATCH,
        b'U' => Method::PUT,
        _ => Method::DELETE,
    };
    let query = random_query(rng, ctx);
    let authorization = match rng.below(100) {
        0..=84 => Some(format!("Bearer {}", ctx.token).into_bytes()),
        85..=86 => Some(format!("bearer   {}  ", ctx.token).into_bytes()),
        87..=89 => None,
        90 => Some(b"Bearer".to_vec()),
        91 => Some(b"Bearer ".to_vec()),
        92 => Some(format!("Bearer {}x", ctx.token).into_bytes()),
        93 => Some(b"Basic c2FuZGJveC1jbGllbnQtaWQ6c2FuZGJveC1jbGllbnQtc2VjcmV0".to_vec()),
        94 => Some(b"Basic !!!".to_vec()),
        95 => Some(b"Bearer \xff\xfe\xfd".to_vec()),
        96 => Some(format!("Bearer {}", "a".repeat(8000)).into_bytes()),
        _ => Some(b"Token abc".to_vec()),
    };
    let (content_type, body) =
        if method == Method::GET && rng.chance(80) { (None, Vec::new()) } else { random_body(rng, &path) };
    FuzzRequest { method, path, query, authorization, content_type, body }
}

/// Tallies of one worker.
#[derive(Default)]
struct Tally {
    sent: usize,
    by_status: BTreeMap<u16, usize>,
    failures: Vec<String>,
}

/// Checks one answer; `Err` describes what is wrong.
fn judge(request: &FuzzRequest, status: StatusCode, body: &[u8]) -> Result<(), String> {
    if status.is_server_error() {
        return Err(format!("status {status}"));
    }
    let rest = request.path.starts_with("/crm/rest/");
    let must_be_json =
        (rest && status != StatusCode::NO_CONTENT) || (request.path == "/token" && request.method == Method::POST);
    if !must_be_json {
        return Ok(());
    }
    let Ok(parsed) = serde_json::from_slice::<Value>(body) else {
        return Err(format!(
            "status {status}, body is not JSON: {:?}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ));
    };
    let vendor_error = rest
        && status.is_client_error()
        && status != StatusCode::UNAUTHORIZED
        && status != StatusCode::TOO_MANY_REQUESTS;
    if vendor_error && parsed["message"].as_str().is_none_or(str::is_empty) {
        return Err(format!("status {status} without a message: {parsed}"));
    }
    Ok(())
}

async fn send(
    client: &reqwest::Client,
    base: &str,
    request: &FuzzRequest,
) -> reqwest::Result<(StatusCode, String, Vec<u8>)> {
    let url = format!("{base}{}{}", request.path, request.query);
    let mut builder = client.request(request.method.clone(), url);
    if let Some(value) = &request.authorization {
        builder = builder.header(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap());
    }
    if let Some(value) = &request.content_type {
        builder = builder.header(CONTENT_TYPE, HeaderValue::from_bytes(value).unwrap());
    }
    if !request.body.is_empty() || request.method != Method::GET {
        builder = builder.body(request.body.clone());
    }
    let response = builder.send().await?;
    let status = response.status();
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = response.bytes().await?.to_vec();
    Ok((status, content_type, body))
}

fn env_number(name: &str) -> Option<u64> {
    let raw = std::env::var(name).ok()?;
    let raw = raw.trim();
    match raw.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => raw.parse().ok(),
    }
}

/// Runs the fuzz and asserts that the simulator survived it.
async fn fuzz() {
    let seed = env_number("BAD_INPUT_SEED").unwrap_or(DEFAULT_SEED);
    let requests = env_number("BAD_INPUT_REQUESTS").map_or(DEFAULT_REQUESTS, |n| n as usize);
    let h = start().await;
    let token = h.bearer().await;
    let first = json_with(h.get(&token, &format!("{V2}/contacts?page_size=3")).await, StatusCode::OK).await;
    let genuine = first["next_page_token"].as_str().unwrap().to_string();
    let page_tokens = vec![
        genuine.clone(),
        genuine[..genuine.len() / 2].to_string(),
        URL_SAFE_NO_PAD.encode("0.0.0"),
        URL_SAFE_NO_PAD.encode("99999999999999999999.1.1"),
        "!!!".into(),
    ];
    let ctx = std::sync::Arc::new(FuzzContext { token: token.clone(), page_tokens });
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (ctx, client, base) = (ctx.clone(), client.clone(), h.sim.url());
            let share = requests / WORKERS + usize::from(worker < requests % WORKERS);
            tokio::spawn(async move {
                let mut rng = Rng::new(seed ^ (worker as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
                let mut tally = Tally::default();
                for n in 0..share {
                    let request = random_request(&mut rng, &ctx);
                    tally.sent += 1;
                    let verdict = match send(&client, &base, &request).await {
                        Err(e) => Err(format!("no answer (server panic or hang?): {e:?}")),
                        Ok((status, _content_type, body)) => {
                            *tally.by_status.entry(status.as_u16()).or_default() += 1;
                            judge(&request, status, &body)
                        }
                    };
                    if let Err(problem) = verdict {
                        tally.failures.push(format!("worker {worker} #{n}: {problem}\n    {}", request.describe()));
                    }
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker.await.expect("worker finished");
        total.sent += tally.sent;
        tally.by_status.into_iter().for_each(|(s, n)| *total.by_status.entry(s).or_default() += n);
        total.failures.extend(tally.failures);
    }
    let elapsed = started.elapsed();
    println!("fuzz seed {seed:#x}: {} requests in {elapsed:.2?}; by status {:?}", total.sent, total.by_status);
    assert!(
        total.failures.is_empty(),
        "fuzz seed {seed:#x} (re-run with BAD_INPUT_SEED={seed}): {} of {} requests misbehaved; first ones:\n{}",
        total.failures.len(),
        total.sent,
        total.failures.iter().take(15).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(total.sent >= requests);

    let after = json_with(h.get(&token, &format!("{V2}/contacts?page_size=1")).await, StatusCode::OK).await;
    assert_eq!(after["contacts"].as_array().map(Vec::len), Some(1), "seed {seed:#x}: the simulator still serves lists");
    let stats = json_with(h.http.get(h.url("/__sim/stats")).send().await.unwrap(), StatusCode::OK).await;
    assert!(stats["api_calls"].as_u64().unwrap() > 0, "seed {seed:#x}: stats {stats}");
    assert_eq!(stats["faults"], json!([]), "seed {seed:#x}: the run armed no fault");
    assert_eq!(stats["hooks"]["verifications"], 0, "seed {seed:#x}: the run called out to no hook URL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fuzzed_requests_never_get_a_server_error_or_a_non_json_rest_answer() {
    fuzz().await;
}
