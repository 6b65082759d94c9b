//! Deterministic demo data for the Keap (Infusionsoft) REST v2 simulator.
//!
//! This module owns the *initial content* of the simulated tenant: users, companies, contacts,
//! tag categories and tags, the opportunity pipeline (stages) and opportunities, products (with
//! subscription plans), orders with their payments and the sales transactions behind them, notes,
//! tasks, subscriptions and campaigns. Every record is a `serde_json::Value` already in the
//! vendor's REST v2 response shape (OpenAPI `components/schemas`: `Contact`, `Company`,
//! `TagCategory`, `Tag`, `RestOpportunityStage`, `RestV2Opportunity`, `RestV2Product_Detail`,
//! `OrderV2`, `InvoiceOrderPayment`, `TransactionV2`, `Note`, `Task`, `User`, `Subscription`,
//! `Campaign`), so handlers can serve them as stored.
//!
//! Conventions the rest of the simulator may rely on:
//! - ids are strings of decimal digits; in each collection they run 1, 2, 3, … (nested order
//!   items and subscription plans have their own sequences, also from 1);
//! - every date-time is `YYYY-MM-DDTHH:MM:SS.000Z` (UTC) and lies at or before `now`; the only
//!   forward-looking value is an active subscription's `next_bill_date` (a plain `YYYY-MM-DD`);
//! - `update_time >= create_time` (and the equivalents of other collections);
//! - every cross reference resolves: `owner_id`/`*_user_id` → users, `company.id` → companies,
//!   `tag_ids` → tags, `category.id` → tag_categories, `stage.id` → opportunity_stages,
//!   `contact`/`contact_id` → contacts, order items' `product.id` → products, payments'
//!   `order_id` → orders, `subscription_plan_id` → a plan of the subscription's product,
//!   transactions' `order_ids` → orders and `payment_id` → payments, campaigns'
//!   `created_by_global_id` → a user's `keap_id`;
//! - money: `CurrencyValue.amount` is in cents (integer); payments' `amount`/`payment_amount` and
//!   subscriptions' `billing_amount` are in dollars (number), as in the vendor's examples;
//!   an order's `total` is the sum of its items, `total_paid` the sum of its payments and
//!   `total_due = total - total_paid`; status is `PAID` exactly when nothing is due;
//! - a child collection is left empty when a parent it needs is empty (no contacts → no notes).
//!
//! Records carry two fields the vendor schemas do not list, both tolerated by the SDK (its models
//! keep unknown keys): payments' `order_id` (the payments list is per order in the API) and
//! `payment_amount` (the `PaymentResult` name of `amount`). Transactions carry the store's `id`,
//! which `TransactionV2` lacks; the API leaves it out of responses.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How many records of each kind to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedCounts {
    /// Contacts (`/v2/contacts`).
    pub contacts: usize,
    /// Companies (`/v2/companies`).
    pub companies: usize,
    /// Opportunities (`/v2/opportunities`).
    pub opportunities: usize,
    /// Tags (`/v2/tags`); their categories come along when this is non-zero.
    pub tags: usize,
    /// Products (`/v2/products`).
    pub products: usize,
    /// Orders (`/v2/orders`); payments are derived from them.
    pub orders: usize,
    /// Users (`/v2/users`); user 1 is the admin.
    pub users: usize,
    /// Notes (`/v2/notes`, `/v2/contacts/{id}/notes`).
    pub notes: usize,
    /// Tasks (`/v2/tasks`).
    pub tasks: usize,
    /// Subscriptions (`/v2/subscriptions`).
    pub subscriptions: usize,
    /// Campaigns (`/v2/campaigns`); names come from a catalogue of 12, numbered beyond it.
    pub campaigns: usize,
}

impl SeedCounts {
    /// A lively demo tenant: 300 contacts, 60 companies, 150 opportunities, 40 tags,
    /// 50 products, 200 orders, 8 users, 200 notes, 150 tasks, 40 subscriptions, 12 campaigns.
    pub fn demo() -> Self {
        SeedCounts {
            contacts: 300,
            companies: 60,
            opportunities: 150,
            tags: 40,
            products: 50,
            orders: 200,
            users: 8,
            notes: 200,
            tasks: 150,
            subscriptions: 40,
            campaigns: 12,
        }
    }

    /// No records at all (only the default opportunity pipeline is still generated).
    pub fn empty() -> Self {
        SeedCounts {
            contacts: 0,
            companies: 0,
            opportunities: 0,
            tags: 0,
            products: 0,
            orders: 0,
            users: 0,
            notes: 0,
            tasks: 0,
            subscriptions: 0,
            campaigns: 0,
        }
    }
}

/// Generates the same records for the same seed and `now` (epoch seconds, all timestamps are at or before it).
///
/// Keys: `users`, `companies`, `contacts`, `tag_categories`, `tags`, `opportunity_stages`,
/// `opportunities`, `products`, `orders`, `payments`, `transactions`, `notes`, `tasks`,
/// `subscriptions`, `campaigns` (always all present, possibly empty). Each collection draws from its own random stream, so
/// changing one count only changes that collection and the ones referring to it.
pub fn generate(seed: u64, now_epoch_secs: i64, counts: &SeedCounts) -> BTreeMap<&'static str, Vec<Value>> {
    let g = Gen { seed, now: now_epoch_secs, start: now_epoch_secs - HISTORY };
    let mut emails = BTreeSet::new();
    let users = users(&g, counts.users, &mut emails);
    let companies = companies(&g, counts.companies, &users);
    let tag_categories = tag_categories(&g, counts.tags);
    let tags = tags(&g, counts.tags);
    let stages = opportunity_stages(&g);
    let contacts = contacts(&g, counts.contacts, &users, &companies, tags.len(), &mut emails);
    let opportunities = opportunities(&g, counts.opportunities, &contacts, &users, &stages);
    let products = products(&g, counts.products);
    let (orders, payments) = orders(&g, counts.orders, &contacts, &products);
    let notes = notes(&g, counts.notes, &contacts, &users);
    let tasks = tasks(&g, counts.tasks, &contacts, &users);
    let subscriptions = subscriptions(&g, counts.subscriptions, &contacts, &products);
    let transactions = transactions(&g, &orders, &payments);
    let campaigns = campaigns(&g, counts.campaigns, &users, contacts.len());

    let mut out = BTreeMap::new();
    out.insert("users", users.records);
    out.insert("companies", companies.records);
    out.insert("contacts", contacts.records);
    out.insert("tag_categories", tag_categories.records);
    out.insert("tags", tags.records);
    out.insert("opportunity_stages", stages);
    out.insert("opportunities", opportunities);
    out.insert("products", products.records);
    out.insert("orders", orders);
    out.insert("payments", payments);
    out.insert("notes", notes);
    out.insert("tasks", tasks);
    out.insert("subscriptions", subscriptions);
    out.insert("transactions", transactions);
    out.insert("campaigns", campaigns);
    out
}

/// Formats epoch seconds as Keap v2 does: `2026-03-04T10:15:30.000Z` (UTC, milliseconds).
/// The SDK parses this with pydantic for its `datetime`-typed fields.
pub fn timestamp(epoch_secs: i64) -> String {
    utc(epoch_secs).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Formats epoch seconds as a calendar date (`2026-03-04`, UTC), for `format: date` fields.
fn date(epoch_secs: i64) -> String {
    utc(epoch_secs).format("%Y-%m-%d").to_string()
}

fn utc(epoch_secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(epoch_secs, 0).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Randomness

/// SplitMix64 (Steele, Lea & Flood, 2014). Hand-written instead of using the `rand` crate so the
/// demo data stays byte-for-byte stable across dependency upgrades (`rand` does not promise
/// value stability between versions) and the crate needs no extra dependency.
struct Rng(u64);

impl Rng {
    /// A generator for one stream (`salt`) of one seed; streams are independent.
    fn new(seed: u64, salt: u64) -> Self {
        let mut rng = Rng(seed ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next_u64();
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Uniform in `lo..=hi`; `lo` when the range is empty.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + ((u128::from(self.next_u64()) * ((hi - lo) as u128 + 1)) >> 64) as i64
    }

    /// True with the given probability in percent.
    fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Index drawn with the given relative weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut roll = self.below(total as usize) as u32;
        for (i, w) in weights.iter().enumerate() {
            if roll < *w {
                return i;
            }
            roll -= w;
        }
        weights.len() - 1
    }

    /// `k` distinct indices of `0..n`, in drawing order.
    fn sample(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut pool: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        for i in 0..k {
            let j = i + self.below(n - i);
            pool.swap(i, j);
        }
        pool.truncate(k);
        pool
    }
}

// ---------------------------------------------------------------------------------------------
// Shared context and helpers

const DAY: i64 = 86_400;
/// Records are spread over the two years before `now`.
const HISTORY: i64 = 730 * DAY;
const TENANT_NAME: &str = "Brightpath Services LLC";
const TENANT_DOMAIN: &str = "brightpath.example.com";

/// Seed plus the time window.
struct Gen {
    seed: u64,
    now: i64,
    /// Start of the history window (`now - HISTORY`).
    start: i64,
}

impl Gen {
    fn rng(&self, stream: u64) -> Rng {
        Rng::new(self.seed, stream)
    }
}

/// One collection's records plus their creation instants (epoch seconds), so that children can
/// be made younger than their parents.
struct Batch {
    records: Vec<Value>,
    created: Vec<i64>,
}

impl Batch {
    fn new() -> Self {
        Batch { records: Vec::new(), created: Vec::new() }
    }

    fn push(&mut self, record: Value, created: i64) {
        self.records.push(record);
        self.created.push(created);
    }

    fn len(&self) -> usize {
        self.records.len()
    }

    fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// A string field of a record (empty when absent).
fn text<'a>(record: &'a Value, key: &str) -> &'a str {
    record[key].as_str().unwrap_or("")
}

/// Sets `key` on a JSON object.
fn set(record: &mut Value, key: &str, value: impl Into<Value>) {
    if let Some(map) = record.as_object_mut() {
        map.insert(key.to_string(), value.into());
    }
}

/// Lower-case ASCII letters and digits only ("O'Brien" → "obrien").
fn slug(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// `local@domain`, or `local2@domain`, `local3@domain`… if already taken.
fn unique_email(local: &str, domain: &str, taken: &mut BTreeSet<String>) -> String {
    let mut candidate = format!("{local}@{domain}");
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{local}{n}@{domain}");
        n += 1;
    }
    candidate
}

/// A typical mailbox name for a person.
fn email_local(rng: &mut Rng, given: &str, family: &str) -> String {
    let (f, l) = (slug(given), slug(family));
    match rng.below(6) {
        0..=2 => format!("{f}.{l}"),
        3 => format!("{f}{l}"),
        4 => format!("{}{l}", &f[..1]),
        _ => format!("{f}.{l}{}", rng.between(1, 99)),
    }
}

/// `CurrencyValue` in US dollars (`amount` in cents).
fn money(cents: i64) -> Value {
    json!({ "amount": cents, "currency_code": "USD", "formatted_amount": usd(cents) })
}

/// `$1,234.56`.
fn usd(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.abs();
    let digits = (cents / 100).to_string();
    let head = digits.len() % 3;
    let mut grouped = digits[..head].to_string();
    for chunk in digits.as_bytes()[head..].chunks(3) {
        if !grouped.is_empty() {
            grouped.push(',');
        }
        grouped.push_str(std::str::from_utf8(chunk).unwrap_or_default());
    }
    format!("{sign}${grouped}.{:02}", cents % 100)
}

/// Cents as a dollar number (`1234` → `12.34`).
fn dollars(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// A `PhoneNumber` in the fictional 555-01XX range.
fn phone(rng: &mut Rng, area: u16, field: &str, kind: &str) -> Value {
    let line = rng.between(100, 199);
    json!({
        "number": format!("{area}-555-{line:04}"),
        "number_e164": format!("+1{area}555{line:04}"),
        "field": field,
        "type": kind,
    })
}

/// A US street `Address`.
fn address(rng: &mut Rng, city: &City, field: &str) -> Value {
    let postal = format!("{:03}{:02}", city.zip3, rng.between(1, 99));
    let mut a = json!({
        "line1": format!("{} {} {}", rng.between(10, 9899), rng.pick(STREETS), rng.pick(STREET_TYPES)),
        "locality": city.name,
        "region": city.state,
        "region_code": format!("US-{}", city.code),
        "postal_code": postal,
        "zip_code": postal,
        "country_code": "USA",
        "country": "United States",
        "field": field,
    });
    if rng.chance(20) {
        set(&mut a, "line2", format!("{} {}", rng.pick(&["Suite", "Unit", "Apt"]), rng.between(100, 450)));
    }
    a
}

/// A random person's name.
fn person(rng: &mut Rng) -> (&'static str, &'static str) {
    (*rng.pick(FIRST_NAMES), *rng.pick(LAST_NAMES))
}

// ---------------------------------------------------------------------------------------------
// Collections

fn users(g: &Gen, n: usize, emails: &mut BTreeSet<String>) -> Batch {
    let mut rng = g.rng(1);
    let mut batch = Batch::new();
    let mut names = BTreeSet::new();
    for i in 0..n {
        let id = i + 1;
        let (given, family) = loop {
            let name = person(&mut rng);
            if names.insert(name) || names.len() >= FIRST_NAMES.len() * LAST_NAMES.len() {
                break name;
            }
        };
        let created = if id == 1 { g.start - 30 * DAY } else { rng.between(g.start - 30 * DAY, g.now - 30 * DAY) };
        let updated = rng.between(created, g.now);
        let email = unique_email(&format!("{}.{}", slug(given), slug(family)), TENANT_DOMAIN, emails);
        let city = rng.pick(CITIES);
        batch.push(
            json!({
                "id": id.to_string(),
                "keap_id": id.to_string(),
                "given_name": given,
                "family_name": family,
                "email_addresses": [{ "email": email, "field": "EMAIL1" }],
                "phone_numbers": [phone(&mut rng, city.area, "PHONE1", "Work")],
                "title": USER_TITLES[i % USER_TITLES.len()],
                "company_name": TENANT_NAME,
                "website": format!("https://www.{TENANT_DOMAIN}"),
                "status": "ACTIVE",
                "admin": id == 1,
                "partner": false,
                "created_by": 1,
                "updated_by": 1,
                "create_time": timestamp(created),
                "update_time": timestamp(updated),
            }),
            created,
        );
    }
    batch
}

/// A unique company name and its web domain.
fn company_name(rng: &mut Rng, id: usize, taken: &mut BTreeSet<(usize, usize)>) -> (String, String) {
    let suffix = rng.pick(COMPANY_SUFFIXES);
    for _ in 0..50 {
        let key = (rng.below(COMPANY_PREFIXES.len()), rng.below(COMPANY_TRADES.len()));
        if taken.insert(key) {
            let (prefix, trade) = (COMPANY_PREFIXES[key.0], COMPANY_TRADES[key.1]);
            let domain = format!("{}{}.example.com", slug(prefix), slug(trade));
            return (format!("{prefix} {trade} {suffix}").trim_end().to_string(), domain);
        }
    }
    let (prefix, trade) = (rng.pick(COMPANY_PREFIXES), rng.pick(COMPANY_TRADES));
    let domain = format!("{}{}{id}.example.com", slug(prefix), slug(trade));
    (format!("{prefix} {trade} {id} {suffix}").trim_end().to_string(), domain)
}

fn companies(g: &Gen, n: usize, users: &Batch) -> Batch {
    let mut rng = g.rng(2);
    let mut batch = Batch::new();
    let mut taken = BTreeSet::new();
    for id in 1..=n {
        let (name, domain) = company_name(&mut rng, id, &mut taken);
        let (first, last) = person(&mut rng);
        let city = rng.pick(CITIES);
        let created = rng.between(g.start, g.now);
        let updated = rng.between(created, g.now);
        let mut rec = json!({
            "id": id.to_string(),
            "company_name": name,
            "first_name": first,
            "last_name": last,
            "job_title": rng.pick(&["Owner", "President", "CEO", "Office Manager", "Operations Manager"]),
            "email_address": { "email": format!("{}@{domain}", slug(first)), "field": "EMAIL1" },
            "phone_number": phone(&mut rng, city.area, "PHONE1", "Work"),
            "address": address(&mut rng, city, "BILLING"),
            "website": format!("https://www.{domain}"),
            "create_time": timestamp(created),
            "update_time": timestamp(updated),
        });
        if !users.is_empty() {
            let owner = (rng.below(users.len()) + 1).to_string();
            set(&mut rec, "owner_id", owner.clone());
            set(&mut rec, "created_by", owner.clone());
            set(&mut rec, "last_updated_by", owner);
        }
        batch.push(rec, created);
    }
    batch
}

/// The tag categories (all of them whenever any tag is generated).
fn tag_categories(g: &Gen, tags: usize) -> Batch {
    let mut rng = g.rng(3);
    let mut batch = Batch::new();
    if tags == 0 {
        return batch;
    }
    for (i, (name, description, _)) in TAG_CATALOG.iter().enumerate() {
        let created = rng.between(g.start - 30 * DAY, g.start);
        let updated = rng.between(created, g.now);
        batch.push(
            json!({
                "id": (i + 1).to_string(),
                "name": name,
                "description": description,
                "create_time": timestamp(created),
                "update_time": timestamp(updated),
            }),
            created,
        );
    }
    batch
}

fn tags(g: &Gen, n: usize) -> Batch {
    let mut rng = g.rng(4);
    let mut batch = Batch::new();
    let flat: Vec<(usize, &str)> = TAG_CATALOG
        .iter()
        .enumerate()
        .flat_map(|(cat, (_, _, names))| names.iter().map(move |name| (cat, *name)))
        .collect();
    for i in 0..n {
        let (cat, base) = flat[i % flat.len()];
        let round = i / flat.len();
        let name = if round == 0 { base.to_string() } else { format!("{base} {}", round + 1) };
        let created = rng.between(g.start - 30 * DAY, g.now);
        let updated = rng.between(created, g.now);
        batch.push(
            json!({
                "id": (i + 1).to_string(),
                "name": name,
                "description": format!("{} tag: {base}", TAG_CATALOG[cat].0),
                "category": { "id": (cat + 1).to_string() },
                "create_time": timestamp(created),
                "update_time": timestamp(updated),
            }),
            created,
        );
    }
    batch
}

/// The default sales pipeline (`RestOpportunityStage`), created with the account.
fn opportunity_stages(g: &Gen) -> Vec<Value> {
    let created = timestamp(g.start - 60 * DAY);
    STAGES
        .iter()
        .enumerate()
        .map(|(i, s)| {
            json!({
                "id": (i + 1).to_string(),
                "name": s.name,
                "order": i as i64 + 1,
                "probability": s.probability,
                "target_number_days": s.target_days,
                "created_time": created,
                "updated_time": created,
                "checklist_items": [],
            })
        })
        .collect()
}

fn contacts(
    g: &Gen,
    n: usize,
    users: &Batch,
    companies: &Batch,
    tag_count: usize,
    emails: &mut BTreeSet<String>,
) -> Batch {
    let mut rng = g.rng(5);
    let mut batch = Batch::new();
    for id in 1..=n {
        let (given, family) = person(&mut rng);
        let company = (!companies.is_empty() && rng.chance(70)).then(|| rng.below(companies.len()));
        let not_before = company.map_or(g.start, |c| companies.created[c].max(g.start));
        let created = rng.between(not_before, g.now);
        let updated = rng.between(created, g.now);
        let city = rng.pick(CITIES);
        let mut rec = json!({
            "id": id.to_string(),
            "given_name": given,
            "family_name": family,
            "email_addresses": contact_emails(&mut rng, given, family, company.map(|c| &companies.records[c]), emails),
            "phone_numbers": contact_phones(&mut rng, city, company.is_some()),
            "addresses": contact_addresses(&mut rng, city),
            "tag_ids": contact_tags(&mut rng, tag_count),
            "contact_type": rng.pick(&["Lead", "Lead", "Prospect", "Customer", "Customer", "Other"]),
            "source_type": rng.pick(&["MANUAL", "IMPORT", "WEBFORM", "LANDING_PAGE", "API", "INTERNAL_FORM"]),
            "preferred_locale": "en_US",
            "time_zone": city.tz,
            "create_time": timestamp(created),
            "update_time": timestamp(updated),
        });
        if let Some(c) = company {
            let c = &companies.records[c];
            set(&mut rec, "company", json!({ "id": text(c, "id"), "company_name": text(c, "company_name") }));
            set(&mut rec, "job_title", *rng.pick(JOB_TITLES));
        }
        if !users.is_empty() {
            set(&mut rec, "owner_id", (rng.below(users.len()) + 1).to_string());
        }
        batch.push(rec, created);
    }
    batch
}

/// EMAIL1 (work address at the company's domain or a generic one), sometimes a personal EMAIL2.
fn contact_emails(
    rng: &mut Rng,
    given: &str,
    family: &str,
    company: Option<&Value>,
    taken: &mut BTreeSet<String>,
) -> Value {
    let domain = match company {
        Some(c) if rng.chance(60) => text(c, "website").trim_start_matches("https://www.").to_string(),
        _ => rng.pick(&["example.com", "example.org", "example.net"]).to_string(),
    };
    let local = email_local(rng, given, family);
    let status = rng.pick(&["SINGLE_OPT_IN", "DOUBLE_OPT_IN", "UNENGAGED_MARKETABLE", "NON_MARKETABLE"]);
    let mut list = vec![json!({
        "email": unique_email(&local, &domain, taken),
        "field": "EMAIL1",
        "email_opt_status": status,
        "is_opt_in": *status != "NON_MARKETABLE",
    })];
    if rng.chance(30) {
        let local = format!("{}{}", slug(given), slug(family));
        let domain = *rng.pick(&["example.org", "example.net"]);
        let personal = unique_email(&local, domain, taken);
        list.push(json!({ "email": personal, "field": "EMAIL2" }));
    }
    Value::Array(list)
}

fn contact_phones(rng: &mut Rng, city: &City, works_somewhere: bool) -> Value {
    let kind = if works_somewhere { "Work" } else { "Mobile" };
    let mut list = vec![phone(rng, city.area, "PHONE1", kind)];
    if rng.chance(35) {
        let kind = if works_somewhere { "Mobile" } else { "Home" };
        list.push(phone(rng, city.area, "PHONE2", kind));
    }
    Value::Array(list)
}

fn contact_addresses(rng: &mut Rng, city: &City) -> Value {
    let mut list = vec![address(rng, city, "BILLING")];
    if rng.chance(25) {
        let other = if rng.chance(70) { city } else { rng.pick(CITIES) };
        list.push(address(rng, other, "SHIPPING"));
    }
    Value::Array(list)
}

/// 0–4 distinct tag ids, ascending.
fn contact_tags(rng: &mut Rng, tag_count: usize) -> Value {
    if tag_count == 0 {
        return json!([]);
    }
    let k = rng.below(5);
    let mut ids = rng.sample(tag_count, k);
    ids.sort_unstable();
    ids.into_iter().map(|i| Value::String((i + 1).to_string())).collect()
}

/// The contact's owner, else a random user (`None` without users).
fn user_for(rng: &mut Rng, contact: &Value, users: &Batch) -> Option<usize> {
    match contact["owner_id"].as_str().and_then(|s| s.parse::<usize>().ok()) {
        Some(id) => Some(id - 1),
        None if !users.is_empty() => Some(rng.below(users.len())),
        None => None,
    }
}

fn opportunities(g: &Gen, n: usize, contacts: &Batch, users: &Batch, stages: &[Value]) -> Vec<Value> {
    let mut rng = g.rng(6);
    let weights: Vec<u32> = STAGES.iter().map(|s| s.weight).collect();
    let mut out = Vec::new();
    if contacts.is_empty() {
        return out;
    }
    for id in 1..=n {
        let ci = rng.below(contacts.len());
        let contact = &contacts.records[ci];
        let si = rng.weighted(&weights);
        let closed = si >= 4;
        let created = rng.between(contacts.created[ci], g.now);
        let updated = rng.between(created, g.now);
        let entered = rng.between(created, updated);
        let low = rng.between(10, 400) * 50;
        let high = (low * rng.between(120, 200) / 100 / 50) * 50;
        let who = contact["company"]["company_name"].as_str().unwrap_or_else(|| text(contact, "family_name"));
        let mut rec = json!({
            "id": id.to_string(),
            "opportunity_title": format!("{who} - {}", rng.pick(DEAL_NAMES)),
            "contact": opportunity_contact(contact),
            "stage": opportunity_stage_ref(&stages[si], &STAGES[si], si),
            "projected_revenue_low": low as f64,
            "projected_revenue_high": high as f64,
            "include_in_forecast": si != 5,
            "estimated_close_time": timestamp(if closed { entered } else { rng.between(updated, g.now) }),
            "lead_source": rng.pick(LEAD_SOURCES),
            "opportunity_notes": rng.pick(OPPORTUNITY_NOTES),
            "stage_entrance_time": timestamp(entered),
            "created_time": timestamp(created),
            "last_updated_time": timestamp(updated),
        });
        if !closed {
            set(&mut rec, "next_action_time", timestamp(rng.between(updated, g.now)));
            set(&mut rec, "next_action_notes", *rng.pick(NEXT_ACTIONS));
        }
        if si == 5 {
            set(&mut rec, "objection", *rng.pick(&["Price", "Timing", "Went with a competitor", "No budget"]));
        }
        if let Some(u) = user_for(&mut rng, contact, users) {
            let user = &users.records[u];
            let uid = text(user, "id");
            set(
                &mut rec,
                "user",
                json!({ "id": uid, "first_name": text(user, "given_name"), "last_name": text(user, "family_name") }),
            );
            set(&mut rec, "created_by", uid);
            set(&mut rec, "last_updated_by", uid);
        }
        out.push(rec);
    }
    out
}

/// `OpportunityContact` for a contact record.
fn opportunity_contact(contact: &Value) -> Value {
    let billing = &contact["addresses"][0];
    let mut c = json!({
        "id": text(contact, "id"),
        "first_name": text(contact, "given_name"),
        "last_name": text(contact, "family_name"),
        "email": text(&contact["email_addresses"][0], "email"),
        "phone_number": text(&contact["phone_numbers"][0], "number"),
        "city": text(billing, "locality"),
        "state": text(billing, "region_code").trim_start_matches("US-"),
    });
    if let Some(name) = contact["company"]["company_name"].as_str() {
        set(&mut c, "company_name", name);
        set(&mut c, "job_title", text(contact, "job_title"));
    }
    c
}

/// `OpportunityStage` reference (with `StageDetails`) for a pipeline stage.
fn opportunity_stage_ref(stage: &Value, def: &StageDef, index: usize) -> Value {
    json!({
        "id": text(stage, "id"),
        "name": def.name,
        "details": {
            "probability": def.probability,
            "stage_order": index as i64 + 1,
            "target_num_days": def.target_days,
        },
    })
}

fn products(g: &Gen, n: usize) -> Batch {
    let mut rng = g.rng(7);
    let mut batch = Batch::new();
    let mut plan_id = 0;
    for i in 0..n {
        let id = i + 1;
        let (base, kind) = PRODUCTS[i % PRODUCTS.len()];
        let round = i / PRODUCTS.len();
        let name = if round == 0 { base.to_string() } else { format!("{base} (v{})", round + 1) };
        let cents = product_price(&mut rng, kind);
        let created = rng.between(g.start - 30 * DAY, g.now);
        let updated = rng.between(created, g.now);
        let physical = kind == Kind::Physical;
        let short = kind.blurb();
        let mut plans = Vec::new();
        if kind == Kind::Recurring {
            plan_id += 1;
            plans.push(subscription_plan(plan_id, "MONTHLY", cents, 0));
            if rng.chance(50) {
                plan_id += 1;
                plans.push(subscription_plan(plan_id, "YEARLY", cents * 10, 1));
            }
        }
        let mut rec = json!({
            "id": id.to_string(),
            "name": name,
            "sku": format!("{}-{id:03}", initials(base)),
            "price": money(cents),
            "short_description": short,
            "description": format!("{base}. {short}. Questions? Reply to your receipt and our team will help."),
            "active": rng.chance(90),
            "shippable": physical,
            "taxable": physical,
            "state_taxable": physical,
            "country_taxable": false,
            "city_taxable": false,
            "subscription_only": kind == Kind::Recurring,
            "storefront_hidden": false,
            "needs_digital_delivery": kind == Kind::Digital,
            "is_package": false,
            "has_legacy_image": false,
            "categories": [],
            "options": [],
            "subscription_plans": plans,
            "inventory": inventory(&mut rng, physical),
            "create_time": timestamp(created),
            "update_time": timestamp(updated),
        });
        if physical {
            set(&mut rec, "weight", rng.between(2, 80) as f64 / 4.0);
        }
        batch.push(rec, created);
    }
    batch
}

/// Price in cents: whole dollars or .99, by kind of product.
fn product_price(rng: &mut Rng, kind: Kind) -> i64 {
    let (lo, hi) = match kind {
        Kind::Service => (75, 1500),
        Kind::Digital => (19, 299),
        Kind::Physical => (9, 99),
        Kind::Recurring => (29, 299),
    };
    let whole = rng.between(lo, hi) * 100;
    if rng.chance(50) {
        whole - 1
    } else {
        whole
    }
}

/// `SubscriptionPlan_Detail`.
fn subscription_plan(id: usize, cycle: &str, cents: i64, order_index: i64) -> Value {
    json!({
        "id": id.to_string(),
        "active": true,
        "prorate": false,
        "billing_cycle": cycle,
        "billing_frequency": 1,
        "number_of_cycles": 0,
        "plan_price": money(cents),
        "order_index": order_index,
    })
}

/// `ProductInventory_Detail`: stock for physical goods, none for the rest.
fn inventory(rng: &mut Rng, physical: bool) -> Value {
    if physical {
        json!({
            "inventory_count": rng.between(0, 500),
            "inventory_limit": 10,
            "out_of_stock_enabled": true,
            "email_for_inventory_notifications": format!("inventory@{TENANT_DOMAIN}"),
        })
    } else {
        json!({ "inventory_count": 0, "inventory_limit": 0, "out_of_stock_enabled": false })
    }
}

/// Up to four upper-case initials of a product name ("Pro Membership" → "PM").
fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().find(char::is_ascii_alphanumeric))
        .take(4)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Orders (`OrderV2`) and, for about 60% of them, their payments (`InvoiceOrderPayment`).
fn orders(g: &Gen, n: usize, contacts: &Batch, products: &Batch) -> (Vec<Value>, Vec<Value>) {
    let mut rng = g.rng(8);
    let (mut orders, mut payments) = (Vec::new(), Vec::new());
    if contacts.is_empty() || products.is_empty() {
        return (orders, payments);
    }
    let mut item_id = 0;
    for id in 1..=n {
        let ci = rng.below(contacts.len());
        let contact = &contacts.records[ci];
        let created = rng.between(contacts.created[ci], g.now);
        let k = rng.between(1, 4) as usize;
        let mut items = Vec::new();
        let mut total = 0;
        for pi in rng.sample(products.len(), k) {
            item_id += 1;
            let (item, cents) = order_item(&mut rng, item_id, &products.records[pi]);
            total += cents;
            items.push(item);
        }
        let online = rng.chance(65);
        let (paid, last_paid) = order_payments(&mut rng, g, id, total, created, online, &mut payments);
        let status = if paid == total {
            "PAID"
        } else if paid > 0 || rng.chance(50) {
            "SENT"
        } else {
            "DRAFT"
        };
        let source = if online {
            rng.pick(&["CHECKOUT_FORM", "CHECKOUT_FORM", "API"])
        } else {
            rng.pick(&["INVOICE", "MANUAL_PAYMENT"])
        };
        let modified = rng.between(last_paid, g.now);
        let title = match items.len() {
            1 => text(&items[0], "name").to_string(),
            more => format!("{} + {} more", text(&items[0], "name"), more - 1),
        };
        let mut rec = json!({
            "id": id.to_string(),
            "title": title,
            "status": status,
            "contact": {
                "id": text(contact, "id"),
                "email": text(&contact["email_addresses"][0], "email"),
                "given_name": text(contact, "given_name"),
                "family_name": text(contact, "family_name"),
            },
            "order_items": items,
            "total": money(total),
            "total_paid": money(paid),
            "total_due": money(total - paid),
            "refund_total": money(0),
            "order_type": if online { "ONLINE" } else { "OFFLINE" },
            "source_type": source,
            "allow_payment": true,
            "allow_paypal": online,
            "invoice_id": id.to_string(),
            "invoice_number": id.to_string(),
            "order_time": timestamp(created),
            "creation_time": timestamp(created),
            "modification_time": timestamp(modified),
        });
        if status != "DRAFT" {
            set(&mut rec, "sent_time", timestamp(created));
        }
        if !online {
            set(&mut rec, "terms", "Payment due upon receipt");
        }
        orders.push(rec);
    }
    (orders, payments)
}

/// An `OrderItem` for a product, and its line total in cents.
fn order_item(rng: &mut Rng, id: usize, product: &Value) -> (Value, i64) {
    let unit = product["price"]["amount"].as_i64().unwrap_or(0);
    let quantity = if product["shippable"] == true { rng.between(1, 5) } else { rng.between(1, 2) };
    let item = json!({
        "id": id.to_string(),
        "name": text(product, "name"),
        "description": text(product, "short_description"),
        "quantity": quantity,
        "item_type": "PRODUCT",
        "price_per_unit": money(unit),
        "product": {
            "id": text(product, "id"),
            "name": text(product, "name"),
            "sku": text(product, "sku"),
            "description": text(product, "short_description"),
            "shippable": product["shippable"],
            "taxable": product["taxable"],
        },
    });
    (item, unit * quantity)
}

/// Appends this order's payments (none for ~40% of orders; otherwise full in one or two
/// payments, or a partial deposit) and returns the amount paid in cents and the last payment
/// instant (`created` without payments).
fn order_payments(
    rng: &mut Rng,
    g: &Gen,
    order_id: usize,
    total: i64,
    created: i64,
    online: bool,
    payments: &mut Vec<Value>,
) -> (i64, i64) {
    if total == 0 || !rng.chance(60) {
        return (0, created);
    }
    let amounts = if !rng.chance(85) {
        vec![total * rng.between(25, 75) / 100]
    } else if rng.chance(80) {
        vec![total]
    } else {
        vec![total / 2, total - total / 2]
    };
    let status = if !online {
        "MANUAL_PAID"
    } else if rng.chance(15) {
        "PAYPAL_PAID"
    } else {
        "APPROVED"
    };
    let mut when = created;
    for cents in &amounts {
        let note = if online {
            "Credit card payment"
        } else {
            *rng.pick(&["Paid by check", "Cash payment", "Credit Card (Manual)"])
        };
        when = rng.between(when, (when + 14 * DAY).min(g.now));
        let pid = (payments.len() + 1).to_string();
        payments.push(json!({
            "id": pid,
            "payment_id": pid,
            "order_id": order_id.to_string(),
            "invoice_id": order_id.to_string(),
            "amount": dollars(*cents),
            "payment_amount": dollars(*cents),
            "note": note,
            "pay_status": status,
            "pay_time": timestamp(when),
            "last_updated_time": timestamp(when),
            "skip_commission": false,
        }));
    }
    (amounts.iter().sum(), when)
}

/// How a payment's money moved, which decides its transaction's method and merchant account.
#[derive(Clone, Copy)]
enum Channel {
    /// Recorded by hand (check, cash): no merchant account, no payment method.
    Manual,
    /// A saved card charged through a merchant account (`KEAP_PAY` or `STRIPE`).
    Card {
        merchant_type: &'static str,
        merchant_id: &'static str,
    },
    PayPal,
}

/// Sales transactions (`TransactionV2`): one per payment, for its amount at its time, on its order
/// and that order's contact. Before about one card payment in eight, the card was first declined:
/// a `FAILED` transaction without a payment, a few minutes earlier (never before the order).
fn transactions(g: &Gen, orders: &[Value], payments: &[Value]) -> Vec<Value> {
    let mut rng = g.rng(13);
    let mut out = Vec::new();
    for payment in payments {
        let Some(order) = orders.iter().find(|o| o["id"] == payment["order_id"]) else { continue };
        let channel = match text(payment, "pay_status") {
            "MANUAL_PAID" => Channel::Manual,
            "PAYPAL_PAID" => Channel::PayPal,
            _ if rng.chance(70) => Channel::Card { merchant_type: "KEAP_PAY", merchant_id: "1" },
            _ => Channel::Card { merchant_type: "STRIPE", merchant_id: "3" },
        };
        let approved = transaction(&mut rng, order, payment, channel);
        if matches!(channel, Channel::Card { .. }) && rng.chance(12) {
            let paid_at = epoch_of(text(payment, "pay_time"));
            let attempted = rng.between(paid_at - 30 * 60, paid_at - 60).max(epoch_of(text(order, "creation_time")));
            let mut declined = transaction(&mut rng, order, payment, channel);
            if let Some(t) = declined.as_object_mut() {
                t.remove("payment_id");
                t.insert("status".into(), json!("FAILED"));
                t.insert("is_successful".into(), json!(false));
                t.insert("transaction_time".into(), json!(timestamp(attempted)));
                t.insert("external_response_code".into(), json!("card_declined"));
                t.insert("error_details".into(), json!("Your card was declined."));
            }
            push_with_id(&mut out, declined);
        }
        push_with_id(&mut out, approved);
    }
    out
}

/// The approved transaction behind `payment` (without an id).
fn transaction(rng: &mut Rng, order: &Value, payment: &Value, channel: Channel) -> Value {
    let contact = &order["contact"];
    let mut t = json!({
        "amount": payment["amount"],
        "status": "APPROVED",
        "description": text(payment, "note"),
        "contact": contact,
        "order_ids": [text(order, "id")],
        "contact_id": text(contact, "id"),
        "transaction_method": if matches!(channel, Channel::Manual) { "MANUAL" } else { "CAPTURE" },
        "transaction_time": text(payment, "pay_time"),
        "payment_id": text(payment, "payment_id"),
        "is_successful": true,
    });
    match channel {
        Channel::Manual => {}
        Channel::PayPal => {
            set(&mut t, "merchant_account_type", "PAYPAL");
            set(&mut t, "merchant_account_id", "2");
            set(&mut t, "external_reference_id", format!("PAYID-{:016X}", rng.next_u64()));
            set(&mut t, "external_response_code", "Success");
        }
        Channel::Card { merchant_type, merchant_id } => {
            set(&mut t, "merchant_account_type", merchant_type);
            set(&mut t, "merchant_account_id", merchant_id);
            set(&mut t, "external_reference_id", format!("ch_{:016x}", rng.next_u64()));
            set(&mut t, "external_response_code", "approved");
            set(
                &mut t,
                "payment_method",
                saved_card(contact, merchant_type, merchant_id, text(order, "creation_time")),
            );
        }
    }
    t
}

/// The contact's one saved card (`PaymentMethod`), the same on every transaction of theirs: its
/// details are a function of the contact id, its id is the contact id (the simulator serves no
/// payment methods, so nothing else refers to it).
fn saved_card(contact: &Value, merchant_type: &str, merchant_id: &str, created: &str) -> Value {
    let id = text(contact, "id");
    let n: u64 = id.parse().unwrap_or(0);
    let brand = ["Visa", "MasterCard", "American Express", "Discover"][(n % 4) as usize];
    json!({
        "contact_id": id,
        "payment_method_id": id,
        "merchant_account_type": merchant_type,
        "merchant_account_id": merchant_id,
        "payment_method_type": "CARD",
        "created_time": created,
        "card_info": {
            "brand": brand,
            "card_type": if n.is_multiple_of(5) { "DEBIT" } else { "CREDIT" },
            "last_four": format!("{:04}", n.wrapping_mul(7919) % 10_000),
            "expiration_year": (2027 + n % 4).to_string(),
            "expiration_month": format!("{:02}", n % 12 + 1),
            "fingerprint": format!("fp_{:016x}", n.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        },
    })
}

/// Appends `record` with the next id of `out` (1, 2, 3, …).
fn push_with_id(out: &mut Vec<Value>, mut record: Value) {
    set(&mut record, "id", (out.len() + 1).to_string());
    out.push(record);
}

/// Epoch seconds of a timestamp this module wrote.
fn epoch_of(ts: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(ts).map_or(0, |t| t.timestamp())
}

/// Campaigns (`Campaign`), from the catalogue in order. Drafts were never published and have no
/// contacts in them; contact counts stay within the tenant's contacts.
fn campaigns(g: &Gen, n: usize, users: &Batch, contacts: usize) -> Vec<Value> {
    let mut rng = g.rng(12);
    let mut out = Vec::new();
    for i in 0..n {
        let def = &CAMPAIGNS[i % CAMPAIGNS.len()];
        let name = match i / CAMPAIGNS.len() {
            0 => def.name.to_string(),
            round => format!("{} {}", def.name, round + 1),
        };
        let created = rng.between(g.start, g.now - 7 * DAY);
        let (active, completed) = if def.published {
            (rng.between(0, contacts as i64 / 4), rng.between(0, contacts as i64 / 2))
        } else {
            (0, 0)
        };
        let mut rec = json!({
            "id": (i + 1).to_string(),
            "name": name,
            "locked": def.locked,
            "date_created": timestamp(created),
            "published_status": def.published,
            "time_zone": TENANT_TIME_ZONE,
            "active_contact_count": active,
            "completed_contact_count": completed,
        });
        if !users.is_empty() {
            let author = &users.records[rng.below(users.len())];
            set(&mut rec, "created_by_global_id", text(author, "keap_id"));
        }
        if def.published {
            set(&mut rec, "published_date", timestamp(rng.between(created, g.now)));
            set(&mut rec, "published_time_zone", TENANT_TIME_ZONE);
        }
        if let Some(error) = def.error {
            set(&mut rec, "error_message", error);
        }
        out.push(rec);
    }
    out
}

fn notes(g: &Gen, n: usize, contacts: &Batch, users: &Batch) -> Vec<Value> {
    let mut rng = g.rng(9);
    let mut out = Vec::new();
    if contacts.is_empty() {
        return out;
    }
    for id in 1..=n {
        let ci = rng.below(contacts.len());
        let contact = &contacts.records[ci];
        let created = rng.between(contacts.created[ci], g.now);
        let updated = if rng.chance(70) { created } else { rng.between(created, g.now) };
        let (kind, title, body) = *rng.pick(NOTE_TEMPLATES);
        let mut rec = json!({
            "id": id.to_string(),
            "contact_id": text(contact, "id"),
            "type": kind,
            "title": title,
            "text": body.replace("{name}", text(contact, "given_name")),
            "create_time": timestamp(created),
            "update_time": timestamp(updated),
        });
        if let Some(u) = user_for(&mut rng, contact, users) {
            let user = &users.records[u];
            set(&mut rec, "created_by_user_id", text(user, "id"));
            set(&mut rec, "last_updated_by_user_id", text(user, "id"));
            set(
                &mut rec,
                "assigned_to_user",
                json!({
                    "id": text(user, "id"),
                    "given_name": text(user, "given_name"),
                    "family_name": text(user, "family_name"),
                    "email_address": text(&user["email_addresses"][0], "email"),
                }),
            );
        }
        out.push(rec);
    }
    out
}

fn tasks(g: &Gen, n: usize, contacts: &Batch, users: &Batch) -> Vec<Value> {
    let mut rng = g.rng(10);
    let mut out = Vec::new();
    if contacts.is_empty() {
        return out;
    }
    for id in 1..=n {
        let ci = rng.below(contacts.len());
        let contact = &contacts.records[ci];
        let created = rng.between(contacts.created[ci], g.now);
        let due = rng.between(created, (created + 21 * DAY).min(g.now));
        let completed = rng.chance(45);
        let (kind, title, description) = *rng.pick(TASK_TEMPLATES);
        let name = format!("{} {}", text(contact, "given_name"), text(contact, "family_name"));
        let priority = ["ESSENTIAL", "NONESSENTIAL", "CRITICAL"][rng.weighted(&[50, 30, 20])];
        let mut rec = json!({
            "id": id.to_string(),
            "contact_id": text(contact, "id"),
            "type": kind,
            "title": title.replace("{name}", &name),
            "description": description.replace("{name}", &name),
            "priority": priority,
            "completed": completed,
            "accepted": true,
            "due_time": timestamp(due),
            "create_time": timestamp(created),
        });
        let mut modified = rng.between(created, g.now);
        if completed {
            let done = rng.between(created, g.now);
            set(&mut rec, "completion_time", timestamp(done));
            modified = modified.max(done);
        }
        set(&mut rec, "modification_time", timestamp(modified));
        if rng.chance(50) {
            set(&mut rec, "remind_time_mins", *rng.pick(&[15, 30, 60, 1440]));
        }
        if let Some(u) = user_for(&mut rng, contact, users) {
            let uid = text(&users.records[u], "id");
            set(&mut rec, "assigned_to_user_id", uid);
            set(&mut rec, "created_by_user_id", uid);
            set(&mut rec, "last_updated_by_user_id", uid);
        }
        out.push(rec);
    }
    out
}

fn subscriptions(g: &Gen, n: usize, contacts: &Batch, products: &Batch) -> Vec<Value> {
    let mut rng = g.rng(11);
    let mut out = Vec::new();
    let plans: Vec<(&Value, &Value)> = products
        .records
        .iter()
        .flat_map(|p| p["subscription_plans"].as_array().into_iter().flatten().map(move |plan| (p, plan)))
        .collect();
    if contacts.is_empty() || plans.is_empty() {
        return out;
    }
    let today = utc(g.now).date_naive();
    for id in 1..=n {
        let ci = rng.below(contacts.len());
        let (product, plan) = *rng.pick(&plans);
        let yearly = text(plan, "billing_cycle") == "YEARLY";
        let months = if yearly { 12 } else { 1 };
        let started = rng.between(contacts.created[ci], g.now);
        let start = utc(started).date_naive();
        let active = rng.chance(80);
        let stop = if active { today } else { utc(rng.between(started, g.now)).date_naive() };
        let mut cycles = 0;
        while start.checked_add_months(chrono::Months::new(months * (cycles + 1))).is_some_and(|d| d <= stop) {
            cycles += 1;
        }
        let last_bill = start.checked_add_months(chrono::Months::new(months * cycles)).unwrap_or(start);
        let mut rec = json!({
            "id": id.to_string(),
            "contact_id": text(&contacts.records[ci], "id"),
            "product_id": text(product, "id"),
            "subscription_plan_id": text(plan, "id"),
            "billing_amount": dollars(plan["plan_price"]["amount"].as_i64().unwrap_or(0)),
            "billing_cycle": if yearly { "YEAR" } else { "MONTH" },
            "billing_frequency": 1,
            "quantity": 1,
            "active": active,
            "auto_charge": true,
            "allow_tax": false,
            "max_charge_attempts": 3,
            "days_between_retries": 2,
            "start_date": date(started),
            "last_bill_date": last_bill.format("%Y-%m-%d").to_string(),
            "modification_time": timestamp(rng.between(started, g.now)),
        });
        if active {
            let next = start.checked_add_months(chrono::Months::new(months * (cycles + 1))).unwrap_or(start);
            set(&mut rec, "next_bill_date", next.format("%Y-%m-%d").to_string());
        } else {
            set(&mut rec, "end_date", stop.format("%Y-%m-%d").to_string());
            set(
                &mut rec,
                "reason_stopped",
                *rng.pick(&["Customer requested cancellation", "Payment failed", "Switched plans"]),
            );
        }
        out.push(rec);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Catalogues

/// A city with the data needed for addresses and phone numbers.
struct City {
    name: &'static str,
    state: &'static str,
    code: &'static str,
    zip3: u16,
    area: u16,
    tz: &'static str,
}

const fn city(
    name: &'static str,
    state: &'static str,
    code: &'static str,
    zip3: u16,
    area: u16,
    tz: &'static str,
) -> City {
    City { name, state, code, zip3, area, tz }
}

#[rustfmt::skip]
const CITIES: &[City] = &[
    city("Phoenix", "Arizona", "AZ", 850, 602, "America/Phoenix"),
    city("Chandler", "Arizona", "AZ", 852, 480, "America/Phoenix"),
    city("Denver", "Colorado", "CO", 802, 303, "America/Denver"),
    city("Austin", "Texas", "TX", 787, 512, "America/Chicago"),
    city("Dallas", "Texas", "TX", 752, 214, "America/Chicago"),
    city("Houston", "Texas", "TX", 770, 713, "America/Chicago"),
    city("Chicago", "Illinois", "IL", 606, 312, "America/Chicago"),
    city("Columbus", "Ohio", "OH", 432, 614, "America/New_York"),
    city("Atlanta", "Georgia", "GA", 303, 404, "America/New_York"),
    city("Charlotte", "North Carolina", "NC", 282, 704, "America/New_York"),
    city("Raleigh", "North Carolina", "NC", 276, 919, "America/New_York"),
    city("Nashville", "Tennessee", "TN", 372, 615, "America/Chicago"),
    city("Miami", "Florida", "FL", 331, 305, "America/New_York"),
    city("Tampa", "Florida", "FL", 336, 813, "America/New_York"),
    city("Boston", "Massachusetts", "MA", 21, 617, "America/New_York"),
    city("New York", "New York", "NY", 100, 212, "America/New_York"),
    city("Philadelphia", "Pennsylvania", "PA", 191, 215, "America/New_York"),
    city("Seattle", "Washington", "WA", 981, 206, "America/Los_Angeles"),
    city("Portland", "Oregon", "OR", 972, 503, "America/Los_Angeles"),
    city("San Diego", "California", "CA", 921, 619, "America/Los_Angeles"),
    city("Sacramento", "California", "CA", 958, 916, "America/Los_Angeles"),
    city("Salt Lake City", "Utah", "UT", 841, 801, "America/Denver"),
    city("Minneapolis", "Minnesota", "MN", 554, 612, "America/Chicago"),
    city("Kansas City", "Missouri", "MO", 641, 816, "America/Chicago"),
    city("Boise", "Idaho", "ID", 837, 208, "America/Boise"),
];

#[rustfmt::skip]
const STREETS: &[&str] = &[
    "Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Sunset",
    "Highland", "Mill", "Church", "River", "Spring", "Ridge", "Meadow", "Willow", "Franklin",
];

const STREET_TYPES: &[&str] = &["St", "Ave", "Rd", "Blvd", "Dr", "Ln", "Way", "Ct"];

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Christopher", "Karen", "Charles", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony",
    "Sandra", "Mark", "Margaret", "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily",
    "Paul", "Donna", "Joshua", "Michelle", "Kenneth", "Carol", "Kevin", "Amanda", "Brian",
    "Melissa", "George", "Deborah", "Timothy", "Stephanie", "Ronald", "Rebecca", "Jason", "Laura",
    "Edward", "Sharon", "Jeffrey", "Cynthia", "Ryan", "Amy", "Jacob", "Angela", "Gary", "Anna",
    "Nicholas", "Brenda", "Eric", "Emma", "Jonathan", "Olivia", "Carlos", "Sofia", "Luis", "Maria",
    "Wei", "Priya", "Omar", "Aisha", "Diego", "Mei",
];

#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark",
    "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres",
    "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell",
    "Mitchell", "Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker",
    "Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy", "Cook",
    "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey", "Reed", "Kelly",
    "Howard", "Ramos", "Kim", "Cox", "Ward", "O'Brien",
];

#[rustfmt::skip]
const USER_TITLES: &[&str] = &[
    "Owner", "Sales Manager", "Account Executive", "Office Manager", "Marketing Coordinator",
    "Customer Success Manager", "Bookkeeper", "Sales Representative",
];

#[rustfmt::skip]
const JOB_TITLES: &[&str] = &[
    "Owner", "Office Manager", "Marketing Director", "Operations Manager", "Bookkeeper",
    "Sales Manager", "General Manager", "Purchasing Agent", "Administrative Assistant", "Founder",
];

#[rustfmt::skip]
const COMPANY_PREFIXES: &[&str] = &[
    "Acme", "Summit", "Blue Ridge", "Evergreen", "Pioneer", "Harbor", "Redwood", "Silver Creek",
    "Northstar", "Cornerstone", "Lakeside", "Keystone", "Sunrise", "Granite", "Riverbend",
    "Golden Gate", "Prairie", "Maple Leaf", "Ironwood", "Coastal", "Horizon", "Bright Star",
    "Oak Hill", "Cedar Point", "Desert Sun", "Mountain View", "Liberty", "Heritage", "Falcon",
    "Willow Creek",
];

#[rustfmt::skip]
const COMPANY_TRADES: &[&str] = &[
    "Plumbing", "Landscaping", "Dental", "Fitness", "Bakery", "Consulting", "Realty", "Roofing",
    "Auto Repair", "Photography", "Marketing", "Accounting", "Law Group", "Electric", "HVAC",
    "Cleaning Services", "Chiropractic", "Veterinary Clinic", "Construction", "Insurance",
    "Coffee Roasters", "Yoga Studio", "Pet Grooming", "Design Studio",
];

const COMPANY_SUFFIXES: &[&str] = &["LLC", "LLC", "Inc.", "Co.", "Group", "& Sons", ""];

/// (category name, category description, tag names).
#[rustfmt::skip]
const TAG_CATALOG: &[(&str, &str, &[&str])] = &[
    ("Lead Source", "Where the contact came from", &[
        "Website Lead", "Facebook Ad", "Google Ads", "Referral", "Trade Show", "Webinar Signup", "Podcast Listener",
    ]),
    ("Customer Status", "Where the contact is in the customer lifecycle", &[
        "Customer", "VIP Customer", "Past Customer", "Prospect", "Hot Lead", "Cold Lead", "Do Not Contact",
    ]),
    ("Interests", "Products and services the contact asked about", &[
        "Interest - Coaching", "Interest - Workshops", "Interest - Software", "Interest - Consulting",
        "Interest - Membership", "Interest - Events",
    ]),
    ("Nurture", "Automated follow-up sequences", &[
        "Newsletter Subscriber", "Welcome Sequence", "Re-engagement", "Abandoned Cart",
        "Onboarding Complete", "Long-Term Nurture",
    ]),
    ("Events", "Event registrations and attendance", &[
        "Attended Webinar", "Attended Workshop", "Registered - Spring Summit", "No Show", "Event Sponsor",
    ]),
    ("Purchases", "Purchase history and billing", &[
        "Purchased - Starter", "Purchased - Pro", "Purchased - Membership", "Subscription Active",
        "Subscription Cancelled", "Payment Failed", "Upsell Candidate", "Review Requested",
    ]),
];

/// A pipeline stage of the default opportunity pipeline.
struct StageDef {
    name: &'static str,
    probability: i64,
    target_days: i64,
    /// How often opportunities sit in this stage.
    weight: u32,
}

#[rustfmt::skip]
const STAGES: &[StageDef] = &[
    StageDef { name: "New Opportunity", probability: 10, target_days: 7, weight: 25 },
    StageDef { name: "Qualified", probability: 25, target_days: 14, weight: 20 },
    StageDef { name: "Proposal Sent", probability: 50, target_days: 14, weight: 15 },
    StageDef { name: "Negotiation", probability: 75, target_days: 21, weight: 10 },
    StageDef { name: "Closed Won", probability: 100, target_days: 0, weight: 18 },
    StageDef { name: "Closed Lost", probability: 0, target_days: 0, weight: 12 },
];

const DEAL_NAMES: &[&str] = &[
    "Website Redesign",
    "Annual Service Contract",
    "Coaching Package",
    "Bulk Order",
    "Consulting Engagement",
    "Membership Upgrade",
    "Spring Promotion",
    "Renewal",
    "Expansion",
    "Pilot Program",
    "Maintenance Plan",
    "Team Training",
];

const LEAD_SOURCES: &[&str] = &["Website", "Referral", "Google Ads", "Facebook", "Trade Show", "Cold Call", "Webinar"];

const OPPORTUNITY_NOTES: &[&str] = &[
    "Decision expected after their budget review.",
    "Met at the trade show; very interested in the premium tier.",
    "Referred by an existing customer.",
    "Comparing us with two other vendors.",
    "Wants to start next quarter.",
];

const NEXT_ACTIONS: &[&str] = &[
    "Follow up with decision maker",
    "Send revised proposal",
    "Schedule demo",
    "Call to confirm budget",
    "Email case studies",
];

/// Kind of product: drives price range, shipping, inventory and subscription plans.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Service,
    Digital,
    Physical,
    Recurring,
}

impl Kind {
    fn blurb(self) -> &'static str {
        match self {
            Kind::Service => "Delivered by our team on a date that suits you",
            Kind::Digital => "Instant digital access after purchase",
            Kind::Physical => "Ships in 2-3 business days",
            Kind::Recurring => "Recurring plan, cancel anytime",
        }
    }
}

/// The product catalogue; the first entry is recurring so any non-empty catalogue has a plan.
const PRODUCTS: &[(&str, Kind)] = &[
    ("Pro Membership", Kind::Recurring),
    ("Starter Coaching Package", Kind::Service),
    ("1:1 Strategy Session", Kind::Service),
    ("Premium Widget", Kind::Physical),
    ("Online Course: Marketing Basics", Kind::Digital),
    ("Basic Membership", Kind::Recurring),
    ("Group Coaching (6 weeks)", Kind::Service),
    ("VIP Day Intensive", Kind::Service),
    ("eBook: 50 Email Templates", Kind::Digital),
    ("Standard Widget", Kind::Physical),
    ("Widget Maintenance Plan", Kind::Recurring),
    ("Business Growth Workshop", Kind::Service),
    ("Online Course: Sales Mastery", Kind::Digital),
    ("Workbook: Goal Planner", Kind::Physical),
    ("Annual Mastermind", Kind::Service),
    ("Website Audit", Kind::Service),
    ("SEO Starter Package", Kind::Service),
    ("Social Media Management", Kind::Recurring),
    ("Logo Design", Kind::Service),
    ("Brand Identity Kit", Kind::Digital),
    ("Copywriting Package", Kind::Service),
    ("Monthly Bookkeeping", Kind::Recurring),
    ("Tax Preparation", Kind::Service),
    ("Payroll Setup", Kind::Service),
    ("Lawn Care Visit", Kind::Service),
    ("Spring Cleanup", Kind::Service),
    ("Gutter Cleaning", Kind::Service),
    ("Plumbing Inspection", Kind::Service),
    ("Water Heater Install", Kind::Service),
    ("HVAC Tune-Up", Kind::Service),
    ("Carpet Cleaning (3 rooms)", Kind::Service),
    ("Window Washing", Kind::Service),
    ("Teeth Whitening Kit", Kind::Physical),
    ("Personal Training Session", Kind::Service),
    ("10-Class Yoga Pass", Kind::Digital),
    ("Nutrition Plan", Kind::Digital),
    ("Massage (60 min)", Kind::Service),
    ("Headshot Photo Session", Kind::Service),
    ("Event Photography (4 hrs)", Kind::Service),
    ("Branded T-Shirt", Kind::Physical),
    ("Coffee Mug", Kind::Physical),
    ("Gift Card $50", Kind::Digital),
    ("Conference Ticket", Kind::Digital),
    ("Workshop Replay Access", Kind::Digital),
    ("Software License (1 seat)", Kind::Digital),
    ("Software Support Plan", Kind::Recurring),
    ("Consultation (30 min)", Kind::Service),
    ("Home Staging Consultation", Kind::Service),
    ("Real Estate Photography", Kind::Service),
    ("Lawn Care Subscription", Kind::Recurring),
];

/// (note type, title, text with `{name}` = contact's first name). Types are Keap's note types.
#[rustfmt::skip]
const NOTE_TEMPLATES: &[(&str, &str, &str)] = &[
    ("Call", "Discovery call", "Spoke with {name} about their goals for this quarter. Interested in the coaching package; send pricing."),
    ("Call", "Follow-up call", "Left a voicemail for {name}. Will try again on Thursday."),
    ("Call", "Pricing question", "{name} called asking about annual billing. Explained the discount for paying yearly."),
    ("Email", "Sent proposal", "Emailed {name} the proposal and two case studies."),
    ("Email", "Newsletter reply", "{name} replied to the newsletter asking for the workshop dates."),
    ("Email", "Invoice question", "{name} asked for a copy of the last invoice; resent it."),
    ("Appointment", "Consultation booked", "Booked a 30-minute consultation with {name} via the scheduler."),
    ("Appointment", "Site visit", "Visited {name}'s office to review the project scope."),
    ("Letter", "Thank-you card", "Mailed a handwritten thank-you card to {name}."),
    ("Fax", "Signed agreement", "Received the signed service agreement from {name} by fax."),
    ("Other", "General note", "{name} prefers to be contacted in the morning."),
    ("Other", "Referral", "{name} referred a colleague; tagged as referral partner."),
];

/// (task type, title, description) with `{name}` = contact's full name.
#[rustfmt::skip]
const TASK_TEMPLATES: &[(&str, &str, &str)] = &[
    ("CALL", "Follow up with {name}", "Call {name} to follow up on the proposal."),
    ("CALL", "Check in with {name}", "Quarterly check-in call with {name}."),
    ("EMAIL", "Send proposal to {name}", "Prepare and email the proposal to {name}."),
    ("EMAIL", "Send welcome packet", "Email the onboarding guide and login details to {name}."),
    ("APPOINTMENT", "Demo for {name}", "Run a product demo for {name} and their team."),
    ("APPOINTMENT", "Consultation with {name}", "30-minute consultation with {name}."),
    ("OTHER", "Update billing details", "Confirm {name}'s billing address and card on file."),
    ("OTHER", "Request a review", "Ask {name} for a review after the project wraps up."),
];

/// A campaign of the catalogue: whether it is published, locked for editing, or broken.
struct CampaignDef {
    name: &'static str,
    published: bool,
    locked: bool,
    error: Option<&'static str>,
}

const fn campaign(name: &'static str, published: bool, locked: bool, error: Option<&'static str>) -> CampaignDef {
    CampaignDef { name, published, locked, error }
}

#[rustfmt::skip]
const CAMPAIGNS: &[CampaignDef] = &[
    campaign("Welcome New Leads", true, false, None),
    campaign("Tag New Contacts", true, true, None),
    campaign("Spring Sale Campaign", true, false, None),
    campaign("Webinar Follow-Up", true, false, None),
    campaign("Abandoned Cart Recovery", true, false, None),
    campaign("Customer Onboarding", true, true, None),
    campaign("Quote Follow-Up", false, false, Some("Invalid sequence configuration")),
    campaign("Referral Thank-You", true, false, None),
    campaign("Birthday Greetings", true, false, None),
    campaign("Black Friday Sale", false, false, None),
    campaign("Re-engage Lapsed Customers", true, false, None),
    campaign("Review Request", false, false, None),
];

/// The time zone the tenant's campaigns run in.
const TENANT_TIME_ZONE: &str = "America/New_York";

// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-04T10:15:30Z
    const NOW: i64 = 1_772_619_330;

    fn demo() -> BTreeMap<&'static str, Vec<Value>> {
        generate(42, NOW, &SeedCounts::demo())
    }

    fn ids(records: &[Value]) -> BTreeSet<String> {
        records.iter().map(|r| text(r, "id").to_string()).collect()
    }

    fn epoch(ts: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(ts).unwrap_or_else(|e| panic!("bad timestamp {ts}: {e}")).timestamp()
    }

    #[test]
    fn same_seed_same_records_other_seed_other_records() {
        assert_eq!(demo(), demo());
        assert_ne!(demo(), generate(43, NOW, &SeedCounts::demo()));
    }

    #[test]
    fn counts_and_keys() {
        let d = demo();
        let c = SeedCounts::demo();
        let expect = [
            ("users", c.users),
            ("companies", c.companies),
            ("contacts", c.contacts),
            ("tags", c.tags),
            ("opportunities", c.opportunities),
            ("products", c.products),
            ("orders", c.orders),
            ("notes", c.notes),
            ("tasks", c.tasks),
            ("subscriptions", c.subscriptions),
            ("campaigns", c.campaigns),
            ("opportunity_stages", 6),
            ("tag_categories", TAG_CATALOG.len()),
        ];
        for (key, n) in expect {
            assert_eq!(d[key].len(), n, "{key}");
        }
        assert_eq!(d.len(), 15);
        let paid_orders: BTreeSet<&str> = d["payments"].iter().map(|p| text(p, "order_id")).collect();
        assert!((90..=150).contains(&paid_orders.len()), "{} orders with payments", paid_orders.len());
    }

    #[test]
    fn ids_are_sequential_decimal_strings() {
        for (key, records) in demo() {
            for (i, r) in records.iter().enumerate() {
                assert_eq!(r["id"], Value::String((i + 1).to_string()), "{key}");
            }
        }
    }

    #[test]
    fn cross_references_resolve() {
        let d = demo();
        let users = ids(&d["users"]);
        let contacts = ids(&d["contacts"]);
        let tags = ids(&d["tags"]);
        let categories = ids(&d["tag_categories"]);
        let stages = ids(&d["opportunity_stages"]);
        let products = ids(&d["products"]);
        let orders = ids(&d["orders"]);
        let companies: BTreeMap<&str, &str> =
            d["companies"].iter().map(|c| (text(c, "id"), text(c, "company_name"))).collect();
        let with_company = d["contacts"].iter().filter(|c| c.get("company").is_some()).count();
        assert!((180..=240).contains(&with_company), "{with_company} contacts with a company");
        for c in &d["contacts"] {
            assert!(users.contains(text(c, "owner_id")));
            for t in c["tag_ids"].as_array().unwrap() {
                assert!(tags.contains(t.as_str().unwrap()));
            }
            if let Some(co) = c.get("company") {
                assert_eq!(companies[text(co, "id")], text(co, "company_name"));
            }
        }
        for c in &d["companies"] {
            assert!(users.contains(text(c, "owner_id")));
        }
        for t in &d["tags"] {
            assert!(categories.contains(text(&t["category"], "id")));
        }
        for o in &d["opportunities"] {
            assert!(contacts.contains(text(&o["contact"], "id")));
            assert!(stages.contains(text(&o["stage"], "id")));
            assert!(users.contains(text(&o["user"], "id")));
        }
        for rec in d["notes"].iter().chain(&d["tasks"]) {
            assert!(contacts.contains(text(rec, "contact_id")));
            assert!(users.contains(text(rec, "created_by_user_id")));
        }
        for t in &d["tasks"] {
            assert!(users.contains(text(t, "assigned_to_user_id")));
        }
        for o in &d["orders"] {
            assert!(contacts.contains(text(&o["contact"], "id")));
            for item in o["order_items"].as_array().unwrap() {
                assert!(products.contains(text(&item["product"], "id")));
            }
        }
        for p in &d["payments"] {
            assert!(orders.contains(text(p, "order_id")));
            assert_eq!(text(p, "order_id"), text(p, "invoice_id"));
        }
        for c in &d["campaigns"] {
            assert!(d["users"].iter().any(|u| u["keap_id"] == c["created_by_global_id"]), "{c}");
        }
        for s in &d["subscriptions"] {
            assert!(contacts.contains(text(s, "contact_id")));
            let product = &d["products"][text(s, "product_id").parse::<usize>().unwrap() - 1];
            let plans = product["subscription_plans"].as_array().unwrap();
            assert!(plans.iter().any(|p| p["id"] == s["subscription_plan_id"]));
        }
    }

    #[test]
    fn order_totals_are_consistent() {
        let d = demo();
        let mut paid: BTreeMap<&str, i64> = BTreeMap::new();
        for p in &d["payments"] {
            *paid.entry(text(p, "order_id")).or_default() += (p["amount"].as_f64().unwrap() * 100.0).round() as i64;
        }
        for o in &d["orders"] {
            let amount = |key: &str| o[key]["amount"].as_i64().unwrap();
            let sum: i64 = o["order_items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["quantity"].as_i64().unwrap() * i["price_per_unit"]["amount"].as_i64().unwrap())
                .sum();
            assert_eq!(amount("total"), sum);
            assert_eq!(amount("total_paid"), paid.get(text(o, "id")).copied().unwrap_or(0));
            assert_eq!(amount("total_due"), amount("total") - amount("total_paid"));
            assert_eq!(o["status"] == "PAID", amount("total_due") == 0, "order {}", o["id"]);
            assert_eq!(o["total"]["formatted_amount"], usd(amount("total")));
        }
    }

    #[test]
    fn every_payment_has_one_successful_transaction_with_its_order_contact_amount_and_time() {
        let d = demo();
        let orders: BTreeMap<&str, &Value> = d["orders"].iter().map(|o| (text(o, "id"), o)).collect();
        let mut by_payment: BTreeMap<&str, &Value> = BTreeMap::new();
        for t in &d["transactions"] {
            let order_ids = t["order_ids"].as_array().unwrap();
            assert_eq!(order_ids.len(), 1);
            let order = orders[order_ids[0].as_str().unwrap()];
            assert_eq!(t["contact"], order["contact"]);
            assert_eq!(t["contact_id"], order["contact"]["id"]);
            assert!(epoch(text(t, "transaction_time")) >= epoch(text(order, "creation_time")));
            assert!(epoch(text(t, "transaction_time")) <= NOW);
            if t["is_successful"] == true {
                assert_eq!(t["status"], "APPROVED");
                assert!(by_payment.insert(text(t, "payment_id"), t).is_none(), "one transaction per payment");
            } else {
                assert_eq!(t["status"], "FAILED");
                assert!(t.get("payment_id").is_none() && t.get("error_details").is_some());
            }
        }
        assert_eq!(by_payment.len(), d["payments"].len());
        for p in &d["payments"] {
            let t = by_payment[text(p, "id")];
            assert_eq!((&t["amount"], &t["transaction_time"]), (&p["amount"], &p["pay_time"]));
            assert_eq!(t["order_ids"][0], p["order_id"]);
            let manual = p["pay_status"] == "MANUAL_PAID";
            assert_eq!(t["transaction_method"] == "MANUAL", manual);
            assert_eq!(t.get("merchant_account_type").is_none(), manual);
        }
        let failed = d["transactions"].len() - d["payments"].len();
        assert!((1..=20).contains(&failed), "{failed} declined attempts");
    }

    #[test]
    fn campaigns_come_from_the_catalogue_and_only_published_ones_have_contacts() {
        let d = demo();
        assert_eq!(d["campaigns"].len(), CAMPAIGNS.len());
        for (c, def) in d["campaigns"].iter().zip(CAMPAIGNS) {
            assert_eq!(c["name"], def.name);
            assert_eq!(c["published_status"], def.published);
            assert_eq!(c.get("published_date").is_some(), def.published);
            let created = epoch(text(c, "date_created"));
            assert!(created <= NOW);
            if def.published {
                assert!(created <= epoch(text(c, "published_date")) && epoch(text(c, "published_date")) <= NOW);
            } else {
                assert_eq!((&c["active_contact_count"], &c["completed_contact_count"]), (&json!(0), &json!(0)));
            }
            assert!(c["active_contact_count"].as_i64().unwrap() <= 75);
        }
        let more = generate(42, NOW, &SeedCounts { campaigns: 14, ..SeedCounts::demo() });
        assert_eq!(more["campaigns"][13]["name"], "Tag New Contacts 2");
    }

    #[test]
    fn emails_are_unique_lower_case_and_slotted() {
        let d = demo();
        let mut seen = BTreeSet::new();
        for c in d["users"].iter().chain(&d["contacts"]) {
            let list = c["email_addresses"].as_array().unwrap();
            assert_eq!(list[0]["field"], "EMAIL1");
            for (i, e) in list.iter().enumerate() {
                let email = text(e, "email");
                assert_eq!(e["field"], format!("EMAIL{}", i + 1));
                assert_eq!(email, email.to_lowercase());
                assert_eq!(email.matches('@').count(), 1);
                assert!(seen.insert(email.to_string()), "duplicate {email}");
            }
        }
    }

    #[test]
    fn timestamps_are_in_the_past_and_ordered() {
        let d = demo();
        let pairs = [
            ("users", "create_time", "update_time"),
            ("companies", "create_time", "update_time"),
            ("contacts", "create_time", "update_time"),
            ("tags", "create_time", "update_time"),
            ("products", "create_time", "update_time"),
            ("notes", "create_time", "update_time"),
            ("tasks", "create_time", "modification_time"),
            ("opportunities", "created_time", "last_updated_time"),
            ("orders", "creation_time", "modification_time"),
        ];
        for (key, created, updated) in pairs {
            for r in &d[key] {
                let (c, u) = (epoch(text(r, created)), epoch(text(r, updated)));
                assert!(c <= u && u <= NOW, "{key} {}", r["id"]);
                assert!(text(r, created).ends_with(".000Z"));
            }
        }
        for t in &d["tasks"] {
            assert!(epoch(text(t, "due_time")) <= NOW);
        }
        for p in &d["payments"] {
            assert!(epoch(text(p, "pay_time")) <= NOW);
        }
        assert_eq!(timestamp(NOW), "2026-03-04T10:15:30.000Z");
    }

    #[test]
    fn empty_counts_and_missing_parents() {
        let d = generate(7, NOW, &SeedCounts::empty());
        assert_eq!(d["opportunity_stages"].len(), 6);
        assert!(d.iter().filter(|(k, _)| **k != "opportunity_stages").all(|(_, v)| v.is_empty()));

        let orphans =
            SeedCounts { notes: 5, tasks: 5, orders: 5, opportunities: 5, subscriptions: 5, ..SeedCounts::empty() };
        let d = generate(7, NOW, &orphans);
        assert!(d["notes"].is_empty() && d["orders"].is_empty() && d["subscriptions"].is_empty());

        let no_users = SeedCounts {
            contacts: 20,
            products: 3,
            orders: 10,
            notes: 5,
            tasks: 5,
            opportunities: 5,
            subscriptions: 5,
            ..SeedCounts::empty()
        };
        let d = generate(7, NOW, &no_users);
        assert_eq!(d["orders"].len(), 10);
        assert_eq!(d["subscriptions"].len(), 5);
        assert!(d["contacts"].iter().all(|c| c.get("owner_id").is_none() && c.get("company").is_none()));
    }

    #[test]
    fn large_counts_keep_names_unique() {
        let big = SeedCounts { tags: 120, products: 130, companies: 800, ..SeedCounts::empty() };
        let d = generate(1, NOW, &big);
        for (key, field) in [("tags", "name"), ("products", "sku"), ("products", "name"), ("companies", "company_name")]
        {
            let names: BTreeSet<&str> = d[key].iter().map(|r| text(r, field)).collect();
            assert_eq!(names.len(), d[key].len(), "{key}.{field}");
        }
    }

    #[test]
    fn money_formatting() {
        assert_eq!(usd(0), "$0.00");
        assert_eq!(usd(99), "$0.99");
        assert_eq!(usd(100_000), "$1,000.00");
        assert_eq!(usd(12_345_600), "$123,456.00");
        assert_eq!(usd(123_456_789), "$1,234,567.89");
        assert_eq!(dollars(1234), 12.34);
    }

    /// Writes the demo data set as JSON for external validation:
    /// `SEED_DUMP=/tmp/seed.json cargo test dump_demo_json -- --ignored`.
    #[test]
    #[ignore]
    fn dump_demo_json() {
        let path = std::env::var("SEED_DUMP").unwrap_or_else(|_| "/tmp/seed.json".to_string());
        let text = serde_json::to_string_pretty(&demo()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}
