//! The seeds' flow end to end: the authorize URL, consent on the simulator, `POST /instances` with
//! the seed's body, the seed's response fields, and contacts through the hub.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{error_message, Stack, CALLBACK, CLIENT_ID, CLIENT_SECRET, ENCRYPTED_KEY};

#[tokio::test]
async fn oauth_url_encodes_each_parameter_and_defaults_scope_and_state() {
    let stack = Stack::start().await;
    let callback = "https://app.example.com/cb?x=1&y=a b";
    let answer = stack
        .http
        .get(stack.api("/elements/infusionsoftcrm/oauth/url"))
        .query(&[("apiKey", "my key&id"), ("apiSecret", "s3cret"), ("callbackUrl", callback)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["element"], "infusionsoftcrm");
    let url = url::Url::parse(body["oauthUrl"].as_str().unwrap()).unwrap();
    assert_eq!(url.path(), "/app/oauth/authorize");
    let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let expected = [
        ("scope", "full"),
        ("response_type", "code"),
        ("redirect_uri", callback),
        ("state", "infusionsoftcrm"),
        ("client_id", "my key&id"),
    ];
    assert_eq!(pairs, expected.map(|(k, v)| (k.to_string(), v.to_string())));
    assert!(!body["oauthUrl"].as_str().unwrap().contains("s3cret"), "the secret never goes in the URL");
    assert!(body["oauthUrl"]
        .as_str()
        .unwrap()
        .contains("redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%3Fx%3D1%26y%3Da"));

    // POST with a JSON body, explicit state and scope.
    let answer = stack
        .http
        .post(stack.api("/elements/191/oauth/url"))
        .json(&json!({"apiKey": CLIENT_ID, "apiSecret": "x", "callbackUrl": CALLBACK, "state": "s t", "scope": "full"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert!(body["oauthUrl"].as_str().unwrap().contains("state=s+t"));

    // A missing parameter is named.
    let answer = stack
        .http
        .get(stack.api("/elements/infusionsoftcrm/oauth/url"))
        .query(&[("apiKey", "k"), ("callbackUrl", CALLBACK)])
        .send()
        .await
        .unwrap();
    let body = error_message(answer, 400).await;
    assert!(body["message"].as_str().unwrap().contains("apiSecret"));
}

#[tokio::test]
async fn the_seed_flow_creates_an_instance_with_every_field_and_lists_contacts() {
    let stack = Stack::start().await;
    // The authorize URL the platform hands out leads to the simulator's consent form.
    let answer = stack
        .http
        .get(stack.api("/elements/infusionsoftcrm/oauth/url"))
        .query(&[("apiKey", CLIENT_ID), ("apiSecret", CLIENT_SECRET), ("callbackUrl", CALLBACK)])
        .send()
        .await
        .unwrap();
    let oauth_url: Value = answer.json().await.unwrap();
    let form = stack.http.get(oauth_url["oauthUrl"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("<form"));

    let instance = stack.create_instance().await;
    type Check = fn(&Value) -> bool;
    let checks: [(&str, Check); 19] = [
        ("id", Value::is_i64),
        ("name", Value::is_string),
        ("createdDate", Value::is_string),
        ("token", Value::is_string),
        ("element", Value::is_object),
        ("elementId", Value::is_u64),
        ("tags", Value::is_array),
        ("provisionInteractions", Value::is_array),
        ("valid", Value::is_boolean),
        ("disabled", Value::is_boolean),
        ("maxCacheSize", Value::is_u64),
        ("cacheTimeToLive", Value::is_u64),
        ("configuration", Value::is_object),
        ("eventsEnabled", Value::is_boolean),
        ("traceLoggingEnabled", Value::is_boolean),
        ("cachingEnabled", Value::is_boolean),
        ("externalAuthentication", Value::is_string),
        ("user", Value::is_object),
        ("user", |user| user["id"].is_i64()),
    ];
    for (field, check) in checks {
        assert!(check(&instance[field]), "field {field} has the seed's type in {instance}");
    }
    assert_eq!(instance["name"], "API Instance");
    assert_eq!(instance["tags"], json!(["Docs"]));
    assert_eq!(instance["elementId"], 191);
    assert_eq!(instance["valid"], true);
    assert_eq!(instance["disabled"], false);
    assert_eq!(instance["externalAuthentication"], "none");
    assert!(instance["createdDate"].as_str().unwrap().ends_with('Z'));
    let element = &instance["element"];
    for field in [
        "id",
        "name",
        "hookName",
        "key",
        "description",
        "image",
        "active",
        "deleted",
        "typeOauth",
        "trialAccount",
        "bulkDownloadEnabled",
        "bulkUploadEnabled",
        "cloneable",
        "extendable",
        "beta",
        "authentication",
        "extended",
        "hub",
        "protocolType",
        "parameters",
    ] {
        assert!(element.get(field).is_some(), "element.{field} present");
    }
    assert_eq!(element["key"], "infusionsoftcrm");
    assert_eq!(element["authentication"]["type"], "oauth2");

    // Secrets masked, plain values shown, nothing secret anywhere in the body.
    let config = &instance["configuration"];
    for key in [
        "oauth.api.key",
        "oauth.api.secret",
        "infusionsoft.private.key",
        "oauth.user.token",
        "oauth.user.refresh_token",
    ] {
        assert_eq!(config[key], "********", "{key} masked");
    }
    assert_eq!(config["infusionsoft.server"], "sandbox.infusionsoft.com");
    assert_eq!(config["oauth.callback.url"], CALLBACK);
    let text = instance.to_string();
    for secret in [CLIENT_SECRET, ENCRYPTED_KEY, CLIENT_ID] {
        assert!(!text.contains(secret), "{secret} not in the response");
    }

    // The same instance reads back.
    let id = instance["id"].as_i64().unwrap();
    let read: Value = stack.platform(Method::GET, &format!("/instances/{id}")).await.json().await.unwrap();
    assert_eq!(read["token"], instance["token"]);
    assert_eq!(read["configuration"], instance["configuration"]);

    // Contacts through the hub, with the instance id header.
    let response = stack.hub_contacts(instance["token"].as_str().unwrap()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["elements-element-instance-id"], id.to_string().as_str());
    assert!(response.headers().contains_key("elements-request-id"));
    let contacts: Value = response.json().await.unwrap();
    let contacts = contacts.as_array().expect("a JSON array");
    assert!(!contacts.is_empty());
    assert!(contacts[0]["Id"].is_number(), "ids come back as the platforms' numeric Id");
    assert!(contacts[0]["FirstName"].is_string(), "fields carry the platforms' names");
}

#[tokio::test]
async fn the_erp_seed_body_is_accepted_on_the_element_route() {
    let stack = Stack::start().await;
    let code = stack.consent(CALLBACK).await;
    let body = json!({
        "element": {"key": "infusionsofterp"},
        "configuration": {
            "oauth.api.secret": CLIENT_SECRET,
            "filter.response.nulls": "true",
            "infusionsoft.private.key": ENCRYPTED_KEY,
            "oauth.callback.url": CALLBACK,
            "infusionsoft.server": "sandbox.infusionsoft.com",
            "event.vendor.type": "polling",
            "oauth.api.key": CLIENT_ID,
            "oauth.user.refresh_time": null,
            "oauth.user.refresh_token": null
        },
        "name": "ERP instance",
        "eventsEnabled": null,
        "providerData": {"code": code, "scope": "sandbox.infusionsoft.com", "state": "infusionsofterp", "debug": false, "secret": "x"}
    });
    let answer = stack
        .http
        .post(stack.api("/elements/infusionsofterp/instances"))
        .header("authorization", stack.platform_auth())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let instance: Value = answer.json().await.unwrap();
    assert_eq!(instance["element"]["key"], "infusionsofterp");
    assert_eq!(instance["configuration"]["filter.response.nulls"], "true");
}

#[tokio::test]
async fn a_code_the_vendor_refuses_is_a_400_with_its_message() {
    let stack = Stack::start().await;
    let body = error_message(stack.post_instance(&stack.crm_body("never-issued-code")).await, 400).await;
    assert!(body["providerMessage"].is_string(), "the vendor's text in {body}");
    assert!(!body.to_string().contains("never-issued-code"), "the code is not echoed");
    // A refused code is not remembered as used: the vendor decides again.
    let again = error_message(stack.post_instance(&stack.crm_body("never-issued-code")).await, 400).await;
    assert!(again["providerMessage"].is_string(), "{again}");
    assert_eq!(stack.sim_stats().await["token_grants"]["authorization_code"], 2);
}

#[tokio::test]
async fn a_replayed_code_is_answered_without_the_vendor_and_the_first_instance_keeps_working() {
    let stack = Stack::start().await;
    let code = stack.consent(CALLBACK).await;
    let first = stack.post_instance(&stack.crm_body(&code)).await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let exchanges = stack.sim_stats().await["token_grants"]["authorization_code"].clone();

    // A double-submitted callback: the same code again, from the same organization.
    let replay = error_message(stack.post_instance(&stack.crm_body(&code)).await, 409).await;
    let id = first["id"].as_i64().unwrap();
    assert!(replay["message"].as_str().unwrap().contains(&format!("instance {id}")), "names the instance: {replay}");
    assert!(!replay.to_string().contains(&code), "the code is not echoed");
    assert_eq!(stack.sim_stats().await["token_grants"]["authorization_code"], exchanges, "the vendor was not asked");

    // From another organization: a 400 that names nothing of the first one.
    let (organization, org_secret) = stack.store.create_organization("other").await.unwrap();
    let (_, user_secret) = stack.store.create_user(organization.id, "other-admin", true).await.unwrap();
    let other = stack
        .http
        .post(stack.api("/instances"))
        .header("authorization", format!("User {}, Organization {}", user_secret.expose(), org_secret.expose()))
        .json(&stack.crm_body(&code))
        .send()
        .await
        .unwrap();
    let other = error_message(other, 400).await;
    assert!(!other["message"].as_str().unwrap().contains(&id.to_string()), "{other}");

    // The vendor never saw the replay, so it revoked nothing: the first instance works.
    let contacts = stack.hub_contacts(first["token"].as_str().unwrap()).await;
    assert_eq!(contacts.status(), 200);
    // Only the first instance exists.
    let list: Value = stack.platform(Method::GET, "/instances").await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn missing_each_required_key_is_named() {
    let stack = Stack::start().await;
    for key in ["oauth.api.key", "oauth.api.secret", "oauth.callback.url"] {
        let mut body = stack.crm_body("some-code");
        body["configuration"].as_object_mut().unwrap().remove(key);
        let error = error_message(stack.post_instance(&body).await, 400).await;
        assert!(error["message"].as_str().unwrap().contains(key), "{key} named in {error}");
    }
    let mut body = stack.crm_body("x");
    body["providerData"].as_object_mut().unwrap().remove("code");
    let error = error_message(stack.post_instance(&body).await, 400).await;
    assert!(error["message"].as_str().unwrap().contains("providerData.code"));
    // Nothing was stored, and the vendor was never asked.
    assert_eq!(stack.sim_stats().await["token_grants"]["authorization_code"], 0);
}

#[tokio::test]
async fn unknown_element_is_404() {
    let stack = Stack::start().await;
    let mut body = stack.crm_body("x");
    body["element"] = json!({"key": "salesforce"});
    error_message(stack.post_instance(&body).await, 404).await;
    let answer = stack.http.get(stack.api("/elements/salesforce")).send().await.unwrap();
    error_message(answer, 404).await;
    let answer = stack
        .http
        .post(stack.api("/elements/nope/instances"))
        .header("authorization", stack.platform_auth())
        .json(&stack.crm_body("x"))
        .send()
        .await
        .unwrap();
    error_message(answer, 404).await;
}

#[tokio::test]
async fn the_catalog_routes_answer() {
    let stack = Stack::start().await;
    let keys: Value = stack.http.get(stack.api("/elements/keys")).send().await.unwrap().json().await.unwrap();
    assert_eq!(keys, json!(["infusionsoftcrm", "infusionsofterp"]));
    let list: Value = stack.http.get(stack.api("/elements")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let one: Value = stack.http.get(stack.api("/elements/191")).send().await.unwrap().json().await.unwrap();
    assert_eq!(one["key"], "infusionsoftcrm");
    let config: Value = stack
        .http
        .get(stack.api("/elements/infusionsoftcrm/configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(config.as_array().unwrap().iter().any(|entry| entry["key"] == "oauth.api.key"));
    let metadata = stack.http.get(stack.api("/elements/infusionsoftcrm/metadata")).send().await.unwrap();
    assert_eq!(metadata.status(), 200);
    let health = stack.http.get(format!("{}/healthz", stack.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = stack.http.get(format!("{}/readyz", stack.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

#[tokio::test]
async fn instances_are_listed_filtered_paged_and_patched() {
    let stack = Stack::start().await;
    let first = stack.create_instance().await;
    let second = stack.create_instance().await;
    let id = second["id"].as_i64().unwrap();
    let patched: Value = stack
        .http
        .patch(stack.api(&format!("/instances/{id}")))
        .header("authorization", stack.platform_auth())
        .json(&json!({"name": "Renamed", "tags": ["a", "b"], "configuration": {"oauth.api.secret": "********", "filter.response.nulls": "false"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(patched["name"], "Renamed");
    assert_eq!(patched["tags"], json!(["a", "b"]));
    assert_eq!(patched["configuration"]["filter.response.nulls"], "false");

    let answer = stack.platform(Method::GET, "/instances?tags[]=a&tags[]=b").await;
    let list: Value = answer.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], id);

    let answer = stack.platform(Method::GET, "/instances?pageSize=1").await;
    let next = answer.headers()["elements-next-page-token"].to_str().unwrap().to_string();
    let page: Value = answer.json().await.unwrap();
    assert_eq!(page[0]["id"], first["id"]);
    let answer = stack.platform(Method::GET, &format!("/instances?pageSize=1&nextPage={next}")).await;
    assert!(!answer.headers().contains_key("elements-next-page-token"));
    let page: Value = answer.json().await.unwrap();
    assert_eq!(page[0]["id"], id);

    let answer = stack.platform(Method::GET, "/instances?searchText=renam").await;
    assert_eq!(answer.json::<Value>().await.unwrap().as_array().unwrap().len(), 1);
    error_message(stack.platform(Method::GET, "/instances?pageSize=0").await, 400).await;
    error_message(stack.platform(Method::GET, "/instances?nextPage=garbage").await, 400).await;
}

#[tokio::test]
async fn an_unreachable_vendor_is_a_gateway_error_and_stores_nothing() {
    let stack = Stack::start().await;
    let code = stack.consent(CALLBACK).await;
    stack.sim_post("/__sim/faults", json!({"path_prefix": "/token", "drop_connection": true})).await;
    let answer = stack.post_instance(&stack.crm_body(&code)).await;
    let status = answer.status().as_u16();
    assert!(status == 502 || status == 504, "{status}");
    error_message(answer, status).await;
    stack.sim_post("/__sim/faults", json!({"path_prefix": "/token", "status": 503})).await;
    error_message(stack.post_instance(&stack.crm_body(&code)).await, 502).await;
    let list: Value = stack.platform(Method::GET, "/instances").await.json().await.unwrap();
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn the_platform_reserved_configuration_keys_are_accepted_and_ignored() {
    let stack = Stack::start().await;
    let code = stack.consent(CALLBACK).await;
    let mut body = stack.crm_body(&code);
    // What an existing client sends for every element it provisions.
    body["configuration"]["username"] = json!("someone@example.com");
    body["configuration"]["password"] = json!("reserved-password-value");
    body["configuration"]["provisioning"] = json!("oauth2");
    let answer = stack.post_instance(&body).await;
    assert_eq!(answer.status(), 200);
    let instance: Value = answer.json().await.unwrap();
    let shown = instance.to_string();
    for key in ["\"username\"", "\"password\"", "\"provisioning\"", "reserved-password-value"] {
        assert!(!shown.contains(key), "{key} is not echoed: {shown}");
    }
    let stored = stack
        .store
        .get_instance(stack.organization_id, store::InstanceId::new(instance["id"].as_i64().unwrap()))
        .await
        .unwrap();
    for key in ["username", "password", "provisioning"] {
        assert!(!stored.configuration.contains_key(key) && stored.secrets.get(key).is_none(), "{key} not stored");
    }
    // Other unknown keys are still refused, by name.
    let mut body = stack.crm_body("some-code");
    body["configuration"]["password"] = json!("x");
    body["configuration"]["not.a.key"] = json!("x");
    let error = error_message(stack.post_instance(&body).await, 400).await;
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("'not.a.key'") && !message.contains("password"), "{message}");
}
