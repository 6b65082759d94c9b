//! The organizations and users API: an admin adds a second organization and its users through the
//! API, their secrets authenticate, and the new tenant cannot see or use the first one's instance.
//! Non-admins get 403, bad bodies 400/415, duplicates 409.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{error_message, Stack};

fn auth(user_secret: &str, org_secret: &str) -> String {
    format!("User {user_secret}, Organization {org_secret}")
}

async fn post(stack: &Stack, path: &str, authorization: &str, body: &Value) -> reqwest::Response {
    stack.http.post(stack.api(path)).header("authorization", authorization).json(body).send().await.unwrap()
}

async fn call(stack: &Stack, method: Method, path: &str, authorization: &str) -> reqwest::Response {
    stack.http.request(method, stack.api(path)).header("authorization", authorization).send().await.unwrap()
}

/// Creates organization `name` with an admin user through the API; returns its `Authorization`.
async fn second_tenant(stack: &Stack, name: &str) -> (Value, String) {
    let body = json!({"name": name, "user": {"email": format!("owner@{name}.example")}});
    let answer = post(stack, "/organizations", &stack.platform_auth(), &body).await;
    assert_eq!(answer.status(), 200);
    let created: Value = answer.json().await.unwrap();
    let header = auth(created["user"]["secret"].as_str().unwrap(), created["secret"].as_str().unwrap());
    (created, header)
}

#[tokio::test]
async fn an_admin_creates_an_organization_whose_secrets_authenticate() {
    let stack = Stack::start().await;
    let (created, header) = second_tenant(&stack, "acme").await;
    assert!(created["id"].as_i64().unwrap() > stack.organization_id.get());
    assert_eq!(created["name"], "acme");
    assert!(created["createdDate"].as_str().unwrap().ends_with('Z'), "{created}");
    assert_eq!(created["secret"].as_str().unwrap().len(), 43, "a generated 256-bit secret");
    assert_eq!(created["user"]["email"], "owner@acme.example");
    assert!(created["user"]["id"].is_i64());

    let me: Value = call(&stack, Method::GET, "/users/me", &header).await.json().await.unwrap();
    assert_eq!(me["id"], created["user"]["id"]);
    assert_eq!(me["organizationId"], created["id"]);
    assert_eq!(me["admin"], true);
    assert_eq!(me["organization"]["name"], "acme");
    assert!(!me.to_string().contains(created["secret"].as_str().unwrap()), "no secret in /users/me");

    // The new organization's admin adds a user; that user's secret works with the organization's.
    let answer = post(&stack, "/users", &header, &json!({"email": "dev@acme.example", "admin": false})).await;
    assert_eq!(answer.status(), 200);
    let user: Value = answer.json().await.unwrap();
    assert_eq!(user["organizationId"], created["id"]);
    assert_eq!(user["email"], "dev@acme.example");
    let dev = auth(user["secret"].as_str().unwrap(), created["secret"].as_str().unwrap());
    let me: Value = call(&stack, Method::GET, "/users/me", &dev).await.json().await.unwrap();
    assert_eq!((me["id"].clone(), me["admin"].clone()), (user["id"].clone(), json!(false)));

    // A user secret of one organization with the secret of another is refused.
    let mixed = auth(user["secret"].as_str().unwrap(), stack.org_secret.expose());
    error_message(call(&stack, Method::GET, "/users/me", &mixed).await, 401).await;
}

#[tokio::test]
async fn the_new_tenant_cannot_see_or_use_the_first_ones_instance() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let (id, token) = (instance["id"].as_i64().unwrap(), instance["token"].as_str().unwrap().to_string());
    let (created, header) = second_tenant(&stack, "acme").await;

    for method in [Method::GET, Method::DELETE] {
        error_message(call(&stack, method, &format!("/instances/{id}"), &header).await, 404).await;
    }
    let answer = stack
        .http
        .patch(stack.api(&format!("/instances/{id}")))
        .header("authorization", &header)
        .json(&json!({"name": "stolen"}))
        .send()
        .await
        .unwrap();
    error_message(answer, 404).await;
    let list: Value = call(&stack, Method::GET, "/instances", &header).await.json().await.unwrap();
    assert_eq!(list, json!([]));

    // A hub call with the new tenant's user secret and the first tenant's instance token: 404.
    let user_secret = created["user"]["secret"].as_str().unwrap();
    for hub_auth in [format!("User {user_secret}, Element {token}"), format!("{header}, Element {token}")] {
        let answer =
            stack.http.get(stack.api("/hubs/crm/contacts")).header("authorization", hub_auth).send().await.unwrap();
        error_message(answer, 404).await;
    }

    // The first tenant's instance is untouched and still works.
    let read: Value = stack.platform(Method::GET, &format!("/instances/{id}")).await.json().await.unwrap();
    assert_eq!(read["name"], instance["name"]);
    assert_eq!(stack.hub_contacts(&token).await.status(), 200);
}

#[tokio::test]
async fn non_admins_get_403() {
    let stack = Stack::start().await;
    let answer = post(&stack, "/users", &stack.platform_auth(), &json!({"email": "dev@example.com"})).await;
    let user: Value = answer.json().await.unwrap();
    assert_eq!(user["admin"], false, "admin defaults to false");
    let dev = auth(user["secret"].as_str().unwrap(), stack.org_secret.expose());
    let body = error_message(post(&stack, "/users", &dev, &json!({"email": "x@example.com"})).await, 403).await;
    assert!(body["message"].as_str().unwrap().contains("admin"), "{body}");
    error_message(post(&stack, "/organizations", &dev, &json!({"name": "acme"})).await, 403).await;

    // A tenant's admin manages its users, not the platform's organizations.
    let (_, tenant_admin) = second_tenant(&stack, "acme").await;
    error_message(post(&stack, "/organizations", &tenant_admin, &json!({"name": "other"})).await, 403).await;

    // No or wrong credentials: 401 before anything else.
    let answer = stack.http.post(stack.api("/organizations")).json(&json!({"name": "x"})).send().await.unwrap();
    error_message(answer, 401).await;
    error_message(post(&stack, "/users", &auth("wrong", "wrong"), &json!({"email": "a@b"})).await, 401).await;
}

#[tokio::test]
async fn duplicates_are_409() {
    let stack = Stack::start().await;
    second_tenant(&stack, "acme").await;
    let body =
        error_message(post(&stack, "/organizations", &stack.platform_auth(), &json!({"name": "acme"})).await, 409)
            .await;
    assert!(body["message"].as_str().unwrap().contains("acme"), "{body}");
    let body = json!({"name": "default"});
    error_message(post(&stack, "/organizations", &stack.platform_auth(), &body).await, 409).await;

    let body = json!({"email": "dev@example.com"});
    assert_eq!(post(&stack, "/users", &stack.platform_auth(), &body).await.status(), 200);
    let answer = post(&stack, "/users", &stack.platform_auth(), &body).await;
    let error = error_message(answer, 409).await;
    assert!(error["message"].as_str().unwrap().contains("dev@example.com"), "{error}");
}

#[tokio::test]
async fn bad_bodies_are_400_or_415_naming_the_field() {
    let stack = Stack::start().await;
    let cases = [
        ("/organizations", json!({}), "name"),
        ("/organizations", json!({"name": "  "}), "name"),
        ("/organizations", json!({"name": 5}), "name"),
        ("/organizations", json!({"name": "acme", "colour": "red"}), "colour"),
        ("/organizations", json!({"name": "acme", "user": {}}), "user.email"),
        ("/organizations", json!({"name": "acme", "user": "x"}), "user"),
        ("/organizations", json!({"name": "acme", "user": {"email": "nope"}}), "user.email"),
        ("/organizations", json!(["acme"]), "object"),
        ("/users", json!({}), "email"),
        ("/users", json!({"email": "a b@example.com"}), "email"),
        ("/users", json!({"email": "a@example.com", "admin": "yes"}), "admin"),
        ("/users", json!({"email": "a@example.com", "role": "admin"}), "role"),
    ];
    for (path, body, field) in cases {
        let error = error_message(post(&stack, path, &stack.platform_auth(), &body).await, 400).await;
        assert!(error["message"].as_str().unwrap().contains(field), "{path} {body}: {error}");
    }
    // A rejected organization body wrote nothing: the name is still free.
    let answer = post(&stack, "/organizations", &stack.platform_auth(), &json!({"name": "acme"})).await;
    assert_eq!(answer.status(), 200);

    for path in ["/organizations", "/users"] {
        let answer = stack
            .http
            .post(stack.api(path))
            .header("authorization", stack.platform_auth())
            .header("content-type", "application/json")
            .body("{\"name\": ")
            .send()
            .await
            .unwrap();
        error_message(answer, 400).await;
        let answer = stack
            .http
            .post(stack.api(path))
            .header("authorization", stack.platform_auth())
            .header("content-type", "text/plain")
            .body("name=acme")
            .send()
            .await
            .unwrap();
        error_message(answer, 415).await;
    }
}

#[tokio::test]
async fn the_identity_endpoints_clients_call_answer_within_the_organization() {
    let stack = Stack::start().await;
    let admin = stack.platform_auth();
    // A member of the organization, and another organization with its own admin.
    let member = post(&stack, "/users", &admin, &json!({"email": "member@default.example"})).await;
    assert_eq!(member.status(), 200);
    let member: Value = member.json().await.unwrap();
    let member_auth = auth(member["secret"].as_str().unwrap(), stack.org_secret.expose());
    let member_id = member["id"].as_i64().unwrap();
    let (other, _) = second_tenant(&stack, "other").await;
    let outsider_id = other["user"]["id"].as_i64().unwrap();

    let organization: Value = call(&stack, Method::GET, "/organizations/me", &member_auth).await.json().await.unwrap();
    assert_eq!(organization["id"].as_i64(), Some(stack.organization_id.get()));
    assert!(organization.get("secret").is_none(), "{organization}");

    let users: Value = call(&stack, Method::GET, "/users", &admin).await.json().await.unwrap();
    let users = users.as_array().unwrap();
    assert_eq!(users.len(), 2, "the organization's users only: {users:?}");
    assert!(users.iter().all(|user| user.get("secret").is_none()), "no secrets: {users:?}");
    error_message(call(&stack, Method::GET, "/users", &member_auth).await, 403).await;

    let read: Value = call(&stack, Method::GET, &format!("/users/{member_id}"), &admin).await.json().await.unwrap();
    assert_eq!(read["email"], "member@default.example");
    assert_eq!(call(&stack, Method::GET, &format!("/users/{member_id}"), &member_auth).await.status(), 200);
    let admin_id = users[0]["id"].as_i64().unwrap();
    error_message(call(&stack, Method::GET, &format!("/users/{admin_id}"), &member_auth).await, 403).await;
    error_message(call(&stack, Method::GET, &format!("/users/{outsider_id}"), &admin).await, 404).await;
    error_message(call(&stack, Method::GET, "/users/not-an-id", &admin).await, 404).await;

    // Instances are counted (the platforms' /instances/count), never read as an id.
    stack.create_instance().await;
    let count: Value = call(&stack, Method::GET, "/instances/count", &admin).await.json().await.unwrap();
    assert_eq!(count, json!({"count": 1}));

    // A user is deleted by an admin, never by themselves, and their secret stops working at once,
    // for hub calls too (whose callers are cached).
    let token = stack.create_instance().await["token"].as_str().unwrap().to_string();
    let member_hub = format!("User {}, Element {token}", member["secret"].as_str().unwrap());
    let hub = |authorization: String| {
        stack.http.get(stack.api("/hubs/crm/ping")).header("authorization", authorization).send()
    };
    assert_eq!(hub(member_hub.clone()).await.unwrap().status(), 200);
    error_message(call(&stack, Method::DELETE, &format!("/users/{member_id}"), &member_auth).await, 403).await;
    error_message(call(&stack, Method::DELETE, &format!("/users/{admin_id}"), &admin).await, 409).await;
    error_message(call(&stack, Method::DELETE, &format!("/users/{outsider_id}"), &admin).await, 404).await;
    assert_eq!(call(&stack, Method::DELETE, &format!("/users/{member_id}"), &admin).await.status(), 200);
    error_message(call(&stack, Method::GET, "/users/me", &member_auth).await, 401).await;
    error_message(hub(member_hub).await.unwrap(), 401).await;
    error_message(call(&stack, Method::DELETE, &format!("/users/{member_id}"), &admin).await, 404).await;
}
