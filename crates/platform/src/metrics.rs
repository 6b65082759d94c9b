//! The one module that owns every metric, in a `prometheus-client` registry held by the
//! [`crate::Platform`] (`GET /metrics` serves it):
//! - `junction_http_requests_total{route, method, status}` and
//!   `junction_http_request_duration_seconds{route, method}` (histogram), recorded by the HTTP
//!   layer's middleware; `route` is the route template (`/elements/api-v2/instances/{id}`), never
//!   the raw path, so ids and tokens never become labels; a request no route matched is `unmatched`;
//! - `junction_vendor_calls_total{kind="rest"|"token", outcome}`, `outcome` the vendor's HTTP
//!   status class (`2xx`, `4xx`, `5xx`, ...) or `transport` when it did not answer;
//! - `junction_token_refreshes_total{trigger, outcome}`: every pass through the refresh path
//!   ([`crate::tokens`]), by what asked for it and what came of it;
//! - `junction_events_detected_total{source}` (changes recorded by polls and backfills),
//!   `junction_event_notifications_total{outcome="notified"|"failed"}` (delivery attempts) and
//!   `junction_event_delivery_seconds` (histogram: from a notification's recording to its
//!   delivery); `junction_event_outbox_depth` and `junction_event_oldest_undelivered_seconds`
//!   (gauges, set by the delivery worker from the store).
//!
//! Every label value is a fixed word, a route template or a status number: no secret, id or
//! query string can reach the output.
//!
//! The body is the Prometheus text format 0.0.4 (`text/plain; version=0.0.4`), or OpenMetrics 1.0
//! when the scraper's `Accept` asks for `application/openmetrics-text` (Prometheus does).

use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use connector::reqwest::{Method, StatusCode};
use domain::token_rules::{RefreshOutcome, TransientCause};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of the Prometheus text format 0.0.4.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The `Content-Type` of OpenMetrics 1.0 text.
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The most route series a thread keeps handles to; routes are templates, so a process has fewer.
const KEPT_ROUTE_SERIES: usize = 512;

thread_local! {
    /// The handles to the series of the routes this thread has served: a request's counting then
    /// neither builds its labels (two `String`s) nor hashes them in the families (two SipHash
    /// lookups under a lock), 1,350 instructions a request. A handle shares its series' value.
    static ROUTE_SERIES: RefCell<Vec<RouteSeries>> = const { RefCell::new(Vec::new()) };
}

/// One route and method's series in one registry.
struct RouteSeries {
    registry: u64,
    route: Box<str>,
    method: &'static str,
    latency: Histogram,
    /// `junction_http_requests_total` by status.
    by_status: Vec<(u16, Counter)>,
}

/// The `route` label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// Latency buckets in seconds, up to the vendor timeout (30 s).
const LATENCY_BUCKETS: [f64; 13] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    route: String,
    method: &'static str,
}

/// Which vendor surface a call went to.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum VendorKind {
    /// The REST API (`/crm/rest/...`).
    rest,
    /// The OAuth token endpoint (code exchange, refresh).
    token,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VendorLabels {
    kind: VendorKind,
    outcome: &'static str,
}

/// What asked for a token refresh.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Trigger {
    /// The hub, before a call, because the token was due.
    proactive,
    /// The hub, after the vendor answered 401.
    reactive,
    /// `PUT /instances/{id}/tokens/refresh` (and any other explicit API request).
    manual,
    /// The background job ([`crate::token_refresh_job`]).
    background,
}

/// What came of a token refresh.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum RefreshResult {
    /// The vendor issued a new pair, now stored.
    refreshed,
    /// Another worker had already refreshed (or the instance was not valid): the stored pair is used.
    unchanged,
    /// The vendor answered `invalid_grant`: the instance is now invalid.
    invalid,
    /// The vendor or the store failed; the instance stays valid.
    transient,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Delivery latency buckets in seconds: from sub-second (webhooks, poll now) to the retries' hours.
const DELIVERY_BUCKETS: [f64; 12] = [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0, 259200.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefreshLabels {
    trigger: Trigger,
    outcome: RefreshResult,
}

/// The registry and the handles to every metric in it; one per process, shared through
/// [`crate::Platform::metrics`].
pub struct Metrics {
    /// Tells this registry's series apart from another's in [`ROUTE_SERIES`] (tests run several).
    id: u64,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    vendor_calls: Family<VendorLabels, Counter>,
    refreshes: Family<RefreshLabels, Counter>,
    events_detected: Family<SourceLabels, Counter>,
    notifications: Family<OutcomeLabels, Counter>,
    delivery_latency: Histogram,
    outbox_depth: Gauge,
    oldest_undelivered: Gauge,
    bulk_jobs: Family<StatusLabels, Gauge>,
    bulk_records: Family<KindLabels, Counter>,
    bulk_calls_per_job: Histogram,
    formula_executions: Family<StatusLabels, Counter>,
    formula_steps: Family<StepLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabels {
    kind: String,
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// Vendor calls per bulk job: from a one-page export to a million-row upload.
const CALLS_PER_JOB_BUCKETS: [f64; 8] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0];

impl fmt::Debug for Metrics {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every Junction metric registered (and no series yet).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> Histogram);
        let vendor_calls = Family::<VendorLabels, Counter>::default();
        let refreshes = Family::<RefreshLabels, Counter>::default();
        // Counters are registered without `_total`: the encoder appends it.
        registry.register(
            "junction_http_requests",
            "HTTP requests served, by route template, method and status",
            requests.clone(),
        );
        registry.register(
            "junction_http_request_duration_seconds",
            "Time to the response head, by route template and method",
            latency.clone(),
        );
        registry.register(
            "junction_vendor_calls",
            "Calls to the vendor, by kind (rest, token) and outcome (HTTP status class, or transport)",
            vendor_calls.clone(),
        );
        registry.register(
            "junction_token_refreshes",
            "Token refreshes, by trigger (proactive, reactive, manual, background) and outcome",
            refreshes.clone(),
        );
        let events_detected = Family::<SourceLabels, Counter>::default();
        let notifications = Family::<OutcomeLabels, Counter>::default();
        let delivery_latency = Histogram::new(DELIVERY_BUCKETS);
        let outbox_depth = Gauge::default();
        let oldest_undelivered = Gauge::default();
        registry.register(
            "junction_events_detected",
            "Vendor changes recorded as events, by source (polling, backfill)",
            events_detected.clone(),
        );
        registry.register(
            "junction_event_notifications",
            "Notification delivery attempts, by outcome (notified, failed)",
            notifications.clone(),
        );
        registry.register(
            "junction_event_delivery_seconds",
            "From a notification's recording to its delivery",
            delivery_latency.clone(),
        );
        registry.register(
            "junction_event_outbox_depth",
            "Notifications recorded and not yet delivered (NEW or DISPATCHED)",
            outbox_depth.clone(),
        );
        registry.register(
            "junction_event_oldest_undelivered_seconds",
            "Age of the oldest notification not yet delivered",
            oldest_undelivered.clone(),
        );
        let bulk_jobs = Family::<StatusLabels, Gauge>::default();
        let bulk_records = Family::<KindLabels, Counter>::default();
        let bulk_calls_per_job = Histogram::new(CALLS_PER_JOB_BUCKETS);
        registry.register("junction_bulk_jobs", "Bulk jobs, by status", bulk_jobs.clone());
        registry.register(
            "junction_bulk_records",
            "Records exported (kind query) and upload rows processed (kind upload) by bulk jobs; its rate is records per second",
            bulk_records.clone(),
        );
        registry.register(
            "junction_bulk_vendor_calls_per_job",
            "Vendor calls of each bulk job that ended",
            bulk_calls_per_job.clone(),
        );
        let formula_executions = Family::<StatusLabels, Counter>::default();
        let formula_steps = Family::<StepLabels, Counter>::default();
        registry.register(
            "junction_formula_executions",
            "Formula executions this node ended, by status (success, failed)",
            formula_executions.clone(),
        );
        registry.register(
            "junction_formula_steps",
            "Formula step runs this node made, by step type and status (success, failed)",
            formula_steps.clone(),
        );
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Metrics {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            registry,
            formula_executions,
            formula_steps,
            bulk_jobs,
            bulk_records,
            bulk_calls_per_job,
            requests,
            latency,
            vendor_calls,
            refreshes,
            events_detected,
            notifications,
            delivery_latency,
            outbox_depth,
            oldest_undelivered,
        }
    }

    /// Counts one served request and its latency, through the thread's handles to the route's
    /// series ([`ROUTE_SERIES`]).
    pub fn record_request(&self, route: &str, method: &Method, status: StatusCode, seconds: f64) {
        let (method, status) = (method_label(method), status.as_u16());
        let counted = ROUTE_SERIES.try_with(|kept| {
            let mut kept = kept.borrow_mut();
            let known = kept
                .iter()
                .position(|series| series.registry == self.id && series.method == method && *series.route == *route);
            let at = known.unwrap_or_else(|| {
                if kept.len() >= KEPT_ROUTE_SERIES {
                    kept.clear();
                }
                let latency = self.latency.get_or_create(&LatencyLabels { route: route.to_string(), method }).clone();
                kept.push(RouteSeries {
                    registry: self.id,
                    route: route.into(),
                    method,
                    latency,
                    by_status: Vec::new(),
                });
                kept.len() - 1
            });
            let series = &mut kept[at];
            match series.by_status.iter().find(|(code, _)| *code == status) {
                Some((_, requests)) => {
                    requests.inc();
                }
                None => {
                    let labels = RequestLabels { route: route.to_string(), method, status };
                    let requests = self.requests.get_or_create(&labels).clone();
                    requests.inc();
                    series.by_status.push((status, requests));
                }
            }
            series.latency.observe(seconds);
        });
        // Only while the thread is being torn down: through the families.
        if counted.is_err() {
            self.requests.get_or_create(&RequestLabels { route: route.to_string(), method, status }).inc();
            self.latency.get_or_create(&LatencyLabels { route: route.to_string(), method }).observe(seconds);
        }
    }

    /// Counts one vendor REST call: `status` is the vendor's answer, `None` when it did not answer.
    pub fn record_rest_call(&self, status: Option<u16>) {
        self.vendor_call(VendorKind::rest, status.map_or("transport", status_class));
    }

    /// Counts one call to the vendor's token endpoint, from its classified answer.
    pub fn record_token_call(&self, outcome: &RefreshOutcome) {
        let outcome = match outcome {
            RefreshOutcome::Refreshed(_) | RefreshOutcome::Transient(TransientCause::MalformedSuccess) => "2xx",
            RefreshOutcome::InvalidGrant { .. }
            | RefreshOutcome::Transient(TransientCause::RateLimited | TransientCause::Refused { .. }) => "4xx",
            RefreshOutcome::Transient(TransientCause::VendorStatus(status)) => status_class(*status),
            RefreshOutcome::Transient(TransientCause::Transport | TransientCause::Timeout) => "transport",
        };
        self.vendor_call(VendorKind::token, outcome);
    }

    fn vendor_call(&self, kind: VendorKind, outcome: &'static str) {
        self.vendor_calls.get_or_create(&VendorLabels { kind, outcome }).inc();
    }

    /// Counts one pass through the refresh path.
    pub fn record_refresh(&self, trigger: Trigger, outcome: RefreshResult) {
        self.refreshes.get_or_create(&RefreshLabels { trigger, outcome }).inc();
    }

    /// Counts `changes` changes recorded from `source`.
    pub fn record_events_detected(&self, source: &'static str, changes: usize) {
        self.events_detected.get_or_create(&SourceLabels { source }).inc_by(changes as u64);
    }

    /// Counts one delivery attempt; a delivered one also records how long it waited in the outbox.
    pub fn record_notification(&self, notified: bool, waited: std::time::Duration) {
        let outcome = if notified { "notified" } else { "failed" };
        self.notifications.get_or_create(&OutcomeLabels { outcome }).inc();
        if notified {
            self.delivery_latency.observe(waited.as_secs_f64());
        }
    }

    /// Sets the outbox gauges from the store's counts.
    pub fn set_outbox(&self, depth: u64, oldest_seconds: u64) {
        self.outbox_depth.set(i64::try_from(depth).unwrap_or(i64::MAX));
        self.oldest_undelivered.set(i64::try_from(oldest_seconds).unwrap_or(i64::MAX));
    }

    /// Sets the bulk job gauges from the store's counts (every status, absent ones at zero).
    pub fn set_bulk_jobs(&self, counts: &[(store::BulkStatus, u64)]) {
        for status in store::BulkStatus::ALL {
            let count = counts.iter().find(|(counted, _)| *counted == status).map_or(0, |(_, count)| *count);
            self.bulk_jobs
                .get_or_create(&StatusLabels { status: status.as_str() })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Counts `records` records (or rows) a bulk job of `kind` (`query`, `upload`) processed.
    pub fn record_bulk_records(&self, kind: &'static str, records: u64) {
        self.bulk_records.get_or_create(&KindLabels { kind }).inc_by(records);
    }

    /// Records the vendor calls of a bulk job that ended.
    pub fn record_bulk_job_end(&self, vendor_calls: u64) {
        self.bulk_calls_per_job.observe(vendor_calls as f64);
    }

    /// Counts a formula execution this node ended with `status`.
    pub fn record_formula_execution(&self, status: &'static str) {
        self.formula_executions.get_or_create(&StatusLabels { status }).inc();
    }

    /// Counts a formula step run of type `kind` that ended with `status`.
    pub fn record_formula_step(&self, kind: &str, status: &'static str) {
        self.formula_steps.get_or_create(&StepLabels { kind: kind.to_owned(), status }).inc();
    }

    /// The registry as OpenMetrics 1.0 text (ending with `# EOF`).
    pub fn openmetrics(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// The registry in the Prometheus text format 0.0.4.
    pub fn text(&self) -> String {
        openmetrics_to_text(&self.openmetrics())
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// A bounded method label: the standard methods by name, anything else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// `2xx`, `4xx`, ... for an HTTP status.
fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// OpenMetrics text to the Prometheus text format 0.0.4: the two differ, for what this registry
/// holds, only in the counters' family names (`x` in OpenMetrics, `x_total` in 0.0.4, where the
/// `# HELP`/`# TYPE` name must be the samples' name), `# UNIT` lines, and the `# EOF` marker.
fn openmetrics_to_text(openmetrics: &str) -> String {
    let counters: HashSet<&str> = openmetrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let descriptor = ["# HELP ", "# TYPE "].into_iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then_some((prefix, name, tail))
        });
        match descriptor {
            Some((prefix, name, tail)) => {
                text.push_str(prefix);
                text.push_str(name);
                text.push_str("_total ");
                text.push_str(tail);
            }
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_named_with_total_in_the_text_format() {
        let metrics = Metrics::new();
        metrics.record_request("/healthz", &Method::GET, StatusCode::OK, 0.001);
        metrics.record_rest_call(Some(503));
        metrics.record_rest_call(None);
        metrics.record_refresh(Trigger::background, RefreshResult::unchanged);
        let text = metrics.text();
        assert!(text.contains("# TYPE junction_http_requests_total counter\n"), "{text}");
        assert!(text.contains("# HELP junction_http_requests_total "), "{text}");
        assert!(text.contains("junction_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"} 1\n"));
        assert!(text.contains("# TYPE junction_http_request_duration_seconds histogram\n"), "{text}");
        assert!(text.contains("junction_http_request_duration_seconds_bucket{"), "{text}");
        assert!(text.contains("junction_vendor_calls_total{kind=\"rest\",outcome=\"5xx\"} 1\n"), "{text}");
        assert!(text.contains("junction_vendor_calls_total{kind=\"rest\",outcome=\"transport\"} 1\n"), "{text}");
        assert!(text.contains("junction_token_refreshes_total{trigger=\"background\",outcome=\"unchanged\"} 1\n"));
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"), "{text}");
        assert!(metrics.openmetrics().ends_with("# EOF\n"));
    }

    #[test]
    fn requests_count_by_route_method_and_status_in_each_registry_apart() {
        let (first, second) = (Metrics::new(), Metrics::new());
        for status in [StatusCode::OK, StatusCode::NOT_FOUND, StatusCode::OK] {
            first.record_request("/hubs/{hub}/{object}", &Method::GET, status, 0.001);
        }
        first.record_request("/hubs/{hub}/{object}", &Method::POST, StatusCode::OK, 0.001);
        first.record_request("/healthz", &Method::GET, StatusCode::OK, 0.001);
        second.record_request("/healthz", &Method::GET, StatusCode::OK, 0.001);
        let counted = |metrics: &Metrics, series: &str| {
            let text = metrics.text();
            let line = text.lines().find(|line| line.starts_with(series)).map(str::to_string);
            line.and_then(|line| line.rsplit(' ').next().map(str::to_string))
        };
        let requests = "junction_http_requests_total{route=\"/hubs/{hub}/{object}\",method=";
        assert_eq!(counted(&first, &format!("{requests}\"GET\",status=\"200\"}}")).as_deref(), Some("2"));
        assert_eq!(counted(&first, &format!("{requests}\"GET\",status=\"404\"}}")).as_deref(), Some("1"));
        assert_eq!(counted(&first, &format!("{requests}\"POST\",status=\"200\"}}")).as_deref(), Some("1"));
        let latency = "junction_http_request_duration_seconds_count{route=\"/hubs/{hub}/{object}\",method=\"GET\"}";
        assert_eq!(counted(&first, latency).as_deref(), Some("3"));
        let health = "junction_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}";
        assert_eq!(counted(&first, health).as_deref(), Some("1"));
        assert_eq!(counted(&second, health).as_deref(), Some("1"));
        assert_eq!(counted(&second, requests), None, "the other registry's routes are not in this one");
        // From another thread, the same series.
        std::thread::scope(|scope| {
            scope.spawn(|| first.record_request("/healthz", &Method::GET, StatusCode::OK, 0.001));
        });
        assert_eq!(counted(&first, health).as_deref(), Some("2"));
    }

    #[test]
    fn unknown_methods_and_statuses_stay_bounded() {
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(999), "other");
    }
}
