//! Empties the platform's cache of hub callers (`platform::caller_cache`) after any request that
//! may have changed an instance or a user, so a deleted, disabled or reconfigured instance, or a
//! deleted user, is seen at once on this node.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use platform::caller_cache::CallerCache;

use crate::hooks::{Hook, Step};

/// Empties the cache when dropped: after the response, and also when the request is cancelled
/// after its write committed.
pub struct ClearOnDrop(Arc<CallerCache>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.clear();
    }
}

/// Middleware: after any request that may have changed an instance (a write under `/instances`),
/// this node's cache is emptied, so a deleted, disabled or reconfigured instance is seen at once.
#[derive(Clone)]
pub struct ForgetOnInstanceWrites(pub Arc<CallerCache>);

impl Hook for ForgetOnInstanceWrites {
    type Step = ClearOnDrop;

    fn before(&self, request: &Request) -> Option<ClearOnDrop> {
        let writes_instances = request.method() != Method::GET
            && request.method() != Method::HEAD
            && (request.uri().path().contains("/instances") || request.uri().path().contains("/users"));
        writes_instances.then(|| ClearOnDrop(Arc::clone(&self.0)))
    }
}

impl Step for ClearOnDrop {
    /// The cache is emptied as the step is dropped, right after.
    fn after(self, _: &mut Response) {}
}
