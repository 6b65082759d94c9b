//! Injected faults (`POST /__sim/faults`): make matching calls fail with a status, answer late, or
//! lose their connection, for the next N calls or for a share of calls. Faults never apply to the
//! `/__sim/` controls themselves.

use serde::{Deserialize, Serialize};

/// What a test asks for. Field aliases (`path`, `delay`, `drop`, `times`, `share`) accept the
/// names a test written against another simulator may use.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Calls whose path starts with this prefix are affected (e.g. `/crm/rest/v2/contacts`, `/token`).
    #[serde(default = "root", alias = "path", alias = "prefix")]
    pub path_prefix: String,
    /// Only calls with this HTTP method (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Answer with this status (and a vendor-style error body) instead of serving the call.
    #[serde(default)]
    pub status: Option<u16>,
    /// Wait this long before answering (or before dropping the connection).
    #[serde(default, alias = "delay")]
    pub delay_ms: u64,
    /// Close the connection without any response.
    #[serde(default, alias = "drop")]
    pub drop_connection: bool,
    /// Affect the next `count` matching calls (default 1); ignored when `probability` is set.
    #[serde(default, alias = "times", alias = "n")]
    pub count: Option<u64>,
    /// Affect this share (0.0–1.0) of matching calls until the faults are cleared.
    #[serde(default, alias = "share", alias = "rate")]
    pub probability: Option<f64>,
}

fn root() -> String {
    "/".into()
}

impl FaultSpec {
    /// Checks a spec a test posted; the message names the wrong field.
    pub fn validate(&self) -> Result<(), String> {
        if !self.path_prefix.starts_with('/') {
            return Err("path_prefix must start with '/'".into());
        }
        if let Some(status) = self.status {
            if !(100..=599).contains(&status) {
                return Err("status must be an HTTP status code (100-599)".into());
            }
        }
        if self.status.is_none() && self.delay_ms == 0 && !self.drop_connection {
            return Err("a fault needs at least one of status, delay_ms or drop_connection".into());
        }
        if self.delay_ms > 600_000 {
            return Err("delay_ms must be at most 600000".into());
        }
        if let Some(p) = self.probability {
            if !(0.0..=1.0).contains(&p) {
                return Err("probability must be between 0 and 1".into());
            }
        }
        if self.count == Some(0) {
            return Err("count must be at least 1".into());
        }
        Ok(())
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        path.starts_with(&self.path_prefix) && self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

/// The fault to apply to one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub status: Option<u16>,
    pub delay_ms: u64,
    pub drop_connection: bool,
}

/// A fault with what is left of it.
#[derive(Debug)]
struct Armed {
    spec: FaultSpec,
    remaining: Option<u64>,
}

/// The faults in force, first match wins.
#[derive(Debug, Default)]
pub struct FaultTable {
    armed: Vec<Armed>,
}

impl FaultTable {
    pub fn add(&mut self, spec: FaultSpec) {
        let remaining = if spec.probability.is_some() { None } else { Some(spec.count.unwrap_or(1)) };
        self.armed.push(Armed { spec, remaining });
    }

    pub fn clear(&mut self) {
        self.armed.clear();
    }

    pub fn list(&self) -> Vec<serde_json::Value> {
        self.armed.iter().map(|a| serde_json::json!({"fault": a.spec, "remaining": a.remaining})).collect()
    }

    /// The fault for a call, consuming one use of a counted fault. `roll` is a uniform number in
    /// [0, 1) used for probabilistic faults.
    pub fn take(&mut self, method: &str, path: &str, roll: f64) -> Option<Fault> {
        let index = self.armed.iter().position(|a| a.spec.matches(method, path))?;
        let armed = &mut self.armed[index];
        let fault = Fault {
            status: armed.spec.status,
            delay_ms: armed.spec.delay_ms,
            drop_connection: armed.spec.drop_connection,
        };
        match (&mut armed.remaining, armed.spec.probability) {
            (_, Some(p)) => (roll < p).then_some(fault),
            (Some(left), None) => {
                *left -= 1;
                if *left == 0 {
                    self.armed.remove(index);
                }
                Some(fault)
            }
            (None, None) => Some(fault),
        }
    }
}

/// Middleware applying injected faults to every route but `/__sim/...`.
pub async fn inject(
    axum::extract::State(sim): axum::extract::State<std::sync::Arc<crate::state::Sim>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = request.uri().path();
    if path.starts_with("/__sim/") {
        return next.run(request).await;
    }
    let roll: f64 = rand::random();
    let fault = sim.faults.lock().unwrap_or_else(|e| e.into_inner()).take(request.method().as_str(), path, roll);
    let Some(fault) = fault else { return next.run(request).await };
    crate::state::Stats::bump(&sim.stats.faults_injected);
    if fault.delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(fault.delay_ms)).await;
    }
    if fault.drop_connection {
        if let Some(kill) = request.extensions().get::<crate::server::ConnectionKill>() {
            kill.kill();
        }
        // The connection is being torn down; this future is dropped with it.
        std::future::pending::<()>().await;
    }
    match fault.status.and_then(|s| axum::http::StatusCode::from_u16(s).ok()) {
        Some(status) => crate::errors::ApiError { status, message: "Injected fault".into() }.into_response(),
        None => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(prefix: &str, count: Option<u64>, probability: Option<f64>) -> FaultSpec {
        FaultSpec {
            path_prefix: prefix.into(),
            method: None,
            status: Some(503),
            delay_ms: 0,
            drop_connection: false,
            count,
            probability,
        }
    }

    #[test]
    fn counted_fault_applies_n_times_to_matching_paths_only() {
        let mut table = FaultTable::default();
        table.add(spec("/crm/rest/v2/contacts", Some(2), None));
        assert!(table.take("GET", "/crm/rest/v2/companies", 0.0).is_none());
        assert!(table.take("GET", "/crm/rest/v2/contacts/1", 0.0).is_some());
        assert!(table.take("GET", "/crm/rest/v2/contacts", 0.0).is_some());
        assert!(table.take("GET", "/crm/rest/v2/contacts", 0.0).is_none());
    }

    #[test]
    fn probabilistic_fault_follows_the_roll() {
        let mut table = FaultTable::default();
        table.add(spec("/", None, Some(0.25)));
        assert!(table.take("GET", "/x", 0.1).is_some());
        assert!(table.take("GET", "/x", 0.9).is_none());
        assert!(table.take("GET", "/x", 0.2).is_some(), "stays armed");
    }

    #[test]
    fn accepts_the_usual_alternative_field_names() {
        let spec: FaultSpec = serde_json::from_str(r#"{"path": "/token", "status": 503, "times": 2}"#).unwrap();
        assert_eq!((spec.path_prefix.as_str(), spec.count), ("/token", Some(2)));
    }

    #[test]
    fn rejects_meaningless_specs() {
        let mut s = spec("/", None, None);
        s.status = None;
        assert!(s.validate().is_err());
        assert!(spec("nope", None, None).validate().is_err());
        assert!(spec("/", None, Some(1.5)).validate().is_err());
    }
}
