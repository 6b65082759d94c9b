//! In-process, per-instance async locks taken before the database lock of a refresh.
//!
//! The database lock alone would be correct, but 200 requests racing for one expired token would
//! each hold a pooled connection while blocked on the row lock (exhausting the pool), and on SQLite
//! spin in the busy handler. Queuing them here first leaves one connection per instance in use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::records::InstanceId;

/// A map from instance id to its lock. Entries are removed when the last holder or waiter is done
/// (or, after a cancelled wait, by the next `lock`), so the map stays as small as the number of
/// instances being refreshed right now.
#[derive(Debug, Default)]
pub struct InstanceLocks {
    /// A `std` mutex: it guards only the map and is never held across an `.await`.
    locks: Mutex<HashMap<InstanceId, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds an instance's lock; dropping it releases the lock and prunes the map entry.
pub struct InstanceGuard<'a> {
    owner: &'a InstanceLocks,
    id: InstanceId,
    guard: Option<OwnedMutexGuard<()>>,
}

impl InstanceLocks {
    /// Waits for and takes the lock of instance `id`.
    pub async fn lock(&self, id: InstanceId) -> InstanceGuard<'_> {
        let mutex = {
            let mut map = self.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            // A waiter cancelled while the last holder left can leave an entry only the map
            // holds; such entries go here (the map is as small as the refreshes in progress).
            map.retain(|other, mutex| *other == id || Arc::strong_count(mutex) > 1);
            Arc::clone(map.entry(id).or_default())
        };
        let guard = mutex.lock_owned().await;
        InstanceGuard { owner: self, id, guard: Some(guard) }
    }
}

impl Drop for InstanceGuard<'_> {
    fn drop(&mut self) {
        // Release first, then prune: if nobody else holds a clone of the Arc (the map's own plus
        // this guard's mutex), no one is waiting and the entry can go.
        let Some(guard) = self.guard.take() else { return };
        let mutex = Arc::clone(OwnedMutexGuard::mutex(&guard));
        drop(guard);
        let mut map = self.owner.locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if Arc::strong_count(&mutex) == 2 {
            map.remove(&self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_cancelled_waiter_leaves_no_entry_behind() {
        let locks = InstanceLocks::default();
        let held = locks.lock(InstanceId::new(1)).await;
        let mut waiting = Box::pin(locks.lock(InstanceId::new(1)));
        assert!(futures_poll_once(waiting.as_mut()).await.is_none(), "the second caller waits");
        drop(held); // released while the waiter still holds the entry's Arc
        drop(waiting); // then the waiter is cancelled
        let _other = locks.lock(InstanceId::new(2)).await;
        let map = locks.locks.lock().unwrap();
        assert_eq!(map.keys().map(|id| id.get()).collect::<Vec<_>>(), [2], "instance 1's entry was pruned");
    }

    /// Polls a future once.
    async fn futures_poll_once<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
        let mut future = future;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
                std::task::Poll::Ready(output) => Some(output),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
