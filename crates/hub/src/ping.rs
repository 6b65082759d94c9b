//! The ping: one cheap vendor call with the session's credentials (its token refreshed if due,
//! counted against the rate limit like any call), and how long it took.

use std::time::Instant;

use connector::reqwest::Method;
use connector::{VendorError, VendorRequest};

use crate::{Hub, HubError, Session};

/// A successful ping.
#[derive(Debug, Clone, Copy)]
pub struct Pong {
    pub vendor_status: u16,
    /// Milliseconds, to a tenth.
    pub latency_ms: f64,
}

impl Hub {
    pub async fn ping(&self, session: &Session<'_>) -> Result<Pong, HubError> {
        let started = Instant::now();
        let request = VendorRequest::new(Method::GET, "v2/users").query("page_size", "1");
        let reply = self.vendor.send(&session.call, &request).await?;
        if !(200..300).contains(&reply.status) {
            return Err(VendorError::status(reply.status, &reply.body).into());
        }
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(Pong { vendor_status: reply.status, latency_ms: (latency_ms * 10.0).round() / 10.0 })
    }
}
