//! Empties the platform's cache of hub callers (`platform::caller_cache`) after any request that
//! may have changed an instance or a user, so a deleted, disabled or reconfigured instance, or a
//! deleted user, is seen at once on this node.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use platform::caller_cache::CallerCache;

use crate::state::AppState;

/// Empties the cache when dropped: after the response, and also when the request is cancelled
/// after its write committed.
struct ClearOnDrop(Arc<CallerCache>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.clear();
    }
}

/// Middleware: after any request that may have changed an instance (a write under `/instances`),
/// this node's cache is emptied, so a deleted, disabled or reconfigured instance is seen at once.
pub async fn forget_on_instance_writes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let writes_instances = request.method() != Method::GET
        && request.method() != Method::HEAD
        && (request.uri().path().contains("/instances") || request.uri().path().contains("/users"));
    let _clear = writes_instances.then(|| ClearOnDrop(Arc::clone(&state.platform.callers)));
    next.run(request).await
}
