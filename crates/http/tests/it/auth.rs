//! Platform and hub authentication: 401 for missing or wrong secrets and revoked tokens, 404 for
//! another organization's instance, 403 for a disabled one.

use reqwest::Method;

use crate::common::{error_message, Stack};

#[tokio::test]
async fn no_header_wrong_user_or_wrong_org_secret_is_401() {
    let stack = Stack::start().await;
    let answer = stack.http.get(stack.api("/instances")).send().await.unwrap();
    error_message(answer, 401).await;
    for header in [
        format!("User wrong, Organization {}", stack.org_secret.expose()),
        format!("User {}, Organization wrong", stack.user_secret.expose()),
        format!("User {}", stack.user_secret.expose()),
        "Bearer xyz".to_string(),
    ] {
        let answer = stack.http.get(stack.api("/instances")).header("authorization", header).send().await.unwrap();
        let body = error_message(answer, 401).await;
        assert!(!body.to_string().contains(stack.user_secret.expose()));
    }
    // Tolerant parsing: any order, `Element:` style colons.
    let header = format!("Organization: {} ,User {}", stack.org_secret.expose(), stack.user_secret.expose());
    let answer = stack.http.get(stack.api("/instances")).header("authorization", header).send().await.unwrap();
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn another_organizations_instance_is_404() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    let (other_org, other_org_secret) = stack.store.create_organization("other").await.unwrap();
    let (_, other_user_secret) = stack.store.create_user(other_org.id, "someone", false).await.unwrap();
    let auth = format!("User {}, Organization {}", other_user_secret.expose(), other_org_secret.expose());
    for method in [Method::GET, Method::DELETE] {
        let answer = stack
            .http
            .request(method, stack.api(&format!("/instances/{id}")))
            .header("authorization", &auth)
            .send()
            .await;
        error_message(answer.unwrap(), 404).await;
    }
    let answer = stack
        .http
        .put(stack.api(&format!("/instances/{id}/token")))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap();
    error_message(answer, 404).await;
    let list: serde_json::Value = stack
        .http
        .get(stack.api("/instances"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 0);
    // Its hub token used by the other organization's user, with or without the organization part,
    // finds nothing: the instance does not exist for them.
    let token = instance["token"].as_str().unwrap();
    for hub in [format!("{auth}, Element {token}"), format!("User {}, Element {token}", other_user_secret.expose())] {
        let answer = stack.http.get(stack.api("/hubs/crm/contacts")).header("authorization", hub).send().await.unwrap();
        error_message(answer, 404).await;
    }
}

#[tokio::test]
async fn a_hub_call_with_a_wrong_user_secret_is_401_even_with_a_valid_element_token() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let token = instance["token"].as_str().unwrap();
    for hub in [format!("User wrong, Element {token}"), format!("Element {token}")] {
        let answer = stack.http.get(stack.api("/hubs/crm/contacts")).header("authorization", hub).send().await.unwrap();
        error_message(answer, 401).await;
    }
}

#[tokio::test]
async fn a_deleted_instances_token_is_401() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let token = instance["token"].as_str().unwrap();
    assert_eq!(stack.hub_contacts(token).await.status(), 200);
    let answer = stack.platform(Method::DELETE, &format!("/instances/{}", instance["id"])).await;
    assert_eq!(answer.status(), 200);
    error_message(stack.hub_contacts(token).await, 401).await;
    error_message(stack.platform(Method::GET, &format!("/instances/{}", instance["id"])).await, 404).await;
}

#[tokio::test]
async fn a_disabled_instance_is_403_until_enabled() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let token = instance["token"].as_str().unwrap();
    let disabled: serde_json::Value =
        stack.platform(Method::DELETE, &format!("/instances/{}/enabled", instance["id"])).await.json().await.unwrap();
    assert_eq!(disabled["disabled"], true);
    error_message(stack.hub_contacts(token).await, 403).await;
    stack.platform(Method::PUT, &format!("/instances/{}/enabled", instance["id"])).await;
    assert_eq!(stack.hub_contacts(token).await.status(), 200);
}

#[tokio::test]
async fn a_reissued_token_replaces_the_old_one() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let old = instance["token"].as_str().unwrap();
    let renewed: serde_json::Value =
        stack.platform(Method::PUT, &format!("/instances/{}/token", instance["id"])).await.json().await.unwrap();
    let new = renewed["token"].as_str().unwrap();
    assert_ne!(old, new);
    error_message(stack.hub_contacts(old).await, 401).await;
    assert_eq!(stack.hub_contacts(new).await.status(), 200);
}

#[tokio::test]
async fn a_hub_call_without_the_element_part_is_401() {
    let stack = Stack::start().await;
    let answer = stack.http.get(stack.api("/hubs/crm/contacts")).header("authorization", stack.platform_auth()).send();
    error_message(answer.await.unwrap(), 401).await;
}
