//! Hub lists over HTTP against the simulator: every CEQL operator gives the answer an in-memory
//! evaluation over all records gives, whether it was pushed down to the vendor or applied here;
//! paging serves every record once (also while records are added); bad list parameters are 400s
//! that say where.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Map, Value};

use crate::common::lists::{
    self, api_calls, assert_unique, create_contacts, enc, expected_ids, ids, page, vendor_rows, walk,
};
use crate::common::{error_message, Stack};

/// An instance on a fresh stack: (stack, instance id, instance token).
async fn instance() -> (Stack, i64, String) {
    let stack = Stack::start().await;
    let instance = stack.create_instance().await;
    let id = instance["id"].as_i64().expect("an id");
    let token = instance["token"].as_str().expect("a token").to_string();
    (stack, id, token)
}

/// Asserts that the hub answers `where_` on `object` with exactly the rows the in-memory
/// evaluation over `all` selects, each once; returns how many.
async fn assert_same_answer(
    stack: &Stack,
    token: &str,
    object: &str,
    where_: &str,
    all: &[Map<String, Value>],
) -> usize {
    let served =
        ids(&walk(stack, token, &format!("/hubs/crm/{object}?where={}&pageSize=1000", enc(where_)), None).await);
    assert_unique(&served, where_);
    let mut served_sorted = served.clone();
    served_sorted.sort_unstable();
    let mut wanted = expected_ids(object, where_, all);
    wanted.sort_unstable();
    assert_eq!(served_sorted, wanted, "{object} where {where_}");
    served.len()
}

fn text<'a>(row: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    row.get(field).and_then(Value::as_str).filter(|text| !text.is_empty())
}

/// A CEQL string literal.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[tokio::test]
async fn every_operator_pushed_or_residual_answers_as_in_memory_evaluation() {
    let (stack, id, token) = instance().await;
    let all = vendor_rows(&stack, id, "contacts").await;
    assert!(all.len() >= 100, "the sandbox has contacts");
    let sample = all.iter().find(|row| text(row, "LastName").is_some() && text(row, "Email").is_some()).unwrap();
    let other = all.iter().rev().find(|row| text(row, "Email").is_some()).unwrap();
    let with_company = all.iter().find(|row| row["CompanyID"].is_number()).unwrap();
    let (last, first, email) =
        (text(sample, "LastName").unwrap(), text(sample, "FirstName").unwrap_or("A"), text(sample, "Email").unwrap());
    let domain = email.rsplit('@').next().unwrap();
    let id0 = sample["Id"].as_i64().unwrap();
    let all_ids: Vec<i64> = all.iter().map(|row| row["Id"].as_i64().unwrap()).collect();
    let mid = all_ids[all_ids.len() / 2];
    let queries = vec![
        format!("Id = {id0}"),
        format!("Id != {id0}"),
        format!("Id < {mid}"),
        format!("Id <= {mid}"),
        format!("Id > {mid}"),
        format!("Id >= {mid}"),
        format!("LastName = {}", quote(last)),
        format!("LastName = {}", quote(&last.to_uppercase())),
        format!("LastName != {}", quote(last)),
        "FirstName < 'M'".to_string(),
        "FirstName >= 'm'".to_string(),
        "LastName > 'k' AND LastName <= 'S'".to_string(),
        format!("LastName LIKE {}", quote(&format!("{}%", &last[..2]))),
        format!("Email LIKE {}", quote(&format!("%{domain}"))),
        "FirstName LIKE '%a%'".to_string(),
        "LastName NOT LIKE 'A%'".to_string(),
        format!("Id IN ({id0}, {mid}, 999999)"),
        format!("Id NOT IN ({id0}, {mid})"),
        format!("Email IN ({}, {})", quote(email), quote(text(other, "Email").unwrap())),
        format!("Email = {}", quote(&email.to_uppercase())),
        "Phone1 IS NULL".to_string(),
        "Phone1 IS NOT NULL".to_string(),
        "Company IS NULL".to_string(),
        format!("CompanyID = {}", with_company["CompanyID"]),
        format!("FirstName = {} AND LastName = {}", quote(first), quote(last)),
        format!("LastName = {} OR FirstName = {}", quote(last), quote(first)),
        format!("NOT (LastName = {})", quote(last)),
        format!("NOT LastName = {} AND Id < {mid}", quote(last)),
        "(Id < 10 OR Id > 250) AND Email IS NOT NULL".to_string(),
        format!("(LastName LIKE 'B%' OR LastName LIKE 'C%') AND (Id >= {mid} OR FirstName LIKE 'A%')"),
        format!("`LastName` = {}", quote(last)),
        format!("`Id` IN ({id0})"),
        "LastUpdated >= '2026-01-01'".to_string(),
        "LastUpdated < '2026-01-01'".to_string(),
        "DateCreated <= '2100-01-01T00:00:00Z'".to_string(),
        "Birthday IS NOT NULL AND Birthday < '1980-01-01'".to_string(),
    ];
    let mut non_empty = 0;
    for query in &queries {
        if assert_same_answer(&stack, &token, "contacts", query, &all).await > 0 {
            non_empty += 1;
        }
    }
    assert!(non_empty >= queries.len() - 6, "most queries select something ({non_empty} of {})", queries.len());
}

#[tokio::test]
async fn operators_on_other_objects_answer_as_in_memory_evaluation() {
    let (stack, id, token) = instance().await;
    let cases: [(&str, &[&str]); 6] = [
        ("tasks", &["Completed = true", "Completed != true", "Completed = false AND Id > 5", "Priority IS NULL"]),
        (
            "opportunities",
            &["ProjectedRevenueHigh > 1000", "ProjectedRevenueLow <= 500 OR StageID = 2", "IncludeInForecast = true"],
        ),
        ("users", &["Admin = false", "Partner = true OR Admin = true"]),
        ("accounts", &["Company LIKE 'A%'", "Company LIKE '%Inc'", "City IS NOT NULL", "LastUpdated >= '2026-01-01'"]),
        ("products", &["Status = true", "ProductName LIKE 'S%'", "Taxable = false AND Shippable = true"]),
        ("tags", &["GroupName LIKE 'V%'", "GroupCategoryId IS NOT NULL", "DateCreated >= '2020-01-01'"]),
    ];
    for (object, queries) in cases {
        let all: Vec<Map<String, Value>> = walk(&stack, &token, &format!("/hubs/crm/{object}?pageSize=1000"), None)
            .await
            .into_iter()
            .map(|row| row.as_object().unwrap().clone())
            .collect();
        assert!(!all.is_empty(), "the sandbox has {object}");
        for query in queries {
            assert_same_answer(&stack, &token, object, query, &all).await;
        }
    }
    let _ = id;
}

#[tokio::test]
async fn pushed_down_queries_take_one_vendor_call_while_residual_ones_scan_every_page() {
    let (stack, id, token) = instance().await;
    let all = vendor_rows(&stack, id, "contacts").await;
    let sample = all.iter().find(|row| text(row, "Email").is_some()).unwrap();
    let pushed = [
        format!("Id = {}", sample["Id"]),
        format!("Email = {}", quote(text(sample, "Email").unwrap())),
        format!("Id IN ({}, 3, 4)", sample["Id"]),
    ];
    for query in &pushed {
        let before = api_calls(&stack).await;
        assert_same_answer(&stack, &token, "contacts", query, &all).await;
        assert_eq!(api_calls(&stack).await - before, 1, "{query} is answered by one filtered vendor call");
    }
    // Two disjuncts on a field without an id set: one vendor call per disjunct.
    let second = all.iter().rev().find(|row| text(row, "Email").is_some()).unwrap();
    let split =
        format!("Email IN ({}, {})", quote(text(sample, "Email").unwrap()), quote(text(second, "Email").unwrap()));
    let before = api_calls(&stack).await;
    assert_same_answer(&stack, &token, "contacts", &split, &all).await;
    assert_eq!(api_calls(&stack).await - before, 2, "{split} is split into two vendor queries");

    // A residual query reads every vendor page: at least all rows / the vendor's page size.
    let residual = "Email LIKE '%.com'";
    let before = api_calls(&stack).await;
    let served =
        walk(&stack, &token, &format!("/hubs/crm/contacts?where={}&pageSize=50", enc(residual)), Some(50)).await;
    let calls = api_calls(&stack).await - before;
    assert!(!served.is_empty());
    assert!(calls as usize >= all.len() / 100, "a residual query scans all {} contacts ({calls} calls)", all.len());
}

/// A tiny deterministic generator (xorshift64*), so that a failing query can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn random_condition(rng: &mut Rng, all: &[Map<String, Value>]) -> String {
    const FIELDS: [&str; 12] = [
        "Id",
        "FirstName",
        "LastName",
        "Email",
        "CompanyID",
        "City",
        "State",
        "Phone1",
        "LastUpdated",
        "Website",
        "PostalCode",
        "DateCreated",
    ];
    let field = *rng.pick(&FIELDS);
    let row = rng.pick(all);
    let value = row.get(field).cloned().unwrap_or(Value::Null);
    let literal = match &value {
        Value::Number(number) => number.to_string(),
        Value::String(text) => quote(text),
        _ => "'Smith'".to_string(),
    };
    let is_text = value.is_string() && !matches!(field, "LastUpdated" | "DateCreated");
    let ops = ["=", "!=", "<", "<=", ">", ">=", "LIKE%", "%LIKE", "IN", "NULL", "NOTNULL"];
    match *rng.pick(&ops) {
        "LIKE%" if is_text => {
            let text = value.as_str().unwrap();
            let cut = text.char_indices().nth(1 + rng.below(3)).map_or(text.len(), |(at, _)| at);
            format!("{field} LIKE {}", quote(&format!("{}%", &text[..cut])))
        }
        "%LIKE" if is_text => {
            let text = value.as_str().unwrap();
            let chars: Vec<char> = text.chars().collect();
            let tail: String = chars[chars.len().saturating_sub(3)..].iter().collect();
            format!("{field} LIKE {}", quote(&format!("%{tail}")))
        }
        "IN" => {
            let more = rng.pick(all).get(field).cloned().unwrap_or(Value::Null);
            let second = match &more {
                Value::Number(number) => number.to_string(),
                Value::String(text) if value.is_string() => quote(text),
                _ => literal.clone(),
            };
            if value.is_null() {
                format!("{field} IS NULL")
            } else {
                format!("{field} IN ({literal}, {second})")
            }
        }
        "NULL" => format!("{field} IS NULL"),
        "NOTNULL" => format!("{field} IS NOT NULL"),
        _ if value.is_null() => format!("{field} IS NOT NULL"),
        op if op.len() <= 2 => format!("{field} {op} {literal}"),
        _ => format!("{field} = {literal}"),
    }
}

fn random_query(rng: &mut Rng, all: &[Map<String, Value>], depth: usize) -> String {
    let leaf = depth == 0 || rng.below(3) == 0;
    if leaf {
        return random_condition(rng, all);
    }
    let left = random_query(rng, all, depth - 1);
    let right = random_query(rng, all, depth - 1);
    match rng.below(5) {
        0 => format!("NOT ({left})"),
        1 | 2 => format!("({left}) AND ({right})"),
        _ => format!("({left}) OR ({right})"),
    }
}

#[tokio::test]
async fn random_queries_answer_as_in_memory_evaluation_without_duplicates() {
    let (stack, id, token) = instance().await;
    let all = vendor_rows(&stack, id, "contacts").await;
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    for _ in 0..300 {
        let query = random_query(&mut rng, &all, 2);
        assert_same_answer(&stack, &token, "contacts", &query, &all).await;
    }
}

#[tokio::test]
async fn paging_serves_every_contact_once_even_while_contacts_are_added() {
    let (stack, id, token) = instance().await;
    let seeded = vendor_rows(&stack, id, "contacts").await.len();
    create_contacts(&stack, id, "Bulk", 2050 - seeded.min(2050) + 10).await;
    let all = vendor_rows(&stack, id, "contacts").await;
    assert!(all.len() >= 2000, "{} contacts", all.len());
    let mut vendor_ids: Vec<i64> = all.iter().map(|row| row["Id"].as_i64().unwrap()).collect();
    vendor_ids.sort_unstable();

    let walked = ids(&walk(&stack, &token, "/hubs/crm/contacts?pageSize=37", Some(37)).await);
    assert_unique(&walked, "pageSize=37");
    let mut sorted = walked.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vendor_ids, "every contact exactly once");

    // Walk again while another task adds contacts.
    let adder = {
        let http = stack.http.clone();
        let url = format!("{}/crm/rest/v2/contacts", stack.sim.url());
        let vendor_token = lists::access_token(&stack, id).await;
        tokio::spawn(async move {
            for n in 0..150 {
                let body = serde_json::json!({
                    "given_name": format!("Late{n}"),
                    "email_addresses": [{"email": format!("late{n}@adder.example.com"), "field": "EMAIL1"}],
                });
                let answer = http.post(&url).bearer_auth(&vendor_token).json(&body).send().await.unwrap();
                assert!(answer.status().is_success(), "{}", answer.status());
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
        })
    };
    let during = ids(&walk(&stack, &token, "/hubs/crm/contacts?pageSize=37", Some(37)).await);
    adder.await.unwrap();
    assert_unique(&during, "walk during inserts");
    let seen: HashSet<i64> = during.iter().copied().collect();
    let missing: Vec<&i64> = vendor_ids.iter().filter(|id| !seen.contains(id)).collect();
    assert!(missing.is_empty(), "contacts present at the start but not served: {missing:?}");
}

#[tokio::test]
async fn return_count_page_number_order_by_and_fields() {
    let (stack, id, token) = instance().await;
    let all = vendor_rows(&stack, id, "contacts").await;

    // returnCount: the total of matches, not of the page.
    let where_ = "LastName LIKE '%e%' OR Email LIKE 'a%'";
    let counted =
        page(&stack, &token, &format!("/hubs/crm/contacts?where={}&pageSize=5&returnCount=true", enc(where_))).await;
    assert_eq!(counted.total, Some(expected_ids("contacts", where_, &all).len()), "Elements-Total-Count");
    assert_eq!(counted.rows.len(), 5);
    let plain = page(&stack, &token, "/hubs/crm/contacts?pageSize=5&returnCount=true").await;
    assert_eq!(plain.total, Some(all.len()));
    let uncounted = page(&stack, &token, "/hubs/crm/contacts?pageSize=5").await;
    assert_eq!(uncounted.total, None, "no count unless asked");

    // page=2 is the second page.
    let first_twenty = ids(&page(&stack, &token, "/hubs/crm/contacts?pageSize=20").await.rows);
    let second = ids(&page(&stack, &token, "/hubs/crm/contacts?page=2&pageSize=10").await.rows);
    assert_eq!(second, first_twenty[10..20]);
    let second_where =
        ids(&page(&stack, &token, &format!("/hubs/crm/contacts?where={}&page=2&pageSize=10", enc(where_))).await.rows);
    let all_where = ids(&walk(&stack, &token, &format!("/hubs/crm/contacts?where={}", enc(where_)), None).await);
    assert_eq!(second_where, all_where[10..20]);
    // A client that keeps `page=2` while following `nextPage` gets the page after, not one more skipped.
    let path = format!("/hubs/crm/contacts?where={}&page=2&pageSize=10", enc(where_));
    let cursor = page(&stack, &token, &path).await.next.expect("a next page");
    let third = ids(&page(&stack, &token, &format!("{path}&nextPage={}", enc(&cursor))).await.rows);
    assert_eq!(third, all_where[20..30.min(all_where.len())]);

    // orderBy a field the vendor cannot sort (sorted here), across pages.
    let by_last = walk(&stack, &token, "/hubs/crm/contacts?orderBy=LastName%20desc&pageSize=37", Some(37)).await;
    assert_eq!(by_last.len(), all.len());
    assert_unique(&ids(&by_last), "orderBy LastName desc");
    let keys: Vec<Option<String>> =
        by_last.iter().map(|row| row["LastName"].as_str().map(str::to_ascii_lowercase)).collect();
    for pair in keys.windows(2) {
        let ordered = match (&pair[0], &pair[1]) {
            (Some(a), Some(b)) => a >= b,
            (None, Some(_)) => false,
            _ => true,
        };
        assert!(ordered, "LastName desc, nulls last: {:?} before {:?}", pair[0], pair[1]);
    }
    // orderBy Id desc (pushed to the vendor), across pages, with a where.
    let by_id = ids(&walk(&stack, &token, "/hubs/crm/contacts?orderBy=Id%20desc&pageSize=37", Some(37)).await);
    assert_eq!(by_id.len(), all.len());
    assert!(by_id.windows(2).all(|pair| pair[0] > pair[1]), "Id desc");
    let by_id_where = ids(&walk(
        &stack,
        &token,
        &format!("/hubs/crm/contacts?orderBy=Id%20desc&pageSize=7&where={}", enc("Id > 100")),
        Some(7),
    )
    .await);
    let mut wanted = expected_ids("contacts", "Id > 100", &all);
    wanted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(by_id_where, wanted);

    // fields keeps only those.
    let narrow = page(&stack, &token, "/hubs/crm/contacts?fields=Id,Email&pageSize=50").await;
    assert_eq!(narrow.rows.len(), 50);
    for row in &narrow.rows {
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert!(keys.iter().all(|key| *key == "Id" || *key == "Email"), "only Id and Email: {row}");
        assert!(row["Id"].is_number());
    }
}

async fn assert_bad_list(stack: &Stack, token: &str, query: &str, wanted: &[&str]) -> String {
    let response = stack.hub(Method::GET, token, &format!("/hubs/crm/contacts?{query}"), None).await;
    let status = response.status().as_u16();
    assert_eq!(status, 400, "{}: HTTP {status}", &query[..query.len().min(120)]);
    let body = error_message(response, 400).await;
    let message = body["message"].as_str().unwrap().to_string();
    for part in wanted {
        assert!(message.contains(part), "{}: {message:?} should contain {part:?}", &query[..query.len().min(120)]);
    }
    message
}

#[tokio::test]
async fn bad_where_is_400_with_the_position() {
    let (stack, _, token) = instance().await;
    let cases: [(&str, &[&str]); 9] = [
        ("LastName = 'Smith", &["Error parsing query", "closing quote", "column 18"]),
        ("Nope = 1", &["Error parsing query", "Nope", "column 1"]),
        ("Id = 1 AND Shoe = 'x'", &["Shoe", "column 12"]),
        ("Id = 'one'", &["Error parsing query", "column 6"]),
        ("LastName = 3", &["Error parsing query", "column 12"]),
        ("LastUpdated > 'yesterday'", &["Error parsing query", "column 15"]),
        ("(Id = 1", &["Error parsing query", "column"]),
        ("Id = 1)", &["Error parsing query", "column 7"]),
        ("Id == 1", &["Error parsing query", "column"]),
    ];
    for (where_, wanted) in cases {
        assert_bad_list(&stack, &token, &format!("where={}", enc(where_)), wanted).await;
    }
    let deep = format!("{}Id = 1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert_bad_list(&stack, &token, &format!("where={}", enc(&deep)), &["Error parsing query"]).await;
    let deep_not = format!("{}Id = 1", "NOT ".repeat(10_000));
    assert_bad_list(&stack, &token, &format!("where={}", enc(&deep_not)), &["Error parsing query"]).await;
    // Empty and blank where are "no where".
    for empty in ["where=", "where=%20%20"] {
        let response = stack.hub(Method::GET, &token, &format!("/hubs/crm/contacts?{empty}&pageSize=3"), None).await;
        assert_eq!(response.status(), 200, "{empty}");
    }
}

/// Sends a GET exactly as written (reqwest refuses URIs over 64 KB) and returns the status, the
/// content type and the body, or `None` when the server closed the connection without an answer.
async fn raw_get(stack: &Stack, token: &str, target: &str) -> Option<(u16, String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = stack.base.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        stack.hub_auth(token)
    );
    let _ = socket.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let content_type = head
        .lines()
        .find_map(|line| line.to_ascii_lowercase().strip_prefix("content-type:").map(|value| value.trim().to_string()))
        .unwrap_or_default();
    Some((status, content_type, body.to_string()))
}

#[tokio::test]
async fn a_where_over_the_size_limit_is_refused_with_a_4xx() {
    let (stack, _, token) = instance().await;
    // Just under the HTTP layer's 64 KB URI limit: a 400 from the CEQL parser.
    let long = format!("LastName = '{}", "x".repeat(60_000));
    let target = format!("/elements/api-v2/hubs/crm/contacts?where={}", enc(&long));
    let (status, content_type, body) = raw_get(&stack, &token, &target).await.expect("an answer to a 60 KB where");
    assert_eq!(status, 400, "60 KB where: {}", &body[..body.len().min(300)]);
    assert!(content_type.contains("json") && body.contains("Error parsing query"), "{content_type}: {body:.300}");
    // Past it (70 KB, 1 MB): the HTTP server refuses the request line before any handler runs.
    // It must answer (not drop the connection) with a 4xx. NOTE: this answer is hyper's bare 414
    // without the platform's JSON error body or Elements-Request-Id (reported, not worked around).
    for size in [70_000, 1_000_000] {
        let huge = format!("LastName = '{}'", "x".repeat(size));
        let target = format!("/elements/api-v2/hubs/crm/contacts?where={}", enc(&huge));
        let answer = raw_get(&stack, &token, &target).await;
        eprintln!(
            "{size}-byte where: {:?}",
            answer.as_ref().map(|(status, content_type, body)| (status, content_type, &body[..body.len().min(200)]))
        );
        let (status, _, _) = answer.expect("an answer, not a closed connection");
        assert!((400..500).contains(&status), "{size}-byte where: HTTP {status}");
    }
}

#[tokio::test]
async fn bad_paging_count_and_order_parameters_are_400() {
    let (stack, _, token) = instance().await;
    for bad in [
        "pageSize=0",
        "pageSize=5001",
        "pageSize=abc",
        "pageSize=-1",
        "page=0",
        "page=abc",
        "page=99999999999999999999",
    ] {
        assert_bad_list(&stack, &token, bad, &[bad.split('=').next().unwrap()]).await;
    }
    assert_bad_list(&stack, &token, "returnCount=maybe", &["returnCount"]).await;
    assert_bad_list(&stack, &token, "orderBy=Shoe", &["Shoe"]).await;
    assert_bad_list(&stack, &token, "orderBy=LastName%20sideways", &["Error parsing query"]).await;
    assert_bad_list(&stack, &token, "fields=Id,Shoe", &["Shoe"]).await;
    assert_bad_list(&stack, &token, "nextPage=forged", &["nextPage"]).await;
    assert_bad_list(&stack, &token, "nextPage=eyJxIjowLCJzIjo1fQ.abcdef", &["nextPage"]).await;

    // A genuine cursor is refused on another query, and on the same query it works.
    let first = page(&stack, &token, "/hubs/crm/contacts?pageSize=5&where=Id%20%3E%202").await;
    let cursor = first.next.expect("a next page");
    assert_bad_list(&stack, &token, &format!("pageSize=5&where=Id%20%3E%203&nextPage={}", enc(&cursor)), &["nextPage"])
        .await;
    assert_bad_list(
        &stack,
        &token,
        &format!("pageSize=5&orderBy=Id%20desc&where=Id%20%3E%202&nextPage={}", enc(&cursor)),
        &["nextPage"],
    )
    .await;
    let tampered = format!("{}x", cursor);
    assert_bad_list(
        &stack,
        &token,
        &format!("pageSize=5&where=Id%20%3E%202&nextPage={}", enc(&tampered)),
        &["nextPage"],
    )
    .await;
    let second =
        page(&stack, &token, &format!("/hubs/crm/contacts?pageSize=5&where=Id%20%3E%202&nextPage={}", enc(&cursor)))
            .await;
    assert_eq!(second.rows.len(), 5);
    assert!(ids(&second.rows).iter().all(|id| !ids(&first.rows).contains(id)));
}
