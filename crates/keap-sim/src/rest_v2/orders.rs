//! The parts of orders and products that are not plain records: order items (kept inside the
//! order, totals recomputed on every change), order payments (their own collection, in the
//! `invoice_order_payments` shape, each leaving a sales transaction behind) and product inventory
//! adjustments.
//!
//! Path ids are read as `handlers::path_id` reads them: digits, else a 400 (the simulator's reading
//! of the document, in `vendor/readings.yml`).

use super::builders::{amount_cents, order_item, recompute_order_totals, to_cents, whole, BuildCtx, MAX_QUANTITY};
use super::handlers::{self, record_change, Change, Scope};
use super::resources::{ORDERS, PAYMENTS, PRODUCTS};
use crate::clock::iso;
use crate::errors::ApiError;
use crate::gateway::Caller;
use crate::http_util::{json_object, QueryParams};
use crate::records::parse_id;
use crate::state::{Account, Sim};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, MethodRouter};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use tower::ServiceExt;

type Result<T> = std::result::Result<T, ApiError>;

/// `POST /orders/{id}/items` with a `CreateOrderItemRequest` → 201 `OrderItem`.
pub async fn add_item(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(order): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let request =
        sim.request_bodies.accept("POST", "/rest/v2/orders/{order_id}/items", json_object(&headers, body).await?)?;
    let item = handlers::with_account(&sim, &caller.0.account, |a| {
        let order_id = existing_order(a, &order)?;
        let next_item_id =
            items_of(a, order_id).iter().filter_map(|i| i.get("id")?.as_str()?.parse::<u64>().ok()).max().unwrap_or(0)
                + 1;
        let now = iso(sim.clock.now());
        let ctx = BuildCtx { records: &a.records, now: &now, creating: true };
        let item = Value::Object(order_item(&ctx, request, next_item_id)?);
        change_order(&sim, a, order_id, |o| {
            if let Some(items) = o.get_mut("order_items").and_then(Value::as_array_mut) {
                items.push(item.clone());
            } else {
                o.as_object_mut().map(|m| m.insert("order_items".into(), json!([item.clone()])));
            }
        });
        Ok(item)
    })?;
    Ok((StatusCode::CREATED, Json(item)).into_response())
}

/// `/orders/{id}/items/{item_id}`: get, update and delete, as the document declares. The vendor's
/// `{item_id}:applyCommission` form, which the router cannot tell apart, is not implemented: 404.
pub fn item_router() -> MethodRouter<Arc<Sim>> {
    let items = super::declared(get(get_item).patch(patch_item).delete(delete_item), "GET, PATCH, DELETE");
    any(|State(sim): State<Arc<Sim>>, Path((_, item)): Path<(String, String)>, request: Request| async move {
        if item.contains(':') {
            return super::unimplemented_path().into_response();
        }
        items.with_state(sim).oneshot(request).await.into_response()
    })
}

/// `GET /orders/{id}/items/{item_id}`.
async fn get_item(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((order, item)): Path<(String, String)>,
) -> Result<Response> {
    let found = handlers::with_account(&sim, &caller.0.account, |a| {
        let (order_id, item_id) = existing_item(a, &order, &item)?;
        Ok(items_of(a, order_id).into_iter().find(|i| item_id_of(i) == Some(item_id)).unwrap_or_default())
    })?;
    Ok(Json(found).into_response())
}

/// `PATCH /orders/{id}/items/{item_id}` with an `UpdateOrderItemRequest` → 200 `OrderItem`. The
/// item is rebuilt from its current fields with the request's over them (only those `update_mask`
/// names, if given); naming another product takes that product's name and price unless the request
/// sets them. The order's totals follow.
async fn patch_item(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((order, item)): Path<(String, String)>,
    params: QueryParams,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    const PATH: &str = "/rest/v2/orders/{order_id}/items/{order_item_id}";
    let mut request = sim.request_bodies.accept("PATCH", PATH, json_object(&headers, body).await?)?;
    let mask = params.list("update_mask");
    sim.request_bodies.check_update_mask("PATCH", PATH, mask.as_deref())?;
    if let Some(mask) = mask {
        request.retain(|k, _| mask.contains(k));
    }
    request.retain(|_, v| !v.is_null());
    let updated = handlers::with_account(&sim, &caller.0.account, |a| {
        let (order_id, item_id) = existing_item(a, &order, &item)?;
        let current = items_of(a, order_id).into_iter().find(|i| item_id_of(i) == Some(item_id)).unwrap_or_default();
        let mut merged = item_request(&current);
        if request.contains_key("product_id") {
            merged.remove("name");
            merged.remove("price_per_unit");
        }
        merged.extend(request);
        let now = iso(sim.clock.now());
        let ctx = BuildCtx { records: &a.records, now: &now, creating: false };
        let rebuilt = Value::Object(order_item(&ctx, merged, item_id)?);
        change_order(&sim, a, order_id, |o| {
            let items = o.get_mut("order_items").and_then(Value::as_array_mut);
            if let Some(slot) = items.and_then(|items| items.iter_mut().find(|i| item_id_of(i) == Some(item_id))) {
                *slot = rebuilt.clone();
            }
        });
        Ok(rebuilt)
    })?;
    Ok(Json(updated).into_response())
}

/// A stored `OrderItem` as the create request that would build it again.
fn item_request(item: &Value) -> Map<String, Value> {
    let mut request = Map::new();
    for field in ["name", "description", "notes", "quantity", "item_type"] {
        if let Some(value) = item.get(field) {
            request.insert(field.into(), value.clone());
        }
    }
    if let Some(product) = item.pointer("/product/id") {
        request.insert("product_id".into(), product.clone());
    }
    for field in ["price_per_unit", "cost_per_unit"] {
        if let Some(cents) = item.get(field).and_then(|m| m.get("amount")).and_then(Value::as_i64) {
            request.insert(field.into(), json!(cents as f64 / 100.0));
        }
    }
    request
}

/// `DELETE /orders/{id}/items/{item_id}` → 204.
async fn delete_item(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path((order, item)): Path<(String, String)>,
) -> Result<Response> {
    handlers::with_account(&sim, &caller.0.account, |a| {
        let (order_id, item_id) = existing_item(a, &order, &item)?;
        change_order(&sim, a, order_id, |o| {
            if let Some(items) = o.get_mut("order_items").and_then(Value::as_array_mut) {
                items.retain(|i| item_id_of(i) != Some(item_id));
            }
        });
        Ok(())
    })?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The ids of an existing order and one of its items, from the path (ids as `handlers::path_id`
/// reads them).
fn existing_item(account: &Account, order: &str, item: &str) -> Result<(u64, u64)> {
    let order_id = existing_order(account, order)?;
    let item_id = handlers::path_id("order item", item)?
        .filter(|id| items_of(account, order_id).iter().any(|i| item_id_of(i) == Some(*id)))
        .ok_or_else(|| ApiError::not_found(format!("Order item with id {item} was not found")))?;
    Ok((order_id, item_id))
}

fn item_id_of(item: &Value) -> Option<u64> {
    item.get("id").and_then(Value::as_str).and_then(parse_id)
}

/// `GET /orders/{id}/payments` → `{"invoice_order_payments": [...]}`.
pub async fn list_payments(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(order): Path<String>,
    params: QueryParams,
) -> Result<Response> {
    let order_id = handlers::with_account(&sim, &caller.0.account, |a| existing_order(a, &order))?;
    super::list_response(&sim, &caller, &PAYMENTS, Some(Scope { field: "order_id", id: order_id }), &params)
}

/// `POST /orders/{id}/payments` with a `RestCreatePaymentRequest` → 201 `PaymentResult`.
pub async fn add_payment(
    State(sim): State<Arc<Sim>>,
    Extension(caller): Extension<Caller>,
    Path(order): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let request =
        sim.request_bodies.accept("POST", "/rest/v2/orders/{order_id}/payments", json_object(&headers, body).await?)?;
    let result = handlers::with_account(&sim, &caller.0.account, |a| {
        let order_id = existing_order(a, &order)?;
        if let Some(amount) = request.get("payment_amount").filter(|v| !v.is_null()) {
            if amount_cents(amount, "payment_amount")? == 0 {
                return Err(ApiError::bad_request("payment_amount must be positive"));
            }
        }
        let invoice_id = a.records.collection("orders").get(order_id).and_then(|o| o.get("invoice_id").cloned());
        let mut stored =
            handlers::create(&sim, a, &PAYMENTS, Some(Scope { field: "order_id", id: order_id }), request.clone())?;
        let payment_id = super::query::id_of(&stored);
        let now = iso(sim.clock.now());
        if let Some(Value::Object(p)) = a.records.collection_mut("payments").get_mut(payment_id) {
            let shaped = payment_record(&request, payment_id, invoice_id.clone(), &now);
            p.retain(|k, _| k == "id" || k == "order_id");
            p.extend(shaped);
            stored = Value::Object(p.clone());
        }
        let order = a.records.collection("orders").get(order_id).cloned().unwrap_or(Value::Null);
        let transaction_id = a.records.collection_mut("transactions").insert(manual_transaction(&order, &stored));
        change_order(&sim, a, order_id, |_| {});
        Ok(json!({
            "id": payment_id.to_string(),
            "invoice_id": invoice_id.unwrap_or(json!(order_id.to_string())),
            "payment_amount": stored.get("amount"),
            "payment_status_message": "Payment recorded",
            "transaction_id": transaction_id.to_string(),
        }))
    })?;
    Ok((StatusCode::CREATED, Json(result)).into_response())
}

/// `POST /products/{id}:adjustInventory` with `{"type": "INCREASE"|"DECREASE", "quantity": N}`.
pub async fn adjust_inventory(
    sim: &Sim,
    caller: &Caller,
    product: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response> {
    let path = "/rest/v2/products/{product_id}:adjustInventory";
    let request = sim.request_bodies.accept("POST", path, json_object(headers, body).await?)?;
    let quantity = request.get("quantity").and_then(whole).filter(|q| (1..=MAX_QUANTITY).contains(q));
    let Some(quantity) = quantity else {
        return Err(ApiError::bad_request(format!("quantity must be an integer from 1 to {MAX_QUANTITY}")));
    };
    let sign = match request.get("type").and_then(Value::as_str) {
        Some("INCREASE") => 1,
        Some("DECREASE") => -1,
        _ => return Err(ApiError::bad_request("type must be INCREASE or DECREASE")),
    };
    let updated = handlers::with_account(sim, &caller.0.account, |a| {
        let not_found = || ApiError::not_found(format!("Product with id {product} was not found"));
        let id = handlers::path_id(PRODUCTS.noun, product)?.ok_or_else(not_found)?;
        let now = iso(sim.clock.now());
        let Some(Value::Object(p)) = a.records.collection_mut("products").get_mut(id) else { return Err(not_found()) };
        let inventory = p.entry("inventory").or_insert_with(|| json!({})).as_object_mut();
        let Some(inventory) = inventory else { return Err(ApiError::conflict("Product inventory is not tracked")) };
        let current = inventory.get("inventory_count").and_then(Value::as_i64).unwrap_or(0);
        let count = current.checked_add(sign * quantity).filter(|c| (0..=i64::from(i32::MAX)).contains(c));
        let Some(count) = count else {
            return Err(ApiError::bad_request("Inventory cannot go below zero or above 2147483647"));
        };
        inventory.insert("inventory_count".into(), json!(count));
        p.insert("update_time".into(), json!(now));
        let updated = Value::Object(p.clone());
        record_change(sim, a, &PRODUCTS, Change::Edit, id);
        Ok(updated)
    })?;
    Ok(Json(updated).into_response())
}

/// An `invoice_order_payments` record from a payment request (amounts in major units).
fn payment_record(request: &Map<String, Value>, id: u64, invoice_id: Option<Value>, now: &str) -> Map<String, Value> {
    let amount = request.get("payment_amount").and_then(Value::as_f64).unwrap_or(0.0);
    let mut p = Map::new();
    p.insert("amount".into(), json!(amount));
    p.insert("payment_amount".into(), json!(amount));
    p.insert("payment_id".into(), json!(id.to_string()));
    if let Some(invoice) = invoice_id {
        p.insert("invoice_id".into(), invoice);
    }
    p.insert("pay_time".into(), request.get("payment_time").cloned().unwrap_or(json!(now)));
    p.insert("pay_status".into(), json!("MANUAL_PAID"));
    p.insert("last_updated_time".into(), json!(now));
    p.insert(
        "skip_commission".into(),
        json!(!request.get("apply_to_commissions").and_then(Value::as_bool).unwrap_or(true)),
    );
    if let Some(note) = request.get("notes") {
        p.insert("note".into(), note.clone());
    }
    p
}

/// The `TransactionV2` a payment recorded through the API leaves behind: a manual, approved
/// transaction for the payment's amount at its time, on its order and that order's contact.
fn manual_transaction(order: &Value, payment: &Value) -> Map<String, Value> {
    let contact = order.get("contact").cloned().unwrap_or(Value::Null);
    let mut t = Map::new();
    t.insert("amount".into(), payment.get("amount").cloned().unwrap_or(json!(0.0)));
    t.insert("status".into(), json!("APPROVED"));
    if let Some(note) = payment.get("note") {
        t.insert("description".into(), note.clone());
    }
    t.insert("contact_id".into(), contact.get("id").cloned().unwrap_or(Value::Null));
    t.insert("contact".into(), contact);
    t.insert("order_ids".into(), json!([order.get("id")]));
    t.insert("transaction_method".into(), json!("MANUAL"));
    t.insert("transaction_time".into(), payment.get("pay_time").cloned().unwrap_or(Value::Null));
    t.insert("payment_id".into(), payment.get("payment_id").cloned().unwrap_or(Value::Null));
    t.insert("is_successful".into(), json!(true));
    t.retain(|_, v| !v.is_null());
    t
}

fn existing_order(account: &Account, raw: &str) -> Result<u64> {
    handlers::path_id(ORDERS.noun, raw)?
        .filter(|id| account.records.collection("orders").get(*id).is_some())
        .ok_or_else(|| ApiError::not_found(format!("Order with id {raw} was not found")))
}

fn items_of(account: &Account, order_id: u64) -> Vec<Value> {
    account
        .records
        .collection("orders")
        .get(order_id)
        .and_then(|o| o.get("order_items"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Applies `edit` to an order, recomputes its totals from items and payments, stamps the change.
fn change_order(sim: &Sim, account: &mut Account, order_id: u64, edit: impl FnOnce(&mut Value)) {
    let paid_cents: i64 = account
        .records
        .collection("payments")
        .iter()
        .filter(|p| p.get("order_id").and_then(Value::as_str) == Some(order_id.to_string().as_str()))
        .filter_map(|p| p.get("amount").and_then(Value::as_f64))
        .map(to_cents)
        .fold(0i64, i64::saturating_add);
    let now = iso(sim.clock.now());
    if let Some(order) = account.records.collection_mut("orders").get_mut(order_id) {
        edit(order);
        recompute_order_totals(order, paid_cents);
        if let Some(o) = order.as_object_mut() {
            o.insert("modification_time".into(), json!(now));
        }
    }
    record_change(sim, account, &ORDERS, Change::Edit, order_id);
}
