//! Large accounts for benchmarks and the SQL driver: an account's `demo_contacts` seeds tens of
//! thousands of contacts in seconds, the same contacts for the same `demo_seed`.

use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeSet;

use crate::common::*;

/// Every contact of the sandbox account through `GET /v2/contacts`, 1,000 a page, in id order,
/// without the two timestamps, which the seed places relative to the simulator's start.
async fn contacts_without_times(h: &Harness) -> Vec<Value> {
    let token = h.bearer().await;
    let mut contacts = Vec::new();
    let mut path = "/crm/rest/v2/contacts?page_size=1000&order_by=id".to_string();
    loop {
        let mut page = json_with(h.get(&token, &path).await, StatusCode::OK).await;
        for mut contact in page["contacts"].as_array_mut().map(std::mem::take).unwrap_or_default() {
            let record = contact.as_object_mut().expect("a contact object");
            assert!(record.remove("create_time").is_some() && record.remove("update_time").is_some(), "{contact}");
            contacts.push(contact);
        }
        match page["next_page_token"].as_str() {
            Some(next) => path = format!("/crm/rest/v2/contacts?page_size=1000&order_by=id&page_token={next}"),
            None => return contacts,
        }
    }
}

#[tokio::test]
async fn a_20000_contact_account_seeds_deterministically() {
    let mut config = unlimited();
    config.accounts[0].demo_contacts = Some(20_000);
    let first = start_with(config.clone()).await;
    let second = start_with(config).await;
    let contacts = contacts_without_times(&first).await;
    assert_eq!(contacts.len(), 20_000);
    let emails: BTreeSet<&str> = contacts.iter().filter_map(|c| c["email_addresses"][0]["email"].as_str()).collect();
    assert_eq!(emails.len(), 20_000, "every contact has an email address of its own");
    assert!(
        contacts == contacts_without_times(&second).await,
        "two simulators of one configuration hold the same contacts"
    );
}
