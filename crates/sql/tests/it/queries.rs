//! SQL over the simulator: push-down measured in vendor calls, the same answers as the hub's list,
//! joins and aggregates in SQLite, writes checked at the vendor, and clear errors.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{json, Value};
use sql::{Cell, Rows};

use crate::common::Sim;
use keap_sim::config::{ApiKeyConfig, ApiKeyKind};
use keap_sim::SimConfig;

fn integers(rows: &Rows, column: usize) -> Vec<i64> {
    rows.rows
        .iter()
        .map(|row| match &row[column] {
            Cell::Integer(value) => *value,
            other => panic!("not an integer: {other:?}"),
        })
        .collect()
}

fn ids(records: &[Value]) -> Vec<i64> {
    let mut ids: Vec<i64> = records.iter().map(|record| record["Id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn a_selective_equality_is_one_vendor_call_with_the_hubs_answer() {
    let sim = Sim::start(None);
    let (_, listed) = sim.vendor(Method::GET, "v2/contacts?page_size=1", None);
    let email = listed["contacts"][0]["email_addresses"][0]["email"].as_str().unwrap().to_string();
    let connection = sim.connection("");

    let rows = connection.query(&format!("SELECT Id, Email FROM Contacts WHERE Email = '{email}'")).unwrap();

    let expected = sim.hub_list("infusionsoftcrm", "contacts", &format!("Email = '{email}'"));
    assert_eq!(integers(&rows, 0), ids(&expected));
    assert!(!rows.rows.is_empty());
    let explain = connection.explain();
    assert_eq!(explain.vendor_calls, 1, "{explain}");
    assert_eq!(explain.scans[0].conditions, vec!["Email = ?"]);
    assert_eq!(explain.scans[0].vendor_filters.as_deref(), Some(&[format!("email=={email}")][..]));
}

#[test]
fn limit_reads_one_page_and_count_reads_every_page_of_twenty_thousand_contacts() {
    let sim = Sim::start(Some(20_000));
    let connection = sim.connection("");

    let first = connection.query("SELECT Id, FirstName FROM Contacts LIMIT 5").unwrap();
    assert_eq!(first.rows.len(), 5);
    let explain = connection.explain();
    assert_eq!((explain.vendor_calls, explain.rows_read), (1, 5), "{explain}");

    // A LIMIT sizes the first page only: when the hub's other conditions drop its rows, the rest
    // is read in full pages (not 20,000 calls of one record).
    let none = connection.query("SELECT Id FROM Contacts WHERE FirstName LIKE '%zzzz%' LIMIT 1").unwrap();
    assert!(none.rows.is_empty());
    let explain = connection.explain();
    assert!(explain.vendor_calls <= 22, "{explain}");

    let count = connection.query("SELECT count(*) FROM contacts").unwrap();
    assert_eq!(count.rows, vec![vec![Cell::Integer(20_000)]]);
    let explain = connection.explain();
    assert!(explain.vendor_calls <= 21, "20,000 contacts at 1,000 a page: {explain}");
    assert_eq!(explain.rows_read, 20_000);
}

#[test]
fn residual_range_and_in_conditions_give_the_hubs_answers() {
    let sim = Sim::start(None);
    let connection = sim.connection("");
    let cases = [
        ("FirstName LIKE '%an%'", "FirstName like '%an%'"),
        ("Id >= 10 AND Id < 20", "Id >= 10 AND Id < 20"),
        ("Id IN (3, 5, 7)", "Id in (3, 5, 7)"),
        ("Email IS NULL", "Email is null"),
        ("LastName LIKE 'S%' AND Id > 50", "LastName like 'S%' and Id > 50"),
    ];
    for (sql_where, ceql_where) in cases {
        let rows = connection.query(&format!("SELECT Id FROM Contacts WHERE {sql_where} ORDER BY Id")).unwrap();
        let expected = sim.hub_list("infusionsoftcrm", "contacts", ceql_where);
        assert_eq!(integers(&rows, 0), ids(&expected), "{sql_where}");
    }
    // A date range with a zone offset: SQLite compares text, and that is the answer.
    let all = sim.hub_list("infusionsoftcrm", "contacts", "");
    let mut stamps: Vec<String> =
        all.iter().filter_map(|record| record["LastUpdated"].as_str().map(str::to_string)).collect();
    stamps.sort();
    let bound = stamps[stamps.len() / 2].replace('Z', "+02:00");
    let rows =
        connection.query(&format!("SELECT Id FROM Contacts WHERE LastUpdated <= '{bound}' ORDER BY Id")).unwrap();
    let mut expected: Vec<i64> = all
        .iter()
        .filter(|record| record["LastUpdated"].as_str().is_some_and(|stamp| stamp <= bound.as_str()))
        .map(|record| record["Id"].as_i64().unwrap())
        .collect();
    expected.sort_unstable();
    assert_eq!(integers(&rows, 0), expected);

    // An IN on ids is one read per value, each of one vendor call.
    connection.query("SELECT Id FROM Contacts WHERE Id IN (3, 5, 7)").unwrap();
    let explain = connection.explain();
    assert_eq!((explain.scans[0].reads, explain.vendor_calls), (3, 3), "{explain}");
}

#[test]
fn order_by_a_vendor_sort_is_pushed_and_any_other_is_sqlites() {
    let sim = Sim::start(None);
    let connection = sim.connection("");
    let all = sim.hub_list("infusionsoftcrm", "contacts", "");

    let newest = connection.query("SELECT Id FROM Contacts ORDER BY Id DESC LIMIT 10").unwrap();
    let mut expected = ids(&all);
    expected.reverse();
    assert_eq!(integers(&newest, 0), expected[..10].to_vec());
    let explain = connection.explain();
    assert_eq!(explain.scans[0].order_by.as_deref(), Some("Id desc"), "{explain}");
    assert_eq!(explain.vendor_calls, 1, "{explain}");

    // Another column's vendor order is not SQLite's (text ignoring case, nulls last): SQLite sorts.
    connection.query("SELECT Id FROM Contacts ORDER BY Email LIMIT 5").unwrap();
    assert_eq!(connection.explain().scans[0].order_by, None);

    let by_name = connection.query("SELECT FirstName FROM Contacts ORDER BY FirstName, Id").unwrap();
    let mut names: Vec<(String, i64)> = all
        .iter()
        .map(|record| (record["FirstName"].as_str().unwrap_or_default().to_string(), record["Id"].as_i64().unwrap()))
        .collect();
    names.sort();
    let got: Vec<Cell> = by_name.rows.into_iter().map(|mut row| row.remove(0)).collect();
    let wanted: Vec<Cell> = names.into_iter().map(|(name, _)| Cell::Text(name)).collect();
    assert_eq!(got, wanted);
    assert_eq!(connection.explain().scans[0].order_by, None);
}

#[test]
fn joins_and_aggregates_run_in_sqlite_with_the_parent_id_pushed_down() {
    let sim = Sim::start(None);
    let connection = sim.connection("");

    // Contacts joined with their companies.
    let rows = connection
        .query(
            "SELECT c.Id, co.Company FROM Contacts c JOIN Companies co ON co.Id = c.CompanyID \
             WHERE c.Id <= 40 ORDER BY c.Id",
        )
        .unwrap();
    let companies: BTreeMap<i64, String> = sim
        .hub_list("infusionsoftcrm", "accounts", "")
        .iter()
        .map(|company| (company["Id"].as_i64().unwrap(), company["Company"].as_str().unwrap_or_default().to_string()))
        .collect();
    let expected: Vec<Vec<Cell>> = sim
        .hub_list("infusionsoftcrm", "contacts", "Id <= 40")
        .iter()
        .filter_map(|contact| {
            let company = companies.get(&contact["CompanyID"].as_i64()?)?;
            Some(vec![Cell::Integer(contact["Id"].as_i64()?), Cell::Text(company.clone())])
        })
        .collect();
    assert!(!expected.is_empty());
    let mut sorted = expected.clone();
    sorted.sort_by_key(|row| match row[0] {
        Cell::Integer(id) => id,
        _ => 0,
    });
    assert_eq!(rows.rows, sorted);

    // Orders with the number of their items: one items read per order, by its id.
    let rows = connection
        .query(
            "SELECT o.Id, count(i.ItemName) FROM Orders o JOIN OrderItems i ON i.OrderId = o.Id \
             WHERE o.Id <= 10 GROUP BY o.Id ORDER BY o.Id",
        )
        .unwrap();
    let explain = connection.explain();
    let items = explain.scans.iter().find(|scan| scan.table == "OrderItems").expect("items read");
    assert_eq!(items.conditions, vec!["OrderId = ?"], "{explain}");
    for row in &rows.rows {
        let Cell::Integer(order) = row[0] else { panic!("{row:?}") };
        let (_, vendor_order) = sim.vendor(Method::GET, &format!("v2/orders/{order}"), None);
        let expected = vendor_order["order_items"].as_array().map_or(0, Vec::len) as i64;
        assert_eq!(row[1], Cell::Integer(expected), "order {order}");
    }
    assert!(!rows.rows.is_empty());

    // A join whose inner table has no condition to push reads it once, then from memory.
    let rows = connection.query("SELECT count(*) FROM Campaigns c JOIN Tags t ON t.GroupName != c.Name").unwrap();
    let explain = connection.explain();
    let tags = explain.scans.iter().find(|scan| scan.table == "Tags").expect("tags read");
    assert!(tags.reads >= 12 && tags.pages == 1, "{explain}");
    assert_eq!(explain.vendor_calls, 2, "{explain}");
    assert!(matches!(rows.rows[0][0], Cell::Integer(n) if n > 0));

    // Aggregates and a CTE over a whole table.
    let rows = connection
        .query("WITH t AS (SELECT Completed, count(*) AS n FROM Tasks GROUP BY Completed) SELECT sum(n) FROM t")
        .unwrap();
    let tasks = sim.hub_list("infusionsoftcrm", "tasks", "").len() as i64;
    assert_eq!(rows.rows, vec![vec![Cell::Integer(tasks)]]);
}

#[test]
fn a_child_table_without_its_parent_id_walks_every_parent() {
    let sim = Sim::start(None);
    let connection = sim.connection("");
    let rows = connection.query("SELECT count(*), count(DISTINCT OrderId) FROM OrderItems").unwrap();
    let orders = sim.hub_list("infusionsofterp", "orders", "");
    let mut items = 0;
    let mut with_items = 0;
    for order in &orders {
        let (_, vendor_order) = sim.vendor(Method::GET, &format!("v2/orders/{}", order["Id"]), None);
        let count = vendor_order["order_items"].as_array().map_or(0, Vec::len) as i64;
        items += count;
        with_items += i64::from(count > 0);
    }
    assert_eq!(rows.rows, vec![vec![Cell::Integer(items), Cell::Integer(with_items)]]);

    // One order's items read twice in a statement: the second time from memory, parent id included.
    let rows = connection
        .query("SELECT x.k, i.OrderId FROM (SELECT 1 AS k UNION ALL SELECT 2) x JOIN OrderItems i ON i.OrderId = 1")
        .unwrap();
    let explain = connection.explain();
    assert_eq!(explain.vendor_calls, 1, "{explain}");
    assert!(!rows.rows.is_empty() && rows.rows.iter().all(|row| row[1] == Cell::Integer(1)), "{rows:?}");
}

#[test]
fn insert_update_and_delete_reach_the_vendor() {
    let sim = Sim::start(None);
    let connection = sim.connection("");

    let inserted = connection
        .execute("INSERT INTO Contacts (FirstName, LastName, Email) VALUES ('Ada', 'Lovelace', 'ada@example.com')")
        .unwrap();
    assert_eq!(inserted, 1);
    let (_, found) = sim.vendor(Method::GET, "v2/contacts?filter=email%3D%3Dada%40example.com", None);
    let id = found["contacts"][0]["id"]
        .as_str()
        .map(str::to_string)
        .or_else(|| Some(found["contacts"][0]["id"].to_string()))
        .unwrap();
    assert_eq!(found["contacts"][0]["given_name"], json!("Ada"));

    let updated = connection.execute(&format!("UPDATE Contacts SET LastName = 'Byron' WHERE Id = {id}")).unwrap();
    assert_eq!(updated, 1);
    let (_, contact) = sim.vendor(Method::GET, &format!("v2/contacts/{id}"), None);
    assert_eq!(contact["family_name"], json!("Byron"));
    assert_eq!(contact["given_name"], json!("Ada"), "a column the UPDATE did not set is left alone");

    let deleted = connection.execute(&format!("DELETE FROM Contacts WHERE Id = {id}")).unwrap();
    assert_eq!(deleted, 1);
    let (status, _) = sim.vendor(Method::GET, &format!("v2/contacts/{id}"), None);
    assert_eq!(status, 404);
}

#[test]
fn update_and_delete_without_the_id_are_refused_before_anything_is_read_or_written() {
    let sim = Sim::start(None);
    let connection = sim.connection("");
    let before = sim.hub_list("infusionsoftcrm", "contacts", "").len();

    for statement in [
        "DELETE FROM Contacts WHERE FirstName LIKE '%'",
        "UPDATE Contacts SET LastName = 'x' WHERE Email IS NOT NULL",
        "DELETE FROM Contacts",
    ] {
        let error = connection.execute(statement).unwrap_err().to_string();
        assert!(error.contains("need Id in the WHERE clause"), "{statement}: {error}");
        assert_eq!(connection.explain().vendor_calls, 0, "{statement}");
    }
    assert_eq!(sim.hub_list("infusionsoftcrm", "contacts", "").len(), before);

    let error = connection.execute("UPDATE Contacts SET DateCreated = '2020-01-01' WHERE Id = 1").unwrap_err();
    assert!(error.to_string().contains("DateCreated"), "{error}");
    let error = connection.execute("INSERT INTO Contacts (rowid, FirstName) VALUES (5, 'x')").unwrap_err();
    assert!(error.to_string().contains("the vendor chooses the record's id"), "{error}");
    let error = connection.execute("UPDATE Contacts SET rowid = 9 WHERE Id = 1").unwrap_err();
    assert!(error.to_string().contains("cannot be changed"), "{error}");
    let error = connection.execute("DELETE FROM Transactions WHERE Id = 1").unwrap_err();
    assert!(error.to_string().contains("read-only"), "{error}");
}

#[test]
fn the_metadata_tables_list_every_table_and_its_typed_columns() {
    let sim = Sim::start(None);
    let connection = sim.connection("");
    let tables = connection.query("SELECT TableName FROM sys_tables ORDER BY TableName").unwrap();
    let names: Vec<Cell> = tables.rows.into_iter().map(|mut row| row.remove(0)).collect();
    for wanted in ["Contacts", "Companies", "OrderItems", "Payments", "ContactTags", "Subscriptions"] {
        assert!(names.contains(&Cell::Text(wanted.into())), "{wanted} in {names:?}");
    }
    let id = connection
        .query("SELECT DataTypeName, IsKey, IsReadOnly FROM sys_tablecolumns WHERE TableName = 'Contacts' AND ColumnName = 'Id'")
        .unwrap();
    assert_eq!(id.rows, vec![vec![Cell::Text("long".into()), Cell::Integer(1), Cell::Integer(1)]]);
    // Every table answers a query.
    for name in names {
        let Cell::Text(name) = name else { continue };
        if name == "OrderItems" || name == "Payments" || name == "ContactTags" {
            continue;
        }
        connection.query(&format!("SELECT * FROM {name} LIMIT 1")).unwrap_or_else(|error| panic!("{name}: {error}"));
    }
}

#[test]
fn bad_sql_gets_sqlites_message_and_where() {
    let sim = Sim::start(None);
    let connection = sim.connection("");
    let error = connection.query("SELEC Id FROM Contacts").unwrap_err().to_string();
    assert!(error.contains("syntax error") && error.contains("character 1"), "{error}");
    let error = connection.query("SELECT Id FROM Contacts WHERE").unwrap_err().to_string();
    assert!(error.contains("incomplete input") || error.contains("syntax error"), "{error}");
    let error = connection.query("SELECT * FROM Leads").unwrap_err().to_string();
    assert!(error.contains("no such table: Leads"), "{error}");
    let error = connection.query("SELECT 'é', 'ü' FROM Contacts WHERE WHERE").unwrap_err().to_string();
    assert!(error.contains("character 37"), "positions count characters, not bytes: {error}");
    let error = connection.query("SELECT Nope FROM Contacts").unwrap_err().to_string();
    assert!(error.contains("no such column: Nope"), "{error}");
}

#[test]
fn a_connection_used_on_a_runtime_worker_answers_rather_than_panics() {
    let sim = Sim::start(None);
    let settings = sql::parse(&sim.connection_string("")).unwrap();
    let rows = sim
        .runtime
        .block_on(sim.runtime.spawn(async move {
            let driver = sql::Driver::connect(settings).await.unwrap();
            let connection = driver.connection().unwrap();
            connection.query("SELECT count(*) FROM Campaigns").unwrap()
        }))
        .unwrap();
    assert_eq!(rows.rows, vec![vec![Cell::Integer(12)]]);
}

#[test]
fn a_configured_api_key_reads_a_large_account_within_the_vendors_per_key_limits() {
    let key = "KeapAK-5dc860633b018e8de6df08eefc3f549d521ca66e84411f714e";
    let mut config = SimConfig::sandbox();
    config.accounts[0].demo_contacts = Some(20_000);
    config.accounts[0].api_keys =
        vec![ApiKeyConfig { key: key.into(), kind: ApiKeyKind::Personal, user: "demo@example.com".into() }];
    let sim = Sim::start_with(config);
    let connection =
        sql::Connection::open(&format!("AuthScheme=APIKey;APIKey={key};VendorURL={}", sim.sim.url())).unwrap();

    let count = connection.query("SELECT COUNT(*) FROM Contacts").unwrap();
    assert_eq!(count.rows, vec![vec![Cell::Integer(20_000)]]);
    // Single-call queries in a quick row: more than the 10 a second the vendor allows a key.
    for id in 1..=25 {
        let rows = connection.query(&format!("SELECT Id FROM Contacts WHERE Id = {id}")).unwrap();
        assert_eq!(integers(&rows, 0), vec![id]);
    }
    let stats = sim.stats();
    assert_eq!(stats["throttled"], 0, "the driver keeps to the key's limits: {}", stats["rate_limits"]);
}
