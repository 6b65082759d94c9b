//! Bad input gets a 4xx JSON error, never a 500 or axum's plain-text rejections.

use crate::common::{self, error_message, Stack};

#[tokio::test]
async fn malformed_json_is_400() {
    let stack = Stack::start().await;
    let answer = stack
        .http
        .post(stack.api("/instances"))
        .header("authorization", stack.platform_auth())
        .header("content-type", "application/json")
        .body("{\"element\": ")
        .send()
        .await
        .unwrap();
    let body = error_message(answer, 400).await;
    assert!(body["message"].as_str().unwrap().contains("JSON"));
}

#[tokio::test]
async fn a_body_that_is_not_an_object_is_400() {
    let stack = Stack::start().await;
    let answer = stack
        .http
        .post(stack.api("/instances"))
        .header("authorization", stack.platform_auth())
        .json(&serde_json::json!([1, 2]))
        .send()
        .await
        .unwrap();
    error_message(answer, 400).await;
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let stack = Stack::start().await;
    let answer = stack
        .http
        .post(stack.api("/instances"))
        .header("authorization", stack.platform_auth())
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    error_message(answer, 415).await;
}

#[tokio::test]
async fn a_10_mb_body_is_413() {
    let stack = Stack::start().await;
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(10 * 1024 * 1024));
    let answer = stack
        .http
        .post(stack.api("/instances"))
        .header("authorization", stack.platform_auth())
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("an answer");
    error_message(answer, 413).await;
}

#[tokio::test]
async fn an_oversized_raw_passthrough_body_is_a_json_413() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let token = instance["token"].as_str().unwrap();
    let answer = stack
        .http
        .post(stack.api("/hubs/crm/raw/v2/notes"))
        .header("authorization", stack.hub_auth(token))
        .header("content-type", "text/plain")
        .body("x".repeat(2 * 1024 * 1024))
        .send()
        .await
        .expect("an answer");
    let body = error_message(answer, 413).await;
    assert!(body["message"].as_str().unwrap().contains("larger than the limit"), "{body}");
}

#[tokio::test]
async fn unknown_routes_and_bad_ids_are_json_404() {
    let stack = Stack::start().await;
    let answer = stack.http.get(stack.api("/nothing/here")).send().await.unwrap();
    error_message(answer, 404).await;
    let answer = stack.platform(reqwest::Method::GET, "/instances/abc").await;
    error_message(answer, 404).await;
    let answer = stack.platform(reqwest::Method::GET, "/instances/999999").await;
    error_message(answer, 404).await;
}

#[tokio::test]
async fn a_bad_query_string_is_400() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let answer = stack
        .http
        .get(stack.api("/hubs/crm/contacts?pageSize=lots"))
        .header("authorization", stack.hub_auth(instance["token"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    let body = error_message(answer, 400).await;
    assert!(body["message"].as_str().unwrap().contains("pageSize"), "{body}");
    let answer = stack.http.get(stack.api("/elements/infusionsoftcrm/oauth/url?apiKey=%ZZ")).send().await.unwrap();
    assert!(answer.status().is_client_error());
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let stack = Stack::start().await;
    let answer = stack.http.delete(stack.api("/elements/keys")).send().await.unwrap();
    error_message(answer, 405).await;
}

#[tokio::test]
async fn a_path_segment_that_is_not_utf8_is_a_json_400() {
    let stack = Stack::start().await;
    for path in ["/instances/%FF", "/instances/%FF/configuration/x", "/elements/%C0%AF/configuration"] {
        let answer =
            stack.http.get(stack.api(path)).header("authorization", stack.platform_auth()).send().await.unwrap();
        let body = error_message(answer, 400).await;
        assert!(body["message"].as_str().unwrap().contains("path"), "{path}: {body}");
    }
}

#[tokio::test]
async fn names_and_tags_with_control_characters_or_absurd_sizes_are_400() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let path = format!("/instances/{}", instance["id"]);
    for (body, field) in [
        (serde_json::json!({"name": "a\u{0}b"}), "name"),
        (serde_json::json!({"name": "x".repeat(300)}), "name"),
        (serde_json::json!({"tags": ["ok", "b\u{0}"]}), "tags"),
        (serde_json::json!({"tags": vec!["t"; 101]}), "tags"),
    ] {
        let answer = stack
            .http
            .patch(stack.api(&path))
            .header("authorization", stack.platform_auth())
            .json(&body)
            .send()
            .await
            .unwrap();
        let error = error_message(answer, 400).await;
        assert!(error["message"].as_str().unwrap().contains(field), "{error}");
    }
}

#[tokio::test]
async fn a_write_without_a_body_is_400_asking_for_one() {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().unwrap();
    for (method, path) in [
        (reqwest::Method::POST, "/instances".to_string()),
        (reqwest::Method::PATCH, format!("/instances/{id}")),
        (reqwest::Method::PUT, format!("/instances/{id}?reAuthenticate=true")),
    ] {
        let answer = stack.platform(method.clone(), &path).await;
        let body = common::error_message(answer, 400).await;
        assert!(body["message"].as_str().unwrap().contains("needs a JSON body"), "{method} {path}: {body}");
    }
}
