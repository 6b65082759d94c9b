//! REST v2 over the simulator: contact CRUD with `update_mask` and `duplicate_option`, create
//! validation, list filters/ordering/projection/paging, and the other resources (users, companies,
//! opportunities and stages, tags on contacts, notes, tasks, products, orders, subscriptions, and the
//! read-only campaigns and sales transactions).

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

use crate::common::*;

const V2: &str = "/crm/rest/v2";

// ------------------------------------------------------------------------------------------------
// Helpers

async fn get_q(h: &Harness, token: &str, path: &str, query: &[(&str, &str)]) -> Response {
    h.http.get(h.url(&format!("{V2}{path}"))).query(query).bearer_auth(token).send().await.unwrap()
}

async fn get_ok(h: &Harness, token: &str, path: &str, query: &[(&str, &str)]) -> Value {
    json_with(get_q(h, token, path, query).await, StatusCode::OK).await
}

async fn send(h: &Harness, method: Method, token: &str, path: &str, body: &Value) -> Response {
    h.send_json(method, token, &format!("{V2}{path}"), body).await
}

async fn delete(h: &Harness, token: &str, path: &str) -> Response {
    h.http.delete(h.url(&format!("{V2}{path}"))).bearer_auth(token).send().await.unwrap()
}

async fn create(h: &Harness, token: &str, path: &str, body: Value) -> Value {
    json_with(send(h, Method::POST, token, path, &body).await, StatusCode::CREATED).await
}

fn email_contact(given: &str, email: &str) -> Value {
    json!({"given_name": given, "email_addresses": [{"email": email, "field": "EMAIL1"}]})
}

fn id_of(record: &Value) -> String {
    record["id"].as_str().expect("string id").to_string()
}

fn ids(items: &Value) -> Vec<String> {
    items.as_array().expect("an array").iter().map(id_of).collect()
}

/// Every contact, read in one page (the seed has fewer than 1000).
async fn all_contacts(h: &Harness, token: &str) -> Vec<Value> {
    let body = get_ok(h, token, "/contacts", &[("page_size", "1000")]).await;
    assert!(body.get("next_page_token").is_none(), "one page holds every contact");
    body["contacts"].as_array().unwrap().clone()
}

fn emails_of(contact: &Value) -> Vec<String> {
    contact["email_addresses"]
        .as_array()
        .map(|list| list.iter().filter_map(|e| e["email"].as_str()).map(str::to_lowercase).collect())
        .unwrap_or_default()
}

fn primary_email(contact: &Value) -> Option<String> {
    contact["email_addresses"]
        .as_array()?
        .iter()
        .find(|e| e["field"] == "EMAIL1")
        .and_then(|e| e["email"].as_str())
        .map(str::to_lowercase)
}

/// Asserts a v2 error body (`{code, message, status, details: []}`) and returns its message.
fn v2_error(body: &Value, code: u16, status: &str) -> String {
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["details"], json!([]), "{body}");
    body["message"].as_str().expect("a message").to_string()
}

async fn bad_request(response: Response) -> String {
    let body = json_with(response, StatusCode::BAD_REQUEST).await;
    v2_error(&body, 400, "INVALID_ARGUMENT")
}

fn is_iso_utc(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok())
}

// ------------------------------------------------------------------------------------------------
// Contacts: create, get, update, delete, upsert

#[tokio::test]
async fn create_contact_returns_201_with_string_id_iso_times_and_echoed_emails() {
    let h = start().await;
    let t = h.bearer().await;
    let body = json!({
        "given_name": "Ada",
        "family_name": "Lovelace",
        "email_addresses": [{"email": "ada@example.com", "field": "EMAIL1"}, {"email": "ada.l@example.org", "field": "EMAIL2"}],
    });
    let created = create(&h, &t, "/contacts", body.clone()).await;
    let id = id_of(&created);
    assert!(!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()), "decimal string id: {id}");
    assert!(is_iso_utc(&created["create_time"]), "{}", created["create_time"]);
    assert!(is_iso_utc(&created["update_time"]), "{}", created["update_time"]);
    assert_eq!(created["email_addresses"], body["email_addresses"]);
    assert_eq!(created["given_name"], "Ada");
    assert_eq!(created["family_name"], "Lovelace");
}

#[tokio::test]
async fn get_contact_returns_the_created_record_and_unknown_ids_are_404() {
    let h = start().await;
    let t = h.bearer().await;
    let created = create(&h, &t, "/contacts", email_contact("Grace", "grace@example.com")).await;
    let fetched = get_ok(&h, &t, &format!("/contacts/{}", id_of(&created)), &[]).await;
    assert_eq!(fetched, created);
    let missing = json_with(get_q(&h, &t, "/contacts/999999", &[]).await, StatusCode::NOT_FOUND).await;
    v2_error(&missing, 404, "NOT_FOUND");
}

#[tokio::test]
async fn patch_without_update_mask_changes_only_the_fields_in_the_body() {
    let h = start().await;
    let t = h.bearer().await;
    let mut body = email_contact("Alan", "alan@example.com");
    body["family_name"] = json!("Turing");
    body["job_title"] = json!("Mathematician");
    let created = create(&h, &t, "/contacts", body).await;
    let path = format!("/contacts/{}", id_of(&created));
    let patched =
        json_with(send(&h, Method::PATCH, &t, &path, &json!({"given_name": "Alan M."})).await, StatusCode::OK).await;
    assert_eq!(patched["given_name"], "Alan M.");
    assert_eq!(patched["family_name"], "Turing");
    assert_eq!(patched["job_title"], "Mathematician");
    assert_eq!(patched["email_addresses"], created["email_addresses"]);
    assert_eq!(patched["create_time"], created["create_time"]);
    assert!(patched["update_time"].as_str() >= created["update_time"].as_str());
    assert_eq!(get_ok(&h, &t, &path, &[]).await, patched, "the change is stored");
}

async fn patch_with_mask(mask_query: &str) {
    let h = start().await;
    let t = h.bearer().await;
    let mut body = email_contact("Edsger", "edsger@example.com");
    body["family_name"] = json!("Dijkstra");
    body["middle_name"] = json!("Wybe");
    body["job_title"] = json!("Professor");
    let created = create(&h, &t, "/contacts", body).await;
    // Mask: given_name and family_name. The body sets given_name and middle_name (not masked), and
    // leaves family_name out, which clears it.
    let path = format!("/contacts/{}?{mask_query}", id_of(&created));
    let patch = json!({"given_name": "E. W.", "middle_name": "Ignored"});
    let patched = json_with(send(&h, Method::PATCH, &t, &path, &patch).await, StatusCode::OK).await;
    assert_eq!(patched["given_name"], "E. W.");
    assert!(patched.get("family_name").is_none(), "masked and absent: cleared; got {patched}");
    assert_eq!(patched["middle_name"], "Wybe", "not in the mask: unchanged");
    assert_eq!(patched["job_title"], "Professor");
    let stored = get_ok(&h, &t, &format!("/contacts/{}", id_of(&created)), &[]).await;
    assert_eq!(stored, patched);
}

#[tokio::test]
async fn patch_with_repeated_update_mask_clears_absent_masked_fields_and_ignores_unmasked_ones() {
    patch_with_mask("update_mask=given_name&update_mask=family_name").await;
}

#[tokio::test]
async fn patch_with_comma_separated_update_mask_behaves_like_the_repeated_form() {
    patch_with_mask("update_mask=given_name,family_name").await;
}

#[tokio::test]
async fn patch_with_update_mask_naming_an_unknown_field_is_400() {
    let h = start().await;
    let t = h.bearer().await;
    let message =
        bad_request(send(&h, Method::PATCH, &t, "/contacts/1?update_mask=nickname", &json!({"given_name": "X"})).await)
            .await;
    assert!(message.contains("nickname"), "{message}");
}

#[tokio::test]
async fn delete_contact_is_204_then_get_is_404_with_the_v2_error_body() {
    let h = start().await;
    let t = h.bearer().await;
    let created = create(&h, &t, "/contacts", email_contact("Temp", "temp@example.com")).await;
    let path = format!("/contacts/{}", id_of(&created));
    let deleted = delete(&h, &t, &path).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(deleted.text().await.unwrap().is_empty());
    let body = json_with(get_q(&h, &t, &path, &[]).await, StatusCode::NOT_FOUND).await;
    let message = v2_error(&body, 404, "NOT_FOUND");
    assert!(message.contains(&id_of(&created)), "{message}");
    assert_eq!(body.as_object().unwrap().len(), 4, "exactly code, message, status, details: {body}");
    assert_eq!(delete(&h, &t, &path).await.status(), StatusCode::NOT_FOUND, "a second delete finds nothing");
}

#[tokio::test]
async fn duplicate_option_email_updates_the_existing_contact_and_returns_200_with_its_id() {
    let h = start().await;
    let t = h.bearer().await;
    let first = create(&h, &t, "/contacts", email_contact("Dup", "dup.test@example.com")).await;
    let again =
        json!({"given_name": "Duplicated", "email_addresses": [{"email": "DUP.test@example.com", "field": "EMAIL1"}]});
    let response = send(&h, Method::POST, &t, "/contacts?duplicate_option=Email", &again).await;
    let upserted = json_with(response, StatusCode::OK).await;
    assert_eq!(id_of(&upserted), id_of(&first));
    assert_eq!(upserted["given_name"], "Duplicated");
    let matches = get_ok(&h, &t, "/contacts", &[("filter", "email==dup.test@example.com")]).await;
    assert_eq!(ids(&matches["contacts"]), vec![id_of(&first)], "no second contact was made");
    let fresh =
        send(&h, Method::POST, &t, "/contacts?duplicate_option=Email", &email_contact("New", "brand.new@example.com"))
            .await;
    assert_eq!(fresh.status(), StatusCode::CREATED, "no match: created");
    let bad =
        send(&h, Method::POST, &t, "/contacts?duplicate_option=Phone", &email_contact("P", "p@example.com")).await;
    assert!(bad_request(bad).await.contains("duplicate_option"));
}

// ------------------------------------------------------------------------------------------------
// Create validation

#[tokio::test]
async fn create_contact_with_an_undeclared_field_ignores_it() {
    let h = start().await;
    let t = h.bearer().await;
    let mut body = email_contact("X", "x1@example.com");
    body["nickname"] = json!("Xy");
    let created = create(&h, &t, "/contacts", body).await;
    assert!(created.get("nickname").is_none(), "{created}");
    let fetched = get_ok(&h, &t, &format!("/contacts/{}", id_of(&created)), &[]).await;
    assert!(fetched.get("nickname").is_none(), "{fetched}");
}

#[tokio::test]
async fn create_contact_with_wrong_field_type_is_400_naming_the_field() {
    let h = start().await;
    let t = h.bearer().await;
    let body = json!({"given_name": 42, "email_addresses": [{"email": "x2@example.com", "field": "EMAIL1"}]});
    let message = bad_request(send(&h, Method::POST, &t, "/contacts", &body).await).await;
    assert!(message.contains("given_name"), "{message}");
    let body = json!({"email_addresses": {"email": "x2@example.com", "field": "EMAIL1"}});
    let message = bad_request(send(&h, Method::POST, &t, "/contacts", &body).await).await;
    assert!(message.contains("email_addresses"), "{message}");
}

#[tokio::test]
async fn create_company_without_company_name_is_400_naming_it() {
    let h = start().await;
    let t = h.bearer().await;
    let message =
        bad_request(send(&h, Method::POST, &t, "/companies", &json!({"website": "https://x.example.com"})).await).await;
    assert!(message.contains("company_name"), "{message}");
}

#[tokio::test]
async fn create_contact_without_email_phone_or_address_is_400() {
    let h = start().await;
    let t = h.bearer().await;
    for body in [json!({"given_name": "Nobody"}), json!({"given_name": "Nobody", "email_addresses": []})] {
        let message = bad_request(send(&h, Method::POST, &t, "/contacts", &body).await).await;
        assert!(message.contains("email_addresses"), "{message}");
    }
    let phone_only = json!({"given_name": "Phone", "phone_numbers": [{"number": "555-0100", "field": "PHONE1"}]});
    assert_eq!(send(&h, Method::POST, &t, "/contacts", &phone_only).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn create_contact_with_unknown_email_field_is_400() {
    let h = start().await;
    let t = h.bearer().await;
    let body = json!({"email_addresses": [{"email": "x3@example.com", "field": "EMAIL9"}]});
    let message = bad_request(send(&h, Method::POST, &t, "/contacts", &body).await).await;
    assert!(message.contains("EMAIL1"), "the message lists the allowed values: {message}");
}

#[tokio::test]
async fn create_contact_referencing_a_missing_company_is_400() {
    let h = start().await;
    let t = h.bearer().await;
    let mut body = email_contact("Orphan", "orphan@example.com");
    body["company"] = json!({"id": "999999"});
    let message = bad_request(send(&h, Method::POST, &t, "/contacts", &body).await).await;
    assert!(message.contains("999999"), "{message}");
    body["company"] = json!({"id": "1"});
    let created = create(&h, &t, "/contacts", body).await;
    assert_eq!(created["company"]["id"], "1");
    let company = get_ok(&h, &t, "/companies/1", &[]).await;
    assert_eq!(created["company"]["company_name"], company["company_name"]);
}

// ------------------------------------------------------------------------------------------------
// Contact lists: filter, order_by, fields, paging

#[tokio::test]
async fn filter_by_exact_given_name_returns_only_matching_contacts() {
    let h = start().await;
    let t = h.bearer().await;
    let all = all_contacts(&h, &t).await;
    let name = all[0]["given_name"].as_str().unwrap().to_string();
    let expected: Vec<String> = all
        .iter()
        .filter(|c| c["given_name"].as_str().is_some_and(|g| g.eq_ignore_ascii_case(&name)))
        .map(id_of)
        .collect();
    // The vendor's documented, URL-encoded form: filter=given_name%3D%3DMary.
    let raw = format!("{V2}/contacts?page_size=1000&filter=given_name%3D%3D{name}");
    let body = json_with(h.get(&t, &raw).await, StatusCode::OK).await;
    assert_eq!(ids(&body["contacts"]), expected);
    assert!(expected.len() < all.len(), "the filter actually excludes some contacts");
    // Without a trailing '*' the value is compared whole, not as a prefix.
    let shorter = &name[..name.len() - 1];
    let exact_shorter: Vec<String> = all
        .iter()
        .filter(|c| c["given_name"].as_str().is_some_and(|g| g.eq_ignore_ascii_case(shorter)))
        .map(id_of)
        .collect();
    let body =
        get_ok(&h, &t, "/contacts", &[("page_size", "1000"), ("filter", &format!("given_name=={shorter}"))]).await;
    assert_eq!(ids(&body["contacts"]), exact_shorter);
    assert!(exact_shorter.len() < expected.len());
}

#[tokio::test]
async fn filter_by_email_prefix_returns_only_matching_contacts() {
    let h = start().await;
    let t = h.bearer().await;
    let all = all_contacts(&h, &t).await;
    let prefix: String = primary_email(&all[0]).unwrap().chars().take(3).collect();
    let expected: Vec<String> =
        all.iter().filter(|c| emails_of(c).iter().any(|e| e.starts_with(&prefix))).map(id_of).collect();
    let body = get_ok(
        &h,
        &t,
        "/contacts",
        &[("page_size", "1000"), ("filter", &format!("email=={}*", prefix.to_uppercase()))],
    )
    .await;
    assert_eq!(ids(&body["contacts"]), expected);
    assert!(!expected.is_empty() && expected.len() < all.len());
}

#[tokio::test]
async fn filter_clauses_joined_by_semicolon_must_all_match() {
    let h = start().await;
    let t = h.bearer().await;
    let all = all_contacts(&h, &t).await;
    let given = all[0]["given_name"].as_str().unwrap().to_lowercase();
    let initial: String = all[0]["family_name"].as_str().unwrap().chars().take(1).collect();
    let expected: Vec<String> = all
        .iter()
        .filter(|c| c["given_name"].as_str().unwrap_or("").to_lowercase() == given)
        .filter(|c| c["family_name"].as_str().unwrap_or("").to_lowercase().starts_with(&initial.to_lowercase()))
        .map(id_of)
        .collect();
    let filter = format!("given_name=={given};family_name=={initial}*");
    let body = get_ok(&h, &t, "/contacts", &[("page_size", "1000"), ("filter", &filter)]).await;
    assert_eq!(ids(&body["contacts"]), expected);
    assert!(expected.contains(&id_of(&all[0])));
    let only_given = all.iter().filter(|c| c["given_name"].as_str().unwrap_or("").to_lowercase() == given).count();
    assert!(expected.len() <= only_given);
}

#[tokio::test]
async fn filter_ids_returns_exactly_the_listed_contacts() {
    let h = start().await;
    let t = h.bearer().await;
    let body = get_ok(&h, &t, "/contacts", &[("filter", "ids==1,2,3")]).await;
    assert_eq!(ids(&body["contacts"]), vec!["1", "2", "3"]);
    let bad = bad_request(get_q(&h, &t, "/contacts", &[("filter", "ids==1,x")]).await).await;
    assert!(bad.contains("ids"), "{bad}");
}

#[tokio::test]
async fn filter_contact_id_greater_than_compares_numerically() {
    let h = start().await;
    let t = h.bearer().await;
    let total = all_contacts(&h, &t).await.len();
    assert_eq!(total, 300, "the demo seed");
    let body = get_ok(&h, &t, "/contacts", &[("filter", "contact_id>295")]).await;
    assert_eq!(ids(&body["contacts"]), vec!["296", "297", "298", "299", "300"]);
    let body = get_ok(&h, &t, "/contacts", &[("filter", "contact_id<=3")]).await;
    assert_eq!(ids(&body["contacts"]), vec!["1", "2", "3"]);
    let not_comparable = bad_request(get_q(&h, &t, "/contacts", &[("filter", "given_name>A")]).await).await;
    assert!(not_comparable.contains("=="), "{not_comparable}");
}

#[tokio::test]
async fn filter_start_update_time_returns_contacts_updated_at_or_after_it() {
    let h = start().await;
    let t = h.bearer().await;
    let all = all_contacts(&h, &t).await;
    let mut times: Vec<String> = all.iter().map(|c| c["update_time"].as_str().unwrap().to_string()).collect();
    times.sort();
    let since = times[times.len() / 2].clone();
    let expected: Vec<String> =
        all.iter().filter(|c| c["update_time"].as_str().unwrap() >= since.as_str()).map(id_of).collect();
    let body =
        get_ok(&h, &t, "/contacts", &[("page_size", "1000"), ("filter", &format!("start_update_time=={since}"))]).await;
    assert_eq!(ids(&body["contacts"]), expected);
    assert!(expected.len() < all.len() && !expected.is_empty());
    let bad = bad_request(get_q(&h, &t, "/contacts", &[("filter", "start_update_time==yesterday")]).await).await;
    assert!(bad.contains("start_update_time"), "{bad}");
}

#[tokio::test]
async fn unknown_filter_field_is_400_listing_allowed_fields() {
    let h = start().await;
    let t = h.bearer().await;
    let message = bad_request(get_q(&h, &t, "/contacts", &[("filter", "nickname==Al")]).await).await;
    assert!(message.contains("nickname"), "{message}");
    for allowed in ["email", "given_name", "family_name", "ids", "start_update_time"] {
        assert!(message.contains(allowed), "{allowed} missing from: {message}");
    }
}

#[tokio::test]
async fn order_by_email_desc_sorts_by_primary_email_descending() {
    let h = start().await;
    let t = h.bearer().await;
    let body = get_ok(&h, &t, "/contacts", &[("page_size", "1000"), ("order_by", "email desc")]).await;
    let emails: Vec<String> = body["contacts"].as_array().unwrap().iter().map(|c| primary_email(c).unwrap()).collect();
    assert_eq!(emails.len(), 300);
    let mut sorted = emails.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(emails, sorted);
    let ascending = get_ok(&h, &t, "/contacts", &[("page_size", "1000"), ("order_by", "email asc")]).await;
    let first = primary_email(&ascending["contacts"][0]).unwrap();
    assert_eq!(&first, emails.last().unwrap());
    let bad = bad_request(get_q(&h, &t, "/contacts", &[("order_by", "email sideways")]).await).await;
    assert!(bad.contains("sideways"), "{bad}");
}

#[tokio::test]

async fn order_by_email_puts_contacts_without_an_email_last_in_both_directions() {
    let h = start().await;
    let t = h.bearer().await;
    let phone_only = json!({"given_name": "NoMail", "phone_numbers": [{"number": "555-0199", "field": "PHONE1"}]});
    let id = id_of(&create(&h, &t, "/contacts", phone_only).await);
    for order in ["email asc", "email desc"] {
        let body = get_ok(&h, &t, "/contacts", &[("page_size", "1000"), ("order_by", order)]).await;
        let listed = ids(&body["contacts"]);
        assert_eq!(listed.last(), Some(&id), "order_by={order}: the contact without an email is last");
    }
}

#[tokio::test]
async fn fields_projection_returns_only_the_requested_keys() {
    let h = start().await;
    let t = h.bearer().await;
    let body = get_ok(&h, &t, "/contacts", &[("page_size", "50"), ("fields", "id,given_name")]).await;
    let contacts = body["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 50);
    for contact in contacts {
        let keys: BTreeSet<&str> = contact.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["id", "given_name"]), "{contact}");
    }
    let one = get_ok(&h, &t, "/contacts/1", &[("fields", "family_name")]).await;
    let keys: BTreeSet<&str> = one.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["id", "family_name"]));
    let bad = bad_request(get_q(&h, &t, "/contacts", &[("fields", "id,shoe_size")]).await).await;
    assert!(bad.contains("shoe_size"), "{bad}");
}

#[tokio::test]
async fn paging_with_page_size_7_returns_every_contact_exactly_once() {
    let h = start().await;
    let t = h.bearer().await;
    let everything: Vec<String> = all_contacts(&h, &t).await.iter().map(id_of).collect();
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("page_size", "7")];
        if let Some(token) = token.as_deref() {
            query.push(("page_token", token));
        }
        let body = get_ok(&h, &t, "/contacts", &query).await;
        let page = ids(&body["contacts"]);
        pages += 1;
        assert!(!page.is_empty() && page.len() <= 7);
        seen.extend(page.clone());
        match body.get("next_page_token").and_then(Value::as_str) {
            Some(next) => {
                assert_eq!(page.len(), 7, "only the last page may be short");
                token = Some(next.to_string());
            }
            None => break,
        }
        assert!(pages < 100, "paging must end");
    }
    assert_eq!(pages, everything.len().div_ceil(7));
    assert_eq!(seen, everything);
}

#[tokio::test]
async fn page_size_out_of_range_or_not_a_number_is_400() {
    let h = start().await;
    let t = h.bearer().await;
    for size in ["1001", "-1", "abc"] {
        let message = bad_request(get_q(&h, &t, "/contacts", &[("page_size", size)]).await).await;
        assert!(message.contains("page_size"), "{size}: {message}");
    }
    let zero = get_ok(&h, &t, "/contacts", &[("page_size", "0")]).await;
    assert_eq!(zero["contacts"].as_array().unwrap().len(), 300, "0 means the default (the maximum)");
    let max = get_ok(&h, &t, "/contacts", &[("page_size", "1000")]).await;
    assert_eq!(max["contacts"].as_array().unwrap().len(), 300);
}

#[tokio::test]
async fn page_token_used_with_a_different_filter_is_400() {
    let h = start().await;
    let t = h.bearer().await;
    let first = get_ok(&h, &t, "/contacts", &[("page_size", "5")]).await;
    let token = first["next_page_token"].as_str().unwrap();
    let same = get_ok(&h, &t, "/contacts", &[("page_size", "5"), ("page_token", token)]).await;
    assert_eq!(ids(&same["contacts"]), vec!["6", "7", "8", "9", "10"]);
    let other =
        get_q(&h, &t, "/contacts", &[("page_size", "5"), ("page_token", token), ("filter", "contact_id>100")]).await;
    let message = bad_request(other).await;
    assert!(message.contains("page_token"), "{message}");
}

#[tokio::test]
async fn forged_page_token_is_400() {
    let h = start().await;
    let t = h.bearer().await;
    for forged in ["not-a-token", "NTAwLjEuMA", "AAAA"] {
        let message = bad_request(get_q(&h, &t, "/contacts", &[("page_token", forged)]).await).await;
        assert!(message.contains("page_token"), "{forged}: {message}");
    }
}

// ------------------------------------------------------------------------------------------------
// Users

#[tokio::test]
async fn users_page_size_is_capped_at_100() {
    let h = start().await;
    let t = h.bearer().await;
    let message = bad_request(get_q(&h, &t, "/users", &[("page_size", "101")]).await).await;
    assert!(message.contains("100"), "{message}");
    let users = get_ok(&h, &t, "/users", &[("page_size", "100")]).await;
    assert_eq!(users["users"].as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn users_cannot_be_created_or_deleted() {
    let h = start().await;
    let t = h.bearer().await;
    let user = json!({"given_name": "New", "email_addresses": [{"email": "u@example.com", "field": "EMAIL1"}]});
    let body = json_with(send(&h, Method::POST, &t, "/users", &user).await, StatusCode::METHOD_NOT_ALLOWED).await;
    v2_error(&body, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(delete(&h, &t, "/users/1").await.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(get_ok(&h, &t, "/users", &[]).await["users"].as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn a_user_is_updated_with_an_update_user_request() {
    let h = start().await;
    let t = h.bearer().await;
    let change = json!({
        "given_name": "Renamed",
        "title": "Head of Sales",
        "email_address": {"email": "renamed@example.com", "field": "EMAIL1"},
        "time_zone": "America/New_York",
    });
    let updated = json_with(send(&h, Method::PATCH, &t, "/users/2", &change).await, StatusCode::OK).await;
    assert_eq!(updated["given_name"], "Renamed");
    assert_eq!(updated["title"], "Head of Sales");
    assert_eq!(updated["email_addresses"], json!([{"email": "renamed@example.com", "field": "EMAIL1"}]));
    assert!(updated.get("time_zone").is_none(), "a User has no time_zone: {updated}");
    assert_eq!(get_ok(&h, &t, "/users/2", &[]).await["given_name"], "Renamed");

    // The mask names the title `job_title`; fields it does not name stay as they are.
    let masked = h
        .http
        .patch(h.url(&format!("{V2}/users/2")))
        .query(&[("update_mask", "job_title")])
        .bearer_auth(&t)
        .json(&json!({"title": "Director", "given_name": "Ignored"}))
        .send()
        .await
        .unwrap();
    let masked = json_with(masked, StatusCode::OK).await;
    assert_eq!(masked["title"], "Director");
    assert_eq!(masked["given_name"], "Renamed");
}

#[tokio::test]
async fn an_order_item_is_updated_and_the_order_totals_follow() {
    let h = start().await;
    let t = h.bearer().await;
    let order = order_for_5048(&h, &t).await;
    let id = id_of(&order);
    let fee = order["order_items"].as_array().unwrap().iter().find(|i| i["name"] == "Setup fee").unwrap().clone();
    let path = format!("/orders/{id}/items/{}", id_of(&fee));
    let change = json!({"quantity": 2, "notes": "Two setups"});
    let updated = json_with(send(&h, Method::PATCH, &t, &path, &change).await, StatusCode::OK).await;
    assert_eq!(updated["id"], fee["id"]);
    assert_eq!(updated["quantity"], 2);
    assert_eq!(updated["notes"], "Two setups");
    assert_eq!(updated["name"], "Setup fee");
    assert_eq!(cents(&updated["price_per_unit"]), 1050);
    assert_eq!(get_ok(&h, &t, &path, &[]).await, updated);
    assert_eq!(cents(&get_ok(&h, &t, &format!("/orders/{id}"), &[]).await["total"]), 5048 + 1050);

    // `UpdateOrderItemRequest` does not declare `item_type`: ignored, as every undeclared field.
    let ignored =
        json_with(send(&h, Method::PATCH, &t, &path, &json!({"item_type": "TAX"})).await, StatusCode::OK).await;
    assert_eq!(ignored["item_type"], "PRODUCT");
    let missing = send(&h, Method::PATCH, &t, &format!("/orders/{id}/items/999"), &change).await;
    v2_error(&json_with(missing, StatusCode::NOT_FOUND).await, 404, "NOT_FOUND");
}

// ------------------------------------------------------------------------------------------------
// Parameters, methods and paths as the vendor's document declares them

#[tokio::test]
async fn empty_list_parameters_and_a_zero_page_size_read_as_absent() {
    let h = start().await;
    let t = h.bearer().await;
    let plain = get_ok(&h, &t, "/contacts", &[]).await;
    let empty = [("fields", ""), ("filter", ""), ("order_by", ""), ("page_size", "0"), ("page_token", "")];
    assert_eq!(get_ok(&h, &t, "/contacts", &empty).await, plain);
    for path in ["/companies", "/opportunities", "/tags", "/tasks", "/notes", "/orders", "/products", "/subscriptions"]
    {
        get_ok(&h, &t, path, &empty[1..]).await;
    }
    get_ok(&h, &t, "/users", &[("filter", ""), ("order_by", ""), ("page_token", "")]).await;
    let message = bad_request(get_q(&h, &t, "/users", &[("page_size", "0")]).await).await;
    assert!(message.contains("page_size"), "the users list's page_size is at least 1: {message}");
}

#[tokio::test]
async fn every_fields_name_the_document_lists_is_accepted_once() {
    let h = start().await;
    let t = h.bearer().await;
    for status in ["status", "monthly_revenue", "order_revenue", "objection", "stage_entrance_time", "custom_fields"] {
        get_ok(&h, &t, "/opportunities/1", &[("fields", status)]).await;
    }
    let company =
        get_ok(&h, &t, "/companies/1", &[("fields", "address,email_address,phone_number,website,notes")]).await;
    assert_eq!(company["id"], "1");
    get_ok(&h, &t, "/companies", &[("fields", "update_time,create_time,fax_number")]).await;
    let twice =
        bad_request(get_q(&h, &t, "/opportunities/1", &[("fields", "status"), ("fields", "status")]).await).await;
    assert!(twice.contains("status"), "{twice}");
    let unknown = bad_request(get_q(&h, &t, "/companies/1", &[("fields", "nickname")]).await).await;
    assert!(unknown.contains("nickname"), "{unknown}");
}

#[tokio::test]
async fn the_tag_listings_filter_and_order_as_their_parameters_describe() {
    let h = start().await;
    let t = h.bearer().await;
    let vip = create(&h, &t, "/tags", json!({"name": "Zz VIP"})).await;
    let lead = create(&h, &t, "/tags", json!({"name": "Aa Lead"})).await;
    let ada = create(&h, &t, "/contacts", email_contact("Ada", "ada@example.com")).await;
    let bob = create(&h, &t, "/contacts", email_contact("Bob", "bob@example.com")).await;
    for tag in [&vip, &lead] {
        let apply = json!({"contact_ids": [id_of(&ada), id_of(&bob)]});
        json_with(
            send(&h, Method::POST, &t, &format!("/tags/{}/contacts:applyTags", id_of(tag)), &apply).await,
            StatusCode::OK,
        )
        .await;
    }
    let of_ada = format!("/contacts/{}/tags", id_of(&ada));
    let named = get_ok(&h, &t, &of_ada, &[("filter", "name==Zz*")]).await;
    assert_eq!(named["tags"].as_array().unwrap().len(), 1, "{named}");
    assert_eq!(named["tags"][0]["tag"]["id"], vip["id"]);
    let by_name = get_ok(&h, &t, &of_ada, &[("order_by", "name desc")]).await;
    let names: Vec<&str> =
        by_name["tags"].as_array().unwrap().iter().map(|r| r["tag"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Zz VIP", "Aa Lead"]);

    let with_vip = format!("/tags/{}/contacts", id_of(&vip));
    let bobs = get_ok(&h, &t, &with_vip, &[("filter", "given_name==Bob")]).await;
    assert_eq!(ids(&bobs["contacts"]), [id_of(&bob)]);
    let later = get_ok(
        &h,
        &t,
        &with_vip,
        &[("filter", "since_applied_time==2000-01-01T00:00:00Z"), ("order_by", "email desc")],
    )
    .await;
    assert_eq!(ids(&later["contacts"]), [id_of(&bob), id_of(&ada)]);

    for (path, filter) in [(&of_ada, "colour==red"), (&with_vip, "nickname==x"), (&with_vip, "given_name")] {
        let message = bad_request(get_q(&h, &t, path, &[("filter", filter)]).await).await;
        assert!(message.contains("filter"), "{message}");
    }
    let message = bad_request(get_q(&h, &t, &of_ada, &[("order_by", "colour")]).await).await;
    assert!(message.contains("applied_time"), "{message}");
}

#[tokio::test]
async fn an_undeclared_method_is_a_405_with_allow_listing_exactly_the_declared_methods() {
    let h = start().await;
    let t = h.bearer().await;
    for (method, path, allow) in [
        (Method::POST, "/contacts/1", "GET, PATCH, DELETE"),
        (Method::PUT, "/contacts", "GET, POST"),
        (Method::OPTIONS, "/orders/1/items/1", "GET, PATCH, DELETE"),
        (Method::OPTIONS, "/products/1:adjustInventory", "POST"),
        (Method::GET, "/products/1:adjustInventory", "POST"),
        (Method::DELETE, "/subscriptions/1", "GET, PATCH"),
        (Method::POST, "/users", "GET"),
        (Method::DELETE, "/users/1", "GET, PATCH"),
        (Method::PUT, "/notes", "GET"),
        (Method::POST, "/contacts/1/tags", "GET"),
        (Method::GET, "/tags/1/contacts:applyTags", "POST"),
        (Method::DELETE, "/orders/1/payments", "GET, POST"),
        (Method::PATCH, "/campaigns/1", "GET"),
    ] {
        let response = send(&h, method.clone(), &t, path, &json!({})).await;
        let allowed = response.headers().get("allow").map(|v| v.to_str().unwrap().to_string());
        let body = json_with(response, StatusCode::METHOD_NOT_ALLOWED).await;
        v2_error(&body, 405, "METHOD_NOT_ALLOWED");
        assert_eq!(allowed.as_deref(), Some(allow), "{method} {path}");
    }
}

#[tokio::test]
async fn unknown_vendor_paths_answer_the_vendors_404() {
    let h = start().await;
    let t = h.bearer().await;
    for (method, path) in [
        (Method::GET, "/automations"),
        (Method::GET, "/contacts/model"),
        (Method::GET, "/tags/categories"),
        (Method::GET, "/opportunities/stageMoves"),
        (Method::POST, "/contacts:merge"),
        (Method::POST, "/orders/1:applyTax"),
        (Method::POST, "/subscriptions/1:deactivate"),
        (Method::POST, "/orders/1/items/1:applyCommission"),
        (Method::GET, "/contacts/1/emails"),
    ] {
        let body = json_with(send(&h, method.clone(), &t, path, &json!({})).await, StatusCode::NOT_FOUND).await;
        v2_error(&body, 404, "NOT_FOUND");
    }
    let v1 = h.http.get(h.url("/crm/rest/v1/automations")).bearer_auth(&t).send().await.unwrap();
    let v1 = json_with(v1, StatusCode::NOT_FOUND).await;
    assert!(v1.as_object().is_some_and(|o| o.len() == 1) && v1["message"].is_string(), "v1 shape: {v1}");
}

// ------------------------------------------------------------------------------------------------
// Companies, opportunities, stages

#[tokio::test]
async fn company_create_get_patch_and_filter_by_name() {
    let h = start().await;
    let t = h.bearer().await;
    let created = create(
        &h,
        &t,
        "/companies",
        json!({"company_name": "Zebra Widgets Ltd", "website": "https://zebra.example.com"}),
    )
    .await;
    let path = format!("/companies/{}", id_of(&created));
    assert_eq!(created["company_name"], "Zebra Widgets Ltd");
    assert!(is_iso_utc(&created["create_time"]));
    assert_eq!(get_ok(&h, &t, &path, &[]).await, created);
    let patched = json_with(
        send(&h, Method::PATCH, &t, &path, &json!({"website": "https://z.example.com"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["website"], "https://z.example.com");
    assert_eq!(patched["company_name"], "Zebra Widgets Ltd");
    let found = get_ok(&h, &t, "/companies", &[("filter", "company_name==zebra widgets ltd")]).await;
    assert_eq!(ids(&found["companies"]), vec![id_of(&created)]);
    let by_prefix = get_ok(&h, &t, "/companies", &[("filter", "name==Zebra*")]).await;
    assert!(ids(&by_prefix["companies"]).contains(&id_of(&created)));
}

#[tokio::test]
async fn opportunity_create_embeds_contact_and_stage_and_is_filterable_by_stage_id() {
    let h = start().await;
    let t = h.bearer().await;
    let contact = get_ok(&h, &t, "/contacts/1", &[]).await;
    let body =
        json!({"opportunity_title": "Big deal", "contact_id": "1", "stage_id": "2", "projected_revenue_high": 5000.0});
    let created = create(&h, &t, "/opportunities", body).await;
    assert_eq!(created["contact"]["id"], "1");
    assert_eq!(created["contact"]["first_name"], contact["given_name"]);
    assert_eq!(created["stage"]["id"], "2");
    let stage = get_ok(&h, &t, "/opportunities/stages/2", &[]).await;
    assert_eq!(created["stage"]["name"], stage["name"]);
    assert!(
        created.get("contact_id").is_none() && created.get("stage_id").is_none(),
        "references are embedded, not echoed"
    );
    let listed = get_ok(&h, &t, "/opportunities", &[("page_size", "1000"), ("filter", "stage_id==2")]).await;
    let opportunities = listed["opportunities"].as_array().unwrap();
    assert!(opportunities.iter().all(|o| o["stage"]["id"] == "2"));
    assert!(opportunities.iter().any(|o| o["id"] == created["id"]));
    let all = get_ok(&h, &t, "/opportunities", &[("page_size", "1000")]).await;
    assert!(opportunities.len() < all["opportunities"].as_array().unwrap().len());
    let missing_stage = json!({"opportunity_title": "X", "contact_id": "1", "stage_id": "999"});
    let message = bad_request(send(&h, Method::POST, &t, "/opportunities", &missing_stage).await).await;
    assert!(message.contains("stage_id"), "{message}");
}

#[tokio::test]
async fn opportunity_stages_are_listed_by_their_order() {
    let h = start().await;
    let t = h.bearer().await;
    let stage = json!({"name": "Triage", "order": 0, "probability": 5, "target_number_days": 3});
    let created = create(&h, &t, "/opportunities/stages", stage).await;
    let body = get_ok(&h, &t, "/opportunities/stages", &[]).await;
    let stages = body["stages"].as_array().unwrap();
    assert!(stages.len() > 2);
    assert_eq!(stages[0]["id"], created["id"], "order 0 comes first although its id is the highest");
    let orders: Vec<i64> = stages.iter().map(|s| s["order"].as_i64().unwrap()).collect();
    let mut sorted = orders.clone();
    sorted.sort();
    assert_eq!(orders, sorted);
}

// ------------------------------------------------------------------------------------------------
// Tags on contacts

#[tokio::test]
async fn apply_tags_reports_success_then_duplicate_and_contact_not_found() {
    let h = start().await;
    let t = h.bearer().await;
    let tag = create(&h, &t, "/tags", json!({"name": "Integration Test", "description": "made by a test"})).await;
    assert_eq!(tag["name"], "Integration Test");
    let path = format!("/tags/{}/contacts:applyTags", id_of(&tag));
    let first =
        json_with(send(&h, Method::POST, &t, &path, &json!({"contact_ids": ["1", "2"]})).await, StatusCode::OK).await;
    assert_eq!(first, json!({"results": {"1": "SUCCESS", "2": "SUCCESS"}}));
    let second =
        json_with(send(&h, Method::POST, &t, &path, &json!({"contact_ids": ["1", "999999"]})).await, StatusCode::OK)
            .await;
    assert_eq!(second, json!({"results": {"1": "DUPLICATE", "999999": "CONTACT_NOT_FOUND"}}));
    let contact = get_ok(&h, &t, "/contacts/1", &[]).await;
    assert!(contact["tag_ids"].as_array().unwrap().contains(&tag["id"]), "{}", contact["tag_ids"]);
    let unknown_tag =
        send(&h, Method::POST, &t, "/tags/999999/contacts:applyTags", &json!({"contact_ids": ["1"]})).await;
    assert_eq!(unknown_tag.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn applied_tags_are_listed_per_contact_and_per_tag_and_can_be_removed() {
    let h = start().await;
    let t = h.bearer().await;
    let a = id_of(&create(&h, &t, "/contacts", email_contact("TagA", "tag.a@example.com")).await);
    let b = id_of(&create(&h, &t, "/contacts", email_contact("TagB", "tag.b@example.com")).await);
    let tag = id_of(&create(&h, &t, "/tags", json!({"name": "Tagged By Test"})).await);
    let apply =
        send(&h, Method::POST, &t, &format!("/tags/{tag}/contacts:applyTags"), &json!({"contact_ids": [a, b]})).await;
    assert_eq!(apply.status(), StatusCode::OK);

    let of_a = get_ok(&h, &t, &format!("/contacts/{a}/tags"), &[]).await;
    let entries = of_a["tags"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["tag"]["id"], tag.as_str());
    assert_eq!(entries[0]["tag"]["name"], "Tagged By Test");
    assert!(is_iso_utc(&entries[0]["applied_time"]));

    let with_tag = get_ok(&h, &t, &format!("/tags/{tag}/contacts"), &[]).await;
    assert_eq!(ids(&with_tag["contacts"]), vec![a.clone(), b.clone()]);
    assert_eq!(with_tag["contacts"][0]["email"], "tag.a@example.com");
    assert_eq!(with_tag["contacts"][0]["given_name"], "TagA");

    let remove =
        send(&h, Method::POST, &t, &format!("/tags/{tag}/contacts:removeTags"), &json!({"contact_ids": [a]})).await;
    assert_eq!(remove.status(), StatusCode::NO_CONTENT);
    let with_tag = get_ok(&h, &t, &format!("/tags/{tag}/contacts"), &[]).await;
    assert_eq!(ids(&with_tag["contacts"]), vec![b]);
    let of_a = get_ok(&h, &t, &format!("/contacts/{a}/tags"), &[]).await;
    assert_eq!(of_a["tags"], json!([]));
    assert_eq!(get_ok(&h, &t, &format!("/contacts/{a}"), &[]).await["tag_ids"], json!([]));
}

#[tokio::test]

async fn deleting_a_tag_removes_it_from_the_contacts_it_was_applied_to() {
    let h = start().await;
    let t = h.bearer().await;
    let contact = id_of(&create(&h, &t, "/contacts", email_contact("Gone", "gone.tag@example.com")).await);
    let tag = id_of(&create(&h, &t, "/tags", json!({"name": "Short Lived"})).await);
    let apply =
        send(&h, Method::POST, &t, &format!("/tags/{tag}/contacts:applyTags"), &json!({"contact_ids": [contact]}))
            .await;
    assert_eq!(apply.status(), StatusCode::OK);
    assert_eq!(delete(&h, &t, &format!("/tags/{tag}")).await.status(), StatusCode::NO_CONTENT);
    let tags = get_ok(&h, &t, &format!("/contacts/{contact}/tags"), &[]).await;
    assert_eq!(tags["tags"], json!([]), "a deleted tag is no longer applied");
    assert_eq!(get_ok(&h, &t, &format!("/contacts/{contact}"), &[]).await["tag_ids"], json!([]));
}

// ------------------------------------------------------------------------------------------------
// Notes and tasks

#[tokio::test]
async fn contact_notes_are_scoped_to_their_contact() {
    let h = start().await;
    let t = h.bearer().await;
    let a = id_of(&create(&h, &t, "/contacts", email_contact("NoteA", "note.a@example.com")).await);
    let b = id_of(&create(&h, &t, "/contacts", email_contact("NoteB", "note.b@example.com")).await);
    let note = create(
        &h,
        &t,
        &format!("/contacts/{a}/notes"),
        json!({"user_id": "1", "title": "Call", "text": "Talked", "type": "Call"}),
    )
    .await;
    assert_eq!(note["contact_id"], a.as_str());
    assert_eq!(note["title"], "Call");
    let note_id = id_of(&note);
    assert_eq!(get_ok(&h, &t, &format!("/contacts/{a}/notes/{note_id}"), &[]).await["id"], note_id.as_str());
    let elsewhere =
        json_with(get_q(&h, &t, &format!("/contacts/{b}/notes/{note_id}"), &[]).await, StatusCode::NOT_FOUND).await;
    v2_error(&elsewhere, 404, "NOT_FOUND");
    let patch = send(
        &h,
        Method::PATCH,
        &t,
        &format!("/contacts/{b}/notes/{note_id}"),
        &json!({"user_id": "1", "title": "Hijack"}),
    )
    .await;
    assert_eq!(patch.status(), StatusCode::NOT_FOUND);
    assert_eq!(delete(&h, &t, &format!("/contacts/{b}/notes/{note_id}")).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(ids(&get_ok(&h, &t, &format!("/contacts/{a}/notes"), &[]).await["notes"]), vec![note_id.clone()]);
    assert_eq!(get_ok(&h, &t, &format!("/contacts/{b}/notes"), &[]).await["notes"], json!([]));
    let missing_parent = get_q(&h, &t, "/contacts/999999/notes", &[]).await;
    assert_eq!(missing_parent.status(), StatusCode::NOT_FOUND);
    assert_eq!(delete(&h, &t, &format!("/contacts/{a}/notes/{note_id}")).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn tasks_filter_by_has_due_date_and_is_completed() {
    let h = start().await;
    let t = h.bearer().await;
    let undated =
        create(&h, &t, "/tasks", json!({"title": "Someday", "assigned_to_user_id": "1", "completed": false})).await;
    let with_due = get_ok(&h, &t, "/tasks", &[("page_size", "1000"), ("filter", "has_due_date==true")]).await;
    let with_due = with_due["tasks"].as_array().unwrap();
    assert!(!with_due.is_empty() && with_due.iter().all(|task| is_iso_utc(&task["due_time"])));
    assert!(!with_due.iter().any(|task| task["id"] == undated["id"]));
    let without_due = get_ok(&h, &t, "/tasks", &[("filter", "has_due_date==false")]).await;
    assert_eq!(ids(&without_due["tasks"]), vec![id_of(&undated)]);

    let open = get_ok(&h, &t, "/tasks", &[("page_size", "1000"), ("filter", "is_completed==false")]).await;
    let open = open["tasks"].as_array().unwrap();
    let done = get_ok(&h, &t, "/tasks", &[("page_size", "1000"), ("filter", "is_completed==true")]).await;
    let done = done["tasks"].as_array().unwrap();
    assert!(open.iter().all(|task| task["completed"] == false));
    assert!(done.iter().all(|task| task["completed"] == true));
    assert!(open.iter().any(|task| task["id"] == undated["id"]));
    let all = get_ok(&h, &t, "/tasks", &[("page_size", "1000")]).await;
    assert_eq!(open.len() + done.len(), all["tasks"].as_array().unwrap().len());
}

#[tokio::test]

async fn a_new_task_without_completed_is_listed_as_not_completed() {
    let h = start().await;
    let t = h.bearer().await;
    let task = create(&h, &t, "/tasks", json!({"title": "Fresh", "assigned_to_user_id": "1"})).await;
    assert_eq!(task["completed"], false);
    let open = get_ok(&h, &t, "/tasks", &[("page_size", "1000"), ("filter", "is_completed==false")]).await;
    assert!(ids(&open["tasks"]).contains(&id_of(&task)));
}

// ------------------------------------------------------------------------------------------------
// Products, orders, subscriptions

#[tokio::test]
async fn adjust_inventory_increases_decreases_and_refuses_to_go_below_zero() {
    let h = start().await;
    let t = h.bearer().await;
    let product =
        create(&h, &t, "/products", json!({"name": "Widget", "price": 1999, "short_description": "A widget"})).await;
    assert_eq!(product["price"], json!({"amount": 1999, "currency_code": "USD", "formatted_amount": "$19.99"}));
    let path = format!("/products/{}:adjustInventory", id_of(&product));
    let up =
        json_with(send(&h, Method::POST, &t, &path, &json!({"type": "INCREASE", "quantity": 5})).await, StatusCode::OK)
            .await;
    assert_eq!(up["inventory"]["inventory_count"], 5);
    let down =
        json_with(send(&h, Method::POST, &t, &path, &json!({"type": "DECREASE", "quantity": 2})).await, StatusCode::OK)
            .await;
    assert_eq!(down["inventory"]["inventory_count"], 3);
    let message =
        bad_request(send(&h, Method::POST, &t, &path, &json!({"type": "DECREASE", "quantity": 4})).await).await;
    assert!(message.contains("zero"), "{message}");
    let stored = get_ok(&h, &t, &format!("/products/{}", id_of(&product)), &[]).await;
    assert_eq!(stored["inventory"]["inventory_count"], 3, "a refused adjustment changes nothing");
    let bad_type = send(&h, Method::POST, &t, &path, &json!({"type": "DOUBLE", "quantity": 1})).await;
    assert_eq!(bad_type.status(), StatusCode::BAD_REQUEST);
}

fn cents(money: &Value) -> i64 {
    money["amount"].as_i64().unwrap_or_else(|| panic!("money amount in {money}"))
}

/// A product at $19.99 and an order for two of them plus a $10.50 line: total $50.48.
async fn order_for_5048(h: &Harness, t: &str) -> Value {
    let product =
        create(h, t, "/products", json!({"name": "Gadget", "price": 1999, "short_description": "A gadget"})).await;
    let order = json!({
        "contact_id": "1",
        "order_time": "2026-01-15T10:00:00.000Z",
        "order_title": "Test order",
        "order_type": "ONLINE",
        "order_items": [
            {"product_id": product["id"], "quantity": 2},
            {"name": "Setup fee", "quantity": 1, "price_per_unit": 10.5},
        ],
    });
    create(h, t, "/orders", order).await
}

async fn pay(h: &Harness, t: &str, order_id: &str, amount: f64) {
    let payment = json!({"payment_amount": amount, "apply_to_commissions": false, "payment_method_type": "CASH"});
    let result = create(h, t, &format!("/orders/{order_id}/payments"), payment).await;
    assert_eq!(result["payment_amount"], amount);
}

#[tokio::test]
async fn order_totals_follow_items_and_payments() {
    let h = start().await;
    let t = h.bearer().await;
    let order = order_for_5048(&h, &t).await;
    let id = id_of(&order);
    assert_eq!(order["contact"]["id"], "1");
    assert_eq!(order["title"], "Test order");
    assert_eq!(order["order_items"].as_array().unwrap().len(), 2);
    assert_eq!(order["total"], json!({"amount": 5048, "currency_code": "USD", "formatted_amount": "$50.48"}));
    assert_eq!(cents(&order["total_paid"]), 0);
    assert_eq!(cents(&order["total_due"]), 5048);
    assert_ne!(order["status"], "PAID");

    let item =
        create(&h, &t, &format!("/orders/{id}/items"), json!({"name": "Extra", "quantity": 3, "price_per_unit": 1.0}))
            .await;
    assert_eq!(item["quantity"], 3);
    let grown = get_ok(&h, &t, &format!("/orders/{id}"), &[]).await;
    assert_eq!(cents(&grown["total"]), 5348);
    assert_eq!(cents(&grown["total_due"]), 5348);

    pay(&h, &t, &id, 20.0).await;
    let partial = get_ok(&h, &t, &format!("/orders/{id}"), &[]).await;
    assert_eq!(cents(&partial["total_paid"]), 2000);
    assert_eq!(cents(&partial["total_due"]), 3348);
    assert_ne!(partial["status"], "PAID");

    pay(&h, &t, &id, 33.48).await;
    let paid = get_ok(&h, &t, &format!("/orders/{id}"), &[]).await;
    assert_eq!(cents(&paid["total"]), 5348);
    assert_eq!(cents(&paid["total_paid"]), 5348);
    assert_eq!(cents(&paid["total_due"]), 0);
    assert_eq!(paid["status"], "PAID");
    let payments = get_ok(&h, &t, &format!("/orders/{id}/payments"), &[]).await;
    assert_eq!(payments["invoice_order_payments"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn paid_filter_selects_only_fully_paid_orders() {
    let h = start().await;
    let t = h.bearer().await;
    let order = order_for_5048(&h, &t).await;
    let id = id_of(&order);
    let paid_ids = |body: Value| ids(&body["orders"]);
    pay(&h, &t, &id, 10.0).await;
    let paid = get_ok(&h, &t, "/orders", &[("page_size", "1000"), ("filter", "paid==true")]).await;
    assert!(paid["orders"].as_array().unwrap().iter().all(|o| o["status"] == "PAID" && cents(&o["total_due"]) == 0));
    assert!(!paid_ids(paid).contains(&id), "partly paid is not paid");
    let unpaid = get_ok(&h, &t, "/orders", &[("page_size", "1000"), ("filter", "paid==false")]).await;
    assert!(paid_ids(unpaid).contains(&id));
    pay(&h, &t, &id, 40.48).await;
    let paid = get_ok(&h, &t, "/orders", &[("page_size", "1000"), ("filter", "paid==true")]).await;
    assert!(paid_ids(paid).contains(&id));
    let unpaid = get_ok(&h, &t, "/orders", &[("page_size", "1000"), ("filter", "paid==false")]).await;
    assert!(!paid_ids(unpaid).contains(&id));
}

#[tokio::test]

async fn adding_an_item_to_a_paid_order_makes_it_unpaid_again() {
    let h = start().await;
    let t = h.bearer().await;
    let order = order_for_5048(&h, &t).await;
    let id = id_of(&order);
    pay(&h, &t, &id, 50.48).await;
    assert_eq!(get_ok(&h, &t, &format!("/orders/{id}"), &[]).await["status"], "PAID");
    create(&h, &t, &format!("/orders/{id}/items"), json!({"name": "Late add", "quantity": 1, "price_per_unit": 5.0}))
        .await;
    let now = get_ok(&h, &t, &format!("/orders/{id}"), &[]).await;
    assert_eq!(cents(&now["total_due"]), 500);
    assert_ne!(now["status"], "PAID", "an order with money due is not PAID");
    let paid = get_ok(&h, &t, "/orders", &[("page_size", "1000"), ("filter", "paid==true")]).await;
    assert!(!ids(&paid["orders"]).contains(&id));
}

#[tokio::test]
async fn subscriptions_are_listed_and_fetched_by_id() {
    let h = start().await;
    let t = h.bearer().await;
    let body = get_ok(&h, &t, "/subscriptions", &[]).await;
    let list = body["subscriptions"].as_array().unwrap();
    assert_eq!(list.len(), 40, "the demo seed");
    let first = &list[0];
    for key in ["id", "contact_id", "subscription_plan_id", "billing_amount", "active", "start_date"] {
        assert!(first.get(key).is_some(), "{key} missing from {first}");
    }
    let fetched = get_ok(&h, &t, &format!("/subscriptions/{}", id_of(first)), &[]).await;
    assert_eq!(&fetched, first);
    let contact = first["contact_id"].as_str().unwrap();
    let by_contact = get_ok(&h, &t, "/subscriptions", &[("filter", &format!("contact_id=={contact}"))]).await;
    assert!(by_contact["subscriptions"].as_array().unwrap().iter().all(|s| s["contact_id"] == contact));
    let missing = json_with(get_q(&h, &t, "/subscriptions/999999", &[]).await, StatusCode::NOT_FOUND).await;
    v2_error(&missing, 404, "NOT_FOUND");
}

// ------------------------------------------------------------------------------------------------
// Campaigns and sales transactions (read-only)

/// Property names of the vendor's schemas (keap-v2-openapi.json, `components/schemas`), copied here
/// so the test needs no YAML parser: `Campaign`, `TransactionV2`, `BasicContact`, `PaymentMethod`
/// and `CardInfo`.
const CAMPAIGN_PROPERTIES: &[&str] = &[
    "id",
    "name",
    "locked",
    "date_created",
    "published_date",
    "published_status",
    "error_message",
    "time_zone",
    "published_time_zone",
    "created_by_global_id",
    "active_contact_count",
    "completed_contact_count",
];
const TRANSACTION_PROPERTIES: &[&str] = &[
    "amount",
    "status",
    "description",
    "contact",
    "order_ids",
    "contact_id",
    "transaction_method",
    "transaction_time",
    "external_reference_id",
    "external_response_code",
    "error_details",
    "payment_id",
    "is_successful",
    "merchant_account_id",
    "merchant_account_type",
    "payment_method",
];
const BASIC_CONTACT_PROPERTIES: &[&str] = &["id", "email", "given_name", "family_name"];
const PAYMENT_METHOD_PROPERTIES: &[&str] = &[
    "contact_id",
    "payment_method_id",
    "credit_card_id",
    "merchant_account_type",
    "merchant_account_id",
    "payment_method_type",
    "created_time",
    "card_info",
    "status",
];
const CARD_INFO_PROPERTIES: &[&str] =
    &["brand", "fingerprint", "card_type", "last_four", "expiration_year", "expiration_month"];

/// Asserts that `record` is an object whose keys all are properties of the schema.
fn assert_keys_within(record: &Value, properties: &[&str]) {
    let keys = record.as_object().unwrap_or_else(|| panic!("an object: {record}")).keys();
    for key in keys {
        assert!(properties.contains(&key.as_str()), "{key} is not in the schema: {record}");
    }
}

/// Every item of a list, read `page_size` at a time; also checks that only the last page is short.
async fn page_through(h: &Harness, t: &str, path: &str, key: &str, page_size: usize) -> Vec<Value> {
    let size = page_size.to_string();
    let (mut items, mut token) = (Vec::new(), None::<String>);
    for _ in 0..1000 {
        let mut query = vec![("page_size", size.as_str())];
        if let Some(token) = token.as_deref() {
            query.push(("page_token", token));
        }
        let body = get_ok(h, t, path, &query).await;
        let page = body[key].as_array().unwrap_or_else(|| panic!("{key} in {body}")).clone();
        let next = body.get("next_page_token").and_then(Value::as_str).map(str::to_string);
        assert!(next.is_none() || page.len() == page_size, "only the last page may be short");
        items.extend(page);
        match next {
            Some(next) => token = Some(next),
            None => return items,
        }
    }
    panic!("paging must end");
}

/// The list under `key` of `GET path` with one `filter` (and `order_by`, if given), in one page.
async fn listed(h: &Harness, t: &str, path: &str, key: &str, filter: &str, order_by: &str) -> Vec<Value> {
    let mut query = vec![("page_size", "1000")];
    if !filter.is_empty() {
        query.push(("filter", filter));
    }
    if !order_by.is_empty() {
        query.push(("order_by", order_by));
    }
    let body = get_ok(h, t, path, &query).await;
    assert!(body.get("next_page_token").is_none(), "{path}: one page of 1000 holds everything");
    body[key].as_array().unwrap().clone()
}

/// A field as a sortable key: numbers as numbers, text case-insensitively, missing as None.
fn sort_value(record: &Value, field: &str) -> Option<Result<f64, String>> {
    match &record[field] {
        Value::Number(n) => Some(Ok(n.as_f64().unwrap())),
        Value::String(s) => Some(s.parse::<f64>().map_err(|_| s.to_lowercase())),
        _ => None,
    }
}

/// Asserts that `records` are ordered by `field` (missing values last in both directions).
fn assert_ordered(records: &[Value], field: &str, descending: bool) {
    for pair in records.windows(2) {
        let (a, b) = (sort_value(&pair[0], field), sort_value(&pair[1], field));
        let in_order = match (&a, &b) {
            (None, Some(_)) => false,
            (_, None) => true,
            (Some(Ok(x)), Some(Ok(y))) => {
                if descending {
                    x >= y
                } else {
                    x <= y
                }
            }
            (Some(Err(x)), Some(Err(y))) => {
                if descending {
                    x >= y
                } else {
                    x <= y
                }
            }
            _ => panic!("mixed types in {field}"),
        };
        assert!(in_order, "{field} {}: {} before {}", if descending { "desc" } else { "asc" }, pair[0], pair[1]);
    }
}

#[tokio::test]
async fn campaigns_page_through_all_and_fetch_one_by_id() {
    let h = start().await;
    let t = h.bearer().await;
    let all = listed(&h, &t, "/campaigns", "campaigns", "", "").await;
    assert_eq!(all.len(), 12, "the demo seed");
    assert_eq!(page_through(&h, &t, "/campaigns", "campaigns", 5).await, all);
    let expected_ids: Vec<String> = (1..=12).map(|i| i.to_string()).collect();
    assert_eq!(all.iter().map(id_of).collect::<Vec<_>>(), expected_ids, "ordered by id by default");
    let fetched = get_ok(&h, &t, "/campaigns/4", &[]).await;
    assert_eq!(fetched, all[3]);
    let missing = json_with(get_q(&h, &t, "/campaigns/999999", &[]).await, StatusCode::NOT_FOUND).await;
    assert!(v2_error(&missing, 404, "NOT_FOUND").contains("Campaign"), "{missing}");
    let bad_id = bad_request(get_q(&h, &t, "/campaigns/abc", &[]).await).await;
    assert!(bad_id.contains("abc"), "{bad_id}");
}

#[tokio::test]
async fn campaigns_have_exactly_the_campaign_schema_fields_with_its_types() {
    let h = start().await;
    let t = h.bearer().await;
    let all = listed(&h, &t, "/campaigns", "campaigns", "", "").await;
    for c in &all {
        assert_keys_within(c, CAMPAIGN_PROPERTIES);
        for key in ["id", "name", "time_zone", "created_by_global_id"] {
            assert!(c[key].is_string(), "{key}: {c}");
        }
        for key in ["locked", "published_status"] {
            assert!(c[key].is_boolean(), "{key}: {c}");
        }
        for key in ["active_contact_count", "completed_contact_count"] {
            assert!(c[key].is_i64(), "{key}: {c}");
        }
        assert!(is_iso_utc(&c["date_created"]), "{c}");
        assert_eq!(c["published_status"] == true, is_iso_utc(&c["published_date"]), "{c}");
    }
    let every_key: BTreeSet<&str> =
        all.iter().flat_map(|c| c.as_object().unwrap().keys()).map(String::as_str).collect();
    assert_eq!(every_key, CAMPAIGN_PROPERTIES.iter().copied().collect(), "the seed uses every field");
    let users = ids(&get_ok(&h, &t, "/users", &[]).await["users"]);
    assert!(all.iter().all(|c| users.contains(&c["created_by_global_id"].as_str().unwrap().to_string())));
}

#[tokio::test]
async fn campaign_name_filter_matches_the_text_anywhere_in_the_name_ignoring_case() {
    let h = start().await;
    let t = h.bearer().await;
    let names = |list: Vec<Value>| list.iter().map(|c| c["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let follow_up = listed(&h, &t, "/campaigns", "campaigns", "name==follow-up", "").await;
    assert_eq!(names(follow_up), ["Webinar Follow-Up", "Quote Follow-Up"]);
    let sale = listed(&h, &t, "/campaigns", "campaigns", "name==SALE", "").await;
    assert_eq!(names(sale), ["Spring Sale Campaign", "Black Friday Sale"]);
    let exact = listed(&h, &t, "/campaigns", "campaigns", "name==Tag New Contacts", "").await;
    assert_eq!(names(exact), ["Tag New Contacts"]);
    assert!(listed(&h, &t, "/campaigns", "campaigns", "name==zebra", "").await.is_empty());

    let unknown = bad_request(get_q(&h, &t, "/campaigns", &[("filter", "status==PUBLISHED")]).await).await;
    assert!(unknown.contains("status") && unknown.contains("Allowed fields: name"), "{unknown}");
    let operator = bad_request(get_q(&h, &t, "/campaigns", &[("filter", "name!=Sale")]).await).await;
    assert!(operator.contains("=="), "{operator}");
}

#[tokio::test]
async fn campaigns_order_by_each_vendor_field_in_both_directions() {
    let h = start().await;
    let t = h.bearer().await;
    let fields = [
        ("name", "name"),
        ("publisheddate", "published_date"),
        ("id", "id"),
        ("completedContactCount", "completed_contact_count"),
        ("activeContacts", "active_contact_count"),
        ("datecreated", "date_created"),
        ("lastupdated", "published_date"),
    ];
    for (name, field) in fields {
        let asc = listed(&h, &t, "/campaigns", "campaigns", "", &format!("{name} asc")).await;
        let desc = listed(&h, &t, "/campaigns", "campaigns", "", &format!("{name} desc")).await;
        assert_eq!((asc.len(), desc.len()), (12, 12));
        assert_ordered(&asc, field, false);
        assert_ordered(&desc, field, true);
        assert_eq!(listed(&h, &t, "/campaigns", "campaigns", "", name).await, asc, "asc is the default direction");
    }
    let drafts_last = listed(&h, &t, "/campaigns", "campaigns", "", "publisheddate desc").await;
    assert!(drafts_last[9..].iter().all(|c| c["published_status"] == false), "never-published campaigns come last");
    let bad = bad_request(get_q(&h, &t, "/campaigns", &[("order_by", "update_time")]).await).await;
    for allowed in ["name", "publisheddate", "completedContactCount", "activeContacts", "datecreated", "lastupdated"] {
        assert!(bad.contains(allowed), "{allowed} missing from: {bad}");
    }
}

#[tokio::test]
async fn campaigns_and_transactions_are_read_only_and_transactions_cannot_be_fetched_one_by_one() {
    let h = start().await;
    let t = h.bearer().await;
    let body = json!({"name": "New campaign"});
    for (method, path) in [
        (Method::POST, "/campaigns"),
        (Method::PATCH, "/campaigns/1"),
        (Method::DELETE, "/campaigns/1"),
        (Method::POST, "/sales/transactions"),
        (Method::PATCH, "/sales/transactions"),
        (Method::DELETE, "/sales/transactions"),
    ] {
        let response = send(&h, method.clone(), &t, path, &body).await;
        let error = json_with(response, StatusCode::METHOD_NOT_ALLOWED).await;
        v2_error(&error, 405, "METHOD_NOT_ALLOWED");
    }
    assert_eq!(listed(&h, &t, "/campaigns", "campaigns", "", "").await.len(), 12, "nothing was created or deleted");
    let one = json_with(get_q(&h, &t, "/sales/transactions/1", &[]).await, StatusCode::NOT_FOUND).await;
    v2_error(&one, 404, "NOT_FOUND");
}

#[tokio::test]
async fn campaigns_and_transactions_need_a_bearer_token_and_count_as_api_calls() {
    let h = start().await;
    for path in ["/campaigns", "/campaigns/1", "/sales/transactions"] {
        let response = h.http.get(h.url(&format!("{V2}{path}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let t = h.bearer().await;
    let before = h.stats().await["api_calls"].as_u64().unwrap();
    get_ok(&h, &t, "/campaigns", &[]).await;
    get_ok(&h, &t, "/campaigns/1", &[]).await;
    get_ok(&h, &t, "/sales/transactions", &[]).await;
    assert_eq!(h.stats().await["api_calls"].as_u64().unwrap(), before + 3);
}

/// Every seeded transaction, in one page.
async fn all_transactions(h: &Harness, t: &str) -> Vec<Value> {
    listed(h, t, "/sales/transactions", "transactions", "", "").await
}

#[tokio::test]
async fn transactions_page_through_all_and_follow_the_transaction_schema() {
    let h = start().await;
    let t = h.bearer().await;
    let all = all_transactions(&h, &t).await;
    assert!(all.len() > 100, "one per seeded payment, plus declined attempts: {}", all.len());
    assert_eq!(page_through(&h, &t, "/sales/transactions", "transactions", 17).await, all);
    assert_ordered(&all, "transaction_time", false);
    for tx in &all {
        assert_keys_within(tx, TRANSACTION_PROPERTIES);
        assert_keys_within(&tx["contact"], BASIC_CONTACT_PROPERTIES);
        if let Some(method) = tx.get("payment_method") {
            assert_keys_within(method, PAYMENT_METHOD_PROPERTIES);
            assert_keys_within(&method["card_info"], CARD_INFO_PROPERTIES);
            assert_eq!(method["contact_id"], tx["contact_id"]);
        }
        assert!(tx["amount"].is_f64() || tx["amount"].is_u64(), "{tx}");
        assert!(tx["contact_id"].is_string() && tx["is_successful"].is_boolean(), "{tx}");
        assert!(is_iso_utc(&tx["transaction_time"]), "{tx}");
        assert!(["APPROVED", "PENDING", "ERROR", "FAILED", "NONE"].contains(&tx["status"].as_str().unwrap()));
        assert!(["CAPTURE", "REFUND", "VOID", "MANUAL"].contains(&tx["transaction_method"].as_str().unwrap()));
    }
    let every_key: BTreeSet<&str> =
        all.iter().flat_map(|c| c.as_object().unwrap().keys()).map(String::as_str).collect();
    assert_eq!(every_key, TRANSACTION_PROPERTIES.iter().copied().collect(), "the seed uses every field");
}

#[tokio::test]
async fn transactions_reference_existing_orders_contacts_and_payments() {
    let h = start().await;
    let t = h.bearer().await;
    let contacts: BTreeSet<String> = all_contacts(&h, &t).await.iter().map(id_of).collect();
    let orders = listed(&h, &t, "/orders", "orders", "", "").await;
    let mut paid_by_payment_id = BTreeSet::new();
    for tx in all_transactions(&h, &t).await {
        assert!(contacts.contains(tx["contact_id"].as_str().unwrap()), "{tx}");
        let order_id = tx["order_ids"][0].as_str().unwrap();
        let order = orders.iter().find(|o| o["id"] == order_id).unwrap_or_else(|| panic!("order {order_id}"));
        assert_eq!(order["contact"]["id"], tx["contact_id"]);
        assert_eq!(tx["contact"], order["contact"]);
        if let Some(payment_id) = tx.get("payment_id").and_then(Value::as_str) {
            let payments = get_ok(&h, &t, &format!("/orders/{order_id}/payments"), &[]).await;
            let payment = payments["invoice_order_payments"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["payment_id"] == payment_id)
                .unwrap_or_else(|| panic!("payment {payment_id} of order {order_id}"))
                .clone();
            assert_eq!((&payment["amount"], &payment["pay_time"]), (&tx["amount"], &tx["transaction_time"]));
            assert!(paid_by_payment_id.insert(payment_id.to_string()), "one transaction per payment");
        }
    }
    assert!(!paid_by_payment_id.is_empty());
}

/// The transactions of `all` that `keep` selects, compared with what `filter` lists.
async fn check_filter(h: &Harness, t: &str, all: &[Value], filter: &str, keep: impl Fn(&Value) -> bool) {
    let expected: Vec<Value> = all.iter().filter(|tx| keep(tx)).cloned().collect();
    let got = listed(h, t, "/sales/transactions", "transactions", filter, "").await;
    assert_eq!(got, expected, "filter={filter}");
}

#[tokio::test]
async fn transaction_filters_select_what_the_vendor_documents() {
    let h = start().await;
    let t = h.bearer().await;
    let all = all_transactions(&h, &t).await;
    let amount = |tx: &Value| tx["amount"].as_f64().unwrap();
    let text = |tx: &Value, key: &str| tx[key].as_str().unwrap_or("").to_string();
    let pivot = amount(&all[all.len() / 2]);
    check_filter(&h, &t, &all, &format!("amount=={pivot}"), |tx| amount(tx) == pivot).await;
    check_filter(&h, &t, &all, &format!("amount!={pivot}"), |tx| amount(tx) != pivot).await;
    check_filter(&h, &t, &all, &format!("amount<{pivot}"), |tx| amount(tx) < pivot).await;
    check_filter(&h, &t, &all, &format!("amount<={pivot}"), |tx| amount(tx) <= pivot).await;
    check_filter(&h, &t, &all, &format!("amount>{pivot}"), |tx| amount(tx) > pivot).await;
    check_filter(&h, &t, &all, &format!("amount>={pivot}"), |tx| amount(tx) >= pivot).await;

    let sample = &all[7];
    let order = sample["order_ids"][0].as_str().unwrap();
    check_filter(&h, &t, &all, &format!("order_id=={order}"), |tx| tx["order_ids"][0] == order).await;
    let contact = text(sample, "contact_id");
    check_filter(&h, &t, &all, &format!("contact_id=={contact}"), |tx| text(tx, "contact_id") == contact).await;
    check_filter(&h, &t, &all, &format!("order_id=={order};contact_id=={contact}"), |tx| tx["order_ids"][0] == order)
        .await;

    let middle = text(&all[all.len() / 2], "transaction_time");
    check_filter(&h, &t, &all, &format!("since_time=={middle}"), |tx| text(tx, "transaction_time") >= middle).await;
    check_filter(&h, &t, &all, &format!("until_time=={middle}"), |tx| text(tx, "transaction_time") <= middle).await;

    for (field, values) in [
        ("merchant_account_id", &["1", "2", "3"][..]),
        ("merchant_account_type", &["KEAP_PAY", "STRIPE", "PAYPAL", "EWAY"][..]),
        ("status", &["APPROVED", "FAILED", "PENDING"][..]),
        ("transaction_method", &["CAPTURE", "MANUAL", "REFUND"][..]),
    ] {
        for value in values {
            check_filter(&h, &t, &all, &format!("{field}=={value}"), |tx| text(tx, field) == *value).await;
        }
    }
    let successful = |v: bool| move |tx: &Value| tx["is_successful"] == v;
    check_filter(&h, &t, &all, "is_successful==true", successful(true)).await;
    check_filter(&h, &t, &all, "is_successful==false", successful(false)).await;
    assert!(all.iter().any(successful(false)) && all.iter().any(|tx| text(tx, "merchant_account_type") == "PAYPAL"));

    let unknown = bad_request(get_q(&h, &t, "/sales/transactions", &[("filter", "payment_id==1")]).await).await;
    assert!(unknown.contains("payment_id"), "{unknown}");
    for allowed in [
        "amount",
        "order_id",
        "contact_id",
        "since_time",
        "until_time",
        "merchant_account_id",
        "merchant_account_type",
        "status",
        "transaction_method",
        "is_successful",
    ] {
        assert!(unknown.contains(allowed), "{allowed} missing from: {unknown}");
    }
    let bad_amount = bad_request(get_q(&h, &t, "/sales/transactions", &[("filter", "amount>lots")]).await).await;
    assert!(bad_amount.contains("amount"), "{bad_amount}");
    let bad_operator = bad_request(get_q(&h, &t, "/sales/transactions", &[("filter", "status!=FAILED")]).await).await;
    assert!(bad_operator.contains("status"), "{bad_operator}");
}

#[tokio::test]
async fn transactions_order_by_amount_time_and_contact_in_both_directions() {
    let h = start().await;
    let t = h.bearer().await;
    let total = all_transactions(&h, &t).await.len();
    for field in ["amount", "transaction_time", "contact_id"] {
        for (direction, descending) in [("asc", false), ("desc", true)] {
            let sorted =
                listed(&h, &t, "/sales/transactions", "transactions", "", &format!("{field} {direction}")).await;
            assert_eq!(sorted.len(), total);
            assert_ordered(&sorted, field, descending);
        }
    }
    let bad = bad_request(get_q(&h, &t, "/sales/transactions", &[("order_by", "id")]).await).await;
    assert!(bad.contains("amount") && bad.contains("transaction_time") && bad.contains("contact_id"), "{bad}");
}

#[tokio::test]
async fn paying_an_order_records_a_manual_transaction() {
    let h = start().await;
    let t = h.bearer().await;
    let order = order_for_5048(&h, &t).await;
    let id = id_of(&order);
    let filter = format!("order_id=={id}");
    assert!(listed(&h, &t, "/sales/transactions", "transactions", &filter, "").await.is_empty());
    pay(&h, &t, &id, 20.0).await;
    pay(&h, &t, &id, 30.48).await;
    let recorded = listed(&h, &t, "/sales/transactions", "transactions", &filter, "amount desc").await;
    let payments = get_ok(&h, &t, &format!("/orders/{id}/payments"), &[("order_by", "amount desc")]).await;
    let payments = payments["invoice_order_payments"].as_array().unwrap();
    assert_eq!((recorded.len(), payments.len()), (2, 2));
    for (tx, payment) in recorded.iter().zip(payments) {
        assert_keys_within(tx, TRANSACTION_PROPERTIES);
        assert_eq!(tx["amount"], payment["amount"]);
        assert_eq!(tx["transaction_time"], payment["pay_time"]);
        assert_eq!(tx["payment_id"], payment["payment_id"]);
        assert_eq!(tx["contact"], order["contact"]);
        assert_eq!((&tx["contact_id"], &tx["order_ids"]), (&json!("1"), &json!([id])));
        assert_eq!(
            (&tx["status"], &tx["transaction_method"], &tx["is_successful"]),
            (&json!("APPROVED"), &json!("MANUAL"), &json!(true))
        );
    }
}
