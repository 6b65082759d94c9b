//! Common resources on several nodes sharing PostgreSQL: each node keeps the composed objects it
//! used, and a document changed through one node is in force on the others within a second or two
//! (each node reads the store's change counter twice a second).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::cluster::{Cluster, Node};

/// Nodes look every 0.5 s, so a change is in force within about one second; the bound leaves room
/// for a loaded test machine (the times measured are printed).
const LIMIT: Duration = Duration::from_secs(5);

async fn platform(cluster: &Cluster, node: &Node, method: reqwest::Method, path: &str, body: Value) -> u16 {
    let answer = cluster
        .http
        .request(method, cluster.api(node, path))
        .header("authorization", cluster.platform_auth())
        .json(&body)
        .send()
        .await
        .expect("a platform answer");
    let status = answer.status().as_u16();
    assert!(status < 500, "{path}: {}", answer.text().await.unwrap_or_default());
    status
}

/// The first record of `myContacts` through `node`, or the status when it is not a 200.
async fn first_record(cluster: &Cluster, node: &Node, token: &str) -> Result<Value, u16> {
    let answer = cluster
        .http
        .get(cluster.api(node, "/hubs/crm/myContacts"))
        .query(&[("pageSize", "1"), ("where", "mail IS NOT NULL AND who IS NOT NULL")])
        .header("authorization", cluster.hub_auth(token))
        .send()
        .await
        .expect("a hub answer");
    match answer.status().as_u16() {
        200 => Ok(answer.json::<Value>().await.expect("JSON")[0].clone()),
        status => Err(status),
    }
}

/// How long until `check` holds on `node`, polling every 50 ms, at most 10 s.
async fn time_until(mut check: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if check().await {
            println!("in force after {:?}", start.elapsed());
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not in force after 10 s");
}

#[tokio::test]
async fn a_change_on_one_node_is_in_force_on_the_others_within_seconds() {
    let cluster = Cluster::new().await;
    let (a, b, c) = (cluster.start_node().await, cluster.start_node().await, cluster.start_node().await);
    let (_, token) = cluster.create_instance(&a).await;
    let definition = json!({"fields": [{"path": "mail", "type": "string"}, {"path": "who", "type": "string"}]});
    assert_eq!(
        platform(&cluster, &a, reqwest::Method::POST, "/organizations/objects/myContacts/definitions", definition)
            .await,
        200
    );
    // Before any transformation, every node answers 404 (and has looked, so each caches "none").
    for node in [&a, &b, &c] {
        assert_eq!(first_record(&cluster, node, &token).await, Err(404));
    }
    let mapping = |who: &str| json!({"vendorName": "contacts", "fields": [{"path": "mail", "vendorPath": "Email"}, {"path": "who", "vendorPath": who}]});
    let path = "/organizations/elements/infusionsoftcrm/transformations/myContacts";
    assert_eq!(platform(&cluster, &a, reqwest::Method::POST, path, mapping("FirstName")).await, 200);
    for node in [&b, &c] {
        let took = time_until(async || first_record(&cluster, node, &token).await.is_ok()).await;
        assert!(took < LIMIT, "a new transformation took {took:?} on another node");
    }
    // Warm every node's cache, then change the mapping through node b.
    let before = first_record(&cluster, &c, &token).await.unwrap();
    assert!(before["who"].is_string(), "the first record has a first name: {before}");
    assert_eq!(platform(&cluster, &b, reqwest::Method::PUT, path, mapping("LastName")).await, 200);
    for node in [&a, &c] {
        let took = time_until(async || {
            let now = first_record(&cluster, node, &token).await.unwrap();
            now["who"] != before["who"]
        })
        .await;
        assert!(took < LIMIT, "a changed transformation took {took:?} on another node");
    }
    assert_eq!(platform(&cluster, &c, reqwest::Method::DELETE, path, json!({})).await, 200);
    for node in [&a, &b] {
        let took = time_until(async || first_record(&cluster, node, &token).await == Err(404)).await;
        assert!(took < LIMIT, "a deleted transformation took {took:?} on another node");
    }
}
