//! REST v2 request bodies against the vendor's own document (and the simulator's readings of it):
//! what it forbids is a 400 naming the field and never stored; what it declares is accepted, stored
//! when the simulator models it and ignored when it does not; what it does not declare is ignored.

use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

use crate::common::*;

const V2: &str = "/crm/rest/v2";

async fn send(h: &Harness, token: &str, method: Method, path: &str, body: &Value) -> Response {
    h.send_json(method, token, &format!("{V2}{path}"), body).await
}

/// Asserts a v2 400 and returns its message.
async fn refused(response: Response) -> String {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "INVALID_ARGUMENT", "{body}");
    body["message"].as_str().unwrap_or_default().to_string()
}

async fn ok(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "{body}");
    body
}

async fn contacts_named(h: &Harness, token: &str, name: &str) -> usize {
    let response = h.get(token, &format!("{V2}/contacts?filter=given_name%3D%3D{name}")).await;
    ok(response, StatusCode::OK).await["contacts"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn an_enum_value_outside_the_document_is_refused_naming_the_field_and_not_stored() {
    let h = start().await;
    let t = h.bearer().await;
    let body = json!({"given_name": "Enumless", "addresses": [{"field": "AAA", "line1": "1 Main St"}]});
    let message = refused(send(&h, &t, Method::POST, "/contacts", &body).await).await;
    assert_eq!(
        message,
        r#"Invalid value for addresses[0].field: "AAA" is not one of ADDRESS_FIELD_UNSPECIFIED, BILLING, SHIPPING, OTHER"#
    );
    assert_eq!(contacts_named(&h, &t, "Enumless").await, 0);
}

#[tokio::test]
async fn a_missing_required_field_is_refused_naming_it() {
    let h = start().await;
    let t = h.bearer().await;
    let message = refused(send(&h, &t, Method::POST, "/opportunities/stages", &json!({"name": "S"})).await).await;
    assert!(message.starts_with("Missing required field: "), "{message}");
}

#[tokio::test]
async fn an_integer_beyond_its_int32_format_is_refused() {
    let h = start().await;
    let t = h.bearer().await;
    let stage = json!({"name": "Big", "order": 2147483648_u64, "probability": 5, "target_number_days": 1});
    let message = refused(send(&h, &t, Method::POST, "/opportunities/stages", &stage).await).await;
    assert!(message.starts_with("Invalid value for order: "), "{message}");
}

#[tokio::test]
async fn a_whole_number_written_with_a_fraction_is_an_integer() {
    let h = start().await;
    let t = h.bearer().await;
    let product = json!({"name": "Whole", "short_description": "w", "price": 1250.0});
    let created = ok(send(&h, &t, Method::POST, "/products", &product).await, StatusCode::CREATED).await;
    assert_eq!(created["price"]["amount"], 1250);
}

#[tokio::test]
async fn a_reference_that_is_not_a_decimal_id_is_refused_by_the_simulators_reading() {
    let h = start().await;
    let t = h.bearer().await;
    let body = json!({"given_name": "Ref", "email_addresses": [{"email": "ref@example.com", "field": "EMAIL1"}],
        "company": {"id": "abc"}});
    let message = refused(send(&h, &t, Method::POST, "/contacts", &body).await).await;
    assert!(message.starts_with("Invalid value for company.id: "), "{message}");
    assert_eq!(contacts_named(&h, &t, "Ref").await, 0);
}

#[tokio::test]
async fn a_task_reminder_is_one_of_the_documented_minutes_as_an_integer() {
    let h = start().await;
    let t = h.bearer().await;
    let task = json!({"title": "Remind", "assigned_to_user_id": "1", "remind_time_mins": 30});
    let created = ok(send(&h, &t, Method::POST, "/tasks", &task).await, StatusCode::CREATED).await;
    assert_eq!(created["remind_time_mins"], 30);
    let odd = json!({"title": "Remind", "assigned_to_user_id": "1", "remind_time_mins": 31});
    let message = refused(send(&h, &t, Method::POST, "/tasks", &odd).await).await;
    assert!(message.starts_with("Invalid value for remind_time_mins: 31 is not one of 5, 10"), "{message}");
}

#[tokio::test]
async fn document_declared_subscription_fields_are_stored() {
    let h = start().await;
    let t = h.bearer().await;
    let change = json!({"billing_cycle": "MONTH", "billing_frequency": 30, "next_bill_date": "2031-01-01"});
    let updated = ok(send(&h, &t, Method::PATCH, "/subscriptions/1", &change).await, StatusCode::OK).await;
    assert_eq!(updated["billing_cycle"], "MONTH");
    assert_eq!(updated["next_bill_date"], "2031-01-01");
    let wrong = refused(send(&h, &t, Method::PATCH, "/subscriptions/1", &json!({"billing_cycle": "FORTNIGHT"})).await);
    assert!(wrong.await.starts_with("Invalid value for billing_cycle: "));
}

#[tokio::test]
async fn a_document_declared_field_the_simulator_does_not_model_is_accepted_and_ignored() {
    let h = start().await;
    let t = h.bearer().await;
    let change = json!({"notes": "Plan", "payment_plan": {"auto_charge": true, "number_of_payments": 3}});
    let updated = ok(send(&h, &t, Method::PATCH, "/orders/1", &change).await, StatusCode::OK).await;
    assert_eq!(updated["notes"], "Plan");
    let product = json!({"inventory_limit": 5, "out_of_stock_enabled": true});
    ok(send(&h, &t, Method::PATCH, "/products/1", &product).await, StatusCode::OK).await;
}

#[tokio::test]
async fn an_update_mask_takes_the_documents_values_and_ignores_read_only_ones() {
    let h = start().await;
    let t = h.bearer().await;
    let body = json!({"company_name": "Masked Co"});
    let path = "/companies/1?update_mask=company_name&update_mask=last_updated_by";
    let updated = ok(send(&h, &t, Method::PATCH, path, &body).await, StatusCode::OK).await;
    assert_eq!(updated["company_name"], "Masked Co");
    let message = refused(send(&h, &t, Method::PATCH, "/companies/1?update_mask=nickname", &body).await).await;
    assert!(message.starts_with("Invalid update_mask field: 'nickname' is not one of "), "{message}");
}

#[tokio::test]
async fn a_mask_naming_a_required_field_the_body_leaves_out_keeps_it() {
    let h = start().await;
    let t = h.bearer().await;
    let before = ok(h.get(&t, &format!("{V2}/opportunities/1")).await, StatusCode::OK).await;
    let path = "/opportunities/1?update_mask=opportunity_title&update_mask=next_action_notes";
    let updated = ok(send(&h, &t, Method::PATCH, path, &json!({})).await, StatusCode::OK).await;
    assert_eq!(updated["opportunity_title"], before["opportunity_title"]);
    assert!(updated.get("next_action_notes").is_none(), "{updated}");
}

#[tokio::test]
async fn utm_parameters_read_back_as_the_documents_list_of_touches() {
    let h = start().await;
    let t = h.bearer().await;
    let body = json!({"given_name": "Utm", "email_addresses": [{"email": "utm@example.com", "field": "EMAIL1"}],
        "utm_parameters": {"keap_source_id": "42", "utm_source": "google"}});
    let created = ok(send(&h, &t, Method::POST, "/contacts", &body).await, StatusCode::CREATED).await;
    assert_eq!(created["utm_parameters"], json!([{"keapSourceId": "42", "utmSource": "google", "lastTouch": true}]));
}
