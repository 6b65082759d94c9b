//! Lists, filters, pages and scans contacts from the simulator; reads, creates, updates and
//! deletes one; maps vendor failures to typed errors.

use std::sync::Arc;
use std::time::Duration;

use connector::endpoints::VendorEndpoints;
use connector::rate_limit::VendorRateLimiter;
use connector::{CallContext, StaticTokens, VendorClient, VendorError};
use domain::vendor_limits::VendorLimits;
use domain::Secret;
use hub::{CursorSigner, Hub, HubError, ListParams, Position, Session, Target};
use keap_sim::{Limits, SimConfig};
use serde_json::{json, Value};

const CLIENT_ID: &str = "sandbox-client-id";
const REDIRECT: &str = "https://app.example.com/callback";

/// Signs with a fixed key: enough to tell a forged cursor in a test.
struct TestSigner;

impl CursorSigner for TestSigner {
    fn sign(&self, text: &str) -> String {
        format!(
            "{:x}",
            text.bytes().fold(0xcbf29ce484222325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x100000001b3))
        )
    }
}

struct Setup {
    _sim: keap_sim::RunningSim,
    hub: Hub,
    tokens: StaticTokens,
}

impl Setup {
    fn session(&self) -> Session<'_> {
        Session {
            instance_id: Some(domain::InstanceId::new(1)),
            element_key: "infusionsoftcrm",
            drop_nulls: true,
            common: None,
            call: CallContext { log_id: 1, ..CallContext::interactive(CLIENT_ID, &self.tokens) },
        }
    }
}

async fn setup() -> Setup {
    let config = SimConfig { limits: Limits::none(), tenant_limits: Limits::none(), ..SimConfig::sandbox() };
    let sim = keap_sim::spawn(config, "127.0.0.1:0").await.unwrap();
    let endpoints = VendorEndpoints::simulator(&url::Url::parse(&sim.url()).unwrap()).unwrap();
    let limiter = Arc::new(VendorRateLimiter::new(VendorLimits::OFF, Duration::from_secs(5), 100));
    let vendor = VendorClient::new(endpoints, limiter, Duration::from_secs(10)).unwrap();
    let tokens = StaticTokens::new(access_token(&sim).await);
    Setup { _sim: sim, hub: Hub::new(Arc::new(vendor), Arc::new(TestSigner)), tokens }
}

/// An access token for the demo account, through the simulator's consent form and token endpoint.
async fn access_token(sim: &keap_sim::RunningSim) -> Secret {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let form = [
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("username", "demo@example.com"),
        ("password", "demo"),
        ("decision", "allow"),
    ];
    let consent = http.post(format!("{}/app/oauth/authorize", sim.url())).form(&form).send().await.unwrap();
    let location = consent.headers()["location"].to_str().unwrap().to_string();
    let code = url::Url::parse(&location).unwrap().query_pairs().find(|(key, _)| key == "code").unwrap().1.to_string();
    let grant = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", CLIENT_ID),
        ("client_secret", "sandbox-client-secret"),
    ];
    let token: Value =
        http.post(format!("{}/token", sim.url())).form(&grant).send().await.unwrap().json().await.unwrap();
    Secret::new(token["access_token"].as_str().unwrap())
}

fn params(pairs: &[(&str, &str)]) -> ListParams {
    let query = serde_urlencoded::to_string(pairs).unwrap();
    serde_urlencoded::from_str(&query).unwrap()
}

#[tokio::test]
async fn lists_filters_and_pages_contacts_with_a_static_token() {
    let setup = setup().await;
    let session = setup.session();

    let first = setup.hub.list(&session, Target::Object("contacts"), &params(&[("pageSize", "7")])).await.unwrap();
    assert_eq!(first.records.len(), 7);
    assert!(first.records.iter().all(|record| record["Id"].is_u64()));

    // Walking every page serves each of the 300 seeded contacts once.
    let mut seen = std::collections::BTreeSet::new();
    let mut next = None::<String>;
    loop {
        let mut pairs = vec![("pageSize", "37".to_string())];
        if let Some(cursor) = &next {
            pairs.push(("nextPage", cursor.clone()));
        }
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(key, value)| (*key, value.as_str())).collect();
        let page = setup.hub.list(&session, Target::Object("contacts"), &params(&pairs)).await.unwrap();
        for record in &page.records {
            assert!(seen.insert(record["Id"].as_u64().unwrap()), "served twice: {record}");
        }
        match page.next_page {
            Some(cursor) => next = Some(cursor),
            None => break,
        }
    }
    assert_eq!(seen.len(), 300);

    // A filter: the one contact with a given email, and the count of a residual condition.
    let email = first.records[0]["Email"].as_str().unwrap().to_string();
    let filter = format!("Email = '{email}'");
    let found = setup.hub.list(&session, Target::Object("contacts"), &params(&[("where", &filter)])).await.unwrap();
    assert_eq!(found.records.len(), 1);
    assert_eq!(found.records[0]["Email"], email.as_str());
    let counted = setup
        .hub
        .list(
            &session,
            Target::Object("contacts"),
            &params(&[("where", "Id > 250"), ("returnCount", "true"), ("pageSize", "5")]),
        )
        .await
        .unwrap();
    assert_eq!(counted.records.len(), 5);
    assert_eq!(counted.total, Some(seen.iter().filter(|id| **id > 250).count()));
}

#[tokio::test]
async fn a_scan_reads_a_whole_object_and_resumes_from_any_position() {
    let setup = setup().await;
    let session = setup.session();
    let mut position = Position::default();
    let mut ids = Vec::new();
    let mut positions = Vec::new();
    loop {
        let page = setup.hub.scan(&session, "contacts", None, &position, 50).await.unwrap();
        ids.extend(page.records.iter().map(|record| record["Id"].as_u64().unwrap()));
        match page.next {
            Some(next) => {
                positions.push(next.clone());
                position = next;
            }
            None => break,
        }
    }
    assert_eq!(ids.len(), 300);
    // A position survives a round trip through storage, and resuming from it reads on from there.
    let stored = serde_json::to_string(&positions[2]).unwrap();
    let resumed: Position = serde_json::from_str(&stored).unwrap();
    let page = setup.hub.scan(&session, "contacts", None, &resumed, 50).await.unwrap();
    assert_eq!(page.records[0]["Id"].as_u64(), Some(ids[150]));

    // A selective scan filters; a bad where is a typed bad request.
    let filtered = setup.hub.scan(&session, "contacts", Some("Id <= 3"), &Position::default(), 50).await.unwrap();
    assert!(filtered.records.iter().all(|record| record["Id"].as_u64().unwrap() <= 3));
    let bad = setup.hub.scan(&session, "contacts", Some("Id = = 3"), &Position::default(), 50).await.unwrap_err();
    assert!(matches!(bad, HubError::BadRequest(message) if message.contains("Error parsing query")));
}

#[tokio::test]
async fn a_record_read_as_json_text_is_the_record_read_as_a_tree_byte_for_byte() {
    let setup = setup().await;
    let mut session = setup.session();
    let mut compared = 0;
    let readable = mapping::ObjectCatalog::builtin().objects("infusionsoftcrm").filter(|(_, definition)| {
        [mapping::Operation::List, mapping::Operation::Get]
            .iter()
            .all(|operation| definition.operations.contains(operation))
    });
    for (object, _) in readable {
        let page = setup.hub.list(&session, Target::Object(object), &ListParams::default()).await.unwrap();
        for record in page.records.iter().take(5) {
            let id = record[GENERIC_ID_KEY].to_string();
            for drop_nulls in [true, false] {
                session.drop_nulls = drop_nulls;
                let tree = setup.hub.get(&session, Target::Object(object), &id).await.unwrap();
                let text = setup.hub.get_json(&session, Target::Object(object), &id).await.unwrap();
                assert_eq!(
                    String::from_utf8(text).unwrap(),
                    tree.to_string(),
                    "{object} {id}, nulls dropped: {drop_nulls}"
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 40, "{compared} records compared");
    let missing = setup.hub.get_json(&session, Target::Object("contacts"), "999999").await.unwrap_err();
    assert!(matches!(missing, HubError::Vendor(VendorError::Status { status: 404, .. })), "{missing:?}");
    let bad_id = setup.hub.get_json(&session, Target::Object("contacts"), "x").await.unwrap_err();
    assert!(matches!(bad_id, HubError::BadRequest(_)), "{bad_id:?}");
}

const GENERIC_ID_KEY: &str = "id";

#[tokio::test]
async fn one_record_round_trip_and_typed_errors() {
    let setup = setup().await;
    let session = setup.session();
    let contacts = Target::Object("contacts");
    let created = setup
        .hub
        .create(&session, contacts, json!({"FirstName": "Ada", "LastName": "Engine", "Email": "ada@engine.example"}))
        .await
        .unwrap();
    let id = created["Id"].as_u64().unwrap().to_string();
    let updated = setup.hub.update(&session, "contacts", &id, json!({"LastName": "Lovelace"})).await.unwrap();
    assert_eq!(updated["LastName"], "Lovelace");
    assert_eq!(setup.hub.get(&session, contacts, &id).await.unwrap()["Email"], "ada@engine.example");
    setup.hub.delete(&session, contacts, &id).await.unwrap();

    let gone = setup.hub.get(&session, contacts, &id).await.unwrap_err();
    assert!(matches!(gone, HubError::Vendor(VendorError::Status { status: 404, .. })), "{gone:?}");
    let unknown = setup.hub.get(&session, Target::Object("widgets"), "1").await.unwrap_err();
    assert!(matches!(unknown, HubError::NotFound(_)), "{unknown:?}");
    let bad_id = setup.hub.get(&session, contacts, "x").await.unwrap_err();
    assert!(matches!(bad_id, HubError::BadRequest(_)), "{bad_id:?}");

    // A static token cannot be refreshed: the vendor's 401 stands, typed.
    let dead = StaticTokens::new(Secret::new("not-a-token"));
    let session = Session { call: CallContext { tokens: &dead, ..session.call }, ..session };
    let refused = setup.hub.ping(&session).await.unwrap_err();
    assert!(matches!(refused, HubError::Vendor(VendorError::Status { status: 401, .. })), "{refused:?}");
}
