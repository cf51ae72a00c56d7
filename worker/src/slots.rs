//! The worker's execution slots, handed out by priority.
//!
//! Each shard has its own reader, and a reader takes slots before it reads (so no job is ever
//! held without a slot to run it). When slots are scarce, the reader whose shard has the most
//! urgent work gets the next free ones: a high-priority job on any shard goes before normal
//! and low ones waiting on others, and readers of equal priority are served in turn. A reader
//! queued with less urgent work asks its shard again while it waits and queues anew with the
//! higher rank when more urgent work arrives there.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use common::engine::model::Priority;
use tokio::sync::oneshot;

/// Slots shared by a worker's readers.
#[derive(Debug, Clone)]
pub struct SlotPool {
    state: Arc<Mutex<PoolState>>,
}

#[derive(Debug)]
struct PoolState {
    free: usize,
    next_ticket: u64,
    /// Readers waiting, most urgent first, then in arrival order.
    waiting: BTreeMap<(u8, u64), Waiter>,
}

#[derive(Debug)]
struct Waiter {
    most: usize,
    grant: oneshot::Sender<usize>,
}

/// One slot: a job may run while it is held; dropping it frees the slot. Slots freed at the
/// same moment (a batch of outcomes recorded, the slots a read did not use) go back together
/// through [`SlotPool::release_together`], so a waiting reader gets them all at once and reads
/// them as one batch, rather than each waiting reader one slot and one job.
#[derive(Debug)]
pub struct Slot {
    /// The pool it goes back to; `None` once it has.
    pool: Option<SlotPool>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.release(1);
        }
    }
}

/// A reader's place in the queue for slots; leaving it (the wait was given up) returns any
/// slots granted meanwhile.
struct Ticket {
    pool: SlotPool,
    key: (u8, u64),
    grant: Option<oneshot::Receiver<usize>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.pool.lock().waiting.remove(&self.key);
        if let Some(mut grant) = self.grant.take() {
            grant.close();
            if let Ok(granted) = grant.try_recv() {
                self.pool.release(granted);
            }
        }
    }
}

/// How urgent a priority is: lower is served first.
fn rank(priority: Priority) -> u8 {
    match priority {
        Priority::High => 0,
        Priority::Normal => 1,
        Priority::Low => 2,
    }
}

impl SlotPool {
    /// A pool of `size` slots.
    pub fn new(size: usize) -> Self {
        Self {
            state: Arc::new(Mutex::new(PoolState {
                free: size,
                next_ticket: 0,
                waiting: BTreeMap::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Slots free now.
    pub fn available(&self) -> usize {
        self.lock().free
    }

    /// True when some reader waits for slots.
    pub fn contended(&self) -> bool {
        !self.lock().waiting.is_empty()
    }

    /// Waits for at least one slot and takes as many free ones as there are, up to `most`,
    /// for work of `priority`: the most urgent waiting reader is served first.
    pub async fn acquire(&self, priority: Priority, most: usize) -> Vec<Slot> {
        let most = most.max(1);
        let mut ticket = {
            let mut state = self.lock();
            let ahead = state
                .waiting
                .keys()
                .next()
                .is_some_and(|(first, _)| *first <= rank(priority));
            if state.free > 0 && !ahead {
                let granted = state.free.min(most);
                state.free -= granted;
                drop(state);
                return self.slots(granted);
            }
            let key = (rank(priority), state.next_ticket);
            state.next_ticket += 1;
            let (grant, granted) = oneshot::channel();
            state.waiting.insert(key, Waiter { most, grant });
            Ticket {
                pool: self.clone(),
                key,
                grant: Some(granted),
            }
        };
        let granted = match ticket.grant.as_mut() {
            Some(grant) => grant.await.unwrap_or(0),
            None => 0,
        };
        ticket.grant = None;
        self.slots(granted)
    }

    fn slots(&self, count: usize) -> Vec<Slot> {
        (0..count)
            .map(|_| Slot {
                pool: Some(self.clone()),
            })
            .collect()
    }

    /// Frees `slots` together: each pool's waiting readers are handed them at once, the most
    /// urgent first, as many as each asked for.
    pub fn release_together(slots: impl IntoIterator<Item = Slot>) {
        let mut freed: Vec<(SlotPool, usize)> = Vec::new();
        for mut slot in slots {
            let Some(pool) = slot.pool.take() else {
                continue;
            };
            match freed
                .iter_mut()
                .find(|(known, _)| Arc::ptr_eq(&known.state, &pool.state))
            {
                Some((_, count)) => *count += 1,
                None => freed.push((pool, 1)),
            }
        }
        for (pool, count) in freed {
            pool.release(count);
        }
    }

    /// Frees `count` slots and hands them to the most urgent waiting readers.
    fn release(&self, count: usize) {
        let mut state = self.lock();
        state.free += count;
        while state.free > 0 {
            let Some((_, waiter)) = state.waiting.pop_first() else {
                break;
            };
            let granted = state.free.min(waiter.most);
            state.free -= granted;
            if waiter.grant.send(granted).is_err() {
                state.free += granted;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn free_slots_are_taken_at_once_up_to_the_most_asked() {
        let pool = SlotPool::new(4);
        let slots = pool.acquire(Priority::Low, 3).await;
        assert_eq!(slots.len(), 3);
        assert_eq!(pool.available(), 1);
        drop(slots);
        assert_eq!(pool.available(), 4);
    }

    #[tokio::test]
    async fn a_freed_slot_goes_to_the_most_urgent_waiting_reader() {
        let pool = SlotPool::new(1);
        let held = pool.acquire(Priority::Normal, 1).await;
        let low = tokio::spawn({
            let pool = pool.clone();
            async move { pool.acquire(Priority::Low, 1).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let high = tokio::spawn({
            let pool = pool.clone();
            async move { pool.acquire(Priority::High, 1).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        let high = tokio::time::timeout(Duration::from_secs(1), high)
            .await
            .expect("the high reader is served")
            .unwrap();
        assert_eq!(high.len(), 1);
        assert!(!low.is_finished(), "the low reader waits for the next slot");
        drop(high);
        let low = tokio::time::timeout(Duration::from_secs(1), low)
            .await
            .expect("then the low reader")
            .unwrap();
        assert_eq!(low.len(), 1);
    }

    #[tokio::test]
    async fn slots_freed_together_go_to_one_waiting_reader_as_one_batch() {
        let pool = SlotPool::new(8);
        let held = pool.acquire(Priority::Normal, 8).await;
        let first = tokio::spawn({
            let pool = pool.clone();
            async move { pool.acquire(Priority::Normal, 8).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = tokio::spawn({
            let pool = pool.clone();
            async move { pool.acquire(Priority::Normal, 8).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        SlotPool::release_together(held);
        let first = tokio::time::timeout(Duration::from_secs(1), first)
            .await
            .expect("the first waiting reader is served")
            .unwrap();
        assert_eq!(first.len(), 8, "all freed slots in one grant");
        assert!(
            !second.is_finished(),
            "the next reader waits for the next batch"
        );
        SlotPool::release_together(first);
        let second = tokio::time::timeout(Duration::from_secs(1), second)
            .await
            .expect("then the second")
            .unwrap();
        assert_eq!(second.len(), 8);
        drop(second);
        assert_eq!(pool.available(), 8);
    }

    #[tokio::test]
    async fn slots_dropped_one_by_one_go_one_to_each_waiting_reader() {
        let pool = SlotPool::new(2);
        let held = pool.acquire(Priority::Normal, 2).await;
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.acquire(Priority::Normal, 8).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        for waiter in waiters {
            let slots = tokio::time::timeout(Duration::from_secs(1), waiter)
                .await
                .expect("each waiting reader is served")
                .unwrap();
            assert_eq!(slots.len(), 1);
        }
    }

    #[tokio::test]
    async fn a_wait_given_up_loses_no_slot() {
        let pool = SlotPool::new(1);
        let held = pool.acquire(Priority::Normal, 1).await;
        let given_up =
            tokio::time::timeout(Duration::from_millis(20), pool.acquire(Priority::High, 1)).await;
        assert!(given_up.is_err());
        drop(held);
        assert_eq!(pool.available(), 1);
        assert_eq!(pool.acquire(Priority::Low, 5).await.len(), 1);
    }
}
