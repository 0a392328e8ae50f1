//! Bounded queues between the engine's threads. What happens when a queue is
//! full is part of its type ([`WhenFull`]): a file waits, a live source keeps
//! the newest frame and counts the ones it skipped.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The full-policy of a [`Queue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// The producer waits for room: nothing is ever dropped (files).
    Block,
    /// The oldest queued item is dropped to make room, so the consumer always
    /// gets the newest one (live sources); drops are counted.
    DropOldest,
}

/// Outcome of [`Queue::push`].
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed<T> {
    Queued,
    /// Queued after dropping this, the oldest item (only with `DropOldest`);
    /// handed back so its buffers can be reused.
    Replaced(T),
    /// The queue was closed: the item was not queued.
    Closed(T),
}

/// Outcome of [`Queue::pop_timeout`].
#[derive(Debug, PartialEq, Eq)]
pub enum Popped<T> {
    Item(T),
    /// Nothing came in time; the queue is still open.
    TimedOut,
    /// Closed and empty.
    Closed,
}

struct Inner<T> {
    items: VecDeque<T>,
    closed: bool,
    next_seq: u64,
    dropped: u64,
}

/// A bounded multi-producer multi-consumer queue (a mutex and two condition
/// variables: the engine moves tens of items a second, not millions).
pub struct Queue<T> {
    inner: Mutex<Inner<T>>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
    policy: WhenFull,
}

impl<T> Queue<T> {
    pub fn new(capacity: usize, policy: WhenFull) -> Queue<T> {
        let capacity = capacity.max(1);
        Queue {
            inner: Mutex::new(Inner {
                items: VecDeque::with_capacity(capacity),
                closed: false,
                next_seq: 0,
                dropped: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity,
            policy,
        }
    }

    // A panicking thread holding the lock cannot leave the queue half-updated
    // (every update is a single VecDeque call), so a poisoned lock is usable.
    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn policy(&self) -> WhenFull {
        self.policy
    }

    /// Queue `item` following the policy; with `Block`, waits while full.
    pub fn push(&self, item: T) -> Pushed<T> {
        let mut g = self.lock();
        if self.policy == WhenFull::Block {
            while !g.closed && g.items.len() >= self.capacity {
                g = self
                    .not_full
                    .wait(g)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        if g.closed {
            return Pushed::Closed(item);
        }
        let replaced = if g.items.len() >= self.capacity {
            g.dropped += 1;
            g.items.pop_front()
        } else {
            None
        };
        g.items.push_back(item);
        drop(g);
        self.not_empty.notify_one();
        match replaced {
            Some(old) => Pushed::Replaced(old),
            None => Pushed::Queued,
        }
    }

    /// The next item, waiting for one; `None` once the queue is closed and empty.
    pub fn pop(&self) -> Option<T> {
        self.pop_numbered().map(|(_, item)| item)
    }

    /// Like [`pop`](Self::pop), with the item's position in the order items
    /// left the queue (0, 1, 2, ... without gaps, whatever was dropped), which
    /// is how consumers working in parallel put their results back in order.
    pub fn pop_numbered(&self) -> Option<(u64, T)> {
        let mut g = self.lock();
        loop {
            if let Some(item) = g.items.pop_front() {
                let seq = g.next_seq;
                g.next_seq += 1;
                drop(g);
                self.not_full.notify_one();
                return Some((seq, item));
            }
            if g.closed {
                return None;
            }
            g = self
                .not_empty
                .wait(g)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The next item, waiting at most `wait` for one.
    pub fn pop_timeout(&self, wait: std::time::Duration) -> Popped<T> {
        let until = std::time::Instant::now() + wait;
        let mut g = self.lock();
        loop {
            if let Some(item) = g.items.pop_front() {
                g.next_seq += 1;
                drop(g);
                self.not_full.notify_one();
                return Popped::Item(item);
            }
            if g.closed {
                return Popped::Closed;
            }
            let now = std::time::Instant::now();
            if now >= until {
                return Popped::TimedOut;
            }
            g = self
                .not_empty
                .wait_timeout(g, until - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// No more items: producers get `Closed`, consumers drain what is queued.
    pub fn close(&self) {
        self.lock().closed = true;
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }

    /// Close and discard what is queued (the run is being stopped).
    pub fn abort(&self) {
        let drained: Vec<T> = {
            let mut g = self.lock();
            g.closed = true;
            g.items.drain(..).collect()
        };
        drop(drained);
        self.not_empty.notify_all();
        self.not_full.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub fn len(&self) -> usize {
        self.lock().items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Items dropped by `DropOldest` so far.
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_live_slot_keeps_the_newest_and_counts_what_it_skipped() {
        let q = Queue::new(1, WhenFull::DropOldest);
        assert_eq!(q.push(1), Pushed::Queued);
        assert_eq!(q.push(2), Pushed::Replaced(1));
        assert_eq!(q.push(3), Pushed::Replaced(2));
        assert_eq!(q.dropped(), 2);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_numbered(), Some((0, 3)));
        // Numbering has no gaps even though 1 and 2 were dropped.
        assert_eq!(q.push(4), Pushed::Queued);
        assert_eq!(q.pop_numbered(), Some((1, 4)));
        q.close();
        assert_eq!(q.push(5), Pushed::Closed(5));
        assert_eq!(q.pop(), None);
        assert_eq!(q.dropped(), 2);
    }

    #[test]
    fn a_deeper_live_queue_drops_the_oldest() {
        let q = Queue::new(2, WhenFull::DropOldest);
        for i in 0..5 {
            q.push(i);
        }
        assert_eq!(q.dropped(), 3);
        assert_eq!(q.pop(), Some(3));
        assert_eq!(q.pop(), Some(4));
    }

    #[test]
    fn a_blocking_queue_never_drops_and_makes_the_producer_wait() {
        let q = Arc::new(Queue::new(2, WhenFull::Block));
        let producer = {
            let q = q.clone();
            std::thread::spawn(move || {
                for i in 0..1000u32 {
                    assert_eq!(q.push(i), Pushed::Queued);
                }
                q.close();
            })
        };
        let mut got = Vec::new();
        while let Some((seq, v)) = q.pop_numbered() {
            assert_eq!(seq, v as u64);
            assert!(q.len() <= 2);
            got.push(v);
        }
        producer.join().unwrap();
        assert_eq!(got, (0..1000).collect::<Vec<_>>());
        assert_eq!(q.dropped(), 0);
    }

    #[test]
    fn a_timed_pop_returns_when_nothing_comes() {
        let q = Queue::new(2, WhenFull::Block);
        assert_eq!(
            q.pop_timeout(std::time::Duration::from_millis(10)),
            Popped::TimedOut
        );
        q.push(7);
        assert_eq!(
            q.pop_timeout(std::time::Duration::from_millis(10)),
            Popped::Item(7)
        );
        q.close();
        assert_eq!(
            q.pop_timeout(std::time::Duration::from_millis(10)),
            Popped::<i32>::Closed
        );
    }

    #[test]
    fn closing_drains_and_aborting_discards() {
        let q = Queue::new(4, WhenFull::Block);
        q.push("a");
        q.push("b");
        q.close();
        assert_eq!(q.pop(), Some("a"));
        assert_eq!(q.pop(), Some("b"));
        assert_eq!(q.pop(), None);

        let q = Arc::new(Queue::new(1, WhenFull::Block));
        q.push(1);
        // A producer blocked on a full queue is released by abort.
        let blocked = {
            let q = q.clone();
            std::thread::spawn(move || q.push(2))
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        q.abort();
        assert_eq!(blocked.join().unwrap(), Pushed::Closed(2));
        assert_eq!(q.pop(), None);
    }
}
