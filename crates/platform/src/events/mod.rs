//! Events: vendor changes found by polling, recorded in a durable outbox, and delivered to each
//! instance's callback URL, signed, at least once and in order.
//!
//! - [`settings`]: what an instance's configuration says (read at each use, so changes apply at
//!   once), the poller configuration's shape and its time placeholders;
//! - [`poller`]: one poll of one instance through the hub engine, committed in one transaction;
//! - [`delivery`]: sending an instance's due notifications from the outbox, with backoff;
//! - [`hooks`]: the vendor's REST hooks as a second source (`event.vendor.type=webhook`);
//! - [`workers`]: the loops every node runs: claim due polls, deliver due notifications, prune.
//!
//! Work moves between nodes through the store: a poll is claimed per instance (`claim_due_polls`,
//! renewed while it runs), a delivery run is leased per instance; a node that dies stops renewing
//! and another node takes the work when the claim expires. Every step commits on its own, so a
//! `kill -9` at any point loses nothing: an uncommitted poll is polled again (its re-read changes are
//! duplicates the store drops), a notification sent but not marked delivered is sent again.
//!
//! Polls call the vendor at background priority: behind every waiting interactive call, and
//! within the share of the OAuth client's limits `--background-share` leaves them (half by default).

pub mod delivery;
pub mod hooks;
pub mod poller;
pub mod settings;
pub mod workers;

use std::time::Duration;

use chrono::{DateTime, Utc};
use hub::HubError;
use store::{InstanceRecord, StoreError};

use crate::callback::{CallbackClient, CallbackError, CallbackPolicy};
use crate::Platform;
pub use poller::{PollMode, PollReport};

/// Vendor rows asked for per page of a poll (the hub caps it at the object's vendor maximum).
pub const POLL_BATCH: usize = 1000;
/// Notifications a delivery run reads at once.
pub const DELIVERY_BATCH: u32 = 50;

/// How events behave; the defaults are the platforms', the tests shorten them.
#[derive(Debug, Clone)]
pub struct EventsConfig {
    /// Loopback, private and link-local callbacks allowed (`--allow-private-callbacks`).
    pub allow_private_callbacks: bool,
    /// The first retry's delay; each next one is four times longer (`--event-retry-base`).
    pub retry_base: Duration,
    /// Delivery attempts before a notification is FAILED.
    pub max_attempts: u32,
    /// How far before its watermark a poll reads again, for changes the vendor shows late.
    pub overlap: Duration,
    /// How often each object's ids are read in full to find deletes.
    pub reconcile_interval: Duration,
    /// How long a node's poll claim and delivery lease last without renewal: a dead node's work
    /// moves to another node after this.
    pub claim_ttl: Duration,
    /// How long a poll's vendor call may wait for the rate limiter.
    pub background_wait: Duration,
    /// Changes per notification from polling (the platforms: 10).
    pub max_per_notification: usize,
    /// How often the workers look for due polls and deliveries.
    pub tick: Duration,
    /// How long notifications are kept once delivered or failed.
    pub retention: Duration,
    /// Polls and delivery runs one node runs at once.
    pub concurrency: usize,
    /// The server's public URL (`--public-url`), under which the vendor's hooks call back.
    pub public_url: Option<String>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        EventsConfig {
            allow_private_callbacks: false,
            retry_base: Duration::from_secs(4),
            max_attempts: 9,
            overlap: Duration::from_secs(60),
            reconcile_interval: Duration::from_secs(24 * 3600),
            claim_ttl: Duration::from_secs(20),
            background_wait: Duration::from_secs(60),
            max_per_notification: 10,
            tick: Duration::from_secs(1),
            retention: Duration::from_secs(30 * 24 * 3600),
            concurrency: 16,
            public_url: None,
        }
    }
}

/// The events machinery a [`Platform`] holds: its configuration and the callback client.
#[derive(Debug)]
pub struct Events {
    pub config: EventsConfig,
    pub callbacks: CallbackClient,
    /// Woken when this node records notifications, so its delivery loop sends them without
    /// waiting for its next tick.
    pub deliveries_due: tokio::sync::Notify,
}

impl Events {
    pub fn new(config: EventsConfig) -> Result<Self, CallbackError> {
        let callbacks = CallbackClient::new(CallbackPolicy { allow_private: config.allow_private_callbacks })?;
        Ok(Events { config, callbacks, deliveries_due: tokio::sync::Notify::new() })
    }
}

/// Why an events request could not be done.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    /// The instance's events are off (no poller).
    #[error("events are not enabled for this instance (set event.notification.enabled to true)")]
    NotEnabled,
    /// Another node's poll of the instance did not finish in time.
    #[error("another poll of this instance is running; try again shortly")]
    Busy,
    /// The instance's event settings do not parse.
    #[error("{0}")]
    Settings(String),
    /// A vendor hook delivery that is not one (shape, size, event).
    #[error(transparent)]
    Delivery(#[from] hooks::DeliveryError),
    #[error(transparent)]
    Hub(#[from] HubError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks the callback URL an instance's configuration names against the operator's policy (a
/// literal private address or `localhost` is refused at once; names are checked again when
/// connecting). `Err` names the key and the problem.
pub fn check_callback_url(platform: &Platform, url: &str) -> Result<(), String> {
    crate::callback::check_url(url, &platform.events.callbacks.policy())
        .map(drop)
        .map_err(|error| format!("event.notification.callback.url: {error}"))
}

/// Polls `instance` now (`PUT /instances/{id}/events/poll` and the backfill), waiting up to
/// `claim_ttl` for another node's poll of it to finish; returns once the poll's events and
/// watermarks are committed.
pub async fn poll_now(
    platform: &Platform,
    instance: &InstanceRecord,
    mode: PollMode,
) -> Result<PollReport, EventsError> {
    // A claim per request: concurrent requests on one node must not share a claim.
    let owner = format!("{}-now-{:016x}", platform.node_id, rand::random::<u64>());
    let ttl = platform.events.config.claim_ttl;
    let deadline = tokio::time::Instant::now() + ttl + Duration::from_secs(1);
    loop {
        match platform.store.claim_poll(instance.id, &owner, ttl).await {
            Ok(true) => break,
            Ok(false) if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
            Ok(false) => return Err(EventsError::Busy),
            Err(StoreError::NotFound) => return Err(EventsError::NotEnabled),
            Err(error) => return Err(error.into()),
        }
    }
    match poller::poll(platform, instance, &owner, mode).await {
        Ok(Some(report)) => Ok(report),
        Ok(None) => Err(EventsError::Busy),
        Err(error) => {
            let retry = Utc::now() + chrono::TimeDelta::minutes(1);
            release_after_failure(platform, instance, &owner, retry, &error).await;
            Err(error)
        }
    }
}

/// Gives a failed poll's claim back, due again at `retry`, keeping the error.
async fn release_after_failure(
    platform: &Platform,
    instance: &InstanceRecord,
    owner: &str,
    retry: DateTime<Utc>,
    error: &EventsError,
) {
    let text = error.to_string();
    if let Err(store_error) = platform.store.release_poll(instance.id, owner, retry, Some(&text)).await {
        tracing::warn!(instance_id = instance.id.get(), %store_error, "a failed poll's claim was not released; it expires");
    }
}
