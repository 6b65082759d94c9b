//! The job runner: a job is a "run once" function ([`PeriodicJob::run_once`]) that does a bounded
//! batch of work and says whether more is waiting; [`run_periodic`] is the thin loop around it.
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
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;

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

fn jittered(period: Duration) -> Duration {
    period.mul_f64(rand::rng().random_range(0.9..1.1))
}
