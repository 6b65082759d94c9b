//! The hub's objects through their mappings, against the simulator: every object's operations
//! round trip (the hub answer and what the vendor then stores), updates that keep what they do not
//! name, bad writes refused by name, response shaping and the object catalog.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::hub::{call, crm, erp, expect, id_of, is_utc, vendor, vendor_record, Instance};
use crate::common::{error_message, Stack};

// ---------------------------------------------------------------------------------------------
// CRUD round trips (crm)

#[tokio::test]
async fn contacts_round_trip_as_the_old_platforms_test_did() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let created = expect(
        &stack,
        &crm,
        Method::POST,
        "/hubs/crm/contacts",
        Some(json!({"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada.roundtrip@example.com"})),
        200,
    )
    .await;
    let id = id_of(&created);
    assert_eq!(created["FirstName"], "Ada");
    assert_eq!(created["Email"], "ada.roundtrip@example.com");
    assert!(is_utc(&created["DateCreated"]), "DateCreated {}", created["DateCreated"]);
    let stored = vendor_record(&stack, &crm, &format!("v2/contacts/{id}")).await;
    assert_eq!(stored["given_name"], "Ada");
    assert_eq!(stored["family_name"], "Lovelace");
    assert_eq!(stored["email_addresses"][0], json!({"email": "ada.roundtrip@example.com", "field": "EMAIL1"}));

    let read = expect(&stack, &crm, Method::GET, &format!("/hubs/crm/contacts/{id}"), None, 200).await;
    assert_eq!(read["Id"], id);
    assert_eq!(read["LastName"], "Lovelace");

    let patched = expect(
        &stack,
        &crm,
        Method::PATCH,
        &format!("/hubs/crm/contacts/{id}"),
        Some(json!({"LastName": "King"})),
        200,
    )
    .await;
    assert_eq!(patched["LastName"], "King");
    assert_eq!(patched["Email"], "ada.roundtrip@example.com");
    assert_eq!(vendor_record(&stack, &crm, &format!("v2/contacts/{id}")).await["family_name"], "King");

    let found = expect(
        &stack,
        &crm,
        Method::GET,
        "/hubs/crm/contacts?where=Email%3D%27ada.roundtrip%40example.com%27",
        None,
        200,
    )
    .await;
    let found = found.as_array().expect("a list");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["Id"], id);

    expect(&stack, &crm, Method::DELETE, &format!("/hubs/crm/contacts/{id}"), None, 200).await;
    let gone = stack.hub(Method::GET, &crm.token, &format!("/hubs/crm/contacts/{id}"), None).await;
    error_message(gone, 404).await;
    assert_eq!(vendor(&stack, &crm, &format!("v2/contacts/{id}")).await.0, 404);
}

#[tokio::test]
async fn accounts_are_created_from_first_and_last_name_alone() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let created = expect(
        &stack,
        &crm,
        Method::POST,
        "/hubs/crm/accounts",
        Some(json!({"FirstName": "Grace", "LastName": "Hopper"})),
        200,
    )
    .await;
    let id = id_of(&created);
    assert_eq!(created["Company"], "Grace Hopper");
    let stored = vendor_record(&stack, &crm, &format!("v2/companies/{id}")).await;
    assert_eq!(stored["company_name"], "Grace Hopper");
    assert_eq!(stored["first_name"], "Grace");
    assert_eq!(stored["last_name"], "Hopper");

    let read = expect(&stack, &crm, Method::GET, &format!("/hubs/crm/accounts/{id}"), None, 200).await;
    assert_eq!(read["LastName"], "Hopper");
    let patched = expect(
        &stack,
        &crm,
        Method::PATCH,
        &format!("/hubs/crm/accounts/{id}"),
        Some(json!({"City": "Arlington", "Email": "grace@navy.example.com"})),
        200,
    )
    .await;
    assert_eq!(patched["City"], "Arlington");
    let stored = vendor_record(&stack, &crm, &format!("v2/companies/{id}")).await;
    assert_eq!(stored["address"]["locality"], "Arlington");
    assert_eq!(stored["email_address"]["email"], "grace@navy.example.com");
    assert_eq!(stored["company_name"], "Grace Hopper", "an update does not re-apply the default");
    // A field inside the vendor's address object keeps the address's other fields.
    let patched = expect(
        &stack,
        &crm,
        Method::PATCH,
        &format!("/hubs/crm/accounts/{id}"),
        Some(json!({"PostalCode": "22201", "Phone1": "555-0199"})),
        200,
    )
    .await;
    assert_eq!(patched["City"], "Arlington");
    let stored = vendor_record(&stack, &crm, &format!("v2/companies/{id}")).await;
    assert_eq!(stored["address"]["locality"], "Arlington");
    assert_eq!(stored["address"]["postal_code"], "22201");
    assert_eq!(stored["email_address"]["email"], "grace@navy.example.com");

    expect(&stack, &crm, Method::DELETE, &format!("/hubs/crm/accounts/{id}"), None, 200).await;
    error_message(stack.hub(Method::GET, &crm.token, &format!("/hubs/crm/accounts/{id}"), None).await, 404).await;
    assert_eq!(vendor(&stack, &crm, &format!("v2/companies/{id}")).await.0, 404);
}

#[tokio::test]
async fn opportunities_round_trip_and_a_title_alone_names_what_the_vendor_needs() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let alone =
        stack.hub(Method::POST, &crm.token, "/hubs/crm/opportunities", Some(json!({"OpportunityTitle": "Deal"}))).await;
    let error = error_message(alone, 400).await;
    let provider = error["providerMessage"].as_str().unwrap_or_default();
    assert!(provider.contains("contact_id"), "providerMessage names the vendor's field: {error}");

    let created = expect(
        &stack,
        &crm,
        Method::POST,
        "/hubs/crm/opportunities",
        Some(json!({"OpportunityTitle": "Big deal", "ContactID": 1, "StageID": 1, "ProjectedRevenueHigh": 5000})),
        200,
    )
    .await;
    let id = id_of(&created);
    assert_eq!(created["OpportunityTitle"], "Big deal");
    assert_eq!(created["ContactID"], 1);
    assert_eq!(created["StageID"], 1);
    assert!(created["StageName"].is_string(), "{created}");
    assert!(is_utc(&created["DateCreated"]), "{created}");
    let stored = vendor_record(&stack, &crm, &format!("v2/opportunities/{id}")).await;
    assert_eq!(stored["opportunity_title"], "Big deal");
    assert_eq!(stored["contact"]["id"], "1");
    assert_eq!(stored["stage"]["id"], "1");

    expect(&stack, &crm, Method::GET, &format!("/hubs/crm/opportunities/{id}"), None, 200).await;
    let patched = expect(
        &stack,
        &crm,
        Method::PATCH,
        &format!("/hubs/crm/opportunities/{id}"),
        Some(json!({"StageID": 2, "OpportunityNotes": "moving"})),
        200,
    )
    .await;
    assert_eq!(patched["StageID"], 2);
    let stored = vendor_record(&stack, &crm, &format!("v2/opportunities/{id}")).await;
    assert_eq!(stored["stage"]["id"], "2");
    assert_eq!(stored["opportunity_notes"], "moving");

    expect(&stack, &crm, Method::DELETE, &format!("/hubs/crm/opportunities/{id}"), None, 200).await;
    assert_eq!(vendor(&stack, &crm, &format!("v2/opportunities/{id}")).await.0, 404);
}

#[tokio::test]
async fn tags_and_tasks_round_trip() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let tag = expect(
        &stack,
        &crm,
        Method::POST,
        "/hubs/crm/tags",
        Some(json!({"GroupName": "Hub test", "GroupDescription": "made by a test", "GroupCategoryId": 1})),
        200,
    )
    .await;
    let tag_id = id_of(&tag);
    assert_eq!(tag["GroupCategoryId"], 1);
    let stored = vendor_record(&stack, &crm, &format!("v2/tags/{tag_id}")).await;
    assert_eq!(stored["name"], "Hub test");
    assert_eq!(stored["category"]["id"], "1");
    let patched = expect(
        &stack,
        &crm,
        Method::PATCH,
        &format!("/hubs/crm/tags/{tag_id}"),
        Some(json!({"GroupName": "Renamed"})),
        200,
    )
    .await;
    assert_eq!(patched["GroupName"], "Renamed");
    assert_eq!(vendor_record(&stack, &crm, &format!("v2/tags/{tag_id}")).await["description"], "made by a test");
    read_then_delete(&stack, &crm, &format!("/hubs/crm/tags/{tag_id}"), &format!("v2/tags/{tag_id}")).await;

    let task = expect(
        &stack,
        &crm,
        Method::POST,
        "/hubs/crm/tasks",
        Some(json!({"ActionDescription": "Call Ada", "UserID": 1, "ContactId": 1, "Priority": "CRITICAL",
            "ActionDate": "2030-01-02T03:04:05Z"})),
        200,
    )
    .await;
    let task_id = id_of(&task);
    assert_eq!(task["Completed"], false);
    assert_eq!(task["ActionDate"], "2030-01-02T03:04:05Z");
    let stored = vendor_record(&stack, &crm, &format!("v2/tasks/{task_id}")).await;
    assert_eq!(stored["title"], "Call Ada");
    assert_eq!(stored["assigned_to_user_id"], "1");
    assert_eq!(stored["contact_id"], "1");
    let patched = expect(
        &stack,
        &crm,
        Method::PATCH,
        &format!("/hubs/crm/tasks/{task_id}"),
        Some(json!({"Completed": true})),
        200,
    )
    .await;
    assert_eq!(patched["Completed"], true);
    assert_eq!(vendor_record(&stack, &crm, &format!("v2/tasks/{task_id}")).await["completed"], true);
    read_then_delete(&stack, &crm, &format!("/hubs/crm/tasks/{task_id}"), &format!("v2/tasks/{task_id}")).await;
}

#[tokio::test]
async fn products_round_trip_with_prices_in_currency_units_and_the_vendor_keeps_cents() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let created = expect(
        &stack,
        &crm,
        Method::POST,
        "/hubs/crm/products",
        Some(json!({"ProductName": "Widget", "Sku": "W-1", "ProductPrice": 19.99, "Shippable": true})),
        200,
    )
    .await;
    let id = id_of(&created);
    assert_eq!(created["ProductPrice"], 19.99);
    assert_eq!(created["ShortDescription"], "Widget");
    let stored = vendor_record(&stack, &crm, &format!("v2/products/{id}")).await;
    assert_eq!(stored["price"]["amount"], 1999);
    assert_eq!(stored["short_description"], "Widget");
    let patched = expect(
        &stack,
        &crm,
        Method::PATCH,
        &format!("/hubs/crm/products/{id}"),
        Some(json!({"ProductPrice": 25})),
        200,
    )
    .await;
    assert_eq!(patched["ProductPrice"], 25);
    assert_eq!(vendor_record(&stack, &crm, &format!("v2/products/{id}")).await["price"]["amount"], 2500);
    read_then_delete(&stack, &crm, &format!("/hubs/crm/products/{id}"), &format!("v2/products/{id}")).await;
}

#[tokio::test]
async fn product_inventory_is_read_increased_and_decreased_but_not_below_zero() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let product = expect(
        &stack,
        &crm,
        Method::POST,
        "/hubs/crm/products",
        Some(json!({"ProductName": "Stocked", "ProductPrice": 100})),
        200,
    )
    .await;
    let id = id_of(&product);
    let path = format!("/hubs/crm/products/{id}/inventory");
    let start = expect(&stack, &crm, Method::GET, &path, None, 200).await;
    let before = start["Quantity"].as_i64().unwrap_or(0);

    let up = expect(&stack, &crm, Method::PATCH, &path, Some(json!({"Action": "increase", "Quantity": 7})), 200).await;
    assert_eq!(up["Quantity"], before + 7);
    let stored = vendor_record(&stack, &crm, &format!("v2/products/{id}")).await;
    assert_eq!(stored["inventory"]["inventory_count"], before + 7);

    let down =
        expect(&stack, &crm, Method::PATCH, &path, Some(json!({"Action": "decrease", "Quantity": 2})), 200).await;
    assert_eq!(down["Quantity"], before + 5);
    assert_eq!(expect(&stack, &crm, Method::GET, &path, None, 200).await["Quantity"], before + 5);

    let below =
        stack.hub(Method::PATCH, &crm.token, &path, Some(json!({"Action": "decrease", "Quantity": 1000}))).await;
    let error = error_message(below, 400).await;
    assert!(error["providerMessage"].as_str().is_some_and(|m| m.contains("below zero")), "{error}");
    assert_eq!(
        vendor_record(&stack, &crm, &format!("v2/products/{id}")).await["inventory"]["inventory_count"],
        before + 5
    );

    for bad in [
        json!({"Action": "grow", "Quantity": 1}),
        json!({"Action": "increase", "Quantity": 0}),
        json!({"Quantity": 1}),
        json!([1]),
    ] {
        error_message(stack.hub(Method::PATCH, &crm.token, &path, Some(bad)).await, 400).await;
    }
    error_message(stack.hub(Method::GET, &crm.token, "/hubs/crm/products/999999/inventory", None).await, 404).await;
    error_message(stack.hub(Method::GET, &crm.token, "/hubs/crm/products/abc/inventory", None).await, 400).await;
}

#[tokio::test]
async fn users_are_read_but_not_written() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let user = expect(&stack, &crm, Method::GET, "/hubs/crm/users/1", None, 200).await;
    assert_eq!(user["Id"], 1);
    let stored = vendor_record(&stack, &crm, "v2/users/1").await;
    assert_eq!(user["FirstName"], stored["given_name"]);
    assert_eq!(user["Email"], stored["email_addresses"][0]["email"]);
    assert!(is_utc(&user["DateCreated"]), "{user}");
    let list = expect(&stack, &crm, Method::GET, "/hubs/crm/users", None, 200).await;
    assert!(!list.as_array().expect("a list").is_empty());

    let created = stack.hub(Method::POST, &crm.token, "/hubs/crm/users", Some(json!({"FirstName": "X"}))).await;
    error_message(created, 405).await;
    let patched = stack.hub(Method::PATCH, &crm.token, "/hubs/crm/users/1", Some(json!({"FirstName": "X"}))).await;
    error_message(patched, 405).await;
    error_message(stack.hub(Method::DELETE, &crm.token, "/hubs/crm/users/1", None).await, 405).await;
    assert_eq!(vendor_record(&stack, &crm, "v2/users/1").await, stored);
}

#[tokio::test]
async fn notes_and_campaigns_are_listed_and_campaigns_read() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let notes = expect(&stack, &crm, Method::GET, "/hubs/crm/notes", None, 200).await;
    let notes = notes.as_array().expect("a list");
    assert!(!notes.is_empty());
    let note = &notes[0];
    let stored = vendor_record(&stack, &crm, &format!("v2/contacts/{}/notes/{}", note["ContactId"], note["Id"])).await;
    assert_eq!(note["ActionDescription"], stored["title"]);
    assert_eq!(note["CreationNotes"], stored["text"]);
    error_message(
        stack.hub(Method::POST, &crm.token, "/hubs/crm/notes", Some(json!({"CreationNotes": "x"}))).await,
        405,
    )
    .await;

    let campaigns = expect(&stack, &crm, Method::GET, "/hubs/crm/campaigns", None, 200).await;
    let first = &campaigns.as_array().expect("a list")[0];
    let id = id_of(first);
    let campaign = expect(&stack, &crm, Method::GET, &format!("/hubs/crm/campaigns/{id}"), None, 200).await;
    let stored = vendor_record(&stack, &crm, &format!("v2/campaigns/{id}")).await;
    assert_eq!(campaign["Name"], stored["name"]);
    assert!(is_utc(&campaign["DateCreated"]), "{campaign}");
    error_message(stack.hub(Method::POST, &crm.token, "/hubs/crm/campaigns", Some(json!({"Name": "x"}))).await, 405)
        .await;
}

// ---------------------------------------------------------------------------------------------
// CRUD round trips (erp)

#[tokio::test]
async fn erp_customers_are_contacts() {
    let stack = Stack::start().await;
    let erp = erp(&stack).await;
    let created = expect(
        &stack,
        &erp,
        Method::POST,
        "/hubs/erp/customers",
        Some(json!({"FirstName": "Erp", "LastName": "Customer", "Email": "erp.customer@example.com"})),
        200,
    )
    .await;
    let id = id_of(&created);
    let stored = vendor_record(&stack, &erp, &format!("v2/contacts/{id}")).await;
    assert_eq!(stored["given_name"], "Erp");
    let patched = expect(
        &stack,
        &erp,
        Method::PATCH,
        &format!("/hubs/erp/customers/{id}"),
        Some(json!({"Phone1": "555-0100"})),
        200,
    )
    .await;
    assert_eq!(patched["Phone1"], "555-0100");
    read_then_delete(&stack, &erp, &format!("/hubs/erp/customers/{id}"), &format!("v2/contacts/{id}")).await;
}

#[tokio::test]
async fn erp_orders_round_trip_with_their_items_and_payments() {
    let stack = Stack::start().await;
    let erp = erp(&stack).await;
    let product = expect(
        &stack,
        &erp,
        Method::POST,
        "/hubs/erp/products",
        Some(json!({"ProductName": "Gadget", "ProductPrice": 1250})),
        200,
    )
    .await;
    let product_id = id_of(&product);
    let order = expect(
        &stack,
        &erp,
        Method::POST,
        "/hubs/erp/orders",
        Some(json!({"JobTitle": "Hub order", "ContactId": 1, "OrderType": "OFFLINE", "OrderDate": "2026-01-02T03:04:05Z"})),
        200,
    )
    .await;
    let id = id_of(&order);
    assert_eq!(order["JobTitle"], "Hub order");
    assert_eq!(order["ContactId"], 1);
    assert_eq!(order["OrderDate"], "2026-01-02T03:04:05Z");
    let stored = vendor_record(&stack, &erp, &format!("v2/orders/{id}")).await;
    assert_eq!(stored["title"], "Hub order");
    assert_eq!(stored["contact"]["id"], "1");

    let patched =
        expect(&stack, &erp, Method::PATCH, &format!("/hubs/erp/orders/{id}"), Some(json!({"JobNotes": "rush"})), 200)
            .await;
    assert_eq!(patched["JobNotes"], "rush");
    assert_eq!(vendor_record(&stack, &erp, &format!("v2/orders/{id}")).await["notes"], "rush");

    // Items: added with a price in currency units (the vendor keeps cents), listed, read one by one.
    let items_path = format!("/hubs/erp/orders/{id}/items");
    let item = expect(
        &stack,
        &erp,
        Method::POST,
        &items_path,
        Some(json!({"ProductId": product_id, "Qty": 2, "PPU": 15, "ItemDescription": "two gadgets"})),
        200,
    )
    .await;
    let item_id = id_of(&item);
    assert_eq!(item["Qty"], 2);
    assert_eq!(item["PPU"], 15);
    assert_eq!(item["ProductId"], product_id);
    let stored = vendor_record(&stack, &erp, &format!("v2/orders/{id}")).await;
    assert_eq!(stored["order_items"][0]["price_per_unit"]["amount"], 1500);
    assert_eq!(stored["order_items"][0]["quantity"], 2);
    assert_eq!(stored["total"]["amount"], 3000);
    let items = expect(&stack, &erp, Method::GET, &items_path, None, 200).await;
    assert_eq!(items.as_array().expect("a list").len(), 1, "{items}");
    assert_eq!(items[0]["Id"], item_id);
    let one = expect(&stack, &erp, Method::GET, &format!("{items_path}/{item_id}"), None, 200).await;
    assert_eq!(one["PPU"], 15);
    assert_eq!(
        expect(&stack, &erp, Method::GET, &format!("/hubs/erp/orders/{id}"), None, 200).await["InvoiceTotal"],
        30
    );

    // Payments: recorded and listed.
    let payments_path = format!("/hubs/erp/orders/{id}/payments");
    let payment = expect(
        &stack,
        &erp,
        Method::POST,
        &payments_path,
        Some(json!({"Amt": 10.5, "PayNote": "check", "PayDate": "2026-01-03T00:00:00Z"})),
        200,
    )
    .await;
    let payment_id = id_of(&payment);
    assert_eq!(payment["Amt"], 10.5);
    let payments = expect(&stack, &erp, Method::GET, &payments_path, None, 200).await;
    let payments = payments.as_array().expect("a list");
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert_eq!(payments[0]["Id"], payment_id);
    assert_eq!(payments[0]["Amt"], 10.5);
    assert_eq!(payments[0]["PayNote"], "check");
    assert_eq!(payments[0]["PayDate"], "2026-01-03T00:00:00Z");
    let (_, vendor_payments) = vendor(&stack, &erp, &format!("v2/orders/{id}/payments")).await;
    assert_eq!(vendor_payments["invoice_order_payments"][0]["amount"], 10.5);
    assert_eq!(vendor_record(&stack, &erp, &format!("v2/orders/{id}")).await["total_paid"]["amount"], 1050);

    expect(&stack, &erp, Method::DELETE, &format!("{items_path}/{item_id}"), None, 200).await;
    assert_eq!(vendor_record(&stack, &erp, &format!("v2/orders/{id}")).await["order_items"], json!([]));
    expect(&stack, &erp, Method::DELETE, &format!("/hubs/erp/orders/{id}"), None, 200).await;
    assert_eq!(vendor(&stack, &erp, &format!("v2/orders/{id}")).await.0, 404);
}

#[tokio::test]
async fn erp_subscriptions_are_created_read_and_updated_and_transactions_listed() {
    let stack = Stack::start().await;
    let erp = erp(&stack).await;
    let existing = expect(&stack, &erp, Method::GET, "/hubs/erp/subscriptions", None, 200).await;
    let sample = existing.as_array().expect("a list").first().cloned().expect("a seeded subscription");
    let created = expect(
        &stack,
        &erp,
        Method::POST,
        "/hubs/erp/subscriptions",
        Some(
            json!({"ContactId": 1, "SubscriptionPlanId": sample["SubscriptionPlanId"], "ProductId": sample["ProductId"],
            "BillingAmt": 12.5, "StartDate": "2030-05-06T07:08:09Z"}),
        ),
        200,
    )
    .await;
    let id = id_of(&created);
    assert_eq!(created["Active"], true);
    // The vendor keeps a calendar date; the hub shows dates as UTC date-times.
    assert_eq!(created["StartDate"], "2030-05-06T00:00:00Z");
    assert!(is_utc(&sample["LastBillDate"]), "{sample}");
    let stored = vendor_record(&stack, &erp, &format!("v2/subscriptions/{id}")).await;
    assert_eq!(stored["contact_id"], "1");
    assert_eq!(stored["billing_amount"], 12.5);
    assert_eq!(stored["start_date"], "2030-05-06");
    let patched =
        expect(&stack, &erp, Method::PATCH, &format!("/hubs/erp/subscriptions/{id}"), Some(json!({"Qty": 3})), 200)
            .await;
    assert_eq!(patched["Qty"], 3);
    assert_eq!(vendor_record(&stack, &erp, &format!("v2/subscriptions/{id}")).await["quantity"], 3);
    expect(&stack, &erp, Method::GET, &format!("/hubs/erp/subscriptions/{id}"), None, 200).await;
    error_message(stack.hub(Method::DELETE, &erp.token, &format!("/hubs/erp/subscriptions/{id}"), None).await, 405)
        .await;

    let transactions = expect(&stack, &erp, Method::GET, "/hubs/erp/transactions", None, 200).await;
    let first = transactions.as_array().expect("a list").first().cloned().expect("a seeded transaction");
    assert!(first["ContactId"].is_u64(), "{first}");
    assert!(first["OrderId"].is_u64(), "{first}");
    assert!(is_utc(&first["TransactionDate"]), "{first}");
    let (_, stored) = vendor(&stack, &erp, "v2/sales/transactions").await;
    let stored = stored["transactions"].as_array().expect("vendor transactions").clone();
    assert!(stored
        .iter()
        .any(|t| t["order_ids"][0].as_str() == Some(first["OrderId"].to_string().as_str())
            && t["amount"] == first["Amount"]));
    error_message(stack.hub(Method::GET, &erp.token, "/hubs/erp/transactions/1", None).await, 405).await;
}

// ---------------------------------------------------------------------------------------------
// Updates keep what they do not name

#[tokio::test]
async fn an_update_keeps_what_it_does_not_name_and_null_removes_an_entry() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let created = expect(
        &stack,
        &crm,
        Method::POST,
        "/hubs/crm/contacts",
        Some(json!({"FirstName": "Two", "Email": "one@example.com", "EmailAddress2": "two@example.com", "Phone1": "555-0001",
            "Phone2": "555-0002"})),
        200,
    )
    .await;
    let id = id_of(&created);
    let path = format!("/hubs/crm/contacts/{id}");
    let patched = expect(&stack, &crm, Method::PATCH, &path, Some(json!({"Email": "new@example.com"})), 200).await;
    assert_eq!(patched["Email"], "new@example.com");
    assert_eq!(patched["EmailAddress2"], "two@example.com");
    let stored = vendor_record(&stack, &crm, &format!("v2/contacts/{id}")).await;
    let emails = stored["email_addresses"].as_array().expect("emails");
    assert!(emails.iter().any(|e| e["field"] == "EMAIL2" && e["email"] == "two@example.com"), "{emails:?}");
    assert!(emails.iter().any(|e| e["field"] == "EMAIL1" && e["email"] == "new@example.com"), "{emails:?}");

    let patched = expect(&stack, &crm, Method::PATCH, &path, Some(json!({"Phone1": null})), 200).await;
    assert!(patched.get("Phone1").is_none(), "{patched}");
    assert_eq!(patched["Phone2"], "555-0002");
    let stored = vendor_record(&stack, &crm, &format!("v2/contacts/{id}")).await;
    assert_eq!(stored["phone_numbers"], json!([{"field": "PHONE2", "number": "555-0002"}]));

    // PUT is PATCH.
    let put = expect(&stack, &crm, Method::PUT, &path, Some(json!({"LastName": "Put"})), 200).await;
    assert_eq!(put["LastName"], "Put");
    assert_eq!(put["Email"], "new@example.com");
    let stored = vendor_record(&stack, &crm, &format!("v2/contacts/{id}")).await;
    assert_eq!(stored["family_name"], "Put");
    assert_eq!(stored["given_name"], "Two");

    // The record's own id may come back in the body; another is refused.
    let same = expect(&stack, &crm, Method::PATCH, &path, Some(json!({"Id": id, "FirstName": "Same"})), 200).await;
    assert_eq!(same["FirstName"], "Same");
    let other = stack.hub(Method::PATCH, &crm.token, &path, Some(json!({"Id": id + 1, "FirstName": "Other"}))).await;
    let error = error_message(other, 400).await;
    assert!(error["message"].as_str().unwrap().contains("Id"), "{error}");
    assert_eq!(vendor_record(&stack, &crm, &format!("v2/contacts/{id}")).await["given_name"], "Same");
}

// ---------------------------------------------------------------------------------------------
// Bad writes

#[tokio::test]
async fn bad_writes_are_refused_naming_the_fields() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let before = stack.hub(Method::GET, &crm.token, "/hubs/crm/contacts?returnCount=true", None).await;
    let count_before = before.headers().get("elements-total-count").cloned();

    let cases: Vec<(Value, &[&str])> = vec![
        (json!({"FirstName": "A", "Nope": 1, "Zip": 2}), &["Nope", "Zip"]),
        (json!({"FirstName": "A", "DateCreated": "2020-01-01T00:00:00Z"}), &["DateCreated"]),
        (json!({"FirstName": "A", "Company": "Acme"}), &["Company"]),
        (json!({"FirstName": 5}), &["FirstName"]),
        (json!({"FirstName": "A", "CompanyID": "x"}), &["CompanyID"]),
        (json!({"FirstName": "A", "Birthday": "next tuesday"}), &["Birthday"]),
        (json!([{"FirstName": "A"}]), &["object"]),
        (json!("FirstName"), &["object"]),
        (json!({}), &["no fields"]),
    ];
    for (body, named) in cases {
        let answer = stack.hub(Method::POST, &crm.token, "/hubs/crm/contacts", Some(body.clone())).await;
        assert_eq!(
            answer.headers().get("elements-element-instance-id").map(|v| v.to_str().unwrap().to_string()),
            Some(crm.id.to_string())
        );
        let error = error_message(answer, 400).await;
        let message = error["message"].as_str().unwrap();
        for name in named {
            assert!(message.contains(name), "{body} → {message}");
        }
        let update = stack.hub(Method::PATCH, &crm.token, "/hubs/crm/contacts/1", Some(body.clone())).await;
        error_message(update, 400).await;
    }
    let after = stack.hub(Method::GET, &crm.token, "/hubs/crm/contacts?returnCount=true", None).await;
    assert_eq!(after.headers().get("elements-total-count").cloned(), count_before, "nothing was created");

    let malformed = stack
        .http
        .post(stack.api("/hubs/crm/contacts"))
        .header("authorization", stack.hub_auth(&crm.token))
        .header("content-type", "application/json")
        .body("{\"FirstName\": ")
        .send()
        .await
        .unwrap();
    error_message(malformed, 400).await;
    let wrong_type = stack
        .http
        .post(stack.api("/hubs/crm/contacts"))
        .header("authorization", stack.hub_auth(&crm.token))
        .header("content-type", "text/plain")
        .body("{\"FirstName\": \"A\"}")
        .send()
        .await
        .unwrap();
    error_message(wrong_type, 415).await;
    let huge = format!("{{\"FirstName\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let too_big = stack
        .http
        .post(stack.api("/hubs/crm/contacts"))
        .header("authorization", stack.hub_auth(&crm.token))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    error_message(too_big, 413).await;
}

/// `null` clears a field, except one the vendor requires: a tag without a name, a product without
/// a price or an opportunity without a contact is refused by name, and the record keeps its value.
#[tokio::test]
async fn a_field_the_vendor_requires_cannot_be_cleared_with_null() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let tag = expect(&stack, &crm, Method::POST, "/hubs/crm/tags", Some(json!({"GroupName": "Keep me"})), 200).await;
    let path = format!("/hubs/crm/tags/{}", id_of(&tag));
    for method in [Method::PATCH, Method::PUT] {
        let answer = stack.hub(method, &crm.token, &path, Some(json!({"GroupName": null}))).await;
        let error = error_message(answer, 400).await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("GroupName") && message.contains("cannot be cleared"), "{message}");
    }
    let kept = expect(&stack, &crm, Method::GET, &path, None, 200).await;
    assert_eq!(kept["GroupName"], "Keep me");

    let cleared = json!({"GroupDescription": null});
    let tag = expect(&stack, &crm, Method::PATCH, &path, Some(cleared), 200).await;
    assert!(tag.get("GroupDescription").is_none(), "an optional field is cleared: {tag}");
    for (object, field) in [("products", "ProductPrice"), ("opportunities", "ContactID")] {
        let answer =
            stack.hub(Method::PATCH, &crm.token, &format!("/hubs/crm/{object}/1"), Some(json!({field: null}))).await;
        let error = error_message(answer, 400).await;
        assert!(error["message"].as_str().unwrap().contains(field), "{object}: {error}");
    }
}

/// A reference the vendor holds as an object (`category.id`, `company.id`) is cleared with `null`:
/// the vendor gets no object, rather than an object without its id (which it refuses).
#[tokio::test]
async fn a_reference_is_cleared_with_null() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let body = json!({"GroupName": "Filed", "GroupCategoryId": 1});
    let tag = expect(&stack, &crm, Method::POST, "/hubs/crm/tags", Some(body), 200).await;
    assert_eq!(tag["GroupCategoryId"], 1);
    let path = format!("/hubs/crm/tags/{}", id_of(&tag));
    let tag = expect(&stack, &crm, Method::PATCH, &path, Some(json!({"GroupCategoryId": null})), 200).await;
    assert!(tag.get("GroupCategoryId").is_none(), "{tag}");
    let stored = vendor_record(&stack, &crm, &format!("v2/tags/{}", id_of(&tag))).await;
    assert!(stored.get("category").is_none_or(Value::is_null), "{stored}");
    assert_eq!(stored["name"], "Filed", "the rest is kept");

    let body = json!({"FirstName": "Linked", "Email": "linked@example.com", "CompanyID": 1});
    let contact = expect(&stack, &crm, Method::POST, "/hubs/crm/contacts", Some(body), 200).await;
    assert_eq!(contact["CompanyID"], 1);
    let path = format!("/hubs/crm/contacts/{}", id_of(&contact));
    let contact = expect(&stack, &crm, Method::PATCH, &path, Some(json!({"CompanyID": null})), 200).await;
    assert!(contact.get("CompanyID").is_none() && contact.get("Company").is_none(), "{contact}");
    assert_eq!(contact["Email"], "linked@example.com");
}

/// JSON has one number type: an id or a quantity written `1.0` is the whole number 1, as the
/// documents' `integer` says, and reaches the vendor as `"1"`, not `"1.0"`.
#[tokio::test]
async fn whole_numbers_written_with_a_decimal_point_are_whole_numbers() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let body = json!({"OpportunityTitle": "Point zero", "ContactID": 1.0});
    let opportunity = expect(&stack, &crm, Method::POST, "/hubs/crm/opportunities", Some(body), 200).await;
    assert_eq!(opportunity["ContactID"], 1);
    let body = json!({"GroupName": "Point zero", "GroupCategoryId": 2.0});
    let tag = expect(&stack, &crm, Method::POST, "/hubs/crm/tags", Some(body), 200).await;
    assert_eq!(tag["GroupCategoryId"], 2);

    let inventory = "/hubs/crm/products/1/inventory";
    let before = expect(&stack, &crm, Method::GET, inventory, None, 200).await;
    let change = json!({"Action": "increase", "Quantity": 3.0});
    let after = expect(&stack, &crm, Method::PATCH, inventory, Some(change), 200).await;
    assert_eq!(after["Quantity"].as_f64(), before["Quantity"].as_f64().map(|quantity| quantity + 3.0));
    let fraction =
        stack.hub(Method::PATCH, &crm.token, inventory, Some(json!({"Action": "increase", "Quantity": 1.5}))).await;
    error_message(fraction, 400).await;
}

#[tokio::test]
async fn bad_ids_and_unknown_objects_are_client_errors_never_500() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let long = "1".repeat(30);
    for id in ["abc", "0", "-1", long.as_str(), "1.5"] {
        for method in [Method::GET, Method::DELETE] {
            let answer = stack.hub(method.clone(), &crm.token, &format!("/hubs/crm/contacts/{id}"), None).await;
            error_message(answer, 400).await;
        }
        let answer = stack
            .hub(Method::PATCH, &crm.token, &format!("/hubs/crm/contacts/{id}"), Some(json!({"FirstName": "A"})))
            .await;
        error_message(answer, 400).await;
        let answer = stack.hub(Method::GET, &crm.token, &format!("/hubs/crm/products/{id}/inventory"), None).await;
        error_message(answer, 400).await;
    }
    error_message(stack.hub(Method::GET, &crm.token, "/hubs/crm/contacts/999999", None).await, 404).await;
    error_message(stack.hub(Method::GET, &crm.token, "/hubs/crm/widgets", None).await, 404).await;
    error_message(stack.hub(Method::POST, &crm.token, "/hubs/crm/widgets", Some(json!({"A": 1}))).await, 404).await;
    error_message(stack.hub(Method::GET, &crm.token, "/hubs/crm/widgets/1", None).await, 404).await;
    error_message(stack.hub(Method::GET, &crm.token, "/hubs/crm/contacts/1/widgets", None).await, 404).await;
    error_message(
        stack.hub(Method::POST, &crm.token, "/hubs/crm/contacts/1/widgets", Some(json!({"A": 1}))).await,
        404,
    )
    .await;
    error_message(stack.hub(Method::GET, &crm.token, "/hubs/crm/contacts/1/widgets/2", None).await, 404).await;
    // An ERP object is not a CRM instance's.
    error_message(stack.hub(Method::GET, &crm.token, "/hubs/crm/orders", None).await, 404).await;
}

// ---------------------------------------------------------------------------------------------
// Response shaping

#[tokio::test]
async fn nulls_are_dropped_unless_the_instance_says_otherwise_and_every_answer_names_the_instance() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let created = expect(
        &stack,
        &crm,
        Method::POST,
        "/hubs/crm/contacts",
        Some(json!({"FirstName": "Nully", "Email": "nully@example.com"})),
        200,
    )
    .await;
    let id = id_of(&created);
    assert!(created.get("MiddleName").is_none(), "{created}");
    assert!(created.as_object().unwrap().values().all(|v| !v.is_null()), "{created}");

    let answer = stack
        .http
        .patch(stack.api(&format!("/instances/{}/configuration/filter.response.nulls", crm.id)))
        .header("authorization", stack.platform_auth())
        .json(&json!({"propertyValue": "false"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let read = expect(&stack, &crm, Method::GET, &format!("/hubs/crm/contacts/{id}"), None, 200).await;
    assert!(read.get("MiddleName").is_some_and(Value::is_null), "{read}");
    let list = expect(&stack, &crm, Method::GET, "/hubs/crm/contacts?pageSize=5", None, 200).await;
    assert!(list[0].as_object().unwrap().values().any(Value::is_null), "{list}");

    // The header on successes (checked by `expect`) and on errors.
    for (method, path) in [
        (Method::GET, "/hubs/crm/contacts/abc"),
        (Method::GET, "/hubs/crm/widgets"),
        (Method::GET, "/hubs/crm/contacts/999999"),
        (Method::GET, "/hubs/crm/objects/widgets/metadata"),
        (Method::GET, "/hubs/crm/objects"),
    ] {
        let answer = call(&stack, &crm, method, path, None).await;
        assert_eq!(answer.instance_header, Some(crm.id.to_string()), "{path}");
    }
}

// ---------------------------------------------------------------------------------------------
// The object catalog

#[tokio::test]
async fn the_object_catalog_and_metadata_follow_the_instances_element() {
    let stack = Stack::start().await;
    let crm = crm(&stack).await;
    let erp = erp(&stack).await;
    let names = |value: Value| -> Vec<String> {
        let mut names: Vec<String> =
            value.as_array().expect("a list").iter().map(|v| v.as_str().unwrap().to_string()).collect();
        names.sort();
        names
    };
    let crm_objects = names(expect(&stack, &crm, Method::GET, "/hubs/crm/objects", None, 200).await);
    assert_eq!(
        crm_objects,
        ["accounts", "campaigns", "contacts", "notes", "opportunities", "products", "tags", "tasks", "users"]
    );
    let erp_objects = names(expect(&stack, &erp, Method::GET, "/hubs/erp/objects", None, 200).await);
    assert_eq!(
        erp_objects,
        [
            "accounts",
            "customers",
            "notes",
            "opportunities",
            "orders",
            "products",
            "subscriptions",
            "transactions",
            "users"
        ]
    );

    let metadata = expect(&stack, &crm, Method::GET, "/hubs/crm/objects/contacts/metadata", None, 200).await;
    let fields = metadata["fields"].as_array().expect("fields");
    let field = |name: &str| {
        fields.iter().find(|f| f["name"] == name).unwrap_or_else(|| panic!("{name} in {metadata}")).clone()
    };
    assert_eq!(field("Id")["type"], "number");
    assert_eq!(field("Id")["writable"], false);
    assert_eq!(field("Email")["type"], "string");
    assert_eq!(field("Email")["writable"], true);
    assert_eq!(field("Email")["filterable"], true);
    assert_eq!(field("DateCreated")["type"], "date");
    assert_eq!(field("Company")["writable"], false);
    for f in fields {
        assert!(f["type"].is_string() && f["writable"].is_boolean() && f["filterable"].is_boolean(), "{f}");
    }
    let orders = expect(&stack, &erp, Method::GET, "/hubs/erp/objects/orders/metadata", None, 200).await;
    assert!(orders["children"].as_array().unwrap().iter().any(|c| c == "items"), "{orders}");

    error_message(stack.hub(Method::GET, &crm.token, "/hubs/crm/objects/widgets/metadata", None).await, 404).await;
    error_message(stack.hub(Method::GET, &crm.token, "/hubs/crm/objects/orders/metadata", None).await, 404).await;
}

#[tokio::test]
async fn null_removes_a_seeded_contacts_email_and_phone_entries() {
    let stack = Stack::start().await;
    let instance = crm(&stack).await;
    // Seeded contacts' entries carry more than their value (`email_opt_status`, phone `type`).
    let before = vendor_record(&stack, &instance, "v2/contacts/1").await;
    assert!(before["phone_numbers"].as_array().is_some_and(|phones| phones.len() >= 2), "{before}");
    let patch = json!({"Phone1": null});
    let updated = expect(&stack, &instance, Method::PATCH, "/hubs/crm/contacts/1", Some(patch), 200).await;
    assert!(updated.get("Phone1").is_none(), "{updated}");
    let after = vendor_record(&stack, &instance, "v2/contacts/1").await;
    let fields: Vec<&str> =
        after["phone_numbers"].as_array().unwrap().iter().filter_map(|phone| phone["field"].as_str()).collect();
    assert!(!fields.contains(&"PHONE1") && fields.contains(&"PHONE2"), "{after}");
    let cleared =
        expect(&stack, &instance, Method::PATCH, "/hubs/crm/contacts/1", Some(json!({"Email": null})), 200).await;
    assert!(cleared.get("Email").is_none(), "{cleared}");
}

/// Reads a record through the hub, deletes it, and checks that the vendor no longer has it.
async fn read_then_delete(stack: &Stack, instance: &Instance, hub_path: &str, vendor_path: &str) {
    expect(stack, instance, Method::GET, hub_path, None, 200).await;
    expect(stack, instance, Method::DELETE, hub_path, None, 200).await;
    assert_eq!(vendor(stack, instance, vendor_path).await.0, 404, "{vendor_path} is gone at the vendor");
}
