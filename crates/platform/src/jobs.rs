//! The job runners. A periodic job is a "run once" function ([`PeriodicJob::run_once`]) that does a
//! bounded batch of work and says whether more is waiting; [`run_periodic`] is the thin loop around
//! it. Queued work (bulk jobs, formula executions) is claimed from the durable queue by
//! [`run_queue`], each claim kept alive by a [`ClaimHeartbeat`] while its job runs.
//! Between runs the loop sleeps its period (±10 % jitter, so nodes started together drift apart);
//! after a run that left work waiting it goes again at once.
//!
//! Only one node at a time runs a given job: each run first takes (or keeps) the job's lease in
//! the store (`leases`, kind `job`, key the job's name) for [`lease_ttl`] of the period. A node
//! that dies stops renewing it, and another node takes the job over once the lease expires, so
//! the work moves on without any node knowing about the others. Correctness never rests on the
//! lease alone: each unit of work has its own guard (the token refresh its per-instance critical
//! section), so two runs overlapping across a lease expiry only repeat a listing.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use store::Job;
use tokio::task::JoinSet;

use crate::{Platform, PlatformError};

/// The lease kind of periodic jobs.
const LEASE_KIND: &str = "job";

/// A unit of background work the runner repeats.
#[async_trait]
pub trait PeriodicJob: Send + Sync {
    /// Names the job in the lease table and in logs.
    fn name(&self) -> &'static str;

    /// Does one bounded batch; `Ok(true)` when more work is waiting now.
    async fn run_once(&self, platform: &Platform) -> Result<bool, PlatformError>;
}

/// How long a run's lease lasts: three periods (at least 30 s), so a live holder that renews it
/// every period never loses it, and a dead one's job moves on within three periods.
pub fn lease_ttl(period: Duration) -> Duration {
    (period * 3).max(Duration::from_secs(30))
}

/// Runs `job` every `period` on `platform`, while this node holds its lease, until `shutdown`
/// resolves; the lease is released then. The first run starts at once.
pub async fn run_periodic(
    platform: Platform,
    job: &dyn PeriodicJob,
    period: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let name = job.name();
    let owner = platform.node_id.as_ref();
    let work = async {
        loop {
            let more = match platform.store.try_lease(LEASE_KIND, name, owner, lease_ttl(period)).await {
                Ok(true) => job.run_once(&platform).await.unwrap_or_else(|error| {
                    tracing::warn!(job = name, %error, "background job run failed");
                    false
                }),
                Ok(false) => false,
                Err(error) => {
                    tracing::warn!(job = name, %error, "background job lease could not be read");
                    false
                }
            };
            if !more {
                tokio::time::sleep(jittered(period)).await;
            }
        }
    };
    // Dropping a run mid-way is safe: each job's units of work commit on their own.
    tokio::select! {
        () = work => {}
        () = shutdown => tracing::info!(job = name, "background job stopped"),
    }
    if let Err(error) = platform.store.release_lease(LEASE_KIND, name, owner).await {
        tracing::warn!(job = name, %error, "background job lease not released; it expires by itself");
    }
}

/// How a queue is worked on one node.
#[derive(Debug, Clone, Copy)]
pub struct QueueWorkers {
    /// The queue's name in the store.
    pub queue: &'static str,
    /// Jobs run at once.
    pub concurrency: usize,
    /// How long a claim lasts unrenewed.
    pub claim_ttl: Duration,
    /// How often to look for jobs when none were claimable.
    pub tick: Duration,
}

/// Claims jobs of `workers.queue` while fewer than `workers.concurrency` run, and runs each with
/// `run` as its own task (which completes or fails the queue row). Never returns.
pub async fn run_queue<F, Fut>(platform: Platform, workers: QueueWorkers, run: F)
where
    F: Fn(Platform, Job) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut running = JoinSet::new();
    loop {
        let free = workers.concurrency.saturating_sub(running.len());
        if free > 0 {
            let limit = u32::try_from(free).unwrap_or(1);
            let claimed = platform.store.claim_jobs(workers.queue, &platform.node_id, workers.claim_ttl, limit).await;
            for job in claimed.unwrap_or_else(|error| {
                tracing::warn!(queue = workers.queue, %error, "jobs could not be claimed");
                Vec::new()
            }) {
                running.spawn(run(platform.clone(), job));
            }
        }
        tokio::select! {
            () = tokio::time::sleep(workers.tick) => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
}

/// Renews this node's claim on a queue job every third of its TTL while the job runs; once another
/// owner has it, [`ClaimHeartbeat::lost`] says so (the runner stops before its next step). Stops
/// renewing when dropped.
pub struct ClaimHeartbeat {
    lost: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl ClaimHeartbeat {
    pub fn start(platform: &Platform, job_id: i64, ttl: Duration) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let task = {
            let (platform, lost) = (platform.clone(), Arc::clone(&lost));
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(ttl / 3).await;
                    match platform.store.extend_job_lease(job_id, &platform.node_id, ttl).await {
                        Ok(true) => {}
                        Ok(false) => {
                            lost.store(true, Ordering::Relaxed);
                            return;
                        }
                        Err(error) => tracing::warn!(queue_job = job_id, %error, "a job's claim was not renewed"),
                    }
                }
            })
        };
        ClaimHeartbeat { lost, task }
    }

    /// Set once another owner holds the claim.
    pub fn lost(&self) -> &AtomicBool {
        &self.lost
    }
}

impl Drop for ClaimHeartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn jittered(period: Duration) -> Duration {
    period.mul_f64(rand::rng().random_range(0.9..1.1))
}
