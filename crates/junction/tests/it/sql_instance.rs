//! The driver's instance mode against a running Junction: `Url=…;User=…;Element=…` reads and
//! writes through the hub API (the vendor tokens stay in Junction), with the same answers as the
//! hub API and a clear error for a wrong instance token.

use serde_json::Value;
use sql::{Cell, Connection, Rows};

use crate::common::cluster::Cluster;

/// Runs `work` on a connection to the instance, on a blocking thread (the driver blocks).
async fn with_connection<T: Send + 'static>(
    connection_string: String,
    work: impl FnOnce(Result<Connection, sql::SqlError>) -> T + Send + 'static,
) -> T {
    tokio::task::spawn_blocking(move || work(Connection::open(&connection_string))).await.unwrap()
}

fn first_integers(rows: &Rows) -> Vec<i64> {
    rows.rows
        .iter()
        .map(|row| match row[0] {
            Cell::Integer(value) => value,
            ref other => panic!("not an integer: {other:?}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn instance_mode_reads_and_writes_through_the_hub_api() {
    let cluster = Cluster::new().await;
    let node = cluster.start_node().await;
    let (_, token) = cluster.create_instance(&node).await;
    let hub: Vec<Value> = cluster
        .http
        .get(cluster.api(&node, "/hubs/crm/contacts"))
        .query(&[("where", "Id <= 25 AND LastName LIKE 'S%'"), ("pageSize", "500")])
        .header("authorization", cluster.hub_auth(&token))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut expected: Vec<i64> = hub.iter().map(|contact| contact["Id"].as_i64().unwrap()).collect();
    expected.sort_unstable();

    let connection_string = format!("Url={};User={};Element={token}", node.base, cluster.user_secret);
    let (tables, selected, count, joined, written) = with_connection(connection_string.clone(), |connection| {
        let connection = connection.unwrap();
        let tables = connection.query("SELECT TableName FROM sys_tables ORDER BY TableName").unwrap();
        let selected =
            connection.query("SELECT Id FROM Contacts WHERE Id <= 25 AND LastName LIKE 'S%' ORDER BY Id").unwrap();
        let count = connection.query("SELECT count(*) FROM contacts").unwrap();
        let joined = connection
            .query("SELECT count(*) FROM Contacts c JOIN Accounts a ON a.Id = c.CompanyID WHERE c.Id <= 30")
            .unwrap();
        let inserted = connection
            .execute(
                "INSERT INTO Contacts (FirstName, LastName, Email) VALUES ('Grace', 'Hopper', 'grace@example.com')",
            )
            .unwrap();
        let found = connection.query("SELECT Id FROM Contacts WHERE Email = 'grace@example.com'").unwrap();
        let id = first_integers(&found)[0];
        let deleted = connection.execute(&format!("DELETE FROM Contacts WHERE Id = {id}")).unwrap();
        let gone = connection.query(&format!("SELECT Id FROM Contacts WHERE Id = {id}")).unwrap();
        (tables, selected, count, joined, (inserted, deleted, gone.rows.len()))
    })
    .await;

    let names: Vec<Cell> = tables.rows.into_iter().map(|mut row| row.remove(0)).collect();
    for wanted in ["Contacts", "Accounts", "Opportunities", "ContactTags"] {
        assert!(names.contains(&Cell::Text(wanted.into())), "{wanted} in {names:?}");
    }
    assert_eq!(first_integers(&selected), expected);
    assert!(!expected.is_empty());
    assert_eq!(count.rows, vec![vec![Cell::Integer(300)]]);
    assert!(matches!(joined.rows[0][0], Cell::Integer(n) if n > 0), "{joined:?}");
    assert_eq!(written, (1, 1, 0));

    let wrong = format!("Url={};User={};Element=not-a-token", node.base, cluster.user_secret);
    let error = with_connection(wrong, |connection| connection.err().map(|error| error.to_string())).await;
    let error = error.expect("a wrong instance token is refused");
    assert!(error.contains("401") && error.contains("Element"), "{error}");
}
