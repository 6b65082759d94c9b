//! A faithful in-memory simulator of Infusionsoft (Keap), for tests, benchmarks and the sandbox
//! demo: the vendor's OAuth 2.0 server, REST API v2 and v1 over one store of records, REST hooks,
//! rate limits with the vendor's headers, Keap API keys (`X-Keap-API-Key`), and test controls under
//! `/__sim/` (stats, clock, faults, limits, API keys, reset).
//!
//! It is a library first: [`spawn`] starts it on any address inside the caller's runtime.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let sim = keap_sim::spawn(keap_sim::SimConfig::sandbox(), "127.0.0.1:0").await?;
//! println!("authorize at {}/app/oauth/authorize", sim.url());
//! # Ok(()) }
//! ```

pub mod api_keys;
pub mod clock;
pub mod config;
mod controls;
pub mod errors;
pub mod faults;
mod gateway;
pub mod hooks;
mod http_util;
pub mod json_path;
mod oauth;
pub mod rate_limit;
pub mod records;
mod rest_v1;
pub mod rest_v2;
pub mod seed;
mod server;
pub mod state;
pub mod tokens;

pub use config::{Limits, SimConfig};
pub use state::Sim;

use axum::routing::{get, post};
use axum::Router;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::oneshot;

/// The whole simulator as one router.
pub fn router(sim: Arc<Sim>) -> Router {
    let rest = Router::new()
        .nest("/crm/rest/v2", rest_v2::router())
        .nest("/crm/rest/v1", rest_v1::router().fallback(|| async { errors::V1Error(rest_v2::unimplemented_path()) }))
        .fallback(|| async { rest_v2::unimplemented_path() })
        .method_not_allowed_fallback(|| async { errors::ApiError::method_not_allowed() })
        .layer(axum::middleware::from_fn_with_state(sim.clone(), gateway::gateway));
    Router::new()
        .route("/app/oauth/authorize", get(oauth::authorize_page).post(oauth::authorize_decision))
        .route("/token", post(oauth::token))
        .route("/__sim/stats", get(controls::stats))
        .route("/__sim/clock/advance", post(controls::advance_clock))
        .route("/__sim/faults", post(controls::add_fault).delete(controls::clear_faults))
        .route("/__sim/limits", post(controls::set_limits))
        .route("/__sim/api-keys", post(controls::create_api_key))
        .route("/__sim/reset", post(controls::reset))
        .merge(rest)
        .layer(axum::middleware::from_fn_with_state(sim.clone(), faults::inject))
        .layer(axum::middleware::from_fn(http_util::buffer_body))
        .with_state(sim)
}

/// A simulator serving on a local address. Dropping it shuts the server down.
pub struct RunningSim {
    pub sim: Arc<Sim>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl RunningSim {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, the base of every endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds `addr` (port 0 picks a free port), starts serving and delivering hooks in the current
/// Tokio runtime, and returns at once.
pub async fn spawn(config: SimConfig, addr: &str) -> std::io::Result<RunningSim> {
    config.validate().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let sim = Arc::new(Sim::new(config));
    let _ = sim.base_url.set(format!("http://{addr}"));
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, router(sim.clone()), async {
        let _ = rx.await;
    }));
    tokio::spawn(hooks::delivery_loop(Arc::downgrade(&sim)));
    Ok(RunningSim { sim, addr, shutdown: Some(tx) })
}
