//! Bulk jobs survive `kill -9` (SPEC "Bulk": jobs survive a restart and resume where they
//! stopped): a real `junction serve` on PostgreSQL is killed three times during an export of
//! 20,000 contacts and three times during an upload, and each job completes after the restarts
//! with exactly the right records: no duplicates, no gaps.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::cluster::{Cluster, Node};

const CONTACTS: usize = 20_000;
/// Slow enough that kills land mid-job (background work gets half: 3 calls a second), with a
/// short claim so a restarted node resumes within seconds.
const FLAGS: [&str; 6] = ["--refresh-period", "0", "--vendor-limits", "6/s", "--bulk-claim-ttl", "3"];

async fn status(cluster: &Cluster, node: &Node, token: &str, id: &str) -> Value {
    let url = cluster.api(node, &format!("/hubs/crm/bulk/{id}/status"));
    let answer = cluster.http.get(url).header("authorization", cluster.hub_auth(token)).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    answer.json().await.unwrap()
}

/// Kills the node three times, each once the job has committed more since the last kill, and
/// returns the node started after the last kill.
async fn kill_three_times(cluster: &Cluster, mut node: Node, token: &str, id: &str) -> Node {
    let mut seen = 0;
    for round in 1..=3 {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let now = status(cluster, &node, token, id).await;
            let done = now["recordsCount"].as_u64().unwrap() + now["recordsFailedCount"].as_u64().unwrap();
            let live = now["status"] == "RUNNING" || now["status"] == "CREATED";
            assert!(live, "round {round}: the job must still be running to be killed: {now}");
            if done > seen {
                seen = done;
                break;
            }
            assert!(Instant::now() < deadline, "round {round}: no progress: {now}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // A different moment of the step each round.
        tokio::time::sleep(Duration::from_millis(97 * round)).await;
        node.child.start_kill().unwrap();
        node.child.wait().await.unwrap();
        eprintln!("killed during job {id} after {seen} records (round {round})");
        node = cluster.start_node_with(&FLAGS).await;
    }
    node
}

async fn wait_until_final(cluster: &Cluster, node: &Node, token: &str, id: &str) -> Value {
    let started = Instant::now();
    loop {
        let now = status(cluster, node, token, id).await;
        if now["status"] != "RUNNING" && now["status"] != "CREATED" {
            eprintln!("job {id} ended {} {:?} after the last restart", now["status"], started.elapsed());
            return now;
        }
        assert!(started.elapsed() < Duration::from_secs(240), "job {id} did not finish: {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn vendor_contacts(cluster: &Cluster) -> u64 {
    let stats: Value =
        cluster.http.get(format!("{}/__sim/stats", cluster.sim.url())).send().await.unwrap().json().await.unwrap();
    stats["records"]["sandbox.infusionsoft.com"]["contacts"].as_u64().expect("a contact count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_export_and_an_upload_killed_three_times_each_complete_exactly() {
    let cluster = Cluster::with_contacts(Some(CONTACTS)).await;
    let node = cluster.start_node_with(&FLAGS).await;
    let (_, token) = cluster.create_instance(&node).await;
    let auth = cluster.hub_auth(&token);

    // The export.
    let created: Value = cluster
        .http
        .post(cluster.api(&node, "/hubs/crm/bulk/query"))
        .query(&[("q", "select Id, Email from contacts")])
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let export = created["id"].as_str().unwrap().to_string();
    let node = kill_three_times(&cluster, node, &token, &export).await;
    let done = wait_until_final(&cluster, &node, &token, &export).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let vendor = vendor_contacts(&cluster).await;
    let lines = cluster
        .http
        .get(cluster.api(&node, &format!("/hubs/crm/bulk/{export}/contacts")))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ids: Vec<i64> =
        lines.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()["Id"].as_i64().unwrap()).collect();
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no duplicates");
    assert_eq!(ids.len() as u64, vendor, "no gaps: every vendor contact once");
    assert_eq!(done["recordsCount"].as_u64(), Some(vendor));

    // The upload: plain creates, so a row cut off between the vendor's answer and its commit is
    // reported as uncertain instead of being created again.
    const ROWS: usize = 90;
    let csv = "Email,FirstName\n".to_string()
        + &(1..=ROWS).map(|n| format!("killed-{n}@example.com,Row{n}\n")).collect::<String>();
    let boundary = "kill-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"rows.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    let created: Value = cluster
        .http
        .post(cluster.api(&node, "/hubs/crm/bulk/contacts"))
        .header("authorization", &auth)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload = created["id"].as_str().expect("an upload job").to_string();
    let node = kill_three_times(&cluster, node, &token, &upload).await;
    let done = wait_until_final(&cluster, &node, &token, &upload).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let written = done["recordsCount"].as_u64().unwrap();
    let failed = done["recordsFailedCount"].as_u64().unwrap();
    assert_eq!(written + failed, ROWS as u64, "every row has one outcome: {done}");
    let errors: Vec<Value> = cluster
        .http
        .get(cluster.api(&node, &format!("/hubs/crm/bulk/{upload}/errors")))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uncertain: BTreeSet<u64> = errors.iter().map(|error| error["row"].as_u64().unwrap()).collect();
    for error in &errors {
        assert!(error["message"].as_str().unwrap().contains("interrupted"), "only interruptions: {error}");
    }
    let mut at_vendor: HashMap<String, usize> = HashMap::new();
    let mut next: Option<String> = None;
    loop {
        let mut query = vec![("where", "Email like 'killed-%'".to_string()), ("pageSize", "200".to_string())];
        if let Some(cursor) = &next {
            query.push(("nextPage", cursor.clone()));
        }
        let answer = cluster
            .http
            .get(cluster.api(&node, "/hubs/crm/contacts"))
            .query(&query)
            .header("authorization", &auth)
            .send()
            .await
            .unwrap();
        next = answer.headers().get("elements-next-page-token").map(|value| value.to_str().unwrap().to_string());
        for record in answer.json::<Vec<Value>>().await.unwrap() {
            *at_vendor.entry(record["Email"].as_str().unwrap().to_string()).or_default() += 1;
        }
        if next.is_none() {
            break;
        }
    }
    for row in 1..=ROWS as u64 {
        let count = at_vendor.get(&format!("killed-{row}@example.com")).copied().unwrap_or(0);
        if uncertain.contains(&row) {
            assert!(count <= 1, "row {row} (reported uncertain) was created {count} times");
        } else {
            assert_eq!(count, 1, "row {row} written exactly once");
        }
    }
    eprintln!("upload: {written} rows written, {failed} reported uncertain after three kills");
}
