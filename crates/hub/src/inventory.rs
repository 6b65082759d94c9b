//! A product's stock, as the platforms' Infusionsoft elements had it: `{"Quantity",
//! "InventoryLimit", "OutOfStockEnabled"}`, and a change as `{"Action": "increase"|"decrease",
//! "Quantity": N}` (the vendor's `:adjustInventory`).

use connector::reqwest::Method;
use connector::VendorRequest;
use serde_json::{json, Value};

use crate::objects::record_id;
use crate::{Hub, HubError, Session};

impl Hub {
    /// Product `id`'s stock.
    pub async fn inventory(&self, session: &Session<'_>, id: &str) -> Result<Value, HubError> {
        let id = record_id(id)?;
        let request = VendorRequest::new(Method::GET, format!("v2/products/{id}"));
        Ok(inventory(&self.vendor.send_json(&session.call, &request).await?))
    }

    /// Applies the change `body` describes to product `id`'s stock, and returns the stock after it.
    pub async fn adjust_inventory(&self, session: &Session<'_>, id: &str, body: &Value) -> Result<Value, HubError> {
        let id = record_id(id)?;
        let change = adjustment(body)?;
        let request = VendorRequest::new(Method::POST, format!("v2/products/{id}:adjustInventory")).json(&change);
        self.vendor.send_json(&session.call, &request).await?;
        let request = VendorRequest::new(Method::GET, format!("v2/products/{id}"));
        Ok(inventory(&self.vendor.send_json(&session.call, &request).await?))
    }
}

/// The vendor's adjustment for a hub body; every problem named.
fn adjustment(body: &Value) -> Result<Value, HubError> {
    let fields = body.as_object().ok_or_else(|| HubError::BadRequest("The body must be a JSON object".into()))?;
    if let Some(unknown) = fields.keys().find(|key| !matches!(key.as_str(), "Action" | "Quantity")) {
        let shown: String = unknown.chars().take(64).collect();
        return Err(HubError::BadRequest(format!("Unknown field {shown}: expected Action and Quantity")));
    }
    let action = match fields.get("Action").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        Some("increase") => "INCREASE",
        Some("decrease") => "DECREASE",
        _ => return Err(HubError::BadRequest("Field Action must be \"increase\" or \"decrease\"".into())),
    };
    let quantity = fields.get("Quantity").and_then(whole_number).filter(|quantity| *quantity >= 1);
    let quantity = quantity.ok_or_else(|| HubError::BadRequest("Field Quantity must be a positive integer".into()))?;
    Ok(json!({"type": action, "quantity": quantity}))
}

/// A whole number, also when written with a decimal point (`3.0`: JSON has one number type).
fn whole_number(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        let number = value.as_f64()?;
        (number.fract() == 0.0 && (0.0..9_007_199_254_740_992.0).contains(&number)).then_some(number as u64)
    })
}

fn inventory(product: &Value) -> Value {
    let stock = product.get("inventory").cloned().unwrap_or(Value::Null);
    let id = product.get("id").and_then(Value::as_str).and_then(|id| id.parse::<u64>().ok());
    json!({
        "Id": id,
        "id": id,
        "Quantity": stock.get("inventory_count"),
        "InventoryLimit": stock.get("inventory_limit"),
        "OutOfStockEnabled": stock.get("out_of_stock_enabled"),
    })
}
