//! What turns a v2 create or update request into stored record fields when it is more than a copy:
//! references resolved into the embedded objects the vendor returns (`contact_id` → `contact`,
//! `stage_id` → `stage`), enum and array validation, money as `{amount, currency_code,
//! formatted_amount}` (amounts in cents), and order totals.

use crate::errors::ApiError;
use crate::json_path::text_at;
use crate::records::{parse_id, Records};
use serde_json::{json, Map, Value};

/// Context of one write.
pub struct BuildCtx<'a> {
    pub records: &'a Records,
    /// The write time, ISO-8601.
    pub now: &'a str,
    /// True for a create, false for a PATCH (required fields are then not enforced).
    pub creating: bool,
}

/// Converts the fields of a (type-checked) request into the fields to store.
pub type Builder = fn(&BuildCtx, Map<String, Value>) -> Result<Map<String, Value>, ApiError>;

/// Stores the request fields as they are.
pub fn plain(_: &BuildCtx, request: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    Ok(request)
}

/// An `UpdateUserRequest` as `User` fields: its one `email_address` becomes the user's
/// `email_addresses` (in `EMAIL1` unless it names another field).
pub fn user(_: &BuildCtx, mut request: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    match request.remove("email_address") {
        None => {}
        Some(Value::Null) => {
            request.insert("email_addresses".into(), Value::Null);
        }
        Some(Value::Object(mut email)) => {
            let field = email.get("field").and_then(Value::as_str).filter(|f| *f != "EMAIL_FIELD_UNSPECIFIED");
            let field = field.unwrap_or("EMAIL1").to_string();
            email.insert("field".into(), Value::String(field));
            request.insert("email_addresses".into(), json!([email]));
        }
        Some(_) => return Err(ApiError::bad_request("Invalid value for email_address: expected an object")),
    }
    Ok(request)
}

pub fn contact(ctx: &BuildCtx, mut request: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    // Each enum as the document lists it, its "unspecified" slot included.
    check_array_items(
        &request,
        "email_addresses",
        "field",
        &["EMAIL_FIELD_UNSPECIFIED", "EMAIL1", "EMAIL2", "EMAIL3"],
        "email",
    )?;
    check_array_items(
        &request,
        "phone_numbers",
        "field",
        &["PHONE_NUMBER_FIELD_UNSPECIFIED", "PHONE1", "PHONE2", "PHONE3", "PHONE4", "PHONE5"],
        "number",
    )?;
    check_array_items(&request, "fax_numbers", "field", &["FAX_NUMBER_FIELD_UNSPECIFIED", "FAX1", "FAX2"], "number")?;
    check_array_items(
        &request,
        "addresses",
        "field",
        &["ADDRESS_FIELD_UNSPECIFIED", "BILLING", "SHIPPING", "OTHER"],
        "field",
    )?;
    check_emails(&request)?;
    if ctx.creating && ["email_addresses", "phone_numbers", "addresses"].iter().all(|k| empty_array(&request, k)) {
        return Err(ApiError::bad_request(
            "A contact needs at least one of email_addresses, phone_numbers or addresses",
        ));
    }
    if let Some(company) = request.get("company").filter(|c| !c.is_null()) {
        let id = reference_id(company.get("id"), "company.id")?;
        let found = existing(ctx, "companies", id, "company.id")?;
        request.insert("company".into(), json!({"id": id.to_string(), "company_name": found.get("company_name")}));
    }
    if let Some(Value::Object(utm)) = request.remove("utm_parameters") {
        request.insert("utm_parameters".into(), json!([utm_touch(&utm)]));
    }
    if let Some(owner) = request.get("owner_id").and_then(Value::as_str) {
        existing(ctx, "users", reference_id(Some(&json!(owner)), "owner_id")?, "owner_id")?;
    }
    Ok(request)
}

/// A contact's `utm_parameters` request (snake case) as the `ContactUtmResponse` it reads back
/// as (camel case, in a list of touches): the latest touch.
fn utm_touch(utm: &Map<String, Value>) -> Value {
    let mut touch = Map::new();
    for (from, to) in [
        ("keap_source_id", "keapSourceId"),
        ("utm_source", "utmSource"),
        ("utm_medium", "utmMedium"),
        ("utm_term", "utmTerm"),
        ("utm_campaign", "utmCampaign"),
        ("utm_content", "utmContent"),
    ] {
        if let Some(value) = utm.get(from).filter(|v| v.is_string()) {
            touch.insert(to.into(), value.clone());
        }
    }
    touch.insert("lastTouch".into(), json!(true));
    Value::Object(touch)
}

pub fn opportunity(ctx: &BuildCtx, mut request: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    if let Some(id) = take_reference(&mut request, "contact_id")? {
        let c = existing(ctx, "contacts", id, "contact_id")?;
        let contact = json!({
            "id": id.to_string(),
            "first_name": c.get("given_name"),
            "last_name": c.get("family_name"),
            "email": text_at(c, "email_addresses[field=EMAIL1].email"),
            "phone_number": text_at(c, "phone_numbers[field=PHONE1].number"),
            "company_name": text_at(c, "company.company_name"),
        });
        request.insert("contact".into(), strip_nulls(contact));
    }
    if let Some(id) = take_reference(&mut request, "stage_id")? {
        let stage = existing(ctx, "opportunity_stages", id, "stage_id")?;
        request.insert("stage".into(), json!({"id": id.to_string(), "name": stage.get("name")}));
        request.insert("stage_entrance_time".into(), json!(ctx.now));
    }
    if let Some(id) = take_reference(&mut request, "user_id")? {
        let user = existing(ctx, "users", id, "user_id")?;
        let user =
            json!({"id": id.to_string(), "first_name": user.get("given_name"), "last_name": user.get("family_name")});
        request.insert("user".into(), strip_nulls(user));
    }
    Ok(request)
}

pub fn tag(ctx: &BuildCtx, request: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    if let Some(category) = request.get("category").filter(|c| !c.is_null()) {
        let id = reference_id(category.get("id"), "category.id")?;
        existing(ctx, "tag_categories", id, "category.id")?;
    }
    Ok(request)
}

pub fn note(ctx: &BuildCtx, mut request: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    if let Some(id) = take_reference(&mut request, "user_id")? {
        existing(ctx, "users", id, "user_id")?;
        request.insert("created_by_user_id".into(), json!(id.to_string()));
        request.insert("last_updated_by_user_id".into(), json!(id.to_string()));
    }
    if let Some(pinned) = request.remove("is_pinned").and_then(|p| p.as_bool()) {
        request.insert("pinned_at".into(), if pinned { json!(ctx.now) } else { Value::Null });
    }
    check_enum(&request, "type", &["Appointment", "Call", "Email", "Fax", "Letter", "Other"])?;
    Ok(request)
}

pub fn task(ctx: &BuildCtx, mut request: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    if ctx.creating {
        request.entry("completed").or_insert(json!(false));
    }
    for (field, collection) in
        [("assigned_to_user_id", "users"), ("contact_id", "contacts"), ("opportunity_id", "opportunities")]
    {
        if let Some(value) = request.get(field).filter(|v| !v.is_null()) {
            existing(ctx, collection, reference_id(Some(value), field)?, field)?;
        }
    }
    check_enum(&request, "priority", &["CRITICAL", "ESSENTIAL", "NONESSENTIAL"])?;
    Ok(request)
}

pub fn product(_: &BuildCtx, mut request: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    // The request's price is an integer in the smallest currency unit, like CurrencyValue.amount.
    if let Some(price) = request.get("price").filter(|p| !p.is_null()) {
        let Some(cents) = whole(price).filter(|c| (0..=(MAX_AMOUNT as i64) * 100).contains(c)) else {
            return Err(ApiError::bad_request("price must be a non-negative integer amount in cents"));
        };
        request.insert("price".into(), money(cents));
    }
    Ok(request)
}

pub fn subscription(ctx: &BuildCtx, mut request: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    if let Some(value) = request.get("contact_id").filter(|v| !v.is_null()) {
        existing(ctx, "contacts", reference_id(Some(value), "contact_id")?, "contact_id")?;
    }
    if ctx.creating {
        request.entry("active").or_insert(json!(true));
        request.entry("quantity").or_insert(json!(1));
        request.entry("start_date").or_insert(json!(&ctx.now[..10]));
    }
    request.remove("allow_duplicate");
    Ok(request)
}

pub fn order(ctx: &BuildCtx, mut request: Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    check_enum(&request, "order_type", &["ONLINE", "OFFLINE"])?;
    if let Some(id) = take_reference(&mut request, "contact_id")? {
        let c = existing(ctx, "contacts", id, "contact_id")?;
        let contact = json!({
            "id": id.to_string(),
            "email": text_at(c, "email_addresses[field=EMAIL1].email"),
            "given_name": c.get("given_name"),
            "family_name": c.get("family_name"),
        });
        request.insert("contact".into(), strip_nulls(contact));
    }
    if let Some(title) = request.remove("order_title") {
        request.entry("title").or_insert(title);
    }
    request
        .remove("promo_codes")
        .map(|codes| request.insert("promo_code".into(), codes.get(0).cloned().unwrap_or(Value::Null)));
    if let Some(items) = request.remove("order_items") {
        let items = items.as_array().cloned().unwrap_or_default();
        let mut built = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let Value::Object(item) = item else {
                return Err(ApiError::bad_request(format!("order_items[{i}] must be an object")));
            };
            built.push(Value::Object(order_item(ctx, item, (i + 1) as u64)?));
        }
        request.insert("order_items".into(), Value::Array(built));
    }
    if ctx.creating {
        request.insert("status".into(), json!("DRAFT"));
        request.insert("source_type".into(), json!("API"));
        request.entry("order_items").or_insert(json!([]));
        let mut order = Value::Object(request);
        recompute_order_totals(&mut order, 0);
        let Value::Object(request) = order else { unreachable!("built from an object") };
        return Ok(request);
    }
    Ok(request)
}

/// Builds an `OrderItem` from a `CreateOrderItemRequest`; prices in the request are in major units.
pub fn order_item(ctx: &BuildCtx, mut item: Map<String, Value>, id: u64) -> Result<Map<String, Value>, ApiError> {
    const KNOWN: [&str; 10] = [
        "name",
        "description",
        "quantity",
        "notes",
        "product_id",
        "subscription_plan_id",
        "subscription_plan_description",
        "item_type",
        "price_per_unit",
        "cost_per_unit",
    ];
    if let Some(unknown) = item.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!("Unknown field in order item: {unknown}")));
    }
    let quantity = item.get("quantity").and_then(whole).filter(|q| (1..=MAX_QUANTITY).contains(q));
    let Some(quantity) = quantity else {
        return Err(ApiError::bad_request(format!("Order item quantity must be an integer from 1 to {MAX_QUANTITY}")));
    };
    let mut built = Map::new();
    built.insert("id".into(), json!(id.to_string()));
    built.insert("quantity".into(), json!(quantity));
    let mut unit_cents = None;
    if let Some(product_id) = take_reference(&mut item, "product_id")? {
        let p = existing(ctx, "products", product_id, "product_id")?;
        built.insert(
            "product".into(),
            strip_nulls(json!({"id": product_id.to_string(), "name": p.get("name"), "sku": p.get("sku"),
                "description": p.get("short_description"), "shippable": p.get("shippable"), "taxable": p.get("taxable")})),
        );
        built.insert("name".into(), p.get("name").cloned().unwrap_or(Value::Null));
        unit_cents = p.pointer("/price/amount").and_then(Value::as_i64);
    }
    for field in ["name", "description", "notes"] {
        if let Some(v) = item.get(field).filter(|v| v.is_string()) {
            built.insert(field.into(), v.clone());
        }
    }
    if let Some(price) = item.get("price_per_unit").filter(|v| !v.is_null()) {
        unit_cents = Some(amount_cents(price, "price_per_unit")?);
    }
    built.insert("price_per_unit".into(), money(unit_cents.unwrap_or(0)));
    if let Some(cost) = item.get("cost_per_unit").filter(|v| !v.is_null()) {
        built.insert("cost_per_unit".into(), money(amount_cents(cost, "cost_per_unit")?));
    }
    let item_type = item.get("item_type").and_then(Value::as_str).unwrap_or("PRODUCT");
    built.insert("item_type".into(), json!(item_type));
    Ok(built)
}

/// Recomputes an order's `total`, `total_paid`, `total_due` and `status` from its items and the
/// given payment amounts (cents).
pub fn recompute_order_totals(order: &mut Value, paid_cents: i64) {
    let total: i64 = order
        .get("order_items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    let unit = i.pointer("/price_per_unit/amount").and_then(Value::as_i64).unwrap_or(0);
                    unit.saturating_mul(i.get("quantity").and_then(Value::as_i64).unwrap_or(1))
                })
                .fold(0i64, i64::saturating_add)
        })
        .unwrap_or(0);
    let Some(order) = order.as_object_mut() else { return };
    order.insert("total".into(), money(total));
    order.insert("total_paid".into(), money(paid_cents));
    order.insert("total_due".into(), money(total.saturating_sub(paid_cents).max(0)));
    let fully_paid = total > 0 && paid_cents >= total;
    if fully_paid {
        order.insert("status".into(), json!("PAID"));
    } else if order.get("status").and_then(Value::as_str) == Some("PAID") {
        order.insert("status".into(), json!("SENT"));
    }
}

/// A `CurrencyValue` in US dollars.
pub fn money(cents: i64) -> Value {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let dollars = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in dollars.chars().enumerate() {
        if i > 0 && (dollars.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    json!({"amount": cents, "currency_code": "USD", "formatted_amount": format!("{sign}${grouped}.{:02}", abs % 100)})
}

pub fn to_cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

/// Largest money amount a request may carry, in major units (the vendor's own limits are lower).
pub const MAX_AMOUNT: f64 = 1_000_000_000.0;
/// Largest item quantity or inventory adjustment.
pub const MAX_QUANTITY: i64 = 1_000_000;

/// A request's money amount (major units) in cents, refusing negative, non-finite or absurd values.
pub fn amount_cents(value: &Value, key: &str) -> Result<i64, ApiError> {
    match value.as_f64() {
        Some(x) if x.is_finite() && (0.0..=MAX_AMOUNT).contains(&x) => Ok(to_cents(x)),
        _ => Err(ApiError::bad_request(format!("{key} must be a number from 0 to {MAX_AMOUNT}"))),
    }
}

/// A JSON number that is a whole number (`5` or `5.0`: JSON Schema's integer), as an `i64`.
pub fn whole(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_f64().filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15).map(|x| x as i64))
}

fn empty_array(request: &Map<String, Value>, key: &str) -> bool {
    request.get(key).and_then(Value::as_array).is_none_or(Vec::is_empty)
}

/// Each item of `request[key]` must be an object whose `field` is one of `allowed` (no repeats)
/// and which carries `must_have`.
fn check_array_items(
    request: &Map<String, Value>,
    key: &str,
    field: &str,
    allowed: &[&str],
    must_have: &str,
) -> Result<(), ApiError> {
    let Some(items) = request.get(key).and_then(Value::as_array) else { return Ok(()) };
    let mut seen = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let value = item.get(field).and_then(Value::as_str);
        let Some(value) = value.filter(|v| allowed.contains(v)) else {
            return Err(ApiError::bad_request(format!("{key}[{i}].{field} must be one of {}", allowed.join(", "))));
        };
        if seen.contains(&value) {
            return Err(ApiError::bad_request(format!("{key}: {field} {value} appears twice")));
        }
        seen.push(value);
        if !item.get(must_have).is_some_and(Value::is_string) {
            return Err(ApiError::bad_request(format!("{key}[{i}].{must_have} is required")));
        }
    }
    Ok(())
}

fn check_emails(request: &Map<String, Value>) -> Result<(), ApiError> {
    let Some(items) = request.get("email_addresses").and_then(Value::as_array) else { return Ok(()) };
    for item in items {
        let email = item.get("email").and_then(Value::as_str).unwrap_or("");
        let plausible = email.len() <= 100
            && email.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.'))
            && !email.contains(char::is_whitespace);
        if !plausible {
            return Err(ApiError::bad_request(format!("Invalid email address: {email}")));
        }
    }
    Ok(())
}

fn check_enum(request: &Map<String, Value>, key: &str, allowed: &[&str]) -> Result<(), ApiError> {
    match request.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(v)) if allowed.contains(&v.as_str()) => Ok(()),
        Some(_) => Err(ApiError::bad_request(format!("{key} must be one of {}", allowed.join(", ")))),
    }
}

/// Removes `key` from the request and parses it as an id.
fn take_reference(request: &mut Map<String, Value>, key: &str) -> Result<Option<u64>, ApiError> {
    match request.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => reference_id(Some(&value), key).map(Some),
    }
}

/// An id sent as a decimal string (or, leniently, a number).
fn reference_id(value: Option<&Value>, key: &str) -> Result<u64, ApiError> {
    let parsed = match value {
        Some(Value::String(s)) => parse_id(s),
        Some(Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    parsed.ok_or_else(|| match value {
        // Digits too many for an id name no record.
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            ApiError::bad_request(format!("{key} {s} does not exist"))
        }
        _ => ApiError::bad_request(format!("{key} must be an id")),
    })
}

fn existing<'a>(ctx: &'a BuildCtx, collection: &'static str, id: u64, key: &str) -> Result<&'a Value, ApiError> {
    ctx.records
        .collection(collection)
        .get(id)
        .ok_or_else(|| ApiError::bad_request(format!("{key} {id} does not exist")))
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::money;

    #[test]
    fn money_is_cents_with_a_formatted_dollar_amount() {
        assert_eq!(money(123_599)["formatted_amount"], "$1,235.99");
        assert_eq!(money(5)["formatted_amount"], "$0.05");
        assert_eq!(money(-100_000_000)["formatted_amount"], "-$1,000,000.00");
    }
}
