//! What a hub call of an instance is made with: its [`InstanceTokens`], the [`CallRecorder`] that
//! counts every vendor attempt in the metrics and, while the instance's trace logging is on,
//! records it in its trace log, and the OAuth client id its rate limit is kept under.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use connector::rate_limit::Priority;
use connector::{CallContext, CallObserver, VendorRequest};
use hub::Session;
use mapping::common::CommonObjects;
use store::{InstanceId, InstanceRecord};

use crate::tokens::InstanceTokens;
use crate::Platform;

/// Trace-log writes in flight at most, per process; a call traced past this is not recorded.
const MAX_TRACE_WRITES: u32 = 4;
static TRACE_WRITES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_TRACE_WRITES as usize);
/// The longest [`trace_writes_flushed`] waits.
const TRACE_FLUSH_WAIT: Duration = Duration::from_secs(2);

/// Waits (at most two seconds) until the trace-log writes in flight in this process are done: a
/// page that shows the trace log right after making a call (the console's Test connection) then
/// lists that call.
pub async fn trace_writes_flushed() {
    let all = TRACE_WRITES.acquire_many(MAX_TRACE_WRITES);
    if let Ok(Ok(permits)) = tokio::time::timeout(TRACE_FLUSH_WAIT, all).await {
        drop(permits);
    }
}

/// Everything a [`Session`] of one instance borrows.
#[derive(Debug)]
pub struct InstanceCall<'a> {
    instance: &'a InstanceRecord,
    tokens: InstanceTokens<'a>,
    recorder: CallRecorder<'a>,
    client_id: String,
    /// The instance's common resources, when the caller loaded them (hub API calls do).
    common: Option<Arc<CommonObjects>>,
}

impl<'a> InstanceCall<'a> {
    pub fn new(platform: &'a Platform, instance: &'a InstanceRecord) -> Self {
        let client_id = instance.secrets.get("oauth.api.key").map(|key| key.expose().to_string()).unwrap_or_default();
        InstanceCall {
            instance,
            tokens: InstanceTokens { platform, instance },
            recorder: CallRecorder { platform, instance_id: instance.id, trace: instance.trace_logging },
            client_id,
            common: None,
        }
    }

    /// This call with the instance's common resources, so its sessions resolve their names.
    pub fn with_common(mut self, common: Arc<CommonObjects>) -> Self {
        self.common = Some(common);
        self
    }

    /// The hub session of this instance, at `priority`; `max_wait` bounds its wait for the rate
    /// limiter (`None`: the limiter's default, for a user waiting on the answer).
    pub fn session(&self, priority: Priority, max_wait: Option<Duration>) -> Session<'_> {
        Session {
            instance_id: Some(self.instance.id),
            element_key: &self.instance.element_key,
            drop_nulls: drops_nulls(self.instance),
            common: self.common.as_deref(),
            call: CallContext {
                client_id: &self.client_id,
                tokens: &self.tokens,
                priority,
                max_wait,
                observer: Some(&self.recorder),
                account: vendor_account(self.instance),
                log_id: self.instance.id.get(),
            },
        }
    }
}

/// The vendor account the instance's calls count against before the vendor names one in an answer:
/// the one its grants named, else its `infusionsoft.server`.
fn vendor_account(instance: &InstanceRecord) -> Option<&str> {
    let configured = || instance.configuration.get("infusionsoft.server").map(String::as_str);
    instance.vendor_account.as_deref().or_else(configured)
}

/// Whether the instance wants null fields dropped from records (`filter.response.nulls`, default
/// true, as the platforms did).
fn drops_nulls(instance: &InstanceRecord) -> bool {
    instance.configuration.get("filter.response.nulls").is_none_or(|value| !value.trim().eq_ignore_ascii_case("false"))
}

/// Counts every vendor attempt, and records it in the instance's trace log when tracing is on.
#[derive(Debug, Clone, Copy)]
pub struct CallRecorder<'a> {
    platform: &'a Platform,
    instance_id: InstanceId,
    trace: bool,
}

impl CallObserver for CallRecorder<'_> {
    fn attempted(&self, request: &VendorRequest, status: Option<u16>, took: Duration) {
        self.platform.metrics.record_rest_call(status);
        if self.trace {
            trace(self.platform, self.instance_id, request, status.unwrap_or(0), took);
        }
    }
}

/// Records one vendor call in the instance's trace log without making the caller wait for the
/// write; a failed or skipped write is logged and the call goes on.
fn trace(platform: &Platform, instance_id: InstanceId, request: &VendorRequest, status: u16, took: Duration) {
    let call = store::VendorCall {
        at: Utc::now(),
        method: request.method.to_string(),
        path: request.path_and_query(),
        status,
        duration_ms: u32::try_from(took.as_millis()).unwrap_or(u32::MAX),
    };
    // Bounded: trace writes must never take the connections the calls themselves need.
    let Ok(permit) = TRACE_WRITES.try_acquire() else {
        tracing::warn!(instance_id = instance_id.get(), "trace log busy; a vendor call was not recorded");
        return;
    };
    let store = Arc::clone(&platform.store);
    // In the caller's span: a failure is logged with the request that made the call.
    let write = async move {
        if let Err(error) = store.record_vendor_call(instance_id, &call).await {
            tracing::warn!(instance_id = instance_id.get(), %error, "recording a traced vendor call failed");
        }
        drop(permit);
    };
    tokio::spawn(tracing::Instrument::in_current_span(write));
}
