//! The event loops every node runs ([`run`]): one claims due polls and runs them, one finds
//! instances with due notifications, leases each and delivers, and a periodic job prunes
//! notifications past their retention. Each loop does a bounded batch per tick and goes again at
//! once while work is waiting.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use store::{InstanceId, StoreError};
use tokio::task::JoinSet;

use super::{delivery, hooks, poller, release_after_failure, PollMode};
use crate::jobs::{run_periodic, PeriodicJob};
use crate::{Platform, PlatformError};

/// The lease kind of an instance's delivery run.
const DELIVERY_LEASE: &str = "event-delivery";

/// Runs the event loops on `platform` until `shutdown` resolves.
pub async fn run(platform: Platform, shutdown: impl Future<Output = ()>) {
    let polls = poll_loop(platform.clone());
    let deliveries = delivery_loop(platform.clone());
    let hooks = hook_loop(platform.clone());
    let prune = run_periodic(platform.clone(), &PruneEvents, Duration::from_secs(3600), std::future::pending());
    tokio::select! {
        () = polls => {}
        () = deliveries => {}
        () = hooks => {}
        () = prune => {}
        () = shutdown => tracing::info!("event workers stopped"),
    }
}

async fn poll_loop(platform: Platform) {
    let config = platform.events.config.clone();
    loop {
        let limit = u32::try_from(config.concurrency).unwrap_or(16);
        let claimed = platform.store.claim_due_polls(&platform.node_id, config.claim_ttl, limit).await;
        let ids = claimed.unwrap_or_else(|error| {
            tracing::warn!(%error, "due polls could not be claimed");
            Vec::new()
        });
        let full = ids.len() as u32 == limit;
        let mut running = JoinSet::new();
        for id in ids {
            let platform = platform.clone();
            running.spawn(async move { poll_claimed(&platform, id).await });
        }
        while running.join_next().await.is_some() {}
        if !full {
            tokio::time::sleep(config.tick).await;
        }
    }
}

/// Polls instance `id`, which this node has claimed, and commits or releases the claim.
async fn poll_claimed(platform: &Platform, id: InstanceId) {
    let owner = platform.node_id.as_ref();
    let instance = match platform.store.instance_by_id(id).await {
        Ok(instance) => instance,
        // Deleted since: its poller went with it.
        Err(StoreError::NotFound) => return,
        Err(error) => {
            tracing::warn!(instance_id = id.get(), %error, "a claimed instance could not be read");
            return;
        }
    };
    if instance.disabled || !instance.valid {
        let later = Utc::now() + TimeDelta::minutes(5);
        let why = if instance.disabled { "the instance is disabled" } else { "the instance needs re-authentication" };
        if let Err(error) = platform.store.release_poll(id, owner, later, Some(why)).await {
            tracing::warn!(instance_id = id.get(), %error, "a skipped poll's claim was not released");
        }
        return;
    }
    match poller::poll(platform, &instance, owner, PollMode::Regular).await {
        Ok(Some(report)) => {
            tracing::debug!(instance_id = id.get(), events = report.events.len(), "poll committed");
        }
        Ok(None) => tracing::info!(instance_id = id.get(), "poll claim taken over; nothing committed"),
        Err(error) => {
            tracing::warn!(instance_id = id.get(), %error, "poll failed");
            let retry = Utc::now() + TimeDelta::minutes(1);
            release_after_failure(platform, &instance, owner, retry, &error).await;
        }
    }
}

/// Processes the vendor hook deliveries the HTTP layer stored (`hooks::QUEUE`).
async fn hook_loop(platform: Platform) {
    let config = platform.events.config.clone();
    loop {
        let limit = u32::try_from(config.concurrency).unwrap_or(16);
        let jobs = platform.store.claim_jobs(hooks::QUEUE, &platform.node_id, config.claim_ttl * 3, limit).await;
        let jobs = jobs.unwrap_or_else(|error| {
            tracing::warn!(%error, "hook deliveries could not be claimed");
            Vec::new()
        });
        let mut running = JoinSet::new();
        for job in jobs {
            let platform = platform.clone();
            running.spawn(async move {
                let owner = platform.node_id.as_ref();
                let retry = Utc::now() + TimeDelta::seconds(2);
                let outcome = hooks::process(&platform, owner, &job.payload).await;
                let finished = match outcome {
                    Ok(true) => platform.store.complete_job(job.id, owner).await.map(drop),
                    Ok(false) => platform
                        .store
                        .fail_job(job.id, owner, "the instance's poll claim is busy", Some(retry))
                        .await
                        .map(drop),
                    Err(error) => {
                        tracing::warn!(job = job.id, %error, "a hook delivery could not be processed");
                        platform.store.fail_job(job.id, owner, &error.to_string(), Some(retry)).await.map(drop)
                    }
                };
                if let Err(error) = finished {
                    tracing::warn!(job = job.id, %error, "a hook delivery's outcome was not stored; its claim expires");
                }
            });
        }
        let claimed = running.len();
        while running.join_next().await.is_some() {}
        if claimed == 0 {
            tokio::time::sleep(config.tick).await;
        }
    }
}

async fn delivery_loop(platform: Platform) {
    let config = platform.events.config.clone();
    let gate = Arc::new(tokio::sync::Semaphore::new(config.concurrency.max(1)));
    loop {
        let limit = u32::try_from(config.concurrency).unwrap_or(16);
        let due = platform.store.instances_with_due_events(limit).await.unwrap_or_else(|error| {
            tracing::warn!(%error, "due notifications could not be listed");
            Vec::new()
        });
        let mut running = JoinSet::new();
        for id in due {
            let platform = platform.clone();
            let Ok(permit) = Arc::clone(&gate).acquire_owned().await else { break };
            running.spawn(async move {
                let delivered = deliver_leased(&platform, id).await;
                drop(permit);
                delivered
            });
        }
        let mut progressed = false;
        while let Some(result) = running.join_next().await {
            progressed |= result.unwrap_or(false);
        }
        update_outbox_gauges(&platform).await;
        if !progressed {
            let woken = platform.events.deliveries_due.notified();
            let _ = tokio::time::timeout(config.tick, woken).await;
        }
    }
}

/// Delivers instance `id`'s due notifications under its delivery lease; true when any was
/// delivered.
async fn deliver_leased(platform: &Platform, id: InstanceId) -> bool {
    let owner = platform.node_id.as_ref();
    let key = id.get().to_string();
    let ttl = platform.events.config.claim_ttl;
    match platform.store.try_lease(DELIVERY_LEASE, &key, owner, ttl).await {
        Ok(true) => {}
        Ok(false) => return false,
        Err(error) => {
            tracing::warn!(instance_id = id.get(), %error, "delivery lease could not be taken");
            return false;
        }
    }
    let delivered = match platform.store.instance_by_id(id).await {
        Ok(instance) => match delivery::deliver(platform, &instance).await {
            Ok(notified) => notified > 0,
            Err(error) => {
                tracing::warn!(instance_id = id.get(), %error, "delivery run failed");
                false
            }
        },
        Err(error) => {
            tracing::warn!(instance_id = id.get(), %error, "an instance with due notifications could not be read");
            false
        }
    };
    if let Err(error) = platform.store.release_lease(DELIVERY_LEASE, &key, owner).await {
        tracing::warn!(instance_id = id.get(), %error, "delivery lease not released; it expires");
    }
    delivered
}

async fn update_outbox_gauges(platform: &Platform) {
    if let Ok(counts) = platform.store.event_counts(None).await {
        let age = counts.oldest_pending.map_or(0, |at| (Utc::now() - at).num_seconds().max(0) as u64);
        platform.metrics.set_outbox(counts.new + counts.dispatched, age);
    }
}

/// Deletes notifications delivered or failed longer ago than the retention.
struct PruneEvents;

#[async_trait]
impl PeriodicJob for PruneEvents {
    fn name(&self) -> &'static str {
        "event-prune"
    }

    async fn run_once(&self, platform: &Platform) -> Result<bool, PlatformError> {
        let retention = TimeDelta::from_std(platform.events.config.retention).unwrap_or(TimeDelta::days(30));
        let pruned = platform.store.prune_events(Utc::now() - retention).await?;
        if pruned > 0 {
            tracing::info!(pruned, "old notifications pruned");
        }
        Ok(false)
    }
}
