//! `GET|PATCH /hubs/{hub}/products/{id}/inventory`, as the platforms' Infusionsoft elements had it:
//! the product's stock as `{"Quantity", "InventoryLimit", "OutOfStockEnabled"}`, and a change as
//! `{"Action": "increase"|"decrease", "Quantity": N}` (the vendor's `:adjustInventory`).

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use reqwest::Method;
use serde_json::{json, Value};

use super::records::record_id;
use super::response::HubResponse;
use super::vendor::{send_json, VendorRequest};
use crate::auth::HubAuth;
use crate::error::ApiError;
use crate::json_body::JsonBody;
use crate::path_param::PathParam;
use crate::state::AppState;

pub async fn show(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, id)): PathParam<(String, String)>,
) -> HubResponse {
    let result = async {
        let id = record_id(&id)?;
        let product =
            send_json(&state, &instance, &VendorRequest::new(Method::GET, format!("v2/products/{id}"))).await?;
        Ok(Json(inventory(&product)).into_response())
    }
    .await;
    HubResponse::new(&instance, result)
}

pub async fn adjust(
    State(state): State<AppState>,
    HubAuth { instance }: HubAuth,
    PathParam((_hub, id)): PathParam<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> HubResponse {
    let result = async {
        let id = record_id(&id)?;
        let change = adjustment(&body)?;
        let request = VendorRequest::new(Method::POST, format!("v2/products/{id}:adjustInventory")).json(&change);
        send_json(&state, &instance, &request).await?;
        let product =
            send_json(&state, &instance, &VendorRequest::new(Method::GET, format!("v2/products/{id}"))).await?;
        Ok(Json(inventory(&product)).into_response())
    }
    .await;
    HubResponse::new(&instance, result)
}

/// The vendor's adjustment for a hub body; every problem named.
fn adjustment(body: &Value) -> Result<Value, ApiError> {
    let fields = body.as_object().ok_or_else(|| ApiError::BadRequest("The body must be a JSON object".into()))?;
    if let Some(unknown) = fields.keys().find(|key| !matches!(key.as_str(), "Action" | "Quantity")) {
        let shown: String = unknown.chars().take(64).collect();
        return Err(ApiError::BadRequest(format!("Unknown field {shown}: expected Action and Quantity")));
    }
    let action = match fields.get("Action").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        Some("increase") => "INCREASE",
        Some("decrease") => "DECREASE",
        _ => return Err(ApiError::BadRequest("Field Action must be \"increase\" or \"decrease\"".into())),
    };
    let quantity = fields.get("Quantity").and_then(Value::as_u64).filter(|quantity| *quantity >= 1);
    let quantity = quantity.ok_or_else(|| ApiError::BadRequest("Field Quantity must be a positive integer".into()))?;
    Ok(json!({"type": action, "quantity": quantity}))
}

fn inventory(product: &Value) -> Value {
    let stock = product.get("inventory").cloned().unwrap_or(Value::Null);
    json!({
        "Id": product.get("id").and_then(Value::as_str).and_then(|id| id.parse::<u64>().ok()),
        "Quantity": stock.get("inventory_count"),
        "InventoryLimit": stock.get("inventory_limit"),
        "OutOfStockEnabled": stock.get("out_of_stock_enabled"),
    })
}
